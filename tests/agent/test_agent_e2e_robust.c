/* Agents under pressure and abuse, against a three-node cluster.
 *   - coalescing never outlives a revocation: while a flood of admitted
 *     datagrams keeps access checks in flight, a datagram sent after
 *     `kick` returned is never delivered;
 *   - a 256 KiB stream echoes back byte for byte (windowing, ordering);
 *   - garbage on the control socket and on the UDP port gets errors or
 *     silence and changes nothing: the daemon keeps serving;
 *   - a restarted daemon keeps its node id and works at once. */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <setjmp.h>
#include <cmocka.h>
#include <sodium.h>

#include "agent_harness.h"

static struct it_cluster cluster;
static struct ag a, b;
static uint32_t net;

static int setup(void **state)
{
    (void)state;
    it_cluster_start(&cluster, 3);
    ag_start(&a, &cluster, "a");
    ag_start(&b, &cluster, "b");
    net = ag_net_create(&b, "lab", false);
    assert_int_equal(ag_net_join(&a, net), REG_OK);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ag_stop(&a);
    ag_stop(&b);
    it_cluster_destroy(&cluster);
    return 0;
}

static atomic_bool flooding;

static void *flood(void *arg)
{
    (void)arg;
    while (atomic_load(&flooding)) {
        close(ag_forge_dgram(&a, &b, 80, "flood"));
        usleep(200);
    }
    return NULL;
}

static void test_no_delivery_after_kick_under_flood(void **state)
{
    struct agent_ipc_msg m;
    uint8_t buf[4096];
    pthread_t t;
    unsigned floods = 0;
    int lfd, ufd;
    uint64_t deadline;
    (void)state;
    lfd = ag_listen(&b, 80, false);
    atomic_store(&flooding, true);
    assert_int_equal(pthread_create(&t, NULL, flood, NULL), 0);
    /* The flood is admitted while a is a member. */
    for (int i = 0; i < 20 && floods == 0; i++) {
        if (ag_event(lfd, 500, &m, buf, sizeof buf) == REG_OK && strcmp(m.ev, "dgram") == 0) {
            floods++;
        }
    }
    assert_true(floods > 0);
    assert_int_equal(ag_net_kick(&b, net, a.node), REG_OK);
    ufd = ag_forge_dgram(&a, &b, 80, "MARK");
    deadline = it_now_ms() + 2000;
    while (it_now_ms() < deadline) {
        if (ag_event(lfd, 200, &m, buf, sizeof buf) == REG_OK && m.data != NULL) {
            assert_false(m.data_len == 4 && memcmp(m.data, "MARK", 4) == 0);
        }
    }
    atomic_store(&flooding, false);
    pthread_join(t, NULL);
    close(ufd);
    close(lfd);
    /* Back in for the next tests. */
    {
        struct st_cmd cmd;
        memset(&cmd, 0, sizeof cmd);
        cmd.op = ST_CMD_NET_INVITE;
        cmd.network = net;
        cmd.node = a.node;
        assert_int_equal(ag_cmd(&b, &cmd, NULL), REG_OK);
    }
}

static void test_bulk_stream_echo(void **state)
{
    enum { TOTAL = 256 * 1024, CHUNK = 4000 };
    struct agent_ipc_msg m;
    static uint8_t sent[TOTAL], got[TOTAL], buf[AGENT_IPC_MAX];
    size_t n = 0;
    int lfd, cfd = -1;
    uint64_t deadline;
    (void)state;
    randombytes_buf(sent, TOTAL);
    lfd = ag_listen(&b, 81, true);
    assert_int_equal(ag_connect(&a, b.node, 81, &cfd), REG_OK);
    for (size_t off = 0; off < TOTAL; off += CHUNK) {
        struct agent_ipc_msg rq;
        memset(&rq, 0, sizeof rq);
        snprintf(rq.op, sizeof rq.op, "data");
        rq.data = sent + off;
        rq.data_len = TOTAL - off < CHUNK ? TOTAL - off : CHUNK;
        assert_int_equal(agent_ipc_send(cfd, &rq), REG_OK);
    }
    deadline = it_now_ms() + 60000;
    while (n < TOTAL && it_now_ms() < deadline) {
        if (ag_event(cfd, 1000, &m, buf, sizeof buf) != REG_OK) {
            continue;
        }
        if (strcmp(m.ev, "data") == 0) {
            assert_true(n + m.data_len <= TOTAL);
            memcpy(got + n, m.data, m.data_len);
            n += m.data_len;
        }
        assert_string_not_equal(m.ev, "close");
    }
    assert_int_equal(n, TOTAL);
    assert_memory_equal(got, sent, TOTAL);
    close(cfd);
    close(lfd);
}

static int raw_control(const struct ag *x)
{
    char errmsg[REG_ERRMSG_SIZE];
    int fd = agent_ipc_connect(x->home, errmsg);
    assert_true(fd >= 0);
    return fd;
}

