/* Linearizability search: Wing & Gong's backtracking with Lowe's
 * memoisation, per partition (Horn & Kroening's P-compositionality: a
 * history is linearizable iff each independent key's sub-history is).
 *
 * A partition's calls become a doubly linked list of call and return
 * entries ordered by time, calls before returns at equal times (intervals
 * are closed, so ops touching at one instant are concurrent). The search
 * walks the list: at a call it tries to apply the op to the current state;
 * if that is legal and the pair (set of linearized ops, new state) has not
 * been seen, it lifts the op out of the list, pushes it and restarts from
 * the head. Reaching a return entry means that op's window closed without
 * it being linearized, so the last choice is undone. Info ops return at
 * +infinity and need not be linearized at all: once every ok op is placed,
 * the rest may take effect after everything observed, or never. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "checker.h"
#include "internal.h"

#define DEFAULT_STEPS 2000000
#define DEFAULT_MS 10000

struct entry {
    int64_t time;
    int is_call;
    size_t id; /* index into the partition's calls */
    struct entry *match;
    struct entry *prev;
    struct entry *next;
};

/* ---- Memo: hash set of (bitset, state) ---------------------------------- */

struct memo {
    unsigned char *arena; /* records of rec_size bytes */
    size_t rec_size;
    size_t count;
    size_t arena_cap; /* in records */
    size_t *slots;    /* record index + 1; 0 = empty */
    uint64_t *hashes;
    size_t mask;
};

static int memo_init(struct memo *m, size_t rec_size)
{
    memset(m, 0, sizeof(*m));
    m->rec_size = rec_size;
    m->mask = 1023;
    m->slots = reg_calloc(m->mask + 1, sizeof(*m->slots));
    m->hashes = reg_calloc(m->mask + 1, sizeof(*m->hashes));
    return m->slots && m->hashes ? REG_OK : REG_NOMEM;
}

static void memo_free(struct memo *m)
{
    reg_free(m->arena);
    reg_free(m->slots);
    reg_free(m->hashes);
    memset(m, 0, sizeof(*m));
}

static int memo_grow(struct memo *m)
{
    size_t mask = 2 * m->mask + 1;
    size_t *slots = reg_calloc(mask + 1, sizeof(*slots));
    uint64_t *hashes = reg_calloc(mask + 1, sizeof(*hashes));

    if (slots == NULL || hashes == NULL) {
        reg_free(slots);
        reg_free(hashes);
        return REG_NOMEM;
    }
    for (size_t i = 0; i <= m->mask; i++) {
        size_t j;
        if (m->slots[i] == 0) {
            continue;
        }
        j = (size_t)m->hashes[i] & mask;
        while (slots[j] != 0) {
            j = (j + 1) & mask;
        }
        slots[j] = m->slots[i];
        hashes[j] = m->hashes[i];
    }
    reg_free(m->slots);
    reg_free(m->hashes);
    m->slots = slots;
    m->hashes = hashes;
    m->mask = mask;
    return REG_OK;
}

/* 1 if rec was added, 0 if it was already there, -1 when out of memory. */
static int memo_add(struct memo *m, const unsigned char *rec, uint64_t h)
{
    size_t i;

    if (2 * (m->count + 1) > m->mask + 1 && memo_grow(m) != REG_OK) {
        return -1;
    }
    i = (size_t)h & m->mask;
    while (m->slots[i] != 0) {
        if (m->hashes[i] == h &&
            memcmp(m->arena + (m->slots[i] - 1) * m->rec_size, rec, m->rec_size) == 0) {
            return 0;
        }
        i = (i + 1) & m->mask;
    }
    if (m->count == m->arena_cap) {
        size_t cap = m->arena_cap ? 2 * m->arena_cap : 256;
        unsigned char *a = reg_realloc(m->arena, cap * m->rec_size);
        if (a == NULL) {
            return -1;
        }
        m->arena = a;
        m->arena_cap = cap;
    }
    memcpy(m->arena + m->count * m->rec_size, rec, m->rec_size);
    m->slots[i] = ++m->count;
    m->hashes[i] = h;
    return 1;
}

/* ---- One partition -------------------------------------------------------- */

