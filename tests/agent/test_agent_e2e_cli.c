/* Public agents and the pilotctl surface, against a three-node cluster.
 *   - a public agent accepts datagrams and connections from anyone;
 *   - `pilotctl daemon start|status|stop` runs a daemon in a fresh
 *     $PILOT_HOME (identity created on first start), `pilotctl send`
 *     delivers, `pilotctl connect` streams stdin to an echoing listener and
 *     prints the answer, and `pilotctl listen --count` prints what arrives;
 *   - bad input gets a usage error (exit 2) and changes nothing. */
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/select.h>
#include <sys/wait.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>
#include <jansson.h>

#include "agent_harness.h"

static struct it_cluster cluster;
static struct ag a, b;
static char home_c[400], registry[512];

static int setup(void **state)
{
    (void)state;
    it_cluster_start(&cluster, 3);
    ag_start(&a, &cluster, "a");
    ag_start(&b, &cluster, "b");
    snprintf(home_c, sizeof home_c, "%s/agent-c", cluster.root);
    registry[0] = '\0';
    for (unsigned i = 0; i < cluster.n; i++) {
        size_t o = strlen(registry);
        snprintf(registry + o, sizeof registry - o, "%s%s", o ? "," : "",
                 cluster.nodes[i].client_addr);
    }
    return 0;
}

/* Stop the pilotctl-started daemon by the PID in its pid file if the test
 * failed before `daemon stop`. */
static void stop_c(void)
{
    char path[512];
    FILE *f;
    long pid = 0;
    snprintf(path, sizeof path, "%s/agent.pid", home_c);
    f = fopen(path, "r");
    if (f != NULL) {
        if (fscanf(f, "%ld", &pid) == 1 && pid > 0) {
            kill((pid_t)pid, SIGTERM);
            for (int i = 0; i < 100 && kill((pid_t)pid, 0) == 0; i++) {
                it_sleep_ms(50);
            }
        }
        fclose(f);
    }
}

static int teardown(void **state)
{
    (void)state;
    stop_c();
    ag_stop(&a);
    ag_stop(&b);
    it_cluster_destroy(&cluster);
    return 0;
}

/* Run pilotctl with PILOT_HOME=home; stdin from `input` (NULL: /dev/null);
 * stdout into out. Returns the exit status. */
