/* forward.c: follower -> leader forwarding over peer-authenticated links
 * (DESIGN.md §4, operations-conventions §A).
 *
 * A follower that receives a write or a linearizable read it cannot serve
 * sends it, once, to the leader's client address taken from the replicated
 * cluster-members map (the leader's raft id comes from glue_leader). The
 * link authenticates as a peer: HMAC over the leader's fresh nonce with the
 * cluster key, so only nodes holding the key may vouch for a caller; each
 * forwarded request carries on_behalf, the identity this follower verified.
 * The leader never forwards it again (one hop).
 *
 * Every forwarded request has a deadline (2 election timeouts; longer for
 * membership ops). A request that was not sent when the link failed was
 * definitely not applied (unavailable); a write that was sent and got no
 * answer may have been (unknown_outcome); reads just fail (unavailable).
 *
 * The same link object carries a joining node's cluster_add (cluster.c).
 *
 * Batching: a call is queued, and the link writes every queued call with
 * one writev in the loop's check phase, i.e. after all the I/O callbacks of
 * the current iteration have run: under load one system call carries the
 * requests of many clients, at no added latency. Calls stay in FIFO order,
 * so the answer to the oldest call (normally the next one) is found first. */
#include <sodium.h>
#include <string.h>

#include "srv_internal.h"

enum { LINK_CONNECTING = 0, LINK_HELLO, LINK_WELCOME, LINK_READY, LINK_DEAD };

struct link_call {
    uint64_t id;
    uint64_t deadline;
    bool sent;
    void *buf;                  /* framed request until sent */
    size_t len;
    srv__link_cb cb;
    void *data;
    struct link_call *next;
};

struct link_write {
    uv_write_t req;
    struct srv__link *link;
    unsigned n;
    void *bufs[];               /* n frames, freed when written */
};

struct srv__link {
    struct srv *srv;
    uv_tcp_t tcp;
    uv_connect_t connect;
    uv_timer_t timer;
    uv_check_t flusher;         /* writes the queued calls, then stops */
    unsigned handles;
    int phase;
    bool closed;                /* close requested: handles closing */
    uint64_t target;
    char addr[SRV_ADDR_MAX + 1];
    uint64_t next_id;
    uint64_t opened_at;         /* loop ms: bounds connect + handshake */
    struct proto_reader reader;
    struct link_call *calls;    /* oldest first */
    struct link_call **calls_tail;
    struct srv__link **slot;    /* cleared when the link dies */
    uint8_t chunk[SRV__READ_CHUNK];
};

static void link_fail(struct srv__link *l, const char *why);

static void link_maybe_free(struct srv__link *l)
{
    if (l->handles == 0 && l->closed) {
        proto_reader_free(&l->reader);
        reg_free(l);
    }
}

static void link_handle_closed(uv_handle_t *h)
{
    struct srv__link *l = h->data;
    l->handles--;
    link_maybe_free(l);
}

static void finish_call(struct link_call *c, int code, const struct proto_response *rs)
{
    srv__link_cb cb = c->cb;
    void *data = c->data;
    bool sent = c->sent;
    reg_free(c->buf);
    reg_free(c);
    cb(data, code, sent, rs);
}

static void link_write_cb(uv_write_t *req, int status)
{
    struct link_write *w = req->data;
    struct srv__link *l = w->link;
    for (unsigned i = 0; i < w->n; i++) {
        reg_free(w->bufs[i]);
    }
    reg_free(w);
    if (status != 0 && !l->closed) {
        link_fail(l, "write_error");
    }
}

/* Write n frames with one request; the link owns the buffers from now on
 * (w->bufs is filled by the caller, lens[i] their sizes). */
static int link_writev(struct srv__link *l, struct link_write *w, const size_t *lens)
{
    uv_buf_t small[16];
    uv_buf_t *b = w->n <= 16 ? small : reg_malloc(w->n * sizeof *b);
    int rv = REG_OK;
    if (b == NULL) {
        rv = REG_NOMEM;
        goto err_free;
    }
    for (unsigned i = 0; i < w->n; i++) {
        b[i] = uv_buf_init(w->bufs[i], (unsigned)lens[i]);
    }
    w->link = l;
    w->req.data = w;
    /* libuv copies the uv_buf_t array: b may go after the call. */
    if (uv_write(&w->req, (uv_stream_t *)&l->tcp, b, w->n, link_write_cb) != 0) {
        rv = REG_UNAVAILABLE;
        goto err_free;
    }
    goto out;
err_free:
    for (unsigned i = 0; i < w->n; i++) {
        reg_free(w->bufs[i]);
    }
    reg_free(w);
out:
    if (b != small) {
        reg_free(b);
    }
    return rv;
}

