/* pilot-bench: the cluster as the benchmark sees it (node status, the
 * leader, convergence), client options, and the agent pairs every
 * measurement uses (see pilot_bench.h). */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "pilot_bench.h"

/* ---- status -------------------------------------------------------------- */

int pb_status(const struct pb_config *cfg, size_t i, struct pb_status *st,
              char errmsg[static REG_ERRMSG_SIZE])
{
    struct cl_options o;
    struct cl_client *cl = NULL;
    struct cl_request rq;
    struct cl_response resp;
    char state[16] = "";
    int rv;
    memset(&o, 0, sizeof o);
    memset(&rq, 0, sizeof rq);
    memset(&resp, 0, sizeof resp);
    memset(st, 0, sizeof *st);
    o.endpoints = cfg->ep_text[i];
    o.admin_token = cfg->admin_token[0] ? cfg->admin_token : NULL;
    o.connect_timeout_ms = 500;
    o.attempt_timeout_ms = 1000;
    o.deadline_ms = 1000;
    o.backoff_max_ms = 100;
    rv = cl_open(&o, &cl, errmsg);
    if (rv != REG_OK) {
        goto out;
    }
    rq.op = "cluster_status";
    rv = cl_call(cl, &rq, &resp);
    if (rv != REG_OK) {
        reg_errmsgf(errmsg, "cluster_status at %s: %s", cfg->ep_text[i], resp.message);
        goto out;
    }
    proto_get_u64(&resp.result, "id", 0, UINT64_MAX, &st->id, errmsg);
    proto_get_u64(&resp.result, "term", 0, UINT64_MAX, &st->term, errmsg);
    proto_get_u64(&resp.result, "applied_index", 0, UINT64_MAX, &st->applied_index, errmsg);
    proto_get_u64(&resp.result, "leader_id", 0, UINT64_MAX, &st->leader_id, errmsg);
    proto_get_bool(&resp.result, "ready", 0, &st->ready, errmsg);
    proto_get_str(&resp.result, "state", 0, sizeof state - 1, state, errmsg);
    proto_get_str(&resp.result, "state_hash", 0, sizeof st->hash - 1, st->hash, errmsg);
    st->leader = strcmp(state, "leader") == 0;
out:
    cl_response_free(&resp);
    cl_close(cl);
    return rv;
}

int pb_find_leader(const struct pb_config *cfg, unsigned timeout_ms, uint32_t skip,
                   size_t *leader, char errmsg[static REG_ERRMSG_SIZE])
{
    uint64_t end = pb_now_us() + (uint64_t)timeout_ms * 1000u;
    struct pb_status st;
    char why[REG_ERRMSG_SIZE] = "no endpoint answered";
    int rv = REG_NO_LEADER;
    do {
        for (size_t i = 0; i < cfg->n_eps && rv != REG_OK; i++) {
            if ((skip & (1u << i)) == 0 && pb_status(cfg, i, &st, why) == REG_OK &&
                st.leader && st.ready) {
                *leader = i;
                rv = REG_OK;
            }
        }
        if (rv != REG_OK) {
            pb_sleep_ms(20);
        }
    } while (rv != REG_OK && pb_now_us() < end);
    if (rv != REG_OK) {
        reg_errmsgf(errmsg, "no ready leader within %u ms (last: %s)", timeout_ms, why);
    }
    return rv;
}

int pb_wait_converged(const struct pb_config *cfg, unsigned timeout_ms,
                      char errmsg[static REG_ERRMSG_SIZE])
{
    uint64_t end = pb_now_us() + (uint64_t)timeout_ms * 1000u;
    struct pb_status st, first;
    char why[REG_ERRMSG_SIZE] = "";
    bool same = false;
    int rv = REG_OK;
    do {
        bool have_leader = false;
        same = true;
        for (size_t i = 0; i < cfg->n_eps && same; i++) {
            if (pb_status(cfg, i, &st, why) != REG_OK) {
                same = false;
            } else if (i == 0) {
                first = st;
            } else if (st.applied_index != first.applied_index ||
                       strcmp(st.hash, first.hash) != 0) {
                snprintf(why, sizeof why, "applied %llu vs %llu",
                         (unsigned long long)st.applied_index,
                         (unsigned long long)first.applied_index);
                same = false;
            }
            have_leader = have_leader || (st.leader && st.ready);
        }
        same = same && have_leader;
        if (!same) {
            pb_sleep_ms(50);
        }
    } while (!same && pb_now_us() < end);
    if (!same) {
        reg_errmsgf(errmsg, "cluster not converged within %u ms (%s)", timeout_ms, why);
        rv = REG_TIMEOUT;
    }
    return rv;
}

void pb_eps_rotated(const struct pb_config *cfg, size_t first, char out[PB_EPS_MAX])
{
    size_t o = 0;
    out[0] = '\0';
    for (size_t k = 0; k < cfg->n_eps; k++) {
        size_t i = (first + k) % cfg->n_eps;
        int w = snprintf(out + o, PB_EPS_MAX - o, "%s%s", k ? "," : "", cfg->ep_text[i]);
        if (w < 0 || (size_t)w >= PB_EPS_MAX - o) {
            break;
        }
        o += (size_t)w;
    }
}

