/* registry/server: one registry node (DESIGN.md §2, §4, §5, §8).
 *
 * Puts the state machine (registry/state) and the wire codec
 * (registry/proto) on top of raft (raft-glue): the client listener with its
 * handshake, request dispatch, the write path through raft, linearizable and
 * stale reads, one-hop forwarding from followers to the leader over
 * peer-authenticated links, agent liveness, cluster membership operations,
 * configuration and the structured event log. main.c (pilot-registry) is a
 * thin edge over this API.
 *
 * Threading: none. Everything runs on the libuv loop given to srv_new; every
 * function must be called on that loop's thread.
 *
 * Prefix: srv_ public, srv__ cross-file internal. */
#ifndef PILOT_SRV_SERVER_H
#define PILOT_SRV_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "reg_common.h"

struct uv_loop_s;

/* ---- Configuration (config.c) ---------------------------------------------
 * Every setting is a long flag (--data-dir DIR or --data-dir=DIR) and an INI
 * key of the same name (data-dir = DIR or data_dir = DIR, any section). */
#define SRV_VERSION "0.1.0"
#define SRV_NAME_MAX 63
#define SRV_PATH_MAX 1023
#define SRV_ADDR_MAX 63
#define SRV_INITIAL_CLUSTER_MAX 1023
#define SRV_CLUSTER_ID_MAX 63
#define SRV_PEERS_MAX 16
#define SRV_CLUSTER_KEY_LEN 32
#define SRV_ADMIN_TOKEN_MAX 256

struct srv_config {
    uint64_t id;                              /* raft id, > 0, never reused */
    char name[SRV_NAME_MAX + 1];              /* human name; default "node-<id>" */
    char data_dir[SRV_PATH_MAX + 1];
    char listen[SRV_ADDR_MAX + 1];            /* client protocol, IPV4:PORT */
    char raft[SRV_ADDR_MAX + 1];              /* raft peer port, IPV4:PORT */
    char http[SRV_ADDR_MAX + 1];              /* ops HTTP listener; "" = none */
    bool bootstrap;                           /* new single-node cluster */
    char initial_cluster[SRV_INITIAL_CLUSTER_MAX + 1]; /* "1=H:P,2=H:P" */
    char join[SRV_ADDR_MAX + 1];              /* any node's client address */
    char cluster_key_file[SRV_PATH_MAX + 1];
    char admin_token_file[SRV_PATH_MAX + 1];
    char cluster_id[SRV_CLUSTER_ID_MAX + 1];  /* default "pilot" */
    uint64_t election_timeout_ms;             /* default 1000 */
    uint64_t heartbeat_timeout_ms;            /* default 100 */
    uint64_t snapshot_threshold;              /* default 4096 */
    uint64_t snapshot_trailing;               /* default 8192 */
    uint64_t max_frame;                       /* default 1 MiB */
    bool redirect;                            /* answer not_leader, never forward */
    bool no_fast_failover;                    /* only raft's timers elect after a
                                                 leader dies (raft-glue failover.c) */
    uint64_t max_conns;                       /* default 4096 */
    uint64_t idle_timeout_ms;                 /* default 300 s */
    uint64_t write_queue_max;                 /* per connection, default 8 MiB */
    uint64_t offline_after_ms;                /* liveness threshold, default 60 s */
    uint64_t liveness_interval_ms;            /* liveness tick, default 5 s */
    char log_level[8];                        /* debug|info|warn|error, default info */
    /* Quorum-loss recovery: keep this node's data and rewrite the raft
     * configuration to this node alone (raft_recover); others then --join. */
    bool force_new_cluster;
    /* Founding node of a NEW cluster: once leader and ready, and only while
     * the state is empty, replicate this snapshot file (pilotctl cluster
     * snapshot save) through the log. "" = none. */
    char restore[SRV_PATH_MAX + 1];
};

struct srv_secrets {
    uint8_t cluster_key[SRV_CLUSTER_KEY_LEN];
    char admin_token[SRV_ADMIN_TOKEN_MAX + 1]; /* "" = no admin access */
    size_t admin_token_len;
};

struct srv_peer {
    uint64_t id;
    char addr[SRV_ADDR_MAX + 1];
};

/* Defaults (see the field comments). */
void srv_config_defaults(struct srv_config *c);
/* Parse argv: --config FILE is loaded first, then every other flag
 * overrides it. REG_OK or REG_INVALID_ARGUMENT with errmsg quoting the bad
 * flag or value. */
