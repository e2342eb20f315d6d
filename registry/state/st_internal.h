/* st_internal.h: the in-memory layout of a st_state and the cross-file
 * helpers of registry/state (prefix st__). Private to this folder.
 *
 * Layout, chosen for ≤ 300 bytes per agent at 1M agents (task issue 2):
 *   - nodes: one array indexed by id - ST_FIRST_NODE_ID, holding every id
 *     ever allocated (a deregistered node keeps its key so the key gets its
 *     id back);
 *   - indexes (key, hostname, network name, trust pair, dedup client) are
 *     open-addressing tables of uint32 values (htab.c) whose keys live in
 *     the records themselves;
 *   - trust pairs: a slab of records threaded on two singly linked lists,
 *     one per endpoint, so a node's pairs are found without a scan;
 *   - networks: pointer array indexed by id; members sorted by node id;
 *     each node keeps the sorted list of its non-backbone networks;
 *   - pending handshakes and rejection outcomes hang off a per-node
 *     extension allocated only for nodes that have any. */
#ifndef PILOT_ST_INTERNAL_H
#define PILOT_ST_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include "state.h"

#define ST__NETS_INLINE 4     /* networks kept inside the node record */
#define ST__OUTCOMES_MAX 100  /* rejection outcomes kept per requester */
#define ST__NIL 0u            /* "no pair" in the +1-encoded pair links */

/* ---- Open-addressing index (htab.c) ---------------------------------------
 * Stores uint32 values; the key of a value is found through callbacks, so
 * the table itself costs 5 bytes a slot (value + one hash byte). Linear probing, backward-shift
 * deletion, capacity a power of two, load ≤ 0.7. */
struct st__ix {
    uint32_t *slots;          /* value + 1; 0 = empty */
    uint8_t *tags;            /* top hash byte of each slot */
    uint32_t mask;            /* capacity - 1 (capacity 0: slots NULL) */
    uint32_t count;
};
typedef uint64_t (*st__ix_hash_fn)(const void *ctx, uint32_t value);
typedef bool (*st__ix_eq_fn)(const void *ctx, uint32_t value, const void *probe);

void st__ix_free(struct st__ix *ix);
/* Value whose key equals probe (hash h), or UINT32_MAX. */
uint32_t st__ix_find(const struct st__ix *ix, uint64_t h, st__ix_eq_fn eq, const void *ctx,
                     const void *probe);
/* Insert a value known to be absent. */
void st__ix_insert(struct st__ix *ix, uint64_t h, uint32_t value, st__ix_hash_fn hash,
                   const void *ctx);
/* Remove exactly this value (hash h); false if absent. */
bool st__ix_remove(struct st__ix *ix, uint64_t h, uint32_t value, st__ix_hash_fn hash,
                   const void *ctx);
/* Grow to hold n values without rehashing again. */
void st__ix_reserve(struct st__ix *ix, uint32_t n, st__ix_hash_fn hash, const void *ctx);

uint64_t st__mix64(uint64_t x);
uint64_t st__hash_bytes(const void *p, size_t n);

/* ---- Records ----------------------------------------------------------------*/
struct st__pend {             /* one pending handshake, in its target's inbox */
    uint32_t from;
    int64_t at;
    char *text;
};

struct st__outc {             /* one rejection, kept for the requester */
    uint32_t peer;
    int64_t at;
    char *reason;
};

struct st__ext {
    struct st__pend *inbox;   /* arrival order */
    uint32_t n_in, cap_in;
    uint32_t *outbox;         /* targets of our pending requests, ascending */
    uint32_t n_out, cap_out;
    struct st__outc *outc;    /* oldest first, one per peer */
    uint32_t n_outc, cap_outc;
};

/* Field order matters for st_may_reach, which runs on every access check:
 * everything it reads (registered, public_, the network list, the trust list
 * head) sits in the first 24 bytes, and the record is 96 bytes, so that
 * window never straddles a cache line: a check touches one line per node. */
