/* failover.c: the dead-leader fast path. When the leader PROCESS is gone
 * (kill -9, crash), the survivors elect a successor within a few heartbeats
 * instead of waiting out raft's election timer.
 *
 * Why the plain timer is slow in raft 0.15 (recv_request_vote.c, tick.c,
 * election.c at v0.15.0): a follower refuses every RequestVote, pre-vote or
 * not, while it still has a current leader, and it drops that leader only
 * when its own randomised timer in [T, 2T] fires (convertToCandidate). The
 * first survivor whose timer fires is refused by the other and re-arms its
 * timer to another [T, 2T]; the election completes only after the LATER of
 * the two survivors' timers, about 1.7 T on average (docs/benchmarks.md B4).
 *
 * Mechanism, run from the leader monitor on every loop iteration:
 *   1. A follower that has heard nothing from its leader for 2 heartbeat
 *      intervals (raft resets the election timer on every AppendEntries)
 *      probes the leader's raft address with a bare TCP connect, then again
 *      at intervals doubling from one heartbeat up to T/2 while it stays
 *      silent.
 *   2. Connection refused (RST: nothing listens there) is proof that the raft
 *      instance at that address is gone: the transport listens from
 *      raft_start to raft_close, and a restarted node comes back a follower.
 *      The follower then forgets the leader (so it grants pre-votes and
 *      votes again) and pulls its election timer in to a small randomised
 *      delay in [H/2, 2H] (H = heartbeat). For one election timeout after
 *      that, while no leader is known, a follower or candidate whose timer
 *      would fire later than 2H is pulled in again the same way, so a
 *      candidate refused by a survivor that had not yet noticed retries
 *      quickly instead of after another [T, 2T].
 *   3. A probe that connects (the process is alive, merely slow or cut off
 *      from us) or times out (partition, host down, packet loss) proves
 *      nothing and changes nothing: the plain timer applies.
 *
 * Safety. Raft's safety properties (election safety, log matching, leader
 * completeness, state machine safety) rest on terms and votes persisted
 * before they are acted on, one vote per term, majorities, and the
 * "candidate's log at least as up to date" check. This file touches none of
 * them: it changes only (a) the follower's volatile belief in a leader and
 * (b) when its election timer fires. Raft is correct under any timer values
 * (timing only affects liveness), and the leader belief is the §4.2.3
 * disruption guard, a liveness device: raft itself clears it on every state
 * change. So even a wrong "refused" cannot break safety.
 *
 * Disruption. A refusal from a live leader would need its listening socket
 * gone, i.e. raft closed there; the worst case is a middlebox answering RST
 * for a live leader (a REJECT firewall rule). Then only the nodes that got
 * the RST act: pre-vote is on, so a candidate bumps its term only after a
 * majority say they would vote for it, and every node still hearing the
 * leader refuses. One wrong follower therefore causes pre-vote traffic, not
 * a term change or a leader change; and its next AppendEntries restores the
 * full timer (only the start time was moved). Slowness and partitions
 * answer with a connect or a timeout and never take the fast path. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "glue_internal.h"
#include "raft_compat.h"

static unsigned hb(const struct glue *g)
{
    return g->cfg.heartbeat_timeout_ms;
}

/* Different between nodes, which is all the randomisation needs: survivors
 * that noticed at the same tick should not all fire at the same tick. Seeded
 * from the id alone in the fixture (runs must be reproducible), also from
 * the clock in production (a restarted node should not repeat itself). */
static unsigned fo_random(struct glue *g, unsigned lo, unsigned hi)
{
    uint64_t x = g->fo.rng;

    if (x == 0) {
        x = (g->id * 0x9E3779B97F4A7C15ull) ^ (g->fixture ? 0 : glue__wall_ms(g));
        x |= 1u;
    }

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    g->fo.rng = x;
    return hi > lo ? lo + (unsigned)(x % (hi - lo + 1u)) : lo;
}

static unsigned fast_delay(struct glue *g)
{
    unsigned h = hb(g);

    return fo_random(g, h / 2 > 0 ? h / 2 : 1, 2 * h);
}

