/* test_state_snapshot: snapshots and the state hash: round trip of a large
 * generated state (100k agents, 1k networks, 200k trust pairs), replay
 * determinism of a random command log (and snapshot-then-continue giving
 * the same state as replaying everything), hash sensitivity, and decoder
 * robustness against truncated, bit-flipped and random input. */
#include <stdlib.h>

#include "test_state_util.h"

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return n == 0 ? 0 : (uint32_t)(rng_state % n);
}

static void round_trip(const struct st_state *s)
{
    void *buf = NULL, *buf2 = NULL;
    size_t len = 0, len2 = 0;
    char err[REG_ERRMSG_SIZE];
    struct st_state *d = NULL;
    assert_int_equal(st_snapshot_encode(s, &buf, &len), REG_OK);
    int rc = st_snapshot_decode(buf, len, &d, err);
    if (rc != REG_OK) {
        print_error("decode: %s\n", err);
    }
    assert_int_equal(rc, REG_OK);
    tu_hash_eq(s, d, true);
    assert_int_equal(st_applied_index(d), st_applied_index(s));
    assert_int_equal(st_snapshot_encode(d, &buf2, &len2), REG_OK);
    assert_int_equal(len, len2);
    assert_memory_equal(buf, buf2, len);
    struct st_stats a, b;
    st_stats(s, &a);
    st_stats(d, &b);
    assert_memory_equal(&a, &b, sizeof a);
    reg_free(buf);
    reg_free(buf2);
    st_free(d);
}

/* One random command over a small population, so most commands meet
 * existing objects and every handler runs both its success and error
 * paths. */
static void random_cmd(struct st_cmd *c, struct st_online *online, struct st_blueprint *bp,
                       struct st_blueprint_role *roles, int64_t ts)
{
    static const uint16_t ops[] = {
        ST_CMD_REGISTER,      ST_CMD_REGISTER,   ST_CMD_DEREGISTER, ST_CMD_SET_VISIBILITY,
        ST_CMD_SET_HOSTNAME,  ST_CMD_SET_TAGS,   ST_CMD_SET_ENDPOINT, ST_CMD_ROTATE_KEY,
        ST_CMD_SET_ONLINE,    ST_CMD_NET_CREATE, ST_CMD_NET_JOIN,   ST_CMD_NET_JOIN,
        ST_CMD_NET_LEAVE,     ST_CMD_NET_INVITE, ST_CMD_NET_KICK,   ST_CMD_NET_DELETE,
        ST_CMD_NET_POLICY,    ST_CMD_NET_ROLE,   ST_CMD_NET_TRANSFER, ST_CMD_BLUEPRINT_APPLY,
        ST_CMD_HANDSHAKE,     ST_CMD_HANDSHAKE,  ST_CMD_APPROVE,    ST_CMD_REJECT,
        ST_CMD_UNTRUST,       ST_CMD_MEMBER_UPSERT, ST_CMD_MEMBER_DELETE,
    };
    uint16_t op = ops[rnd(sizeof ops / sizeof ops[0])];
    tu_cmd(c, op, 1 + rnd(60));
    c->ts_ms = ts;
    c->origin = 1 + rnd(3);
    c->caller_admin = rnd(20) == 0;
    c->client = rnd(4) == 0 ? 1 + rnd(50) : 0;
    c->seq = 1 + rnd(5);
    c->node = ST_FIRST_NODE_ID + rnd(64);
    c->network = rnd(12);
    c->role = (uint8_t)rnd(4);
    c->join_rule = (uint8_t)rnd(3);
    c->flag = rnd(2);
    snprintf(c->name, sizeof c->name, "net%u", rnd(15));
    snprintf(c->hostname, sizeof c->hostname, "h%u", rnd(80));
    snprintf(c->endpoint, sizeof c->endpoint, "10.0.0.%u:%u", rnd(255), 1 + rnd(9));
    if (c->join_rule == ST_JOIN_TOKEN || op == ST_CMD_NET_JOIN) {
        snprintf(c->token, sizeof c->token, "tok%u", rnd(2));
    }
    snprintf(c->text, sizeof c->text, "why %u", rnd(1000));
    c->n_tags = (uint8_t)rnd(4);
    for (uint8_t i = 0; i < c->n_tags; i++) {
        snprintf(c->tags[i], sizeof c->tags[i], "#t%u", rnd(6));
    }
    tu_key(1 + rnd(80), c->key);
    c->policy.has_allowed_ports = rnd(2);
    c->policy.n_ports = (uint16_t)rnd(4);
    for (uint16_t i = 0; i < c->policy.n_ports; i++) {
        c->policy.ports[i] = (uint16_t)(1 + rnd(100));
    }
    c->policy.has_max_members = rnd(3) == 0;
    c->policy.max_members = rnd(20);
    c->policy.has_description = rnd(2);
    snprintf(c->policy.description, sizeof c->policy.description, "d%u", rnd(5));
    c->n_online = rnd(4);
    for (uint32_t i = 0; i < c->n_online; i++) {
        online[i].node = ST_FIRST_NODE_ID + rnd(64);
        online[i].online = rnd(2);
    }
    c->online = online;
    memset(bp, 0, sizeof *bp);
    snprintf(bp->name, sizeof bp->name, "net%u", rnd(15));
    bp->join_rule = (uint8_t)rnd(3);
    if (bp->join_rule == ST_JOIN_TOKEN) {
        snprintf(bp->token, sizeof bp->token, "tok%u", rnd(2));
    }
    bp->enterprise = rnd(3) != 0;
    bp->policy = c->policy;
    bp->n_roles = rnd(4);
    for (uint32_t i = 0; i < bp->n_roles; i++) {
        roles[i].node = ST_FIRST_NODE_ID + rnd(64);
        roles[i].role = (uint8_t)(1 + rnd(3));
    }
    bp->roles = roles;
    c->blueprint = bp;
    c->member.raft_id = 1 + rnd(5);
    snprintf(c->member.name, sizeof c->member.name, "n%u", rnd(3));
    snprintf(c->member.raft_addr, sizeof c->member.raft_addr, "127.0.0.1:%u", 7000 + rnd(5));
    if (op == ST_CMD_MEMBER_UPSERT || op == ST_CMD_MEMBER_DELETE || op == ST_CMD_SET_ONLINE) {
        c->caller_admin = rnd(4) != 0;
    }
}

