/* frame.c: the incremental frame reader (docs/protocol.md "Frames").
 *
 * Bytes arrive in whatever chunks the socket delivers; the reader keeps
 * them until a whole frame (4-byte big-endian length + body) is present,
 * then validates the body as one msgpack map and yields it in place. An
 * oversized length is refused as soon as its 4 header bytes are in, before
 * any of the body is buffered. */
#include <string.h>

#include "proto.h"

void proto_reader_init(struct proto_reader *r, size_t max_frame)
{
    memset(r, 0, sizeof *r);
    r->max = max_frame == 0 ? PROTO_FRAME_MAX_DEFAULT : max_frame;
}

void proto_reader_free(struct proto_reader *r)
{
    reg_free(r->buf);
    r->buf = NULL;
    r->cap = r->len = r->off = 0;
}

int proto_reader_feed(struct proto_reader *r, const void *data, size_t len)
{
    if (r->err != REG_OK) {
        return r->err;
    }
    if (len == 0) {
        return REG_OK;
    }
    /* Drop consumed bytes first so the buffer only ever holds the frame in
     * progress plus what this chunk brought. */
    if (r->off > 0) {
        memmove(r->buf, r->buf + r->off, r->len - r->off);
        r->len -= r->off;
        r->off = 0;
    }
    if (len > r->cap - r->len) {
        if (len > SIZE_MAX - r->len) {
            return REG_NOMEM;
        }
        size_t need = r->len + len;
        size_t cap = r->cap == 0 ? 4096 : r->cap;
        while (cap < need) {
            cap = cap > SIZE_MAX / 2 ? need : cap * 2;
        }
        uint8_t *b = reg_realloc(r->buf, cap);
        if (b == NULL) {
            return REG_NOMEM;
        }
        r->buf = b;
        r->cap = cap;
    }
    memcpy(r->buf + r->len, data, len);
    r->len += len;
    return REG_OK;
}

int proto_reader_next(struct proto_reader *r, const uint8_t **body, size_t *len,
                      char errmsg[static REG_ERRMSG_SIZE])
{
    struct proto_val root;
    *body = NULL;
    *len = 0;
    if (r->err != REG_OK) {
        goto err;
    }
    size_t avail = r->len - r->off;
    if (avail < PROTO_FRAME_HDR) {
        return REG_OK;
    }
    const uint8_t *p = r->buf + r->off;
    size_t flen = ((size_t)p[0] << 24) | ((size_t)p[1] << 16) | ((size_t)p[2] << 8) | p[3];
    if (flen > r->max) {
        r->err = REG_TOO_LARGE;
        reg_errmsgf(r->errmsg, "frame of %zu bytes exceeds the limit of %zu", flen, r->max);
        goto err;
    }
    if (avail - PROTO_FRAME_HDR < flen) {
        return REG_OK;
    }
    int rv = proto_parse(p + PROTO_FRAME_HDR, flen, "", &root, r->errmsg);
    if (rv != REG_OK) {
        r->err = rv;
        reg_errmsg_wrapf(r->errmsg, "frame");
        goto err;
    }
    r->off += PROTO_FRAME_HDR + flen;
    *body = p + PROTO_FRAME_HDR;
    *len = flen;
    return REG_OK;
err:
    memcpy(errmsg, r->errmsg, REG_ERRMSG_SIZE);
    return r->err;
}
