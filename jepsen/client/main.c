/* pilot-jepsen-client: the workload driver jepsen/run starts (issue 7 item 3).
 *
 *   pilot-jepsen-client now
 *       print CLOCK_MONOTONIC in ns (the nemesis stamps its records with it)
 *   pilot-jepsen-client status --nodes A,B,.. --admin-token-file F
 *       one line per node: "nK state term applied_index commit_index ready"
 *   pilot-jepsen-client run --workload W --nodes A,B,.. --admin-token-file F
 *       --out DIR --t0 NS [--time-limit S] [--rate R] [--concurrency C]
 *       [--seed S] [--ops-per-key N] [--go FILE]
 *       setup, then DIR/client.ready; workload for time-limit seconds with a
 *       role monitor (DIR/monitor.jsonl); waits for FILE (the heal is done);
 *       final reads and state-hash probes; history in DIR/history.client.jsonl.
 * Exit: 0 done, 1 setup failed, 2 usage. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "jw.h"

static int usage(const char *why)
{
    fprintf(stderr, "pilot-jepsen-client: %s\n"
                    "usage: pilot-jepsen-client now\n"
                    "       pilot-jepsen-client status --nodes A,B --admin-token-file F\n"
                    "       pilot-jepsen-client run --workload registry|kick-fanout|members|"
                    "durability\n"
                    "           --nodes A,B --admin-token-file F --out DIR --t0 NS\n"
                    "           [--time-limit S] [--rate R] [--concurrency C] [--seed S]\n"
                    "           [--ops-per-key N] [--go FILE]\n",
            why);
    return 2;
}

static void msleep(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int parse_nodes(struct jw_run *run, const char *list)
{
    char buf[JW_NODES_MAX * 64];
    char *save = NULL, *tok;
    snprintf(buf, sizeof buf, "%s", list);
    run->n_nodes = 0;
    for (tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        if (run->n_nodes == JW_NODES_MAX || strlen(tok) >= sizeof run->nodes[0]) {
            return -1;
        }
        snprintf(run->nodes[run->n_nodes], sizeof run->nodes[0], "%s", tok);
        snprintf(run->names[run->n_nodes], sizeof run->names[0], "n%u", run->n_nodes + 1);
        run->n_nodes++;
    }
    return run->n_nodes > 0 ? 0 : -1;
}

static int read_token(struct jw_run *run, const char *path)
{
    FILE *f = fopen(path, "r");
    size_t n;
    if (f == NULL) {
        return -1;
    }
    n = fread(run->admin_token, 1, sizeof run->admin_token - 1, f);
    fclose(f);
    while (n > 0 && (run->admin_token[n - 1] == '\n' || run->admin_token[n - 1] == ' ')) {
        n--;
    }
    run->admin_token[n] = '\0';
    return n > 0 ? 0 : -1;
}

/* ---- Node status ------------------------------------------------------- */

struct node_status {
    bool up;
    char state[16];
    uint64_t term, applied, commit, last, leader;
    bool ready;
    char hash[72];
};

static void node_status(struct cl_client *cl, struct node_status *st)
{
    struct cl_request rq;
    struct cl_response resp;
    char errmsg[REG_ERRMSG_SIZE];
    memset(st, 0, sizeof *st);
    memset(&rq, 0, sizeof rq);
    memset(&resp, 0, sizeof resp);
    rq.op = "cluster_status";
    if (cl_call(cl, &rq, &resp) == REG_OK && resp.has_result) {
        st->up = true;
        proto_get_str(&resp.result, "state", 0, sizeof st->state - 1, st->state, errmsg);
        proto_get_u64(&resp.result, "term", 0, UINT64_MAX, &st->term, errmsg);
        proto_get_u64(&resp.result, "applied_index", 0, UINT64_MAX, &st->applied, errmsg);
        proto_get_u64(&resp.result, "commit_index", 0, UINT64_MAX, &st->commit, errmsg);
        proto_get_u64(&resp.result, "last_index", 0, UINT64_MAX, &st->last, errmsg);
        proto_get_u64(&resp.result, "leader_id", 0, UINT64_MAX, &st->leader, errmsg);
        proto_get_bool(&resp.result, "ready", 0, &st->ready, errmsg);
        proto_get_str(&resp.result, "state_hash", 0, sizeof st->hash - 1, st->hash, errmsg);
    }
    cl_response_free(&resp);
}

