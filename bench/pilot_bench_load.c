/* pilot-bench: timed closed-loop points (B1 writes, B2 resolves), fixed-rate
 * writes (B10) and the background writers of the loaded kick-to-deny run
 * (see pilot_bench.h).
 * Closed loop: each thread sends its next request as soon as the previous
 * one is answered, so throughput and latency are measured together. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "pilot_bench.h"

struct load_arg {
    enum pb_kind kind;
    uint64_t start_us, end_us;     /* end_us = UINT64_MAX: until stop */
    atomic_bool stop;
};

static int load_fn(struct pb_pair *p, void *arg)
{
    struct load_arg *a = arg;
    uint64_t now = pb_now_us();
    /* Every thread starts at the same instant (all are connected by then). */
    while (now < a->start_us) {
        pb_sleep_ms(1);
        now = pb_now_us();
    }
    while (!atomic_load_explicit(&a->stop, memory_order_relaxed) && now < a->end_us) {
        int rv = a->kind == PB_K_WRITES ? pb_pair_write(p) : pb_pair_resolve(p);
        uint64_t done = pb_now_us();
        if (rv == REG_OK) {
            pb_lat_add(&p->lat, done - now);
        } else {
            pb_lat_err(&p->lat, rv);
        }
        now = done;
    }
    return REG_OK;
}

static int bind_fn(struct pb_pair *p, void *arg)
{
    char errmsg[REG_ERRMSG_SIZE];
    char eps[PB_EPS_MAX];
    (void)arg;
    snprintf(eps, sizeof eps, "%s", p->eps);
    return pb_pair_bind(p, eps, errmsg);
}

static int settle_fn(struct pb_pair *p, void *arg)
{
    (void)arg;
    return pb_pair_settle(p);
}

static const char *target_name(enum pb_target t)
{
    static const char *const names[] = {"leader", "follower", "any", "stale"};
    return names[t];
}

/* Point every pair's clients at the endpoints of target (in parallel). */
static int bind_target(const struct pb_config *cfg, struct pb_pair *p, unsigned n,
                       enum pb_target target, char errmsg[static REG_ERRMSG_SIZE])
{
    size_t leader = 0, follower;
    char eps[PB_EPS_MAX];
    int rv = pb_find_leader(cfg, 10000, 0, &leader, errmsg);
    if (rv != REG_OK) {
        goto out;
    }
    follower = (leader + 1) % cfg->n_eps;
    for (unsigned i = 0; i < n; i++) {
        if (target == PB_T_ANY) {
            pb_eps_rotated(cfg, i % cfg->n_eps, eps);
        } else {
            snprintf(eps, sizeof eps, "%s",
                     cfg->ep_text[target == PB_T_LEADER ? leader : follower]);
        }
        if (strcmp(eps, p[i].eps) != 0) {
            cl_close(p[i].owner);
            cl_close(p[i].member);
            p[i].owner = p[i].member = NULL;
            snprintf(p[i].eps, sizeof p[i].eps, "%s", eps);
        }
        p[i].stale = target == PB_T_STALE;
    }
    rv = pb_parallel(p, n, bind_fn, NULL);
    if (rv != REG_OK) {
        reg_errmsgf(errmsg, "connecting %u pairs to the %s: %s", n, target_name(target),
                    reg_err_name(rv));
    }
out:
    return rv;
}

static int collect(struct pb_pair *p, unsigned n, struct pb_lat *all)
{
    int rv = REG_OK;
    for (unsigned i = 0; i < n; i++) {
        if (pb_lat_merge(all, &p[i].lat) != REG_OK) {
            rv = REG_NOMEM;
        }
    }
    return rv;
}

