/* reads.c: the query ops (DESIGN.md §5).
 *
 * Default consistency is linearizable: the leader waits for a raft barrier
 * issued after the request arrived (glue_read coalesces concurrent reads
 * onto one barrier), then reads its state inside the callback. Followers
 * never answer such reads themselves (dispatch forwards them), so the
 * access-deciding reads (resolve, authorize, network_members, trust_list)
 * can never be stale unless the caller explicitly asked for
 * consistency=stale; a stale answer carries the applied index it was read
 * at. Access rules live in registry/state: this file only maps ops to
 * queries and encodes their views. */
#include <string.h>

#include "srv_internal.h"

typedef int (*read_fn)(struct srv *s, struct srv__req *r, uint32_t viewer,
                       struct proto_out *o, char errmsg[static REG_ERRMSG_SIZE]);

static int rd_lookup(struct srv *s, struct srv__req *r, uint32_t viewer, struct proto_out *o,
                     char errmsg[static REG_ERRMSG_SIZE])
{
    struct st_node n;
    int rv = st_lookup(s->state, viewer, r->rargs.node, &n);
    if (rv != REG_OK) {
        reg_errmsgf(errmsg, "node %u not found", r->rargs.node);
        return rv;
    }
    return proto_node_encode(o, &n);
}

static int rd_resolve(struct srv *s, struct srv__req *r, uint32_t viewer, struct proto_out *o,
                      char errmsg[static REG_ERRMSG_SIZE])
{
    struct st_node n;
    int rv = st_resolve(s->state, viewer, r->rargs.node, &n);
    if (rv != REG_OK) {
        reg_errmsgf(errmsg, rv == REG_UNAUTHENTICATED ? "the caller is not registered"
                                                      : "node %u not found", r->rargs.node);
        return rv;
    }
    return proto_node_encode(o, &n);
}

static int rd_resolve_hostname(struct srv *s, struct srv__req *r, uint32_t viewer,
                               struct proto_out *o, char errmsg[static REG_ERRMSG_SIZE])
{
    struct st_node n;
    int rv = st_resolve_hostname(s->state, viewer, r->rargs.hostname, &n);
    if (rv != REG_OK) {
        reg_errmsgf(errmsg, rv == REG_UNAUTHENTICATED ? "the caller is not registered"
                                                      : "hostname %s not found",
                    r->rargs.hostname);
        return rv;
    }
    return proto_node_encode(o, &n);
}

/* Data-plane access check: only one of the two ends (or the admin) may ask,
 * so the answer cannot be used to map who trusts whom. */
static int rd_authorize(struct srv *s, struct srv__req *r, uint32_t viewer, struct proto_out *o,
                        char errmsg[static REG_ERRMSG_SIZE])
{
    const struct proto_args *a = &r->rargs;
    if (viewer != 0 && viewer != a->from && viewer != a->to) {
        reg_errmsgf(errmsg, "authorize: the caller must be one of the two nodes");
        return REG_PERMISSION_DENIED;
    }
    bool allowed = st_may_reach(s->state, a->from, a->to, (uint16_t)a->port);
    struct st_node from;
    /* The receiving daemon needs the sender's key to open its packets; it
     * learns it only when the sender may reach it (issue 5). */
    bool with_key = allowed && viewer == a->to && st_node_get(s->state, a->from, &from) == REG_OK;
    proto_put_map(o, with_key ? 2 : 1);
    proto_put_str(o, "allowed");
    proto_put_bool(o, allowed);
    if (with_key) {
        proto_put_str(o, "key");
        proto_put_bin(o, from.key, ST_KEY_LEN);
    }
    return o->err;
}

