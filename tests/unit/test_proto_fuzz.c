/* test_proto_fuzz: decoder robustness. Valid seeds (a request for every
 * op, responses, handshake messages, log entries) are mutated with bit
 * flips, truncations, length lies, type swaps, deep nesting, splices and
 * random bytes, and every mutant goes through the frame reader (in random
 * chunks), the request, args, response, view, handshake and log-entry
 * decoders. ASan/UBSan catch any over-read, crash or leak; the assertions
 * check that every outcome is a defined code, that accepted commands keep
 * their bounds, and that an accepted command re-encodes to itself.
 *
 * Seed: fixed and printed; PROTO_FUZZ_SEED and PROTO_FUZZ_ITERS override. */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto.h"
#include "test_proto_fill.h"

#define MAX_SEEDS 96
#define MAX_BODY (64 * 1024)

static uint64_t rng_state;
static char errmsg[REG_ERRMSG_SIZE];

static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    rng_state = x;
    return x;
}

static size_t rnd_below(size_t n)
{
    return n == 0 ? 0 : (size_t)(rnd() % n);
}

struct seed {
    uint8_t *p;
    size_t len;
    bool log;
};

static struct seed seeds[MAX_SEEDS];
static size_t n_seeds;

struct counts {
    unsigned long iters, frames, req_ok, req_bad, args_ok, args_bad, resp_ok, log_ok, log_ops,
        hs_ok;
};

static void add_seed(struct proto_out *o, bool log)
{
    void *p = NULL;
    size_t len = 0;
    assert_int_equal(proto_out_take(o, &p, &len), REG_OK);
    assert_true(n_seeds < MAX_SEEDS);
    seeds[n_seeds].p = p;
    seeds[n_seeds].len = len;
    seeds[n_seeds].log = log;
    n_seeds++;
}

static void make_seeds(void)
{
    struct fill *f = calloc(1, sizeof *f);
    struct proto_out o;
    const struct st_cmd *cmds[4];
    for (size_t i = 0; i < proto_op_count(); i++) {
        const struct proto_op *op = proto_op_at(i);
        struct proto_request rq = {.id = i + 1, .client = 7, .seq = i + 1};
        fill_op(f, op, (unsigned)i);
        if (op->kind == PROTO_OP_WRITE) {
            rq.cmd = &f->cmd;
        } else {
            strcpy(rq.op, op->name);
            rq.args = &f->args;
        }
        proto_out_grow(&o);
        assert_int_equal(proto_request_encode(&o, &rq), REG_OK);
        add_seed(&o, false);
        if (op->kind == PROTO_OP_WRITE) {
            void *entry = NULL;
            size_t len = 0;
            cmds[0] = &f->cmd;
            assert_int_equal(proto_log_encode(cmds, 1, 99, 2, reg_malloc, &entry, &len, errmsg),
                             REG_OK);
            seeds[n_seeds].p = entry;
            seeds[n_seeds].len = len;
            seeds[n_seeds].log = true;
            n_seeds++;
        }
    }
    /* responses: a node result, an error with a leader */
    static const uint16_t nets[] = {3, 4};
    struct st_node n = {.id = 5, .hostname = "h", .endpoint = "e:1", .n_tags = 1,
                        .tags = {"t"}, .n_networks = 2, .networks = nets};
    struct proto_response rs = {.id = 1, .ok = true, .has_result = true, .has_index = true,
                                .index = 8};
    proto_out_grow(&o);
    proto_response_encode(&o, &rs);
    proto_node_encode(&o, &n);
    add_seed(&o, false);
    memset(&rs, 0, sizeof rs);
    proto_response_error(&rs, REG_NOT_LEADER, "not the leader");
    rs.has_leader = true;
    strcpy(rs.leader_addr, "127.0.0.1:1");
    proto_out_grow(&o);
    proto_response_encode(&o, &rs);
    add_seed(&o, false);
    /* handshake */
    struct proto_hello h = {.v = 1, .cluster = "c", .node = 1};
    struct proto_auth a;
    struct proto_welcome w = {.ok = true, .node_id = 4};
    uint8_t sk[64] = {1}, cnonce[32] = {2}, ck[32] = {3};
    proto_out_grow(&o);
    proto_hello_encode(&o, &h);
    add_seed(&o, false);
    proto_auth_sign(&a, &h, sk, cnonce);
    proto_out_grow(&o);
    proto_auth_encode(&o, &a);
    add_seed(&o, false);
    proto_auth_peer(&a, &h, 2, ck, cnonce);
    proto_out_grow(&o);
    proto_auth_encode(&o, &a);
    add_seed(&o, false);
    proto_out_grow(&o);
    proto_welcome_encode(&o, &w);
    add_seed(&o, false);
    free(f);
}

