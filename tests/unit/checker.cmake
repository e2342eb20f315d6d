# Unit tests of jepsen/checker (the linearizability checker and its parts).
foreach(t models parse direct oracle)
  if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/test_checker_${t}.c)
    pilot_unit_test(test_checker_${t} test_checker_${t}.c)
    target_link_libraries(test_checker_${t} PRIVATE jepsen_checker)
    target_compile_definitions(test_checker_${t} PRIVATE
      CHECKER_TESTDATA="${PROJECT_SOURCE_DIR}/jepsen/checker/testdata")
  endif()
endforeach()

# pilot-check's exit contract: 0 valid, 1 invalid/unknown/malformed, 2 usage.
set(_cd ${PROJECT_SOURCE_DIR}/jepsen/checker/testdata)
add_test(NAME test_checker_cli COMMAND sh -c "\
  \"$1\" --model register --format edn --init 0 \"$2/cas-good-crashed.edn\" >/dev/null; \
  test $? -eq 0 || exit 10; \
  \"$1\" --model register --format edn --init 0 \"$2/cas-bad-stale.edn\" >/dev/null; \
  test $? -eq 1 || exit 11; \
  \"$1\" --model register --format edn --budget-steps 1 --init 0 \"$2/cas-good-concurrent.edn\" \
    | grep -q '^linearizable: unknown' || exit 12; \
  \"$1\" --model bank \"$2/cas-good-crashed.edn\" 2>/dev/null; test $? -eq 2 || exit 13; \
  \"$1\" --model register \"$2/no-such-file\" 2>/dev/null; test $? -eq 2 || exit 14; \
  \"$1\" --model register --format edn \"$2/../checker.h\" >/dev/null; test $? -eq 1 || exit 15; \
  for m in register access set unique; do \
    \"$1\" --model $m \"$2/empty.jsonl\" >/dev/null || exit 16; \
  done; \
  exit 0" sh $<TARGET_FILE:pilot-check> ${_cd})
