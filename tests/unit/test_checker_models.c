/* test_checker_models: hand-made histories for every model with known
 * verdicts, the classic tricky cases (fault-injection.md §4), the failure
 * report, budgets giving unknown, and P-compositional partitioning. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_checker_helpers.h"

#define R (&jc_model_register)
#define A (&jc_model_access)
#define S (&jc_model_set)
#define U (&jc_model_unique)

/* ---- Register ------------------------------------------------------------- */

static void test_register_sequential(void **state)
{
    (void)state;
    assert_int_equal(th_lin(R, "0 i write 1 0; 0 ok write 1 1; 0 i read _ 2; 0 ok read 1 3"),
                     JC_VALID);
    assert_int_equal(th_lin(R, "0 i read _ 0; 0 ok read _ 1"), JC_VALID);
    /* Empty history and nemesis-only history are trivially valid. */
    assert_int_equal(th_lin(R, ""), JC_VALID);
    assert_int_equal(th_lin(R, "n info kill _ 0; n info kill _ 1"), JC_VALID);
}

static void test_register_stale_read(void **state)
{
    (void)state;
    assert_int_equal(th_lin(R, "0 i write 1 0; 0 ok write 1 1; 0 i write 2 2; 0 ok write 2 3;"
                               "1 i read _ 4; 1 ok read 1 5"),
                     JC_INVALID);
}

static void test_register_concurrent_writes_either_order(void **state)
{
    (void)state;
    /* Both writes overlap; reads during them may see 2 then 1. */
    assert_int_equal(th_lin(R, "0 i write 1 0; 1 i write 2 0; 2 i read _ 1; 2 ok read 2 2;"
                               "2 i read _ 3; 2 ok read 1 4; 0 ok write 1 10; 1 ok write 2 10"),
                     JC_VALID);
    /* After both completed the order is fixed: 2 then 1 is impossible. */
    assert_int_equal(th_lin(R, "0 i write 1 0; 1 i write 2 0; 0 ok write 1 10; 1 ok write 2 10;"
                               "2 i read _ 11; 2 ok read 2 12; 2 i read _ 13; 2 ok read 1 14"),
                     JC_INVALID);
    assert_int_equal(th_lin(R, "0 i write 1 0; 1 i write 2 0; 0 ok write 1 10; 1 ok write 2 10;"
                               "2 i read _ 11; 2 ok read 1 12; 2 i read _ 13; 2 ok read 1 14"),
                     JC_VALID);
}

static void test_register_value_never_written(void **state)
{
    (void)state;
    assert_int_equal(th_lin(R, "0 i write 1 0; 1 i read _ 1; 1 ok read 3 2; 0 ok write 1 10"),
                     JC_INVALID);
}

static void test_register_info_takes_effect_late_or_never(void **state)
{
    (void)state;
    /* A crashed write followed by a read of its value is valid. */
    assert_int_equal(th_lin(R, "0 i write 1 0; 0 info write 1 5; 1 i read _ 6; 1 ok read 1 7"),
                     JC_VALID);
    /* It may take effect long after the client gave up... */
    assert_int_equal(th_lin(R, "0 i write 1 0; 0 info write 1 5; 1 i read _ 6; 1 ok read _ 7;"
                               "1 i read _ 100; 1 ok read 1 101"),
                     JC_VALID);
    /* ...or never... */
    assert_int_equal(th_lin(R, "0 i write 1 0; 0 info write 1 5; 1 i read _ 100; 1 ok read _ 101"),
                     JC_VALID);
    /* ...or with no completion recorded at all. */
    assert_int_equal(th_lin(R, "0 i write 1 0; 1 i read _ 100; 1 ok read 1 101"), JC_VALID);
    /* But once seen, it cannot be undone. */
    assert_int_equal(th_lin(R, "0 i write 1 0; 0 info write 1 5; 1 i read _ 6; 1 ok read 1 7;"
                               "1 i read _ 8; 1 ok read _ 9"),
                     JC_INVALID);
    /* An info op cannot take effect before it was invoked. */
    assert_int_equal(th_lin(R, "1 i read _ 0; 1 ok read 1 1; 0 i write 1 2; 0 info write 1 3"),
                     JC_INVALID);
}

static void test_register_porcupine_readme(void **state)
{
    struct jc_opts o = {0, 0, 1, 0};

    (void)state;
    assert_int_equal(th_lin_opts(R, "0 i write 100 0; 1 i read _ 1; 1 ok read 0 2;"
                                    "2 i read _ 3; 2 ok read 100 4; 0 ok write 100 10",
                                 &o, NULL),
                     JC_VALID);
    assert_int_equal(th_lin_opts(R, "0 i write 200 0; 1 i read _ 1; 1 ok read 200 2;"
                                    "2 i read _ 3; 2 ok read 0 4; 0 ok write 200 10",
                                 &o, NULL),
                     JC_INVALID);
}

