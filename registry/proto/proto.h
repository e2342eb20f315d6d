/* registry/proto: the one wire and log codec (docs/protocol.md).
 *
 * Every binary frames, encodes and decodes through this folder: client and
 * server messages, the connection handshake, command arguments, result
 * and query-view maps, and the raft log entries. No I/O, no clocks, no
 * raft or libuv headers: bytes in, structs out, and back.
 *
 * Conventions of every function here:
 *   - Return codes are enum reg_err values. Decoders return REG_MALFORMED
 *     when the bytes break the framing or message structure (not msgpack,
 *     not a map, trailing bytes, nesting deeper than PROTO_MAX_DEPTH,
 *     duplicate keys, envelope fields missing or mistyped) and
 *     REG_INVALID_ARGUMENT when a well-formed message has a bad argument
 *     (missing, wrong type, too long, out of range). errmsg then names the
 *     field, e.g. "args.hostname: too long (max 63)". Nothing is printed.
 *   - Decoders are total: any byte string gives a value or an error, never
 *     a crash, an over-read or a large allocation. Decoding allocates only
 *     through a struct proto_arena the caller passes (and frees).
 *   - Decoded views (struct proto_val) point into the caller's buffer and
 *     stay valid as long as that buffer does.
 *   - Encoders write through a struct proto_out, which is one of three
 *     modes: count (size), fixed (encode into a caller buffer) or grow
 *     (encode allocating with reg_malloc). The same encoder serves all three
 *     (STYLE habit 12). Encoder errors are sticky in the proto_out.
 *   - Unknown map keys are ignored (forward compatibility); a nil value is
 *     treated as an absent field.
 *   - No global mutable state: every function is reentrant; objects
 *     (readers, arenas, outs) belong to one thread at a time.
 *
 * Prefix: proto_ public, proto__ cross-file internal. */
#ifndef PILOT_PROTO_H
#define PILOT_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "reg_common.h"
#include "state.h"

/* ---- Limits ---------------------------------------------------------------*/
#define PROTO_VERSION 1                   /* request "v" and hello "v" */
#define PROTO_FRAME_HDR 4                 /* big-endian u32 length */
#define PROTO_FRAME_MAX_DEFAULT (1u << 20)
#define PROTO_MAX_DEPTH 8                 /* nesting of maps/arrays in one message */
#define PROTO_PATH_MAX 48                 /* field path kept for error messages */
#define PROTO_MAP_INDEX_MAX 24            /* keys indexed per decoded map view */
#define PROTO_OP_NAME_MAX 31
#define PROTO_CLUSTER_ID_MAX 63
#define PROTO_ADMIN_TOKEN_MAX 256
#define PROTO_MESSAGE_MAX 255             /* error.message on the wire */
#define PROTO_NONCE_LEN 32
#define PROTO_SIG_LEN 64                  /* crypto_sign_BYTES */
#define PROTO_SK_LEN 64                   /* crypto_sign_SECRETKEYBYTES */
#define PROTO_MAC_LEN 32                  /* crypto_auth_hmacsha256_BYTES */
#define PROTO_CLUSTER_KEY_LEN 32
#define PROTO_ADDR_STRLEN 24              /* "65535:FFFF.FFFF.FFFF" + NUL, rounded */

/* ---- Output (encoders) ------------------------------------------------------
 * Initialise with one of the three init functions; every encoder appends.
 * o->err is sticky: REG_TOO_LARGE when a fixed buffer is full, REG_NOMEM
 * when growing failed. After an error, further writes are ignored. */
enum proto_out_mode { PROTO_OUT_COUNT = 0, PROTO_OUT_FIXED = 1, PROTO_OUT_GROW = 2 };

struct proto_out {
    uint8_t *data;      /* FIXED: caller's; GROW: reg_malloc'd, owned by o */
    size_t len;         /* bytes written (COUNT: bytes that would be) */
    size_t cap;
    int mode;           /* enum proto_out_mode */
    int err;            /* REG_OK or the first error */
};

void proto_out_count(struct proto_out *o);
void proto_out_fixed(struct proto_out *o, void *buf, size_t cap);
void proto_out_grow(struct proto_out *o);
/* GROW mode: hand the buffer to the caller (free with reg_free). Returns
 * o->err; on error nothing is handed over and the buffer is freed. */
int proto_out_take(struct proto_out *o, void **buf, size_t *len);
/* Release a GROW buffer that was not taken (safe in every mode, idempotent). */
void proto_out_free(struct proto_out *o);

