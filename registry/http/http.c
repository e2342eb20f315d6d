/* http.c: the HTTP operations listener. libmicrohttpd runs in its external
 * epoll mode: its epoll descriptor is watched by a uv_poll handle and its
 * timeouts by a uv_timer, so requests are served on the node's loop thread
 * and handlers can read raft and state without locks. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "http.h"

struct http_server {
    struct MHD_Daemon *daemon;
    struct http_provider provider;
    uv_poll_t poll;
    uv_timer_t timer;
    int open_handles;
};

int http_split_addr(const char *addr, char *host, size_t host_len, uint16_t *port)
{
    const char *colon = strrchr(addr, ':');
    if (colon == NULL || colon == addr || (size_t)(colon - addr) >= host_len) {
        return REG_INVALID_ARGUMENT;
    }
    char *end = NULL;
    unsigned long p = strtoul(colon + 1, &end, 10);
    if (*(colon + 1) == '\0' || *end != '\0' || p > 65535) {
        return REG_INVALID_ARGUMENT;
    }
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = '\0';
    *port = (uint16_t)p;
    return REG_OK;
}

static enum MHD_Result respond(struct MHD_Connection *c, unsigned status, const char *type,
                               const char *body, size_t len)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (r == NULL) {
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    enum MHD_Result rv = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rv;
}

static enum MHD_Result respond_buf(struct MHD_Connection *c, unsigned status, const char *type,
                                   struct http_buf *b)
{
    enum MHD_Result rv;
    if (b->failed) {
        rv = respond(c, 500, "text/plain", "out of memory\n", 14);
    } else {
        rv = respond(c, status, type, b->data != NULL ? b->data : "", b->len);
    }
    http_buf_free(b);
    return rv;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version,
                              const char *upload_data, size_t *upload_data_size,
                              void **con_cls)
{
    struct http_server *s = cls;
    const struct http_provider *p = &s->provider;
    struct http_buf b;
    (void)version;
    (void)upload_data;
    (void)con_cls;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        return respond(c, 405, "text/plain", "method not allowed\n", 19);
    }
    if (*upload_data_size != 0) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    http_buf_init(&b);
    if (strcmp(url, "/livez") == 0) {
        return respond(c, 200, "text/plain", "ok\n", 3);
    }
    if (strcmp(url, "/readyz") == 0) {
        char why[128] = "not ready";
        bool ok = p->ready(p->data, why, sizeof why);
        http_buf_printf(&b, "%s\n", ok ? "ok" : why);
        return respond_buf(c, ok ? 200 : 503, "text/plain", &b);
    }
    if (strcmp(url, "/readyz/leader") == 0) {
        bool ok = p->is_leader(p->data);
        http_buf_printf(&b, "%s\n", ok ? "ok" : "not the leader");
        return respond_buf(c, ok ? 200 : 503, "text/plain", &b);
    }
    if (strcmp(url, "/status") == 0) {
        p->status_json(p->data, &b);
        http_buf_printf(&b, "\n");
        return respond_buf(c, 200, "application/json", &b);
    }
    if (strcmp(url, "/metrics") == 0) {
        p->metrics(p->data, &b);
        return respond_buf(c, 200, "text/plain; version=0.0.4; charset=utf-8", &b);
    }
    return respond(c, 404, "text/plain", "not found\n", 10);
}

static void drive(struct http_server *s);

static void on_poll(uv_poll_t *h, int status, int events)
{
    (void)status;
    (void)events;
    drive(h->data);
}

static void on_timer(uv_timer_t *h)
{
    drive(h->data);
}

/* Let MHD do all pending work, then arm the timer for its next deadline. */
static void drive(struct http_server *s)
{
    MHD_UNSIGNED_LONG_LONG timeout = 0;
    MHD_run(s->daemon);
    if (MHD_get_timeout(s->daemon, &timeout) == MHD_YES) {
        uv_timer_start(&s->timer, on_timer, timeout, 0);
    } else {
        uv_timer_stop(&s->timer);
    }
}

int http_start(struct http_server **out, uv_loop_t *loop, const char *addr,
               const struct http_provider *provider, char errmsg[static REG_ERRMSG_SIZE])
{
    char host[64];
    uint16_t port;
    struct sockaddr_in sa;
    int rv = REG_INVALID_ARGUMENT;

    if (http_split_addr(addr, host, sizeof host, &port) != REG_OK) {
        reg_errmsgf(errmsg, "http address %s: want HOST:PORT", addr);
        goto err;
    }
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        reg_errmsgf(errmsg, "http address %s: host must be an IPv4 address", addr);
        goto err;
    }
    struct http_server *s = reg_calloc(1, sizeof *s);
    if (s == NULL) {
        rv = REG_NOMEM;
        reg_errmsgf(errmsg, "http: out of memory");
        goto err;
    }
    s->provider = *provider;
    s->daemon = MHD_start_daemon(MHD_USE_EPOLL, port, NULL, NULL, handle, s,
                                 MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                                 MHD_OPTION_CONNECTION_LIMIT, (unsigned)256,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
                                 MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1,
                                 MHD_OPTION_END);
    if (s->daemon == NULL) {
        rv = REG_UNAVAILABLE;
        reg_errmsgf(errmsg, "http: cannot listen on %s", addr);
        goto err_after_alloc;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_EPOLL_FD);
    if (info == NULL || uv_poll_init(loop, &s->poll, info->epoll_fd) != 0) {
        rv = REG_UNAVAILABLE;
        reg_errmsgf(errmsg, "http: cannot watch the listener on %s", addr);
        goto err_after_daemon;
    }
    uv_timer_init(loop, &s->timer);
    s->poll.data = s;
    s->timer.data = s;
    s->open_handles = 2;
    uv_poll_start(&s->poll, UV_READABLE, on_poll);
    drive(s);
    *out = s;
    return REG_OK;

err_after_daemon:
    MHD_stop_daemon(s->daemon);
err_after_alloc:
    reg_free(s);
err:
    return rv;
}

static void on_close(uv_handle_t *h)
{
    struct http_server *s = h->data;
    if (--s->open_handles == 0) {
        reg_free(s);
    }
}

void http_stop(struct http_server *s)
{
    if (s == NULL) {
        return;
    }
    /* Close the handles before MHD closes the epoll descriptor they watch. */
    uv_poll_stop(&s->poll);
    MHD_stop_daemon(s->daemon);
    s->daemon = NULL;
    uv_close((uv_handle_t *)&s->poll, on_close);
    uv_close((uv_handle_t *)&s->timer, on_close);
}