static int open_status_client(struct jw_run *run, unsigned i, struct cl_client **cl)
{
    struct cl_options o;
    char errmsg[REG_ERRMSG_SIZE];
    memset(&o, 0, sizeof o);
    o.endpoints = run->nodes[i];
    o.admin_token = run->admin_token;
    o.connect_timeout_ms = 300;
    o.attempt_timeout_ms = 500;
    o.deadline_ms = 600;
    o.backoff_max_ms = 50;
    return cl_open(&o, cl, errmsg);
}

static int cmd_status(struct jw_run *run)
{
    for (unsigned i = 0; i < run->n_nodes; i++) {
        struct cl_client *cl = NULL;
        struct node_status st;
        memset(&st, 0, sizeof st);
        if (open_status_client(run, i, &cl) == REG_OK) {
            node_status(cl, &st);
        }
        printf("%s %s %" PRIu64 " %" PRIu64 " %" PRIu64 " %d %" PRIu64 " %s\n", run->names[i],
               st.up ? st.state : "down", st.term, st.applied, st.commit, st.ready ? 1 : 0,
               st.leader, st.hash[0] != '\0' ? st.hash : "-");
        cl_close(cl);
    }
    return 0;
}

/* Role monitor (Jepsen's `primaries` + jepsen.dqlite's role checks): every
 * 100 ms, each node's state, term and indexes, for the report's roles plot,
 * the one-leader-per-term check, failover times and the ready-before-
 * caught-up check (a new leader's window before its init barrier commits
 * lasts about one disk write, so the rounds are short). */
struct monitor {
    struct jw_run *run;
    FILE *f;
    pthread_t th;
    atomic_bool stop;
};

static void *monitor_main(void *arg)
{
    struct monitor *m = arg;
    struct cl_client *cl[JW_NODES_MAX] = {0};
    unsigned rounds = 0;
    for (unsigned i = 0; i < m->run->n_nodes; i++) {
        open_status_client(m->run, i, &cl[i]);
    }
    /* Bounded: at most a day of 100 ms rounds. */
    while (!atomic_load(&m->stop) && rounds++ < 10u * 86400u) {
        for (unsigned i = 0; i < m->run->n_nodes; i++) {
            struct node_status st;
            memset(&st, 0, sizeof st);
            if (cl[i] != NULL) {
                node_status(cl[i], &st);
            }
            fprintf(m->f,
                    "{\"time\":%" PRId64 ",\"node\":\"%s\",\"state\":\"%s\",\"term\":%" PRIu64
                    ",\"applied_index\":%" PRIu64 ",\"commit_index\":%" PRIu64
                    ",\"last_index\":%" PRIu64 ",\"leader_id\":%" PRIu64 ",\"ready\":%s}\n",
                    (int64_t)(jw_mono_ns() - m->run->hist.t0_ns), m->run->names[i],
                    st.up ? st.state : "down", st.term, st.applied, st.commit, st.last, st.leader,
                    st.ready ? "true" : "false");
        }
        fflush(m->f);
        msleep(100);
    }
    for (unsigned i = 0; i < m->run->n_nodes; i++) {
        cl_close(cl[i]);
    }
    return NULL;
}