/* Framing: proto_frame_begin reserves the 4-byte header and returns its
 * offset; after the message has been encoded, proto_frame_end writes the
 * length. Returns o->err, or REG_TOO_LARGE if the body exceeds max (the
 * out then holds the error). */
size_t proto_frame_begin(struct proto_out *o);
int proto_frame_end(struct proto_out *o, size_t at, size_t max);

/* Generic msgpack writers, for composing result maps (server) and tests. */
void proto_put_map(struct proto_out *o, uint32_t n);
void proto_put_array(struct proto_out *o, uint32_t n);
void proto_put_nil(struct proto_out *o);
void proto_put_bool(struct proto_out *o, bool v);
void proto_put_u64(struct proto_out *o, uint64_t v);
void proto_put_i64(struct proto_out *o, int64_t v);
void proto_put_str(struct proto_out *o, const char *s);   /* NUL-terminated */
void proto_put_strn(struct proto_out *o, const char *s, size_t n);
void proto_put_bin(struct proto_out *o, const void *p, size_t n);
void proto_put_raw(struct proto_out *o, const void *p, size_t n); /* pre-encoded */

/* ---- Input (decoders): a view of one validated msgpack value ------------------*/
enum proto_type {
    PROTO_T_NONE = 0,   /* absent field */
    PROTO_T_NIL, PROTO_T_BOOL, PROTO_T_UINT, PROTO_T_INT, PROTO_T_FLOAT,
    PROTO_T_STR, PROTO_T_BIN, PROTO_T_ARRAY, PROTO_T_MAP, PROTO_T_EXT,
};

struct proto_val {
    const uint8_t *p;   /* first byte of the encoded value (NULL: absent) */
    size_t len;         /* bytes of the whole encoded value */
    int type;           /* enum proto_type */
    uint32_t n;         /* ARRAY: elements; MAP: pairs; STR/BIN: bytes */
    char path[PROTO_PATH_MAX]; /* "args.online[2]" for error messages */
    /* MAP views made by the decoder: offset of each key from p, built in
     * the one pass that makes the view, so a lookup compares n keys without
     * walking their values again. n_idx != n (a hand-made view, a map over
     * PROTO_MAP_INDEX_MAX keys or 64 KiB) means lookups scan the map. */
    uint8_t n_idx;
    uint16_t idx[PROTO_MAP_INDEX_MAX];
};

/* Validate buf as exactly one msgpack map (no trailing bytes, depth and
 * every length within bounds) and return its view; path names it in errors
 * ("" for a top-level message). REG_OK or REG_MALFORMED. */
int proto_parse(const void *buf, size_t len, const char *path, struct proto_val *root,
                char errmsg[static REG_ERRMSG_SIZE]);

/* Flags of the typed getters. */
#define PROTO_REQ 1u        /* absent (or nil) is an error */

/* Typed field getters on a map view. Absent optional field: REG_OK and *out
 * untouched. Errors: REG_INVALID_ARGUMENT (missing required field, wrong
 * type, out of range, too long, embedded NUL, wrong bin length) or
 * REG_MALFORMED (m is not a map, key present twice). Integer getters accept
 * any msgpack integer encoding whose value is in range. */
int proto_get_u64(const struct proto_val *m, const char *key, unsigned flags, uint64_t max,
                  uint64_t *out, char errmsg[static REG_ERRMSG_SIZE]);
int proto_get_u32(const struct proto_val *m, const char *key, unsigned flags, uint32_t max,
                  uint32_t *out, char errmsg[static REG_ERRMSG_SIZE]);
int proto_get_i64(const struct proto_val *m, const char *key, unsigned flags, int64_t *out,
                  char errmsg[static REG_ERRMSG_SIZE]);
int proto_get_bool(const struct proto_val *m, const char *key, unsigned flags, bool *out,
                   char errmsg[static REG_ERRMSG_SIZE]);
/* Copy a string of at most max bytes into out[max + 1], NUL-terminated. */
int proto_get_str(const struct proto_val *m, const char *key, unsigned flags, size_t max,
                  char *out, char errmsg[static REG_ERRMSG_SIZE]);
/* Borrow a string: *s points into the buffer, NOT NUL-terminated. */
int proto_get_strv(const struct proto_val *m, const char *key, unsigned flags, size_t max,
                   const char **s, size_t *len, char errmsg[static REG_ERRMSG_SIZE]);
/* Copy a bin of exactly len bytes. */
int proto_get_bin(const struct proto_val *m, const char *key, unsigned flags, size_t len,
                  uint8_t *out, char errmsg[static REG_ERRMSG_SIZE]);
