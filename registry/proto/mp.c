/* mp.c: the bounds-checked msgpack reader every decoder uses.
 *
 * Why our own reader instead of msgpack_unpack: msgpack-c allocates
 * count * sizeof(msgpack_object) for an array header before it has seen a
 * single element, so a 5-byte "array of 4 billion" asks malloc for ~96 GB,
 * and its zone allocations bypass our fault-injection allocator. Here a
 * message is validated once in a single pass over its bytes (every length
 * checked against what remains, nesting bounded by PROTO_MAX_DEPTH, no
 * allocation at all), and views then point into the caller's buffer.
 * A map view carries the offsets of its keys (indexed once when the view is
 * made); field lookup compares every key, which also catches duplicates. */
#include <stdio.h>
#include <string.h>

#include "proto.h"

struct hdr {
    int type;           /* enum proto_type */
    uint32_t n;         /* container count or str/bin/ext length */
    uint64_t u;         /* UINT value, BOOL */
    int64_t i;          /* INT value */
    size_t hlen;        /* header bytes */
    size_t body;        /* payload bytes after the header (not children) */
};

static uint64_t be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t k = 0; k < n; k++) {
        v = (v << 8) | p[k];
    }
    return v;
}

static void set_signed(struct hdr *h, int64_t v)
{
    if (v < 0) {
        h->type = PROTO_T_INT;
        h->i = v;
    } else {
        h->type = PROTO_T_UINT;
        h->u = (uint64_t)v;
    }
}

/* Decode one header; -1 if truncated or the reserved byte 0xc1. */
static int read_hdr(const uint8_t *p, size_t avail, struct hdr *h)
{
    static const uint8_t fixext_len[] = {1, 2, 4, 8, 16};
    uint8_t b;
    size_t w = 0;   /* width of the length/value field after the tag byte */
    memset(h, 0, sizeof *h);
    if (avail == 0) {
        return -1;
    }
    b = p[0];
    h->hlen = 1;
    if (b <= 0x7f) {
        h->type = PROTO_T_UINT;
        h->u = b;
        return 0;
    }
    if (b >= 0xe0) {
        h->type = PROTO_T_INT;
        h->i = (int8_t)b;
        return 0;
    }
    if (b <= 0x8f || (b >= 0x90 && b <= 0x9f)) {
        h->type = b <= 0x8f ? PROTO_T_MAP : PROTO_T_ARRAY;
        h->n = b & 0x0f;
        return 0;
    }
    if (b >= 0xa0 && b <= 0xbf) {
        h->type = PROTO_T_STR;
        h->n = b & 0x1f;
        h->body = h->n;
        return 0;
    }
    switch (b) {
    case 0xc0: h->type = PROTO_T_NIL; return 0;
    case 0xc2: case 0xc3: h->type = PROTO_T_BOOL; h->u = b == 0xc3; return 0;
    case 0xc4: case 0xc5: case 0xc6: h->type = PROTO_T_BIN; w = (size_t)1 << (b - 0xc4); break;
    case 0xc7: case 0xc8: case 0xc9: h->type = PROTO_T_EXT; w = (size_t)1 << (b - 0xc7); break;
    case 0xca: case 0xcb: h->type = PROTO_T_FLOAT; w = b == 0xca ? 4 : 8; break;
    case 0xcc: case 0xcd: case 0xce: case 0xcf:
        h->type = PROTO_T_UINT; w = (size_t)1 << (b - 0xcc); break;
    case 0xd0: case 0xd1: case 0xd2: case 0xd3:
        h->type = PROTO_T_INT; w = (size_t)1 << (b - 0xd0); break;
    case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8:
        h->type = PROTO_T_EXT; h->hlen = 2; h->body = fixext_len[b - 0xd4]; h->n = (uint32_t)h->body;
        return avail < 2 ? -1 : 0;
    case 0xd9: case 0xda: case 0xdb: h->type = PROTO_T_STR; w = (size_t)1 << (b - 0xd9); break;
    case 0xdc: case 0xdd: h->type = PROTO_T_ARRAY; w = b == 0xdc ? 2 : 4; break;
    case 0xde: case 0xdf: h->type = PROTO_T_MAP; w = b == 0xde ? 2 : 4; break;
    default: return -1; /* 0xc1 */
    }
    if (avail < 1 + w) {
        return -1;
    }
    h->hlen = 1 + w;
    uint64_t v = be(p + 1, w);
    switch (h->type) {
    case PROTO_T_UINT: h->u = v; break;
    case PROTO_T_INT:
        switch (w) {
        case 1: set_signed(h, (int8_t)v); break;
        case 2: set_signed(h, (int16_t)v); break;
        case 4: set_signed(h, (int32_t)v); break;
        default: set_signed(h, (int64_t)v); break;
        }
        break;
    case PROTO_T_FLOAT: h->hlen = 1; h->body = w; break;
    case PROTO_T_EXT: h->hlen += 1; h->n = (uint32_t)v; h->body = (size_t)v;
        if (avail < h->hlen) {
            return -1;
        }
        break;
    case PROTO_T_STR: case PROTO_T_BIN: h->n = (uint32_t)v; h->body = (size_t)v; break;
    default: h->n = (uint32_t)v; break; /* ARRAY, MAP */
    }
    return 0;
}

