/* status.c: cheap read-only queries for the server, /status and /metrics.
 * Everything is read from raft's public API, raft_compat.h, or counters the
 * glue keeps itself (applied index, proposal counters, commit latency). */
#include <stdio.h>
#include <string.h>

#include "glue_internal.h"
#include "raft_compat.h"

static bool raft_usable(struct glue *g)
{
    return g->r != NULL && (g->fixture || g->raft_inited) && g->started &&
           g->phase == GLUE__RUNNING;
}

uint64_t glue_id(struct glue *g)
{
    return g->id;
}

bool glue_is_leader(struct glue *g)
{
    return raft_usable(g) && raft_state(g->r) == RAFT_LEADER;
}

bool glue_ready(struct glue *g)
{
    return glue_is_leader(g) && g->ready && !g->failed && !g->shutting_down;
}

void glue_leader(struct glue *g, uint64_t *id, char address[static GLUE_ADDR_MAX + 1])
{
    *id = g->hint_id;
    snprintf(address, GLUE_ADDR_MAX + 1, "%s", g->hint_id != 0 ? g->hint_address : "");
}

unsigned glue_configuration(struct glue *g, struct glue_server *out, unsigned max)
{
    const struct raft_configuration *c;
    unsigned n = 0;

    if (g->r == NULL || !(g->fixture || g->raft_inited)) {
        return 0;
    }
    c = glue__c_configuration(g->r);
    for (unsigned i = 0; i < c->n && n < max; i++) {
        if (c->servers[i].id == GLUE__PHANTOM_ID) {
            continue; /* the refresh's transient spare (member.c) */
        }
        out[n].id = c->servers[i].id;
        snprintf(out[n].address, sizeof out[n].address, "%s", c->servers[i].address);
        out[n].role = c->servers[i].role;
        n++;
    }
    return n;
}

void glue_status(struct glue *g, struct glue_status *st)
{
    unsigned inflight_ops = 0;

    memset(st, 0, sizeof *st);
    st->id = g->id;
    st->ready = glue_ready(g);
    st->low_space = g->low_space;
    st->failed = g->failed;
    if (raft_usable(g)) {
        st->state = raft_state(g->r);
        st->term = glue__c_term(g->r);
        st->commit_index = glue__c_commit_index(g->r);
        st->last_index = raft_last_index(g->r);
        if (raft_last_applied(g->r) > g->applied_index) {
            g->applied_index = raft_last_applied(g->r);
        }
    }
    st->applied_index = g->applied_index;
    glue_leader(g, &st->leader_id, st->leader_address);
    st->leader_changes = g->leader_changes;
    st->committed = g->n_committed;
    st->failed_ops = g->n_failed;
    for (struct glue__prop *p = g->props; p != NULL; p = p->next) {
        inflight_ops += p->n;
    }
    st->pending = g->queued + inflight_ops;
    st->entries = g->n_entries;
    st->barriers = g->n_barriers;
    st->config_refreshes = g->n_config_refreshes;
    st->log_truncates = g->fixture ? 0 : g->io_order.n_truncates;
    st->barriers_deferred = g->fixture ? 0 : g->io_order.n_deferred;
    st->reads = g->n_reads;
    st->commit_latency_ms_last = g->lat_last;
    st->commit_latency_ms_max = g->lat_max;
    st->commit_latency_ms_sum = g->lat_sum;
    st->entries_done = g->n_entries_done;
    st->leader_probes = g->fo.n_probes;
    st->leader_probes_refused = g->fo.n_refused;
    st->fast_elections = g->fo.n_fast;
}

const char *glue_state_name(int state)
{
    switch (state) {
    case GLUE_LEADER:
        return "leader";
    case GLUE_FOLLOWER:
        return "follower";
    case GLUE_CANDIDATE:
        return "candidate";
    default:
        return "unavailable";
    }
}

const char *glue_role_name(int role)
{
    switch (role) {
    case GLUE_ROLE_VOTER:
        return "voter";
    case GLUE_ROLE_STANDBY:
        return "standby";
    case GLUE_ROLE_SPARE:
        return "spare";
    default:
        return "none";
    }
}