/* Sub-map / array views (absent: out->type = PROTO_T_NONE). Arrays are
 * refused above max_count elements. */
int proto_get_map(const struct proto_val *m, const char *key, unsigned flags,
                  struct proto_val *out, char errmsg[static REG_ERRMSG_SIZE]);
int proto_get_array(const struct proto_val *m, const char *key, unsigned flags,
                    uint32_t max_count, struct proto_val *out,
                    char errmsg[static REG_ERRMSG_SIZE]);
/* Raw lookup: the value of key (out->type = PROTO_T_NONE if absent).
 * REG_OK, or REG_MALFORMED for a non-map / duplicate key. */
int proto_find(const struct proto_val *m, const char *key, struct proto_val *out,
               char errmsg[static REG_ERRMSG_SIZE]);
/* True if key is present with a non-nil value. */
bool proto_has(const struct proto_val *m, const char *key);

/* Array iteration: it starts at the first element. */
struct proto_iter {
    const struct proto_val *arr;
    const uint8_t *p;
    uint32_t i;
};
void proto_iter_init(struct proto_iter *it, const struct proto_val *arr);
/* Next element into *v (path "arr[i]"); false at the end. */
bool proto_iter_next(struct proto_iter *it, struct proto_val *v);
/* Scalar conversions of an element view (errors as for the getters). */
int proto_val_u64(const struct proto_val *v, uint64_t max, uint64_t *out,
                  char errmsg[static REG_ERRMSG_SIZE]);
int proto_val_strv(const struct proto_val *v, size_t max, const char **s, size_t *len,
                   char errmsg[static REG_ERRMSG_SIZE]);

/* ---- Arena: storage for decoded variable parts ------------------------------
 * Decoders that produce pointers (set_online entries, blueprints, decoded
 * views' strings) allocate them here. Zero-initialise (or proto_arena_init),
 * pass to decoders, and proto_arena_free once done with everything they
 * returned. Never shared between threads. */
struct proto_arena {
    struct proto__block *head;
};
void proto_arena_init(struct proto_arena *a);
void proto_arena_free(struct proto_arena *a);
/* n zeroed bytes, 8-aligned; NULL on out of memory. */
void *proto_arena_alloc(struct proto_arena *a, size_t n);

/* ---- Frames: incremental reader -----------------------------------------------
 * Feed bytes as they arrive (any chunking); take complete frames out with
 * proto_reader_next. The reader does no I/O. A frame body is validated as
 * exactly one msgpack map before it is yielded. */
struct proto_reader {
    size_t max;         /* frame body limit */
    uint8_t *buf;       /* reg_malloc'd */
    size_t cap, len, off; /* bytes held, and start of the unconsumed part */
    int err;            /* sticky error */
    char errmsg[REG_ERRMSG_SIZE];
};
/* max_frame 0 means PROTO_FRAME_MAX_DEFAULT. Allocates nothing. */
void proto_reader_init(struct proto_reader *r, size_t max_frame);
void proto_reader_free(struct proto_reader *r);
/* Append bytes (copied). REG_OK, REG_NOMEM, or the sticky error. Frames
 * yielded earlier become invalid. */
int proto_reader_feed(struct proto_reader *r, const void *data, size_t len);
/* Next complete frame: REG_OK with *body and *len set (valid until the next
 * feed/next/free), or REG_OK with *body = NULL when more bytes are needed.
 * REG_TOO_LARGE as soon as a header announces more than max;
 * REG_MALFORMED if a body is not exactly one msgpack map. Errors are
 * sticky (the connection must be closed); detail in errmsg. */
int proto_reader_next(struct proto_reader *r, const uint8_t **body, size_t *len,
                      char errmsg[static REG_ERRMSG_SIZE]);

/* ---- Handshake (docs/protocol.md "Connection handshake") -------------------*/
struct proto_hello {
    uint32_t v;                               /* PROTO_VERSION */
    char cluster[PROTO_CLUSTER_ID_MAX + 1];
    uint64_t node;                            /* raft id of the server */
    uint8_t nonce[PROTO_NONCE_LEN];
};

enum proto_auth_kind { PROTO_AUTH_AGENT = 1, PROTO_AUTH_ADMIN = 2, PROTO_AUTH_PEER = 3 };

