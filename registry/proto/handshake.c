/* handshake.c: the connection handshake (docs/protocol.md "Connection
 * handshake"): hello / auth / welcome messages, the exact bytes an agent
 * signs (Ed25519) and a peer MACs (HMAC-SHA256 with the cluster key), and
 * the server-side verification. The signed bytes cover the server's fresh
 * nonce and the cluster id, so a captured auth is useless on any other
 * connection or cluster. */
#include <string.h>

#include <sodium.h>

#include "proto.h"

#define AUTH_PREFIX "pilot-auth-v1"   /* followed by its NUL on the wire */
#define PEER_PREFIX "pilot-peer-v1"
#define SIGNED_MAX 256

static int type_is(const struct proto_val *root, const char *want, char *errmsg)
{
    const char *s = NULL;
    size_t n = 0;
    int rv = proto_get_strv(root, "t", PROTO_REQ, 16, &s, &n, errmsg);
    if (rv == REG_OK && (n != strlen(want) || memcmp(s, want, n) != 0)) {
        reg_errmsgf(errmsg, "t: expected \"%s\", got \"%.*s\"", want, (int)n, s);
        rv = REG_MALFORMED;
    }
    return rv;
}

static int malformed(int rv)
{
    return rv == REG_INVALID_ARGUMENT ? REG_MALFORMED : rv;
}

int proto_hello_encode(struct proto_out *o, const struct proto_hello *h)
{
    proto_put_map(o, 5);
    proto_put_str(o, "t");
    proto_put_str(o, "hello");
    proto_put_str(o, "v");
    proto_put_u64(o, h->v);
    proto_put_str(o, "cluster");
    proto_put_strn(o, h->cluster, strnlen(h->cluster, PROTO_CLUSTER_ID_MAX));
    proto_put_str(o, "node");
    proto_put_u64(o, h->node);
    proto_put_str(o, "nonce");
    proto_put_bin(o, h->nonce, PROTO_NONCE_LEN);
    return o->err;
}

int proto_hello_decode(const void *buf, size_t len, struct proto_hello *h,
                       char errmsg[static REG_ERRMSG_SIZE])
{
    struct proto_val root;
    memset(h, 0, sizeof *h);
    int rv = proto_parse(buf, len, "hello", &root, errmsg);
    if (rv == REG_OK) {
        rv = type_is(&root, "hello", errmsg);
    }
    if (rv == REG_OK) {
        rv = proto_get_u32(&root, "v", PROTO_REQ, UINT32_MAX, &h->v, errmsg);
    }
    if (rv == REG_OK) {
        rv = proto_get_str(&root, "cluster", PROTO_REQ, PROTO_CLUSTER_ID_MAX, h->cluster, errmsg);
    }
    if (rv == REG_OK) {
        rv = proto_get_u64(&root, "node", PROTO_REQ, UINT64_MAX, &h->node, errmsg);
    }
    if (rv == REG_OK) {
        rv = proto_get_bin(&root, "nonce", PROTO_REQ, PROTO_NONCE_LEN, h->nonce, errmsg);
    }
    return malformed(rv);
}

int proto_auth_encode(struct proto_out *o, const struct proto_auth *a)
{
    bool sig = a->kind == PROTO_AUTH_AGENT || (a->kind == PROTO_AUTH_ADMIN && a->has_key);
    if (a->kind < PROTO_AUTH_AGENT || a->kind > PROTO_AUTH_PEER) {
        if (o->err == REG_OK) {
            o->err = REG_INVALID_ARGUMENT;
        }
        return o->err;
    }
    proto_put_map(o, 1 + (a->kind == PROTO_AUTH_ADMIN) + (sig ? 3 : 0) +
                         (a->kind == PROTO_AUTH_PEER ? 3 : 0));
    proto_put_str(o, "t");
    proto_put_str(o, "auth");
    if (a->kind == PROTO_AUTH_ADMIN) {
        proto_put_str(o, "admin");
        proto_put_strn(o, a->admin, strnlen(a->admin, PROTO_ADMIN_TOKEN_MAX));
    }
    if (sig) {
        proto_put_str(o, "key");
        proto_put_bin(o, a->key, ST_KEY_LEN);
        proto_put_str(o, "cnonce");
        proto_put_bin(o, a->cnonce, PROTO_NONCE_LEN);
        proto_put_str(o, "sig");
        proto_put_bin(o, a->sig, PROTO_SIG_LEN);
    }
    if (a->kind == PROTO_AUTH_PEER) {
        proto_put_str(o, "peer");
        proto_put_u64(o, a->peer);
        proto_put_str(o, "cnonce");
        proto_put_bin(o, a->cnonce, PROTO_NONCE_LEN);
        proto_put_str(o, "mac");
        proto_put_bin(o, a->mac, PROTO_MAC_LEN);
    }
    return o->err;
}

