/* conn.c: the client listener and the life of one connection.
 *
 * A connection reads frames through proto's incremental reader (size limit
 * --max-frame), hands them to the handshake until it is authenticated and to
 * dispatch after, and writes framed responses with uv_write.
 *
 * What keeps one client from exhausting the node (DESIGN.md §7):
 *   - at most --max-conns connections; extra ones are accepted and closed;
 *   - an oversized or malformed frame gets one error response, then close;
 *   - reading stops while the connection has SRV__CONN_INFLIGHT_MAX requests
 *     in flight, more than --write-queue-max bytes of responses unwritten or
 *     of requests held, and resumes when they drain: a client that pipelines without reading
 *     its answers only fills its own socket buffers;
 *   - the idle timer restarts on every frame read; a connection silent (or
 *     stuck behind a full write queue) for --idle-timeout is closed.
 *
 * Writes: a response is written at once when nothing is queued before it
 * (uv_try_write), else queued with uv_write. On a peer link (a follower
 * forwarding many clients' requests) responses are gathered instead and
 * written together in the loop's check phase, after every callback of the
 * iteration: the answers to a whole raft entry leave in one system call.
 *
 * Lifetime: a request in flight holds a reference (srv__conn_ref); the
 * memory goes when both handles are closed and no reference remains.
 * Responses to a closing connection are dropped. */
#include <string.h>

#include "srv_internal.h"

struct wreq {
    uv_write_t req;
    struct srv__conn *conn;
    size_t len;
    void *buf;
};

static void conn_maybe_free(struct srv__conn *c)
{
    if (c->handles != 0 || c->refs != 0) {
        return;
    }
    proto_reader_free(&c->reader);
    reg_free(c->obuf);
    reg_free(c);
}

static void conn_handle_closed(uv_handle_t *h)
{
    struct srv__conn *c = h->data;
    c->handles--;
    conn_maybe_free(c);
}

void srv__conn_ref(struct srv__conn *c)
{
    c->refs++;
}

static void conn_update_reading(struct srv__conn *c);

void srv__conn_unref(struct srv__conn *c)
{
    c->refs--;
    if (c->phase == SRV__CLOSING) {
        conn_maybe_free(c);
    } else {
        conn_update_reading(c);
    }
}

void srv__conn_close(struct srv__conn *c, const char *reason)
{
    struct srv *s = c->srv;
    if (c->phase == SRV__CLOSING) {
        return;
    }
    srv_log(SRV_LOG_DEBUG, "conn_closed", "conn=%llu peer=%s reason=%s",
            (unsigned long long)c->serial, c->peer_addr, reason);
    if (c->olen > 0 && c->wq_bytes == 0) {
        /* Gathered answers (a frame error's among them) get the same
         * best effort as a write issued just before closing. */
        uv_buf_t b = uv_buf_init((char *)c->obuf, (unsigned)c->olen);
        (void)uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    }
    c->phase = SRV__CLOSING;
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        s->conns = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    c->prev = c->next = NULL;
    s->n_conns--;
    if (c->flusher_open) {
        uv_close((uv_handle_t *)&c->flusher, conn_handle_closed);
    }
    uv_close((uv_handle_t *)&c->idle, conn_handle_closed);
    uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
}

static void idle_cb(uv_timer_t *t)
{
    srv__conn_close(t->data, "idle_timeout");
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct srv__conn *c = h->data;
    (void)suggested;
    buf->base = (char *)c->srv->read_chunk;
    buf->len = sizeof c->srv->read_chunk;
}

/* Answer a framing error with one response (id 0: the request could not be
 * read) and close. */
static int enc_frame_error(struct proto_out *o, const void *arg)
{
    const struct proto_response *rs = arg;
    return proto_response_encode(o, rs);
}

static void frame_error(struct srv__conn *c, int code, const char *msg)
{
    struct proto_response rs;
    memset(&rs, 0, sizeof rs);
    proto_response_error(&rs, code, msg);
    srv_log(SRV_LOG_WARN, "bad_frame", "conn=%llu peer=%s code=%s",
            (unsigned long long)c->serial, c->peer_addr, reg_err_name(code));
    srv__conn_send_msg(c, enc_frame_error, &rs);
    srv__conn_close(c, reg_err_name(code));
}

