/* transport.c: the authenticated raft_uv_transport (notes §4.2 option B,
 * DESIGN.md §7). raft 0.15's stock TCP transport trusts whatever a peer
 * claims and mallocs lengths read off the network (notes §0 item 10), so
 * every peer connection first runs this handshake, keyed with the 32-byte
 * cluster key, before raft sees a byte:
 *
 *   both sides, at once:    HELLO = "PRH1" | id (u64 BE) | nonce (32)   44 B
 *   connector -> listener:  AUTH  = alen (u16 BE, 1..63) | addr | mac_c  32 B
 *   listener  -> connector: PROOF = mac_s                                32 B
 *
 *   mac_c = HMAC-SHA256(key, "pilot-raft-c" | nonce_c | nonce_s | id_c | id_s
 *                            | alen | addr)
 *   mac_s = HMAC-SHA256(key, "pilot-raft-s" | nonce_c | nonce_s | id_c | id_s)
 *
 * Fresh nonces on both sides make a captured handshake useless; the peer id
 * and address raft receives are the MAC-covered ones; the connector checks
 * it reached the id raft asked for. Lengths are capped, each handshake has a
 * deadline, and failures are logged and dropped. Reads use buffers sized to
 * exactly the bytes still expected, so no raft byte is consumed here; the
 * connector sends raft data only after PROOF, i.e. after the listener has
 * stopped reading. Then the raft_malloc'd uv_tcp_t (TCP_NODELAY set) goes to
 * raft, which owns it from then on (uv_close + raft_free). raft_uv
 * overwrites t->data, so our state lives in t->impl (notes §4.1). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "glue_internal.h"

#define TR_MAGIC "PRH1"
#define TR_HELLO_LEN 44
#define TR_MAC_LEN crypto_auth_hmacsha256_BYTES
#define TR_NONCE_LEN 32
#define TR_HS_TIMEOUT_MS 5000
#define TR_MAX_HANDSHAKES 64
#define TR_BUF_MAX (2 + GLUE_ADDR_MAX + TR_MAC_LEN)

struct tr;

enum hs_stage {
    HS_HELLO = 0,  /* reading the peer's HELLO */
    HS_ALEN,       /* listener: reading alen */
    HS_AUTH,       /* listener: reading addr | mac_c */
    HS_PROOF,      /* connector: reading mac_s */
    HS_DONE,       /* verified; waiting for our writes to finish */
};

struct hs
{
    struct tr *tr;
    bool inbound;
    bool failed;
    bool handed_over;
    int stage;
    uv_tcp_t *tcp; /* raft_malloc'd: raft frees it after a hand-over */
    uv_timer_t timer;
    uv_connect_t connect;
    uv_write_t w_hello, w_second;
    unsigned writes; /* in flight */
    unsigned closes; /* handles still closing */
    int fail_status; /* reported to raft's connect cb once closed */
    struct raft_uv_connect *creq;
    raft_uv_connect_cb ccb;
    uint64_t peer_id;
    char peer_addr[GLUE_ADDR_MAX + 1];
    uint8_t nonce[TR_NONCE_LEN], peer_nonce[TR_NONCE_LEN];
    uint8_t rbuf[TR_HELLO_LEN > TR_BUF_MAX ? TR_HELLO_LEN : TR_BUF_MAX];
    size_t rlen, rwant;
    uint8_t hello[TR_HELLO_LEN];
    uint8_t second[TR_BUF_MAX];
    struct hs *next;
};

struct tr
{
    struct raft_uv_transport *t;
    uv_loop_t *loop;
    uint8_t key[GLUE_KEY_LEN];
    uint64_t id;
    char address[GLUE_ADDR_MAX + 1];
    uv_tcp_t listener;
    bool listener_open;
    raft_uv_accept_cb accept_cb;
    struct hs *hs;
    unsigned n_hs;
    bool closing;
    raft_uv_transport_close_cb close_cb;
    void (*log)(void *data, int level, const char *msg);
    void *log_data;
    struct glue__transport_stats stats;
};