/* A refused probe of leader `id` counts only if nothing changed meanwhile:
 * still running, still a follower of that leader, still silent. */
static bool still_silent_follower_of(struct glue *g, uint64_t id, uint64_t now)
{
    raft_id cur = 0;
    const char *addr = NULL;

    if (g->phase != GLUE__RUNNING || g->shutting_down || g->failed) {
        return false;
    }
    raft_leader(g->r, &cur, &addr);
    /* A disk write in flight (glue__c_disk_idle) defers the decision to the
     * next refused probe, one heartbeat later. */
    return raft_state(g->r) == RAFT_FOLLOWER && cur == id &&
           glue__c_timer_age(g->r, now) >= 2ull * hb(g) && glue__c_disk_idle(g->r);
}

static void probe_done(struct glue *g, uint64_t id, int result)
{
    uint64_t now = glue__now(g);
    uint64_t gap = g->fo.probe_gap_ms > hb(g) ? g->fo.probe_gap_ms : hb(g);
    unsigned delay;

    g->fo.probe_busy = false;
    if (result != GLUE_PROBE_REFUSED) {
        /* A stalled or cut-off leader may stay silent for long: probe it
         * less and less often (up to T/2 apart) until it is heard again. */
        g->fo.probe_gap_ms = gap < g->cfg.election_timeout_ms / 4 ? 2 * gap
                                                                   : g->cfg.election_timeout_ms / 2;
        g->fo.n_alive += result == GLUE_PROBE_ALIVE;
        g->fo.n_inconclusive += result != GLUE_PROBE_ALIVE;
    } else {
        g->fo.n_refused++;
        if (still_silent_follower_of(g, id, now)) {
            glue__c_forget_leader(g->r);
            delay = fast_delay(g);
            glue__c_fire_timer_in(g->r, now, delay);
            g->fo.window_end_ms = now + g->cfg.election_timeout_ms;
            g->fo.n_fast++;
            glue__logf(g, GLUE_LOG_WARN,
                       "leader %llu refused a connection (its process is gone): "
                       "forgetting it, election in %u ms",
                       (unsigned long long)id, delay);
        }
    }
}

static void tcp_closed_cb(uv_handle_t *h)
{
    struct glue *g = h->data;

    g->fo.tcp_open = false;
    g->open_handles--;
    glue__maybe_finish_close(g);
}

static void probe_close_tcp(struct glue *g)
{
    if (g->fo.tcp_open && !uv_is_closing((uv_handle_t *)&g->fo.tcp)) {
        uv_close((uv_handle_t *)&g->fo.tcp, tcp_closed_cb);
    }
}

static void connect_cb(uv_connect_t *req, int status)
{
    struct glue *g = req->data;

    if (g->fo.probe_busy) {
        uv_timer_stop(&g->fo.timer);
        probe_done(g, g->fo.probe_id,
                   status == 0 ? GLUE_PROBE_ALIVE
                   : status == UV_ECONNREFUSED ? GLUE_PROBE_REFUSED
                                               : GLUE_PROBE_INCONCLUSIVE);
    }
    probe_close_tcp(g);
}

static void probe_timeout_cb(uv_timer_t *t)
{
    struct glue *g = t->data;

    if (g->fo.probe_busy) {
        probe_done(g, g->fo.probe_id, GLUE_PROBE_INCONCLUSIVE);
    }
    /* Cancels the connect: connect_cb then runs with UV_ECANCELED. */
    probe_close_tcp(g);
}

/* Production probe: a bare connect, closed at once. The peer's transport
 * sees EOF before a handshake, which it drops quietly (debug level). A
 * probe that cannot even start is simply not made. */
