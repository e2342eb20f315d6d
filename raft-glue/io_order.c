/* io_order.c: a raft_io in front of raft_uv that lets one log barrier
 * (truncate or snapshot put) reach raft_uv at a time.
 *
 * raft_uv 0.15 drops a barrier request made while another is in progress
 * (fixed upstream in v0.18.0, 50d72f2 "A barrier can have multiple barrier
 * requests"): the second request is never attached, its callback never
 * runs. A truncate dropped that way leaves conflicting entries on disk
 * under entries written after them, so a restart loads a log with the
 * wrong entries at the wrong indices; a snapshot put dropped that way
 * stalls snapshots forever. The Jepsen smoke run found it through the
 * leak of the dropped request (jepsen/README.md, bug 7).
 *
 * raft calls io->truncate and io->snapshot_put synchronously and expects
 * the following appends to land after them, so a barrier that must wait
 * is queued together with every log call that follows it, and the queue
 * is replayed in order once the barrier in progress has finished:
 *   - a snapshot put is finished when its callback has run AND raft_uv has
 *     unblocked (it does so right after the callback): glue__io_flush runs
 *     once per loop iteration, so it is called after both;
 *   - a truncate has no callback. It is a blocking barrier, so the first
 *     append made after it completes only once the truncate is done: that
 *     append's callback marks the truncate finished. raft 0.15 always
 *     appends right after a truncate (replication.c,
 *     deleteConflictingEntries then the append of the new entries).
 * Everything else is passed straight to raft_uv. */
#include <stdlib.h>
#include <string.h>

#include "glue_internal.h"

static struct glue__io *io_of(struct raft_io *io)
{
    return io->impl;
}

/* raft reads errors from the io it was given, raft_uv writes them to its own. */
static int synced(struct glue__io *s, int rv)
{
    memcpy(s->io.errmsg, s->inner->errmsg, sizeof s->io.errmsg);
    return rv;
}

/* raft_uv calls back with only the request, so the trampolines find their
 * shim in this list. Every glue of the process runs on one loop thread. */
static struct glue__io *shims;

static struct glue__io *owner_of_put(struct raft_io_snapshot_put *req)
{
    for (struct glue__io *s = shims; s != NULL; s = s->next_shim) {
        if (s->put_req == req) {
            return s;
        }
    }
    return NULL;
}

static struct glue__io *owner_of_append(struct raft_io_append *req)
{
    for (struct glue__io *s = shims; s != NULL; s = s->next_shim) {
        if (s->marker == req) {
            return s;
        }
    }
    return NULL;
}

static void put_trampoline(struct raft_io_snapshot_put *req, int status)
{
    struct glue__io *s = owner_of_put(req);
    raft_io_snapshot_put_cb cb;

    if (s == NULL) {
        abort(); /* only requests the shim forwarded come here */
    }
    cb = s->put_cb;
    s->busy = GLUE__IO_DONE;
    s->put_req = NULL;
    synced(s, 0);
    req->cb = cb;
    cb(req, status);
}

static void marker_trampoline(struct raft_io_append *req, int status)
{
    struct glue__io *s = owner_of_append(req);
    raft_io_append_cb cb;

    if (s == NULL) {
        abort();
    }
    cb = s->marker_cb;
    s->busy = GLUE__IO_DONE;
    s->marker = NULL;
    synced(s, 0);
    req->cb = cb;
    cb(req, status);
}

/* ---- forwarding to raft_uv --------------------------------------------- */

static int fwd_append(struct glue__io *s, struct raft_io_append *req,
                      const struct raft_entry entries[], unsigned n, raft_io_append_cb cb)
{
    int rv;

    if (s->busy == GLUE__IO_TRUNCATE && s->marker == NULL) {
        s->marker = req;
        s->marker_cb = cb;
        rv = s->inner->append(s->inner, req, entries, n, marker_trampoline);
        if (rv != 0) {
            /* No append will report the truncate; raft_uv has it queued
             * ahead of anything submitted later, so let the queue go on. */
            s->marker = NULL;
            s->busy = GLUE__IO_DONE;
        }
        return synced(s, rv);
    }
    return synced(s, s->inner->append(s->inner, req, entries, n, cb));
}

static int fwd_truncate(struct glue__io *s, raft_index index)
{
    int rv = s->inner->truncate(s->inner, index);

    if (rv == 0) {
        s->busy = GLUE__IO_TRUNCATE;
        s->marker = NULL;
        s->n_truncates++;
    }
    return synced(s, rv);
}