struct proto_auth {
    int kind;                                 /* enum proto_auth_kind */
    bool has_key;                             /* agent: always; admin: optional */
    uint8_t key[ST_KEY_LEN];
    uint8_t cnonce[PROTO_NONCE_LEN];
    uint8_t sig[PROTO_SIG_LEN];
    char admin[PROTO_ADMIN_TOKEN_MAX + 1];    /* admin */
    uint64_t peer;                            /* peer: raft id */
    uint8_t mac[PROTO_MAC_LEN];               /* peer */
};

struct proto_welcome {
    bool ok;
    uint32_t node_id;                         /* 0 if the key is not registered */
    uint16_t code;                            /* !ok: enum reg_err */
    char message[PROTO_MESSAGE_MAX + 1];
};

int proto_hello_encode(struct proto_out *o, const struct proto_hello *h);
int proto_hello_decode(const void *buf, size_t len, struct proto_hello *h,
                       char errmsg[static REG_ERRMSG_SIZE]);
/* An auth is encoded with the fields of its kind (admin: key, cnonce and
 * sig too when has_key). */
int proto_auth_encode(struct proto_out *o, const struct proto_auth *a);
int proto_auth_decode(const void *buf, size_t len, struct proto_auth *a,
                      char errmsg[static REG_ERRMSG_SIZE]);
int proto_welcome_encode(struct proto_out *o, const struct proto_welcome *w);
int proto_welcome_decode(const void *buf, size_t len, struct proto_welcome *w,
                         char errmsg[static REG_ERRMSG_SIZE]);

/* The exact bytes an agent signs: "pilot-auth-v1\0" || cluster || "\0" ||
 * nonce || cnonce || key. Returns the length; writes min(len, cap) bytes
 * (out may be NULL with cap 0 to size). Same shape for the peer MAC with
 * "pilot-peer-v1\0" and be64(peer) in place of key. */
size_t proto_auth_signed_bytes(const char *cluster, const uint8_t nonce[PROTO_NONCE_LEN],
                               const uint8_t cnonce[PROTO_NONCE_LEN],
                               const uint8_t key[ST_KEY_LEN], uint8_t *out, size_t cap);
size_t proto_peer_mac_bytes(const char *cluster, const uint8_t nonce[PROTO_NONCE_LEN],
                            const uint8_t cnonce[PROTO_NONCE_LEN], uint64_t peer,
                            uint8_t *out, size_t cap);
/* Fill an agent auth answering hello h: key derived from sk (libsodium
 * 64-byte secret key), the given client nonce (the caller draws it with
 * randombytes_buf), Ed25519 signature. REG_OK; REG_INTERNAL if libsodium
 * cannot initialise. */
int proto_auth_sign(struct proto_auth *a, const struct proto_hello *h,
                    const uint8_t sk[PROTO_SK_LEN], const uint8_t cnonce[PROTO_NONCE_LEN]);
/* Fill an admin auth (token copied; REG_INVALID_ARGUMENT if too long). */
int proto_auth_admin(struct proto_auth *a, const char *token);
/* Fill a peer auth: HMAC-SHA256 with the cluster key. REG_OK (REG_INTERNAL
 * if libsodium cannot initialise). */
int proto_auth_peer(struct proto_auth *a, const struct proto_hello *h, uint64_t peer,
                    const uint8_t cluster_key[PROTO_CLUSTER_KEY_LEN],
                    const uint8_t cnonce[PROTO_NONCE_LEN]);
/* Server side: check a decoded auth against the hello this connection sent.
 * admin_token may be NULL (admin auth then refused), cluster_key may be
 * NULL (peer auth refused). Token and MAC compared in constant time.
 * REG_OK or REG_UNAUTHENTICATED with the reason in errmsg. */
int proto_auth_verify(const struct proto_auth *a, const struct proto_hello *h,
                      const char *admin_token,
                      const uint8_t cluster_key[PROTO_CLUSTER_KEY_LEN],
                      char errmsg[static REG_ERRMSG_SIZE]);

/* ---- Op table (STYLE habit 13) ----------------------------------------------
 * One row per op a server serves: name, kind, auth level, one-line summary
 * and argument schema. The server dispatches from it, pilotctl prints help
 * from it, tests check coverage against it. */
