/* registry/client: the blocking client library of the registry cluster,
 * used by pilotctl, the agent, tests, benchmarks and jepsen (DESIGN.md §4,
 * docs/protocol.md).
 *
 * What it does for the caller:
 *   - takes a list of endpoints ("H:P,H:P"), connects to any of them in turn
 *     (each connect bounded by a timeout) and runs the connection handshake,
 *     as an agent (Ed25519 key, one signature per connection) or as the
 *     cluster admin (token);
 *   - follows not_leader answers to the leader's client address when the
 *     node gives one, and retries no_leader / unavailable / rate_limited /
 *     connection failures with capped exponential backoff until a deadline;
 *   - keeps (client id, seq) across retries: a write is sent with one seq
 *     for its whole life, so the state machine's dedup applies it at most
 *     once however many times it is resent. A write whose last attempt ended
 *     without an answer reports REG_UNKNOWN_OUTCOME, never a guess;
 *   - hands back the typed answer: a REG_* code plus message, the decoded
 *     result map, the leader hint and the raft index of the response.
 *
 * Threading: a cl_client is used by one thread at a time (one client per
 * thread); distinct clients share nothing and may run concurrently. Calls
 * block up to the configured deadline. The library never prints.
 *
 * Prefix: cl_ public, cl__ cross-file internal. */
#ifndef PILOT_CL_CLIENT_H
#define PILOT_CL_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"
#include "reg_common.h"
#include "state.h"

#define CL_HOST_MAX 255
#define CL_ENDPOINTS_MAX 16
#define CL_SECRET_KEY_LEN 64 /* libsodium Ed25519 secret key (seed || pk) */
#define CL_ADMIN_TOKEN_MAX 256

/* ---- Endpoints and backoff (pure, no I/O) -------------------------------*/

struct cl_endpoint {
    char host[CL_HOST_MAX + 1];     /* name or address, IPv6 without brackets */
    uint16_t port;                  /* 1..65535 */
};

/* Parse "H:P[,H:P...]" ("[v6]:P" for IPv6; blanks around items allowed)
 * into out[0..cap). On REG_OK *n_out is the count (>= 1). On
 * REG_INVALID_ARGUMENT errmsg quotes the offending item and out is
 * unspecified. */
int cl_endpoints_parse(const char *list, struct cl_endpoint *out, size_t cap,
                       size_t *n_out, char errmsg[static REG_ERRMSG_SIZE]);

/* Delay before retry number `attempt` (0-based): initial_ms doubled per
 * attempt, capped at max_ms, then jittered into [d/2, d] with the caller's
 * random value `jitter`. Deterministic for a given jitter (tests pin it). */
uint32_t cl_backoff_delay_ms(uint32_t initial_ms, uint32_t max_ms, unsigned attempt,
                             uint32_t jitter);

/* ---- Client --------------------------------------------------------------*/

struct cl_options {
    const char *endpoints;          /* "H:P,H:P"; required */
    /* Identity: an agent key, the admin token, both, or neither (a
     * connection that may only do unauthenticated-safe calls). The key is
     * copied; the token is copied. */
    const uint8_t *secret_key;      /* CL_SECRET_KEY_LEN bytes or NULL */
    const char *admin_token;        /* NUL-terminated or NULL */
    uint32_t connect_timeout_ms;    /* per connect + handshake; 0 = 2000 */
    uint32_t attempt_timeout_ms;    /* per request attempt; 0 = 5000 */
    uint32_t deadline_ms;           /* whole call incl. retries; 0 = 15000 */
    uint32_t backoff_initial_ms;    /* 0 = 50 */
    uint32_t backoff_max_ms;        /* 0 = 1000 */
    bool redirect;                  /* ask followers to answer not_leader
                                       instead of forwarding */
    uint64_t client_id;             /* dedup id; 0 = random 64-bit */
};

/* Answer of one call. Owns the response frame its views point into;
 * release with cl_response_free (safe on a zeroed or already-freed one). */
struct cl_response {
    int code;                       /* REG_OK or an enum reg_err value */
    char message[REG_ERRMSG_SIZE];  /* server's or the client's detail */
    bool has_result;
    struct proto_val result;        /* the result map, for proto's decoders
                                       (valid if has_result) */
    uint64_t index;                 /* raft index of the answer, 0 if none */
    uint64_t leader_id;             /* last leader hint seen, 0 if none */
    char leader_addr[ST_ADDR_MAX + 1]; /* its client address, "" if none */
    uint64_t node_raft_id;          /* raft id of the node that answered */
    uint64_t seq;                   /* seq used (writes), 0 for reads */
    unsigned attempts;              /* sends made for this call */
    uint8_t *body_;                 /* private: the response frame */
};

struct cl_request {
    const char *op;                 /* wire op name of proto's op table */
    /* Arguments: cmd for write ops (encoded by proto_cmd_args_encode), args
     * for read and server ops, neither for ops without arguments. */
    const struct st_cmd *cmd;
    const struct proto_args *args;
    bool stale;                     /* reads: consistency=stale */
};

struct cl_client;

/* Create a client. Does not connect (the first call does). REG_OK and *out
 * owns a client to be released with cl_close; REG_INVALID_ARGUMENT (bad
 * endpoint list, over-long token) or REG_NOMEM with errmsg set, *out
 * untouched. */
int cl_open(const struct cl_options *opts, struct cl_client **out,
            char errmsg[static REG_ERRMSG_SIZE]);
/* Close the connection and free the client (NULL is fine). */
void cl_close(struct cl_client *cl);

/* Send one request, following redirects and retrying until the deadline.
 * Writes (PROTO_OP_WRITE rows) take the next seq and keep it across their
 * retries; reads and server ops are simply resent. Returns resp->code, which is also:
 *   REG_OK               the result is in resp->result;
 *   a business code      applied (or refused by the node) with a reason;
 *   REG_UNAVAILABLE      no endpoint could be reached before the deadline
 *                        (reads, and writes never sent);
 *   REG_NO_LEADER        the cluster answered but had no leader until the
 *                        deadline;
 *   REG_UNKNOWN_OUTCOME  a write was sent and no final answer came back;
 *   REG_UNAUTHENTICATED  the handshake was refused;
 *   REG_NOMEM / REG_MALFORMED (bad answer) / REG_INVALID_ARGUMENT (bad req).
 * resp is overwritten (free a previous answer first); free it after. */
int cl_call(struct cl_client *cl, const struct cl_request *req, struct cl_response *resp);
void cl_response_free(struct cl_response *resp);

/* Node id of our key as the cluster sees it now (0 if not registered or an
 * admin-only connection), from a "whoami" call (connects if needed, with
 * the usual retries). REG_OK, or the call's error with errmsg set. */
int cl_whoami(struct cl_client *cl, uint32_t *node_id, char errmsg[static REG_ERRMSG_SIZE]);
/* Client id used for deduplication and the next seq to be used. */
uint64_t cl_client_id(const struct cl_client *cl);
uint64_t cl_next_seq(const struct cl_client *cl);
/* Endpoint of the current connection ("" if not connected). */
const char *cl_connected_to(const struct cl_client *cl);
/* Local "ip:port" of the current connection, i.e. the address the node
 * sees us at (absent NAT). REG_OK, or REG_UNAVAILABLE when not connected. */
int cl_local_endpoint(const struct cl_client *cl, char *buf, size_t cap);
/* Drop the connection (the next call reconnects). */
void cl_disconnect(struct cl_client *cl);

#endif /* PILOT_CL_CLIENT_H */
