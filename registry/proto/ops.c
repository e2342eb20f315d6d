/* ops.c: the declarative op table (STYLE habit 13) and the wire names of
 * the state enumerations. The server dispatches from this table, pilotctl
 * prints its help from it, the args codec (args.c) reads its schemas, and
 * the op-coverage test walks it against ST_CMD_MAP.
 *
 * Checklist: an op added to ST_CMD_MAP needs a row here with its schema. */
#include <stddef.h>
#include <string.h>

#include "proto.h"

#define CMD(f) offsetof(struct st_cmd, f)
#define ARG(f) offsetof(struct proto_args, f)
#define N(a) ((uint8_t)(sizeof(a) / sizeof((a)[0])))

/* ---- Write ops: fields of struct st_cmd ------------------------------------*/
static const struct proto_field f_register[] = {
    {"hostname", PROTO_F_STR, false, CMD(hostname), ST_HOSTNAME_MAX},
    {"public", PROTO_F_BOOL, false, CMD(flag), 0},
    {"endpoint", PROTO_F_STR, false, CMD(endpoint), ST_ENDPOINT_MAX},
    {"tags", PROTO_F_TAGS, false, CMD(tags), 0},
};
static const struct proto_field f_deregister[] = {
    {"node", PROTO_F_U32, false, CMD(node), 0},
};
static const struct proto_field f_set_visibility[] = {
    {"public", PROTO_F_BOOL, true, CMD(flag), 0},
};
static const struct proto_field f_set_hostname[] = {
    {"hostname", PROTO_F_STR, true, CMD(hostname), ST_HOSTNAME_MAX},
};
static const struct proto_field f_set_tags[] = {
    {"tags", PROTO_F_TAGS, true, CMD(tags), 0},
};
static const struct proto_field f_set_endpoint[] = {
    {"endpoint", PROTO_F_STR, true, CMD(endpoint), ST_ENDPOINT_MAX},
};
static const struct proto_field f_rotate_key[] = {
    {"key", PROTO_F_KEY, true, CMD(key), 0},
};
static const struct proto_field f_set_online[] = {
    {"online", PROTO_F_ONLINE, true, CMD(online), 0},
};
static const struct proto_field f_net_create[] = {
    {"name", PROTO_F_STR, true, CMD(name), ST_NETNAME_MAX},
    {"join_rule", PROTO_F_JOIN_RULE, false, CMD(join_rule), 0},
    {"token", PROTO_F_STR, false, CMD(token), ST_TOKEN_MAX},
    {"enterprise", PROTO_F_BOOL, false, CMD(flag), 0},
};
static const struct proto_field f_net_join[] = {
    {"network", PROTO_F_NETWORK, true, CMD(network), 0},
    {"token", PROTO_F_STR, false, CMD(token), ST_TOKEN_MAX},
};
static const struct proto_field f_net_only[] = {
    {"network", PROTO_F_NETWORK, true, CMD(network), 0},
};
/* Ops that name a target node take `node` or, instead, `hostname` (resolved
 * by the state machine at apply time; proto_cmd_args_decode requires one of
 * the two). */
static const struct proto_field f_net_node[] = {
    {"network", PROTO_F_NETWORK, true, CMD(network), 0},
    {"node", PROTO_F_U32, false, CMD(node), 0},
    {"hostname", PROTO_F_STR, false, CMD(hostname), ST_HOSTNAME_MAX},
};
static const struct proto_field f_net_policy[] = {
    {"network", PROTO_F_NETWORK, true, CMD(network), 0},
    {"allowed_ports", PROTO_F_PORTS, false, CMD(policy), 0},
    {"max_members", PROTO_F_MAX_MEMBERS, false, CMD(policy), 0},
    {"description", PROTO_F_DESCRIPTION, false, CMD(policy), 0},
};
static const struct proto_field f_net_role[] = {
    {"network", PROTO_F_NETWORK, true, CMD(network), 0},
    {"node", PROTO_F_U32, false, CMD(node), 0},
    {"hostname", PROTO_F_STR, false, CMD(hostname), ST_HOSTNAME_MAX},
    {"role", PROTO_F_ROLE, true, CMD(role), 0},
};
static const struct proto_field f_blueprint[] = {
    {"blueprint", PROTO_F_BLUEPRINT, true, CMD(blueprint), 0},
};
static const struct proto_field f_handshake[] = {
    {"node", PROTO_F_U32, false, CMD(node), 0},
    {"hostname", PROTO_F_STR, false, CMD(hostname), ST_HOSTNAME_MAX},
    {"justification", PROTO_F_STR, false, CMD(text), ST_JUSTIFICATION_MAX},
};
static const struct proto_field f_node_only[] = {
    {"node", PROTO_F_U32, false, CMD(node), 0},
    {"hostname", PROTO_F_STR, false, CMD(hostname), ST_HOSTNAME_MAX},
};
static const struct proto_field f_reject[] = {
    {"node", PROTO_F_U32, false, CMD(node), 0},
    {"hostname", PROTO_F_STR, false, CMD(hostname), ST_HOSTNAME_MAX},
    {"reason", PROTO_F_STR, false, CMD(text), ST_REASON_MAX},
};
static const struct proto_field f_member_upsert[] = {
    {"member", PROTO_F_MEMBER, true, CMD(member), 0},
};
static const struct proto_field f_member_delete[] = {
    {"member", PROTO_F_MEMBER_ID, true, CMD(member), 0},
};