static int rd_members(struct srv *s, struct srv__req *r, uint32_t viewer, struct proto_out *o,
                      char errmsg[static REG_ERRMSG_SIZE])
{
    struct st_member one, *all = NULL;
    uint32_t total = 0, i;
    uint16_t net = (uint16_t)r->rargs.network;
    int rv = st_network_members(s->state, viewer, net, 0, &one, 0, &total);
    if (rv != REG_OK) {
        reg_errmsgf(errmsg, "network %u: %s", net, reg_strerror(rv));
        goto out;
    }
    all = reg_malloc(sizeof *all * (total == 0 ? 1 : total));
    if (all == NULL) {
        rv = REG_NOMEM;
        goto out;
    }
    rv = st_network_members(s->state, viewer, net, 0, all, total, &total);
    if (rv != REG_OK) {
        goto out;
    }
    proto_put_map(o, 3);
    proto_put_str(o, "network_id");
    proto_put_u64(o, net);
    proto_put_str(o, "total");
    proto_put_u64(o, total);
    proto_put_str(o, "members");
    proto_put_array(o, total);
    for (i = 0; i < total; i++) {
        proto_member_encode(o, &all[i]);
    }
    rv = o->err;
out:
    reg_free(all);
    return rv;
}

static int rd_network_list(struct srv *s, struct srv__req *r, uint32_t viewer,
                           struct proto_out *o, char errmsg[static REG_ERRMSG_SIZE])
{
    struct st_network n;
    uint32_t count = 0;
    uint16_t after = 0;
    (void)r;
    (void)viewer;
    (void)errmsg;
    while (st_network_next(s->state, after, &n)) {
        count++;
        after = n.id;
    }
    proto_put_map(o, 1);
    proto_put_str(o, "networks");
    proto_put_array(o, count);
    after = 0;
    while (count-- > 0 && st_network_next(s->state, after, &n)) {
        proto_network_encode(o, &n);
        after = n.id;
    }
    return o->err;
}

static int rd_policy_get(struct srv *s, struct srv__req *r, uint32_t viewer, struct proto_out *o,
                         char errmsg[static REG_ERRMSG_SIZE])
{
    struct st_network n;
    int rv = st_network_get(s->state, (uint16_t)r->rargs.network, &n);
    (void)viewer;
    if (rv != REG_OK) {
        reg_errmsgf(errmsg, "network %u not found", r->rargs.network);
        return rv;
    }
    return proto_network_encode(o, &n);
}

static int rd_audit(struct srv *s, struct srv__req *r, uint32_t viewer, struct proto_out *o,
                    char errmsg[static REG_ERRMSG_SIZE])
{
    struct st_audit *recs;
    uint32_t limit = r->rargs.limit == 0 ? ST_AUDIT_LIMIT_DEFAULT : r->rargs.limit;
    uint32_t n = 0, i;
    uint16_t net = (uint16_t)r->rargs.network;
    int rv;
    if (limit > ST_AUDIT_MAX) {
        limit = ST_AUDIT_MAX;
    }
    recs = reg_malloc(sizeof *recs * limit);
    if (recs == NULL) {
        return REG_NOMEM;
    }
    rv = st_network_audit(s->state, viewer, net, recs, limit, &n);
    if (rv != REG_OK) {
        reg_errmsgf(errmsg, "network %u: %s", net, reg_strerror(rv));
        goto out;
    }
    proto_put_map(o, 2);
    proto_put_str(o, "network_id");
    proto_put_u64(o, net);
    proto_put_str(o, "records");
    proto_put_array(o, n);
    for (i = 0; i < n; i++) {
        proto_audit_encode(o, &recs[i]);
    }
    rv = o->err;
out:
    reg_free(recs);
    return rv;
}

/* A network as a blueprint: its owner/admins (or the cluster admin) only,
 * since it lists every member's role. */
