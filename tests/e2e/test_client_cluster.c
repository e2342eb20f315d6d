/* test_client_cluster: registry/client against real pilot-registry
 * processes (tests/integration harness), checking what its users rely on:
 * failover along the endpoint list, following the leader hint in redirect
 * mode, the raft index of each answer, the (client, seq) contract that makes
 * a resent write apply once, and the outcome classes when the cluster loses
 * quorum (never a false "ok", never a false "not applied" once sent). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "harness.h"

static struct cl_client *open_opts(const char *eps, const uint8_t *sk, uint64_t client_id,
                                   bool redirect, uint32_t deadline_ms)
{
    struct cl_options o;
    struct cl_client *cl = NULL;
    char msg[REG_ERRMSG_SIZE];

    memset(&o, 0, sizeof o);
    o.endpoints = eps;
    o.secret_key = sk;
    o.client_id = client_id;
    o.redirect = redirect;
    o.deadline_ms = deadline_ms;
    o.connect_timeout_ms = 500;
    o.attempt_timeout_ms = 2000;
    o.backoff_max_ms = 200;
    assert_int_equal(cl_open(&o, &cl, msg), REG_OK);
    return cl;
}

static void all_eps(struct it_cluster *c, char *buf, size_t cap, const char *first)
{
    size_t off = (size_t)snprintf(buf, cap, "%s", first != NULL ? first : "");
    for (unsigned i = 0; i < c->n; i++)
        off += (size_t)snprintf(buf + off, cap - off, "%s%s", off ? "," : "",
                                c->nodes[i].client_addr);
}

static int create_net(struct cl_client *cl, const char *name, struct cl_response *resp)
{
    struct st_cmd cmd;

    memset(&cmd, 0, sizeof cmd);
    cmd.op = ST_CMD_NET_CREATE;
    snprintf(cmd.name, sizeof cmd.name, "%s", name);
    cmd.join_rule = ST_JOIN_OPEN;
    return it_call_cmd(cl, &cmd, resp);
}

/* Number of networks called name, seen by a linearizable network_list. */
static int count_named(struct cl_client *cl, const char *name)
{
    struct cl_request rq = {.op = "network_list"};
    struct cl_response resp;
    struct proto_val arr, v;
    struct proto_iter it;
    char msg[REG_ERRMSG_SIZE], got[ST_NETNAME_MAX + 1];
    int n = 0;

    assert_int_equal(cl_call(cl, &rq, &resp), REG_OK);
    assert_int_equal(proto_get_array(&resp.result, "networks", PROTO_REQ, 65536, &arr, msg),
                     REG_OK);
    proto_iter_init(&it, &arr);
    while (proto_iter_next(&it, &v)) {
        assert_int_equal(proto_get_str(&v, "name", PROTO_REQ, ST_NETNAME_MAX, got, msg), REG_OK);
        n += strcmp(got, name) == 0;
    }
    cl_response_free(&resp);
    return n;
}

