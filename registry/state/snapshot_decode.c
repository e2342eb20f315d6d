/* snapshot_decode.c: total decoder of the snapshot format (layout in
 * st_internal.h). Any byte string yields either a fresh state that
 * satisfies every invariant the handlers rely on, or REG_MALFORMED with
 * nothing allocated: a snapshot comes from disk or from a peer, and a bad
 * one must never crash a replica or smuggle in a state no command could
 * have produced (duplicate keys or names, members that do not exist...).
 *
 * Every count is checked against the bytes left before anything is sized
 * from it, so a forged count cannot trigger a huge allocation. */
#include <stdio.h>
#include <string.h>

#include "st_internal.h"

struct rbuf {
    const uint8_t *p;
    size_t n, off;
    const char *bad;          /* first problem, NULL while fine */
    size_t bad_at;
};

static bool fail(struct rbuf *r, const char *what)
{
    if (r->bad == NULL) {
        r->bad = what;
        r->bad_at = r->off;
    }
    return false;
}

static size_t left(const struct rbuf *r)
{
    return r->bad != NULL ? 0 : r->n - r->off;
}

static uint8_t get_u8(struct rbuf *r)
{
    if (left(r) < 1) {
        fail(r, "truncated");
        return 0;
    }
    return r->p[r->off++];
}

static uint64_t get_fixed(struct rbuf *r, unsigned bytes)
{
    uint64_t v = 0;
    if (left(r) < bytes) {
        fail(r, "truncated");
        return 0;
    }
    for (unsigned i = 0; i < bytes; i++) {
        v |= (uint64_t)r->p[r->off++] << (8 * i);
    }
    return v;
}

static uint64_t get_v(struct rbuf *r)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (left(r) < 1) {
            fail(r, "truncated varint");
            return 0;
        }
        uint8_t b = r->p[r->off++];
        if (shift == 63 && b > 1) {
            break;
        }
        v |= (uint64_t)(b & 0x7f) << shift;
        if ((b & 0x80) == 0) {
            return v;
        }
    }
    fail(r, "varint overflow");
    return 0;
}

static int64_t get_z(struct rbuf *r)
{
    uint64_t v = get_v(r);
    return (int64_t)((v >> 1) ^ (~(v & 1) + 1));
}

/* Bounded, NUL-free string into dst (size max + 1). */
static void get_s(struct rbuf *r, char *dst, size_t max)
{
    uint64_t n = get_v(r);
    dst[0] = '\0';
    if (n > max || n > left(r)) {
        fail(r, "string too long");
        return;
    }
    if (memchr(r->p + r->off, '\0', n) != NULL) {
        fail(r, "NUL inside a string");
        return;
    }
    memcpy(dst, r->p + r->off, n);
    dst[n] = '\0';
    r->off += n;
}

/* Varint that must lie in [lo, hi]. */
static uint64_t get_range(struct rbuf *r, uint64_t lo, uint64_t hi, const char *what)
{
    uint64_t v = get_v(r);
    if (r->bad == NULL && (v < lo || v > hi)) {
        fail(r, what);
    }
    return v;
}

static bool printable(const char *s)
{
    for (; *s != '\0'; s++) {
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f) {
            return false;
        }
    }
    return true;
}

