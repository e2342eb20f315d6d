/* test_state_trust: the handshake protocol of the seed page "Trust":
 * pending / approve / reject (with outcome and reason) / untrust, mutual
 * handshakes, co-member auto-approval, inbox bound, error codes. */
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

static void test_pending_approve(void **state)
{
    (void)state;
    struct st_state *s = with_agents(3);
    struct st_result r;
    struct st_pending p[4];
    assert_int_equal(tu_trust_op(s, ST_CMD_HANDSHAKE, 1, ID(2), "want to collaborate", &r),
                     REG_OK);
    assert_int_equal(r.status, ST_STATUS_SENT);
    assert_int_equal(st_pending_in(s, ID(2), 0, p, 4), 1);
    assert_int_equal(p[0].from, ID(1));
    assert_int_equal(p[0].to, ID(2));
    assert_string_equal(p[0].justification, "want to collaborate");
    assert_int_equal(st_pending_out(s, ID(1), 0, p, 4), 1);
    assert_int_equal(p[0].to, ID(2));
    /* A repeat refreshes the justification, still one request. */
    assert_int_equal(tu_trust_op(s, ST_CMD_HANDSHAKE, 1, ID(2), "again", &r), REG_OK);
    assert_int_equal(r.status, ST_STATUS_SENT);
    assert_int_equal(st_pending_in(s, ID(2), 0, p, 4), 1);
    assert_string_equal(p[0].justification, "again");
    assert_false(st_trusted(s, ID(1), ID(2)));

    assert_int_equal(tu_trust_op(s, ST_CMD_APPROVE, 2, ID(3), NULL, &r), REG_NOT_FOUND);
    assert_int_equal(tu_trust_op(s, ST_CMD_APPROVE, 2, ID(1), NULL, &r), REG_OK);
    assert_int_equal(r.status, ST_STATUS_APPROVED);
    assert_true(st_trusted(s, ID(1), ID(2)));
    assert_int_equal(st_pending_in(s, ID(2), 0, p, 4), 0);
    assert_int_equal(st_pending_out(s, ID(1), 0, p, 4), 0);
    struct st_trust t;
    assert_int_equal(st_trust_list(s, ID(1), 0, &t, 1), 1);
    assert_int_equal(t.peer, ID(2));
    assert_false(t.mutual);
    assert_int_equal(t.approved_by, ID(2));
    assert_int_equal(t.network, 0);
    /* Already trusted. */
    assert_int_equal(tu_trust_op(s, ST_CMD_HANDSHAKE, 2, ID(1), "x", &r), REG_OK);
    assert_int_equal(r.status, ST_STATUS_ALREADY_TRUSTED);
    st_free(s);
}

static void test_mutual(void **state)
{
    (void)state;
    struct st_state *s = with_agents(2);
    struct st_result r;
    struct st_pending p[2];
    assert_int_equal(tu_trust_op(s, ST_CMD_HANDSHAKE, 1, ID(2), "want to connect", &r), REG_OK);
    assert_int_equal(tu_trust_op(s, ST_CMD_HANDSHAKE, 2, ID(1), "want to connect", &r), REG_OK);
    assert_int_equal(r.status, ST_STATUS_APPROVED);
    assert_true(st_trusted(s, ID(1), ID(2)));
    struct st_trust t;
    assert_int_equal(st_trust_list(s, ID(2), 0, &t, 1), 1);
    assert_true(t.mutual);
    assert_int_equal(st_pending_in(s, ID(1), 0, p, 2), 0);
    assert_int_equal(st_pending_in(s, ID(2), 0, p, 2), 0);
    struct st_stats st;
    st_stats(s, &st);
    assert_int_equal(st.pending, 0);
    assert_int_equal(st.trust_pairs, 1);
    st_free(s);
}

