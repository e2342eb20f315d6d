/* workloads.c: the four workloads of issue 7 item 4 (fault-injection.md
 * §5.6), their setup and their generators.
 *
 *   registry     per-agent keys checked with the checker's access model:
 *                "m<k>" keys (agent B_k and its own network N_k owned by
 *                the owner A: join, invite, kick, resolve A) and "t<k>" keys
 *                (agent C_k in no network: handshake+approve, untrust,
 *                resolve A). A is private, so B/C may resolve A iff member
 *                of N_k or trusted, which is the model's rule.
 *   kick-fanout  invite, resolve, kick, then resolve from every node at once
 *                every 20 ms for 1 s, then every 100 ms up to 3 s (a leader
 *                crash right after the kick takes an election to show);
 *                any allow is a stale allow.
 *   members      per-network sets (set model): invite = add, kick = remove,
 *                network_members = read.
 *   durability   unique public registrations (unique model), read back by
 *                hostname; final stale reads on every node after convergence.
 * Two processes share each key (Jepsen's independent generator), keys
 * rotate every ops_per_key ops so each partition stays searchable. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "jw.h"

#define MEMBERS_UNIVERSE 6
#define FANOUT_FAST_MS 1000  /* probe every FANOUT_EVERY_MS for this long */
#define FANOUT_EVERY_MS 20
#define FANOUT_MAX_MS 3000   /* then every FANOUT_SLOW_MS up to this */
#define FANOUT_SLOW_MS 100
/* Between invite and kick, a member stays in for up to this long, so some
 * kicks revoke a membership that was committed before a fault began: a
 * stale node then still holds the member, and an allow from it shows. */
#define FANOUT_LINGER_MS 3000

uint64_t jw_rand(uint64_t *s)
{
    /* splitmix64: seeded, reproducible op choice per process. */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void sleep_ns(uint64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull)};
    nanosleep(&ts, NULL);
}

bool jw_running(struct jw_run *run)
{
    return !atomic_load(&run->stop) && jw_mono_ns() < run->end_ns;
}

void jw_pace(struct jw_proc *p)
{
    double per_proc = p->run->rate / (double)p->run->concurrency;
    uint64_t mean, ns;
    if (per_proc <= 0) {
        return;
    }
    /* Uniform in [0, 2/rate): Jepsen's stagger. */
    mean = (uint64_t)(1e9 / per_proc);
    ns = jw_rand(&p->rng) % (2 * mean + 1);
    sleep_ns(ns);
}

/* ---- Setup --------------------------------------------------------------- */

static int register_agent(struct jw_run *run, unsigned node, struct jw_agent *a,
                          const char *hostname, bool public_, char errmsg[static REG_ERRMSG_SIZE])
{
    uint8_t pk[32];
    struct cl_client *cl = NULL;
    struct st_cmd cmd;
    uint64_t id = 0;
    int rv;

    crypto_sign_keypair(pk, a->sk);
    rv = jw_client_open(run, node, a->sk, false, &cl, errmsg);
    if (rv != REG_OK) {
        return rv;
    }
    memset(&cmd, 0, sizeof cmd);
    cmd.op = ST_CMD_REGISTER;
    cmd.flag = public_;
    if (hostname != NULL) {
        snprintf(cmd.hostname, sizeof cmd.hostname, "%s", hostname);
    }
    snprintf(cmd.endpoint, sizeof cmd.endpoint, "10.77.1.1:4000");
    rv = jw_setup_write(cl, &cmd, "node_id", &id, 30000);
    if (rv != REG_OK) {
        reg_errmsgf(errmsg, "setup: register %s: %s", hostname ? hostname : "agent",
                    reg_err_name(rv));
    }
    a->id = (uint32_t)id;
    cl_close(cl);
    return rv;
}

