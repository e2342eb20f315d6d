/* cluster.c: the replicated map of cluster members (raft id → name and
 * raft / client / HTTP addresses) that clients and peers use to find every
 * node. Admin only; kept sorted by raft id so snapshots are canonical. */
#include <string.h>

#include "st_internal.h"

static bool addr_ok(const char *s, size_t size)
{
    if (!st__fits(s, size)) {
        return false;
    }
    for (; *s != '\0'; s++) {
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f) {
            return false;
        }
    }
    return true;
}

bool st__cm_valid(const struct st_cluster_member *m)
{
    return m->raft_id != 0 && addr_ok(m->name, sizeof m->name) &&
           addr_ok(m->raft_addr, sizeof m->raft_addr) && m->raft_addr[0] != '\0' &&
           addr_ok(m->client_addr, sizeof m->client_addr) &&
           addr_ok(m->http_addr, sizeof m->http_addr);
}

static uint32_t cm_pos(const struct st_state *s, uint64_t raft_id)
{
    uint32_t lo = 0, hi = s->n_cm;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (s->cm[mid].raft_id < raft_id) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

void st__apply_cluster(struct st_state *s, const struct st_cmd *cmd, struct st_result *res)
{
    const struct st_cluster_member *m = &cmd->member;
    if (!cmd->caller_admin) {
        st__fail(res, REG_PERMISSION_DENIED, "cluster membership is admin only");
        return;
    }
    uint32_t i = cm_pos(s, m->raft_id);
    bool present = i < s->n_cm && s->cm[i].raft_id == m->raft_id;
    if (cmd->op == ST_CMD_MEMBER_DELETE) {
        if (!present) {
            st__fail(res, REG_NOT_FOUND, "cluster member %llu not found",
                     (unsigned long long)m->raft_id);
            return;
        }
        memmove(&s->cm[i], &s->cm[i + 1], (s->n_cm - i - 1) * sizeof *s->cm);
        s->n_cm--;
        return;
    }
    if (!st__cm_valid(m)) {
        st__fail(res, REG_INVALID_ARGUMENT,
                 "cluster member needs a raft id, a raft address and printable fields");
        return;
    }
    if (!present) {
        st__grow((void **)&s->cm, &s->cap_cm, s->n_cm + 1, sizeof *s->cm);
        memmove(&s->cm[i + 1], &s->cm[i], (s->n_cm - i) * sizeof *s->cm);
        s->n_cm++;
    }
    s->cm[i] = *m;
}

uint32_t st_cluster_members(const struct st_state *s, struct st_cluster_member *out, uint32_t cap)
{
    for (uint32_t i = 0; i < s->n_cm && i < cap; i++) {
        out[i] = s->cm[i];
    }
    return s->n_cm;
}

int st_cluster_member_get(const struct st_state *s, uint64_t raft_id, struct st_cluster_member *out)
{
    uint32_t i = cm_pos(s, raft_id);
    if (i >= s->n_cm || s->cm[i].raft_id != raft_id) {
        return REG_NOT_FOUND;
    }
    *out = s->cm[i];
    return REG_OK;
}
