/* args.c: the one codec between an `args` map and struct st_cmd (writes)
 * or struct proto_args (reads and server ops), driven by the schemas of the
 * op table (ops.c). Client requests and raft log entries both go through
 * here, so a command means the same bytes on the wire and in the log.
 * Also the codecs of the two nested argument types, blueprints and cluster
 * members, which result maps reuse (blueprint_export, cluster_members). */
#include <string.h>

#include "proto.h"

static void fail(struct proto_out *o, int code)
{
    if (o->err == REG_OK) {
        o->err = code;
    }
}

static const void *at(const void *base, uint16_t off)
{
    return (const uint8_t *)base + off;
}

static void *at_mut(void *base, uint16_t off)
{
    return (uint8_t *)base + off;
}

/* ---- Policy fields (flat in network_policy_set, nested in blueprints) ----*/

static uint32_t policy_count(const struct st_policy *p)
{
    return (uint32_t)p->has_allowed_ports + p->has_max_members + p->has_description;
}

static void enc_ports(struct proto_out *o, const struct st_policy *p)
{
    uint16_t n = p->n_ports > ST_PORTS_MAX ? ST_PORTS_MAX : p->n_ports;
    proto_put_array(o, n);
    for (uint16_t i = 0; i < n; i++) {
        proto_put_u64(o, p->ports[i]);
    }
}

static void enc_policy_fields(struct proto_out *o, const struct st_policy *p)
{
    if (p->has_allowed_ports) {
        proto_put_str(o, "allowed_ports");
        enc_ports(o, p);
    }
    if (p->has_max_members) {
        proto_put_str(o, "max_members");
        proto_put_u64(o, p->max_members);
    }
    if (p->has_description) {
        proto_put_str(o, "description");
        proto_put_strn(o, p->description, strnlen(p->description, ST_DESCRIPTION_MAX));
    }
}

static int dec_ports(const struct proto_val *m, const char *key, struct st_policy *p,
                     char *errmsg)
{
    struct proto_val arr, v;
    struct proto_iter it;
    int rv = proto_get_array(m, key, 0, ST_PORTS_MAX, &arr, errmsg);
    if (rv != REG_OK || arr.type == PROTO_T_NONE) {
        return rv;
    }
    p->n_ports = 0;
    proto_iter_init(&it, &arr);
    while (proto_iter_next(&it, &v)) {
        uint64_t port = 0;
        rv = proto_val_u64(&v, 65535, &port, errmsg);
        if (rv != REG_OK) {
            return rv;
        }
        if (port == 0) {
            reg_errmsgf(errmsg, "%s: port 0 is not a port (1..65535)", v.path);
            return REG_INVALID_ARGUMENT;
        }
        p->ports[p->n_ports++] = (uint16_t)port;
    }
    p->has_allowed_ports = true;
    return REG_OK;
}

static int dec_max_members(const struct proto_val *m, const char *key, struct st_policy *p,
                           char *errmsg)
{
    int rv = REG_OK;
    if (proto_has(m, key)) {
        rv = proto_get_u32(m, key, PROTO_REQ, ST_MAX_MEMBERS_LIMIT, &p->max_members, errmsg);
        p->has_max_members = rv == REG_OK;
    }
    return rv;
}

static int dec_description(const struct proto_val *m, const char *key, struct st_policy *p,
                           char *errmsg)
{
    int rv = REG_OK;
    if (proto_has(m, key)) {
        rv = proto_get_str(m, key, PROTO_REQ, ST_DESCRIPTION_MAX, p->description, errmsg);
        p->has_description = rv == REG_OK;
    }
    return rv;
}

static int need_map(const struct proto_val *v, char *errmsg)
{
    if (v->type != PROTO_T_MAP) {
        reg_errmsgf(errmsg, "%s: wrong type (want map)", v->path);
        return REG_INVALID_ARGUMENT;
    }
    return REG_OK;
}