/* Walk one complete value at p within avail bytes: *used = its length.
 * Iterative with a bounded stack of "values still to read" per level, so a
 * hostile count costs nothing until its elements are actually there. */
static int walk(const uint8_t *p, size_t avail, size_t *used, const char **why)
{
    uint64_t todo[PROTO_MAX_DEPTH + 1];
    int depth = 0;
    size_t off = 0;
    struct hdr h;
    todo[0] = 1;
    while (depth >= 0) {
        if (todo[depth] == 0) {
            depth--;
            continue;
        }
        todo[depth]--;
        /* Fast path for the one-byte headers that make up most messages
         * (small ints, nil/bools, short strings, small maps and arrays);
         * the same checks as below, without the general header decode. */
        if (off < avail) {
            uint8_t b = p[off];
            if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
                off++;
                continue;
            }
            if (b >= 0xa0 && b <= 0xbf) {
                if ((size_t)(b & 0x1f) > avail - off - 1) {
                    *why = "truncated";
                    return -1;
                }
                off += 1 + (size_t)(b & 0x1f);
                continue;
            }
        }
        if (read_hdr(p + off, avail - off, &h) != 0) {
            *why = off == avail ? "truncated" : "invalid msgpack";
            return -1;
        }
        if (h.body > avail - off - h.hlen) {
            *why = "truncated";
            return -1;
        }
        off += h.hlen + h.body;
        if ((h.type == PROTO_T_ARRAY || h.type == PROTO_T_MAP) && h.n > 0) {
            if (depth + 1 > PROTO_MAX_DEPTH) {
                *why = "nested too deep";
                return -1;
            }
            todo[++depth] = h.type == PROTO_T_MAP ? 2 * (uint64_t)h.n : h.n;
        }
    }
    *used = off;
    return 0;
}

/* out = a sep b, truncated to fit: paths only label error messages. */
static void path_join(char out[static PROTO_PATH_MAX], const char *a, const char *sep,
                      const char *b)
{
    const char *parts[3] = {a, sep, b};
    size_t pos = 0;
    for (int k = 0; k < 3; k++) {
        for (const char *c = parts[k]; *c != '\0' && pos < PROTO_PATH_MAX - 1; c++) {
            out[pos++] = *c;
        }
    }
    out[pos] = '\0';
}

/* Length of a value inside already validated bytes. */
static size_t skip(const uint8_t *p, size_t avail)
{
    const char *why = NULL;
    size_t used = avail;
    struct hdr h;
    /* Scalars, the common case in a map scan, need no walk. */
    if (read_hdr(p, avail, &h) == 0 && h.type != PROTO_T_ARRAY && h.type != PROTO_T_MAP) {
        return h.hlen + h.body;
    }
    if (walk(p, avail, &used, &why) != 0) {
        used = avail; /* cannot happen on validated input; stop the scan */
    }
    return used;
}

/* One pass over a validated map: where each key starts. Lookups then cost
 * a key comparison per pair instead of a walk of every value before the
 * key (which made decoding a command quadratic in its field count).
 * v->len may be an upper bound (the bytes left around the map); the map's
 * own length is returned, and v->len is set to it. */
static size_t index_map(struct proto_val *v, size_t hlen)
{
    const uint8_t *q = v->p + hlen;
    const uint8_t *end = v->p + v->len;
    bool fits = v->n > 0 && v->n <= PROTO_MAP_INDEX_MAX;
    v->n_idx = 0;
    for (uint32_t i = 0; i < v->n; i++) {
        if (fits && (size_t)(q - v->p) > UINT16_MAX) {
            fits = false;
        }
        if (fits) {
            v->idx[i] = (uint16_t)(q - v->p);
        }
        q += skip(q, (size_t)(end - q));
        q += skip(q, (size_t)(end - q));
    }
    if (fits) {
        v->n_idx = (uint8_t)v->n;
    }
    v->len = (size_t)(q - v->p);
    return v->len;
}

