/* query.c: read-only views of the state and the access rule.
 *
 * st_may_reach is the rule of DESIGN.md §6, checked at resolve, connection
 * acceptance and datagram delivery: B is reachable by A on port P iff B is
 * public, or {A, B} is a trust pair, or A and B share a network other than
 * the backbone whose allowed_ports is empty or contains P (P = 0: any port,
 * so one shared network is enough). Nothing is transitive: only the two
 * nodes' own records are consulted.
 *
 * Privacy of the directory (v-new strict mode, registry-reference.md §3.2):
 * a private node is visible only to itself, to whoever may reach it, and to
 * the cluster admin (viewer 0); to everyone else it is REG_NOT_FOUND, the
 * same answer as for a missing node. */
#include <string.h>

#include "st_internal.h"

static bool port_allowed(const struct st__net *net, uint16_t port)
{
    if (port == 0 || net->n_ports == 0) {
        return true;
    }
    uint32_t lo = 0, hi = net->n_ports;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (net->ports[mid] < port) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo < net->n_ports && net->ports[lo] == port;
}

bool st_may_reach(const struct st_state *s, uint32_t a, uint32_t b, uint16_t port)
{
    /* The three lookups below hit unrelated cache lines; start loading the
     * trust slot while the node records are checked. */
    uint64_t h = st__mix64(st__pair_key(a, b));
    if (s->pair_ix.slots != NULL) {
        __builtin_prefetch(&s->pair_ix.slots[h & s->pair_ix.mask]);
        __builtin_prefetch(&s->pair_ix.tags[h & s->pair_ix.mask]);
    }
    const struct st__node *na = st__live(s, a), *nb = st__live(s, b);
    if (na == NULL || nb == NULL) {
        return false;
    }
    if (nb->public_) {
        return true;
    }
    /* Shared networks first: they need only the two records in hand. */
    const uint16_t *x = st__nets_of(na), *y = st__nets_of(nb);
    uint32_t i = 0, j = 0;
    while (i < na->n_nets && j < nb->n_nets) {
        if (x[i] == y[j]) {
            if (port_allowed(s->nets[x[i]], port)) {
                return true;
            }
            i++;
            j++;
        } else if (x[i] < y[j]) {
            i++;
        } else {
            j++;
        }
    }
    return st__pair_find(s, a, b) != NULL;
}

bool st_trusted(const struct st_state *s, uint32_t a, uint32_t b)
{
    return st__pair_find(s, a, b) != NULL;
}

/* ---- nodes ----------------------------------------------------------------------- */
uint32_t st_node_by_key(const struct st_state *s, const uint8_t key[static ST_KEY_LEN])
{
    return st__key_find(s, key);
}

bool st_node_exists(const struct st_state *s, uint32_t id)
{
    return st__live(s, id) != NULL;
}

int st_node_get(const struct st_state *s, uint32_t id, struct st_node *out)
{
    const struct st__node *n = st__live(s, id);
    if (n == NULL) {
        return REG_NOT_FOUND;
    }
    memset(out, 0, sizeof *out);
    out->id = id;
    memcpy(out->key, n->key, ST_KEY_LEN);
    out->hostname = st__host(n);
    out->endpoint = st__endpoint(n);
    out->public_ = n->public_;
    out->online = n->online;
    out->created_ms = n->created_ms;
    out->last_change_ms = n->last_change_ms;
    out->n_tags = n->n_tags;
    const char *t = n->tags;
    for (uint8_t i = 0; i < n->n_tags; i++) {
        out->tags[i] = t;
        t += strlen(t) + 1;
    }
    out->n_networks = n->n_nets;
    out->networks = st__nets_of(n);
    return REG_OK;
}

int st_lookup(const struct st_state *s, uint32_t viewer, uint32_t id, struct st_node *out)
{
    if (st__live(s, id) == NULL) {
        return REG_NOT_FOUND;
    }
    bool reach = viewer == 0 || st_may_reach(s, viewer, id, 0);
    if (!reach && viewer != id) {
        return REG_NOT_FOUND;
    }
    st_node_get(s, id, out);
    if (!reach && viewer != id) {
        out->endpoint = "";
    }
    return REG_OK;
}

