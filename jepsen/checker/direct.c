/* Direct checkers (fault-injection.md §3.5, §5.7): linear-time after
 * sorting, over the whole history, each with its own verdict and a witness
 * a human can read. They rest on one query. An observation r that saw an
 * element "on" (a member, an allow, a value) is impossible when some ok
 * witness w showed it "off" and completed before r was invoked, and no
 * non-failed cause that could turn it on again was invoked before r
 * completed while still able to follow w (cause.ret >= w.call; intervals
 * are closed). Picking, among witnesses with w.ret < r.call, the one with
 * the latest call is enough: a later w.call only excludes more causes.
 *
 * Each model is mapped to facts keyed by (key, elem): register elem = value
 * written; set elem = element; unique elem 0; access elem 0 = membership
 * path, 1 = trust path, 2 = the resolve answer (allow on, deny off). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "checker.h"
#include "internal.h"

enum role {
    CAUSE_ON,  /* non-failed effect that turns elem on (ok or info) */
    CAUSE_OFF, /* non-failed effect that turns elem off (ok or info) */
    REVOKED,   /* ok op that left elem off at its point (kick, remove, not_found) */
    OBS_OFF,   /* ok read that saw elem off */
    OBS_ON,    /* ok read that saw elem on */
    FAILED_ON, /* failed op that would have turned elem on */
    ROLES
};

struct fact {
    const struct jc_val *key;
    int64_t elem;
    int role;
    int ok; /* completed ok (an info op has ret = INT64_MAX) */
    int64_t call, ret, ord;
    int64_t op;              /* history index of the invoke */
    int64_t pm;              /* prefix max over the role range */
    const struct fact *pm_f; /* the fact giving pm */
};

struct group {
    const struct jc_val *key;
    int64_t elem;
    struct fact *f;
    size_t lo[ROLES + 1]; /* role r occupies f[lo[r]..lo[r+1]) */
    int64_t last_write;   /* latest ret of an ok cause, INT64_MIN if none */
};

struct facts {
    struct fact *f;
    size_t n, cap;
    struct group *g;
    size_t ng;
};

static int add(struct facts *fs, const struct jc_call *c, const struct jc_pair *p, int64_t op,
               int64_t elem, int role)
{
    struct fact *f;

    if (fs->n == fs->cap) {
        size_t cap = fs->cap ? 2 * fs->cap : 256;
        struct fact *nf = reg_realloc(fs->f, cap * sizeof(*nf));
        if (nf == NULL) {
            return REG_NOMEM;
        }
        fs->f = nf;
        fs->cap = cap;
    }
    f = &fs->f[fs->n++];
    memset(f, 0, sizeof(*f));
    f->key = c->key;
    f->elem = elem;
    f->role = role;
    f->ok = p->outcome == JC_OK;
    f->call = p->call;
    f->ret = p->ret;
    /* Causes are searched by call, witnesses by ret. */
    f->ord = role == CAUSE_ON || role == CAUSE_OFF ? p->call : p->ret;
    f->op = op;
    return REG_OK;
}

/* ---- Model to facts ------------------------------------------------------ */