/* ---- sections ---------------------------------------------------------------------- */
static bool dec_node(struct rbuf *r, struct st_state *s, uint32_t id, int64_t *prev)
{
    static const uint8_t zero[ST_KEY_LEN];
    char str[ST_ENDPOINT_MAX + 1];
    struct st__node *n = st__node(s, id);
    uint8_t flags = get_u8(r);
    if (flags > 7 || (!(flags & 1) && flags != 0)) {
        return fail(r, "bad node flags");
    }
    if (left(r) < ST_KEY_LEN) {
        return fail(r, "truncated");
    }
    memcpy(n->key, r->p + r->off, ST_KEY_LEN);
    r->off += ST_KEY_LEN;
    if (memcmp(n->key, zero, ST_KEY_LEN) == 0 || st__key_find(s, n->key) != 0) {
        return fail(r, "zero or duplicate node key");
    }
    st__key_index(s, id);
    n->created_ms = (int64_t)((uint64_t)*prev + (uint64_t)get_z(r));
    n->last_change_ms = (int64_t)((uint64_t)n->created_ms + (uint64_t)get_z(r));
    *prev = n->created_ms;
    n->registered = flags & 1;
    n->public_ = (flags >> 1) & 1;
    n->online = (flags >> 2) & 1;
    s->n_registered += n->registered;
    s->n_online += n->online;
    char host[ST_HOSTNAME_MAX + 1];
    get_s(r, host, ST_HOSTNAME_MAX);
    if (host[0] != '\0' && (!n->registered || !st_valid_name(host) || st__host_find(s, host) != 0)) {
        return fail(r, "bad or duplicate hostname");
    }
    get_s(r, str, ST_ENDPOINT_MAX);
    if (str[0] != '\0' && (!n->registered || !printable(str))) {
        return fail(r, "bad endpoint");
    }
    if (r->bad != NULL) {
        return false;
    }
    st__node_set_str(n, host, str);
    if (host[0] != '\0') {
        st__host_index(s, id);
    }
    uint8_t n_tags = get_u8(r);
    if (n_tags > ST_TAGS_MAX || (n_tags > 0 && !n->registered)) {
        return fail(r, "bad tag count");
    }
    char tags[ST_TAGS_MAX * (ST_TAG_MAX + 1)];
    size_t len = 0;
    for (uint8_t i = 0; i < n_tags && r->bad == NULL; i++) {
        get_s(r, str, ST_TAG_MAX);
        if (r->bad != NULL || str[0] == '#' || !st_valid_tag(str)) {
            return fail(r, "bad tag");
        }
        for (size_t off = 0; off < len; off += strlen(tags + off) + 1) {
            if (strcmp(tags + off, str) == 0) {
                return fail(r, "duplicate tag");
            }
        }
        memcpy(tags + len, str, strlen(str) + 1);
        len += strlen(str) + 1;
    }
    if (n_tags > 0 && r->bad == NULL) {
        n->tags = reg_xmalloc(len);
        memcpy(n->tags, tags, len);
        n->n_tags = n_tags;
    }
    return r->bad == NULL;
}

static bool dec_members(struct rbuf *r, struct st_state *s, struct st__net *net)
{
    uint64_t n = get_v(r);
    if (n > left(r) / 2 || (net->deleted && n != 0)) {
        return fail(r, "bad member count");
    }
    net->members = reg_xmalloc((size_t)(n + 1) * sizeof *net->members);
    net->cap_members = (uint32_t)n + 1;
    uint64_t prev = 0;
    uint32_t owners = 0;
    for (uint64_t i = 0; i < n && r->bad == NULL; i++) {
        uint64_t node = prev + get_range(r, i == 0 ? 0 : 1, ST_MAX_NODE_ID, "member order");
        uint8_t role = get_u8(r);
        if (r->bad == NULL && (node > ST_MAX_NODE_ID || st__live(s, (uint32_t)node) == NULL ||
                               role < ST_ROLE_MEMBER ||
                               role > ST_ROLE_OWNER)) {
            return fail(r, "bad member");
        }
        if (role == ST_ROLE_OWNER && node != net->owner) {
            return fail(r, "owner role on a non-owner");
        }
        owners += role == ST_ROLE_OWNER;
        prev = node;
        if (r->bad == NULL) {
            net->members[net->n_members].node = (uint32_t)node;
            net->members[net->n_members].role = role;
            net->n_members++;
            st__node_add_net(st__node(s, (uint32_t)node), net->id);
            s->n_memberships++;
        }
    }
    if (r->bad == NULL && owners != (net->owner != 0)) {
        return fail(r, "owner is not a member");
    }
    n = get_v(r);
    if (n > left(r) || (net->deleted && n != 0)) {
        return fail(r, "bad kicked count");
    }
    net->kicked = reg_xmalloc((size_t)(n + 1) * sizeof *net->kicked);
    net->cap_kicked = (uint32_t)n + 1;
    prev = 0;
    for (uint64_t i = 0; i < n && r->bad == NULL; i++) {
        uint64_t node = prev + get_range(r, i == 0 ? ST_FIRST_NODE_ID : 1, ST_MAX_NODE_ID,
                                         "kicked order");
        if (r->bad == NULL && (node >= s->next_node_id || st__member(net, (uint32_t)node))) {
            return fail(r, "bad kicked node");
        }
        net->kicked[net->n_kicked++] = (uint32_t)node;
        prev = node;
    }
    return r->bad == NULL;
}