int st_resolve(const struct st_state *s, uint32_t viewer, uint32_t id, struct st_node *out)
{
    if (viewer != 0 && st__live(s, viewer) == NULL) {
        return REG_UNAUTHENTICATED;
    }
    if (st__live(s, id) == NULL || (viewer != 0 && !st_may_reach(s, viewer, id, 0))) {
        return REG_NOT_FOUND;
    }
    return st_node_get(s, id, out);
}

int st_resolve_hostname(const struct st_state *s, uint32_t viewer, const char *hostname,
                        struct st_node *out)
{
    if (viewer != 0 && st__live(s, viewer) == NULL) {
        return REG_UNAUTHENTICATED;
    }
    if (hostname == NULL || strnlen(hostname, ST_HOSTNAME_MAX + 1) > ST_HOSTNAME_MAX) {
        return REG_NOT_FOUND;
    }
    uint32_t id = st__host_find(s, hostname);
    if (id == 0) {
        return REG_NOT_FOUND;
    }
    return st_resolve(s, viewer, id, out);
}

/* ---- networks ---------------------------------------------------------------------- */
static void net_view(const struct st_state *s, const struct st__net *net, struct st_network *out)
{
    memset(out, 0, sizeof *out);
    if (net == NULL) {
        out->name = "backbone";
        out->join_rule = ST_JOIN_OPEN;
        out->n_members = (uint32_t)s->n_registered;
        out->description = "";
        return;
    }
    out->id = net->id;
    out->name = net->name;
    out->join_rule = net->join_rule;
    out->enterprise = net->enterprise;
    out->owner = net->owner;
    out->n_members = net->n_members;
    out->created_ms = net->created_ms;
    out->n_ports = net->n_ports;
    out->ports = net->ports;
    out->max_members = net->max_members;
    out->description = net->description != NULL ? net->description : "";
}

int st_network_get(const struct st_state *s, uint16_t id, struct st_network *out)
{
    const struct st__net *net = st__net(s, id);
    if (id != 0 && net == NULL) {
        return REG_NOT_FOUND;
    }
    net_view(s, net, out);
    return REG_OK;
}

bool st_network_next(const struct st_state *s, uint16_t after, struct st_network *out)
{
    for (uint32_t id = (uint32_t)after + 1; id < s->nets_cap; id++) {
        const struct st__net *net = st__net(s, id);
        if (net != NULL) {
            net_view(s, net, out);
            return true;
        }
    }
    return false;
}

int st_network_members(const struct st_state *s, uint32_t viewer, uint16_t id, uint32_t from,
                       struct st_member *out, uint32_t cap, uint32_t *total)
{
    *total = 0;
    if (id == 0) {
        /* The backbone lists every node: the cluster admin only. */
        if (viewer != 0) {
            return REG_PERMISSION_DENIED;
        }
        uint32_t k = 0;
        for (uint32_t nid = ST_FIRST_NODE_ID; nid < s->next_node_id; nid++) {
            if (st__live(s, nid) == NULL) {
                continue;
            }
            if (k >= from && k - from < cap) {
                out[k - from].node = nid;
                out[k - from].role = ST_ROLE_MEMBER;
            }
            k++;
        }
        *total = k;
        return REG_OK;
    }
    const struct st__net *net = st__net(s, id);
    if (net == NULL) {
        return REG_NOT_FOUND;
    }
    if (viewer != 0 && st__member(net, viewer) == NULL) {
        return REG_PERMISSION_DENIED;
    }
    for (uint32_t i = from; i < net->n_members && i - from < cap; i++) {
        out[i - from].node = net->members[i].node;
        out[i - from].role = net->members[i].role;
    }
    *total = net->n_members;
    return REG_OK;
}

uint8_t st_network_role(const struct st_state *s, uint16_t id, uint32_t node)
{
    const struct st__net *net = st__net(s, id);
    const struct st__member *m = net != NULL ? st__member(net, node) : NULL;
    return m != NULL ? m->role : ST_ROLE_NONE;
}

bool st_network_kicked(const struct st_state *s, uint16_t id, uint32_t node)
{
    const struct st__net *net = st__net(s, id);
    return net != NULL && st__kicked(net, node);
}