static int rd_blueprint(struct srv *s, struct srv__req *r, uint32_t viewer, struct proto_out *o,
                        char errmsg[static REG_ERRMSG_SIZE])
{
    struct st_network n;
    struct st_blueprint bp;
    struct st_member *all = NULL, one;
    struct st_blueprint_role *roles = NULL;
    uint32_t total = 0, i, k = 0;
    uint16_t net = (uint16_t)r->rargs.network;
    int rv = st_network_get(s->state, net, &n);
    if (rv != REG_OK) {
        reg_errmsgf(errmsg, "network %u not found", net);
        goto out;
    }
    if (viewer != 0 && st_network_role(s->state, net, viewer) < ST_ROLE_ADMIN) {
        reg_errmsgf(errmsg, "only the owner or an admin of network %u may export it", net);
        rv = REG_PERMISSION_DENIED;
        goto out;
    }
    rv = st_network_members(s->state, 0, net, 0, &one, 0, &total);
    if (rv != REG_OK) {
        goto out;
    }
    all = reg_malloc(sizeof *all * (total == 0 ? 1 : total));
    roles = reg_malloc(sizeof *roles * (total == 0 ? 1 : total));
    if (all == NULL || roles == NULL) {
        rv = REG_NOMEM;
        goto out;
    }
    rv = st_network_members(s->state, 0, net, 0, all, total, &total);
    if (rv != REG_OK) {
        goto out;
    }
    for (i = 0; i < total && k < ST_BLUEPRINT_ROLES_MAX; i++) {
        if (all[i].role == ST_ROLE_ADMIN || all[i].role == ST_ROLE_MEMBER) {
            roles[k].node = all[i].node;
            roles[k].role = all[i].role;
            k++;
        }
    }
    memset(&bp, 0, sizeof bp);
    snprintf(bp.name, sizeof bp.name, "%s", n.name);
    bp.join_rule = n.join_rule;
    bp.enterprise = n.enterprise;
    bp.policy.has_allowed_ports = true;
    bp.policy.n_ports = n.n_ports > ST_PORTS_MAX ? ST_PORTS_MAX : n.n_ports;
    for (i = 0; i < bp.policy.n_ports; i++) {
        bp.policy.ports[i] = n.ports[i];
    }
    bp.policy.has_max_members = true;
    bp.policy.max_members = n.max_members;
    bp.policy.has_description = true;
    snprintf(bp.policy.description, sizeof bp.policy.description, "%s", n.description);
    bp.n_roles = k;
    bp.roles = roles;
    rv = proto_blueprint_encode(o, &bp);
out:
    reg_free(all);
    reg_free(roles);
    return rv;
}

static int rd_trust(struct srv *s, struct srv__req *r, uint32_t viewer, struct proto_out *o,
                    char errmsg[static REG_ERRMSG_SIZE])
{
    struct st_trust t;
    uint32_t total, i;
    (void)r;
    (void)errmsg;
    total = st_trust_list(s->state, viewer, 0, &t, 0);
    proto_put_map(o, 1);
    proto_put_str(o, "trust");
    proto_put_array(o, total);
    for (i = 0; i < total; i++) {
        st_trust_list(s->state, viewer, i, &t, 1);
        proto_trust_encode(o, &t);
    }
    return o->err;
}

static int rd_pending(struct srv *s, struct srv__req *r, uint32_t viewer, struct proto_out *o,
                      char errmsg[static REG_ERRMSG_SIZE])
{
    struct st_pending p;
    struct st_outcome x;
    uint32_t n, i;
    (void)r;
    (void)errmsg;
    proto_put_map(o, 3);
    proto_put_str(o, "incoming");
    n = st_pending_in(s->state, viewer, 0, &p, 0);
    proto_put_array(o, n);
    for (i = 0; i < n; i++) {
        st_pending_in(s->state, viewer, i, &p, 1);
        proto_pending_encode(o, &p);
    }
    proto_put_str(o, "outgoing");
    n = st_pending_out(s->state, viewer, 0, &p, 0);
    proto_put_array(o, n);
    for (i = 0; i < n; i++) {
        st_pending_out(s->state, viewer, i, &p, 1);
        proto_pending_encode(o, &p);
    }
    proto_put_str(o, "outcomes");
    n = st_outcomes(s->state, viewer, 0, &x, 0);
    proto_put_array(o, n);
    for (i = 0; i < n; i++) {
        st_outcomes(s->state, viewer, i, &x, 1);
        proto_outcome_encode(o, &x);
    }
    return o->err;
}