static void test_garbage_changes_nothing(void **state)
{
    static const uint8_t not_msgpack[] = {0, 0, 0, 3, 0xc1, 0xc1, 0xc1};
    static const uint8_t huge[] = {0x7f, 0xff, 0xff, 0xff};
    struct agent_ipc_msg rq, m;
    uint8_t buf[4096], junk[300];
    struct sockaddr_in sa;
    char host[64];
    const char *colon;
    char errmsg[REG_ERRMSG_SIZE];
    uint64_t dropped;
    int fd, u;
    (void)state;
    /* Not msgpack: an error answer. */
    fd = raw_control(&b);
    assert_int_equal(write(fd, not_msgpack, sizeof not_msgpack), (ssize_t)sizeof not_msgpack);
    assert_int_equal(agent_ipc_recv(fd, buf, sizeof buf, 5000, &m, errmsg), REG_OK);
    assert_true(m.has_ok && !m.ok);
    assert_string_equal(m.code, "malformed");
    close(fd);
    /* A frame over the limit: too_large, then the session closes. */
    fd = raw_control(&b);
    assert_int_equal(write(fd, huge, sizeof huge), (ssize_t)sizeof huge);
    assert_int_equal(agent_ipc_recv(fd, buf, sizeof buf, 5000, &m, errmsg), REG_OK);
    assert_string_equal(m.code, "too_large");
    close(fd);
    /* Unknown op, bad ports, duplicate listener: errors, session usable. */
    fd = raw_control(&b);
    memset(&rq, 0, sizeof rq);
    snprintf(rq.op, sizeof rq.op, "explode");
    assert_int_equal(agent_ipc_send(fd, &rq), REG_OK);
    assert_int_equal(agent_ipc_recv(fd, buf, sizeof buf, 5000, &m, errmsg), REG_OK);
    assert_string_equal(m.code, "invalid_argument");
    snprintf(rq.op, sizeof rq.op, "listen");
    assert_int_equal(agent_ipc_send(fd, &rq), REG_OK);
    assert_int_equal(agent_ipc_recv(fd, buf, sizeof buf, 5000, &m, errmsg), REG_OK);
    assert_string_equal(m.code, "invalid_argument");
    snprintf(rq.op, sizeof rq.op, "send");
    snprintf(rq.node, sizeof rq.node, "%u", a.node);
    rq.port = 80;
    assert_int_equal(agent_ipc_send(fd, &rq), REG_OK);
    assert_int_equal(agent_ipc_recv(fd, buf, sizeof buf, 5000, &m, errmsg), REG_OK);
    assert_string_equal(m.code, "invalid_argument");
    close(fd);
    {
        int l1 = ag_listen(&b, 90, false);
        fd = raw_control(&b);
        memset(&rq, 0, sizeof rq);
        snprintf(rq.op, sizeof rq.op, "listen");
        rq.port = 90;
        assert_int_equal(agent_ipc_send(fd, &rq), REG_OK);
        assert_int_equal(agent_ipc_recv(fd, buf, sizeof buf, 5000, &m, errmsg), REG_OK);
        assert_string_equal(m.code, "already_exists");
        close(fd);
        close(l1);
    }
    /* UDP garbage: silence, counted as dropped. */
    dropped = ag_stat(&b, "dropped");
    colon = strrchr(b.endpoint, ':');
    snprintf(host, sizeof host, "%.*s", (int)(colon - b.endpoint), b.endpoint);
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)atoi(colon + 1));
    inet_pton(AF_INET, host, &sa.sin_addr);
    u = socket(AF_INET, SOCK_DGRAM, 0);
    for (int i = 0; i < 50; i++) {
        randombytes_buf(junk, sizeof junk);
        if (i % 2 == 0) {
            memcpy(junk, "PD\x01\x04", 4);
        }
        sendto(u, junk, 20 + (size_t)i * 5, 0, (struct sockaddr *)&sa, sizeof sa);
    }
    assert_false(ag_udp_answered(u, 500));
    close(u);
    assert_true(ag_stat(&b, "dropped") >= dropped + 50);
}

static void test_restart_keeps_identity(void **state)
{
    uint32_t before = a.node;
    struct agent_ipc_msg m;
    uint8_t buf[4096];
    int lfd;
    (void)state;
    ag_restart(&a, &cluster);
    assert_int_equal(a.node, before);
    lfd = ag_listen(&b, 82, false);
    assert_int_equal(ag_send(&a, b.node, 82, "back"), REG_OK);
    assert_int_equal(ag_event(lfd, 5000, &m, buf, sizeof buf), REG_OK);
    assert_string_equal(m.ev, "dgram");
    assert_int_equal(m.from, before);
    close(lfd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_delivery_after_kick_under_flood),
        cmocka_unit_test(test_bulk_stream_echo),
        cmocka_unit_test(test_garbage_changes_nothing),
        cmocka_unit_test(test_restart_keeps_identity),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
