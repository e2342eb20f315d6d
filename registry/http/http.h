/* registry/http: the per-node HTTP operations listener (--http): /livez,
 * /readyz, /readyz/leader, /status and /metrics (issue 6 item 2), plus the
 * small Prometheus text writer and latency histograms the node uses to
 * produce /metrics.
 *
 * The listener is libmicrohttpd driven from the node's libuv loop (MHD's
 * epoll mode, no MHD threads), so every handler runs on the loop thread and
 * may read raft and state directly. It knows nothing about the registry:
 * the node supplies a provider vtable.
 *
 * Prefix: http_. */
#ifndef PILOT_HTTP_H
#define PILOT_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "reg_common.h"

/* ---- Growable text buffer ---------------------------------------------- */
struct http_buf {
    char *data;     /* NUL-terminated; reg_malloc'd */
    size_t len;
    size_t cap;
    bool failed;    /* an allocation failed; content is truncated */
};
void http_buf_init(struct http_buf *b);
void http_buf_printf(struct http_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void http_buf_free(struct http_buf *b);

/* ---- Latency histogram (cumulative buckets, seconds) ------------------- */
#define HTTP_HIST_BUCKETS 14
struct http_hist {
    uint64_t count[HTTP_HIST_BUCKETS]; /* per-bucket, not cumulative */
    uint64_t total;
    double sum;                        /* seconds */
};
/* Bucket upper bounds in seconds, ascending; the last is +Inf. */
extern const double http_hist_bounds[HTTP_HIST_BUCKETS];
void http_hist_observe(struct http_hist *h, double seconds);

/* ---- Prometheus text exposition (version 0.0.4) ------------------------- */
/* Each writes "# HELP", "# TYPE" and the sample line(s). name must match
 * [a-zA-Z_:][a-zA-Z0-9_:]*; labels is "" or e.g. "op=\"register\"". */
void http_prom_gauge(struct http_buf *b, const char *name, const char *help, double v);
void http_prom_counter(struct http_buf *b, const char *name, const char *help, double v);
void http_prom_hist(struct http_buf *b, const char *name, const char *help,
                    const struct http_hist *h);

/* ---- Listener ------------------------------------------------------------ */
struct http_provider {
    void *data;
    /* /readyz: true when the node has a leader and is caught up; on false
     * write a short reason into why. */
    bool (*ready)(void *data, char *why, size_t why_len);
    /* /readyz/leader: true only on a leader that may serve. */
    bool (*is_leader)(void *data);
    /* /status: append a JSON object to out. */
    void (*status_json)(void *data, struct http_buf *out);
    /* /metrics: append Prometheus text to out. */
    void (*metrics)(void *data, struct http_buf *out);
};

struct http_server;

/* Listen on addr ("HOST:PORT", IPv4) and serve on loop. The provider is
 * copied; its data must outlive the server. Returns REG_OK, or
 * REG_INVALID_ARGUMENT / REG_UNAVAILABLE / REG_NOMEM with detail in
 * errmsg. /livez never consults the provider: it answers 200 while the
 * process runs the loop, whatever the quorum. */
int http_start(struct http_server **out, uv_loop_t *loop, const char *addr,
               const struct http_provider *provider, char errmsg[static REG_ERRMSG_SIZE]);
/* Stop listening and release everything. The loop must run afterwards so
 * libuv can finish closing the handles (memory is freed in their close
 * callbacks). NULL is a no-op. */
void http_stop(struct http_server *s);

/* Split "HOST:PORT" into host and port (shared by listeners). REG_OK or
 * REG_INVALID_ARGUMENT. */
int http_split_addr(const char *addr, char *host, size_t host_len, uint16_t *port);

#endif /* PILOT_HTTP_H */