int proto_auth_decode(const void *buf, size_t len, struct proto_auth *a,
                      char errmsg[static REG_ERRMSG_SIZE])
{
    struct proto_val root;
    memset(a, 0, sizeof *a);
    int rv = proto_parse(buf, len, "auth", &root, errmsg);
    if (rv == REG_OK) {
        rv = type_is(&root, "auth", errmsg);
    }
    if (rv != REG_OK) {
        return malformed(rv);
    }
    if (proto_has(&root, "peer")) {
        a->kind = PROTO_AUTH_PEER;
        rv = proto_get_u64(&root, "peer", PROTO_REQ, UINT64_MAX, &a->peer, errmsg);
        if (rv == REG_OK) {
            rv = proto_get_bin(&root, "cnonce", PROTO_REQ, PROTO_NONCE_LEN, a->cnonce, errmsg);
        }
        if (rv == REG_OK) {
            rv = proto_get_bin(&root, "mac", PROTO_REQ, PROTO_MAC_LEN, a->mac, errmsg);
        }
        return malformed(rv);
    }
    if (proto_has(&root, "admin")) {
        a->kind = PROTO_AUTH_ADMIN;
        rv = proto_get_str(&root, "admin", PROTO_REQ, PROTO_ADMIN_TOKEN_MAX, a->admin, errmsg);
    } else if (proto_has(&root, "key")) {
        a->kind = PROTO_AUTH_AGENT;
    } else {
        reg_errmsgf(errmsg, "auth: no credential (key, admin or peer)");
        return REG_MALFORMED;
    }
    a->has_key = proto_has(&root, "key");
    if (rv == REG_OK && a->has_key) {
        rv = proto_get_bin(&root, "key", PROTO_REQ, ST_KEY_LEN, a->key, errmsg);
        if (rv == REG_OK) {
            rv = proto_get_bin(&root, "cnonce", PROTO_REQ, PROTO_NONCE_LEN, a->cnonce, errmsg);
        }
        if (rv == REG_OK) {
            rv = proto_get_bin(&root, "sig", PROTO_REQ, PROTO_SIG_LEN, a->sig, errmsg);
        }
    }
    return malformed(rv);
}

int proto_welcome_encode(struct proto_out *o, const struct proto_welcome *w)
{
    proto_put_map(o, 3);
    proto_put_str(o, "t");
    proto_put_str(o, "welcome");
    proto_put_str(o, "ok");
    proto_put_bool(o, w->ok);
    if (w->ok) {
        proto_put_str(o, "node_id");
        proto_put_u64(o, w->node_id);
    } else {
        proto_put_str(o, "error");
        proto_put_map(o, 2);
        proto_put_str(o, "code");
        proto_put_str(o, reg_err_name(w->code));
        proto_put_str(o, "message");
        proto_put_strn(o, w->message, strnlen(w->message, PROTO_MESSAGE_MAX));
    }
    return o->err;
}