static void val_from(struct proto_val *v, const uint8_t *p, size_t len)
{
    struct hdr h;
    read_hdr(p, len, &h);
    v->p = p;
    v->len = len;
    v->type = h.type;
    v->n = h.n;
    v->n_idx = 0;
    if (h.type == PROTO_T_MAP) {
        index_map(v, h.hlen);
    }
}

static void val_absent(struct proto_val *v, const char *path)
{
    v->p = NULL;
    v->len = 0;
    v->type = PROTO_T_NONE;
    v->n = 0;
    v->n_idx = 0;
    path_join(v->path, path, "", "");
}

int proto_parse(const void *buf, size_t len, const char *path, struct proto_val *root,
                char errmsg[static REG_ERRMSG_SIZE])
{
    const char *why = NULL;
    size_t used = 0;
    const char *name = path[0] != '\0' ? path : "message";
    if (buf == NULL || len == 0) {
        reg_errmsgf(errmsg, "%s: empty", name);
        goto err;
    }
    if (walk(buf, len, &used, &why) != 0) {
        reg_errmsgf(errmsg, "%s: %s", name, why);
        goto err;
    }
    if (used != len) {
        reg_errmsgf(errmsg, "%s: %zu trailing bytes", name, len - used);
        goto err;
    }
    val_from(root, buf, len);
    path_join(root->path, path, "", "");
    if (root->type != PROTO_T_MAP) {
        reg_errmsgf(errmsg, "%s: not a map", name);
        goto err;
    }
    return REG_OK;
err:
    return REG_MALFORMED;
}

static void child_path(char out[static PROTO_PATH_MAX], const char *parent, const char *key)
{
    path_join(out, parent, parent[0] == '\0' ? "" : ".", key);
}

int proto_find(const struct proto_val *m, const char *key, struct proto_val *out,
               char errmsg[static REG_ERRMSG_SIZE])
{
    char path[PROTO_PATH_MAX];
    size_t klen = strlen(key);
    child_path(path, m->path, key);
    val_absent(out, path);
    if (m->type == PROTO_T_NONE) {
        return REG_OK;
    }
    if (m->type != PROTO_T_MAP) {
        reg_errmsgf(errmsg, "%s: not a map", m->path[0] != '\0' ? m->path : "message");
        return REG_MALFORMED;
    }
    const uint8_t *end = m->p + m->len;
    struct hdr h;
    bool found = false;
    if (m->n_idx == m->n && m->n > 0) {
        for (uint32_t i = 0; i < m->n; i++) {
            const uint8_t *k = m->p + m->idx[i];
            struct hdr kh;
            read_hdr(k, (size_t)(end - k), &kh);
            if (kh.type != PROTO_T_STR || kh.n != klen ||
                memcmp(k + kh.hlen, key, klen) != 0) {
                continue;
            }
            if (found) {
                reg_errmsgf(errmsg, "%s: duplicate key", path);
                return REG_MALFORMED;
            }
            found = true;
            const uint8_t *vp = k + kh.hlen + kh.body;
            const uint8_t *ve = i + 1 < m->n ? m->p + m->idx[i + 1] : end;
            val_from(out, vp, (size_t)(ve - vp));
        }
        if (found && out->type == PROTO_T_NIL) {
            val_absent(out, path);
        }
        return REG_OK;
    }
    read_hdr(m->p, m->len, &h);
    const uint8_t *q = m->p + h.hlen;
    for (uint32_t i = 0; i < m->n; i++) {
        struct hdr kh;
        size_t klen_all = skip(q, (size_t)(end - q));
        read_hdr(q, (size_t)(end - q), &kh);
        bool match = kh.type == PROTO_T_STR && kh.n == klen &&
                     memcmp(q + kh.hlen, key, klen) == 0;
        q += klen_all;
        size_t vlen = skip(q, (size_t)(end - q));
        if (match) {
            if (found) {
                reg_errmsgf(errmsg, "%s: duplicate key", path);
                return REG_MALFORMED;
            }
            found = true;
            val_from(out, q, vlen);
        }
        q += vlen;
    }
    if (found && out->type == PROTO_T_NIL) {
        val_absent(out, path);
    }
    return REG_OK;
}

bool proto_has(const struct proto_val *m, const char *key)
{
    char errmsg[REG_ERRMSG_SIZE];
    struct proto_val v;
    return proto_find(m, key, &v, errmsg) == REG_OK && v.type != PROTO_T_NONE;
}

