/* registry/server internals shared by the files of this folder (srv__
 * prefix): the node object, connections, requests and the cross-file
 * functions. Not for other folders. */
#ifndef PILOT_SRV_INTERNAL_H
#define PILOT_SRV_INTERNAL_H

#include <uv.h>

#include "glue.h"
#include "http.h"
#include "proto.h"
#include "server.h"
#include "state.h"

/* Requests a connection may have in flight before we stop reading from it:
 * with the write-queue cap this bounds what one client can make us hold. */
#define SRV__CONN_INFLIGHT_MAX 1024
#define SRV__READ_CHUNK 65536
/* Forward deadline of cluster membership ops (catch-up can take long). */
#define SRV__CLUSTER_OP_TIMEOUT_MS 60000

/* Who a request acts for: verified at the handshake, or vouched for by a
 * follower over a peer link (on_behalf). */
struct srv__ident {
    bool has_key;
    uint8_t key[ST_KEY_LEN];
    bool admin;
    uint64_t peer;          /* raft id of a peer connection, 0 otherwise */
};

enum srv__conn_phase { SRV__HELLO = 0, SRV__READY, SRV__CLOSING };

struct srv__conn {
    uv_tcp_t tcp;
    uv_timer_t idle;
    struct srv *srv;
    struct srv__conn *prev, *next;
    int phase;
    unsigned handles;       /* open libuv handles; freed at 0 with refs 0 */
    unsigned refs;          /* requests in flight holding this conn */
    bool reading;
    uint64_t serial;        /* for logs */
    char peer_addr[64];
    struct proto_hello hello;
    struct srv__ident ident;
    struct proto_reader reader;
    size_t wq_bytes;        /* bytes handed to uv_write, not yet written */
    size_t held_bytes;      /* request frames copied by requests in flight */
    /* Peer links (many requests in flight): answers gathered during one
     * loop iteration and written together in its check phase (conn.c). */
    uint8_t *obuf;
    size_t olen, ocap;
    uv_check_t flusher;
    bool flusher_open;
};

/* An entry this leader encoded (app.c). */
struct srv__own;

/* One client request, from decode to response. */
struct srv__req {
    struct srv *srv;
    struct srv__conn *conn;         /* NULL for internal requests */
    uint64_t id;
    const struct proto_op *op;
    struct srv__ident ident;
    bool on_behalf;                 /* came through a follower */
    uint8_t consistency;
    bool redirect;
    uint64_t client, seq;
    uint8_t *frame;                 /* copy of the request frame body */
    size_t frame_len;
    struct proto_val args;          /* view into frame */
    struct proto_args rargs;        /* read / server op arguments */
    struct st_cmd cmd;              /* write op command */
    struct proto_arena arena;
    /* Internal requests (liveness, cluster ops): completion instead of a
     * response. */
    void (*done)(struct srv__req *r, int code, const struct st_result *res, uint64_t index);
    void *done_data;
    uint64_t submit_ns;             /* uv_hrtime at glue_submit (commit latency) */
    /* Restore entries (backup.c): set instead of cmd; encoded alone. */
    const struct proto_restore *restore;
    /* The entry this leader encoded it into, until applied (app.c). */
    struct srv__own *own;
};

struct srv__snapcache;

struct srv__link;

struct srv {
    uv_loop_t *loop;
    struct srv_config cfg;
    struct srv_secrets secrets;
    struct glue *glue;
    struct st_state *state;
    uint64_t id;
    bool founding;                  /* bootstrap or initial-cluster */
    bool started, stopping;
    int failed;
    void (*stop_cb)(void *data);
    void *stop_data;

    /* app adapter (app.c) */
    int64_t last_ts;
    struct st_result *results;
    size_t results_cap;
    size_t n_results;               /* ops of the last applied entry */
    struct st_result entry_error;
    struct srv__own *own;           /* own entries encoded, not applied yet */

    /* listener (conn.c) */
    uv_tcp_t listener;
    bool listening;
    struct srv__conn *conns;
    uint64_t n_conns, conn_serial;
    /* One read buffer for every connection: libuv fills it and calls
     * read_cb before any other read, and the reader copies what it keeps. */
    uint8_t read_chunk[SRV__READ_CHUNK];
    unsigned open_handles;          /* node-level handles still open */

    /* forwarding (forward.c) */
    struct srv__link *link;         /* to the current leader */

