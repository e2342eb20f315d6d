/* A fourth node started with --join asks a running cluster (through a
 * follower) to add it: it receives the state (snapshot + log), is promoted to
 * voter, appears in cluster_members, and converges to the same state hash.
 * cluster_remove then takes it out of raft and of the members map. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

/* Role of raft_id in cluster_members ("" if absent). */
static void member_role(struct cl_client *admin, uint64_t raft_id, char role[16])
{
    struct cl_request rq;
    struct cl_response resp;
    struct proto_val members, m;
    struct proto_iter it;
    char errmsg[REG_ERRMSG_SIZE];
    uint64_t id;
    role[0] = '\0';
    memset(&rq, 0, sizeof rq);
    memset(&resp, 0, sizeof resp);
    rq.op = "cluster_members";
    assert_int_equal(cl_call(admin, &rq, &resp), REG_OK);
    assert_int_equal(proto_get_array(&resp.result, "members", PROTO_REQ, 64, &members, errmsg),
                     REG_OK);
    proto_iter_init(&it, &members);
    while (proto_iter_next(&it, &m)) {
        assert_true(it_map_u64(&m, "raft_id", &id));
        if (id == raft_id) {
            assert_int_equal(proto_get_str(&m, "role", PROTO_REQ, 15, role, errmsg), REG_OK);
        }
    }
    cl_response_free(&resp);
}

static void test_join_then_remove(void **state)
{
    struct it_cluster c;
    uint8_t sk[64];
    struct cl_client *cl, *admin;
    struct cl_request rq;
    struct cl_response resp;
    struct proto_args args;
    struct it_status st;
    uint32_t ids[80];
    char role[16];
    uint64_t t0, end;
    int leader;
    unsigned i, j;
    char name[32];
    (void)state;
    it_cluster_start(&c, 3);
    /* Enough writes that the newcomer needs a snapshot (threshold 64). */
    for (i = 0; i < 80; i++) {
        cl = it_agent_client(&c, -1, sk);
        snprintf(name, sizeof name, "pre-%u", i);
        assert_int_equal(it_register(cl, name, true, &ids[i]), REG_OK);
        cl_close(cl);
    }
    leader = it_wait_leader(&c, 10000);
    t0 = it_now_ms();
    j = it_node_join(&c, (unsigned)(leader + 1) % 3);
    end = it_now_ms() + 60000;
    do {
        it_sleep_ms(100);
        assert_true(it_now_ms() < end);
    } while (it_status(&c, j, &st) != REG_OK || strcmp(st.role, "voter") != 0);
    printf("join: node 4 became a voter %llu ms after start\n",
           (unsigned long long)(it_now_ms() - t0));
    it_assert_converged(&c, 20000);

    admin = it_admin_client(&c, (int)j);
    member_role(admin, 4, role);
    assert_string_equal(role, "voter");
    /* The newcomer serves linearizable reads (forwarded) of old writes. */
    for (i = 0; i < 80; i += 10) {
        assert_int_equal(it_lookup_admin(admin, ids[i]), REG_OK);
    }
    cl_close(admin);

    admin = it_admin_client(&c, leader);
    memset(&rq, 0, sizeof rq);
    memset(&resp, 0, sizeof resp);
    memset(&args, 0, sizeof args);
    args.member.raft_id = 4;
    rq.op = "cluster_remove";
    rq.args = &args;
    assert_int_equal(cl_call(admin, &rq, &resp), REG_OK);
    cl_response_free(&resp);
    member_role(admin, 4, role);
    assert_string_equal(role, "");
    cl_close(admin);
    it_node_stop(&c, j);
    it_assert_converged(&c, 10000);
    it_cluster_destroy(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_join_then_remove),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
