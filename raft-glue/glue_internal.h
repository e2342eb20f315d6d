/* raft-glue internals shared by the files of this folder (glue__ prefix):
 * the node object and the cross-file functions. Not for other folders. */
#ifndef PILOT_GLUE_INTERNAL_H
#define PILOT_GLUE_INTERNAL_H

#include <raft.h>
#include <raft/uv.h>
#include <uv.h>

#include "glue.h"

/* One client op waiting for (or inside) a proposal. */
struct glue__op
{
    void *op;
    glue_submit_cb cb;
    void *data;
    struct glue__op *next;
};

/* One raft entry in flight: the raft_apply request and the ops it carries. */
struct glue__prop
{
    struct raft_apply req;
    struct glue *g;
    uint64_t started_ms;
    unsigned n;
    struct glue__prop *next; /* in-flight list */
    struct glue__op *ops;    /* n ops, in entry order */
};

struct glue__read
{
    glue_read_cb cb;
    void *data;
    struct glue__read *next;
};

/* One coalesced read barrier in flight. */
struct glue__barrier
{
    struct raft_barrier req;
    struct glue *g;
    struct glue__read *reads;
};

enum glue__change_kind { GLUE__ADD = 1, GLUE__REMOVE, GLUE__TRANSFER, GLUE__REFRESH };

/* The configuration refresh (member.c) adds and removes this spare. It is
 * never a real node: raft ids of nodes come from the registry, far below. */
#define GLUE__PHANTOM_ID (GLUE_ID_MAX + 1)
#define GLUE__PHANTOM_ADDR "127.0.0.1:1"

enum glue__change_step {
    GLUE__STEP_START = 0,
    GLUE__STEP_ADD,       /* raft_add (spare) */
    GLUE__STEP_STANDBY,   /* raft_assign standby */
    GLUE__STEP_CATCHUP,   /* wait for match index */
    GLUE__STEP_VOTER,     /* raft_assign voter */
    GLUE__STEP_REMOVE,    /* raft_remove */
    GLUE__STEP_TRANSFER,  /* raft_transfer before a self-removal */
    GLUE__STEP_PHANTOM_ADD,    /* refresh: raft_add the phantom spare */
    GLUE__STEP_PHANTOM_REMOVE, /* refresh: raft_remove it again */
};

struct glue__change
{
    int kind;
    int step;
    bool busy;            /* a raft request of this change is in flight */
    bool force;
    bool self_fallback;   /* self-removal after a failed transfer */
    uint64_t id;
    char address[GLUE_ADDR_MAX + 1];
    uint64_t not_before_ms; /* backoff */
    uint64_t deadline_ms;   /* catch-up / whole-change bound */
    unsigned attempts;
    glue_change_cb cb;
    void *data;
    struct glue__change *next;
};

/* The dead-leader fast path (failover.c). */
struct glue__fo
{
    bool probe_busy;         /* a probe is waiting for its answer */
    bool tcp_open;           /* the probe socket is open or closing */
    bool timer_open;
    uint64_t probe_id;       /* the leader being probed */
    uint64_t last_probe_ms;
    uint64_t probe_gap_ms;   /* between probes of a silent leader */
    uint64_t window_end_ms;  /* fast elections until then; 0 = none */
    uint64_t rng;
    uv_tcp_t tcp;
    uv_connect_t connect;
    uv_timer_t timer;        /* probe deadline */
    int (*probe_fn)(void *data, uint64_t id, const char *address); /* fixture */
    void *probe_data;
    uint64_t n_probes, n_refused, n_alive, n_inconclusive, n_fast;
};

/* io_order.c: the raft_io raft is given in production, in front of
 * raft_uv, so that only one log barrier is in raft_uv at a time. */
enum glue__io_busy {
    GLUE__IO_IDLE = 0,
    GLUE__IO_TRUNCATE, /* until the first append after it completes */
    GLUE__IO_PUT,      /* until its callback */
    GLUE__IO_DONE,     /* finished; raft_uv unblocks before the next flush */
};

enum glue__io_op_kind { GLUE__IO_OP_APPEND = 1, GLUE__IO_OP_TRUNCATE, GLUE__IO_OP_PUT };

/* A log call that waits behind a barrier, with raft's arguments as given. */
struct glue__io_op
{
    int kind;
    struct raft_io_append *append;
    const struct raft_entry *entries;
    unsigned n;
    raft_io_append_cb append_cb;
    raft_index index;
    unsigned trailing;
    struct raft_io_snapshot_put *put;
    const struct raft_snapshot *snapshot;
    raft_io_snapshot_put_cb put_cb;
    struct glue__io_op *next;
};

struct glue__io
{
    struct raft_io io;      /* what raft calls; impl points back here */
    struct raft_io *inner;  /* raft_uv */
    int busy;               /* enum glue__io_busy */
    struct raft_io_append *marker; /* first append after the truncate */
    raft_io_append_cb marker_cb;
    struct raft_io_snapshot_put *put_req;
    raft_io_snapshot_put_cb put_cb;
    struct glue__io_op *head, *tail; /* calls waiting, in raft's order */
    uint64_t held_since;    /* raft_uv time the queue last became non-empty */
    bool held_warned;
    bool closing;
    int truncate_failed;    /* raft_uv refused a queued truncate: fail-stop */
    uint64_t n_deferred;    /* barriers that had to wait */
    uint64_t n_truncates;
    struct glue__io *next_shim;
};

