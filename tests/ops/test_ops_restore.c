/* Backup/restore building blocks (issue 6 item 4), below the process level:
 * the restore log entries and the snapshot file format reject every
 * corruption with an error and never crash; the app adapter assembles
 * restore chunks identically on every replica, refuses raft snapshots while
 * assembling, discards a restore whose checksum or order is wrong (state
 * untouched), swaps the state in at a good commit while keeping this
 * cluster's membership map; configuration refuses unsafe combinations. */
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

/* ---- codec ------------------------------------------------------------------ */

static void test_restore_entry_roundtrip(void **state)
{
    uint8_t data[1000], sum[32];
    struct proto_restore in, out;
    char errmsg[REG_ERRMSG_SIZE];
    void *buf;
    size_t len;
    uint16_t kind;
    (void)state;
    randombytes_buf(data, sizeof data);
    memset(&in, 0, sizeof in);
    in.kind = PROTO_LOG_KIND_RESTORE_CHUNK;
    in.offset = 500;
    in.total = 1500;
    in.data = data;
    in.len = sizeof data;
    assert_int_equal(proto_log_restore_encode(&in, plain_alloc, &buf, &len, errmsg), REG_OK);
    assert_int_equal(len % 8, 0);
    assert_int_equal(proto_log_kind(buf, len, &kind), REG_OK);
    assert_int_equal(kind, PROTO_LOG_KIND_RESTORE_CHUNK);
    assert_int_equal(proto_log_restore_decode(buf, len, &out, errmsg), REG_OK);
    assert_int_equal(out.offset, 500);
    assert_int_equal(out.total, 1500);
    assert_int_equal(out.len, sizeof data);
    assert_memory_equal(out.data, data, sizeof data);
    /* A restore entry is not a batch: the batch decoder refuses it. */
    struct proto_log_iter it;
    assert_int_equal(proto_log_open(buf, len, &it, errmsg), REG_MALFORMED);
    free(buf);

    memset(&in, 0, sizeof in);
    in.kind = PROTO_LOG_KIND_RESTORE_COMMIT;
    in.total = 1500;
    randombytes_buf(sum, sizeof sum);
    memcpy(in.checksum, sum, sizeof sum);
    assert_int_equal(proto_log_restore_encode(&in, plain_alloc, &buf, &len, errmsg), REG_OK);
    assert_int_equal(proto_log_restore_decode(buf, len, &out, errmsg), REG_OK);
    assert_int_equal(out.kind, PROTO_LOG_KIND_RESTORE_COMMIT);
    assert_memory_equal(out.checksum, sum, sizeof sum);
    free(buf);
}

static void test_restore_entry_bad_input(void **state)
{
    uint8_t data[64] = {1, 2, 3};
    struct proto_restore in, out;
    char errmsg[REG_ERRMSG_SIZE];
    void *buf;
    size_t len, i;
    (void)state;
    memset(&in, 0, sizeof in);
    in.kind = PROTO_LOG_KIND_RESTORE_CHUNK;
    in.total = 10;
    in.data = data;
    in.len = sizeof data; /* past total */
    assert_int_equal(proto_log_restore_encode(&in, plain_alloc, &buf, &len, errmsg),
                     REG_INVALID_ARGUMENT);
    in.kind = 9;
    assert_int_equal(proto_log_restore_encode(&in, plain_alloc, &buf, &len, errmsg),
                     REG_INVALID_ARGUMENT);
    in.kind = PROTO_LOG_KIND_RESTORE_CHUNK;
    in.total = 64;
    assert_int_equal(proto_log_restore_encode(&in, plain_alloc, &buf, &len, errmsg), REG_OK);
    /* Every truncation and every single-byte change: an error or a value
     * inside bounds, never a crash or an out-of-bounds view. */
    for (i = 0; i < len; i++) {
        assert_int_not_equal(proto_log_restore_decode(buf, i, &out, errmsg), REG_OK);
    }
    for (i = 0; i < len; i++) {
        uint8_t *b = buf;
        b[i] ^= 0xa5;
        if (proto_log_restore_decode(buf, len, &out, errmsg) == REG_OK &&
            out.kind == PROTO_LOG_KIND_RESTORE_CHUNK) {
            assert_true(out.offset + out.len <= out.total);
            assert_true(out.data >= b && out.data + out.len <= b + len);
        }
        b[i] ^= 0xa5;
    }
    free(buf);
    assert_int_equal(proto_log_restore_decode(NULL, 0, &out, errmsg), REG_MALFORMED);
}