static void tr_logf(struct tr *tr, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void tr_logf(struct tr *tr, int level, const char *fmt, ...)
{
    char msg[256];
    va_list ap;

    if (tr->log == NULL) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    tr->log(tr->log_data, level, msg);
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8) {
        p[i] = (uint8_t)v;
    }
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

static int parse_addr(const char *address, struct sockaddr_in *sa)
{
    char host[GLUE_ADDR_MAX + 1];
    const char *colon = strrchr(address, ':');
    long port;
    char *end;

    if (colon == NULL || strlen(address) > GLUE_ADDR_MAX) {
        return -1;
    }
    memcpy(host, address, (size_t)(colon - address));
    host[colon - address] = '\0';
    port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || port <= 0 || port > 65535) {
        return -1;
    }
    return uv_ip4_addr(host, (int)port, sa) == 0 ? 0 : -1;
}

/* mac over "pilot-raft-<side>" | nonce_c | nonce_s | id_c | id_s [| alen | addr] */
static void compute_mac(struct tr *tr, char side, const uint8_t nc[TR_NONCE_LEN],
                        const uint8_t ns[TR_NONCE_LEN], uint64_t idc, uint64_t ids,
                        const char *addr, uint8_t out[TR_MAC_LEN])
{
    crypto_auth_hmacsha256_state st;
    uint8_t label[12] = {'p', 'i', 'l', 'o', 't', '-', 'r', 'a', 'f', 't', '-', (uint8_t)side};
    uint8_t ids8[16];

    put_u64(ids8, idc);
    put_u64(ids8 + 8, ids);
    crypto_auth_hmacsha256_init(&st, tr->key, sizeof tr->key);
    crypto_auth_hmacsha256_update(&st, label, sizeof label);
    crypto_auth_hmacsha256_update(&st, nc, TR_NONCE_LEN);
    crypto_auth_hmacsha256_update(&st, ns, TR_NONCE_LEN);
    crypto_auth_hmacsha256_update(&st, ids8, sizeof ids8);
    if (addr != NULL) {
        size_t n = strlen(addr);
        uint8_t alen[2] = {(uint8_t)(n >> 8), (uint8_t)n};
        crypto_auth_hmacsha256_update(&st, alen, 2);
        crypto_auth_hmacsha256_update(&st, (const uint8_t *)addr, n);
    }
    crypto_auth_hmacsha256_final(&st, out);
}

/* ---- Handshake bookkeeping --------------------------------------------- */

static void tr_maybe_closed(struct tr *tr)
{
    if (tr->closing && tr->n_hs == 0 && !tr->listener_open && tr->close_cb != NULL) {
        raft_uv_transport_close_cb cb = tr->close_cb;
        tr->close_cb = NULL;
        cb(tr->t);
    }
}

static void hs_free_if_done(struct hs *hs)
{
    struct tr *tr = hs->tr;

    if (hs->closes > 0 || hs->writes > 0) {
        return;
    }
    if (hs->ccb != NULL) {
        /* Reported only once our handles are closed, like the stock
         * transport, never from inside tr_close itself. */
        raft_uv_connect_cb cb = hs->ccb;
        hs->ccb = NULL;
        cb(hs->creq, NULL, hs->fail_status);
    }
    for (struct hs **pp = &tr->hs; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == hs) {
            *pp = hs->next;
            break;
        }
    }
    tr->n_hs--;
    reg_free(hs);
    tr_maybe_closed(tr);
}

static void hs_timer_closed(uv_handle_t *h)
{
    struct hs *hs = h->data;
    hs->closes--;
    hs_free_if_done(hs);
}

static void hs_tcp_closed(uv_handle_t *h)
{
    struct hs *hs = h->data;
    raft_free(h);
    hs->closes--;
    hs_free_if_done(hs);
}