int pb_client_open(const char *eps, const uint8_t *sk, enum pb_client_kind kind,
                   struct cl_client **out, char errmsg[static REG_ERRMSG_SIZE])
{
    struct cl_options o;
    memset(&o, 0, sizeof o);
    o.endpoints = eps;
    o.secret_key = sk;
    if (kind == PB_CLIENT_PROBE) {
        o.connect_timeout_ms = 200;
        o.attempt_timeout_ms = 1000;
        o.deadline_ms = 20000;
        o.backoff_initial_ms = 5;
        o.backoff_max_ms = 20;
    } else {
        o.connect_timeout_ms = 2000;
        o.attempt_timeout_ms = 5000;
        o.deadline_ms = 10000;
        o.backoff_max_ms = 100;
    }
    return cl_open(&o, out, errmsg);
}

/* ---- agent pairs ----------------------------------------------------------- */

static const char *const cycle_ops[PB_CYCLE_LEN] = {"register", "network_kick",
                                                     "network_invite", "network_leave",
                                                     "network_join"};

const char *pb_cycle_op(unsigned phase)
{
    return cycle_ops[phase % PB_CYCLE_LEN];
}

static int call_cmd(struct cl_client *cl, const struct st_cmd *cmd, uint64_t *u64_out,
                    const char *key)
{
    struct cl_request rq;
    struct cl_response resp;
    char errmsg[REG_ERRMSG_SIZE];
    int rv;
    memset(&rq, 0, sizeof rq);
    memset(&resp, 0, sizeof resp);
    rq.op = st_cmd_name(cmd->op);
    rq.cmd = cmd;
    rv = cl_call(cl, &rq, &resp);
    if (rv == REG_OK && key != NULL &&
        (!resp.has_result ||
         proto_get_u64(&resp.result, key, PROTO_REQ, UINT64_MAX, u64_out, errmsg) != REG_OK)) {
        rv = REG_MALFORMED;
    }
    cl_response_free(&resp);
    return rv;
}

static void cmd_init(struct st_cmd *c, int op)
{
    memset(c, 0, sizeof *c);
    c->op = (uint16_t)op;
}

static int register_agent(struct cl_client *cl, uint32_t *id)
{
    struct st_cmd c;
    uint64_t v = 0;
    int rv;
    cmd_init(&c, ST_CMD_REGISTER);
    snprintf(c.endpoint, sizeof c.endpoint, "10.0.0.1:4000");
    rv = call_cmd(cl, &c, &v, id != NULL ? "node_id" : NULL);
    if (id != NULL) {
        *id = (uint32_t)v;
    }
    return rv;
}

int pb_pair_bind(struct pb_pair *p, const char *eps, char errmsg[static REG_ERRMSG_SIZE])
{
    uint32_t who;
    int rv = REG_OK;
    if (p->owner != NULL && strcmp(p->eps, eps) == 0) {
        goto out;
    }
    cl_close(p->owner);
    cl_close(p->member);
    p->owner = p->member = NULL;
    snprintf(p->eps, sizeof p->eps, "%s", eps);
    rv = pb_client_open(eps, p->sk_owner, PB_CLIENT_LOAD, &p->owner, errmsg);
    if (rv == REG_OK) {
        rv = pb_client_open(eps, p->sk_member, PB_CLIENT_LOAD, &p->member, errmsg);
    }
    /* Connect and hand-shake now so that no point times a handshake. */
    if (rv == REG_OK) {
        rv = cl_whoami(p->owner, &who, errmsg);
    }
    if (rv == REG_OK) {
        rv = cl_whoami(p->member, &who, errmsg);
    }
    if (rv != REG_OK) {
        cl_close(p->owner);
        cl_close(p->member);
        p->owner = p->member = NULL;
        p->eps[0] = '\0';
    }
out:
    return rv;
}

static int pair_setup(struct pb_pair *p, void *arg)
{
    const struct pb_config *cfg = arg;
    uint8_t pk[32];
    char eps[PB_EPS_MAX];
    char errmsg[REG_ERRMSG_SIZE];
    struct st_cmd c;
    uint64_t v = 0;
    int rv;
    crypto_sign_keypair(pk, p->sk_owner);
    crypto_sign_keypair(pk, p->sk_member);
    pb_eps_rotated(cfg, p->index % cfg->n_eps, eps);
    rv = pb_pair_bind(p, eps, errmsg);
    if (rv == REG_OK) {
        rv = register_agent(p->owner, &p->owner_id);
    }
    if (rv == REG_OK) {
        rv = register_agent(p->member, &p->member_id);
    }
    if (rv == REG_OK) {
        cmd_init(&c, ST_CMD_NET_CREATE);
        /* Unique per run: pairs of earlier runs keep their networks. */
        snprintf(c.name, sizeof c.name, "pb-%08x-%u", (unsigned)randombytes_random(), p->index);
        c.join_rule = ST_JOIN_OPEN;
        rv = call_cmd(p->owner, &c, &v, "network_id");
        p->net_id = (uint32_t)v;
    }
    if (rv == REG_OK) {
        cmd_init(&c, ST_CMD_NET_JOIN);
        c.network = p->net_id;
        rv = call_cmd(p->member, &c, NULL, NULL);
    }
    p->phase = 0;
    return rv;
}

