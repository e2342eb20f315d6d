/* test_glue_uv: three real raft_uv nodes on one libuv loop over 127.0.0.1
 * with temp data dirs and small segments: a leader is elected and becomes
 * ready, writes commit and apply on every node, linearizable reads work, a
 * close-and-restart from the data dirs keeps every entry, and a node whose
 * cluster key differs is never let in. Also: bad configurations are refused
 * and leave nothing behind, and the persisted node id is reused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "glue_internal.h"
#include "tapp.h"

#define N 3

static uv_loop_t loop;
static char root[256];
static char dirs[N + 1][300];
static char addrs[N + 1][64];
static struct glue_peer peers[N];
static struct glue *g[N + 1];
static struct tapp app[N + 1];
static int closed;
static int fail_stops;

static void on_fail_stop(void *data, int code, const char *why)
{
    (void)data;
    (void)code;
    (void)why;
    fail_stops++;
}

static int free_port(void)
{
    uv_tcp_t tcp;
    struct sockaddr_in sa;
    struct sockaddr_storage name;
    int len = sizeof name;

    uv_ip4_addr("127.0.0.1", 0, &sa);
    uv_tcp_init(&loop, &tcp);
    assert_int_equal(uv_tcp_bind(&tcp, (struct sockaddr *)&sa, 0), 0);
    assert_int_equal(uv_tcp_getsockname(&tcp, (struct sockaddr *)&name, &len), 0);
    uv_close((uv_handle_t *)&tcp, NULL);
    uv_run(&loop, UV_RUN_NOWAIT);
    return ntohs(((struct sockaddr_in *)&name)->sin_port);
}

static void log_stderr(void *data, int level, const char *msg)
{
    fprintf(stderr, "[n%u %d] %s\n", (unsigned)(uintptr_t)data, level, msg);
}

static void config(struct glue_config *c, unsigned i, uint8_t keybyte)
{
    glue_config_defaults(c);
    c->id = i + 1;
    c->data_dir = dirs[i];
    c->raft_address = addrs[i];
    memset(c->cluster_key, keybyte, GLUE_KEY_LEN);
    c->mode = GLUE_MODE_INITIAL;
    c->peers = peers;
    c->n_peers = N;
    c->election_timeout_ms = 300;
    c->heartbeat_timeout_ms = 30;
    c->segment_size = 64 * 1024;
    c->min_free_bytes = 1;
    c->critical_free_bytes = 1;
    c->statfs_interval_ms = 100;
    c->fail_stop = on_fail_stop;
    if (getenv("GLUE_TEST_LOG") != NULL) {
        c->log = log_stderr;
        c->log_data = (void *)(uintptr_t)(i + 1);
    }
}

static void start_all(void)
{
    char err[REG_ERRMSG_SIZE];
    struct glue_config c;
    struct glue_app a;

    for (unsigned i = 0; i < N; i++) {
        memset(&app[i], 0, sizeof app[i]);
        tapp_glue_app(&app[i], &a);
        config(&c, i, 0x42);
        assert_int_equal(glue_init(&g[i], &loop, &c, &a, err), REG_OK);
    }
    for (unsigned i = 0; i < N; i++) {
        assert_int_equal(glue_start(g[i], err), REG_OK);
    }
}

static void on_closed(void *data)
{
    (void)data;
    closed++;
}

static bool run_until(bool (*pred)(void *), void *arg, unsigned max_ms)
{
    uint64_t deadline;

    uv_update_time(&loop);
    deadline = uv_now(&loop) + max_ms;
    while (!pred(arg)) {
        if (uv_now(&loop) >= deadline) {
            return false;
        }
        uv_run(&loop, UV_RUN_ONCE);
        uv_update_time(&loop);
    }
    return true;
}


static bool all_closed(void *arg)
{
    return closed >= *(int *)arg;
}

static void stop_all(unsigned n)
{
    int want = (int)n;

    closed = 0;
    for (unsigned i = 0; i < n; i++) {
        glue_shutdown(g[i], on_closed, NULL);
    }
    assert_true(run_until(all_closed, &want, 10000));
}

static bool some_ready(void *arg)
{
    unsigned *out = arg;
    for (unsigned i = 0; i < N; i++) {
        if (glue_ready(g[i])) {
            *out = i;
            return true;
        }
    }
    return false;
}

struct sub
{
    int done;
    int status;
    int64_t value;
};

static void sub_cb(void *data, int status, const void *result, uint64_t index)
{
    struct sub *s = data;
    (void)index;
    s->done++;
    s->status = status;
    if (result != NULL) {
        s->value = ((const struct tapp_res *)result)->value;
    }
}

static bool sub_done(void *arg)
{
    return ((struct sub *)arg)->done > 0;
}

static void change_cb(void *data, int status, const char *msg)
{
    struct sub *s = data;
    (void)msg;
    s->done++;
    s->status = status;
}

static void read_cb(void *data, int status)
{
    struct sub *s = data;
    s->done++;
    s->status = status;
}

static int done_count;
static bool all_done(void *arg)
{
    struct sub *s = arg;
    done_count = 0;
    for (int i = 0; i < 50; i++) {
        done_count += s[i].done;
    }
    return done_count == 50;
}

static bool converged(void *arg)
{
    (void)arg;
    for (unsigned i = 1; i < N; i++) {
        if (tapp_hash(&app[i]) != tapp_hash(&app[0]) ||
            app[i].counters[1] != app[0].counters[1]) {
            return false;
        }
    }
    return app[0].counters[1] == 50;
}

static void test_replicate_and_restart(void **state)
{
    unsigned leader = N;
    struct tapp_op op[50];
    struct sub s[50];
    struct sub rd = {0};
    struct glue_status st;
    (void)state;

    start_all();
    assert_true(run_until(some_ready, &leader, 15000));
    memset(s, 0, sizeof s);
    for (int i = 0; i < 50; i++) {
        op[i] = (struct tapp_op){.key = 1, .delta = 1};
        assert_int_equal(glue_submit(g[leader], &op[i], sub_cb, &s[i]), REG_OK);
    }
    assert_true(run_until(all_done, s, 10000));
    for (int i = 0; i < 50; i++) {
        assert_int_equal(s[i].status, REG_OK);
    }
    assert_true(run_until(converged, NULL, 10000));
    assert_int_equal(glue_read(g[leader], read_cb, &rd), REG_OK);
    assert_true(run_until(sub_done, &rd, 5000));
    assert_int_equal(rd.status, REG_OK);
    glue_status(g[leader], &st);
    assert_int_equal(st.state, GLUE_LEADER);
    assert_int_equal(st.committed, 50);
    assert_true(st.entries < 50); /* group commit */
    assert_int_equal(fail_stops, 0);
    stop_all(N);

    /* Restart from the data dirs: every entry is still there. */
    start_all();
    leader = N;
    assert_true(run_until(some_ready, &leader, 15000));
    assert_true(run_until(converged, NULL, 10000));
    for (unsigned i = 0; i < N; i++) {
        assert_int_equal(app[i].counters[1], 50);
    }
    assert_int_equal(fail_stops, 0);
    stop_all(N);
}

