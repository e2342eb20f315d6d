/* snapshot.c: canonical encoding of the whole state (layout in
 * st_internal.h) and the state hash.
 *
 * Canonical means: every collection is written in ascending id order and
 * every field is a function of content alone, so two states with the same
 * content encode to the same bytes whatever history built them. Deltas and
 * varints keep 1M agents under 100 MB. The same writer feeds either a
 * growing buffer (snapshot) or BLAKE2b in 64 KiB chunks (hash), so hashing
 * a large state needs no big allocation. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "st_internal.h"

#define HASH_CHUNK 65536u

struct wbuf {
    uint8_t *p;
    size_t n, cap;
    bool oom;
    crypto_generichash_state *h;  /* hash mode: flush into h */
};

static bool reserve(struct wbuf *w, size_t more)
{
    if (w->n + more <= w->cap) {
        return true;
    }
    if (w->h != NULL && w->n > 0) {
        crypto_generichash_update(w->h, w->p, w->n);
        w->n = 0;
        if (more <= w->cap) {
            return true;
        }
    }
    size_t cap = w->cap < 4096 ? 4096 : w->cap * 2;
    while (cap < w->n + more) {
        cap *= 2;
    }
    uint8_t *p = reg_realloc(w->p, cap);
    if (p == NULL) {
        w->oom = true;
        return false;
    }
    w->p = p;
    w->cap = cap;
    return true;
}

static inline void put_u8(struct wbuf *w, uint8_t v)
{
    if (reserve(w, 1)) {
        w->p[w->n++] = v;
    }
}

