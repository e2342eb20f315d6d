/* envelope.c: request and response messages (docs/protocol.md "Requests
 * and responses"). Arguments and results stay views here; args.c and
 * views.c give them meaning. */
#include <string.h>

#include "proto.h"

/* A broken envelope is a protocol violation, not a bad argument. */
static int envelope_err(int rv)
{
    return rv == REG_INVALID_ARGUMENT ? REG_MALFORMED : rv;
}

static void copy_trunc(char *dst, size_t max, const char *src)
{
    size_t n = src == NULL ? 0 : strnlen(src, max);
    if (n > 0) {
        memcpy(dst, src, n);
    }
    dst[n] = '\0';
}

int proto_request_encode(struct proto_out *o, const struct proto_request *rq)
{
    const char *op = rq->op;
    const struct proto_op *def = NULL;
    if (rq->cmd != NULL) {
        op = st_cmd_name(rq->cmd->op);
    }
    if (op == NULL || (def = proto_op_find(op, strnlen(op, PROTO_OP_NAME_MAX + 1))) == NULL) {
        if (o->err == REG_OK) {
            o->err = REG_INVALID_ARGUMENT;
        }
        return o->err;
    }
    uint32_t n = 4 + (rq->client != 0) + (rq->seq != 0) + (rq->consistency != PROTO_LINEARIZABLE) +
                 rq->redirect + rq->has_on_behalf;
    proto_put_map(o, n);
    proto_put_str(o, "v");
    proto_put_u64(o, PROTO_VERSION);
    proto_put_str(o, "id");
    proto_put_u64(o, rq->id);
    proto_put_str(o, "op");
    proto_put_str(o, def->name);
    if (rq->client != 0) {
        proto_put_str(o, "client");
        proto_put_u64(o, rq->client);
    }
    if (rq->seq != 0) {
        proto_put_str(o, "seq");
        proto_put_u64(o, rq->seq);
    }
    if (rq->consistency != PROTO_LINEARIZABLE) {
        proto_put_str(o, "consistency");
        proto_put_str(o, "stale");
    }
    if (rq->redirect) {
        proto_put_str(o, "redirect");
        proto_put_bool(o, true);
    }
    if (rq->has_on_behalf) {
        proto_put_str(o, "on_behalf");
        proto_put_map(o, 1 + rq->on_behalf_has_key);
        if (rq->on_behalf_has_key) {
            proto_put_str(o, "key");
            proto_put_bin(o, rq->on_behalf_key, ST_KEY_LEN);
        }
        proto_put_str(o, "admin");
        proto_put_bool(o, rq->on_behalf_admin);
    }
    proto_put_str(o, "args");
    if (rq->cmd != NULL) {
        proto_cmd_args_encode(o, rq->cmd);
    } else if (rq->args != NULL) {
        proto_args_encode(o, def, rq->args);
    } else if (rq->raw_args.p != NULL && rq->raw_args.type == PROTO_T_MAP) {
        proto_put_raw(o, rq->raw_args.p, rq->raw_args.len);
    } else {
        proto_put_map(o, 0);
    }
    return o->err;
}

static int decode_on_behalf(const struct proto_val *root, struct proto_request *rq,
                            char *errmsg)
{
    struct proto_val ob;
    int rv = proto_get_map(root, "on_behalf", 0, &ob, errmsg);
    if (rv != REG_OK || ob.type == PROTO_T_NONE) {
        return rv;
    }
    rq->has_on_behalf = true;
    rq->on_behalf_has_key = proto_has(&ob, "key");
    rv = proto_get_bin(&ob, "key", 0, ST_KEY_LEN, rq->on_behalf_key, errmsg);
    if (rv == REG_OK) {
        rv = proto_get_bool(&ob, "admin", 0, &rq->on_behalf_admin, errmsg);
    }
    return rv;
}

int proto_request_decode(const void *buf, size_t len, struct proto_request *rq,
                         char errmsg[static REG_ERRMSG_SIZE])
{
    struct proto_val root;
    const char *s = NULL;
    size_t n = 0;
    uint64_t v = 0;
    memset(rq, 0, sizeof *rq);
    int rv = proto_parse(buf, len, "", &root, errmsg);
    if (rv != REG_OK) {
        return rv;
    }
    rv = proto_get_u64(&root, "id", PROTO_REQ, UINT64_MAX, &rq->id, errmsg);
    if (rv != REG_OK) {
        return envelope_err(rv);
    }
    /* From here on the id is known: errors are answered, not fatal. */
    rv = proto_get_u64(&root, "v", PROTO_REQ, UINT64_MAX, &v, errmsg);
    if (rv == REG_OK && v != PROTO_VERSION) {
        reg_errmsgf(errmsg, "v: unsupported protocol version %llu (this node speaks %d)",
                    (unsigned long long)v, PROTO_VERSION);
        rv = REG_INVALID_ARGUMENT;
    }
    if (rv == REG_OK) {
        rv = proto_get_str(&root, "op", PROTO_REQ, PROTO_OP_NAME_MAX, rq->op, errmsg);
    }
    if (rv == REG_OK) {
        rq->opdef = proto_op_find(rq->op, strlen(rq->op));
        if (rq->opdef == NULL) {
            reg_errmsgf(errmsg, "op: unknown op \"%s\"", rq->op);
            rv = REG_INVALID_ARGUMENT;
        }
    }
    if (rv == REG_OK) {
        rv = proto_get_u64(&root, "client", 0, UINT64_MAX, &rq->client, errmsg);
    }
    if (rv == REG_OK) {
        rv = proto_get_u64(&root, "seq", 0, UINT64_MAX, &rq->seq, errmsg);
    }
    if (rv == REG_OK) {
        rv = proto_get_strv(&root, "consistency", 0, 16, &s, &n, errmsg);
    }
    if (rv == REG_OK && s != NULL) {
        if (n == 5 && memcmp(s, "stale", 5) == 0) {
            rq->consistency = PROTO_STALE;
        } else if (!(n == 12 && memcmp(s, "linearizable", 12) == 0)) {
            reg_errmsgf(errmsg, "consistency: unknown \"%.*s\" (linearizable|stale)", (int)n, s);
            rv = REG_INVALID_ARGUMENT;
        }
    }
    if (rv == REG_OK) {
        rv = proto_get_bool(&root, "redirect", 0, &rq->redirect, errmsg);
    }
    if (rv == REG_OK) {
        rv = decode_on_behalf(&root, rq, errmsg);
    }
    if (rv == REG_OK) {
        rv = proto_get_map(&root, "args", 0, &rq->raw_args, errmsg);
    }
    if (rv == REG_MALFORMED) {
        rv = REG_INVALID_ARGUMENT;
    }
    return rv;
}