static void test_reject_and_outcome(void **state)
{
    (void)state;
    struct st_state *s = with_agents(3);
    struct st_result r;
    struct st_outcome o[2];
    assert_int_equal(tu_trust_op(s, ST_CMD_HANDSHAKE, 3, ID(2), "let me in", &r), REG_OK);
    assert_int_equal(tu_trust_op(s, ST_CMD_REJECT, 2, ID(1), "no", &r), REG_NOT_FOUND);
    assert_int_equal(tu_trust_op(s, ST_CMD_REJECT, 2, ID(3), "not today", &r), REG_OK);
    assert_int_equal(r.status, ST_STATUS_REJECTED);
    assert_false(st_trusted(s, ID(2), ID(3)));
    assert_int_equal(st_outcomes(s, ID(3), 0, o, 2), 1);
    assert_int_equal(o[0].peer, ID(2));
    assert_string_equal(o[0].reason, "not today");
    assert_int_equal(tu_trust_op(s, ST_CMD_APPROVE, 2, ID(3), NULL, &r), REG_NOT_FOUND);
    /* A new handshake clears the earlier outcome. */
    assert_int_equal(tu_trust_op(s, ST_CMD_HANDSHAKE, 3, ID(2), "please", &r), REG_OK);
    assert_int_equal(st_outcomes(s, ID(3), 0, o, 2), 0);
    st_free(s);
}

static void test_untrust_and_errors(void **state)
{
    (void)state;
    struct st_state *s = with_agents(3);
    struct st_result r;
    struct st_cmd c;
    assert_int_equal(tu_trust_op(s, ST_CMD_HANDSHAKE, 1, ID(1), "me", &r), REG_INVALID_ARGUMENT);
    assert_int_equal(tu_trust_op(s, ST_CMD_HANDSHAKE, 1, 9999, "x", &r), REG_NOT_FOUND);
    assert_int_equal(tu_trust_op(s, ST_CMD_HANDSHAKE, 99, ID(1), "x", &r), REG_UNAUTHENTICATED);
    tu_cmd(&c, ST_CMD_HANDSHAKE, 1);
    c.node = ID(2);
    memset(c.text, 'j', sizeof c.text); /* > 1024 */
    assert_int_equal(tu_apply(s, &c, NULL), REG_INVALID_ARGUMENT);
    assert_int_equal(tu_trust_op(s, ST_CMD_UNTRUST, 1, ID(2), NULL, &r), REG_NOT_FOUND);
    assert_int_equal(tu_trust_op(s, ST_CMD_HANDSHAKE, 1, ID(2), "x", &r), REG_OK);
    assert_int_equal(tu_trust_op(s, ST_CMD_APPROVE, 2, ID(1), NULL, &r), REG_OK);
    /* Either side may untrust; then re-trust works. */
    assert_int_equal(tu_trust_op(s, ST_CMD_UNTRUST, 2, ID(1), NULL, &r), REG_OK);
    assert_false(st_trusted(s, ID(1), ID(2)));
    assert_int_equal(tu_trust_op(s, ST_CMD_UNTRUST, 1, ID(2), NULL, &r), REG_NOT_FOUND);
    assert_int_equal(tu_trust_op(s, ST_CMD_HANDSHAKE, 2, ID(1), "back", &r), REG_OK);
    assert_int_equal(tu_trust_op(s, ST_CMD_APPROVE, 1, ID(2), NULL, &r), REG_OK);
    assert_true(st_trusted(s, ID(1), ID(2)));
    /* Trust survives deregistration; pending requests do not. */
    assert_int_equal(tu_trust_op(s, ST_CMD_HANDSHAKE, 3, ID(2), "x", &r), REG_OK);
    tu_cmd(&c, ST_CMD_DEREGISTER, 2);
    assert_int_equal(tu_apply(s, &c, NULL), REG_OK);
    assert_true(st_trusted(s, ID(1), ID(2)));
    struct st_pending p[1];
    assert_int_equal(st_pending_out(s, ID(3), 0, p, 1), 0);
    struct st_stats st;
    st_stats(s, &st);
    assert_int_equal(st.pending, 0);
    st_free(s);
}