static void test_client_against_cluster(void **state)
{
    (void)state;
    struct it_cluster c;
    uint8_t sk[64], pk[32];
    char eps[512], dead[32];
    struct cl_client *a, *b, *r;
    struct cl_response resp;
    struct st_result res;
    char msg[REG_ERRMSG_SIZE];
    uint64_t net_a = 0, index1, index2;
    uint32_t me = 0;
    int leader, follower, rv;

    assert_true(sodium_init() >= 0);
    it_cluster_start(&c, 3);
    leader = it_wait_leader(&c, 20000);
    assert_true(leader >= 0);
    follower = (leader + 1) % 3;
    crypto_sign_keypair(pk, sk);

    /* Failover: the first endpoint is down, the call still lands. */
    {
        int fd = it_raw_connect("127.0.0.1:1");
        assert_true(fd < 0);
    }
    snprintf(dead, sizeof dead, "127.0.0.1:1");
    all_eps(&c, eps, sizeof eps, dead);
    r = open_opts(eps, sk, 0, false, 15000);
    assert_int_equal(it_register(r, "client-test", false, &me), REG_OK);
    assert_true(me >= ST_FIRST_NODE_ID);
    assert_string_not_equal(cl_connected_to(r), dead);
    me = 0;
    assert_int_equal(cl_whoami(r, &me, msg), REG_OK);
    assert_true(me >= ST_FIRST_NODE_ID);
    cl_close(r);

    /* Writes carry their raft index, increasing. */
    a = open_opts(eps, sk, 0x5eed, false, 15000);
    assert_int_equal(cl_next_seq(a), 1);
    rv = create_net(a, "dedup-a", &resp);
    assert_int_equal(rv, REG_OK);
    assert_int_equal(resp.seq, 1);
    index1 = resp.index;
    assert_true(index1 > 0);
    assert_int_equal(proto_result_decode(&resp.result, ST_CMD_NET_CREATE, &res, msg), REG_OK);
    net_a = res.network;
    assert_true(net_a >= 1);
    cl_response_free(&resp);

    /* Same (client, seq) resent, as a retry after an unknown outcome is: the
     * state machine answers the first result and applies nothing new. A
     * second client with the same client id and a fresh counter reproduces
     * exactly that resend. */
    b = open_opts(eps, sk, 0x5eed, false, 15000);
    rv = create_net(b, "dedup-b", &resp); /* seq 1 again */
    assert_int_equal(rv, REG_OK);
    assert_int_equal(proto_result_decode(&resp.result, ST_CMD_NET_CREATE, &res, msg), REG_OK);
    assert_int_equal(res.network, net_a);
    assert_true(res.duplicate);
    cl_response_free(&resp);
    assert_int_equal(count_named(a, "dedup-b"), 0);
    assert_int_equal(count_named(a, "dedup-a"), 1);
    rv = create_net(b, "dedup-c", &resp); /* seq 2: new, applied */
    assert_int_equal(rv, REG_OK);
    index2 = resp.index;
    assert_true(index2 > index1);
    cl_response_free(&resp);
    assert_int_equal(count_named(a, "dedup-c"), 1);

    /* Redirect mode through a follower: the client follows the leader hint. */
    r = open_opts(c.nodes[follower].client_addr, sk, 0, true, 15000);
    rv = create_net(r, "via-redirect", &resp);
    assert_int_equal(rv, REG_OK);
    assert_string_equal(resp.leader_addr, c.nodes[leader].client_addr);
    assert_string_equal(cl_connected_to(r), c.nodes[leader].client_addr);
    cl_response_free(&resp);

    /* Every allocation of a connect + read + write may fail: the call says
     * nomem or succeeds, and nothing leaks (ASan). */
    for (unsigned long n = 1; n <= 60; n++) {
        struct cl_client *s = open_opts(eps, sk, 0, false, 5000);
        struct proto_args la;
        struct cl_request lq = {.op = "lookup", .args = &la};

        memset(&la, 0, sizeof la);
        la.node = me;
        reg_alloc_fail_at(n);
        rv = cl_call(s, &lq, &resp);
        assert_true(rv == REG_OK || rv == REG_NOMEM);
        cl_response_free(&resp);
        rv = create_net(s, "sweep", &resp);
        reg_alloc_fail_at(0);
        assert_true(rv == REG_OK || rv == REG_NOMEM || rv == REG_ALREADY_EXISTS ||
                    rv == REG_UNKNOWN_OUTCOME);
        cl_response_free(&resp);
        cl_close(s);
    }
    assert_int_equal(count_named(a, "sweep"), 1);

    /* Quorum lost: a write is never reported applied; once sent it is
     * unknown, else no leader / unavailable. */
    cl_close(b);
    b = open_opts(eps, sk, 0, false, 2500);
    it_node_stop(&c, (unsigned)follower);
    it_node_stop(&c, (unsigned)((leader + 2) % 3));
    rv = create_net(b, "maybe", &resp);
    assert_true(rv == REG_UNKNOWN_OUTCOME || rv == REG_NO_LEADER || rv == REG_UNAVAILABLE ||
                rv == REG_TIMEOUT);
    assert_false(resp.has_result);
    assert_true(strlen(resp.message) > 0);
    cl_response_free(&resp);

    /* Back to quorum: the client carries on, and the ambiguous write
     * happened at most once. */
    it_node_restart(&c, (unsigned)follower);
    it_node_restart(&c, (unsigned)((leader + 2) % 3));
    assert_true(it_wait_leader(&c, 20000) >= 0);
    assert_true(count_named(a, "maybe") <= 1);
    rv = create_net(a, "maybe", &resp);
    assert_true(rv == REG_OK || rv == REG_ALREADY_EXISTS);
    cl_response_free(&resp);
    assert_int_equal(count_named(a, "maybe"), 1);

    cl_close(a);
    cl_close(b);
    cl_close(r);
    it_assert_converged(&c, 10000);
    it_cluster_destroy(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_client_against_cluster),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
