/* raft-glue: the registry's integration of canonical/raft 0.15 (Debian).
 *
 * This folder is the only code that includes <raft.h>. It knows nothing of
 * the registry's state machine or wire protocol: the server plugs those in
 * through struct glue_app (encode a batch of opaque client ops into one log
 * entry, apply one committed entry, snapshot, restore). Everything else about
 * raft lives here: group-committed proposals, linearizable reads through
 * coalesced barriers, the leader monitor (leader-init barrier, leader hint,
 * fail-stop), the dead-leader fast path (failover.c), membership changes,
 * snapshots, the authenticated peer transport, the ordering of raft_uv's log
 * barriers (io_order.c) and the node's lifecycle on one libuv loop.
 *
 * Threading: none. Every function must be called on the loop thread given to
 * glue_init; every callback runs on that thread.
 *
 * Callbacks (STYLE habit 10): a function that takes a callback and returns a
 * non-zero REG_* code has NOT scheduled it: the callback never runs and the
 * caller keeps every pointer it passed. A function that returns REG_OK calls
 * its callback exactly once, never synchronously from inside the call, and at
 * the latest while glue_shutdown runs (pending work then fails with the codes
 * documented per function).
 *
 * Error codes are REG_* from reg_common.h. Outcome classes (DESIGN.md §4):
 *   REG_NOT_LEADER, REG_NO_LEADER, REG_UNAVAILABLE, REG_RATE_LIMITED,
 *   REG_TOO_LARGE   -> definitely not applied;
 *   REG_UNKNOWN_OUTCOME -> proposed, then leadership was lost or the node
 *                          shut down: it may still commit. Retry with the
 *                          same (client, seq); the FSM deduplicates;
 *   REG_OK          -> committed and applied; the app's result says whether
 *                      the command was accepted or rejected by business rules.
 *
 * Prefix: glue_ public, glue__ cross-file internal. */
#ifndef PILOT_GLUE_H
#define PILOT_GLUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "reg_common.h"

struct uv_loop_s;
struct raft;     /* only for the fixture harness below; never dereferenced */
struct raft_fsm; /* idem */

#define GLUE_KEY_LEN 32     /* cluster key: 32 random bytes shared by all nodes */
#define GLUE_ADDR_MAX 63    /* "a.b.c.d:port" (IPv4 only in raft 0.15) */
#define GLUE_MAX_PEERS 16   /* founding configuration size cap */

/* ---- The application (the server's state machine adapter) ------------- */

/* Memory returned by `alloc` belongs to raft once handed back to glue. */
typedef void *(*glue_alloc_fn)(size_t size);

struct glue_app
{
    void *data;

    /* Turn ops[0..n) (pointers given to glue_submit, n >= 1) into ONE log
     * entry. ts_ms is the leader's wall clock (the only clock the state
     * machine may see). Allocate the entry with `alloc`, pad it with zeros to
     * a multiple of 8 bytes (raft 0.15 corrupts its log otherwise; glue
     * refuses unpadded entries with REG_INTERNAL), set *buf and *len, return
     * REG_OK. On error return a REG_* code, allocate nothing (or free with
     * glue_free_entry); every op of the batch then fails with that code
     * (definitely not applied). Must not call back into glue. */
    int (*encode)(void *data, void *const ops[], unsigned n, uint64_t ts_ms,
                  glue_alloc_fn alloc, void **buf, size_t *len,
                  char errmsg[static REG_ERRMSG_SIZE]);

    /* Optional: encoded size estimate of one op, for the batch byte cap.
     * NULL means every op counts as 256 bytes. */
    size_t (*op_size)(void *data, const void *op);

    /* Apply the committed entry at `index` (same bytes encode produced, on
     * every node, also when replaying after restart). MUST NOT FAIL
     * (raft-0.15-notes §0 item 2): a malformed or rejected entry becomes an
     * error inside the returned result. The returned pointer is owned by the
     * app, is only handed to submitters on the node that proposed the entry
     * and must stay valid until the next apply/restore (a scratch area). */
    const void *(*apply)(void *data, uint64_t index, const void *buf, size_t len);

