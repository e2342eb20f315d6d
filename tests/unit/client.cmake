# registry/client and pilotctl unit tests (pure parts; the client against
# real nodes is covered by tests/e2e).
pilot_unit_test(test_client_endpoints test_client_endpoints.c)
target_link_libraries(test_client_endpoints PRIVATE reg_client)