static void apply_log(struct st_state *s, uint64_t seed, uint32_t from, uint32_t to)
{
    struct st_cmd c;
    struct st_result r;
    struct st_online online[4];
    struct st_blueprint bp;
    struct st_blueprint_role roles[4];
    rng_state = seed;
    for (uint32_t i = 0; i < to; i++) {
        random_cmd(&c, online, &bp, roles, 1000 + i);
        if (i >= from) {
            st_apply(s, &c, &r);
            st_set_applied_index(s, i + 1);
        }
    }
}

static void test_replay_determinism(void **state)
{
    (void)state;
    enum { N = 20000 };
    struct st_state *a = st_new(), *b = st_new(), *c = st_new();
    apply_log(a, 0x1234567, 0, N);
    apply_log(b, 0x1234567, 0, N);
    tu_hash_eq(a, b, true);
    struct st_stats st;
    st_stats(a, &st);
    assert_true(st.nodes > 10);
    assert_true(st.networks > 0);
    assert_true(st.trust_pairs > 0);
    round_trip(a);
    /* Snapshot half way, restore, continue: same state as a full replay. */
    apply_log(c, 0x1234567, 0, N / 2);
    void *buf;
    size_t len;
    char err[REG_ERRMSG_SIZE];
    struct st_state *d;
    assert_int_equal(st_snapshot_encode(c, &buf, &len), REG_OK);
    assert_int_equal(st_snapshot_decode(buf, len, &d, err), REG_OK);
    reg_free(buf);
    apply_log(d, 0x1234567, N / 2, N);
    tu_hash_eq(a, d, true);
    /* Different content, different hash; the applied index is not content. */
    struct st_cmd cmd;
    tu_cmd(&cmd, ST_CMD_REGISTER, 5000);
    snprintf(cmd.endpoint, sizeof cmd.endpoint, "1.1.1.1:1");
    st_apply(b, &cmd, &(struct st_result){0});
    tu_hash_eq(a, b, false);
    st_set_applied_index(d, 999999);
    tu_hash_eq(a, d, true);
    st_free(a);
    st_free(b);
    st_free(c);
    st_free(d);
}