int srv_config_parse_args(struct srv_config *c, int argc, char **argv,
                          char errmsg[static REG_ERRMSG_SIZE]);
/* Load one INI file over c. REG_OK or REG_INVALID_ARGUMENT (unreadable file,
 * syntax error with its line, unknown key, bad value). */
int srv_config_load_file(struct srv_config *c, const char *path,
                         char errmsg[static REG_ERRMSG_SIZE]);
/* Cross-field checks (required settings, exclusive modes, initial-cluster
 * lists this node with its --raft address, heartbeat < election).
 * REG_OK or REG_INVALID_ARGUMENT. */
int srv_config_validate(const struct srv_config *c, char errmsg[static REG_ERRMSG_SIZE]);
/* Read the cluster key (32 raw bytes or 64 hex digits) and the admin token
 * (>= 16 bytes; optional). Files readable by group/others are refused.
 * REG_OK or REG_INVALID_ARGUMENT. */
int srv_config_load_secrets(const struct srv_config *c, struct srv_secrets *s,
                            char errmsg[static REG_ERRMSG_SIZE]);
/* "a.b.c.d:port" -> host, port. 0 or -1. */
int srv_parse_hostport(const char *s, char host[static 64], uint16_t *port);
/* "1=H:P,2=H:P" -> peers. REG_OK or REG_INVALID_ARGUMENT. */
int srv_parse_initial_cluster(const char *s, struct srv_peer *out, unsigned cap,
                              unsigned *n_out, char errmsg[static REG_ERRMSG_SIZE]);

/* ---- systemd notification (notify.c) ----------------------------------------
 * Send one sd_notify datagram ("READY=1", "STOPPING=1") to $NOTIFY_SOCKET
 * if it is set (a path, or @name for the abstract namespace). REG_OK (also
 * when the variable is unset), or REG_UNAVAILABLE with errmsg. */
int srv_notify(const char *state, char errmsg[static REG_ERRMSG_SIZE]);

/* ---- Event log (log.c) ------------------------------------------------------
 * One logfmt line per event on stderr:
 *   ts=<RFC3339 ms> level=<l> node=<id> term=<t> event=<name> <fields>
 * fields is a printf format producing "k=v k=v" (quote free text with
 * srv_log_quote). */
enum srv_log_level { SRV_LOG_DEBUG = 0, SRV_LOG_INFO, SRV_LOG_WARN, SRV_LOG_ERROR };
void srv_log(int level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void srv_log_set_context(uint64_t node, uint64_t (*term_fn)(void *), void *arg);
void srv_log_set_level(int level);
/* "debug"|"info"|"warn"|"error" -> enum srv_log_level, -1 if unknown. */
int srv_log_level_from_name(const char *name);
/* "text" -> "\"text\"" with quotes and backslashes escaped, truncated to cap. */
void srv_log_quote(char *dst, size_t cap, const char *src);

/* ---- The node (node.c) ----------------------------------------------------- */
struct srv;

/* Create a node on loop from a validated config and its secrets (both
 * copied): state machine, raft (glue_init; creates data_dir if missing).
 * REG_OK and *out, or INVALID_ARGUMENT / NOMEM / INTERNAL with errmsg;
 * nothing is left allocated on error. */
int srv_new(struct srv **out, struct uv_loop_s *loop, const struct srv_config *cfg,
            const struct srv_secrets *secrets, char errmsg[static REG_ERRMSG_SIZE]);
/* Start raft, the client listener, the timers and (--join) the join loop.
 * REG_OK or INTERNAL / INVALID_ARGUMENT (port in use...) with errmsg; after
 * a failure only srv_stop is allowed. */
int srv_start(struct srv *s, char errmsg[static REG_ERRMSG_SIZE]);
/* Graceful stop: close the listener and every connection (pending requests
 * are answered unavailable / unknown_outcome by raft-glue), transfer
 * leadership if leader, close raft on a later loop iteration; then cb(data)
 * is called and s is freed. Call once; cb never runs synchronously. */
void srv_stop(struct srv *s, void (*cb)(void *data), void *data);
/* hook(data) runs once when the node fail-stops (raft-glue gave up: disk
 * error, raft unavailable, disk full); the owner should then srv_stop. */
void srv_set_fail_hook(struct srv *s, void (*hook)(void *data), void *data);
/* Non-zero once the node has fail-stopped (disk error, raft unavailable):
 * main exits with a non-zero status after srv_stop completes. */
int srv_failed(const struct srv *s);

#endif /* PILOT_SRV_SERVER_H */