static void probe_start_uv(struct glue *g, const char *address)
{
    char host[GLUE_ADDR_MAX + 1];
    const char *colon = strrchr(address, ':');
    struct sockaddr_in sa;

    if (colon == NULL || (size_t)(colon - address) >= sizeof host || !g->fo.timer_open) {
        goto err;
    }
    memcpy(host, address, (size_t)(colon - address));
    host[colon - address] = '\0';
    if (uv_ip4_addr(host, atoi(colon + 1), &sa) != 0 || uv_tcp_init(g->loop, &g->fo.tcp) != 0) {
        goto err;
    }
    g->fo.tcp.data = g;
    g->fo.tcp_open = true;
    g->open_handles++;
    g->fo.connect.data = g;
    if (uv_tcp_connect(&g->fo.connect, &g->fo.tcp, (const struct sockaddr *)&sa,
                       connect_cb) != 0) {
        goto err_after_tcp;
    }
    g->fo.probe_busy = true;
    g->fo.n_probes++;
    /* A live leader answers a SYN within a round trip; waiting one heartbeat
     * interval is ample, and a timeout changes nothing anyway. */
    uv_timer_start(&g->fo.timer, probe_timeout_cb, hb(g), 0);
    return;

err_after_tcp:
    probe_close_tcp(g);
err:
    return;
}

static void probe_start(struct glue *g, uint64_t id, const char *address, uint64_t now)
{
    g->fo.last_probe_ms = now;
    g->fo.probe_id = id;
    if (!g->fixture) {
        probe_start_uv(g, address);
    } else if (g->fo.probe_fn != NULL) {
        g->fo.probe_busy = true;
        g->fo.n_probes++;
        probe_done(g, id, g->fo.probe_fn(g->fo.probe_data, id, address));
    }
}

/* While the fast path is armed: keep every node's timer short until a
 * leader is known or one election timeout has passed. Not while a disk write
 * is in flight: a snapshot install completing after a state change is
 * answered through the follower fields anyway (notes §8 #10). */
static void window_tick(struct glue *g, int state, raft_id leader, uint64_t now)
{
    if (state == RAFT_LEADER || (state == RAFT_FOLLOWER && leader != 0) ||
        now >= g->fo.window_end_ms) {
        g->fo.window_end_ms = 0;
    } else if (glue__c_timer_remaining(g->r, now) > 2ull * hb(g) && glue__c_disk_idle(g->r)) {
        glue__c_fire_timer_in(g->r, now, fast_delay(g));
    }
}

void glue__failover_tick(struct glue *g)
{
    uint64_t now = glue__now(g);
    raft_id id = 0;
    const char *addr = NULL;
    int state = raft_state(g->r);

    raft_leader(g->r, &id, &addr);
    if (g->cfg.no_fast_failover) {
        /* the plain [T, 2T] timer */
    } else if (g->fo.window_end_ms != 0) {
        window_tick(g, state, id, now);
    } else if (state != RAFT_FOLLOWER || id == 0 || id == g->id || addr == NULL) {
        /* nobody to probe */
    } else if (glue__c_timer_age(g->r, now) < 2ull * hb(g)) {
        g->fo.probe_gap_ms = hb(g);
    } else if (!g->fo.probe_busy && !g->fo.tcp_open &&
               now - g->fo.last_probe_ms >= g->fo.probe_gap_ms) {
        probe_start(g, id, addr, now);
    }
}

int glue__failover_start(struct glue *g)
{
    int rv = uv_timer_init(g->loop, &g->fo.timer);

    if (rv == 0) {
        g->fo.timer.data = g;
        g->fo.timer_open = true;
        g->open_handles++;
    }
    return rv;
}

static void timer_closed_cb(uv_handle_t *h)
{
    struct glue *g = h->data;

    g->fo.timer_open = false;
    g->open_handles--;
    glue__maybe_finish_close(g);
}

void glue__failover_close(struct glue *g)
{
    g->fo.probe_busy = false;
    probe_close_tcp(g);
    if (g->fo.timer_open && !uv_is_closing((uv_handle_t *)&g->fo.timer)) {
        uv_close((uv_handle_t *)&g->fo.timer, timer_closed_cb);
    }
}

void glue_fixture_set_probe(struct glue *g,
                            int (*probe)(void *data, uint64_t id, const char *address),
                            void *data)
{
    g->fo.probe_fn = probe;
    g->fo.probe_data = data;
}
