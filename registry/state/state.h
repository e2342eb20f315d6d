/* registry/state: the deterministic registry state machine (DESIGN.md §6).
 *
 * Every node of the cluster applies the same command log to a st_state and
 * must end byte-for-byte identical (st_hash). Hence the rules of this folder:
 *   - no I/O, no clocks, no randomness, no libuv, no raft: time arrives only
 *     as the leader-stamped cmd->ts_ms;
 *   - st_apply never fails: a bad command becomes an error *result* (a code
 *     from reg_common.h plus a message) and changes nothing;
 *   - out of memory inside apply aborts (reg_xmalloc), because a replica
 *     that skipped half an entry would diverge.
 *
 * Identity: the server authenticates every connection (DESIGN.md §4) and puts
 * the caller's verified Ed25519 public key, or the admin flag, into the
 * command. The state machine maps that key to a node id; it never trusts an
 * id a client merely claims.
 *
 * Threading: none. Every function runs on the caller's thread; queries
 * return pointers into the state that stay valid until the next st_apply,
 * st_restore or st_free on the same state.
 *
 * Prefix: st_ public, st__ cross-file internal. */
#ifndef PILOT_ST_STATE_H
#define PILOT_ST_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "reg_common.h"

/* ---- Limits (registry-reference.md §1.4; ours where the Go one is silent) */
#define ST_KEY_LEN 32            /* Ed25519 public key */
#define ST_HASH_LEN 32           /* state hash, token hash */
#define ST_FIRST_NODE_ID 4       /* ids 0-3 are reserved */
#define ST_MAX_NODE_ID 0xFFFFFFFEu /* 0xFFFFFFFF is broadcast */
#define ST_MAX_NETWORK_ID 65535
#define ST_HOSTNAME_MAX 63
#define ST_NETNAME_MAX 63
#define ST_TAG_MAX 32
#define ST_TAGS_MAX 10
#define ST_ENDPOINT_MAX 255      /* "host:port" as the agent reports it */
#define ST_TOKEN_MAX 256         /* join token, clear text, before hashing */
#define ST_JUSTIFICATION_MAX 1024
#define ST_REASON_MAX 1024
#define ST_DESCRIPTION_MAX 256
#define ST_PORTS_MAX 100         /* allowed_ports entries */
#define ST_MAX_MEMBERS_LIMIT 10000 /* max_members policy: 0 = unlimited */
#define ST_INBOX_MAX 100         /* pending handshakes per target */
#define ST_AUDIT_MAX 1000        /* audit ring per enterprise network */
#define ST_AUDIT_LIMIT_DEFAULT 100
#define ST_DEDUP_CLIENTS_MAX 65536 /* dedup records kept; oldest evicted */
#define ST_ONLINE_BATCH_MAX 4096 /* transitions per set_online command */
#define ST_BLUEPRINT_ROLES_MAX 1024
#define ST_CLUSTER_NAME_MAX 63
#define ST_ADDR_MAX 255          /* raft / client / http address strings */
#define ST_RESULT_MSG_MAX 200

/* ---- Enumerations --------------------------------------------------------
 * Checklist: these values are persisted in the log and in snapshots. Append
 * only; never renumber. proto/ has a name table for each. */
enum st_join_rule { ST_JOIN_OPEN = 0, ST_JOIN_INVITE = 1, ST_JOIN_TOKEN = 2 };
enum st_role { ST_ROLE_NONE = 0, ST_ROLE_MEMBER = 1, ST_ROLE_ADMIN = 2, ST_ROLE_OWNER = 3 };

/* Write commands: every mutation of the registry is exactly one of these.
 * Checklist: a row added here needs its argument rules below, its handler in
 * registry/state, its codec row in registry/proto, an op-table row in
 * registry/server, a pilotctl command, and tests. Append only.
 * Target by name: handshake, approve, reject, untrust, network_invite,
 * network_kick, network_role and network_transfer name their target with
 * `node`, or, when node is 0, with `hostname`, resolved at apply time (the
 * caller need not be able to see a private target). */
