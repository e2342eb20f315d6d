/* test_proto_codec: round trips of every op's arguments, the request and
 * response envelopes, results and query views, Pilot addresses and log
 * entries; and the clear error of every malformed-argument class. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto.h"
#include "test_proto_fill.h"

static char errmsg[REG_ERRMSG_SIZE];
static uint8_t buf[1 << 16];

/* Encode a request for f (cmd or args), decode it, decode its args. */
static void request_round_trip(const struct proto_op *op, struct fill *f)
{
    struct proto_request rq = {0}, got;
    struct proto_out o;
    struct proto_arena arena;
    rq.id = 0xABCDEF;
    rq.client = f->cmd.client;
    rq.seq = f->cmd.seq;
    if (op->kind == PROTO_OP_WRITE) {
        rq.cmd = &f->cmd;
    } else {
        strcpy(rq.op, op->name);
        rq.args = &f->args;
    }
    proto_out_fixed(&o, buf, sizeof buf);
    assert_int_equal(proto_request_encode(&o, &rq), REG_OK);
    assert_int_equal(proto_request_decode(buf, o.len, &got, errmsg), REG_OK);
    assert_ptr_equal(got.opdef, op);
    assert_string_equal(got.op, op->name);
    assert_true(got.id == 0xABCDEF);
    assert_true(got.client == rq.client && got.seq == rq.seq);
    proto_arena_init(&arena);
    if (op->kind == PROTO_OP_WRITE) {
        struct st_cmd cmd;
        memset(&cmd, 0, sizeof cmd);
        cmd.client = got.client;
        cmd.seq = got.seq;
        cmd.caller_admin = f->cmd.caller_admin;
        memcpy(cmd.caller_key, f->cmd.caller_key, ST_KEY_LEN);
        assert_int_equal(proto_cmd_args_decode(&got.raw_args, op->cmd, &cmd, &arena, errmsg),
                         REG_OK);
        if (!cmd_equal(&cmd, &f->cmd)) {
            fail_msg("op %s: decoded command differs", op->name);
        }
    } else {
        struct proto_args a;
        assert_int_equal(proto_args_decode(&got.raw_args, op, &a, errmsg), REG_OK);
        assert_memory_equal(&a, &f->args, sizeof a);
    }
    proto_arena_free(&arena);
}

static void test_every_op_round_trips(void **state)
{
    (void)state;
    struct fill *f = calloc(1, sizeof *f);
    size_t writes = 0;
    for (size_t i = 0; i < proto_op_count(); i++) {
        const struct proto_op *op = proto_op_at(i);
        fill_op(f, op, (unsigned)i);
        request_round_trip(op, f);
        writes += op->kind == PROTO_OP_WRITE;
    }
    assert_null(proto_op_at(proto_op_count()));
    assert_int_equal(writes, 24);
    free(f);
}

