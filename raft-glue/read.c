/* read.c: linearizable reads through coalesced barriers (notes §5,
 * DESIGN.md §5).
 *
 * A read is served once a raft_barrier submitted AFTER the read arrived has
 * committed: the barrier commits in the current term only with a majority,
 * so its callback proves this node still led after the read arrived and
 * that every earlier write is applied here. One barrier serves every read
 * queued before it was submitted; reads arriving while it is in flight wait
 * for the next one. A leader whose leader-init barrier has not completed
 * (notes §0 item 5) queues reads until it is ready. */
#include "glue_internal.h"
#include "raft_compat.h"

static void serve(struct glue *g, struct glue__read *list, int status)
{
    while (list != NULL) {
        struct glue__read *rd = list;
        list = rd->next;
        if (status == REG_OK) {
            g->n_reads++;
        }
        rd->cb(rd->data, status);
        reg_free(rd);
    }
}

static void barrier_cb(struct raft_barrier *req, int status)
{
    struct glue__barrier *b = req->data;
    struct glue *g = b->g;
    int st = REG_OK;

    g->barrier = NULL;
    if (status == RAFT_LEADERSHIPLOST) {
        st = g->shutting_down ? REG_UNAVAILABLE : REG_NOT_LEADER;
    } else if (status != 0) {
        /* notes §8 #7: a failed barrier is a failed disk write. */
        st = REG_INTERNAL;
        glue__fatal(g, REG_INTERNAL, "read barrier failed: %s", raft_strerror(status));
    }
    serve(g, b->reads, st);
    reg_free(b);
}

void glue__reads_kick(struct glue *g)
{
    struct glue__barrier *b;
    int rv;

    if (g->r_head == NULL || g->barrier != NULL || !g->ready || g->failed ||
        g->phase != GLUE__RUNNING) {
        return;
    }
    b = reg_calloc(1, sizeof *b);
    if (b == NULL) {
        return; /* retried at the next monitor run */
    }
    b->g = g;
    b->req.data = b;
    rv = raft_barrier(g->r, &b->req, barrier_cb);
    if (rv != 0) {
        reg_free(b);
        if (rv == RAFT_NOTLEADER) {
            /* A leadership transfer is pending; the monitor fails the queue
             * if leadership really goes. */
            return;
        }
        glue__fatal(g, REG_INTERNAL, "raft_barrier: %s", raft_strerror(rv));
        return;
    }
    b->reads = g->r_head;
    g->r_head = g->r_tail = NULL;
    g->barrier = b;
    g->n_barriers++;
}

void glue__reads_fail(struct glue *g, int status)
{
    struct glue__read *list = g->r_head;

    g->r_head = g->r_tail = NULL;
    serve(g, list, status);
}

int glue_read(struct glue *g, glue_read_cb cb, void *data)
{
    struct glue__read *rd;

    if (g->failed || g->shutting_down || g->phase != GLUE__RUNNING) {
        return REG_UNAVAILABLE;
    }
    if (!glue__is_leader(g)) {
        return REG_NOT_LEADER;
    }
#ifdef PILOT_CANARY_NO_READ_BARRIER
    /* Jepsen canary (issue 7 item 6), never in a release: answer from local
     * state at once, so a deposed leader that has not noticed serves stale
     * reads. The suite must catch this. */
    cb(data, REG_OK);
    return REG_OK;
#endif
    rd = reg_malloc(sizeof *rd);
    if (rd == NULL) {
        return REG_NOMEM;
    }
    rd->cb = cb;
    rd->data = data;
    rd->next = NULL;
    if (g->r_tail != NULL) {
        g->r_tail->next = rd;
    } else {
        g->r_head = rd;
    }
    g->r_tail = rd;
    return REG_OK;
}
