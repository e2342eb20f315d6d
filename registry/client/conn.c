/* registry/client connection: one TCP connection to one node, opened with
 * a bounded connect and the protocol handshake (docs/protocol.md), then
 * frames written and read with deadlines. Blocking semantics built on
 * non-blocking sockets and poll, so no call can hang past its deadline. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "cl_internal.h"

uint64_t cl__now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int remaining(uint64_t deadline)
{
    uint64_t now = cl__now_ms();

    if (now >= deadline)
        return 0;
    return deadline - now > 60000 ? 60000 : (int)(deadline - now);
}

/* Wait for events on fd. 1 ready, 0 timed out, -1 error. */
static int wait_fd(int fd, short events, uint64_t deadline)
{
    struct pollfd p = {.fd = fd, .events = events};

    for (;;) {
        int ms = remaining(deadline);
        if (ms == 0)
            return 0;
        int r = poll(&p, 1, ms);
        if (r > 0)
            return 1;
        if (r == 0)
            continue; /* re-check the deadline */
        if (errno != EINTR)
            return -1;
    }
}

void cl__disconnect(struct cl_client *cl)
{
    if (cl->fd >= 0)
        close(cl->fd);
    cl->fd = -1;
    cl->connected_to[0] = '\0';
    proto_reader_free(&cl->reader);
    proto_reader_init(&cl->reader, 0);
}

static int tcp_connect(const struct cl_endpoint *ep, uint64_t deadline, int *fd_out,
                       char errmsg[static REG_ERRMSG_SIZE])
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL, *ai;
    char port[8];
    int rv = REG_UNAVAILABLE, fd = -1, gai, last_errno = 0;

    snprintf(port, sizeof port, "%u", (unsigned)ep->port);
    gai = getaddrinfo(ep->host, port, &hints, &res);
    if (gai != 0) {
        reg_errmsgf(errmsg, "%s:%u: %s", ep->host, (unsigned)ep->port, gai_strerror(gai));
        goto err;
    }
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    ai->ai_protocol);
        if (fd < 0) {
            last_errno = errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        if (errno == EINPROGRESS) {
            int soerr = 0;
            socklen_t sl = sizeof soerr;
            int w = wait_fd(fd, POLLOUT, deadline);
            if (w == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0)
                break;
            last_errno = w == 0 ? ETIMEDOUT : (soerr != 0 ? soerr : errno);
        } else {
            last_errno = errno;
        }
        close(fd);
        fd = -1;
    }
    if (fd < 0) {
        reg_errmsgf(errmsg, "connect %s:%u: %s", ep->host, (unsigned)ep->port,
                    strerror(last_errno != 0 ? last_errno : ECONNREFUSED));
        goto err;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
    *fd_out = fd;
    rv = REG_OK;
err:
    if (res != NULL)
        freeaddrinfo(res);
    return rv;
}

int cl__send(struct cl_client *cl, const void *buf, size_t len, uint64_t deadline,
             char errmsg[static REG_ERRMSG_SIZE])
{
    const uint8_t *p = buf;

    while (len > 0) {
        ssize_t w = send(cl->fd, p, len, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            len -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int r = wait_fd(cl->fd, POLLOUT, deadline);
            if (r == 1)
                continue;
            reg_errmsgf(errmsg, "send to %s: %s", cl->connected_to,
                        r == 0 ? "timed out" : strerror(errno));
            return REG_UNAVAILABLE;
        }
        reg_errmsgf(errmsg, "send to %s: %s", cl->connected_to, strerror(errno));
        return REG_UNAVAILABLE;
    }
    return REG_OK;
}

int cl__recv(struct cl_client *cl, uint64_t deadline, const uint8_t **body, size_t *len,
             char errmsg[static REG_ERRMSG_SIZE])
{
    uint8_t chunk[16384];

    for (;;) {
        int rv = proto_reader_next(&cl->reader, body, len, errmsg);
        if (rv != REG_OK)
            return rv;
        if (*body != NULL)
            return REG_OK;
        ssize_t r = recv(cl->fd, chunk, sizeof chunk, 0);
        if (r > 0) {
            rv = proto_reader_feed(&cl->reader, chunk, (size_t)r);
            if (rv != REG_OK) {
                reg_errmsgf(errmsg, "reading from %s: %s", cl->connected_to, reg_strerror(rv));
                return rv;
            }
            continue;
        }
        if (r == 0) {
            reg_errmsgf(errmsg, "%s closed the connection", cl->connected_to);
            return REG_UNAVAILABLE;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            int w = wait_fd(cl->fd, POLLIN, deadline);
            if (w == 1)
                continue;
            if (w == 0) {
                reg_errmsgf(errmsg, "no answer from %s in time", cl->connected_to);
                return REG_TIMEOUT;
            }
        }
        reg_errmsgf(errmsg, "reading from %s: %s", cl->connected_to, strerror(errno));
        return REG_UNAVAILABLE;
    }
}

/* Build the auth message answering hello: agent signature, admin token, or
 * both (an admin connection may also prove a key). */