static bool dec_audit(struct rbuf *r, struct st__net *net)
{
    char detail[REG_ERRMSG_SIZE];
    uint64_t n = get_v(r);
    if (n > ST_AUDIT_MAX || n > left(r) || (!net->enterprise && n != 0)) {
        return fail(r, "bad audit count");
    }
    for (uint64_t i = 0; i < n && r->bad == NULL; i++) {
        struct st__audit_rec rec = {0};
        rec.at = get_z(r);
        rec.actor = (uint32_t)get_range(r, 0, ST_MAX_NODE_ID, "bad audit actor");
        rec.origin = get_v(r);
        rec.action = get_u8(r);
        rec.target = (uint32_t)get_range(r, 0, ST_MAX_NODE_ID, "bad audit target");
        get_s(r, detail, sizeof detail - 1);
        if (r->bad == NULL && rec.action >= st__n_audit_actions) {
            return fail(r, "bad audit action");
        }
        if (r->bad == NULL) {
            rec.detail = st__strdup(detail);
            st__audit_push(net, &rec);
        }
    }
    return r->bad == NULL;
}

static bool dec_net(struct rbuf *r, struct st_state *s, uint16_t id)
{
    char desc[ST_DESCRIPTION_MAX + 1];
    struct st__net *net = st__net_new(s, id);
    uint8_t flags = get_u8(r);
    net->join_rule = get_u8(r);
    get_s(r, net->name, ST_NETNAME_MAX);
    net->owner = (uint32_t)get_range(r, 0, ST_MAX_NODE_ID, "bad owner");
    net->created_ms = get_z(r);
    net->enterprise = flags & 1;
    net->deleted = (flags >> 1) & 1;
    net->has_token = (flags >> 2) & 1;
    if (r->bad != NULL) {
        return false;
    }
    if (flags > 7 || net->join_rule > ST_JOIN_TOKEN || (net->deleted && !net->enterprise) ||
        (!net->deleted && net->has_token != (net->join_rule == ST_JOIN_TOKEN)) ||
        !st_valid_name(net->name) || (net->deleted && net->owner != 0)) {
        return fail(r, "bad network header");
    }
    if (!net->deleted) {
        if (st__net_find_name(s, net->name) != 0) {
            return fail(r, "duplicate network name");
        }
        /* Index by name only once the record is complete enough to hash. */
        s->n_networks++;
    }
    if (net->has_token) {
        if (left(r) < ST_HASH_LEN) {
            return fail(r, "truncated");
        }
        memcpy(net->token_hash, r->p + r->off, ST_HASH_LEN);
        r->off += ST_HASH_LEN;
    }
    uint64_t n_ports = get_range(r, 0, ST_PORTS_MAX, "bad port count");
    uint16_t ports[ST_PORTS_MAX];
    uint64_t prev = 0;
    for (uint64_t i = 0; i < n_ports && r->bad == NULL; i++) {
        prev += get_range(r, 1, UINT16_MAX, "bad port order");
        if (prev > UINT16_MAX) {
            return fail(r, "bad port");
        }
        ports[i] = (uint16_t)prev;
    }
    net->max_members = (uint32_t)get_range(r, 0, ST_MAX_MEMBERS_LIMIT, "bad max_members");
    get_s(r, desc, ST_DESCRIPTION_MAX);
    if (r->bad != NULL || (net->deleted && (n_ports != 0 || net->max_members != 0 || desc[0]))) {
        return fail(r, "bad policy");
    }
    if (n_ports > 0) {
        net->ports = reg_xmalloc(n_ports * sizeof *ports);
        memcpy(net->ports, ports, n_ports * sizeof *ports);
        net->n_ports = (uint16_t)n_ports;
    }
    net->description = desc[0] != '\0' ? st__strdup(desc) : NULL;
    return dec_members(r, s, net) && dec_audit(r, net);
}