struct st__node {
    uint8_t registered, public_, online, n_tags;
    uint16_t n_nets, cap_nets; /* cap_nets <= ST__NETS_INLINE: inline */
    uint32_t trust_head;      /* pair index + 1, list sorted by peer; ST__NIL = none */
    uint8_t host_len;         /* strlen of the hostname part of str */
    union {
        uint16_t inl[ST__NETS_INLINE];
        uint16_t *heap;
    } nets;                   /* non-backbone networks, ascending */
    int64_t created_ms;
    int64_t last_change_ms;
    char *str;                /* "hostname\0endpoint\0" in one block (one
                                 allocation per agent instead of two); NULL
                                 when both are empty */
    char *tags;               /* n_tags strings back to back, NUL-terminated */
    struct st__ext *ext;      /* NULL when no pending / outcomes */
    uint8_t key[ST_KEY_LEN];
};

struct st__pair {             /* trust pair {a < b} */
    uint32_t a, b;
    int64_t approved_ms;
    uint32_t approved_by;
    uint32_t next_a, next_b;  /* next pair of a / of b, index + 1 */
    uint16_t network;
    uint8_t mutual;
    uint8_t live;
};

struct st__member {
    uint32_t node;
    uint8_t role;
};

struct st__audit_rec {
    int64_t at;
    uint64_t origin;
    uint32_t actor, target;
    char *detail;
    uint8_t action;           /* index into st__audit_actions */
};

struct st__net {
    uint16_t id;
    uint8_t join_rule;
    bool enterprise, deleted, has_token;
    char name[ST_NETNAME_MAX + 1];
    uint8_t token_hash[ST_HASH_LEN];
    uint32_t owner;
    int64_t created_ms;
    struct st__member *members; /* ascending node */
    uint32_t n_members, cap_members;
    uint32_t *kicked;         /* ascending */
    uint32_t n_kicked, cap_kicked;
    uint16_t *ports;          /* ascending, unique */
    uint16_t n_ports;
    uint32_t max_members;
    char *description;        /* NULL = "" */
    struct st__audit_rec *audit; /* ring, oldest at audit_start */
    uint32_t audit_start, audit_n, audit_cap;
};

struct st__dd {               /* dedup record of one client */
    uint64_t client, seq;
    int64_t ts;
    uint32_t heap_pos;
    struct st_result res;
};

struct st__dedup {
    struct st__dd *v;         /* dense */
    uint32_t n, cap;
    uint32_t *heap;           /* indexes into v, min-heap by (ts, client) */
    struct st__ix ix;         /* client -> index into v */
};

struct st_state {
    struct st__node *nodes;   /* [id - ST_FIRST_NODE_ID] */
    uint32_t nodes_cap;
    uint32_t next_node_id;
    struct st__ix key_ix, host_ix, netname_ix, pair_ix;
    struct st__net **nets;    /* [id]; nets[0] unused (backbone is implicit) */
    uint32_t nets_cap;
    uint32_t next_network_id;
    struct st__pair *pairs;
    uint32_t pairs_cap, pairs_hw, pairs_free, n_pairs;
    struct st__dedup dedup;
    struct st_cluster_member *cm; /* ascending raft_id */
    uint32_t n_cm, cap_cm;
    uint64_t applied_index;
    uint64_t n_registered, n_online, n_networks, n_memberships, n_pending;
};

/* ---- Helpers shared across files ------------------------------------------*/
static inline struct st__node *st__node(const struct st_state *s, uint32_t id)
{
    if (id < ST_FIRST_NODE_ID || id >= s->next_node_id) {
        return NULL;
    }
    return &s->nodes[id - ST_FIRST_NODE_ID];
}

/* Registered node or NULL. */
static inline struct st__node *st__live(const struct st_state *s, uint32_t id)
{
    struct st__node *n = st__node(s, id);
    return n != NULL && n->registered ? n : NULL;
}

