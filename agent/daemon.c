/* daemon.c: the local control socket of pilot-agent ($PILOT_HOME/agent.sock)
 * and the sessions pilotctl opens on it (agent.h "IPC").
 *
 * A session is one accepted Unix connection. Plain requests (status, stop,
 * send) are answered once; `listen` binds a port to the session and streams
 * its datagrams and connections to it as events; `connect` binds one
 * outgoing connection to the session: the answer comes when the peer
 * accepts (or never does), then {op:data}/{op:close} flow one way and
 * data/close events the other. Closing the session releases what it holds. */
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent_internal.h"

enum { SESS_PLAIN = 0, SESS_LISTEN, SESS_CONNECT };
#define SESS_QUEUE_MAX (4u << 20)

struct agent__session {
    struct agent__session *next;
    struct agent__d *d;
    uv_pipe_t pipe;
    struct proto_reader reader;
    int kind;
    bool closing, pipe_closed, call_busy, connecting;
    struct agent__listener *listener;
    struct agent__conn *conn;
    struct agent__call call;
    uint16_t port;                      /* send / connect target port */
    uint8_t *data;                      /* send: datagram copy */
    size_t data_len;
};

struct wreq {
    uv_write_t req;
    void *buf;
};

static void write_done(uv_write_t *req, int status)
{
    struct wreq *w = (struct wreq *)req;
    (void)status;
    reg_free(w->buf);
    reg_free(w);
}

static void sess_close(struct agent__session *s);

/* Send m (+ extra pairs) on the session; failures close it. */
static void sess_send(struct agent__session *s, const struct agent_ipc_msg *m, uint32_t n_extra,
                      const void *extra, size_t extra_len)
{
    struct proto_out o;
    struct wreq *w;
    uv_buf_t b;
    size_t at, len = 0;
    void *buf = NULL;
    int rv;
    if (s == NULL || s->closing) {
        return;
    }
    /* A client that stops reading is closed rather than growing our memory
     * without bound (dropping events would corrupt its streams). */
    if (uv_stream_get_write_queue_size((uv_stream_t *)&s->pipe) > SESS_QUEUE_MAX) {
        agent__log("warn", "session_too_slow", "queued=%zu",
                   uv_stream_get_write_queue_size((uv_stream_t *)&s->pipe));
        sess_close(s);
        return;
    }
    proto_out_grow(&o);
    at = proto_frame_begin(&o);
    agent_ipc_encode(&o, m, n_extra, extra, extra_len);
    rv = proto_frame_end(&o, at, AGENT_IPC_MAX);
    if (rv == REG_OK) {
        rv = proto_out_take(&o, &buf, &len);
    }
    proto_out_free(&o);
    w = rv == REG_OK ? reg_malloc(sizeof *w) : NULL;
    if (w == NULL) {
        reg_free(buf);
        return;
    }
    w->buf = buf;
    b = uv_buf_init(buf, (unsigned)len);
    if (uv_write(&w->req, (uv_stream_t *)&s->pipe, &b, 1, write_done) != 0) {
        reg_free(buf);
        reg_free(w);
    }
}

