/* log.c: raft log entries (docs/protocol.md "Log entries").
 *
 *   offset 0       4          6        8             12           16
 *          | "PRG"1 | version | kind   | payload len | reserved 0 | msgpack payload | 0 pad |
 *
 * Entries are padded to a multiple of 8 bytes because raft 0.15 requires
 * it of every entry buffer (raft-0.15-notes.md §0 item 1). The payload is
 * {ts, origin, ops:[{op, client, seq, key, admin, args}]} with args in the
 * request codec (args.c). Decoding is total: every byte string yields ops
 * or REG_MALFORMED, which the FSM turns into a result, never a failure. */
#include <string.h>

#include "proto_internal.h"

void proto__put_be(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++) {
        p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    }
}

uint64_t proto__get_be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++) {
        v = (v << 8) | p[i];
    }
    return v;
}

int proto__log_frame(uint16_t kind, const void *payload, size_t payload_len,
                     proto_alloc_fn alloc, void **buf, size_t *len)
{
    size_t total = (PROTO_LOG_HDR + payload_len + 7) & ~(size_t)7;
    uint8_t *b = alloc(total);
    if (b == NULL) {
        return REG_NOMEM;
    }
    memset(b, 0, total);
    memcpy(b, PROTO_LOG_MAGIC, 4);
    proto__put_be(b + 4, PROTO_LOG_VERSION, 2);
    proto__put_be(b + 6, kind, 2);
    proto__put_be(b + 8, payload_len, 4);
    memcpy(b + PROTO_LOG_HDR, payload, payload_len);
    *buf = b;
    *len = total;
    return REG_OK;
}

int proto__log_header(const void *buf, size_t len, uint16_t *kind, size_t *payload,
                      char errmsg[static REG_ERRMSG_SIZE])
{
    const uint8_t *b = buf;
    int rv = REG_MALFORMED;
    if (b == NULL || len < PROTO_LOG_HDR || len % 8 != 0) {
        reg_errmsgf(errmsg, "log entry: bad length %zu", len);
        goto out;
    }
    if (memcmp(b, PROTO_LOG_MAGIC, 4) != 0) {
        reg_errmsgf(errmsg, "log entry: bad magic");
        goto out;
    }
    uint64_t version = proto__get_be(b + 4, 2), k = proto__get_be(b + 6, 2);
    uint64_t n = proto__get_be(b + 8, 4), reserved = proto__get_be(b + 12, 4);
    if (version != PROTO_LOG_VERSION || reserved != 0) {
        reg_errmsgf(errmsg, "log entry: version %u kind %u reserved %u not supported",
                    (unsigned)version, (unsigned)k, (unsigned)reserved);
        goto out;
    }
    size_t body = len - PROTO_LOG_HDR;
    if (n > body || body - n >= 8) {
        reg_errmsgf(errmsg, "log entry: payload length %u does not match entry of %zu bytes",
                    (unsigned)n, len);
        goto out;
    }
    for (size_t i = PROTO_LOG_HDR + n; i < len; i++) {
        if (b[i] != 0) {
            reg_errmsgf(errmsg, "log entry: non-zero padding");
            goto out;
        }
    }
    *kind = (uint16_t)k;
    *payload = (size_t)n;
    rv = REG_OK;
out:
    return rv;
}

static void encode_payload(struct proto_out *o, const struct st_cmd *const *cmds, size_t n,
                           int64_t ts_ms, uint64_t origin)
{
    proto_put_map(o, 3);
    proto_put_str(o, "ts");
    proto_put_i64(o, ts_ms);
    proto_put_str(o, "origin");
    proto_put_u64(o, origin);
    proto_put_str(o, "ops");
    proto_put_array(o, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        const struct st_cmd *c = cmds[i];
        proto_put_map(o, 6);
        proto_put_str(o, "op");
        proto_put_str(o, st_cmd_name(c->op));
        proto_put_str(o, "client");
        proto_put_u64(o, c->client);
        proto_put_str(o, "seq");
        proto_put_u64(o, c->seq);
        proto_put_str(o, "key");
        proto_put_bin(o, c->caller_key, ST_KEY_LEN);
        proto_put_str(o, "admin");
        proto_put_bool(o, c->caller_admin);
        proto_put_str(o, "args");
        proto_cmd_args_encode(o, c);
    }
}

int proto_log_encode(const struct st_cmd *const *cmds, size_t n, int64_t ts_ms,
                     uint64_t origin, proto_alloc_fn alloc, void **buf, size_t *len,
                     char errmsg[static REG_ERRMSG_SIZE])
{
    struct proto_out o;
    int rv = REG_INVALID_ARGUMENT;
    if (n == 0 || n > PROTO_LOG_OPS_MAX) {
        reg_errmsgf(errmsg, "log entry: %zu ops (1..%d)", n, PROTO_LOG_OPS_MAX);
        goto err;
    }
    for (size_t i = 0; i < n; i++) {
        if (cmds[i] == NULL || st_cmd_name(cmds[i]->op) == NULL) {
            reg_errmsgf(errmsg, "log entry: ops[%zu]: unknown op", i);
            goto err;
        }
    }
    /* Encode once into a scratch buffer, then copy into the caller's
     * allocation: the caller's allocator has no free here, so nothing may
     * fail after it has been called. */
    proto_out_grow(&o);
    encode_payload(&o, cmds, n, ts_ms, origin);
    if (o.err != REG_OK) {
        rv = o.err;
        reg_errmsgf(errmsg, "log entry: %s", reg_strerror(rv));
        goto err_after_out;
    }
    size_t payload = o.len;
    if (payload > UINT32_MAX - PROTO_LOG_HDR - 8) {
        rv = REG_TOO_LARGE;
        reg_errmsgf(errmsg, "log entry: payload of %zu bytes", payload);
        goto err_after_out;
    }
    rv = proto__log_frame(PROTO_LOG_KIND_BATCH, o.data, payload, alloc, buf, len);
    if (rv != REG_OK) {
        reg_errmsgf(errmsg, "log entry: out of memory");
        goto err_after_out;
    }
    proto_out_free(&o);
    return REG_OK;
err_after_out:
    proto_out_free(&o);
err:
    return rv;
}