static int rd_whoami(struct srv *s, struct srv__req *r, uint32_t viewer, struct proto_out *o,
                     char errmsg[static REG_ERRMSG_SIZE])
{
    char addr[PROTO_ADDR_STRLEN];
    uint32_t node = viewer == UINT32_MAX ? 0 : viewer;
    (void)errmsg;
    if (r->ident.admin && r->ident.has_key) {
        node = st_node_by_key(s->state, r->ident.key);
        if (!st_node_exists(s->state, node)) {
            node = 0;
        }
    }
    proto_addr_format(0, node, addr);
    proto_put_map(o, 3);
    proto_put_str(o, "node_id");
    proto_put_u64(o, node);
    proto_put_str(o, "admin");
    proto_put_bool(o, r->ident.admin);
    proto_put_str(o, "address");
    proto_put_str(o, node != 0 ? addr : "");
    return o->err;
}

/* The replicated members map joined with the raft configuration: a member
 * of either appears once, with role "none" if it is not in raft's
 * configuration (yet, or any more). */
static int rd_cluster_members(struct srv *s, struct srv__req *r, uint32_t viewer,
                              struct proto_out *o, char errmsg[static REG_ERRMSG_SIZE])
{
    struct glue_server conf[GLUE_MAX_PEERS * 4];
    struct st_cluster_member *mm = NULL;
    uint32_t nm, i, j, extra = 0;
    unsigned nc = glue_configuration(s->glue, conf, sizeof conf / sizeof conf[0]);
    int rv = REG_OK;
    (void)r;
    (void)viewer;
    (void)errmsg;
    nm = st_cluster_members(s->state, NULL, 0);
    mm = reg_malloc(sizeof *mm * (nm == 0 ? 1 : nm));
    if (mm == NULL) {
        return REG_NOMEM;
    }
    nm = st_cluster_members(s->state, mm, nm);
    for (j = 0; j < nc; j++) {
        for (i = 0; i < nm && mm[i].raft_id != conf[j].id; i++) {
        }
        extra += i == nm;
    }
    proto_put_map(o, 1);
    proto_put_str(o, "members");
    proto_put_array(o, nm + extra);
    for (i = 0; i < nm; i++) {
        const char *role = "none";
        for (j = 0; j < nc; j++) {
            if (conf[j].id == mm[i].raft_id) {
                role = glue_role_name(conf[j].role);
            }
        }
        proto_put_map(o, 6);
        proto_put_str(o, "raft_id");
        proto_put_u64(o, mm[i].raft_id);
        proto_put_str(o, "name");
        proto_put_str(o, mm[i].name);
        proto_put_str(o, "raft_addr");
        proto_put_str(o, mm[i].raft_addr);
        proto_put_str(o, "client_addr");
        proto_put_str(o, mm[i].client_addr);
        proto_put_str(o, "http_addr");
        proto_put_str(o, mm[i].http_addr);
        proto_put_str(o, "role");
        proto_put_str(o, role);
    }
    for (j = 0; j < nc; j++) {
        for (i = 0; i < nm && mm[i].raft_id != conf[j].id; i++) {
        }
        if (i < nm) {
            continue;
        }
        proto_put_map(o, 6);
        proto_put_str(o, "raft_id");
        proto_put_u64(o, conf[j].id);
        proto_put_str(o, "name");
        proto_put_str(o, "");
        proto_put_str(o, "raft_addr");
        proto_put_str(o, conf[j].address);
        proto_put_str(o, "client_addr");
        proto_put_str(o, "");
        proto_put_str(o, "http_addr");
        proto_put_str(o, "");
        proto_put_str(o, "role");
        proto_put_str(o, glue_role_name(conf[j].role));
    }
    rv = o->err;
    reg_free(mm);
    return rv;
}

