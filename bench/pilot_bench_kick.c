/* pilot-bench: kick-to-deny (B3). An owner kicks its member; one watcher
 * thread per node then asks that node whether the member may still resolve
 * the (private) owner.
 *   lin:   right after the kick's acknowledgement, one linearizable resolve
 *          per node, all at once. Each must be denied: any other answer
 *          is counted in errs (last_answer= names it) - the issue's
 *          requirement is "denied on every node within the kick's own
 *          acknowledgement".
 *   stale: watchers poll with consistency=stale from just before the kick
 *          is sent until denied: when each node has applied the kick (what
 *          etcd's "write seen by all members" measures).
 * Times are from the moment the kick is sent. The member is invited back
 * between trials (untimed). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "pilot_bench.h"

#define KICK_POLL_MAX_US 2000000u  /* a stale watcher gives up after 2 s */
#define KICK_MODE_MAX_US (PB_MAX_SECONDS * 1000000ull)

enum watch_mode { W_LIN, W_STALE, W_QUIT };

struct watch {
    struct cl_client *cl;          /* member key, this node only */
    uint64_t raft_id;
    bool is_leader;
    int code;                      /* of the last resolve of a trial */
    uint64_t t_us;                 /* answer time - t0 */
    struct pb_lat lin, stale;
    pthread_t th;
    struct kick_run *run;
};

struct kick_run {
    pthread_barrier_t start, done;
    enum watch_mode mode;
    _Atomic uint64_t t0;
    uint32_t owner_id;
    struct watch w[CL_ENDPOINTS_MAX];
    size_t n;
};

static int resolve(struct cl_client *cl, uint32_t node, bool stale)
{
    struct cl_request rq;
    struct cl_response resp;
    struct proto_args a;
    int rv;
    memset(&rq, 0, sizeof rq);
    memset(&resp, 0, sizeof resp);
    memset(&a, 0, sizeof a);
    a.node = node;
    rq.op = "resolve";
    rq.args = &a;
    rq.stale = stale;
    rv = cl_call(cl, &rq, &resp);
    cl_response_free(&resp);
    return rv;
}

static void *watch_main(void *arg)
{
    struct watch *w = arg;
    struct kick_run *r = w->run;
    bool quit = false;
    while (!quit) {
        pthread_barrier_wait(&r->start);
        quit = r->mode == W_QUIT;
        if (r->mode == W_LIN) {
            w->code = resolve(w->cl, r->owner_id, false);
            w->t_us = pb_now_us() - atomic_load(&r->t0);
        } else if (r->mode == W_STALE) {
            uint64_t begin = pb_now_us();
            do {
                w->code = resolve(w->cl, r->owner_id, true);
            } while (w->code != REG_NOT_FOUND && pb_now_us() - begin < KICK_POLL_MAX_US);
            w->t_us = pb_now_us() - atomic_load(&r->t0);
        }
        pthread_barrier_wait(&r->done);
    }
    return NULL;
}

static int owner_cmd(struct pb_pair *p, int op)
{
    struct st_cmd c;
    struct cl_request rq;
    struct cl_response resp;
    int rv;
    memset(&c, 0, sizeof c);
    memset(&rq, 0, sizeof rq);
    memset(&resp, 0, sizeof resp);
    c.op = (uint16_t)op;
    c.network = p->net_id;
    c.node = p->member_id;
    rq.op = st_cmd_name(op);
    rq.cmd = &c;
    rv = cl_call(p->owner, &rq, &resp);
    cl_response_free(&resp);
    return rv;
}

/* Before a stale trial every node must already show the member allowed,
 * otherwise a watcher would time the previous kick. */
static int wait_allowed_everywhere(struct kick_run *r)
{
    uint64_t end = pb_now_us() + KICK_POLL_MAX_US;
    int rv = REG_OK;
    for (size_t i = 0; i < r->n && rv == REG_OK; i++) {
        while ((rv = resolve(r->w[i].cl, r->owner_id, true)) != REG_OK && pb_now_us() < end) {
            pb_sleep_ms(1);
        }
    }
    return rv;
}