static int dec_enum(const struct proto_val *m, const char *key, bool required, bool role,
                    uint8_t *out, char *errmsg)
{
    const char *s = NULL;
    size_t n = 0;
    int rv = proto_get_strv(m, key, required ? PROTO_REQ : 0, 16, &s, &n, errmsg);
    if (rv != REG_OK || s == NULL) {
        return rv;
    }
    int v = role ? proto_role_from_name(s, n) : proto_join_rule_from_name(s, n);
    if (v < 0 || (role && v == ST_ROLE_NONE)) {
        struct proto_val fv;
        proto_find(m, key, &fv, errmsg);
        reg_errmsgf(errmsg, "%s: unknown %s \"%.*s\" (%s)", fv.path, role ? "role" : "join rule",
                    (int)n, s, role ? "owner|admin|member" : "open|invite|token");
        return REG_INVALID_ARGUMENT;
    }
    *out = (uint8_t)v;
    return REG_OK;
}

static void enc_enum(struct proto_out *o, bool role, uint8_t v)
{
    const char *name = role ? proto_role_name(v) : proto_join_rule_name(v);
    if (name == NULL || (role && v == ST_ROLE_NONE)) {
        fail(o, REG_INVALID_ARGUMENT);
        return;
    }
    proto_put_str(o, name);
}

/* ---- Cluster members and blueprints ----------------------------------------*/

int proto_cluster_member_encode(struct proto_out *o, const struct st_cluster_member *m)
{
    proto_put_map(o, 5);
    proto_put_str(o, "raft_id");
    proto_put_u64(o, m->raft_id);
    proto_put_str(o, "name");
    proto_put_strn(o, m->name, strnlen(m->name, ST_CLUSTER_NAME_MAX));
    proto_put_str(o, "raft_addr");
    proto_put_strn(o, m->raft_addr, strnlen(m->raft_addr, ST_ADDR_MAX));
    proto_put_str(o, "client_addr");
    proto_put_strn(o, m->client_addr, strnlen(m->client_addr, ST_ADDR_MAX));
    proto_put_str(o, "http_addr");
    proto_put_strn(o, m->http_addr, strnlen(m->http_addr, ST_ADDR_MAX));
    return o->err;
}

int proto_cluster_member_decode(const struct proto_val *v, struct st_cluster_member *m,
                                char errmsg[static REG_ERRMSG_SIZE])
{
    int rv = need_map(v, errmsg);
    memset(m, 0, sizeof *m);
    if (rv == REG_OK) {
        rv = proto_get_u64(v, "raft_id", PROTO_REQ, UINT64_MAX, &m->raft_id, errmsg);
    }
    if (rv == REG_OK) {
        rv = proto_get_str(v, "name", 0, ST_CLUSTER_NAME_MAX, m->name, errmsg);
    }
    if (rv == REG_OK) {
        rv = proto_get_str(v, "raft_addr", 0, ST_ADDR_MAX, m->raft_addr, errmsg);
    }
    if (rv == REG_OK) {
        rv = proto_get_str(v, "client_addr", 0, ST_ADDR_MAX, m->client_addr, errmsg);
    }
    if (rv == REG_OK) {
        rv = proto_get_str(v, "http_addr", 0, ST_ADDR_MAX, m->http_addr, errmsg);
    }
    return rv;
}

int proto_blueprint_encode(struct proto_out *o, const struct st_blueprint *b)
{
    uint32_t n_roles = b->roles == NULL ? 0 : b->n_roles;
    if (n_roles > ST_BLUEPRINT_ROLES_MAX) {
        fail(o, REG_INVALID_ARGUMENT);
        return o->err;
    }
    proto_put_map(o, 6);
    proto_put_str(o, "name");
    proto_put_strn(o, b->name, strnlen(b->name, ST_NETNAME_MAX));
    proto_put_str(o, "join_rule");
    enc_enum(o, false, b->join_rule);
    proto_put_str(o, "token");
    proto_put_strn(o, b->token, strnlen(b->token, ST_TOKEN_MAX));
    proto_put_str(o, "enterprise");
    proto_put_bool(o, b->enterprise);
    proto_put_str(o, "policy");
    proto_put_map(o, policy_count(&b->policy));
    enc_policy_fields(o, &b->policy);
    proto_put_str(o, "roles");
    proto_put_array(o, n_roles);
    for (uint32_t i = 0; i < n_roles; i++) {
        proto_put_map(o, 2);
        proto_put_str(o, "node");
        proto_put_u64(o, b->roles[i].node);
        proto_put_str(o, "role");
        enc_enum(o, true, b->roles[i].role);
    }
    return o->err;
}