static int create_net(struct cl_client *owner, uint64_t seed, unsigned k, uint32_t *net,
                      char errmsg[static REG_ERRMSG_SIZE])
{
    struct st_cmd cmd;
    uint64_t id = 0;
    int rv;
    memset(&cmd, 0, sizeof cmd);
    cmd.op = ST_CMD_NET_CREATE;
    snprintf(cmd.name, sizeof cmd.name, "jep-%" PRIu64 "-%08x-%u", seed % 100000,
             randombytes_random(), k);
    cmd.join_rule = ST_JOIN_OPEN;
    rv = jw_setup_write(owner, &cmd, "network_id", &id, 30000);
    if (rv != REG_OK) {
        reg_errmsgf(errmsg, "setup: network_create %u: %s", k, reg_err_name(rv));
    }
    *net = (uint32_t)id;
    return rv;
}

int jw_setup(struct jw_run *run, char errmsg[static REG_ERRMSG_SIZE])
{
    struct cl_client *owner = NULL;
    unsigned n_agents = 0, n_nets = 0, k;
    double total = run->rate * run->time_limit_s;
    int rv;

    run->n_keys = (unsigned)(total / run->ops_per_key) + run->concurrency + 2;
    if (run->workload == JW_KICK_FANOUT) {
        run->n_keys = (unsigned)(run->time_limit_s / 4) + run->concurrency + 2;
    }
    if (run->workload == JW_DURABILITY) {
        run->n_keys = 0;
    }
    rv = register_agent(run, 0, &run->owner, "jep-owner", false, errmsg);
    if (rv == REG_OK) {
        rv = register_agent(run, 0, &run->reader, "jep-reader", false, errmsg);
    }
    if (rv != REG_OK || run->n_keys == 0) {
        return rv;
    }
    n_agents = run->workload == JW_MEMBERS ? run->n_keys * MEMBERS_UNIVERSE : run->n_keys;
    n_nets = run->n_keys;
    run->agents = calloc(n_agents, sizeof *run->agents);
    run->nets = calloc(n_nets, sizeof *run->nets);
    if (run->agents == NULL || run->nets == NULL) {
        return REG_NOMEM;
    }
    rv = jw_client_open(run, 0, run->owner.sk, false, &owner, errmsg);
    for (k = 0; rv == REG_OK && k < n_agents; k++) {
        rv = register_agent(run, k % run->n_nodes, &run->agents[k], NULL, false, errmsg);
    }
    for (k = 0; rv == REG_OK && k < n_nets; k++) {
        /* registry: odd keys are trust keys and have no network. */
        if (run->workload == JW_REGISTRY && (k & 1u)) {
            continue;
        }
        rv = create_net(owner, run->seed, k, &run->nets[k], errmsg);
    }
    cl_close(owner);
    return rv;
}

/* ---- Shared op helpers --------------------------------------------------- */

struct conns {
    struct cl_client *owner;
    struct cl_client *agent;
    int agent_of;               /* agents[] index the agent client is for */
};

static struct cl_client *agent_conn(struct jw_proc *p, struct conns *c, unsigned a)
{
    char errmsg[REG_ERRMSG_SIZE];
    if (c->agent != NULL && c->agent_of == (int)a) {
        return c->agent;
    }
    cl_close(c->agent);
    c->agent = NULL;
    if (jw_client_open(p->run, p->node, p->run->agents[a].sk, false, &c->agent, errmsg) ==
        REG_OK) {
        c->agent_of = (int)a;
    }
    return c->agent;
}

static int cmd_op(struct jw_proc *p, struct cl_client *cl, const char *f, const char *key,
                  json_t *inv, const struct st_cmd *cmd, struct jw_res *res)
{
    struct cl_request rq;
    memset(&rq, 0, sizeof rq);
    rq.op = st_cmd_name(cmd->op);
    rq.cmd = cmd;
    return jw_op(p, cl, f, key, inv, &rq, false, NULL, NULL, res);
}

static json_t *fill_allow(const struct cl_response *resp, void *arg)
{
    (void)resp;
    (void)arg;
    return json_string("allow");
}

