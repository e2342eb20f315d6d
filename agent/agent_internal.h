/* pilot-agent internals shared by the daemon's files (agent__ prefix); not
 * for other folders. Everything runs on the daemon's libuv loop except the
 * blocking registry calls, which run on libuv's thread pool (registry.c),
 * and the watch long poll, which has its own thread. */
#ifndef PILOT_AGENT_INTERNAL_H
#define PILOT_AGENT_INTERNAL_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>

#include <uv.h>

#include "agent.h"
#include "client.h"

#define AGENT__PATH_MAX 1024
#define AGENT__POOL 16                  /* registry clients, one per pool thread */
#define AGENT__POOL_THREADS "16"        /* UV_THREADPOOL_SIZE unless the user set it */
#define AGENT__CHECK_QUEUE_MAX 256      /* packets waiting on one access check */
#define AGENT__PENDING_MAX 4096         /* packets waiting on all checks */
#define AGENT__CHECKS_MAX 256           /* distinct (src, port) checks at once */
#define AGENT__WINDOW 32                /* stream segments in flight */
#define AGENT__RTO_MS 200
#define AGENT__SYN_TRIES 10
#define AGENT__DATA_TRIES 25
#define AGENT__SEND_QUEUE_MAX (1u << 20)
#define AGENT__IDLE_MS (5u * 60u * 1000u) /* a silent connection is dropped */
#define AGENT__RECHECK_MS 5000          /* backstop re-check of open connections */
#define AGENT__MIRROR_MS 10000          /* trust.json refresh */

struct agent__cfg {
    char home[AGENT__PATH_MAX];
    char registry[1024];
    char udp_host[64];
    uint16_t udp_port;                  /* 0 = any free port */
};

/* ---- Registry calls (registry.c) ---------------------------------------- */
enum agent__call_kind {
    AGENT__CALL_REGISTER = 1,           /* register + set_endpoint */
    AGENT__CALL_HEARTBEAT,
    AGENT__CALL_AUTHORIZE,              /* args.from/to/port -> allowed, key */
    AGENT__CALL_RESOLVE,                /* target text -> node, key, endpoint */
    AGENT__CALL_MIRROR,                 /* trust_list + pending -> trust.json */
};

struct agent__call {
    uv_work_t work;
    struct agent__d *d;
    int kind;
    struct proto_args args;
    char target[ST_HOSTNAME_MAX + 1];   /* resolve: id, address or hostname */
    /* results */
    int code;
    char message[REG_ERRMSG_SIZE];
    bool allowed, has_key;
    uint8_t key[AGENT_KEY_LEN];
    uint32_t node;
    char endpoint[ST_ENDPOINT_MAX + 1];
    uint64_t offline_after_ms;
    void (*done)(struct agent__call *c);
    void *data;
    uint64_t queued_us, started_us;     /* for the slow-call log */
};

/* Queue c (filled by the caller, kind and done set); done runs on the loop.
 * REG_OK, or an error and done never runs. c stays the caller's. */
int agent__call_start(struct agent__d *d, struct agent__call *c);
struct agent__pool;
int agent__pool_new(struct agent__d *d, struct agent__pool **out,
                    char errmsg[static REG_ERRMSG_SIZE]);
void agent__pool_free(struct agent__pool *p);
/* The watch thread: long polls and wakes the loop (d->watch_async). */
int agent__watch_start(struct agent__d *d, char errmsg[static REG_ERRMSG_SIZE]);
void agent__watch_stop(struct agent__d *d);

/* ---- Data plane (dataplane.c) --------------------------------------------- */
enum agent__conn_state { AGENT__SYN_SENT = 1, AGENT__OPEN, AGENT__CLOSED };

struct agent__seg {
    struct agent__seg *next;
    uint32_t n;                         /* segment number */
    bool fin;
    size_t len;
    uint8_t data[];
};

struct agent__session;

struct agent__conn {
    struct agent__conn *next;
    struct agent__d *d;
    uint32_t peer, id;
    uint16_t port;
    bool initiator;
    int state;
    uint8_t key[AGENT_KEY_LEN];
    struct sockaddr_in addr;
    struct agent__seg *segs;            /* unacked and unsent, in order */
    size_t queued;
    uint32_t snd_next, snd_una, snd_sent; /* next to assign, oldest unacked, next to send */
    uint32_t rcv_next;
    bool fin_sent, fin_rcvd;
    unsigned tries;
    uint64_t last_tx, last_rx;
    bool checking;                      /* a re-check is in flight */
    bool check_again;                   /* asked for while one was in flight */
    struct agent__session *sess;        /* owner on this side, NULL once gone */
};

struct agent__listener {
    struct agent__listener *next;
    uint16_t port;
    bool echo;
    struct agent__session *sess;
};

