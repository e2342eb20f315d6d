/* monitor.c: the leader monitor, fail-stop and the free-space watchdog.
 *
 * raft 0.15 has no state-change callback (notes §2.8), so glue__monitor runs
 * once per loop iteration (a uv_prepare in production, raft_fixture_hook in
 * tests) and compares raft's state with what it saw last time:
 *   - became leader: submit the leader-init barrier; only after it commits
 *     is the node "ready" (reads, membership). notes §0 item 5 / §8 #4: 0.15
 *     appends no no-op on election and commits old-term entries by counting;
 *   - lost leadership: drop readiness, fail queued reads and membership work
 *     (proposals in flight get LEADERSHIPLOST from raft itself);
 *   - RAFT_UNAVAILABLE after start: fail-stop (notes §9.9);
 *   - keeps a copied leader hint (raft's string dies on state change).
 * The monitor also drives everything deferred out of raft callbacks:
 * proposals, read barriers, membership steps, and the close that fail-stop
 * and shutdown need (notes §0 item 3: never raft_close inside a callback). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "glue_internal.h"
#include "raft_compat.h"

static void init_barrier_cb(struct raft_barrier *req, int status)
{
    struct glue *g = req->data;

    g->init_barrier_busy = false;
    if (status == 0) {
        if (glue__is_leader(g) && glue__c_term(g->r) == g->leader_term) {
            g->ready = true;
            glue__logf(g, GLUE_LOG_INFO, "leader ready (term %llu)",
                       (unsigned long long)g->leader_term);
        }
    } else if (status != RAFT_LEADERSHIPLOST) {
        glue__fatal(g, REG_INTERNAL, "leader-init barrier failed: %s", raft_strerror(status));
    }
}

static void submit_init_barrier(struct glue *g)
{
    int rv;

    if (g->init_barrier_busy || g->ready) {
        return;
    }
#ifdef PILOT_CANARY_NO_INIT_BARRIER
    /* Jepsen canary (issue 7 item 6), never in a release: a new leader
     * serves at once, before entries of earlier terms are known applied. */
    g->ready = true;
    return;
#endif
    g->init_barrier.data = g;
    rv = raft_barrier(g->r, &g->init_barrier, init_barrier_cb);
    if (rv == 0) {
        g->init_barrier_busy = true;
    } else if (rv != RAFT_NOTLEADER) {
        glue__fatal(g, REG_INTERNAL, "leader-init barrier: %s", raft_strerror(rv));
    }
    /* NOTLEADER: a transfer is pending; retried at the next run. */
}

static void update_hint(struct glue *g)
{
    raft_id id = 0;
    const char *addr = NULL;

    raft_leader(g->r, &id, &addr);
    if (id != 0 && id != g->hint_id) {
        g->leader_changes++;
        glue__logf(g, GLUE_LOG_INFO, "leader is now %llu (%s)", (unsigned long long)id,
                   addr != NULL ? addr : "?");
    }
    if (id != 0 || g->hint_id != 0) {
        g->hint_id = id;
        if (id != 0 && addr != NULL) {
            snprintf(g->hint_address, sizeof g->hint_address, "%s", addr);
        } else {
            g->hint_address[0] = '\0';
        }
    }
}

static void report_fail_stop(struct glue *g)
{
    if (g->fail_reported) {
        return;
    }
    g->fail_reported = true;
    glue__logf(g, GLUE_LOG_ERROR, "fail-stop: %s", g->fail_why);
    if (g->cfg.fail_stop != NULL) {
        g->cfg.fail_stop(g->cfg.fail_stop_data, g->fail_code, g->fail_why);
    } else {
        exit(70);
    }
}

static void monitor_failed(struct glue *g)
{
    glue__fail_queued(g, REG_UNAVAILABLE);
    glue__reads_fail(g, REG_UNAVAILABLE);
    glue__changes_fail(g, REG_UNAVAILABLE);
    if (g->fixture) {
        report_fail_stop(g);
        return;
    }
    /* Best-effort close first so the log is left consistent (notes §9.9);
     * we are in the prepare callback, not inside a raft callback. The close
     * callback (node.c) reports the fail-stop. */
    glue__close_raft(g);
}

/* A barrier that never finishes holds every later log write: say so. */
static void io_order_watch(struct glue *g)
{
    struct glue__io *s = &g->io_order;

    if (s->head == NULL) {
        s->held_warned = false;
    } else if (!s->held_warned && glue__now(g) - s->held_since > 10000) {
        s->held_warned = true;
        glue__logf(g, GLUE_LOG_WARN, "log writes held behind an unfinished %s for over 10 s",
                   s->busy == GLUE__IO_PUT ? "snapshot write" : "truncate");
    }
}