void jw_hash_probes(struct jw_run *run, int64_t base_process)
{
    struct cl_client *cl[JW_NODES_MAX] = {0};
    struct node_status st[JW_NODES_MAX];
    uint64_t end = jw_mono_ns() + 60ull * 1000000000ull;
    bool same = false;

    for (unsigned i = 0; i < run->n_nodes; i++) {
        open_status_client(run, i, &cl[i]);
    }
    /* Equal applied index everywhere first (bounded), so the hashes are
     * comparable and final stale reads see everything. */
    while (!same && jw_mono_ns() < end) {
        same = true;
        for (unsigned i = 0; i < run->n_nodes; i++) {
            if (cl[i] != NULL) {
                node_status(cl[i], &st[i]);
            }
            if (cl[i] == NULL || !st[i].up || st[i].applied != st[0].applied ||
                strcmp(st[i].hash, st[0].hash) != 0) {
                same = false;
            }
        }
        if (!same) {
            msleep(200);
        }
    }
    for (unsigned i = 0; i < run->n_nodes; i++) {
        struct jw_rec r;
        memset(&r, 0, sizeof r);
        r.type = "invoke";
        r.process = base_process + i;
        r.f = "hash";
        r.node = run->names[i];
        r.applied_index = -1;
        jw_hist_write(&run->hist, &r);
        if (cl[i] != NULL) {
            node_status(cl[i], &st[i]);
        } else {
            memset(&st[i], 0, sizeof st[i]);
        }
        if (st[i].up) {
            r.type = "ok";
            r.value = json_string(st[i].hash);
            r.applied_index = (int64_t)st[i].applied;
        } else {
            r.type = "fail";
            r.error = "unavailable";
        }
        jw_hist_write(&run->hist, &r);
        cl_close(cl[i]);
    }
}

/* ---- run --------------------------------------------------------------- */

struct worker_arg {
    struct jw_proc p;
    pthread_t th;
};

static void *worker_main(void *arg)
{
    struct worker_arg *w = arg;
    jw_worker(&w->p);
    return NULL;
}

static int parse_workload(const char *s, enum jw_workload *w)
{
    static const char *const names[] = {"registry", "kick-fanout", "members", "durability"};
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, names[i]) == 0) {
            *w = (enum jw_workload)i;
            return 0;
        }
    }
    return -1;
}

static int cmd_run(struct jw_run *run, uint64_t t0)
{
    char path[1024], errmsg[REG_ERRMSG_SIZE];
    struct worker_arg *w = NULL;
    struct monitor mon;
    FILE *f;
    int rv = 1;

    memset(&mon, 0, sizeof mon);
    snprintf(path, sizeof path, "%s/history.client.jsonl", run->out_dir);
    if (jw_hist_open(&run->hist, path, t0, errmsg) != REG_OK) {
        fprintf(stderr, "pilot-jepsen-client: %s\n", errmsg);
        return 1;
    }
    snprintf(path, sizeof path, "%s/monitor.jsonl", run->out_dir);
    mon.f = fopen(path, "w");
    snprintf(path, sizeof path, "%s/fanout.jsonl", run->out_dir);
    run->fanout = fopen(path, "w");
    pthread_mutex_init(&run->fanout_mu, NULL);
    if (mon.f == NULL || run->fanout == NULL) {
        fprintf(stderr, "pilot-jepsen-client: cannot write in %s\n", run->out_dir);
        goto out;
    }
    mon.run = run;
    pthread_create(&mon.th, NULL, monitor_main, &mon);

    if (jw_setup(run, errmsg) != REG_OK) {
        fprintf(stderr, "pilot-jepsen-client: %s\n", errmsg);
        goto out_mon;
    }
    fprintf(stderr, "pilot-jepsen-client: setup done (%u keys), running %u s\n", run->n_keys,
            run->time_limit_s);
    snprintf(path, sizeof path, "%s/client.ready", run->out_dir);
    f = fopen(path, "w");
    if (f != NULL) {
        fclose(f);
    }
    run->end_ns = jw_mono_ns() + (uint64_t)run->time_limit_s * 1000000000ull;
    w = calloc(run->concurrency, sizeof *w);
    if (w == NULL) {
        goto out_mon;
    }
    for (unsigned i = 0; i < run->concurrency; i++) {
        w[i].p.run = run;
        w[i].p.id = i;
        w[i].p.stride = run->concurrency;
        w[i].p.node = i % run->n_nodes;
        w[i].p.rng = run->seed * 1000003ull + i;
        pthread_create(&w[i].th, NULL, worker_main, &w[i]);
    }
    for (unsigned i = 0; i < run->concurrency; i++) {
        pthread_join(w[i].th, NULL);
    }
    fprintf(stderr, "pilot-jepsen-client: main phase done\n");
    if (run->go_file != NULL) {
        struct stat sb;
        unsigned waited = 0;
        /* The orchestrator heals every fault, then creates go_file. */
        while (stat(run->go_file, &sb) != 0 && waited++ < 6000) {
            msleep(100);
        }
    }
    if (run->workload == JW_DURABILITY) {
        jw_hash_probes(run, 9000);
    }
    jw_final(run);
    jw_hash_probes(run, 9100);
    rv = 0;
out_mon:
    atomic_store(&mon.stop, true);
    pthread_join(mon.th, NULL);
out:
    fprintf(stderr, "pilot-jepsen-client: ok=%" PRIu64 " rejected=%" PRIu64 " fail=%" PRIu64
                    " info=%" PRIu64 "\n",
            run->hist.ops[0], run->hist.ops[1], run->hist.ops[2], run->hist.ops[3]);
    free(w);
    if (mon.f != NULL) {
        fclose(mon.f);
    }
    if (run->fanout != NULL) {
        fclose(run->fanout);
    }
    pthread_mutex_destroy(&run->fanout_mu);
    jw_hist_close(&run->hist);
    free(run->agents);
    free(run->nets);
    return rv;
}