/* Abort a handshake. A network failure (peer down, hung up) is routine and
 * logged at debug level; a protocol or authentication failure (hostile)
 * is counted as a rejection and logged as a warning. */
static void hs_abort(struct hs *hs, int raft_status, bool hostile, const char *why)
{
    struct tr *tr = hs->tr;

    if (hs->failed || hs->handed_over) {
        return;
    }
    hs->failed = true;
    if (hostile) {
        tr->stats.rejected++;
    }
    if (raft_status != RAFT_CANCELED) {
        tr_logf(tr, hostile ? GLUE_LOG_WARN : GLUE_LOG_DEBUG, "raft peer %s %s dropped: %s",
                hs->inbound ? "from" : "to", hs->peer_addr[0] ? hs->peer_addr : "?", why);
    }
    if (hs->tcp != NULL) {
        hs->closes++;
        uv_close((uv_handle_t *)hs->tcp, hs_tcp_closed);
        hs->tcp = NULL;
    }
    hs->closes++;
    uv_close((uv_handle_t *)&hs->timer, hs_timer_closed);
    hs->fail_status = raft_status;
}

static void hs_fail(struct hs *hs, int raft_status, const char *why)
{
    hs_abort(hs, raft_status, false, why);
}

static void hs_reject(struct hs *hs, const char *why)
{
    hs_abort(hs, RAFT_NOCONNECTION, true, why);
}

static void hs_handover(struct hs *hs)
{
    struct tr *tr = hs->tr;
    uv_tcp_t *tcp = hs->tcp;

    if (hs->stage != HS_DONE || hs->writes > 0 || hs->failed || hs->handed_over) {
        return;
    }
    hs->handed_over = true;
    hs->tcp = NULL;
    hs->closes++;
    uv_close((uv_handle_t *)&hs->timer, hs_timer_closed);
    if (hs->inbound) {
        tr->stats.accepted++;
        tr_logf(tr, GLUE_LOG_DEBUG, "raft peer %llu (%s) authenticated (inbound)",
                (unsigned long long)hs->peer_id, hs->peer_addr);
        tr->accept_cb(tr->t, hs->peer_id, hs->peer_addr, (struct uv_stream_s *)tcp);
    } else {
        raft_uv_connect_cb cb = hs->ccb;
        tr->stats.connected++;
        hs->ccb = NULL;
        cb(hs->creq, (struct uv_stream_s *)tcp, 0);
    }
}

static void hs_write_cb(uv_write_t *req, int status)
{
    struct hs *hs = req->data;

    hs->writes--;
    if (status != 0) {
        hs_fail(hs, RAFT_NOCONNECTION, uv_strerror(status));
    }
    if (hs->failed) {
        hs_free_if_done(hs);
        return;
    }
    hs_handover(hs);
}

static int hs_write(struct hs *hs, uv_write_t *req, uint8_t *base, size_t len)
{
    uv_buf_t buf = uv_buf_init((char *)base, (unsigned)len);
    int rv;

    req->data = hs;
    rv = uv_write(req, (uv_stream_t *)hs->tcp, &buf, 1, hs_write_cb);
    if (rv == 0) {
        hs->writes++;
    }
    return rv;
}

/* ---- Reading exactly the handshake bytes -------------------------------- */

static void hs_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct hs *hs = h->data;

    (void)suggested;
    /* Exactly what the current stage still needs: never a raft byte. */
    *buf = uv_buf_init((char *)hs->rbuf + hs->rlen, (unsigned)(hs->rwant - hs->rlen));
}

static void expect(struct hs *hs, int stage, size_t n)
{
    hs->stage = stage;
    hs->rlen = 0;
    hs->rwant = n;
}