static void test_inbox_bound_and_network_auto(void **state)
{
    (void)state;
    struct st_state *s = with_agents(ST_INBOX_MAX + 3);
    struct st_result r;
    for (uint32_t a = 2; a <= ST_INBOX_MAX + 1; a++) {
        assert_int_equal(tu_trust_op(s, ST_CMD_HANDSHAKE, a, ID(1), "hi", &r), REG_OK);
    }
    assert_int_equal(tu_trust_op(s, ST_CMD_HANDSHAKE, ST_INBOX_MAX + 2, ID(1), "hi", &r),
                     REG_RESOURCE_EXHAUSTED);
    /* A co-member is not limited by the inbox: auto-approved, network kept. */
    uint32_t net = tu_net_create(s, 1, "lab", ST_JOIN_OPEN, NULL, false);
    assert_int_equal(tu_join(s, ST_INBOX_MAX + 3, net, NULL), REG_OK);
    assert_int_equal(tu_trust_op(s, ST_CMD_HANDSHAKE, ST_INBOX_MAX + 3, ID(1), "hi", &r), REG_OK);
    assert_int_equal(r.status, ST_STATUS_APPROVED);
    assert_int_equal(r.network, net);
    struct st_trust t;
    assert_int_equal(st_trust_list(s, ID(ST_INBOX_MAX + 3), 0, &t, 1), 1);
    assert_int_equal(t.network, net);
    assert_int_equal(t.approved_by, 0);
    st_free(s);
}

/* The seed's "pilotctl handshake agent-b ...": a private target named by its
 * hostname, which the sender cannot see, resolved inside the state machine;
 * an invite by hostname likewise. */
static void test_target_by_hostname(void **state)
{
    (void)state;
    struct st_state *s = st_new();
    struct st_cmd c;
    struct st_result r;
    uint32_t a = tu_register(s, 1, false, "agent-a");
    uint32_t b = tu_register(s, 2, false, "agent-b");
    struct st_node view;
    assert_int_equal(st_resolve_hostname(s, a, "agent-b", &view), REG_NOT_FOUND);

    tu_cmd(&c, ST_CMD_HANDSHAKE, 1);
    snprintf(c.hostname, sizeof c.hostname, "agent-b");
    snprintf(c.text, sizeof c.text, "want to collaborate on data analysis");
    assert_int_equal(tu_apply(s, &c, &r), REG_OK);
    assert_int_equal(r.status, ST_STATUS_SENT);
    assert_int_equal(r.node, b);
    struct st_pending p;
    assert_int_equal(st_pending_in(s, b, 0, &p, 1), 1);
    assert_int_equal(p.from, a);

    snprintf(c.hostname, sizeof c.hostname, "nobody-here");
    assert_int_equal(tu_apply(s, &c, &r), REG_NOT_FOUND);
    assert_non_null(strstr(r.message, "nobody-here"));

    /* Approve by hostname works the same way, from the target's side. */
    tu_cmd(&c, ST_CMD_APPROVE, 2);
    snprintf(c.hostname, sizeof c.hostname, "agent-a");
    assert_int_equal(tu_apply(s, &c, &r), REG_OK);
    assert_true(st_trusted(s, a, b));

    /* An explicit node id wins over a hostname. */
    tu_cmd(&c, ST_CMD_UNTRUST, 1);
    c.node = b;
    snprintf(c.hostname, sizeof c.hostname, "nobody-here");
    assert_int_equal(tu_apply(s, &c, &r), REG_OK);
    assert_false(st_trusted(s, a, b));

    /* Invite by hostname: the owner cannot see the private agent yet. */
    uint32_t c3 = tu_register(s, 3, false, "worker-3");
    tu_cmd(&c, ST_CMD_NET_CREATE, 1);
    snprintf(c.name, sizeof c.name, "lab");
    c.join_rule = ST_JOIN_INVITE;
    assert_int_equal(tu_apply(s, &c, &r), REG_OK);
    uint16_t net = (uint16_t)r.network;
    tu_cmd(&c, ST_CMD_NET_INVITE, 1);
    c.network = net;
    snprintf(c.hostname, sizeof c.hostname, "worker-3");
    assert_int_equal(tu_apply(s, &c, &r), REG_OK);
    assert_int_equal(st_network_role(s, net, c3), ST_ROLE_MEMBER);
    assert_true(st_may_reach(s, a, c3, 0));
    st_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pending_approve),
        cmocka_unit_test(test_mutual),
        cmocka_unit_test(test_reject_and_outcome),
        cmocka_unit_test(test_untrust_and_errors),
        cmocka_unit_test(test_inbox_bound_and_network_auto),
        cmocka_unit_test(test_target_by_hostname),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
