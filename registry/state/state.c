/* state.c: lifecycle of a st_state, the st_apply entry point (dedup, then
 * dispatch by op family), counters, and the small helpers every handler
 * file shares.
 *
 * st_apply never fails (DESIGN.md §6): every check runs before the first
 * mutation, so an error result always means "nothing changed". Handlers
 * follow that shape: validate, then mutate with aborting allocators. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "st_internal.h"

int st__fail(struct st_result *res, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    res->code = (uint16_t)code;
    vsnprintf(res->message, sizeof res->message, fmt, ap);
    va_end(ap);
    return code;
}

bool st__fits(const char *s, size_t size)
{
    return memchr(s, '\0', size) != NULL;
}

char *st__strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = reg_xmalloc(n);
    memcpy(d, s, n);
    return d;
}

void st__grow(void **p, uint32_t *cap, uint32_t need, size_t elem)
{
    if (need <= *cap) {
        return;
    }
    uint64_t c = *cap < 4 ? 4 : (uint64_t)*cap + *cap / 2;
    if (c < need) {
        c = need;
    }
    *p = reg_xrealloc(*p, (size_t)c * elem);
    *cap = (uint32_t)c;
}

/* The node array is 64-byte aligned (and its records 96 bytes), so the
 * first 24 bytes of a record, all that st_may_reach reads, never straddle a
 * cache line. realloc keeps no alignment, hence the copy. */
void st__nodes_reserve(struct st_state *s, uint32_t need)
{
    if (need <= s->nodes_cap) {
        return;
    }
    uint64_t c = s->nodes_cap < 4 ? 4 : (uint64_t)s->nodes_cap + s->nodes_cap / 2;
    if (c < need) {
        c = need;
    }
    size_t bytes = (size_t)c * sizeof *s->nodes;
    struct st__node *n = reg_xaligned(64, bytes);
    memset(n, 0, bytes);
    if (s->nodes != NULL) {
        memcpy(n, s->nodes, (size_t)s->nodes_cap * sizeof *s->nodes);
    }
    reg_free(s->nodes);
    s->nodes = n;
    s->nodes_cap = (uint32_t)c;
}

uint32_t st__caller(const struct st_state *s, const struct st_cmd *cmd)
{
    static const uint8_t zero[ST_KEY_LEN];
    if (memcmp(cmd->caller_key, zero, ST_KEY_LEN) == 0) {
        return 0;
    }
    uint32_t id = st__key_find(s, cmd->caller_key);
    return st__live(s, id) != NULL ? id : 0;
}

struct st_state *st_new(void)
{
    struct st_state *s = reg_xcalloc(1, sizeof *s);
    s->next_node_id = ST_FIRST_NODE_ID;
    s->next_network_id = 1;
    return s;
}

void st_free(struct st_state *s)
{
    if (s == NULL) {
        return;
    }
    uint32_t n_nodes = s->next_node_id - ST_FIRST_NODE_ID;
    for (uint32_t i = 0; i < n_nodes && s->nodes != NULL; i++) {
        st__node_free_fields(&s->nodes[i]);
    }
    reg_free(s->nodes);
    for (uint32_t i = 0; i < s->nets_cap; i++) {
        st__net_free(s->nets[i]);
    }
    reg_free(s->nets);
    reg_free(s->pairs);
    st__ix_free(&s->key_ix);
    st__ix_free(&s->host_ix);
    st__ix_free(&s->netname_ix);
    st__ix_free(&s->pair_ix);
    st__dedup_free(&s->dedup);
    reg_free(s->cm);
    reg_free(s);
}

/* Ops whose target may be named by hostname instead of node id (seed pages:
 * "pilotctl handshake agent-b", "invite ... by Node ID, Pilot address, or
 * hostname"). The name is resolved here, at apply time, so the caller need
 * not be able to see a private target first: a handshake or an invite is how
 * a stranger becomes able to see it. */
static bool targets_node(int op)
{
    switch (op) {
    case ST_CMD_HANDSHAKE:
    case ST_CMD_APPROVE:
    case ST_CMD_REJECT:
    case ST_CMD_UNTRUST:
    case ST_CMD_NET_INVITE:
    case ST_CMD_NET_KICK:
    case ST_CMD_NET_ROLE:
    case ST_CMD_NET_TRANSFER:
        return true;
    default:
        return false;
    }
}

