/* raft_compat: every read of struct raft internals the glue needs, in one
 * place (raft-0.15-notes §2.1, §8 closing advice). raft 0.17+ hides or
 * renames these fields (soname .so.3); moving there means rewriting only this
 * file. Everything else in raft-glue uses the public API. */
#ifndef PILOT_GLUE_RAFT_COMPAT_H
#define PILOT_GLUE_RAFT_COMPAT_H

#include <raft.h>

static inline raft_term glue__c_term(const struct raft *r)
{
    return r->current_term;
}

static inline raft_index glue__c_commit_index(const struct raft *r)
{
    return r->commit_index;
}

/* notes §8 #9: a snapshot taken while a configuration is uncommitted can
 * persist it; the FSM refuses (RAFT_BUSY) while this is non-zero. */
static inline raft_index glue__c_uncommitted_config(const struct raft *r)
{
    return r->configuration_uncommitted_index;
}

/* Index of the last committed configuration entry. 0.15's rollback of an
 * uncommitted configuration decodes this entry from the in-memory log and
 * dereferences NULL if a snapshot has compacted it away (fixed upstream in
 * 0.17.1, baa8f52); member.c keeps it recent. */
static inline raft_index glue__c_config_index(const struct raft *r)
{
    return r->configuration_index;
}

static inline const struct raft_configuration *glue__c_configuration(const struct raft *r)
{
    return &r->configuration;
}

/* A pending leadership transfer makes raft_apply/barrier return NOTLEADER. */
static inline bool glue__c_transferring(const struct raft *r)
{
    return r->transfer != NULL;
}

/* Replication progress of a server, by its position in the configuration;
 * leader only. Used to wait until a new standby has caught up. */
static inline raft_index glue__c_match_index(const struct raft *r, unsigned pos)
{
    if (r->state != RAFT_LEADER || r->leader_state.progress == NULL ||
        pos >= r->configuration.n) {
        return 0;
    }
    return r->leader_state.progress[pos].match_index;
}

/* Role of this node in its current configuration; -1 if absent. */
static inline int glue__c_role_of(const struct raft *r, raft_id id, unsigned *pos)
{
    for (unsigned i = 0; i < r->configuration.n; i++) {
        if (r->configuration.servers[i].id == id) {
            if (pos != NULL) {
                *pos = i;
            }
            return r->configuration.servers[i].role;
        }
    }
    return -1;
}

static inline unsigned glue__c_voters(const struct raft *r)
{
    unsigned n = 0;
    for (unsigned i = 0; i < r->configuration.n; i++) {
        n += r->configuration.servers[i].role == RAFT_VOTER;
    }
    return n;
}


/* ---- Dead-leader fast path (failover.c) -------------------------------- *
 * raft 0.15 keeps two volatile follower facts that decide how fast the
 * survivors of a dead leader elect a successor: the leader it believes in
 * (recv_request_vote.c refuses every vote and pre-vote while it is set) and
 * the election timer (election_timer_start + a randomised timeout in
 * [T, 2T], the first field of both follower_state and candidate_state).
 * Neither is persisted and neither takes part in Raft's safety argument
 * (failover.c explains why); the helpers below are the only writers. */

/* Milliseconds since the election timer was last reset; on a follower that
 * is since the last AppendEntries/InstallSnapshot (or granted vote). */
static inline raft_time glue__c_timer_age(const struct raft *r, raft_time now)
{
    return now > r->election_timer_start ? now - r->election_timer_start : 0;
}

/* No disk write of this node is in flight: every entry in the in-memory log
 * is stored and no snapshot is being installed. A follower's completing
 * append or snapshot install answers "the current leader"
 * (replication.c sendAppendEntriesResult); with the leader forgotten that
 * would be a send to id 0 at a NULL address, which raft_uv dereferences. So
 * the leader is forgotten only while this holds. */
static inline bool glue__c_disk_idle(struct raft *r)
{
    return r->last_stored == raft_last_index(r) && r->snapshot.put.data == NULL;
}

/* Follower only: forget the leader, as raft itself does on a state change
 * (convert.c convertClearFollower), so this node grants (pre-)votes again.
 * The next AppendEntries from a live leader sets it back (recv.c). */
static inline void glue__c_forget_leader(struct raft *r)
{
    if (r->state == RAFT_FOLLOWER && glue__c_disk_idle(r)) {
        r->follower_state.current_leader.id = 0;
        if (r->follower_state.current_leader.address != NULL) {
            raft_free(r->follower_state.current_leader.address);
        }
        r->follower_state.current_leader.address = NULL;
    }
}

/* Follower or candidate: the randomised timeout of the running timer. */
static inline unsigned glue__c_timer_timeout(const struct raft *r)
{
    if (r->state == RAFT_FOLLOWER) {
        return r->follower_state.randomized_election_timeout;
    }
    return r->state == RAFT_CANDIDATE ? r->candidate_state.randomized_election_timeout : 0;
}

/* Follower or candidate: milliseconds until the election timer fires (it is
 * checked at raft's next tick); 0 in any other state. */
static inline raft_time glue__c_timer_remaining(const struct raft *r, raft_time now)
{
    raft_time timeout = glue__c_timer_timeout(r);
    raft_time age = glue__c_timer_age(r, now);

    return age >= timeout ? 0 : timeout - age;
}

/* Follower or candidate: make the election timer fire `in_ms` from now if it
 * would fire later; never postpones it. Moves the timer's start back rather
 * than shrinking the randomised timeout, so the next AppendEntries (which
 * resets only the start) restores the full timeout by itself. Only while the
 * clock is younger than the timeout (the fixture's virtual clock starts at
 * 0) the start cannot move back far enough; then the timeout itself is
 * shortened, until raft draws a new one at the next state change. */
static inline void glue__c_fire_timer_in(struct raft *r, raft_time now, unsigned in_ms)
{
    raft_time timeout = glue__c_timer_timeout(r);

    if (timeout == 0 || glue__c_timer_remaining(r, now) <= in_ms) {
        return;
    }
    if (now + in_ms >= timeout) {
        r->election_timer_start = now + in_ms - timeout;
        return;
    }
    r->election_timer_start = 0;
    if (r->state == RAFT_FOLLOWER) {
        r->follower_state.randomized_election_timeout = (unsigned)(now + in_ms);
    } else {
        r->candidate_state.randomized_election_timeout = (unsigned)(now + in_ms);
    }
}

#endif /* PILOT_GLUE_RAFT_COMPAT_H */