    /* liveness (liveness.c) */
    uint64_t *seen;                 /* monotonic ms, index id - ST_FIRST_NODE_ID */
    size_t seen_cap;
    uint64_t lease_base;            /* leadership start: no offline before +threshold */
    bool was_leader;
    bool liveness_busy;
    struct st_online *online_buf;
    uv_timer_t liveness_timer;

    /* cluster (cluster.c) */
    uv_timer_t cluster_timer;
    bool self_upsert_busy;
    bool join_busy;
    bool joined;
    struct srv__link *join_link;
    char join_target[ST_ADDR_MAX + 1];
    void (*fail_hook)(void *data);
    void *fail_data;
    uint64_t join_rr;

    /* watch (watch.c) */
    struct srv__watch *watch;

    /* ops HTTP listener and metrics (ops_http.c) */
    struct http_server *http;
    struct http_hist commit_hist;   /* leader: submit -> applied */
    struct http_hist apply_hist;    /* every node: one entry's apply */
    uint64_t n_forwarded;

    /* backup and restore (backup.c) */
    struct srv__snapcache *snap;    /* file being read by snapshot save */
    uint8_t *restore_file;          /* --restore image; NULL once done */
    size_t restore_file_len;
    struct proto_snapfile restore_hdr;
    const uint8_t *restore_payload; /* into restore_file */
    bool restore_done;
    bool restore_inflight;
    uint64_t restore_next;          /* next payload offset to propose */
    struct proto_restore restore_entry;
    uv_timer_t restore_timer;
    bool restore_timer_on;
    uint8_t *asm_buf;               /* replicated: chunks applied so far */
    size_t asm_len, asm_cap;
    uint64_t asm_total;
};

/* node.c */
uint64_t srv__now(struct srv *s);         /* loop time, ms */
void srv__leader_hint(struct srv *s, uint64_t *id, char addr[static ST_ADDR_MAX + 1]);
void srv__handle_closed(struct srv *s);   /* a node-level handle closed */
void srv__state_hash_hex(struct srv *s, char out[static 2 * ST_HASH_LEN + 1]);

/* app.c: the glue_app adapter. */
void srv__app_init(struct srv *s, struct glue_app *app);
/* A request is going away: its entry, if still pending, will be applied
 * by decoding it (its cmd may no longer be read). */
void srv__own_forget(struct srv__req *r);

/* conn.c */
int srv__listener_start(struct srv *s, char errmsg[static REG_ERRMSG_SIZE]);
void srv__listener_stop(struct srv *s);
/* Send one complete frame (buf reg_malloc'd, owned by the call from now). */
void srv__conn_send(struct srv__conn *c, void *buf, size_t len);
/* The same for a borrowed frame (copied only if the socket cannot take it all now). */
void srv__conn_send_copy(struct srv__conn *c, const void *buf, size_t len);
void srv__conn_close(struct srv__conn *c, const char *reason);
void srv__conn_ref(struct srv__conn *c);
void srv__conn_unref(struct srv__conn *c);
/* Encode with enc(o, arg) as one frame and send it; on encode failure the
 * connection is closed. */
void srv__conn_send_msg(struct srv__conn *c, int (*enc)(struct proto_out *o, const void *arg),
                        const void *arg);

/* auth.c */
void srv__auth_hello(struct srv__conn *c);
void srv__auth_frame(struct srv__conn *c, const uint8_t *body, size_t len);