static uint64_t name_hash(const void *ctx, uint32_t id)
{
    const struct st_state *s = ctx;
    return st__hash_bytes(s->nets[id]->name, strlen(s->nets[id]->name));
}

static bool dec_networks(struct rbuf *r, struct st_state *s)
{
    uint64_t n = get_fixed(r, 4);
    uint64_t id = 0;
    if (n >= s->next_network_id) {
        return fail(r, "bad network count");
    }
    for (uint64_t i = 0; i < n && r->bad == NULL; i++) {
        id += get_range(r, 1, ST_MAX_NETWORK_ID, "bad network id");
        if (r->bad == NULL && id >= s->next_network_id) {
            return fail(r, "network id beyond counter");
        }
        if (r->bad == NULL && dec_net(r, s, (uint16_t)id) && !s->nets[id]->deleted) {
            st__ix_insert(&s->netname_ix, name_hash(s, (uint32_t)id), (uint32_t)id, name_hash, s);
        }
    }
    return r->bad == NULL;
}

static bool dec_pairs(struct rbuf *r, struct st_state *s)
{
    uint64_t n = get_fixed(r, 4);
    if (n > left(r) / 5) {
        return fail(r, "bad pair count");
    }
    /* Pairs arrive sorted by (a, b), so each node meets its peers in
     * ascending order: append at a per-node tail to build sorted lists. */
    uint32_t n_nodes = s->next_node_id - ST_FIRST_NODE_ID;
    uint32_t *tail = reg_xcalloc(n_nodes + 1, sizeof *tail);
    uint64_t a = 0, b = 0;
    int64_t at = 0;
    s->pairs = reg_xmalloc((size_t)(n + 1) * sizeof *s->pairs);
    s->pairs_cap = (uint32_t)n + 1;
    st__ix_reserve(&s->pair_ix, (uint32_t)n, NULL, s);
    for (uint64_t i = 0; i < n && r->bad == NULL; i++) {
        uint64_t da = get_v(r);
        uint64_t db = get_v(r);
        uint8_t flags = get_u8(r);
        uint64_t net = get_range(r, 0, ST_MAX_NETWORK_ID, "bad pair network");
        at = (int64_t)((uint64_t)at + (uint64_t)get_z(r));
        if (r->bad != NULL) {
            break;
        }
        if (i > 0 && da == 0 && db == 0) {
            fail(r, "duplicate pair");
            break;
        }
        b = da == 0 && i > 0 ? b + db : a + da + db;
        a += da;
        if (a < ST_FIRST_NODE_ID || b <= a || b >= s->next_node_id || db == 0 || flags > 7) {
            fail(r, "bad pair");
            break;
        }
        unsigned by_kind = flags >> 1;
        uint64_t by = by_kind == 0 ? 0 : by_kind == 1 ? a : by_kind == 2 ? b : get_v(r);
        if (by_kind == 3 && (by == 0 || by == a || by == b || by > ST_MAX_NODE_ID)) {
            fail(r, "bad approver");
            break;
        }
        uint32_t idx = st__pair_alloc(s, (uint32_t)a, (uint32_t)b);
        struct st__pair *p = &s->pairs[idx];
        p->mutual = flags & 1;
        p->network = (uint16_t)net;
        p->approved_ms = at;
        p->approved_by = (uint32_t)by;
        uint32_t ends[2] = {(uint32_t)a, (uint32_t)b};
        for (int k = 0; k < 2; k++) {
            uint32_t *t = &tail[ends[k] - ST_FIRST_NODE_ID];
            if (*t == ST__NIL) {
                st__node(s, ends[k])->trust_head = idx + 1;
            } else {
                struct st__pair *q = &s->pairs[*t - 1];
                *(q->a == ends[k] ? &q->next_a : &q->next_b) = idx + 1;
            }
            *t = idx + 1;
        }
    }
    reg_free(tail);
    return r->bad == NULL;
}

