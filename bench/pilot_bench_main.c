/* pilot-bench: options, subcommands and the closing check against the
 * issue's targets (see pilot_bench.h and docs/benchmarks.md; ratios to etcd
 * are bench/compare-bench's job).
 *
 * usage: pilot-bench (writes|resolve|kick-deny|failover|rate|all) --endpoints H:P,H:P,H:P
 *        [--clients 1,16,64,256] [--seconds 5] [--admin-token-file F]
 *        [--rates 150,1000,8000] [--rate-clients 64]
 *        [--kick-trials 200] [--kick-load 16] [--failover-trials 7]
 *        [--pid-dir DIR --restart-cmd CMD] [--tag TEXT]
 * Exit status: 0 all points ran, 1 a point failed, 2 bad usage. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "pilot_bench.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: pilot-bench (writes|resolve|kick-deny|failover|rate|all) --endpoints H:P,...\n"
            "  --clients LIST          concurrencies (default 1,16,64,256)\n"
            "  --rates LIST            fixed-rate points, writes/s (default 150,1000,8000)\n"
            "  --rate-clients N        senders of a fixed-rate point (default 64)\n"
            "  --seconds N             per point, 1..%d (default 5)\n"
            "  --admin-token-file F    for cluster_status (leader discovery)\n"
            "  --kick-trials N         kicks per kick-deny mode (default 200)\n"
            "  --kick-load N           writers during the loaded kick run (default 16, 0 = none)\n"
            "  --failover-trials N     (default 7)\n"
            "  --pid-dir DIR           failover: DIR/node<raft id>.pid\n"
            "  --restart-cmd CMD       failover: CMD <raft id> restarts a killed node\n"
            "  --tag TEXT              appended as run=TEXT to every line\n",
            PB_MAX_SECONDS);
}

static int parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
    char *end = NULL;
    unsigned long v = strtoul(s, &end, 10);
    int rv = REG_OK;
    if (s[0] < '0' || s[0] > '9' || *end != '\0' || v < lo || v > hi) {
        rv = REG_INVALID_ARGUMENT;
    } else {
        *out = (unsigned)v;
    }
    return rv;
}

/* "a,b,c" of integers in [lo, hi] into out[0..PB_MAX_POINTS). */
static int parse_list(const char *s, unsigned lo, unsigned hi, unsigned *out, size_t *n)
{
    char item[16];
    size_t len = 0;
    int rv = REG_OK;
    *n = 0;
    /* Strict: "1,16" yes; "", ",1", "1,,2" and "1," are refused. */
    for (const char *c = s; rv == REG_OK; c++) {
        if (*c == ',' || *c == '\0') {
            item[len] = '\0';
            if (len == 0 || *n == PB_MAX_POINTS) {
                rv = REG_INVALID_ARGUMENT;
            } else {
                rv = parse_uint(item, lo, hi, &out[(*n)++]);
            }
            len = 0;
            if (*c == '\0') {
                break;
            }
        } else if (len + 1 < sizeof item) {
            item[len++] = *c;
        } else {
            rv = REG_INVALID_ARGUMENT;
        }
    }
    return rv;
}

static int read_token(const char *path, struct pb_config *cfg, char errmsg[static REG_ERRMSG_SIZE])
{
    FILE *f = fopen(path, "r");
    size_t n = 0;
    int rv = REG_OK;
    if (f == NULL) {
        reg_errmsgf(errmsg, "cannot open %s", path);
        rv = REG_INVALID_ARGUMENT;
        goto out;
    }
    n = fread(cfg->admin_token, 1, sizeof cfg->admin_token - 1, f);
    cfg->admin_token[n] = '\0';
    while (n > 0 && (cfg->admin_token[n - 1] == '\n' || cfg->admin_token[n - 1] == '\r' ||
                     cfg->admin_token[n - 1] == ' ')) {
        cfg->admin_token[--n] = '\0';
    }
    if (n == 0) {
        reg_errmsgf(errmsg, "%s is empty", path);
        rv = REG_INVALID_ARGUMENT;
    }
    fclose(f);
out:
    return rv;
}

/* The targets (issue 3 item 5), checked against what was measured. */
static void print_targets(const struct pb_config *cfg)
{
    static const struct {
        const char *name, *label;
        bool per_s;                /* ops_per_s >= goal, else p50_ms <= goal */
        double goal;
    } t[] = {
        {"writes_c64", "writes.leader.c64", true, 16000},
        {"writes_c256", "writes.leader.c256", true, 22000},
        {"write_p50_c1", "writes.leader.c1", false, 0.6},
        {"resolve_c64", "resolve.leader.c64", true, 25000},
        {"failover_median", "failover", false, 1250},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        const struct pb_summary *s = pb_kept(t[i].label);
        double v;
        if (s == NULL) {
            continue;
        }
        v = t[i].per_s ? s->ops_per_s : s->p50_ms;
        printf("label=target.%s measured=%.3f goal=%s%.3f met=%s%s%s\n", t[i].name, v,
               t[i].per_s ? ">=" : "<=", t[i].goal,
               (t[i].per_s ? v >= t[i].goal : v <= t[i].goal) ? "yes" : "no",
               cfg->tag ? " run=" : "", cfg->tag ? cfg->tag : "");
    }
}

