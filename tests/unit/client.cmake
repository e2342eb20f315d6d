# registry/client and pilotctl unit tests (pure parts, and the client
# against unreachable endpoints; the client against real nodes is covered
# by tests/e2e).
pilot_unit_test(test_client_endpoints test_client_endpoints.c)
target_link_libraries(test_client_endpoints PRIVATE reg_client)
pilot_unit_test(test_client_seq test_client_seq.c)
target_link_libraries(test_client_seq PRIVATE reg_client)
if(TARGET pilotctl_core)
  pilot_unit_test(test_pilotctl_core test_pilotctl_core.c)
  target_link_libraries(test_pilotctl_core PRIVATE pilotctl_core)
endif()