/* A resolves B's view: `who` asks to resolve node `target`. */
static int resolve_op(struct jw_proc *p, struct cl_client *cl, const char *key, uint32_t target,
                      bool stale, struct jw_res *res)
{
    struct cl_request rq;
    struct proto_args args;
    memset(&rq, 0, sizeof rq);
    memset(&args, 0, sizeof args);
    args.node = target;
    rq.op = "resolve";
    rq.args = &args;
    rq.stale = stale;
    return jw_op(p, cl, "resolve", key, NULL, &rq, true, fill_allow, NULL, res);
}

static int net_node_op(struct jw_proc *p, struct cl_client *cl, int op, const char *f,
                       const char *key, json_t *inv, uint32_t net, uint32_t node,
                       struct jw_res *res)
{
    struct st_cmd cmd;
    memset(&cmd, 0, sizeof cmd);
    cmd.op = (uint16_t)op;
    cmd.network = net;
    cmd.node = node;
    return cmd_op(p, cl, f, key, inv, &cmd, res);
}

/* handshake (agent -> owner) then approve (owner): one logical "approve",
 * invoked before the handshake so its interval holds both applies. The
 * handshake alone never grants trust here (no shared network, the owner
 * never handshakes), so a handshake that did not end ok means the approve
 * was never sent: the op definitely did not grant (fail). A handshake that
 * finds the pair trusted is the op's linearization point: already_exists. */
static void approve_op(struct jw_proc *p, struct conns *c, const char *key, unsigned a)
{
    struct jw_run *run = p->run;
    struct cl_client *ag = agent_conn(p, c, a);
    struct cl_request rq;
    struct cl_response resp;
    struct st_cmd cmd;
    char errmsg[REG_ERRMSG_SIZE], req_id[JW_REQ_ID_LEN];
    const char *status = NULL;
    size_t slen = 0;
    struct jw_res res;
    int code;

    if (ag == NULL) {
        return;
    }
    /* No req_id: the owner's next seq is only used if the approve is sent,
     * and a later write would reuse it. */
    jw_op_invoke(p, c->owner, "approve", key, NULL, true, req_id);
    memset(&cmd, 0, sizeof cmd);
    cmd.op = ST_CMD_HANDSHAKE;
    cmd.node = run->owner.id;
    snprintf(cmd.text, sizeof cmd.text, "jepsen");
    memset(&rq, 0, sizeof rq);
    rq.op = "handshake";
    rq.cmd = &cmd;
    memset(&resp, 0, sizeof resp);
    code = cl_call(ag, &rq, &resp);
    if (code == REG_OK && resp.has_result) {
        proto_get_strv(&resp.result, "status", 0, 32, &status, &slen, errmsg);
    }
    if (code == REG_OK && status != NULL && slen == strlen("already_trusted") &&
        memcmp(status, "already_trusted", slen) == 0) {
        cl_response_free(&resp);
        jw_op_complete(p, "approve", key, JC_OUT_REJECTED, "already_exists");
        return;
    }
    if (code == REG_OK && status != NULL && slen == strlen("approved") &&
        memcmp(status, "approved", slen) == 0) {
        /* Auto-approved (should not happen on trust keys): it granted. */
        cl_response_free(&resp);
        jw_op_complete(p, "approve", key, JC_OUT_OK, NULL);
        return;
    }
    cl_response_free(&resp);
    if (code != REG_OK) {
        jw_op_complete(p, "approve", key, JC_OUT_FAIL, reg_err_name(code));
        return;
    }
    memset(&cmd, 0, sizeof cmd);
    cmd.op = ST_CMD_APPROVE;
    cmd.node = run->agents[a].id;
    memset(&rq, 0, sizeof rq);
    rq.op = st_cmd_name(cmd.op);
    rq.cmd = &cmd;
    jw_op_call(p, c->owner, "approve", key, &rq, false, NULL, NULL, NULL, &res);
}

/* ---- registry ------------------------------------------------------------ */

