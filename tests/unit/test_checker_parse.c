/* test_checker_parse: the JSON-lines and EDN readers, pairing rules, every
 * kind of malformed input (clear error, nothing kept), EDN cas-register
 * files from jepsen/checker/testdata, and an allocation-failure sweep. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_checker_helpers.h"

static int read_text(const char *text, enum jc_format fmt, struct jc_history *h, char *errmsg)
{
    jc_history_init(h);
    return jc_read_history(text, strlen(text), fmt, h, errmsg);
}

static void test_jsonl_fields(void **state)
{
    struct jc_history h;
    char errmsg[REG_ERRMSG_SIZE];
    const char *text =
        "{\"index\":7,\"time\":100,\"type\":\"invoke\",\"process\":3,\"f\":\"join\","
        "\"value\":{\"net\":1},\"key\":[1,5],\"node\":\"n2\",\"req_id\":\"c1:9\"}\n"
        "\n   \n"
        "{\"index\":8,\"time\":250,\"type\":\"ok\",\"process\":3,\"f\":\"join\","
        "\"applied_index\":42,\"error\":null,\"node\":2,\"req_id\":17}\r\n"
        "{\"type\":\"info\",\"process\":\"nemesis\",\"f\":\"kill\"}";

    (void)state;
    assert_int_equal(read_text(text, JC_FORMAT_JSONL, &h, errmsg), REG_OK);
    assert_int_equal(h.n, 3);
    assert_int_equal(h.ops[0].index, 7);
    assert_int_equal(h.ops[0].time, 100);
    assert_int_equal(h.ops[0].type, JC_INVOKE);
    assert_int_equal(h.ops[0].process, 3);
    assert_string_equal(h.ops[0].f, "join");
    assert_int_equal(h.ops[0].key.type, JC_VEC);
    assert_int_equal(h.ops[0].key.items[1].i, 5);
    assert_int_equal(jc_val_get(&h.ops[0].value, "net")->i, 1);
    assert_string_equal(h.ops[0].node, "n2");
    assert_string_equal(h.ops[0].req_id, "c1:9");
    assert_int_equal(h.ops[0].applied_index, JC_ABSENT);
    assert_int_equal(h.ops[1].applied_index, 42);
    assert_string_equal(h.ops[1].node, "2");
    assert_string_equal(h.ops[1].req_id, "17");
    assert_null(h.ops[1].error);
    assert_int_equal(h.ops[2].process, JC_NEMESIS);
    assert_int_equal(h.ops[2].index, 2);
    assert_int_equal(h.ops[2].time, JC_ABSENT);
    jc_history_free(&h);
}

static void test_edn_syntax(void **state)
{
    struct jc_history h;
    char errmsg[REG_ERRMSG_SIZE];
    char buf[128];
    const char *text =
        "; comment line\n"
        "({:process 0, :type :invoke, :f :write, :value 12N, :extra #{1 2}, :lat 1.5}\n"
        " #_ {:ignored true}\n"
        " {:process 0 :type :ok :f :write :value 12 :error [:timeout \"slow\\\"ly\"]\n"
        "  :node \"n1\" :sym foo/bar :neg -3 :flag false})\n"
        "#jepsen.history.Op{:process 1 :type :invoke :f :read :value nil}";

    (void)state;
    assert_int_equal(read_text(text, JC_FORMAT_EDN, &h, errmsg), REG_OK);
    assert_int_equal(h.n, 3);
    assert_int_equal(h.ops[0].value.type, JC_INT);
    assert_int_equal(h.ops[0].value.i, 12);
    assert_string_equal(h.ops[1].error, "timeout");
    assert_string_equal(h.ops[1].node, "n1");
    assert_int_equal(h.ops[2].value.type, JC_NIL);
    assert_int_equal(h.ops[2].process, 1);
    jc_val_format(&h.ops[0].value, buf, sizeof(buf));
    assert_string_equal(buf, "12");
    jc_history_free(&h);
}

static void expect_malformed(const char *text, enum jc_format fmt, const char *needle)
{
    struct jc_history h;
    char errmsg[REG_ERRMSG_SIZE];

    assert_int_equal(read_text(text, fmt, &h, errmsg), REG_MALFORMED);
    if (strstr(errmsg, needle) == NULL) {
        print_error("message \"%s\" lacks \"%s\"\n", errmsg, needle);
    }
    assert_non_null(strstr(errmsg, needle));
    assert_int_equal(h.n, 0);
    assert_null(h.ops);
}

static void test_bad_input_is_rejected(void **state)
{
    char deep[400];

    (void)state;
    expect_malformed("{\"type\":\"ok\",\"process\":0,\"f\":\"read\"}\nnot json", JC_FORMAT_JSONL,
                     "line 2");
    expect_malformed("[1,2]", JC_FORMAT_JSONL, "map");
    expect_malformed("{\"process\":0,\"f\":\"read\"}", JC_FORMAT_JSONL, "type");
    expect_malformed("{\"type\":\"done\",\"process\":0,\"f\":\"read\"}", JC_FORMAT_JSONL, "done");
    expect_malformed("{\"type\":\"ok\",\"process\":\"p0\",\"f\":\"read\"}", JC_FORMAT_JSONL,
                     "process");
    expect_malformed("{\"type\":\"ok\",\"process\":0}", JC_FORMAT_JSONL, "field f");
    expect_malformed("{\"type\":\"ok\",\"process\":0,\"f\":\"read\",\"value\":1.5}",
                     JC_FORMAT_JSONL, "real");
    expect_malformed("{\"type\":\"ok\",\"process\":0,\"f\":\"read\",\"time\":\"soon\"}",
                     JC_FORMAT_JSONL, "time");
    expect_malformed("{\"type\":\"ok\",\"process\":0,\"f\":\"read\",\"time\":-5}", JC_FORMAT_JSONL,
                     "negative");
    expect_malformed("{\"type\":\"ok\",\"type\":\"ok\",\"process\":0,\"f\":\"r\"}",
                     JC_FORMAT_JSONL, "line 1");
    expect_malformed("[{:process 0 :type :ok :f :read}", JC_FORMAT_EDN, "unterminated");
    expect_malformed("{:process 0 :type}", JC_FORMAT_EDN, "odd");
    expect_malformed("{:process 0 :type :ok :f :read}}", JC_FORMAT_EDN, "unbalanced");
    expect_malformed("42", JC_FORMAT_EDN, "map");
    expect_malformed("{:process 0 :type :ok :f \"read}", JC_FORMAT_EDN, "unterminated string");
    expect_malformed("{:process 99999999999999999999 :type :ok :f :read}", JC_FORMAT_EDN,
                     "range");
    expect_malformed("{:process 0 :type :ok :f :read :value 12abc}", JC_FORMAT_EDN, "number");
    memset(deep, '[', sizeof(deep) - 1);
    deep[sizeof(deep) - 1] = '\0';
    expect_malformed(deep, JC_FORMAT_EDN, "deep");
}

static void expect_pair_error(const char *dsl, const char *needle)
{
    struct jc_history h;
    struct jc_pairs pairs;
    char errmsg[REG_ERRMSG_SIZE];
    char *text = th_jsonl(dsl);

    jc_history_init(&h);
    assert_int_equal(jc_read_history(text, strlen(text), JC_FORMAT_JSONL, &h, errmsg), REG_OK);
    free(text);
    assert_int_equal(jc_pair_history(&h, &pairs, errmsg), REG_MALFORMED);
    if (strstr(errmsg, needle) == NULL) {
        print_error("message \"%s\" lacks \"%s\"\n", errmsg, needle);
    }
    assert_non_null(strstr(errmsg, needle));
    assert_null(pairs.p);
    jc_history_free(&h);
}

static void test_pairing_rules(void **state)
{
    struct jc_history h;
    struct jc_pairs pairs;

    (void)state;
    th_load("0 i write 1 0; 1 i read _ 1; 0 fail write 1 2; 1 info read _ 3; 2 i write 2 4", &h,
            &pairs);
    assert_int_equal(pairs.n, 3);
    assert_int_equal(pairs.p[0].outcome, JC_FAIL);
    assert_int_equal(pairs.p[0].ret, 2);
    assert_int_equal(pairs.p[1].outcome, JC_INFO);
    assert_int_equal(pairs.p[1].ret, INT64_MAX);
    /* No completion at all: open-ended, like info. */
    assert_int_equal(pairs.p[2].outcome, JC_INFO);
    assert_int_equal(pairs.p[2].done, SIZE_MAX);
    jc_pairs_free(&pairs);
    jc_history_free(&h);
    /* Without times, positions order the history. */
    th_load("0 i write 1 -; 0 ok write 1 -", &h, &pairs);
    assert_int_equal(pairs.p[0].call, 0);
    assert_int_equal(pairs.p[0].ret, 1);
    jc_pairs_free(&pairs);
    jc_history_free(&h);

    expect_pair_error("0 i write 1 0; 0 i write 2 1", "invokes again");
    expect_pair_error("0 ok write 1 0", "no open invoke");
    expect_pair_error("0 i write 1 0; 0 info write 1 1; 0 i read _ 2", "after its info");
    expect_pair_error("0 i write 1 0; 0 ok read 1 1", "differs");
    expect_pair_error("0 i write 1 5; 0 ok write 1 4", "goes back");
}

