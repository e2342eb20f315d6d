/* test_common: the error table and the allocation hook. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "reg_common.h"

static void test_err_names_round_trip(void **state)
{
    (void)state;
    for (int i = 0; i < REG_ERR_COUNT; i++) {
        const char *n = reg_err_name(i);
        assert_int_equal(reg_err_from_name(n, strlen(n)), i);
        assert_non_null(reg_strerror(i));
    }
    assert_string_equal(reg_err_name(REG_NOT_LEADER), "not_leader");
    assert_string_equal(reg_err_name(REG_UNKNOWN_OUTCOME), "unknown_outcome");
    assert_string_equal(reg_err_name(-1), "internal");
    assert_string_equal(reg_err_name(REG_ERR_COUNT), "internal");
    assert_int_equal(reg_err_from_name("bogus", 5), REG_INTERNAL);
}

static void test_errmsg_wrap(void **state)
{
    (void)state;
    char buf[REG_ERRMSG_SIZE];
    reg_errmsgf(buf, "disk %s", "full");
    reg_errmsg_wrapf(buf, "append %d", 7);
    assert_string_equal(buf, "append 7: disk full");
}

static void test_alloc_fail_nth(void **state)
{
    (void)state;
    reg_alloc_fail_at(2);
    void *a = reg_malloc(8);
    void *b = reg_malloc(8);
    void *c = reg_malloc(8);
    assert_non_null(a);
    assert_null(b);
    assert_non_null(c);
    assert_int_equal(reg_alloc_fail_at(0), 3);
    reg_free(a);
    reg_free(c);
}

static void test_ct_equal(void **state)
{
    (void)state;
    assert_true(reg_ct_equal("abcd", "abcd", 4));
    assert_false(reg_ct_equal("abcd", "abce", 4));
    assert_true(reg_ct_equal("", "", 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_err_names_round_trip),
        cmocka_unit_test(test_errmsg_wrap),
        cmocka_unit_test(test_alloc_fail_nth),
        cmocka_unit_test(test_ct_equal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