static int link_write(struct srv__link *l, void *buf, size_t len)
{
    struct link_write *w = reg_malloc(sizeof *w + sizeof w->bufs[0]);
    if (w == NULL) {
        reg_free(buf);
        return REG_NOMEM;
    }
    w->n = 1;
    w->bufs[0] = buf;
    return link_writev(l, w, &len);
}

/* Send every call not sent yet, in order, with one write. */
static void link_flush(struct srv__link *l)
{
    struct link_call *c;
    struct link_write *w;
    size_t small[16];
    size_t *lens = small;
    unsigned n = 0, k = 0;
    if (l->phase != LINK_READY) {
        return;
    }
    for (c = l->calls; c != NULL; c = c->next) {
        n += !c->sent && c->buf != NULL;
    }
    if (n == 0) {
        return;
    }
    w = reg_malloc(sizeof *w + n * sizeof w->bufs[0]);
    if (n > 16) {
        lens = reg_malloc(n * sizeof *lens);
    }
    if (w == NULL || lens == NULL) {
        reg_free(w);
        if (lens != small) {
            reg_free(lens);
        }
        link_fail(l, "nomem");
        return;
    }
    for (c = l->calls; c != NULL; c = c->next) {
        if (!c->sent && c->buf != NULL) {
            w->bufs[k] = c->buf;
            lens[k++] = c->len;
            c->buf = NULL;
            c->sent = true;
        }
    }
    w->n = n;
    if (link_writev(l, w, lens) != REG_OK) {
        link_fail(l, "write_error");
    }
    if (lens != small) {
        reg_free(lens);
    }
}

static void link_check(uv_check_t *h)
{
    struct srv__link *l = h->data;
    uv_check_stop(h);
    if (!l->closed) {
        link_flush(l);
    }
}

static void calls_append(struct srv__link *l, struct link_call *c)
{
    c->next = NULL;
    *l->calls_tail = c;
    l->calls_tail = &c->next;
}

static struct link_call *calls_unlink(struct srv__link *l, struct link_call **pp)
{
    struct link_call *c = *pp;
    *pp = c->next;
    if (l->calls_tail == &c->next) {
        l->calls_tail = pp;
    }
    return c;
}

/* Detach every call, close the handles, then run the callbacks (they may
 * open a new link through the slot we just cleared). */
static void link_fail(struct srv__link *l, const char *why)
{
    struct link_call *c, *calls;
    if (l->closed) {
        return;
    }
    srv_log(SRV_LOG_INFO, "peer_link_closed", "target=%llu addr=%s reason=%s",
            (unsigned long long)l->target, l->addr, why);
    l->closed = true;
    l->phase = LINK_DEAD;
    if (l->slot != NULL && *l->slot == l) {
        *l->slot = NULL;
    }
    calls = l->calls;
    l->calls = NULL;
    l->calls_tail = &l->calls;
    uv_close((uv_handle_t *)&l->flusher, link_handle_closed);
    uv_close((uv_handle_t *)&l->timer, link_handle_closed);
    uv_close((uv_handle_t *)&l->tcp, link_handle_closed);
    while (calls != NULL) {
        c = calls;
        calls = c->next;
        finish_call(c, REG_UNAVAILABLE, NULL);
    }
}

void srv__link_close(struct srv__link *l)
{
    link_fail(l, "closed");
}

bool srv__link_usable(const struct srv__link *l)
{
    return l != NULL && !l->closed;
}

static int enc_auth(struct proto_out *o, const struct proto_auth *a)
{
    size_t at = proto_frame_begin(o);
    proto_auth_encode(o, a);
    return proto_frame_end(o, at, PROTO_FRAME_MAX_DEFAULT);
}

static void link_frame(struct srv__link *l, const uint8_t *body, size_t len)
{
    struct srv *s = l->srv;
    char errmsg[REG_ERRMSG_SIZE];
    struct proto_hello h;
    struct proto_auth a;
    struct proto_welcome w;
    struct proto_response rs;
    struct proto_out o;
    struct link_call **pp, *c;
    uint8_t cnonce[PROTO_NONCE_LEN];
    void *buf;
    size_t n;
    switch (l->phase) {
    case LINK_HELLO:
        if (proto_hello_decode(body, len, &h, errmsg) != REG_OK ||
            strcmp(h.cluster, s->cfg.cluster_id) != 0) {
            link_fail(l, "bad_hello");
            return;
        }
        randombytes_buf(cnonce, sizeof cnonce);
        proto_auth_peer(&a, &h, s->id, s->secrets.cluster_key, cnonce);
        proto_out_grow(&o);
        if (enc_auth(&o, &a) != REG_OK || proto_out_take(&o, &buf, &n) != REG_OK ||
            link_write(l, buf, n) != REG_OK) {
            proto_out_free(&o);
            link_fail(l, "auth_send_failed");
            return;
        }
        l->phase = LINK_WELCOME;
        return;
    case LINK_WELCOME:
        if (proto_welcome_decode(body, len, &w, errmsg) != REG_OK || !w.ok) {
            link_fail(l, "peer_auth_refused");
            return;
        }
        l->phase = LINK_READY;
        link_flush(l);
        return;
    case LINK_READY:
        if (proto_response_decode(body, len, &rs, errmsg) != REG_OK) {
            link_fail(l, "bad_response");
            return;
        }
        for (pp = &l->calls; *pp != NULL; pp = &(*pp)->next) {
            if ((*pp)->id == rs.id) {
                c = calls_unlink(l, pp);
                finish_call(c, REG_OK, &rs);
                return;
            }
        }
        /* A late answer to a call that already timed out: dropped. */
        return;
    default:
        return;
    }
}