#define RETRY_HISTORY(id1, id2, f2)                                                      \
    "{\"process\":0,\"type\":\"invoke\",\"f\":\"write\",\"time\":0" id1 "}\n"           \
    "{\"process\":0,\"type\":\"info\",\"f\":\"write\",\"time\":1}\n"                    \
    "{\"process\":1,\"type\":\"invoke\",\"f\":\"read\",\"time\":2}\n"                   \
    "{\"process\":1,\"type\":\"ok\",\"f\":\"read\",\"value\":true,\"time\":3}\n"      \
    "{\"process\":2,\"type\":\"invoke\",\"f\":\"" f2 "\",\"time\":4" id2 "}\n"          \
    "{\"process\":2,\"type\":\"ok\",\"f\":\"" f2 "\",\"time\":5}\n"

static enum jc_verdict retry_verdict(const char *text, size_t *npairs)
{
    struct jc_history h;
    struct jc_pairs pairs;
    struct jc_lin_result res;
    char errmsg[REG_ERRMSG_SIZE];

    assert_int_equal(read_text(text, JC_FORMAT_JSONL, &h, errmsg), REG_OK);
    assert_int_equal(jc_pair_history(&h, &pairs, errmsg), REG_OK);
    *npairs = pairs.n;
    assert_int_equal(jc_check_linearizable(&h, &pairs, &jc_model_unique, NULL, &res, errmsg),
                     REG_OK);
    jc_lin_result_free(&res);
    jc_pairs_free(&pairs);
    jc_history_free(&h);
    return res.verdict;
}