static const uint8_t type_tags[] = {0xc0, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xca, 0xcb, 0xcc,
                                    0xcd, 0xce, 0xcf, 0xd0, 0xd3, 0xd4, 0xd8, 0xd9, 0xda, 0xdb,
                                    0xdc, 0xdd, 0xde, 0xdf, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf,
                                    0x7f, 0xe0, 0xff, 0xc1};

/* Mutate src into dst; returns the new length (<= MAX_BODY). */
static size_t mutate(uint8_t *dst, const struct seed *s)
{
    size_t len = s->len;
    memcpy(dst, s->p, len);
    int rounds = 1 + (int)rnd_below(4);
    for (int r = 0; r < rounds; r++) {
        size_t pos = rnd_below(len + 1);
        switch (rnd_below(8)) {
        case 0: /* bit flips */
            for (int k = 0, n = 1 + (int)rnd_below(8); k < n && len > 0; k++) {
                dst[rnd_below(len)] ^= (uint8_t)(1u << rnd_below(8));
            }
            break;
        case 1: /* truncation */
            len = rnd_below(len + 1);
            break;
        case 2: /* type swap */
            if (len > 0) {
                dst[rnd_below(len)] = type_tags[rnd_below(sizeof type_tags)];
            }
            break;
        case 3: /* length lie: a 32-bit length header claiming too much */
            if (len >= 5) {
                static const uint8_t big[] = {0xdb, 0xdd, 0xdf, 0xc6, 0xc9};
                pos = rnd_below(len - 4);
                dst[pos] = big[rnd_below(sizeof big)];
                for (int k = 1; k < 5; k++) {
                    dst[pos + (size_t)k] = (uint8_t)(rnd_below(2) ? 0xff : rnd());
                }
            }
            break;
        case 4: { /* deep nesting inserted */
            size_t n = 1 + rnd_below(64);
            if (len + n <= MAX_BODY) {
                memmove(dst + pos + n, dst + pos, len - pos);
                memset(dst + pos, rnd_below(2) ? 0x91 : 0xdc, n);
                len += n;
            }
            break;
        }
        case 5: { /* splice from another seed */
            const struct seed *o = &seeds[rnd_below(n_seeds)];
            size_t from = rnd_below(o->len), n = rnd_below(o->len - from + 1);
            if (len + n <= MAX_BODY) {
                memmove(dst + pos + n, dst + pos, len - pos);
                memcpy(dst + pos, o->p + from, n);
                len += n;
            }
            break;
        }
        case 6: /* random bytes over a range */
            for (size_t k = 0, n = rnd_below(16); k < n && pos + k < len; k++) {
                dst[pos + k] = (uint8_t)rnd();
            }
            break;
        default: /* delete a range */
            if (pos < len) {
                size_t n = rnd_below(len - pos + 1);
                memmove(dst + pos, dst + pos + n, len - pos - n);
                len -= n;
            }
            break;
        }
    }
    return len;
}

static void check_code(int rv)
{
    assert_true(rv >= 0 && rv < REG_ERR_COUNT);
}

/* Re-encoding an accepted command must give back the same command. */
static void check_reencode(const struct st_cmd *cmd)
{
    static uint8_t out[MAX_BODY * 2];
    struct proto_out o;
    struct proto_val args;
    struct proto_arena arena;
    struct st_cmd again;
    proto_out_fixed(&o, out, sizeof out);
    assert_int_equal(proto_cmd_args_encode(&o, cmd), REG_OK);
    assert_int_equal(proto_parse(out, o.len, "args", &args, errmsg), REG_OK);
    proto_arena_init(&arena);
    memcpy(&again, cmd, sizeof again);
    assert_int_equal(proto_cmd_args_decode(&args, cmd->op, &again, &arena, errmsg), REG_OK);
    assert_true(cmd_equal(cmd, &again));
    proto_arena_free(&arena);
}