/* ---- Read and server ops: fields of struct proto_args ----------------------*/
static const struct proto_field a_node[] = {
    {"node", PROTO_F_U32, true, ARG(node), 0},
};
static const struct proto_field a_hostname[] = {
    {"hostname", PROTO_F_STR, true, ARG(hostname), ST_HOSTNAME_MAX},
};
static const struct proto_field a_authorize[] = {
    {"from", PROTO_F_U32, true, ARG(from), 0},
    {"to", PROTO_F_U32, true, ARG(to), 0},
    {"port", PROTO_F_PORT, false, ARG(port), 0},
};
static const struct proto_field a_network[] = {
    {"network", PROTO_F_NETWORK, true, ARG(network), 0},
};
static const struct proto_field a_audit[] = {
    {"network", PROTO_F_NETWORK, true, ARG(network), 0},
    {"limit", PROTO_F_U32, false, ARG(limit), ST_AUDIT_MAX},
};
static const struct proto_field a_member[] = {
    {"member", PROTO_F_MEMBER, true, ARG(member), 0},
};
static const struct proto_field a_member_id[] = {
    {"member", PROTO_F_MEMBER_ID, true, ARG(member), 0},
};
static const struct proto_field a_watch[] = {
    {"since", PROTO_F_U64, false, ARG(since), 0},
};
static const struct proto_field a_snapshot_read[] = {
    {"snapshot_id", PROTO_F_U64, false, ARG(snapshot_id), 0},
    {"offset", PROTO_F_U64, false, ARG(offset), 0},
};
static const struct proto_field a_member_id_opt[] = {
    {"member", PROTO_F_MEMBER_ID, false, ARG(member), 0},
};

/* Write rows take their name from ST_CMD_MAP so the two cannot drift. */
#define X(name, value, wire) static const char wire_##name[] = wire;
ST_CMD_MAP(X)
#undef X

#define W(c, lvl, sum, f) {wire_##c, ST_CMD_##c, PROTO_OP_WRITE, PROTO_LEVEL_##lvl, sum, f, N(f)}
#define R(name, lvl, sum, f) {name, 0, PROTO_OP_READ, PROTO_LEVEL_##lvl, sum, f, N(f)}
#define R0(name, lvl, sum) {name, 0, PROTO_OP_READ, PROTO_LEVEL_##lvl, sum, NULL, 0}
#define S(name, lvl, sum, f) {name, 0, PROTO_OP_SERVER, PROTO_LEVEL_##lvl, sum, f, N(f)}
#define S0(name, lvl, sum) {name, 0, PROTO_OP_SERVER, PROTO_LEVEL_##lvl, sum, NULL, 0}