static void on_hello(struct hs *hs)
{
    struct tr *tr = hs->tr;
    uint64_t id = get_u64(hs->rbuf + 4);

    if (memcmp(hs->rbuf, TR_MAGIC, 4) != 0 || id == 0) {
        hs_reject(hs, "bad hello");
        return;
    }
    memcpy(hs->peer_nonce, hs->rbuf + 12, TR_NONCE_LEN);
    if (hs->inbound) {
        hs->peer_id = id;
        expect(hs, HS_ALEN, 2);
        return;
    }
    if (id != hs->peer_id) {
        hs_reject(hs, "peer has another id");
        return;
    }
    {
        size_t alen = strlen(tr->address);
        hs->second[0] = (uint8_t)(alen >> 8);
        hs->second[1] = (uint8_t)alen;
        memcpy(hs->second + 2, tr->address, alen);
        compute_mac(tr, 'c', hs->nonce, hs->peer_nonce, tr->id, hs->peer_id, tr->address,
                    hs->second + 2 + alen);
        if (hs_write(hs, &hs->w_second, hs->second, 2 + alen + TR_MAC_LEN) != 0) {
            hs_fail(hs, RAFT_NOCONNECTION, "write auth");
            return;
        }
    }
    expect(hs, HS_PROOF, TR_MAC_LEN);
}

static void on_alen(struct hs *hs)
{
    size_t alen = (size_t)hs->rbuf[0] << 8 | hs->rbuf[1];

    if (alen == 0 || alen > GLUE_ADDR_MAX) {
        hs_reject(hs, "address length out of range");
        return;
    }
    expect(hs, HS_AUTH, alen + TR_MAC_LEN);
}

static void on_auth(struct hs *hs)
{
    struct tr *tr = hs->tr;
    size_t alen = hs->rwant - TR_MAC_LEN;
    uint8_t mac[TR_MAC_LEN];

    for (size_t i = 0; i < alen; i++) {
        if (hs->rbuf[i] < 0x21 || hs->rbuf[i] > 0x7e) {
            hs_reject(hs, "address not printable");
            return;
        }
    }
    memcpy(hs->peer_addr, hs->rbuf, alen);
    hs->peer_addr[alen] = '\0';
    compute_mac(tr, 'c', hs->peer_nonce, hs->nonce, hs->peer_id, tr->id, hs->peer_addr, mac);
    if (!reg_ct_equal(mac, hs->rbuf + alen, TR_MAC_LEN)) {
        hs_reject(hs, "authentication failed (wrong cluster key?)");
        return;
    }
    uv_read_stop((uv_stream_t *)hs->tcp);
    compute_mac(tr, 's', hs->peer_nonce, hs->nonce, hs->peer_id, tr->id, NULL, hs->second);
    hs->stage = HS_DONE;
    if (hs_write(hs, &hs->w_second, hs->second, TR_MAC_LEN) != 0) {
        hs_fail(hs, RAFT_NOCONNECTION, "write proof");
    }
    /* Hand-over happens when the proof write completes. */
}

static void on_proof(struct hs *hs)
{
    struct tr *tr = hs->tr;
    uint8_t mac[TR_MAC_LEN];

    compute_mac(tr, 's', hs->nonce, hs->peer_nonce, tr->id, hs->peer_id, NULL, mac);
    if (!reg_ct_equal(mac, hs->rbuf, TR_MAC_LEN)) {
        hs_reject(hs, "peer failed authentication (wrong cluster key?)");
        return;
    }
    uv_read_stop((uv_stream_t *)hs->tcp);
    hs->stage = HS_DONE;
    hs_handover(hs);
}

static void hs_read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct hs *hs = s->data;

    (void)buf;
    if (hs->failed) {
        return;
    }
    if (n < 0) {
        hs_fail(hs, RAFT_NOCONNECTION, n == UV_EOF ? "closed during handshake" : uv_strerror((int)n));
        return;
    }
    hs->rlen += (size_t)n;
    if (hs->rlen < hs->rwant) {
        return;
    }
    switch (hs->stage) {
    case HS_HELLO:
        on_hello(hs);
        break;
    case HS_ALEN:
        on_alen(hs);
        break;
    case HS_AUTH:
        on_auth(hs);
        break;
    case HS_PROOF:
        on_proof(hs);
        break;
    default:
        break;
    }
}

