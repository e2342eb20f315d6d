/* Agent test harness: pilot-agent processes on 127.0.0.1 against an
 * integration-harness cluster (tests/integration/harness.h, linked, not
 * copied). Each agent gets its own $PILOT_HOME under the cluster's
 * temporary directory and a fresh identity the test also holds, so the
 * test can act as that agent towards the registry and can forge its
 * data-plane packets. Agents are started with fork/exec and stopped by PID;
 * every wait is bounded. Prefix: ag_. */
#ifndef PILOT_AG_HARNESS_H
#define PILOT_AG_HARNESS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent.h"
#include "harness.h"

struct ag {
    char name[32];
    char home[400];
    uint8_t sk[64], pk[32];
    pid_t pid;
    uint32_t node;
    char endpoint[64];              /* its data-plane UDP address */
    struct cl_client *cl;           /* registry client acting as this agent */
};

/* Start an agent and wait (bounded) until it reports a registered node id. */
void ag_start(struct ag *a, struct it_cluster *c, const char *name);
/* Stop and start again on the same home (same identity). */
void ag_restart(struct ag *a, struct it_cluster *c);
/* SIGTERM by PID, bounded wait, SIGKILL as a last resort. */
void ag_stop(struct ag *a);
/* Dump the agent's log to stderr (on failure paths). */
void ag_dump_log(const struct ag *a);

/* Control-socket helpers. ag_listen returns the session fd (answer ok). */
int ag_listen(struct ag *a, uint16_t port, bool echo);
/* Next event on a session within timeout_ms: REG_OK, REG_TIMEOUT, ... */
int ag_event(int fd, int timeout_ms, struct agent_ipc_msg *m, uint8_t *buf, size_t cap);
/* Daemon-level send (resolves first): the daemon's answer code. */
int ag_send(struct ag *a, uint32_t node, uint16_t port, const char *msg);
/* Open a stream; on REG_OK *fd is the session. */
int ag_connect(struct ag *a, uint32_t node, uint16_t port, int *fd);
int ag_stream_write(int fd, const char *data);
/* Counter from the daemon's status ("auth_denied", "delivered", ...). */
uint64_t ag_stat(struct ag *a, const char *key);

/* Send one datagram to `to` as `from` straight to its UDP endpoint, with
 * from's real key, bypassing from's daemon and the registry's resolve
 * (what a peer that learned the endpoint earlier could do). Returns the
 * socket so the caller can check that nothing comes back; close it. */
int ag_forge_dgram(const struct ag *from, const struct ag *to, uint16_t port, const char *msg);
/* Same, a connection request (SYN). */
int ag_forge_syn(const struct ag *from, const struct ag *to, uint16_t port);
/* True if fd receives anything within timeout_ms. */
bool ag_udp_answered(int fd, int timeout_ms);

/* Registry writes as agent a (REG_* code of the call or the result). */
int ag_cmd(struct ag *a, struct st_cmd *cmd, uint32_t *network_out);
uint32_t ag_net_create(struct ag *owner, const char *name, bool enterprise);
int ag_net_join(struct ag *a, uint32_t network);
int ag_net_kick(struct ag *owner, uint32_t network, uint32_t node);
int ag_net_ports(struct ag *owner, uint32_t network, const uint16_t *ports, unsigned n);

#endif /* PILOT_AG_HARNESS_H */