#define ST_CMD_MAP(X)                                                          \
    /* nodes */                                                                \
    X(REGISTER, 1, "register")               /* hostname?, public, endpoint, tags */ \
    X(DEREGISTER, 2, "deregister")                                             \
    X(SET_VISIBILITY, 3, "set_visibility")   /* public */                      \
    X(SET_HOSTNAME, 4, "set_hostname")       /* hostname ("" clears) */        \
    X(SET_TAGS, 5, "set_tags")               /* tags (0 clears) */             \
    X(SET_ENDPOINT, 6, "set_endpoint")       /* endpoint */                    \
    X(ROTATE_KEY, 7, "rotate_key")           /* key = new key */               \
    X(SET_ONLINE, 8, "set_online")           /* online[] (leader-generated) */ \
    /* networks */                                                             \
    X(NET_CREATE, 20, "network_create")      /* name, join_rule, token, enterprise */ \
    X(NET_JOIN, 21, "network_join")          /* network, token */              \
    X(NET_LEAVE, 22, "network_leave")        /* network */                     \
    X(NET_INVITE, 23, "network_invite")      /* network, node */               \
    X(NET_KICK, 24, "network_kick")          /* network, node */               \
    X(NET_DELETE, 25, "network_delete")      /* network */                     \
    X(NET_POLICY, 26, "network_policy_set")  /* network, policy fields */      \
    X(NET_ROLE, 27, "network_role")          /* network, node, role */         \
    X(NET_TRANSFER, 28, "network_transfer")  /* network, node */               \
    X(BLUEPRINT_APPLY, 29, "blueprint_apply")/* blueprint */                   \
    /* trust */                                                                \
    X(HANDSHAKE, 40, "handshake")            /* node, text = justification */  \
    X(APPROVE, 41, "approve")                /* node */                        \
    X(REJECT, 42, "reject")                  /* node, text = reason */         \
    X(UNTRUST, 43, "untrust")                /* node */                        \
    /* cluster membership map (admin only) */                                  \
    X(MEMBER_UPSERT, 60, "cluster_member_upsert") /* member */                 \
    X(MEMBER_DELETE, 61, "cluster_member_delete") /* member.raft_id */

enum st_cmd_op {
    ST_CMD_NONE = 0,
#define ST__CMD_ENUM(name, value, wire) ST_CMD_##name = value,
    ST_CMD_MAP(ST__CMD_ENUM)
#undef ST__CMD_ENUM
};

/* Name of a command op ("network_kick"), NULL if unknown. */
const char *st_cmd_name(int op);
/* Op of a name, ST_CMD_NONE if unknown. */
int st_cmd_from_name(const char *name, size_t len);

/* ---- Command arguments ---------------------------------------------------*/

struct st_online {          /* one liveness transition */
    uint32_t node;
    bool online;
};

struct st_policy {          /* only fields whose has_ flag is set change */
    bool has_allowed_ports, has_max_members, has_description;
    uint16_t n_ports;
    uint16_t ports[ST_PORTS_MAX]; /* 1..65535; n_ports = 0 means all ports */
    uint32_t max_members;         /* 0 = unlimited, <= ST_MAX_MEMBERS_LIMIT */
    char description[ST_DESCRIPTION_MAX + 1];
};

struct st_blueprint_role {  /* role of an existing node in the network */
    uint32_t node;
    uint8_t role;           /* enum st_role: ADMIN or MEMBER (OWNER = transfer) */
};

/* A whole network declared at once; applied as one command, all or nothing:
 * created if no network has this name, updated otherwise (caller must then
 * be its owner or the cluster admin). */
struct st_blueprint {
    char name[ST_NETNAME_MAX + 1];
    uint8_t join_rule;
    char token[ST_TOKEN_MAX + 1];   /* required for ST_JOIN_TOKEN on create */
    bool enterprise;
    struct st_policy policy;
    uint32_t n_roles;
    const struct st_blueprint_role *roles; /* borrowed for the apply call */
};

struct st_cluster_member {
    uint64_t raft_id;
    char name[ST_CLUSTER_NAME_MAX + 1];
    char raft_addr[ST_ADDR_MAX + 1];
    char client_addr[ST_ADDR_MAX + 1];
    char http_addr[ST_ADDR_MAX + 1];
};