enum glue__phase {
    GLUE__INIT = 0,    /* glue_init done, not started */
    GLUE__RUNNING,
    GLUE__CLOSING,     /* raft_close requested / in progress */
    GLUE__CLOSED,      /* raft closed (after fail-stop or shutdown) */
};

struct glue
{
    struct glue_config cfg;
    struct glue_app app;
    char data_dir[1024];
    char raft_dir[1100];
    char address[GLUE_ADDR_MAX + 1];
    struct glue_peer peers[GLUE_MAX_PEERS];
    uint64_t id;

    /* raft objects; in fixture mode r points into the fixture. */
    struct raft *r;
    struct raft own_raft;
    struct raft_io io;         /* raft_uv */
    struct glue__io io_order;  /* raft's io in production (io_order.c) */
    struct raft_uv_transport transport;
    struct raft_fsm fsm;
    struct raft_tracer tracer;
    bool fixture;
    bool raft_inited;
    bool started;
    int phase;

    /* libuv handles (production only) */
    uv_loop_t *loop;
    uv_prepare_t monitor;
    uv_timer_t statfs_timer;
    uv_fs_t statfs_req;
    bool statfs_busy;
    unsigned open_handles;

    /* leader monitor */
    int last_state;
    uint64_t leader_term;      /* term in which we became leader */
    bool ready;
    bool init_barrier_busy;
    struct raft_barrier init_barrier;
    uint64_t hint_id;
    char hint_address[GLUE_ADDR_MAX + 1];
    uint64_t leader_changes;

    /* proposals */
    struct glue__op *q_head, *q_tail;
    unsigned queued;
    unsigned inflight;
    struct glue__prop *props; /* in flight */
    uint64_t applied_index;
    uint64_t n_committed, n_failed, n_entries, n_entries_done;
    uint64_t lat_last, lat_max, lat_sum;

    /* reads */
    struct glue__read *r_head, *r_tail;
    struct glue__barrier *barrier; /* in flight */
    uint64_t n_barriers, n_reads;
    uint64_t n_config_refreshes; /* member.c: phantom add/remove pairs queued */

    /* membership */
    struct glue__change *c_head, *c_tail;
    unsigned changes_queued;
    struct raft_change change_req;
    /* notes §0 item 9 / §8 #8: the transfer request outlives its callback
     * (use-after-free #396 in 0.15); one per node, never freed before the
     * raft_close callback. */
    struct raft_transfer transfer_req;
    bool transfer_busy;
    uint64_t transfer_target;
    uint64_t transfer_deadline_ms;
    glue_change_cb transfer_cb;
    void *transfer_data;

    struct glue__fo fo;

    /* disk space watchdog */
    bool low_space;

    /* fail-stop and shutdown */
    bool failed;
    int fail_code;
    char fail_why[REG_ERRMSG_SIZE];
    bool fail_reported;
    bool shutting_down;
    bool shutdown_transfer;
    uint64_t shutdown_deadline_ms;
    void (*shutdown_cb)(void *data);
    void *shutdown_data;
};

/* node.c */
uint64_t glue__now(struct glue *g);       /* monotonic ms (raft io time) */
uint64_t glue__wall_ms(struct glue *g);   /* leader's wall clock */
void glue__logf(struct glue *g, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
bool glue__is_leader(struct glue *g);
void glue__config_fill(struct glue_config *c);
void glue__apply_settings(struct glue *g);
void glue__maybe_finish_close(struct glue *g);
void glue__close_raft(struct glue *g);
void glue__shutdown_step(struct glue *g);

/* fsm.c */
void glue__fsm_init(struct glue *g);

/* propose.c */
void glue__kick(struct glue *g);
void glue__fail_queued(struct glue *g, int status);

/* read.c */
void glue__reads_kick(struct glue *g);
void glue__reads_fail(struct glue *g, int status);

/* io_order.c */
void glue__io_init(struct glue__io *s, struct raft_io *inner);
void glue__io_flush(struct glue__io *s); /* once per loop iteration */
void glue__io_fini(struct glue__io *s);  /* after raft_uv_close */

/* monitor.c */
void glue__monitor(struct glue *g);
void glue__fatal(struct glue *g, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int glue__watchdog_start(struct glue *g);

/* failover.c */
int glue__failover_start(struct glue *g);
void glue__failover_tick(struct glue *g);
void glue__failover_close(struct glue *g);

/* member.c */
void glue__changes_kick(struct glue *g);
void glue__changes_fail(struct glue *g, int status);
void glue__transfer_check(struct glue *g);
int glue__transfer_start(struct glue *g, uint64_t id);

/* transport.c: the authenticated raft_uv_transport (notes §4.2 option B).
 * key is copied. Pair with glue__transport_close after raft released it. */
int glue__transport_init(struct raft_uv_transport *t, uv_loop_t *loop,
                         const uint8_t key[static GLUE_KEY_LEN],
                         void (*log)(void *data, int level, const char *msg),
                         void *log_data);
void glue__transport_close(struct raft_uv_transport *t);

struct glue__transport_stats
{
    uint64_t accepted;     /* inbound handshakes that passed */
    uint64_t connected;    /* outbound handshakes that passed */
    uint64_t rejected;     /* handshakes dropped (bad MAC, caps, timeout) */
};
void glue__transport_stats(struct raft_uv_transport *t, struct glue__transport_stats *s);

#endif /* PILOT_GLUE_INTERNAL_H */
