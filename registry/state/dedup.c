/* dedup.c: exactly-once application of retried commands. For every client
 * id we keep the last applied seq and the result it produced, so a retry of
 * (client, seq) returns the cached result and changes nothing (DESIGN.md §5).
 *
 * Bounded at ST_DEDUP_CLIENTS_MAX records. When full, the record whose last
 * apply is oldest (ts_ms, ties broken by the lower client id) is evicted:
 * the choice depends only on content, so every replica evicts the same one.
 * A min-heap keyed by (ts, client) finds it in O(log n) per apply. */
#include <string.h>

#include "st_internal.h"

static uint64_t dd_hash(const void *ctx, uint32_t idx)
{
    const struct st__dedup *d = ctx;
    return st__mix64(d->v[idx].client);
}

static bool dd_eq(const void *ctx, uint32_t idx, const void *probe)
{
    const struct st__dedup *d = ctx;
    return d->v[idx].client == *(const uint64_t *)probe;
}

static bool older(const struct st__dedup *d, uint32_t x, uint32_t y)
{
    const struct st__dd *a = &d->v[x], *b = &d->v[y];
    return a->ts < b->ts || (a->ts == b->ts && a->client < b->client);
}

static void heap_set(struct st__dedup *d, uint32_t pos, uint32_t idx)
{
    d->heap[pos] = idx;
    d->v[idx].heap_pos = pos;
}

static void sift_up(struct st__dedup *d, uint32_t pos)
{
    uint32_t idx = d->heap[pos];
    while (pos > 0) {
        uint32_t parent = (pos - 1) / 2;
        if (!older(d, idx, d->heap[parent])) {
            break;
        }
        heap_set(d, pos, d->heap[parent]);
        pos = parent;
    }
    heap_set(d, pos, idx);
}

static void sift_down(struct st__dedup *d, uint32_t pos)
{
    uint32_t idx = d->heap[pos];
    for (;;) {
        uint32_t c = 2 * pos + 1;
        if (c >= d->n) {
            break;
        }
        if (c + 1 < d->n && older(d, d->heap[c + 1], d->heap[c])) {
            c++;
        }
        if (!older(d, d->heap[c], idx)) {
            break;
        }
        heap_set(d, pos, d->heap[c]);
        pos = c;
    }
    heap_set(d, pos, idx);
}

struct st__dd *st__dedup_find(const struct st_state *s, uint64_t client)
{
    const struct st__dedup *d = &s->dedup;
    uint32_t idx = st__ix_find(&d->ix, st__mix64(client), dd_eq, d, &client);
    return idx == UINT32_MAX ? NULL : &d->v[idx];
}

/* Drop the oldest record; the last dense record moves into its place. */
static void evict_oldest(struct st__dedup *d)
{
    uint32_t victim = d->heap[0];
    uint32_t last_pos = d->n - 1;
    st__ix_remove(&d->ix, dd_hash(d, victim), victim, dd_hash, d);
    heap_set(d, 0, d->heap[last_pos]);
    d->n--;
    if (d->n > 0) {
        sift_down(d, 0);
    }
    uint32_t moved = d->n;   /* dense index of the record to move */
    if (moved != victim) {
        st__ix_remove(&d->ix, dd_hash(d, moved), moved, dd_hash, d);
        d->v[victim] = d->v[moved];
        d->heap[d->v[victim].heap_pos] = victim;
        st__ix_insert(&d->ix, dd_hash(d, victim), victim, dd_hash, d);
    }
}

void st__dedup_insert(struct st_state *s, uint64_t client, uint64_t seq, int64_t ts,
                      const struct st_result *res)
{
    struct st__dedup *d = &s->dedup;
    if (d->n == ST_DEDUP_CLIENTS_MAX) {
        evict_oldest(d);
    }
    if (d->n == d->cap) {
        st__grow((void **)&d->v, &d->cap, d->n + 1, sizeof *d->v);
        d->heap = reg_xrealloc(d->heap, (size_t)d->cap * sizeof *d->heap);
    }
    uint32_t idx = d->n++;
    struct st__dd *r = &d->v[idx];
    r->client = client;
    r->seq = seq;
    r->ts = ts;
    r->res = *res;
    r->res.duplicate = false;
    st__ix_insert(&d->ix, dd_hash(d, idx), idx, dd_hash, d);
    heap_set(d, idx, idx);
    sift_up(d, idx);
}

void st__dedup_record(struct st_state *s, const struct st_cmd *cmd, const struct st_result *res)
{
    struct st__dedup *d = &s->dedup;
    struct st__dd *r = st__dedup_find(s, cmd->client);
    if (r == NULL) {
        st__dedup_insert(s, cmd->client, cmd->seq, cmd->ts_ms, res);
        return;
    }
    int64_t old_ts = r->ts;
    r->seq = cmd->seq;
    r->ts = cmd->ts_ms;
    r->res = *res;
    r->res.duplicate = false;
    if (cmd->ts_ms < old_ts) {
        sift_up(d, r->heap_pos);
    } else {
        sift_down(d, r->heap_pos);
    }
}

void st__dedup_free(struct st__dedup *d)
{
    reg_free(d->v);
    reg_free(d->heap);
    st__ix_free(&d->ix);
    memset(d, 0, sizeof *d);
}