static void report(const struct pb_config *cfg, const char *prefix, const char *what,
                   struct watch *w, struct pb_lat *l, double secs)
{
    struct pb_summary s;
    char label[80], extra[96];
    snprintf(label, sizeof label, "%s.%s.node%llu", prefix, what, (unsigned long long)w->raft_id);
    /* errs of a lin line are answers other than "denied" after the ack. */
    snprintf(extra, sizeof extra, "role=%s%s%s", w->is_leader ? "leader" : "follower",
             l->errs > 0 ? " last_answer=" : "", l->errs > 0 ? reg_err_name(l->last_err) : "");
    pb_summarize(l, secs, &s);
    pb_print(cfg, label, &s, extra);
    pb_keep(label, &s);
}

/* One mode: trials kicks, each followed by the watchers' round. */
static int run_mode(const struct pb_config *cfg, struct pb_pair *p, struct kick_run *r,
                    enum watch_mode mode, struct pb_lat *ack, struct pb_lat *all, double *secs)
{
    uint64_t begin = pb_now_us();
    int rv = REG_OK;
    for (unsigned t = 0; t < cfg->kick_trials && rv == REG_OK; t++) {
        uint64_t t0, worst = 0;
        int code;
        if (mode == W_STALE) {
            rv = wait_allowed_everywhere(r);
            if (rv != REG_OK) {
                break;
            }
        }
        r->mode = mode;
        if (mode == W_STALE) {
            pthread_barrier_wait(&r->start);
        }
        t0 = pb_now_us();
        atomic_store(&r->t0, t0);
        code = owner_cmd(p, ST_CMD_NET_KICK);
        if (code == REG_OK) {
            pb_lat_add(ack, pb_now_us() - t0);
        } else {
            pb_lat_err(ack, code);
        }
        if (mode == W_LIN) {
            pthread_barrier_wait(&r->start);
        }
        pthread_barrier_wait(&r->done);
        for (size_t i = 0; i < r->n; i++) {
            struct watch *w = &r->w[i];
            struct pb_lat *l = mode == W_LIN ? &w->lin : &w->stale;
            if (w->code == REG_NOT_FOUND) {
                pb_lat_add(l, w->t_us);
                worst = w->t_us > worst ? w->t_us : worst;
            } else {
                pb_lat_err(l, w->code);
            }
        }
        if (mode == W_STALE) {
            pb_lat_add(all, worst);
        }
        code = owner_cmd(p, ST_CMD_NET_INVITE);
        if (code != REG_OK) {
            rv = code;
        }
        if (pb_now_us() - begin > KICK_MODE_MAX_US) {
            break;
        }
    }
    *secs = (double)(pb_now_us() - begin) / 1e6;
    return rv;
}