static int dec_roles(const struct proto_val *bp, struct st_blueprint *b,
                     struct proto_arena *arena, char *errmsg)
{
    struct proto_val arr, v;
    struct proto_iter it;
    int rv = proto_get_array(bp, "roles", 0, ST_BLUEPRINT_ROLES_MAX, &arr, errmsg);
    if (rv != REG_OK || arr.type == PROTO_T_NONE || arr.n == 0) {
        return rv;
    }
    struct st_blueprint_role *roles = proto_arena_alloc(arena, arr.n * sizeof *roles);
    if (roles == NULL) {
        reg_errmsgf(errmsg, "%s: out of memory", arr.path);
        return REG_NOMEM;
    }
    proto_iter_init(&it, &arr);
    for (uint32_t i = 0; rv == REG_OK && proto_iter_next(&it, &v); i++) {
        rv = need_map(&v, errmsg);
        if (rv == REG_OK) {
            rv = proto_get_u32(&v, "node", PROTO_REQ, UINT32_MAX, &roles[i].node, errmsg);
        }
        if (rv == REG_OK) {
            rv = dec_enum(&v, "role", true, true, &roles[i].role, errmsg);
        }
    }
    b->roles = roles;
    b->n_roles = arr.n;
    return rv;
}

int proto_blueprint_decode(const struct proto_val *v, struct st_blueprint *b,
                           struct proto_arena *arena, char errmsg[static REG_ERRMSG_SIZE])
{
    struct proto_val pol;
    int rv = need_map(v, errmsg);
    memset(b, 0, sizeof *b);
    if (rv == REG_OK) {
        rv = proto_get_str(v, "name", PROTO_REQ, ST_NETNAME_MAX, b->name, errmsg);
    }
    if (rv == REG_OK) {
        rv = dec_enum(v, "join_rule", false, false, &b->join_rule, errmsg);
    }
    if (rv == REG_OK) {
        rv = proto_get_str(v, "token", 0, ST_TOKEN_MAX, b->token, errmsg);
    }
    if (rv == REG_OK) {
        rv = proto_get_bool(v, "enterprise", 0, &b->enterprise, errmsg);
    }
    if (rv == REG_OK) {
        rv = proto_get_map(v, "policy", 0, &pol, errmsg);
    }
    if (rv == REG_OK && pol.type == PROTO_T_MAP) {
        rv = dec_ports(&pol, "allowed_ports", &b->policy, errmsg);
        if (rv == REG_OK) {
            rv = dec_max_members(&pol, "max_members", &b->policy, errmsg);
        }
        if (rv == REG_OK) {
            rv = dec_description(&pol, "description", &b->policy, errmsg);
        }
    }
    if (rv == REG_OK) {
        rv = dec_roles(v, b, arena, errmsg);
    }
    return rv;
}

/* ---- Field codec ----------------------------------------------------------*/

static bool field_encoded(const struct proto_field *f, const void *base)
{
    switch (f->kind) {
    case PROTO_F_PORTS:
        return ((const struct st_policy *)at(base, f->offset))->has_allowed_ports;
    case PROTO_F_MAX_MEMBERS:
        return ((const struct st_policy *)at(base, f->offset))->has_max_members;
    case PROTO_F_DESCRIPTION:
        return ((const struct st_policy *)at(base, f->offset))->has_description;
    default:
        return true;
    }
}

static void enc_member_id(struct proto_out *o, const struct st_cluster_member *m)
{
    proto_put_map(o, 1);
    proto_put_str(o, "raft_id");
    proto_put_u64(o, m->raft_id);
}

/* Kinds that exist only in struct st_cmd (tags, online, blueprint) are
 * reached through cmd; it is NULL when encoding a proto_args. */
