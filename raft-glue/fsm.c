/* fsm.c: glue's struct raft_fsm (version 1), a thin adapter that hands
 * committed entries, snapshots and restores to the server's struct glue_app.
 *
 * Rules from raft-0.15-notes:
 *   §0 item 2: apply always returns 0; the app turns bad entries into error
 *              results, so one poison entry cannot stall the cluster.
 *   §0 item 8: the entry index is last_applied + 1 here (raft increments
 *              last_applied only after apply and its callback).
 *   §8 #9:     snapshot returns RAFT_BUSY while a configuration change is
 *              uncommitted, so no snapshot persists an uncommitted config.
 *   §2.4:      v1 snapshot buffers are raft_malloc'd and freed by raft;
 *              restore frees the buffer only on success. */
#include "glue_internal.h"
#include "raft_compat.h"

static void *fsm_alloc(size_t size)
{
    return raft_malloc(size);
}

static int fsm_apply(struct raft_fsm *fsm, const struct raft_buffer *buf, void **result)
{
    struct glue *g = fsm->data;
    uint64_t index = raft_last_applied(g->r) + 1;

    *result = (void *)g->app.apply(g->app.data, index, buf->base, buf->len);
    if (index > g->applied_index) {
        g->applied_index = index;
    }
    return 0;
}

static int fsm_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
    struct glue *g = fsm->data;
    void *base = NULL;
    size_t len = 0;
    int rv = RAFT_BUSY;

    if (glue__c_uncommitted_config(g->r) != 0) {
        goto err;
    }
    *bufs = raft_malloc(sizeof **bufs);
    if (*bufs == NULL) {
        rv = RAFT_NOMEM;
        goto err;
    }
    if (g->app.snapshot(g->app.data, fsm_alloc, &base, &len) != REG_OK) {
        /* BUSY: raft skips this snapshot and retries at the next threshold
         * instead of marking the node unavailable. */
        rv = RAFT_BUSY;
        goto err_after_bufs;
    }
    (*bufs)[0].base = base;
    (*bufs)[0].len = len;
    *n_bufs = 1;
    return 0;

err_after_bufs:
    raft_free(*bufs);
    *bufs = NULL;
err:
    return rv;
}

static int fsm_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
    struct glue *g = fsm->data;
    int rv = g->app.restore(g->app.data, buf->base, buf->len);

    if (rv != REG_OK) {
        glue__logf(g, GLUE_LOG_ERROR, "snapshot restore refused by the app: %s",
                   reg_err_name(rv));
        return RAFT_MALFORMED;
    }
    raft_free(buf->base);
    /* The snapshot covers everything up to raft's snapshot index; the
     * monitor catches applied_index up from raft_last_applied. */
    return 0;
}

void glue__fsm_init(struct glue *g)
{
    g->fsm.version = 1;
    g->fsm.data = g;
    g->fsm.apply = fsm_apply;
    g->fsm.snapshot = fsm_snapshot;
    g->fsm.restore = fsm_restore;
}

void glue_free_entry(void *buf)
{
    raft_free(buf);
}
