/* member.c: membership changes and leadership transfer (notes §9.5, §9.6,
 * operations-conventions §B).
 *
 * Changes run one at a time from an internal queue, driven by the monitor
 * (never from inside a raft callback), and only while the leader is ready:
 * 0.15 does not commit a previous term's configuration until something of
 * the new term commits (notes §9.5 item 4), which the leader-init barrier
 * guarantees. An add goes spare -> standby -> caught up -> voter so a new
 * node never becomes a voter that drags the quorum down while it copies the
 * log; RAFT_CANTCHANGE and RAFT_NOCONNECTION are retried with backoff.
 *
 * Configuration refresh (a raft 0.15 bug found by jepsen, fixed upstream in
 * 0.17.1 by baa8f52): when a follower truncates an uncommitted configuration
 * entry (a deposed leader's pending add/remove), raft rolls back to the last
 * committed configuration by decoding that entry from its in-memory log; if
 * a snapshot has compacted the entry away, raft dereferences NULL and the
 * node dies with SIGSEGV. Snapshots keep `trailing` entries behind them, so
 * the leader keeps the committed configuration entry within half of that
 * from the head of the log: once it is older, it adds a spare that is never
 * a real node (GLUE__PHANTOM_ID) and removes it again, two configuration
 * entries that commit in a round trip each. Spares get no replication, so
 * the phantom's address is never dialled; a phantom left behind by a leader
 * that died mid-refresh is removed by the next refresh. */
#include <stdio.h>
#include <string.h>

#include "glue_internal.h"
#include "raft_compat.h"

#define GLUE__MAX_ATTEMPTS 20
#define GLUE__CATCHUP_SLACK 16

static uint64_t backoff_ms(unsigned attempts)
{
    uint64_t ms = 100;
    for (unsigned i = 0; i < attempts && ms < 5000; i++) {
        ms *= 2;
    }
    return ms > 5000 ? 5000 : ms;
}

static void finish_head(struct glue *g, int status, const char *msg)
{
    struct glue__change *c = g->c_head;

    if (c == NULL) {
        return;
    }
    g->c_head = c->next;
    if (g->c_head == NULL) {
        g->c_tail = NULL;
    }
    g->changes_queued--;
    glue__logf(g, status == REG_OK ? GLUE_LOG_INFO : GLUE_LOG_WARN,
               "membership %s %llu: %s %s",
               c->kind == GLUE__ADD      ? "add"
               : c->kind == GLUE__REFRESH ? "refresh"
                                          : "remove",
               (unsigned long long)c->id, reg_err_name(status), msg);
    c->cb(c->data, status, msg);
    reg_free(c);
}

static void retry_later(struct glue *g, struct glue__change *c, const char *why)
{
    c->attempts++;
    if (c->attempts >= GLUE__MAX_ATTEMPTS) {
        finish_head(g, REG_TIMEOUT, why);
        return;
    }
    c->not_before_ms = glue__now(g) + backoff_ms(c->attempts);
}

static void change_cb(struct raft_change *req, int status)
{
    struct glue *g = req->data;
    struct glue__change *c = g->c_head;

    /* The monitor may already have failed the change (leadership lost). */
    if (c == NULL || !c->busy) {
        return;
    }
    c->busy = false;
    if (status == 0) {
        switch (c->step) {
        case GLUE__STEP_ADD:
            c->step = GLUE__STEP_STANDBY;
            break;
        case GLUE__STEP_STANDBY:
            c->step = GLUE__STEP_CATCHUP;
            c->deadline_ms = glue__now(g) + 20ull * g->cfg.election_timeout_ms;
            break;
        case GLUE__STEP_PHANTOM_ADD:
            c->step = GLUE__STEP_PHANTOM_REMOVE;
            break;
        default: /* VOTER or REMOVE: done; finished by the next kick */
            c->step = -1;
            break;
        }
    } else if (status == RAFT_CANTCHANGE || status == RAFT_NOCONNECTION) {
        retry_later(g, c, raft_strerror(status));
    } else if (status == RAFT_LEADERSHIPLOST) {
        finish_head(g, REG_NOT_LEADER, "leadership lost during the change");
    } else {
        glue__fatal(g, REG_INTERNAL, "membership change failed: %s", raft_strerror(status));
    }
}

