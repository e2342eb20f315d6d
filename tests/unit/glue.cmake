# raft-glue on real raft_uv over 127.0.0.1 (in-process, temp data dirs).
foreach(t test_glue_uv test_glue_transport test_glue_failover test_glue_io)
  if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${t}.c)
    pilot_unit_test(${t} ${t}.c ${CMAKE_SOURCE_DIR}/tests/fixture/tapp.c)
    target_include_directories(${t} PRIVATE ${CMAKE_SOURCE_DIR}/tests/fixture
                                            ${CMAKE_SOURCE_DIR}/raft-glue)
    target_link_libraries(${t} PRIVATE raft_glue)
    set_tests_properties(${t} PROPERTIES TIMEOUT 120)
  endif()
endforeach()