static bool stranger_rejected(void *arg)
{
    struct glue__transport_stats ts;
    (void)arg;
    glue__transport_stats(&g[N]->transport, &ts);
    return ts.rejected >= 2;
}

static void test_wrong_key_node_is_kept_out(void **state)
{
    unsigned leader = N;
    char err[REG_ERRMSG_SIZE];
    struct glue_config c;
    struct glue_app a;
    struct glue__transport_stats ts;
    struct sub ch = {0}, w = {0};
    struct tapp_op op = {.key = 1, .delta = 1};
    (void)state;

    start_all();
    assert_true(run_until(some_ready, &leader, 15000));
    /* A fourth node configured with another cluster key waits to join. */
    memset(&app[N], 0, sizeof app[N]);
    tapp_glue_app(&app[N], &a);
    config(&c, N, 0x99);
    c.id = N + 1;
    c.mode = GLUE_MODE_JOIN;
    c.peers = NULL;
    c.n_peers = 0;
    assert_int_equal(glue_init(&g[N], &loop, &c, &a, err), REG_OK);
    assert_int_equal(glue_start(g[N], err), REG_OK);
    /* The leader adds it and tries to replicate to it: every connection
     * fails the handshake, so raft on node 4 never sees a byte. */
    assert_int_equal(glue_member_add(g[leader], N + 1, addrs[N], change_cb, &ch), REG_OK);
    assert_true(run_until(stranger_rejected, NULL, 10000));
    glue__transport_stats(&g[N]->transport, &ts);
    assert_int_equal(ts.accepted, 0);
    assert_int_equal(app[N].entries, 0);
    assert_int_equal(raft_last_index(g[N]->r), 0);
    /* The cluster keeps committing meanwhile. */
    assert_int_equal(glue_submit(g[leader], &op, sub_cb, &w), REG_OK);
    assert_true(run_until(sub_done, &w, 5000));
    assert_int_equal(w.status, REG_OK);
    stop_all(N + 1);
    assert_int_equal(ch.done, 1);
    assert_true(ch.status != REG_OK);
}