static void hs_timeout_cb(uv_timer_t *t)
{
    hs_reject(t->data, "handshake timed out");
}

static struct hs *hs_new(struct tr *tr, bool inbound)
{
    struct hs *hs;

    if (tr->n_hs >= TR_MAX_HANDSHAKES) {
        return NULL;
    }
    hs = reg_calloc(1, sizeof *hs);
    if (hs == NULL) {
        return NULL;
    }
    hs->tcp = raft_malloc(sizeof *hs->tcp);
    if (hs->tcp == NULL) {
        reg_free(hs);
        return NULL;
    }
    hs->tr = tr;
    hs->inbound = inbound;
    uv_tcp_init(tr->loop, hs->tcp);
    hs->tcp->data = hs;
    uv_timer_init(tr->loop, &hs->timer);
    hs->timer.data = hs;
    uv_timer_start(&hs->timer, hs_timeout_cb, TR_HS_TIMEOUT_MS, 0);
    randombytes_buf(hs->nonce, sizeof hs->nonce);
    memcpy(hs->hello, TR_MAGIC, 4);
    put_u64(hs->hello + 4, tr->id);
    memcpy(hs->hello + 12, hs->nonce, TR_NONCE_LEN);
    expect(hs, HS_HELLO, TR_HELLO_LEN);
    hs->next = tr->hs;
    tr->hs = hs;
    tr->n_hs++;
    return hs;
}

/* Start the exchange on an open connection: TCP_NODELAY, HELLO, read. */
static void hs_begin(struct hs *hs)
{
    uv_tcp_nodelay(hs->tcp, 1);
    if (hs_write(hs, &hs->w_hello, hs->hello, TR_HELLO_LEN) != 0 ||
        uv_read_start((uv_stream_t *)hs->tcp, hs_alloc_cb, hs_read_cb) != 0) {
        hs_fail(hs, RAFT_NOCONNECTION, "cannot start handshake");
    }
}

/* ---- raft_uv_transport methods ----------------------------------------- */

static int tr_init(struct raft_uv_transport *t, raft_id id, const char *address)
{
    struct tr *tr = t->impl;
    struct sockaddr_in sa;

    if (parse_addr(address, &sa) != 0) {
        snprintf(t->errmsg, sizeof t->errmsg, "bad address %s", address);
        return RAFT_INVALID;
    }
    tr->id = id;
    snprintf(tr->address, sizeof tr->address, "%s", address);
    return 0;
}

static void on_connection(uv_stream_t *server, int status)
{
    struct tr *tr = server->data;
    struct hs *hs;

    if (status != 0 || tr->closing) {
        return;
    }
    hs = hs_new(tr, true);
    if (hs == NULL) {
        /* Accept and drop so the kernel backlog does not fill up. */
        uv_tcp_t *tmp = raft_malloc(sizeof *tmp);
        if (tmp != NULL) {
            uv_tcp_init(tr->loop, tmp);
            if (uv_accept(server, (uv_stream_t *)tmp) == 0) {
                tr->stats.rejected++;
                tr_logf(tr, GLUE_LOG_WARN, "raft peer dropped: too many handshakes");
            }
            uv_close((uv_handle_t *)tmp, (uv_close_cb)raft_free);
        }
        return;
    }
    if (uv_accept(server, (uv_stream_t *)hs->tcp) != 0) {
        hs_fail(hs, RAFT_NOCONNECTION, "accept failed");
        return;
    }
    hs_begin(hs);
}

