/* test_checker_direct: the direct checkers (stale allow, resurrection,
 * lost ack, phantom, monotonic applied index, convergence) on hand-made
 * histories with both verdicts, and the error-to-outcome table, including
 * that jepsen/README.md documents exactly what the code does. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_checker_helpers.h"

#define A (&jc_model_access)
#define S (&jc_model_set)
#define U (&jc_model_unique)
#define R (&jc_model_register)

#define JOINED_THEN_KICKED "0 i join _ 0; 0 ok join _ 1; 0 i kick _ 2; 0 ok kick _ 3;"

static void test_stale_allow(void **state)
{
    struct jc_direct_result r;

    (void)state;
    assert_int_equal(th_direct(JC_D_STALE_ALLOW, A,
                               JOINED_THEN_KICKED "1 i resolve _ 4; 1 ok resolve allow 5", &r),
                     JC_INVALID);
    assert_int_equal(r.first_op, 4);
    assert_int_equal(r.violations, 1);
    assert_non_null(strstr(r.msg, "kick op 2"));
    /* Denied: fine. */
    assert_int_equal(th_direct(JC_D_STALE_ALLOW, A,
                               JOINED_THEN_KICKED "1 i resolve _ 4; 1 ok resolve deny 5", NULL),
                     JC_VALID);
    /* Re-joined in between, or a join that may land after the kick. */
    assert_int_equal(th_direct(JC_D_STALE_ALLOW, A,
                               JOINED_THEN_KICKED "2 i join _ 4; 2 ok join _ 5;"
                                                  "1 i resolve _ 6; 1 ok resolve allow 7",
                               NULL),
                     JC_VALID);
    assert_int_equal(th_direct(JC_D_STALE_ALLOW, A,
                               "0 i join _ 0; 0 ok join _ 1; 2 i join _ 1; 0 i kick _ 2;"
                               "0 ok kick _ 3; 1 i resolve _ 6; 1 ok resolve allow 7;"
                               "2 ok join _ 10",
                               NULL),
                     JC_VALID);
    assert_int_equal(th_direct(JC_D_STALE_ALLOW, A,
                               JOINED_THEN_KICKED "2 i join _ 4; 2 info join _ 5;"
                                                  "1 i resolve _ 6; 1 ok resolve allow 7",
                               NULL),
                     JC_VALID);
    /* A failed re-join did not happen. */
    assert_int_equal(th_direct(JC_D_STALE_ALLOW, A,
                               JOINED_THEN_KICKED "2 i join _ 4; 2 fail join _ 5;"
                                                  "1 i resolve _ 6; 1 ok resolve allow 7",
                               NULL),
                     JC_INVALID);
    /* A join that completed before the kick began cannot follow it. */
    assert_int_equal(th_direct(JC_D_STALE_ALLOW, A,
                               "0 i join _ 0; 0 ok join _ 1; 2 i join _ 1; 2 ok join _ 1;"
                               "0 i kick _ 2; 0 ok kick _ 3; 1 i resolve _ 4;"
                               "1 ok resolve allow 5",
                               NULL),
                     JC_INVALID);
    /* Trust still grants access after a kick; an untrust removes it. */
    assert_int_equal(th_direct(JC_D_STALE_ALLOW, A,
                               "3 i approve _ 0; 3 ok approve _ 0;" JOINED_THEN_KICKED
                               "1 i resolve _ 4; 1 ok resolve allow 5",
                               NULL),
                     JC_VALID);
    assert_int_equal(th_direct(JC_D_STALE_ALLOW, A,
                               "3 i approve _ 0; 3 ok approve _ 0;" JOINED_THEN_KICKED
                               "3 i untrust _ 4; 3 ok untrust !not_found 5;"
                               "1 i resolve _ 6; 1 ok resolve allow 7",
                               NULL),
                     JC_INVALID);
    /* A resolve concurrent with the kick may see either answer. */
    assert_int_equal(th_direct(JC_D_STALE_ALLOW, A,
                               "0 i join _ 0; 0 ok join _ 1; 0 i kick _ 2; 1 i resolve _ 3;"
                               "0 ok kick _ 4; 1 ok resolve allow 5",
                               NULL),
                     JC_VALID);
    /* Keys are independent. */
    assert_int_equal(th_direct(JC_D_STALE_ALLOW, A,
                               "0 i join _ 0 1; 0 ok join _ 1 1; 0 i kick _ 2 2; 0 ok kick _ 3 2;"
                               "1 i resolve _ 4 1; 1 ok resolve allow 5 1",
                               NULL),
                     JC_VALID);
    assert_int_equal(th_direct(JC_D_STALE_ALLOW, S, "0 i add 1 0; 0 ok add 1 1", &r), JC_VALID);
    assert_non_null(strstr(r.msg, "n/a"));
}

