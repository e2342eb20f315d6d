# registry/server unit tests (configuration parsing; the node itself is
# tested by the integration tier).
if(TARGET reg_server)
  pilot_unit_test(test_server_config test_server_config.c)
  target_link_libraries(test_server_config PRIVATE reg_server)
endif()
if(TARGET reg_server)
  pilot_unit_test(test_server_app test_server_app.c)
  target_link_libraries(test_server_app PRIVATE reg_server PkgConfig::SODIUM)
endif()