    /* Optional: the result of the pos-th op inside an entry result (what
     * glue_submit_cb receives). NULL means every op receives the entry's
     * result itself. */
    const void *(*op_result)(void *data, const void *entry_result, unsigned pos);

    /* Serialise the whole state into one buffer from `alloc`. REG_OK or a
     * REG_* code (the snapshot is skipped and retried later). */
    int (*snapshot)(void *data, glue_alloc_fn alloc, void **buf, size_t *len);

    /* Replace the whole state with a snapshot (borrowed bytes). On failure
     * leave the current state untouched and return a REG_* code. */
    int (*restore)(void *data, const void *buf, size_t len);
};

/* Free an entry allocated with the alloc function glue passed to encode
 * (only for an encode that fails after allocating). */
void glue_free_entry(void *buf);

/* ---- Configuration ---------------------------------------------------- */

enum glue_mode {
    GLUE_MODE_BOOTSTRAP = 0, /* new single-node cluster (self as voter) */
    GLUE_MODE_INITIAL,       /* founding member of `peers` (identical on all) */
    GLUE_MODE_JOIN,          /* start empty; wait to be added by the leader */
    GLUE_MODE_RECOVER,       /* quorum lost: rewrite the configuration of this
                                node's existing log to itself alone as voter
                                (raft_recover), then start as a one-node
                                cluster that new nodes can join. Operator
                                action only, never automatic (notes §2.2). */
};

enum glue_log_level { GLUE_LOG_DEBUG = 0, GLUE_LOG_INFO, GLUE_LOG_WARN, GLUE_LOG_ERROR };

struct glue_peer
{
    uint64_t id;                      /* > 0 */
    char address[GLUE_ADDR_MAX + 1];  /* "a.b.c.d:port" */
};

/* Highest raft id a node may have: the ids above are the glue's own (the
 * configuration refresh's phantom spare, member.c). */
#define GLUE_ID_MAX (UINT64_MAX - 2)

struct glue_config
{
    uint64_t id;               /* raft id; 0 = read <data>/node-id or create it */
    const char *data_dir;      /* must exist; raft files go to <data>/raft/ */
    const char *raft_address;  /* "a.b.c.d:port"; listened on by the transport */
    uint8_t cluster_key[GLUE_KEY_LEN];
    enum glue_mode mode;
    const struct glue_peer *peers; /* GLUE_MODE_INITIAL: founding config (incl. self) */
    unsigned n_peers;

    unsigned election_timeout_ms;  /* default 1000 */
    unsigned heartbeat_timeout_ms; /* default 100; must be < election */
    unsigned snapshot_threshold;   /* default 4096 entries */
    unsigned snapshot_trailing;    /* default 8192 entries */
    size_t segment_size;           /* default 8 MiB */

    unsigned max_inflight;     /* K: raft entries in flight, default 2 */
    unsigned max_batch_ops;    /* N: ops per entry, default 256 */
    size_t max_batch_bytes;    /* ops bytes per entry, default 256 KiB */
    unsigned max_queued;       /* queued ops before REG_RATE_LIMITED, default 65536 */

    uint64_t min_free_bytes;      /* below: proposals refused (REG_UNAVAILABLE);
                                     default 3 x segment + 64 MiB */
    uint64_t critical_free_bytes; /* below: fail-stop; default 1 x segment */
    unsigned statfs_interval_ms;  /* free-space check period, default 1000 */

    /* Dead-leader fast path (failover.c): a follower that hears nothing
     * from its leader for 2 heartbeats probes the leader's raft address; a
     * refused connection (the process is gone) makes it forget the leader
     * and hold an election within about a heartbeat instead of after the
     * [T, 2T] timer. Timeouts and slowness never trigger it. false = on. */
    bool no_fast_failover;

