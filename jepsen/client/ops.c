/* ops.c: one recorded client operation. The invoke is written before the
 * request leaves, the completion after the answer (or the client library's
 * final verdict) came back; the outcome comes from the checker's table
 * (jc_outcome_of), so the history and the checker cannot disagree on what
 * an error code means. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "jw.h"

int jw_client_open(struct jw_run *run, unsigned node, const uint8_t *sk, bool admin,
                   struct cl_client **out, char errmsg[static REG_ERRMSG_SIZE])
{
    struct cl_options o;
    memset(&o, 0, sizeof o);
    o.endpoints = run->nodes[node];
    o.secret_key = sk;
    o.admin_token = admin ? run->admin_token : NULL;
    /* Short budgets: under a fault an op should end (fail/info) within a
     * few seconds so the process moves on, as Jepsen's 1 s timeouts do. */
    o.connect_timeout_ms = 500;
    o.attempt_timeout_ms = 1500;
    o.deadline_ms = 2500;
    o.backoff_initial_ms = 20;
    o.backoff_max_ms = 200;
    return cl_open(&o, out, errmsg);
}

static json_t *completion_value(enum jc_outcome out, int code, const struct cl_response *resp,
                                jw_fill_fn fill, void *arg)
{
    json_t *v = NULL;
    if (out == JC_OUT_REJECTED) {
        v = json_pack("{s:s}", "rejected", reg_err_name(code));
    } else if (out == JC_OUT_OK && fill != NULL) {
        v = fill(resp, arg);
    }
    return v;
}

void jw_op_invoke(struct jw_proc *p, struct cl_client *cl, const char *f, const char *key,
                  json_t *inv_value, bool is_read, char req_id[static JW_REQ_ID_LEN])
{
    struct jw_rec r;

    memset(&r, 0, sizeof r);
    r.type = "invoke";
    r.process = p->id;
    r.f = f;
    r.key = key;
    r.value = inv_value;
    r.node = p->run->names[p->node];
    r.applied_index = -1;
    req_id[0] = '\0';
    if (!is_read) {
        /* The seq the next write on cl will carry: cl_call takes it. */
        snprintf(req_id, JW_REQ_ID_LEN, "%016" PRIx64 ":%" PRIu64, cl_client_id(cl),
                 cl_next_seq(cl));
        r.req_id = req_id;
    }
    jw_hist_write(&p->run->hist, &r);
}

int jw_op_call(struct jw_proc *p, struct cl_client *cl, const char *f, const char *key,
               const struct cl_request *req, bool is_read, jw_fill_fn fill, void *fill_arg,
               const char *req_id, struct jw_res *res)
{
    struct cl_response resp;
    struct jw_rec r;
    int code;

    memset(&resp, 0, sizeof resp);
    memset(res, 0, sizeof *res);
    code = cl_call(cl, req, &resp);
    res->code = code;
    res->out = jc_outcome_of(code, JC_REPLIED, is_read);
    res->index = resp.index;
    res->has_result = resp.has_result;

    memset(&r, 0, sizeof r);
    r.process = p->id;
    r.f = f;
    r.key = key;
    r.node = p->run->names[p->node];
    r.req_id = req_id != NULL && req_id[0] ? req_id : NULL;
    r.applied_index = -1;
    r.value = completion_value(res->out, code, &resp, fill, fill_arg);
    switch (res->out) {
    case JC_OUT_OK:
    case JC_OUT_REJECTED:
        r.type = "ok";
        if (resp.index > 0) {
            r.applied_index = (int64_t)resp.index;
        }
        break;
    case JC_OUT_FAIL:
        r.type = "fail";
        r.error = reg_err_name(code);
        break;
    case JC_OUT_INFO:
        r.type = "info";
        r.error = reg_err_name(code);
        break;
    }
    res->t_done = jw_hist_write(&p->run->hist, &r);
    cl_response_free(&resp);
    if (res->out == JC_OUT_INFO) {
        /* Crashed process: never invokes again under this id. */
        p->id += p->stride;
        p->retired = true;
        cl_disconnect(cl);
    }
    return code;
}

int jw_op(struct jw_proc *p, struct cl_client *cl, const char *f, const char *key,
          json_t *inv_value, const struct cl_request *req, bool is_read, jw_fill_fn fill,
          void *fill_arg, struct jw_res *res)
{
    char req_id[JW_REQ_ID_LEN];

    jw_op_invoke(p, cl, f, key, inv_value, is_read, req_id);
    return jw_op_call(p, cl, f, key, req, is_read, fill, fill_arg, req_id, res);
}

void jw_op_complete(struct jw_proc *p, const char *f, const char *key, enum jc_outcome out,
                    const char *code)
{
    struct jw_rec r;

    memset(&r, 0, sizeof r);
    r.process = p->id;
    r.f = f;
    r.key = key;
    r.node = p->run->names[p->node];
    r.applied_index = -1;
    switch (out) {
    case JC_OUT_OK:
        r.type = "ok";
        break;
    case JC_OUT_REJECTED:
        r.type = "ok";
        r.value = json_pack("{s:s}", "rejected", code);
        break;
    case JC_OUT_FAIL:
        r.type = "fail";
        r.error = code;
        break;
    case JC_OUT_INFO:
        r.type = "info";
        r.error = code;
        break;
    }
    jw_hist_write(&p->run->hist, &r);
    if (out == JC_OUT_INFO) {
        p->id += p->stride;
        p->retired = true;
    }
}

int jw_setup_write(struct cl_client *cl, const struct st_cmd *cmd, const char *key,
                   uint64_t *out_u64, uint32_t deadline_ms)
{
    uint64_t end = jw_mono_ns() + (uint64_t)deadline_ms * 1000000ull;
    struct cl_request rq;
    struct cl_response resp;
    char errmsg[REG_ERRMSG_SIZE];
    int rv = REG_UNAVAILABLE;

    memset(&rq, 0, sizeof rq);
    rq.op = st_cmd_name(cmd->op);
    rq.cmd = cmd;
    while (jw_mono_ns() < end) {
        memset(&resp, 0, sizeof resp);
        rv = cl_call(cl, &rq, &resp);
        if (rv == REG_OK && key != NULL && out_u64 != NULL) {
            if (proto_get_u64(&resp.result, key, PROTO_REQ, UINT64_MAX, out_u64, errmsg) !=
                REG_OK) {
                rv = REG_MALFORMED;
            }
        }
        cl_response_free(&resp);
        if (rv == REG_OK || (rv != REG_UNAVAILABLE && rv != REG_NO_LEADER &&
                             rv != REG_UNKNOWN_OUTCOME && rv != REG_TIMEOUT)) {
            break;
        }
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return rv;
}