/* One write command. A flat struct: fields an op does not use are ignored
 * (the codec leaves them zero). Strings are NUL-terminated and their length
 * limits are part of validation: the codec refuses longer ones before they
 * get here, and st_apply re-checks everything (defence in depth: a command
 * in the log must never crash a replica). */
struct st_cmd {
    uint16_t op;                    /* enum st_cmd_op */
    /* Envelope, filled by the server. */
    uint64_t client;                /* dedup: client id; 0 = not deduplicated */
    uint64_t seq;                   /* dedup: per-client sequence, > 0 */
    int64_t ts_ms;                  /* leader-stamped wall time, ms since epoch */
    uint64_t origin;                /* raft id of the node that took the request */
    bool caller_admin;              /* caller presented the cluster admin token */
    uint8_t caller_key[ST_KEY_LEN]; /* caller's verified key (all zero: none) */
    /* Arguments. */
    uint32_t node;                  /* target node id */
    uint32_t network;               /* network id */
    uint8_t role;                   /* enum st_role */
    uint8_t join_rule;              /* enum st_join_rule */
    bool flag;                      /* register: public; set_visibility: public;
                                       network_create: enterprise */
    uint8_t key[ST_KEY_LEN];        /* rotate_key: the new key */
    char name[ST_NETNAME_MAX + 1];  /* network_create */
    char hostname[ST_HOSTNAME_MAX + 1];
    char endpoint[ST_ENDPOINT_MAX + 1];
    char token[ST_TOKEN_MAX + 1];   /* network_create / network_join */
    char text[ST_JUSTIFICATION_MAX + 1]; /* justification or reason */
    uint8_t n_tags;
    char tags[ST_TAGS_MAX][ST_TAG_MAX + 1];
    struct st_policy policy;        /* network_policy_set */
    uint32_t n_online;
    const struct st_online *online; /* set_online, borrowed */
    const struct st_blueprint *blueprint; /* blueprint_apply, borrowed */
    struct st_cluster_member member;      /* cluster_member_* */
};

/* Result of one write. Small and fixed so the dedup table can cache it and
 * a retried (client, seq) gets back exactly what the first apply produced. */
struct st_result {
    uint16_t code;                  /* enum reg_err; REG_OK on success */
    uint16_t op;                    /* op it answers */
    uint32_t node;                  /* node concerned (register: the new id) */
    uint32_t network;               /* network concerned (create: the new id) */
    uint8_t status;                 /* enum st_status, op-specific outcome */
    bool created;                   /* blueprint: network was created */
    bool duplicate;                 /* answered from the dedup table */
    char message[ST_RESULT_MSG_MAX + 1]; /* human detail; "" on success */
};

/* Op-specific outcomes reported in st_result.status. Append only. */
enum st_status {
    ST_STATUS_NONE = 0,
    ST_STATUS_SENT = 1,             /* handshake stored as pending */
    ST_STATUS_APPROVED = 2,         /* handshake auto-approved (mutual or co-member), approve */
    ST_STATUS_ALREADY_TRUSTED = 3,  /* handshake: a trust pair already exists */
    ST_STATUS_REJECTED = 4,         /* reject */
    ST_STATUS_RETURNING = 5,        /* register: the key had an id already */
};

/* ---- Lifecycle -----------------------------------------------------------*/

struct st_state;

/* A new, empty state: only the backbone (network 0) exists. Never NULL. */
struct st_state *st_new(void);
void st_free(struct st_state *s);

/* Apply one command. Never fails: the outcome is in *res. Deterministic:
 * the result and the state after depend only on the state before and *cmd.
 * Deduplication: when cmd->client != 0 and (client, seq) was already
 * applied, *res is the cached result with res->duplicate = true and nothing
 * changes; a seq lower than the client's last is refused as
 * REG_FAILED_PRECONDITION ("stale sequence"). */
void st_apply(struct st_state *s, const struct st_cmd *cmd, struct st_result *res);

/* Index of the last applied raft entry, maintained by the caller (raft-glue)
 * so that snapshots and stale reads can report it. Part of the snapshot. */
void st_set_applied_index(struct st_state *s, uint64_t index);
uint64_t st_applied_index(const struct st_state *s);

/* ---- Snapshot and hash -----------------------------------------------------
 * The snapshot is a versioned, canonical byte string (ids in ascending
 * order), so two states with equal content encode to equal bytes; the state
 * hash is BLAKE2b-256 over that encoding minus the applied index. */

