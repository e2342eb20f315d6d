/* Agents keep working through the kill -9 of the registry leader.
 * The cluster runs with a short liveness threshold (3 s), so an agent that
 * stopped heartbeating would be reported offline well within the test:
 * after the leader is killed and a new one has taken over, both agents
 * must still show online in `network members` long past the threshold,
 * their data plane must still be admitted by the new leader, and an agent
 * that really stops (the control) must go offline. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>

#include "agent_harness.h"

static struct it_cluster cluster;
static struct ag a, b, c;
static uint32_t net;

static int setup(void **state)
{
    static const char *const extra[] = {"--offline-after", "3000", "--liveness-interval", "200",
                                        NULL};
    (void)state;
    it_cluster_start_args(&cluster, 3, extra);
    ag_start(&a, &cluster, "a");
    ag_start(&b, &cluster, "b");
    ag_start(&c, &cluster, "c");
    net = ag_net_create(&a, "fleet", false);
    assert_int_equal(ag_net_join(&b, net), REG_OK);
    assert_int_equal(ag_net_join(&c, net), REG_OK);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ag_stop(&a);
    ag_stop(&b);
    ag_stop(&c);
    it_cluster_destroy(&cluster);
    return 0;
}

/* online flag of node in network_members, as the member `viewer` sees it
 * through a fresh client on the running nodes. -1 if the call failed. */
static int member_online(struct ag *viewer, uint32_t node)
{
    struct proto_args args = {.network = net};
    struct cl_request rq = {.op = "network_members", .args = &args};
    struct cl_request lq = {.op = "lookup"};
    struct proto_args largs = {.node = node};
    struct cl_response rs;
    struct proto_arena arena;
    struct st_node n;
    char errmsg[REG_ERRMSG_SIZE];
    struct cl_client *cl = it_agent_client_sk(&cluster, -1, viewer->sk);
    int online = -1;
    /* Membership first (the members view), then the node's record. */
    if (cl_call(cl, &rq, &rs) == REG_OK) {
        cl_response_free(&rs);
        lq.args = &largs;
        proto_arena_init(&arena);
        if (cl_call(cl, &lq, &rs) == REG_OK &&
            proto_node_decode(&rs.result, &n, &arena, errmsg) == REG_OK) {
            online = n.online;
        }
        proto_arena_free(&arena);
    }
    cl_response_free(&rs);
    cl_close(cl);
    return online;
}

static bool wait_online(struct ag *viewer, uint32_t node, int want, unsigned timeout_ms)
{
    uint64_t deadline = it_now_ms() + timeout_ms;
    while (it_now_ms() < deadline) {
        if (member_online(viewer, node) == want) {
            return true;
        }
        it_sleep_ms(200);
    }
    return false;
}

static bool delivered(struct ag *from, struct ag *to, int lfd, const char *msg)
{
    struct agent_ipc_msg m;
    uint8_t buf[4096];
    uint64_t deadline = it_now_ms() + 15000;
    while (it_now_ms() < deadline) {
        if (ag_send(from, to->node, 80, msg) == REG_OK &&
            ag_event(lfd, 1000, &m, buf, sizeof buf) == REG_OK && strcmp(m.ev, "dgram") == 0) {
            return true;
        }
    }
    return false;
}

static void test_heartbeats_survive_leader_kill(void **state)
{
    int leader, lfd;
    (void)state;
    assert_true(wait_online(&a, b.node, 1, 10000));
    assert_true(wait_online(&b, a.node, 1, 10000));
    lfd = ag_listen(&b, 80, false);
    assert_true(delivered(&a, &b, lfd, "before"));

    leader = it_wait_leader(&cluster, 10000);
    assert_true(leader >= 0);
    it_node_kill(&cluster, (unsigned)leader);
    assert_true(it_wait_leader(&cluster, 15000) >= 0);

    /* The control: an agent that stops heartbeating goes offline. */
    ag_stop(&c);
    assert_true(wait_online(&a, c.node, 0, 15000));
    /* Well past the 3 s threshold of the new leadership, the running
     * agents are still online: they found the new leader on their own. */
    it_sleep_ms(4000);
    assert_int_equal(member_online(&a, b.node), 1);
    assert_int_equal(member_online(&b, a.node), 1);
    /* And the new leader admits their traffic. */
    assert_true(delivered(&a, &b, lfd, "after"));
    close(lfd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_heartbeats_survive_leader_kill),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