int proto_welcome_decode(const void *buf, size_t len, struct proto_welcome *w,
                         char errmsg[static REG_ERRMSG_SIZE])
{
    struct proto_val root, e;
    const char *s = NULL;
    size_t n = 0;
    memset(w, 0, sizeof *w);
    int rv = proto_parse(buf, len, "welcome", &root, errmsg);
    if (rv == REG_OK) {
        rv = type_is(&root, "welcome", errmsg);
    }
    if (rv == REG_OK) {
        rv = proto_get_bool(&root, "ok", PROTO_REQ, &w->ok, errmsg);
    }
    if (rv == REG_OK && w->ok) {
        rv = proto_get_u32(&root, "node_id", 0, UINT32_MAX, &w->node_id, errmsg);
    } else if (rv == REG_OK) {
        rv = proto_get_map(&root, "error", PROTO_REQ, &e, errmsg);
        if (rv == REG_OK) {
            rv = proto_get_strv(&e, "code", PROTO_REQ, 64, &s, &n, errmsg);
        }
        if (rv == REG_OK) {
            int code = reg_err_from_name(s, n);
            w->code = (uint16_t)(code == REG_OK ? REG_INTERNAL : code);
            rv = proto_get_str(&e, "message", 0, PROTO_MESSAGE_MAX, w->message, errmsg);
        }
    }
    return malformed(rv);
}

/* prefix "\0" cluster "\0" nonce cnonce tail, written up to cap. */
static size_t build(const char *prefix, const char *cluster, const uint8_t *nonce,
                    const uint8_t *cnonce, const uint8_t *tail, size_t tail_len, uint8_t *out,
                    size_t cap)
{
    size_t cl = strnlen(cluster, PROTO_CLUSTER_ID_MAX);
    const struct {
        const void *p;
        size_t n;
    } parts[] = {
        {prefix, strlen(prefix) + 1}, {cluster, cl}, {"", 1},
        {nonce, PROTO_NONCE_LEN}, {cnonce, PROTO_NONCE_LEN}, {tail, tail_len},
    };
    size_t pos = 0;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        size_t n = parts[i].n;
        if (pos < cap) {
            memcpy(out + pos, parts[i].p, n < cap - pos ? n : cap - pos);
        }
        pos += n;
    }
    return pos;
}

size_t proto_auth_signed_bytes(const char *cluster, const uint8_t nonce[PROTO_NONCE_LEN],
                               const uint8_t cnonce[PROTO_NONCE_LEN],
                               const uint8_t key[ST_KEY_LEN], uint8_t *out, size_t cap)
{
    return build(AUTH_PREFIX, cluster, nonce, cnonce, key, ST_KEY_LEN, out, cap);
}

size_t proto_peer_mac_bytes(const char *cluster, const uint8_t nonce[PROTO_NONCE_LEN],
                            const uint8_t cnonce[PROTO_NONCE_LEN], uint64_t peer,
                            uint8_t *out, size_t cap)
{
    uint8_t be[8];
    for (int i = 0; i < 8; i++) {
        be[i] = (uint8_t)(peer >> (56 - 8 * i));
    }
    return build(PEER_PREFIX, cluster, nonce, cnonce, be, sizeof be, out, cap);
}

int proto_auth_sign(struct proto_auth *a, const struct proto_hello *h,
                    const uint8_t sk[PROTO_SK_LEN], const uint8_t cnonce[PROTO_NONCE_LEN])
{
    uint8_t m[SIGNED_MAX];
    memset(a, 0, sizeof *a);
    if (sodium_init() < 0) {
        return REG_INTERNAL;
    }
    a->kind = PROTO_AUTH_AGENT;
    a->has_key = true;
    crypto_sign_ed25519_sk_to_pk(a->key, sk);
    memcpy(a->cnonce, cnonce, PROTO_NONCE_LEN);
    size_t n = proto_auth_signed_bytes(h->cluster, h->nonce, a->cnonce, a->key, m, sizeof m);
    crypto_sign_detached(a->sig, NULL, m, n, sk);
    return REG_OK;
}