static void enc_field(struct proto_out *o, const struct proto_field *f, const void *base,
                      const struct st_cmd *cmd)
{
    const struct st_policy *pol = at(base, f->offset);
    proto_put_str(o, f->name);
    switch (f->kind) {
    case PROTO_F_U32: case PROTO_F_NETWORK: case PROTO_F_PORT:
        proto_put_u64(o, *(const uint32_t *)at(base, f->offset));
        break;
    case PROTO_F_U64:
        proto_put_u64(o, *(const uint64_t *)at(base, f->offset));
        break;
    case PROTO_F_BOOL:
        proto_put_bool(o, *(const bool *)at(base, f->offset));
        break;
    case PROTO_F_STR:
        proto_put_strn(o, at(base, f->offset), strnlen(at(base, f->offset), f->max));
        break;
    case PROTO_F_KEY:
        proto_put_bin(o, at(base, f->offset), ST_KEY_LEN);
        break;
    case PROTO_F_JOIN_RULE: case PROTO_F_ROLE:
        enc_enum(o, f->kind == PROTO_F_ROLE, *(const uint8_t *)at(base, f->offset));
        break;
    case PROTO_F_PORTS:
        enc_ports(o, pol);
        break;
    case PROTO_F_MAX_MEMBERS:
        proto_put_u64(o, pol->max_members);
        break;
    case PROTO_F_DESCRIPTION:
        proto_put_strn(o, pol->description, strnlen(pol->description, ST_DESCRIPTION_MAX));
        break;
    case PROTO_F_MEMBER:
        proto_cluster_member_encode(o, at(base, f->offset));
        break;
    case PROTO_F_MEMBER_ID:
        enc_member_id(o, at(base, f->offset));
        break;
    case PROTO_F_TAGS: {
        uint8_t n = cmd == NULL ? 0 : cmd->n_tags;
        if (n > ST_TAGS_MAX) {
            fail(o, REG_INVALID_ARGUMENT);
            return;
        }
        proto_put_array(o, n);
        for (uint8_t i = 0; i < n; i++) {
            proto_put_strn(o, cmd->tags[i], strnlen(cmd->tags[i], ST_TAG_MAX));
        }
        break;
    }
    case PROTO_F_ONLINE: {
        uint32_t n = cmd == NULL || cmd->online == NULL ? 0 : cmd->n_online;
        if (n > ST_ONLINE_BATCH_MAX || (cmd != NULL && cmd->n_online > 0 && cmd->online == NULL)) {
            fail(o, REG_INVALID_ARGUMENT);
            return;
        }
        proto_put_array(o, n);
        for (uint32_t i = 0; i < n; i++) {
            proto_put_map(o, 2);
            proto_put_str(o, "node");
            proto_put_u64(o, cmd->online[i].node);
            proto_put_str(o, "online");
            proto_put_bool(o, cmd->online[i].online);
        }
        break;
    }
    case PROTO_F_BLUEPRINT:
        if (cmd == NULL || cmd->blueprint == NULL) {
            fail(o, REG_INVALID_ARGUMENT);
            return;
        }
        proto_blueprint_encode(o, cmd->blueprint);
        break;
    default:
        fail(o, REG_INTERNAL);
        break;
    }
}

static int dec_tags(const struct proto_val *args, const struct proto_field *f,
                    struct st_cmd *cmd, char *errmsg)
{
    struct proto_val arr, v;
    struct proto_iter it;
    int rv = proto_get_array(args, f->name, f->required ? PROTO_REQ : 0, ST_TAGS_MAX, &arr,
                             errmsg);
    if (rv != REG_OK || arr.type == PROTO_T_NONE) {
        return rv;
    }
    proto_iter_init(&it, &arr);
    while (proto_iter_next(&it, &v)) {
        const char *s = NULL;
        size_t n = 0;
        /* One leading '#' is the user's notation, not part of the tag. */
        rv = proto_val_strv(&v, ST_TAG_MAX + 1, &s, &n, errmsg);
        if (rv != REG_OK) {
            return rv;
        }
        if (n > 0 && s[0] == '#') {
            s++;
            n--;
        }
        if (n > ST_TAG_MAX) {
            reg_errmsgf(errmsg, "%s: too long (max %d)", v.path, ST_TAG_MAX);
            return REG_INVALID_ARGUMENT;
        }
        memcpy(cmd->tags[cmd->n_tags], s, n);
        cmd->tags[cmd->n_tags][n] = '\0';
        cmd->n_tags++;
    }
    return REG_OK;
}

