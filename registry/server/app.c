/* app.c: the glue_app adapter, i.e. how raft-glue sees the registry.
 *
 * encode: a batch of queued write requests -> one proto log entry, stamped
 *   with the leader's time and this node's raft id. The stamp is
 *   max(wall clock, last applied ts): a new leader whose clock is behind the
 *   old one's never makes time go backwards in the state (DESIGN.md §6).
 * apply: proto log entry -> st_apply per op -> a results array (scratch area
 *   reused by the next apply). The leader skips decoding its own entries
 *   (see "Own entries" below). Nothing here can fail the FSM
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

/* ---- Own entries -----------------------------------------------------------
 * A leader used to decode every entry it had just encoded from commands it
 * already held decoded (a tenth of its time under load). Now app_encode
 * keeps a copy of each entry it makes together with its requests, and an
 * apply whose bytes equal such a copy applies those commands directly.
 *
 * Why this is exactly what a follower does: a follower applies
 * decode(bytes). The leader applies canonical(cmd) = cmd with the entry's
 * ts and origin, for the same bytes = encode(cmd). The two are equal when
 * decode(encode(cmd)) == cmd, which holds for commands the request decoder
 * produced (the log and the wire share one args codec, and every field it
 * yields encodes back to itself), with one exception: a tag that still
 * starts with '#' after the decoder stripped one loses another one on the
 * next decode. So only wire-decoded writes without such tags qualify;
 * internal commands (liveness, cluster ops) and restores take the decoding
 * path. Debug builds decode anyway and abort on any difference, which the
 * whole test suite exercises. Matching on the bytes (not on the index)
 * also covers leadership changes: an entry of another leader at that index
 * has other bytes (its origin differs), and identical bytes mean identical
 * effects. A copy is dropped when applied or as soon as one of its
 * requests is freed (its callback ran: leadership lost, shutdown), so the
 * commands it points to are always alive. */
struct srv__own {
    struct srv__own *next;
    int64_t ts;
    unsigned n;
    size_t len;
    uint8_t *bytes;             /* copy of the encoded entry */
    struct srv__req *reqs[];    /* n, in entry order */
};

static void own_unlink_free(struct srv *s, struct srv__own *o)
{
    for (struct srv__own **pp = &s->own; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == o) {
            *pp = o->next;
            break;
        }
    }
    for (unsigned i = 0; i < o->n; i++) {
        o->reqs[i]->own = NULL;
    }
    reg_free(o);
}

void srv__own_forget(struct srv__req *r)
{
    if (r->own != NULL) {
        own_unlink_free(r->srv, r->own);
    }
}

static bool own_eligible(const struct srv__req *r)
{
    if (r->frame == NULL || r->done != NULL || r->restore != NULL || r->op == NULL ||
        r->op->kind != PROTO_OP_WRITE || r->own != NULL) {
        return false;
    }
    for (uint8_t i = 0; i < r->cmd.n_tags && i < ST_TAGS_MAX; i++) {
        if (r->cmd.tags[i][0] == '#') {
            return false;
        }
    }
    return true;
}

/* Remember an entry just encoded; without memory it is simply decoded. */
static void own_remember(struct srv *s, void *const ops[], unsigned n, int64_t ts,
                         const void *buf, size_t len)
{
    struct srv__own *o, **tail;
    for (unsigned i = 0; i < n; i++) {
        if (!own_eligible(ops[i])) {
            return;
        }
    }
    o = reg_malloc(sizeof *o + n * sizeof o->reqs[0] + len);
    if (o == NULL) {
        return;
    }
    o->next = NULL;
    o->ts = ts;
    o->n = n;
    o->len = len;
    o->bytes = (uint8_t *)&o->reqs[n];
    memcpy(o->bytes, buf, len);
    for (unsigned i = 0; i < n; i++) {
        o->reqs[i] = ops[i];
        o->reqs[i]->own = o;
    }
    /* Entries commit in the order they were proposed: append, so the
     * next apply normally matches the head. */
    for (tail = &s->own; *tail != NULL; tail = &(*tail)->next) {
    }
    *tail = o;
}

