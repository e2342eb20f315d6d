/* propose.c: proposals with group commit.
 *
 * Client ops queue here; while fewer than max_inflight entries are in
 * flight, the app encodes up to max_batch_ops / max_batch_bytes queued ops
 * into ONE entry, proposed with raft_apply(n = 1):
 *   - notes §0 item 7: with n > 1 raft 0.15 fires a single callback carrying
 *     the first entry's result, so batching must happen inside one entry;
 *   - notes §7 / §8 #5: few entries in flight avoid 0.15's commit stall
 *     under pipelined load, and batching recovers the throughput;
 *   - notes §0 item 1: every entry length must be a multiple of 8, checked
 *     here because the Debian build compiled raft's own assert out;
 *   - notes §0 item 4: RAFT_LEADERSHIPLOST means "unknown outcome";
 *   - notes §0 item 6 / §9.9: any other failure status is a disk error:
 *     answer the batch and fail-stop;
 *   - notes §0 item 8: the entry index is req->index.
 * glue__kick never runs inside a raft callback: it is called from
 * glue_submit and from the monitor. */
#include "glue_internal.h"
#include "raft_compat.h"

#define GLUE__DEFAULT_OP_SIZE 256

static void *entry_alloc(size_t size)
{
    return raft_malloc(size);
}

static void finish_ops(struct glue *g, struct glue__op *ops, unsigned n, int status,
                       const void *entry_result, uint64_t index)
{
    for (unsigned i = 0; i < n; i++) {
        const void *res = NULL;
        if (status == REG_OK) {
            res = g->app.op_result != NULL
                      ? g->app.op_result(g->app.data, entry_result, i)
                      : entry_result;
            g->n_committed++;
        } else {
            g->n_failed++;
        }
        ops[i].cb(ops[i].data, status, res, index);
    }
}

static void unlink_prop(struct glue *g, struct glue__prop *p)
{
    for (struct glue__prop **pp = &g->props; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    }
    g->inflight--;
}

static void apply_cb(struct raft_apply *req, int status, void *result)
{
    struct glue__prop *p = req->data;
    struct glue *g = p->g;
    int st = REG_OK;
    uint64_t lat = glue__now(g) - p->started_ms;

    unlink_prop(g, p);
    if (status == 0) {
        g->n_entries_done++;
        g->lat_last = lat;
        g->lat_sum += lat;
        if (lat > g->lat_max) {
            g->lat_max = lat;
        }
    } else if (status == RAFT_LEADERSHIPLOST) {
        st = REG_UNKNOWN_OUTCOME;
#ifdef PILOT_CANARY_LOST_AS_FAIL
        /* Jepsen canary (issue 7 item 6), never in a release: report a
         * proposal whose outcome is unknown as definitely not applied. */
        st = REG_NO_LEADER;
#endif
    } else {
        st = REG_INTERNAL;
        glue__fatal(g, REG_INTERNAL, "entry %llu failed: %s",
                    (unsigned long long)req->index, raft_strerror(status));
    }
    finish_ops(g, p->ops, p->n, st, result, req->index);
    reg_free(p->ops);
    reg_free(p);
}

/* Take up to the batch caps off the queue; returns the count taken. */
static unsigned take_batch(struct glue *g, struct glue__op **out)
{
    unsigned n = 0;
    size_t bytes = 0;
    unsigned max = g->queued < g->cfg.max_batch_ops ? g->queued : g->cfg.max_batch_ops;
    struct glue__op *ops = reg_malloc(max * sizeof *ops);

    if (ops == NULL) {
        return 0;
    }
    while (g->q_head != NULL && n < max) {
        struct glue__op *o = g->q_head;
        size_t sz = g->app.op_size != NULL ? g->app.op_size(g->app.data, o->op)
                                           : GLUE__DEFAULT_OP_SIZE;
        if (n > 0 && bytes + sz > g->cfg.max_batch_bytes) {
            break;
        }
        bytes += sz;
        ops[n++] = *o;
        g->q_head = o->next;
        reg_free(o);
    }
    if (g->q_head == NULL) {
        g->q_tail = NULL;
    }
    g->queued -= n;
    *out = ops;
    return n;
}