enum proto_op_kind {
    PROTO_OP_WRITE = 1,     /* a state command (cmd != 0), goes through raft */
    PROTO_OP_READ = 2,      /* a state query */
    PROTO_OP_SERVER = 3,    /* handled by the server itself (heartbeat, cluster ops) */
};
enum proto_auth_level {
    PROTO_LEVEL_ANY = 0,    /* any authenticated connection */
    PROTO_LEVEL_KEY = 1,    /* connection bound to an agent key (the admin passes too) */
    PROTO_LEVEL_ADMIN = 2,  /* cluster admin token */
    PROTO_LEVEL_INTERNAL = 3, /* generated by the leader; refused from clients */
};
/* Argument field kinds of the schema. */
enum proto_field_kind {
    PROTO_F_U32 = 1, PROTO_F_NETWORK, PROTO_F_PORT, PROTO_F_U64, PROTO_F_BOOL,
    PROTO_F_STR, PROTO_F_KEY, PROTO_F_TAGS, PROTO_F_JOIN_RULE, PROTO_F_ROLE,
    PROTO_F_PORTS, PROTO_F_MAX_MEMBERS, PROTO_F_DESCRIPTION, PROTO_F_ONLINE,
    PROTO_F_BLUEPRINT, PROTO_F_MEMBER, PROTO_F_MEMBER_ID,
};
struct proto_field {
    const char *name;       /* wire key in args */
    uint8_t kind;           /* enum proto_field_kind */
    bool required;
    uint16_t offset;        /* into struct st_cmd (writes) or proto_args (others) */
    uint16_t max;           /* STR: max bytes; U32: 0 = full range */
};
struct proto_op {
    const char *name;
    uint16_t cmd;           /* enum st_cmd_op for PROTO_OP_WRITE, else 0 */
    uint8_t kind;           /* enum proto_op_kind */
    uint8_t level;          /* enum proto_auth_level */
    const char *summary;
    const struct proto_field *fields;
    uint8_t n_fields;
};
size_t proto_op_count(void);
const struct proto_op *proto_op_at(size_t i);        /* NULL past the end */
const struct proto_op *proto_op_find(const char *name, size_t len); /* NULL if unknown */
const struct proto_op *proto_op_by_cmd(int cmd);     /* NULL if not a write op */

/* Arguments of the read and server ops (writes decode into struct st_cmd). */
struct proto_args {
    uint32_t node;                            /* lookup, resolve */
    uint32_t from, to;                        /* authorize */
    uint32_t port;                            /* authorize: 0..65535, 0 = any */
    uint32_t network;                         /* network_* reads, blueprint_export */
    uint32_t limit;                           /* network_audit: 0 = default */
    char hostname[ST_HOSTNAME_MAX + 1];       /* resolve_hostname */
    struct st_cluster_member member;          /* cluster_add / remove / transfer */
    uint64_t since;                           /* watch: last index the caller saw */
    uint64_t snapshot_id;                     /* cluster_snapshot_read: 0 = take one */
    uint64_t offset;                          /* cluster_snapshot_read: byte offset */
};

/* ---- Command arguments (the one codec, client requests and log entries) -----
 * Encode the args map of cmd->op from the fields its schema names.
 * REG_INVALID_ARGUMENT (in o->err too) for an unknown op, a bad enum value,
 * or a missing blueprint / online array. */
int proto_cmd_args_encode(struct proto_out *o, const struct st_cmd *cmd);
/* Decode args (a map view; PROTO_T_NONE is an empty map) of write op `op`
 * into cmd. Every argument field is reset first (absent optional fields
 * read as zero); the envelope (client, seq, ts_ms, origin, caller_*) is
 * kept as the caller set it and cmd->op is set to op. cmd->online
 * and cmd->blueprint (with its roles) are allocated in arena. REG_OK,
 * REG_INVALID_ARGUMENT (unknown op, bad field), REG_MALFORMED, REG_NOMEM. */
int proto_cmd_args_decode(const struct proto_val *args, int op, struct st_cmd *cmd,
                          struct proto_arena *arena, char errmsg[static REG_ERRMSG_SIZE]);
/* Same for read/server ops into struct proto_args (zeroed first). */
int proto_args_encode(struct proto_out *o, const struct proto_op *op,
                      const struct proto_args *a);
int proto_args_decode(const struct proto_val *args, const struct proto_op *op,
                      struct proto_args *a, char errmsg[static REG_ERRMSG_SIZE]);

/* Enumeration names on the wire. *_name returns NULL for unknown values;
 * *_from_name returns -1 for unknown names. */
const char *proto_join_rule_name(int rule);
int proto_join_rule_from_name(const char *s, size_t len);
const char *proto_role_name(int role);                 /* "none" for ST_ROLE_NONE */
int proto_role_from_name(const char *s, size_t len);
const char *proto_status_name(int status);             /* "" for ST_STATUS_NONE */
int proto_status_from_name(const char *s, size_t len);

