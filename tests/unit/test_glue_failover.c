/* test_glue_failover: the dead-leader fast path (raft-glue failover.c) with
 * real processes. Three forked children each run one raft_uv node on
 * 127.0.0.1 with a deliberately long election timeout (5 s, heartbeat
 * 100 ms) and report their status over a pipe. On this timeout a survivor's
 * own election timer cannot fire before 4.9 s after the last heartbeat, so:
 *   - a leader SIGSTOPped for 3 s (alive but silent: its kernel still
 *     accepts connections) is probed, found alive, and nobody campaigns;
 *   - a leader killed with SIGKILL (nothing listens any more, connects are
 *     refused) is replaced by a ready leader well before the natural
 *     timeout; the measured time is printed.
 * The two tests share one cluster and run in this order. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "glue.h"
#include "tapp.h"

#define N 3
#define T_MS 5000u
#define HB_MS 100u

struct node_view
{
    pid_t pid;
    int fd;              /* read end of the child's report pipe */
    char buf[512];
    size_t len;
    int state;
    bool ready;
    unsigned long long term, leader, probes, refused, fast;
};

static char root[128];
static char dirs[N][200];
static char addrs[N][32];
static struct glue_peer peers[N];
static struct node_view nodes[N];

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int free_port(void)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int port;

    assert_true(fd >= 0);
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    port = ntohs(sa.sin_port);
    close(fd);
    return port;
}

/* ---- Child: one node, reporting every status change -------------------- */

static int report_fd;
static struct glue *child_glue;
static char last_report[256];

static void child_fail_stop(void *data, int code, const char *why)
{
    (void)data;
    (void)code;
    (void)why;
    _exit(3);
}

static void child_report(uv_timer_t *t)
{
    struct glue_status st;
    char line[256];
    int n;

    (void)t;
    glue_status(child_glue, &st);
    n = snprintf(line, sizeof line, "%d %d %llu %llu %llu %llu %llu\n", st.state, st.ready,
                 (unsigned long long)st.term, (unsigned long long)st.leader_id,
                 (unsigned long long)st.leader_probes,
                 (unsigned long long)st.leader_probes_refused,
                 (unsigned long long)st.fast_elections);
    if (strcmp(line, last_report) != 0) {
        snprintf(last_report, sizeof last_report, "%s", line);
        if (write(report_fd, line, (size_t)n) != n) {
            _exit(4);
        }
    }
}

static void child_main(unsigned i)
{
    char err[REG_ERRMSG_SIZE];
    struct glue_config c;
    struct glue_app a;
    struct tapp app;
    uv_loop_t loop;
    uv_timer_t timer;

    prctl(PR_SET_PDEATHSIG, SIGKILL);
    uv_loop_init(&loop);
    memset(&app, 0, sizeof app);
    tapp_glue_app(&app, &a);
    glue_config_defaults(&c);
    c.id = i + 1;
    c.data_dir = dirs[i];
    c.raft_address = addrs[i];
    memset(c.cluster_key, 0x5a, GLUE_KEY_LEN);
    c.mode = GLUE_MODE_INITIAL;
    c.peers = peers;
    c.n_peers = N;
    c.election_timeout_ms = T_MS;
    c.heartbeat_timeout_ms = HB_MS;
    c.segment_size = 64 * 1024;
    c.min_free_bytes = 1;
    c.critical_free_bytes = 1;
    c.fail_stop = child_fail_stop;
    if (glue_init(&child_glue, &loop, &c, &a, err) != REG_OK ||
        glue_start(child_glue, err) != REG_OK) {
        fprintf(stderr, "node %u: %s\n", i + 1, err);
        _exit(2);
    }
    uv_timer_init(&loop, &timer);
    uv_timer_start(&timer, child_report, 0, 10);
    uv_run(&loop, UV_RUN_DEFAULT);
    _exit(5);
}

/* ---- Parent ------------------------------------------------------------ */

static void parse_line(struct node_view *v, const char *line)
{
    int ready = 0;

    if (sscanf(line, "%d %d %llu %llu %llu %llu %llu", &v->state, &ready, &v->term, &v->leader,
               &v->probes, &v->refused, &v->fast) == 7) {
        v->ready = ready != 0;
    }
}

/* Read every pending report, waiting at most wait_ms for the first. */
static void pump(unsigned wait_ms)
{
    struct pollfd p[N];

    for (unsigned i = 0; i < N; i++) {
        p[i].fd = nodes[i].fd;
        p[i].events = POLLIN;
        p[i].revents = 0;
    }
    if (poll(p, N, (int)wait_ms) <= 0) {
        return;
    }
    for (unsigned i = 0; i < N; i++) {
        struct node_view *v = &nodes[i];
        ssize_t n;
        char *nl;

        if (!(p[i].revents & POLLIN)) {
            continue;
        }
        n = read(v->fd, v->buf + v->len, sizeof v->buf - 1 - v->len);
        if (n <= 0) {
            continue;
        }
        v->len += (size_t)n;
        v->buf[v->len] = '\0';
        while ((nl = strchr(v->buf, '\n')) != NULL) {
            *nl = '\0';
            parse_line(v, v->buf);
            v->len -= (size_t)(nl + 1 - v->buf);
            memmove(v->buf, nl + 1, v->len + 1);
        }
    }
}

