/* bench/pilot_bench: the cluster benchmark (performance-baseline.md B1-B4).
 * A closed-loop load generator that drives a running cluster through the
 * registry client library (one cl_client per thread) and prints one
 * key=value line per point:
 *   label= ops= errs= secs= ops_per_s= p50_ms= p90_ms= p99_ms= max_ms=
 * It is a program that prints figures, never a pass/fail test.
 *
 * Files: pilot_bench_main.c (options, subcommands, targets),
 * pilot_bench_stats.c (latency recording, percentiles, output),
 * pilot_bench_cluster.c (status, leader, clients, agent pairs),
 * pilot_bench_load.c (timed closed-loop writes and resolves),
 * pilot_bench_cpu.c (CPU time per operation of nodes and client),
 * pilot_bench_kick.c (kick-to-deny), pilot_bench_failover.c (kill -9).
 *
 * Contract between the files: every function returning int returns REG_OK
 * or an enum reg_err value and, where it takes errmsg, fills it with the
 * detail; only main prints errors (stats prints the figure lines).
 * Prefix: pb_. */
#ifndef PILOT_BENCH_H
#define PILOT_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "client.h"
#include "reg_common.h"

#define PB_MAX_CLIENTS 1024        /* largest concurrency of one point */
#define PB_MAX_POINTS 8            /* entries of --clients */
#define PB_MAX_SECONDS 20          /* every point is bounded (baseline doc) */
#define PB_EPS_MAX 512             /* an endpoint list as text */

struct pb_config {
    struct cl_endpoint eps[CL_ENDPOINTS_MAX];
    char ep_text[CL_ENDPOINTS_MAX][CL_HOST_MAX + 8]; /* "host:port" each */
    size_t n_eps;
    char admin_token[CL_ADMIN_TOKEN_MAX + 1];        /* "" if none given */
    unsigned clients[PB_MAX_POINTS];
    size_t n_clients;
    unsigned rates[PB_MAX_POINTS]; /* fixed-rate points, writes/s */
    size_t n_rates;
    unsigned rate_clients;         /* senders of a fixed-rate point */
    unsigned seconds;              /* per point, 1..PB_MAX_SECONDS */
    unsigned kick_trials;          /* kick-deny trials per mode */
    unsigned kick_load;            /* writers running during the loaded kick run */
    unsigned failover_trials;
    const char *pid_dir;           /* failover: <dir>/node<raft id>.pid */
    const char *restart_cmd;       /* failover: "<cmd> <raft id>" restarts a node */
    const char *tag;               /* printed as run=<tag> on every line, or NULL */
};

/* ---- stats (pilot_bench_stats.c) ---------------------------------------- */

/* Latencies of one thread in microseconds; grows as needed. */
struct pb_lat {
    uint32_t *us;
    size_t n, cap;
    uint64_t errs;
    int last_err;                  /* code of the last error, for the report */
};

uint64_t pb_now_us(void);
void pb_sleep_ms(unsigned ms);
/* Record one completed operation. REG_OK or REG_NOMEM (the sample is lost
 * and counted as an error so that a figure never hides a missing op). */
int pb_lat_add(struct pb_lat *l, uint64_t us);
void pb_lat_err(struct pb_lat *l, int code);
/* Move every sample of src into dst (src is emptied). REG_OK / REG_NOMEM. */
int pb_lat_merge(struct pb_lat *dst, struct pb_lat *src);
void pb_lat_free(struct pb_lat *l);

struct pb_summary {
    uint64_t ops, errs;
    double secs, ops_per_s;
    double min_ms, p50_ms, p90_ms, p99_ms, max_ms;
};
/* Sort l (in place) and fill s; secs is the wall time of the point. */
void pb_summarize(struct pb_lat *l, double secs, struct pb_summary *s);
/* Print the key=value line of one point (stdout, flushed). extra: more
 * "key=value" text appended, or NULL. */
void pb_print(const struct pb_config *cfg, const char *label, const struct pb_summary *s,
              const char *extra);

/* Figures kept for the closing comparison against the targets and
 * the etcd baseline (first point with this label wins). */
void pb_keep(const char *label, const struct pb_summary *s);
const struct pb_summary *pb_kept(const char *label);

/* ---- cluster (pilot_bench_cluster.c) ------------------------------------- */

struct pb_status {
    uint64_t id, term, applied_index, leader_id;
    bool leader, ready;
    char hash[72];
};

/* cluster_status of endpoint i (admin token if configured). */
int pb_status(const struct pb_config *cfg, size_t i, struct pb_status *st,
              char errmsg[static REG_ERRMSG_SIZE]);
/* Endpoint index of the ready leader, waiting up to timeout_ms;
 * REG_NO_LEADER if none answered as such. Endpoints in `skip` (bit i) are
 * not asked. */
int pb_find_leader(const struct pb_config *cfg, unsigned timeout_ms, uint32_t skip,
                   size_t *leader, char errmsg[static REG_ERRMSG_SIZE]);
/* Wait until every endpoint answers with the same applied index and state
 * hash and one of them is the ready leader (bounded). */
int pb_wait_converged(const struct pb_config *cfg, unsigned timeout_ms,
                      char errmsg[static REG_ERRMSG_SIZE]);
/* Endpoint list of the cluster rotated to start at endpoint `first`. */
void pb_eps_rotated(const struct pb_config *cfg, size_t first, char out[PB_EPS_MAX]);

