/* Integration harness: real pilot-registry processes on 127.0.0.1.
 *
 * A cluster lives in a fresh temporary directory (key, admin token, one data
 * dir and one log file per node). Nodes are started with fork/exec on free
 * ports and stopped by PID (SIGTERM, or SIGKILL for crash tests); every wait
 * is bounded. Clients are registry/client (cl_) connections. Prefix: it_. */
#ifndef PILOT_IT_HARNESS_H
#define PILOT_IT_HARNESS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "client.h"
#include "proto.h"

#define IT_MAX_NODES 5
#define IT_ELECTION_MS 1000
#define IT_HEARTBEAT_MS 100

struct it_node {
    uint64_t id;
    uint16_t client_port, raft_port;
    char client_addr[32], raft_addr[32];
    char data_dir[512], log_path[512];
    pid_t pid;                      /* 0 when not running */
};

struct it_cluster {
    char root[256];
    char key_path[300], token_path[300];
    char admin_token[64];
    unsigned n;                     /* nodes created so far */
    struct it_node nodes[IT_MAX_NODES];
    char initial[512];              /* --initial-cluster value */
    const char *extra[8];           /* extra flags for every node */
    unsigned n_extra;
};

/* Create the directory, key and token, and n founding nodes (ids 1..n) with
 * free ports; start them all with --initial-cluster and wait for a leader. */
void it_cluster_start(struct it_cluster *c, unsigned n);
/* Same, with extra flags (NULL-terminated, at most 8) for every node. */
void it_cluster_start_args(struct it_cluster *c, unsigned n, const char *const *extra);
/* Start node i (index) again with its existing data dir (no mode flag). */
void it_node_restart(struct it_cluster *c, unsigned i);
/* Add and start a node with --join to node `via`; returns its index. */
unsigned it_node_join(struct it_cluster *c, unsigned via);
/* SIGTERM and wait (bounded); asserts a clean exit status. */
void it_node_stop(struct it_cluster *c, unsigned i);
/* SIGKILL and reap. */
void it_node_kill(struct it_cluster *c, unsigned i);
/* Stop every running node, print node logs on failure, remove the dir. */
void it_cluster_destroy(struct it_cluster *c);

/* Index of the node that reports itself leader and ready and whose client
 * address every running node knows, waiting up to timeout_ms; -1 if none. */
int it_wait_leader(struct it_cluster *c, unsigned timeout_ms);

struct it_status {
    uint64_t id, term, applied_index, leader_id;
    char state[16];
    char role[16];
    bool ready;             /* leader-init barrier committed (leaders only) */
    bool serving;           /* what /readyz answers */
    char hash[72];
    char leader_addr[64];
};
/* cluster_status of node i (served locally by that node). REG_* code. */
int it_status(struct it_cluster *c, unsigned i, struct it_status *st);
/* Wait until every running node reports the same applied index and state
 * hash (bounded); asserts it. */
void it_assert_converged(struct it_cluster *c, unsigned timeout_ms);

/* Clients. Endpoint list: node indexes (-1 terminated) or all running. */
struct cl_client *it_admin_client(struct it_cluster *c, int node);
/* An agent client with a fresh Ed25519 key (sk out, 64 bytes). */
struct cl_client *it_agent_client(struct it_cluster *c, int node, uint8_t sk[64]);
struct cl_client *it_agent_client_sk(struct it_cluster *c, int node, const uint8_t sk[64]);

/* Convenience calls; return the REG_* code, fill out fields when given. */
int it_register(struct cl_client *cl, const char *hostname, bool public_, uint32_t *node_id);
int it_call_cmd(struct cl_client *cl, const struct st_cmd *cmd, struct cl_response *resp);
int it_resolve(struct cl_client *cl, uint32_t node);
int it_lookup_admin(struct cl_client *cl, uint32_t node);

/* Raw TCP for protocol-abuse tests. it_raw_connect: fd or -1.
 * it_raw_recv_frame: body length, 0 on orderly close, -1 on error/timeout. */
int it_raw_connect(const char *addr);
int it_raw_send(int fd, const void *buf, size_t len);
int it_raw_send_frame(int fd, const void *body, size_t len);
long it_raw_recv_frame(int fd, uint8_t *buf, size_t cap, unsigned timeout_ms);
/* True if the peer closes fd (EOF or reset) within timeout_ms. */
bool it_raw_closed(int fd, unsigned timeout_ms);
/* A raw connection to node i that has completed the handshake as the
 * cluster admin (asserts every step); returns the fd. */
int it_raw_admin_conn(struct it_cluster *c, unsigned i);

/* Required u64 field of a result map. */
bool it_map_u64(const struct proto_val *m, const char *key, uint64_t *out);

/* Monotonic milliseconds. */
uint64_t it_now_ms(void);
void it_sleep_ms(unsigned ms);

#endif /* PILOT_IT_HARNESS_H */