static void test_register_touching_intervals_are_concurrent(void **state)
{
    (void)state;
    assert_int_equal(th_lin(R, "0 i write 1 0; 0 ok write 1 5; 1 i read _ 5; 1 ok read _ 6"),
                     JC_VALID);
    assert_int_equal(th_lin(R, "0 i write 1 0; 0 ok write 1 5; 1 i read _ 6; 1 ok read _ 7"),
                     JC_INVALID);
}

static void test_register_cas_and_fail(void **state)
{
    (void)state;
    assert_int_equal(th_lin(R, "0 i write 1 0; 0 ok write 1 1; 0 i cas [1,2] 2; 0 ok cas [1,2] 3;"
                               "0 i read _ 4; 0 ok read 2 5"),
                     JC_VALID);
    assert_int_equal(th_lin(R, "0 i write 0 0; 0 ok write 0 1; 0 i cas [1,2] 2; 0 ok cas [1,2] 3"),
                     JC_INVALID);
    /* A refused cas must have seen another value. */
    assert_int_equal(th_lin(R, "0 i write 1 0; 0 ok write 1 1; 0 i cas [1,2] 2;"
                               "0 ok cas !failed_precondition 3"),
                     JC_INVALID);
    assert_int_equal(th_lin(R, "0 i write 0 0; 0 ok write 0 1; 0 i cas [1,2] 2;"
                               "0 ok cas !failed_precondition 3"),
                     JC_VALID);
    /* fail = did not happen: its value can never be read. */
    assert_int_equal(th_lin(R, "0 i write 5 0; 0 fail write 5 1; 1 i read _ 2; 1 ok read _ 3"),
                     JC_VALID);
    assert_int_equal(th_lin(R, "0 i write 5 0; 0 fail write 5 1; 1 i read _ 2; 1 ok read 5 3"),
                     JC_INVALID);
}

static void test_register_failure_report(void **state)
{
    struct jc_lin_result res;

    (void)state;
    assert_int_equal(th_lin_opts(R, "0 i write 1 0; 0 ok write 1 1; 0 i write 2 2;"
                                    "0 ok write 2 3; 1 i read _ 4; 1 ok read 1 5",
                                 NULL, &res),
                     JC_INVALID);
    /* Op indexes are line positions: invokes at 0, 2, 4. */
    assert_int_equal(res.fail_op, 4);
    assert_int_equal(res.prefix_len, 2);
    assert_int_equal(res.prefix[0], 0);
    assert_int_equal(res.prefix[1], 2);
    assert_non_null(strstr(res.msg, "op 4"));
    assert_non_null(strstr(res.msg, "register=2"));
    jc_lin_result_free(&res);
}

static void test_budget_exhaustion_is_unknown(void **state)
{
    struct jc_opts o = {5, 0, 0, 0};
    struct jc_lin_result res;

    (void)state;
    assert_int_equal(th_lin_opts(R, "0 i write 1 0; 1 i write 2 0; 2 i write 3 0;"
                                    "0 ok write 1 9; 1 ok write 2 9; 2 ok write 3 9;"
                                    "3 i read _ 10; 3 ok read 1 11",
                                 &o, &res),
                     JC_UNKNOWN);
    assert_int_equal(res.unknown_partitions, 1);
    assert_non_null(strstr(res.msg, "budget"));
    jc_lin_result_free(&res);
    /* The same history with the default budget is decided. */
    assert_int_equal(th_lin(R, "0 i write 1 0; 1 i write 2 0; 2 i write 3 0;"
                               "0 ok write 1 9; 1 ok write 2 9; 2 ok write 3 9;"
                               "3 i read _ 10; 3 ok read 1 11"),
                     JC_VALID);
}

static void test_partitions_by_key(void **state)
{
    struct jc_lin_result res;

    (void)state;
    assert_int_equal(th_lin_opts(R, "0 i write 1 0 \"a\"; 0 ok write 1 1 \"a\";"
                                    "1 i read _ 2 \"b\"; 1 ok read _ 3 \"b\";"
                                    "1 i read _ 4 \"a\"; 1 ok read 1 5 \"a\"",
                                 NULL, &res),
                     JC_VALID);
    assert_int_equal(res.partitions, 2);
    jc_lin_result_free(&res);
    assert_int_equal(th_lin(R, "0 i write 1 0 \"a\"; 0 ok write 1 1 \"a\";"
                               "1 i read _ 2 \"b\"; 1 ok read 1 3 \"b\""),
                     JC_INVALID);
}