/* ---- Requests and responses ---------------------------------------------------*/
enum proto_consistency { PROTO_LINEARIZABLE = 0, PROTO_STALE = 1 };

struct proto_request {
    uint64_t id;
    char op[PROTO_OP_NAME_MAX + 1];
    const struct proto_op *opdef;  /* decode: the table row */
    uint64_t client, seq;          /* writes; 0 = absent */
    uint8_t consistency;           /* enum proto_consistency */
    bool redirect;
    bool has_on_behalf;            /* forwarded by a follower */
    bool on_behalf_has_key;
    uint8_t on_behalf_key[ST_KEY_LEN];
    bool on_behalf_admin;
    /* Arguments. Encode: from cmd if non-NULL, else from args if non-NULL
     * (read/server op), else the raw pre-encoded map in raw_args (p may be
     * NULL: empty map). Decode: raw_args is the view of the args map
     * (type PROTO_T_NONE if absent); cmd and args are set to NULL. */
    const struct st_cmd *cmd;
    const struct proto_args *args;
    struct proto_val raw_args;
};

/* The op name comes from cmd->op when cmd is set, else from rq->op;
 * REG_INVALID_ARGUMENT if it is not in the op table. */
int proto_request_encode(struct proto_out *o, const struct proto_request *rq);
/* Decode the envelope; arguments stay a view (decode them with
 * proto_cmd_args_decode / proto_args_decode per rq->opdef). REG_MALFORMED:
 * the envelope is broken (rq->id may be 0); REG_INVALID_ARGUMENT: the
 * envelope is fine, rq->id is valid and should be answered with this error
 * (unknown op, bad version, bad consistency). */
int proto_request_decode(const void *buf, size_t len, struct proto_request *rq,
                         char errmsg[static REG_ERRMSG_SIZE]);

struct proto_response {
    uint64_t id;
    bool ok;
    uint16_t code;                 /* !ok: enum reg_err */
    char message[PROTO_MESSAGE_MAX + 1];
    bool has_leader;
    uint64_t leader_id;
    char leader_addr[ST_ADDR_MAX + 1];
    bool has_index;
    uint64_t index;
    /* Result map. Encode (ok only): raw pre-encoded bytes when result.p is
     * non-NULL; otherwise, if has_result, the encoder writes the key
     * "result" LAST and the caller must then write exactly one value (e.g.
     * proto_result_encode or proto_node_encode). Decode: the view
     * (PROTO_T_NONE if absent). */
    bool has_result;
    struct proto_val result;
};

int proto_response_encode(struct proto_out *o, const struct proto_response *rs);
int proto_response_decode(const void *buf, size_t len, struct proto_response *rs,
                          char errmsg[static REG_ERRMSG_SIZE]);
/* Fill ok/code/message from a code and detail (message "" allowed). */
void proto_response_error(struct proto_response *rs, int code, const char *message);

/* ---- Results and query views ---------------------------------------------------
 * Each encoder writes one map; each decoder reads one map view into the
 * same struct the state exposes, with strings and arrays allocated in arena.
 * Result shapes of the read ops (keys of the response's result map):
 *   lookup, resolve, resolve_hostname  node map
 *   authorize            {allowed}
 *   network_members      {network_id, total, members:[member]}
 *   network_list         {networks:[network]}
 *   network_policy_get   network map
 *   network_audit        {network_id, records:[audit]}
 *   blueprint_export     blueprint map (as in blueprint_apply args)
 *   trust_list           {trust:[trust]}
 *   pending              {incoming:[pending], outgoing:[pending], outcomes:[outcome]}
 *   whoami               {node_id, admin, address}
 *   cluster_members      {members:[cluster_member]}
 */
/* st_result of a write: {node_id?, network_id?, status?, created?, duplicate?}
 * (fields present when non-zero/relevant). Errors travel in the response's
 * error instead; see proto_response_from_result. */
int proto_result_encode(struct proto_out *o, const struct st_result *res);
int proto_result_decode(const struct proto_val *v, int op, struct st_result *res,
                        char errmsg[static REG_ERRMSG_SIZE]);
/* ok, or code + message, from a write's result; has_result set when ok. */
void proto_response_from_result(struct proto_response *rs, const struct st_result *res);

/* {node_id, address, public_key, hostname, endpoint, public, online,
 *  created, last_change, tags[], networks[]} */
int proto_node_encode(struct proto_out *o, const struct st_node *n);
int proto_node_decode(const struct proto_val *v, struct st_node *n, struct proto_arena *arena,
                      char errmsg[static REG_ERRMSG_SIZE]);