static void reply_err(struct agent__session *s, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void reply_err(struct agent__session *s, int code, const char *fmt, ...)
{
    struct agent_ipc_msg m;
    va_list ap;
    memset(&m, 0, sizeof m);
    m.has_ok = true;
    snprintf(m.code, sizeof m.code, "%s", reg_err_name(code));
    va_start(ap, fmt);
    vsnprintf(m.message, sizeof m.message, fmt, ap);
    va_end(ap);
    sess_send(s, &m, 0, NULL, 0);
}

static void reply_ok(struct agent__session *s, uint32_t node_id)
{
    struct agent_ipc_msg m;
    memset(&m, 0, sizeof m);
    m.has_ok = m.ok = true;
    m.node_id = node_id;
    sess_send(s, &m, 0, NULL, 0);
}

void agent__sess_event(struct agent__session *s, const char *ev, uint32_t from, uint16_t port,
                       uint32_t conn, const uint8_t *data, size_t len, const char *reason)
{
    struct agent_ipc_msg m;
    static const uint8_t empty[1];
    memset(&m, 0, sizeof m);
    snprintf(m.ev, sizeof m.ev, "%s", ev);
    m.from = from;
    m.port = port;
    m.conn = conn;
    if (data != NULL || strcmp(ev, "data") == 0 || strcmp(ev, "dgram") == 0) {
        m.data = data != NULL ? data : empty;
        m.data_len = len;
    }
    if (reason != NULL) {
        snprintf(m.reason, sizeof m.reason, "%s", reason);
    }
    sess_send(s, &m, 0, NULL, 0);
}

void agent__sess_connected(struct agent__session *s, struct agent__conn *c, int code,
                           const char *message)
{
    if (s == NULL || !s->connecting) {
        return;
    }
    s->connecting = false;
    if (code == REG_OK) {
        reply_ok(s, c->peer);
    } else {
        reply_err(s, code, "%s from node %u port %u", message, c->peer, c->port);
    }
}

void agent__sess_conn_gone(struct agent__session *s, struct agent__conn *c)
{
    if (s != NULL && s->conn == c) {
        s->conn = NULL;
    }
}

/* ---- Session lifecycle ----------------------------------------------------- */

static void sess_free(struct agent__session *s)
{
    struct agent__d *d = s->d;
    struct agent__session **pp = &d->sessions;
    while (*pp != NULL && *pp != s) {
        pp = &(*pp)->next;
    }
    if (*pp == s) {
        *pp = s->next;
    }
    proto_reader_free(&s->reader);
    reg_free(s->data);
    reg_free(s);
}

static void sess_closed(uv_handle_t *h)
{
    struct agent__session *s = h->data;
    s->pipe_closed = true;
    /* A registry call still holds s: it frees s when it completes. */
    if (!s->call_busy) {
        sess_free(s);
    }
}

static void sess_close(struct agent__session *s)
{
    struct agent__d *d = s->d;
    struct agent__listener **lp;
    if (s->closing) {
        return;
    }
    s->closing = true;
    if (s->listener != NULL) {
        for (lp = &d->listeners; *lp != NULL; lp = &(*lp)->next) {
            if (*lp == s->listener) {
                *lp = s->listener->next;
                break;
            }
        }
        reg_free(s->listener);
        s->listener = NULL;
    }
    for (struct agent__conn *c = d->conns; c != NULL; c = c->next) {
        if (c->sess == s) {
            c->sess = NULL;
            agent__conn_finish(c);
        }
    }
    s->conn = NULL;
    uv_close((uv_handle_t *)&s->pipe, sess_closed);
}

static void begin_stop_cb(uv_timer_t *t);

static void resolve_done(struct agent__call *call)
{
    struct agent__session *s = call->data;
    struct agent__d *d = s->d;
    int rv;
    s->call_busy = false;
    if (s->closing) {
        /* Whichever of this and the close callback comes last frees s. */
        if (s->pipe_closed) {
            sess_free(s);
        }
        return;
    }
    if (call->code != REG_OK) {
        /* Checkpoint 1: the registry would not tell us where the peer is. */
        reply_err(s, call->code, "cannot resolve node \"%s\": %s", call->target,
                  call->message[0] ? call->message : reg_strerror(call->code));
        s->connecting = false;
        return;
    }
    if (s->kind == SESS_CONNECT) {
        s->conn = agent__dp_connect(d, call, s->port, s);
        if (s->conn == NULL) {
            s->connecting = false;
            reply_err(s, REG_FAILED_PRECONDITION, "node %u has no usable endpoint", call->node);
        }
        return;
    }
    rv = agent__dp_send_dgram(d, call, s->port, s->data, s->data_len);
    if (rv != REG_OK) {
        reply_err(s, rv, "cannot send to node %u: endpoint \"%s\"", call->node, call->endpoint);
        return;
    }
    reply_ok(s, call->node);
}

static void start_resolve(struct agent__session *s, const char *target)
{
    memset(&s->call, 0, sizeof s->call);
    s->call.kind = AGENT__CALL_RESOLVE;
    snprintf(s->call.target, sizeof s->call.target, "%s", target);
    s->call.done = resolve_done;
    s->call.data = s;
    if (agent__call_start(s->d, &s->call) != REG_OK) {
        reply_err(s, REG_INTERNAL, "cannot queue the registry call");
        return;
    }
    s->call_busy = true;
}

static void do_status(struct agent__session *s)
{
    struct agent__d *d = s->d;
    struct agent_ipc_msg m;
    struct proto_out o;
    unsigned n_conns = 0;
    for (struct agent__conn *c = d->conns; c != NULL; c = c->next) {
        n_conns++;
    }
    proto_out_grow(&o);
    proto_put_str(&o, "endpoint");
    proto_put_str(&o, d->endpoint);
    proto_put_str(&o, "registry");
    proto_put_str(&o, d->cfg.registry);
    proto_put_str(&o, "pid");
    proto_put_u64(&o, (uint64_t)getpid());
    proto_put_str(&o, "connections");
    proto_put_u64(&o, n_conns);
    proto_put_str(&o, "auth_checks");
    proto_put_u64(&o, d->stats.auth_calls);
    proto_put_str(&o, "auth_denied");
    proto_put_u64(&o, d->stats.auth_denied);
    proto_put_str(&o, "dropped");
    proto_put_u64(&o, d->stats.dropped);
    proto_put_str(&o, "delivered");
    proto_put_u64(&o, d->stats.delivered);
    memset(&m, 0, sizeof m);
    m.has_ok = m.ok = true;
    m.node_id = atomic_load(&d->self);
    if (o.err == REG_OK) {
        sess_send(s, &m, 8, o.data, o.len);
    } else {
        reply_err(s, o.err, "status: cannot encode");
    }
    proto_out_free(&o);
}

static void handle(struct agent__session *s, const struct agent_ipc_msg *m)
{
    struct agent__d *d = s->d;
    struct agent__listener *l;
    if (strcmp(m->op, "status") == 0) {
        do_status(s);
    } else if (strcmp(m->op, "stop") == 0) {
        reply_ok(s, atomic_load(&d->self));
        /* Answer first; stop on the next loop turn. */
        uv_timer_start(&d->stop_timer, begin_stop_cb, 0, 0);
    } else if (s->kind != SESS_PLAIN || s->call_busy) {
        if (s->kind == SESS_CONNECT && strcmp(m->op, "data") == 0 && s->conn != NULL &&
            m->data != NULL) {
            if (agent__conn_write(s->conn, m->data, m->data_len) != REG_OK) {
                agent__conn_drop(s->conn, "send queue full");
            }
        } else if (s->kind == SESS_CONNECT && strcmp(m->op, "close") == 0 && s->conn != NULL) {
            agent__conn_finish(s->conn);
        } else if (s->kind != SESS_CONNECT || s->conn != NULL) {
            reply_err(s, REG_FAILED_PRECONDITION, "op \"%s\" is not valid in this session",
                      m->op);
        }
    } else if (strcmp(m->op, "listen") == 0) {
        if (m->port == 0) {
            reply_err(s, REG_INVALID_ARGUMENT, "listen: port must be 1-65535");
            return;
        }
        for (l = d->listeners; l != NULL; l = l->next) {
            if (l->port == m->port) {
                reply_err(s, REG_ALREADY_EXISTS, "port %u is already being listened on",
                          m->port);
                return;
            }
        }
        l = reg_calloc(1, sizeof *l);
        if (l == NULL) {
            reply_err(s, REG_NOMEM, "out of memory");
            return;
        }
        l->port = (uint16_t)m->port;
        l->echo = m->echo;
        l->sess = s;
        l->next = d->listeners;
        d->listeners = l;
        s->listener = l;
        s->kind = SESS_LISTEN;
        reply_ok(s, atomic_load(&d->self));
    } else if (strcmp(m->op, "send") == 0 || strcmp(m->op, "connect") == 0) {
        bool is_send = m->op[0] == 's';
        if (m->node[0] == '\0' || m->port == 0) {
            reply_err(s, REG_INVALID_ARGUMENT, "%s: node and port (1-65535) are required",
                      m->op);
            return;
        }
        if (atomic_load(&d->self) == 0) {
            reply_err(s, REG_UNAVAILABLE, "the daemon is not registered yet");
            return;
        }
        if (is_send) {
            if (m->data == NULL || m->data_len > AGENT_PKT_PAYLOAD_MAX) {
                reply_err(s, REG_INVALID_ARGUMENT, "send: data of at most %u bytes is required",
                          AGENT_PKT_PAYLOAD_MAX);
                return;
            }
            s->data = reg_malloc(m->data_len + 1);
            if (s->data == NULL) {
                reply_err(s, REG_NOMEM, "out of memory");
                return;
            }
            memcpy(s->data, m->data, m->data_len);
            s->data_len = m->data_len;
        } else {
            s->kind = SESS_CONNECT;
            s->connecting = true;
        }
        s->port = (uint16_t)m->port;
        start_resolve(s, m->node);
    } else {
        reply_err(s, REG_INVALID_ARGUMENT, "unknown op \"%s\"", m->op);
    }
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    static char chunk[65536];
    (void)h;
    (void)suggested;
    *buf = uv_buf_init(chunk, sizeof chunk);
}

static void read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    struct agent__session *s = st->data;
    const uint8_t *body;
    size_t len;
    char errmsg[REG_ERRMSG_SIZE];
    struct agent_ipc_msg m;
    if (nread < 0) {
        sess_close(s);
        return;
    }
    if (proto_reader_feed(&s->reader, buf->base, (size_t)nread) != REG_OK) {
        sess_close(s);
        return;
    }
    while (!s->closing) {
        int rv = proto_reader_next(&s->reader, &body, &len, errmsg);
        if (rv != REG_OK) {
            reply_err(s, rv, "%s", errmsg);
            sess_close(s);
            return;
        }
        if (body == NULL) {
            return;
        }
        rv = agent_ipc_decode(body, len, &m, errmsg);
        if (rv != REG_OK) {
            reply_err(s, rv, "%s", errmsg);
            continue;
        }
        handle(s, &m);
    }
}

