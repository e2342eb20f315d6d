/* jepsen_checker: reads Jepsen-style operation histories (JSON lines or a
 * tolerant EDN subset), pairs invocations with completions, and decides
 * whether the history is linearizable for a small model (WGL/Lowe search,
 * P-compositional per key, memoised), plus linear-time direct checkers with
 * clearer messages (stale allow, resurrection, lost ack, phantom, monotonic
 * applied index, convergence). See jepsen/README.md for the formats and the
 * error-to-outcome table.
 *
 * Prefix: jc_ (public), jc__ (cross-file internal). The library depends only
 * on reg_common and jansson. No function prints; detail goes to an errmsg
 * buffer of REG_ERRMSG_SIZE bytes. Return codes come from REG_ERR_MAP:
 * REG_OK, REG_MALFORMED (bad history or bad input for the model),
 * REG_INVALID_ARGUMENT (bad call), REG_NOMEM. On any error the output
 * arguments are left empty (nothing to free). */
#ifndef PILOT_JEPSEN_CHECKER_H
#define PILOT_JEPSEN_CHECKER_H

#include <stddef.h>
#include <stdint.h>

#include "reg_common.h"

/* ---- Values -------------------------------------------------------------
 * One tree type for JSON and EDN values. Keywords lose their ':' and become
 * strings, so ":read" and "read" compare equal. A value owns its strings and
 * items; jc_val_free releases them (not the struct itself, which is usually
 * embedded in an op or an items array). */
enum jc_vtype { JC_NIL, JC_BOOL, JC_INT, JC_STR, JC_VEC, JC_MAP };

struct jc_val {
    enum jc_vtype type;
    int64_t i;            /* JC_BOOL (0 or 1) and JC_INT */
    char *s;              /* JC_STR, NUL-terminated */
    size_t n;             /* JC_VEC: item count; JC_MAP: pair count */
    struct jc_val *items; /* JC_VEC: n items; JC_MAP: 2n items, key then value */
};

void jc_val_free(struct jc_val *v);
/* Total order over values (type first, then content); 0 when equal. */
int jc_val_cmp(const struct jc_val *a, const struct jc_val *b);
/* Value of key `name` (a string or keyword) in a map, or NULL. */
const struct jc_val *jc_val_get(const struct jc_val *map, const char *name);
/* Compact text of v into buf (always NUL-terminated, truncated). */
void jc_val_format(const struct jc_val *v, char *buf, size_t len);

/* ---- History ------------------------------------------------------------
 * An op is one history line. Absent integer fields are JC_ABSENT, absent
 * strings NULL, absent values JC_NIL. `process` is JC_NEMESIS for the
 * nemesis (its ops are ignored by every checker). */
#define JC_ABSENT INT64_MIN
#define JC_NEMESIS (INT64_MIN + 1)

enum jc_type { JC_INVOKE, JC_OK, JC_FAIL, JC_INFO };

struct jc_op {
    int64_t index;         /* from the file, or its line position */
    int64_t time;          /* monotonic ns since test start, or JC_ABSENT */
    enum jc_type type;
    int64_t process;
    char *f;               /* never NULL once in a history */
    struct jc_val value;
    struct jc_val key;     /* partition key; JC_NIL = the single object */
    char *error;           /* error code string, or NULL */
    char *node;
    char *req_id;
    int64_t applied_index; /* raft index the op applied at or read at */
};

struct jc_history {
    struct jc_op *ops;
    size_t n;
    size_t cap;
};

void jc_history_init(struct jc_history *h);
void jc_history_free(struct jc_history *h);
/* Append op; on REG_OK the history owns op's strings and values (op is
 * zeroed), on REG_NOMEM the caller keeps them. */
int jc_history_append(struct jc_history *h, struct jc_op *op);
/* Release what an op owns (for ops never appended). */
void jc_op_free(struct jc_op *op);

enum jc_format { JC_FORMAT_JSONL, JC_FORMAT_EDN };

/* Parse text into h (which must be initialised and empty). JSON lines: one
 * object per non-blank line with fields index, time, type, process, f,
 * value, key, error, node, req_id, applied_index. EDN: a vector or list of
 * maps, or maps one after another, with the same keys as keywords.
 * REG_MALFORMED names the line and the problem; h is left empty. */
int jc_read_history(const char *text, size_t len, enum jc_format fmt, struct jc_history *h,
                    char errmsg[static REG_ERRMSG_SIZE]);