void glue__monitor(struct glue *g)
{
    int state;

    if (g->r == NULL || !g->started || g->phase != GLUE__RUNNING) {
        return;
    }
    if (!g->fixture) {
        glue__io_flush(&g->io_order);
        io_order_watch(g);
        if (g->io_order.truncate_failed != 0 && !g->failed) {
            glue__fatal(g, REG_INTERNAL, "log truncate failed: %s",
                        raft_strerror(g->io_order.truncate_failed));
        }
    }
    if (g->failed) {
        monitor_failed(g);
        return;
    }
    if (g->shutting_down) {
        glue__transfer_check(g);
        glue__shutdown_step(g);
        return;
    }
    state = raft_state(g->r);
    if (raft_last_applied(g->r) > g->applied_index) {
        g->applied_index = raft_last_applied(g->r);
    }
    if (state == RAFT_UNAVAILABLE && !g->shutting_down) {
        glue__fatal(g, REG_INTERNAL, "raft became unavailable: %s", raft_errmsg(g->r));
        monitor_failed(g);
        return;
    }
    if (state == RAFT_LEADER &&
        (g->last_state != RAFT_LEADER || glue__c_term(g->r) != g->leader_term)) {
        g->leader_term = glue__c_term(g->r);
        g->ready = false;
        glue__logf(g, GLUE_LOG_INFO, "became leader (term %llu)",
                   (unsigned long long)g->leader_term);
    }
    if (state != RAFT_LEADER && g->last_state == RAFT_LEADER) {
        g->ready = false;
        glue__logf(g, GLUE_LOG_INFO, "lost leadership (now %s)",
                   state == RAFT_FOLLOWER ? "follower" : "candidate");
        glue__reads_fail(g, REG_NOT_LEADER);
        glue__changes_fail(g, REG_NOT_LEADER);
        glue__fail_queued(g, REG_NOT_LEADER);
    }
    g->last_state = state;
    update_hint(g);
    glue__failover_tick(g);
    if (state == RAFT_LEADER && !g->ready && !g->shutting_down) {
        submit_init_barrier(g);
    }
    glue__transfer_check(g);
    glue__kick(g);
    glue__reads_kick(g);
    glue__changes_kick(g);
}

void glue__fatal(struct glue *g, int code, const char *fmt, ...)
{
    va_list ap;

    if (g->failed) {
        return;
    }
    g->failed = true;
    g->ready = false;
    g->fail_code = code;
    va_start(ap, fmt);
    vsnprintf(g->fail_why, sizeof g->fail_why, fmt, ap);
    va_end(ap);
    glue__logf(g, GLUE_LOG_ERROR, "fatal: %s (fail-stop scheduled)", g->fail_why);
}

/* ---- Free-space watchdog (notes §0 item 6, §8 #7) ---------------------- */

static void statfs_cb(uv_fs_t *req)
{
    struct glue *g = req->data;

    g->statfs_busy = false;
    if (req->result == 0 && req->ptr != NULL) {
        const uv_statfs_t *s = req->ptr;
        uint64_t avail = s->f_bavail * s->f_bsize;
        bool low = avail < g->cfg.min_free_bytes;
        if (low != g->low_space) {
            glue__logf(g, low ? GLUE_LOG_WARN : GLUE_LOG_INFO,
                       "free space %llu bytes: proposals %s",
                       (unsigned long long)avail, low ? "refused" : "accepted again");
        }
        g->low_space = low;
        if (avail < g->cfg.critical_free_bytes) {
            glue__fatal(g, REG_INTERNAL, "free space critical: %llu bytes left",
                        (unsigned long long)avail);
        }
    }
    uv_fs_req_cleanup(req);
    glue__maybe_finish_close(g);
}

static void statfs_timer_cb(uv_timer_t *t)
{
    struct glue *g = t->data;

    if (g->statfs_busy || g->phase != GLUE__RUNNING) {
        return;
    }
    g->statfs_req.data = g;
    if (uv_fs_statfs(g->loop, &g->statfs_req, g->raft_dir, statfs_cb) == 0) {
        g->statfs_busy = true;
    }
}

static void prepare_cb(uv_prepare_t *p)
{
    glue__monitor(p->data);
}

int glue__watchdog_start(struct glue *g)
{
    int rv;

    rv = uv_prepare_init(g->loop, &g->monitor);
    if (rv != 0) {
        return rv;
    }
    g->monitor.data = g;
    g->open_handles++;
    uv_prepare_start(&g->monitor, prepare_cb);
    rv = uv_timer_init(g->loop, &g->statfs_timer);
    if (rv != 0) {
        return rv;
    }
    g->statfs_timer.data = g;
    g->open_handles++;
    uv_timer_start(&g->statfs_timer, statfs_timer_cb, 0, g->cfg.statfs_interval_ms);
    return glue__failover_start(g);
}