static void test_retries_are_one_logical_op(void **state)
{
    struct jc_history h;
    struct jc_pairs pairs;
    char errmsg[REG_ERRMSG_SIZE];
    size_t n;

    (void)state;
    /* The crashed first attempt applied (the read saw it) and the retry was
     * deduplicated: one registration, valid. */
    assert_int_equal(retry_verdict(RETRY_HISTORY(",\"req_id\":\"c1:7\"", ",\"req_id\":\"c1:7\"",
                                                 "write"),
                                   &n),
                     JC_VALID);
    assert_int_equal(n, 2);
    /* As two unrelated requests they would be a double registration. */
    assert_int_equal(retry_verdict(RETRY_HISTORY(",\"req_id\":\"c1:7\"", ",\"req_id\":\"c1:8\"",
                                                 "write"),
                                   &n),
                     JC_INVALID);
    assert_int_equal(n, 3);
    assert_int_equal(read_text(RETRY_HISTORY(",\"req_id\":\"c1:7\"", ",\"req_id\":\"c1:7\"",
                                             "read"),
                               JC_FORMAT_JSONL, &h, errmsg),
                     REG_OK);
    assert_int_equal(jc_pair_history(&h, &pairs, errmsg), REG_MALFORMED);
    assert_non_null(strstr(errmsg, "retry"));
    jc_history_free(&h);
}