/* {network_id, name, join_rule, enterprise, owner, members, created,
 *  allowed_ports[], max_members, description} */
int proto_network_encode(struct proto_out *o, const struct st_network *n);
int proto_network_decode(const struct proto_val *v, struct st_network *n,
                         struct proto_arena *arena, char errmsg[static REG_ERRMSG_SIZE]);
/* {node_id, role} */
int proto_member_encode(struct proto_out *o, const struct st_member *m);
int proto_member_decode(const struct proto_val *v, struct st_member *m,
                        char errmsg[static REG_ERRMSG_SIZE]);
/* {node_id, mutual, network, approved_at, approved_by} */
int proto_trust_encode(struct proto_out *o, const struct st_trust *t);
int proto_trust_decode(const struct proto_val *v, struct st_trust *t,
                       char errmsg[static REG_ERRMSG_SIZE]);
/* {from, to, justification, received_at} */
int proto_pending_encode(struct proto_out *o, const struct st_pending *p);
int proto_pending_decode(const struct proto_val *v, struct st_pending *p,
                         struct proto_arena *arena, char errmsg[static REG_ERRMSG_SIZE]);
/* {node_id, reason, at} */
int proto_outcome_encode(struct proto_out *o, const struct st_outcome *x);
int proto_outcome_decode(const struct proto_val *v, struct st_outcome *x,
                         struct proto_arena *arena, char errmsg[static REG_ERRMSG_SIZE]);
/* {at, actor, origin, action, target, detail} */
int proto_audit_encode(struct proto_out *o, const struct st_audit *a);
int proto_audit_decode(const struct proto_val *v, struct st_audit *a,
                       struct proto_arena *arena, char errmsg[static REG_ERRMSG_SIZE]);
/* {raft_id, name, raft_addr, client_addr, http_addr} */
int proto_cluster_member_encode(struct proto_out *o, const struct st_cluster_member *m);
int proto_cluster_member_decode(const struct proto_val *v, struct st_cluster_member *m,
                                char errmsg[static REG_ERRMSG_SIZE]);
/* {name, join_rule, token, enterprise, policy{allowed_ports, max_members,
 *  description}, roles[{node, role}]}; decode puts roles in arena. */
int proto_blueprint_encode(struct proto_out *o, const struct st_blueprint *b);
int proto_blueprint_decode(const struct proto_val *v, struct st_blueprint *b,
                           struct proto_arena *arena, char errmsg[static REG_ERRMSG_SIZE]);

/* ---- Pilot addresses (registry-reference.md §2.1) ------------------------------
 * Text form N:NNNN.HHHH.LLLL: N decimal network id, NNNN the same id in 4
 * hex digits, HHHH.LLLL the node id; uppercase on output, either case on
 * input. */
void proto_addr_format(uint16_t network, uint32_t node, char out[static PROTO_ADDR_STRLEN]);
/* REG_OK, or REG_INVALID_ARGUMENT ("network mismatch", bad syntax). */
int proto_addr_parse(const char *s, size_t len, uint16_t *network, uint32_t *node,
                     char errmsg[static REG_ERRMSG_SIZE]);

/* ---- Log entries (docs/protocol.md "Log entries") -------------------------------
 *   offset 0       4          6        8             12           16
 *          | "PRG"1 | version | kind   | payload len | reserved 0 | msgpack payload | 0 pad to 8 |
 * All integers big-endian. */
#define PROTO_LOG_MAGIC "PRG\x01"
#define PROTO_LOG_HDR 16
#define PROTO_LOG_VERSION 1
#define PROTO_LOG_KIND_BATCH 1
#define PROTO_LOG_KIND_RESTORE_CHUNK 2  /* restore: a piece of a snapshot file */
#define PROTO_LOG_KIND_RESTORE_COMMIT 3 /* restore: swap the assembled state in */
#define PROTO_LOG_OPS_MAX 65536
#define PROTO_RESTORE_CHUNK_MAX (512u * 1024u)

/* Allocator for the entry buffer (raft-glue passes raft_malloc). */
typedef void *(*proto_alloc_fn)(size_t n);

/* Encode n commands (n >= 1, <= PROTO_LOG_OPS_MAX) stamped with ts_ms and
 * origin into one entry. Each command's op, client, seq, caller_key,
 * caller_admin and args are encoded; its own ts_ms/origin are ignored. On
 * REG_OK *buf (from alloc, owned by the caller) holds *len bytes, a
 * multiple of 8. REG_INVALID_ARGUMENT (bad n, op or argument),
 * REG_TOO_LARGE (payload over 4 GiB), REG_NOMEM; on error *buf is untouched
 * and nothing is left allocated. */
