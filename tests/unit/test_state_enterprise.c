/* test_state_enterprise: enterprise networks: roles (promote / demote),
 * admin permissions (invite, kick, policy; admins cannot kick admins or the
 * owner), policy validation and merge, blueprints (all or nothing), and
 * the audit log (seed "Networks", DESIGN.md §6). */
#include "test_state_util.h"

#define ID(agent) ((agent) + ST_FIRST_NODE_ID - 1)

static struct st_state *ent_net(uint32_t agents, uint32_t *net)
{
    struct st_state *s = st_new();
    for (uint32_t a = 1; a <= agents; a++) {
        assert_int_equal(tu_register(s, a, false, NULL), ID(a));
    }
    *net = tu_net_create(s, 1, "prod", ST_JOIN_OPEN, NULL, true);
    for (uint32_t a = 2; a <= agents; a++) {
        assert_int_equal(tu_join(s, a, *net, NULL), REG_OK);
    }
    return s;
}

static int role(struct st_state *s, uint32_t agent, uint32_t net, uint32_t node, uint8_t r)
{
    struct st_cmd c;
    tu_cmd(&c, ST_CMD_NET_ROLE, agent);
    c.network = net;
    c.node = node;
    c.role = r;
    return tu_apply(s, &c, NULL);
}

static void test_roles(void **state)
{
    (void)state;
    uint32_t net;
    struct st_state *s = ent_net(4, &net);
    assert_int_equal(role(s, 2, net, ID(3), ST_ROLE_ADMIN), REG_PERMISSION_DENIED);
    assert_int_equal(role(s, 1, net, ID(2), ST_ROLE_ADMIN), REG_OK);
    assert_int_equal(role(s, 1, net, ID(2), ST_ROLE_ADMIN), REG_ALREADY_EXISTS);
    assert_int_equal(role(s, 1, net, ID(3), ST_ROLE_MEMBER), REG_FAILED_PRECONDITION);
    assert_int_equal(role(s, 1, net, ID(1), ST_ROLE_ADMIN), REG_INVALID_ARGUMENT);
    assert_int_equal(role(s, 1, net, ID(3), ST_ROLE_OWNER), REG_INVALID_ARGUMENT);
    assert_int_equal(role(s, 1, net, 9999, ST_ROLE_ADMIN), REG_NOT_FOUND);
    /* Admins manage members but not roles. */
    assert_int_equal(role(s, 2, net, ID(3), ST_ROLE_ADMIN), REG_PERMISSION_DENIED);
    assert_int_equal(st_network_role(s, net, ID(2)), ST_ROLE_ADMIN);
    assert_int_equal(role(s, 1, net, ID(2), ST_ROLE_MEMBER), REG_OK);
    assert_int_equal(st_network_role(s, net, ID(2)), ST_ROLE_MEMBER);
    /* Roles need an enterprise network. */
    uint32_t std = tu_net_create(s, 1, "plain", ST_JOIN_OPEN, NULL, false);
    assert_int_equal(tu_join(s, 2, std, NULL), REG_OK);
    assert_int_equal(role(s, 1, std, ID(2), ST_ROLE_ADMIN), REG_FAILED_PRECONDITION);
    st_free(s);
}