static int facts_of_call(struct facts *fs, const struct jc_model *m, const struct jc_call *c,
                         const struct jc_pair *p, int64_t op)
{
    int failed = (c->flags & JC_CALL_FAILED) != 0;
    int rejected = (c->flags & JC_CALL_REJECTED) != 0;
    int known = !(c->flags & JC_CALL_UNKNOWN);
    int rv = REG_OK;

    if (c->flags & JC_CALL_PROBE) {
        return REG_OK;
    }
    if (m == &jc_model_register) {
        int64_t to = c->kind == JC_REG_CAS ? c->b : c->a;
        if (c->kind == JC_REG_READ) {
            return known && !c->b ? add(fs, c, p, op, c->out, OBS_ON) : REG_OK;
        }
        if (failed) {
            return add(fs, c, p, op, to, FAILED_ON);
        }
        return rejected ? REG_OK : add(fs, c, p, op, to, CAUSE_ON);
    }
    if (m == &jc_model_set || m == &jc_model_unique) {
        int is_read = (c->flags & JC_CALL_READ) != 0;
        int is_add = m == &jc_model_unique || c->kind == JC_SET_ADD;
        int64_t e = m == &jc_model_unique ? 0 : c->a;
        if (is_read) {
            if (!known) {
                return REG_OK;
            }
            if (m == &jc_model_unique) {
                return add(fs, c, p, op, 0, c->out ? OBS_ON : OBS_OFF);
            }
            for (int64_t x = 0; x < 64 && rv == REG_OK; x++) {
                rv = add(fs, c, p, op, x, (c->set >> x) & 1 ? OBS_ON : OBS_OFF);
            }
            return rv;
        }
        if (failed) {
            return is_add ? add(fs, c, p, op, e, FAILED_ON) : REG_OK;
        }
        if (rejected) {
            return !is_add && c->out == JC_REJ_NOT_FOUND ? add(fs, c, p, op, e, REVOKED) : REG_OK;
        }
        rv = add(fs, c, p, op, e, is_add ? CAUSE_ON : CAUSE_OFF);
        if (rv == REG_OK && !is_add && known) {
            rv = add(fs, c, p, op, e, REVOKED);
        }
        return rv;
    }
    /* access */
    if (c->kind == JC_ACC_RESOLVE) {
        return known ? add(fs, c, p, op, 2, c->out ? OBS_ON : OBS_OFF) : REG_OK;
    }
    {
        int64_t path = c->kind == JC_ACC_JOIN || c->kind == JC_ACC_KICK ? 0 : 1;
        int grant = c->kind == JC_ACC_JOIN || c->kind == JC_ACC_APPROVE;
        if (failed) {
            return grant ? add(fs, c, p, op, path, FAILED_ON) : REG_OK;
        }
        if (rejected) {
            return !grant && c->out == JC_REJ_NOT_FOUND ? add(fs, c, p, op, path, REVOKED)
                                                        : REG_OK;
        }
        rv = add(fs, c, p, op, path, grant ? CAUSE_ON : CAUSE_OFF);
        if (rv == REG_OK && !grant && known) {
            rv = add(fs, c, p, op, path, REVOKED);
        }
        return rv;
    }
}

static int cmp_fact(const void *a, const void *b)
{
    const struct fact *x = a;
    const struct fact *y = b;
    int c = jc_val_cmp(x->key, y->key);

    if (c != 0) {
        return c;
    }
    if (x->elem != y->elem) {
        return x->elem < y->elem ? -1 : 1;
    }
    if (x->role != y->role) {
        return x->role < y->role ? -1 : 1;
    }
    if (x->ord != y->ord) {
        return x->ord < y->ord ? -1 : 1;
    }
    return x->op < y->op ? -1 : (x->op > y->op ? 1 : 0);
}

static int build(struct facts *fs, const struct jc_history *h, const struct jc_pairs *pairs,
                 const struct jc_model *m, const struct jc_opts *opts,
                 char errmsg[static REG_ERRMSG_SIZE])
{
    struct jc_call *calls = NULL;
    int rv = jc_prepare(h, pairs, m, opts, &calls, errmsg);

    memset(fs, 0, sizeof(*fs));
    for (size_t i = 0; rv == REG_OK && i < pairs->n; i++) {
        rv = facts_of_call(fs, m, &calls[i], &pairs->p[i], h->ops[pairs->p[i].inv].index);
    }
    reg_free(calls);
    if (rv != REG_OK) {
        return rv;
    }
    jc__sort(fs->f, fs->n, sizeof(*fs->f), cmp_fact);
    fs->g = reg_malloc((fs->n + 1) * sizeof(*fs->g));
    if (fs->g == NULL) {
        return REG_NOMEM;
    }
    for (size_t i = 0; i < fs->n;) {
        struct group *g = &fs->g[fs->ng++];
        size_t j = i;
        while (j < fs->n && fs->f[j].elem == fs->f[i].elem &&
               jc_val_cmp(fs->f[j].key, fs->f[i].key) == 0) {
            j++;
        }
        g->key = fs->f[i].key;
        g->elem = fs->f[i].elem;
        g->f = &fs->f[i];
        g->last_write = INT64_MIN;
        for (int r = 0, k = 0; r <= ROLES; r++) {
            while (k < (int)(j - i) && g->f[k].role < r) {
                k++;
            }
            g->lo[r] = (size_t)k;
        }
        for (size_t k = 0; k < j - i; k++) {
            struct fact *f = &g->f[k];
            int first = k == g->lo[f->role];
            int64_t v = f->role == CAUSE_ON || f->role == CAUSE_OFF ? f->ret : f->call;
            if (first || v > f[-1].pm) {
                f->pm = v;
                f->pm_f = f;
            } else {
                f->pm = f[-1].pm;
                f->pm_f = f[-1].pm_f;
            }
            if ((f->role == CAUSE_ON || f->role == CAUSE_OFF) && f->ok && f->ret > g->last_write) {
                g->last_write = f->ret;
            }
        }
        i = j;
    }
    return REG_OK;
}