static void test_resurrection(void **state)
{
    (void)state;
    assert_int_equal(th_direct(JC_D_RESURRECTION, S,
                               "0 i add 1 0; 0 ok add 1 1; 0 i remove 1 2; 0 ok remove 1 3;"
                               "1 i read _ 4; 1 ok read [1] 5",
                               NULL),
                     JC_INVALID);
    assert_int_equal(th_direct(JC_D_RESURRECTION, S,
                               "0 i add 1 0; 0 ok add 1 1; 0 i remove 1 2; 0 ok remove 1 3;"
                               "0 i add 1 4; 0 ok add 1 5; 1 i read _ 6; 1 ok read [1] 7",
                               NULL),
                     JC_VALID);
    /* Seen absent, then present again with no add since. */
    assert_int_equal(th_direct(JC_D_RESURRECTION, S,
                               "0 i add 1 0; 0 ok add 1 1; 1 i read _ 2; 1 ok read [] 3;"
                               "1 i read _ 4; 1 ok read [1] 5",
                               NULL),
                     JC_INVALID);
    assert_int_equal(th_direct(JC_D_RESURRECTION, A,
                               "0 i join _ 0; 0 ok join _ 1; 1 i resolve _ 2; 1 ok resolve deny 3;"
                               "1 i resolve _ 4; 1 ok resolve allow 5",
                               NULL),
                     JC_INVALID);
    assert_int_equal(th_direct(JC_D_RESURRECTION, A,
                               "1 i resolve _ 2; 1 ok resolve deny 3; 0 i approve _ 3;"
                               "0 ok approve _ 4; 1 i resolve _ 5; 1 ok resolve allow 6",
                               NULL),
                     JC_VALID);
}

static void test_lost_ack(void **state)
{
    struct jc_direct_result r;

    (void)state;
    assert_int_equal(th_direct(JC_D_LOST_ACK, S,
                               "0 i add 1 0; 0 ok add 1 1; 1 i read _ 2; 1 ok read [] 3", &r),
                     JC_INVALID);
    assert_int_equal(r.first_op, 0);
    assert_int_equal(th_direct(JC_D_LOST_ACK, S,
                               "0 i add 1 0; 0 ok add 1 1; 0 i remove 1 2; 0 ok remove 1 3;"
                               "1 i read _ 4; 1 ok read [] 5",
                               NULL),
                     JC_VALID);
    /* An info remove may have applied: it explains the absence. */
    assert_int_equal(th_direct(JC_D_LOST_ACK, S,
                               "0 i add 1 0; 0 ok add 1 1; 0 i remove 1 2; 0 info remove 1 3;"
                               "1 i read _ 4; 1 ok read [] 5",
                               NULL),
                     JC_VALID);
    /* A read while the add is still running is not a final read. */
    assert_int_equal(th_direct(JC_D_LOST_ACK, S,
                               "0 i add 1 0; 1 i read _ 1; 1 ok read [] 2; 0 ok add 1 3", NULL),
                     JC_VALID);
    assert_int_equal(th_direct(JC_D_LOST_ACK, U,
                               "0 i write _ 0; 0 ok write _ 1; 1 i read _ 2; 1 ok read _ 3", NULL),
                     JC_INVALID);
    assert_int_equal(th_direct(JC_D_LOST_ACK, U,
                               "0 i write _ 0; 0 ok write _ 1; 1 i read _ 2; 1 ok read true 3",
                               NULL),
                     JC_VALID);
    assert_int_equal(th_direct(JC_D_LOST_ACK, A,
                               "0 i join _ 0; 0 ok join _ 1; 1 i resolve _ 2; 1 ok resolve deny 3",
                               NULL),
                     JC_INVALID);
    assert_int_equal(th_direct(JC_D_LOST_ACK, A, JOINED_THEN_KICKED
                               "1 i resolve _ 4; 1 ok resolve deny 5",
                               NULL),
                     JC_VALID);
}