int agent__dp_start(struct agent__d *d, char errmsg[static REG_ERRMSG_SIZE]);
void agent__dp_stop(struct agent__d *d);
/* Send one datagram to a resolved peer. */
int agent__dp_send_dgram(struct agent__d *d, const struct agent__call *peer, uint16_t port,
                         const uint8_t *data, size_t len);
/* Open a connection to a resolved peer; events go to sess. */
struct agent__conn *agent__dp_connect(struct agent__d *d, const struct agent__call *peer,
                                      uint16_t port, struct agent__session *sess);
/* Queue data / FIN on a connection. REG_OK or REG_RESOURCE_EXHAUSTED. */
int agent__conn_write(struct agent__conn *c, const uint8_t *data, size_t len);
void agent__conn_finish(struct agent__conn *c);
/* Drop a connection now, silently for the peer; tells its session. */
void agent__conn_drop(struct agent__conn *c, const char *reason);
/* Re-check every open connection with the registry (watch event, timer). */
void agent__dp_recheck(struct agent__d *d);
/* An access decision for a queued packet (access.c -> dataplane.c). */
void agent__dp_admit(struct agent__d *d, uint8_t *buf, size_t len,
                     const struct sockaddr_in *from, const uint8_t peer_pk[AGENT_KEY_LEN]);

/* ---- Access checks (access.c) --------------------------------------------- */
/* Ask the registry whether src may reach us on port; the packet (copied)
 * is admitted through agent__dp_admit if so, and silently dropped if not
 * or on any error. Concurrent packets for the same (src, port) share one
 * check, but only a check sent after they arrived. */
void agent__access_submit(struct agent__d *d, uint32_t src, uint16_t port, const uint8_t *buf,
                          size_t len, const struct sockaddr_in *from);
void agent__access_stop(struct agent__d *d);

/* ---- IPC sessions (daemon.c) ------------------------------------------------ */
/* Events to a session; sess may be NULL (gone): nothing happens. */
void agent__sess_event(struct agent__session *s, const char *ev, uint32_t from, uint16_t port,
                       uint32_t conn, const uint8_t *data, size_t len, const char *reason);
/* The connection a connect session waited for is open (ok) or failed. */
void agent__sess_connected(struct agent__session *s, struct agent__conn *c, int code,
                           const char *message);
void agent__sess_conn_gone(struct agent__session *s, struct agent__conn *c);

/* Control socket: listen on $home/agent.sock; stop closes every session. */
int agent__ipc_start(struct agent__d *d, char errmsg[static REG_ERRMSG_SIZE]);
void agent__ipc_stop(struct agent__d *d);

/* ---- Trust mirror (trustfile.c) --------------------------------------------- */
/* Runs on a pool thread with a connected client: fetch trust and pending,
 * write $home/trust.json atomically. REG_* code, detail in errmsg. */
int agent__mirror_write(struct cl_client *cl, const char *home, uint32_t self,
                        char errmsg[static REG_ERRMSG_SIZE]);

/* ---- The daemon ------------------------------------------------------------- */
struct agent__check;
struct agent__peer;

struct agent__d {
    uv_loop_t *loop;
    struct agent__cfg cfg;
    uint8_t sk[64];
    uint8_t pk[AGENT_KEY_LEN];
    _Atomic uint32_t self;              /* node id; 0 until registered */
    char endpoint[64];                  /* our UDP "ip:port" */
    bool stopping;
    bool registering, hb_busy, mirror_busy, mirror_again;
    uint64_t offline_after_ms;

    struct agent__pool *pool;
    uv_udp_t udp;
    uv_pipe_t ipc;
    uv_timer_t hb_timer, tick_timer, recheck_timer, mirror_timer, stop_timer;
    bool need_register;
    uv_signal_t sig_term, sig_int;
    uv_async_t watch_async;
    unsigned open_handles;

    /* watch thread */
    pthread_t watch_thread;
    bool watch_running;
    atomic_bool watch_stop;

    uint64_t tx_seq;                    /* replay counter of our packets */
    struct agent__peer *peers;          /* replay windows and pair keys */
    struct agent__listener *listeners;
    struct agent__conn *conns;
    struct agent__session *sessions;
    struct agent__check *checks;
    unsigned n_checks;
    unsigned pending_pkts;

    struct {                            /* counters for status and bench */
        uint64_t auth_calls, auth_allowed, auth_denied, dropped, delivered;
    } stats;
};

/* Logfmt line on stderr (the daemon's log). */
void agent__log(const char *level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Wall clock in microseconds, loop time in ms. */
uint64_t agent__wall_us(void);
uint64_t agent__now(struct agent__d *d);
/* Graceful stop: close everything; the loop then ends (main.c). */
void agent__begin_stop(struct agent__d *d);
/* Ask for a trust.json refresh soon (coalesced). */
void agent__mirror_soon(struct agent__d *d);

#endif /* PILOT_AGENT_INTERNAL_H */