/* dispatch.c */
void srv__dispatch_frame(struct srv__conn *c, const uint8_t *body, size_t len);
/* Result writer: writes exactly one msgpack value. */
typedef int (*srv__result_fn)(struct proto_out *o, struct srv *s, struct srv__req *r, void *arg);
/* Respond and free r. */
void srv__reply_error(struct srv__req *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void srv__reply_result(struct srv__req *r, srv__result_fn fn, void *arg, bool has_index,
                       uint64_t index);
/* Send rs (id and leader hint filled here; result via fn when has_result
 * and no raw result) and free r. Internal requests: done(code) instead. */
void srv__reply_rs(struct srv__req *r, struct proto_response *rs, srv__result_fn fn, void *arg);
/* Relay a pre-encoded response body (forwarding): id rewritten. Frees r. */
void srv__reply_raw(struct srv__req *r, const struct proto_response *rs);
struct srv__req *srv__req_new(struct srv *s, struct srv__conn *c);
void srv__req_free(struct srv__req *r);
/* Viewer node id of an identity (0 for the admin; an unregistered id when
 * the key is not registered). */
uint32_t srv__viewer(struct srv *s, const struct srv__ident *id);
/* True if r must run here (this node leads); otherwise r was answered or
 * forwarded and belongs to someone else now. */
bool srv__at_leader(struct srv__req *r);
/* Route a decoded request: leader-local, forward, or redirect. */
void srv__route(struct srv__req *r);

/* writes.c */
void srv__write_start(struct srv__req *r);
/* glue_submit callback of every write (client, internal, restore). */
void srv__write_done(void *data, int status, const void *result, uint64_t index);
/* Submit an internal command (admin identity) with completion done. */
int srv__submit_internal(struct srv *s, const struct st_cmd *cmd,
                         void (*done)(struct srv__req *r, int code, const struct st_result *res,
                                      uint64_t index),
                         void *data);

/* reads.c */
void srv__read_start(struct srv__req *r);
/* Serve a read from the local state now (stale or after the barrier). */
void srv__read_serve(struct srv__req *r, bool stale);

/* forward.c */
/* Forward r to the current leader; takes ownership of r. */
void srv__forward(struct srv__req *r);
void srv__forward_stop(struct srv *s);
/* A peer-authenticated link to another node's client address (forwarding,
 * joining). Calls complete exactly once through srv__link_cb: code REG_OK
 * with the response (valid during the call), or REG_UNAVAILABLE (link
 * failed) / REG_TIMEOUT (deadline) with rs NULL; sent tells whether the
 * request had been written to the socket. */
typedef void (*srv__link_cb)(void *data, int code, bool sent, const struct proto_response *rs);
struct srv__link *srv__link_open(struct srv *s, const char *addr, uint64_t target);
/* *slot is set to NULL when the link dies. */
void srv__link_set_slot(struct srv__link *l, struct srv__link **slot);
/* Fail every call (REG_UNAVAILABLE) and close; l is freed later. */
void srv__link_close(struct srv__link *l);
bool srv__link_usable(const struct srv__link *l);
/* rq->id is assigned by the link. REG_OK (cb will run) or an error (it won't). */
int srv__link_call(struct srv__link *l, const struct proto_request *rq, uint64_t deadline_ms,
                   srv__link_cb cb, void *data);

/* liveness.c */
void srv__liveness_init(struct srv *s);
void srv__liveness_stop(struct srv *s);
void srv__liveness_free(struct srv *s);
void srv__heartbeat(struct srv__req *r);
/* A registration is a sign of life: count it as a heartbeat. */
void srv__liveness_seen(struct srv *s, uint32_t node);

/* cluster.c */
void srv__cluster_init(struct srv *s);
void srv__cluster_stop(struct srv *s);
/* Server ops other than heartbeat. Returns false if op is not a cluster op. */
bool srv__cluster_op(struct srv__req *r);
/* cluster_status of this node, served locally. */
void srv__cluster_status(struct srv__req *r);

/* ops_http.c: the --http provider (issue 6). */
int srv__http_start(struct srv *s, char errmsg[static REG_ERRMSG_SIZE]);
void srv__http_stop(struct srv *s);
/* /readyz: leader known, leader-init barrier done on a leader, caught up. */
bool srv__ready(struct srv *s, char *why, size_t why_len);

/* backup.c: snapshot save (cluster_snapshot_read) and restore through the
 * log (--restore). */
/* Load and verify the --restore file (srv_new). REG_OK or INVALID_ARGUMENT. */
int srv__backup_init(struct srv *s, char errmsg[static REG_ERRMSG_SIZE]);
void srv__backup_start(struct srv *s);
void srv__backup_stop(struct srv *s);
void srv__backup_free(struct srv *s);
void srv__snapshot_read(struct srv__req *r);
/* True while this leader still has a restore to replicate: client writes
 * are refused until it is committed. */
bool srv__restore_pending(struct srv *s);
/* True while restore chunks are assembled but not committed (raft
 * snapshots are refused then: they would lose the chunks). */
bool srv__restore_busy(struct srv *s);
/* Apply a restore entry (app.c), identically on every node. */
void srv__restore_apply(struct srv *s, const void *buf, size_t len, struct st_result *res);
/* A raft snapshot replaced the state: drop a partial assembly. */
void srv__restore_reset(struct srv *s);

/* watch.c: the `watch` long poll (issue 5). */
void srv__watch_init(struct srv *s);
void srv__watch_stop(struct srv *s);
void srv__watch_free(struct srv *s);
void srv__watch(struct srv__req *r);
/* After each applied op (app.c): record an event, answer matching polls. */
void srv__watch_applied(struct srv *s, const struct st_cmd *cmd, const struct st_result *res,
                        uint64_t index);

#endif /* PILOT_SRV_INTERNAL_H */