static void test_phantom(void **state)
{
    struct jc_direct_result r;

    (void)state;
    assert_int_equal(th_direct(JC_D_PHANTOM, R,
                               "0 i write 5 0; 0 fail write 5 1; 1 i read _ 2; 1 ok read 5 3", &r),
                     JC_INVALID);
    assert_int_equal(r.first_op, 2);
    assert_non_null(strstr(r.msg, "recorded as fail"));
    assert_int_equal(th_direct(JC_D_PHANTOM, R, "1 i read _ 2; 1 ok read 7 3", &r), JC_INVALID);
    assert_non_null(strstr(r.msg, "no op wrote"));
    assert_int_equal(th_direct(JC_D_PHANTOM, R,
                               "0 i write 5 0; 0 info write 5 1; 1 i read _ 2; 1 ok read 5 3", NULL),
                     JC_VALID);
    assert_int_equal(th_direct(JC_D_PHANTOM, R,
                               "0 i cas [1,5] 0; 0 ok cas [1,5] 1; 1 i read _ 2; 1 ok read 5 3",
                               NULL),
                     JC_VALID);
    assert_int_equal(th_direct(JC_D_PHANTOM, S,
                               "0 i add 2 0; 0 fail add 2 1; 1 i read _ 2; 1 ok read [2] 3", NULL),
                     JC_INVALID);
    assert_int_equal(th_direct(JC_D_PHANTOM, A,
                               "0 i approve _ 0; 0 fail approve _ 1; 1 i resolve _ 2;"
                               "1 ok resolve allow 3",
                               NULL),
                     JC_INVALID);
    assert_int_equal(th_direct(JC_D_PHANTOM, U,
                               "0 i write _ 0; 0 fail write _ 1; 1 i read _ 2; 1 ok read true 3",
                               NULL),
                     JC_INVALID);
}

/* ---- Applied index and convergence need fields the notation lacks ---------- */

static struct jc_direct_result run_jsonl(enum jc_direct which, const char *text)
{
    struct jc_history h;
    struct jc_pairs pairs;
    struct jc_direct_result res;
    struct jc_lin_result lin;
    char errmsg[REG_ERRMSG_SIZE];

    jc_history_init(&h);
    assert_int_equal(jc_read_history(text, strlen(text), JC_FORMAT_JSONL, &h, errmsg), REG_OK);
    assert_int_equal(jc_pair_history(&h, &pairs, errmsg), REG_OK);
    assert_int_equal(jc_check_direct(which, &h, &pairs, R, NULL, &res, errmsg), REG_OK);
    /* Hash probes and index fields never disturb the model checks. */
    assert_int_equal(jc_check_linearizable(&h, &pairs, R, NULL, &lin, errmsg), REG_OK);
    assert_int_equal(lin.verdict, JC_VALID);
    jc_lin_result_free(&lin);
    jc_pairs_free(&pairs);
    jc_history_free(&h);
    return res;
}

