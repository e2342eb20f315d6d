/* test_state_access: the access rule and directory privacy (DESIGN.md §6,
 * registry-reference.md §3, privacy_test.go scenarios): private by default,
 * public reachable, trust both ways, revoke blocks, membership not
 * transitive, backbone grants nothing, port policies, kick revokes at once,
 * lookup / resolve answers identical for hidden and missing nodes. */
#include "test_state_util.h"

#define ID(agent) ((agent) + ST_FIRST_NODE_ID - 1)

static struct st_state *with_agents(uint32_t n)
{
    struct st_state *s = st_new();
    for (uint32_t a = 1; a <= n; a++) {
        assert_int_equal(tu_register(s, a, false, NULL), ID(a));
    }
    return s;
}

static void test_private_by_default_and_public(void **state)
{
    (void)state;
    struct st_state *s = with_agents(2);
    struct st_node n;
    assert_false(st_may_reach(s, ID(1), ID(2), 0));
    assert_int_equal(st_resolve(s, ID(1), ID(2), &n), REG_NOT_FOUND);
    /* Hidden looks exactly like missing. */
    assert_int_equal(st_lookup(s, ID(1), ID(2), &n), REG_NOT_FOUND);
    assert_int_equal(st_lookup(s, ID(1), 9999, &n), REG_NOT_FOUND);
    assert_int_equal(st_lookup(s, ID(2), ID(2), &n), REG_OK); /* self */
    assert_int_equal(st_lookup(s, 0, ID(2), &n), REG_OK);     /* admin */
    assert_int_equal(st_resolve(s, 9999, ID(2), &n), REG_UNAUTHENTICATED);
    struct st_cmd c;
    tu_cmd(&c, ST_CMD_SET_VISIBILITY, 2);
    c.flag = true;
    assert_int_equal(tu_apply(s, &c, NULL), REG_OK);
    assert_true(st_may_reach(s, ID(1), ID(2), 0));
    assert_true(st_may_reach(s, ID(1), ID(2), 22));
    assert_int_equal(st_resolve(s, ID(1), ID(2), &n), REG_OK);
    assert_string_equal(n.endpoint, "10.0.0.2:4000");
    /* A public requester gains nothing over a private target. */
    assert_false(st_may_reach(s, ID(2), ID(1), 0));
    assert_int_equal(st_resolve(s, ID(2), ID(1), &n), REG_NOT_FOUND);
    assert_false(st_may_reach(s, ID(1), 9999, 0));
    assert_false(st_may_reach(s, 9999, ID(2), 0));
    st_free(s);
}

static void test_trust_both_ways_and_revoke(void **state)
{
    (void)state;
    struct st_state *s = with_agents(3);
    struct st_node n;
    struct st_result r;
    assert_int_equal(tu_trust_op(s, ST_CMD_HANDSHAKE, 1, ID(2), "x", &r), REG_OK);
    assert_false(st_may_reach(s, ID(1), ID(2), 0)); /* pending grants nothing */
    assert_int_equal(tu_trust_op(s, ST_CMD_APPROVE, 2, ID(1), NULL, &r), REG_OK);
    assert_true(st_may_reach(s, ID(1), ID(2), 0));
    assert_true(st_may_reach(s, ID(2), ID(1), 443));
    assert_int_equal(st_resolve(s, ID(2), ID(1), &n), REG_OK);
    assert_int_equal(st_lookup(s, ID(1), ID(2), &n), REG_OK);
    /* Not transitive through trust. */
    assert_int_equal(tu_trust_op(s, ST_CMD_HANDSHAKE, 3, ID(2), "x", &r), REG_OK);
    assert_int_equal(tu_trust_op(s, ST_CMD_APPROVE, 2, ID(3), NULL, &r), REG_OK);
    assert_false(st_may_reach(s, ID(1), ID(3), 0));
    assert_false(st_may_reach(s, ID(3), ID(1), 0));
    assert_int_equal(tu_trust_op(s, ST_CMD_UNTRUST, 1, ID(2), NULL, &r), REG_OK);
    assert_false(st_may_reach(s, ID(1), ID(2), 0));
    assert_false(st_may_reach(s, ID(2), ID(1), 0));
    assert_int_equal(st_resolve(s, ID(2), ID(1), &n), REG_NOT_FOUND);
    st_free(s);
}

static void test_networks_not_transitive_backbone_nothing(void **state)
{
    (void)state;
    struct st_state *s = with_agents(3);
    uint32_t n1 = tu_net_create(s, 1, "one", ST_JOIN_OPEN, NULL, false);
    uint32_t n2 = tu_net_create(s, 3, "two", ST_JOIN_OPEN, NULL, false);
    assert_int_equal(tu_join(s, 2, n1, NULL), REG_OK);
    assert_int_equal(tu_join(s, 2, n2, NULL), REG_OK);
    assert_true(st_may_reach(s, ID(1), ID(2), 0));
    assert_true(st_may_reach(s, ID(3), ID(2), 0));
    assert_false(st_may_reach(s, ID(1), ID(3), 0));
    assert_false(st_may_reach(s, ID(3), ID(1), 0));
    /* Everyone is on the backbone; it grants nothing. */
    struct st_state *b = with_agents(2);
    assert_false(st_may_reach(b, ID(1), ID(2), 0));
    struct st_node n;
    assert_int_equal(st_resolve_hostname(s, ID(1), "nobody", &n), REG_NOT_FOUND);
    st_free(b);
    st_free(s);
}

