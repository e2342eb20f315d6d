# registry/state unit tests: one program per concern, each linking only
# reg_state (which pulls reg_common and libsodium).
foreach(t nodes networks enterprise trust access snapshot dedup)
  if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/test_state_${t}.c)
    pilot_unit_test(test_state_${t} ${CMAKE_CURRENT_LIST_DIR}/test_state_${t}.c)
    target_link_libraries(test_state_${t} PRIVATE reg_state)
  endif()
endforeach()
