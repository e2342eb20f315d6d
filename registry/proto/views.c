/* views.c: result maps of writes (struct st_result) and of the query views
 * (struct st_node, st_network, ...), both directions in one place so the
 * server that encodes and the pilotctl that prints cannot disagree. Decoded
 * strings and arrays live in the caller's arena. */
#include <string.h>

#include "proto.h"

#define ACTION_MAX 64
#define DETAIL_MAX 1024

static int need_map(const struct proto_val *v, char *errmsg)
{
    if (v->type != PROTO_T_MAP) {
        reg_errmsgf(errmsg, "%s: wrong type (want map)", v->path[0] ? v->path : "result");
        return REG_INVALID_ARGUMENT;
    }
    return REG_OK;
}

static void put_s(struct proto_out *o, const char *s, size_t max)
{
    proto_put_strn(o, s == NULL ? "" : s, s == NULL ? 0 : strnlen(s, max));
}

/* Optional string copied into the arena; absent gives "". */
static int get_astr(const struct proto_val *m, const char *key, size_t max,
                    struct proto_arena *arena, const char **out, char *errmsg)
{
    const char *s = NULL;
    size_t n = 0;
    int rv = proto_get_strv(m, key, 0, max, &s, &n, errmsg);
    if (rv != REG_OK) {
        return rv;
    }
    char *d = proto_arena_alloc(arena, n + 1);
    if (d == NULL) {
        reg_errmsgf(errmsg, "%s: out of memory", key);
        return REG_NOMEM;
    }
    if (n > 0) {
        memcpy(d, s, n);
    }
    *out = d;
    return REG_OK;
}

/* ---- Write results ----------------------------------------------------------*/

int proto_result_encode(struct proto_out *o, const struct st_result *res)
{
    bool created = res->op == ST_CMD_BLUEPRINT_APPLY;
    const char *status = proto_status_name(res->status);
    if (status == NULL) {
        if (o->err == REG_OK) {
            o->err = REG_INVALID_ARGUMENT;
        }
        return o->err;
    }
    proto_put_map(o, (uint32_t)(res->node != 0) + (res->network != 0) +
                         (res->status != ST_STATUS_NONE) + created + res->duplicate);
    if (res->node != 0) {
        proto_put_str(o, "node_id");
        proto_put_u64(o, res->node);
    }
    if (res->network != 0) {
        proto_put_str(o, "network_id");
        proto_put_u64(o, res->network);
    }
    if (res->status != ST_STATUS_NONE) {
        proto_put_str(o, "status");
        proto_put_str(o, status);
    }
    if (created) {
        proto_put_str(o, "created");
        proto_put_bool(o, res->created);
    }
    if (res->duplicate) {
        proto_put_str(o, "duplicate");
        proto_put_bool(o, true);
    }
    return o->err;
}

int proto_result_decode(const struct proto_val *v, int op, struct st_result *res,
                        char errmsg[static REG_ERRMSG_SIZE])
{
    const char *s = NULL;
    size_t n = 0;
    memset(res, 0, sizeof *res);
    res->op = (uint16_t)op;
    int rv = need_map(v, errmsg);
    if (rv == REG_OK) {
        rv = proto_get_u32(v, "node_id", 0, UINT32_MAX, &res->node, errmsg);
    }
    if (rv == REG_OK) {
        rv = proto_get_u32(v, "network_id", 0, ST_MAX_NETWORK_ID, &res->network, errmsg);
    }
    if (rv == REG_OK) {
        rv = proto_get_strv(v, "status", 0, 32, &s, &n, errmsg);
    }
    if (rv == REG_OK && s != NULL) {
        int st = proto_status_from_name(s, n);
        if (st < 0) {
            reg_errmsgf(errmsg, "status: unknown \"%.*s\"", (int)n, s);
            rv = REG_INVALID_ARGUMENT;
        } else {
            res->status = (uint8_t)st;
        }
    }
    if (rv == REG_OK) {
        rv = proto_get_bool(v, "created", 0, &res->created, errmsg);
    }
    if (rv == REG_OK) {
        rv = proto_get_bool(v, "duplicate", 0, &res->duplicate, errmsg);
    }
    return rv;
}

/* ---- Nodes ---------------------------------------------------------------------*/

