/* Agents against a three-node cluster: port policies and bilateral trust.
 *   - enterprise network: a stream on port 1001 is torn down when
 *     allowed_ports=80 is set; then port 80 is admitted and 1001 dropped in
 *     silence (datagram and connection request);
 *   - trust (handshake + approve) allows every port without a network,
 *     and the receiving daemon mirrors it into trust.json;
 *   - after untrust returns, the next datagram is dropped and trust.json
 *     loses the peer. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>
#include <jansson.h>

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

static bool got_dgram(int fd, const char *want, int timeout_ms)
{
    struct agent_ipc_msg m;
    uint8_t buf[4096];
    uint64_t deadline = it_now_ms() + (uint64_t)timeout_ms;
    while (it_now_ms() < deadline) {
        if (ag_event(fd, (int)(deadline - it_now_ms()), &m, buf, sizeof buf) != REG_OK) {
            return false;
        }
        if (strcmp(m.ev, "dgram") == 0 && m.data_len == strlen(want) &&
            memcmp(m.data, want, m.data_len) == 0) {
            return true;
        }
    }
    return false;
}

static void test_port_policy(void **state)
{
    uint16_t ports[] = {80};
    int l80, l1001, fd, cfd = -1;
    uint32_t net;
    (void)state;
    struct agent_ipc_msg m;
    uint8_t buf[4096];
    int open1001 = -1;
    l80 = ag_listen(&b, 80, true);
    l1001 = ag_listen(&b, 1001, true);
    net = ag_net_create(&b, "prod", true);
    assert_int_equal(ag_net_join(&a, net), REG_OK);
    /* No policy yet: 1001 is open, a stream on it is established. */
    assert_int_equal(ag_send(&a, b.node, 1001, "before policy"), REG_OK);
    assert_true(got_dgram(l1001, "before policy", 5000));
    assert_int_equal(ag_connect(&a, b.node, 1001, &open1001), REG_OK);
    /* The policy change returns: the 1001 stream is torn down. */
    assert_int_equal(ag_net_ports(&b, net, ports, 1), REG_OK);
    do {
        assert_int_equal(ag_event(open1001, 10000, &m, buf, sizeof buf), REG_OK);
    } while (strcmp(m.ev, "close") != 0);
    assert_string_equal(m.reason, "revoked");
    close(open1001);

    assert_int_equal(ag_send(&a, b.node, 80, "to 80"), REG_OK);
    assert_true(got_dgram(l80, "to 80", 5000));
    /* The sender may resolve b (shared network), but b drops port 1001. */
    assert_int_equal(ag_send(&a, b.node, 1001, "to 1001"), REG_OK);
    assert_false(got_dgram(l1001, "to 1001", 1500));
    fd = ag_forge_dgram(&a, &b, 1001, "forged 1001");
    assert_false(ag_udp_answered(fd, 500));
    close(fd);
    assert_false(got_dgram(l1001, "forged 1001", 500));
    /* A connection request to 1001 gets no answer at all. */
    assert_int_equal(ag_connect(&a, b.node, 1001, &cfd), REG_TIMEOUT);
    assert_int_equal(ag_connect(&a, b.node, 80, &cfd), REG_OK);
    close(cfd);

    /* Leave the network for the trust test. */
    assert_int_equal(ag_net_kick(&b, net, a.node), REG_OK);
    assert_int_equal(ag_send(&a, b.node, 80, "kicked"), REG_NOT_FOUND);
    close(l80);
    close(l1001);
}

/* trust.json of agent x lists peer as trusted (want) within timeout. */
static bool mirror_has(struct ag *x, uint32_t peer, bool want, int timeout_ms)
{
    char path[512];
    uint64_t deadline = it_now_ms() + (uint64_t)timeout_ms;
    snprintf(path, sizeof path, "%s/trust.json", x->home);
    while (it_now_ms() < deadline) {
        json_t *root = json_load_file(path, 0, NULL);
        json_t *list = json_object_get(root, "trusted");
        bool found = false;
        size_t i;
        json_t *e;
        json_array_foreach(list, i, e) {
            if (json_integer_value(json_object_get(e, "node_id")) == peer &&
                json_is_string(json_object_get(e, "public_key"))) {
                found = true;
            }
        }
        json_decref(root);
        if (root != NULL && found == want) {
            return true;
        }
        it_sleep_ms(100);
    }
    return false;
}

static void test_trust_allows_everything_until_untrust(void **state)
{
    struct st_cmd cmd;
    int l1001, fd;
    (void)state;
    l1001 = ag_listen(&b, 1001, false);
    assert_int_equal(ag_send(&a, b.node, 1001, "no trust"), REG_NOT_FOUND);

    memset(&cmd, 0, sizeof cmd);
    cmd.op = ST_CMD_HANDSHAKE;
    cmd.node = b.node;
    snprintf(cmd.text, sizeof cmd.text, "want to collaborate");
    assert_int_equal(ag_cmd(&a, &cmd, NULL), REG_OK);
    memset(&cmd, 0, sizeof cmd);
    cmd.op = ST_CMD_APPROVE;
    cmd.node = a.node;
    assert_int_equal(ag_cmd(&b, &cmd, NULL), REG_OK);

    assert_int_equal(ag_send(&a, b.node, 1001, "trusted"), REG_OK);
    assert_true(got_dgram(l1001, "trusted", 5000));
    assert_true(mirror_has(&b, a.node, true, 10000));
    assert_true(mirror_has(&a, b.node, true, 10000));

    memset(&cmd, 0, sizeof cmd);
    cmd.op = ST_CMD_UNTRUST;
    cmd.node = a.node;
    assert_int_equal(ag_cmd(&b, &cmd, NULL), REG_OK);
    fd = ag_forge_dgram(&a, &b, 1001, "after untrust");
    assert_false(ag_udp_answered(fd, 500));
    close(fd);
    assert_false(got_dgram(l1001, "after untrust", 1000));
    assert_true(mirror_has(&b, a.node, false, 10000));
    close(l1001);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_port_policy),
        cmocka_unit_test(test_trust_allows_everything_until_untrust),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