struct part {
    const struct jc_model *model;
    const struct jc_opts *opts;
    const struct jc_call *calls; /* all prepared calls */
    const struct jc_pairs *pairs;
    const size_t *ids;           /* this partition's call indexes */
    size_t n;
    /* outputs */
    enum jc_verdict verdict;
    uint64_t steps;
    uint64_t cached;
    size_t *best;                /* longest linearizable prefix (local ids) */
    size_t best_len;
    size_t blocker;              /* local id, or SIZE_MAX */
    unsigned char best_state[JC_STATE_MAX];
};

static int cmp_entry(const void *a, const void *b)
{
    const struct entry *x = a;
    const struct entry *y = b;

    if (x->time != y->time) {
        return x->time < y->time ? -1 : 1;
    }
    if (x->is_call != y->is_call) {
        return x->is_call ? -1 : 1;
    }
    return x->id < y->id ? -1 : (x->id > y->id ? 1 : 0);
}

static void lift(struct entry *e)
{
    struct entry *m = e->match;

    e->prev->next = e->next;
    e->next->prev = e->prev;
    m->prev->next = m->next;
    if (m->next != NULL) {
        m->next->prev = m->prev;
    }
}

static void unlift(struct entry *e)
{
    struct entry *m = e->match;

    m->prev->next = m;
    if (m->next != NULL) {
        m->next->prev = m;
    }
    e->prev->next = e;
    e->next->prev = e;
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int search(struct part *p)
{
    const struct jc_model *m = p->model;
    size_t n = p->n;
    size_t words = (n + 63) / 64;
    size_t ss = m->state_size;
    size_t rec_size = words * 8 + ss;
    struct entry *ents = reg_calloc(2 * n + 1, sizeof(*ents));
    struct entry **stack = reg_malloc((n + 1) * sizeof(*stack));
    unsigned char *states = reg_malloc((n + 2) * ss);
    unsigned char *rec = reg_calloc(1, rec_size);
    uint64_t *bits = (uint64_t *)(void *)rec;
    struct memo memo;
    struct entry head;
    struct entry *e;
    size_t depth = 0;
    size_t remaining = 0;
    int64_t max_steps = p->opts->budget_steps > 0 ? p->opts->budget_steps : DEFAULT_STEPS;
    int64_t max_ms = p->opts->budget_ms > 0 ? p->opts->budget_ms : DEFAULT_MS;
    int64_t start = now_ms();
    int rv = REG_NOMEM;

    p->blocker = SIZE_MAX;
    p->best_len = 0;
    p->best = reg_malloc((n + 1) * sizeof(*p->best));
    if (memo_init(&memo, rec_size) != REG_OK || ents == NULL || stack == NULL ||
        states == NULL || rec == NULL || p->best == NULL) {
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const struct jc_pair *pr = &p->pairs->p[p->calls[p->ids[i]].pair];
        ents[2 * i] = (struct entry){pr->call, 1, i, NULL, NULL, NULL};
        ents[2 * i + 1] = (struct entry){pr->ret, 0, i, NULL, NULL, NULL};
        if (!(p->calls[p->ids[i]].flags & JC_CALL_UNKNOWN)) {
            remaining++;
        }
    }
    jc__sort(ents, 2 * n, sizeof(*ents), cmp_entry);
    {
        /* Matching after sorting: remember where each id's call landed. */
        size_t *call_pos = reg_malloc((n + 1) * sizeof(*call_pos));
        if (call_pos == NULL) {
            goto out;
        }
        for (size_t i = 0; i < 2 * n; i++) {
            if (ents[i].is_call) {
                call_pos[ents[i].id] = i;
            }
        }
        for (size_t i = 0; i < 2 * n; i++) {
            if (!ents[i].is_call) {
                ents[call_pos[ents[i].id]].match = &ents[i];
            }
        }
        reg_free(call_pos);
    }
    head = (struct entry){INT64_MIN, 0, SIZE_MAX, NULL, NULL, n ? &ents[0] : NULL};
    for (size_t i = 0; i < 2 * n; i++) {
        ents[i].prev = i ? &ents[i - 1] : &head;
        ents[i].next = i + 1 < 2 * n ? &ents[i + 1] : NULL;
    }
    m->init(states, p->opts);
    memcpy(p->best_state, states, ss);
    e = head.next;
    p->verdict = JC_UNKNOWN;
    for (;;) {
        if (remaining == 0) {
            p->verdict = JC_VALID;
            break;
        }
        if ((int64_t)++p->steps > max_steps ||
            ((p->steps & 4095) == 0 && now_ms() - start > max_ms)) {
            p->verdict = JC_UNKNOWN;
            break;
        }
        if (e != NULL && e->is_call) {
            const struct jc_call *c = &p->calls[p->ids[e->id]];
            unsigned char *cur = states + depth * ss;
            unsigned char *nxt = states + (depth + 1) * ss;
            if (m->step(cur, c, nxt)) {
                int added;
                bits[e->id / 64] |= 1ull << (e->id % 64);
                memcpy(rec + words * 8, nxt, ss);
                added = memo_add(&memo, rec, jc__hash_bytes(bits, words * 8) ^ m->hash(nxt));
                if (added < 0) {
                    goto out;
                }
                if (added) {
                    stack[depth++] = e;
                    lift(e);
                    if (!(c->flags & JC_CALL_UNKNOWN)) {
                        remaining--;
                    }
                    if (depth > p->best_len) {
                        p->best_len = depth;
                        for (size_t i = 0; i < depth; i++) {
                            p->best[i] = stack[i]->id;
                        }
                        memcpy(p->best_state, nxt, ss);
                        p->blocker = SIZE_MAX;
                    }
                    e = head.next;
                    continue;
                }
                bits[e->id / 64] &= ~(1ull << (e->id % 64));
            }
            e = e->next;
            continue;
        }
        /* A return entry (or the end): this op's window closed unplaced. */
        if (e != NULL && depth == p->best_len && p->blocker == SIZE_MAX) {
            p->blocker = e->id;
        }
        if (depth == 0) {
            p->verdict = JC_INVALID;
            break;
        }
        e = stack[--depth];
        bits[e->id / 64] &= ~(1ull << (e->id % 64));
        unlift(e);
        if (!(p->calls[p->ids[e->id]].flags & JC_CALL_UNKNOWN)) {
            remaining++;
        }
        e = e->next;
    }
    p->cached = memo.count;
    rv = REG_OK;
out:
    memo_free(&memo);
    reg_free(ents);
    reg_free(stack);
    reg_free(states);
    reg_free(rec);
    return rv;
}

/* ---- Partitioning and the public entry point ---------------------------- */

struct sort_ctx_item {
    const struct jc_call *call;
    size_t id;
};

static int cmp_by_key(const void *a, const void *b)
{
    const struct sort_ctx_item *x = a;
    const struct sort_ctx_item *y = b;
    int c = jc_val_cmp(x->call->key, y->call->key);

    if (c != 0) {
        return c;
    }
    return x->id < y->id ? -1 : (x->id > y->id ? 1 : 0);
}

static void report_invalid(const struct jc_history *h, const struct jc_pairs *pairs,
                           const struct jc_call *calls, struct part *p,
                           struct jc_lin_result *res)
{
    char state[96];
    char key[64];
    char val[64];
    const struct jc_pair *bp;

    res->prefix = reg_malloc((p->best_len + 1) * sizeof(*res->prefix));
    if (res->prefix != NULL) {
        for (size_t i = 0; i < p->best_len; i++) {
            res->prefix[i] = h->ops[pairs->p[calls[p->ids[p->best[i]]].pair].inv].index;
        }
        res->prefix_len = p->best_len;
    }
    p->model->describe(p->best_state, state, sizeof(state));
    jc_val_format(calls[p->ids[0]].key, key, sizeof(key));
    if (p->blocker == SIZE_MAX) {
        res->fail_op = JC_ABSENT;
        reg_errmsgf(res->msg, "key %s: not linearizable after %zu ops (%s)", key, p->best_len,
                    state);
        return;
    }
    bp = &pairs->p[calls[p->ids[p->blocker]].pair];
    res->fail_op = h->ops[bp->inv].index;
    jc_val_format(bp->done != SIZE_MAX ? &h->ops[bp->done].value : &h->ops[bp->inv].value, val,
                  sizeof(val));
    reg_errmsgf(res->msg,
                "key %s: op %" PRId64 " (%s -> %s) cannot be linearized after the longest "
                "linearizable prefix of %zu ops; state there: %s",
                key, res->fail_op, h->ops[bp->inv].f, val, p->best_len, state);
}

int jc_check_linearizable(const struct jc_history *h, const struct jc_pairs *pairs,
                          const struct jc_model *m, const struct jc_opts *opts,
                          struct jc_lin_result *res, char errmsg[static REG_ERRMSG_SIZE])
{
    static const struct jc_opts no_opts;
    struct jc_call *calls = NULL;
    struct sort_ctx_item *items = NULL;
    size_t *ids = NULL;
    size_t n = 0;
    int rv;

    memset(res, 0, sizeof(*res));
    res->fail_op = JC_ABSENT;
    if (opts == NULL) {
        opts = &no_opts;
    }
    if (m->state_size > JC_STATE_MAX) {
        reg_errmsgf(errmsg, "model %s: state of %zu bytes exceeds %d", m->name, m->state_size,
                    JC_STATE_MAX);
        return REG_INVALID_ARGUMENT;
    }
    rv = jc_prepare(h, pairs, m, opts, &calls, errmsg);
    if (rv != REG_OK) {
        return rv;
    }
    rv = REG_NOMEM;
    items = reg_malloc((pairs->n + 1) * sizeof(*items));
    ids = reg_malloc((pairs->n + 1) * sizeof(*ids));
    if (items == NULL || ids == NULL) {
        reg_errmsgf(errmsg, "linearizability: out of memory");
        goto out;
    }
    for (size_t i = 0; i < pairs->n; i++) {
        uint32_t f = calls[i].flags;
        /* Failed ops did not happen; reads with unknown output constrain
         * nothing. Dropping both is sound and shrinks the search. */
        if ((f & (JC_CALL_FAILED | JC_CALL_PROBE)) || ((f & JC_CALL_READ) && (f & JC_CALL_UNKNOWN))) {
            continue;
        }
        items[n].call = &calls[i];
        items[n].id = i;
        n++;
    }
    jc__sort(items, n, sizeof(*items), cmp_by_key);
    for (size_t i = 0; i < n; i++) {
        ids[i] = items[i].id;
    }
    res->ops = n;
    res->verdict = JC_VALID;
    for (size_t lo = 0; lo < n;) {
        size_t hi = lo + 1;
        struct part p;
        while (hi < n && jc_val_cmp(items[hi].call->key, items[lo].call->key) == 0) {
            hi++;
        }
        memset(&p, 0, sizeof(p));
        p.model = m;
        p.opts = opts;
        p.calls = calls;
        p.pairs = pairs;
        p.ids = ids + lo;
        p.n = hi - lo;
        if (search(&p) != REG_OK) {
            reg_free(p.best);
            reg_errmsgf(errmsg, "linearizability: out of memory in a partition of %zu ops", p.n);
            goto out;
        }
        res->partitions++;
        res->steps += p.steps;
        res->cache_entries += p.cached;
        if (p.n > res->max_partition) {
            res->max_partition = p.n;
        }
        if (p.verdict == JC_UNKNOWN) {
            char key[64];
            res->unknown_partitions++;
            if (res->verdict == JC_VALID) {
                res->verdict = JC_UNKNOWN;
                jc_val_format(items[lo].call->key, key, sizeof(key));
                reg_errmsgf(res->msg, "key %s: budget exhausted after %" PRIu64
                            " steps on %zu ops", key, p.steps, p.n);
            }
        } else if (p.verdict == JC_INVALID) {
            res->verdict = JC_INVALID;
            report_invalid(h, pairs, calls, &p, res);
            reg_free(p.best);
            break;
        }
        reg_free(p.best);
        lo = hi;
    }
    if (res->verdict == JC_VALID) {
        reg_errmsgf(res->msg, "%zu ops in %zu partitions (largest %zu), %" PRIu64 " steps",
                    res->ops, res->partitions, res->max_partition, res->steps);
    }
    rv = REG_OK;
out:
    reg_free(calls);
    reg_free(items);
    reg_free(ids);
    return rv;
}

void jc_lin_result_free(struct jc_lin_result *res)
{
    reg_free(res->prefix);
    res->prefix = NULL;
    res->prefix_len = 0;
}