enum sub {
    SUB_WRITES = 1, SUB_RESOLVE = 2, SUB_KICK = 4, SUB_FAILOVER = 8, SUB_RATE = 16, SUB_ALL = 31
};

static int run(const struct pb_config *cfg, unsigned subs, char errmsg[static REG_ERRMSG_SIZE])
{
    static const enum pb_target wt[] = {PB_T_LEADER, PB_T_ANY};
    static const enum pb_target rt[] = {PB_T_LEADER, PB_T_FOLLOWER, PB_T_STALE};
    unsigned n_pairs = cfg->kick_load + 1;
    struct pb_pair *pairs;
    int rv;
    for (size_t i = 0; i < cfg->n_clients; i++) {
        n_pairs = cfg->clients[i] > n_pairs ? cfg->clients[i] : n_pairs;
    }
    if (subs & SUB_RATE) {
        n_pairs = cfg->rate_clients > n_pairs ? cfg->rate_clients : n_pairs;
    }
    pairs = reg_calloc(n_pairs, sizeof *pairs);
    if (pairs == NULL) {
        reg_errmsgf(errmsg, "out of memory for %u agent pairs", n_pairs);
        rv = REG_NOMEM;
        goto out;
    }
    rv = pb_pairs_setup(cfg, pairs, n_pairs, errmsg);
    for (size_t k = 0; k < 2 && rv == REG_OK && (subs & SUB_WRITES); k++) {
        for (size_t i = 0; i < cfg->n_clients && rv == REG_OK; i++) {
            rv = pb_point(cfg, pairs, cfg->clients[i], PB_K_WRITES, wt[k], errmsg);
        }
    }
    for (size_t i = 0; i < cfg->n_rates && rv == REG_OK && (subs & SUB_RATE); i++) {
        rv = pb_rate_point(cfg, pairs, cfg->rate_clients, cfg->rates[i], errmsg);
    }
    for (size_t k = 0; k < 3 && rv == REG_OK && (subs & SUB_RESOLVE); k++) {
        for (size_t i = 0; i < cfg->n_clients && rv == REG_OK; i++) {
            rv = pb_point(cfg, pairs, cfg->clients[i], PB_K_RESOLVE, rt[k], errmsg);
        }
    }
    if (rv == REG_OK && (subs & SUB_KICK)) {
        rv = pb_kick_deny(cfg, &pairs[0], NULL, 0, errmsg);
        if (rv == REG_OK && cfg->kick_load > 0) {
            rv = pb_kick_deny(cfg, &pairs[0], &pairs[1], cfg->kick_load, errmsg);
        }
    }
    if (rv == REG_OK && (subs & SUB_FAILOVER)) {
        rv = pb_failover(cfg, &pairs[0], errmsg);
    }
    print_targets(cfg);
out:
    if (pairs != NULL) {
        pb_pairs_close(pairs, n_pairs);
    }
    reg_free(pairs);
    return rv;
}

static int parse_sub(const char *s, unsigned *subs)
{
    static const struct {
        const char *name;
        unsigned bits;
    } t[] = {{"writes", SUB_WRITES}, {"resolve", SUB_RESOLVE}, {"kick-deny", SUB_KICK},
             {"failover", SUB_FAILOVER}, {"rate", SUB_RATE}, {"all", SUB_ALL}};
    int rv = REG_INVALID_ARGUMENT;
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        if (strcmp(s, t[i].name) == 0) {
            *subs = t[i].bits;
            rv = REG_OK;
        }
    }
    return rv;
}