static void read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct srv__conn *c = stream->data;
    const uint8_t *body;
    size_t len;
    char errmsg[REG_ERRMSG_SIZE];
    int rv;
    if (c->phase == SRV__CLOSING) {
        return;
    }
    if (nread < 0) {
        srv__conn_close(c, nread == UV_EOF ? "eof" : uv_err_name((int)nread));
        return;
    }
    if (nread == 0) {
        return;
    }
    rv = proto_reader_feed(&c->reader, buf->base, (size_t)nread);
    if (rv != REG_OK) {
        frame_error(c, rv, "cannot buffer frame");
        return;
    }
    uv_timer_again(&c->idle);
    for (;;) {
        rv = proto_reader_next(&c->reader, &body, &len, errmsg);
        if (rv != REG_OK) {
            frame_error(c, rv, errmsg);
            return;
        }
        if (body == NULL) {
            break;
        }
        if (c->phase == SRV__HELLO) {
            srv__auth_frame(c, body, len);
        } else {
            srv__dispatch_frame(c, body, len);
        }
        if (c->phase == SRV__CLOSING) {
            return;
        }
    }
    conn_update_reading(c);
}

/* Back-pressure: read only while this client's pending work is bounded. */
static void conn_update_reading(struct srv__conn *c)
{
    struct srv *s = c->srv;
    bool want;
    if (c->phase == SRV__CLOSING) {
        return;
    }
    want = c->refs < SRV__CONN_INFLIGHT_MAX && c->wq_bytes <= s->cfg.write_queue_max &&
           c->held_bytes <= s->cfg.write_queue_max;
    if (want && !c->reading) {
        if (uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) == 0) {
            c->reading = true;
        }
    } else if (!want && c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
    }
}

static void write_cb(uv_write_t *req, int status)
{
    struct wreq *w = req->data;
    struct srv__conn *c = w->conn;
    c->wq_bytes -= w->len;
    reg_free(w->buf);
    reg_free(w);
    if (status != 0 && c->phase != SRV__CLOSING) {
        srv__conn_close(c, "write_error");
    }
    srv__conn_unref(c);
}

/* Write what the socket takes now when nothing is queued before it: on
 * loopback almost every response leaves in this call, with no write
 * request, no completion callback and no buffer kept. Returns the bytes
 * written, or -1 after closing the connection on a write error. */
static ssize_t conn_try_write(struct srv__conn *c, const void *buf, size_t len)
{
    uv_buf_t b;
    int n;
    if (c->wq_bytes != 0) {
        return 0;
    }
    b = uv_buf_init((char *)buf, (unsigned)len);
    n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (n == UV_EAGAIN) {
        return 0;
    }
    if (n < 0) {
        srv__conn_close(c, "write_error");
        return -1;
    }
    return n;
}

/* Queue buf[off..len) behind what is queued; the connection owns buf. */
static void conn_queue(struct srv__conn *c, void *buf, size_t off, size_t len)
{
    struct wreq *w = reg_malloc(sizeof *w);
    uv_buf_t b;
    if (w == NULL) {
        reg_free(buf);
        srv__conn_close(c, "nomem");
        return;
    }
    w->conn = c;
    w->len = len - off;
    w->buf = buf;
    w->req.data = w;
    b = uv_buf_init((char *)buf + off, (unsigned)(len - off));
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, write_cb) != 0) {
        reg_free(buf);
        reg_free(w);
        srv__conn_close(c, "write_error");
        return;
    }
    c->wq_bytes += w->len;
    srv__conn_ref(c);
    conn_update_reading(c);
}

static void conn_write_owned(struct srv__conn *c, void *buf, size_t len)
{
    ssize_t n = c->phase == SRV__CLOSING ? -1 : conn_try_write(c, buf, len);
    if (n < 0 || (size_t)n == len) {
        reg_free(buf);
        return;
    }
    conn_queue(c, buf, (size_t)n, len);
}

static void conn_flush_cb(uv_check_t *h)
{
    struct srv__conn *c = h->data;
    uint8_t *buf = c->obuf;
    size_t len = c->olen;
    uv_check_stop(h);
    c->obuf = NULL;
    c->olen = c->ocap = 0;
    if (len > 0) {
        conn_write_owned(c, buf, len);
    } else {
        reg_free(buf);
    }
}

/* Gather buf for the check phase; false if this connection writes now. */
static bool conn_gather(struct srv__conn *c, const void *buf, size_t len)
{
    if (c->ident.peer == 0 || c->phase == SRV__CLOSING) {
        return false;
    }
    if (!c->flusher_open) {
        if (uv_check_init(c->srv->loop, &c->flusher) != 0) {
            return false;
        }
        c->flusher.data = c;
        c->flusher_open = true;
        c->handles++;
    }
    if (len > c->ocap - c->olen) {
        size_t cap = c->ocap == 0 ? 4096 : c->ocap;
        while (cap - c->olen < len) {
            cap *= 2;
        }
        uint8_t *nb = reg_realloc(c->obuf, cap);
        if (nb == NULL) {
            srv__conn_close(c, "nomem");
            return true;
        }
        c->obuf = nb;
        c->ocap = cap;
    }
    memcpy(c->obuf + c->olen, buf, len);
    c->olen += len;
    uv_check_start(&c->flusher, conn_flush_cb);
    return true;
}