static uint8_t *make_file(const struct st_state *st, size_t *len)
{
    struct proto_snapfile h;
    void *payload;
    size_t n;
    uint8_t *file;
    assert_int_equal(st_snapshot_encode(st, &payload, &n), REG_OK);
    memset(&h, 0, sizeof h);
    h.version = PROTO_SNAPFILE_VERSION;
    h.applied_index = 77;
    st_hash(st, h.state_hash);
    h.payload_len = n;
    proto_snapfile_checksum(payload, n, h.checksum);
    file = malloc(PROTO_SNAPFILE_HDR + n);
    proto_snapfile_header(&h, file);
    memcpy(file + PROTO_SNAPFILE_HDR, payload, n);
    reg_free(payload);
    *len = PROTO_SNAPFILE_HDR + n;
    return file;
}

static void test_snapfile_verify(void **state)
{
    struct st_state *st = st_new();
    struct proto_snapfile h;
    const uint8_t *payload;
    char errmsg[REG_ERRMSG_SIZE];
    size_t len, i;
    uint8_t *file;
    (void)state;
    file = make_file(st, &len);
    assert_int_equal(proto_snapfile_verify(file, len, &h, &payload, errmsg), REG_OK);
    assert_int_equal(h.applied_index, 77);
    assert_ptr_equal(payload, file + PROTO_SNAPFILE_HDR);
    for (i = 0; i < len; i++) {
        assert_int_equal(proto_snapfile_verify(file, i, &h, &payload, errmsg), REG_MALFORMED);
    }
    /* Any change to magic, version, length, checksum or payload is caught
     * (index and hash are covered by inspect's content check). */
    for (i = 0; i < len; i++) {
        if (i >= 16 && i < 56) {
            continue;
        }
        file[i] ^= 0x01;
        assert_int_equal(proto_snapfile_verify(file, len, &h, &payload, errmsg), REG_MALFORMED);
        file[i] ^= 0x01;
    }
    free(file);
    st_free(st);
}

/* ---- the app adapter ---------------------------------------------------------- */

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
    f->s.id = 1;
    srv__app_init(&f->s, &f->app);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    st_free(f->s.state);
    srv__backup_free(&f->s);
    reg_free(f->s.results);
    free(f);
    return 0;
}

static const struct st_result *apply_cmd(struct fixture *f, uint64_t index,
                                         const struct st_cmd *cmd)
{
    struct srv__req r;
    void *ops[1] = {&r};
    char errmsg[REG_ERRMSG_SIZE];
    void *buf;
    size_t len;
    memset(&r, 0, sizeof r);
    r.cmd = *cmd;
    r.frame_len = 64;
    assert_int_equal(f->app.encode(f->app.data, ops, 1, 1000, plain_alloc, &buf, &len, errmsg),
                     REG_OK);
    const void *res = f->app.apply(f->app.data, index, buf, len);
    free(buf);
    return f->app.op_result(f->app.data, res, 0);
}

static const struct st_result *apply_restore(struct fixture *f, uint64_t index,
                                             const struct proto_restore *e)
{
    struct srv__req r;
    void *ops[1] = {&r};
    char errmsg[REG_ERRMSG_SIZE];
    void *buf;
    size_t len;
    memset(&r, 0, sizeof r);
    r.restore = e;
    assert_int_equal(f->app.encode(f->app.data, ops, 1, 1000, plain_alloc, &buf, &len, errmsg),
                     REG_OK);
    const void *res = f->app.apply(f->app.data, index, buf, len);
    free(buf);
    return f->app.op_result(f->app.data, res, 0);
}