    /* Structured log sink (raft's tracer and glue events). NULL = silent. */
    void (*log)(void *data, int level, const char *msg);
    void *log_data;

    /* Fail-stop (raft-0.15-notes §9.9): called once, after a best-effort
     * close of raft, when the node must stop (disk error, RAFT_UNAVAILABLE,
     * free space critical). NULL = log and exit(70). Tests override it. */
    void (*fail_stop)(void *data, int code, const char *why);
    void *fail_stop_data;
};

/* Fill c with the defaults above (zeroes everything else). */
void glue_config_defaults(struct glue_config *c);

/* Parse "1=10.0.0.1:7001,2=10.0.0.2:7001" into peers (max GLUE_MAX_PEERS).
 * REG_OK, or REG_INVALID_ARGUMENT with errmsg naming the bad item. */
int glue_parse_peers(const char *text, struct glue_peer *peers, unsigned max,
                     unsigned *n, char errmsg[static REG_ERRMSG_SIZE]);

/* ---- Lifecycle -------------------------------------------------------- */

struct glue;

/* Create a node on `loop`: validates cfg (heartbeat < election, address
 * form, peers contain self in INITIAL mode...), resolves the node id
 * (persisting a fresh random one in <data>/node-id if cfg->id == 0 and none
 * exists; REG_INVALID_ARGUMENT if cfg->id disagrees with that file), creates
 * <data>/raft/, initialises raft. Bootstraps in BOOTSTRAP/INITIAL mode;
 * an already initialised data dir is accepted (restart). cfg and app are
 * copied. REG_OK and *out, or INVALID_ARGUMENT / NOMEM / INTERNAL (raft or
 * disk error) with errmsg. On error nothing is left allocated, except after
 * a failed bootstrap, whose raft close completes on the loop (run it).
 * Side effect: SIGPIPE is ignored process-wide (raft_uv writes to peers
 * that may have hung up; EPIPE must be an error, not a signal). */
int glue_init(struct glue **out, struct uv_loop_s *loop, const struct glue_config *cfg,
              const struct glue_app *app, char errmsg[static REG_ERRMSG_SIZE]);

/* Start raft (restores the latest snapshot and may replay the log into
 * app->apply synchronously), the transport listener, the leader monitor and
 * the free-space watchdog. REG_OK or INTERNAL with errmsg; after a failure
 * only glue_shutdown is allowed. */
int glue_start(struct glue *g, char errmsg[static REG_ERRMSG_SIZE]);

/* Stop: if leader, transfer leadership first (bounded by 2x election
 * timeout); fail queued work (ops not yet proposed: REG_UNAVAILABLE; proposed:
 * REG_UNKNOWN_OUTCOME; reads and membership: REG_UNAVAILABLE); close raft on
 * the next loop iteration (never inside a raft callback, notes §0 item 3),
 * then glue's own handles; then cb(data) and g is freed. Works in every
 * state after glue_init, also after fail-stop. Call once. */
void glue_shutdown(struct glue *g, void (*cb)(void *data), void *data);

/* ---- Proposals (group commit) ----------------------------------------- */

/* status REG_OK: result is app->op_result(entry_result, pos) (valid only
 * during the callback), index is the entry's log index. Otherwise result is
 * NULL and status is REG_UNKNOWN_OUTCOME (leadership lost / shutdown),
 * REG_UNAVAILABLE (not proposed: shutdown), a code from app->encode, or
 * REG_INTERNAL (disk error: the node fail-stops). */
typedef void (*glue_submit_cb)(void *data, int status, const void *result, uint64_t index);

/* Queue one opaque op (borrowed until its callback) for proposal. While
 * fewer than max_inflight entries are in flight, queued ops are encoded (up to
 * max_batch_ops / max_batch_bytes) into one entry. Leader only (ready not
 * required: a write is safe once committed).
 * Returns REG_OK, REG_NOT_LEADER (see glue_leader for the hint),
 * REG_UNAVAILABLE (low disk space, shutting down, failed), REG_RATE_LIMITED
 * (queue full), REG_NOMEM. Proposing happens at the next monitor run (next
 * loop iteration), so ops submitted in one iteration share an entry. */