static int dec_online(const struct proto_val *args, const struct proto_field *f,
                      struct st_cmd *cmd, struct proto_arena *arena, char *errmsg)
{
    struct proto_val arr, v;
    struct proto_iter it;
    int rv = proto_get_array(args, f->name, f->required ? PROTO_REQ : 0, ST_ONLINE_BATCH_MAX,
                             &arr, errmsg);
    if (rv != REG_OK || arr.type == PROTO_T_NONE || arr.n == 0) {
        return rv;
    }
    struct st_online *on = proto_arena_alloc(arena, arr.n * sizeof *on);
    if (on == NULL) {
        reg_errmsgf(errmsg, "%s: out of memory", arr.path);
        return REG_NOMEM;
    }
    proto_iter_init(&it, &arr);
    for (uint32_t i = 0; rv == REG_OK && proto_iter_next(&it, &v); i++) {
        rv = need_map(&v, errmsg);
        if (rv == REG_OK) {
            rv = proto_get_u32(&v, "node", PROTO_REQ, UINT32_MAX, &on[i].node, errmsg);
        }
        if (rv == REG_OK) {
            rv = proto_get_bool(&v, "online", PROTO_REQ, &on[i].online, errmsg);
        }
    }
    cmd->online = on;
    cmd->n_online = arr.n;
    return rv;
}

static int dec_field(const struct proto_val *args, const struct proto_field *f, void *base,
                     struct st_cmd *cmd, struct proto_arena *arena, char *errmsg)
{
    unsigned flags = f->required ? PROTO_REQ : 0;
    struct proto_val sub;
    int rv;
    switch (f->kind) {
    case PROTO_F_U32:
        return proto_get_u32(args, f->name, flags, f->max != 0 ? f->max : UINT32_MAX,
                             at_mut(base, f->offset), errmsg);
    case PROTO_F_NETWORK:
        return proto_get_u32(args, f->name, flags, ST_MAX_NETWORK_ID, at_mut(base, f->offset),
                             errmsg);
    case PROTO_F_PORT:
        return proto_get_u32(args, f->name, flags, 65535, at_mut(base, f->offset), errmsg);
    case PROTO_F_U64:
        return proto_get_u64(args, f->name, flags, UINT64_MAX, at_mut(base, f->offset), errmsg);
    case PROTO_F_BOOL:
        return proto_get_bool(args, f->name, flags, at_mut(base, f->offset), errmsg);
    case PROTO_F_STR:
        return proto_get_str(args, f->name, flags, f->max, at_mut(base, f->offset), errmsg);
    case PROTO_F_KEY:
        return proto_get_bin(args, f->name, flags, ST_KEY_LEN, at_mut(base, f->offset), errmsg);
    case PROTO_F_JOIN_RULE: case PROTO_F_ROLE:
        return dec_enum(args, f->name, f->required, f->kind == PROTO_F_ROLE,
                        at_mut(base, f->offset), errmsg);
    case PROTO_F_PORTS:
        return dec_ports(args, f->name, at_mut(base, f->offset), errmsg);
    case PROTO_F_MAX_MEMBERS:
        return dec_max_members(args, f->name, at_mut(base, f->offset), errmsg);
    case PROTO_F_DESCRIPTION:
        return dec_description(args, f->name, at_mut(base, f->offset), errmsg);
    case PROTO_F_MEMBER: case PROTO_F_MEMBER_ID:
        rv = proto_get_map(args, f->name, flags, &sub, errmsg);
        if (rv == REG_OK && sub.type == PROTO_T_MAP) {
            if (f->kind == PROTO_F_MEMBER) {
                rv = proto_cluster_member_decode(&sub, at_mut(base, f->offset), errmsg);
            } else {
                struct st_cluster_member *m = at_mut(base, f->offset);
                rv = proto_get_u64(&sub, "raft_id", PROTO_REQ, UINT64_MAX, &m->raft_id, errmsg);
            }
        }
        return rv;
    case PROTO_F_TAGS:
        return cmd == NULL ? REG_INTERNAL : dec_tags(args, f, cmd, errmsg);
    case PROTO_F_ONLINE:
        return cmd == NULL ? REG_INTERNAL : dec_online(args, f, cmd, arena, errmsg);
    case PROTO_F_BLUEPRINT: {
        struct st_blueprint *b;
        if (cmd == NULL) {
            return REG_INTERNAL;
        }
        rv = proto_get_map(args, f->name, flags, &sub, errmsg);
        if (rv != REG_OK || sub.type != PROTO_T_MAP) {
            return rv;
        }
        b = proto_arena_alloc(arena, sizeof *b);
        if (b == NULL) {
            reg_errmsgf(errmsg, "%s: out of memory", sub.path);
            return REG_NOMEM;
        }
        rv = proto_blueprint_decode(&sub, b, arena, errmsg);
        cmd->blueprint = b;
        return rv;
    }
    default:
        return REG_INTERNAL;
    }
}