/* Map a synchronous raft error of a membership call. */
static void on_call_error(struct glue *g, struct glue__change *c, int rv)
{
    if (rv == RAFT_CANTCHANGE || rv == RAFT_NOCONNECTION || rv == RAFT_NOTLEADER) {
        /* NOTLEADER while still leader = a transfer is pending. */
        retry_later(g, c, raft_strerror(rv));
    } else if (rv == RAFT_DUPLICATEID || rv == RAFT_DUPLICATEADDRESS) {
        finish_head(g, REG_ALREADY_EXISTS, raft_errmsg(g->r));
    } else if (rv == RAFT_NOTFOUND || rv == RAFT_BADID) {
        finish_head(g, REG_NOT_FOUND, raft_errmsg(g->r));
    } else {
        finish_head(g, REG_INTERNAL, raft_strerror(rv));
    }
}

static void start_add(struct glue *g, struct glue__change *c)
{
    unsigned pos;
    int role = glue__c_role_of(g->r, c->id, &pos);

    if (role < 0) {
        c->step = GLUE__STEP_ADD;
        return;
    }
    if (strcmp(glue__c_configuration(g->r)->servers[pos].address, c->address) != 0) {
        finish_head(g, REG_ALREADY_EXISTS, "id present with another address");
        return;
    }
    c->step = role == RAFT_VOTER     ? -1
              : role == RAFT_STANDBY ? GLUE__STEP_CATCHUP
                                     : GLUE__STEP_STANDBY;
    c->deadline_ms = glue__now(g) + 20ull * g->cfg.election_timeout_ms;
}

static void start_remove(struct glue *g, struct glue__change *c)
{
    int role = glue__c_role_of(g->r, c->id, NULL);

    if (role < 0) {
        finish_head(g, REG_NOT_FOUND, "no such member");
        return;
    }
    if (role == RAFT_VOTER && glue__c_voters(g->r) <= 3 && !c->force) {
        finish_head(g, REG_FAILED_PRECONDITION,
                    "would leave fewer than three voters (use force)");
        return;
    }
    if (c->id == g->id && !c->self_fallback) {
        /* notes §9.6 item 1: hand leadership over first; the new leader
         * performs the removal (the monitor answers NOT_LEADER on loss). */
        c->step = GLUE__STEP_TRANSFER;
        return;
    }
    c->step = GLUE__STEP_REMOVE;
}