#define OP(p, t, f, tm, node, ai)                                                           \
    "{\"process\":" #p ",\"type\":\"" t "\",\"f\":\"" f "\",\"value\":null,\"time\":" #tm \
    ",\"node\":\"" node "\",\"applied_index\":" #ai "}\n"
#define HASH(p, t, tm, node, ai, h)                                                       \
    "{\"process\":" #p ",\"type\":\"" t "\",\"f\":\"hash\",\"value\":\"" h "\",\"time\":" #tm \
    ",\"node\":\"" node "\",\"applied_index\":" #ai "}\n"

static void test_monotonic_applied_index(void **state)
{
    struct jc_direct_result r;

    (void)state;
    r = run_jsonl(JC_D_MONOTONIC, OP(0, "invoke", "read", 0, "n1", null)
                  OP(0, "ok", "read", 1, "n1", 10) OP(1, "invoke", "read", 2, "n1", null)
                  OP(1, "ok", "read", 3, "n1", 9));
    assert_int_equal(r.verdict, JC_INVALID);
    assert_int_equal(r.first_op, 2);
    assert_non_null(strstr(r.msg, "node n1"));
    /* Overlapping ops may see either index. */
    r = run_jsonl(JC_D_MONOTONIC, OP(0, "invoke", "read", 0, "n1", null)
                  OP(1, "invoke", "read", 1, "n1", null) OP(0, "ok", "read", 2, "n1", 10)
                  OP(1, "ok", "read", 3, "n1", 9));
    assert_int_equal(r.verdict, JC_VALID);
    /* Different nodes may lag each other. */
    r = run_jsonl(JC_D_MONOTONIC, OP(0, "invoke", "read", 0, "n1", null)
                  OP(0, "ok", "read", 1, "n1", 10) OP(1, "invoke", "read", 2, "n2", null)
                  OP(1, "ok", "read", 3, "n2", 9));
    assert_int_equal(r.verdict, JC_VALID);
}

static void test_convergence(void **state)
{
    struct jc_direct_result r;

    (void)state;
    r = run_jsonl(JC_D_CONVERGENCE, HASH(0, "invoke", 0, "n1", null, "")
                  HASH(0, "ok", 1, "n1", 100, "abc") HASH(1, "invoke", 2, "n2", null, "")
                  HASH(1, "ok", 3, "n2", 100, "abc") HASH(2, "invoke", 4, "n3", null, "")
                  HASH(2, "ok", 5, "n3", 90, "zzz"));
    assert_int_equal(r.verdict, JC_VALID);
    assert_non_null(strstr(r.msg, "3 state-hash probes"));
    r = run_jsonl(JC_D_CONVERGENCE, HASH(0, "invoke", 0, "n1", null, "")
                  HASH(0, "ok", 1, "n1", 100, "abc") HASH(1, "invoke", 2, "n2", null, "")
                  HASH(1, "ok", 3, "n2", 100, "abd"));
    assert_int_equal(r.verdict, JC_INVALID);
    assert_non_null(strstr(r.msg, "applied index 100"));
}

/* ---- Error-to-outcome table -------------------------------------------------- */

struct expect {
    int code;
    enum jc_outcome write, read;
};

