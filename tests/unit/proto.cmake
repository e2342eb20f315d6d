# registry/proto unit tests (one executable per test_proto_*.c): codecs,
# frame reader, handshake, and the decoder robustness run (fixed seed,
# printed; override with PROTO_FUZZ_SEED).
file(GLOB PROTO_UNIT_TESTS ${CMAKE_CURRENT_SOURCE_DIR}/test_proto_*.c)
foreach(src ${PROTO_UNIT_TESTS})
  get_filename_component(t ${src} NAME_WE)
  pilot_unit_test(${t} ${src})
  target_link_libraries(${t} PRIVATE reg_proto reg_state reg_common PkgConfig::MSGPACK
                        PkgConfig::SODIUM)
endforeach()
if(TARGET test_proto_fuzz)
  set_tests_properties(test_proto_fuzz PROPERTIES TIMEOUT 600)
endif()
