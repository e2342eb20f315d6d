/* auth.c: the connection handshake (docs/protocol.md "Connection
 * handshake") on the server side.
 *
 * The node speaks first with a hello carrying a fresh 32-byte nonce from
 * libsodium; the client answers with one auth (agent key signature, admin
 * token, or peer HMAC with the cluster key), verified by proto against that
 * nonce, so a recorded handshake is useless on another connection. The
 * connection is then bound to the proven identity for its whole life: one
 * signature per connection, not per request. Any failure gets a welcome
 * with ok:false and the connection closes. */
#include <sodium.h>
#include <string.h>

#include "srv_internal.h"

static int enc_hello(struct proto_out *o, const void *arg)
{
    return proto_hello_encode(o, arg);
}

static int enc_welcome(struct proto_out *o, const void *arg)
{
    return proto_welcome_encode(o, arg);
}

void srv__auth_hello(struct srv__conn *c)
{
    struct srv *s = c->srv;
    memset(&c->hello, 0, sizeof c->hello);
    c->hello.v = PROTO_VERSION;
    snprintf(c->hello.cluster, sizeof c->hello.cluster, "%s", s->cfg.cluster_id);
    c->hello.node = s->id;
    randombytes_buf(c->hello.nonce, sizeof c->hello.nonce);
    srv__conn_send_msg(c, enc_hello, &c->hello);
}

static void refuse(struct srv__conn *c, int code, const char *why)
{
    struct proto_welcome w;
    char q[REG_ERRMSG_SIZE + 2];
    memset(&w, 0, sizeof w);
    w.ok = false;
    w.code = (uint16_t)code;
    snprintf(w.message, sizeof w.message, "%s", why);
    srv_log_quote(q, sizeof q, why);
    srv_log(SRV_LOG_WARN, "auth_refused", "conn=%llu peer=%s code=%s why=%s",
            (unsigned long long)c->serial, c->peer_addr, reg_err_name(code), q);
    srv__conn_send_msg(c, enc_welcome, &w);
    srv__conn_close(c, "auth_refused");
}

void srv__auth_frame(struct srv__conn *c, const uint8_t *body, size_t len)
{
    struct srv *s = c->srv;
    struct proto_auth a;
    struct proto_welcome w;
    char errmsg[REG_ERRMSG_SIZE];
    const char *kind = "agent";
    int rv = proto_auth_decode(body, len, &a, errmsg);
    if (rv != REG_OK) {
        refuse(c, REG_UNAUTHENTICATED, errmsg);
        goto out;
    }
    rv = proto_auth_verify(&a, &c->hello, s->secrets.admin_token_len ? s->secrets.admin_token : NULL,
                           s->secrets.cluster_key, errmsg);
    if (rv != REG_OK) {
        refuse(c, REG_UNAUTHENTICATED, errmsg);
        goto out;
    }
    memset(&c->ident, 0, sizeof c->ident);
    if (a.kind == PROTO_AUTH_PEER) {
        c->ident.peer = a.peer;
        kind = "peer";
    } else {
        c->ident.admin = a.kind == PROTO_AUTH_ADMIN;
        c->ident.has_key = a.has_key;
        memcpy(c->ident.key, a.key, ST_KEY_LEN);
        if (c->ident.admin) {
            kind = "admin";
        }
    }
    memset(&w, 0, sizeof w);
    w.ok = true;
    w.node_id = c->ident.has_key ? st_node_by_key(s->state, c->ident.key) : 0;
    c->phase = SRV__READY;
    srv_log(SRV_LOG_DEBUG, "auth_ok", "conn=%llu peer=%s kind=%s node_id=%u",
            (unsigned long long)c->serial, c->peer_addr, kind, w.node_id);
    srv__conn_send_msg(c, enc_welcome, &w);
out:
    sodium_memzero(&a, sizeof a);
}