static void facts_free(struct facts *fs)
{
    reg_free(fs->f);
    reg_free(fs->g);
    memset(fs, 0, sizeof(*fs));
}

static const struct group *find(const struct facts *fs, const struct jc_val *key, int64_t elem)
{
    size_t lo = 0;
    size_t hi = fs->ng;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const struct group *g = &fs->g[mid];
        int c = jc_val_cmp(g->key, key);
        if (c == 0) {
            c = g->elem < elem ? -1 : (g->elem > elem ? 1 : 0);
        }
        if (c == 0) {
            return g;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return NULL;
}

/* The last fact of `role` with ord < t (its pm covers all earlier ones). */
static const struct fact *before(const struct group *g, int role, int64_t t)
{
    size_t lo;
    size_t hi;

    if (g == NULL) {
        return NULL;
    }
    lo = g->lo[role];
    hi = g->lo[role + 1];
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (g->f[mid].ord < t) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo == g->lo[role] ? NULL : &g->f[lo - 1];
}

/* Latest ret of a cause of `role` invoked before t; INT64_MIN if none. */
static int64_t cause_ret_before(const struct group *g, int role, int64_t t)
{
    const struct fact *f = before(g, role, t);
    return f ? f->pm : INT64_MIN;
}

/* The witness (of role) completed before t with the latest call, or NULL. */
static const struct fact *witness_before(const struct group *g, int role, int64_t t)
{
    const struct fact *f = before(g, role, t);
    return f ? f->pm_f : NULL;
}

/* ---- Checkers ------------------------------------------------------------ */

static void violation(struct jc_direct_result *res, int64_t op)
{
    if (res->violations++ == 0) {
        res->first_op = op;
        res->verdict = JC_INVALID;
    }
}

static void stale_allow(const struct facts *fs, struct jc_direct_result *res)
{
    for (size_t gi = 0; gi < fs->ng; gi++) {
        const struct group *g = &fs->g[gi];
        const struct group *path[2];
        if (g->elem != 2) {
            continue;
        }
        path[0] = find(fs, g->key, 0);
        path[1] = find(fs, g->key, 1);
        for (size_t k = g->lo[OBS_ON]; k < g->lo[OBS_ON + 1]; k++) {
            const struct fact *r = &g->f[k];
            const struct fact *w[2];
            int off = 0;
            for (int p = 0; p < 2; p++) {
                int64_t cause = cause_ret_before(path[p], CAUSE_ON, r->ret);
                w[p] = witness_before(path[p], REVOKED, r->call);
                if (w[p] != NULL && cause >= w[p]->call) {
                    w[p] = NULL;
                }
                off += w[p] != NULL || cause == INT64_MIN;
            }
            if (off == 2 && (w[0] != NULL || w[1] != NULL)) {
                const struct fact *wit = w[0] ? w[0] : w[1];
                if (res->violations == 0) {
                    reg_errmsgf(res->msg,
                                "resolve op %" PRId64 " returned allow, invoked after %s op %" PRId64
                                " completed, with no re-grant invoked in between",
                                r->op, wit == w[0] ? "kick" : "untrust", wit->op);
                }
                violation(res, r->op);
            }
        }
    }
}

static void resurrection(const struct facts *fs, const struct jc_model *m,
                         struct jc_direct_result *res)
{
    for (size_t gi = 0; gi < fs->ng; gi++) {
        const struct group *g = &fs->g[gi];
        int access = m == &jc_model_access;
        if (access && g->elem != 2) {
            continue;
        }
        for (size_t k = g->lo[OBS_ON]; k < g->lo[OBS_ON + 1]; k++) {
            const struct fact *r = &g->f[k];
            const struct fact *w = witness_before(g, OBS_OFF, r->call);
            const struct fact *w2 = witness_before(g, REVOKED, r->call);
            int64_t cause;
            if (w2 != NULL && (w == NULL || w2->call > w->call)) {
                w = w2;
            }
            if (w == NULL) {
                continue;
            }
            if (access) {
                int64_t c0 = cause_ret_before(find(fs, g->key, 0), CAUSE_ON, r->ret);
                int64_t c1 = cause_ret_before(find(fs, g->key, 1), CAUSE_ON, r->ret);
                cause = c0 > c1 ? c0 : c1;
            } else {
                cause = cause_ret_before(g, CAUSE_ON, r->ret);
            }
            if (cause < w->call) {
                if (res->violations == 0) {
                    reg_errmsgf(res->msg,
                                "op %" PRId64 " saw element %" PRId64 " present after op %" PRId64
                                " completed showing it absent, with no add/grant invoked since",
                                r->op, g->elem, w->op);
                }
                violation(res, r->op);
            }
        }
    }
}

static void phantom(const struct facts *fs, const struct jc_model *m, const struct jc_opts *o,
                    struct jc_direct_result *res)
{
    for (size_t gi = 0; gi < fs->ng; gi++) {
        const struct group *g = &fs->g[gi];
        const struct group *paths[2] = {g, NULL};
        int np = 1;
        if (m == &jc_model_access) {
            if (g->elem != 2) {
                continue;
            }
            paths[0] = find(fs, g->key, 0);
            paths[1] = find(fs, g->key, 1);
            np = 2;
        }
        if (m == &jc_model_register && o->has_init && g->elem == o->init) {
            continue;
        }
        for (size_t k = g->lo[OBS_ON]; k < g->lo[OBS_ON + 1]; k++) {
            const struct fact *r = &g->f[k];
            const struct fact *failed = NULL;
            int64_t cause = INT64_MIN;
            for (int p = 0; p < np; p++) {
                int64_t c = cause_ret_before(paths[p], CAUSE_ON, r->ret);
                cause = c > cause ? c : cause;
                if (failed == NULL) {
                    failed = before(paths[p], FAILED_ON, INT64_MAX);
                }
            }
            if (cause != INT64_MIN) {
                continue;
            }
            if (res->violations == 0) {
                if (failed != NULL) {
                    reg_errmsgf(res->msg,
                                "op %" PRId64 " observed the effect of op %" PRId64
                                ", which was recorded as fail (and nothing else could cause it)",
                                r->op, failed->op);
                } else {
                    reg_errmsgf(res->msg, "op %" PRId64 " observed value/element %" PRId64
                                " that no op wrote", r->op, g->elem);
                }
            }
            violation(res, r->op);
        }
    }
}

static void lost_ack(const struct facts *fs, const struct jc_model *m,
                     struct jc_direct_result *res)
{
    for (size_t gi = 0; gi < fs->ng; gi++) {
        const struct group *g = &fs->g[gi];
        const struct group *writes[2] = {g, NULL};
        int np = 1;
        int64_t last = g->last_write;
        const struct fact *final = NULL;
        if (m == &jc_model_access) {
            if (g->elem != 2) {
                continue;
            }
            writes[0] = find(fs, g->key, 0);
            writes[1] = find(fs, g->key, 1);
            np = 2;
            last = INT64_MIN;
            for (int p = 0; p < 2; p++) {
                if (writes[p] != NULL && writes[p]->last_write > last) {
                    last = writes[p]->last_write;
                }
            }
        }
        for (size_t k = g->lo[OBS_OFF]; k < g->lo[OBS_OFF + 1]; k++) {
            if (g->f[k].call > last) {
                final = &g->f[k];
                break;
            }
        }
        if (final == NULL) {
            continue;
        }
        for (int p = 0; p < np; p++) {
            const struct group *w = writes[p];
            int64_t off = cause_ret_before(w, CAUSE_OFF, INT64_MAX);
            if (w == NULL) {
                continue;
            }
            for (size_t k = w->lo[CAUSE_ON]; k < w->lo[CAUSE_ON + 1]; k++) {
                const struct fact *a = &w->f[k];
                if (!a->ok || off >= a->call) {
                    continue;
                }
                if (res->violations == 0) {
                    reg_errmsgf(res->msg,
                                "op %" PRId64 " was acknowledged but final read op %" PRId64
                                " does not show it, and no remove/revoke explains it",
                                a->op, final->op);
                }
                violation(res, a->op);
            }
        }
    }
}

/* ---- Applied index and convergence (history only) -------------------------- */

struct idx_op {
    const char *node;
    int64_t call, ret, applied, op;
};

static int cmp_idx_call(const void *a, const void *b)
{
    const struct idx_op *x = a;
    const struct idx_op *y = b;
    int c = strcmp(x->node, y->node);

    if (c != 0) {
        return c;
    }
    return x->call < y->call ? -1 : (x->call > y->call ? 1 : 0);
}

static int cmp_ret(const void *a, const void *b)
{
    const struct idx_op *const *x = a;
    const struct idx_op *const *y = b;

    return (*x)->ret < (*y)->ret ? -1 : ((*x)->ret > (*y)->ret ? 1 : 0);
}

static int monotonic(const struct jc_history *h, const struct jc_pairs *pairs,
                     struct jc_direct_result *res)
{
    struct idx_op *ops = reg_malloc((pairs->n + 1) * sizeof(*ops));
    const struct idx_op **by_ret = reg_malloc((pairs->n + 1) * sizeof(*by_ret));
    size_t n = 0;
    int rv = REG_NOMEM;

    if (ops == NULL || by_ret == NULL) {
        goto out;
    }
    for (size_t i = 0; i < pairs->n; i++) {
        const struct jc_pair *p = &pairs->p[i];
        const struct jc_op *d = p->done == SIZE_MAX ? NULL : &h->ops[p->done];
        if (p->outcome != JC_OK || d->applied_index == JC_ABSENT) {
            continue;
        }
        ops[n].node = d->node ? d->node : h->ops[p->inv].node ? h->ops[p->inv].node : "";
        ops[n].call = p->call;
        ops[n].ret = p->ret;
        ops[n].applied = d->applied_index;
        ops[n].op = h->ops[p->inv].index;
        n++;
    }
    jc__sort(ops, n, sizeof(*ops), cmp_idx_call);
    for (size_t lo = 0; lo < n;) {
        size_t hi = lo;
        size_t j = 0;
        const struct idx_op *best = NULL;
        while (hi < n && strcmp(ops[hi].node, ops[lo].node) == 0) {
            by_ret[hi - lo] = &ops[hi];
            hi++;
        }
        jc__sort(by_ret, hi - lo, sizeof(*by_ret), cmp_ret);
        for (size_t i = lo; i < hi; i++) {
            while (j < hi - lo && by_ret[j]->ret < ops[i].call) {
                if (best == NULL || by_ret[j]->applied > best->applied) {
                    best = by_ret[j];
                }
                j++;
            }
            if (best != NULL && ops[i].applied < best->applied) {
                if (res->violations == 0) {
                    reg_errmsgf(res->msg,
                                "node %s: op %" PRId64 " at applied index %" PRId64
                                " began after op %" PRId64 " completed at index %" PRId64,
                                ops[i].node, ops[i].op, ops[i].applied, best->op, best->applied);
                }
                violation(res, ops[i].op);
            }
        }
        lo = hi;
    }
    if (res->violations == 0) {
        reg_errmsgf(res->msg, "%zu ops with an applied index", n);
    }
    rv = REG_OK;
out:
    reg_free(ops);
    reg_free(by_ret);
    return rv;
}

static int convergence(const struct jc_history *h, const struct jc_pairs *pairs,
                       struct jc_direct_result *res)
{
    size_t probes = 0;

    /* Quadratic in the number of probes, which is one per node per run. */
    for (size_t i = 0; i < pairs->n; i++) {
        const struct jc_pair *p = &pairs->p[i];
        const struct jc_op *a = p->done == SIZE_MAX ? NULL : &h->ops[p->done];
        if (p->outcome != JC_OK || strcmp(a->f, "hash") != 0 || a->applied_index == JC_ABSENT) {
            continue;
        }
        probes++;
        for (size_t j = 0; j < i; j++) {
            const struct jc_pair *q = &pairs->p[j];
            const struct jc_op *b = q->done == SIZE_MAX ? NULL : &h->ops[q->done];
            if (q->outcome != JC_OK || strcmp(b->f, "hash") != 0 ||
                b->applied_index != a->applied_index || jc_val_cmp(&a->value, &b->value) == 0) {
                continue;
            }
            if (res->violations == 0) {
                reg_errmsgf(res->msg,
                            "state hash differs at applied index %" PRId64
                            ": node %s (op %" PRId64 ") vs node %s (op %" PRId64 ")",
                            a->applied_index, a->node ? a->node : "?", a->index,
                            b->node ? b->node : "?", b->index);
            }
            violation(res, a->index);
            break;
        }
    }
    if (res->violations == 0) {
        reg_errmsgf(res->msg, "%zu state-hash probes agree", probes);
    }
    return REG_OK;
}

const char *jc_direct_name(enum jc_direct which)
{
    static const char *const names[] = {"stale-allow", "resurrection", "lost-ack",
                                        "phantom",     "monotonic",    "convergence"};
    return (unsigned)which < JC_D_COUNT ? names[which] : "unknown";
}

int jc_check_direct(enum jc_direct which, const struct jc_history *h,
                    const struct jc_pairs *pairs, const struct jc_model *m,
                    const struct jc_opts *opts, struct jc_direct_result *res,
                    char errmsg[static REG_ERRMSG_SIZE])
{
    static const struct jc_opts no_opts;
    struct facts fs;
    int applies;
    int rv;

    memset(res, 0, sizeof(*res));
    res->first_op = JC_ABSENT;
    res->verdict = JC_VALID;
    if (opts == NULL) {
        opts = &no_opts;
    }
    switch (which) {
    case JC_D_MONOTONIC:
        return monotonic(h, pairs, res);
    case JC_D_CONVERGENCE:
        return convergence(h, pairs, res);
    case JC_D_STALE_ALLOW:
        applies = m == &jc_model_access;
        break;
    case JC_D_RESURRECTION:
        applies = m == &jc_model_access || m == &jc_model_set;
        break;
    case JC_D_LOST_ACK:
        applies = m != &jc_model_register;
        break;
    case JC_D_PHANTOM:
        applies = 1;
        break;
    default:
        reg_errmsgf(errmsg, "unknown direct checker %d", (int)which);
        return REG_INVALID_ARGUMENT;
    }
    if (!applies) {
        reg_errmsgf(res->msg, "n/a for the %s model", m->name);
        return REG_OK;
    }
    rv = build(&fs, h, pairs, m, opts, errmsg);
    if (rv == REG_OK) {
        if (which == JC_D_STALE_ALLOW) {
            stale_allow(&fs, res);
        } else if (which == JC_D_RESURRECTION) {
            resurrection(&fs, m, res);
        } else if (which == JC_D_LOST_ACK) {
            lost_ack(&fs, m, res);
        } else {
            phantom(&fs, m, opts, res);
        }
        if (res->violations == 0) {
            reg_errmsgf(res->msg, "%zu facts checked", fs.n);
        }
    } else if (rv == REG_NOMEM) {
        reg_errmsgf(errmsg, "%s: out of memory", jc_direct_name(which));
    }
    facts_free(&fs);
    return rv;
}
