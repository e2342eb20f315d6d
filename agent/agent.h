/* agent: pilot-agent, the daemon that holds an agent's identity, keeps it
 * registered and online in the registry cluster, and runs the data plane
 * with the registry's access checks (issue 5, docs/agent.md).
 *
 * This header is the folder's public API: the data-plane packet codec and
 * its crypto (wire.c), the replay window, and the IPC codec that pilotctl
 * and tests use to drive a running daemon (ipc.c). The daemon itself
 * (daemon.c, registry.c, access.c, dataplane.c, trustfile.c) is internal.
 *
 * Conventions: return codes are enum reg_err values with detail in a
 * REG_ERRMSG_SIZE buffer; nothing here prints. Decoders are total: any
 * bytes give a value or an error. Prefix: agent_ public, agent__ internal. */
#ifndef PILOT_AGENT_H
#define PILOT_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"
#include "reg_common.h"

/* ---- Data-plane packets (wire.c) -------------------------------------------
 * One UDP datagram per packet. The 56-byte header travels in the clear and
 * is authenticated as associated data; the payload is sealed with
 * XChaCha20-Poly1305 under the pair key of the two agents.
 *
 *   0    2    3    4         8         12     14      16     20     24       32       56
 *   | "PD" | v1 | type | src u32 | dst u32 | port | flags | conn | pseq | seq u64 | nonce 24 | sealed payload + 16 tag |
 *
 * All integers big-endian. port: the destination port of a datagram or of
 * the connection. conn: connection id chosen by the initiator (0 for a
 * datagram). pseq: stream segment number (DATA/FIN) or cumulative ack
 * (ACK/SYNACK). seq: the sender daemon's replay counter, strictly
 * increasing across all its packets and across restarts (it never falls
 * below the sender's wall clock in microseconds). */
#define AGENT_PKT_HDR 56
#define AGENT_PKT_TAG 16
#define AGENT_PKT_NONCE 24
#define AGENT_PKT_PAYLOAD_MAX 1200
#define AGENT_PKT_MAX (AGENT_PKT_HDR + AGENT_PKT_PAYLOAD_MAX + AGENT_PKT_TAG)
#define AGENT_KEY_LEN 32

enum agent_pkt_type {
    AGENT_PKT_DGRAM = 1,            /* one datagram to port */
    AGENT_PKT_SYN = 2,              /* connection request to port */
    AGENT_PKT_SYNACK = 3,
    AGENT_PKT_DATA = 4,
    AGENT_PKT_ACK = 5,
    AGENT_PKT_FIN = 6,
};
#define AGENT_FLAG_FROM_INITIATOR 1u /* sent by the side that opened conn */

struct agent_pkt {
    uint8_t type;
    uint32_t src, dst;
    uint16_t port, flags;
    uint32_t conn, pseq;
    uint64_t seq;
    const uint8_t *payload;         /* open: points into the caller's buffer */
    size_t payload_len;
};

/* Pair key of two agents from one's Ed25519 secret key (64 bytes) and the
 * other's Ed25519 public key: X25519 of the converted keys, then BLAKE2b
 * keyed with it over a label and both public keys in a fixed order, so
 * both ends derive the same key. REG_OK or REG_INVALID_ARGUMENT (a public
 * key that is not a valid curve point). */
int agent_pair_key(const uint8_t my_sk[static 64], const uint8_t peer_pk[static AGENT_KEY_LEN],
                   uint8_t out[static AGENT_KEY_LEN]);
/* Seal p (payload_len <= AGENT_PKT_PAYLOAD_MAX) into buf[cap] with a fresh
 * random nonce. Returns the packet length, or 0 if cap is too small or
 * the payload too long. */
size_t agent_pkt_seal(const struct agent_pkt *p, const uint8_t key[static AGENT_KEY_LEN],
                      uint8_t *buf, size_t cap);
/* Read the clear header of buf (no key needed; nothing is authentic yet).
 * REG_OK or REG_MALFORMED (short, bad magic/version/type, payload too long). */
