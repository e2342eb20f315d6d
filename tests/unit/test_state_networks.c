/* test_state_networks: standard networks: create (name rules, duplicate,
 * join rules, token), join / leave / rejoin, backbone refusals, invite,
 * kick (and the kicked list), delete (keeps trust), transfer, ownership on
 * deregister (registry-reference.md §7 network scenarios, seed "Networks"). */
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

static int create(struct st_state *s, uint32_t agent, const char *name, uint8_t rule,
                  const char *token)
{
    struct st_cmd c;
    tu_cmd(&c, ST_CMD_NET_CREATE, agent);
    snprintf(c.name, sizeof c.name, "%s", name);
    c.join_rule = rule;
    snprintf(c.token, sizeof c.token, "%s", token != NULL ? token : "");
    return tu_apply(s, &c, NULL);
}

static void test_name_validation_and_duplicates(void **state)
{
    (void)state;
    static const char *const bad[] = {"", "Upper", "has space", "-lead", "trail-",
                                      "backbone", "a@b", "a.b"};
    static const char *const good[] = {"research-lab", "net42", "a", "my-cool-topic"};
    struct st_state *s = with_agents(1);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(create(s, 1, bad[i], ST_JOIN_OPEN, NULL), REG_INVALID_ARGUMENT);
    }
    struct st_cmd c;
    tu_cmd(&c, ST_CMD_NET_CREATE, 1);
    memset(c.name, 'a', sizeof c.name); /* > 63 */
    assert_int_equal(tu_apply(s, &c, NULL), REG_INVALID_ARGUMENT);
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        assert_int_equal(create(s, 1, good[i], ST_JOIN_OPEN, NULL), REG_OK);
    }
    assert_int_equal(create(s, 1, "net42", ST_JOIN_OPEN, NULL), REG_ALREADY_EXISTS);
    assert_int_equal(create(s, 1, "x", 7, NULL), REG_INVALID_ARGUMENT);
    assert_int_equal(create(s, 1, "x", ST_JOIN_TOKEN, NULL), REG_INVALID_ARGUMENT);
    assert_int_equal(create(s, 1, "x", ST_JOIN_OPEN, "tok"), REG_INVALID_ARGUMENT);
    assert_int_equal(create(s, 99, "x", ST_JOIN_OPEN, NULL), REG_UNAUTHENTICATED);
    /* Ids are never 0 and ascend; the creator owns its network. */
    struct st_network n;
    uint16_t last = 0, count = 0;
    while (st_network_next(s, last, &n)) {
        assert_true(n.id > last);
        assert_int_equal(n.owner, ID(1));
        assert_int_equal(st_network_role(s, n.id, ID(1)), ST_ROLE_OWNER);
        last = n.id;
        count++;
    }
    assert_int_equal(count, 4);
    assert_int_equal(st_network_get(s, 0, &n), REG_OK);
    assert_string_equal(n.name, "backbone");
    assert_int_equal(st_network_get(s, 999, &n), REG_NOT_FOUND);
    st_free(s);
}

static void test_join_leave_rejoin(void **state)
{
    (void)state;
    struct st_state *s = with_agents(3);
    uint32_t net = tu_net_create(s, 1, "lab", ST_JOIN_OPEN, NULL, false);
    assert_int_equal(tu_join(s, 2, net, NULL), REG_OK);
    assert_int_equal(tu_join(s, 2, net, NULL), REG_ALREADY_EXISTS);
    struct st_member m[4];
    uint32_t total;
    assert_int_equal(st_network_members(s, ID(2), net, 0, m, 4, &total), REG_OK);
    assert_int_equal(total, 2);
    assert_int_equal(m[0].node, ID(1));
    assert_int_equal(m[1].node, ID(2));
    assert_int_equal(m[1].role, ST_ROLE_MEMBER);
    assert_int_equal(st_network_members(s, ID(3), net, 0, m, 4, &total), REG_PERMISSION_DENIED);
    assert_int_equal(st_network_members(s, 0, net, 0, m, 4, &total), REG_OK);

    assert_int_equal(tu_net_op(s, ST_CMD_NET_LEAVE, 3, net, 0), REG_NOT_FOUND); /* not member */
    assert_int_equal(tu_net_op(s, ST_CMD_NET_LEAVE, 2, net, 0), REG_OK);
    assert_int_equal(st_network_members(s, ID(1), net, 0, m, 4, &total), REG_OK);
    assert_int_equal(total, 1);
    assert_int_equal(tu_join(s, 2, net, NULL), REG_OK);
    /* Owner cannot leave while others remain. */
    assert_int_equal(tu_net_op(s, ST_CMD_NET_LEAVE, 1, net, 0), REG_FAILED_PRECONDITION);
    /* Backbone: no join, no leave; unknown networks. */
    assert_int_equal(tu_net_op(s, ST_CMD_NET_LEAVE, 1, 0, 0), REG_INVALID_ARGUMENT);
    assert_int_equal(tu_join(s, 1, 0, NULL), REG_INVALID_ARGUMENT);
    assert_int_equal(tu_join(s, 1, 777, NULL), REG_NOT_FOUND);
    assert_int_equal(tu_join(s, 99, net, NULL), REG_UNAUTHENTICATED);
    assert_int_equal(st_network_members(s, ID(1), 0, 0, m, 4, &total), REG_PERMISSION_DENIED);
    st_free(s);
}