/* Encode the whole state. On success *buf is a reg_malloc'd buffer owned by
 * the caller (free with reg_free) and *len its length. Returns REG_OK or
 * REG_NOMEM. */
int st_snapshot_encode(const struct st_state *s, void **buf, size_t *len);
/* Decode a snapshot into a fresh state. On success *out owns a new state
 * and REG_OK is returned; on REG_MALFORMED (with detail in errmsg) or
 * REG_NOMEM nothing is allocated. buf stays the caller's. Total: any byte
 * string gives a state or an error, never a crash. */
int st_snapshot_decode(const void *buf, size_t len, struct st_state **out,
                       char errmsg[static REG_ERRMSG_SIZE]);
/* Content hash; equal iff the states' contents are equal. */
void st_hash(const struct st_state *s, uint8_t out[static ST_HASH_LEN]);

/* ---- Queries ----------------------------------------------------------------
 * Read-only; pointers returned stay valid until the next mutation. Access
 * rules are applied here, not in the server, so every node answers alike.
 * "viewer" is the node id of the authenticated caller (0 = the cluster admin,
 * who sees everything). */

struct st_node {                    /* read-only view of one agent */
    uint32_t id;
    uint8_t key[ST_KEY_LEN];
    const char *hostname;           /* "" if none */
    const char *endpoint;           /* "" if unknown */
    bool public_;
    bool online;
    int64_t created_ms;
    int64_t last_change_ms;         /* last online/offline transition */
    uint8_t n_tags;
    const char *tags[ST_TAGS_MAX];
    uint32_t n_networks;            /* non-backbone networks, ascending */
    const uint16_t *networks;
};

struct st_network {                 /* read-only view of one network */
    uint16_t id;
    const char *name;
    uint8_t join_rule;
    bool enterprise;
    uint32_t owner;                 /* 0 if none (the backbone) */
    uint32_t n_members;
    int64_t created_ms;
    uint16_t n_ports;
    const uint16_t *ports;
    uint32_t max_members;
    const char *description;
};

struct st_member {                  /* one member of a network */
    uint32_t node;
    uint8_t role;
};

struct st_trust {                   /* one trust pair, seen from one side */
    uint32_t peer;
    bool mutual;                    /* both sides asked (mutual handshake) */
    uint16_t network;               /* co-membership that auto-approved; 0 = none */
    int64_t approved_ms;
    uint32_t approved_by;           /* node that approved */
};

struct st_pending {                 /* a handshake waiting for its target */
    uint32_t from, to;
    const char *justification;
    int64_t received_ms;
};

struct st_outcome {                 /* a rejection, visible to the requester */
    uint32_t peer;                  /* who rejected */
    const char *reason;
    int64_t at_ms;
};

struct st_audit {                   /* one audit record of an enterprise network */
    int64_t at_ms;
    uint32_t actor;                 /* node id; 0 = cluster admin */
    uint64_t origin;                /* raft id of the node that took the request */
    const char *action;             /* e.g. "member.kicked" */
    uint32_t target;                /* node concerned, 0 if none */
    const char *detail;             /* "k=v, k=v" */
};

/* Node id bound to a key (including deregistered ones, which keep their id
 * for a returning key); 0 if the key was never registered. */
uint32_t st_node_by_key(const struct st_state *s, const uint8_t key[static ST_KEY_LEN]);
/* True if node id is currently registered. */
bool st_node_exists(const struct st_state *s, uint32_t id);
/* Raw view of a registered node regardless of privacy (server internals,
 * heartbeats, tests). REG_OK or REG_NOT_FOUND. */
int st_node_get(const struct st_state *s, uint32_t id, struct st_node *out);

/* lookup: a node's public record as seen by viewer. Private nodes are
 * visible only to themselves, trusted peers, co-members and the admin; to
 * anyone else the answer is REG_NOT_FOUND, identical to a missing node (no
 * enumeration). endpoint is "" unless the viewer may reach the node. */
int st_lookup(const struct st_state *s, uint32_t viewer, uint32_t id, struct st_node *out);
/* resolve: the endpoint of id for viewer; REG_OK only if may_reach(viewer,
 * id, any port) holds (public, trust, or shared non-backbone network);
 * REG_NOT_FOUND otherwise. viewer must be registered (REG_UNAUTHENTICATED). */
