/* ipc.c: the local control protocol between pilotctl (or a test) and a
 * running pilot-agent: message codec over registry/proto's msgpack framing,
 * and the blocking client side (connect, send, receive with a timeout).
 * The daemon's side of the socket lives in daemon.c. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent.h"

static uint32_t count_fields(const struct agent_ipc_msg *m)
{
    return (m->op[0] != 0) + (m->ev[0] != 0) + (m->has_ok ? 1u : 0u) + (m->code[0] != 0) +
           (m->message[0] != 0) + (m->node[0] != 0) + (m->port != 0) + (m->echo ? 1u : 0u) +
           (m->from != 0) + (m->conn != 0) + (m->node_id != 0) + (m->data != NULL) +
           (m->reason[0] != 0);
}

static void put_s(struct proto_out *o, const char *k, const char *v)
{
    if (v[0] != 0) {
        proto_put_str(o, k);
        proto_put_str(o, v);
    }
}

static void put_u(struct proto_out *o, const char *k, uint64_t v)
{
    if (v != 0) {
        proto_put_str(o, k);
        proto_put_u64(o, v);
    }
}

int agent_ipc_encode(struct proto_out *o, const struct agent_ipc_msg *m, uint32_t n_extra,
                     const void *extra, size_t extra_len)
{
    proto_put_map(o, count_fields(m) + n_extra);
    put_s(o, "op", m->op);
    put_s(o, "ev", m->ev);
    if (m->has_ok) {
        proto_put_str(o, "ok");
        proto_put_bool(o, m->ok);
    }
    put_s(o, "code", m->code);
    put_s(o, "message", m->message);
    put_s(o, "node", m->node);
    put_u(o, "port", m->port);
    if (m->echo) {
        proto_put_str(o, "echo");
        proto_put_bool(o, true);
    }
    put_u(o, "from", m->from);
    put_u(o, "conn", m->conn);
    put_u(o, "node_id", m->node_id);
    if (m->data != NULL) {
        proto_put_str(o, "data");
        proto_put_bin(o, m->data, m->data_len);
    }
    put_s(o, "reason", m->reason);
    if (n_extra > 0) {
        proto_put_raw(o, extra, extra_len);
    }
    return o->err;
}

int agent_ipc_decode(const uint8_t *body, size_t len, struct agent_ipc_msg *m,
                     char errmsg[static REG_ERRMSG_SIZE])
{
    struct proto_val v;
    int rv;
    memset(m, 0, sizeof *m);
    rv = proto_parse(body, len, "", &m->root, errmsg);
    if (rv != REG_OK) {
        return rv;
    }
    if ((rv = proto_get_str(&m->root, "op", 0, sizeof m->op - 1, m->op, errmsg)) != REG_OK ||
        (rv = proto_get_str(&m->root, "ev", 0, sizeof m->ev - 1, m->ev, errmsg)) != REG_OK ||
        (rv = proto_get_str(&m->root, "code", 0, sizeof m->code - 1, m->code, errmsg)) !=
            REG_OK ||
        (rv = proto_get_str(&m->root, "message", 0, sizeof m->message - 1, m->message,
                            errmsg)) != REG_OK ||
        (rv = proto_get_str(&m->root, "node", 0, sizeof m->node - 1, m->node, errmsg)) !=
            REG_OK ||
        (rv = proto_get_u32(&m->root, "port", 0, 65535, &m->port, errmsg)) != REG_OK ||
        (rv = proto_get_bool(&m->root, "echo", 0, &m->echo, errmsg)) != REG_OK ||
        (rv = proto_get_u32(&m->root, "from", 0, UINT32_MAX, &m->from, errmsg)) != REG_OK ||
        (rv = proto_get_u32(&m->root, "conn", 0, UINT32_MAX, &m->conn, errmsg)) != REG_OK ||
        (rv = proto_get_u32(&m->root, "node_id", 0, UINT32_MAX, &m->node_id, errmsg)) !=
            REG_OK ||
        (rv = proto_get_str(&m->root, "reason", 0, sizeof m->reason - 1, m->reason,
                            errmsg)) != REG_OK) {
        return rv;
    }
    m->has_ok = proto_has(&m->root, "ok");
    if (m->has_ok && (rv = proto_get_bool(&m->root, "ok", 0, &m->ok, errmsg)) != REG_OK) {
        return rv;
    }
    rv = proto_find(&m->root, "data", &v, errmsg);
    if (rv != REG_OK) {
        return rv;
    }
    if (v.type == PROTO_T_BIN) {
        m->data = v.p + (v.len - v.n);
        m->data_len = v.n;
    } else if (v.type != PROTO_T_NONE && v.type != PROTO_T_NIL) {
        reg_errmsgf(errmsg, "data: not bytes");
        return REG_INVALID_ARGUMENT;
    }
    return REG_OK;
}

int agent_ipc_connect(const char *home, char errmsg[static REG_ERRMSG_SIZE])
{
    struct sockaddr_un sa;
    int fd = -1;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    if ((size_t)snprintf(sa.sun_path, sizeof sa.sun_path, "%s/%s", home, AGENT_SOCK_NAME) >=
        sizeof sa.sun_path) {
        reg_errmsgf(errmsg, "socket path %s/%s is too long", home, AGENT_SOCK_NAME);
        goto out;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        reg_errmsgf(errmsg, "socket: %s", strerror(errno));
        goto out;
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        reg_errmsgf(errmsg, "no daemon at %s: %s", sa.sun_path, strerror(errno));
        goto err_after_socket;
    }
    goto out;

err_after_socket:
    close(fd);
    fd = -1;
out:
    return fd;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return REG_UNAVAILABLE;
        }
        p += w;
        n -= (size_t)w;
    }
    return REG_OK;
}

int agent_ipc_send(int fd, const struct agent_ipc_msg *m)
{
    struct proto_out o;
    void *buf = NULL;
    size_t len = 0, at;
    int rv;
    proto_out_grow(&o);
    at = proto_frame_begin(&o);
    agent_ipc_encode(&o, m, 0, NULL, 0);
    rv = proto_frame_end(&o, at, AGENT_IPC_MAX);
    if (rv == REG_OK) {
        rv = proto_out_take(&o, &buf, &len);
    }
    proto_out_free(&o);
    if (rv == REG_OK) {
        rv = write_all(fd, buf, len);
    }
    reg_free(buf);
    return rv;
}

/* Read exactly n bytes, waiting at most timeout_ms in total (-1: forever). */
static int read_exact(int fd, uint8_t *p, size_t n, int timeout_ms)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    while (n > 0) {
        int pr = poll(&pfd, 1, timeout_ms);
        ssize_t r;
        if (pr < 0 && errno == EINTR) {
            continue;
        }
        if (pr == 0) {
            return REG_TIMEOUT;
        }
        r = recv(fd, p, n, 0);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            return REG_UNAVAILABLE;
        }
        p += r;
        n -= (size_t)r;
    }
    return REG_OK;
}

int agent_ipc_recv(int fd, uint8_t *buf, size_t cap, int timeout_ms, struct agent_ipc_msg *m,
                   char errmsg[static REG_ERRMSG_SIZE])
{
    uint8_t hdr[4];
    uint32_t len;
    int rv = read_exact(fd, hdr, 4, timeout_ms);
    if (rv != REG_OK) {
        reg_errmsgf(errmsg, rv == REG_TIMEOUT ? "no answer from the daemon"
                                              : "the daemon closed the connection");
        return rv;
    }
    len = ((uint32_t)hdr[0] << 24) | ((uint32_t)hdr[1] << 16) | ((uint32_t)hdr[2] << 8) | hdr[3];
    if (len > cap || len > AGENT_IPC_MAX) {
        reg_errmsgf(errmsg, "daemon message of %u bytes is too large", len);
        return REG_MALFORMED;
    }
    /* The body follows its header at once; a stall here is a broken peer. */
    rv = read_exact(fd, buf, len, 5000);
    if (rv != REG_OK) {
        reg_errmsgf(errmsg, "truncated daemon message");
        return REG_MALFORMED;
    }
    return agent_ipc_decode(buf, len, m, errmsg);
}
