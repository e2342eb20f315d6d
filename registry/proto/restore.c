/* restore.c: the restore log entries (RESTORE_CHUNK, RESTORE_COMMIT) that
 * replicate a snapshot file into a new cluster through the log, and the
 * snapshot file format written by `pilotctl cluster snapshot save`
 * (docs/protocol.md "Restore entries", "Snapshot files").
 *
 * Both decoders are total: any byte string gives a value or REG_MALFORMED. */
#include <string.h>

#include <sodium.h>

#include "proto_internal.h"

int proto_log_kind(const void *buf, size_t len, uint16_t *kind)
{
    char errmsg[REG_ERRMSG_SIZE];
    size_t payload;
    return proto__log_header(buf, len, kind, &payload, errmsg);
}

int proto_log_restore_encode(const struct proto_restore *r, proto_alloc_fn alloc, void **buf,
                             size_t *len, char errmsg[static REG_ERRMSG_SIZE])
{
    struct proto_out o;
    int rv = REG_INVALID_ARGUMENT;
    if (r->kind == PROTO_LOG_KIND_RESTORE_CHUNK) {
        if (r->len > PROTO_RESTORE_CHUNK_MAX || r->offset > r->total ||
            r->len > r->total - r->offset || (r->len > 0 && r->data == NULL)) {
            reg_errmsgf(errmsg, "restore chunk: %zu bytes at %llu of %llu", r->len,
                        (unsigned long long)r->offset, (unsigned long long)r->total);
            goto out;
        }
    } else if (r->kind != PROTO_LOG_KIND_RESTORE_COMMIT) {
        reg_errmsgf(errmsg, "restore entry: bad kind %u", (unsigned)r->kind);
        goto out;
    }
    proto_out_grow(&o);
    if (r->kind == PROTO_LOG_KIND_RESTORE_CHUNK) {
        proto_put_map(&o, 3);
        proto_put_str(&o, "offset");
        proto_put_u64(&o, r->offset);
        proto_put_str(&o, "total");
        proto_put_u64(&o, r->total);
        proto_put_str(&o, "data");
        proto_put_bin(&o, r->data, r->len);
    } else {
        proto_put_map(&o, 2);
        proto_put_str(&o, "total");
        proto_put_u64(&o, r->total);
        proto_put_str(&o, "checksum");
        proto_put_bin(&o, r->checksum, 32);
    }
    if (o.err != REG_OK) {
        rv = o.err;
        reg_errmsgf(errmsg, "restore entry: %s", reg_strerror(rv));
        goto out_free;
    }
    rv = proto__log_frame(r->kind, o.data, o.len, alloc, buf, len);
    if (rv != REG_OK) {
        reg_errmsgf(errmsg, "restore entry: out of memory");
    }
out_free:
    proto_out_free(&o);
out:
    return rv;
}

int proto_log_restore_decode(const void *buf, size_t len, struct proto_restore *r,
                             char errmsg[static REG_ERRMSG_SIZE])
{
    const uint8_t *b = buf;
    struct proto_val root, v;
    size_t payload;
    int rv;
    memset(r, 0, sizeof *r);
    rv = proto__log_header(b, len, &r->kind, &payload, errmsg);
    if (rv != REG_OK) {
        goto out;
    }
    rv = proto_parse(b + PROTO_LOG_HDR, payload, "", &root, errmsg);
    if (rv == REG_OK) {
        rv = proto_get_u64(&root, "total", PROTO_REQ, UINT64_MAX, &r->total, errmsg);
    }
    if (rv == REG_OK && r->kind == PROTO_LOG_KIND_RESTORE_CHUNK) {
        rv = proto_get_u64(&root, "offset", PROTO_REQ, UINT64_MAX, &r->offset, errmsg);
        if (rv == REG_OK) {
            rv = proto_find(&root, "data", &v, errmsg);
        }
        if (rv == REG_OK && (v.type != PROTO_T_BIN || v.n > PROTO_RESTORE_CHUNK_MAX ||
                             r->offset > r->total || v.n > r->total - r->offset)) {
            reg_errmsgf(errmsg, "restore chunk: data missing, too large or past total");
            rv = REG_MALFORMED;
        }
        if (rv == REG_OK) {
            r->data = v.p + (v.len - v.n);
            r->len = v.n;
        }
    } else if (rv == REG_OK && r->kind == PROTO_LOG_KIND_RESTORE_COMMIT) {
        rv = proto_get_bin(&root, "checksum", PROTO_REQ, 32, r->checksum, errmsg);
    } else if (rv == REG_OK) {
        reg_errmsgf(errmsg, "log entry: kind %u is not a restore entry", (unsigned)r->kind);
        rv = REG_MALFORMED;
    }
    if (rv != REG_OK) {
        rv = REG_MALFORMED;
    }
out:
    return rv;
}

void proto_snapfile_checksum(const void *payload, size_t len, uint8_t out[static 32])
{
    crypto_generichash(out, 32, payload, len, NULL, 0);
}

void proto_snapfile_header(const struct proto_snapfile *h, uint8_t out[static PROTO_SNAPFILE_HDR])
{
    memset(out, 0, PROTO_SNAPFILE_HDR);
    memcpy(out, PROTO_SNAPFILE_MAGIC, 8);
    proto__put_be(out + 8, h->version, 4);
    proto__put_be(out + 16, h->applied_index, 8);
    memcpy(out + 24, h->state_hash, 32);
    proto__put_be(out + 56, h->payload_len, 8);
    memcpy(out + 64, h->checksum, 32);
}

int proto_snapfile_verify(const void *buf, size_t len, struct proto_snapfile *h,
                          const uint8_t **payload, char errmsg[static REG_ERRMSG_SIZE])
{
    const uint8_t *b = buf;
    uint8_t sum[32];
    int rv = REG_MALFORMED;
    memset(h, 0, sizeof *h);
    if (b == NULL || len < PROTO_SNAPFILE_HDR || memcmp(b, PROTO_SNAPFILE_MAGIC, 8) != 0) {
        reg_errmsgf(errmsg, "not a pilot snapshot file (bad magic or shorter than %d bytes)",
                    PROTO_SNAPFILE_HDR);
        goto out;
    }
    h->version = (uint32_t)proto__get_be(b + 8, 4);
    if (h->version != PROTO_SNAPFILE_VERSION || proto__get_be(b + 12, 4) != 0) {
        reg_errmsgf(errmsg, "snapshot file format version %u not supported (want %d)",
                    (unsigned)h->version, PROTO_SNAPFILE_VERSION);
        goto out;
    }
    h->applied_index = proto__get_be(b + 16, 8);
    memcpy(h->state_hash, b + 24, 32);
    h->payload_len = proto__get_be(b + 56, 8);
    memcpy(h->checksum, b + 64, 32);
    if (h->payload_len != len - PROTO_SNAPFILE_HDR) {
        reg_errmsgf(errmsg, "snapshot file truncated or padded: header says %llu payload bytes, "
                            "file has %zu",
                    (unsigned long long)h->payload_len, len - PROTO_SNAPFILE_HDR);
        goto out;
    }
    proto_snapfile_checksum(b + PROTO_SNAPFILE_HDR, len - PROTO_SNAPFILE_HDR, sum);
    if (sodium_memcmp(sum, h->checksum, 32) != 0) {
        reg_errmsgf(errmsg, "snapshot file checksum mismatch (corrupted)");
        goto out;
    }
    *payload = b + PROTO_SNAPFILE_HDR;
    rv = REG_OK;
out:
    return rv;
}