int glue_submit(struct glue *g, void *op, glue_submit_cb cb, void *data);

/* ---- Linearizable reads ------------------------------------------------ */

/* status REG_OK: every write committed before glue_read was called is
 * applied locally and this node was leader after the call: read the state
 * now, inside the callback. Otherwise REG_NOT_LEADER (leadership lost while
 * waiting), REG_UNAVAILABLE (shutdown) or REG_INTERNAL (disk error). */
typedef void (*glue_read_cb)(void *data, int status);

/* Wait for a barrier issued after this call. Reads share barriers: one
 * raft_barrier serves every read queued before it was submitted. A leader
 * that is not yet ready (leader-init barrier pending) queues the read until
 * it is (or fails it with REG_NOT_LEADER if it loses leadership).
 * Returns REG_OK, REG_NOT_LEADER, REG_UNAVAILABLE or REG_NOMEM. There is no
 * glue-level deadline: the caller may answer its client TIMEOUT early but
 * must keep `data` alive until the callback. */
int glue_read(struct glue *g, glue_read_cb cb, void *data);

/* ---- Membership (leader-ready only, one change at a time) -------------- */

typedef void (*glue_change_cb)(void *data, int status, const char *msg);

/* Add id at raft_addr: raft_add (spare) -> assign standby -> wait until it
 * has caught up -> assign voter. Retries RAFT_CANTCHANGE / NOCONNECTION with
 * backoff (bounded). Idempotent: an existing voter with the same address
 * succeeds at once. cb status: REG_OK, REG_ALREADY_EXISTS (id present with
 * another address), REG_NOT_LEADER (lost leadership), REG_TIMEOUT (never
 * caught up / retries exhausted), REG_UNAVAILABLE (shutdown).
 * Returns REG_OK, REG_NOT_LEADER (not leader or not yet ready),
 * REG_INVALID_ARGUMENT, REG_RATE_LIMITED (queue full), REG_UNAVAILABLE. */
int glue_member_add(struct glue *g, uint64_t id, const char *raft_addr,
                    glue_change_cb cb, void *data);

/* Remove id. Refuses (cb REG_FAILED_PRECONDITION) to leave fewer than three
 * voters unless force. If id is this leader, leadership is transferred first
 * and cb gets REG_NOT_LEADER (retry on the new leader, see glue_leader); if
 * the transfer fails the leader removes itself and steps down after commit.
 * cb: REG_OK, REG_NOT_FOUND, REG_FAILED_PRECONDITION, REG_NOT_LEADER,
 * REG_TIMEOUT, REG_UNAVAILABLE. Returns as glue_member_add. */
int glue_member_remove(struct glue *g, uint64_t id, bool force, glue_change_cb cb,
                       void *data);

/* Transfer leadership to id (0 = the most up-to-date voter). cb: REG_OK
 * (another node leads now), REG_TIMEOUT (this node still leads),
 * REG_UNAVAILABLE (shutdown). Returns REG_OK, REG_NOT_LEADER,
 * REG_INVALID_ARGUMENT (id not a voter / self), REG_RATE_LIMITED (a transfer
 * is already running). */
int glue_transfer(struct glue *g, uint64_t id, glue_change_cb cb, void *data);

/* ---- Queries (cheap; for the server, /status and /metrics) ------------- */

enum glue_state { GLUE_UNAVAILABLE = 0, GLUE_FOLLOWER, GLUE_CANDIDATE, GLUE_LEADER };
enum glue_role { GLUE_ROLE_STANDBY = 0, GLUE_ROLE_VOTER = 1, GLUE_ROLE_SPARE = 2 };
/* Stable lower-case names ("leader", "voter"...) for status output;
 * "unavailable" / "none" for values outside the enums. */
const char *glue_state_name(int state);
const char *glue_role_name(int role);