static void registry_op(struct jw_proc *p, struct conns *c, unsigned k)
{
    struct jw_run *run = p->run;
    struct jw_res res;
    char key[24];
    unsigned r = (unsigned)(jw_rand(&p->rng) % 100);
    uint32_t b = run->agents[k].id;
    struct cl_client *ag;

    if (k & 1u) {
        snprintf(key, sizeof key, "t%u", k);
        if (r < 20) {
            approve_op(p, c, key, k);
        } else if (r < 40) {
            net_node_op(p, c->owner, ST_CMD_UNTRUST, "untrust", key, NULL, 0, b, &res);
        } else if ((ag = agent_conn(p, c, k)) != NULL) {
            resolve_op(p, ag, key, run->owner.id, false, &res);
        }
        return;
    }
    snprintf(key, sizeof key, "m%u", k);
    if (r < 15) {
        ag = agent_conn(p, c, k);
        if (ag != NULL) {
            struct st_cmd cmd;
            memset(&cmd, 0, sizeof cmd);
            cmd.op = ST_CMD_NET_JOIN;
            cmd.network = run->nets[k];
            cmd_op(p, ag, "join", key, json_string("join"), &cmd, &res);
        }
    } else if (r < 30) {
        net_node_op(p, c->owner, ST_CMD_NET_INVITE, "join", key, json_string("invite"),
                    run->nets[k], b, &res);
    } else if (r < 45) {
        net_node_op(p, c->owner, ST_CMD_NET_KICK, "kick", key, NULL, run->nets[k], b, &res);
    } else if ((ag = agent_conn(p, c, k)) != NULL) {
        resolve_op(p, ag, key, run->owner.id, false, &res);
    }
}

/* ---- members --------------------------------------------------------------- */

struct members_ctx {
    struct jw_run *run;
    unsigned k;
};

static json_t *fill_members(const struct cl_response *resp, void *arg)
{
    struct members_ctx *m = arg;
    struct proto_val arr, item;
    struct proto_iter it;
    char errmsg[REG_ERRMSG_SIZE];
    json_t *out = json_array();
    uint64_t seen = 0;

    if (proto_get_array(&resp->result, "members", PROTO_REQ, 1u << 20, &arr, errmsg) !=
        REG_OK) {
        return out;
    }
    proto_iter_init(&it, &arr);
    while (proto_iter_next(&it, &item)) {
        uint32_t id = 0;
        int e = 63; /* a member we never added shows up as element 63 */
        if (proto_get_u32(&item, "node_id", PROTO_REQ, UINT32_MAX, &id, errmsg) != REG_OK ||
            id == m->run->owner.id) {
            continue;
        }
        for (unsigned i = 0; i < MEMBERS_UNIVERSE; i++) {
            if (m->run->agents[m->k * MEMBERS_UNIVERSE + i].id == id) {
                e = (int)i;
            }
        }
        seen |= 1ull << e;
    }
    for (int e = 0; e < 64; e++) {
        if (seen & (1ull << e)) {
            json_array_append_new(out, json_integer(e));
        }
    }
    return out;
}

static int members_read(struct jw_proc *p, struct cl_client *cl, unsigned k, bool stale)
{
    struct members_ctx m = {p->run, k};
    struct cl_request rq;
    struct proto_args args;
    struct jw_res res;
    char key[24];
    snprintf(key, sizeof key, "s%u", k);
    memset(&rq, 0, sizeof rq);
    memset(&args, 0, sizeof args);
    args.network = p->run->nets[k];
    rq.op = "network_members";
    rq.args = &args;
    rq.stale = stale;
    return jw_op(p, cl, "read", key, NULL, &rq, true, fill_members, &m, &res);
}

