/* dispatch.c: from a request frame to the handler that serves it, and the
 * response path back.
 *
 * A request is decoded with proto (envelope, then the op's arguments by the
 * op table's schema), bound to the connection's identity (or, on a peer link
 * from a follower, to the on_behalf identity the follower authenticated),
 * checked against the op's auth level, then routed:
 *   - stale reads and node-local server ops: served here;
 *   - writes and linearizable reads on the leader: writes.c / reads.c;
 *   - on a follower: forwarded to the leader (one hop), or answered
 *     not_leader with the leader hint under --redirect / redirect:true, or
 *     no_leader while there is none.
 * Every response carries the leader hint (DESIGN.md §4). Bad input of any
 * kind is answered with its error and changes nothing. */
#include <stdarg.h>
#include <string.h>

#include "srv_internal.h"

struct srv__req *srv__req_new(struct srv *s, struct srv__conn *c)
{
    struct srv__req *r = reg_calloc(1, sizeof *r);
    if (r == NULL) {
        return NULL;
    }
    r->srv = s;
    r->conn = c;
    proto_arena_init(&r->arena);
    if (c != NULL) {
        srv__conn_ref(c);
    }
    return r;
}

void srv__req_free(struct srv__req *r)
{
    srv__own_forget(r);
    proto_arena_free(&r->arena);
    reg_free(r->frame);
    if (r->conn != NULL) {
        r->conn->held_bytes -= r->frame != NULL ? r->frame_len : 0;
        srv__conn_unref(r->conn);
    }
    reg_free(r);
}

uint32_t srv__viewer(struct srv *s, const struct srv__ident *id)
{
    uint32_t node;
    if (id->admin || (id->peer != 0 && !id->has_key)) {
        return 0;
    }
    if (!id->has_key) {
        return UINT32_MAX;
    }
    node = st_node_by_key(s->state, id->key);
    /* 0 would mean "the admin" to the queries: an unregistered key must
     * see only what strangers see. */
    if (node == 0 || !st_node_exists(s->state, node)) {
        return UINT32_MAX;
    }
    return node;
}

/* ---- Responses ---------------------------------------------------------- */

static void fill_hint(struct srv *s, struct proto_response *rs)
{
    uint64_t id;
    char addr[ST_ADDR_MAX + 1];
    srv__leader_hint(s, &id, addr);
    if (id != 0) {
        rs->has_leader = true;
        rs->leader_id = id;
        size_t n = strnlen(addr, sizeof addr - 1);
        if (n > sizeof rs->leader_addr - 1) {
            n = sizeof rs->leader_addr - 1;
        }
        memcpy(rs->leader_addr, addr, n);
        rs->leader_addr[n] = '\0';
    }
}

/* Responses up to this size are encoded on the stack and written from
 * there (srv__conn_send_copy); larger ones take the allocating path. */
#define SRV__SMALL_RESPONSE 4096

/* Encode rs (and fn's result) as one frame into o; REG_OK or the error. */
static int encode_response(struct proto_out *o, struct srv__req *r, struct proto_response *rs,
                           srv__result_fn fn, void *arg)
{
    struct srv *s = r->srv;
    size_t at = proto_frame_begin(o);
    proto_response_encode(o, rs);
    if (rs->has_result && rs->result.p == NULL && fn != NULL) {
        fn(o, s, r, arg);
    }
    return proto_frame_end(o, at, s->cfg.max_frame);
}

/* Encode rs (+ result via fn) as a frame and send it on r's connection. */
static void send_response(struct srv__req *r, struct proto_response *rs, srv__result_fn fn,
                          void *arg)
{
    struct srv *s = r->srv;
    uint8_t small[SRV__SMALL_RESPONSE];
    struct proto_out o;
    void *buf = NULL;
    size_t len = 0;
    int rv;
    if (r->conn == NULL || r->conn->phase == SRV__CLOSING) {
        return;
    }
    srv_log(SRV_LOG_DEBUG, "request", "conn=%llu req=%llu op=%s code=%s forwarded=%d",
            (unsigned long long)r->conn->serial, (unsigned long long)r->id,
            r->op != NULL ? r->op->name : "?", rs->ok ? "ok" : reg_err_name(rs->code),
            r->on_behalf ? 1 : 0);
    /* Most answers are small: no allocation for them (malloc/free was
     * about a tenth of the leader's time under load). */
    proto_out_fixed(&o, small, sizeof small);
    rv = encode_response(&o, r, rs, fn, arg);
    if (rv == REG_OK) {
        srv__conn_send_copy(r->conn, small, o.len);
        return;
    }
    /* Too big for the stack (or a real error, which the second encode
     * reports again: result encoders only read). */
    proto_out_grow(&o);
    rv = encode_response(&o, r, rs, fn, arg);
    if (rv == REG_OK) {
        rv = proto_out_take(&o, &buf, &len);
    }
    proto_out_free(&o);
    if (rv == REG_OK) {
        srv__conn_send(r->conn, buf, len);
        return;
    }
    /* The answer itself does not fit (or memory ran out): say so instead. */
    memset(rs, 0, sizeof *rs);
    rs->id = r->id;
    proto_response_error(rs, rv, rv == REG_TOO_LARGE ? "response exceeds the frame limit"
                                                     : "cannot encode response");
    fill_hint(s, rs);
    proto_out_grow(&o);
    if (encode_response(&o, r, rs, NULL, NULL) == REG_OK &&
        proto_out_take(&o, &buf, &len) == REG_OK) {
        srv__conn_send(r->conn, buf, len);
    } else {
        srv__conn_close(r->conn, "encode_error");
    }
    proto_out_free(&o);
}

