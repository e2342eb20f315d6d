/* test_http: the HTTP operations listener over real TCP: every endpoint's
 * status code and body, readiness flips with the provider, /metrics is
 * valid Prometheus text, bad methods and paths are refused. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "http.h"

struct fake {
    bool ready, leader;
    struct http_hist hist;
};

static bool f_ready(void *d, char *why, size_t n)
{
    struct fake *f = d;
    snprintf(why, n, "no leader");
    return f->ready;
}
static bool f_leader(void *d)
{
    return ((struct fake *)d)->leader;
}
static void f_status(void *d, struct http_buf *b)
{
    http_buf_printf(b, "{\"id\":1,\"role\":\"%s\"}", ((struct fake *)d)->leader ? "leader" : "follower");
}
static void f_metrics(void *d, struct http_buf *b)
{
    struct fake *f = d;
    http_prom_gauge(b, "pilot_has_leader", "1 if a leader is known", f->ready ? 1 : 0);
    http_prom_counter(b, "pilot_proposals_committed_total", "entries committed", 42);
    http_prom_hist(b, "pilot_commit_latency_seconds", "commit latency", &f->hist);
}

static uint16_t free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    close(fd);
    return ntohs(sa.sin_port);
}

/* Blocking HTTP/1.0 request; returns status code, body into out. */
static int http_get(uint16_t port, const char *method, const char *path, char *out, size_t cap)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    char req[256];
    int n = snprintf(req, sizeof req, "%s %s HTTP/1.0\r\nHost: x\r\n\r\n", method, path);
    if (write(fd, req, (size_t)n) != n) {
        close(fd);
        return -1;
    }
    size_t got = 0;
    ssize_t r;
    char buf[65536];
    while ((r = read(fd, buf + got, sizeof buf - 1 - got)) > 0) {
        got += (size_t)r;
    }
    close(fd);
    buf[got] = '\0';
    int status = 0;
    sscanf(buf, "HTTP/1.%*d %d", &status);
    const char *body = strstr(buf, "\r\n\r\n");
    snprintf(out, cap, "%s", body != NULL ? body + 4 : "");
    return status;
}

/* Minimal Prometheus text-format validator: comments are HELP/TYPE, every
 * sample is `name[{labels}] number`. Returns the number of samples. */
static int prom_samples(const char *text)
{
    int samples = 0;
    const char *line = text;
    while (*line != '\0') {
        const char *nl = strchr(line, '\n');
        assert_non_null(nl);
        char l[512];
        size_t n = (size_t)(nl - line);
        assert_true(n < sizeof l);
        memcpy(l, line, n);
        l[n] = '\0';
        if (l[0] == '#') {
            assert_true(strncmp(l, "# HELP ", 7) == 0 || strncmp(l, "# TYPE ", 7) == 0);
        } else {
            char name[256], value[64];
            size_t i = 0;
            while (l[i] != '\0' && l[i] != ' ' && l[i] != '{') {
                char c = l[i];
                assert_true((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                            c == ':' || (i > 0 && c >= '0' && c <= '9'));
                name[i] = c;
                i++;
            }
            name[i] = '\0';
            assert_true(i > 0 && strlen(name) == i);
            if (l[i] == '{') {
                const char *close = strchr(l + i, '}');
                assert_non_null(close);
                i = (size_t)(close - l) + 1;
            }
            assert_int_equal(l[i], ' ');
            assert_int_equal(sscanf(l + i + 1, "%63s", value), 1);
            char *end;
            strtod(value, &end);
            assert_true(*end == '\0' || strcmp(value, "+Inf") == 0);
            samples++;
        }
        line = nl + 1;
    }
    return samples;
}

struct run {
    uv_loop_t loop;
    uv_async_t done;
    uint16_t port;
    struct fake *fake;
    struct http_server *server;
    int failures;
};

static void on_done(uv_async_t *a)
{
    struct run *r = a->data;
    uv_close((uv_handle_t *)a, NULL);
    http_stop(r->server);
}

static void *client_thread(void *arg)
{
    struct run *r = arg;
    char body[65536];
    int bad = 0;
    bad += http_get(r->port, "GET", "/livez", body, sizeof body) != 200;
    bad += http_get(r->port, "GET", "/readyz", body, sizeof body) != 503;
    bad += strstr(body, "no leader") == NULL;
    bad += http_get(r->port, "GET", "/readyz/leader", body, sizeof body) != 503;
    r->fake->ready = true; /* written before the next request is served */
    r->fake->leader = true;
    bad += http_get(r->port, "GET", "/readyz", body, sizeof body) != 200;
    bad += http_get(r->port, "GET", "/readyz/leader", body, sizeof body) != 200;
    bad += http_get(r->port, "GET", "/status", body, sizeof body) != 200;
    bad += strstr(body, "\"role\":\"leader\"") == NULL;
    bad += http_get(r->port, "GET", "/metrics", body, sizeof body) != 200;
    bad += prom_samples(body) != 2 + HTTP_HIST_BUCKETS + 2;
    bad += strstr(body, "pilot_has_leader 1\n") == NULL;
    bad += strstr(body, "pilot_commit_latency_seconds_bucket{le=\"+Inf\"} 3\n") == NULL;
    bad += http_get(r->port, "POST", "/livez", body, sizeof body) != 405;
    bad += http_get(r->port, "GET", "/nope", body, sizeof body) != 404;
    r->failures = bad;
    uv_async_send(&r->done);
    return NULL;
}

static void test_endpoints(void **state)
{
    (void)state;
    struct fake f = {0};
    http_hist_observe(&f.hist, 0.0003);
    http_hist_observe(&f.hist, 0.02);
    http_hist_observe(&f.hist, 1e9);
    struct run r = {.fake = &f, .port = free_port()};
    struct http_provider p = {&f, f_ready, f_leader, f_status, f_metrics};
    char addr[64], err[REG_ERRMSG_SIZE];
    struct http_server *s = NULL;
    snprintf(addr, sizeof addr, "127.0.0.1:%u", r.port);
    assert_int_equal(uv_loop_init(&r.loop), 0);
    assert_int_equal(http_start(&s, &r.loop, addr, &p, err), REG_OK);
    r.server = s;
    assert_int_equal(uv_async_init(&r.loop, &r.done, on_done), 0);
    r.done.data = &r;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, client_thread, &r), 0);
    uv_run(&r.loop, UV_RUN_DEFAULT); /* ends once on_done closed every handle */
    pthread_join(t, NULL);
    assert_int_equal(uv_loop_close(&r.loop), 0);
    assert_int_equal(r.failures, 0);
}

static void test_bad_address(void **state)
{
    (void)state;
    uv_loop_t loop;
    struct http_server *s = NULL;
    char err[REG_ERRMSG_SIZE];
    struct fake f = {0};
    struct http_provider p = {&f, f_ready, f_leader, f_status, f_metrics};
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(http_start(&s, &loop, "nonsense", &p, err), REG_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "HOST:PORT"));
    assert_int_equal(http_start(&s, &loop, "localhost:80", &p, err), REG_INVALID_ARGUMENT);
    assert_int_equal(http_start(&s, &loop, "127.0.0.1:99999", &p, err), REG_INVALID_ARGUMENT);
    assert_null(s);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_endpoints),
        cmocka_unit_test(test_bad_address),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
