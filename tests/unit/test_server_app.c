/* registry/server app adapter (the glue_app raft-glue drives): entries it
 * encodes apply to the same state; time never goes backwards across
 * leaders; an entry or op that does not decode becomes a `malformed` result
 * and apply still succeeds (raft-0.15-notes §0 item 2); snapshot/restore
 * round-trips the state. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "srv_internal.h"

static void *plain_alloc(size_t n)
{
    return malloc(n);
}

struct fixture {
    struct srv s;
    struct glue_app app;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (f == NULL || sodium_init() < 0) {
        return -1;
    }
    f->s.state = st_new();
    f->s.id = 7;
    srv__app_init(&f->s, &f->app);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    st_free(f->s.state);
    reg_free(f->s.results);
    free(f);
    return 0;
}

static void register_req(struct srv__req *r, uint8_t keybyte, uint64_t seq)
{
    memset(r, 0, sizeof *r);
    r->cmd.op = ST_CMD_REGISTER;
    r->cmd.client = 42;
    r->cmd.seq = seq;
    memset(r->cmd.caller_key, keybyte, ST_KEY_LEN);
    snprintf(r->cmd.endpoint, sizeof r->cmd.endpoint, "10.0.0.%u:4000", keybyte);
    r->frame_len = 32;
}

static void test_encode_apply(void **state)
{
    struct fixture *f = *state;
    struct srv__req a, b;
    void *ops[2] = {&a, &b};
    char errmsg[REG_ERRMSG_SIZE];
    void *buf = NULL;
    size_t len = 0;
    const void *res;
    const struct st_result *ra, *rb;
    register_req(&a, 1, 1);
    register_req(&b, 2, 1);
    b.cmd.client = 43;
    assert_int_equal(f->app.encode(f->app.data, ops, 2, 1000, plain_alloc, &buf, &len, errmsg),
                     REG_OK);
    assert_int_equal(len % 8, 0);
    res = f->app.apply(f->app.data, 5, buf, len);
    ra = f->app.op_result(f->app.data, res, 0);
    rb = f->app.op_result(f->app.data, res, 1);
    assert_string_equal(ra->message, "");
    assert_int_equal(ra->code, REG_OK);
    assert_int_equal(rb->code, REG_OK);
    assert_int_not_equal(ra->node, rb->node);
    assert_int_equal(st_applied_index(f->s.state), 5);
    assert_int_equal(f->s.last_ts, 1000);
    free(buf);

    /* A leader whose clock is behind stamps the last applied time. */
    register_req(&a, 3, 1);
    a.cmd.client = 44;
    assert_int_equal(f->app.encode(f->app.data, ops, 1, 400, plain_alloc, &buf, &len, errmsg),
                     REG_OK);
    f->app.apply(f->app.data, 6, buf, len);
    assert_int_equal(f->s.last_ts, 1000);
    free(buf);
}

static void test_garbage_entries(void **state)
{
    struct fixture *f = *state;
    uint8_t junk[64];
    const void *res;
    const struct st_result *r;
    uint8_t before[ST_HASH_LEN], after[ST_HASH_LEN];
    unsigned i;
    st_hash(f->s.state, before);
    for (i = 0; i < 200; i++) {
        size_t n = 8 * (1 + randombytes_uniform(8));
        randombytes_buf(junk, n);
        if (i % 2 == 0) {
            memcpy(junk, PROTO_LOG_MAGIC, 4); /* get past the magic sometimes */
        }
        res = f->app.apply(f->app.data, 10 + i, junk, n);
        r = f->app.op_result(f->app.data, res, 0);
        assert_int_equal(r->code, REG_MALFORMED);
    }
    st_hash(f->s.state, after);
    assert_memory_equal(before, after, ST_HASH_LEN);
    assert_int_equal(st_applied_index(f->s.state), 209);
}

static void test_snapshot_restore(void **state)
{
    struct fixture *f = *state;
    struct srv__req a;
    void *ops[1] = {&a};
    char errmsg[REG_ERRMSG_SIZE];
    void *buf = NULL, *snap = NULL;
    size_t len = 0, slen = 0;
    uint8_t h1[ST_HASH_LEN], h2[ST_HASH_LEN];
    register_req(&a, 9, 1);
    assert_int_equal(f->app.encode(f->app.data, ops, 1, 5000, plain_alloc, &buf, &len, errmsg),
                     REG_OK);
    f->app.apply(f->app.data, 3, buf, len);
    free(buf);
    st_hash(f->s.state, h1);
    assert_int_equal(f->app.snapshot(f->app.data, plain_alloc, &snap, &slen), REG_OK);
    /* A bad snapshot leaves the state untouched. */
    assert_int_not_equal(f->app.restore(f->app.data, "nonsense", 8), REG_OK);
    st_hash(f->s.state, h2);
    assert_memory_equal(h1, h2, ST_HASH_LEN);
    st_free(f->s.state);
    f->s.state = st_new();
    assert_int_equal(f->app.restore(f->app.data, snap, slen), REG_OK);
    st_hash(f->s.state, h2);
    assert_memory_equal(h1, h2, ST_HASH_LEN);
    assert_int_equal(st_applied_index(f->s.state), 3);
    free(snap);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_encode_apply, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage_entries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_restore, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