int pb_pairs_setup(const struct pb_config *cfg, struct pb_pair *p, unsigned n,
                   char errmsg[static REG_ERRMSG_SIZE])
{
    int rv;
    for (unsigned i = 0; i < n; i++) {
        memset(&p[i], 0, sizeof p[i]);
        p[i].index = i;
    }
    rv = pb_parallel(p, n, pair_setup, (void *)cfg);
    if (rv != REG_OK) {
        char eps[PB_EPS_MAX];
        pb_eps_rotated(cfg, 0, eps);
        reg_errmsgf(errmsg, "setting up %u agent pairs (register, network_create, "
                            "network_join) at %s: %s", n, eps, reg_err_name(rv));
    }
    return rv;
}

int pb_pair_write(struct pb_pair *p)
{
    struct st_cmd c;
    struct cl_client *cl = p->member;
    unsigned phase = p->phase % PB_CYCLE_LEN;
    int rv;
    p->phase = (phase + 1) % PB_CYCLE_LEN;
    cmd_init(&c, ST_CMD_NONE);
    c.network = p->net_id;
    switch (phase) {
    case 0:
        break;
    case 1:
        c.op = ST_CMD_NET_KICK;
        c.node = p->member_id;
        cl = p->owner;
        break;
    case 2:
        c.op = ST_CMD_NET_INVITE;
        c.node = p->member_id;
        cl = p->owner;
        break;
    case 3:
        c.op = ST_CMD_NET_LEAVE;
        break;
    default:
        c.op = ST_CMD_NET_JOIN;
        break;
    }
    if (phase == 0) {
        rv = register_agent(p->member, NULL);
    } else {
        rv = call_cmd(cl, &c, NULL, NULL);
    }
    return rv;
}

int pb_pair_resolve(struct pb_pair *p)
{
    struct cl_request rq;
    struct cl_response resp;
    struct proto_args a;
    int rv;
    memset(&rq, 0, sizeof rq);
    memset(&resp, 0, sizeof resp);
    memset(&a, 0, sizeof a);
    a.node = p->owner_id;
    rq.op = "resolve";
    rq.args = &a;
    rq.stale = p->stale;
    rv = cl_call(p->member, &rq, &resp);
    cl_response_free(&resp);
    return rv;
}

int pb_pair_settle(struct pb_pair *p)
{
    int rv = REG_OK;
    while (p->phase != 0) {
        int r = pb_pair_write(p);
        if (r != REG_OK) {
            rv = r;
        }
    }
    return rv;
}

void pb_pairs_close(struct pb_pair *p, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        cl_close(p[i].owner);
        cl_close(p[i].member);
        p[i].owner = p[i].member = NULL;
        p[i].eps[0] = '\0';
        pb_lat_free(&p[i].lat);
    }
}

/* ---- threads ------------------------------------------------------------------ */

struct par_job {
    struct pb_pair *p;
    int (*fn)(struct pb_pair *, void *);
    void *arg;
    int rv;
};

static void *par_main(void *arg)
{
    struct par_job *j = arg;
    j->rv = j->fn(j->p, j->arg);
    return NULL;
}

int pb_parallel(struct pb_pair *p, unsigned n, int (*fn)(struct pb_pair *, void *), void *arg)
{
    struct par_job *jobs = reg_calloc(n ? n : 1, sizeof *jobs);
    pthread_t *th = reg_calloc(n ? n : 1, sizeof *th);
    bool *started = reg_calloc(n ? n : 1, sizeof *started);
    int rv = REG_OK;
    if (jobs == NULL || th == NULL || started == NULL) {
        rv = REG_NOMEM;
        goto out;
    }
    for (unsigned i = 0; i < n; i++) {
        jobs[i] = (struct par_job){&p[i], fn, arg, REG_OK};
        /* Small stacks: up to PB_MAX_CLIENTS threads in one process. */
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setstacksize(&at, 256 * 1024);
        started[i] = pthread_create(&th[i], &at, par_main, &jobs[i]) == 0;
        pthread_attr_destroy(&at);
        if (!started[i]) {
            jobs[i].rv = REG_INTERNAL;
        }
    }
    for (unsigned i = 0; i < n; i++) {
        if (started[i]) {
            pthread_join(th[i], NULL);
        }
        if (jobs[i].rv != REG_OK) {
            rv = jobs[i].rv;
        }
    }
out:
    reg_free(jobs);
    reg_free(th);
    reg_free(started);
    return rv;
}