/* ---- Pairing ------------------------------------------------------------
 * One entry per client operation: invoke plus completion. fail = did not
 * happen; info (or no completion at all) = may happen at any time after the
 * invoke, so its interval is open-ended (ret = INT64_MAX). Times are the ops'
 * `time` when every client op has one (they must not decrease), else the
 * ops' positions. Intervals are closed: a precedes b iff a.ret < b.call.
 * Retries of one request (same non-NULL req_id on the invokes) are merged
 * into one logical op: its first invoke, and the completion of its first ok
 * attempt, else its first info attempt, else fail.
 * Malformed (REG_MALFORMED): a completion with no open invoke, two invokes
 * in a row by one process, a process reused after it got info, a completion
 * whose f differs from its invoke, decreasing times, a retry with another f. */
struct jc_pair {
    size_t inv;           /* position in h->ops of the invoke */
    size_t done;          /* position of the completion, or SIZE_MAX */
    enum jc_type outcome; /* JC_OK, JC_FAIL or JC_INFO */
    int64_t call;
    int64_t ret;
};

struct jc_pairs {
    struct jc_pair *p;
    size_t n;
};

int jc_pair_history(const struct jc_history *h, struct jc_pairs *out,
                    char errmsg[static REG_ERRMSG_SIZE]);
void jc_pairs_free(struct jc_pairs *pairs);

/* ---- Models -------------------------------------------------------------
 * A model turns a paired op into a compact call (prepare) and is a pure
 * function over small fixed-size states (init, step, hash, eq). An info op
 * is prepared with JC_CALL_UNKNOWN: step must then accept any output, and
 * "never took effect" is covered by the search leaving it unlinearized.
 * A business rejection (completion value {"rejected": code}, or an ok
 * completion carrying an error code) is JC_CALL_REJECTED, and step checks
 * that the rejection was justified by the state. */
#define JC_STATE_MAX 16

#define JC_CALL_UNKNOWN 1u  /* info: output unknown */
#define JC_CALL_READ 2u     /* never changes the state */
#define JC_CALL_REJECTED 4u /* applied, answered with a business rejection */
#define JC_CALL_FAILED 8u   /* recorded fail: did not happen */
#define JC_CALL_PROBE 16u   /* f "hash": a state-hash probe, not a model op */

/* Call kinds per model. */
enum { JC_REG_READ, JC_REG_WRITE, JC_REG_CAS };
enum { JC_ACC_JOIN, JC_ACC_KICK, JC_ACC_APPROVE, JC_ACC_UNTRUST, JC_ACC_RESOLVE };
enum { JC_SET_ADD, JC_SET_REMOVE, JC_SET_READ };
enum { JC_UNQ_WRITE, JC_UNQ_READ };

/* Rejection classes a model can justify (others are state-independent and
 * legal in any state). */
enum { JC_REJ_OTHER, JC_REJ_NOT_FOUND, JC_REJ_EXISTS, JC_REJ_PRECONDITION };

struct jc_call {
    const struct jc_val *key; /* borrowed from the history */
    uint32_t kind;
    uint32_t flags;
    int64_t a, b;             /* arguments (register value, cas from/to, set element) */
    int64_t out;              /* output (read value, allow=1/deny=0, rejection class) */
    uint64_t set;             /* set read output, bit e = element e present */
    size_t pair;              /* index into jc_pairs */
};

struct jc_opts {
    int64_t budget_steps;     /* per partition; 0 = default (2,000,000) */
    int64_t budget_ms;        /* per partition; 0 = default (10,000) */
    int has_init;             /* register: start at `init` instead of nil */
    int64_t init;
};

struct jc_model {
    const char *name;
    size_t state_size; /* <= JC_STATE_MAX; states are compared byte-wise */
    void (*init)(void *state, const struct jc_opts *opts);
    /* REG_OK, or REG_MALFORMED with errmsg naming what is wrong. done is
     * NULL when the op never completed. */
    int (*prepare)(const struct jc_op *inv, const struct jc_op *done, enum jc_type outcome,
                   struct jc_call *call, char errmsg[static REG_ERRMSG_SIZE]);
    /* 1 and *next set when call is legal in state, else 0. */
    int (*step)(const void *state, const struct jc_call *call, void *next);
    uint64_t (*hash)(const void *state);
    int (*eq)(const void *a, const void *b);
    void (*describe)(const void *state, char *buf, size_t len);
};