void srv__conn_send(struct srv__conn *c, void *buf, size_t len)
{
    if (conn_gather(c, buf, len)) {
        reg_free(buf);
        return;
    }
    conn_write_owned(c, buf, len);
}

void srv__conn_send_copy(struct srv__conn *c, const void *buf, size_t len)
{
    ssize_t n;
    void *rest;
    if (conn_gather(c, buf, len)) {
        return;
    }
    n = c->phase == SRV__CLOSING ? -1 : conn_try_write(c, buf, len);
    if (n < 0 || (size_t)n == len) {
        return;
    }
    rest = reg_malloc(len - (size_t)n);
    if (rest == NULL) {
        srv__conn_close(c, "nomem");
        return;
    }
    memcpy(rest, (const uint8_t *)buf + n, len - (size_t)n);
    conn_queue(c, rest, 0, len - (size_t)n);
}

void srv__conn_send_msg(struct srv__conn *c, int (*enc)(struct proto_out *o, const void *arg),
                        const void *arg)
{
    struct proto_out o;
    size_t at;
    void *buf = NULL;
    size_t len = 0;
    proto_out_grow(&o);
    at = proto_frame_begin(&o);
    enc(&o, arg);
    if (proto_frame_end(&o, at, c->srv->cfg.max_frame) != REG_OK ||
        proto_out_take(&o, &buf, &len) != REG_OK) {
        proto_out_free(&o);
        srv__conn_close(c, "encode_error");
        return;
    }
    srv__conn_send(c, buf, len);
}

static void on_connection(uv_stream_t *server, int status)
{
    struct srv *s = server->data;
    struct srv__conn *c;
    struct sockaddr_storage ss;
    int namelen = sizeof ss;
    char host[48] = "?";
    if (status != 0 || s->stopping) {
        return;
    }
    c = reg_calloc(1, sizeof *c);
    if (c == NULL) {
        srv_log(SRV_LOG_ERROR, "conn_refused", "reason=nomem");
        return;
    }
    c->srv = s;
    uv_tcp_init(s->loop, &c->tcp);
    c->tcp.data = c;
    c->handles = 1;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        c->phase = SRV__CLOSING;
        uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
        return;
    }
    c->serial = ++s->conn_serial;
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &namelen) == 0 &&
        ss.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
        uv_ip4_name(in, host, sizeof host);
        snprintf(c->peer_addr, sizeof c->peer_addr, "%s:%u", host, ntohs(in->sin_port));
    } else {
        snprintf(c->peer_addr, sizeof c->peer_addr, "?");
    }
    if (s->n_conns >= s->cfg.max_conns) {
        srv_log(SRV_LOG_WARN, "conn_refused", "peer=%s reason=max_conns limit=%llu",
                c->peer_addr, (unsigned long long)s->cfg.max_conns);
        c->phase = SRV__CLOSING;
        uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    uv_timer_init(s->loop, &c->idle);
    c->idle.data = c;
    c->handles = 2;
    proto_reader_init(&c->reader, s->cfg.max_frame);
    c->next = s->conns;
    if (s->conns != NULL) {
        s->conns->prev = c;
    }
    s->conns = c;
    s->n_conns++;
    uv_timer_start(&c->idle, idle_cb, s->cfg.idle_timeout_ms, s->cfg.idle_timeout_ms);
    srv__auth_hello(c);
    conn_update_reading(c);
}

int srv__listener_start(struct srv *s, char errmsg[static REG_ERRMSG_SIZE])
{
    char host[64];
    uint16_t port;
    struct sockaddr_in sa;
    int rv;
    if (srv_parse_hostport(s->cfg.listen, host, &port) != 0 ||
        uv_ip4_addr(host, port, &sa) != 0) {
        reg_errmsgf(errmsg, "bad listen address %s", s->cfg.listen);
        return REG_INVALID_ARGUMENT;
    }
    uv_tcp_init(s->loop, &s->listener);
    s->listener.data = s;
    s->open_handles++;
    s->listening = true;
    rv = uv_tcp_bind(&s->listener, (const struct sockaddr *)&sa, 0);
    if (rv == 0) {
        rv = uv_listen((uv_stream_t *)&s->listener, 128, on_connection);
    }
    if (rv != 0) {
        reg_errmsgf(errmsg, "listen on %s: %s", s->cfg.listen, uv_strerror(rv));
        return REG_INVALID_ARGUMENT;
    }
    return REG_OK;
}

static void listener_closed(uv_handle_t *h)
{
    srv__handle_closed(h->data);
}

void srv__listener_stop(struct srv *s)
{
    if (s->listening) {
        s->listening = false;
        uv_close((uv_handle_t *)&s->listener, listener_closed);
    }
    while (s->conns != NULL) {
        srv__conn_close(s->conns, "shutdown");
    }
}
