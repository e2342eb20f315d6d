/* registry/client call loop: failover across endpoints, leader redirects,
 * backoff, and the (client, seq) discipline that makes write retries safe.
 *
 * Outcome bookkeeping for a write (DESIGN.md §4, three outcome classes):
 * once a request has left this process and no final answer came back (the
 * connection broke, the attempt timed out, or the node said
 * unknown_outcome / timeout) the write is "ambiguous". Every retry re-sends
 * the SAME seq, so the state machine's dedup returns the first result if
 * the earlier attempt was applied, or applies it now if it was not. Only if
 * the deadline passes while ambiguous do we report REG_UNKNOWN_OUTCOME. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "cl_internal.h"

#define CL_REDIRECTS_MAX 4 /* leader hints followed before backing off */

static uint32_t or_default(uint32_t v, uint32_t d)
{
    return v != 0 ? v : d;
}

int cl_open(const struct cl_options *opts, struct cl_client **out,
            char errmsg[static REG_ERRMSG_SIZE])
{
    struct cl_client *cl;
    int rv;

    if (sodium_init() < 0) {
        reg_errmsgf(errmsg, "libsodium failed to initialise");
        return REG_INTERNAL;
    }
    if (opts->admin_token != NULL && strlen(opts->admin_token) > CL_ADMIN_TOKEN_MAX) {
        reg_errmsgf(errmsg, "admin token longer than %d bytes", CL_ADMIN_TOKEN_MAX);
        return REG_INVALID_ARGUMENT;
    }
    cl = reg_calloc(1, sizeof *cl);
    if (cl == NULL) {
        reg_errmsgf(errmsg, "out of memory");
        return REG_NOMEM;
    }
    rv = cl_endpoints_parse(opts->endpoints, cl->eps, CL_ENDPOINTS_MAX, &cl->n_eps, errmsg);
    if (rv != REG_OK)
        goto err_after_alloc;
    if (opts->secret_key != NULL) {
        cl->has_key = true;
        memcpy(cl->sk, opts->secret_key, CL_SECRET_KEY_LEN);
    }
    if (opts->admin_token != NULL) {
        cl->has_admin = true;
        snprintf(cl->admin, sizeof cl->admin, "%s", opts->admin_token);
    }
    cl->connect_timeout_ms = or_default(opts->connect_timeout_ms, 2000);
    cl->attempt_timeout_ms = or_default(opts->attempt_timeout_ms, 5000);
    cl->deadline_ms = or_default(opts->deadline_ms, 15000);
    cl->backoff_initial_ms = or_default(opts->backoff_initial_ms, 50);
    cl->backoff_max_ms = or_default(opts->backoff_max_ms, 1000);
    cl->redirect = opts->redirect;
    cl->client_id = opts->client_id;
    while (cl->client_id == 0)
        randombytes_buf(&cl->client_id, sizeof cl->client_id);
    cl->next_seq = 1;
    cl->next_id = 1;
    cl->fd = -1;
    proto_reader_init(&cl->reader, 0);
    *out = cl;
    return REG_OK;

err_after_alloc:
    reg_free(cl);
    return rv;
}

void cl_close(struct cl_client *cl)
{
    if (cl == NULL)
        return;
    cl__disconnect(cl);
    proto_reader_free(&cl->reader);
    sodium_memzero(cl->sk, sizeof cl->sk);
    sodium_memzero(cl->admin, sizeof cl->admin);
    reg_free(cl);
}

void cl_response_free(struct cl_response *resp)
{
    reg_free(resp->body_);
    resp->body_ = NULL;
    resp->has_result = false;
    memset(&resp->result, 0, sizeof resp->result);
}

uint64_t cl_client_id(const struct cl_client *cl)
{
    return cl->client_id;
}

uint64_t cl_next_seq(const struct cl_client *cl)
{
    return cl->next_seq;
}

const char *cl_connected_to(const struct cl_client *cl)
{
    return cl->fd >= 0 ? cl->connected_to : "";
}

void cl_disconnect(struct cl_client *cl)
{
    cl__disconnect(cl);
}