static void check_cmd_bounds(const struct st_cmd *c)
{
    assert_true(strlen(c->hostname) <= ST_HOSTNAME_MAX);
    assert_true(strlen(c->endpoint) <= ST_ENDPOINT_MAX);
    assert_true(strlen(c->name) <= ST_NETNAME_MAX);
    assert_true(strlen(c->token) <= ST_TOKEN_MAX);
    assert_true(strlen(c->text) <= ST_JUSTIFICATION_MAX);
    assert_true(c->n_tags <= ST_TAGS_MAX);
    assert_true(c->network <= ST_MAX_NETWORK_ID);
    assert_true(c->n_online <= ST_ONLINE_BATCH_MAX);
    assert_true(c->policy.n_ports <= ST_PORTS_MAX);
    assert_true(c->blueprint == NULL || c->blueprint->n_roles <= ST_BLUEPRINT_ROLES_MAX);
}

static void run_request(const uint8_t *b, size_t len, struct counts *c)
{
    struct proto_request rq;
    struct proto_arena arena;
    int rv = proto_request_decode(b, len, &rq, errmsg);
    check_code(rv);
    if (rv != REG_OK) {
        c->req_bad++;
        return;
    }
    c->req_ok++;
    proto_arena_init(&arena);
    if (rq.opdef->kind == PROTO_OP_WRITE) {
        struct st_cmd cmd;
        memset(&cmd, 0, sizeof cmd);
        rv = proto_cmd_args_decode(&rq.raw_args, rq.opdef->cmd, &cmd, &arena, errmsg);
        check_code(rv);
        if (rv == REG_OK) {
            check_cmd_bounds(&cmd);
            check_reencode(&cmd);
        }
    } else {
        struct proto_args a;
        rv = proto_args_decode(&rq.raw_args, rq.opdef, &a, errmsg);
        check_code(rv);
        assert_true(strlen(a.hostname) <= ST_HOSTNAME_MAX);
    }
    if (rv == REG_OK) {
        c->args_ok++;
    } else {
        c->args_bad++;
    }
    proto_arena_free(&arena);
}

static void run_response(const uint8_t *b, size_t len, struct counts *c)
{
    struct proto_response rs;
    struct proto_arena arena;
    int rv = proto_response_decode(b, len, &rs, errmsg);
    check_code(rv);
    if (rv != REG_OK) {
        return;
    }
    c->resp_ok++;
    proto_arena_init(&arena);
    if (rs.result.type == PROTO_T_MAP) {
        struct st_node n;
        struct st_network net;
        struct st_result res;
        check_code(proto_node_decode(&rs.result, &n, &arena, errmsg));
        check_code(proto_network_decode(&rs.result, &net, &arena, errmsg));
        check_code(proto_result_decode(&rs.result, ST_CMD_REGISTER, &res, errmsg));
    }
    proto_arena_free(&arena);
}

static void run_handshake(const uint8_t *b, size_t len, struct counts *c)
{
    struct proto_hello h, h0 = {.v = 1, .cluster = "c", .node = 1};
    struct proto_auth a;
    struct proto_welcome w;
    uint8_t ck[32] = {3};
    int rv = proto_hello_decode(b, len, &h, errmsg);
    check_code(rv);
    c->hs_ok += rv == REG_OK;
    rv = proto_auth_decode(b, len, &a, errmsg);
    check_code(rv);
    if (rv == REG_OK) {
        c->hs_ok++;
        check_code(proto_auth_verify(&a, &h0, "tok", ck, errmsg));
    }
    rv = proto_welcome_decode(b, len, &w, errmsg);
    check_code(rv);
    c->hs_ok += rv == REG_OK;
}

static void run_log(const uint8_t *b, size_t len, struct counts *c)
{
    struct proto_log_iter it;
    struct proto_arena arena;
    /* raft hands entries over 8-aligned; so does this copy */
    static uint64_t aligned[MAX_BODY / 8 + 1];
    memcpy(aligned, b, len);
    int rv = proto_log_open(aligned, len, &it, errmsg);
    check_code(rv);
    if (rv != REG_OK) {
        return;
    }
    c->log_ok++;
    proto_arena_init(&arena);
    for (uint32_t i = 0; i < it.n_ops; i++) {
        struct st_cmd cmd;
        rv = proto_log_next(&it, &cmd, &arena, errmsg);
        assert_true(rv == REG_OK || rv == REG_MALFORMED || rv == REG_NOMEM);
        if (rv == REG_OK) {
            c->log_ops++;
            check_cmd_bounds(&cmd);
        }
    }
    struct st_cmd end;
    assert_int_equal(proto_log_next(&it, &end, &arena, errmsg), REG_NOT_FOUND);
    proto_arena_free(&arena);
}

