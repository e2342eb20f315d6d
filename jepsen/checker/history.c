/* History container and invoke/completion pairing (fault-injection.md §2,
 * §4 step 2): fail = did not happen, info = open-ended, a process is retired
 * by info, and every malformation is reported rather than guessed around. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "checker.h"
#include "internal.h"

void jc_history_init(struct jc_history *h)
{
    memset(h, 0, sizeof(*h));
}

void jc_op_free(struct jc_op *op)
{
    reg_free(op->f);
    reg_free(op->error);
    reg_free(op->node);
    reg_free(op->req_id);
    jc_val_free(&op->value);
    jc_val_free(&op->key);
    memset(op, 0, sizeof(*op));
}

void jc_history_free(struct jc_history *h)
{
    for (size_t i = 0; i < h->n; i++) {
        jc_op_free(&h->ops[i]);
    }
    reg_free(h->ops);
    jc_history_init(h);
}

int jc_history_append(struct jc_history *h, struct jc_op *op)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? 2 * h->cap : 64;
        struct jc_op *ops = reg_realloc(h->ops, cap * sizeof(*ops));
        if (ops == NULL) {
            return REG_NOMEM;
        }
        h->ops = ops;
        h->cap = cap;
    }
    h->ops[h->n++] = *op;
    memset(op, 0, sizeof(*op));
    return REG_OK;
}

/* ---- Per-process table (open addressing over process ids) ------------- */

struct proc_slot {
    int64_t process;
    size_t open;    /* pair index of the open invoke, or SIZE_MAX */
    size_t retired; /* op position of the info that retired it, or SIZE_MAX */
    int used;
};

static struct proc_slot *proc_lookup(struct proc_slot *t, size_t mask, int64_t process)
{
    size_t i = (size_t)((uint64_t)process * 0x9E3779B97F4A7C15ull >> 17) & mask;

    while (t[i].used && t[i].process != process) {
        i = (i + 1) & mask;
    }
    if (!t[i].used) {
        t[i].used = 1;
        t[i].process = process;
        t[i].open = SIZE_MAX;
        t[i].retired = SIZE_MAX;
    }
    return &t[i];
}

static const char *type_name(enum jc_type t)
{
    static const char *const names[] = {"invoke", "ok", "fail", "info"};
    return names[t];
}

/* ---- Retries: one logical op per request id ------------------------------
 * A client retries an op whose outcome was unknown under the same request
 * id, and the server deduplicates it (DESIGN.md §4), so the attempts are one
 * logical op: invoked at the first attempt, ok if any attempt was ok (it took
 * effect by the first ok completion), else info if any was info, else fail. */

struct by_req {
    const char *req_id;
    size_t pair;
};

static int cmp_req(const void *a, const void *b)
{
    const struct by_req *x = a;
    const struct by_req *y = b;
    int c = strcmp(x->req_id, y->req_id);

    if (c != 0) {
        return c;
    }
    return x->pair < y->pair ? -1 : (x->pair > y->pair ? 1 : 0);
}

static int merge_retries(const struct jc_history *h, struct jc_pairs *out,
                         char errmsg[static REG_ERRMSG_SIZE])
{
    struct by_req *v = reg_malloc((out->n + 1) * sizeof(*v));
    unsigned char *dead = reg_calloc(out->n + 1, 1);
    size_t n = 0;
    size_t k = 0;
    int rv = REG_NOMEM;

    if (v == NULL || dead == NULL) {
        reg_errmsgf(errmsg, "merging retries: out of memory");
        goto out;
    }
    for (size_t i = 0; i < out->n; i++) {
        const char *id = h->ops[out->p[i].inv].req_id;
        if (id != NULL) {
            v[n].req_id = id;
            v[n].pair = i;
            n++;
        }
    }
    jc__sort(v, n, sizeof(*v), cmp_req);
    rv = REG_MALFORMED;
    for (size_t lo = 0; lo < n;) {
        size_t hi = lo + 1;
        struct jc_pair *first = &out->p[v[lo].pair];
        const struct jc_pair *ok = NULL;
        const struct jc_pair *info = NULL;
        while (hi < n && strcmp(v[hi].req_id, v[lo].req_id) == 0) {
            hi++;
        }
        for (size_t i = lo; i < hi; i++) {
            const struct jc_pair *p = &out->p[v[i].pair];
            if (strcmp(h->ops[p->inv].f, h->ops[first->inv].f) != 0) {
                reg_errmsgf(errmsg, "op %" PRId64 ": retry of request %s changes f from \"%s\"",
                            h->ops[p->inv].index, v[lo].req_id, h->ops[first->inv].f);
                goto out;
            }
            if (p->outcome == JC_OK && ok == NULL) {
                ok = p;
            } else if (p->outcome == JC_INFO && info == NULL) {
                info = p;
            }
            if (i > lo) {
                dead[v[i].pair] = 1;
            }
        }
        if (ok != NULL || info != NULL) {
            const struct jc_pair *w = ok ? ok : info;
            first->done = w->done;
            first->outcome = w->outcome;
            first->ret = w->ret;
        }
        lo = hi;
    }
    for (size_t i = 0; i < out->n; i++) {
        if (!dead[i]) {
            out->p[k++] = out->p[i];
        }
    }
    out->n = k;
    rv = REG_OK;
out:
    reg_free(v);
    reg_free(dead);
    return rv;
}