static void dispatch_op(struct st_state *s, const struct st_cmd *cmd, struct st_result *res);

static void dispatch(struct st_state *s, const struct st_cmd *cmd, struct st_result *res)
{
    if (targets_node(cmd->op) && cmd->node == 0 && cmd->hostname[0] != '\0') {
        uint32_t id = st__host_find(s, cmd->hostname);
        if (id == 0) {
            st__fail(res, REG_NOT_FOUND, "no agent has hostname '%s'", cmd->hostname);
            return;
        }
        struct st_cmd *named = reg_xmalloc(sizeof *named);
        *named = *cmd;
        named->node = id;
        dispatch_op(s, named, res);
        reg_free(named);
        return;
    }
    dispatch_op(s, cmd, res);
}

static void dispatch_op(struct st_state *s, const struct st_cmd *cmd, struct st_result *res)
{
    switch (cmd->op) {
    case ST_CMD_REGISTER:
    case ST_CMD_DEREGISTER:
    case ST_CMD_SET_VISIBILITY:
    case ST_CMD_SET_HOSTNAME:
    case ST_CMD_SET_TAGS:
    case ST_CMD_SET_ENDPOINT:
    case ST_CMD_ROTATE_KEY:
    case ST_CMD_SET_ONLINE:
        st__apply_node(s, cmd, res);
        break;
    case ST_CMD_NET_CREATE:
    case ST_CMD_NET_JOIN:
    case ST_CMD_NET_LEAVE:
    case ST_CMD_NET_INVITE:
    case ST_CMD_NET_KICK:
    case ST_CMD_NET_DELETE:
    case ST_CMD_NET_TRANSFER:
        st__apply_net(s, cmd, res);
        break;
    case ST_CMD_NET_POLICY:
    case ST_CMD_NET_ROLE:
    case ST_CMD_BLUEPRINT_APPLY:
        st__apply_enterprise(s, cmd, res);
        break;
    case ST_CMD_HANDSHAKE:
    case ST_CMD_APPROVE:
    case ST_CMD_REJECT:
    case ST_CMD_UNTRUST:
        st__apply_trust(s, cmd, res);
        break;
    case ST_CMD_MEMBER_UPSERT:
    case ST_CMD_MEMBER_DELETE:
        st__apply_cluster(s, cmd, res);
        break;
    default:
        st__fail(res, REG_INVALID_ARGUMENT, "unknown command op %u", (unsigned)cmd->op);
        break;
    }
}

void st_apply(struct st_state *s, const struct st_cmd *cmd, struct st_result *res)
{
    memset(res, 0, sizeof *res);
    res->op = cmd->op;
    if (cmd->client != 0) {
        if (cmd->seq == 0) {
            st__fail(res, REG_INVALID_ARGUMENT, "sequence must be > 0 for a client id");
            return;
        }
        const struct st__dd *d = st__dedup_find(s, cmd->client);
        if (d != NULL && cmd->seq == d->seq) {
            *res = d->res;
            res->duplicate = true;
            return;
        }
        if (d != NULL && cmd->seq < d->seq) {
            st__fail(res, REG_FAILED_PRECONDITION, "stale sequence %llu (last %llu)",
                     (unsigned long long)cmd->seq, (unsigned long long)d->seq);
            return;
        }
    }
    dispatch(s, cmd, res);
    if (cmd->client != 0) {
        st__dedup_record(s, cmd, res);
    }
}

void st_set_applied_index(struct st_state *s, uint64_t index)
{
    s->applied_index = index;
}

uint64_t st_applied_index(const struct st_state *s)
{
    return s->applied_index;
}

void st_stats(const struct st_state *s, struct st_stats *out)
{
    memset(out, 0, sizeof *out);
    out->nodes = s->n_registered;
    out->nodes_online = s->n_online;
    out->networks = s->n_networks;
    out->memberships = s->n_memberships;
    out->trust_pairs = s->n_pairs;
    out->pending = s->n_pending;
    out->dedup_clients = s->dedup.n;
    out->next_node_id = s->next_node_id;
    out->next_network_id = s->next_network_id;
}
