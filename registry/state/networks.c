/* networks.c: network lifecycle and membership: create, join, leave,
 * invite, kick, delete, transfer; member sets, kicked lists, the name index
 * and join-token hashing.
 *
 * Permissions (DESIGN.md §6): on a standard network the owner invites,
 * kicks, deletes and transfers; on an enterprise network owner and admins
 * invite and kick (admins cannot kick admins or the owner); only the owner
 * deletes and transfers. The cluster admin (cmd->caller_admin) may do
 * everything an owner may.
 *
 * Choices the contract leaves to us:
 *   - A network created by the cluster admin without a registered key has
 *     no owner and no members until someone joins or is invited.
 *   - When an owner deregisters, ownership passes to its lowest-id admin,
 *     else its lowest-id member (the longest-registered); an empty network
 *     stays ownerless, manageable by the cluster admin only.
 *   - An owner who is the last member may leave; the network stays, empty.
 *   - A deleted enterprise network keeps its audit ring (readable by the
 *     cluster admin) so that "network.deleted" is not lost with it; its
 *     name is free again and its id is never reused. */
#include <string.h>

#include <sodium.h>

#include "st_internal.h"

/* ---- name index ------------------------------------------------------------ */
static uint64_t name_hash(const void *ctx, uint32_t id)
{
    const struct st_state *s = ctx;
    return st__hash_bytes(s->nets[id]->name, strlen(s->nets[id]->name));
}

static bool name_eq(const void *ctx, uint32_t id, const void *probe)
{
    const struct st_state *s = ctx;
    return strcmp(s->nets[id]->name, probe) == 0;
}

uint32_t st__net_find_name(const struct st_state *s, const char *name)
{
    uint32_t id = st__ix_find(&s->netname_ix, st__hash_bytes(name, strlen(name)), name_eq, s, name);
    return id == UINT32_MAX ? 0 : id;
}

struct st__net *st__net_new(struct st_state *s, uint16_t id)
{
    if (id >= s->nets_cap) {
        uint32_t old = s->nets_cap;
        st__grow((void **)&s->nets, &s->nets_cap, (uint32_t)id + 1, sizeof *s->nets);
        memset(&s->nets[old], 0, (s->nets_cap - old) * sizeof *s->nets);
    }
    struct st__net *net = reg_xcalloc(1, sizeof *net);
    net->id = id;
    s->nets[id] = net;
    return net;
}

/* Index the name of nets[id] (set by the caller). */
static void name_index(struct st_state *s, uint16_t id)
{
    st__ix_insert(&s->netname_ix, name_hash(s, id), id, name_hash, s);
}

void st__net_free(struct st__net *net)
{
    if (net == NULL) {
        return;
    }
    reg_free(net->members);
    reg_free(net->kicked);
    reg_free(net->ports);
    reg_free(net->description);
    for (uint32_t i = 0; i < net->audit_n; i++) {
        reg_free(net->audit[(net->audit_start + i) % net->audit_cap].detail);
    }
    reg_free(net->audit);
    reg_free(net);
}

void st__token_hash(uint16_t net, const char *token, uint8_t out[static ST_HASH_LEN])
{
    /* Keyed by a fixed domain string and salted by the network id, so equal
     * tokens of two networks hash differently and every replica agrees. */
    static const unsigned char key[] = "pilot-net-token";
    crypto_generichash_state st;
    uint8_t id_be[2] = {(uint8_t)(net >> 8), (uint8_t)net};
    crypto_generichash_init(&st, key, sizeof key - 1, ST_HASH_LEN);
    crypto_generichash_update(&st, id_be, sizeof id_be);
    crypto_generichash_update(&st, (const unsigned char *)token, strlen(token));
    crypto_generichash_final(&st, out, ST_HASH_LEN);
}

