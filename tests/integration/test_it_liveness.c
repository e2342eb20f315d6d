/* Liveness: heartbeats (sent to any node, forwarded to the leader) keep an
 * agent online; silence longer than --offline-after makes the leader
 * replicate an offline transition, visible on every node; the next
 * heartbeat brings it back online. Registration counts as a heartbeat. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

#define OFFLINE_AFTER_MS 1500

static int heartbeat(struct cl_client *cl)
{
    struct cl_request rq;
    struct cl_response resp;
    int rv;
    memset(&rq, 0, sizeof rq);
    memset(&resp, 0, sizeof resp);
    rq.op = "heartbeat";
    rv = cl_call(cl, &rq, &resp);
    cl_response_free(&resp);
    return rv;
}

/* online flag of node id as seen (linearizably) through admin. */
static bool is_online(struct cl_client *admin, uint32_t id)
{
    struct cl_request rq;
    struct cl_response resp;
    struct proto_args args;
    char errmsg[REG_ERRMSG_SIZE];
    bool online = false;
    memset(&rq, 0, sizeof rq);
    memset(&resp, 0, sizeof resp);
    memset(&args, 0, sizeof args);
    args.node = id;
    rq.op = "lookup";
    rq.args = &args;
    assert_int_equal(cl_call(admin, &rq, &resp), REG_OK);
    assert_int_equal(proto_get_bool(&resp.result, "online", PROTO_REQ, &online, errmsg), REG_OK);
    cl_response_free(&resp);
    return online;
}

static void test_heartbeats(void **state)
{
    static const char *const extra[] = {"--offline-after", "1500", "--liveness-interval", "100",
                                        NULL};
    struct it_cluster c;
    uint8_t sk[64];
    struct cl_client *agent, *admin[3];
    uint32_t id = 0;
    uint64_t t0, end;
    unsigned i;
    (void)state;
    it_cluster_start_args(&c, 3, extra);
    agent = it_agent_client(&c, 1, sk);
    for (i = 0; i < 3; i++) {
        admin[i] = it_admin_client(&c, (int)i);
    }
    assert_int_equal(it_register(agent, "pulse", true, &id), REG_OK);
    assert_true(is_online(admin[0], id));

    /* Heartbeats every 300 ms for twice the threshold: stays online. */
    for (i = 0; i < 10; i++) {
        assert_int_equal(heartbeat(agent), REG_OK);
        it_sleep_ms(300);
    }
    for (i = 0; i < 3; i++) {
        assert_true(is_online(admin[i], id));
    }

    /* Silence: goes offline, on every node. */
    t0 = it_now_ms();
    end = t0 + 15000;
    while (is_online(admin[0], id)) {
        assert_true(it_now_ms() < end);
        it_sleep_ms(100);
    }
    printf("liveness: offline %llu ms after the last heartbeat (threshold %d ms)\n",
           (unsigned long long)(it_now_ms() - t0), OFFLINE_AFTER_MS);
    for (i = 0; i < 3; i++) {
        assert_false(is_online(admin[i], id));
    }

    /* One heartbeat: back online. */
    assert_int_equal(heartbeat(agent), REG_OK);
    end = it_now_ms() + 10000;
    while (!is_online(admin[2], id)) {
        assert_true(it_now_ms() < end);
        it_sleep_ms(50);
    }
    cl_close(agent);
    for (i = 0; i < 3; i++) {
        cl_close(admin[i]);
    }
    it_assert_converged(&c, 10000);
    it_cluster_destroy(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_heartbeats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
