/* log.c: structured event log of a registry node (operations-conventions §E).
 *
 * One line per event on stderr, logfmt style, fixed keys first:
 *   ts=2026-01-01T00:00:00.123Z level=info node=1 term=3 event=leader_ready k=v ...
 * Values containing spaces, quotes or '=' are quoted so a line stays one
 * record. The node id and current term come from a context set once by the
 * server, so call sites only name the event and its fields. This file is an
 * edge (STYLE §6 item 7): it is the only place in the server that prints. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "server.h"

static struct {
    uint64_t node;
    uint64_t (*term_fn)(void *);
    void *term_arg;
    int min_level;
} log_ctx = {0, NULL, NULL, SRV_LOG_INFO};

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void srv_log_set_context(uint64_t node, uint64_t (*term_fn)(void *), void *arg)
{
    log_ctx.node = node;
    log_ctx.term_fn = term_fn;
    log_ctx.term_arg = arg;
}

int srv_log_level_from_name(const char *name)
{
    int i;
    for (i = 0; i <= SRV_LOG_ERROR; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

void srv_log_set_level(int level)
{
    log_ctx.min_level = level;
}

/* Quote a value when logfmt requires it; fields arrive preformatted as
 * "k=v k=v" from the caller, so only the free-text tail needs this. */
void srv_log_quote(char *dst, size_t cap, const char *src)
{
    size_t o = 0, i;
    if (cap < 3) {
        if (cap > 0) {
            dst[0] = '\0';
        }
        return;
    }
    dst[o++] = '"';
    for (i = 0; src[i] != '\0' && o + 3 < cap; i++) {
        char ch = src[i];
        if (ch == '"' || ch == '\\') {
            dst[o++] = '\\';
            dst[o++] = ch;
        } else if ((unsigned char)ch < 0x20) {
            dst[o++] = ' ';
        } else {
            dst[o++] = ch;
        }
    }
    dst[o++] = '"';
    dst[o] = '\0';
}

void srv_log(int level, const char *event, const char *fmt, ...)
{
    char line[1024];
    struct timespec ts;
    struct tm tm;
    size_t o;
    int n;
    va_list ap;
    if (level < log_ctx.min_level || level < 0 || level > SRV_LOG_ERROR) {
        return;
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = snprintf(line, sizeof line,
                 "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s node=%llu term=%llu event=%s",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 ts.tv_nsec / 1000000, level_names[level], (unsigned long long)log_ctx.node,
                 (unsigned long long)(log_ctx.term_fn ? log_ctx.term_fn(log_ctx.term_arg) : 0),
                 event);
    o = n < 0 ? 0 : (size_t)n;
    if (o >= sizeof line) {
        o = sizeof line - 1;
    }
    if (fmt != NULL && fmt[0] != '\0' && o + 2 < sizeof line) {
        line[o++] = ' ';
        va_start(ap, fmt);
        n = vsnprintf(line + o, sizeof line - o, fmt, ap);
        va_end(ap);
        o += n < 0 ? 0 : (size_t)n;
        if (n <= 0) {
            o--;
        }
        if (o >= sizeof line) {
            o = sizeof line - 1;
        }
    }
    line[o] = '\0';
    fprintf(stderr, "%s\n", line);
}
