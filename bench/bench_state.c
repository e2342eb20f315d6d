/* bench_state: throughput and footprint of the registry state machine
 * alone (no raft, no network), at 100k and 1M agents. Each agent is in two
 * networks and starts two trust pairs. Prints one key=value line per
 * figure; build without sanitizers for meaningful numbers.
 *
 * Usage: bench_state [agents...]   (default: 100000 1000000) */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "state.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time of this process: the build machines are shared, so wall time
 * also counts other people's work; both are printed. */
static double cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t rss_bytes(void)
{
    unsigned long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f != NULL) {
        if (fscanf(f, "%lu %lu", &size, &resident) != 2) {
            resident = 0;
        }
        fclose(f);
    }
    return (size_t)resident * 4096;
}

static size_t heap_bytes(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

static uint64_t rng = 88172645463325252ull;

static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

static void key_of(uint32_t agent, uint8_t key[ST_KEY_LEN])
{
    memset(key, 0x5a, ST_KEY_LEN);
    memcpy(key, &agent, sizeof agent);
}

static uint32_t id_of(uint32_t agent)
{
    return agent + ST_FIRST_NODE_ID - 1;
}

static void apply(struct st_state *s, struct st_cmd *c, struct st_result *r)
{
    st_apply(s, c, r);
    if (r->code != REG_OK) {
        fprintf(stderr, "bench_state: op %u failed: %s %s\n", (unsigned)c->op,
                reg_err_name(r->code), r->message);
        exit(1);
    }
}

static struct st_state *build(uint32_t agents, double *secs)
{
    struct st_state *s = st_new();
    struct st_cmd *c = calloc(1, sizeof *c);
    struct st_result r;
    uint32_t nets = agents / 1000;
    double t0 = now();
    for (uint32_t a = 1; a <= agents; a++) {
        memset(c, 0, sizeof *c);
        c->op = ST_CMD_REGISTER;
        c->ts_ms = 1700000000000 + a;
        key_of(a, c->caller_key);
        snprintf(c->endpoint, sizeof c->endpoint, "10.%u.%u.%u:4000", a >> 16, (a >> 8) & 255,
                 a & 255);
        snprintf(c->hostname, sizeof c->hostname, "agent-%u", a);
        apply(s, c, &r);
    }
    for (uint32_t n = 1; n <= nets; n++) {
        memset(c, 0, sizeof *c);
        c->op = ST_CMD_NET_CREATE;
        key_of(n, c->caller_key);
        snprintf(c->name, sizeof c->name, "net-%u", n);
        c->flag = n % 10 == 0;
        apply(s, c, &r);
    }
    /* Two networks per agent: (a mod nets) and ((a / nets + a) mod nets). */
    for (uint32_t a = 1; a <= agents; a++) {
        uint32_t n1 = 1 + a % nets, n2 = 1 + (a / nets + a + 1) % nets;
        uint32_t pick[2] = {n1, n2 == n1 ? 1 + n2 % nets : n2};
        for (int k = 0; k < 2; k++) {
            memset(c, 0, sizeof *c);
            c->op = ST_CMD_NET_JOIN;
            key_of(a, c->caller_key);
            c->network = pick[k];
            st_apply(s, c, &r); /* the creator is already a member */
        }
    }
    /* Two trust pairs started by each agent, with far-away peers. */
    for (uint32_t a = 1; a <= agents; a++) {
        for (uint32_t k = 1; k <= 2; k++) {
            uint32_t b = 1 + (a - 1 + k * 7919) % agents;
            memset(c, 0, sizeof *c);
            c->op = ST_CMD_HANDSHAKE;
            key_of(a, c->caller_key);
            c->node = id_of(b);
            st_apply(s, c, &r);
            if (r.code == REG_OK && r.status == ST_STATUS_SENT) {
                c->op = ST_CMD_APPROVE;
                key_of(b, c->caller_key);
                c->node = id_of(a);
                apply(s, c, &r);
            }
        }
    }
    *secs = now() - t0;
    free(c);
    return s;
}

static void bench_apply(struct st_state *s, uint32_t agents, bool dedup)
{
    enum { OPS = 2000000 };
    struct st_cmd *c = calloc(1, sizeof *c);
    struct st_result r;
    double t0 = now(), c0 = cpu();
    for (uint32_t i = 0; i < OPS; i++) {
        uint32_t a = 1 + rnd(agents);
        c->op = (i & 1) ? ST_CMD_SET_ENDPOINT : ST_CMD_SET_VISIBILITY;
        c->ts_ms = 1800000000000 + i;
        key_of(a, c->caller_key);
        c->flag = false;
        memcpy(c->endpoint, (i & 2) ? "10.9.9.9:4001" : "10.8.8.8:4002", 14);
        c->client = dedup ? a : 0;
        c->seq = dedup ? i + 1 : 0;
        st_apply(s, c, &r);
    }
    double dt = now() - t0, ct = cpu() - c0;
    printf("agents=%u apply_simple%s ops=%d secs=%.3f ops_per_s=%.0f cpu_secs=%.3f "
           "ops_per_cpu_s=%.0f\n",
           agents, dedup ? "_dedup" : "", OPS, dt, OPS / dt, ct, OPS / ct);
    free(c);
}

static void bench_reach(const struct st_state *s, uint32_t agents)
{
    enum { OPS = 10000000 };
    uint32_t yes = 0;
    double t0 = now(), c0 = cpu();
    for (uint32_t i = 0; i < OPS; i++) {
        uint32_t a = id_of(1 + rnd(agents));
        /* Half the queries hit a related node (trust or co-member). */
        uint32_t b = (i & 1) ? id_of(1 + rnd(agents)) : id_of(1 + (a - 3 - 1 + 7919) % agents);
        yes += st_may_reach(s, a, b, (uint16_t)(i & 3 ? 0 : 80));
    }
    double dt = now() - t0, ct = cpu() - c0;
    printf("agents=%u may_reach ops=%d secs=%.3f ops_per_s=%.0f cpu_secs=%.3f "
           "ops_per_cpu_s=%.0f reachable=%u\n",
           agents, OPS, dt, OPS / dt, ct, OPS / ct, yes);
    struct st_node n;
    uint32_t found = 0;
    t0 = now();
    c0 = cpu();
    for (uint32_t i = 0; i < OPS / 2; i++) {
        uint32_t a = id_of(1 + rnd(agents));
        uint32_t b = (i & 1) ? id_of(1 + rnd(agents)) : id_of(1 + (a - 3 - 1 + 7919) % agents);
        found += st_resolve(s, a, b, &n) == REG_OK;
    }
    dt = now() - t0;
    ct = cpu() - c0;
    printf("agents=%u resolve ops=%d secs=%.3f ops_per_s=%.0f cpu_secs=%.3f ops_per_cpu_s=%.0f "
           "found=%u\n",
           agents, OPS / 2, dt, OPS / 2 / dt, ct, OPS / 2 / ct, found);
}

static void bench_snapshot(const struct st_state *s, uint32_t agents)
{
    void *buf;
    size_t len;
    char err[REG_ERRMSG_SIZE];
    struct st_state *d;
    uint8_t h[ST_HASH_LEN];
    double t0 = now();
    if (st_snapshot_encode(s, &buf, &len) != REG_OK) {
        fprintf(stderr, "bench_state: encode failed\n");
        exit(1);
    }
    double enc = now() - t0;
    t0 = now();
    if (st_snapshot_decode(buf, len, &d, err) != REG_OK) {
        fprintf(stderr, "bench_state: decode failed: %s\n", err);
        exit(1);
    }
    double dec = now() - t0;
    t0 = now();
    st_hash(s, h);
    double hs = now() - t0;
    printf("agents=%u snapshot_encode_secs=%.3f snapshot_bytes=%zu snapshot_mb=%.1f "
           "restore_secs=%.3f hash_secs=%.3f\n",
           agents, enc, len, len / 1e6, dec, hs);
    reg_free(buf);
    st_free(d);
}

int main(int argc, char **argv)
{
    uint32_t sizes[8] = {100000, 1000000};
    int n_sizes = 2;
    if (argc > 1) {
        n_sizes = 0;
        for (int i = 1; i < argc && n_sizes < 8; i++) {
            sizes[n_sizes++] = (uint32_t)strtoul(argv[i], NULL, 10);
        }
    }
    for (int i = 0; i < n_sizes; i++) {
        uint32_t agents = sizes[i];
        if (agents < 2000) {
            fprintf(stderr, "bench_state: at least 2000 agents\n");
            return 2;
        }
        malloc_trim(0);
        size_t rss0 = rss_bytes(), heap0 = heap_bytes();
        double secs;
        struct st_state *s = build(agents, &secs);
        size_t rss1 = rss_bytes(), heap1 = heap_bytes();
        struct st_stats st;
        st_stats(s, &st);
        printf("agents=%u build_secs=%.3f networks=%llu memberships=%llu trust_pairs=%llu\n",
               agents, secs, (unsigned long long)st.networks,
               (unsigned long long)st.memberships, (unsigned long long)st.trust_pairs);
        printf("agents=%u heap_bytes_per_agent=%.0f rss_bytes_per_agent=%.0f\n", agents,
               (double)(heap1 - heap0) / agents, (double)(rss1 - rss0) / agents);
        bench_apply(s, agents, false);
        bench_apply(s, agents, true);
        bench_reach(s, agents);
        bench_snapshot(s, agents);
        st_free(s);
    }
    return 0;
}