static int make_auth(struct cl_client *cl, const struct proto_hello *h, struct proto_auth *a,
                     char errmsg[static REG_ERRMSG_SIZE])
{
    uint8_t cnonce[PROTO_NONCE_LEN];
    struct proto_auth signed_part;
    int rv;

    memset(a, 0, sizeof *a);
    memset(&signed_part, 0, sizeof signed_part);
    if (cl->has_key) {
        randombytes_buf(cnonce, sizeof cnonce);
        rv = proto_auth_sign(&signed_part, h, cl->sk, cnonce);
        if (rv != REG_OK) {
            reg_errmsgf(errmsg, "signing the handshake failed");
            return rv;
        }
    }
    if (cl->has_admin) {
        rv = proto_auth_admin(a, cl->admin);
        if (rv != REG_OK) {
            reg_errmsgf(errmsg, "admin token too long");
            return rv;
        }
        if (cl->has_key) {
            a->has_key = true;
            memcpy(a->key, signed_part.key, sizeof a->key);
            memcpy(a->cnonce, signed_part.cnonce, sizeof a->cnonce);
            memcpy(a->sig, signed_part.sig, sizeof a->sig);
        }
        sodium_memzero(&signed_part, sizeof signed_part);
        return REG_OK;
    }
    if (!cl->has_key) {
        reg_errmsgf(errmsg, "no identity: need an agent key or the admin token");
        return REG_UNAUTHENTICATED;
    }
    *a = signed_part;
    return REG_OK;
}

int cl__connect(struct cl_client *cl, const struct cl_endpoint *ep, uint64_t deadline,
                char errmsg[static REG_ERRMSG_SIZE])
{
    struct proto_hello hello;
    struct proto_auth auth;
    struct proto_welcome welcome;
    struct proto_out out;
    const uint8_t *body;
    size_t len, at;
    int rv;

    cl__disconnect(cl);
    rv = tcp_connect(ep, deadline, &cl->fd, errmsg);
    if (rv != REG_OK)
        goto err;
    snprintf(cl->connected_to, sizeof cl->connected_to, "%s:%u", ep->host, (unsigned)ep->port);

    rv = cl__recv(cl, deadline, &body, &len, errmsg);
    if (rv == REG_TIMEOUT)
        rv = REG_UNAVAILABLE; /* a node that cannot even greet us is down for us */
    if (rv != REG_OK)
        goto err_after_connect;
    rv = proto_hello_decode(body, len, &hello, errmsg);
    if (rv != REG_OK) {
        reg_errmsg_wrapf(errmsg, "hello from %s", cl->connected_to);
        rv = REG_MALFORMED;
        goto err_after_connect;
    }
    if (hello.v != PROTO_VERSION) {
        reg_errmsgf(errmsg, "%s speaks protocol version %u, we speak %u", cl->connected_to,
                    (unsigned)hello.v, (unsigned)PROTO_VERSION);
        rv = REG_MALFORMED;
        goto err_after_connect;
    }
    rv = make_auth(cl, &hello, &auth, errmsg);
    if (rv != REG_OK)
        goto err_after_connect;
    proto_out_grow(&out);
    at = proto_frame_begin(&out);
    proto_auth_encode(&out, &auth);
    rv = proto_frame_end(&out, at, PROTO_FRAME_MAX_DEFAULT);
    sodium_memzero(&auth, sizeof auth);
    if (rv == REG_OK)
        rv = cl__send(cl, out.data, out.len, deadline, errmsg);
    else
        reg_errmsgf(errmsg, "encoding the handshake: %s", reg_strerror(rv));
    proto_out_free(&out);
    if (rv != REG_OK)
        goto err_after_connect;

    rv = cl__recv(cl, deadline, &body, &len, errmsg);
    if (rv == REG_TIMEOUT)
        rv = REG_UNAVAILABLE;
    if (rv != REG_OK)
        goto err_after_connect;
    rv = proto_welcome_decode(body, len, &welcome, errmsg);
    if (rv != REG_OK) {
        reg_errmsg_wrapf(errmsg, "welcome from %s", cl->connected_to);
        rv = REG_MALFORMED;
        goto err_after_connect;
    }
    if (!welcome.ok) {
        rv = welcome.code != REG_OK ? welcome.code : REG_UNAUTHENTICATED;
        reg_errmsgf(errmsg, "%s refused the handshake: %s", cl->connected_to,
                    welcome.message[0] ? welcome.message : reg_strerror(rv));
        goto err_after_connect;
    }
    cl->server_raft_id = hello.node;
    cl->node_id = welcome.node_id;
    return REG_OK;

err_after_connect:
    cl__disconnect(cl);
err:
    return rv;
}

int cl_local_endpoint(const struct cl_client *cl, char *buf, size_t cap)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char host[NI_MAXHOST], port[NI_MAXSERV];

    if (cl->fd < 0 || getsockname(cl->fd, (struct sockaddr *)&ss, &sl) != 0 ||
        getnameinfo((struct sockaddr *)&ss, sl, host, sizeof host, port, sizeof port,
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0)
        return REG_UNAVAILABLE;
    if (ss.ss_family == AF_INET6)
        snprintf(buf, cap, "[%s]:%s", host, port);
    else
        snprintf(buf, cap, "%s:%s", host, port);
    return REG_OK;
}