int proto_node_encode(struct proto_out *o, const struct st_node *n)
{
    char addr[PROTO_ADDR_STRLEN];
    uint8_t n_tags = n->n_tags > ST_TAGS_MAX ? ST_TAGS_MAX : n->n_tags;
    uint32_t n_nets = n->networks == NULL ? 0 : n->n_networks;
    proto_addr_format(0, n->id, addr);
    proto_put_map(o, 11);
    proto_put_str(o, "node_id");
    proto_put_u64(o, n->id);
    proto_put_str(o, "address");
    proto_put_str(o, addr);
    proto_put_str(o, "public_key");
    proto_put_bin(o, n->key, ST_KEY_LEN);
    proto_put_str(o, "hostname");
    put_s(o, n->hostname, ST_HOSTNAME_MAX);
    proto_put_str(o, "endpoint");
    put_s(o, n->endpoint, ST_ENDPOINT_MAX);
    proto_put_str(o, "public");
    proto_put_bool(o, n->public_);
    proto_put_str(o, "online");
    proto_put_bool(o, n->online);
    proto_put_str(o, "created");
    proto_put_i64(o, n->created_ms);
    proto_put_str(o, "last_change");
    proto_put_i64(o, n->last_change_ms);
    proto_put_str(o, "tags");
    proto_put_array(o, n_tags);
    for (uint8_t i = 0; i < n_tags; i++) {
        put_s(o, n->tags[i], ST_TAG_MAX);
    }
    proto_put_str(o, "networks");
    proto_put_array(o, n_nets);
    for (uint32_t i = 0; i < n_nets; i++) {
        proto_put_u64(o, n->networks[i]);
    }
    return o->err;
}

static int node_lists(const struct proto_val *v, struct st_node *n, struct proto_arena *arena,
                      char *errmsg)
{
    struct proto_val arr, e;
    struct proto_iter it;
    int rv = proto_get_array(v, "tags", 0, ST_TAGS_MAX, &arr, errmsg);
    if (rv != REG_OK) {
        return rv;
    }
    proto_iter_init(&it, &arr);
    while (rv == REG_OK && proto_iter_next(&it, &e)) {
        const char *s = NULL;
        size_t len = 0;
        rv = proto_val_strv(&e, ST_TAG_MAX, &s, &len, errmsg);
        char *d = rv == REG_OK ? proto_arena_alloc(arena, len + 1) : NULL;
        if (rv == REG_OK && d == NULL) {
            reg_errmsgf(errmsg, "%s: out of memory", e.path);
            rv = REG_NOMEM;
        } else if (rv == REG_OK) {
            memcpy(d, s, len);
            n->tags[n->n_tags++] = d;
        }
    }
    if (rv == REG_OK) {
        rv = proto_get_array(v, "networks", 0, ST_MAX_NETWORK_ID, &arr, errmsg);
    }
    if (rv != REG_OK || arr.type == PROTO_T_NONE || arr.n == 0) {
        return rv;
    }
    uint16_t *nets = proto_arena_alloc(arena, arr.n * sizeof *nets);
    if (nets == NULL) {
        reg_errmsgf(errmsg, "%s: out of memory", arr.path);
        return REG_NOMEM;
    }
    proto_iter_init(&it, &arr);
    while (rv == REG_OK && proto_iter_next(&it, &e)) {
        uint64_t id = 0;
        rv = proto_val_u64(&e, ST_MAX_NETWORK_ID, &id, errmsg);
        nets[n->n_networks++] = (uint16_t)id;
    }
    n->networks = nets;
    return rv;
}