/* Encode and propose one entry. Returns false when nothing more can go. */
static bool propose_one(struct glue *g)
{
    struct glue__prop *p;
    struct glue__op *ops = NULL;
    void *ptrs_small[64];
    void **ptrs = ptrs_small;
    struct raft_buffer buf = {NULL, 0};
    char errmsg[REG_ERRMSG_SIZE] = "";
    unsigned n;
    int rv;

    p = reg_calloc(1, sizeof *p);
    if (p == NULL) {
        return false;
    }
    n = take_batch(g, &ops);
    if (n == 0) {
        reg_free(p);
        return false;
    }
    if (n > 64) {
        ptrs = reg_malloc(n * sizeof *ptrs);
        if (ptrs == NULL) {
            rv = REG_NOMEM;
            goto err_fail_ops;
        }
    }
    for (unsigned i = 0; i < n; i++) {
        ptrs[i] = ops[i].op;
    }
    rv = g->app.encode(g->app.data, ptrs, n, glue__wall_ms(g), entry_alloc, &buf.base,
                       &buf.len, errmsg);
    if (ptrs != ptrs_small) {
        reg_free(ptrs);
    }
    if (rv != REG_OK) {
        glue__logf(g, GLUE_LOG_WARN, "encode of %u ops refused: %s %s", n,
                   reg_err_name(rv), errmsg);
        goto err_fail_ops;
    }
    if (buf.base == NULL || buf.len == 0 || buf.len % 8 != 0) {
        /* notes §0 item 1: an unpadded entry corrupts raft 0.15's log. */
        glue__logf(g, GLUE_LOG_ERROR, "app encoded an entry of %zu bytes (not 8-aligned)",
                   buf.len);
        raft_free(buf.base);
        rv = REG_INTERNAL;
        goto err_fail_ops;
    }
    p->g = g;
    p->n = n;
    p->ops = ops;
    p->started_ms = glue__now(g);
    p->req.data = p;
    rv = raft_apply(g->r, &p->req, &buf, 1, apply_cb);
    if (rv != 0) {
        raft_free(buf.base);
        if (rv == RAFT_NOTLEADER) {
            rv = REG_NOT_LEADER;
        } else if (rv == RAFT_NOMEM) {
            rv = REG_NOMEM;
        } else {
            glue__fatal(g, REG_INTERNAL, "raft_apply: %s (%s)", raft_strerror(rv),
                        raft_errmsg(g->r));
            rv = REG_INTERNAL;
        }
        goto err_fail_ops;
    }
    p->next = g->props;
    g->props = p;
    g->inflight++;
    g->n_entries++;
    return true;

err_fail_ops:
    finish_ops(g, ops, n, rv, NULL, 0);
    reg_free(ops);
    reg_free(p);
    return rv != REG_NOT_LEADER && rv != REG_NOMEM;
}

void glue__kick(struct glue *g)
{
    while (g->q_head != NULL && g->inflight < g->cfg.max_inflight && !g->failed &&
           g->phase == GLUE__RUNNING) {
        if (!glue__is_leader(g) || glue__c_transferring(g->r)) {
            glue__fail_queued(g, REG_NOT_LEADER);
            return;
        }
        if (!propose_one(g)) {
            return;
        }
    }
}

void glue__fail_queued(struct glue *g, int status)
{
    while (g->q_head != NULL) {
        struct glue__op *o = g->q_head;
        g->q_head = o->next;
        g->queued--;
        g->n_failed++;
        o->cb(o->data, status, NULL, 0);
        reg_free(o);
    }
    g->q_tail = NULL;
}

int glue_submit(struct glue *g, void *op, glue_submit_cb cb, void *data)
{
    struct glue__op *o;

    if (g->failed || g->shutting_down || g->phase != GLUE__RUNNING || g->low_space) {
        return REG_UNAVAILABLE;
    }
    if (!glue__is_leader(g) || glue__c_transferring(g->r)) {
        return REG_NOT_LEADER;
    }
    if (g->queued >= g->cfg.max_queued) {
        return REG_RATE_LIMITED;
    }
    o = reg_malloc(sizeof *o);
    if (o == NULL) {
        return REG_NOMEM;
    }
    o->op = op;
    o->cb = cb;
    o->data = data;
    o->next = NULL;
    if (g->q_tail != NULL) {
        g->q_tail->next = o;
    } else {
        g->q_head = o;
    }
    g->q_tail = o;
    g->queued++;
    /* Proposing happens in the monitor (next loop iteration), never here:
     * a failed encode or raft_apply would otherwise run cb synchronously,
     * which glue.h promises never happens. It also lets ops arriving in the
     * same iteration share one entry. */
    return REG_OK;
}