static int fwd_put(struct glue__io *s, unsigned trailing, struct raft_io_snapshot_put *req,
                   const struct raft_snapshot *snapshot, raft_io_snapshot_put_cb cb)
{
    int rv;

    s->busy = GLUE__IO_PUT;
    s->put_req = req;
    s->put_cb = cb;
    rv = s->inner->snapshot_put(s->inner, trailing, req, snapshot, put_trampoline);
    if (rv != 0) {
        s->busy = GLUE__IO_IDLE;
        s->put_req = NULL;
    }
    return synced(s, rv);
}

/* ---- the queue --------------------------------------------------------- */

static int enqueue(struct glue__io *s, const struct glue__io_op *op)
{
    struct glue__io_op *q = malloc(sizeof *q);

    if (q == NULL) {
        return RAFT_NOMEM;
    }
    *q = *op;
    q->next = NULL;
    if (s->tail != NULL) {
        s->tail->next = q;
    } else {
        s->head = q;
        s->held_since = s->inner->time(s->inner);
    }
    s->tail = q;
    return 0;
}

static struct glue__io_op *dequeue(struct glue__io *s)
{
    struct glue__io_op *q = s->head;

    s->head = q->next;
    if (s->head == NULL) {
        s->tail = NULL;
    }
    return q;
}

/* A barrier that waits only for the flush after a finished one (raft may
 * start the next snapshot right away) is not counted as contention. */
static void count_wait(struct glue__io *s)
{
    if (s->head != NULL || s->busy == GLUE__IO_TRUNCATE || s->busy == GLUE__IO_PUT) {
        s->n_deferred++;
    }
}

static bool is_barrier(const struct glue__io_op *op)
{
    return op->kind == GLUE__IO_OP_TRUNCATE || op->kind == GLUE__IO_OP_PUT;
}

/* Replays queued calls in order until the next barrier has been handed to
 * raft_uv. Raft was told "submitted" long ago, so a failure now goes to the
 * request's callback, as a failed write would; a truncate raft_uv refuses
 * leaves the log in an unknown state and is reported for fail-stop. */
void glue__io_flush(struct glue__io *s)
{
    if (s->busy == GLUE__IO_DONE) {
        s->busy = GLUE__IO_IDLE;
    }
    while (s->head != NULL && !s->closing) {
        struct glue__io_op *op;
        int rv;

        if (is_barrier(s->head) && s->busy != GLUE__IO_IDLE) {
            return;
        }
        op = dequeue(s);
        switch (op->kind) {
            case GLUE__IO_OP_APPEND:
                rv = fwd_append(s, op->append, op->entries, op->n, op->append_cb);
                if (rv != 0) {
                    op->append_cb(op->append, rv);
                }
                break;
            case GLUE__IO_OP_TRUNCATE:
                rv = fwd_truncate(s, op->index);
                if (rv != 0 && s->truncate_failed == 0) {
                    s->truncate_failed = rv;
                }
                break;
            default:
                rv = fwd_put(s, op->trailing, op->put, op->snapshot, op->put_cb);
                if (rv != 0) {
                    op->put_cb(op->put, rv);
                }
                break;
        }
        free(op);
    }
}

/* ---- the raft_io methods raft sees ------------------------------------- */

static int m_init(struct raft_io *io, raft_id id, const char *address)
{
    struct glue__io *s = io_of(io);

    /* raft_uv hands its own raft_io to the tick and receive callbacks;
     * raft finds itself through io->data. */
    s->inner->data = io->data;
    return synced(s, s->inner->init(s->inner, id, address));
}

static void m_close(struct raft_io *io, raft_io_close_cb cb)
{
    struct glue__io *s = io_of(io);

    /* As raft_uv does with its own pending writes: cancelled, synchronously,
     * before the close. A queued truncate is dropped with the appends after
     * it, which leaves the log as it was before the truncate: a valid
     * prefix, as if the node had stopped a moment earlier. */
    s->closing = true;
    while (s->head != NULL) {
        struct glue__io_op *op = dequeue(s);

        if (op->kind == GLUE__IO_OP_APPEND) {
            op->append_cb(op->append, RAFT_CANCELED);
        } else if (op->kind == GLUE__IO_OP_PUT) {
            op->put_cb(op->put, RAFT_CANCELED);
        }
        free(op);
    }
    s->inner->close(s->inner, cb);
}

static int m_load(struct raft_io *io, raft_term *term, raft_id *voted_for,
                  struct raft_snapshot **snapshot, raft_index *start_index,
                  struct raft_entry *entries[], size_t *n_entries)
{
    struct glue__io *s = io_of(io);

    return synced(s, s->inner->load(s->inner, term, voted_for, snapshot, start_index, entries,
                                    n_entries));
}