static void member_cmd(struct st_cmd *c, uint64_t id, const char *client)
{
    memset(c, 0, sizeof *c);
    c->op = ST_CMD_MEMBER_UPSERT;
    c->caller_admin = true;
    c->member.raft_id = id;
    snprintf(c->member.name, sizeof c->member.name, "node-%llu", (unsigned long long)id);
    snprintf(c->member.raft_addr, sizeof c->member.raft_addr, "127.0.0.1:%llu",
             (unsigned long long)(9100 + id));
    snprintf(c->member.client_addr, sizeof c->member.client_addr, "%s", client);
}

static void chunk(struct proto_restore *e, const uint8_t *p, uint64_t off, size_t n,
                  uint64_t total)
{
    memset(e, 0, sizeof e[0]);
    e->kind = PROTO_LOG_KIND_RESTORE_CHUNK;
    e->offset = off;
    e->total = total;
    e->data = p + off;
    e->len = n;
}

static void test_restore_apply(void **state)
{
    struct fixture *src, *f = *state;
    struct st_cmd c;
    struct st_stats ss;
    struct st_cluster_member m;
    struct proto_restore e;
    uint8_t before[ST_HASH_LEN], after[ST_HASH_LEN], want[ST_HASH_LEN];
    void *payload, *snap;
    size_t n, snap_len, third;
    uint64_t idx = 10;

    /* Source cluster: two agents and its own member 1 at an old address. */
    assert_int_equal(setup((void **)&src), 0);
    member_cmd(&c, 1, "10.9.9.9:9000");
    assert_int_equal(apply_cmd(src, 1, &c)->code, REG_OK);
    for (uint8_t k = 1; k <= 2; k++) {
        memset(&c, 0, sizeof c);
        c.op = ST_CMD_REGISTER;
        memset(c.caller_key, k, ST_KEY_LEN);
        snprintf(c.hostname, sizeof c.hostname, "agent-%u", k);
        snprintf(c.endpoint, sizeof c.endpoint, "10.0.0.%u:4000", k);
        assert_int_equal(apply_cmd(src, 1 + k, &c)->code, REG_OK);
    }
    assert_int_equal(st_snapshot_encode(src->s.state, &payload, &n), REG_OK);

    /* Target (new) cluster: member 1 at its own address. */
    member_cmd(&c, 1, "127.0.0.1:9001");
    assert_int_equal(apply_cmd(f, idx++, &c)->code, REG_OK);
    st_hash(f->s.state, before);
    third = n / 3;

    /* Two of three chunks: raft snapshots are refused meanwhile. */
    chunk(&e, payload, 0, third, n);
    assert_int_equal(apply_restore(f, idx++, &e)->code, REG_OK);
    chunk(&e, payload, third, third, n);
    assert_int_equal(apply_restore(f, idx++, &e)->code, REG_OK);
    assert_true(srv__restore_busy(&f->s));
    assert_int_not_equal(f->app.snapshot(f->app.data, plain_alloc, &snap, &snap_len), REG_OK);
    chunk(&e, payload, 2 * third, n - 2 * third, n);
    assert_int_equal(apply_restore(f, idx++, &e)->code, REG_OK);

    /* Wrong checksum: discarded, state untouched, snapshots allowed again. */
    memset(&e, 0, sizeof e);
    e.kind = PROTO_LOG_KIND_RESTORE_COMMIT;
    e.total = n;
    assert_int_equal(apply_restore(f, idx++, &e)->code, REG_MALFORMED);
    st_hash(f->s.state, after);
    assert_memory_equal(before, after, ST_HASH_LEN);
    assert_false(srv__restore_busy(&f->s));

    /* Out of order: refused and reset; a commit then finds nothing. */
    chunk(&e, payload, third, third, n);
    assert_int_equal(apply_restore(f, idx++, &e)->code, REG_FAILED_PRECONDITION);
    memset(&e, 0, sizeof e);
    e.kind = PROTO_LOG_KIND_RESTORE_COMMIT;
    e.total = n;
    proto_snapfile_checksum(payload, n, e.checksum);
    assert_int_equal(apply_restore(f, idx++, &e)->code, REG_FAILED_PRECONDITION);
    st_hash(f->s.state, after);
    assert_memory_equal(before, after, ST_HASH_LEN);

    /* The full sequence: the state is swapped in, our member map kept. */
    chunk(&e, payload, 0, third, n);
    assert_int_equal(apply_restore(f, idx++, &e)->code, REG_OK);
    chunk(&e, payload, third, n - third, n);
    assert_int_equal(apply_restore(f, idx++, &e)->code, REG_OK);
    memset(&e, 0, sizeof e);
    e.kind = PROTO_LOG_KIND_RESTORE_COMMIT;
    e.total = n;
    proto_snapfile_checksum(payload, n, e.checksum);
    assert_int_equal(apply_restore(f, idx, &e)->code, REG_OK);
    st_stats(f->s.state, &ss);
    assert_int_equal(ss.nodes, 2);
    assert_int_equal(st_applied_index(f->s.state), idx);
    assert_int_equal(st_cluster_member_get(f->s.state, 1, &m), REG_OK);
    assert_string_equal(m.client_addr, "127.0.0.1:9001");
    /* Same content as the source once the source has the same members. */
    member_cmd(&c, 1, "127.0.0.1:9001");
    assert_int_equal(apply_cmd(src, 9, &c)->code, REG_OK);
    st_hash(src->s.state, want);
    st_hash(f->s.state, after);
    assert_memory_equal(want, after, ST_HASH_LEN);
    assert_int_equal(f->app.snapshot(f->app.data, plain_alloc, &snap, &snap_len), REG_OK);
    free(snap);
    reg_free(payload);
    teardown((void **)&src);
}

