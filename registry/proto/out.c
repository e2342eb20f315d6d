/* out.c: the encoder output (count / fixed buffer / growing buffer), the
 * msgpack writers on top of msgpack-c's packer, frame headers, and the
 * decode arena. Every encoder in this folder writes through here, so the
 * size, encode-into-buffer and encode-allocating variants of a codec are
 * one function run in three modes. */
#include <string.h>

#include <msgpack.h>

#include "proto.h"

static int out_write(struct proto_out *o, const void *p, size_t n)
{
    if (o->err != REG_OK) {
        return -1;
    }
    if (o->mode == PROTO_OUT_COUNT) {
        o->len += n;
        return 0;
    }
    if (n > o->cap - o->len) {
        if (o->mode == PROTO_OUT_FIXED) {
            o->err = REG_TOO_LARGE;
            return -1;
        }
        size_t cap = o->cap == 0 ? 256 : o->cap;
        while (cap - o->len < n) {
            if (cap > SIZE_MAX / 2) {
                o->err = REG_NOMEM;
                return -1;
            }
            cap *= 2;
        }
        uint8_t *d = reg_realloc(o->data, cap);
        if (d == NULL) {
            o->err = REG_NOMEM;
            return -1;
        }
        o->data = d;
        o->cap = cap;
    }
    if (n > 0) {
        memcpy(o->data + o->len, p, n);
    }
    o->len += n;
    return 0;
}

static int packer_cb(void *data, const char *buf, size_t len)
{
    return out_write(data, buf, len);
}

static void packer_init(msgpack_packer *pk, struct proto_out *o)
{
    msgpack_packer_init(pk, o, packer_cb);
}

void proto_out_count(struct proto_out *o)
{
    memset(o, 0, sizeof *o);
    o->mode = PROTO_OUT_COUNT;
}

void proto_out_fixed(struct proto_out *o, void *buf, size_t cap)
{
    memset(o, 0, sizeof *o);
    o->mode = PROTO_OUT_FIXED;
    o->data = buf;
    o->cap = buf == NULL ? 0 : cap;
}

void proto_out_grow(struct proto_out *o)
{
    memset(o, 0, sizeof *o);
    o->mode = PROTO_OUT_GROW;
}

int proto_out_take(struct proto_out *o, void **buf, size_t *len)
{
    int rv = o->err;
    if (o->mode != PROTO_OUT_GROW) {
        rv = REG_INTERNAL;
        goto err;
    }
    if (rv != REG_OK) {
        goto err;
    }
    if (o->data == NULL) {
        /* An empty output still hands over a freeable buffer. */
        o->data = reg_malloc(1);
        if (o->data == NULL) {
            rv = REG_NOMEM;
            goto err;
        }
    }
    *buf = o->data;
    *len = o->len;
    o->data = NULL;
    o->len = o->cap = 0;
    return REG_OK;
err:
    proto_out_free(o);
    return rv;
}

void proto_out_free(struct proto_out *o)
{
    if (o->mode == PROTO_OUT_GROW) {
        reg_free(o->data);
        o->data = NULL;
        o->len = o->cap = 0;
    }
}

size_t proto_frame_begin(struct proto_out *o)
{
    static const uint8_t zero[PROTO_FRAME_HDR];
    size_t at = o->len;
    out_write(o, zero, sizeof zero);
    return at;
}

int proto_frame_end(struct proto_out *o, size_t at, size_t max)
{
    if (o->err != REG_OK) {
        return o->err;
    }
    size_t body = o->len - at - PROTO_FRAME_HDR;
    if (body > max || body > UINT32_MAX) {
        o->err = REG_TOO_LARGE;
        return o->err;
    }
    if (o->mode != PROTO_OUT_COUNT) {
        o->data[at] = (uint8_t)(body >> 24);
        o->data[at + 1] = (uint8_t)(body >> 16);
        o->data[at + 2] = (uint8_t)(body >> 8);
        o->data[at + 3] = (uint8_t)body;
    }
    return REG_OK;
}

void proto_put_map(struct proto_out *o, uint32_t n)
{
    msgpack_packer pk;
    packer_init(&pk, o);
    msgpack_pack_map(&pk, n);
}

void proto_put_array(struct proto_out *o, uint32_t n)
{
    msgpack_packer pk;
    packer_init(&pk, o);
    msgpack_pack_array(&pk, n);
}

void proto_put_nil(struct proto_out *o)
{
    msgpack_packer pk;
    packer_init(&pk, o);
    msgpack_pack_nil(&pk);
}

void proto_put_bool(struct proto_out *o, bool v)
{
    msgpack_packer pk;
    packer_init(&pk, o);
    if (v) {
        msgpack_pack_true(&pk);
    } else {
        msgpack_pack_false(&pk);
    }
}

void proto_put_u64(struct proto_out *o, uint64_t v)
{
    msgpack_packer pk;
    packer_init(&pk, o);
    msgpack_pack_uint64(&pk, v);
}

void proto_put_i64(struct proto_out *o, int64_t v)
{
    msgpack_packer pk;
    packer_init(&pk, o);
    msgpack_pack_int64(&pk, v);
}

void proto_put_strn(struct proto_out *o, const char *s, size_t n)
{
    msgpack_packer pk;
    if (n > UINT32_MAX) {
        o->err = o->err != REG_OK ? o->err : REG_TOO_LARGE;
        return;
    }
    packer_init(&pk, o);
    msgpack_pack_str(&pk, n);
    msgpack_pack_str_body(&pk, s, n);
}

void proto_put_str(struct proto_out *o, const char *s)
{
    proto_put_strn(o, s == NULL ? "" : s, s == NULL ? 0 : strlen(s));
}

void proto_put_bin(struct proto_out *o, const void *p, size_t n)
{
    msgpack_packer pk;
    if (n > UINT32_MAX) {
        o->err = o->err != REG_OK ? o->err : REG_TOO_LARGE;
        return;
    }
    packer_init(&pk, o);
    msgpack_pack_bin(&pk, n);
    msgpack_pack_bin_body(&pk, p, n);
}

void proto_put_raw(struct proto_out *o, const void *p, size_t n)
{
    out_write(o, p, n);
}

/* ---- Arena ------------------------------------------------------------------*/

struct proto__block {
    struct proto__block *next;
    /* Keeps the payload after the header 8-aligned on every ABI we build for. */
    uint64_t align_;
};

void proto_arena_init(struct proto_arena *a)
{
    a->head = NULL;
}

void proto_arena_free(struct proto_arena *a)
{
    struct proto__block *b = a->head;
    while (b != NULL) {
        struct proto__block *next = b->next;
        reg_free(b);
        b = next;
    }
    a->head = NULL;
}

void *proto_arena_alloc(struct proto_arena *a, size_t n)
{
    if (n > SIZE_MAX - sizeof(struct proto__block)) {
        return NULL;
    }
    struct proto__block *b = reg_calloc(1, sizeof *b + n);
    if (b == NULL) {
        return NULL;
    }
    b->next = a->head;
    a->head = b;
    return b + 1;
}