int proto_node_decode(const struct proto_val *v, struct st_node *n, struct proto_arena *arena,
                      char errmsg[static REG_ERRMSG_SIZE])
{
    memset(n, 0, sizeof *n);
    n->hostname = n->endpoint = "";
    int rv = need_map(v, errmsg);
    if (rv == REG_OK) {
        rv = proto_get_u32(v, "node_id", PROTO_REQ, UINT32_MAX, &n->id, errmsg);
    }
    if (rv == REG_OK) {
        rv = proto_get_bin(v, "public_key", 0, ST_KEY_LEN, n->key, errmsg);
    }
    if (rv == REG_OK) {
        rv = get_astr(v, "hostname", ST_HOSTNAME_MAX, arena, &n->hostname, errmsg);
    }
    if (rv == REG_OK) {
        rv = get_astr(v, "endpoint", ST_ENDPOINT_MAX, arena, &n->endpoint, errmsg);
    }
    if (rv == REG_OK) {
        rv = proto_get_bool(v, "public", 0, &n->public_, errmsg);
    }
    if (rv == REG_OK) {
        rv = proto_get_bool(v, "online", 0, &n->online, errmsg);
    }
    if (rv == REG_OK) {
        rv = proto_get_i64(v, "created", 0, &n->created_ms, errmsg);
    }
    if (rv == REG_OK) {
        rv = proto_get_i64(v, "last_change", 0, &n->last_change_ms, errmsg);
    }
    if (rv == REG_OK) {
        rv = node_lists(v, n, arena, errmsg);
    }
    return rv;
}

/* ---- Networks and members -------------------------------------------------------*/

int proto_network_encode(struct proto_out *o, const struct st_network *n)
{
    uint16_t n_ports = n->ports == NULL ? 0 : n->n_ports;
    const char *rule = proto_join_rule_name(n->join_rule);
    proto_put_map(o, 10);
    proto_put_str(o, "network_id");
    proto_put_u64(o, n->id);
    proto_put_str(o, "name");
    put_s(o, n->name, ST_NETNAME_MAX);
    proto_put_str(o, "join_rule");
    proto_put_str(o, rule == NULL ? "open" : rule);
    proto_put_str(o, "enterprise");
    proto_put_bool(o, n->enterprise);
    proto_put_str(o, "owner");
    proto_put_u64(o, n->owner);
    proto_put_str(o, "members");
    proto_put_u64(o, n->n_members);
    proto_put_str(o, "created");
    proto_put_i64(o, n->created_ms);
    proto_put_str(o, "allowed_ports");
    proto_put_array(o, n_ports);
    for (uint16_t i = 0; i < n_ports; i++) {
        proto_put_u64(o, n->ports[i]);
    }
    proto_put_str(o, "max_members");
    proto_put_u64(o, n->max_members);
    proto_put_str(o, "description");
    put_s(o, n->description, ST_DESCRIPTION_MAX);
    return o->err;
}

static int network_ports(const struct proto_val *v, struct st_network *n,
                         struct proto_arena *arena, char *errmsg)
{
    struct proto_val arr, e;
    struct proto_iter it;
    int rv = proto_get_array(v, "allowed_ports", 0, ST_PORTS_MAX, &arr, errmsg);
    if (rv != REG_OK || arr.type == PROTO_T_NONE || arr.n == 0) {
        return rv;
    }
    uint16_t *ports = proto_arena_alloc(arena, arr.n * sizeof *ports);
    if (ports == NULL) {
        reg_errmsgf(errmsg, "%s: out of memory", arr.path);
        return REG_NOMEM;
    }
    proto_iter_init(&it, &arr);
    while (rv == REG_OK && proto_iter_next(&it, &e)) {
        uint64_t p = 0;
        rv = proto_val_u64(&e, 65535, &p, errmsg);
        ports[n->n_ports++] = (uint16_t)p;
    }
    n->ports = ports;
    return rv;
}

