/* jepsen/client: the suite's workload driver (issue 7 items 3-4). Concurrent
 * client processes bound to registry nodes through registry/client, a
 * JSON-lines history on one monotonic clock, the checker's error-to-outcome
 * table (jc_outcome_of), and the four workloads (registry, kick-fanout,
 * members, durability) with their final reads and state-hash probes.
 *
 * Contract:
 *   - Times are CLOCK_MONOTONIC ns minus the run's t0 (given by the
 *     orchestrator so nemesis records share the clock). An invoke is stamped
 *     before its request is sent, a completion after its answer arrived.
 *   - A process that gets `info` is retired: it continues as process
 *     id + stride and reconnects (Jepsen's rule).
 *   - Nothing here prints except jw_main's edges (stderr progress lines).
 *   - Return codes are REG_* (REG_ERR_MAP); detail goes to errmsg buffers.
 * Prefix: jw_ (public), jw__ (cross-file internal). */
#ifndef PILOT_JEPSEN_JW_H
#define PILOT_JEPSEN_JW_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "checker.h"
#include "client.h"
#include "reg_common.h"

#define JW_NODES_MAX 9
#define JW_SK_LEN 64

/* ---- History ------------------------------------------------------------ */

struct jw_hist {
    FILE *f;
    pthread_mutex_t mu;
    int64_t next_index;
    uint64_t t0_ns;
    uint64_t ops[4];            /* completions by type: ok, rejected, fail, info */
};

uint64_t jw_mono_ns(void);
/* Open path for writing (truncates). REG_OK or REG_UNAVAILABLE. */
int jw_hist_open(struct jw_hist *h, const char *path, uint64_t t0_ns,
                 char errmsg[static REG_ERRMSG_SIZE]);
void jw_hist_close(struct jw_hist *h);

/* One history line. value is stolen (may be NULL = null). Strings may be
 * NULL (omitted). applied_index < 0 is omitted. process < 0 = "nemesis". */
struct jw_rec {
    const char *type;           /* invoke | ok | fail | info */
    int64_t process;
    const char *f;
    const char *key;
    json_t *value;
    const char *error;
    const char *node;
    const char *req_id;
    int64_t applied_index;
};
/* Stamps time and index under the lock; returns the time written. */
int64_t jw_hist_write(struct jw_hist *h, const struct jw_rec *r);

/* ---- Processes and ops -------------------------------------------------- */

struct jw_run;

/* One logical Jepsen process: single-threaded, bound to one node. */
struct jw_proc {
    struct jw_run *run;
    int64_t id;
    int64_t stride;
    unsigned node;              /* index into run->nodes */
    uint64_t rng;
    bool retired;               /* set when an op ended info; cleared by reconnect */
};

/* Result of one recorded op. */
struct jw_res {
    enum jc_outcome out;
    int code;
    int64_t t_done;
    uint64_t index;
    bool has_result;
};

/* Open an agent (sk) or admin (sk NULL) client pinned to node i. */
int jw_client_open(struct jw_run *run, unsigned node, const uint8_t *sk, bool admin,
                   struct cl_client **out, char errmsg[static REG_ERRMSG_SIZE]);

/* Record invoke, run req on cl, record completion. The completion value of
 * an ok answer is fill(resp, fill_arg) (NULL fill = null); a business
 * rejection becomes {"rejected": code}. An info outcome retires p. */
typedef json_t *(*jw_fill_fn)(const struct cl_response *resp, void *arg);
int jw_op(struct jw_proc *p, struct cl_client *cl, const char *f, const char *key,
          json_t *inv_value, const struct cl_request *req, bool is_read, jw_fill_fn fill,
          void *fill_arg, struct jw_res *res);
/* The two halves of jw_op, for compound ops whose invoke must be stamped
 * before a preparatory request (handshake before approve). req_id gets the
 * id of the next write on cl ("" for reads). */
#define JW_REQ_ID_LEN 48
void jw_op_invoke(struct jw_proc *p, struct cl_client *cl, const char *f, const char *key,
                  json_t *inv_value, bool is_read, char req_id[static JW_REQ_ID_LEN]);
int jw_op_call(struct jw_proc *p, struct cl_client *cl, const char *f, const char *key,
               const struct cl_request *req, bool is_read, jw_fill_fn fill, void *fill_arg,
               const char *req_id, struct jw_res *res);
/* Complete an invoked op whose outcome is already known (code: the
 * rejection or error code). */
void jw_op_complete(struct jw_proc *p, const char *f, const char *key, enum jc_outcome out,
                    const char *code);

/* A write command through cl without recording (setup). Retries until
 * deadline_ms. REG_* code; result values via out_u64 (key may be NULL). */
int jw_setup_write(struct cl_client *cl, const struct st_cmd *cmd, const char *key,
                   uint64_t *out_u64, uint32_t deadline_ms);

/* ---- Run ----------------------------------------------------------------- */

enum jw_workload { JW_REGISTRY, JW_KICK_FANOUT, JW_MEMBERS, JW_DURABILITY };

struct jw_agent {
    uint8_t sk[JW_SK_LEN];
    uint32_t id;
};

struct jw_run {
    enum jw_workload workload;
    unsigned n_nodes;
    char nodes[JW_NODES_MAX][64];       /* client addresses */
    char names[JW_NODES_MAX][16];       /* n1.. */
    char admin_token[CL_ADMIN_TOKEN_MAX + 1];
    unsigned concurrency;
    double rate;                         /* ops/s over all processes */
    unsigned time_limit_s;
    uint64_t seed;
    unsigned ops_per_key;
    const char *out_dir;
    const char *go_file;                 /* final phase starts once it exists */
    struct jw_hist hist;
    FILE *fanout;                        /* kick-fanout: per-node deny delays */
    pthread_mutex_t fanout_mu;
    atomic_bool stop;
    uint64_t end_ns;                     /* monotonic deadline of the main phase */
    /* Workload state, built by jw_setup. */
    struct jw_agent owner;
    struct jw_agent *agents;             /* registry/fanout: B_k, C_k; members: set elements */
    uint32_t *nets;
    unsigned n_keys;
    atomic_uint next_key;
    atomic_uint_fast64_t next_unique;
    struct jw_agent reader;
};

uint64_t jw_rand(uint64_t *s);
/* Sleep so that all processes together issue about run->rate ops/s. */
void jw_pace(struct jw_proc *p);
bool jw_running(struct jw_run *run);

/* Setup (registrations, networks) before the history starts. */
int jw_setup(struct jw_run *run, char errmsg[static REG_ERRMSG_SIZE]);
/* Main phase of one process (thread body). */
void jw_worker(struct jw_proc *p);
/* Final phase: reads on every node and hash probes (after the heal). */
void jw_final(struct jw_run *run);
/* Hash probe of every node once all report the same applied index (bounded). */
void jw_hash_probes(struct jw_run *run, int64_t base_process);

#endif /* PILOT_JEPSEN_JW_H */
