/* metrics.c: growable text buffer, latency histograms and the Prometheus
 * text-format writer used by /metrics. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "http.h"

/* Chosen around raft commit latencies on loopback (sub-ms) up to failover
 * scale (seconds). */
const double http_hist_bounds[HTTP_HIST_BUCKETS] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
    0.025,  0.05,    0.1,    0.25,  1.0,    5.0,   1e308 /* +Inf */
};

void http_buf_init(struct http_buf *b)
{
    memset(b, 0, sizeof *b);
}

void http_buf_printf(struct http_buf *b, const char *fmt, ...)
{
    if (b->failed) {
        return;
    }
    for (;;) {
        size_t room = b->cap - b->len;
        va_list ap;
        va_start(ap, fmt);
        int n = room > 0 ? vsnprintf(b->data + b->len, room, fmt, ap) : -2;
        va_end(ap);
        if (n == -1) {
            b->failed = true;
            return;
        }
        if (n >= 0 && (size_t)n < room) {
            b->len += (size_t)n;
            return;
        }
        size_t need = b->len + (n > 0 ? (size_t)n : 0) + 1;
        size_t cap = b->cap == 0 ? 1024 : b->cap;
        while (cap < need) {
            cap *= 2;
        }
        char *p = reg_realloc(b->data, cap);
        if (p == NULL) {
            b->failed = true;
            return;
        }
        b->data = p;
        b->cap = cap;
        b->data[b->len] = '\0';
    }
}

void http_buf_free(struct http_buf *b)
{
    reg_free(b->data);
    memset(b, 0, sizeof *b);
}

void http_hist_observe(struct http_hist *h, double seconds)
{
    int i = 0;
    while (i < HTTP_HIST_BUCKETS - 1 && seconds > http_hist_bounds[i]) {
        i++;
    }
    h->count[i]++;
    h->total++;
    h->sum += seconds;
}

static void header(struct http_buf *b, const char *name, const char *help, const char *type)
{
    http_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void http_prom_gauge(struct http_buf *b, const char *name, const char *help, double v)
{
    header(b, name, help, "gauge");
    http_buf_printf(b, "%s %.17g\n", name, v);
}

void http_prom_counter(struct http_buf *b, const char *name, const char *help, double v)
{
    header(b, name, help, "counter");
    http_buf_printf(b, "%s %.17g\n", name, v);
}

void http_prom_hist(struct http_buf *b, const char *name, const char *help,
                    const struct http_hist *h)
{
    header(b, name, help, "histogram");
    uint64_t cum = 0;
    for (int i = 0; i < HTTP_HIST_BUCKETS; i++) {
        cum += h->count[i];
        if (i == HTTP_HIST_BUCKETS - 1) {
            http_buf_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)cum);
        } else {
            http_buf_printf(b, "%s_bucket{le=\"%g\"} %llu\n", name, http_hist_bounds[i],
                            (unsigned long long)cum);
        }
    }
    http_buf_printf(b, "%s_sum %.9g\n%s_count %llu\n", name, h->sum, name,
                    (unsigned long long)h->total);
}