void srv__reply_error(struct srv__req *r, int code, const char *fmt, ...)
{
    struct proto_response rs;
    char msg[REG_ERRMSG_SIZE] = "";
    va_list ap;
    if (fmt != NULL) {
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
    }
    if (r->done != NULL) {
        r->done(r, code, NULL, 0);
        srv__req_free(r);
        return;
    }
    memset(&rs, 0, sizeof rs);
    rs.id = r->id;
    proto_response_error(&rs, code, msg);
    fill_hint(r->srv, &rs);
    send_response(r, &rs, NULL, NULL);
    srv__req_free(r);
}

void srv__reply_result(struct srv__req *r, srv__result_fn fn, void *arg, bool has_index,
                       uint64_t index)
{
    struct proto_response rs;
    memset(&rs, 0, sizeof rs);
    rs.id = r->id;
    rs.ok = true;
    rs.has_result = fn != NULL;
    rs.has_index = has_index;
    rs.index = index;
    fill_hint(r->srv, &rs);
    send_response(r, &rs, fn, arg);
    srv__req_free(r);
}

void srv__reply_rs(struct srv__req *r, struct proto_response *rs, srv__result_fn fn, void *arg)
{
    rs->id = r->id;
    fill_hint(r->srv, rs);
    send_response(r, rs, fn, arg);
    srv__req_free(r);
}

void srv__reply_raw(struct srv__req *r, const struct proto_response *in)
{
    struct proto_response rs = *in;
    rs.id = r->id;
    if (!rs.ok) {
        rs.has_result = false;
        rs.result.p = NULL;
    } else if (rs.result.p == NULL) {
        rs.has_result = false;
    }
    if (!rs.has_leader) {
        fill_hint(r->srv, &rs);
    }
    send_response(r, &rs, NULL, NULL);
    srv__req_free(r);
}

/* ---- Routing -------------------------------------------------------------- */

/* True if r must run on this node (it is the leader); otherwise r has been
 * answered or forwarded and is no longer the caller's. */
bool srv__at_leader(struct srv__req *r)
{
    struct srv *s = r->srv;
    uint64_t id;
    char addr[ST_ADDR_MAX + 1];
    if (glue_is_leader(s->glue)) {
        return true;
    }
    srv__leader_hint(s, &id, addr);
    if (id == 0) {
        srv__reply_error(r, REG_NO_LEADER, "no leader elected; retry shortly");
    } else if (r->on_behalf) {
        /* One hop only: a forwarded request never travels further. */
        srv__reply_error(r, REG_NOT_LEADER, "forwarded to a node that is no longer the leader");
    } else if (s->cfg.redirect || r->redirect) {
        srv__reply_error(r, REG_NOT_LEADER, "not the leader; leader is %llu at %s",
                         (unsigned long long)id, addr[0] ? addr : "(unknown address)");
    } else if (r->done != NULL) {
        srv__reply_error(r, REG_NOT_LEADER, "not the leader");
    } else {
        srv__forward(r);
    }
    return false;
}

void srv__route(struct srv__req *r)
{
    const struct proto_op *op = r->op;
    if (op->kind == PROTO_OP_SERVER) {
        if (strcmp(op->name, "heartbeat") == 0) {
            srv__heartbeat(r);
        } else if (strcmp(op->name, "watch") == 0) {
            srv__watch(r);
        } else if (strcmp(op->name, "cluster_snapshot_read") == 0) {
            srv__snapshot_read(r);
        } else if (!srv__cluster_op(r)) {
            srv__reply_error(r, REG_INVALID_ARGUMENT, "op %s is not served by this node",
                             op->name);
        }
        return;
    }
    /* A linearizable cluster_members is checked by the leader (which has
     * applied every acknowledged registration); a follower may not have
     * applied the caller's registration yet. */
    bool members_here = strcmp(op->name, "cluster_members") == 0 &&
                        (r->consistency == PROTO_STALE || glue_is_leader(r->srv->glue));
    if ((strcmp(op->name, "cluster_status") == 0 || members_here) &&
        srv__viewer(r->srv, &r->ident) == UINT32_MAX) {
        /* DESIGN.md §7: status and member lists are for registered agents
         * (and the admin, and the cluster's own nodes). */
        srv__reply_error(r, REG_PERMISSION_DENIED, "%s is readable by registered agents only",
                         op->name);
        return;
    }
    if (op->kind == PROTO_OP_READ &&
        (r->consistency == PROTO_STALE || strcmp(op->name, "cluster_status") == 0)) {
        srv__read_serve(r, true);
        return;
    }
    if (!srv__at_leader(r)) {
        return;
    }
    if (op->kind == PROTO_OP_WRITE) {
        srv__write_start(r);
    } else {
        srv__read_start(r);
    }
}