/* ---- members and kicked list ---------------------------------------------- */
static uint32_t member_pos(const struct st__net *net, uint32_t node)
{
    uint32_t lo = 0, hi = net->n_members;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (net->members[mid].node < node) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

struct st__member *st__member(const struct st__net *net, uint32_t node)
{
    uint32_t i = member_pos(net, node);
    return i < net->n_members && net->members[i].node == node ? &net->members[i] : NULL;
}

void st__member_add(struct st_state *s, struct st__net *net, uint32_t node, uint8_t role)
{
    uint32_t i = member_pos(net, node);
    st__grow((void **)&net->members, &net->cap_members, net->n_members + 1, sizeof *net->members);
    memmove(&net->members[i + 1], &net->members[i], (net->n_members - i) * sizeof *net->members);
    net->members[i].node = node;
    net->members[i].role = role;
    net->n_members++;
    st__node_add_net(st__node(s, node), net->id);
    s->n_memberships++;
}

void st__member_del(struct st_state *s, struct st__net *net, uint32_t node)
{
    uint32_t i = member_pos(net, node);
    if (i >= net->n_members || net->members[i].node != node) {
        return;
    }
    memmove(&net->members[i], &net->members[i + 1], (net->n_members - i - 1) * sizeof *net->members);
    net->n_members--;
    st__node_del_net(st__node(s, node), net->id);
    s->n_memberships--;
}

static uint32_t kicked_pos(const struct st__net *net, uint32_t node)
{
    uint32_t lo = 0, hi = net->n_kicked;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (net->kicked[mid] < node) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

bool st__kicked(const struct st__net *net, uint32_t node)
{
    uint32_t i = kicked_pos(net, node);
    return i < net->n_kicked && net->kicked[i] == node;
}

void st__kicked_set(struct st__net *net, uint32_t node, bool on)
{
    uint32_t i = kicked_pos(net, node);
    bool is = i < net->n_kicked && net->kicked[i] == node;
    if (on && !is) {
        st__grow((void **)&net->kicked, &net->cap_kicked, net->n_kicked + 1, sizeof *net->kicked);
        memmove(&net->kicked[i + 1], &net->kicked[i], (net->n_kicked - i) * sizeof *net->kicked);
        net->kicked[i] = node;
        net->n_kicked++;
    } else if (!on && is) {
        memmove(&net->kicked[i], &net->kicked[i + 1], (net->n_kicked - i - 1) * sizeof *net->kicked);
        net->n_kicked--;
    }
}

/* ---- permission helpers ----------------------------------------------------- */
static bool is_owner(const struct st__net *net, const struct st_cmd *cmd, uint32_t caller)
{
    return cmd->caller_admin || (caller != 0 && caller == net->owner);
}

/* Invite and kick: owner; on enterprise networks also admins. */
static bool may_manage(const struct st__net *net, const struct st_cmd *cmd, uint32_t caller)
{
    if (is_owner(net, cmd, caller)) {
        return true;
    }
    const struct st__member *m = caller != 0 ? st__member(net, caller) : NULL;
    return net->enterprise && m != NULL && m->role == ST_ROLE_ADMIN;
}

/* Common prologue: the caller and the network. Returns NULL with res set. */
static struct st__net *target_net(struct st_state *s, const struct st_cmd *cmd, uint32_t caller,
                                  struct st_result *res)
{
    if (caller == 0 && !cmd->caller_admin) {
        st__fail(res, REG_UNAUTHENTICATED, "caller is not a registered node");
        return NULL;
    }
    if (cmd->network == 0) {
        st__fail(res, REG_INVALID_ARGUMENT, "the backbone (network 0) cannot be changed");
        return NULL;
    }
    struct st__net *net = st__net(s, cmd->network);
    if (net == NULL) {
        st__fail(res, REG_NOT_FOUND, "network %u not found", (unsigned)cmd->network);
    }
    return net;
}

/* ---- commands ---------------------------------------------------------------- */
static void do_create(struct st_state *s, const struct st_cmd *cmd, uint32_t caller,
                      struct st_result *res)
{
    if (caller == 0 && !cmd->caller_admin) {
        st__fail(res, REG_UNAUTHENTICATED, "caller is not a registered node");
        return;
    }
    if (!st__fits(cmd->name, sizeof cmd->name) || !st_valid_name(cmd->name)) {
        st__fail(res, REG_INVALID_ARGUMENT,
                 "invalid network name: [a-z0-9-], 1-63 chars, alphanumeric at both ends, "
                 "not backbone/localhost/broadcast");
        return;
    }
    if (cmd->join_rule > ST_JOIN_TOKEN) {
        st__fail(res, REG_INVALID_ARGUMENT, "unknown join rule %u", (unsigned)cmd->join_rule);
        return;
    }
    if (!st__fits(cmd->token, sizeof cmd->token)) {
        st__fail(res, REG_INVALID_ARGUMENT, "token longer than %d", ST_TOKEN_MAX);
        return;
    }
    if (cmd->join_rule == ST_JOIN_TOKEN && cmd->token[0] == '\0') {
        st__fail(res, REG_INVALID_ARGUMENT, "the token join rule needs a token");
        return;
    }
    if (cmd->join_rule != ST_JOIN_TOKEN && cmd->token[0] != '\0') {
        st__fail(res, REG_INVALID_ARGUMENT, "a token is only used with the token join rule");
        return;
    }
    if (st__net_find_name(s, cmd->name) != 0) {
        st__fail(res, REG_ALREADY_EXISTS, "network name \"%s\" already exists", cmd->name);
        return;
    }
    if (s->next_network_id > ST_MAX_NETWORK_ID) {
        st__fail(res, REG_RESOURCE_EXHAUSTED, "network id space exhausted");
        return;
    }
    uint16_t id = (uint16_t)s->next_network_id++;
    struct st__net *net = st__net_new(s, id);
    memcpy(net->name, cmd->name, strlen(cmd->name) + 1);
    net->join_rule = cmd->join_rule;
    net->enterprise = cmd->flag;
    net->created_ms = cmd->ts_ms;
    if (cmd->join_rule == ST_JOIN_TOKEN) {
        net->has_token = true;
        st__token_hash(id, cmd->token, net->token_hash);
    }
    name_index(s, id);
    s->n_networks++;
    if (caller != 0) {
        net->owner = caller;
        st__member_add(s, net, caller, ST_ROLE_OWNER);
    }
    st__audit(net, cmd, caller, ST__A_CREATED, caller, "name=%s, join_rule=%u", net->name,
              (unsigned)net->join_rule);
    res->network = id;
}

static void do_join(struct st_state *s, const struct st_cmd *cmd, uint32_t caller,
                    struct st__net *net, struct st_result *res)
{
    if (caller == 0) {
        st__fail(res, REG_UNAUTHENTICATED, "only a registered node can join");
        return;
    }
    if (st__member(net, caller) != NULL) {
        st__fail(res, REG_ALREADY_EXISTS, "already a member of network %u", (unsigned)net->id);
        return;
    }
    if (st__kicked(net, caller)) {
        st__fail(res, REG_PERMISSION_DENIED, "kicked from network %u; needs a new invite",
                 (unsigned)net->id);
        return;
    }
    if (net->join_rule == ST_JOIN_INVITE) {
        st__fail(res, REG_PERMISSION_DENIED, "network %u is invite-only", (unsigned)net->id);
        return;
    }
    if (net->join_rule == ST_JOIN_TOKEN) {
        uint8_t h[ST_HASH_LEN];
        if (!st__fits(cmd->token, sizeof cmd->token)) {
            st__fail(res, REG_INVALID_ARGUMENT, "token longer than %d", ST_TOKEN_MAX);
            return;
        }
        st__token_hash(net->id, cmd->token, h);
        if (!reg_ct_equal(h, net->token_hash, ST_HASH_LEN)) {
            st__fail(res, REG_PERMISSION_DENIED, "wrong token for network %u", (unsigned)net->id);
            return;
        }
    }
    if (net->max_members != 0 && net->n_members >= net->max_members) {
        st__fail(res, REG_RESOURCE_EXHAUSTED, "network %u is full (%u members)",
                 (unsigned)net->id, (unsigned)net->max_members);
        return;
    }
    st__member_add(s, net, caller, ST_ROLE_MEMBER);
    st__audit(net, cmd, caller, ST__A_JOINED, caller, "rule=%u", (unsigned)net->join_rule);
}

static void do_leave(struct st_state *s, const struct st_cmd *cmd, uint32_t caller,
                     struct st__net *net, struct st_result *res)
{
    if (caller == 0 || st__member(net, caller) == NULL) {
        st__fail(res, REG_NOT_FOUND, "not a member of network %u", (unsigned)net->id);
        return;
    }
    if (caller == net->owner && net->n_members > 1) {
        st__fail(res, REG_FAILED_PRECONDITION,
                 "the owner cannot leave while others remain; transfer ownership first");
        return;
    }
    if (caller == net->owner) {
        net->owner = 0;
    }
    st__member_del(s, net, caller);
    st__audit(net, cmd, caller, ST__A_LEFT, caller, "members=%u", (unsigned)net->n_members);
}

static void do_invite(struct st_state *s, const struct st_cmd *cmd, uint32_t caller,
                      struct st__net *net, struct st_result *res)
{
    if (!may_manage(net, cmd, caller)) {
        st__fail(res, REG_PERMISSION_DENIED, "only the owner%s may invite",
                 net->enterprise ? " or an admin" : "");
        return;
    }
    if (st__live(s, cmd->node) == NULL) {
        st__fail(res, REG_NOT_FOUND, "node %u not found", (unsigned)cmd->node);
        return;
    }
    if (st__member(net, cmd->node) != NULL) {
        st__fail(res, REG_ALREADY_EXISTS, "node %u is already a member", (unsigned)cmd->node);
        return;
    }
    if (net->max_members != 0 && net->n_members >= net->max_members) {
        st__fail(res, REG_RESOURCE_EXHAUSTED, "network %u is full (%u members)",
                 (unsigned)net->id, (unsigned)net->max_members);
        return;
    }
    st__kicked_set(net, cmd->node, false);
    st__member_add(s, net, cmd->node, ST_ROLE_MEMBER);
    st__audit(net, cmd, caller, ST__A_INVITED, cmd->node, "by=%u", (unsigned)caller);
    res->node = cmd->node;
}

static void do_kick(struct st_state *s, const struct st_cmd *cmd, uint32_t caller,
                    struct st__net *net, struct st_result *res)
{
    if (!may_manage(net, cmd, caller)) {
        st__fail(res, REG_PERMISSION_DENIED, "only the owner%s may kick",
                 net->enterprise ? " or an admin" : "");
        return;
    }
    const struct st__member *m = st__member(net, cmd->node);
    if (m == NULL) {
        st__fail(res, REG_NOT_FOUND, "node %u is not a member", (unsigned)cmd->node);
        return;
    }
    if (cmd->node == net->owner) {
        st__fail(res, REG_PERMISSION_DENIED, "cannot kick the network owner");
        return;
    }
    if (m->role == ST_ROLE_ADMIN && !is_owner(net, cmd, caller)) {
        st__fail(res, REG_PERMISSION_DENIED, "admins cannot kick admins");
        return;
    }
    st__member_del(s, net, cmd->node);
    st__kicked_set(net, cmd->node, true);
    st__audit(net, cmd, caller, ST__A_KICKED, cmd->node, "members=%u", (unsigned)net->n_members);
    res->node = cmd->node;
}

static void do_delete(struct st_state *s, const struct st_cmd *cmd, uint32_t caller,
                      struct st__net *net, struct st_result *res)
{
    if (!is_owner(net, cmd, caller)) {
        st__fail(res, REG_PERMISSION_DENIED, "only the owner may delete network %u",
                 (unsigned)net->id);
        return;
    }
    uint16_t id = net->id;
    for (uint32_t i = 0; i < net->n_members; i++) {
        st__node_del_net(st__node(s, net->members[i].node), id);
    }
    s->n_memberships -= net->n_members;
    st__ix_remove(&s->netname_ix, name_hash(s, id), id, name_hash, s);
    s->n_networks--;
    if (!net->enterprise) {
        st__net_free(net);
        s->nets[id] = NULL;
        return;
    }
    st__audit(net, cmd, caller, ST__A_DELETED, 0, "name=%s, members=%u", net->name,
              (unsigned)net->n_members);
    reg_free(net->members);
    reg_free(net->kicked);
    reg_free(net->ports);
    reg_free(net->description);
    net->members = NULL;
    net->kicked = NULL;
    net->ports = NULL;
    net->description = NULL;
    net->n_members = net->cap_members = net->n_kicked = net->cap_kicked = 0;
    net->n_ports = 0;
    net->max_members = 0;
    net->owner = 0;
    net->deleted = true;
}

static void do_transfer(const struct st_cmd *cmd, uint32_t caller, struct st__net *net,
                        struct st_result *res)
{
    if (!is_owner(net, cmd, caller)) {
        st__fail(res, REG_PERMISSION_DENIED, "only the owner may transfer network %u",
                 (unsigned)net->id);
        return;
    }
    struct st__member *m = st__member(net, cmd->node);
    if (m == NULL) {
        st__fail(res, REG_FAILED_PRECONDITION, "new owner %u must be a member",
                 (unsigned)cmd->node);
        return;
    }
    if (cmd->node == net->owner) {
        st__fail(res, REG_INVALID_ARGUMENT, "node %u already owns network %u",
                 (unsigned)cmd->node, (unsigned)net->id);
        return;
    }
    uint32_t old = net->owner;
    m->role = ST_ROLE_OWNER;
    if (old != 0) {
        st__member(net, old)->role = ST_ROLE_ADMIN;
    }
    net->owner = cmd->node;
    st__audit(net, cmd, caller, ST__A_TRANSFERRED, cmd->node, "from=%u, to=%u", (unsigned)old,
              (unsigned)cmd->node);
    res->node = cmd->node;
}

void st__net_detach_node(struct st_state *s, const struct st_cmd *cmd, uint32_t node)
{
    struct st__node *n = st__node(s, node);
    while (n->n_nets > 0) {
        struct st__net *net = st__net(s, st__nets_of(n)[0]);
        st__member_del(s, net, node);
        st__audit(net, cmd, node, ST__A_LEFT, node, "reason=deregistered");
        if (net->owner != node) {
            continue;
        }
        uint32_t heir = 0;
        for (uint32_t i = 0; i < net->n_members && heir == 0; i++) {
            heir = net->members[i].role == ST_ROLE_ADMIN ? net->members[i].node : 0;
        }
        if (heir == 0 && net->n_members > 0) {
            heir = net->members[0].node;
        }
        net->owner = heir;
        if (heir != 0) {
            st__member(net, heir)->role = ST_ROLE_OWNER;
            st__audit(net, cmd, node, ST__A_TRANSFERRED, heir, "from=%u, to=%u, reason=deregistered",
                      (unsigned)node, (unsigned)heir);
        } else {
            st__audit(net, cmd, node, ST__A_OWNER_LOST, node, "reason=deregistered");
        }
    }
}

void st__apply_net(struct st_state *s, const struct st_cmd *cmd, struct st_result *res)
{
    uint32_t caller = st__caller(s, cmd);
    if (cmd->op == ST_CMD_NET_CREATE) {
        do_create(s, cmd, caller, res);
        return;
    }
    struct st__net *net = target_net(s, cmd, caller, res);
    if (net == NULL) {
        return;
    }
    res->network = net->id;
    switch (cmd->op) {
    case ST_CMD_NET_JOIN:
        do_join(s, cmd, caller, net, res);
        break;
    case ST_CMD_NET_LEAVE:
        do_leave(s, cmd, caller, net, res);
        break;
    case ST_CMD_NET_INVITE:
        do_invite(s, cmd, caller, net, res);
        break;
    case ST_CMD_NET_KICK:
        do_kick(s, cmd, caller, net, res);
        break;
    case ST_CMD_NET_DELETE:
        do_delete(s, cmd, caller, net, res);
        break;
    case ST_CMD_NET_TRANSFER:
        do_transfer(cmd, caller, net, res);
        break;
    default:
        st__fail(res, REG_INVALID_ARGUMENT, "not a network command");
        break;
    }
}
