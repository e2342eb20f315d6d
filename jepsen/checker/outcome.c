/* The error-to-outcome table (DESIGN.md §4 outcome classes,
 * fault-injection.md §5.5): how a client records an op from what happened
 * to its request. Fail only when the request provably did not apply (the
 * "pre" codes of REG_ERR_MAP, or nothing was sent); info when it may have;
 * a business code is the result of an applied command, so the op is ok with
 * a rejection value. jepsen/README.md shows this table; keep both in step.
 *
 * Checklist: a row added to REG_ERR_MAP must get a case here, or it falls
 * to the conservative default (info for writes). */
#include "checker.h"

const char *jc_outcome_name(enum jc_outcome o)
{
    switch (o) {
    case JC_OUT_OK:
        return "ok";
    case JC_OUT_REJECTED:
        return "ok-rejected";
    case JC_OUT_FAIL:
        return "fail";
    case JC_OUT_INFO:
        return "info";
    }
    return "info";
}

enum jc_outcome jc_outcome_of(int code, enum jc_delivery d, int is_read)
{
    /* A read changes nothing, so "may have applied" is as good as "did
     * not": recording it as fail is sound and keeps the search small
     * (fault-injection.md §2). */
    enum jc_outcome unknown = is_read ? JC_OUT_FAIL : JC_OUT_INFO;

    if (d == JC_NOT_SENT) {
        return JC_OUT_FAIL;
    }
    if (d != JC_REPLIED) {
        return unknown;
    }
    switch (code) {
    case REG_OK:
        return JC_OUT_OK;
    case REG_NOT_FOUND:
    case REG_ALREADY_EXISTS:
    case REG_PERMISSION_DENIED:
    case REG_FAILED_PRECONDITION:
    case REG_RESOURCE_EXHAUSTED:
        return JC_OUT_REJECTED;
    /* invalid_argument is decided from the request alone: whether the
     * server refused before proposing or applied a no-op, nothing changed. */
    case REG_INVALID_ARGUMENT:
    case REG_UNAUTHENTICATED:
    case REG_NOT_LEADER:
    case REG_NO_LEADER:
    case REG_RATE_LIMITED:
    case REG_TOO_LARGE:
    case REG_MALFORMED:
    case REG_UNAVAILABLE:
        return JC_OUT_FAIL;
    case REG_UNKNOWN_OUTCOME:
    case REG_TIMEOUT:
    case REG_NOMEM:
    case REG_INTERNAL:
    default:
        return unknown;
    }
}
