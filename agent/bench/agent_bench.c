/* agent_bench: figures for docs/agent.md (issue 5 §6). Not a test: it
 * prints measurements and asserts nothing about them.
 *
 *   kick -> drop   time from `network_kick` returning to the receiving
 *                  daemon having dropped the kicked agent's next datagram
 *                  (its auth_denied counter moved), N rounds;
 *   kick -> close  time from `network_kick` returning to the receiving
 *                  daemon tearing down the open stream (watch event);
 *   checks/s       access checks the receiving daemon completes per second
 *                  under a flood of admitted datagrams to 64 distinct ports
 *                  (64 independent (src, port) checks in flight at most).
 *
 * Runs a three-node cluster and two agents on 127.0.0.1 through the test
 * harnesses (tests/integration, tests/agent). Usage: agent_bench [rounds] */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>

#include "agent_harness.h"

static struct it_cluster cluster;
static struct ag a, b;

static int cmp_u64(const void *x, const void *y)
{
    uint64_t p = *(const uint64_t *)x, q = *(const uint64_t *)y;
    return p < q ? -1 : p > q;
}

static void report(const char *what, uint64_t *us, unsigned n)
{
    qsort(us, n, sizeof *us, cmp_u64);
    printf("%-14s n=%u  median=%.2f ms  p90=%.2f ms  max=%.2f ms\n", what, n,
           (double)us[n / 2] / 1000.0, (double)us[(n * 9) / 10] / 1000.0,
           (double)us[n - 1] / 1000.0);
}

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int invite(uint32_t net, uint32_t node)
{
    struct st_cmd cmd;
    memset(&cmd, 0, sizeof cmd);
    cmd.op = ST_CMD_NET_INVITE;
    cmd.network = net;
    cmd.node = node;
    return ag_cmd(&b, &cmd, NULL);
}

static void bench_kick(unsigned rounds)
{
    uint64_t *drop = calloc(rounds, sizeof *drop), *close_us = calloc(rounds, sizeof *close_us);
    struct agent_ipc_msg m;
    uint8_t buf[4096];
    uint32_t net = ag_net_create(&b, "bench", false);
    int lfd = ag_listen(&b, 80, true);
    unsigned done = 0;
    for (unsigned r = 0; r < rounds; r++) {
        int cfd = -1, ufd;
        uint64_t t0, denied;
        if (r == 0 ? ag_net_join(&a, net) != REG_OK : invite(net, a.node) != REG_OK) {
            break;
        }
        if (ag_connect(&a, b.node, 80, &cfd) != REG_OK) {
            break;
        }
        while (ag_event(lfd, 2000, &m, buf, sizeof buf) == REG_OK && strcmp(m.ev, "accept") != 0) {
        }
        denied = ag_stat(&b, "auth_denied");
        if (ag_net_kick(&b, net, a.node) != REG_OK) {
            break;
        }
        t0 = now_us();
        ufd = ag_forge_dgram(&a, &b, 80, "after kick");
        while (ag_stat(&b, "auth_denied") == denied && now_us() - t0 < 5000000u) {
        }
        drop[done] = now_us() - t0;
        close(ufd);
        while (ag_event(lfd, 5000, &m, buf, sizeof buf) == REG_OK && strcmp(m.ev, "close") != 0) {
        }
        close_us[done] = now_us() - t0;
        close(cfd);
        done++;
    }
    close(lfd);
    if (done > 0) {
        report("kick -> drop", drop, done);
        report("kick -> close", close_us, done);
    }
    free(drop);
    free(close_us);
}

static void bench_checks(unsigned seconds)
{
    uint32_t net = ag_net_create(&b, "flood", false);
    uint64_t calls0, calls1, t0, t1, sent = 0, delivered0, delivered1;
    if (ag_net_join(&a, net) != REG_OK) {
        return;
    }
    calls0 = ag_stat(&b, "auth_checks");
    delivered0 = ag_stat(&b, "delivered");
    t0 = now_us();
    while (now_us() - t0 < (uint64_t)seconds * 1000000u) {
        for (uint16_t p = 0; p < 64; p++) {
            close(ag_forge_dgram(&a, &b, (uint16_t)(20000 + p), "x"));
            sent++;
        }
        usleep(2000);
    }
    t1 = now_us();
    usleep(500000);
    calls1 = ag_stat(&b, "auth_checks");
    delivered1 = ag_stat(&b, "delivered");
    printf("checks/s       %.0f  (%llu checks in %.1f s from %llu datagrams offered to 64"
           " ports; %llu delivered: no listener, so every admitted one is dropped after its"
           " check)\n",
           (double)(calls1 - calls0) * 1e6 / (double)(t1 - t0),
           (unsigned long long)(calls1 - calls0), (double)(t1 - t0) / 1e6,
           (unsigned long long)sent, (unsigned long long)(delivered1 - delivered0));
}

static void run(void **state)
{
    unsigned rounds = *(unsigned *)*state;
    it_cluster_start(&cluster, 3);
    ag_start(&a, &cluster, "a");
    ag_start(&b, &cluster, "b");
    bench_kick(rounds);
    bench_checks(5);
    ag_stop(&a);
    ag_stop(&b);
    it_cluster_destroy(&cluster);
}

int main(int argc, char **argv)
{
    static unsigned rounds = 20;
    const struct CMUnitTest tests[] = {cmocka_unit_test_prestate(run, &rounds)};
    if (argc > 1) {
        rounds = (unsigned)strtoul(argv[1], NULL, 10);
        rounds = rounds == 0 ? 1 : rounds > 1000 ? 1000 : rounds;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