static int tr_listen(struct raft_uv_transport *t, raft_uv_accept_cb cb)
{
    struct tr *tr = t->impl;
    struct sockaddr_in sa;
    int rv;

    if (parse_addr(tr->address, &sa) != 0) {
        return RAFT_INVALID;
    }
    tr->accept_cb = cb;
    uv_tcp_init(tr->loop, &tr->listener);
    tr->listener.data = tr;
    tr->listener_open = true;
    rv = uv_tcp_bind(&tr->listener, (const struct sockaddr *)&sa, 0);
    if (rv == 0) {
        rv = uv_listen((uv_stream_t *)&tr->listener, 128, on_connection);
    }
    if (rv != 0) {
        snprintf(t->errmsg, sizeof t->errmsg, "listen on %s: %s", tr->address, uv_strerror(rv));
        return RAFT_IOERR;
    }
    return 0;
}

static void connect_cb(uv_connect_t *req, int status)
{
    struct hs *hs = req->data;

    if (hs->failed) {
        return;
    }
    if (status != 0) {
        hs_fail(hs, hs->tr->closing ? RAFT_CANCELED : RAFT_NOCONNECTION, uv_strerror(status));
        return;
    }
    hs_begin(hs);
}

static int tr_connect(struct raft_uv_transport *t, struct raft_uv_connect *req, raft_id id,
                      const char *address, raft_uv_connect_cb cb)
{
    struct tr *tr = t->impl;
    struct sockaddr_in sa;
    struct hs *hs;
    int rv;

    if (parse_addr(address, &sa) != 0) {
        return RAFT_NOCONNECTION;
    }
    hs = hs_new(tr, false);
    if (hs == NULL) {
        return RAFT_NOMEM;
    }
    hs->creq = req;
    hs->peer_id = id;
    snprintf(hs->peer_addr, sizeof hs->peer_addr, "%s", address);
    hs->connect.data = hs;
    rv = uv_tcp_connect(&hs->connect, hs->tcp, (const struct sockaddr *)&sa, connect_cb);
    if (rv != 0) {
        /* No callback yet: fail without calling raft back (error return). */
        hs->ccb = NULL;
        hs_fail(hs, RAFT_NOCONNECTION, uv_strerror(rv));
        return RAFT_NOCONNECTION;
    }
    hs->ccb = cb;
    req->cb = cb;
    return 0;
}

static void listener_closed(uv_handle_t *h)
{
    struct tr *tr = h->data;

    tr->listener_open = false;
    tr_maybe_closed(tr);
}

static void tr_close(struct raft_uv_transport *t, raft_uv_transport_close_cb cb)
{
    struct tr *tr = t->impl;

    tr->closing = true;
    tr->close_cb = cb;
    for (struct hs *hs = tr->hs; hs != NULL; hs = hs->next) {
        /* Pending connects are cancelled (raft's contract for close). */
        hs_fail(hs, RAFT_CANCELED, "transport closing");
    }
    if (tr->listener_open && !uv_is_closing((uv_handle_t *)&tr->listener)) {
        uv_close((uv_handle_t *)&tr->listener, listener_closed);
    }
    tr_maybe_closed(tr);
}

int glue__transport_init(struct raft_uv_transport *t, uv_loop_t *loop,
                         const uint8_t key[static GLUE_KEY_LEN],
                         void (*log)(void *data, int level, const char *msg), void *log_data)
{
    struct tr *tr = reg_calloc(1, sizeof *tr);

    if (tr == NULL) {
        return RAFT_NOMEM;
    }
    memset(t, 0, sizeof *t);
    tr->t = t;
    tr->loop = loop;
    memcpy(tr->key, key, GLUE_KEY_LEN);
    tr->log = log;
    tr->log_data = log_data;
    t->impl = tr;
    t->init = tr_init;
    t->listen = tr_listen;
    t->connect = tr_connect;
    t->close = tr_close;
    return 0;
}

void glue__transport_close(struct raft_uv_transport *t)
{
    struct tr *tr = t->impl;

    if (tr != NULL) {
        sodium_memzero(tr->key, sizeof tr->key);
        reg_free(tr);
        t->impl = NULL;
    }
}

void glue__transport_stats(struct raft_uv_transport *t, struct glue__transport_stats *s)
{
    *s = ((struct tr *)t->impl)->stats;
}