static int pilotctl(const char *home, const char *input, char *out, size_t cap, const char *args)
{
    char cmd[2048], inpath[512];
    FILE *p;
    size_t n;
    int st;
    snprintf(inpath, sizeof inpath, "%s/stdin.txt", cluster.root);
    if (input != NULL) {
        FILE *f = fopen(inpath, "w");
        assert_non_null(f);
        fputs(input, f);
        fclose(f);
    }
    snprintf(cmd, sizeof cmd,
             "PILOT_HOME='%s' PILOT_REGISTRY='%s' PILOT_AGENT_BIN='%s' '%s' %s < %s", home,
             registry, PILOT_AGENT_BIN, PILOTCTL_BIN, args, input != NULL ? inpath : "/dev/null");
    p = popen(cmd, "r");
    assert_non_null(p);
    n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_public_agent_accepts_anyone(void **state)
{
    struct st_cmd cmd;
    struct agent_ipc_msg m;
    uint8_t buf[4096];
    int lfd, cfd = -1;
    (void)state;
    lfd = ag_listen(&b, 7000, true);
    assert_int_equal(ag_send(&a, b.node, 7000, "x"), REG_NOT_FOUND);
    memset(&cmd, 0, sizeof cmd);
    cmd.op = ST_CMD_SET_VISIBILITY;
    cmd.flag = true;
    assert_int_equal(ag_cmd(&b, &cmd, NULL), REG_OK);
    assert_int_equal(ag_send(&a, b.node, 7000, "public"), REG_OK);
    assert_int_equal(ag_event(lfd, 5000, &m, buf, sizeof buf), REG_OK);
    assert_string_equal(m.ev, "dgram");
    assert_int_equal(ag_connect(&a, b.node, 7000, &cfd), REG_OK);
    close(cfd);
    close(lfd);
}

static void test_pilotctl_daemon_and_data_plane(void **state)
{
    char out[8192], args[256];
    json_t *j;
    uint32_t node_c;
    int lfd;
    struct agent_ipc_msg m;
    uint8_t buf[4096];
    pid_t listener;
    int pfd[2];
    (void)state;
    /* b is public since the previous test. */
    assert_int_equal(pilotctl(home_c, NULL, out, sizeof out, "--json daemon start"), 0);
    j = json_loads(out, 0, NULL);
    assert_non_null(j);
    node_c = (uint32_t)json_integer_value(json_object_get(json_object_get(j, "data"), "node_id"));
    json_decref(j);
    assert_true(node_c != 0);
    assert_int_equal(pilotctl(home_c, NULL, out, sizeof out, "daemon status"), 0);
    assert_non_null(strstr(out, "node id:"));

    /* send */
    lfd = ag_listen(&b, 7001, false);
    snprintf(args, sizeof args, "send %u 7001 'hello from c'", b.node);
    assert_int_equal(pilotctl(home_c, NULL, out, sizeof out, args), 0);
    assert_int_equal(ag_event(lfd, 5000, &m, buf, sizeof buf), REG_OK);
    assert_int_equal(m.from, node_c);
    assert_int_equal(m.data_len, 12);
    /* By hostname and by Pilot address. */
    {
        struct st_cmd cmd;
        char addr[PROTO_ADDR_STRLEN];
        memset(&cmd, 0, sizeof cmd);
        cmd.op = ST_CMD_SET_HOSTNAME;
        snprintf(cmd.hostname, sizeof cmd.hostname, "bee");
        assert_int_equal(ag_cmd(&b, &cmd, NULL), REG_OK);
        assert_int_equal(pilotctl(home_c, NULL, out, sizeof out, "send bee 7001 by-name"), 0);
        assert_int_equal(ag_event(lfd, 5000, &m, buf, sizeof buf), REG_OK);
        assert_int_equal(m.data_len, 7);
        assert_memory_equal(m.data, "by-name", 7);
        proto_addr_format(0, b.node, addr);
        snprintf(args, sizeof args, "send %s 7001 by-address", addr);
        assert_int_equal(pilotctl(home_c, NULL, out, sizeof out, args), 0);
        assert_int_equal(ag_event(lfd, 5000, &m, buf, sizeof buf), REG_OK);
        assert_int_equal(m.data_len, 10);
    }
    close(lfd);

    /* connect: stdin to the echoing listener, its answer on stdout */
    lfd = ag_listen(&b, 7002, true);
    snprintf(args, sizeof args, "connect %u 7002", b.node);
    assert_int_equal(pilotctl(home_c, "echo me\n", out, sizeof out, args), 0);
    assert_string_equal(out, "echo me\n");
    close(lfd);

    /* listen --count 1 in c, a datagram from a (c is made public). */
    assert_int_equal(pilotctl(home_c, NULL, out, sizeof out, "set-public"), 0);
    assert_int_equal(pipe(pfd), 0);
    listener = fork();
    assert_true(listener >= 0);
    if (listener == 0) {
        char cmd[2048];
        dup2(pfd[1], 1);
        close(pfd[0]);
        snprintf(cmd, sizeof cmd, "PILOT_HOME='%s' '%s' listen 7003 --count 1", home_c,
                 PILOTCTL_BIN);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    close(pfd[1]);
    {
        uint64_t deadline = it_now_ms() + 10000;
        ssize_t n = 0;
        bool ok = false;
        while (!ok && it_now_ms() < deadline) {
            ag_send(&a, node_c, 7003, "to the cli");
            struct timeval tv = {0, 300000};
            fd_set rs;
            FD_ZERO(&rs);
            FD_SET(pfd[0], &rs);
            if (select(pfd[0] + 1, &rs, NULL, NULL, &tv) > 0) {
                n = read(pfd[0], out, sizeof out - 1);
                ok = n > 0;
            }
        }
        out[n > 0 ? n : 0] = '\0';
        kill(listener, SIGTERM);
        waitpid(listener, NULL, 0);
        close(pfd[0]);
        assert_true(ok);
        assert_non_null(strstr(out, "to the cli"));
    }

    /* bad input: usage errors, nothing sent */
    assert_int_equal(pilotctl(home_c, NULL, out, sizeof out, "send 5 0 x"), 2);
    assert_int_equal(pilotctl(home_c, NULL, out, sizeof out, "send 5 70000 x"), 2);
    assert_int_equal(pilotctl(home_c, NULL, out, sizeof out, "connect 5"), 2);
    assert_int_equal(pilotctl(home_c, NULL, out, sizeof out, "daemon frobnicate"), 2);
    assert_int_equal(pilotctl(home_c, NULL, out, sizeof out, "send no-such-host 80 x"), 1);

    assert_int_equal(pilotctl(home_c, NULL, out, sizeof out, "daemon stop"), 0);
    assert_int_equal(pilotctl(home_c, NULL, out, sizeof out, "daemon status"), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_public_agent_accepts_anyone),
        cmocka_unit_test(test_pilotctl_daemon_and_data_plane),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