static bool joined(void *arg)
{
    struct sub *ch = arg;
    return ch->done > 0 && app[N].counters[1] == app[0].counters[1] &&
           tapp_hash(&app[N]) == tapp_hash(&app[0]);
}

static void test_join_running_cluster(void **state)
{
    unsigned leader = N;
    char err[REG_ERRMSG_SIZE];
    struct glue_config c;
    struct glue_app a;
    struct glue_server srv[8];
    struct tapp_op op[10];
    struct sub s[10], ch = {0};
    unsigned n;
    (void)state;

    start_all();
    assert_true(run_until(some_ready, &leader, 15000));
    memset(s, 0, sizeof s);
    for (int i = 0; i < 10; i++) {
        op[i] = (struct tapp_op){.key = 1, .delta = 2};
        assert_int_equal(glue_submit(g[leader], &op[i], sub_cb, &s[i]), REG_OK);
    }
    assert_true(run_until(sub_done, &s[9], 5000));
    /* A fresh node with the right key starts empty in JOIN mode... */
    tapp_glue_app(&app[N], &a);
    config(&c, N, 0x42);
    c.mode = GLUE_MODE_JOIN;
    c.peers = NULL;
    c.n_peers = 0;
    assert_int_equal(glue_init(&g[N], &loop, &c, &a, err), REG_OK);
    assert_int_equal(glue_start(g[N], err), REG_OK);
    /* ...and the leader adds it: spare -> standby -> caught up -> voter. */
    assert_int_equal(glue_member_add(g[leader], N + 1, addrs[N], change_cb, &ch), REG_OK);
    assert_true(run_until(joined, &ch, 20000));
    assert_int_equal(ch.status, REG_OK);
    assert_int_equal(app[N].counters[1], 20);
    n = glue_configuration(g[leader], srv, 8);
    assert_int_equal(n, N + 1);
    assert_int_equal(srv[N].id, N + 1);
    assert_int_equal(srv[N].role, GLUE_ROLE_VOTER);
    stop_all(N + 1);
}

static void test_bad_config_refused(void **state)
{
    char err[REG_ERRMSG_SIZE];
    struct glue_config c;
    struct glue_app a;
    struct glue *x = NULL;
    (void)state;

    tapp_glue_app(&app[0], &a);
    config(&c, 0, 1);
    c.heartbeat_timeout_ms = c.election_timeout_ms;
    assert_int_equal(glue_init(&x, &loop, &c, &a, err), REG_INVALID_ARGUMENT);
    assert_null(x);
    assert_non_null(strstr(err, "heartbeat"));
    config(&c, 0, 1);
    c.raft_address = "localhost:80";
    assert_int_equal(glue_init(&x, &loop, &c, &a, err), REG_INVALID_ARGUMENT);
    config(&c, 0, 1);
    c.id = 2; /* listed in peers under another address */
    assert_int_equal(glue_init(&x, &loop, &c, &a, err), REG_INVALID_ARGUMENT);
    config(&c, 0, 1);
    c.data_dir = "/nonexistent/dir";
    assert_int_equal(glue_init(&x, &loop, &c, &a, err), REG_INVALID_ARGUMENT);

    struct glue_peer p[4];
    unsigned n = 0;
    assert_int_equal(glue_parse_peers("1=127.0.0.1:1,2=127.0.0.1:2", p, 4, &n, err), REG_OK);
    assert_int_equal(n, 2);
    assert_int_equal(p[1].id, 2);
    assert_string_equal(p[1].address, "127.0.0.1:2");
    assert_int_equal(glue_parse_peers("1=127.0.0.1:1,1=127.0.0.1:2", p, 4, &n, err),
                     REG_INVALID_ARGUMENT);
    assert_int_equal(glue_parse_peers("0=127.0.0.1:1", p, 4, &n, err), REG_INVALID_ARGUMENT);
    assert_int_equal(glue_parse_peers("1=host:1", p, 4, &n, err), REG_INVALID_ARGUMENT);
    assert_int_equal(glue_parse_peers("1=127.0.0.1:99999", p, 4, &n, err),
                     REG_INVALID_ARGUMENT);
    assert_int_equal(glue_parse_peers("", p, 4, &n, err), REG_INVALID_ARGUMENT);
}

