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

#endif /* PILOT_GLUE_RAFT_COMPAT_H */
