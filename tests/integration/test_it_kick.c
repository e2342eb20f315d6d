/* Once network_kick returns, no node of the cluster answers a resolve as if
 * the kicked agent were still a member (DESIGN.md §1): 200 resolves, each
 * sent to a randomly chosen node, are all denied. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "harness.h"

static uint32_t write_u32(struct cl_client *cl, const struct st_cmd *cmd, const char *key)
{
    struct cl_response resp;
    uint64_t v = 0;
    memset(&resp, 0, sizeof resp);
    assert_int_equal(it_call_cmd(cl, cmd, &resp), REG_OK);
    if (key != NULL) {
        assert_true(it_map_u64(&resp.result, key, &v));
    }
    cl_response_free(&resp);
    return (uint32_t)v;
}

static void test_kick_denies_everywhere(void **state)
{
    struct it_cluster c;
    uint8_t ska[64], skb[64];
    struct cl_client *a, *b[3];
    struct st_cmd cmd;
    uint32_t ida = 0, idb = 0, net;
    unsigned i, denied = 0;
    (void)state;
    it_cluster_start(&c, 3);
    a = it_agent_client(&c, -1, ska);
    b[0] = it_agent_client(&c, 0, skb);
    for (i = 1; i < 3; i++) {
        b[i] = it_agent_client_sk(&c, (int)i, skb);
    }
    assert_int_equal(it_register(a, "owner-a", false, &ida), REG_OK);
    assert_int_equal(it_register(b[1], "member-b", false, &idb), REG_OK);

    memset(&cmd, 0, sizeof cmd);
    cmd.op = ST_CMD_NET_CREATE;
    snprintf(cmd.name, sizeof cmd.name, "team");
    cmd.join_rule = ST_JOIN_OPEN;
    net = write_u32(a, &cmd, "network_id");
    assert_true(net > 0);
    memset(&cmd, 0, sizeof cmd);
    cmd.op = ST_CMD_NET_JOIN;
    cmd.network = net;
    write_u32(b[2], &cmd, NULL);

    /* While both are members, every node lets B resolve private A. */
    for (i = 0; i < 3; i++) {
        assert_int_equal(it_resolve(b[i], ida), REG_OK);
    }

    memset(&cmd, 0, sizeof cmd);
    cmd.op = ST_CMD_NET_KICK;
    cmd.network = net;
    cmd.node = idb;
    write_u32(a, &cmd, NULL);

    for (i = 0; i < 200; i++) {
        unsigned k = randombytes_uniform(3);
        int rv = it_resolve(b[k], ida);
        assert_int_equal(rv, REG_NOT_FOUND);
        denied++;
    }
    printf("kick: %u/200 resolves denied across 3 nodes\n", denied);
    for (i = 0; i < 3; i++) {
        assert_string_equal(cl_connected_to(b[i]), c.nodes[i].client_addr);
        cl_close(b[i]);
    }
    cl_close(a);
    it_assert_converged(&c, 10000);
    it_cluster_destroy(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kick_denies_everywhere),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