static struct srv__own *own_match(struct srv *s, const void *buf, size_t len)
{
    for (struct srv__own *o = s->own; o != NULL; o = o->next) {
        if (o->len == len && memcmp(o->bytes, buf, len) == 0) {
            return o;
        }
    }
    return NULL;
}

#ifndef NDEBUG
/* The command a follower decodes from the entry for request i. */
static void own_cmd(const struct srv *s, const struct srv__own *o, unsigned i,
                    struct st_cmd *cmd)
{
    *cmd = o->reqs[i]->cmd;
    cmd->ts_ms = o->ts;
    cmd->origin = s->id;
}

static bool same_cmd(const struct st_cmd *a, const struct st_cmd *b)
{
    struct st_cmd x = *a, y = *b;
    if (a->n_online != b->n_online || (a->online == NULL) != (b->online == NULL) ||
        (a->blueprint == NULL) != (b->blueprint == NULL)) {
        return false;
    }
    if (a->online != NULL && a->n_online > 0 &&
        memcmp(a->online, b->online, a->n_online * sizeof *a->online) != 0) {
        return false;
    }
    if (a->blueprint != NULL) {
        struct st_blueprint p = *a->blueprint, q = *b->blueprint;
        if (p.n_roles != q.n_roles || (p.n_roles > 0 &&
            memcmp(p.roles, q.roles, p.n_roles * sizeof *p.roles) != 0)) {
            return false;
        }
        p.roles = q.roles = NULL;
        if (memcmp(&p, &q, sizeof p) != 0) {
            return false;
        }
    }
    x.online = y.online = NULL;
    x.blueprint = y.blueprint = NULL;
    return memcmp(&x, &y, sizeof x) == 0;
}

/* Debug builds: the shortcut must give exactly what decoding gives. */
static void own_check(const struct srv *s, const struct srv__own *o)
{
    struct proto_log_iter it;
    struct proto_arena arena;
    struct st_cmd mine, decoded;
    char errmsg[REG_ERRMSG_SIZE];
    proto_arena_init(&arena);
    if (proto_log_open(o->bytes, o->len, &it, errmsg) != REG_OK || it.n_ops != o->n) {
        srv_log(SRV_LOG_ERROR, "own_entry_mismatch", "decode=%s", errmsg);
        abort();
    }
    for (unsigned i = 0; i < o->n; i++) {
        own_cmd(s, o, i, &mine);
        if (proto_log_next(&it, &decoded, &arena, errmsg) != REG_OK ||
            !same_cmd(&mine, &decoded)) {
            srv_log(SRV_LOG_ERROR, "own_entry_mismatch", "op=%u name=%s", i,
                    st_cmd_name(mine.op));
            abort();
        }
    }
    proto_arena_free(&arena);
}
#endif

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
    if (rv == REG_OK) {
        own_remember(s, ops, n, ts, *buf, *len);
    }
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
    struct srv__own *own;
    char errmsg[REG_ERRMSG_SIZE];
    uint32_t i;
    const void *out;
    uint16_t kind = 0;
    uint64_t t0 = uv_hrtime();
    int rv;

    proto_arena_init(&arena);
    own = s->own != NULL ? own_match(s, buf, len) : NULL;
    if (own != NULL) {
#ifndef NDEBUG
        own_check(s, own);
#endif
        if (own->ts > s->last_ts) {
            s->last_ts = own->ts;
        }
        results_reserve(s, own->n);
        for (i = 0; i < own->n; i++) {
            /* In place, not a copy of the (large) command: the request is
             * answered from the result, its cmd is not read again. */
            struct st_cmd *c = &own->reqs[i]->cmd;
            c->ts_ms = own->ts;
            c->origin = s->id;
            st_apply(s->state, c, &s->results[i]);
            srv__watch_applied(s, c, &s->results[i], index);
        }
        s->n_results = own->n;
        out = s->results;
        own_unlink_free(s, own);
        goto done;
    }
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