static const char *type_name(int t)
{
    static const char *const names[] = {"absent", "nil", "bool", "integer", "integer", "float",
                                        "string", "binary", "array", "map", "extension"};
    return t >= 0 && t <= PROTO_T_EXT ? names[t] : "?";
}

static int wrong_type(const struct proto_val *v, const char *want, char *errmsg)
{
    reg_errmsgf(errmsg, "%s: wrong type (want %s, got %s)", v->path, want, type_name(v->type));
    return REG_INVALID_ARGUMENT;
}

/* Common prologue of the getters: find, then absent/required handling.
 * Returns 1 if a value is there to convert, else 0 with *rv the answer. */
static int fetch(const struct proto_val *m, const char *key, unsigned flags,
                 struct proto_val *v, char *errmsg, int *rv)
{
    *rv = proto_find(m, key, v, errmsg);
    if (*rv != REG_OK) {
        return 0;
    }
    if (v->type == PROTO_T_NONE) {
        if (flags & PROTO_REQ) {
            reg_errmsgf(errmsg, "%s: missing", v->path);
            *rv = REG_INVALID_ARGUMENT;
        }
        return 0;
    }
    return 1;
}

int proto_val_u64(const struct proto_val *v, uint64_t max, uint64_t *out,
                  char errmsg[static REG_ERRMSG_SIZE])
{
    struct hdr h;
    if (v->type != PROTO_T_UINT && v->type != PROTO_T_INT) {
        return wrong_type(v, "integer", errmsg);
    }
    read_hdr(v->p, v->len, &h);
    if (h.type == PROTO_T_INT || h.u > max) {
        reg_errmsgf(errmsg, "%s: out of range (0..%llu)", v->path, (unsigned long long)max);
        return REG_INVALID_ARGUMENT;
    }
    *out = h.u;
    return REG_OK;
}

int proto_val_strv(const struct proto_val *v, size_t max, const char **s, size_t *len,
                   char errmsg[static REG_ERRMSG_SIZE])
{
    struct hdr h;
    if (v->type != PROTO_T_STR) {
        return wrong_type(v, "string", errmsg);
    }
    read_hdr(v->p, v->len, &h);
    if (h.n > max) {
        reg_errmsgf(errmsg, "%s: too long (max %zu)", v->path, max);
        return REG_INVALID_ARGUMENT;
    }
    if (memchr(v->p + h.hlen, '\0', h.n) != NULL) {
        reg_errmsgf(errmsg, "%s: contains a NUL byte", v->path);
        return REG_INVALID_ARGUMENT;
    }
    *s = (const char *)v->p + h.hlen;
    *len = h.n;
    return REG_OK;
}

int proto_get_u64(const struct proto_val *m, const char *key, unsigned flags, uint64_t max,
                  uint64_t *out, char errmsg[static REG_ERRMSG_SIZE])
{
    struct proto_val v;
    int rv;
    if (fetch(m, key, flags, &v, errmsg, &rv) == 1) {
        rv = proto_val_u64(&v, max, out, errmsg);
    }
    return rv;
}

int proto_get_u32(const struct proto_val *m, const char *key, unsigned flags, uint32_t max,
                  uint32_t *out, char errmsg[static REG_ERRMSG_SIZE])
{
    uint64_t v = *out;
    int rv = proto_get_u64(m, key, flags, max, &v, errmsg);
    if (rv == REG_OK) {
        *out = (uint32_t)v;
    }
    return rv;
}

int proto_get_i64(const struct proto_val *m, const char *key, unsigned flags, int64_t *out,
                  char errmsg[static REG_ERRMSG_SIZE])
{
    struct proto_val v;
    struct hdr h;
    int rv;
    if (fetch(m, key, flags, &v, errmsg, &rv) != 1) {
        return rv;
    }
    if (v.type != PROTO_T_UINT && v.type != PROTO_T_INT) {
        return wrong_type(&v, "integer", errmsg);
    }
    read_hdr(v.p, v.len, &h);
    if (h.type == PROTO_T_UINT && h.u > INT64_MAX) {
        reg_errmsgf(errmsg, "%s: out of range", v.path);
        return REG_INVALID_ARGUMENT;
    }
    *out = h.type == PROTO_T_UINT ? (int64_t)h.u : h.i;
    return REG_OK;
}