static void enc_fields(struct proto_out *o, const struct proto_op *op, const void *base,
                       const struct st_cmd *cmd)
{
    uint32_t n = 0;
    for (uint8_t i = 0; i < op->n_fields; i++) {
        n += field_encoded(&op->fields[i], base);
    }
    proto_put_map(o, n);
    for (uint8_t i = 0; i < op->n_fields; i++) {
        if (field_encoded(&op->fields[i], base)) {
            enc_field(o, &op->fields[i], base, cmd);
        }
    }
}

/* An absent args map reads as an empty one; anything else must be a map. */
static int args_map(const struct proto_val *args, struct proto_val *m, char *errmsg)
{
    *m = *args;
    if (m->path[0] == '\0') {
        memcpy(m->path, "args", sizeof "args");
    }
    if (m->type != PROTO_T_NONE && m->type != PROTO_T_MAP) {
        reg_errmsgf(errmsg, "%s: wrong type (want map)", m->path);
        return REG_INVALID_ARGUMENT;
    }
    return REG_OK;
}

int proto_cmd_args_encode(struct proto_out *o, const struct st_cmd *cmd)
{
    const struct proto_op *op = proto_op_by_cmd(cmd->op);
    if (op == NULL) {
        fail(o, REG_INVALID_ARGUMENT);
        return o->err;
    }
    enc_fields(o, op, cmd, cmd);
    return o->err;
}

/* True for write ops whose target is `node` or `hostname` (see ops.c). */
static bool names_target(const struct proto_op *def)
{
    bool node = false, host = false;
    for (uint8_t i = 0; i < def->n_fields; i++) {
        node |= strcmp(def->fields[i].name, "node") == 0;
        host |= strcmp(def->fields[i].name, "hostname") == 0;
    }
    return node && host;
}

int proto_cmd_args_decode(const struct proto_val *args, int op, struct st_cmd *cmd,
                          struct proto_arena *arena, char errmsg[static REG_ERRMSG_SIZE])
{
    const struct proto_op *def = proto_op_by_cmd(op);
    struct proto_val m;
    struct st_cmd env;
    int rv;
    if (def == NULL) {
        reg_errmsgf(errmsg, "unknown command op %d", op);
        return REG_INVALID_ARGUMENT;
    }
    rv = args_map(args, &m, errmsg);
    if (rv != REG_OK) {
        return rv;
    }
    /* Reset every argument so absent optional fields read as zero, keeping
     * the envelope the caller filled in. */
    env = *cmd;
    memset(cmd, 0, sizeof *cmd);
    cmd->op = (uint16_t)op;
    cmd->client = env.client;
    cmd->seq = env.seq;
    cmd->ts_ms = env.ts_ms;
    cmd->origin = env.origin;
    cmd->caller_admin = env.caller_admin;
    memcpy(cmd->caller_key, env.caller_key, ST_KEY_LEN);
    for (uint8_t i = 0; rv == REG_OK && i < def->n_fields; i++) {
        rv = dec_field(&m, &def->fields[i], cmd, cmd, arena, errmsg);
    }
    if (rv == REG_OK && names_target(def) && cmd->node == 0 && cmd->hostname[0] == '\0') {
        reg_errmsgf(errmsg, "args.node: required (a node id, or args.hostname instead)");
        rv = REG_INVALID_ARGUMENT;
    }
    return rv;
}

int proto_args_encode(struct proto_out *o, const struct proto_op *op,
                      const struct proto_args *a)
{
    if (op->kind == PROTO_OP_WRITE) {
        fail(o, REG_INVALID_ARGUMENT);
        return o->err;
    }
    enc_fields(o, op, a, NULL);
    return o->err;
}

int proto_args_decode(const struct proto_val *args, const struct proto_op *op,
                      struct proto_args *a, char errmsg[static REG_ERRMSG_SIZE])
{
    struct proto_val m;
    int rv = REG_INVALID_ARGUMENT;
    memset(a, 0, sizeof *a);
    if (op->kind == PROTO_OP_WRITE) {
        reg_errmsgf(errmsg, "%s: a write op has no proto_args", op->name);
        return rv;
    }
    rv = args_map(args, &m, errmsg);
    for (uint8_t i = 0; rv == REG_OK && i < op->n_fields; i++) {
        rv = dec_field(&m, &op->fields[i], a, NULL, NULL, errmsg);
    }
    return rv;
}
