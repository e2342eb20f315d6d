/* registry/client endpoints: the pure parts of failover. Parsing the
 * "H:P,H:P" endpoint list every binary accepts, and the capped exponential
 * backoff schedule used between retries. No I/O, so both are unit-tested
 * directly. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"

static int parse_port(const char *s, size_t len, uint16_t *out)
{
    unsigned long v = 0;
    size_t i;

    if (len == 0 || len > 5)
        return REG_INVALID_ARGUMENT;
    for (i = 0; i < len; i++) {
        if (!isdigit((unsigned char)s[i]))
            return REG_INVALID_ARGUMENT;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    if (v == 0 || v > 65535)
        return REG_INVALID_ARGUMENT;
    *out = (uint16_t)v;
    return REG_OK;
}

/* One "host:port" or "[v6]:port" item of length len. */
static int parse_one(const char *s, size_t len, struct cl_endpoint *ep,
                     char errmsg[static REG_ERRMSG_SIZE])
{
    const char *host = s, *colon;
    size_t host_len;
    int rv = REG_INVALID_ARGUMENT;

    if (len > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', len);
        if (close == NULL || close + 1 >= s + len || close[1] != ':')
            goto err_bad;
        host = s + 1;
        host_len = (size_t)(close - host);
        colon = close + 1;
    } else {
        colon = NULL;
        for (size_t i = len; i > 0; i--) {
            if (s[i - 1] == ':') {
                colon = s + i - 1;
                break;
            }
        }
        if (colon == NULL)
            goto err_bad;
        host_len = (size_t)(colon - s);
        if (memchr(s, ':', host_len) != NULL)
            goto err_bad; /* bare IPv6 must be bracketed */
    }
    if (host_len == 0 || host_len > CL_HOST_MAX)
        goto err_bad;
    for (size_t i = 0; i < host_len; i++) {
        unsigned char c = (unsigned char)host[i];
        if (!(isalnum(c) || c == '.' || c == '-' || c == '_' || c == ':'))
            goto err_bad;
    }
    if (parse_port(colon + 1, (size_t)(s + len - colon - 1), &ep->port) != REG_OK)
        goto err_bad;
    memcpy(ep->host, host, host_len);
    ep->host[host_len] = '\0';
    rv = REG_OK;
    return rv;

err_bad:
    reg_errmsgf(errmsg, "bad endpoint \"%.*s\" (want HOST:PORT, port 1-65535)",
                (int)(len > 80 ? 80 : len), s);
    return rv;
}

int cl_endpoints_parse(const char *list, struct cl_endpoint *out, size_t cap,
                       size_t *n_out, char errmsg[static REG_ERRMSG_SIZE])
{
    size_t n = 0;
    const char *p = list;
    int rv = REG_INVALID_ARGUMENT;

    if (list == NULL || *list == '\0') {
        reg_errmsgf(errmsg, "no registry endpoint given");
        goto err;
    }
    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        /* Tolerate blanks around items ("a:1, b:2"), as people type them. */
        while (len > 0 && (*p == ' ' || *p == '\t')) {
            p++;
            len--;
        }
        while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        if (len == 0) {
            reg_errmsgf(errmsg, "empty item in endpoint list \"%.80s\"", list);
            goto err;
        }
        if (n == cap) {
            reg_errmsgf(errmsg, "too many endpoints (at most %zu)", cap);
            goto err;
        }
        rv = parse_one(p, len, &out[n], errmsg);
        if (rv != REG_OK)
            goto err;
        rv = REG_INVALID_ARGUMENT;
        n++;
        if (end == NULL)
            break;
        p = end + 1;
    }
    *n_out = n;
    rv = REG_OK;
err:
    return rv;
}

uint32_t cl_backoff_delay_ms(uint32_t initial_ms, uint32_t max_ms, unsigned attempt,
                             uint32_t jitter)
{
    uint64_t d = initial_ms == 0 ? 1 : initial_ms;

    /* Doubling stops at the cap; the shift is bounded so it never overflows. */
    for (unsigned i = 0; i < attempt && d < max_ms; i++)
        d *= 2;
    if (d > max_ms)
        d = max_ms;
    /* Full-jitter lower half: the delay lies in [d/2, d], so clients that
     * failed together do not retry together, yet never wait less than half
     * the schedule. */
    if (d >= 2)
        d = d / 2 + (uint64_t)jitter % (d / 2 + 1);
    return (uint32_t)d;
}