static void test_large_round_trip(void **state)
{
    (void)state;
    enum { AGENTS = 100000, NETS = 1000, PAIRS = 200000 };
    struct st_state *s = st_new();
    struct st_cmd c;
    struct st_result r;
    for (uint32_t a = 1; a <= AGENTS; a++) {
        tu_cmd(&c, ST_CMD_REGISTER, a);
        snprintf(c.endpoint, sizeof c.endpoint, "10.%u.%u.%u:4000", a >> 16, (a >> 8) & 255,
                 a & 255);
        snprintf(c.hostname, sizeof c.hostname, "agent-%u", a);
        c.flag = a % 10 == 0;
        assert_int_equal(tu_apply(s, &c, &r), REG_OK);
    }
    for (uint32_t n = 1; n <= NETS; n++) {
        char name[32];
        snprintf(name, sizeof name, "net-%u", n);
        tu_net_create(s, n, name, n % 3 == 2 ? ST_JOIN_TOKEN : ST_JOIN_OPEN,
                      n % 3 == 2 ? "tok" : NULL, n % 4 == 0);
    }
    for (uint32_t a = 1; a <= AGENTS; a++) {
        uint32_t n = 1 + a % NETS;
        if (n != a) {
            assert_int_equal(tu_join(s, a, n, "tok"), REG_OK);
        }
    }
    rng_state = 42;
    uint32_t made = 0;
    while (made < PAIRS) {
        uint32_t a = 1 + rnd(AGENTS), b = 1 + rnd(AGENTS);
        if (a == b) {
            continue;
        }
        tu_trust_op(s, ST_CMD_HANDSHAKE, a, b + ST_FIRST_NODE_ID - 1, "x", &r);
        if (r.code == REG_OK && r.status == ST_STATUS_SENT) {
            tu_trust_op(s, ST_CMD_APPROVE, b, a + ST_FIRST_NODE_ID - 1, NULL, &r);
        }
        made += r.code == REG_OK && r.status == ST_STATUS_APPROVED;
    }
    /* Some pending, outcomes, kicks, dedup records and cluster members. */
    for (uint32_t i = 1; i <= 500; i++) {
        tu_trust_op(s, ST_CMD_HANDSHAKE, i, i + 1000 + ST_FIRST_NODE_ID - 1, "pending", &r);
        if (i % 2 == 0) {
            tu_trust_op(s, ST_CMD_REJECT, i + 1000, i + ST_FIRST_NODE_ID - 1, "no", &r);
        }
        tu_cmd(&c, ST_CMD_NET_KICK, 4);
        c.network = 4;
        c.node = 3 + 1000 * (i % 90 + 1) + ST_FIRST_NODE_ID - 1;
        c.client = i;
        c.seq = 1;
        tu_apply(s, &c, &r);
    }
    tu_cmd(&c, ST_CMD_MEMBER_UPSERT, 0);
    c.caller_admin = true;
    c.member.raft_id = 7;
    snprintf(c.member.raft_addr, sizeof c.member.raft_addr, "127.0.0.1:7001");
    assert_int_equal(tu_apply(s, &c, &r), REG_OK);
    st_set_applied_index(s, 123456);
    struct st_stats st;
    st_stats(s, &st);
    assert_int_equal(st.nodes, AGENTS);
    assert_int_equal(st.networks, NETS);
    assert_true(st.trust_pairs >= PAIRS);
    round_trip(s);
    st_free(s);
}