static int m_start(struct raft_io *io, unsigned msecs, raft_io_tick_cb tick,
                   raft_io_recv_cb recv)
{
    struct glue__io *s = io_of(io);

    s->inner->data = io->data;
    return synced(s, s->inner->start(s->inner, msecs, tick, recv));
}

static int m_bootstrap(struct raft_io *io, const struct raft_configuration *conf)
{
    struct glue__io *s = io_of(io);

    return synced(s, s->inner->bootstrap(s->inner, conf));
}

static int m_recover(struct raft_io *io, const struct raft_configuration *conf)
{
    struct glue__io *s = io_of(io);

    return synced(s, s->inner->recover(s->inner, conf));
}

static int m_set_term(struct raft_io *io, raft_term term)
{
    struct glue__io *s = io_of(io);

    return synced(s, s->inner->set_term(s->inner, term));
}

static int m_set_vote(struct raft_io *io, raft_id server_id)
{
    struct glue__io *s = io_of(io);

    return synced(s, s->inner->set_vote(s->inner, server_id));
}

static int m_send(struct raft_io *io, struct raft_io_send *req,
                  const struct raft_message *message, raft_io_send_cb cb)
{
    struct glue__io *s = io_of(io);

    return synced(s, s->inner->send(s->inner, req, message, cb));
}

static int m_append(struct raft_io *io, struct raft_io_append *req,
                    const struct raft_entry entries[], unsigned n, raft_io_append_cb cb)
{
    struct glue__io *s = io_of(io);

    if (s->head != NULL) {
        struct glue__io_op op = {.kind = GLUE__IO_OP_APPEND, .append = req,
                                 .entries = entries, .n = n, .append_cb = cb};
        return enqueue(s, &op);
    }
    return fwd_append(s, req, entries, n, cb);
}

static int m_truncate(struct raft_io *io, raft_index index)
{
    struct glue__io *s = io_of(io);

    if (s->head != NULL || s->busy != GLUE__IO_IDLE) {
        struct glue__io_op op = {.kind = GLUE__IO_OP_TRUNCATE, .index = index};
        count_wait(s);
        return enqueue(s, &op);
    }
    return fwd_truncate(s, index);
}

static int m_snapshot_put(struct raft_io *io, unsigned trailing,
                          struct raft_io_snapshot_put *req,
                          const struct raft_snapshot *snapshot, raft_io_snapshot_put_cb cb)
{
    struct glue__io *s = io_of(io);

    if (s->head != NULL || s->busy != GLUE__IO_IDLE) {
        struct glue__io_op op = {.kind = GLUE__IO_OP_PUT, .trailing = trailing, .put = req,
                                 .snapshot = snapshot, .put_cb = cb};
        count_wait(s);
        return enqueue(s, &op);
    }
    return fwd_put(s, trailing, req, snapshot, cb);
}

static int m_snapshot_get(struct raft_io *io, struct raft_io_snapshot_get *req,
                          raft_io_snapshot_get_cb cb)
{
    struct glue__io *s = io_of(io);

    return synced(s, s->inner->snapshot_get(s->inner, req, cb));
}

static raft_time m_time(struct raft_io *io)
{
    return io_of(io)->inner->time(io_of(io)->inner);
}

static int m_random(struct raft_io *io, int min, int max)
{
    return io_of(io)->inner->random(io_of(io)->inner, min, max);
}

static int m_async_work(struct raft_io *io, struct raft_io_async_work *req,
                        raft_io_async_work_cb cb)
{
    struct glue__io *s = io_of(io);

    return synced(s, s->inner->async_work(s->inner, req, cb));
}

void glue__io_init(struct glue__io *s, struct raft_io *inner)
{
    memset(s, 0, sizeof *s);
    s->inner = inner;
    s->io.version = inner->version;
    s->io.impl = s;
    s->io.init = m_init;
    s->io.close = m_close;
    s->io.load = m_load;
    s->io.start = m_start;
    s->io.bootstrap = m_bootstrap;
    s->io.recover = m_recover;
    s->io.set_term = m_set_term;
    s->io.set_vote = m_set_vote;
    s->io.send = m_send;
    s->io.append = m_append;
    s->io.truncate = m_truncate;
    s->io.snapshot_put = m_snapshot_put;
    s->io.snapshot_get = m_snapshot_get;
    s->io.time = m_time;
    s->io.random = m_random;
    s->io.async_work = inner->version >= 2 ? m_async_work : NULL;
    s->next_shim = shims;
    shims = s;
}

void glue__io_fini(struct glue__io *s)
{
    struct glue__io **p = &shims;

    while (*p != NULL && *p != s) {
        p = &(*p)->next_shim;
    }
    if (*p == s) {
        *p = s->next_shim;
    }
    while (s->head != NULL) {
        free(dequeue(s));
    }
}