int proto_log_open(const void *buf, size_t len, struct proto_log_iter *it,
                   char errmsg[static REG_ERRMSG_SIZE])
{
    const uint8_t *b = buf;
    struct proto_val root;
    int rv = REG_MALFORMED;
    memset(it, 0, sizeof *it);
    uint16_t kind;
    size_t payload;
    if (proto__log_header(b, len, &kind, &payload, errmsg) != REG_OK) {
        goto err;
    }
    if (kind != PROTO_LOG_KIND_BATCH) {
        reg_errmsgf(errmsg, "log entry: version %u kind %u reserved %u not supported",
                    (unsigned)PROTO_LOG_VERSION, (unsigned)kind, 0u);
        goto err;
    }
    rv = proto_parse(b + PROTO_LOG_HDR, payload, "", &root, errmsg);
    if (rv == REG_OK) {
        rv = proto_get_i64(&root, "ts", PROTO_REQ, &it->ts_ms, errmsg);
    }
    if (rv == REG_OK) {
        rv = proto_get_u64(&root, "origin", PROTO_REQ, UINT64_MAX, &it->origin, errmsg);
    }
    if (rv == REG_OK) {
        rv = proto_get_array(&root, "ops", PROTO_REQ, PROTO_LOG_OPS_MAX, &it->ops, errmsg);
    }
    if (rv == REG_OK && it->ops.n == 0) {
        reg_errmsgf(errmsg, "ops: empty");
        rv = REG_MALFORMED;
    }
    if (rv != REG_OK) {
        reg_errmsg_wrapf(errmsg, "log entry");
        rv = REG_MALFORMED;
        goto err;
    }
    it->n_ops = it->ops.n;
    proto_iter_init(&it->it, &it->ops);
    return REG_OK;
err:
    memset(it, 0, sizeof *it);
    return rv;
}

int proto_log_next(struct proto_log_iter *it, struct st_cmd *cmd, struct proto_arena *arena,
                   char errmsg[static REG_ERRMSG_SIZE])
{
    struct proto_val v, args;
    const char *s = NULL;
    size_t n = 0;
    int op = ST_CMD_NONE;
    memset(cmd, 0, sizeof *cmd);
    /* The iterator points at its own ops view, which moves with it. */
    it->it.arr = &it->ops;
    if (it->n_ops == 0 || !proto_iter_next(&it->it, &v)) {
        reg_errmsgf(errmsg, "log entry: no more ops");
        return REG_NOT_FOUND;
    }
    cmd->ts_ms = it->ts_ms;
    cmd->origin = it->origin;
    int rv = v.type == PROTO_T_MAP ? REG_OK : REG_MALFORMED;
    if (rv != REG_OK) {
        reg_errmsgf(errmsg, "%s: not a map", v.path);
    }
    if (rv == REG_OK) {
        rv = proto_get_u64(&v, "client", 0, UINT64_MAX, &cmd->client, errmsg);
    }
    if (rv == REG_OK) {
        rv = proto_get_u64(&v, "seq", 0, UINT64_MAX, &cmd->seq, errmsg);
    }
    if (rv == REG_OK) {
        rv = proto_get_strv(&v, "op", PROTO_REQ, PROTO_OP_NAME_MAX, &s, &n, errmsg);
    }
    if (rv == REG_OK) {
        op = st_cmd_from_name(s, n);
        if (op == ST_CMD_NONE) {
            reg_errmsgf(errmsg, "%s.op: unknown command \"%.*s\"", v.path, (int)n, s);
            rv = REG_MALFORMED;
        }
        cmd->op = (uint16_t)op;
    }
    if (rv == REG_OK) {
        rv = proto_get_bin(&v, "key", 0, ST_KEY_LEN, cmd->caller_key, errmsg);
    }
    if (rv == REG_OK) {
        rv = proto_get_bool(&v, "admin", 0, &cmd->caller_admin, errmsg);
    }
    if (rv == REG_OK) {
        rv = proto_get_map(&v, "args", 0, &args, errmsg);
    }
    if (rv == REG_OK) {
        rv = proto_cmd_args_decode(&args, op, cmd, arena, errmsg);
    }
    if (rv == REG_INVALID_ARGUMENT) {
        rv = REG_MALFORMED;
    }
    if (rv == REG_MALFORMED) {
        reg_errmsg_wrapf(errmsg, "log entry");
    }
    return rv;
}