static inline void put_v(struct wbuf *w, uint64_t v)
{
    if (!reserve(w, 10)) {
        return;
    }
    while (v >= 0x80) {
        w->p[w->n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    w->p[w->n++] = (uint8_t)v;
}

static inline void put_z(struct wbuf *w, int64_t v)
{
    put_v(w, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

static void put_fixed(struct wbuf *w, uint64_t v, unsigned bytes)
{
    if (reserve(w, bytes)) {
        for (unsigned i = 0; i < bytes; i++) {
            w->p[w->n++] = (uint8_t)(v >> (8 * i));
        }
    }
}

static void put_bytes(struct wbuf *w, const void *b, size_t n)
{
    if (reserve(w, n)) {
        memcpy(w->p + w->n, b, n);
        w->n += n;
    }
}

static void put_s(struct wbuf *w, const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;
    put_v(w, n);
    if (n > 0) {
        put_bytes(w, s, n);
    }
}

static void enc_nodes(struct wbuf *w, const struct st_state *s)
{
    int64_t prev = 0;
    for (uint32_t id = ST_FIRST_NODE_ID; id < s->next_node_id; id++) {
        const struct st__node *n = st__node(s, id);
        put_u8(w, (uint8_t)(n->registered | n->public_ << 1 | n->online << 2));
        put_bytes(w, n->key, ST_KEY_LEN);
        put_z(w, (int64_t)((uint64_t)n->created_ms - (uint64_t)prev));
        put_z(w, (int64_t)((uint64_t)n->last_change_ms - (uint64_t)n->created_ms));
        prev = n->created_ms;
        put_s(w, st__host(n));
        put_s(w, st__endpoint(n));
        put_u8(w, n->n_tags);
        const char *t = n->tags;
        for (uint8_t i = 0; i < n->n_tags; i++) {
            put_s(w, t);
            t += strlen(t) + 1;
        }
    }
}

static void enc_net(struct wbuf *w, const struct st__net *net)
{
    put_u8(w, (uint8_t)(net->enterprise | net->deleted << 1 | net->has_token << 2));
    put_u8(w, net->join_rule);
    put_s(w, net->name);
    put_v(w, net->owner);
    put_z(w, net->created_ms);
    if (net->has_token) {
        put_bytes(w, net->token_hash, ST_HASH_LEN);
    }
    put_v(w, net->n_ports);
    for (uint16_t i = 0; i < net->n_ports; i++) {
        put_v(w, (uint64_t)net->ports[i] - (i > 0 ? net->ports[i - 1] : 0));
    }
    put_v(w, net->max_members);
    put_s(w, net->description);
    put_v(w, net->n_members);
    for (uint32_t i = 0; i < net->n_members; i++) {
        put_v(w, (uint64_t)net->members[i].node - (i > 0 ? net->members[i - 1].node : 0));
        put_u8(w, net->members[i].role);
    }
    put_v(w, net->n_kicked);
    for (uint32_t i = 0; i < net->n_kicked; i++) {
        put_v(w, (uint64_t)net->kicked[i] - (i > 0 ? net->kicked[i - 1] : 0));
    }
    put_v(w, net->audit_n);
    for (uint32_t i = 0; i < net->audit_n; i++) {
        const struct st__audit_rec *r = &net->audit[(net->audit_start + i) % net->audit_cap];
        put_z(w, r->at);
        put_v(w, r->actor);
        put_v(w, r->origin);
        put_u8(w, r->action);
        put_v(w, r->target);
        put_s(w, r->detail);
    }
}

static void enc_networks(struct wbuf *w, const struct st_state *s)
{
    uint32_t count = 0, prev = 0;
    for (uint32_t id = 1; id < s->nets_cap; id++) {
        count += s->nets[id] != NULL;
    }
    put_fixed(w, count, 4);
    for (uint32_t id = 1; id < s->nets_cap; id++) {
        if (s->nets[id] != NULL) {
            put_v(w, id - prev);
            prev = id;
            enc_net(w, s->nets[id]);
        }
    }
}

/* Pairs ordered by (a, b): a node's list is sorted by peer, so its pairs
 * with itself as the low end come in ascending b. */
static void enc_pairs(struct wbuf *w, const struct st_state *s)
{
    uint32_t prev_a = 0, prev_b = 0;
    int64_t prev_at = 0;
    put_fixed(w, s->n_pairs, 4);
    for (uint32_t id = ST_FIRST_NODE_ID; id < s->next_node_id; id++) {
        for (uint32_t l = st__node(s, id)->trust_head; l != ST__NIL;) {
            const struct st__pair *p = &s->pairs[l - 1];
            l = p->a == id ? p->next_a : p->next_b;
            if (p->a != id) {
                continue;
            }
            put_v(w, p->a - prev_a);
            put_v(w, p->a == prev_a ? p->b - prev_b : p->b - p->a);
            unsigned by = p->approved_by == 0       ? 0
                          : p->approved_by == p->a ? 1
                          : p->approved_by == p->b ? 2
                                                   : 3;
            put_u8(w, (uint8_t)(p->mutual | by << 1));
            put_v(w, p->network);
            put_z(w, (int64_t)((uint64_t)p->approved_ms - (uint64_t)prev_at));
            if (by == 3) {
                put_v(w, p->approved_by);
            }
            prev_a = p->a;
            prev_b = p->b;
            prev_at = p->approved_ms;
        }
    }
}

static void enc_pending(struct wbuf *w, const struct st_state *s)
{
    uint32_t count = 0, prev = 0;
    for (uint32_t id = ST_FIRST_NODE_ID; id < s->next_node_id; id++) {
        const struct st__ext *e = st__node(s, id)->ext;
        count += e != NULL && e->n_in > 0;
    }
    put_fixed(w, count, 4);
    for (uint32_t id = ST_FIRST_NODE_ID; id < s->next_node_id; id++) {
        const struct st__ext *e = st__node(s, id)->ext;
        if (e == NULL || e->n_in == 0) {
            continue;
        }
        put_v(w, id - prev);
        prev = id;
        put_v(w, e->n_in);
        for (uint32_t i = 0; i < e->n_in; i++) {
            put_v(w, e->inbox[i].from);
            put_z(w, e->inbox[i].at);
            put_s(w, e->inbox[i].text);
        }
    }
    count = 0;
    prev = 0;
    for (uint32_t id = ST_FIRST_NODE_ID; id < s->next_node_id; id++) {
        const struct st__ext *e = st__node(s, id)->ext;
        count += e != NULL && e->n_outc > 0;
    }
    put_fixed(w, count, 4);
    for (uint32_t id = ST_FIRST_NODE_ID; id < s->next_node_id; id++) {
        const struct st__ext *e = st__node(s, id)->ext;
        if (e == NULL || e->n_outc == 0) {
            continue;
        }
        put_v(w, id - prev);
        prev = id;
        put_v(w, e->n_outc);
        for (uint32_t i = 0; i < e->n_outc; i++) {
            put_v(w, e->outc[i].peer);
            put_z(w, e->outc[i].at);
            put_s(w, e->outc[i].reason);
        }
    }
}

static const struct st__dedup *sort_ctx;

static int cmp_client(const void *a, const void *b)
{
    uint64_t x = sort_ctx->v[*(const uint32_t *)a].client;
    uint64_t y = sort_ctx->v[*(const uint32_t *)b].client;
    return x < y ? -1 : x > y;
}

static void enc_dedup(struct wbuf *w, const struct st_state *s)
{
    const struct st__dedup *d = &s->dedup;
    uint32_t *order = reg_malloc((d->n + 1) * sizeof *order);
    if (order == NULL) {
        w->oom = true;
        return;
    }
    for (uint32_t i = 0; i < d->n; i++) {
        order[i] = i;
    }
    /* st_state has no threads (state.h), so a file-static qsort context is safe. */
    sort_ctx = d;
    qsort(order, d->n, sizeof *order, cmp_client);
    put_fixed(w, d->n, 4);
    uint64_t prev = 0;
    for (uint32_t i = 0; i < d->n; i++) {
        const struct st__dd *r = &d->v[order[i]];
        put_v(w, r->client - prev);
        prev = r->client;
        put_v(w, r->seq);
        put_z(w, r->ts);
        put_v(w, r->res.code);
        put_v(w, r->res.op);
        put_v(w, r->res.node);
        put_v(w, r->res.network);
        put_u8(w, r->res.status);
        put_u8(w, r->res.created);
        put_s(w, r->res.message);
    }
    reg_free(order);
}

static void enc_cluster(struct wbuf *w, const struct st_state *s)
{
    put_fixed(w, s->n_cm, 4);
    for (uint32_t i = 0; i < s->n_cm; i++) {
        put_v(w, s->cm[i].raft_id);
        put_s(w, s->cm[i].name);
        put_s(w, s->cm[i].raft_addr);
        put_s(w, s->cm[i].client_addr);
        put_s(w, s->cm[i].http_addr);
    }
}

static void encode(struct wbuf *w, const struct st_state *s, uint64_t applied)
{
    put_fixed(w, ST__SNAP_MAGIC, 4);
    put_fixed(w, ST__SNAP_VERSION, 4);
    put_fixed(w, applied, 8);
    put_v(w, s->next_node_id);
    put_v(w, s->next_network_id);
    enc_nodes(w, s);
    enc_networks(w, s);
    enc_pairs(w, s);
    enc_pending(w, s);
    enc_dedup(w, s);
    enc_cluster(w, s);
}

int st_snapshot_encode(const struct st_state *s, void **buf, size_t *len)
{
    struct wbuf w = {0};
    /* A first guess near the final size avoids most regrowth copies. */
    if (!reserve(&w, 64 + (size_t)(s->next_node_id - ST_FIRST_NODE_ID) * 80 +
                         (size_t)s->n_pairs * 10 + (size_t)s->n_memberships * 3)) {
        return REG_NOMEM;
    }
    encode(&w, s, s->applied_index);
    if (w.oom) {
        reg_free(w.p);
        return REG_NOMEM;
    }
    *buf = w.p;
    *len = w.n;
    return REG_OK;
}

void st_hash(const struct st_state *s, uint8_t out[static ST_HASH_LEN])
{
    crypto_generichash_state h;
    struct wbuf w = {0};
    crypto_generichash_init(&h, NULL, 0, ST_HASH_LEN);
    w.h = &h;
    w.p = reg_xmalloc(HASH_CHUNK);
    w.cap = HASH_CHUNK;
    encode(&w, s, 0);
    if (w.oom) {
        /* Chunks are bounded, so only the small scratch arrays can fail;
         * a wrong hash would be worse than stopping. */
        abort();
    }
    crypto_generichash_update(&h, w.p, w.n);
    crypto_generichash_final(&h, out, ST_HASH_LEN);
    reg_free(w.p);
}