int agent_pkt_peek(const uint8_t *buf, size_t len, struct agent_pkt *p);
/* Authenticate and decrypt buf in place with key; on REG_OK p describes the
 * packet and p->payload points into buf. REG_UNAUTHENTICATED if the tag
 * does not verify (wrong key, tampered header or payload). */
int agent_pkt_open(uint8_t *buf, size_t len, const uint8_t key[static AGENT_KEY_LEN],
                   struct agent_pkt *p);

/* Replay window of one peer: the highest seq accepted and a 64-wide bitmap
 * below it. */
struct agent_replay {
    uint64_t top;
    uint64_t bits;
};
/* True if seq is new (and records it); false for a replay or a seq too far
 * behind. Call only for packets that authenticated. */
bool agent_replay_accept(struct agent_replay *w, uint64_t seq);

/* ---- IPC between pilotctl and the daemon (ipc.c) -----------------------------
 * A Unix stream socket at $PILOT_HOME/agent.sock (mode 0600). Each message is
 * a 4-byte big-endian length and one msgpack map (registry/proto framing,
 * at most AGENT_IPC_MAX bytes).
 *   requests : {op:"status"} {op:"stop"}
 *              {op:"send", node:<str id|address|hostname>, port, data:<bin>}
 *              {op:"listen", port, echo:<bool>}
 *              {op:"connect", node:<str>, port}, then {op:"data", data} and {op:"close"}
 *   answers  : {ok:true, ...} or {ok:false, code:<REG_ERR_MAP name>, message}
 *   events   : {ev:"dgram"|"accept"|"data"|"close", from, port, conn, data?, reason?}
 * A listen or connect session keeps its socket for the events. */
#define AGENT_IPC_MAX (64u * 1024u)
#define AGENT_SOCK_NAME "agent.sock"
#define AGENT_PID_NAME "agent.pid"
#define AGENT_LOG_NAME "agent.log"
#define AGENT_TRUST_NAME "trust.json"

struct agent_ipc_msg {
    char op[16];                    /* requests */
    char ev[16];                    /* events */
    bool has_ok, ok;                /* answers */
    char code[32];
    char message[REG_ERRMSG_SIZE];
    char node[ST_HOSTNAME_MAX + 1]; /* request target */
    uint32_t port;
    bool echo;
    uint32_t from, conn, node_id;
    const uint8_t *data;            /* view into the frame */
    size_t data_len;
    char reason[64];
    struct proto_val root;          /* whole message, for extra fields */
};

/* Encode a request/answer/event from m's fields that are set (non-empty
 * strings, has_ok, data != NULL; integers when non-zero) plus, optionally,
 * pre-encoded extra key/value pairs (n_extra pairs in extra[extra_len]). */
int agent_ipc_encode(struct proto_out *o, const struct agent_ipc_msg *m, uint32_t n_extra,
                     const void *extra, size_t extra_len);
/* Decode one frame body into m (views point into body). REG_OK,
 * REG_MALFORMED or REG_INVALID_ARGUMENT with errmsg. */
int agent_ipc_decode(const uint8_t *body, size_t len, struct agent_ipc_msg *m,
                     char errmsg[static REG_ERRMSG_SIZE]);

/* Blocking client side (pilotctl, tests). */
/* Connect to $home/agent.sock. fd >= 0, or -1 with errmsg. */
int agent_ipc_connect(const char *home, char errmsg[static REG_ERRMSG_SIZE]);
/* Send one message. REG_OK or REG_UNAVAILABLE. */
int agent_ipc_send(int fd, const struct agent_ipc_msg *m);
/* Receive one frame into buf[cap] within timeout_ms (-1 = forever) and
 * decode it. REG_OK, REG_TIMEOUT, REG_UNAVAILABLE (closed), REG_MALFORMED. */
int agent_ipc_recv(int fd, uint8_t *buf, size_t cap, int timeout_ms, struct agent_ipc_msg *m,
                   char errmsg[static REG_ERRMSG_SIZE]);

#endif /* PILOT_AGENT_H */