int proto_get_bool(const struct proto_val *m, const char *key, unsigned flags, bool *out,
                   char errmsg[static REG_ERRMSG_SIZE])
{
    struct proto_val v;
    int rv;
    if (fetch(m, key, flags, &v, errmsg, &rv) != 1) {
        return rv;
    }
    if (v.type != PROTO_T_BOOL) {
        return wrong_type(&v, "bool", errmsg);
    }
    *out = v.p[0] == 0xc3;
    return REG_OK;
}

int proto_get_strv(const struct proto_val *m, const char *key, unsigned flags, size_t max,
                   const char **s, size_t *len, char errmsg[static REG_ERRMSG_SIZE])
{
    struct proto_val v;
    int rv;
    if (fetch(m, key, flags, &v, errmsg, &rv) == 1) {
        rv = proto_val_strv(&v, max, s, len, errmsg);
    }
    return rv;
}

int proto_get_str(const struct proto_val *m, const char *key, unsigned flags, size_t max,
                  char *out, char errmsg[static REG_ERRMSG_SIZE])
{
    const char *s = NULL;
    size_t n = 0;
    int rv = proto_get_strv(m, key, flags, max, &s, &n, errmsg);
    if (rv == REG_OK && s != NULL) {
        memcpy(out, s, n);
        out[n] = '\0';
    }
    return rv;
}

int proto_get_bin(const struct proto_val *m, const char *key, unsigned flags, size_t len,
                  uint8_t *out, char errmsg[static REG_ERRMSG_SIZE])
{
    struct proto_val v;
    struct hdr h;
    int rv;
    if (fetch(m, key, flags, &v, errmsg, &rv) != 1) {
        return rv;
    }
    if (v.type != PROTO_T_BIN) {
        return wrong_type(&v, "binary", errmsg);
    }
    read_hdr(v.p, v.len, &h);
    if (h.n != len) {
        reg_errmsgf(errmsg, "%s: must be %zu bytes (got %u)", v.path, len, (unsigned)h.n);
        return REG_INVALID_ARGUMENT;
    }
    memcpy(out, v.p + h.hlen, len);
    return REG_OK;
}

int proto_get_map(const struct proto_val *m, const char *key, unsigned flags,
                  struct proto_val *out, char errmsg[static REG_ERRMSG_SIZE])
{
    int rv;
    if (fetch(m, key, flags, out, errmsg, &rv) == 1 && out->type != PROTO_T_MAP) {
        rv = wrong_type(out, "map", errmsg);
    }
    return rv;
}

int proto_get_array(const struct proto_val *m, const char *key, unsigned flags,
                    uint32_t max_count, struct proto_val *out,
                    char errmsg[static REG_ERRMSG_SIZE])
{
    int rv;
    if (fetch(m, key, flags, out, errmsg, &rv) != 1) {
        return rv;
    }
    if (out->type != PROTO_T_ARRAY) {
        return wrong_type(out, "array", errmsg);
    }
    if (out->n > max_count) {
        reg_errmsgf(errmsg, "%s: too many entries (max %u)", out->path, (unsigned)max_count);
        return REG_INVALID_ARGUMENT;
    }
    return REG_OK;
}

void proto_iter_init(struct proto_iter *it, const struct proto_val *arr)
{
    struct hdr h;
    it->arr = arr;
    it->i = 0;
    it->p = NULL;
    if (arr->type == PROTO_T_ARRAY) {
        read_hdr(arr->p, arr->len, &h);
        it->p = arr->p + h.hlen;
    }
}

bool proto_iter_next(struct proto_iter *it, struct proto_val *v)
{
    const struct proto_val *a = it->arr;
    if (a->type != PROTO_T_ARRAY || it->i >= a->n) {
        return false;
    }
    size_t avail = (size_t)(a->p + a->len - it->p);
    size_t len;
    if (it->p[0] >= 0x80 && it->p[0] <= 0x8f) {
        /* A small map: indexing it measures it too, one walk instead of
         * two (the elements of a log entry's ops are such maps). */
        val_from(v, it->p, avail);
        len = v->len;
    } else {
        len = skip(it->p, avail);
        val_from(v, it->p, len);
    }
    /* "[i]" by hand: snprintf was a visible share of decoding a batch. */
    char idx[16], digits[12];
    size_t nd = 0, k = 0;
    uint32_t x = it->i;
    do {
        digits[nd++] = (char)('0' + x % 10);
        x /= 10;
    } while (x != 0);
    idx[k++] = '[';
    while (nd > 0) {
        idx[k++] = digits[--nd];
    }
    idx[k++] = ']';
    idx[k] = '\0';
    path_join(v->path, a->path, "", idx);
    it->p += len;
    it->i++;
    return true;
}