static void on_connection(uv_stream_t *server, int status)
{
    struct agent__d *d = server->data;
    struct agent__session *s;
    if (status != 0 || d->stopping) {
        return;
    }
    s = reg_calloc(1, sizeof *s);
    if (s == NULL) {
        return;
    }
    s->d = d;
    proto_reader_init(&s->reader, AGENT_IPC_MAX);
    uv_pipe_init(d->loop, &s->pipe, 0);
    s->pipe.data = s;
    s->next = d->sessions;
    d->sessions = s;
    if (uv_accept(server, (uv_stream_t *)&s->pipe) != 0 ||
        uv_read_start((uv_stream_t *)&s->pipe, alloc_cb, read_cb) != 0) {
        sess_close(s);
    }
}

static void handle_closed(uv_handle_t *h)
{
    struct agent__d *d = h->data;
    d->open_handles--;
}

int agent__ipc_start(struct agent__d *d, char errmsg[static REG_ERRMSG_SIZE])
{
    char path[AGENT__PATH_MAX + 32];
    int rv;
    snprintf(path, sizeof path, "%s/%s", d->cfg.home, AGENT_SOCK_NAME);
    uv_pipe_init(d->loop, &d->ipc, 0);
    d->ipc.data = d;
    d->open_handles++;
    /* The caller made sure no live daemon owns the socket. */
    unlink(path);
    rv = uv_pipe_bind(&d->ipc, path);
    if (rv == 0 && chmod(path, 0600) != 0) {
        rv = UV_EACCES;
    }
    if (rv == 0) {
        rv = uv_listen((uv_stream_t *)&d->ipc, 64, on_connection);
    }
    if (rv != 0) {
        reg_errmsgf(errmsg, "control socket %s: %s", path, uv_strerror(rv));
        return REG_UNAVAILABLE;
    }
    return REG_OK;
}

void agent__ipc_stop(struct agent__d *d)
{
    char path[AGENT__PATH_MAX + 32];
    while (d->sessions != NULL) {
        struct agent__session *s = d->sessions;
        /* Close first (the list shrinks only when freed). */
        d->sessions = s->next;
        s->next = NULL;
        sess_close(s);
    }
    snprintf(path, sizeof path, "%s/%s", d->cfg.home, AGENT_SOCK_NAME);
    uv_close((uv_handle_t *)&d->ipc, handle_closed);
    unlink(path);
}

static void begin_stop_cb(uv_timer_t *t)
{
    agent__begin_stop(t->data);
}