/* ---- Access --------------------------------------------------------------- */

static void test_access_kick_then_resolve(void **state)
{
    (void)state;
    assert_int_equal(th_lin(A, "0 i join _ 0; 0 ok join _ 1; 0 i resolve _ 2; 0 ok resolve allow 3;"
                               "0 i kick _ 4; 0 ok kick _ 5; 1 i resolve _ 6; 1 ok resolve deny 7"),
                     JC_VALID);
    assert_int_equal(th_lin(A, "0 i join _ 0; 0 ok join _ 1; 0 i kick _ 4; 0 ok kick _ 5;"
                               "1 i resolve _ 6; 1 ok resolve allow 7"),
                     JC_INVALID);
    /* A resolve concurrent with the kick may still see allow. */
    assert_int_equal(th_lin(A, "0 i join _ 0; 0 ok join _ 1; 0 i kick _ 4; 1 i resolve _ 5;"
                               "1 ok resolve allow 6; 0 ok kick _ 7"),
                     JC_VALID);
    /* Trust keeps access after a kick; untrust then removes it. */
    assert_int_equal(th_lin(A, "0 i join _ 0; 0 ok join _ 1; 0 i approve _ 2; 0 ok approve _ 3;"
                               "0 i kick _ 4; 0 ok kick _ 5; 0 i resolve _ 6; 0 ok resolve allow 7;"
                               "0 i untrust _ 8; 0 ok untrust _ 9; 0 i resolve _ 10;"
                               "0 ok resolve deny 11"),
                     JC_VALID);
    /* Never granted: allow is illegal. A deny as not_found is a deny. */
    assert_int_equal(th_lin(A, "0 i resolve _ 0; 0 ok resolve allow 1"), JC_INVALID);
    assert_int_equal(th_lin(A, "0 i resolve _ 0; 0 ok resolve !not_found 1"), JC_VALID);
    assert_int_equal(th_lin(A, "0 i join _ 0; 0 ok join _ 1; 0 i kick _ 2; 0 ok kick _ 3;"
                               "1 i authorize _ 4; 1 ok authorize allow 5"),
                     JC_INVALID);
}

static void test_access_rejections_must_be_justified(void **state)
{
    (void)state;
    assert_int_equal(th_lin(A, "0 i join _ 0; 0 ok join !already_exists 1"), JC_INVALID);
    assert_int_equal(th_lin(A, "0 i join _ 0; 0 ok join _ 1; 0 i join _ 2;"
                               "0 ok join !already_exists 3"),
                     JC_VALID);
    assert_int_equal(th_lin(A, "0 i join _ 0; 0 ok join _ 1; 0 i kick _ 2; 0 ok kick !not_found 3"),
                     JC_INVALID);
    assert_int_equal(th_lin(A, "0 i kick _ 0; 0 ok kick !not_found 1"), JC_VALID);
    /* A refusal the model cannot judge (permissions) is a legal no-op. */
    assert_int_equal(th_lin(A, "0 i join _ 0; 0 ok join !permission_denied 1; 0 i resolve _ 2;"
                               "0 ok resolve deny 3"),
                     JC_VALID);
}

static void test_access_info_kick(void **state)
{
    (void)state;
    assert_int_equal(th_lin(A, "0 i join _ 0; 0 ok join _ 1; 0 i kick _ 2; 0 info kick _ 3;"
                               "1 i resolve _ 4; 1 ok resolve allow 5; 1 i resolve _ 6;"
                               "1 ok resolve deny 7"),
                     JC_VALID);
    assert_int_equal(th_lin(A, "0 i join _ 0; 0 ok join _ 1; 0 i kick _ 2; 0 info kick _ 3;"
                               "1 i resolve _ 4; 1 ok resolve deny 5; 1 i resolve _ 6;"
                               "1 ok resolve allow 7"),
                     JC_INVALID);
}

/* ---- Set and unique ------------------------------------------------------- */