int proto_auth_admin(struct proto_auth *a, const char *token)
{
    size_t n = strnlen(token, PROTO_ADMIN_TOKEN_MAX + 1);
    memset(a, 0, sizeof *a);
    if (n > PROTO_ADMIN_TOKEN_MAX) {
        return REG_INVALID_ARGUMENT;
    }
    a->kind = PROTO_AUTH_ADMIN;
    memcpy(a->admin, token, n);
    return REG_OK;
}

int proto_auth_peer(struct proto_auth *a, const struct proto_hello *h, uint64_t peer,
                    const uint8_t cluster_key[PROTO_CLUSTER_KEY_LEN],
                    const uint8_t cnonce[PROTO_NONCE_LEN])
{
    uint8_t m[SIGNED_MAX];
    memset(a, 0, sizeof *a);
    if (sodium_init() < 0) {
        return REG_INTERNAL;
    }
    a->kind = PROTO_AUTH_PEER;
    a->peer = peer;
    memcpy(a->cnonce, cnonce, PROTO_NONCE_LEN);
    size_t n = proto_peer_mac_bytes(h->cluster, h->nonce, a->cnonce, peer, m, sizeof m);
    crypto_auth_hmacsha256(a->mac, m, n, cluster_key);
    return REG_OK;
}

static int verify_sig(const struct proto_auth *a, const struct proto_hello *h, char *errmsg)
{
    uint8_t m[SIGNED_MAX];
    size_t n = proto_auth_signed_bytes(h->cluster, h->nonce, a->cnonce, a->key, m, sizeof m);
    if (crypto_sign_verify_detached(a->sig, m, n, a->key) != 0) {
        reg_errmsgf(errmsg, "auth: bad signature");
        return REG_UNAUTHENTICATED;
    }
    return REG_OK;
}

/* Tokens are hashed before the constant-time compare so that neither the
 * content nor the length of the configured token leaks through timing. */
static bool token_equal(const char *given, const char *want)
{
    uint8_t hg[32], hw[32];
    crypto_generichash(hg, sizeof hg, (const uint8_t *)given, strlen(given), NULL, 0);
    crypto_generichash(hw, sizeof hw, (const uint8_t *)want, strlen(want), NULL, 0);
    return reg_ct_equal(hg, hw, sizeof hg) == 1;
}

int proto_auth_verify(const struct proto_auth *a, const struct proto_hello *h,
                      const char *admin_token,
                      const uint8_t cluster_key[PROTO_CLUSTER_KEY_LEN],
                      char errmsg[static REG_ERRMSG_SIZE])
{
    uint8_t m[SIGNED_MAX];
    if (sodium_init() < 0) {
        reg_errmsgf(errmsg, "auth: libsodium unavailable");
        return REG_INTERNAL;
    }
    switch (a->kind) {
    case PROTO_AUTH_AGENT:
        if (!a->has_key) {
            reg_errmsgf(errmsg, "auth: no key");
            return REG_UNAUTHENTICATED;
        }
        return verify_sig(a, h, errmsg);
    case PROTO_AUTH_ADMIN:
        if (admin_token == NULL || admin_token[0] == '\0' || !token_equal(a->admin, admin_token)) {
            reg_errmsgf(errmsg, "auth: bad admin token");
            return REG_UNAUTHENTICATED;
        }
        return a->has_key ? verify_sig(a, h, errmsg) : REG_OK;
    case PROTO_AUTH_PEER: {
        if (cluster_key == NULL || a->peer == 0) {
            reg_errmsgf(errmsg, "auth: peer authentication not accepted");
            return REG_UNAUTHENTICATED;
        }
        size_t n = proto_peer_mac_bytes(h->cluster, h->nonce, a->cnonce, a->peer, m, sizeof m);
        if (crypto_auth_hmacsha256_verify(a->mac, m, n, cluster_key) != 0) {
            reg_errmsgf(errmsg, "auth: bad peer MAC");
            return REG_UNAUTHENTICATED;
        }
        return REG_OK;
    }
    default:
        reg_errmsgf(errmsg, "auth: unknown kind");
        return REG_UNAUTHENTICATED;
    }
}