static void test_admin_permissions(void **state)
{
    (void)state;
    uint32_t net;
    struct st_state *s = ent_net(5, &net);
    assert_int_equal(role(s, 1, net, ID(2), ST_ROLE_ADMIN), REG_OK);
    assert_int_equal(role(s, 1, net, ID(3), ST_ROLE_ADMIN), REG_OK);
    /* An admin may kick a member, not another admin nor the owner. */
    assert_int_equal(tu_net_op(s, ST_CMD_NET_KICK, 2, net, ID(4)), REG_OK);
    assert_int_equal(tu_net_op(s, ST_CMD_NET_KICK, 2, net, ID(3)), REG_PERMISSION_DENIED);
    assert_int_equal(tu_net_op(s, ST_CMD_NET_KICK, 2, net, ID(1)), REG_PERMISSION_DENIED);
    /* A plain member may not kick or invite. */
    assert_int_equal(tu_net_op(s, ST_CMD_NET_KICK, 5, net, ID(2)), REG_PERMISSION_DENIED);
    assert_int_equal(tu_net_op(s, ST_CMD_NET_INVITE, 5, net, ID(4)), REG_PERMISSION_DENIED);
    /* An admin may invite (and the invite clears the kick). */
    assert_int_equal(tu_net_op(s, ST_CMD_NET_INVITE, 2, net, ID(4)), REG_OK);
    assert_false(st_network_kicked(s, net, ID(4)));
    /* The owner may kick an admin; only the owner deletes / transfers. */
    assert_int_equal(tu_net_op(s, ST_CMD_NET_DELETE, 2, net, 0), REG_PERMISSION_DENIED);
    assert_int_equal(tu_net_op(s, ST_CMD_NET_TRANSFER, 2, net, ID(2)), REG_PERMISSION_DENIED);
    assert_int_equal(tu_net_op(s, ST_CMD_NET_KICK, 1, net, ID(3)), REG_OK);
    st_free(s);
}

static int policy(struct st_state *s, uint32_t agent, uint32_t net, const struct st_policy *p)
{
    struct st_cmd c;
    tu_cmd(&c, ST_CMD_NET_POLICY, agent);
    c.network = net;
    c.policy = *p;
    return tu_apply(s, &c, NULL);
}

static void test_policy(void **state)
{
    (void)state;
    uint32_t net;
    struct st_state *s = ent_net(3, &net);
    struct st_policy p = {0};
    struct st_network n;
    assert_int_equal(policy(s, 1, net, &p), REG_INVALID_ARGUMENT); /* nothing to set */
    p.has_allowed_ports = true;
    p.n_ports = 4;
    p.ports[0] = 443;
    p.ports[1] = 80;
    p.ports[2] = 443;
    p.ports[3] = 1001;
    assert_int_equal(policy(s, 3, net, &p), REG_PERMISSION_DENIED);
    assert_int_equal(policy(s, 1, net, &p), REG_OK);
    assert_int_equal(st_network_get(s, net, &n), REG_OK);
    assert_int_equal(n.n_ports, 3);
    assert_int_equal(n.ports[0], 80);
    assert_int_equal(n.ports[1], 443);
    assert_int_equal(n.ports[2], 1001);
    /* Merge: setting max_members leaves the ports alone. */
    memset(&p, 0, sizeof p);
    p.has_max_members = true;
    p.max_members = 10;
    assert_int_equal(role(s, 1, net, ID(2), ST_ROLE_ADMIN), REG_OK);
    assert_int_equal(policy(s, 2, net, &p), REG_OK); /* admins may set policy */
    assert_int_equal(st_network_get(s, net, &n), REG_OK);
    assert_int_equal(n.max_members, 10);
    assert_int_equal(n.n_ports, 3);
    p.max_members = 2; /* below the 3 current members */
    assert_int_equal(policy(s, 1, net, &p), REG_FAILED_PRECONDITION);
    p.max_members = ST_MAX_MEMBERS_LIMIT + 1;
    assert_int_equal(policy(s, 1, net, &p), REG_INVALID_ARGUMENT);
    memset(&p, 0, sizeof p);
    p.has_allowed_ports = true;
    p.n_ports = 1;
    p.ports[0] = 0;
    assert_int_equal(policy(s, 1, net, &p), REG_INVALID_ARGUMENT);
    p.n_ports = ST_PORTS_MAX + 1;
    assert_int_equal(policy(s, 1, net, &p), REG_INVALID_ARGUMENT);
    memset(&p, 0, sizeof p);
    p.has_description = true;
    memset(p.description, 'd', sizeof p.description); /* unterminated */
    assert_int_equal(policy(s, 1, net, &p), REG_INVALID_ARGUMENT);
    snprintf(p.description, sizeof p.description, "production fleet");
    assert_int_equal(policy(s, 1, net, &p), REG_OK);
    assert_int_equal(st_network_get(s, net, &n), REG_OK);
    assert_string_equal(n.description, "production fleet");
    assert_int_equal(n.max_members, 10);
    assert_int_equal(n.n_ports, 3);
    /* On a standard network only the owner sets policy. */
    uint32_t std = tu_net_create(s, 1, "plain", ST_JOIN_OPEN, NULL, false);
    assert_int_equal(tu_join(s, 2, std, NULL), REG_OK);
    assert_int_equal(policy(s, 2, std, &p), REG_PERMISSION_DENIED);
    assert_int_equal(policy(s, 1, std, &p), REG_OK);
    st_free(s);
}

