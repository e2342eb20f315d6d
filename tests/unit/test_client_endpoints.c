/* test_client_endpoints: endpoint-list parsing and the retry backoff
 * schedule, which every binary relies on for failover. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "client.h"

static void test_parse_list(void **state)
{
    (void)state;
    struct cl_endpoint ep[4];
    size_t n = 0;
    char msg[REG_ERRMSG_SIZE];

    assert_int_equal(cl_endpoints_parse("127.0.0.1:7001, localhost:7002,[::1]:7003", ep, 4,
                                        &n, msg),
                     REG_OK);
    assert_int_equal(n, 3);
    assert_string_equal(ep[0].host, "127.0.0.1");
    assert_int_equal(ep[0].port, 7001);
    assert_string_equal(ep[1].host, "localhost");
    assert_int_equal(ep[1].port, 7002);
    assert_string_equal(ep[2].host, "::1");
    assert_int_equal(ep[2].port, 7003);

    assert_int_equal(cl_endpoints_parse("h:65535", ep, 4, &n, msg), REG_OK);
    assert_int_equal(n, 1);
    assert_int_equal(ep[0].port, 65535);
}

static void test_parse_rejects(void **state)
{
    (void)state;
    static const char *bad[] = {
        "", "host", "host:", ":80", "h:0", "h:65536", "h:80x", "h:-1", "a:1,,b:2",
        "a:1,", "::1:80", "[::1]80", "[::1", "ho st:80", "h:123456", "h\"x:1",
    };
    struct cl_endpoint ep[4];
    char msg[REG_ERRMSG_SIZE];

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t n = 99;
        msg[0] = '\0';
        assert_int_equal(cl_endpoints_parse(bad[i], ep, 4, &n, msg), REG_INVALID_ARGUMENT);
        assert_int_equal(n, 99); /* untouched on error */
        assert_true(strlen(msg) > 0);
    }
    assert_int_equal(cl_endpoints_parse(NULL, ep, 4, &(size_t){0}, msg), REG_INVALID_ARGUMENT);
    /* Capacity is enforced, not overrun. */
    assert_int_equal(cl_endpoints_parse("a:1,b:2,c:3", ep, 2, &(size_t){0}, msg),
                     REG_INVALID_ARGUMENT);
    assert_non_null(strstr(msg, "too many"));
}

static void test_backoff_schedule(void **state)
{
    (void)state;
    /* jitter 0 gives the lower bound d/2, a jitter of d/2 the upper bound. */
    assert_int_equal(cl_backoff_delay_ms(50, 1000, 0, 0), 25);
    assert_int_equal(cl_backoff_delay_ms(50, 1000, 0, 25), 50);
    assert_int_equal(cl_backoff_delay_ms(50, 1000, 1, 50), 100);
    assert_int_equal(cl_backoff_delay_ms(50, 1000, 3, 200), 400);
    /* Capped: never above max, however many attempts. */
    for (unsigned a = 0; a < 200; a++) {
        for (uint32_t j = 0; j < 3000; j += 499) {
            uint32_t d = cl_backoff_delay_ms(50, 1000, a, j);
            assert_true(d <= 1000);
            assert_true(d >= 25);
        }
    }
    assert_int_equal(cl_backoff_delay_ms(50, 1000, 100, 500), 1000);
    assert_int_equal(cl_backoff_delay_ms(50, 1000, 100, 0), 500);
    /* Monotone lower bound until the cap. */
    uint32_t prev = 0;
    for (unsigned a = 0; a < 10; a++) {
        uint32_t d = cl_backoff_delay_ms(10, 100000, a, 0);
        assert_true(d >= prev);
        prev = d;
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_list),
        cmocka_unit_test(test_parse_rejects),
        cmocka_unit_test(test_backoff_schedule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
