/* app.c: the glue_app adapter, i.e. how raft-glue sees the registry.
 *
 * encode: a batch of queued write requests -> one proto log entry, stamped
 *   with the leader's time and this node's raft id. The stamp is
 *   max(wall clock, last applied ts): a new leader whose clock is behind the
 *   old one's never makes time go backwards in the state (DESIGN.md §6).
 * apply: proto log entry -> st_apply per op -> a results array (scratch area
 *   reused by the next apply). Nothing here can fail the FSM
 *   (raft-0.15-notes §0 item 2): an entry that does not decode becomes a
 *   `malformed` result for every op, an op that does not decode a
 *   `malformed` result for that op.
 * snapshot / restore: st_snapshot_encode / st_snapshot_decode, the new state
 *   swapped in only when complete; refused while a --restore is assembling.
 * Restore entries (RESTORE_CHUNK / RESTORE_COMMIT, backup.c) are encoded
 *   alone and applied by backup.c. */
#include <stdlib.h>
#include <string.h>

#include "srv_internal.h"

static int app_encode(void *data, void *const ops[], unsigned n, uint64_t ts_ms,
                      glue_alloc_fn alloc, void **buf, size_t *len,
                      char errmsg[static REG_ERRMSG_SIZE])
{
    struct srv *s = data;
    const struct st_cmd **cmds;
    const struct srv__req *first = ops[0];
    int64_t ts = (int64_t)ts_ms;
    unsigned i;
    int rv;
    if (first->restore != NULL && n == 1) {
        rv = proto_log_restore_encode(first->restore, alloc, buf, len, errmsg);
        goto out;
    }
    for (i = 0; i < n; i++) {
        if (((const struct srv__req *)ops[i])->restore != NULL) {
            /* Restore entries travel alone; the other ops are retried. */
            reg_errmsgf(errmsg, "a restore entry cannot share a batch");
            rv = REG_UNAVAILABLE;
            goto out;
        }
    }
    cmds = reg_malloc(sizeof *cmds * (n == 0 ? 1 : n));
    if (cmds == NULL) {
        reg_errmsgf(errmsg, "out of memory encoding %u ops", n);
        rv = REG_NOMEM;
        goto out;
    }
    for (i = 0; i < n; i++) {
        cmds[i] = &((struct srv__req *)ops[i])->cmd;
    }
    if (ts < s->last_ts) {
        ts = s->last_ts;
    }
    rv = proto_log_encode(cmds, n, ts, s->id, alloc, buf, len, errmsg);
    reg_free(cmds);
out:
    return rv;
}

static size_t app_op_size(void *data, const void *op)
{
    const struct srv__req *r = op;
    (void)data;
    /* The args map dominates; the envelope adds under 100 bytes. */
    return r->frame_len + 128;
}

static void results_reserve(struct srv *s, size_t n)
{
    if (n > s->results_cap) {
        /* Aborting allocator: an apply that cannot record its results
         * must not half-happen (STYLE habit 9). */
        s->results = reg_xrealloc(s->results, n * sizeof *s->results);
        s->results_cap = n;
    }
}

static void malformed_result(struct st_result *res, uint16_t op, const char *why)
{
    memset(res, 0, sizeof *res);
    res->code = REG_MALFORMED;
    res->op = op;
    snprintf(res->message, sizeof res->message, "%.*s", (int)sizeof res->message - 1, why);
}

