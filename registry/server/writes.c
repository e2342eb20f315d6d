/* writes.c: the write path on the leader (DESIGN.md §4, raft-0.15-notes §9.2).
 *
 * A decoded command (arguments from the client, envelope filled by dispatch:
 * client/seq, caller key or admin, origin) is queued with glue_submit, which
 * group-commits it with its neighbours into one raft entry. Outcomes, kept
 * distinct for the client:
 *   - refused before proposing (not_leader, unavailable, rate_limited...):
 *     definitely not applied;
 *   - applied: the state machine's result, success or a business error,
 *     with the raft index it was applied at;
 *   - unknown_outcome: proposed, then leadership was lost; a retry with the
 *     same (client, seq) is applied at most once. */
#include <string.h>

#include "srv_internal.h"

static int write_result(struct proto_out *o, struct srv *s, struct srv__req *r, void *arg)
{
    (void)s;
    (void)r;
    return proto_result_encode(o, arg);
}

void srv__write_done(void *data, int status, const void *result, uint64_t index)
{
    struct srv__req *r = data;
    const struct st_result *res = result;
    struct proto_response rs;
    if (status == REG_OK && r->submit_ns != 0) {
        http_hist_observe(&r->srv->commit_hist, (double)(uv_hrtime() - r->submit_ns) / 1e9);
    }
#ifdef PILOT_CANARY_EARLY_ACK
    /* Jepsen canary (issue 7 item 6), never in a release: acknowledge a
     * write whose commit was never observed (leadership lost after
     * proposing) as applied. */
    static struct st_result early;
    if (status == REG_UNKNOWN_OUTCOME) {
        memset(&early, 0, sizeof early);
        early.op = r->cmd.op;
        status = REG_OK;
        res = &early;
    }
#endif
    if (status == REG_OK && res->code == REG_OK && res->op == ST_CMD_REGISTER) {
        srv__liveness_seen(r->srv, res->node);
    }
    if (r->done != NULL) {
        r->done(r, status, status == REG_OK ? res : NULL, index);
        srv__req_free(r);
        return;
    }
    if (status != REG_OK) {
        srv__reply_error(r, status, status == REG_UNKNOWN_OUTCOME
                                        ? "leadership lost after proposing; retry with the same seq"
                                        : "write not applied");
        return;
    }
    memset(&rs, 0, sizeof rs);
    proto_response_from_result(&rs, res);
    rs.has_index = true;
    rs.index = index;
    srv__reply_rs(r, &rs, write_result, (void *)res);
}

void srv__write_start(struct srv__req *r)
{
    struct srv *s = r->srv;
    int rv;
    if (srv__restore_pending(s) && glue_is_leader(s->glue)) {
        srv__reply_error(r, REG_UNAVAILABLE, "a restore is being replicated; retry shortly");
        return;
    }
    r->submit_ns = uv_hrtime();
    rv = glue_submit(s->glue, r, srv__write_done, r);
    if (rv == REG_OK) {
        return;
    }
    if (rv == REG_NOT_LEADER && !glue_is_leader(s->glue)) {
        if (srv__at_leader(r)) {
            srv__reply_error(r, REG_NOT_LEADER, "leadership changed");
        }
        return;
    }
    srv__reply_error(r, rv, "write refused before proposing");
}

int srv__submit_internal(struct srv *s, const struct st_cmd *cmd,
                         void (*done)(struct srv__req *r, int code, const struct st_result *res,
                                      uint64_t index),
                         void *data)
{
    struct srv__req *r = srv__req_new(s, NULL);
    int rv;
    if (r == NULL) {
        return REG_NOMEM;
    }
    r->cmd = *cmd;
    r->cmd.caller_admin = true;
    r->cmd.origin = s->id;
    r->done = done;
    r->done_data = data;
    r->frame_len = 256;
    r->submit_ns = uv_hrtime();
    rv = glue_submit(s->glue, r, srv__write_done, r);
    if (rv != REG_OK) {
        srv__req_free(r);
    }
    return rv;
}