static void test_token_and_invite_rules(void **state)
{
    (void)state;
    struct st_state *s = with_agents(4);
    uint32_t tnet = tu_net_create(s, 1, "secret", ST_JOIN_TOKEN, "my-secret", false);
    assert_int_equal(tu_join(s, 2, tnet, "wrong"), REG_PERMISSION_DENIED);
    assert_int_equal(tu_join(s, 2, tnet, NULL), REG_PERMISSION_DENIED);
    assert_int_equal(tu_join(s, 2, tnet, "my-secret"), REG_OK);

    uint32_t inet = tu_net_create(s, 1, "invite", ST_JOIN_INVITE, NULL, false);
    assert_int_equal(tu_join(s, 2, inet, NULL), REG_PERMISSION_DENIED);
    /* Non-member and plain member cannot invite on a standard network. */
    assert_int_equal(tu_net_op(s, ST_CMD_NET_INVITE, 3, inet, ID(2)), REG_PERMISSION_DENIED);
    assert_int_equal(tu_net_op(s, ST_CMD_NET_INVITE, 1, inet, ID(2)), REG_OK);
    assert_int_equal(st_network_role(s, inet, ID(2)), ST_ROLE_MEMBER);
    assert_int_equal(tu_net_op(s, ST_CMD_NET_INVITE, 2, inet, ID(3)), REG_PERMISSION_DENIED);
    assert_int_equal(tu_net_op(s, ST_CMD_NET_INVITE, 1, inet, ID(2)), REG_ALREADY_EXISTS);
    assert_int_equal(tu_net_op(s, ST_CMD_NET_INVITE, 1, inet, 9999), REG_NOT_FOUND);
    /* The cluster admin may do what an owner may. */
    struct st_cmd c;
    tu_cmd(&c, ST_CMD_NET_INVITE, 0);
    c.caller_admin = true;
    c.network = inet;
    c.node = ID(3);
    assert_int_equal(tu_apply(s, &c, NULL), REG_OK);
    st_free(s);
}

static void test_kick(void **state)
{
    (void)state;
    struct st_state *s = with_agents(3);
    uint32_t net = tu_net_create(s, 1, "lab", ST_JOIN_OPEN, NULL, false);
    assert_int_equal(tu_join(s, 2, net, NULL), REG_OK);
    assert_int_equal(tu_join(s, 3, net, NULL), REG_OK);
    assert_int_equal(tu_net_op(s, ST_CMD_NET_KICK, 3, net, ID(2)), REG_PERMISSION_DENIED);
    assert_int_equal(tu_net_op(s, ST_CMD_NET_KICK, 1, net, ID(1)), REG_PERMISSION_DENIED);
    assert_int_equal(tu_net_op(s, ST_CMD_NET_KICK, 1, net, 9999), REG_NOT_FOUND);
    assert_true(st_may_reach(s, ID(3), ID(2), 80));
    assert_int_equal(tu_net_op(s, ST_CMD_NET_KICK, 1, net, ID(2)), REG_OK);
    /* Access is revoked at once, and self-rejoin is refused. */
    assert_false(st_may_reach(s, ID(3), ID(2), 80));
    assert_false(st_may_reach(s, ID(2), ID(3), 0));
    assert_true(st_network_kicked(s, net, ID(2)));
    assert_int_equal(tu_join(s, 2, net, NULL), REG_PERMISSION_DENIED);
    assert_int_equal(tu_net_op(s, ST_CMD_NET_KICK, 1, net, ID(2)), REG_NOT_FOUND);
    /* Re-invite clears the mark. */
    assert_int_equal(tu_net_op(s, ST_CMD_NET_INVITE, 1, net, ID(2)), REG_OK);
    assert_false(st_network_kicked(s, net, ID(2)));
    assert_true(st_may_reach(s, ID(3), ID(2), 80));
    st_free(s);
}

static void test_delete_keeps_trust(void **state)
{
    (void)state;
    struct st_state *s = with_agents(3);
    uint32_t net = tu_net_create(s, 1, "lab", ST_JOIN_OPEN, NULL, false);
    assert_int_equal(tu_join(s, 2, net, NULL), REG_OK);
    assert_int_equal(tu_join(s, 3, net, NULL), REG_OK);
    struct st_result r;
    /* Co-members auto-approve: the pair records the network. */
    assert_int_equal(tu_trust_op(s, ST_CMD_HANDSHAKE, 2, ID(3), "hi", &r), REG_OK);
    assert_int_equal(r.status, ST_STATUS_APPROVED);
    assert_int_equal(tu_net_op(s, ST_CMD_NET_DELETE, 2, net, 0), REG_PERMISSION_DENIED);
    assert_int_equal(tu_net_op(s, ST_CMD_NET_DELETE, 1, 0, 0), REG_INVALID_ARGUMENT);
    assert_int_equal(tu_net_op(s, ST_CMD_NET_DELETE, 1, net, 0), REG_OK);
    struct st_network n;
    assert_int_equal(st_network_get(s, net, &n), REG_NOT_FOUND);
    struct st_node nd;
    assert_int_equal(st_node_get(s, ID(2), &nd), REG_OK);
    assert_int_equal(nd.n_networks, 0);
    assert_true(st_trusted(s, ID(2), ID(3)));
    struct st_trust t;
    assert_int_equal(st_trust_list(s, ID(2), 0, &t, 1), 1);
    assert_int_equal(t.network, net);
    assert_true(st_may_reach(s, ID(2), ID(3), 0));
    assert_false(st_may_reach(s, ID(1), ID(2), 0));
    /* The name is free again; the id is not reused. */
    uint32_t again = tu_net_create(s, 1, "lab", ST_JOIN_OPEN, NULL, false);
    assert_true(again > net);
    assert_int_equal(tu_net_op(s, ST_CMD_NET_DELETE, 1, net, 0), REG_NOT_FOUND);
    st_free(s);
}