static void check_file(const char *name, enum jc_verdict want)
{
    char path[512];
    char text[8192];
    char errmsg[REG_ERRMSG_SIZE];
    struct jc_history h;
    struct jc_pairs pairs;
    struct jc_lin_result res;
    struct jc_opts o = {0, 0, 1, 0};
    FILE *f;
    size_t n;

    snprintf(path, sizeof(path), "%s/%s", CHECKER_TESTDATA, name);
    f = fopen(path, "rb");
    assert_non_null(f);
    n = fread(text, 1, sizeof(text), f);
    fclose(f);
    jc_history_init(&h);
    assert_int_equal(jc_read_history(text, n, JC_FORMAT_EDN, &h, errmsg), REG_OK);
    assert_int_equal(jc_pair_history(&h, &pairs, errmsg), REG_OK);
    assert_int_equal(jc_check_linearizable(&h, &pairs, &jc_model_register, &o, &res, errmsg),
                     REG_OK);
    if (res.verdict != want) {
        print_error("%s: %s (%s)\n", name, jc_verdict_name(res.verdict), res.msg);
    }
    assert_int_equal(res.verdict, want);
    jc_lin_result_free(&res);
    jc_pairs_free(&pairs);
    jc_history_free(&h);
}

static void test_edn_cas_register_files(void **state)
{
    (void)state;
    check_file("cas-good-concurrent.edn", JC_VALID);
    check_file("cas-good-crashed.edn", JC_VALID);
    check_file("cas-bad-minimal.edn", JC_INVALID);
    check_file("cas-bad-stale.edn", JC_INVALID);
}

/* Every allocation failure gives REG_NOMEM (or success) and leaks nothing;
 * LeakSanitizer checks the second half. */
static void test_alloc_failure_sweep(void **state)
{
    char *text = th_jsonl("0 i write 1 0 \"a\"; 1 i read _ 1 \"a\"; 1 ok read 1 2 \"a\";"
                          "0 ok write 1 3 \"a\"; 2 i write 1 4 \"b\"; 2 info write 1 5 \"b\"");
    const char *edn = "[{:process 0 :type :invoke :f :cas :value [1 2] :key [\"k\" 1]}]";
    int completed = 0;

    (void)state;
    for (unsigned long nth = 1; nth < 400 && !completed; nth++) {
        struct jc_history h;
        struct jc_pairs pairs;
        struct jc_lin_result res;
        struct jc_direct_result d;
        char errmsg[REG_ERRMSG_SIZE];
        int rv;

        jc_history_init(&h);
        reg_alloc_fail_at(nth);
        rv = jc_read_history(text, strlen(text), JC_FORMAT_JSONL, &h, errmsg);
        if (rv == REG_OK) {
            rv = jc_pair_history(&h, &pairs, errmsg);
            if (rv == REG_OK) {
                rv = jc_check_linearizable(&h, &pairs, &jc_model_register, NULL, &res, errmsg);
                if (rv == REG_OK) {
                    jc_lin_result_free(&res);
                    rv = jc_check_direct(JC_D_PHANTOM, &h, &pairs, &jc_model_register, NULL, &d,
                                         errmsg);
                }
                jc_pairs_free(&pairs);
            }
        }
        jc_history_free(&h);
        if (rv == REG_OK) {
            struct jc_history e;
            rv = jc_read_history(edn, strlen(edn), JC_FORMAT_EDN, (jc_history_init(&e), &e),
                                 errmsg);
            jc_history_free(&e);
        }
        completed = reg_alloc_fail_at(0) < nth;
        if (rv != REG_OK && rv != REG_NOMEM) {
            print_error("nth %lu: rv %d: %s\n", nth, rv, errmsg);
        }
        assert_true(rv == REG_OK || rv == REG_NOMEM);
        if (completed) {
            assert_int_equal(rv, REG_OK);
        }
    }
    assert_true(completed);
    free(text);
}

/* Random byte mutations of valid histories: every result is a clean code
 * (ASan and UBSan would flag a crash, overflow or leak), and whatever parses
 * goes through pairing and every checker of every model. */