int proto_network_decode(const struct proto_val *v, struct st_network *n,
                         struct proto_arena *arena, char errmsg[static REG_ERRMSG_SIZE])
{
    const char *s = NULL;
    size_t len = 0;
    uint32_t id = 0;
    memset(n, 0, sizeof *n);
    n->name = n->description = "";
    int rv = need_map(v, errmsg);
    if (rv == REG_OK) {
        rv = proto_get_u32(v, "network_id", PROTO_REQ, ST_MAX_NETWORK_ID, &id, errmsg);
        n->id = (uint16_t)id;
    }
    if (rv == REG_OK) {
        rv = get_astr(v, "name", ST_NETNAME_MAX, arena, &n->name, errmsg);
    }
    if (rv == REG_OK) {
        rv = proto_get_strv(v, "join_rule", 0, 16, &s, &len, errmsg);
    }
    if (rv == REG_OK && s != NULL) {
        int r = proto_join_rule_from_name(s, len);
        if (r < 0) {
            reg_errmsgf(errmsg, "join_rule: unknown \"%.*s\"", (int)len, s);
            rv = REG_INVALID_ARGUMENT;
        }
        n->join_rule = (uint8_t)(r < 0 ? 0 : r);
    }
    if (rv == REG_OK) {
        rv = proto_get_bool(v, "enterprise", 0, &n->enterprise, errmsg);
    }
    if (rv == REG_OK) {
        rv = proto_get_u32(v, "owner", 0, UINT32_MAX, &n->owner, errmsg);
    }
    if (rv == REG_OK) {
        rv = proto_get_u32(v, "members", 0, UINT32_MAX, &n->n_members, errmsg);
    }
    if (rv == REG_OK) {
        rv = proto_get_i64(v, "created", 0, &n->created_ms, errmsg);
    }
    if (rv == REG_OK) {
        rv = network_ports(v, n, arena, errmsg);
    }
    if (rv == REG_OK) {
        rv = proto_get_u32(v, "max_members", 0, ST_MAX_MEMBERS_LIMIT, &n->max_members, errmsg);
    }
    if (rv == REG_OK) {
        rv = get_astr(v, "description", ST_DESCRIPTION_MAX, arena, &n->description, errmsg);
    }
    return rv;
}

int proto_member_encode(struct proto_out *o, const struct st_member *m)
{
    const char *role = proto_role_name(m->role);
    proto_put_map(o, 2);
    proto_put_str(o, "node_id");
    proto_put_u64(o, m->node);
    proto_put_str(o, "role");
    proto_put_str(o, role == NULL ? "none" : role);
    return o->err;
}

int proto_member_decode(const struct proto_val *v, struct st_member *m,
                        char errmsg[static REG_ERRMSG_SIZE])
{
    const char *s = NULL;
    size_t n = 0;
    memset(m, 0, sizeof *m);
    int rv = need_map(v, errmsg);
    if (rv == REG_OK) {
        rv = proto_get_u32(v, "node_id", PROTO_REQ, UINT32_MAX, &m->node, errmsg);
    }
    if (rv == REG_OK) {
        rv = proto_get_strv(v, "role", 0, 16, &s, &n, errmsg);
    }
    if (rv == REG_OK && s != NULL) {
        int r = proto_role_from_name(s, n);
        if (r < 0) {
            reg_errmsgf(errmsg, "role: unknown \"%.*s\"", (int)n, s);
            rv = REG_INVALID_ARGUMENT;
        }
        m->role = (uint8_t)(r < 0 ? 0 : r);
    }
    return rv;
}

/* ---- Trust, pending handshakes, outcomes, audit -----------------------------------*/

int proto_trust_encode(struct proto_out *o, const struct st_trust *t)
{
    proto_put_map(o, 5);
    proto_put_str(o, "node_id");
    proto_put_u64(o, t->peer);
    proto_put_str(o, "mutual");
    proto_put_bool(o, t->mutual);
    proto_put_str(o, "network");
    proto_put_u64(o, t->network);
    proto_put_str(o, "approved_at");
    proto_put_i64(o, t->approved_ms);
    proto_put_str(o, "approved_by");
    proto_put_u64(o, t->approved_by);
    return o->err;
}

int proto_trust_decode(const struct proto_val *v, struct st_trust *t,
                       char errmsg[static REG_ERRMSG_SIZE])
{
    uint32_t net = 0;
    memset(t, 0, sizeof *t);
    int rv = need_map(v, errmsg);
    if (rv == REG_OK) {
        rv = proto_get_u32(v, "node_id", PROTO_REQ, UINT32_MAX, &t->peer, errmsg);
    }
    if (rv == REG_OK) {
        rv = proto_get_bool(v, "mutual", 0, &t->mutual, errmsg);
    }
    if (rv == REG_OK) {
        rv = proto_get_u32(v, "network", 0, ST_MAX_NETWORK_ID, &net, errmsg);
        t->network = (uint16_t)net;
    }
    if (rv == REG_OK) {
        rv = proto_get_i64(v, "approved_at", 0, &t->approved_ms, errmsg);
    }
    if (rv == REG_OK) {
        rv = proto_get_u32(v, "approved_by", 0, UINT32_MAX, &t->approved_by, errmsg);
    }
    return rv;
}