static const struct expect table[] = {
    {REG_OK, JC_OUT_OK, JC_OUT_OK},
    {REG_INVALID_ARGUMENT, JC_OUT_FAIL, JC_OUT_FAIL},
    {REG_NOT_FOUND, JC_OUT_REJECTED, JC_OUT_REJECTED},
    {REG_ALREADY_EXISTS, JC_OUT_REJECTED, JC_OUT_REJECTED},
    {REG_PERMISSION_DENIED, JC_OUT_REJECTED, JC_OUT_REJECTED},
    {REG_FAILED_PRECONDITION, JC_OUT_REJECTED, JC_OUT_REJECTED},
    {REG_RESOURCE_EXHAUSTED, JC_OUT_REJECTED, JC_OUT_REJECTED},
    {REG_UNAUTHENTICATED, JC_OUT_FAIL, JC_OUT_FAIL},
    {REG_NOT_LEADER, JC_OUT_FAIL, JC_OUT_FAIL},
    {REG_NO_LEADER, JC_OUT_FAIL, JC_OUT_FAIL},
    {REG_UNKNOWN_OUTCOME, JC_OUT_INFO, JC_OUT_FAIL},
    {REG_RATE_LIMITED, JC_OUT_FAIL, JC_OUT_FAIL},
    {REG_TOO_LARGE, JC_OUT_FAIL, JC_OUT_FAIL},
    {REG_MALFORMED, JC_OUT_FAIL, JC_OUT_FAIL},
    {REG_UNAVAILABLE, JC_OUT_FAIL, JC_OUT_FAIL},
    {REG_TIMEOUT, JC_OUT_INFO, JC_OUT_FAIL},
    {REG_NOMEM, JC_OUT_INFO, JC_OUT_FAIL},
    {REG_INTERNAL, JC_OUT_INFO, JC_OUT_FAIL},
};

static void test_outcome_table(void **state)
{
    (void)state;
    /* Checklist: a new REG_ERR_MAP row must be added here and to the README. */
    assert_int_equal(sizeof(table) / sizeof(table[0]), REG_ERR_COUNT);
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        assert_int_equal(jc_outcome_of(table[i].code, JC_REPLIED, 0), table[i].write);
        assert_int_equal(jc_outcome_of(table[i].code, JC_REPLIED, 1), table[i].read);
    }
    /* Nothing sent: provably not applied. Sent, then silence: unknown for a
     * write, and a read changes nothing so it may be a fail. */
    assert_int_equal(jc_outcome_of(REG_OK, JC_NOT_SENT, 0), JC_OUT_FAIL);
    assert_int_equal(jc_outcome_of(REG_OK, JC_SENT_NO_REPLY, 0), JC_OUT_INFO);
    assert_int_equal(jc_outcome_of(REG_OK, JC_SENT_NO_REPLY, 1), JC_OUT_FAIL);
    /* A code from a newer server is treated as unknown. */
    assert_int_equal(jc_outcome_of(999, JC_REPLIED, 0), JC_OUT_INFO);
    assert_int_equal(jc_outcome_of(-1, JC_REPLIED, 0), JC_OUT_INFO);
    assert_string_equal(jc_outcome_name(JC_OUT_REJECTED), "ok-rejected");
}

static void test_readme_documents_the_table(void **state)
{
    char path[512];
    char *text;
    FILE *f;
    long n;

    (void)state;
    snprintf(path, sizeof(path), "%s/../../README.md", CHECKER_TESTDATA);
    f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    text = malloc((size_t)n + 1);
    assert_non_null(text);
    assert_int_equal(fread(text, 1, (size_t)n, f), (size_t)n);
    text[n] = '\0';
    fclose(f);
    for (int code = 0; code < REG_ERR_COUNT; code++) {
        char row[128];
        char *at;
        snprintf(row, sizeof(row), "| `%s` | %s | %s |", reg_err_name(code),
                 jc_outcome_name(jc_outcome_of(code, JC_REPLIED, 0)),
                 jc_outcome_name(jc_outcome_of(code, JC_REPLIED, 1)));
        at = strstr(text, row);
        if (at == NULL) {
            print_error("README lacks the row \"%s\"\n", row);
        }
        assert_non_null(at);
    }
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stale_allow),
        cmocka_unit_test(test_resurrection),
        cmocka_unit_test(test_lost_ack),
        cmocka_unit_test(test_phantom),
        cmocka_unit_test(test_monotonic_applied_index),
        cmocka_unit_test(test_convergence),
        cmocka_unit_test(test_outcome_table),
        cmocka_unit_test(test_readme_documents_the_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