static bool dec_pending(struct rbuf *r, struct st_state *s)
{
    char text[ST_JUSTIFICATION_MAX + 1];
    uint64_t n = get_fixed(r, 4), id = 0;
    if (n > left(r) / 2) {
        return fail(r, "bad inbox count");
    }
    for (uint64_t i = 0; i < n && r->bad == NULL; i++) {
        id += get_range(r, 1, ST_MAX_NODE_ID, "inbox order");
        if (id > ST_MAX_NODE_ID) {
            return fail(r, "inbox order");
        }
        uint64_t k = get_range(r, 1, ST_INBOX_MAX, "bad inbox size");
        struct st__node *to = r->bad == NULL ? st__live(s, (uint32_t)id) : NULL;
        if (r->bad == NULL && to == NULL) {
            return fail(r, "inbox of an unknown node");
        }
        for (uint64_t j = 0; j < k && r->bad == NULL; j++) {
            uint64_t from = get_range(r, ST_FIRST_NODE_ID, ST_MAX_NODE_ID, "bad sender");
            int64_t at = get_z(r);
            get_s(r, text, ST_JUSTIFICATION_MAX);
            struct st__node *fn = r->bad == NULL ? st__live(s, (uint32_t)from) : NULL;
            if (r->bad != NULL) {
                break;
            }
            if (fn == NULL || from == id || st__pair_find(s, (uint32_t)from, (uint32_t)id) ||
                (to->ext != NULL && fn->ext != NULL && fn->ext->n_out > 0 &&
                 fn->ext->outbox[fn->ext->n_out - 1] == id)) {
                return fail(r, "bad pending request");
            }
            struct st__ext *e = st__ext(to);
            st__grow((void **)&e->inbox, &e->cap_in, e->n_in + 1, sizeof *e->inbox);
            e->inbox[e->n_in].from = (uint32_t)from;
            e->inbox[e->n_in].at = at;
            e->inbox[e->n_in].text = st__strdup(text);
            e->n_in++;
            st__outbox_add(fn, (uint32_t)id);
            s->n_pending++;
        }
    }
    char reason[ST_REASON_MAX + 1];
    n = get_fixed(r, 4);
    id = 0;
    if (n > left(r) / 2) {
        return fail(r, "bad outcome count");
    }
    for (uint64_t i = 0; i < n && r->bad == NULL; i++) {
        id += get_range(r, 1, ST_MAX_NODE_ID, "outcome order");
        if (id > ST_MAX_NODE_ID) {
            return fail(r, "outcome order");
        }
        uint64_t k = get_range(r, 1, ST__OUTCOMES_MAX, "bad outcome count");
        struct st__node *nd = r->bad == NULL ? st__live(s, (uint32_t)id) : NULL;
        if (r->bad == NULL && nd == NULL) {
            return fail(r, "outcomes of an unknown node");
        }
        for (uint64_t j = 0; j < k && r->bad == NULL; j++) {
            uint64_t peer = get_range(r, ST_FIRST_NODE_ID, s->next_node_id - 1, "bad peer");
            int64_t at = get_z(r);
            get_s(r, reason, ST_REASON_MAX);
            if (r->bad != NULL) {
                break;
            }
            struct st__ext *e = st__ext(nd);
            for (uint32_t q = 0; q < e->n_outc; q++) {
                if (e->outc[q].peer == peer) {
                    return fail(r, "duplicate outcome");
                }
            }
            st__grow((void **)&e->outc, &e->cap_outc, e->n_outc + 1, sizeof *e->outc);
            e->outc[e->n_outc].peer = (uint32_t)peer;
            e->outc[e->n_outc].at = at;
            e->outc[e->n_outc].reason = st__strdup(reason);
            e->n_outc++;
        }
    }
    return r->bad == NULL;
}