static void link_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct srv__link *l = h->data;
    (void)suggested;
    buf->base = (char *)l->chunk;
    buf->len = sizeof l->chunk;
}

static void link_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct srv__link *l = stream->data;
    const uint8_t *body;
    size_t len;
    char errmsg[REG_ERRMSG_SIZE];
    (void)buf;
    if (l->closed) {
        return;
    }
    if (nread < 0) {
        link_fail(l, nread == UV_EOF ? "eof" : uv_err_name((int)nread));
        return;
    }
    if (proto_reader_feed(&l->reader, l->chunk, (size_t)nread) != REG_OK) {
        link_fail(l, "nomem");
        return;
    }
    while (!l->closed) {
        if (proto_reader_next(&l->reader, &body, &len, errmsg) != REG_OK) {
            link_fail(l, "bad_frame");
            return;
        }
        if (body == NULL) {
            break;
        }
        link_frame(l, body, len);
    }
}

static void link_connected(uv_connect_t *req, int status)
{
    struct srv__link *l = req->data;
    if (l->closed) {
        return;
    }
    if (status != 0) {
        link_fail(l, uv_err_name(status));
        return;
    }
    uv_tcp_nodelay(&l->tcp, 1);
    l->phase = LINK_HELLO;
    if (uv_read_start((uv_stream_t *)&l->tcp, link_alloc, link_read) != 0) {
        link_fail(l, "read_start");
    }
}

static void link_tick(uv_timer_t *t)
{
    struct srv__link *l = t->data;
    uint64_t now = srv__now(l->srv);
    struct link_call **pp = &l->calls, *c;
    /* A peer that neither refuses nor answers (partition, paused process)
     * must not hold every forwarded request until TCP gives up. */
    if (l->phase != LINK_READY && now - l->opened_at > 2 * l->srv->cfg.election_timeout_ms) {
        link_fail(l, "connect_timeout");
        return;
    }
    while (*pp != NULL) {
        c = *pp;
        if (c->deadline <= now) {
            calls_unlink(l, pp);
            finish_call(c, REG_TIMEOUT, NULL);
            if (l->closed) {
                return;
            }
        } else {
            pp = &c->next;
        }
    }
}

struct srv__link *srv__link_open(struct srv *s, const char *addr, uint64_t target)
{
    struct srv__link *l;
    struct sockaddr_in sa;
    char host[64];
    uint16_t port;
    if (srv_parse_hostport(addr, host, &port) != 0 || uv_ip4_addr(host, port, &sa) != 0) {
        return NULL;
    }
    l = reg_calloc(1, sizeof *l);
    if (l == NULL) {
        return NULL;
    }
    l->srv = s;
    l->target = target;
    snprintf(l->addr, sizeof l->addr, "%s", addr);
    l->next_id = 1;
    l->opened_at = srv__now(s);
    proto_reader_init(&l->reader, s->cfg.max_frame);
    uv_tcp_init(s->loop, &l->tcp);
    l->tcp.data = l;
    l->calls_tail = &l->calls;
    uv_timer_init(s->loop, &l->timer);
    l->timer.data = l;
    uv_check_init(s->loop, &l->flusher);
    l->flusher.data = l;
    l->handles = 3;
    l->connect.data = l;
    uv_timer_start(&l->timer, link_tick, 50, 50);
    if (uv_tcp_connect(&l->connect, &l->tcp, (const struct sockaddr *)&sa, link_connected) != 0) {
        l->closed = true;
        uv_close((uv_handle_t *)&l->flusher, link_handle_closed);
        uv_close((uv_handle_t *)&l->timer, link_handle_closed);
        uv_close((uv_handle_t *)&l->tcp, link_handle_closed);
        return NULL;
    }
    return l;
}

void srv__link_set_slot(struct srv__link *l, struct srv__link **slot)
{
    l->slot = slot;
}

