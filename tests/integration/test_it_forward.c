/* A write sent to a follower is forwarded to the leader and applied on
 * every node; a stale read on a follower carries its applied index;
 * redirect:true gets not_leader with the leader's address instead. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

static void test_write_via_follower(void **state)
{
    struct it_cluster c;
    uint8_t sk[64];
    struct cl_client *agent, *admin;
    uint32_t id = 0;
    int leader, follower;
    unsigned i;
    (void)state;
    it_cluster_start(&c, 3);
    leader = it_wait_leader(&c, 10000);
    assert_true(leader >= 0);
    follower = (leader + 1) % 3;

    agent = it_agent_client(&c, follower, sk);
    assert_int_equal(it_register(agent, "alpha", true, &id), REG_OK);
    assert_true(id >= ST_FIRST_NODE_ID);
    assert_string_equal(cl_connected_to(agent), c.nodes[follower].client_addr);

    /* Visible through every node, linearizably (forwarded reads). */
    for (i = 0; i < 3; i++) {
        admin = it_admin_client(&c, (int)i);
        assert_int_equal(it_lookup_admin(admin, id), REG_OK);
        cl_close(admin);
    }
    cl_close(agent);
    it_assert_converged(&c, 10000);
    /* A healthy cluster: every node serves (what /readyz says), and only the
     * leader reports its leader-init readiness. */
    for (i = 0; i < 3; i++) {
        struct it_status st;
        assert_int_equal(it_status(&c, i, &st), REG_OK);
        assert_true(st.serving);
        assert_true(st.ready == (strcmp(st.state, "leader") == 0));
    }
    it_cluster_destroy(&c);
}

static void test_stale_and_redirect(void **state)
{
    struct it_cluster c;
    uint8_t sk[64];
    struct cl_client *agent, *cl;
    struct cl_options opts;
    struct cl_request rq;
    struct cl_response resp;
    struct proto_args args;
    char errmsg[REG_ERRMSG_SIZE];
    uint32_t id = 0;
    int leader, follower;
    (void)state;
    it_cluster_start(&c, 3);
    leader = it_wait_leader(&c, 10000);
    follower = (leader + 2) % 3;
    agent = it_agent_client(&c, leader, sk);
    assert_int_equal(it_register(agent, "beta", true, &id), REG_OK);
    cl_close(agent);
    it_assert_converged(&c, 10000);

    /* Stale lookup served by the follower itself, with its applied index. */
    cl = it_admin_client(&c, follower);
    memset(&rq, 0, sizeof rq);
    memset(&resp, 0, sizeof resp);
    rq.op = "lookup";
    memset(&args, 0, sizeof args);
    args.node = id;
    rq.args = &args;
    rq.stale = true;
    assert_int_equal(cl_call(cl, &rq, &resp), REG_OK);
    assert_true(resp.index > 0);
    assert_int_equal(resp.node_raft_id, c.nodes[follower].id);
    /* The hint names the leader (the current one, should it have moved). */
    assert_true(resp.leader_id >= 1 && resp.leader_id <= 3);
    assert_string_equal(resp.leader_addr, c.nodes[resp.leader_id - 1].client_addr);
    cl_response_free(&resp);
    cl_close(cl);

    /* redirect:true: the follower names the leader instead of forwarding;
     * the client library follows the hint to the leader. */
    memset(&opts, 0, sizeof opts);
    opts.endpoints = c.nodes[follower].client_addr;
    opts.admin_token = c.admin_token;
    opts.redirect = true;
    assert_int_equal(cl_open(&opts, &cl, errmsg), REG_OK);
    rq.stale = false;
    assert_int_equal(cl_call(cl, &rq, &resp), REG_OK);
    assert_int_equal(resp.node_raft_id, resp.leader_id);
    assert_string_equal(cl_connected_to(cl), c.nodes[resp.leader_id - 1].client_addr);
    cl_response_free(&resp);
    cl_close(cl);
    it_assert_converged(&c, 10000);
    it_cluster_destroy(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_via_follower),
        cmocka_unit_test(test_stale_and_redirect),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
