# Unit tests of jepsen/checker (the linearizability checker and its parts).
foreach(t models parse direct oracle)
  if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/test_checker_${t}.c)
    pilot_unit_test(test_checker_${t} test_checker_${t}.c)
    target_link_libraries(test_checker_${t} PRIVATE jepsen_checker)
    target_compile_definitions(test_checker_${t} PRIVATE
      CHECKER_TESTDATA="${PROJECT_SOURCE_DIR}/jepsen/checker/testdata")
  endif()
endforeach()