struct glue_server
{
    uint64_t id;
    char address[GLUE_ADDR_MAX + 1];
    int role; /* enum glue_role */
};

struct glue_status
{
    uint64_t id;
    int state;               /* enum glue_state */
    bool ready;              /* leader and its leader-init barrier committed */
    bool low_space;          /* proposals refused for lack of disk space */
    bool failed;             /* fail-stop in progress */
    uint64_t term;
    uint64_t commit_index;
    uint64_t applied_index;  /* highest entry applied here (tracked by glue) */
    uint64_t last_index;
    uint64_t leader_id;      /* 0 if unknown */
    char leader_address[GLUE_ADDR_MAX + 1];
    uint64_t leader_changes; /* times the known leader changed */
    uint64_t committed;      /* ops committed from this node's proposals */
    uint64_t failed_ops;     /* ops that ended with a status other than OK */
    uint64_t pending;        /* ops queued or in flight */
    uint64_t entries;        /* entries proposed by this node */
    uint64_t barriers;       /* read barriers issued */
    uint64_t config_refreshes; /* configuration refreshes queued (member.c) */
    uint64_t log_truncates;    /* log truncations handed to raft_uv */
    uint64_t barriers_deferred; /* truncates/snapshot puts held back (io_order.c) */
    uint64_t reads;          /* reads served */
    uint64_t commit_latency_ms_last; /* proposal -> callback, last entry */
    uint64_t commit_latency_ms_max;
    uint64_t commit_latency_ms_sum;  /* / entries_done = mean */
    uint64_t entries_done;
    uint64_t leader_probes;          /* dead-leader probes started */
    uint64_t leader_probes_refused;  /* ... that found nothing listening */
    uint64_t fast_elections;         /* refusals acted on (leader forgotten) */
};

void glue_status(struct glue *g, struct glue_status *st);
uint64_t glue_id(struct glue *g);
bool glue_is_leader(struct glue *g);
bool glue_ready(struct glue *g);
/* Leader hint copied at the last monitor run: *id 0 if unknown; address
 * (GLUE_ADDR_MAX+1 bytes) set to "" then. */
void glue_leader(struct glue *g, uint64_t *id, char address[static GLUE_ADDR_MAX + 1]);
/* Copy up to max servers of the current configuration; returns the count. */
unsigned glue_configuration(struct glue *g, struct glue_server *out, unsigned max);

/* ---- Test harness: raft_fixture (tests/fixture only) ------------------- *
 * Runs the same glue core on a raft_fixture server instead of raft_uv:
 *   g = glue_fixture_new(&cfg, &app);           only the tunables of cfg
 *   raft_fixture_grow(f, glue_fixture_fsm(g));  (fixture owns struct raft)
 *   glue_fixture_attach(g, raft_fixture_get(f, i)); applies the settings
 *   ...each step: glue_fixture_monitor(g) from raft_fixture_hook...
 *   glue_fixture_free(g) after raft_fixture_close.
 * Wall clock and timers use the fixture's virtual time. */
struct glue *glue_fixture_new(const struct glue_config *cfg, const struct glue_app *app);
struct raft_fsm *glue_fixture_fsm(struct glue *g);
void glue_fixture_attach(struct glue *g, struct raft *r);
void glue_fixture_monitor(struct glue *g);
/* The dead-leader probe (see glue_config.no_fast_failover) has no sockets
 * in the fixture: `probe` answers it at once with a GLUE_PROBE_* result for
 * the leader `id` at `address` ("<id>" in the fixture). NULL = no probes. */
enum glue_probe_result { GLUE_PROBE_ALIVE = 0, GLUE_PROBE_REFUSED, GLUE_PROBE_INCONCLUSIVE };
void glue_fixture_set_probe(struct glue *g,
                            int (*probe)(void *data, uint64_t id, const char *address),
                            void *data);
/* Fails every queued or pending request with REG_UNAVAILABLE, then frees. */
void glue_fixture_free(struct glue *g);

#endif /* PILOT_GLUE_H */