static const struct proto_op ops[] = {
    W(REGISTER, KEY, "register the caller's key (returns its node id)", f_register),
    W(DEREGISTER, KEY, "remove a node (the caller, or any node for the admin)", f_deregister),
    W(SET_VISIBILITY, KEY, "make the caller public or private", f_set_visibility),
    W(SET_HOSTNAME, KEY, "set or clear (\"\") the caller's hostname", f_set_hostname),
    W(SET_TAGS, KEY, "replace the caller's tags", f_set_tags),
    W(SET_ENDPOINT, KEY, "set the caller's endpoint host:port", f_set_endpoint),
    W(ROTATE_KEY, KEY, "bind the caller's node id to a new key", f_rotate_key),
    W(SET_ONLINE, INTERNAL, "liveness transitions (leader-generated)", f_set_online),
    W(NET_CREATE, KEY, "create a network", f_net_create),
    W(NET_JOIN, KEY, "join a network (token for token networks)", f_net_join),
    W(NET_LEAVE, KEY, "leave a network", f_net_only),
    W(NET_INVITE, KEY, "invite a node to a network", f_net_node),
    W(NET_KICK, KEY, "remove a member from a network", f_net_node),
    W(NET_DELETE, KEY, "delete a network", f_net_only),
    W(NET_POLICY, KEY, "set a network's policy", f_net_policy),
    W(NET_ROLE, KEY, "set a member's role", f_net_role),
    W(NET_TRANSFER, KEY, "transfer a network's ownership", f_net_node),
    W(BLUEPRINT_APPLY, KEY, "create or update a whole network at once", f_blueprint),
    W(HANDSHAKE, KEY, "ask a node for trust", f_handshake),
    W(APPROVE, KEY, "approve a pending handshake", f_node_only),
    W(REJECT, KEY, "reject a pending handshake", f_reject),
    W(UNTRUST, KEY, "remove a trust pair", f_node_only),
    W(MEMBER_UPSERT, ADMIN, "record a cluster member's addresses", f_member_upsert),
    W(MEMBER_DELETE, ADMIN, "forget a cluster member's addresses", f_member_delete),
    R("lookup", ANY, "a node's public record", a_node),
    R("resolve", KEY, "a node's endpoint, if the caller may reach it", a_node),
    R("resolve_hostname", KEY, "a node by hostname, if the caller may reach it", a_hostname),
    R("authorize", KEY, "may node `from` reach node `to` on `port`", a_authorize),
    R("network_members", KEY, "members of a network", a_network),
    R0("network_list", ANY, "all networks"),
    R("network_policy_get", KEY, "a network's record and policy", a_network),
    R("network_audit", KEY, "audit log of an enterprise network", a_audit),
    R("blueprint_export", KEY, "a network as a blueprint", a_network),
    R0("trust_list", KEY, "the caller's trust pairs"),
    R0("pending", KEY, "the caller's pending handshakes and rejections"),
    R0("whoami", ANY, "the caller's identity"),
    R0("cluster_status", ANY, "leader, term, indexes of this node"),
    R0("cluster_members", ANY, "the cluster members and their addresses"),
    S0("heartbeat", KEY, "liveness heartbeat of the caller"),
    S("cluster_add", ADMIN, "add a node to the raft configuration", a_member),
    S("cluster_remove", ADMIN, "remove a node from the raft configuration", a_member_id),
    S("cluster_transfer", ADMIN, "transfer leadership (raft_id 0: any)", a_member_id_opt),
    S("cluster_snapshot_read", ADMIN,
      "backup: snapshot_id 0 takes a consistent snapshot file on the leader; then read it by "
      "offset", a_snapshot_read),
    S("watch", KEY, "long poll: answers when an entry after `since` touches the caller's access",
      a_watch),
};

size_t proto_op_count(void)
{
    return sizeof ops / sizeof ops[0];
}

const struct proto_op *proto_op_at(size_t i)
{
    if (i >= proto_op_count()) {
        return NULL;
    }
    return &ops[i];
}

const struct proto_op *proto_op_find(const char *name, size_t len)
{
    /* The first byte rules out most names before strlen reads one in full
     * (that was a visible share of dispatching a request). */
    for (size_t i = 0; i < proto_op_count() && len > 0; i++) {
        if (ops[i].name[0] == name[0] && strlen(ops[i].name) == len &&
            memcmp(ops[i].name, name, len) == 0) {
            return &ops[i];
        }
    }
    return NULL;
}

const struct proto_op *proto_op_by_cmd(int cmd)
{
    for (size_t i = 0; i < proto_op_count(); i++) {
        if (ops[i].kind == PROTO_OP_WRITE && ops[i].cmd == cmd) {
            return &ops[i];
        }
    }
    return NULL;
}

/* ---- Enumeration names ---------------------------------------------------*/

static const char *const join_rules[] = {"open", "invite", "token"};
static const char *const roles[] = {"none", "member", "admin", "owner"};
static const char *const statuses[] = {"", "sent", "approved", "already_trusted", "rejected",
                                       "returning"};

static int name_index(const char *const *names, size_t n, const char *s, size_t len)
{
    for (size_t i = 0; i < n; i++) {
        if (strlen(names[i]) == len && memcmp(names[i], s, len) == 0) {
            return (int)i;
        }
    }
    return -1;
}

const char *proto_join_rule_name(int rule)
{
    return rule >= 0 && rule < 3 ? join_rules[rule] : NULL;
}

int proto_join_rule_from_name(const char *s, size_t len)
{
    return name_index(join_rules, 3, s, len);
}

const char *proto_role_name(int role)
{
    return role >= 0 && role < 4 ? roles[role] : NULL;
}

int proto_role_from_name(const char *s, size_t len)
{
    return name_index(roles, 4, s, len);
}

const char *proto_status_name(int status)
{
    return status >= 0 && status < 6 ? statuses[status] : NULL;
}

int proto_status_from_name(const char *s, size_t len)
{
    return len == 0 ? -1 : name_index(statuses, 6, s, len);
}