static void step(struct glue *g, struct glue__change *c)
{
    int rv = 0;
    unsigned pos;

    g->change_req.data = g;
    switch (c->step) {
    case GLUE__STEP_START:
        if (c->kind == GLUE__ADD) {
            start_add(g, c);
        } else if (c->kind == GLUE__REFRESH) {
            c->step = glue__c_role_of(g->r, GLUE__PHANTOM_ID, NULL) < 0
                          ? GLUE__STEP_PHANTOM_ADD
                          : GLUE__STEP_PHANTOM_REMOVE;
        } else {
            start_remove(g, c);
        }
        return;
    case GLUE__STEP_PHANTOM_ADD:
        rv = raft_add(g->r, &g->change_req, GLUE__PHANTOM_ID, GLUE__PHANTOM_ADDR, change_cb);
        break;
    case GLUE__STEP_PHANTOM_REMOVE:
        rv = raft_remove(g->r, &g->change_req, GLUE__PHANTOM_ID, change_cb);
        break;
    case GLUE__STEP_ADD:
        rv = raft_add(g->r, &g->change_req, c->id, c->address, change_cb);
        break;
    case GLUE__STEP_STANDBY:
        rv = raft_assign(g->r, &g->change_req, c->id, RAFT_STANDBY, change_cb);
        break;
    case GLUE__STEP_CATCHUP:
        if (glue__c_role_of(g->r, c->id, &pos) < 0) {
            finish_head(g, REG_NOT_FOUND, "member vanished during catch-up");
            return;
        }
        if (glue__c_match_index(g->r, pos) + GLUE__CATCHUP_SLACK < raft_last_index(g->r) &&
            glue__now(g) < c->deadline_ms) {
            return;
        }
        /* Past the deadline raft's own catch-up rounds decide. */
        c->step = GLUE__STEP_VOTER;
        return;
    case GLUE__STEP_VOTER:
        rv = raft_assign(g->r, &g->change_req, c->id, RAFT_VOTER, change_cb);
        break;
    case GLUE__STEP_REMOVE:
        rv = raft_remove(g->r, &g->change_req, c->id, change_cb);
        break;
    case GLUE__STEP_TRANSFER:
        if (g->transfer_busy) {
            return;
        }
        if (glue__transfer_start(g, 0) != 0) {
            /* No voter to hand over to: remove ourselves; raft steps the
             * leader down once the new configuration commits. */
            c->self_fallback = true;
            c->step = GLUE__STEP_REMOVE;
            return;
        }
        c->self_fallback = true; /* if still leader afterwards */
        c->step = GLUE__STEP_START;
        return;
    default:
        finish_head(g, REG_OK, "done");
        return;
    }
    if (rv == RAFT_DUPLICATEID && c->step == GLUE__STEP_PHANTOM_ADD) {
        c->step = GLUE__STEP_PHANTOM_REMOVE; /* left over from a dead leader */
        return;
    }
    if (rv == RAFT_NOTFOUND && c->step == GLUE__STEP_PHANTOM_REMOVE) {
        finish_head(g, REG_OK, "phantom already gone");
        return;
    }
    if (rv == RAFT_BADROLE && (c->step == GLUE__STEP_STANDBY || c->step == GLUE__STEP_VOTER)) {
        /* Role already as requested (e.g. a retried add). */
        c->step = c->step == GLUE__STEP_STANDBY ? GLUE__STEP_CATCHUP : -1;
        return;
    }
    if (rv != 0) {
        on_call_error(g, c, rv);
        return;
    }
    c->busy = true;
}

static void refresh_done(void *data, int status, const char *msg)
{
    (void)data;
    (void)status;
    (void)msg; /* finish_head logged it; a failed refresh is simply retried */
}

static int enqueue(struct glue *g, int kind, uint64_t id, const char *addr, bool force,
                   glue_change_cb cb, void *data);

/* Queue a refresh when the committed configuration entry has aged past half
 * the snapshot trailing, or a phantom is left in the configuration. */
static void maybe_refresh(struct glue *g)
{
    uint64_t gap = g->cfg.snapshot_trailing / 2;

    if (g->c_head != NULL || !g->ready || g->failed || g->phase != GLUE__RUNNING ||
        g->shutting_down || !glue__is_leader(g)) {
        return;
    }
    if (gap < 4) {
        gap = 4; /* each refresh itself appends two entries */
    }
    if (raft_last_index(g->r) - glue__c_config_index(g->r) < gap &&
        glue__c_role_of(g->r, GLUE__PHANTOM_ID, NULL) < 0) {
        return;
    }
    if (enqueue(g, GLUE__REFRESH, GLUE__PHANTOM_ID, NULL, false, refresh_done, NULL) == REG_OK) {
        g->n_config_refreshes++;
    }
}

void glue__changes_kick(struct glue *g)
{
    maybe_refresh(g);
    /* Bounded: each pass either waits (busy, backoff) or advances a step. */
    for (unsigned i = 0; i < 16; i++) {
        struct glue__change *c = g->c_head;
        if (c == NULL || c->busy || !g->ready || g->failed || g->phase != GLUE__RUNNING ||
            g->transfer_busy || glue__now(g) < c->not_before_ms) {
            return;
        }
        step(g, c);
    }
}

void glue__changes_fail(struct glue *g, int status)
{
    while (g->c_head != NULL) {
        finish_head(g, status, status == REG_NOT_LEADER ? "leadership lost" : "shutting down");
    }
}

