/* Agents against a three-node cluster: networks are the access boundary.
 *   - two private agents with no trust and no shared network: the sender
 *     cannot resolve the receiver (checkpoint 1); packets that reach the
 *     receiver anyway (forged with the sender's real key) are dropped
 *     without any reply (checkpoints 2 and 3);
 *   - after both join a network: datagrams arrive, a stream echoes;
 *   - after `kick` returns: the very next datagram and connection request
 *     from the kicked agent are dropped, and the open stream is torn down
 *     on both sides. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>

#include "agent_harness.h"

static struct it_cluster cluster;
static struct ag a, b;

static int setup(void **state)
{
    (void)state;
    it_cluster_start(&cluster, 3);
    ag_start(&a, &cluster, "a");
    ag_start(&b, &cluster, "b");
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

/* Wait for an event of kind ev (skipping others) within timeout_ms. */
static bool wait_event(int fd, const char *ev, int timeout_ms, struct agent_ipc_msg *m,
                       uint8_t *buf, size_t cap)
{
    uint64_t deadline = it_now_ms() + (uint64_t)timeout_ms;
    while (it_now_ms() < deadline) {
        int left = (int)(deadline - it_now_ms());
        if (ag_event(fd, left, m, buf, cap) != REG_OK) {
            return false;
        }
        if (strcmp(m->ev, ev) == 0) {
            return true;
        }
    }
    return false;
}

static void test_private_agents_cannot_reach_each_other(void **state)
{
    struct agent_ipc_msg m;
    uint8_t buf[4096];
    int lfd, ufd, cfd = -1;
    uint64_t denied;
    (void)state;
    lfd = ag_listen(&b, 80, true);
    /* Checkpoint 1: resolve refuses, so the daemon never sends. */
    assert_int_equal(ag_send(&a, b.node, 80, "hello"), REG_NOT_FOUND);
    assert_int_equal(ag_connect(&a, b.node, 80, &cfd), REG_NOT_FOUND);
    /* Checkpoints 2 and 3: a packet that gets there anyway is dropped in
     * silence, after the registry said no. */
    denied = ag_stat(&b, "auth_denied");
    ufd = ag_forge_dgram(&a, &b, 80, "sneaky");
    assert_false(ag_udp_answered(ufd, 1000));
    close(ufd);
    ufd = ag_forge_syn(&a, &b, 80);
    assert_false(ag_udp_answered(ufd, 1000));
    close(ufd);
    assert_int_equal(ag_event(lfd, 300, &m, buf, sizeof buf), REG_TIMEOUT);
    assert_true(ag_stat(&b, "auth_denied") >= denied + 2);
    close(lfd);
}

static void test_network_then_kick(void **state)
{
    struct agent_ipc_msg m;
    uint8_t buf[4096];
    uint32_t net;
    int lfd, cfd = -1, ufd;
    (void)state;
    lfd = ag_listen(&b, 80, true);
    net = ag_net_create(&b, "lab", false);
    assert_int_equal(ag_net_join(&a, net), REG_OK);

    /* Datagram delivered. */
    assert_int_equal(ag_send(&a, b.node, 80, "hello b"), REG_OK);
    assert_true(wait_event(lfd, "dgram", 5000, &m, buf, sizeof buf));
    assert_int_equal(m.from, a.node);
    assert_int_equal(m.data_len, 7);
    assert_memory_equal(m.data, "hello b", 7);

    /* Stream: connect, write, the echo comes back. */
    assert_int_equal(ag_connect(&a, b.node, 80, &cfd), REG_OK);
    assert_true(wait_event(lfd, "accept", 5000, &m, buf, sizeof buf));
    assert_int_equal(ag_stream_write(cfd, "ping"), REG_OK);
    assert_true(wait_event(cfd, "data", 5000, &m, buf, sizeof buf));
    assert_int_equal(m.data_len, 4);
    assert_memory_equal(m.data, "ping", 4);
    assert_true(wait_event(lfd, "data", 5000, &m, buf, sizeof buf));

    /* Kick: once it returns, the very next datagram is dropped. */
    assert_int_equal(ag_net_kick(&b, net, a.node), REG_OK);
    ufd = ag_forge_dgram(&a, &b, 80, "after kick");
    assert_false(ag_udp_answered(ufd, 500));
    close(ufd);
    ufd = ag_forge_syn(&a, &b, 80);
    assert_false(ag_udp_answered(ufd, 500));
    close(ufd);
    /* ... and the open stream is closed on both ends (watch event). */
    assert_true(wait_event(lfd, "close", 10000, &m, buf, sizeof buf));
    assert_string_equal(m.reason, "revoked");
    assert_true(wait_event(cfd, "close", 10000, &m, buf, sizeof buf));
    assert_string_equal(m.reason, "revoked");
    /* Nothing from the forged packets reached the listener. */
    assert_int_equal(ag_event(lfd, 300, &m, buf, sizeof buf), REG_TIMEOUT);
    /* And the kicked agent can no longer resolve b. */
    assert_int_equal(ag_send(&a, b.node, 80, "again"), REG_NOT_FOUND);
    close(cfd);
    close(lfd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_private_agents_cannot_reach_each_other),
        cmocka_unit_test(test_network_then_kick),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