static void test_set_model(void **state)
{
    (void)state;
    assert_int_equal(th_lin(S, "0 i add 1 0; 1 i add 2 0; 0 ok add 1 2; 1 ok add 2 2;"
                               "0 i read _ 3; 0 ok read [1,2] 4"),
                     JC_VALID);
    assert_int_equal(th_lin(S, "0 i add 1 0; 1 i add 2 0; 0 ok add 1 2; 1 ok add 2 2;"
                               "0 i read _ 3; 0 ok read [1] 4"),
                     JC_INVALID);
    assert_int_equal(th_lin(S, "0 i add 1 0; 0 ok add 1 1; 0 i remove 1 2; 0 ok remove 1 3;"
                               "0 i read _ 4; 0 ok read [1] 5"),
                     JC_INVALID);
    assert_int_equal(th_lin(S, "0 i add 3 0; 0 info add 3 1; 1 i read _ 2; 1 ok read [] 3;"
                               "1 i read _ 4; 1 ok read [3] 5"),
                     JC_VALID);
    assert_int_equal(th_lin(S, "0 i add 1 0; 0 ok add !already_exists 1"), JC_INVALID);
    /* Per network key. */
    assert_int_equal(th_lin(S, "0 i add 1 0 7; 0 ok add 1 1 7; 0 i read _ 2 8; 0 ok read [] 3 8"),
                     JC_VALID);
}

static void test_unique_model(void **state)
{
    (void)state;
    assert_int_equal(th_lin(U, "0 i write _ 0; 0 ok write _ 1; 1 i write _ 2; 1 ok write _ 3"),
                     JC_INVALID);
    assert_int_equal(th_lin(U, "0 i write _ 0; 0 ok write _ 1; 1 i write _ 2;"
                               "1 ok write !already_exists 3"),
                     JC_VALID);
    assert_int_equal(th_lin(U, "0 i write _ 0; 0 ok write _ 1; 1 i read _ 2; 1 ok read false 3"),
                     JC_INVALID);
    assert_int_equal(th_lin(U, "1 i read _ 0; 1 ok read _ 1; 0 i write _ 2; 0 ok write _ 3;"
                               "1 i read _ 4; 1 ok read {\"id\":5} 5"),
                     JC_VALID);
    /* Different keys are different registrations. */
    assert_int_equal(th_lin(U, "0 i write _ 0 1; 0 ok write _ 1 1; 1 i write _ 2 2; 1 ok write _ 3 2"),
                     JC_VALID);
}

static void test_model_rejects_bad_ops(void **state)
{
    struct jc_history h;
    struct jc_pairs pairs;
    struct jc_lin_result res;
    char errmsg[REG_ERRMSG_SIZE];

    (void)state;
    th_load("0 i write \"x\" 0; 0 ok write \"x\" 1", &h, &pairs);
    assert_int_equal(jc_check_linearizable(&h, &pairs, R, NULL, &res, errmsg), REG_MALFORMED);
    assert_non_null(strstr(errmsg, "integer"));
    jc_pairs_free(&pairs);
    jc_history_free(&h);

    th_load("0 i frobnicate 1 0; 0 ok frobnicate 1 1", &h, &pairs);
    assert_int_equal(jc_check_linearizable(&h, &pairs, A, NULL, &res, errmsg), REG_MALFORMED);
    assert_non_null(strstr(errmsg, "frobnicate"));
    jc_pairs_free(&pairs);
    jc_history_free(&h);

    th_load("0 i add 64 0; 0 ok add 64 1", &h, &pairs);
    assert_int_equal(jc_check_linearizable(&h, &pairs, S, NULL, &res, errmsg), REG_MALFORMED);
    jc_pairs_free(&pairs);
    jc_history_free(&h);

    th_load("0 i resolve _ 0; 0 ok resolve \"maybe\" 1", &h, &pairs);
    assert_int_equal(jc_check_linearizable(&h, &pairs, A, NULL, &res, errmsg), REG_MALFORMED);
    jc_pairs_free(&pairs);
    jc_history_free(&h);

    assert_ptr_equal(jc_model_find("register"), R);
    assert_ptr_equal(jc_model_find("unique"), U);
    assert_null(jc_model_find("bank"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_register_sequential),
        cmocka_unit_test(test_register_stale_read),
        cmocka_unit_test(test_register_concurrent_writes_either_order),
        cmocka_unit_test(test_register_value_never_written),
        cmocka_unit_test(test_register_info_takes_effect_late_or_never),
        cmocka_unit_test(test_register_porcupine_readme),
        cmocka_unit_test(test_register_touching_intervals_are_concurrent),
        cmocka_unit_test(test_register_cas_and_fail),
        cmocka_unit_test(test_register_failure_report),
        cmocka_unit_test(test_budget_exhaustion_is_unknown),
        cmocka_unit_test(test_partitions_by_key),
        cmocka_unit_test(test_access_kick_then_resolve),
        cmocka_unit_test(test_access_rejections_must_be_justified),
        cmocka_unit_test(test_access_info_kick),
        cmocka_unit_test(test_set_model),
        cmocka_unit_test(test_unique_model),
        cmocka_unit_test(test_model_rejects_bad_ops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