int proto_log_encode(const struct st_cmd *const *cmds, size_t n, int64_t ts_ms,
                     uint64_t origin, proto_alloc_fn alloc, void **buf, size_t *len,
                     char errmsg[static REG_ERRMSG_SIZE]);

struct proto_log_iter {
    int64_t ts_ms;
    uint64_t origin;
    uint32_t n_ops;
    struct proto_val ops;   /* view into the entry buffer */
    struct proto_iter it;
};
/* Check header, padding and payload envelope. REG_OK or REG_MALFORMED.
 * The iterator borrows buf. */
int proto_log_open(const void *buf, size_t len, struct proto_log_iter *it,
                   char errmsg[static REG_ERRMSG_SIZE]);
/* Decode the next op into cmd (zeroed first; ts_ms and origin from the
 * entry). Returns REG_OK; REG_MALFORMED for a bad op (cmd then holds the
 * client/seq it could read, so the error can be cached as its result; the
 * following ops are still readable); REG_NOMEM; REG_NOT_FOUND past the
 * last op. */
int proto_log_next(struct proto_log_iter *it, struct st_cmd *cmd, struct proto_arena *arena,
                   char errmsg[static REG_ERRMSG_SIZE]);

/* ---- Restore entries (docs/protocol.md "Restore entries") ----------------------
 * A restore replicates a snapshot payload (st_snapshot_encode bytes) through
 * the log: RESTORE_CHUNK entries {offset, total, data} of at most
 * PROTO_RESTORE_CHUNK_MAX bytes in order, then one RESTORE_COMMIT entry
 * {total, checksum} (BLAKE2b-256 of the whole payload). Same header and
 * padding as batch entries. */
struct proto_restore {
    uint16_t kind;              /* PROTO_LOG_KIND_RESTORE_CHUNK or _COMMIT */
    uint64_t offset, total;     /* chunk: position; both: payload size */
    const uint8_t *data;        /* chunk: view (decode) or input (encode) */
    size_t len;
    uint8_t checksum[32];       /* commit */
};
/* Kind field of an entry's header: REG_OK or REG_MALFORMED (bad header). */
int proto_log_kind(const void *buf, size_t len, uint16_t *kind);
/* Encode one restore entry into a buffer from alloc (as proto_log_encode).
 * REG_INVALID_ARGUMENT (bad kind, chunk over the max or past total),
 * REG_NOMEM. */
int proto_log_restore_encode(const struct proto_restore *r, proto_alloc_fn alloc, void **buf,
                             size_t *len, char errmsg[static REG_ERRMSG_SIZE]);
/* Decode a restore entry; r->data is a view into buf. REG_OK or
 * REG_MALFORMED. */
int proto_log_restore_decode(const void *buf, size_t len, struct proto_restore *r,
                             char errmsg[static REG_ERRMSG_SIZE]);

/* ---- Snapshot files (pilotctl cluster snapshot save; pilot-registry --restore)
 *   offset 0        8         12         16              24           56            64
 *          | "PILOTSNP" | version | reserved 0 | applied index | state hash | payload len |
 *          | checksum (BLAKE2b-256 of payload, 32) | payload (st_snapshot_encode) |
 * All integers big-endian; header PROTO_SNAPFILE_HDR = 96 bytes. */
#define PROTO_SNAPFILE_MAGIC "PILOTSNP"
#define PROTO_SNAPFILE_VERSION 1
#define PROTO_SNAPFILE_HDR 96
struct proto_snapfile {
    uint32_t version;
    uint64_t applied_index;
    uint8_t state_hash[32];
    uint64_t payload_len;
    uint8_t checksum[32];
};
/* BLAKE2b-256 of a payload. */
void proto_snapfile_checksum(const void *payload, size_t len, uint8_t out[static 32]);
/* Write the header for h into out. */
void proto_snapfile_header(const struct proto_snapfile *h, uint8_t out[static PROTO_SNAPFILE_HDR]);
/* Check a whole file image: magic, version, length and checksum. On REG_OK
 * *h is filled and *payload points into buf; REG_MALFORMED with errmsg
 * otherwise. */
int proto_snapfile_verify(const void *buf, size_t len, struct proto_snapfile *h,
                          const uint8_t **payload, char errmsg[static REG_ERRMSG_SIZE]);

#endif /* PILOT_PROTO_H */