static void test_random_mutations(void **state)
{
    static const char *const seeds[] = {
        "[{:process 0 :type :invoke :f :cas :value [1 2] :key [\"k\" 1] :time 3}\n"
        " {:process 0 :type :ok :f :cas :value [1 2] :time 4}\n"
        " {:process 1 :type :invoke :f :read :value nil :time 5 :node \"n1\"}\n"
        " {:process 1, :type :ok, :f :read, :value #{0 1}, :time 6, :applied_index 9}]",
        "{\"process\":0,\"type\":\"invoke\",\"f\":\"add\",\"value\":3,\"time\":1}\n"
        "{\"process\":0,\"type\":\"ok\",\"f\":\"add\",\"value\":3,\"time\":2}\n"
        "{\"process\":1,\"type\":\"invoke\",\"f\":\"read\",\"time\":3}\n"
        "{\"process\":1,\"type\":\"ok\",\"f\":\"read\",\"value\":[3],\"time\":4}\n",
    };
    static const struct jc_model *const models[] = {&jc_model_register, &jc_model_access,
                                                    &jc_model_set, &jc_model_unique};
    uint64_t x = 88172645463325252ull;
    int parsed = 0;

    (void)state;
    for (int round = 0; round < 3000; round++) {
        int which = round % 2;
        char buf[1024];
        size_t len = strlen(seeds[which]);
        struct jc_history h;
        char errmsg[REG_ERRMSG_SIZE];
        int rv;

        memcpy(buf, seeds[which], len + 1);
        for (int k = 0; k < 1 + round % 4; k++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            buf[x % len] = "{}[]():\" ,#_;-0129nNe\\x"[(x >> 20) % 24];
        }
        rv = read_text(buf, which ? JC_FORMAT_JSONL : JC_FORMAT_EDN, &h, errmsg);
        assert_true(rv == REG_OK || rv == REG_MALFORMED);
        if (rv == REG_OK) {
            struct jc_pairs pairs;
            parsed++;
            if (jc_pair_history(&h, &pairs, errmsg) == REG_OK) {
                for (int m = 0; m < 4; m++) {
                    struct jc_lin_result res;
                    rv = jc_check_linearizable(&h, &pairs, models[m], NULL, &res, errmsg);
                    assert_true(rv == REG_OK || rv == REG_MALFORMED);
                    jc_lin_result_free(&res);
                    for (int d = 0; d < JC_D_COUNT; d++) {
                        struct jc_direct_result dr;
                        rv = jc_check_direct((enum jc_direct)d, &h, &pairs, models[m], NULL, &dr,
                                             errmsg);
                        assert_true(rv == REG_OK || rv == REG_MALFORMED);
                    }
                }
                jc_pairs_free(&pairs);
            }
            jc_history_free(&h);
        }
    }
    assert_true(parsed > 100);
}

static void test_values(void **state)
{
    struct jc_history h;
    char errmsg[REG_ERRMSG_SIZE];
    char buf[16];

    (void)state;
    assert_int_equal(read_text("{:process 0 :type :ok :f :r :value [:a 1] :key {:x [1 2 3 4 5]}}",
                               JC_FORMAT_EDN, &h, errmsg),
                     REG_OK);
    /* Keywords read as strings; formatting truncates safely. */
    assert_string_equal(h.ops[0].value.items[0].s, "a");
    jc_val_format(&h.ops[0].key, buf, sizeof(buf));
    assert_int_equal(strlen(buf), sizeof(buf) - 1);
    assert_true(jc_val_cmp(&h.ops[0].value, &h.ops[0].key) != 0);
    assert_int_equal(jc_val_cmp(&h.ops[0].value, &h.ops[0].value), 0);
    assert_null(jc_val_get(&h.ops[0].value, "a"));
    jc_history_free(&h);
    assert_int_equal(read_text("x", 9, &h, errmsg), REG_INVALID_ARGUMENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jsonl_fields),
        cmocka_unit_test(test_edn_syntax),
        cmocka_unit_test(test_bad_input_is_rejected),
        cmocka_unit_test(test_pairing_rules),
        cmocka_unit_test(test_retries_are_one_logical_op),
        cmocka_unit_test(test_edn_cas_register_files),
        cmocka_unit_test(test_alloc_failure_sweep),
        cmocka_unit_test(test_random_mutations),
        cmocka_unit_test(test_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