static void sleep_ms(uint32_t ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* Sleep the next backoff step, never past the deadline. False if the
 * deadline has passed. */
static bool back_off(struct cl_client *cl, unsigned *step, uint64_t deadline)
{
    uint64_t now = cl__now_ms();
    uint32_t d;

    if (now >= deadline)
        return false;
    d = cl_backoff_delay_ms(cl->backoff_initial_ms, cl->backoff_max_ms, (*step)++,
                            randombytes_random());
    if (now + d > deadline)
        d = (uint32_t)(deadline - now);
    sleep_ms(d);
    return cl__now_ms() < deadline;
}

/* Connect to the redirect target if any, else to the next endpoint in
 * turn. */
static int connect_some(struct cl_client *cl, struct cl_endpoint *redirect_to,
                        bool *have_redirect, uint64_t deadline,
                        char errmsg[static REG_ERRMSG_SIZE])
{
    uint64_t d = cl__now_ms() + cl->connect_timeout_ms;
    int rv;

    if (d > deadline)
        d = deadline;
    if (*have_redirect) {
        *have_redirect = false;
        rv = cl__connect(cl, redirect_to, d, errmsg);
        if (rv == REG_OK)
            return rv;
        /* Hint unreachable from here (behind a load balancer, say): fall
         * back to the configured list. */
    }
    rv = cl__connect(cl, &cl->eps[cl->cur], d, errmsg);
    if (rv != REG_OK)
        cl->cur = (cl->cur + 1) % cl->n_eps;
    return rv;
}

static int encode_request(struct cl_client *cl, const struct cl_request *req, uint64_t id,
                          uint64_t seq, struct proto_out *out,
                          char errmsg[static REG_ERRMSG_SIZE])
{
    struct proto_request rq;
    size_t at;
    int rv;

    memset(&rq, 0, sizeof rq);
    rq.id = id;
    snprintf(rq.op, sizeof rq.op, "%s", req->op);
    if (seq != 0) {
        rq.client = cl->client_id;
        rq.seq = seq;
    }
    rq.consistency = req->stale ? PROTO_STALE : PROTO_LINEARIZABLE;
    rq.redirect = cl->redirect;
    rq.cmd = req->cmd;
    rq.args = req->cmd == NULL ? req->args : NULL;
    proto_out_grow(out);
    at = proto_frame_begin(out);
    proto_request_encode(out, &rq);
    rv = proto_frame_end(out, at, PROTO_FRAME_MAX_DEFAULT);
    if (rv != REG_OK) {
        reg_errmsgf(errmsg, "encoding %s request: %s", req->op, reg_strerror(rv));
        proto_out_free(out);
    }
    return rv;
}

/* One attempt on the current connection: send, then read frames until the
 * one answering id. On REG_OK *rs and resp->body_ hold the answer. */
static int attempt(struct cl_client *cl, const struct cl_request *req, uint64_t seq,
                   uint64_t deadline, bool *sent, struct proto_response *rs,
                   struct cl_response *resp, char errmsg[static REG_ERRMSG_SIZE])
{
    struct proto_out out;
    uint64_t id = cl->next_id++;
    uint64_t d = cl__now_ms() + cl->attempt_timeout_ms;
    const uint8_t *body;
    size_t len;
    int rv;

    if (d > deadline)
        d = deadline;
    rv = encode_request(cl, req, id, seq, &out, errmsg);
    if (rv != REG_OK)
        return rv == REG_TOO_LARGE || rv == REG_NOMEM ? rv : REG_INVALID_ARGUMENT;
    *sent = true; /* from here on, the node may have seen (part of) it */
    rv = cl__send(cl, out.data, out.len, d, errmsg);
    proto_out_free(&out);
    if (rv != REG_OK)
        return rv;
    for (;;) {
        rv = cl__recv(cl, d, &body, &len, errmsg);
        if (rv != REG_OK)
            return rv == REG_TOO_LARGE || rv == REG_MALFORMED ? REG_UNAVAILABLE : rv;
        rv = proto_response_decode(body, len, rs, errmsg);
        if (rv != REG_OK) {
            reg_errmsg_wrapf(errmsg, "response from %s", cl->connected_to);
            return REG_UNAVAILABLE;
        }
        if (rs->id == id)
            break;
        /* An answer to an attempt we gave up on: ignore it. */
    }
    reg_free(resp->body_);
    resp->body_ = reg_malloc(len);
    if (resp->body_ == NULL) {
        reg_errmsgf(errmsg, "out of memory");
        return REG_NOMEM;
    }
    memcpy(resp->body_, body, len);
    /* Re-decode from our copy so the result view points into it. */
    return proto_response_decode(resp->body_, len, rs, errmsg) == REG_OK ? REG_OK
                                                                          : REG_INTERNAL;
}

static void note_leader(struct cl_response *resp, const struct proto_response *rs)
{
    if (rs->has_leader) {
        resp->leader_id = rs->leader_id;
        snprintf(resp->leader_addr, sizeof resp->leader_addr, "%s", rs->leader_addr);
    }
}

int cl_call(struct cl_client *cl, const struct cl_request *req, struct cl_response *resp)
{
    const struct proto_op *opdef;
    struct proto_response rs;
    struct cl_endpoint redirect_to;
    bool have_redirect = false, is_write, ambiguous = false;
    unsigned step = 0, redirects = 0;
    uint64_t deadline = cl__now_ms() + cl->deadline_ms, seq = 0;
    int last = REG_UNAVAILABLE;
    char errmsg[REG_ERRMSG_SIZE] = "";

    memset(resp, 0, sizeof *resp);
    opdef = req->op != NULL ? proto_op_find(req->op, strlen(req->op)) : NULL;
    if (opdef == NULL) {
        resp->code = REG_INVALID_ARGUMENT;
        reg_errmsgf(resp->message, "unknown op \"%s\"", req->op != NULL ? req->op : "");
        return resp->code;
    }
    is_write = opdef->kind == PROTO_OP_WRITE;
    if (is_write && (req->cmd == NULL || req->cmd->op != opdef->cmd)) {
        resp->code = REG_INVALID_ARGUMENT;
        reg_errmsgf(resp->message, "write op %s needs its st_cmd", req->op);
        return resp->code;
    }
    if (is_write)
        seq = cl->next_seq++;
    resp->seq = seq;

    for (;;) {
        bool sent = false;
        int rv;

        if (cl__now_ms() >= deadline)
            break;
        if (cl->fd < 0) {
            rv = connect_some(cl, &redirect_to, &have_redirect, deadline, errmsg);
            if (rv == REG_UNAUTHENTICATED || rv == REG_NOMEM) {
                last = rv;
                break;
            }
            if (rv != REG_OK) {
                last = ambiguous ? REG_UNKNOWN_OUTCOME : REG_UNAVAILABLE;
                /* Walk the whole list quickly; back off once per round. */
                if (cl->cur == 0 && !back_off(cl, &step, deadline))
                    break;
                continue;
            }
        }
        resp->attempts++;
#ifdef PILOT_CANARY_NO_DEDUP
        /* Jepsen canary (issue 7 item 6), never in a release: every resend
         * of a write is a new request, so the state machine cannot dedup. */
        if (is_write && resp->attempts > 1)
            seq = cl->next_seq++;
#endif
        rv = attempt(cl, req, seq, deadline, &sent, &rs, resp, errmsg);
        if (rv == REG_INVALID_ARGUMENT || rv == REG_TOO_LARGE || rv == REG_NOMEM ||
            rv == REG_INTERNAL) {
            /* A write that left before we ran out of memory may have been
             * applied: say so rather than "nomem". */
            last = rv == REG_NOMEM && sent && is_write ? REG_UNKNOWN_OUTCOME : rv;
            if (last == REG_UNKNOWN_OUTCOME)
                reg_errmsgf(errmsg, "out of memory reading the answer to %s (seq %llu): it "
                            "may or may not have been applied",
                            req->op, (unsigned long long)seq);
            cl__disconnect(cl);
            break;
        }
        if (rv != REG_OK) {
            /* Connection broke or the attempt timed out. */
            cl__disconnect(cl);
            if (sent && is_write)
                ambiguous = true;
            last = rv == REG_TIMEOUT ? REG_TIMEOUT : REG_UNAVAILABLE;
            cl->cur = (cl->cur + 1) % cl->n_eps;
            if (!back_off(cl, &step, deadline))
                break;
            continue;
        }
        note_leader(resp, &rs);
        resp->node_raft_id = cl->server_raft_id;
        if (rs.ok) {
            last = REG_OK;
            resp->has_result = rs.has_result && rs.result.type == PROTO_T_MAP;
            resp->result = rs.result;
            resp->index = rs.has_index ? rs.index : 0;
            break;
        }
        last = rs.code;
        snprintf(errmsg, sizeof errmsg, "%s", rs.message[0] ? rs.message : reg_strerror(rs.code));
        resp->index = rs.has_index ? rs.index : 0;
        if (rs.code == REG_NOT_LEADER) {
            size_t n = 0;
            cl__disconnect(cl);
            if (rs.has_leader && rs.leader_addr[0] != '\0' && redirects < CL_REDIRECTS_MAX &&
                cl_endpoints_parse(rs.leader_addr, &redirect_to, 1, &n, errmsg) == REG_OK) {
                have_redirect = true;
                redirects++;
                continue;
            }
            cl->cur = (cl->cur + 1) % cl->n_eps;
            redirects = 0;
            if (!back_off(cl, &step, deadline))
                break;
            continue;
        }
        if (rs.code == REG_UNKNOWN_OUTCOME || (is_write && rs.code == REG_TIMEOUT)) {
            ambiguous = ambiguous || is_write;
            if (!back_off(cl, &step, deadline))
                break;
            continue;
        }
        if (rs.code == REG_NO_LEADER || rs.code == REG_UNAVAILABLE ||
            rs.code == REG_RATE_LIMITED || rs.code == REG_TIMEOUT) {
            /* Definitely not applied: free to retry. Another node may know a
             * leader this one does not (it may sit in a minority). */
            if (rs.code != REG_RATE_LIMITED) {
                cl__disconnect(cl);
                cl->cur = (cl->cur + 1) % cl->n_eps;
            }
            if (!back_off(cl, &step, deadline))
                break;
            continue;
        }
        break; /* a final answer: business error, auth, bad request */
    }
    if (last != REG_OK) {
        /* An ambiguous write stays ambiguous whatever the last failure was,
         * unless a final answer arrived (which replaces `last`). */
        if (ambiguous && (last == REG_UNAVAILABLE || last == REG_TIMEOUT ||
                          last == REG_NO_LEADER || last == REG_NOT_LEADER ||
                          last == REG_RATE_LIMITED || last == REG_UNKNOWN_OUTCOME)) {
            reg_errmsg_wrapf(errmsg, "write %s (seq %llu) may or may not have been applied",
                             req->op, (unsigned long long)seq);
            last = REG_UNKNOWN_OUTCOME;
        }
        if (last == REG_NOT_LEADER)
            last = REG_NO_LEADER;
        cl_response_free(resp);
        snprintf(resp->message, sizeof resp->message, "%s",
                 errmsg[0] ? errmsg : reg_strerror(last));
    }
    resp->code = last;
    return last;
}

int cl_whoami(struct cl_client *cl, uint32_t *node_id, char errmsg[static REG_ERRMSG_SIZE])
{
    struct cl_request req = {.op = "whoami"};
    struct cl_response resp;
    uint32_t id = 0;
    int rv;

    /* Asked, not remembered: the id bound at handshake time is stale once
     * this connection registers. */
    rv = cl_call(cl, &req, &resp);
    if (rv != REG_OK) {
        snprintf(errmsg, REG_ERRMSG_SIZE, "%s", resp.message);
        goto out;
    }
    rv = proto_get_u32(&resp.result, "node_id", 0, UINT32_MAX, &id, errmsg);
    if (rv != REG_OK) {
        rv = REG_MALFORMED;
        goto out;
    }
    *node_id = id;
out:
    cl_response_free(&resp);
    return rv;
}