int srv__link_call(struct srv__link *l, const struct proto_request *rq, uint64_t deadline_ms,
                   srv__link_cb cb, void *data)
{
    struct proto_request copy = *rq;
    struct link_call *c;
    struct proto_out o;
    size_t at;
    int rv;
    if (l->closed) {
        return REG_UNAVAILABLE;
    }
    c = reg_calloc(1, sizeof *c);
    if (c == NULL) {
        return REG_NOMEM;
    }
    c->id = l->next_id++;
    copy.id = c->id;
    proto_out_grow(&o);
    at = proto_frame_begin(&o);
    proto_request_encode(&o, &copy);
    rv = proto_frame_end(&o, at, l->srv->cfg.max_frame);
    if (rv == REG_OK) {
        rv = proto_out_take(&o, &c->buf, &c->len);
    }
    proto_out_free(&o);
    if (rv != REG_OK) {
        reg_free(c);
        return rv;
    }
    c->deadline = deadline_ms;
    c->cb = cb;
    c->data = data;
    calls_append(l, c);
    if (l->phase == LINK_READY) {
        uv_check_start(&l->flusher, link_check);
    }
    return REG_OK;
}

/* ---- Forwarding ------------------------------------------------------------ */

static bool is_write_like(const struct srv__req *r)
{
    return r->op->kind == PROTO_OP_WRITE ||
           (r->op->kind == PROTO_OP_SERVER && strncmp(r->op->name, "cluster_", 8) == 0);
}

static void fwd_done(void *data, int code, bool sent, const struct proto_response *rs)
{
    struct srv__req *r = data;
    if (code == REG_OK) {
        srv__reply_raw(r, rs);
    } else if (sent && is_write_like(r)) {
        srv__reply_error(r, REG_UNKNOWN_OUTCOME,
                         "forwarded to the leader, no answer (%s); retry with the same seq",
                         reg_err_name(code));
    } else {
        srv__reply_error(r, REG_UNAVAILABLE, "forwarding to the leader failed (%s)",
                         reg_err_name(code));
    }
}

void srv__forward(struct srv__req *r)
{
    struct srv *s = r->srv;
    struct st_cluster_member m;
    struct proto_request rq;
    uint64_t leader;
    char raft_addr[GLUE_ADDR_MAX + 1];
    char errmsg[REG_ERRMSG_SIZE];
    uint64_t timeout;
    int rv;

    s->n_forwarded++;
    glue_leader(s->glue, &leader, raft_addr);
    if (leader == 0) {
        reg_errmsgf(errmsg, "no leader elected; retry shortly");
        rv = REG_NO_LEADER;
        goto err_reply;
    }
    if (st_cluster_member_get(s->state, leader, &m) != REG_OK || m.client_addr[0] == '\0') {
        reg_errmsgf(errmsg, "leader %llu has not published its client address yet; retry shortly",
                    (unsigned long long)leader);
        rv = REG_UNAVAILABLE;
        goto err_reply;
    }
    if (s->link != NULL && (s->link->target != leader || strcmp(s->link->addr, m.client_addr))) {
        srv__link_close(s->link);
    }
    if (s->link == NULL) {
        s->link = srv__link_open(s, m.client_addr, leader);
        if (s->link == NULL) {
            reg_errmsgf(errmsg, "cannot connect to leader at %s", m.client_addr);
            rv = REG_UNAVAILABLE;
            goto err_reply;
        }
        s->link->slot = &s->link;
    }
    memset(&rq, 0, sizeof rq);
    snprintf(rq.op, sizeof rq.op, "%s", r->op->name);
    rq.client = r->client;
    rq.seq = r->seq;
    rq.consistency = r->consistency;
    rq.has_on_behalf = true;
    rq.on_behalf_has_key = r->ident.has_key;
    memcpy(rq.on_behalf_key, r->ident.key, ST_KEY_LEN);
    rq.on_behalf_admin = r->ident.admin;
    rq.raw_args = r->args;
    timeout = is_write_like(r) && r->op->kind == PROTO_OP_SERVER ? SRV__CLUSTER_OP_TIMEOUT_MS
                                                                 : 2 * s->cfg.election_timeout_ms;
    rv = srv__link_call(s->link, &rq, srv__now(s) + timeout, fwd_done, r);
    if (rv == REG_OK) {
        return;
    }
    reg_errmsgf(errmsg, "cannot forward to the leader (%s)", reg_err_name(rv));
    rv = REG_UNAVAILABLE;
err_reply:
    srv__reply_error(r, rv, "%s", errmsg);
}

void srv__forward_stop(struct srv *s)
{
    if (s->link != NULL) {
        srv__link_close(s->link);
    }
}