int pb_point(const struct pb_config *cfg, struct pb_pair *p, unsigned n, enum pb_kind kind,
             enum pb_target target, char errmsg[static REG_ERRMSG_SIZE])
{
    struct load_arg a;
    struct pb_lat all;
    struct pb_summary s;
    struct pb_cpu cpu;
    char label[64], extra[256] = "", cpu_text[160];
    uint64_t t_end;
    int rv;
    memset(&all, 0, sizeof all);
    rv = bind_target(cfg, p, n, target, errmsg);
    if (rv == REG_OK && kind == PB_K_RESOLVE) {
        /* The member must be in the network for resolve to be allowed. */
        rv = pb_parallel(p, n, settle_fn, NULL);
        if (rv != REG_OK) {
            reg_errmsgf(errmsg, "completing the write cycles before resolves: %s",
                        reg_err_name(rv));
        }
    }
    if (rv != REG_OK) {
        goto out;
    }
    memset(&a, 0, sizeof a);
    a.kind = kind;
    a.start_us = pb_now_us() + 50000u + 200u * n; /* room to create n threads */
    a.end_us = a.start_us + (uint64_t)cfg->seconds * 1000000u;
    atomic_init(&a.stop, false);
    pb_cpu_begin(cfg, &cpu);
    rv = pb_parallel(p, n, load_fn, &a);
    t_end = pb_now_us();
    if (rv == REG_OK) {
        rv = collect(p, n, &all);
    }
    if (rv != REG_OK) {
        reg_errmsgf(errmsg, "running the point: %s", reg_err_name(rv));
        goto out;
    }
    snprintf(label, sizeof label, "%s.%s.c%u", kind == PB_K_WRITES ? "writes" : "resolve",
             target_name(target), n);
    pb_summarize(&all, (double)(t_end - a.start_us) / 1e6, &s);
    pb_cpu_end(cfg, &cpu, s.ops, cpu_text, sizeof cpu_text);
    snprintf(extra, sizeof extra, "%s%s%s", cpu_text, all.errs > 0 ? " last_err=" : "",
             all.errs > 0 ? reg_err_name(all.last_err) : "");
    pb_print(cfg, label, &s, extra[0] ? extra : NULL);
    pb_keep(label, &s);
out:
    pb_lat_free(&all);
    return rv;
}

/* ---- fixed-rate writes (B10) ------------------------------------------------ */

struct rate_arg {
    uint64_t start_us, end_us;
    double interval_us;
    atomic_uint_fast64_t next;     /* index of the next scheduled send */
};

/* Open loop: send k is due at start + k * interval whoever is free takes
 * it, and its latency counts from when it was due, so a server that falls
 * behind shows up as latency instead of silently lowering the rate. */
static int rate_fn(struct pb_pair *p, void *arg)
{
    struct rate_arg *a = arg;
    for (;;) {
        uint64_t k = atomic_fetch_add(&a->next, 1);
        uint64_t due = a->start_us + (uint64_t)((double)k * a->interval_us);
        uint64_t now = pb_now_us();
        int rv;
        if (due >= a->end_us) {
            break;
        }
        if (due > now) {
            struct timespec ts = {(time_t)((due - now) / 1000000u),
                                  (long)((due - now) % 1000000u) * 1000L};
            nanosleep(&ts, NULL);
        }
        rv = pb_pair_write(p);
        if (rv == REG_OK) {
            pb_lat_add(&p->lat, pb_now_us() - due);
        } else {
            pb_lat_err(&p->lat, rv);
        }
    }
    return REG_OK;
}