static int check_level(struct srv__req *r, char errmsg[static REG_ERRMSG_SIZE])
{
    int rv = REG_OK;
    switch (r->op->level) {
    case PROTO_LEVEL_ANY:
        break;
    case PROTO_LEVEL_KEY:
        if (!r->ident.has_key && !r->ident.admin) {
            reg_errmsgf(errmsg, "%s needs a connection authenticated with an agent key",
                        r->op->name);
            rv = REG_PERMISSION_DENIED;
        }
        break;
    case PROTO_LEVEL_ADMIN:
        if (!r->ident.admin) {
            reg_errmsgf(errmsg, "%s needs the cluster admin token", r->op->name);
            rv = REG_PERMISSION_DENIED;
        }
        break;
    default:
        reg_errmsgf(errmsg, "%s is generated by the leader and cannot be requested",
                    r->op->name);
        rv = REG_PERMISSION_DENIED;
        break;
    }
    return rv;
}

/* Bind r to who it acts for; REG_OK or PERMISSION_DENIED. */
static int bind_identity(struct srv__req *r, const struct srv__conn *c,
                         const struct proto_request *rq, char errmsg[static REG_ERRMSG_SIZE])
{
    int rv = REG_OK;
    if (c->ident.peer != 0 && rq->has_on_behalf) {
        r->on_behalf = true;
        r->ident.has_key = rq->on_behalf_has_key;
        memcpy(r->ident.key, rq->on_behalf_key, ST_KEY_LEN);
        r->ident.admin = rq->on_behalf_admin;
    } else if (c->ident.peer != 0) {
        /* A node of the cluster itself (join, self-registration): it holds
         * the cluster key, which is worth the admin token. */
        r->ident = c->ident;
        r->ident.admin = true;
    } else if (rq->has_on_behalf) {
        reg_errmsgf(errmsg, "on_behalf is accepted only from cluster peers");
        rv = REG_PERMISSION_DENIED;
    } else {
        r->ident = c->ident;
    }
    return rv;
}

/* Decode the op's arguments: into r->cmd (writes, envelope filled from the
 * request and the caller's identity) or r->rargs. */
static int decode_args(struct srv__req *r, char errmsg[static REG_ERRMSG_SIZE])
{
    int rv;
    if (r->op->kind != PROTO_OP_WRITE) {
        return proto_args_decode(&r->args, r->op, &r->rargs, errmsg);
    }
    memset(&r->cmd, 0, sizeof r->cmd);
    rv = proto_cmd_args_decode(&r->args, r->op->cmd, &r->cmd, &r->arena, errmsg);
    r->cmd.op = r->op->cmd;
    r->cmd.client = r->client;
    r->cmd.seq = r->seq;
    r->cmd.origin = r->srv->id;
    r->cmd.caller_admin = r->ident.admin;
    if (r->ident.has_key) {
        memcpy(r->cmd.caller_key, r->ident.key, ST_KEY_LEN);
    }
    return rv;
}

void srv__dispatch_frame(struct srv__conn *c, const uint8_t *body, size_t len)
{
    struct srv *s = c->srv;
    struct proto_request rq;
    struct srv__req *r;
    char errmsg[REG_ERRMSG_SIZE] = "";
    int rv;

    r = srv__req_new(s, c);
    if (r == NULL) {
        goto err_nomem;
    }
    r->frame = reg_malloc(len);
    if (r->frame == NULL) {
        goto err_after_req;
    }
    memcpy(r->frame, body, len);
    r->frame_len = len;
    c->held_bytes += len;
    memset(&rq, 0, sizeof rq);
    rv = proto_request_decode(r->frame, len, &rq, errmsg);
    r->id = rq.id;
    if (rv != REG_OK) {
        goto err_reply;
    }
    r->op = rq.opdef;
    r->client = rq.client;
    r->seq = rq.seq;
    r->consistency = rq.consistency;
    r->redirect = rq.redirect;
    r->args = rq.raw_args;
    rv = bind_identity(r, c, &rq, errmsg);
    if (rv == REG_OK) {
        rv = check_level(r, errmsg);
    }
    if (rv == REG_OK) {
        rv = decode_args(r, errmsg);
    }
    if (rv != REG_OK) {
        goto err_reply;
    }
    srv__route(r);
    return;

err_reply:
    srv__reply_error(r, rv, "%s", errmsg);
    return;
err_after_req:
    srv__req_free(r);
err_nomem:
    srv__conn_close(c, "nomem");
}