static int parse_u(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char *end = NULL;
    unsigned long long v;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
        return -1;
    }
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    static struct jw_run run;
    const char *nodes = NULL, *token = NULL, *workload = "registry";
    uint64_t t0 = 0, v;
    int i;

    if (argc < 2) {
        return usage("missing command");
    }
    if (strcmp(argv[1], "now") == 0) {
        printf("%" PRIu64 "\n", jw_mono_ns());
        return 0;
    }
    signal(SIGPIPE, SIG_IGN);
    if (sodium_init() < 0) {
        return 1;
    }
    run.concurrency = 6;
    run.rate = 60;
    run.time_limit_s = 60;
    run.ops_per_key = 150;
    run.out_dir = ".";
    for (i = 2; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (val == NULL) {
            return usage("option without a value");
        }
        i++;
        if (strcmp(a, "--nodes") == 0) {
            nodes = val;
        } else if (strcmp(a, "--admin-token-file") == 0) {
            token = val;
        } else if (strcmp(a, "--workload") == 0) {
            workload = val;
        } else if (strcmp(a, "--out") == 0) {
            run.out_dir = val;
        } else if (strcmp(a, "--go") == 0) {
            run.go_file = val;
        } else if (strcmp(a, "--t0") == 0 && parse_u(val, 1, UINT64_MAX, &t0) == 0) {
        } else if (strcmp(a, "--time-limit") == 0 && parse_u(val, 1, 7 * 86400, &v) == 0) {
            run.time_limit_s = (unsigned)v;
        } else if (strcmp(a, "--rate") == 0 && parse_u(val, 1, 10000, &v) == 0) {
            run.rate = (double)v;
        } else if (strcmp(a, "--concurrency") == 0 && parse_u(val, 1, 64, &v) == 0) {
            run.concurrency = (unsigned)v;
        } else if (strcmp(a, "--seed") == 0 && parse_u(val, 0, UINT64_MAX, &v) == 0) {
            run.seed = v;
        } else if (strcmp(a, "--ops-per-key") == 0 && parse_u(val, 2, 100000, &v) == 0) {
            run.ops_per_key = (unsigned)v;
        } else {
            fprintf(stderr, "pilot-jepsen-client: bad option %s %s\n", a, val);
            return 2;
        }
    }
    if (nodes == NULL || parse_nodes(&run, nodes) != 0) {
        return usage("--nodes A,B,... is required (at most 9 host:port items)");
    }
    if (token == NULL || read_token(&run, token) != 0) {
        return usage("--admin-token-file must name a readable non-empty file");
    }
    if (strcmp(argv[1], "status") == 0) {
        return cmd_status(&run);
    }
    if (strcmp(argv[1], "run") != 0) {
        return usage("unknown command");
    }
    if (parse_workload(workload, &run.workload) != 0) {
        return usage("unknown workload");
    }
    if (t0 == 0) {
        t0 = jw_mono_ns();
    }
    return cmd_run(&run, t0);
}