/* Existing (not deleted) network, never the backbone. */
static inline struct st__net *st__net(const struct st_state *s, uint32_t id)
{
    if (id == 0 || id >= s->nets_cap || s->nets[id] == NULL || s->nets[id]->deleted) {
        return NULL;
    }
    return s->nets[id];
}

/* Hostname / endpoint of a node, "" if none. */
static inline const char *st__host(const struct st__node *n)
{
    return n->str != NULL ? n->str : "";
}

static inline const char *st__endpoint(const struct st__node *n)
{
    return n->str != NULL ? n->str + n->host_len + 1 : "";
}

static inline const uint16_t *st__nets_of(const struct st__node *n)
{
    return n->cap_nets <= ST__NETS_INLINE ? n->nets.inl : n->nets.heap;
}

static inline uint64_t st__pair_key(uint32_t a, uint32_t b)
{
    return a < b ? ((uint64_t)a << 32) | b : ((uint64_t)b << 32) | a;
}

/* Set res->code and a formatted message; returns code. */
int st__fail(struct st_result *res, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* True if the n-byte array holds a NUL (the string fits its field). */
bool st__fits(const char *s, size_t size);
char *st__strdup(const char *s);
/* Node id of the command's caller if its key maps to a registered node. */
uint32_t st__caller(const struct st_state *s, const struct st_cmd *cmd);
/* Grow the node array to hold need records (64-byte aligned, zeroed). */
void st__nodes_reserve(struct st_state *s, uint32_t need);
void st__grow(void **p, uint32_t *cap, uint32_t need, size_t elem);

/* nodes.c */
void st__apply_node(struct st_state *s, const struct st_cmd *cmd, struct st_result *res);
uint32_t st__key_find(const struct st_state *s, const uint8_t key[static ST_KEY_LEN]);
uint32_t st__host_find(const struct st_state *s, const char *hostname);
void st__key_index(struct st_state *s, uint32_t id);
void st__host_index(struct st_state *s, uint32_t id);
void st__node_add_net(struct st__node *n, uint16_t net);
void st__node_del_net(struct st__node *n, uint16_t net);
bool st__node_in_net(const struct st__node *n, uint16_t net);
void st__node_free_fields(struct st__node *n);
/* Replace hostname and endpoint (not the hostname index: callers do). */
void st__node_set_str(struct st__node *n, const char *host, const char *ep);

/* networks.c */
void st__apply_net(struct st_state *s, const struct st_cmd *cmd, struct st_result *res);
struct st__net *st__net_new(struct st_state *s, uint16_t id);
void st__net_free(struct st__net *net);
uint32_t st__net_find_name(const struct st_state *s, const char *name);
struct st__member *st__member(const struct st__net *net, uint32_t node);
void st__member_add(struct st_state *s, struct st__net *net, uint32_t node, uint8_t role);
void st__member_del(struct st_state *s, struct st__net *net, uint32_t node);
bool st__kicked(const struct st__net *net, uint32_t node);
void st__kicked_set(struct st__net *net, uint32_t node, bool on);
void st__token_hash(uint16_t net, const char *token, uint8_t out[static ST_HASH_LEN]);
/* Remove node from every network (deregister): ownership passes on. */
void st__net_detach_node(struct st_state *s, const struct st_cmd *cmd, uint32_t node);

/* enterprise.c */
void st__apply_enterprise(struct st_state *s, const struct st_cmd *cmd, struct st_result *res);
extern const char *const st__audit_actions[];
extern const unsigned st__n_audit_actions;
enum st__audit_action {
    ST__A_CREATED, ST__A_JOINED, ST__A_LEFT, ST__A_INVITED, ST__A_KICKED, ST__A_PROMOTED,
    ST__A_DEMOTED, ST__A_TRANSFERRED, ST__A_POLICY, ST__A_DELETED, ST__A_BLUEPRINT,
    ST__A_OWNER_LOST,
};
/* Record an audit entry if net is enterprise. */
void st__audit(struct st__net *net, const struct st_cmd *cmd, uint32_t actor, uint8_t action,
               uint32_t target, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
void st__audit_push(struct st__net *net, const struct st__audit_rec *rec);
int st__check_policy(const struct st__net *net, const struct st_policy *p, bool enterprise,
                     struct st_result *res);
void st__set_policy(struct st__net *net, const struct st_policy *p);

/* trust.c */
void st__apply_trust(struct st_state *s, const struct st_cmd *cmd, struct st_result *res);
struct st__pair *st__pair_find(const struct st_state *s, uint32_t a, uint32_t b);
struct st__pair *st__pair_add(struct st_state *s, uint32_t a, uint32_t b);
/* Allocate and index a pair without linking it into the nodes' lists. */
uint32_t st__pair_alloc(struct st_state *s, uint32_t a, uint32_t b);
struct st__ext *st__ext(struct st__node *n);
void st__ext_free(struct st__ext *e);
void st__pending_drop_node(struct st_state *s, uint32_t node);
void st__outbox_add(struct st__node *n, uint32_t to);

/* dedup.c */
struct st__dd *st__dedup_find(const struct st_state *s, uint64_t client);
void st__dedup_record(struct st_state *s, const struct st_cmd *cmd, const struct st_result *res);
void st__dedup_insert(struct st_state *s, uint64_t client, uint64_t seq, int64_t ts,
                      const struct st_result *res);
void st__dedup_free(struct st__dedup *d);

/* snapshot.c / snapshot_decode.c: format constants. Layout (version 1),
 * little-endian; v = LEB128 varint, z = zigzag varint of a delta, s = v
 * length + bytes (no NUL):
 *   u32 magic "PST1" | u32 version | u64 applied_index
 *   v next_node_id | v next_network_id
 *   nodes, one per id in [ST_FIRST_NODE_ID, next_node_id):
 *     u8 flags (1 registered, 2 public, 4 online) | key[32]
 *     z created (vs previous node's) | z last_change (vs created)
 *     s hostname | s endpoint | u8 n_tags | s tag...
 *   u32 n_networks, then per network, ascending id (deleted enterprise
 *     networks included, for their audit):
 *     v id delta | u8 flags (1 enterprise, 2 deleted, 4 token) | u8 rule
 *     s name | v owner | z created | [token_hash 32 if token]
 *     v n_ports | v port delta... | v max_members | s description
 *     v n_members | (v node delta, u8 role)... | v n_kicked | v delta...
 *     v n_audit | (z at, v actor, v origin, u8 action, v target, s detail)...
 *   u32 n_pairs | per pair, ascending (a, b): v a delta | v b delta (from
 *     previous b if same a, else from a) | u8 flags (1 mutual, bits 1-2
 *     approved_by: 0 none, 1 a, 2 b, 3 explicit) | v network
 *     | z approved_ms (vs previous pair's) | [v approved_by]
 *   u32 n_inboxes | per target ascending: v target delta | v n
 *     | (v from, z at, s text)...
 *   u32 n_outcome_lists | per node ascending: v node delta | v n
 *     | (v peer, z at, s reason)...
 *   u32 n_dedup | per client ascending: v client delta | v seq | z ts
 *     | v code | v op | v node | v network | u8 status | u8 created | s msg
 *   u32 n_cluster | per raft id ascending: v raft_id | s name | s raft_addr
 *     | s client_addr | s http_addr
 * The hash covers the same bytes with applied_index written as zero. */
#define ST__SNAP_MAGIC 0x31545350u
#define ST__SNAP_VERSION 1u
#define ST__SNAP_HEADER 16u

/* cluster.c */
void st__apply_cluster(struct st_state *s, const struct st_cmd *cmd, struct st_result *res);
bool st__cm_valid(const struct st_cluster_member *m);

#endif /* PILOT_ST_INTERNAL_H */
