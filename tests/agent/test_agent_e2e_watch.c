/* The registry's `watch` long poll (registry/server/watch.c), which agent
 * daemons use to tear down connections after a revocation:
 *   - since=0 answers at once with the current index (the baseline);
 *   - a poll parked on a follower is answered changed=true when a kick
 *     touching the caller is applied;
 *   - a poll by an agent the kick does not touch is answered only when the
 *     hold expires, with changed=false;
 *   - an unregistered key gets not_found. */
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <setjmp.h>
#include <cmocka.h>

#include "harness.h"

static struct it_cluster cluster;

struct poll_result {
    struct cl_client *cl;
    uint64_t since;
    int code;
    uint64_t index;
    bool changed;
};

static int watch(struct cl_client *cl, uint64_t since, uint64_t *index, bool *changed)
{
    struct proto_args a = {.since = since};
    struct cl_request rq = {.op = "watch", .args = &a};
    struct cl_response rs;
    char errmsg[REG_ERRMSG_SIZE];
    int rv = cl_call(cl, &rq, &rs);
    if (rv == REG_OK) {
        *changed = false;
        if (!it_map_u64(&rs.result, "index", index) ||
            proto_get_bool(&rs.result, "changed", PROTO_REQ, changed, errmsg) != REG_OK) {
            rv = REG_MALFORMED;
        }
    }
    cl_response_free(&rs);
    return rv;
}

static void *poll_thread(void *arg)
{
    struct poll_result *p = arg;
    p->code = watch(p->cl, p->since, &p->index, &p->changed);
    return NULL;
}

/* A client with a long attempt timeout (the server holds a poll 15 s). */
static struct cl_client *long_client(int node, const uint8_t sk[64])
{
    struct cl_options o;
    struct cl_client *cl = NULL;
    char errmsg[REG_ERRMSG_SIZE];
    memset(&o, 0, sizeof o);
    o.endpoints = cluster.nodes[node].client_addr;
    o.secret_key = sk;
    o.attempt_timeout_ms = 30000;
    o.deadline_ms = 40000;
    assert_int_equal(cl_open(&o, &cl, errmsg), REG_OK);
    return cl;
}

static void test_watch(void **state)
{
    uint8_t skx[64], sky[64], skz[64], sku[64];
    struct cl_client *x, *y, *z, *u, *yw, *zw;
    uint32_t nx, ny, nz;
    uint64_t base = 0, idx = 0, v = 0;
    bool changed = true;
    struct st_cmd cmd;
    struct cl_response rs;
    struct poll_result py, pz;
    pthread_t ty, tz;
    int leader, follower;
    (void)state;
    it_cluster_start(&cluster, 3);
    leader = it_wait_leader(&cluster, 10000);
    assert_true(leader >= 0);
    follower = (leader + 1) % 3;
    x = it_agent_client(&cluster, -1, skx);
    y = it_agent_client(&cluster, -1, sky);
    z = it_agent_client(&cluster, -1, skz);
    u = it_agent_client(&cluster, -1, sku);
    assert_int_equal(it_register(x, NULL, false, &nx), REG_OK);
    assert_int_equal(it_register(y, NULL, false, &ny), REG_OK);
    assert_int_equal(it_register(z, NULL, false, &nz), REG_OK);

    memset(&cmd, 0, sizeof cmd);
    cmd.op = ST_CMD_NET_CREATE;
    snprintf(cmd.name, sizeof cmd.name, "lab");
    assert_int_equal(it_call_cmd(x, &cmd, &rs), REG_OK);
    assert_true(it_map_u64(&rs.result, "network_id", &v));
    cl_response_free(&rs);
    memset(&cmd, 0, sizeof cmd);
    cmd.op = ST_CMD_NET_JOIN;
    cmd.network = (uint32_t)v;
    assert_int_equal(it_call_cmd(y, &cmd, &rs), REG_OK);
    cl_response_free(&rs);

    /* Unregistered caller. */
    assert_int_equal(watch(u, 0, &idx, &changed), REG_NOT_FOUND);

    /* Baselines, then two parked polls on a follower. */
    yw = long_client(follower, sky);
    zw = long_client(follower, skz);
    /* A watch is answered from the follower's applied state, which may not
     * hold y's registration yet (it learns commits with the next
     * AppendEntries): retry the baseline for a bounded time. */
    int brv = REG_NOT_FOUND;
    for (int tries = 0; tries < 100 && brv == REG_NOT_FOUND; tries++) {
        brv = watch(yw, 0, &base, &changed);
        if (brv == REG_NOT_FOUND) {
            it_sleep_ms(50);
        }
    }
    assert_int_equal(brv, REG_OK);
    assert_false(changed);
    assert_true(base > 0);
    /* Let the follower apply up to the leader's index before parking. */
    it_sleep_ms(300);
    assert_int_equal(watch(yw, 0, &base, &changed), REG_OK);
    py = (struct poll_result){.cl = yw, .since = base};
    pz = (struct poll_result){.cl = zw, .since = base};
    assert_int_equal(pthread_create(&ty, NULL, poll_thread, &py), 0);
    assert_int_equal(pthread_create(&tz, NULL, poll_thread, &pz), 0);
    it_sleep_ms(500);

    memset(&cmd, 0, sizeof cmd);
    cmd.op = ST_CMD_NET_KICK;
    cmd.network = (uint32_t)v;
    cmd.node = ny;
    assert_int_equal(it_call_cmd(x, &cmd, &rs), REG_OK);
    cl_response_free(&rs);

    pthread_join(ty, NULL);
    assert_int_equal(py.code, REG_OK);
    assert_true(py.changed);
    assert_true(py.index > base);
    pthread_join(tz, NULL);
    assert_int_equal(pz.code, REG_OK);
    assert_false(pz.changed);

    cl_close(x);
    cl_close(y);
    cl_close(z);
    cl_close(u);
    cl_close(yw);
    cl_close(zw);
    it_cluster_destroy(&cluster);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_watch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