extern const struct jc_model jc_model_register; /* read / write v / cas [from to] */
extern const struct jc_model jc_model_access;   /* join kick approve untrust resolve */
extern const struct jc_model jc_model_set;      /* add e / remove e / read -> [e...] */
extern const struct jc_model jc_model_unique;   /* write (unique) / read -> bool */
/* Model by name ("register", "access", "set", "unique"), or NULL. */
const struct jc_model *jc_model_find(const char *name);

/* Prepare every pair (fail ones too, flagged JC_CALL_FAILED). *calls is
 * allocated (free with reg_free); ncalls = pairs->n. */
int jc_prepare(const struct jc_history *h, const struct jc_pairs *pairs,
               const struct jc_model *m, const struct jc_opts *opts, struct jc_call **calls,
               char errmsg[static REG_ERRMSG_SIZE]);

/* ---- Verdicts -----------------------------------------------------------
 * unknown (budget exhausted) must fail a run just as invalid does. */
enum jc_verdict { JC_VALID, JC_INVALID, JC_UNKNOWN };
const char *jc_verdict_name(enum jc_verdict v);

/* ---- Linearizability (WGL search) ---------------------------------------
 * Splits the history by call key (P-compositionality), searches each
 * partition within the budget, and stops at the first invalid partition.
 * For an invalid partition, fail_op is the history index of the first op
 * that cannot be linearized after the longest linearizable prefix, whose
 * history indexes are in prefix[0..prefix_len). */
struct jc_lin_result {
    enum jc_verdict verdict;
    size_t partitions;
    size_t unknown_partitions;
    size_t ops;              /* calls searched (fail and info reads dropped) */
    size_t max_partition;    /* largest partition, in calls */
    uint64_t steps;          /* search steps over all partitions */
    uint64_t cache_entries;  /* memoised (linearized set, state) pairs */
    int64_t fail_op;         /* JC_ABSENT unless invalid */
    int64_t *prefix;
    size_t prefix_len;
    char msg[REG_ERRMSG_SIZE];
};

int jc_check_linearizable(const struct jc_history *h, const struct jc_pairs *pairs,
                          const struct jc_model *m, const struct jc_opts *opts,
                          struct jc_lin_result *res, char errmsg[static REG_ERRMSG_SIZE]);
void jc_lin_result_free(struct jc_lin_result *res);

/* ---- Direct checkers ----------------------------------------------------
 * Each returns REG_OK with a verdict (never unknown) and, when invalid, the
 * history index of the first offending op and a message naming the witness.
 * A checker that does not apply to the model is valid with "n/a" in msg. */
struct jc_direct_result {
    enum jc_verdict verdict;
    size_t violations;
    int64_t first_op;
    char msg[REG_ERRMSG_SIZE];
};

enum jc_direct {
    JC_D_STALE_ALLOW,  /* access: allow after a completed kick/untrust, no re-grant */
    JC_D_RESURRECTION, /* set/access: present again after a completed remove/deny */
    JC_D_LOST_ACK,     /* set/unique/access: ok write absent from final reads */
    JC_D_PHANTOM,      /* any: observed effect whose only causes failed (or none) */
    JC_D_MONOTONIC,    /* per node, applied_index never goes back in real time */
    JC_D_CONVERGENCE,  /* "hash" ops: equal state hash at equal applied index */
    JC_D_COUNT
};
const char *jc_direct_name(enum jc_direct which);

int jc_check_direct(enum jc_direct which, const struct jc_history *h,
                    const struct jc_pairs *pairs, const struct jc_model *m,
                    const struct jc_opts *opts, struct jc_direct_result *res,
                    char errmsg[static REG_ERRMSG_SIZE]);

/* ---- Error-to-outcome mapping --------------------------------------------
 * How a client records an op it sent (DESIGN.md §4, fault-injection.md
 * §5.5): fail only when the request provably did not apply, info when it
 * may have. The table is in jepsen/README.md. */
enum jc_delivery {
    JC_NOT_SENT,      /* connect refused/timed out, nothing written */
    JC_SENT_NO_REPLY, /* timeout, EOF or reset after the request was written */
    JC_REPLIED        /* the server answered with `code` */
};
enum jc_outcome { JC_OUT_OK, JC_OUT_REJECTED, JC_OUT_FAIL, JC_OUT_INFO };
const char *jc_outcome_name(enum jc_outcome o);
/* code: a REG_* code (any int; unknown codes are treated as internal).
 * is_read: the op cannot change state, so an unknown outcome is a fail. */
enum jc_outcome jc_outcome_of(int code, enum jc_delivery d, int is_read);

#endif /* PILOT_JEPSEN_CHECKER_H */