static int blueprint(struct st_state *s, uint32_t agent, const struct st_blueprint *bp,
                     struct st_result *r)
{
    struct st_cmd c;
    tu_cmd(&c, ST_CMD_BLUEPRINT_APPLY, agent);
    c.blueprint = bp;
    return tu_apply(s, &c, r);
}

static void test_blueprint(void **state)
{
    (void)state;
    struct st_state *s = st_new();
    for (uint32_t a = 1; a <= 4; a++) {
        tu_register(s, a, false, NULL);
    }
    struct st_blueprint_role roles[3] = {
        {ID(2), ST_ROLE_ADMIN}, {ID(3), ST_ROLE_MEMBER}, {9999, ST_ROLE_MEMBER}};
    struct st_blueprint bp = {0};
    struct st_result r;
    snprintf(bp.name, sizeof bp.name, "fleet");
    bp.join_rule = ST_JOIN_TOKEN;
    snprintf(bp.token, sizeof bp.token, "t0k");
    bp.enterprise = true;
    bp.policy.has_allowed_ports = true;
    bp.policy.n_ports = 1;
    bp.policy.ports[0] = 8080;
    bp.roles = roles;
    bp.n_roles = 3;
    /* Unknown node in the roles: nothing at all happens. */
    struct st_state *before = st_new();
    for (uint32_t a = 1; a <= 4; a++) {
        tu_register(before, a, false, NULL);
    }
    assert_int_equal(blueprint(s, 1, &bp, &r), REG_NOT_FOUND);
    tu_hash_eq(s, before, true);
    assert_int_equal(blueprint(s, 1, NULL, &r), REG_INVALID_ARGUMENT);
    bp.n_roles = 2;
    assert_int_equal(blueprint(s, 1, &bp, &r), REG_OK);
    assert_true(r.created);
    uint32_t net = r.network;
    assert_int_equal(st_network_role(s, net, ID(1)), ST_ROLE_OWNER);
    assert_int_equal(st_network_role(s, net, ID(2)), ST_ROLE_ADMIN);
    assert_int_equal(st_network_role(s, net, ID(3)), ST_ROLE_MEMBER);
    assert_int_equal(tu_join(s, 4, net, "t0k"), REG_OK);
    /* Update by name: idempotent, only the owner, cannot drop enterprise. */
    assert_int_equal(blueprint(s, 2, &bp, &r), REG_PERMISSION_DENIED);
    bp.enterprise = false;
    assert_int_equal(blueprint(s, 1, &bp, &r), REG_FAILED_PRECONDITION);
    bp.enterprise = true;
    roles[0].role = ST_ROLE_MEMBER;
    bp.token[0] = '\0'; /* keeps the stored token */
    assert_int_equal(blueprint(s, 1, &bp, &r), REG_OK);
    assert_false(r.created);
    assert_int_equal(r.network, net);
    assert_int_equal(st_network_role(s, net, ID(2)), ST_ROLE_MEMBER);
    /* Bad pieces refuse the whole blueprint. */
    roles[1].node = ID(2);
    assert_int_equal(blueprint(s, 1, &bp, &r), REG_INVALID_ARGUMENT); /* named twice */
    roles[1].node = ID(3);
    roles[0].node = ID(1);
    assert_int_equal(blueprint(s, 1, &bp, &r), REG_INVALID_ARGUMENT); /* owner demoted */
    roles[0].node = ID(2);
    roles[1].role = ST_ROLE_OWNER;
    assert_int_equal(blueprint(s, 1, &bp, &r), REG_OK);               /* transfer */
    struct st_network n;
    assert_int_equal(st_network_get(s, net, &n), REG_OK);
    assert_int_equal(n.owner, ID(3));
    assert_int_equal(st_network_role(s, net, ID(1)), ST_ROLE_ADMIN);
    bp.policy.has_max_members = true;
    bp.policy.max_members = 2;
    assert_int_equal(blueprint(s, 3, &bp, &r), REG_FAILED_PRECONDITION);
    snprintf(bp.name, sizeof bp.name, "Bad Name");
    assert_int_equal(blueprint(s, 1, &bp, &r), REG_INVALID_ARGUMENT);
    st_free(before);
    st_free(s);
}