static void test_op_table_covers_commands(void **state)
{
    (void)state;
#define X(id_, value, wire)                                                          \
    do {                                                                             \
        const struct proto_op *op = proto_op_by_cmd(ST_CMD_##id_);                   \
        assert_non_null(op);                                                         \
        assert_string_equal(op->name, wire);                                         \
        assert_int_equal(op->kind, PROTO_OP_WRITE);                                  \
        assert_ptr_equal(proto_op_find(wire, strlen(wire)), op);                     \
    } while (0);
    ST_CMD_MAP(X)
#undef X
    static const char *const reads[] = {
        "lookup", "resolve", "resolve_hostname", "authorize", "network_members", "network_list",
        "network_policy_get", "network_audit", "blueprint_export", "trust_list", "pending",
        "whoami", "cluster_status", "cluster_members"};
    for (size_t i = 0; i < sizeof reads / sizeof reads[0]; i++) {
        const struct proto_op *op = proto_op_find(reads[i], strlen(reads[i]));
        assert_non_null(op);
        assert_int_equal(op->kind, PROTO_OP_READ);
    }
    for (size_t i = 0; i < proto_op_count(); i++) {
        const struct proto_op *a = proto_op_at(i);
        assert_non_null(a->summary);
        for (size_t j = i + 1; j < proto_op_count(); j++) {
            assert_string_not_equal(a->name, proto_op_at(j)->name);
        }
    }
    assert_null(proto_op_find("bogus", 5));
    assert_null(proto_op_by_cmd(999));
}

/* Build a request {v,id,op,args:<one field>} with a custom args writer. */
typedef void (*args_fn)(struct proto_out *o);

static int decode_args_of(const char *opname, args_fn fn, struct st_cmd *cmd,
                          struct proto_arena *arena)
{
    struct proto_out o;
    struct proto_request rq;
    proto_out_fixed(&o, buf, sizeof buf);
    proto_put_map(&o, 4);
    proto_put_str(&o, "v");
    proto_put_u64(&o, 1);
    proto_put_str(&o, "id");
    proto_put_u64(&o, 5);
    proto_put_str(&o, "op");
    proto_put_str(&o, opname);
    proto_put_str(&o, "args");
    fn(&o);
    assert_int_equal(o.err, REG_OK);
    memset(cmd, 0, sizeof *cmd);
    int rv = proto_request_decode(buf, o.len, &rq, errmsg);
    if (rv != REG_OK) {
        return rv;
    }
    return proto_cmd_args_decode(&rq.raw_args, rq.opdef->cmd, cmd, arena, errmsg);
}

static void a_long_hostname(struct proto_out *o)
{
    char h[65];
    memset(h, 'a', 64);
    h[64] = '\0';
    proto_put_map(o, 1);
    proto_put_str(o, "hostname");
    proto_put_str(o, h);
}
static void a_empty(struct proto_out *o) { proto_put_map(o, 0); }
static void a_not_map(struct proto_out *o) { proto_put_array(o, 0); }
static void a_node_str(struct proto_out *o)
{
    proto_put_map(o, 1);
    proto_put_str(o, "node");
    proto_put_str(o, "7");
}
static void a_node_neg(struct proto_out *o)
{
    proto_put_map(o, 1);
    proto_put_str(o, "node");
    proto_put_i64(o, -7);
}
static void a_node_big(struct proto_out *o)
{
    proto_put_map(o, 1);
    proto_put_str(o, "node");
    proto_put_u64(o, 1ull << 32);
}
static void a_network_big(struct proto_out *o)
{
    proto_put_map(o, 2);
    proto_put_str(o, "network");
    proto_put_u64(o, 65536);
    proto_put_str(o, "node");
    proto_put_u64(o, 9);
}
static void a_bad_join_rule(struct proto_out *o)
{
    proto_put_map(o, 2);
    proto_put_str(o, "name");
    proto_put_str(o, "n1");
    proto_put_str(o, "join_rule");
    proto_put_str(o, "closed");
}
static void a_bad_role(struct proto_out *o)
{
    proto_put_map(o, 3);
    proto_put_str(o, "network");
    proto_put_u64(o, 1);
    proto_put_str(o, "node");
    proto_put_u64(o, 9);
    proto_put_str(o, "role");
    proto_put_str(o, "none");
}
static void a_many_tags(struct proto_out *o)
{
    proto_put_map(o, 1);
    proto_put_str(o, "tags");
    proto_put_array(o, 11);
    for (int i = 0; i < 11; i++) {
        proto_put_str(o, "t");
    }
}
static void a_hash_tags(struct proto_out *o)
{
    char t[34];
    t[0] = '#';
    memset(t + 1, 'x', 32);
    t[33] = '\0';
    proto_put_map(o, 1);
    proto_put_str(o, "tags");
    proto_put_array(o, 2);
    proto_put_str(o, "#ai");
    proto_put_str(o, t);
}
static void a_port_zero(struct proto_out *o)
{
    proto_put_map(o, 2);
    proto_put_str(o, "network");
    proto_put_u64(o, 3);
    proto_put_str(o, "allowed_ports");
    proto_put_array(o, 2);
    proto_put_u64(o, 80);
    proto_put_u64(o, 0);
}
static void a_policy_partial(struct proto_out *o)
{
    proto_put_map(o, 2);
    proto_put_str(o, "network");
    proto_put_u64(o, 3);
    proto_put_str(o, "max_members");
    proto_put_u64(o, 10);
}
static void a_short_key(struct proto_out *o)
{
    proto_put_map(o, 1);
    proto_put_str(o, "key");
    proto_put_bin(o, "abc", 3);
}
static void a_online_bad(struct proto_out *o)
{
    proto_put_map(o, 1);
    proto_put_str(o, "online");
    proto_put_array(o, 2);
    proto_put_map(o, 2);
    proto_put_str(o, "node");
    proto_put_u64(o, 4);
    proto_put_str(o, "online");
    proto_put_bool(o, true);
    proto_put_u64(o, 5);
}
static void a_online_huge(struct proto_out *o)
{
    proto_put_map(o, 1);
    proto_put_str(o, "online");
    proto_put_array(o, ST_ONLINE_BATCH_MAX + 1);
    for (int i = 0; i <= ST_ONLINE_BATCH_MAX; i++) {
        proto_put_nil(o);
    }
}
static void a_blueprint_bad_role(struct proto_out *o)
{
    proto_put_map(o, 1);
    proto_put_str(o, "blueprint");
    proto_put_map(o, 2);
    proto_put_str(o, "name");
    proto_put_str(o, "bp");
    proto_put_str(o, "roles");
    proto_put_array(o, 1);
    proto_put_map(o, 1);
    proto_put_str(o, "node");
    proto_put_u64(o, 4);
}
static void a_blueprint_deep_policy(struct proto_out *o)
{
    proto_put_map(o, 1);
    proto_put_str(o, "blueprint");
    proto_put_map(o, 2);
    proto_put_str(o, "name");
    proto_put_str(o, "bp");
    proto_put_str(o, "policy");
    proto_put_map(o, 1);
    proto_put_str(o, "description");
    proto_put_u64(o, 3);
}
static void a_justification_long(struct proto_out *o)
{
    static char j[ST_JUSTIFICATION_MAX + 2];
    memset(j, 'j', ST_JUSTIFICATION_MAX + 1);
    proto_put_map(o, 2);
    proto_put_str(o, "node");
    proto_put_u64(o, 9);
    proto_put_str(o, "justification");
    proto_put_str(o, j);
}
static void a_member_no_id(struct proto_out *o)
{
    proto_put_map(o, 1);
    proto_put_str(o, "member");
    proto_put_map(o, 1);
    proto_put_str(o, "name");
    proto_put_str(o, "n");
}

static void a_target_hostname(struct proto_out *o)
{
    proto_put_map(o, 2);
    proto_put_str(o, "hostname");
    proto_put_str(o, "agent-b");
    proto_put_str(o, "justification");
    proto_put_str(o, "want to collaborate");
}

static void test_argument_errors(void **state)
{
    (void)state;
    const struct {
        const char *op;
        args_fn fn;
        int rv;
        const char *msg;
    } cases[] = {
        {"set_hostname", a_long_hostname, REG_INVALID_ARGUMENT, "args.hostname: too long (max 63)"},
        {"set_hostname", a_empty, REG_INVALID_ARGUMENT, "args.hostname: missing"},
        {"approve", a_not_map, REG_INVALID_ARGUMENT, "args: wrong type (want map, got array)"},
        {"approve", a_node_str, REG_INVALID_ARGUMENT,
         "args.node: wrong type (want integer, got string)"},
        {"approve", a_node_neg, REG_INVALID_ARGUMENT, "args.node: out of range (0..4294967295)"},
        {"approve", a_node_big, REG_INVALID_ARGUMENT, "args.node: out of range (0..4294967295)"},
        {"network_kick", a_network_big, REG_INVALID_ARGUMENT, "args.network: out of range (0..65535)"},
        {"network_create", a_bad_join_rule, REG_INVALID_ARGUMENT,
         "args.join_rule: unknown join rule \"closed\" (open|invite|token)"},
        {"network_role", a_bad_role, REG_INVALID_ARGUMENT,
         "args.role: unknown role \"none\" (owner|admin|member)"},
        {"set_tags", a_many_tags, REG_INVALID_ARGUMENT, "args.tags: too many entries (max 10)"},
        {"set_tags", a_hash_tags, REG_OK, ""},
        {"network_policy_set", a_port_zero, REG_INVALID_ARGUMENT,
         "args.allowed_ports[1]: port 0 is not a port (1..65535)"},
        {"network_policy_set", a_policy_partial, REG_OK, ""},
        {"rotate_key", a_short_key, REG_INVALID_ARGUMENT, "args.key: must be 32 bytes (got 3)"},
        {"set_online", a_online_bad, REG_INVALID_ARGUMENT,
         "args.online[1]: wrong type (want map)"},
        {"set_online", a_online_huge, REG_INVALID_ARGUMENT,
         "args.online: too many entries (max 4096)"},
        {"blueprint_apply", a_blueprint_bad_role, REG_INVALID_ARGUMENT,
         "args.blueprint.roles[0].role: missing"},
        {"blueprint_apply", a_blueprint_deep_policy, REG_INVALID_ARGUMENT,
         "args.blueprint.policy.description: wrong type (want string, got integer)"},
        {"handshake", a_justification_long, REG_INVALID_ARGUMENT,
         "args.justification: too long (max 1024)"},
        {"cluster_member_upsert", a_member_no_id, REG_INVALID_ARGUMENT,
         "args.member.raft_id: missing"},
        /* a target is a node id or a hostname, never neither */
        {"handshake", a_target_hostname, REG_OK, ""},
        {"approve", a_empty, REG_INVALID_ARGUMENT,
         "args.node: required (a node id, or args.hostname instead)"},
        {"network_invite", a_network_big, REG_INVALID_ARGUMENT, "args.network: out of range (0..65535)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct st_cmd cmd;
        struct proto_arena arena;
        proto_arena_init(&arena);
        errmsg[0] = '\0';
        int rv = decode_args_of(cases[i].op, cases[i].fn, &cmd, &arena);
        if (rv != cases[i].rv || (rv != REG_OK && strcmp(errmsg, cases[i].msg) != 0)) {
            fail_msg("case %zu (%s): got %s \"%s\"", i, cases[i].op, reg_err_name(rv), errmsg);
        }
        if (cases[i].fn == a_target_hostname) {
            assert_int_equal(cmd.node, 0);
            assert_string_equal(cmd.hostname, "agent-b");
            assert_string_equal(cmd.text, "want to collaborate");
        }
        if (cases[i].fn == a_hash_tags) {
            assert_int_equal(cmd.n_tags, 2);
            assert_string_equal(cmd.tags[0], "ai");
            assert_int_equal(strlen(cmd.tags[1]), 32);
        }
        if (cases[i].fn == a_policy_partial) {
            assert_true(cmd.policy.has_max_members && !cmd.policy.has_allowed_ports &&
                        !cmd.policy.has_description);
            assert_int_equal(cmd.policy.max_members, 10);
        }
        proto_arena_free(&arena);
    }
}

static void test_request_envelope(void **state)
{
    (void)state;
    struct proto_out o;
    struct proto_request rq = {0}, got;
    struct proto_args a = {.node = 9};
    rq.id = 1;
    strcpy(rq.op, "lookup");
    rq.args = &a;
    rq.consistency = PROTO_STALE;
    rq.redirect = true;
    rq.has_on_behalf = true;
    rq.on_behalf_has_key = true;
    memset(rq.on_behalf_key, 0x33, ST_KEY_LEN);
    rq.on_behalf_admin = true;
    proto_out_fixed(&o, buf, sizeof buf);
    assert_int_equal(proto_request_encode(&o, &rq), REG_OK);
    assert_int_equal(proto_request_decode(buf, o.len, &got, errmsg), REG_OK);
    assert_int_equal(got.consistency, PROTO_STALE);
    assert_true(got.redirect && got.has_on_behalf && got.on_behalf_has_key && got.on_behalf_admin);
    assert_memory_equal(got.on_behalf_key, rq.on_behalf_key, ST_KEY_LEN);
    /* forwarding the raw args keeps them byte for byte */
    struct proto_request fwd = got;
    uint8_t buf2[256];
    fwd.id = 77;
    proto_out_fixed(&o, buf2, sizeof buf2);
    assert_int_equal(proto_request_encode(&o, &fwd), REG_OK);
    assert_int_equal(proto_request_decode(buf2, o.len, &got, errmsg), REG_OK);
    assert_true(got.id == 77);
    assert_int_equal(got.raw_args.len, fwd.raw_args.len);
    assert_memory_equal(got.raw_args.p, fwd.raw_args.p, got.raw_args.len);
    /* unknown op cannot be encoded */
    strcpy(rq.op, "nope");
    proto_out_fixed(&o, buf, sizeof buf);
    assert_int_equal(proto_request_encode(&o, &rq), REG_INVALID_ARGUMENT);
}

static size_t raw_request(int with_id, uint64_t v, const char *op, const char *cons)
{
    struct proto_out o;
    proto_out_fixed(&o, buf, sizeof buf);
    proto_put_map(&o, (uint32_t)(2 + with_id + (cons != NULL)));
    if (with_id) {
        proto_put_str(&o, "id");
        proto_put_u64(&o, 12);
    }
    proto_put_str(&o, "v");
    proto_put_u64(&o, v);
    proto_put_str(&o, "op");
    proto_put_str(&o, op);
    if (cons != NULL) {
        proto_put_str(&o, "consistency");
        proto_put_str(&o, cons);
    }
    return o.len;
}

static void test_request_envelope_errors(void **state)
{
    (void)state;
    struct proto_request rq;
    size_t n = raw_request(0, 1, "lookup", NULL);
    assert_int_equal(proto_request_decode(buf, n, &rq, errmsg), REG_MALFORMED);
    assert_string_equal(errmsg, "id: missing");
    n = raw_request(1, 2, "lookup", NULL);
    assert_int_equal(proto_request_decode(buf, n, &rq, errmsg), REG_INVALID_ARGUMENT);
    assert_true(rq.id == 12);
    assert_string_equal(errmsg, "v: unsupported protocol version 2 (this node speaks 1)");
    n = raw_request(1, 1, "frobnicate", NULL);
    assert_int_equal(proto_request_decode(buf, n, &rq, errmsg), REG_INVALID_ARGUMENT);
    assert_string_equal(errmsg, "op: unknown op \"frobnicate\"");
    n = raw_request(1, 1, "lookup", "eventual");
    assert_int_equal(proto_request_decode(buf, n, &rq, errmsg), REG_INVALID_ARGUMENT);
    assert_string_equal(errmsg, "consistency: unknown \"eventual\" (linearizable|stale)");
    n = raw_request(1, 1, "lookup", "linearizable");
    assert_int_equal(proto_request_decode(buf, n, &rq, errmsg), REG_OK);
    assert_int_equal(rq.raw_args.type, PROTO_T_NONE);
    /* absent args read as an empty map: lookup then misses its node */
    struct proto_args a;
    assert_int_equal(proto_args_decode(&rq.raw_args, rq.opdef, &a, errmsg), REG_INVALID_ARGUMENT);
    assert_string_equal(errmsg, "args.node: missing");
}

static void test_response_round_trip(void **state)
{
    (void)state;
    struct proto_out o;
    struct proto_response rs = {0}, got;
    struct st_result res = {0}, res2;
    res.code = REG_OK;
    res.op = ST_CMD_HANDSHAKE;
    res.node = 12;
    res.status = ST_STATUS_ALREADY_TRUSTED;
    res.duplicate = true;
    rs.id = 99;
    proto_response_from_result(&rs, &res);
    rs.has_index = true;
    rs.index = 1234;
    proto_out_fixed(&o, buf, sizeof buf);
    assert_int_equal(proto_response_encode(&o, &rs), REG_OK);
    assert_int_equal(proto_result_encode(&o, &res), REG_OK);
    assert_int_equal(proto_response_decode(buf, o.len, &got, errmsg), REG_OK);
    assert_true(got.ok && got.has_index && got.index == 1234 && got.id == 99);
    assert_int_equal(proto_result_decode(&got.result, ST_CMD_HANDSHAKE, &res2, errmsg), REG_OK);
    assert_int_equal(res2.node, 12);
    assert_int_equal(res2.status, ST_STATUS_ALREADY_TRUSTED);
    assert_true(res2.duplicate);
    /* relaying the raw result under another id */
    struct proto_response relay = got;
    uint8_t buf2[512];
    relay.id = 5;
    proto_out_fixed(&o, buf2, sizeof buf2);
    assert_int_equal(proto_response_encode(&o, &relay), REG_OK);
    assert_int_equal(proto_response_decode(buf2, o.len, &got, errmsg), REG_OK);
    assert_true(got.id == 5 && got.result.len == relay.result.len);
    /* an error with a leader hint */
    memset(&rs, 0, sizeof rs);
    rs.id = 3;
    proto_response_error(&rs, REG_NOT_LEADER, "not the leader");
    rs.has_leader = true;
    rs.leader_id = 2;
    strcpy(rs.leader_addr, "127.0.0.1:7002");
    proto_out_fixed(&o, buf, sizeof buf);
    assert_int_equal(proto_response_encode(&o, &rs), REG_OK);
    assert_int_equal(proto_response_decode(buf, o.len, &got, errmsg), REG_OK);
    assert_false(got.ok);
    assert_int_equal(got.code, REG_NOT_LEADER);
    assert_string_equal(got.message, "not the leader");
    assert_true(got.has_leader && got.leader_id == 2);
    assert_string_equal(got.leader_addr, "127.0.0.1:7002");
    assert_int_equal(got.result.type, PROTO_T_NONE);
    /* a business error from a result keeps its code and message */
    res.code = REG_PERMISSION_DENIED;
    strcpy(res.message, "only the owner may delete");
    proto_response_from_result(&rs, &res);
    assert_false(rs.ok || rs.has_result);
    assert_string_equal(rs.message, "only the owner may delete");
    /* every error code survives the wire */
    for (int c = 1; c < REG_ERR_COUNT; c++) {
        proto_response_error(&rs, c, "x");
        proto_out_fixed(&o, buf, sizeof buf);
        proto_response_encode(&o, &rs);
        assert_int_equal(proto_response_decode(buf, o.len, &got, errmsg), REG_OK);
        assert_int_equal(got.code, c);
    }
}

static void test_views_round_trip(void **state)
{
    (void)state;
    struct proto_out o;
    struct proto_val v;
    struct proto_arena arena;
    proto_arena_init(&arena);
    static const uint16_t nets[] = {1, 7, 65535};
    static const uint16_t ports[] = {22, 443};
    struct st_node n = {.id = 0x00A3F291, .hostname = "alpha", .endpoint = "1.2.3.4:4000",
                        .public_ = true, .online = true, .created_ms = 1700000000000,
                        .last_change_ms = -1, .n_tags = 2, .tags = {"ai", "gpu"},
                        .n_networks = 3, .networks = nets};
    memset(n.key, 0x77, ST_KEY_LEN);
    struct st_node n2;
    proto_out_fixed(&o, buf, sizeof buf);
    assert_int_equal(proto_node_encode(&o, &n), REG_OK);
    assert_int_equal(proto_parse(buf, o.len, "result", &v, errmsg), REG_OK);
    char addr[64];
    assert_int_equal(proto_get_str(&v, "address", PROTO_REQ, 63, addr, errmsg), REG_OK);
    assert_string_equal(addr, "0:0000.00A3.F291");
    assert_int_equal(proto_node_decode(&v, &n2, &arena, errmsg), REG_OK);
    assert_int_equal(n2.id, n.id);
    assert_memory_equal(n2.key, n.key, ST_KEY_LEN);
    assert_string_equal(n2.hostname, "alpha");
    assert_string_equal(n2.endpoint, "1.2.3.4:4000");
    assert_true(n2.public_ && n2.online);
    assert_true(n2.created_ms == n.created_ms && n2.last_change_ms == -1);
    assert_int_equal(n2.n_tags, 2);
    assert_string_equal(n2.tags[1], "gpu");
    assert_int_equal(n2.n_networks, 3);
    assert_memory_equal(n2.networks, nets, sizeof nets);

    struct st_network net = {.id = 7, .name = "lab", .join_rule = ST_JOIN_TOKEN,
                             .enterprise = true, .owner = 5, .n_members = 3, .created_ms = 9,
                             .n_ports = 2, .ports = ports, .max_members = 50,
                             .description = "the lab"};
    struct st_network net2;
    proto_out_fixed(&o, buf, sizeof buf);
    assert_int_equal(proto_network_encode(&o, &net), REG_OK);
    assert_int_equal(proto_parse(buf, o.len, "", &v, errmsg), REG_OK);
    assert_int_equal(proto_network_decode(&v, &net2, &arena, errmsg), REG_OK);
    assert_int_equal(net2.id, 7);
    assert_string_equal(net2.name, "lab");
    assert_int_equal(net2.join_rule, ST_JOIN_TOKEN);
    assert_true(net2.enterprise && net2.owner == 5 && net2.n_members == 3 && net2.created_ms == 9);
    assert_int_equal(net2.n_ports, 2);
    assert_memory_equal(net2.ports, ports, sizeof ports);
    assert_int_equal(net2.max_members, 50);
    assert_string_equal(net2.description, "the lab");

    struct st_member m = {.node = 9, .role = ST_ROLE_OWNER}, m2;
    proto_out_fixed(&o, buf, sizeof buf);
    proto_member_encode(&o, &m);
    assert_int_equal(proto_parse(buf, o.len, "", &v, errmsg), REG_OK);
    assert_int_equal(proto_member_decode(&v, &m2, errmsg), REG_OK);
    assert_true(m2.node == 9 && m2.role == ST_ROLE_OWNER);

    struct st_trust t = {.peer = 4, .mutual = true, .network = 3, .approved_ms = 77,
                         .approved_by = 4}, t2;
    proto_out_fixed(&o, buf, sizeof buf);
    proto_trust_encode(&o, &t);
    assert_int_equal(proto_parse(buf, o.len, "", &v, errmsg), REG_OK);
    assert_int_equal(proto_trust_decode(&v, &t2, errmsg), REG_OK);
    assert_true(t2.peer == 4 && t2.mutual && t2.network == 3 && t2.approved_ms == 77 &&
                t2.approved_by == 4);

    struct st_pending p = {.from = 4, .to = 5, .justification = "let me in", .received_ms = 8},
                      p2;
    proto_out_fixed(&o, buf, sizeof buf);
    proto_pending_encode(&o, &p);
    assert_int_equal(proto_parse(buf, o.len, "", &v, errmsg), REG_OK);
    assert_int_equal(proto_pending_decode(&v, &p2, &arena, errmsg), REG_OK);
    assert_true(p2.from == 4 && p2.to == 5 && p2.received_ms == 8);
    assert_string_equal(p2.justification, "let me in");

    struct st_outcome x = {.peer = 6, .reason = "no", .at_ms = 3}, x2;
    proto_out_fixed(&o, buf, sizeof buf);
    proto_outcome_encode(&o, &x);
    assert_int_equal(proto_parse(buf, o.len, "", &v, errmsg), REG_OK);
    assert_int_equal(proto_outcome_decode(&v, &x2, &arena, errmsg), REG_OK);
    assert_true(x2.peer == 6 && x2.at_ms == 3);
    assert_string_equal(x2.reason, "no");

    struct st_audit au = {.at_ms = 5, .actor = 0, .origin = 2, .action = "member.kicked",
                          .target = 9, .detail = "by=owner"}, au2;
    proto_out_fixed(&o, buf, sizeof buf);
    proto_audit_encode(&o, &au);
    assert_int_equal(proto_parse(buf, o.len, "", &v, errmsg), REG_OK);
    assert_int_equal(proto_audit_decode(&v, &au2, &arena, errmsg), REG_OK);
    assert_true(au2.at_ms == 5 && au2.origin == 2 && au2.target == 9);
    assert_string_equal(au2.action, "member.kicked");
    assert_string_equal(au2.detail, "by=owner");

    struct st_cluster_member cm, cm2;
    memset(&cm, 0, sizeof cm);
    fill_member(&cm, true);
    proto_out_fixed(&o, buf, sizeof buf);
    proto_cluster_member_encode(&o, &cm);
    assert_int_equal(proto_parse(buf, o.len, "", &v, errmsg), REG_OK);
    assert_int_equal(proto_cluster_member_decode(&v, &cm2, errmsg), REG_OK);
    assert_memory_equal(&cm, &cm2, sizeof cm);

    /* every status name round trips; created only on blueprints */
    for (int s = 0; s <= ST_STATUS_RETURNING; s++) {
        struct st_result r = {.op = ST_CMD_BLUEPRINT_APPLY, .network = 3, .status = (uint8_t)s,
                              .created = true}, r2;
        proto_out_fixed(&o, buf, sizeof buf);
        assert_int_equal(proto_result_encode(&o, &r), REG_OK);
        assert_int_equal(proto_parse(buf, o.len, "", &v, errmsg), REG_OK);
        assert_int_equal(proto_result_decode(&v, r.op, &r2, errmsg), REG_OK);
        assert_true(r2.op == r.op && r2.network == 3 && r2.status == s && r2.created &&
                    r2.node == 0 && !r2.duplicate && r2.code == REG_OK);
    }
    proto_arena_free(&arena);
}

static void test_addresses(void **state)
{
    (void)state;
    char out[PROTO_ADDR_STRLEN];
    uint16_t net;
    uint32_t node;
    proto_addr_format(1, 0xF2910004, out);
    assert_string_equal(out, "1:0001.F291.0004");
    proto_addr_format(65535, 0xFFFFFFFF, out);
    assert_string_equal(out, "65535:FFFF.FFFF.FFFF");
    assert_int_equal(proto_addr_parse(out, strlen(out), &net, &node, errmsg), REG_OK);
    assert_true(net == 65535 && node == 0xFFFFFFFF);
    assert_int_equal(proto_addr_parse("0:0000.00a3.f291", 16, &net, &node, errmsg), REG_OK);
    assert_true(net == 0 && node == 0x00A3F291);
    assert_int_equal(proto_addr_parse("1:00A3.F291.0004", 16, &net, &node, errmsg),
                     REG_INVALID_ARGUMENT);
    assert_string_equal(errmsg, "address \"1:00A3.F291.0004\": network mismatch");
    static const char *const bad[] = {"", "1", ":0001.0000.0001", "1:001.0000.00001",
                                      "1:0001-0000-0001", "1:0001.0000.000G", "123456:0000.0000.0000",
                                      "1:0001.0000.0001:80", "+1:0001.0000.0001"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(proto_addr_parse(bad[i], strlen(bad[i]), &net, &node, errmsg),
                         REG_INVALID_ARGUMENT);
    }
    assert_int_equal(proto_addr_parse("70000:11170.0000.0000", 21, &net, &node, errmsg),
                     REG_INVALID_ARGUMENT);
}

static void test_log_round_trip(void **state)
{
    (void)state;
    size_t n = 0;
    struct fill *fills = calloc(proto_op_count(), sizeof *fills);
    const struct st_cmd *cmds[64];
    for (size_t i = 0; i < proto_op_count(); i++) {
        const struct proto_op *op = proto_op_at(i);
        if (op->kind == PROTO_OP_WRITE) {
            fill_op(&fills[n], op, (unsigned)i);
            cmds[n] = &fills[n].cmd;
            n++;
        }
    }
    void *entry = NULL;
    size_t len = 0;
    assert_int_equal(proto_log_encode(cmds, n, 1700000000123, 3, reg_malloc, &entry, &len, errmsg),
                     REG_OK);
    assert_int_equal(len % 8, 0);
    assert_memory_equal(entry, "PRG\x01\x00\x01\x00\x01", 8);
    struct proto_log_iter it;
    assert_int_equal(proto_log_open(entry, len, &it, errmsg), REG_OK);
    assert_int_equal(it.n_ops, n);
    assert_true(it.ts_ms == 1700000000123 && it.origin == 3);
    struct proto_arena arena;
    proto_arena_init(&arena);
    for (size_t i = 0; i < n; i++) {
        struct st_cmd cmd;
        assert_int_equal(proto_log_next(&it, &cmd, &arena, errmsg), REG_OK);
        struct fill want = fills[i];
        want.cmd.ts_ms = 1700000000123;
        want.cmd.origin = 3;
        if (!cmd_equal(&cmd, &want.cmd)) {
            fail_msg("log op %zu (%s) differs", i, st_cmd_name(cmd.op));
        }
    }
    struct st_cmd end;
    assert_int_equal(proto_log_next(&it, &end, &arena, errmsg), REG_NOT_FOUND);
    proto_arena_free(&arena);
    reg_free(entry);
    assert_int_equal(proto_log_encode(cmds, 0, 0, 0, reg_malloc, &entry, &len, errmsg),
                     REG_INVALID_ARGUMENT);
    free(fills);
}

static void test_log_malformed(void **state)
{
    (void)state;
    struct st_cmd c = {.op = ST_CMD_APPROVE, .node = 9, .client = 1, .seq = 2};
    struct st_cmd d = {.op = ST_CMD_UNTRUST, .node = 10, .client = 1, .seq = 3};
    const struct st_cmd *cmds[] = {&c, &d};
    void *entry = NULL;
    size_t len = 0;
    struct proto_log_iter it;
    assert_int_equal(proto_log_encode(cmds, 2, 5, 1, reg_malloc, &entry, &len, errmsg), REG_OK);
    uint8_t *e = entry;
    uint8_t *copy = malloc(len + 8);
    /* each header corruption, alone */
    const struct {
        size_t off;
        uint8_t val;
        const char *msg;
    } flips[] = {
        {0, 'X', "log entry: bad magic"},
        {5, 2, "log entry: version 2 kind 1 reserved 0 not supported"},
        {7, 9, "log entry: version 1 kind 9 reserved 0 not supported"},
        {15, 1, "log entry: version 1 kind 1 reserved 1 not supported"},
        {11, 0xFF, NULL},                                   /* payload length lie */
        {len - 1, 1, NULL},                                 /* padding or payload byte */
    };
    for (size_t i = 0; i < sizeof flips / sizeof flips[0]; i++) {
        memcpy(copy, e, len);
        copy[flips[i].off] = flips[i].val;
        assert_int_equal(proto_log_open(copy, len, &it, errmsg), REG_MALFORMED);
        if (flips[i].msg != NULL) {
            assert_string_equal(errmsg, flips[i].msg);
        }
    }
    assert_int_equal(proto_log_open(e, len - 8, &it, errmsg), REG_MALFORMED);
    assert_int_equal(proto_log_open(e, len - 1, &it, errmsg), REG_MALFORMED);
    memcpy(copy, e, len);
    memset(copy + len, 0, 8);
    assert_int_equal(proto_log_open(copy, len + 8, &it, errmsg), REG_MALFORMED);
    assert_int_equal(proto_log_open(NULL, 0, &it, errmsg), REG_MALFORMED);
    /* an op with an unknown name is malformed on its own; the next op reads */
    memcpy(copy, e, len);
    uint8_t *name = memmem(copy, len, "approve", 7);
    assert_non_null(name);
    memcpy(name, "apprave", 7);
    assert_int_equal(proto_log_open(copy, len, &it, errmsg), REG_OK);
    struct proto_arena arena;
    struct st_cmd out;
    proto_arena_init(&arena);
    assert_int_equal(proto_log_next(&it, &out, &arena, errmsg), REG_MALFORMED);
    assert_string_equal(errmsg, "log entry: ops[0].op: unknown command \"apprave\"");
    assert_true(out.client == 1 && out.seq == 2);
    assert_int_equal(proto_log_next(&it, &out, &arena, errmsg), REG_OK);
    assert_true(out.op == ST_CMD_UNTRUST && out.node == 10 && out.ts_ms == 5 && out.origin == 1);
    proto_arena_free(&arena);
    free(copy);
    reg_free(entry);
}

static void *failing_alloc(size_t n)
{
    (void)n;
    return NULL;
}

static void test_decode_nomem_sweep(void **state)
{
    (void)state;
    struct fill *f = calloc(1, sizeof *f);
    const struct proto_op *op = proto_op_by_cmd(ST_CMD_BLUEPRINT_APPLY);
    struct proto_out o;
    struct proto_val args;
    fill_op(f, op, 1);
    proto_out_fixed(&o, buf, sizeof buf);
    assert_int_equal(proto_cmd_args_encode(&o, &f->cmd), REG_OK);
    assert_int_equal(proto_parse(buf, o.len, "args", &args, errmsg), REG_OK);
    for (unsigned long nth = 1;; nth++) {
        struct proto_arena arena;
        struct st_cmd cmd;
        memset(&cmd, 0, sizeof cmd);
        proto_arena_init(&arena);
        reg_alloc_fail_at(nth);
        int rv = proto_cmd_args_decode(&args, ST_CMD_BLUEPRINT_APPLY, &cmd, &arena, errmsg);
        reg_alloc_fail_at(0);
        proto_arena_free(&arena);
        if (rv == REG_OK) {
            assert_true(nth > 2);
            break;
        }
        assert_int_equal(rv, REG_NOMEM);
        assert_true(nth < 10);
    }
    const struct st_cmd *cmds[] = {&f->cmd};
    void *entry = NULL;
    size_t len = 0;
    assert_int_equal(proto_log_encode(cmds, 1, 0, 0, failing_alloc, &entry, &len, errmsg),
                     REG_NOMEM);
    free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_op_round_trips),
        cmocka_unit_test(test_op_table_covers_commands),
        cmocka_unit_test(test_argument_errors),
        cmocka_unit_test(test_request_envelope),
        cmocka_unit_test(test_request_envelope_errors),
        cmocka_unit_test(test_response_round_trip),
        cmocka_unit_test(test_views_round_trip),
        cmocka_unit_test(test_addresses),
        cmocka_unit_test(test_log_round_trip),
        cmocka_unit_test(test_log_malformed),
        cmocka_unit_test(test_decode_nomem_sweep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