static void test_restore_not_batched(void **state)
{
    struct fixture *f = *state;
    struct srv__req a, b;
    struct proto_restore e;
    uint8_t d[8] = {0};
    void *ops[2] = {&a, &b};
    char errmsg[REG_ERRMSG_SIZE];
    void *buf = NULL;
    size_t len;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    b.cmd.op = ST_CMD_REGISTER;
    chunk(&e, d, 0, sizeof d, sizeof d);
    a.restore = &e;
    assert_int_equal(f->app.encode(f->app.data, ops, 2, 1000, plain_alloc, &buf, &len, errmsg),
                     REG_UNAVAILABLE);
    assert_null(buf);
}

/* ---- configuration ------------------------------------------------------------ */

static int parse(const char *const *argv, int argc, char errmsg[static REG_ERRMSG_SIZE])
{
    struct srv_config c;
    srv_config_defaults(&c);
    int rv = srv_config_parse_args(&c, argc, (char **)argv, errmsg);
    if (rv == REG_OK) {
        rv = srv_config_validate(&c, errmsg);
    }
    return rv;
}

static void test_config(void **state)
{
    char errmsg[REG_ERRMSG_SIZE];
    (void)state;
#define BASE "pilot-registry", "--id", "1", "--data-dir", "/tmp/x", "--listen", "127.0.0.1:1", \
             "--raft", "127.0.0.1:2", "--cluster-key-file", "/tmp/k"
    const char *ok_recover[] = {BASE, "--force-new-cluster"};
    const char *bad_recover[] = {BASE, "--force-new-cluster", "--join", "127.0.0.1:3"};
    const char *ok_restore[] = {BASE, "--bootstrap", "--restore", "/tmp/f"};
    const char *bad_restore[] = {BASE, "--join", "127.0.0.1:3", "--restore", "/tmp/f"};
    const char *bad_bool[] = {BASE, "--force-new-cluster=maybe"};
    assert_int_equal(parse(ok_recover, 12, errmsg), REG_OK);
    assert_int_equal(parse(bad_recover, 14, errmsg), REG_INVALID_ARGUMENT);
    assert_non_null(strstr(errmsg, "force-new-cluster"));
    assert_int_equal(parse(ok_restore, 14, errmsg), REG_OK);
    assert_int_equal(parse(bad_restore, 15, errmsg), REG_INVALID_ARGUMENT);
    assert_non_null(strstr(errmsg, "restore"));
    assert_int_equal(parse(bad_bool, 12, errmsg), REG_INVALID_ARGUMENT);
#undef BASE
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_restore_entry_roundtrip),
        cmocka_unit_test(test_restore_entry_bad_input),
        cmocka_unit_test(test_snapfile_verify),
        cmocka_unit_test_setup_teardown(test_restore_apply, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restore_not_batched, setup, teardown),
        cmocka_unit_test(test_config),
    };
    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