static void test_audit(void **state)
{
    (void)state;
    uint32_t net;
    struct st_state *s = ent_net(3, &net);
    assert_int_equal(role(s, 1, net, ID(2), ST_ROLE_ADMIN), REG_OK);
    struct st_cmd c;
    tu_cmd(&c, ST_CMD_NET_KICK, 2);
    c.network = net;
    c.node = ID(3);
    c.origin = 77;
    c.ts_ms = 5000;
    assert_int_equal(tu_apply(s, &c, NULL), REG_OK);
    struct st_audit a[ST_AUDIT_MAX];
    uint32_t n;
    assert_int_equal(st_network_audit(s, ID(3), net, a, 10, &n), REG_PERMISSION_DENIED);
    assert_int_equal(st_network_audit(s, ID(2), net, a, 10, &n), REG_OK);
    assert_int_equal(n, 5); /* created, joined x2, promoted, kicked */
    assert_string_equal(a[0].action, "member.kicked");
    assert_int_equal(a[0].actor, ID(2));
    assert_int_equal(a[0].target, ID(3));
    assert_int_equal(a[0].origin, 77);
    assert_int_equal(a[0].at_ms, 5000);
    assert_non_null(strstr(a[0].detail, "="));
    assert_string_equal(a[1].action, "member.promoted");
    assert_string_equal(a[4].action, "network.created");
    assert_int_equal(st_network_audit(s, 0, net, a, 2, &n), REG_OK);
    assert_int_equal(n, 2);
    /* The ring keeps the newest ST_AUDIT_MAX records. */
    for (int i = 0; i < ST_AUDIT_MAX; i++) {
        assert_int_equal(tu_net_op(s, ST_CMD_NET_INVITE, 1, net, ID(3)), REG_OK);
        assert_int_equal(tu_net_op(s, ST_CMD_NET_KICK, 1, net, ID(3)), REG_OK);
    }
    assert_int_equal(st_network_audit(s, 0, net, a, ST_AUDIT_MAX + 5, &n), REG_OK);
    assert_int_equal(n, ST_AUDIT_MAX);
    assert_string_equal(a[0].action, "member.kicked");
    assert_string_equal(a[1].action, "member.invited");
    /* Delete is audited and readable by the cluster admin afterwards. */
    assert_int_equal(tu_net_op(s, ST_CMD_NET_DELETE, 1, net, 0), REG_OK);
    assert_int_equal(st_network_audit(s, ID(1), net, a, 1, &n), REG_NOT_FOUND);
    assert_int_equal(st_network_audit(s, 0, net, a, 1, &n), REG_OK);
    assert_string_equal(a[0].action, "network.deleted");
    /* Standard networks have no audit log. */
    uint32_t std = tu_net_create(s, 1, "plain", ST_JOIN_OPEN, NULL, false);
    assert_int_equal(st_network_audit(s, 0, std, a, 1, &n), REG_FAILED_PRECONDITION);
    st_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roles),
        cmocka_unit_test(test_admin_permissions),
        cmocka_unit_test(test_policy),
        cmocka_unit_test(test_blueprint),
        cmocka_unit_test(test_audit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