int proto_pending_encode(struct proto_out *o, const struct st_pending *p)
{
    proto_put_map(o, 4);
    proto_put_str(o, "from");
    proto_put_u64(o, p->from);
    proto_put_str(o, "to");
    proto_put_u64(o, p->to);
    proto_put_str(o, "justification");
    put_s(o, p->justification, ST_JUSTIFICATION_MAX);
    proto_put_str(o, "received_at");
    proto_put_i64(o, p->received_ms);
    return o->err;
}

int proto_pending_decode(const struct proto_val *v, struct st_pending *p,
                         struct proto_arena *arena, char errmsg[static REG_ERRMSG_SIZE])
{
    memset(p, 0, sizeof *p);
    p->justification = "";
    int rv = need_map(v, errmsg);
    if (rv == REG_OK) {
        rv = proto_get_u32(v, "from", PROTO_REQ, UINT32_MAX, &p->from, errmsg);
    }
    if (rv == REG_OK) {
        rv = proto_get_u32(v, "to", PROTO_REQ, UINT32_MAX, &p->to, errmsg);
    }
    if (rv == REG_OK) {
        rv = get_astr(v, "justification", ST_JUSTIFICATION_MAX, arena, &p->justification,
                      errmsg);
    }
    if (rv == REG_OK) {
        rv = proto_get_i64(v, "received_at", 0, &p->received_ms, errmsg);
    }
    return rv;
}

int proto_outcome_encode(struct proto_out *o, const struct st_outcome *x)
{
    proto_put_map(o, 3);
    proto_put_str(o, "node_id");
    proto_put_u64(o, x->peer);
    proto_put_str(o, "reason");
    put_s(o, x->reason, ST_REASON_MAX);
    proto_put_str(o, "at");
    proto_put_i64(o, x->at_ms);
    return o->err;
}

int proto_outcome_decode(const struct proto_val *v, struct st_outcome *x,
                         struct proto_arena *arena, char errmsg[static REG_ERRMSG_SIZE])
{
    memset(x, 0, sizeof *x);
    x->reason = "";
    int rv = need_map(v, errmsg);
    if (rv == REG_OK) {
        rv = proto_get_u32(v, "node_id", PROTO_REQ, UINT32_MAX, &x->peer, errmsg);
    }
    if (rv == REG_OK) {
        rv = get_astr(v, "reason", ST_REASON_MAX, arena, &x->reason, errmsg);
    }
    if (rv == REG_OK) {
        rv = proto_get_i64(v, "at", 0, &x->at_ms, errmsg);
    }
    return rv;
}

int proto_audit_encode(struct proto_out *o, const struct st_audit *a)
{
    proto_put_map(o, 6);
    proto_put_str(o, "at");
    proto_put_i64(o, a->at_ms);
    proto_put_str(o, "actor");
    proto_put_u64(o, a->actor);
    proto_put_str(o, "origin");
    proto_put_u64(o, a->origin);
    proto_put_str(o, "action");
    put_s(o, a->action, ACTION_MAX);
    proto_put_str(o, "target");
    proto_put_u64(o, a->target);
    proto_put_str(o, "detail");
    put_s(o, a->detail, DETAIL_MAX);
    return o->err;
}

int proto_audit_decode(const struct proto_val *v, struct st_audit *a,
                       struct proto_arena *arena, char errmsg[static REG_ERRMSG_SIZE])
{
    memset(a, 0, sizeof *a);
    a->action = a->detail = "";
    int rv = need_map(v, errmsg);
    if (rv == REG_OK) {
        rv = proto_get_i64(v, "at", 0, &a->at_ms, errmsg);
    }
    if (rv == REG_OK) {
        rv = proto_get_u32(v, "actor", 0, UINT32_MAX, &a->actor, errmsg);
    }
    if (rv == REG_OK) {
        rv = proto_get_u64(v, "origin", 0, UINT64_MAX, &a->origin, errmsg);
    }
    if (rv == REG_OK) {
        rv = get_astr(v, "action", ACTION_MAX, arena, &a->action, errmsg);
    }
    if (rv == REG_OK) {
        rv = proto_get_u32(v, "target", 0, UINT32_MAX, &a->target, errmsg);
    }
    if (rv == REG_OK) {
        rv = get_astr(v, "detail", DETAIL_MAX, arena, &a->detail, errmsg);
    }
    return rv;
}
