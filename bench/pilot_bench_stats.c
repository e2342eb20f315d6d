/* pilot-bench: latency recording, percentiles and the key=value output
 * lines (see pilot_bench.h). Every sample is kept (no histogram buckets):
 * a 20 s point at 30k ops/s is 2.4 MB, and exact percentiles need no
 * explanation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pilot_bench.h"

#define PB_KEEP_MAX 128

uint64_t pb_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void pb_sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int pb_lat_add(struct pb_lat *l, uint64_t us)
{
    int rv = REG_OK;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4096;
        uint32_t *p = reg_realloc(l->us, cap * sizeof *p);
        if (p == NULL) {
            pb_lat_err(l, REG_NOMEM);
            rv = REG_NOMEM;
            goto out;
        }
        l->us = p;
        l->cap = cap;
    }
    l->us[l->n++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
out:
    return rv;
}

void pb_lat_err(struct pb_lat *l, int code)
{
    l->errs++;
    l->last_err = code;
}

int pb_lat_merge(struct pb_lat *dst, struct pb_lat *src)
{
    int rv = REG_OK;
    if (dst->n + src->n > dst->cap) {
        size_t cap = dst->n + src->n;
        uint32_t *p = reg_realloc(dst->us, (cap ? cap : 1) * sizeof *p);
        if (p == NULL) {
            rv = REG_NOMEM;
            goto out;
        }
        dst->us = p;
        dst->cap = cap;
    }
    if (src->n > 0) {
        memcpy(dst->us + dst->n, src->us, src->n * sizeof *src->us);
    }
    dst->n += src->n;
    dst->errs += src->errs;
    if (src->errs > 0) {
        dst->last_err = src->last_err;
    }
    src->n = 0;
    src->errs = 0;
out:
    return rv;
}

void pb_lat_free(struct pb_lat *l)
{
    reg_free(l->us);
    memset(l, 0, sizeof *l);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted samples, in ms. */
static double pct(const struct pb_lat *l, double q)
{
    size_t rank;
    if (l->n == 0) {
        return 0.0;
    }
    rank = (size_t)(q * (double)l->n + 0.999999);
    if (rank < 1) {
        rank = 1;
    }
    if (rank > l->n) {
        rank = l->n;
    }
    return (double)l->us[rank - 1] / 1000.0;
}

void pb_summarize(struct pb_lat *l, double secs, struct pb_summary *s)
{
    memset(s, 0, sizeof *s);
    if (l->n > 1) {
        qsort(l->us, l->n, sizeof *l->us, cmp_u32);
    }
    s->ops = l->n;
    s->errs = l->errs;
    s->secs = secs;
    s->ops_per_s = secs > 0 ? (double)l->n / secs : 0.0;
    s->min_ms = l->n ? (double)l->us[0] / 1000.0 : 0.0;
    s->p50_ms = pct(l, 0.50);
    s->p90_ms = pct(l, 0.90);
    s->p99_ms = pct(l, 0.99);
    s->max_ms = l->n ? (double)l->us[l->n - 1] / 1000.0 : 0.0;
}

void pb_print(const struct pb_config *cfg, const char *label, const struct pb_summary *s,
              const char *extra)
{
    printf("label=%s ops=%llu errs=%llu secs=%.2f ops_per_s=%.0f p50_ms=%.3f p90_ms=%.3f "
           "p99_ms=%.3f max_ms=%.3f%s%s%s%s\n",
           label, (unsigned long long)s->ops, (unsigned long long)s->errs, s->secs, s->ops_per_s,
           s->p50_ms, s->p90_ms, s->p99_ms, s->max_ms, extra ? " " : "", extra ? extra : "",
           cfg->tag ? " run=" : "", cfg->tag ? cfg->tag : "");
    fflush(stdout);
}

static struct {
    char label[64];
    struct pb_summary s;
} kept[PB_KEEP_MAX];
static size_t n_kept;

void pb_keep(const char *label, const struct pb_summary *s)
{
    if (pb_kept(label) != NULL || n_kept == PB_KEEP_MAX) {
        return;
    }
    snprintf(kept[n_kept].label, sizeof kept[n_kept].label, "%s", label);
    kept[n_kept].s = *s;
    n_kept++;
}

const struct pb_summary *pb_kept(const char *label)
{
    const struct pb_summary *found = NULL;
    for (size_t i = 0; i < n_kept && found == NULL; i++) {
        if (strcmp(kept[i].label, label) == 0) {
            found = &kept[i].s;
        }
    }
    return found;
}