static void test_port_policy(void **state)
{
    (void)state;
    struct st_state *s = with_agents(2);
    uint32_t net = tu_net_create(s, 1, "web", ST_JOIN_OPEN, NULL, true);
    assert_int_equal(tu_join(s, 2, net, NULL), REG_OK);
    struct st_cmd c;
    tu_cmd(&c, ST_CMD_NET_POLICY, 1);
    c.network = net;
    c.policy.has_allowed_ports = true;
    c.policy.n_ports = 3;
    c.policy.ports[0] = 80;
    c.policy.ports[1] = 443;
    c.policy.ports[2] = 1001;
    assert_int_equal(tu_apply(s, &c, NULL), REG_OK);
    assert_true(st_may_reach(s, ID(1), ID(2), 80));
    assert_true(st_may_reach(s, ID(1), ID(2), 1001));
    assert_false(st_may_reach(s, ID(1), ID(2), 22));
    assert_true(st_may_reach(s, ID(1), ID(2), 0)); /* any port: resolve */
    /* Port policies are an enterprise control: a standard network refuses
     * one and stays unrestricted inside (seed "Networks"). */
    uint32_t std = tu_net_create(s, 1, "std", ST_JOIN_OPEN, NULL, false);
    struct st_result refused;
    c.network = std;
    assert_int_equal(tu_apply(s, &c, &refused), REG_FAILED_PRECONDITION);
    assert_non_null(strstr(refused.message, "enterprise"));
    c.network = net;
    /* A second shared network without a port policy opens every port. */
    uint32_t open = tu_net_create(s, 1, "all", ST_JOIN_OPEN, NULL, false);
    assert_int_equal(tu_join(s, 2, open, NULL), REG_OK);
    assert_true(st_may_reach(s, ID(1), ID(2), 22));
    assert_int_equal(tu_net_op(s, ST_CMD_NET_KICK, 1, open, ID(2)), REG_OK);
    assert_false(st_may_reach(s, ID(1), ID(2), 22));
    /* Trust is not limited by network port policy. */
    struct st_result r;
    assert_int_equal(tu_trust_op(s, ST_CMD_HANDSHAKE, 1, ID(2), "x", &r), REG_OK);
    assert_int_equal(r.status, ST_STATUS_APPROVED); /* co-members */
    assert_true(st_may_reach(s, ID(1), ID(2), 22));
    /* Clearing the ports allows all. */
    c.policy.n_ports = 0;
    assert_int_equal(tu_trust_op(s, ST_CMD_UNTRUST, 1, ID(2), NULL, &r), REG_OK);
    assert_int_equal(tu_apply(s, &c, NULL), REG_OK);
    assert_true(st_may_reach(s, ID(1), ID(2), 22));
    st_free(s);
}

static void test_kick_revokes_at_once(void **state)
{
    (void)state;
    struct st_state *s = with_agents(2);
    uint32_t net = tu_net_create(s, 1, "lab", ST_JOIN_OPEN, NULL, false);
    assert_int_equal(tu_join(s, 2, net, NULL), REG_OK);
    struct st_node n;
    assert_int_equal(st_resolve(s, ID(1), ID(2), &n), REG_OK);
    assert_int_equal(st_lookup(s, ID(1), ID(2), &n), REG_OK);
    assert_int_equal(tu_net_op(s, ST_CMD_NET_KICK, 1, net, ID(2)), REG_OK);
    assert_false(st_may_reach(s, ID(1), ID(2), 0));
    assert_false(st_may_reach(s, ID(2), ID(1), 0));
    assert_int_equal(st_resolve(s, ID(1), ID(2), &n), REG_NOT_FOUND);
    assert_int_equal(st_lookup(s, ID(1), ID(2), &n), REG_NOT_FOUND);
    st_free(s);
}

static void test_resolve_hostname_privacy(void **state)
{
    (void)state;
    struct st_state *s = st_new();
    uint32_t a = tu_register(s, 1, false, "alice");
    uint32_t b = tu_register(s, 2, false, "bob");
    struct st_node n;
    assert_int_equal(st_resolve_hostname(s, b, "alice", &n), REG_NOT_FOUND);
    assert_int_equal(st_resolve_hostname(s, 0, "alice", &n), REG_OK);
    assert_int_equal(n.id, a);
    struct st_result r;
    assert_int_equal(tu_trust_op(s, ST_CMD_HANDSHAKE, 2, a, "x", &r), REG_OK);
    assert_int_equal(tu_trust_op(s, ST_CMD_APPROVE, 1, b, NULL, &r), REG_OK);
    assert_int_equal(st_resolve_hostname(s, b, "alice", &n), REG_OK);
    assert_int_equal(n.id, a);
    assert_string_equal(n.hostname, "alice");
    st_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_private_by_default_and_public),
        cmocka_unit_test(test_trust_both_ways_and_revoke),
        cmocka_unit_test(test_networks_not_transitive_backbone_nothing),
        cmocka_unit_test(test_port_policy),
        cmocka_unit_test(test_kick_revokes_at_once),
        cmocka_unit_test(test_resolve_hostname_privacy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