static int enqueue(struct glue *g, int kind, uint64_t id, const char *addr, bool force,
                   glue_change_cb cb, void *data)
{
    struct glue__change *c;

    if (g->failed || g->shutting_down || g->phase != GLUE__RUNNING) {
        return REG_UNAVAILABLE;
    }
    if (!glue__is_leader(g) || !g->ready) {
        return REG_NOT_LEADER;
    }
    if (id == 0 || (kind != GLUE__REFRESH && id > GLUE_ID_MAX) ||
        (addr != NULL && (addr[0] == '\0' || strlen(addr) > GLUE_ADDR_MAX))) {
        return REG_INVALID_ARGUMENT;
    }
    if (g->changes_queued >= 64) {
        return REG_RATE_LIMITED;
    }
    c = reg_calloc(1, sizeof *c);
    if (c == NULL) {
        return REG_NOMEM;
    }
    c->kind = kind;
    c->id = id;
    c->force = force;
    c->cb = cb;
    c->data = data;
    if (addr != NULL) {
        snprintf(c->address, sizeof c->address, "%s", addr);
    }
    if (g->c_tail != NULL) {
        g->c_tail->next = c;
    } else {
        g->c_head = c;
    }
    g->c_tail = c;
    g->changes_queued++;
    return REG_OK;
}

int glue_member_add(struct glue *g, uint64_t id, const char *raft_addr, glue_change_cb cb,
                    void *data)
{
    if (raft_addr == NULL) {
        return REG_INVALID_ARGUMENT;
    }
    return enqueue(g, GLUE__ADD, id, raft_addr, false, cb, data);
}

int glue_member_remove(struct glue *g, uint64_t id, bool force, glue_change_cb cb, void *data)
{
    return enqueue(g, GLUE__REMOVE, id, NULL, force, cb, data);
}

/* ---- Leadership transfer ----------------------------------------------- */

static void transfer_cb(struct raft_transfer *req)
{
    struct glue *g = req->data;

    /* notes §0 item 9: req is g->transfer_req and is NOT freed here; the
     * outcome is reported from the monitor (glue__transfer_check). */
    g->transfer_busy = false;
}

int glue__transfer_start(struct glue *g, uint64_t id)
{
    int rv;

    if (g->transfer_busy) {
        return RAFT_BUSY;
    }
    memset(&g->transfer_req, 0, sizeof g->transfer_req);
    g->transfer_req.data = g;
    rv = raft_transfer(g->r, &g->transfer_req, id, transfer_cb);
    if (rv == 0) {
        g->transfer_busy = true;
        g->transfer_target = id;
    }
    return rv;
}

void glue__transfer_check(struct glue *g)
{
    glue_change_cb cb = g->transfer_cb;

    if (g->transfer_busy || cb == NULL) {
        return;
    }
    g->transfer_cb = NULL;
    if (raft_state(g->r) == RAFT_LEADER) {
        cb(g->transfer_data, REG_TIMEOUT, "this node still leads");
    } else {
        cb(g->transfer_data, REG_OK, "leadership transferred");
    }
}

int glue_transfer(struct glue *g, uint64_t id, glue_change_cb cb, void *data)
{
    int rv;

    if (g->failed || g->shutting_down || g->phase != GLUE__RUNNING) {
        return REG_UNAVAILABLE;
    }
    if (!glue__is_leader(g) || !g->ready) {
        return REG_NOT_LEADER;
    }
    if (g->transfer_busy || g->transfer_cb != NULL) {
        return REG_RATE_LIMITED;
    }
    if (id != 0 && (id == g->id || glue__c_role_of(g->r, id, NULL) != RAFT_VOTER)) {
        return REG_INVALID_ARGUMENT;
    }
    rv = glue__transfer_start(g, id);
    if (rv == RAFT_NOTFOUND || rv == RAFT_BADID) {
        return REG_INVALID_ARGUMENT;
    }
    if (rv != 0) {
        return rv == RAFT_NOTLEADER ? REG_NOT_LEADER : REG_INTERNAL;
    }
    g->transfer_cb = cb;
    g->transfer_data = data;
    return REG_OK;
}