static bool dec_dedup(struct rbuf *r, struct st_state *s)
{
    uint64_t n = get_fixed(r, 4), client = 0;
    if (n > ST_DEDUP_CLIENTS_MAX || n > left(r) / 10) {
        return fail(r, "bad dedup count");
    }
    for (uint64_t i = 0; i < n && r->bad == NULL; i++) {
        struct st_result res = {0};
        uint64_t step = get_range(r, 1, UINT64_MAX, "dedup order");
        if (client + step < client) {
            return fail(r, "dedup order");
        }
        client += step;
        uint64_t seq = get_range(r, 1, UINT64_MAX, "bad seq");
        int64_t ts = get_z(r);
        res.code = (uint16_t)get_range(r, 0, REG_ERR_COUNT - 1, "bad result code");
        res.op = (uint16_t)get_range(r, 0, UINT16_MAX, "bad result op");
        res.node = (uint32_t)get_range(r, 0, UINT32_MAX, "bad result node");
        res.network = (uint32_t)get_range(r, 0, UINT32_MAX, "bad result network");
        res.status = get_u8(r);
        res.created = get_u8(r) != 0;
        get_s(r, res.message, ST_RESULT_MSG_MAX);
        if (r->bad == NULL && res.status > ST_STATUS_RETURNING) {
            return fail(r, "bad dedup record");
        }
        if (r->bad == NULL) {
            st__dedup_insert(s, client, seq, ts, &res);
        }
    }
    return r->bad == NULL;
}

static bool dec_cluster(struct rbuf *r, struct st_state *s)
{
    uint64_t n = get_fixed(r, 4), prev = 0;
    if (n > left(r) / 5) {
        return fail(r, "bad cluster count");
    }
    s->cm = reg_xcalloc((size_t)n + 1, sizeof *s->cm);
    s->cap_cm = (uint32_t)n + 1;
    for (uint64_t i = 0; i < n && r->bad == NULL; i++) {
        struct st_cluster_member *m = &s->cm[i];
        m->raft_id = get_v(r);
        get_s(r, m->name, ST_CLUSTER_NAME_MAX);
        get_s(r, m->raft_addr, ST_ADDR_MAX);
        get_s(r, m->client_addr, ST_ADDR_MAX);
        get_s(r, m->http_addr, ST_ADDR_MAX);
        if (r->bad == NULL && (m->raft_id <= prev || !st__cm_valid(m))) {
            return fail(r, "bad cluster member");
        }
        prev = m->raft_id;
        s->n_cm++;
    }
    return r->bad == NULL;
}

static bool dec_all(struct rbuf *r, struct st_state *s)
{
    if (get_fixed(r, 4) != ST__SNAP_MAGIC) {
        return fail(r, "bad magic");
    }
    if (get_fixed(r, 4) != ST__SNAP_VERSION) {
        return fail(r, "unsupported version");
    }
    s->applied_index = get_fixed(r, 8);
    uint64_t next_node = get_range(r, ST_FIRST_NODE_ID, (uint64_t)ST_MAX_NODE_ID + 1,
                                   "bad node counter");
    uint64_t next_net = get_range(r, 1, ST_MAX_NETWORK_ID + 1, "bad network counter");
    /* Each node record takes at least 38 bytes. */
    if (r->bad != NULL || (next_node - ST_FIRST_NODE_ID) > left(r) / 38) {
        return fail(r, "node counter beyond data");
    }
    uint32_t n_nodes = (uint32_t)(next_node - ST_FIRST_NODE_ID);
    st__nodes_reserve(s, n_nodes + 1);
    s->next_node_id = (uint32_t)next_node;
    s->next_network_id = (uint32_t)next_net;
    st__ix_reserve(&s->key_ix, n_nodes, NULL, s);
    st__ix_reserve(&s->host_ix, n_nodes, NULL, s);
    int64_t prev = 0;
    for (uint32_t id = ST_FIRST_NODE_ID; id < s->next_node_id && r->bad == NULL; id++) {
        dec_node(r, s, id, &prev);
    }
    if (r->bad == NULL && dec_networks(r, s) && dec_pairs(r, s) && dec_pending(r, s) &&
        dec_dedup(r, s) && dec_cluster(r, s) && r->off != r->n) {
        fail(r, "trailing bytes");
    }
    return r->bad == NULL;
}

int st_snapshot_decode(const void *buf, size_t len, struct st_state **out,
                       char errmsg[static REG_ERRMSG_SIZE])
{
    struct rbuf r = {.p = buf, .n = len};
    struct st_state *s = st_new();
    if (!dec_all(&r, s)) {
        reg_errmsgf(errmsg, "snapshot: %s at byte %zu", r.bad, r.bad_at);
        st_free(s);
        return REG_MALFORMED;
    }
    *out = s;
    return REG_OK;
}