static void members_op(struct jw_proc *p, struct conns *c, unsigned k)
{
    struct jw_run *run = p->run;
    struct jw_res res;
    char key[24];
    unsigned r = (unsigned)(jw_rand(&p->rng) % 100);
    unsigned e = (unsigned)(jw_rand(&p->rng) % MEMBERS_UNIVERSE);
    uint32_t node = run->agents[k * MEMBERS_UNIVERSE + e].id;

    snprintf(key, sizeof key, "s%u", k);
    if (r < 35) {
        net_node_op(p, c->owner, ST_CMD_NET_INVITE, "add", key, json_integer(e), run->nets[k],
                    node, &res);
    } else if (r < 65) {
        net_node_op(p, c->owner, ST_CMD_NET_KICK, "remove", key, json_integer(e), run->nets[k],
                    node, &res);
    } else {
        members_read(p, c->owner, k, false);
    }
}

/* ---- durability ------------------------------------------------------------ */

static json_t *fill_true(const struct cl_response *resp, void *arg)
{
    (void)resp;
    (void)arg;
    return json_true();
}

static int hostname_read(struct jw_proc *p, struct cl_client *cl, uint64_t u, bool stale)
{
    struct cl_request rq;
    struct proto_args args;
    struct jw_res res;
    char key[24];
    snprintf(key, sizeof key, "d%" PRIu64, u);
    memset(&rq, 0, sizeof rq);
    memset(&args, 0, sizeof args);
    snprintf(args.hostname, sizeof args.hostname, "jd-%" PRIu64, u);
    rq.op = "resolve_hostname";
    rq.args = &args;
    rq.stale = stale;
    return jw_op(p, cl, "read", key, NULL, &rq, true, fill_true, NULL, &res);
}

static void durability_op(struct jw_proc *p, struct conns *c)
{
    struct jw_run *run = p->run;
    unsigned r = (unsigned)(jw_rand(&p->rng) % 100);
    uint64_t n = atomic_load(&run->next_unique);
    char errmsg[REG_ERRMSG_SIZE];

    if (r < 30 && n > 0) {
        hostname_read(p, c->owner, jw_rand(&p->rng) % n, false);
        return;
    }
    uint64_t u = atomic_fetch_add(&run->next_unique, 1);
    uint8_t pk[32], sk[JW_SK_LEN];
    struct cl_client *cl = NULL;
    struct st_cmd cmd;
    struct jw_res res;
    char key[24];
    crypto_sign_keypair(pk, sk);
    if (jw_client_open(run, p->node, sk, false, &cl, errmsg) != REG_OK) {
        return;
    }
    snprintf(key, sizeof key, "d%" PRIu64, u);
    memset(&cmd, 0, sizeof cmd);
    cmd.op = ST_CMD_REGISTER;
    cmd.flag = true;
    snprintf(cmd.hostname, sizeof cmd.hostname, "jd-%" PRIu64, u);
    snprintf(cmd.endpoint, sizeof cmd.endpoint, "10.77.1.2:4000");
    cmd_op(p, cl, "write", key, json_string(cmd.hostname), &cmd, &res);
    cl_close(cl);
}

/* ---- kick-fanout --------------------------------------------------------------- */

struct probe {
    struct jw_proc proc;
    struct cl_client *cl;
    const char *key;
    int64_t t_kick;
    int64_t deny_ns;            /* kick ok -> first deny completion; -1 if none */
    unsigned allows;
    pthread_t th;
};

static void *probe_main(void *arg)
{
    struct probe *pr = arg;
    struct jw_run *run = pr->proc.run;
    struct jw_res res;
    uint64_t fast_end = jw_mono_ns() + FANOUT_FAST_MS * 1000000ull;
    uint64_t end = jw_mono_ns() + FANOUT_MAX_MS * 1000000ull;

    pr->deny_ns = -1;
    pr->allows = 0;
    /* Not just until the first deny: a deposed leader that has not noticed
     * yet, or a new leader that has not yet learned the last commit, may
     * answer stale later (after a leader crash that takes an election). */
    while (jw_mono_ns() < end && pr->cl != NULL) {
        resolve_op(&pr->proc, pr->cl, pr->key, run->owner.id, false, &res);
        if (res.out == JC_OUT_OK) {
            pr->allows++;
        } else if (res.out == JC_OUT_REJECTED) {
            if (pr->deny_ns < 0) {
                pr->deny_ns = res.t_done - pr->t_kick;
            }
        }
        sleep_ns((jw_mono_ns() < fast_end ? FANOUT_EVERY_MS : FANOUT_SLOW_MS) * 1000000ull);
    }
    return NULL;
}