/* A small state holding one of everything, as the fuzzing seed. */
static struct st_state *seed_state(void)
{
    struct st_state *s = st_new();
    apply_log(s, 99, 0, 600);
    return s;
}

static void try_decode(const uint8_t *buf, size_t len)
{
    struct st_state *d = NULL;
    char err[REG_ERRMSG_SIZE];
    int rc = st_snapshot_decode(buf, len, &d, err);
    if (rc == REG_OK) {
        /* Whatever decodes must be a consistent state: it re-encodes and
         * decodes again to the same hash. */
        void *b2;
        size_t l2;
        struct st_state *d2;
        assert_int_equal(st_snapshot_encode(d, &b2, &l2), REG_OK);
        assert_int_equal(st_snapshot_decode(b2, l2, &d2, err), REG_OK);
        tu_hash_eq(d, d2, true);
        reg_free(b2);
        st_free(d2);
        st_free(d);
    } else {
        assert_int_equal(rc, REG_MALFORMED);
        assert_null(d);
        assert_true(strlen(err) > 0);
    }
}

static void test_decoder_robustness(void **state)
{
    (void)state;
    struct st_state *s = seed_state();
    void *base;
    size_t len;
    assert_int_equal(st_snapshot_encode(s, &base, &len), REG_OK);
    assert_true(len > 100);
    uint8_t *m = malloc(len + 64);
    uint32_t runs = 0, ok = 0;
    /* Every truncation. */
    for (size_t n = 0; n < len; n++) {
        struct st_state *d = NULL;
        char err[REG_ERRMSG_SIZE];
        assert_int_equal(st_snapshot_decode(base, n, &d, err), REG_MALFORMED);
        runs++;
    }
    rng_state = 0xfeedface;
    while (runs < 100000) {
        memcpy(m, base, len);
        size_t n = len;
        switch (rnd(4)) {
        case 0: /* bit flips */
            for (uint32_t k = 1 + rnd(3); k > 0; k--) {
                m[rnd((uint32_t)len)] ^= (uint8_t)(1u << rnd(8));
            }
            break;
        case 1: /* random byte values */
            for (uint32_t k = 1 + rnd(4); k > 0; k--) {
                m[rnd((uint32_t)len)] = (uint8_t)rnd(256);
            }
            break;
        case 2: /* extra bytes */
            n = len + 1 + rnd(64);
            for (size_t i = len; i < n; i++) {
                m[i] = (uint8_t)rnd(256);
            }
            break;
        default: /* random tail after a valid header */
            n = 16 + rnd((uint32_t)len);
            for (size_t i = 16; i < n; i++) {
                m[i] = (uint8_t)rnd(256);
            }
            break;
        }
        struct st_state *d = NULL;
        char err[REG_ERRMSG_SIZE];
        ok += st_snapshot_decode(m, n, &d, err) == REG_OK;
        st_free(d);
        if (runs % 50 == 0) {
            try_decode(m, n);
        }
        runs++;
    }
    /* Flipping the applied index alone still decodes: it is not validated. */
    assert_true(ok > 0);
    reg_free(base);
    free(m);
    st_free(s);
}

static void test_encode_out_of_memory(void **state)
{
    (void)state;
    struct st_state *s = seed_state();
    void *buf = NULL;
    size_t len = 0;
    /* Fail each allocation of the encoder in turn: REG_NOMEM, no leak. */
    reg_alloc_fail_at(0);
    assert_int_equal(st_snapshot_encode(s, &buf, &len), REG_OK);
    unsigned long allocs = reg_alloc_fail_at(0);
    reg_free(buf);
    assert_true(allocs > 0);
    for (unsigned long nth = 1; nth <= allocs; nth++) {
        reg_alloc_fail_at(nth);
        buf = NULL;
        assert_int_equal(st_snapshot_encode(s, &buf, &len), REG_NOMEM);
        assert_null(buf);
    }
    reg_alloc_fail_at(0);
    st_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replay_determinism),
        cmocka_unit_test(test_large_round_trip),
        cmocka_unit_test(test_decoder_robustness),
        cmocka_unit_test(test_encode_out_of_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