int jc_pair_history(const struct jc_history *h, struct jc_pairs *out,
                    char errmsg[static REG_ERRMSG_SIZE])
{
    struct proc_slot *procs = NULL;
    size_t mask = 15;
    int use_time = 1;
    int64_t last_time = INT64_MIN;
    int rv = REG_NOMEM;

    memset(out, 0, sizeof(*out));
    while (mask + 1 < 2 * h->n + 2) {
        mask = 2 * mask + 1;
    }
    procs = reg_calloc(mask + 1, sizeof(*procs));
    out->p = reg_malloc((h->n ? h->n : 1) * sizeof(*out->p));
    if (procs == NULL || out->p == NULL) {
        reg_errmsgf(errmsg, "pairing %zu ops: out of memory", h->n);
        goto err;
    }
    for (size_t i = 0; i < h->n; i++) {
        if (h->ops[i].process != JC_NEMESIS && h->ops[i].time == JC_ABSENT) {
            use_time = 0;
        }
    }
    rv = REG_MALFORMED;
    for (size_t i = 0; i < h->n; i++) {
        const struct jc_op *op = &h->ops[i];
        struct proc_slot *ps;
        int64_t t;

        if (op->process == JC_NEMESIS) {
            continue;
        }
        t = use_time ? op->time : (int64_t)i;
        if (t < last_time) {
            reg_errmsgf(errmsg, "op %" PRId64 ": time %" PRId64 " goes back (previous %" PRId64 ")",
                        op->index, t, last_time);
            goto err;
        }
        if (t == INT64_MAX) {
            reg_errmsgf(errmsg, "op %" PRId64 ": time out of range", op->index);
            goto err;
        }
        last_time = t;
        ps = proc_lookup(procs, mask, op->process);
        if (ps->retired != SIZE_MAX) {
            reg_errmsgf(errmsg,
                        "op %" PRId64 ": process %" PRId64 " used again after its info at op %" PRId64
                        " (a crashed process must never invoke again)",
                        op->index, op->process, h->ops[ps->retired].index);
            goto err;
        }
        if (op->type == JC_INVOKE) {
            struct jc_pair *p;
            if (ps->open != SIZE_MAX) {
                reg_errmsgf(errmsg, "op %" PRId64 ": process %" PRId64
                            " invokes again while op %" PRId64 " is open",
                            op->index, op->process, h->ops[out->p[ps->open].inv].index);
                goto err;
            }
            p = &out->p[out->n];
            p->inv = i;
            p->done = SIZE_MAX;
            p->outcome = JC_INFO;
            p->call = t;
            p->ret = INT64_MAX;
            ps->open = out->n++;
            continue;
        }
        if (ps->open == SIZE_MAX) {
            reg_errmsgf(errmsg, "op %" PRId64 ": %s by process %" PRId64 " with no open invoke",
                        op->index, type_name(op->type), op->process);
            goto err;
        }
        {
            struct jc_pair *p = &out->p[ps->open];
            if (strcmp(h->ops[p->inv].f, op->f) != 0) {
                reg_errmsgf(errmsg, "op %" PRId64 ": completion f \"%s\" differs from invoke f \"%s\"",
                            op->index, op->f, h->ops[p->inv].f);
                goto err;
            }
            p->done = i;
            p->outcome = op->type;
            p->ret = op->type == JC_INFO ? INT64_MAX : t;
            ps->open = SIZE_MAX;
            if (op->type == JC_INFO) {
                ps->retired = i;
            }
        }
    }
    rv = merge_retries(h, out, errmsg);
    if (rv != REG_OK) {
        goto err;
    }
    reg_free(procs);
    return REG_OK;

err:
    reg_free(procs);
    jc_pairs_free(out);
    return rv;
}

void jc_pairs_free(struct jc_pairs *pairs)
{
    reg_free(pairs->p);
    memset(pairs, 0, sizeof(*pairs));
}

const char *jc_verdict_name(enum jc_verdict v)
{
    switch (v) {
    case JC_VALID:
        return "valid";
    case JC_INVALID:
        return "invalid";
    case JC_UNKNOWN:
        return "unknown";
    }
    return "unknown";
}