static void run_frames(const uint8_t *b, size_t len, struct counts *c)
{
    struct proto_reader r;
    static uint8_t wire[MAX_BODY + 16];
    size_t total = 0;
    size_t flen = len;
    if (rnd_below(8) == 0) {
        flen = rnd_below(2) ? (size_t)rnd() & 0xFFFFFFFFu : len + rnd_below(8) - 4;
    }
    wire[0] = (uint8_t)(flen >> 24);
    wire[1] = (uint8_t)(flen >> 16);
    wire[2] = (uint8_t)(flen >> 8);
    wire[3] = (uint8_t)flen;
    memcpy(wire + 4, b, len);
    total = len + 4;
    /* followed by a valid empty-map frame, to see the reader resync or stop */
    static const uint8_t tail[] = {0, 0, 0, 1, 0x80};
    memcpy(wire + total, tail, sizeof tail);
    total += sizeof tail;
    proto_reader_init(&r, rnd_below(4) == 0 ? 64 : 0);
    for (size_t off = 0; off < total;) {
        size_t n = 1 + rnd_below(rnd_below(2) ? 16 : total);
        if (n > total - off) {
            n = total - off;
        }
        int rv = proto_reader_feed(&r, wire + off, n);
        check_code(rv);
        off += n;
        for (int guard = 0; guard < 1000; guard++) {
            const uint8_t *body;
            size_t blen;
            rv = proto_reader_next(&r, &body, &blen, errmsg);
            check_code(rv);
            if (rv != REG_OK || body == NULL) {
                break;
            }
            assert_true(blen <= r.max);
            c->frames++;
        }
    }
    proto_reader_free(&r);
}

static void test_decoders_survive_mutants(void **state)
{
    (void)state;
    uint64_t seed = 0x9E3779B97F4A7C15ull;
    unsigned long iters = 120000;
    const char *env = getenv("PROTO_FUZZ_SEED");
    if (env != NULL) {
        seed = strtoull(env, NULL, 0);
    }
    env = getenv("PROTO_FUZZ_ITERS");
    if (env != NULL) {
        iters = strtoul(env, NULL, 0);
    }
    printf("proto fuzz: seed 0x%016" PRIx64 " (PROTO_FUZZ_SEED), %lu iterations\n", seed, iters);
    rng_state = seed == 0 ? 1 : seed;
    make_seeds();
    static uint8_t body[MAX_BODY];
    struct counts c = {0};
    for (unsigned long i = 0; i < iters; i++) {
        const struct seed *s = &seeds[rnd_below(n_seeds)];
        size_t len = mutate(body, s);
        c.iters++;
        run_frames(body, len, &c);
        if (s->log) {
            run_log(body, len, &c);
        } else {
            run_request(body, len, &c);
            run_response(body, len, &c);
            run_handshake(body, len, &c);
        }
        /* the unmutated seed, now and then, must always pass */
        if (i % 4096 == 0) {
            struct counts keep = c;
            if (s->log) {
                run_log(s->p, s->len, &c);
                assert_int_equal(c.log_ok, keep.log_ok + 1);
            }
        }
    }
    printf("proto fuzz: %lu mutants, %lu frames yielded, requests %lu ok / %lu refused, "
           "args %lu ok / %lu refused, responses %lu ok, handshake msgs %lu ok, "
           "log entries %lu ok (%lu ops)\n",
           c.iters, c.frames, c.req_ok, c.req_bad, c.args_ok, c.args_bad, c.resp_ok, c.hs_ok,
           c.log_ok, c.log_ops);
    assert_int_equal(c.iters, iters);
    assert_true(iters >= 100000 || getenv("PROTO_FUZZ_ITERS") != NULL);
    /* the mutants exercised both sides of every decoder */
    assert_true(c.req_ok > 0 && c.req_bad > 0 && c.args_ok > 0 && c.args_bad > 0);
    assert_true(c.log_ok > 0 && c.frames > 0 && c.resp_ok > 0 && c.hs_ok > 0);
    for (size_t i = 0; i < n_seeds; i++) {
        reg_free(seeds[i].p);
    }
    n_seeds = 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decoders_survive_mutants),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