int pb_rate_point(const struct pb_config *cfg, struct pb_pair *p, unsigned n, unsigned rate,
                  char errmsg[static REG_ERRMSG_SIZE])
{
    struct rate_arg a;
    struct pb_lat all;
    struct pb_summary s;
    struct pb_cpu cpu;
    char label[64], extra[320], cpu_text[160];
    uint64_t t_end;
    bool held, slowest_ok;
    int rv;
    memset(&all, 0, sizeof all);
    rv = bind_target(cfg, p, n, PB_T_LEADER, errmsg);
    if (rv != REG_OK) {
        goto out;
    }
    memset(&a, 0, sizeof a);
    a.start_us = pb_now_us() + 50000u + 200u * n;
    a.end_us = a.start_us + (uint64_t)cfg->seconds * 1000000u;
    a.interval_us = 1e6 / (double)rate;
    atomic_init(&a.next, 0);
    pb_cpu_begin(cfg, &cpu);
    rv = pb_parallel(p, n, rate_fn, &a);
    t_end = pb_now_us();
    if (rv == REG_OK) {
        rv = collect(p, n, &all);
    }
    if (rv != REG_OK) {
        reg_errmsgf(errmsg, "running the fixed-rate point: %s", reg_err_name(rv));
        goto out;
    }
    snprintf(label, sizeof label, "rate.writes.r%u", rate);
    /* Over the real duration: a server that falls behind stretches it. */
    pb_summarize(&all, (double)(t_end - a.start_us) / 1e6, &s);
    pb_cpu_end(cfg, &cpu, s.ops, cpu_text, sizeof cpu_text);
    /* Held: every scheduled write answered OK, the backlog at the end of
     * the window drained within 0.5 s. */
    held = s.errs == 0 && t_end <= a.end_us + 500000u &&
           s.ops >= (uint64_t)((double)(a.end_us - a.start_us) / a.interval_us);
    slowest_ok = s.max_ms < 500.0;
    snprintf(extra, sizeof extra, "target_per_s=%u held=%s slowest_under_500ms=%s %s", rate,
             held ? "yes" : "no", slowest_ok ? "yes" : "no", cpu_text);
    pb_print(cfg, label, &s, extra);
    pb_keep(label, &s);
out:
    pb_lat_free(&all);
    return rv;
}

/* ---- background writers ---------------------------------------------------- */

struct pb_bg {
    pthread_t th;
    struct load_arg a;
    struct pb_pair *p;
    unsigned n;
    int rv;
};

static void *bg_main(void *arg)
{
    struct pb_bg *bg = arg;
    bg->rv = pb_parallel(bg->p, bg->n, load_fn, &bg->a);
    return NULL;
}

int pb_bg_start(const struct pb_config *cfg, struct pb_pair *p, unsigned n, struct pb_bg **out,
                char errmsg[static REG_ERRMSG_SIZE])
{
    struct pb_bg *bg = reg_calloc(1, sizeof *bg);
    int rv = REG_OK;
    if (bg == NULL) {
        rv = REG_NOMEM;
        reg_errmsgf(errmsg, "background load: out of memory");
        goto out;
    }
    rv = bind_target(cfg, p, n, PB_T_ANY, errmsg);
    if (rv != REG_OK) {
        goto out;
    }
    bg->p = p;
    bg->n = n;
    bg->a.kind = PB_K_WRITES;
    bg->a.start_us = pb_now_us() + 50000u + 200u * n;
    bg->a.end_us = UINT64_MAX;
    atomic_init(&bg->a.stop, false);
    if (pthread_create(&bg->th, NULL, bg_main, bg) != 0) {
        rv = REG_INTERNAL;
        reg_errmsgf(errmsg, "background load: cannot start a thread");
        goto out;
    }
    /* Let the writers reach full speed before anything is measured. */
    pb_sleep_ms(300);
    *out = bg;
    bg = NULL;
out:
    reg_free(bg);
    return rv;
}

void pb_bg_stop(const struct pb_config *cfg, struct pb_bg *bg, const char *label)
{
    struct pb_lat all;
    struct pb_summary s;
    uint64_t t_end;
    memset(&all, 0, sizeof all);
    if (bg != NULL) {
        atomic_store(&bg->a.stop, true);
        pthread_join(bg->th, NULL);
        t_end = pb_now_us();
        collect(bg->p, bg->n, &all);
        pb_summarize(&all, (double)(t_end - bg->a.start_us) / 1e6, &s);
        pb_print(cfg, label, &s, NULL);
        pb_lat_free(&all);
        reg_free(bg);
    }
}