static void test_node_id_persisted(void **state)
{
    char err[REG_ERRMSG_SIZE];
    struct glue_config c;
    struct glue_app a;
    struct glue *x = NULL;
    uint64_t first;
    (void)state;

    tapp_glue_app(&app[0], &a);
    config(&c, 0, 1);
    c.mode = GLUE_MODE_BOOTSTRAP;
    c.id = 0;
    c.peers = NULL;
    c.n_peers = 0;
    assert_int_equal(glue_init(&x, &loop, &c, &a, err), REG_OK);
    first = glue_id(x);
    assert_true(first != 0);
    assert_int_equal(glue_start(x, err), REG_OK);
    closed = 0;
    glue_shutdown(x, on_closed, NULL);
    while (closed == 0) {
        uv_run(&loop, UV_RUN_ONCE);
    }
    assert_int_equal(glue_init(&x, &loop, &c, &a, err), REG_OK);
    assert_int_equal(glue_id(x), first);
    closed = 0;
    glue_shutdown(x, on_closed, NULL); /* never started */
    while (closed == 0) {
        uv_run(&loop, UV_RUN_ONCE);
    }
    c.id = first + 1;
    assert_int_equal(glue_init(&x, &loop, &c, &a, err), REG_INVALID_ARGUMENT);
}

static bool low_space_seen(void *arg)
{
    struct glue_status st;
    glue_status(arg, &st);
    return st.low_space;
}

static bool fail_stopped(void *arg)
{
    (void)arg;
    return fail_stops > 0;
}

static void test_free_space_watchdog(void **state)
{
    char err[REG_ERRMSG_SIZE];
    struct glue_config c;
    struct glue_app a;
    struct glue *x = NULL;
    struct tapp_op op = {.key = 1, .delta = 1};
    struct sub s = {0};
    (void)state;

    /* Below the proposal threshold: writes are refused, nothing changes. */
    tapp_glue_app(&app[0], &a);
    config(&c, 0, 1);
    c.mode = GLUE_MODE_BOOTSTRAP;
    c.peers = NULL;
    c.n_peers = 0;
    c.min_free_bytes = UINT64_MAX / 2;
    assert_int_equal(glue_init(&x, &loop, &c, &a, err), REG_OK);
    assert_int_equal(glue_start(x, err), REG_OK);
    assert_true(run_until(low_space_seen, x, 5000));
    assert_int_equal(glue_submit(x, &op, sub_cb, &s), REG_UNAVAILABLE);
    assert_int_equal(app[0].counters[1], 0);
    assert_int_equal(fail_stops, 0);
    closed = 0;
    glue_shutdown(x, on_closed, NULL);
    int one = 1;
    assert_true(run_until(all_closed, &one, 5000));

    /* Below the critical threshold: fail-stop (hook called once raft is
     * closed); shutdown still completes afterwards. */
    c.critical_free_bytes = UINT64_MAX / 2;
    assert_int_equal(glue_init(&x, &loop, &c, &a, err), REG_OK);
    assert_int_equal(glue_start(x, err), REG_OK);
    assert_true(run_until(fail_stopped, NULL, 5000));
    assert_int_equal(fail_stops, 1);
    assert_int_equal(glue_submit(x, &op, sub_cb, &s), REG_UNAVAILABLE);
    closed = 0;
    glue_shutdown(x, on_closed, NULL);
    assert_true(run_until(all_closed, &one, 5000));
    assert_int_equal(fail_stops, 1);
}

static void rm_rf(const char *path)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    assert_int_equal(system(cmd), 0);
}

static int setup(void **state)
{
    (void)state;
    assert_int_equal(uv_loop_init(&loop), 0);
    snprintf(root, sizeof root, "/tmp/test_glue_uv.XXXXXX");
    assert_non_null(mkdtemp(root));
    for (unsigned i = 0; i <= N; i++) {
        snprintf(dirs[i], sizeof dirs[i], "%s/n%u", root, i + 1);
        assert_int_equal(mkdir(dirs[i], 0700), 0);
        snprintf(addrs[i], sizeof addrs[i], "127.0.0.1:%d", free_port());
        if (i < N) {
            peers[i].id = i + 1;
            snprintf(peers[i].address, sizeof peers[i].address, "%s", addrs[i]);
        }
    }
    fail_stops = 0;
    memset(app, 0, sizeof app);
    memset(g, 0, sizeof g);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    /* Bounded: after a failed assertion nodes may still be running; the
     * test has failed already, so just report the loop as not closable. */
    for (int i = 0; i < 500 && uv_run(&loop, UV_RUN_NOWAIT) != 0; i++) {
        uv_sleep(10);
    }
    rm_rf(root);
    return uv_loop_close(&loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_replicate_and_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_key_node_is_kept_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_join_running_cluster, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_config_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_node_id_persisted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_space_watchdog, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
