/* reg_common: what every layer of the registry shares and nothing more:
 * the one error-code table (stable wire strings), the human-detail message
 * buffer, and the allocation wrapper with its fault-injection hook.
 *
 * Prefix: reg_ (public), reg__ (cross-file internal). No I/O, no clocks. */
#ifndef PILOT_REG_COMMON_H
#define PILOT_REG_COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* ---- Error codes -------------------------------------------------------
 *
 * Checklist: a row added here is a new stable wire string. Clients, pilotctl
 * exit-code mapping (pilotctl/), jepsen's outcome table (jepsen/) and the
 * README's error list must learn it too. Never renumber or rename a row;
 * wire strings are matched by clients.
 *
 * Outcome classes (DESIGN.md §4): codes marked "pre" are returned only when
 * the request was definitely not applied; UNKNOWN_OUTCOME means it may have
 * been; business codes (invalid_argument … resource_exhausted) are results
 * of a command that was applied and changed nothing. */
#define REG_ERR_MAP(X)                                                        \
    X(OK, "ok", "success")                                                    \
    X(INVALID_ARGUMENT, "invalid_argument", "invalid argument")               \
    X(NOT_FOUND, "not_found", "not found")                                    \
    X(ALREADY_EXISTS, "already_exists", "already exists")                     \
    X(PERMISSION_DENIED, "permission_denied", "permission denied")            \
    X(FAILED_PRECONDITION, "failed_precondition", "failed precondition")      \
    X(RESOURCE_EXHAUSTED, "resource_exhausted", "resource exhausted")         \
    X(UNAUTHENTICATED, "unauthenticated", "unauthenticated")   /* pre */      \
    X(NOT_LEADER, "not_leader", "not the leader")              /* pre */      \
    X(NO_LEADER, "no_leader", "no leader")                     /* pre */      \
    X(UNKNOWN_OUTCOME, "unknown_outcome", "outcome unknown")                  \
    X(RATE_LIMITED, "rate_limited", "rate limited")            /* pre */      \
    X(TOO_LARGE, "too_large", "too large")                     /* pre */      \
    X(MALFORMED, "malformed", "malformed input")               /* pre */      \
    X(UNAVAILABLE, "unavailable", "unavailable")               /* pre */      \
    X(TIMEOUT, "timeout", "timed out")                                        \
    X(NOMEM, "nomem", "out of memory")                                        \
    X(INTERNAL, "internal", "internal error")

enum reg_err {
#define REG__ERR_ENUM(name, wire, text) REG_##name,
    REG_ERR_MAP(REG__ERR_ENUM)
#undef REG__ERR_ENUM
    REG_ERR_COUNT
};

/* Stable wire string of a code ("not_leader"); "internal" for unknown codes. */
const char *reg_err_name(int code);
/* Short human text of a code. */
const char *reg_strerror(int code);
/* Code of a wire string; REG_INTERNAL if unknown (a newer peer's code). */
int reg_err_from_name(const char *name, size_t len);

/* ---- Human detail ------------------------------------------------------
 * Detail travels in a caller-supplied buffer of REG_ERRMSG_SIZE bytes; each
 * layer may prefix its own context with reg_errmsg_wrapf. Only the edges
 * (main, pilotctl commands, the HTTP handler) print it. */
#define REG_ERRMSG_SIZE 256

/* Write a formatted message into buf (always NUL-terminated, truncated). */
void reg_errmsgf(char buf[static REG_ERRMSG_SIZE], const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Prefix buf's current content with "<context>: ". */
void reg_errmsg_wrapf(char buf[static REG_ERRMSG_SIZE], const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- Allocation --------------------------------------------------------
 * Every allocation of proto, client, server and raft-glue goes through these
 * so tests can fail the Nth allocation. They return NULL on failure; callers
 * return REG_NOMEM. registry/state uses the aborting variants instead,
 * because a replica that skips half an entry diverges (STYLE habit 9). */
void *reg_malloc(size_t n);
void *reg_calloc(size_t count, size_t n);
void *reg_realloc(void *p, size_t n);
void reg_free(void *p);
char *reg_strdup(const char *s);

/* Aborting variants: never return NULL. */
void *reg_xmalloc(size_t n);
void *reg_xcalloc(size_t count, size_t n);
void *reg_xrealloc(void *p, size_t n);
/* n bytes aligned to align (a power of two, multiple of sizeof(void *));
 * n is rounded up to a multiple of align. Free with reg_free. */
void *reg_xaligned(size_t align, size_t n);

/* Test hook: the nth call from now to a non-aborting allocator fails
 * (1 = the next one); 0 disables. Returns the number of allocations made
 * since the last call, so a test can sweep every failure point. */
unsigned long reg_alloc_fail_at(unsigned long nth);

/* ---- Constant-time helpers (STYLE habit 20) ---------------------------- */
/* 1 if the n bytes at a and b are equal, in time independent of content. */
int reg_ct_equal(const void *a, const void *b, size_t n);

#endif /* PILOT_REG_COMMON_H */