static const struct {
    const char *name;
    read_fn fn;
} readers[] = {
    {"lookup", rd_lookup},
    {"resolve", rd_resolve},
    {"resolve_hostname", rd_resolve_hostname},
    {"authorize", rd_authorize},
    {"network_members", rd_members},
    {"network_list", rd_network_list},
    {"network_policy_get", rd_policy_get},
    {"network_audit", rd_audit},
    {"blueprint_export", rd_blueprint},
    {"trust_list", rd_trust},
    {"pending", rd_pending},
    {"whoami", rd_whoami},
    {"cluster_members", rd_cluster_members},
};

void srv__read_serve(struct srv__req *r, bool stale)
{
    struct srv *s = r->srv;
    struct proto_out o;
    struct proto_response rs;
    char errmsg[REG_ERRMSG_SIZE] = "";
    uint8_t small[2048];
    void *buf = NULL;
    size_t len = 0, i;
    read_fn fn = NULL;
    uint32_t viewer;
    int rv;
    (void)stale;
    if (strcmp(r->op->name, "cluster_status") == 0) {
        srv__cluster_status(r);
        return;
    }
    for (i = 0; i < sizeof readers / sizeof readers[0] && fn == NULL; i++) {
        if (strcmp(readers[i].name, r->op->name) == 0) {
            fn = readers[i].fn;
        }
    }
    if (fn == NULL) {
        srv__reply_error(r, REG_INVALID_ARGUMENT, "op %s is not served by this node",
                         r->op->name);
        return;
    }
    viewer = srv__viewer(s, &r->ident);
    /* Most views are small: encode them on the stack; a view that does not
     * fit is encoded again into a growing buffer (readers only read). */
    proto_out_fixed(&o, small, sizeof small);
    rv = fn(s, r, viewer, &o, errmsg);
    if (rv == REG_OK && o.err == REG_OK) {
        buf = small;
        len = o.len;
    } else if (o.err != REG_OK && o.err != REG_TOO_LARGE) {
        rv = o.err;
    } else if (o.err == REG_TOO_LARGE) {
        errmsg[0] = '\0';
        proto_out_grow(&o);
        rv = fn(s, r, viewer, &o, errmsg);
        if (rv == REG_OK) {
            rv = proto_out_take(&o, &buf, &len);
        }
        proto_out_free(&o);
    }
    if (rv != REG_OK) {
        srv__reply_error(r, rv, "%s", errmsg[0] ? errmsg : reg_strerror(rv));
        return;
    }
    memset(&rs, 0, sizeof rs);
    rs.ok = true;
    rs.has_result = true;
    rs.result.p = buf;
    rs.result.len = len;
    rs.result.type = PROTO_T_MAP;
    rs.has_index = true;
    rs.index = st_applied_index(s->state);
    srv__reply_rs(r, &rs, NULL, NULL);
    if (buf != small) {
        reg_free(buf);
    }
}

static void read_ready(void *data, int status)
{
    struct srv__req *r = data;
    if (status == REG_OK) {
        srv__read_serve(r, false);
    } else if (status == REG_NOT_LEADER) {
        if (srv__at_leader(r)) {
            srv__reply_error(r, REG_NOT_LEADER, "leadership lost while reading");
        }
    } else {
        srv__reply_error(r, status, "read not served");
    }
}

void srv__read_start(struct srv__req *r)
{
    int rv;
    if (strcmp(r->op->name, "cluster_status") == 0) {
        srv__cluster_status(r);
        return;
    }
    rv = glue_read(r->srv->glue, read_ready, r);
    if (rv == REG_OK) {
        return;
    }
    if (rv == REG_NOT_LEADER && srv__at_leader(r)) {
        srv__reply_error(r, REG_NOT_LEADER, "not the leader");
        return;
    }
    if (rv != REG_NOT_LEADER) {
        srv__reply_error(r, rv, "read not served");
    }
}