/* Client timeouts of the load (generous: a slow answer is a figure) and of
 * the failover probe (short backoff: the first success is the figure). */
enum pb_client_kind { PB_CLIENT_LOAD = 0, PB_CLIENT_PROBE = 1 };
int pb_client_open(const char *eps, const uint8_t *sk, enum pb_client_kind kind,
                   struct cl_client **out, char errmsg[static REG_ERRMSG_SIZE]);

/* One agent pair: an owner with a private node and an open network, and a
 * member in that network. Both are private, so the member may resolve the
 * owner only through the shared network: resolve is the access decision. */
struct pb_pair {
    unsigned index;
    uint8_t sk_owner[CL_SECRET_KEY_LEN], sk_member[CL_SECRET_KEY_LEN];
    uint32_t owner_id, member_id, net_id;
    unsigned phase;                /* next op of the write cycle; 0 = member joined */
    struct cl_client *owner, *member;
    char eps[PB_EPS_MAX];          /* what owner/member are connected to */
    bool stale;                    /* resolves ask consistency=stale */
    struct pb_lat lat;
};

/* The write cycle: register (member, returning), kick, invite (owner),
 * leave, join (member). It ends where it began, with the member joined. */
#define PB_CYCLE_LEN 5
const char *pb_cycle_op(unsigned phase);

/* Create keys, register both agents, create the network, join it; pairs
 * [0, n) in parallel against the whole cluster. */
int pb_pairs_setup(const struct pb_config *cfg, struct pb_pair *p, unsigned n,
                   char errmsg[static REG_ERRMSG_SIZE]);
/* (Re)connect pair clients to eps (no-op if already there). */
int pb_pair_bind(struct pb_pair *p, const char *eps, char errmsg[static REG_ERRMSG_SIZE]);
/* One write of the cycle (advances phase whatever the answer). */
int pb_pair_write(struct pb_pair *p);
/* The member resolves the owner. */
int pb_pair_resolve(struct pb_pair *p);
/* Run the cycle on to phase 0 (member joined) without timing it. */
int pb_pair_settle(struct pb_pair *p);
void pb_pairs_close(struct pb_pair *p, unsigned n);

/* Run fn(p[i]) for i in [0, n) on n threads; REG_OK if every call did. */
int pb_parallel(struct pb_pair *p, unsigned n, int (*fn)(struct pb_pair *, void *), void *arg);

/* ---- load (pilot_bench_load.c) ------------------------------------------ */

enum pb_target { PB_T_LEADER, PB_T_FOLLOWER, PB_T_ANY, PB_T_STALE };
enum pb_kind { PB_K_WRITES, PB_K_RESOLVE };

/* One closed-loop point: pairs [0, n) against target for cfg->seconds. */
int pb_point(const struct pb_config *cfg, struct pb_pair *p, unsigned n, enum pb_kind kind,
             enum pb_target target, char errmsg[static REG_ERRMSG_SIZE]);

/* B10: writes to the leader at a fixed rate (open loop, n senders) for
 * cfg->seconds; latency counts from each send's due time. The line says
 * whether the rate was held and the slowest answer stayed under 0.5 s. */
int pb_rate_point(const struct pb_config *cfg, struct pb_pair *p, unsigned n, unsigned rate,
                  char errmsg[static REG_ERRMSG_SIZE]);

/* Background writers (kick under load): start on pairs [0, n), stop later. */
struct pb_bg;
int pb_bg_start(const struct pb_config *cfg, struct pb_pair *p, unsigned n, struct pb_bg **out,
                char errmsg[static REG_ERRMSG_SIZE]);
/* Stop, join and report the background load as a line with label. */
void pb_bg_stop(const struct pb_config *cfg, struct pb_bg *bg, const char *label);

/* ---- CPU per operation (pilot_bench_cpu.c) -------------------------------- */

struct pb_cpu {
    pid_t pid[CL_ENDPOINTS_MAX];
    uint64_t us[CL_ENDPOINTS_MAX];
    bool leader[CL_ENDPOINTS_MAX];
    bool nodes_ok;                 /* every node's PID and /proc entry found */
    uint64_t self_us;
    uint64_t machine_us;           /* busy time of all cores (/proc/stat) */
    uint64_t wall_us;
};

/* Snapshot CPU times at the start of a point (node PIDs need --pid-dir). */
void pb_cpu_begin(const struct pb_config *cfg, struct pb_cpu *c);
/* "cpu_leader_us=.. cpu_follower_us=.. cpu_client_us=.." per op and
 * "others_cores=.." (cores used by other processes meanwhile) into out
 * (only the client's without node PIDs; "" when ops is 0). */
void pb_cpu_end(const struct pb_config *cfg, const struct pb_cpu *c, uint64_t ops, char *out,
                size_t cap);

/* ---- kick-to-deny and failover ------------------------------------------ */

/* B3: pair p kicks its member cfg->kick_trials times per mode and watches
 * each node deny it (linearizable right after the ack; stale polling for
 * when each node applied it). bg_pairs > 0 adds that many writers. */
int pb_kick_deny(const struct pb_config *cfg, struct pb_pair *p, struct pb_pair *bg_pairs,
                 unsigned n_bg, char errmsg[static REG_ERRMSG_SIZE]);
/* B4: kill -9 the leader, time the first successful write, restart it. */
int pb_failover(const struct pb_config *cfg, struct pb_pair *p,
                char errmsg[static REG_ERRMSG_SIZE]);

#endif /* PILOT_BENCH_H */