static const void *app_apply(void *data, uint64_t index, const void *buf, size_t len)
{
    struct srv *s = data;
    struct proto_log_iter it;
    struct proto_arena arena;
    struct st_cmd cmd;
    char errmsg[REG_ERRMSG_SIZE];
    uint32_t i;
    const void *out;
    uint16_t kind = 0;
    uint64_t t0 = uv_hrtime();
    int rv;

    proto_arena_init(&arena);
    if (proto_log_kind(buf, len, &kind) == REG_OK && (kind == PROTO_LOG_KIND_RESTORE_CHUNK ||
                                                      kind == PROTO_LOG_KIND_RESTORE_COMMIT)) {
        results_reserve(s, 1);
        srv__restore_apply(s, buf, len, &s->results[0]);
        s->n_results = 1;
        out = s->results;
        goto done;
    }
    rv = proto_log_open(buf, len, &it, errmsg);
    if (rv != REG_OK) {
        /* Keep the index moving: the entry is committed, it just carries
         * nothing we can apply. */
        malformed_result(&s->entry_error, 0, errmsg);
        s->n_results = 0;
        out = NULL;
        goto done;
    }
    if (it.ts_ms > s->last_ts) {
        s->last_ts = it.ts_ms;
    }
    results_reserve(s, it.n_ops == 0 ? 1 : it.n_ops);
    for (i = 0; i < it.n_ops; i++) {
        rv = proto_log_next(&it, &cmd, &arena, errmsg);
        if (rv == REG_OK) {
            st_apply(s->state, &cmd, &s->results[i]);
            srv__watch_applied(s, &cmd, &s->results[i], index);
        } else if (rv == REG_NOMEM) {
            /* Same policy as st_apply: a replica may not skip an op. */
            abort();
        } else {
            malformed_result(&s->results[i], cmd.op, errmsg);
        }
    }
    s->n_results = it.n_ops;
    out = s->results;
done:
    st_set_applied_index(s->state, index);
    proto_arena_free(&arena);
    http_hist_observe(&s->apply_hist, (double)(uv_hrtime() - t0) / 1e9);
    return out;
}

/* The entry result is s->results (NULL for an entry that did not decode);
 * a position past the decoded ops also reads the entry error. */
static const void *app_op_result(void *data, const void *entry_result, unsigned pos)
{
    struct srv *s = data;
    if (entry_result == NULL || pos >= s->n_results) {
        return &s->entry_error;
    }
    return &((const struct st_result *)entry_result)[pos];
}

static int app_snapshot(void *data, glue_alloc_fn alloc, void **buf, size_t *len)
{
    struct srv *s = data;
    void *enc = NULL;
    size_t n = 0;
    int rv;
    if (srv__restore_busy(s)) {
        /* The assembled chunks live outside the state: a snapshot now
         * would lose them for every node that installs it. */
        rv = REG_UNAVAILABLE;
        goto out;
    }
    rv = st_snapshot_encode(s->state, &enc, &n);
    if (rv != REG_OK) {
        goto out;
    }
    *buf = alloc(n == 0 ? 8 : n);
    if (*buf == NULL) {
        rv = REG_NOMEM;
        goto err_after_enc;
    }
    memcpy(*buf, enc, n);
    *len = n;
    rv = REG_OK;
err_after_enc:
    reg_free(enc);
out:
    return rv;
}

static int app_restore(void *data, const void *buf, size_t len)
{
    struct srv *s = data;
    struct st_state *fresh = NULL;
    char errmsg[REG_ERRMSG_SIZE];
    int rv = st_snapshot_decode(buf, len, &fresh, errmsg);
    if (rv != REG_OK) {
        srv_log(SRV_LOG_ERROR, "snapshot_restore_failed", "code=%s", reg_err_name(rv));
        goto out;
    }
    st_free(s->state);
    s->state = fresh;
    srv__restore_reset(s);
    srv_log(SRV_LOG_INFO, "snapshot_restored", "applied_index=%llu",
            (unsigned long long)st_applied_index(fresh));
out:
    return rv;
}

void srv__app_init(struct srv *s, struct glue_app *app)
{
    memset(app, 0, sizeof *app);
    app->data = s;
    app->encode = app_encode;
    app->op_size = app_op_size;
    app->apply = app_apply;
    app->op_result = app_op_result;
    app->snapshot = app_snapshot;
    app->restore = app_restore;
    malformed_result(&s->entry_error, 0, "entry did not decode");
}