int proto_response_encode(struct proto_out *o, const struct proto_response *rs)
{
    bool raw = rs->ok && rs->result.p != NULL && rs->result.type == PROTO_T_MAP;
    bool result = rs->ok && (raw || rs->has_result);
    uint32_t n = 2 + !rs->ok + rs->has_leader + rs->has_index + result;
    proto_put_map(o, n);
    proto_put_str(o, "id");
    proto_put_u64(o, rs->id);
    proto_put_str(o, "ok");
    proto_put_bool(o, rs->ok);
    if (!rs->ok) {
        proto_put_str(o, "error");
        proto_put_map(o, 2);
        proto_put_str(o, "code");
        proto_put_str(o, reg_err_name(rs->code));
        proto_put_str(o, "message");
        proto_put_strn(o, rs->message, strnlen(rs->message, PROTO_MESSAGE_MAX));
    }
    if (rs->has_leader) {
        proto_put_str(o, "leader");
        proto_put_map(o, 2);
        proto_put_str(o, "id");
        proto_put_u64(o, rs->leader_id);
        proto_put_str(o, "addr");
        proto_put_strn(o, rs->leader_addr, strnlen(rs->leader_addr, ST_ADDR_MAX));
    }
    if (rs->has_index) {
        proto_put_str(o, "index");
        proto_put_u64(o, rs->index);
    }
    if (result) {
        proto_put_str(o, "result");
        if (raw) {
            proto_put_raw(o, rs->result.p, rs->result.len);
        }
    }
    return o->err;
}

static int decode_error(const struct proto_val *root, struct proto_response *rs, char *errmsg)
{
    struct proto_val e;
    const char *s = NULL;
    size_t n = 0;
    int rv = proto_get_map(root, "error", PROTO_REQ, &e, errmsg);
    if (rv == REG_OK) {
        rv = proto_get_strv(&e, "code", PROTO_REQ, 64, &s, &n, errmsg);
    }
    if (rv == REG_OK) {
        int code = reg_err_from_name(s, n);
        /* "ok" inside an error is a contradiction; treat it as unknown. */
        rs->code = (uint16_t)(code == REG_OK ? REG_INTERNAL : code);
        rv = proto_get_str(&e, "message", 0, PROTO_MESSAGE_MAX, rs->message, errmsg);
    }
    return rv;
}

int proto_response_decode(const void *buf, size_t len, struct proto_response *rs,
                          char errmsg[static REG_ERRMSG_SIZE])
{
    struct proto_val root, leader;
    memset(rs, 0, sizeof *rs);
    int rv = proto_parse(buf, len, "", &root, errmsg);
    if (rv == REG_OK) {
        rv = proto_get_u64(&root, "id", PROTO_REQ, UINT64_MAX, &rs->id, errmsg);
    }
    if (rv == REG_OK) {
        rv = proto_get_bool(&root, "ok", PROTO_REQ, &rs->ok, errmsg);
    }
    if (rv == REG_OK && !rs->ok) {
        rv = decode_error(&root, rs, errmsg);
    }
    if (rv == REG_OK) {
        rv = proto_get_map(&root, "leader", 0, &leader, errmsg);
    }
    if (rv == REG_OK && leader.type == PROTO_T_MAP) {
        rs->has_leader = true;
        rv = proto_get_u64(&leader, "id", 0, UINT64_MAX, &rs->leader_id, errmsg);
        if (rv == REG_OK) {
            rv = proto_get_str(&leader, "addr", 0, ST_ADDR_MAX, rs->leader_addr, errmsg);
        }
    }
    if (rv == REG_OK) {
        rs->has_index = proto_has(&root, "index");
        rv = proto_get_u64(&root, "index", 0, UINT64_MAX, &rs->index, errmsg);
    }
    if (rv == REG_OK) {
        rv = proto_get_map(&root, "result", 0, &rs->result, errmsg);
        rs->has_result = rs->result.type == PROTO_T_MAP;
    }
    return envelope_err(rv);
}

void proto_response_error(struct proto_response *rs, int code, const char *message)
{
    rs->ok = code == REG_OK;
    rs->code = (uint16_t)code;
    copy_trunc(rs->message, PROTO_MESSAGE_MAX, message);
}

void proto_response_from_result(struct proto_response *rs, const struct st_result *res)
{
    proto_response_error(rs, res->code, res->code == REG_OK ? "" : res->message);
    rs->has_result = res->code == REG_OK;
}