/* Index of a ready leader other than `skip`, or N. */
static unsigned ready_leader(unsigned skip)
{
    for (unsigned i = 0; i < N; i++) {
        if (i != skip && nodes[i].pid > 0 && nodes[i].state == GLUE_LEADER && nodes[i].ready) {
            return i;
        }
    }
    return N;
}

static unsigned wait_ready_leader(unsigned skip, unsigned max_ms)
{
    uint64_t end = now_ms() + max_ms;
    unsigned l;

    while ((l = ready_leader(skip)) == N && now_ms() < end) {
        pump(20);
    }
    return l;
}

static int group_setup(void **state)
{
    (void)state;
    snprintf(root, sizeof root, "/tmp/test_glue_failover.XXXXXX");
    assert_non_null(mkdtemp(root));
    for (unsigned i = 0; i < N; i++) {
        snprintf(dirs[i], sizeof dirs[i], "%s/n%u", root, i + 1);
        assert_int_equal(mkdir(dirs[i], 0700), 0);
        int port = free_port();
        snprintf(addrs[i], sizeof addrs[i], "127.0.0.1:%d", port);
        peers[i].id = i + 1;
        snprintf(peers[i].address, sizeof peers[i].address, "127.0.0.1:%d", port);
    }
    for (unsigned i = 0; i < N; i++) {
        int fds[2];
        pid_t pid;

        assert_int_equal(pipe(fds), 0);
        fflush(NULL);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            for (unsigned j = 0; j < i; j++) {
                close(nodes[j].fd);
            }
            report_fd = fds[1];
            child_main(i);
        }
        close(fds[1]);
        memset(&nodes[i], 0, sizeof nodes[i]);
        nodes[i].pid = pid;
        nodes[i].fd = fds[0];
        nodes[i].state = -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    char cmd[200];

    (void)state;
    for (unsigned i = 0; i < N; i++) {
        if (nodes[i].pid > 0) {
            kill(nodes[i].pid, SIGKILL);
            waitpid(nodes[i].pid, NULL, 0);
            nodes[i].pid = 0;
        }
        close(nodes[i].fd);
    }
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_stopped_leader_is_not_replaced(void **state)
{
    unsigned l, l2;
    unsigned long long term;
    uint64_t end;

    (void)state;
    /* The first election waits for the plain timer: [T, 2T]. */
    l = wait_ready_leader(N, 6 * T_MS);
    assert_true(l < N);
    term = nodes[l].term;
    assert_int_equal(kill(nodes[l].pid, SIGSTOP), 0);
    end = now_ms() + 3000;
    while (now_ms() < end) {
        pump(20);
    }
    for (unsigned i = 0; i < N; i++) {
        if (i == l) {
            continue;
        }
        printf("stopped leader: node %u probed it %llu times (%llu refused), fast "
               "elections %llu, term %llu\n", i + 1, nodes[i].probes, nodes[i].refused,
               nodes[i].fast, nodes[i].term);
        assert_true(nodes[i].probes >= 1);
        assert_int_equal(nodes[i].refused, 0);
        assert_int_equal(nodes[i].fast, 0);
        assert_int_equal(nodes[i].term, term);
        assert_int_equal(nodes[i].state, GLUE_FOLLOWER);
    }
    assert_int_equal(kill(nodes[l].pid, SIGCONT), 0);
    pump(500);
    l2 = wait_ready_leader(N, 2000);
    assert_int_equal(l2, l);
}

static void test_killed_leader_is_replaced_fast(void **state)
{
    unsigned l, nl;
    uint64_t t0, ms;
    unsigned long long fast = 0;

    (void)state;
    l = wait_ready_leader(N, 6 * T_MS);
    assert_true(l < N);
    t0 = now_ms();
    assert_int_equal(kill(nodes[l].pid, SIGKILL), 0);
    waitpid(nodes[l].pid, NULL, 0);
    nodes[l].pid = 0;
    nl = wait_ready_leader(l, T_MS);
    ms = now_ms() - t0;
    printf("killed leader: node %u ready leader after %llu ms (election timeout %u ms)\n",
           nl + 1, (unsigned long long)ms, T_MS);
    assert_true(nl < N);
    /* The plain timer cannot fire before T - HB after the kill. */
    assert_true(ms < T_MS - 5 * HB_MS);
    for (unsigned i = 0; i < N; i++) {
        fast += i != l ? nodes[i].fast : 0;
    }
    assert_true(fast >= 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stopped_leader_is_not_replaced),
        cmocka_unit_test(test_killed_leader_is_replaced_fast),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