static int parse_args(int argc, char **argv, struct pb_config *cfg, unsigned *subs,
                      char errmsg[static REG_ERRMSG_SIZE])
{
    const char *endpoints = NULL;
    int rv = argc >= 2 ? parse_sub(argv[1], subs) : REG_INVALID_ARGUMENT;
    if (rv != REG_OK) {
        reg_errmsgf(errmsg, "first argument must be writes, resolve, kick-deny, failover, rate "
                            "or all");
    }
    for (int i = 2; i < argc && rv == REG_OK; i += 2) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL) {
            reg_errmsgf(errmsg, "%s needs a value", k);
            rv = REG_INVALID_ARGUMENT;
        } else if (strcmp(k, "--endpoints") == 0) {
            endpoints = v;
        } else if (strcmp(k, "--clients") == 0) {
            rv = parse_list(v, 1, PB_MAX_CLIENTS, cfg->clients, &cfg->n_clients);
        } else if (strcmp(k, "--rates") == 0) {
            rv = parse_list(v, 1, 1000000, cfg->rates, &cfg->n_rates);
        } else if (strcmp(k, "--rate-clients") == 0) {
            rv = parse_uint(v, 1, PB_MAX_CLIENTS, &cfg->rate_clients);
        } else if (strcmp(k, "--seconds") == 0) {
            rv = parse_uint(v, 1, PB_MAX_SECONDS, &cfg->seconds);
        } else if (strcmp(k, "--admin-token-file") == 0) {
            rv = read_token(v, cfg, errmsg);
        } else if (strcmp(k, "--kick-trials") == 0) {
            rv = parse_uint(v, 1, 100000, &cfg->kick_trials);
        } else if (strcmp(k, "--kick-load") == 0) {
            rv = parse_uint(v, 0, PB_MAX_CLIENTS - 1, &cfg->kick_load);
        } else if (strcmp(k, "--failover-trials") == 0) {
            rv = parse_uint(v, 1, 100, &cfg->failover_trials);
        } else if (strcmp(k, "--pid-dir") == 0) {
            cfg->pid_dir = v;
        } else if (strcmp(k, "--restart-cmd") == 0) {
            cfg->restart_cmd = v;
        } else if (strcmp(k, "--tag") == 0) {
            cfg->tag = v;
        } else {
            reg_errmsgf(errmsg, "unknown option %s", k);
            rv = REG_INVALID_ARGUMENT;
        }
        if (rv != REG_OK && errmsg[0] == '\0') {
            reg_errmsgf(errmsg, "bad value for %s: \"%s\"", k, v);
        }
    }
    if (rv == REG_OK && endpoints == NULL) {
        reg_errmsgf(errmsg, "--endpoints is required");
        rv = REG_INVALID_ARGUMENT;
    }
    if (rv == REG_OK && *subs == SUB_FAILOVER &&
        (cfg->pid_dir == NULL || cfg->restart_cmd == NULL)) {
        reg_errmsgf(errmsg, "failover needs --pid-dir and --restart-cmd "
                            "(bench/run-cluster-bench passes both)");
        rv = REG_INVALID_ARGUMENT;
    }
    /* "all" against a cluster we cannot kill and restart: everything else. */
    if (rv == REG_OK && *subs == SUB_ALL && (cfg->pid_dir == NULL || cfg->restart_cmd == NULL)) {
        fprintf(stderr, "pilot-bench: no --pid-dir/--restart-cmd: failover skipped\n");
        *subs &= ~(unsigned)SUB_FAILOVER;
    }
    if (rv == REG_OK) {
        rv = cl_endpoints_parse(endpoints, cfg->eps, CL_ENDPOINTS_MAX, &cfg->n_eps, errmsg);
    }
    for (size_t i = 0; i < cfg->n_eps && rv == REG_OK; i++) {
        snprintf(cfg->ep_text[i], sizeof cfg->ep_text[i],
                 strchr(cfg->eps[i].host, ':') ? "[%s]:%u" : "%s:%u", cfg->eps[i].host,
                 (unsigned)cfg->eps[i].port);
    }
    return rv;
}

int main(int argc, char **argv)
{
    static struct pb_config cfg;
    char errmsg[REG_ERRMSG_SIZE] = "";
    unsigned subs = 0;
    int rv, status = 0;
    cfg.clients[0] = 1;
    cfg.clients[1] = 16;
    cfg.clients[2] = 64;
    cfg.clients[3] = 256;
    cfg.n_clients = 4;
    cfg.seconds = 5;
    cfg.rates[0] = 150;
    cfg.rates[1] = 1000;
    cfg.rates[2] = 8000;
    cfg.n_rates = 3;
    cfg.rate_clients = 64;
    cfg.kick_trials = 200;
    cfg.kick_load = 16;
    cfg.failover_trials = 7;
    signal(SIGPIPE, SIG_IGN);
    rv = parse_args(argc, argv, &cfg, &subs, errmsg);
    if (rv != REG_OK) {
        fprintf(stderr, "pilot-bench: %s\n", errmsg);
        usage(stderr);
        status = 2;
    } else if (sodium_init() < 0) {
        fprintf(stderr, "pilot-bench: libsodium failed to initialise\n");
        status = 1;
    } else if (run(&cfg, subs, errmsg) != REG_OK) {
        fprintf(stderr, "pilot-bench: %s\n", errmsg);
        status = 1;
    }
    return status;
}