int st_network_audit(const struct st_state *s, uint32_t viewer, uint16_t id,
                     struct st_audit *out, uint32_t limit, uint32_t *n_out)
{
    *n_out = 0;
    const struct st__net *net = id < s->nets_cap ? s->nets[id] : NULL;
    /* A deleted network's audit stays readable by the cluster admin only. */
    if (net == NULL || (net->deleted && viewer != 0)) {
        return REG_NOT_FOUND;
    }
    if (!net->enterprise) {
        return REG_FAILED_PRECONDITION;
    }
    const struct st__member *m = viewer != 0 ? st__member(net, viewer) : NULL;
    if (viewer != 0 && (m == NULL || (m->role != ST_ROLE_OWNER && m->role != ST_ROLE_ADMIN))) {
        return REG_PERMISSION_DENIED;
    }
    if (limit > ST_AUDIT_MAX) {
        limit = ST_AUDIT_MAX;
    }
    uint32_t n = net->audit_n < limit ? net->audit_n : limit;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t k = (net->audit_start + net->audit_n - 1 - i) % net->audit_cap;
        const struct st__audit_rec *r = &net->audit[k];
        out[i].at_ms = r->at;
        out[i].actor = r->actor;
        out[i].origin = r->origin;
        out[i].action = st__audit_actions[r->action];
        out[i].target = r->target;
        out[i].detail = r->detail;
    }
    *n_out = n;
    return REG_OK;
}

/* ---- trust ------------------------------------------------------------------------- */
uint32_t st_trust_list(const struct st_state *s, uint32_t node, uint32_t from,
                       struct st_trust *out, uint32_t cap)
{
    const struct st__node *n = st__node(s, node);
    uint32_t k = 0;
    for (uint32_t l = n != NULL ? n->trust_head : ST__NIL; l != ST__NIL; k++) {
        const struct st__pair *p = &s->pairs[l - 1];
        if (k >= from && k - from < cap) {
            struct st_trust *t = &out[k - from];
            t->peer = p->a == node ? p->b : p->a;
            t->mutual = p->mutual;
            t->network = p->network;
            t->approved_ms = p->approved_ms;
            t->approved_by = p->approved_by;
        }
        l = p->a == node ? p->next_a : p->next_b;
    }
    return k;
}

static void pend_view(const struct st__pend *p, uint32_t to, struct st_pending *out)
{
    out->from = p->from;
    out->to = to;
    out->justification = p->text;
    out->received_ms = p->at;
}

uint32_t st_pending_in(const struct st_state *s, uint32_t node, uint32_t from,
                       struct st_pending *out, uint32_t cap)
{
    const struct st__node *n = st__node(s, node);
    const struct st__ext *e = n != NULL ? n->ext : NULL;
    if (e == NULL) {
        return 0;
    }
    for (uint32_t i = from; i < e->n_in && i - from < cap; i++) {
        pend_view(&e->inbox[i], node, &out[i - from]);
    }
    return e->n_in;
}

uint32_t st_pending_out(const struct st_state *s, uint32_t node, uint32_t from,
                        struct st_pending *out, uint32_t cap)
{
    const struct st__node *n = st__node(s, node);
    const struct st__ext *e = n != NULL ? n->ext : NULL;
    if (e == NULL) {
        return 0;
    }
    for (uint32_t i = from; i < e->n_out && i - from < cap; i++) {
        const struct st__ext *te = st__node(s, e->outbox[i])->ext;
        for (uint32_t j = 0; j < te->n_in; j++) {
            if (te->inbox[j].from == node) {
                pend_view(&te->inbox[j], e->outbox[i], &out[i - from]);
            }
        }
    }
    return e->n_out;
}

uint32_t st_outcomes(const struct st_state *s, uint32_t node, uint32_t from,
                     struct st_outcome *out, uint32_t cap)
{
    const struct st__node *n = st__node(s, node);
    const struct st__ext *e = n != NULL ? n->ext : NULL;
    if (e == NULL) {
        return 0;
    }
    for (uint32_t i = from; i < e->n_outc && i - from < cap; i++) {
        out[i - from].peer = e->outc[i].peer;
        out[i - from].reason = e->outc[i].reason;
        out[i - from].at_ms = e->outc[i].at;
    }
    return e->n_outc;
}