static void fanout_round(struct jw_proc *p, struct conns *c, struct probe *pr, unsigned k)
{
    struct jw_run *run = p->run;
    struct jw_res res;
    char key[24];
    uint32_t b = run->agents[k].id;
    struct cl_client *ag = agent_conn(p, c, k);

    snprintf(key, sizeof key, "f%u", k);
    net_node_op(p, c->owner, ST_CMD_NET_INVITE, "join", key, json_string("invite"), run->nets[k],
                b, &res);
    if (ag != NULL) {
        resolve_op(p, ag, key, run->owner.id, false, &res);
    }
    sleep_ns(jw_rand(&p->rng) % (FANOUT_LINGER_MS + 1) * 1000000ull);
    net_node_op(p, c->owner, ST_CMD_NET_KICK, "kick", key, NULL, run->nets[k], b, &res);
    if (res.out != JC_OUT_OK) {
        return;
    }
    for (unsigned i = 0; i < run->n_nodes; i++) {
        pr[i].key = key;
        pr[i].t_kick = res.t_done;
        pthread_create(&pr[i].th, NULL, probe_main, &pr[i]);
    }
    for (unsigned i = 0; i < run->n_nodes; i++) {
        pthread_join(pr[i].th, NULL);
    }
    pthread_mutex_lock(&run->fanout_mu);
    for (unsigned i = 0; i < run->n_nodes && run->fanout != NULL; i++) {
        fprintf(run->fanout,
                "{\"time\":%" PRId64 ",\"key\":\"%s\",\"node\":\"%s\",\"deny_ns\":%" PRId64
                ",\"allows\":%u}\n",
                res.t_done, key, run->names[i], pr[i].deny_ns, pr[i].allows);
    }
    fflush(run->fanout);
    pthread_mutex_unlock(&run->fanout_mu);
}

static void fanout_worker(struct jw_proc *p, struct conns *c)
{
    struct jw_run *run = p->run;
    struct probe pr[JW_NODES_MAX];
    char errmsg[REG_ERRMSG_SIZE];
    unsigned k = 0, rounds = 0;
    int cur = -1;

    memset(pr, 0, sizeof pr);
    while (jw_running(run)) {
        if (rounds % 8 == 0) {
            k = atomic_fetch_add(&run->next_key, 1) % run->n_keys;
        }
        if ((int)k != cur) {
            for (unsigned i = 0; i < run->n_nodes; i++) {
                cl_close(pr[i].cl);
                pr[i].cl = NULL;
                pr[i].proc.run = run;
                pr[i].proc.node = i;
                if (pr[i].proc.stride == 0) {
                    pr[i].proc.id = 1000 + p->id * JW_NODES_MAX + i;
                    pr[i].proc.stride = 100000;
                }
                jw_client_open(run, i, run->agents[k].sk, false, &pr[i].cl, errmsg);
            }
            cur = (int)k;
        }
        fanout_round(p, c, pr, k);
        rounds++;
        jw_pace(p);
    }
    for (unsigned i = 0; i < run->n_nodes; i++) {
        cl_close(pr[i].cl);
    }
}

/* ---- Worker -------------------------------------------------------------------- */