static void test_transfer_and_deregister_owner(void **state)
{
    (void)state;
    struct st_state *s = with_agents(4);
    uint32_t net = tu_net_create(s, 1, "lab", ST_JOIN_OPEN, NULL, false);
    assert_int_equal(tu_join(s, 2, net, NULL), REG_OK);
    assert_int_equal(tu_join(s, 3, net, NULL), REG_OK);
    assert_int_equal(tu_net_op(s, ST_CMD_NET_TRANSFER, 2, net, ID(2)), REG_PERMISSION_DENIED);
    assert_int_equal(tu_net_op(s, ST_CMD_NET_TRANSFER, 1, net, ID(4)), REG_FAILED_PRECONDITION);
    assert_int_equal(tu_net_op(s, ST_CMD_NET_TRANSFER, 1, net, ID(1)), REG_INVALID_ARGUMENT);
    assert_int_equal(tu_net_op(s, ST_CMD_NET_TRANSFER, 1, net, ID(3)), REG_OK);
    struct st_network n;
    assert_int_equal(st_network_get(s, net, &n), REG_OK);
    assert_int_equal(n.owner, ID(3));
    assert_int_equal(st_network_role(s, net, ID(1)), ST_ROLE_ADMIN);
    assert_int_equal(st_network_role(s, net, ID(3)), ST_ROLE_OWNER);
    /* The new owner deregisters: the admin (old owner) inherits. */
    struct st_cmd c;
    tu_cmd(&c, ST_CMD_DEREGISTER, 3);
    assert_int_equal(tu_apply(s, &c, NULL), REG_OK);
    assert_int_equal(st_network_get(s, net, &n), REG_OK);
    assert_int_equal(n.owner, ID(1));
    assert_int_equal(n.n_members, 2);
    /* Last owner alone may leave; the network stays, ownerless. */
    assert_int_equal(tu_net_op(s, ST_CMD_NET_LEAVE, 2, net, 0), REG_OK);
    assert_int_equal(tu_net_op(s, ST_CMD_NET_LEAVE, 1, net, 0), REG_OK);
    assert_int_equal(st_network_get(s, net, &n), REG_OK);
    assert_int_equal(n.owner, 0);
    assert_int_equal(n.n_members, 0);
    struct st_stats st;
    st_stats(s, &st);
    assert_int_equal(st.memberships, 0);
    st_free(s);
}

static void test_max_members_and_id_exhaustion(void **state)
{
    (void)state;
    struct st_state *s = with_agents(3);
    uint32_t net = tu_net_create(s, 1, "small", ST_JOIN_OPEN, NULL, false);
    struct st_cmd c;
    tu_cmd(&c, ST_CMD_NET_POLICY, 1);
    c.network = net;
    c.policy.has_max_members = true;
    c.policy.max_members = 2;
    assert_int_equal(tu_apply(s, &c, NULL), REG_OK);
    assert_int_equal(tu_join(s, 2, net, NULL), REG_OK);
    assert_int_equal(tu_join(s, 3, net, NULL), REG_RESOURCE_EXHAUSTED);
    assert_int_equal(tu_net_op(s, ST_CMD_NET_INVITE, 1, net, ID(3)), REG_RESOURCE_EXHAUSTED);
    /* Network ids run out at 65535 and are never reused. */
    char name[32];
    for (uint32_t i = 2; i <= ST_MAX_NETWORK_ID; i++) {
        snprintf(name, sizeof name, "n%u", i);
        assert_int_equal(create(s, 1, name, ST_JOIN_OPEN, NULL), REG_OK);
    }
    assert_int_equal(create(s, 1, "one-more", ST_JOIN_OPEN, NULL), REG_RESOURCE_EXHAUSTED);
    st_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_name_validation_and_duplicates),
        cmocka_unit_test(test_join_leave_rejoin),
        cmocka_unit_test(test_token_and_invite_rules),
        cmocka_unit_test(test_kick),
        cmocka_unit_test(test_delete_keeps_trust),
        cmocka_unit_test(test_transfer_and_deregister_owner),
        cmocka_unit_test(test_max_members_and_id_exhaustion),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
