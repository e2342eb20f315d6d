pilot_unit_test(test_http test_http.c)
target_link_libraries(test_http PRIVATE reg_http PkgConfig::UV pthread)