void jw_worker(struct jw_proc *p)
{
    struct jw_run *run = p->run;
    struct conns c;
    char errmsg[REG_ERRMSG_SIZE];
    unsigned done_on_key = 0, k = 0, group = (unsigned)(p->id / 2), round = 0;
    unsigned ngroups = (run->concurrency + 1) / 2;
    unsigned per_proc = run->ops_per_key / 2 ? run->ops_per_key / 2 : 1;

    memset(&c, 0, sizeof c);
    c.agent_of = -1;
    if (jw_client_open(run, p->node, run->owner.sk, false, &c.owner, errmsg) != REG_OK) {
        return;
    }
    if (run->workload == JW_KICK_FANOUT) {
        fanout_worker(p, &c);
        goto out;
    }
    k = group % (run->n_keys ? run->n_keys : 1);
    while (jw_running(run)) {
        if (p->retired) {
            cl_disconnect(c.owner);
            cl_close(c.agent);
            c.agent = NULL;
            c.agent_of = -1;
            p->retired = false;
        }
        switch (run->workload) {
        case JW_REGISTRY:
            registry_op(p, &c, k);
            break;
        case JW_MEMBERS:
            members_op(p, &c, k);
            break;
        case JW_DURABILITY:
            durability_op(p, &c);
            break;
        case JW_KICK_FANOUT:
            break;
        }
        if (run->n_keys > 0 && ++done_on_key >= per_proc) {
            done_on_key = 0;
            round++;
            k = (group + ngroups * round) % run->n_keys;
        }
        jw_pace(p);
    }
out:
    cl_close(c.agent);
    cl_close(c.owner);
}

/* ---- Final phase ------------------------------------------------------------------ */

/* Final reads are bounded: a node that fails FINAL_NODE_FAILS reads in a
 * row is given up (its absence already fails recovery), and the whole phase
 * stops after FINAL_PHASE_S. */
#define FINAL_NODE_FAILS 5
#define FINAL_PHASE_S 180

static bool final_go_on(uint64_t end, unsigned *fails, int code)
{
    *fails = jc_outcome_of(code, JC_REPLIED, true) == JC_OUT_FAIL ? *fails + 1 : 0;
    return *fails < FINAL_NODE_FAILS && jw_mono_ns() < end;
}

void jw_final(struct jw_run *run)
{
    char errmsg[REG_ERRMSG_SIZE];
    unsigned used = run->n_keys;
    uint64_t end = jw_mono_ns() + FINAL_PHASE_S * 1000000000ull;

    for (unsigned i = 0; i < run->n_nodes; i++) {
        unsigned fails = 0;
        bool go = true;
        struct jw_proc p;
        struct cl_client *owner = NULL, *ag = NULL;
        struct jw_res res;
        char key[24];
        memset(&p, 0, sizeof p);
        p.run = run;
        p.id = 5000 + i;
        p.stride = 100000;
        p.node = i;
        if (jw_client_open(run, i, run->owner.sk, false, &owner, errmsg) != REG_OK) {
            continue;
        }
        for (unsigned k = 0; k < used && go; k++) {
            if (run->workload == JW_MEMBERS) {
                go = final_go_on(end, &fails, members_read(&p, owner, k, false));
                continue;
            }
            if (jw_client_open(run, i, run->agents[k].sk, false, &ag, errmsg) != REG_OK) {
                continue;
            }
            snprintf(key, sizeof key, "%c%u",
                     run->workload == JW_KICK_FANOUT ? 'f' : (k & 1u) ? 't' : 'm', k);
            go = final_go_on(end, &fails,
                             resolve_op(&p, ag, key, run->owner.id, false, &res));
            cl_close(ag);
            ag = NULL;
        }
        if (run->workload == JW_DURABILITY) {
            uint64_t n = atomic_load(&run->next_unique);
            struct cl_client *rd = NULL;
            if (jw_client_open(run, i, run->reader.sk, false, &rd, errmsg) == REG_OK) {
                /* Stale: what this node itself holds, after convergence. */
                for (uint64_t u = 0; u < n && go; u++) {
                    go = final_go_on(end, &fails, hostname_read(&p, rd, u, true));
                }
                cl_close(rd);
            }
        }
        cl_close(owner);
    }
}