int st_resolve(const struct st_state *s, uint32_t viewer, uint32_t id, struct st_node *out);
/* resolve by hostname with the same privacy rule. */
int st_resolve_hostname(const struct st_state *s, uint32_t viewer, const char *hostname,
                        struct st_node *out);

/* The access rule of DESIGN.md §6: B reachable by A on port iff B is public,
 * or {A, B} is a trust pair, or A and B share a network other than 0 whose
 * policy allows port. port 0 means "any port" (resolve). Unknown ids: false. */
bool st_may_reach(const struct st_state *s, uint32_t a, uint32_t b, uint16_t port);

/* Networks. st_network_get: REG_OK or REG_NOT_FOUND. Iteration in ascending
 * id order: pass 0 first, then the last id returned; returns false at end. */
int st_network_get(const struct st_state *s, uint16_t id, struct st_network *out);
bool st_network_next(const struct st_state *s, uint16_t after, struct st_network *out);
/* Members of a network in ascending node order, for a viewer who must be a
 * member or the admin (REG_PERMISSION_DENIED otherwise; REG_NOT_FOUND for an
 * unknown network). Fills up to cap entries from index `from`; *total gets
 * the member count. */
int st_network_members(const struct st_state *s, uint32_t viewer, uint16_t id,
                       uint32_t from, struct st_member *out, uint32_t cap, uint32_t *total);
/* Role of node in network (ST_ROLE_NONE if not a member). */
uint8_t st_network_role(const struct st_state *s, uint16_t id, uint32_t node);
/* True if node was kicked from network and not re-invited since. */
bool st_network_kicked(const struct st_state *s, uint16_t id, uint32_t node);
/* Audit log of an enterprise network, newest first, for its owner/admins or
 * the cluster admin. Up to `limit` (<= ST_AUDIT_MAX) records into out. */
int st_network_audit(const struct st_state *s, uint32_t viewer, uint16_t id,
                     struct st_audit *out, uint32_t limit, uint32_t *n_out);

/* Trust as seen by node: iterate pairs, pending handshakes addressed to node
 * (incoming) or sent by it (outgoing), and rejections of node's requests.
 * Each fills up to cap entries from index `from`, returns the total count. */
uint32_t st_trust_list(const struct st_state *s, uint32_t node, uint32_t from,
                       struct st_trust *out, uint32_t cap);
uint32_t st_pending_in(const struct st_state *s, uint32_t node, uint32_t from,
                       struct st_pending *out, uint32_t cap);
uint32_t st_pending_out(const struct st_state *s, uint32_t node, uint32_t from,
                        struct st_pending *out, uint32_t cap);
uint32_t st_outcomes(const struct st_state *s, uint32_t node, uint32_t from,
                     struct st_outcome *out, uint32_t cap);
bool st_trusted(const struct st_state *s, uint32_t a, uint32_t b);

/* Cluster membership map (raft id → addresses). */
uint32_t st_cluster_members(const struct st_state *s, struct st_cluster_member *out,
                            uint32_t cap);
int st_cluster_member_get(const struct st_state *s, uint64_t raft_id,
                          struct st_cluster_member *out);

/* Counters for metrics and tests. */
struct st_stats {
    uint64_t nodes;                 /* registered */
    uint64_t nodes_online;
    uint64_t networks;              /* excluding the backbone */
    uint64_t memberships;           /* non-backbone */
    uint64_t trust_pairs;
    uint64_t pending;
    uint64_t dedup_clients;
    uint32_t next_node_id;
    uint32_t next_network_id;
};
void st_stats(const struct st_state *s, struct st_stats *out);

/* ---- Validation helpers shared with proto, pilotctl and the agent ------------*/
/* Hostname / network name rule: [a-z0-9-], 1-63, alphanumeric at both ends,
 * not a reserved name (localhost, backbone, broadcast). */
bool st_valid_name(const char *s);
/* Tag rule: [a-z0-9-], 1-32, after stripping one leading '#'. */
bool st_valid_tag(const char *s);

#endif /* PILOT_ST_STATE_H */