int pb_kick_deny(const struct pb_config *cfg, struct pb_pair *p, struct pb_pair *bg_pairs,
                 unsigned n_bg, char errmsg[static REG_ERRMSG_SIZE])
{
    struct kick_run *r = reg_calloc(1, sizeof *r);
    struct pb_bg *bg = NULL;
    struct pb_lat ack, all;
    struct pb_status st;
    const char *prefix = n_bg > 0 ? "kick_deny_load" : "kick_deny";
    char label[64];
    double secs_lin = 0, secs_stale = 0;
    size_t leader = 0, started = 0;
    bool barriers = false;
    int rv;
    memset(&ack, 0, sizeof ack);
    memset(&all, 0, sizeof all);
    if (r == NULL) {
        rv = REG_NOMEM;
        reg_errmsgf(errmsg, "kick-deny: out of memory");
        goto out;
    }
    rv = pb_find_leader(cfg, 10000, 0, &leader, errmsg);
    if (rv == REG_OK) {
        rv = pb_pair_bind(p, cfg->ep_text[leader], errmsg);
    }
    if (rv == REG_OK) {
        rv = pb_pair_settle(p);
        if (rv != REG_OK) {
            reg_errmsgf(errmsg, "kick-deny: member cannot rejoin: %s", reg_err_name(rv));
        }
    }
    r->owner_id = p->owner_id;
    r->n = cfg->n_eps;
    for (size_t i = 0; i < r->n && rv == REG_OK; i++) {
        rv = pb_status(cfg, i, &st, errmsg);
        r->w[i].raft_id = st.id;
        r->w[i].is_leader = i == leader;
        r->w[i].run = r;
        if (rv == REG_OK) {
            rv = pb_client_open(cfg->ep_text[i], p->sk_member, PB_CLIENT_LOAD, &r->w[i].cl,
                                errmsg);
        }
    }
    if (rv != REG_OK) {
        goto out;
    }
    if (n_bg > 0) {
        rv = pb_bg_start(cfg, bg_pairs, n_bg, &bg, errmsg);
        if (rv != REG_OK) {
            goto out;
        }
    }
    pthread_barrier_init(&r->start, NULL, (unsigned)r->n + 1);
    pthread_barrier_init(&r->done, NULL, (unsigned)r->n + 1);
    barriers = true;
    for (started = 0; started < r->n; started++) {
        if (pthread_create(&r->w[started].th, NULL, watch_main, &r->w[started]) != 0) {
            break;
        }
    }
    if (started < r->n) {
        rv = REG_INTERNAL;
        reg_errmsgf(errmsg, "kick-deny: cannot start watcher threads");
        goto out;
    }
    rv = run_mode(cfg, p, r, W_LIN, &ack, &all, &secs_lin);
    if (rv == REG_OK) {
        rv = run_mode(cfg, p, r, W_STALE, &ack, &all, &secs_stale);
    }
    if (rv != REG_OK) {
        reg_errmsgf(errmsg, "kick-deny: a kick or invite failed: %s", reg_err_name(rv));
    }
    snprintf(label, sizeof label, "%s.ack", prefix);
    {
        struct pb_summary s;
        pb_summarize(&ack, secs_lin + secs_stale, &s);
        pb_print(cfg, label, &s, NULL);
        pb_keep(label, &s);
    }
    for (size_t i = 0; i < r->n; i++) {
        report(cfg, prefix, "lin", &r->w[i], &r->w[i].lin, secs_lin);
    }
    for (size_t i = 0; i < r->n; i++) {
        report(cfg, prefix, "stale", &r->w[i], &r->w[i].stale, secs_stale);
    }
    {
        struct pb_summary s;
        snprintf(label, sizeof label, "%s.stale.all", prefix);
        pb_summarize(&all, secs_stale, &s);
        pb_print(cfg, label, &s, NULL);
        pb_keep(label, &s);
    }
out:
    if (r != NULL) {
        /* Watchers park at the start barrier; release them to quit. */
        if (started == r->n && barriers) {
            r->mode = W_QUIT;
            pthread_barrier_wait(&r->start);
            pthread_barrier_wait(&r->done);
        }
        for (size_t i = 0; i < started && started == r->n; i++) {
            pthread_join(r->w[i].th, NULL);
        }
        if (barriers) {
            pthread_barrier_destroy(&r->start);
            pthread_barrier_destroy(&r->done);
        }
        for (size_t i = 0; i < r->n; i++) {
            cl_close(r->w[i].cl);
            pb_lat_free(&r->w[i].lin);
            pb_lat_free(&r->w[i].stale);
        }
    }
    snprintf(label, sizeof label, "%s.background_writes", prefix);
    pb_bg_stop(cfg, bg, label);
    pb_lat_free(&ack);
    pb_lat_free(&all);
    reg_free(r);
    return rv;
}
