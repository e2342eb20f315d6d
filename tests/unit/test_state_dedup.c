/* test_state_dedup: exactly-once retries (DESIGN.md §5): a retried
 * (client, seq) returns the cached result and changes nothing, stale
 * sequences are refused, and the table is bounded with a deterministic
 * eviction of the oldest client. */
#include "test_state_util.h"

static void test_retry_returns_cached_result(void **state)
{
    (void)state;
    struct st_state *s = st_new();
    struct st_cmd c;
    struct st_result r1, r2;
    tu_cmd(&c, ST_CMD_REGISTER, 1);
    snprintf(c.endpoint, sizeof c.endpoint, "1.2.3.4:5");
    c.client = 77;
    c.seq = 1;
    assert_int_equal(tu_apply(s, &c, &r1), REG_OK);
    assert_false(r1.duplicate);
    uint8_t before[ST_HASH_LEN], after[ST_HASH_LEN];
    st_hash(s, before);
    /* The retry, even with different content, answers from the cache. */
    c.flag = true;
    assert_int_equal(tu_apply(s, &c, &r2), REG_OK);
    assert_true(r2.duplicate);
    assert_int_equal(r2.node, r1.node);
    assert_int_equal(r2.status, r1.status);
    st_hash(s, after);
    assert_memory_equal(before, after, ST_HASH_LEN);
    /* Errors are cached too. */
    tu_cmd(&c, ST_CMD_SET_HOSTNAME, 1);
    snprintf(c.hostname, sizeof c.hostname, "BAD");
    c.client = 77;
    c.seq = 2;
    assert_int_equal(tu_apply(s, &c, &r1), REG_INVALID_ARGUMENT);
    snprintf(c.hostname, sizeof c.hostname, "good");
    assert_int_equal(tu_apply(s, &c, &r2), REG_INVALID_ARGUMENT);
    assert_true(r2.duplicate);
    assert_string_equal(r2.message, r1.message);
    /* Stale and zero sequences. */
    c.seq = 1;
    assert_int_equal(tu_apply(s, &c, &r2), REG_FAILED_PRECONDITION);
    assert_false(r2.duplicate);
    c.seq = 0;
    assert_int_equal(tu_apply(s, &c, &r2), REG_INVALID_ARGUMENT);
    /* The next seq applies; client 0 is never deduplicated. */
    c.seq = 3;
    assert_int_equal(tu_apply(s, &c, &r2), REG_OK);
    c.client = 0;
    snprintf(c.hostname, sizeof c.hostname, "other");
    assert_int_equal(tu_apply(s, &c, &r2), REG_OK);
    assert_int_equal(tu_apply(s, &c, &r2), REG_OK);
    assert_false(r2.duplicate);
    struct st_stats st;
    st_stats(s, &st);
    assert_int_equal(st.dedup_clients, 1);
    st_free(s);
}

static void test_eviction_bound_and_order(void **state)
{
    (void)state;
    struct st_state *s = st_new();
    tu_register(s, 1, false, NULL);
    struct st_cmd c;
    struct st_result r;
    tu_cmd(&c, ST_CMD_SET_VISIBILITY, 1);
    c.seq = 1;
    /* Client 2 and client 1 share the oldest timestamp: client 1 goes first. */
    for (uint64_t i = 1; i <= ST_DEDUP_CLIENTS_MAX; i++) {
        c.client = i;
        c.ts_ms = i <= 2 ? 10 : (int64_t)(100 + i);
        assert_int_equal(tu_apply(s, &c, &r), REG_OK);
    }
    /* Refresh client 3 so that it becomes the newest. */
    c.client = 3;
    c.seq = 2;
    c.ts_ms = 1000000;
    assert_int_equal(tu_apply(s, &c, &r), REG_OK);
    c.seq = 1;
    struct st_stats st;
    st_stats(s, &st);
    assert_int_equal(st.dedup_clients, ST_DEDUP_CLIENTS_MAX);
    for (uint64_t i = 0; i < 3; i++) {
        c.client = ST_DEDUP_CLIENTS_MAX + 1 + i;
        c.ts_ms = 2000000;
        assert_int_equal(tu_apply(s, &c, &r), REG_OK);
    }
    st_stats(s, &st);
    assert_int_equal(st.dedup_clients, ST_DEDUP_CLIENTS_MAX);
    /* Evicted: 1, 2 (oldest, tie by id), then 4 (3 was refreshed). */
    c.ts_ms = 3000000;
    c.client = 3;
    c.seq = 2;
    assert_int_equal(tu_apply(s, &c, &r), REG_OK);
    assert_true(r.duplicate);
    c.seq = 1;
    c.client = 5;
    assert_int_equal(tu_apply(s, &c, &r), REG_OK);
    assert_true(r.duplicate);
    c.client = 4;
    assert_int_equal(tu_apply(s, &c, &r), REG_OK);
    assert_false(r.duplicate);
    c.client = 1;
    assert_int_equal(tu_apply(s, &c, &r), REG_OK);
    assert_false(r.duplicate);
    st_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retry_returns_cached_result),
        cmocka_unit_test(test_eviction_bound_and_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
