/* test_state_nodes: agent records: register / re-register / deregister,
 * hostname rules and uniqueness, tags, endpoint, visibility, key rotation,
 * liveness batches (registry-reference.md §2.2, §7 hostname / tags /
 * identity scenarios). */
#include "test_state_util.h"

static void test_register_ids_and_return(void **state)
{
    (void)state;
    struct st_state *s = st_new();
    struct st_result r;
    struct st_cmd c;
    uint32_t a = tu_register(s, 1, false, NULL);
    uint32_t b = tu_register(s, 2, false, NULL);
    assert_int_equal(a, ST_FIRST_NODE_ID);
    assert_int_equal(b, ST_FIRST_NODE_ID + 1);
    uint8_t key[ST_KEY_LEN];
    tu_key(2, key);
    assert_int_equal(st_node_by_key(s, key), b);

    /* Registering again refreshes and keeps the id. */
    tu_cmd(&c, ST_CMD_REGISTER, 1);
    snprintf(c.endpoint, sizeof c.endpoint, "192.0.2.1:9");
    c.flag = true;
    assert_int_equal(tu_apply(s, &c, &r), REG_OK);
    assert_int_equal(r.node, a);
    assert_int_equal(r.status, ST_STATUS_RETURNING);
    struct st_node n;
    assert_int_equal(st_node_get(s, a, &n), REG_OK);
    assert_string_equal(n.endpoint, "192.0.2.1:9");
    assert_true(n.public_);
    assert_true(n.online);

    /* Deregister, then the same key gets its id back. */
    tu_cmd(&c, ST_CMD_DEREGISTER, 1);
    assert_int_equal(tu_apply(s, &c, NULL), REG_OK);
    assert_false(st_node_exists(s, a));
    assert_int_equal(st_node_get(s, a, &n), REG_NOT_FOUND);
    tu_key(1, key);
    assert_int_equal(st_node_by_key(s, key), a);
    assert_int_equal(tu_register(s, 1, false, NULL), a);
    assert_int_equal(tu_register(s, 3, false, NULL), b + 1);

    /* Node ops from an unknown key or a deregistered one. */
    tu_cmd(&c, ST_CMD_SET_VISIBILITY, 99);
    assert_int_equal(tu_apply(s, &c, NULL), REG_UNAUTHENTICATED);
    tu_cmd(&c, ST_CMD_DEREGISTER, 2);
    assert_int_equal(tu_apply(s, &c, NULL), REG_OK);
    assert_int_equal(tu_apply(s, &c, NULL), REG_UNAUTHENTICATED);
    tu_cmd(&c, ST_CMD_REGISTER, 0);
    snprintf(c.endpoint, sizeof c.endpoint, "1.2.3.4:5");
    assert_int_equal(tu_apply(s, &c, NULL), REG_UNAUTHENTICATED);
    st_free(s);
}

static void test_register_bad_arguments_change_nothing(void **state)
{
    (void)state;
    struct st_state *s = st_new();
    struct st_state *empty = st_new();
    struct st_cmd c;
    tu_cmd(&c, ST_CMD_REGISTER, 1);
    assert_int_equal(tu_apply(s, &c, NULL), REG_INVALID_ARGUMENT); /* no endpoint */
    snprintf(c.endpoint, sizeof c.endpoint, "bad endpoint");
    assert_int_equal(tu_apply(s, &c, NULL), REG_INVALID_ARGUMENT);
    snprintf(c.endpoint, sizeof c.endpoint, "1.2.3.4:5");
    c.n_tags = 1;
    snprintf(c.tags[0], sizeof c.tags[0], "UPPER");
    assert_int_equal(tu_apply(s, &c, NULL), REG_INVALID_ARGUMENT);
    c.n_tags = ST_TAGS_MAX + 1;
    assert_int_equal(tu_apply(s, &c, NULL), REG_INVALID_ARGUMENT);
    c.n_tags = 0;
    memset(c.hostname, 'a', sizeof c.hostname); /* unterminated */
    assert_int_equal(tu_apply(s, &c, NULL), REG_INVALID_ARGUMENT);
    tu_hash_eq(s, empty, true);
    st_free(s);
    st_free(empty);
}

static void test_register_hostname_warning(void **state)
{
    (void)state;
    /* TestHostnameRegistrationWarning: the node registers, the hostname
     * does not, and the result says why. */
    struct st_state *s = st_new();
    struct st_cmd c;
    struct st_result r;
    tu_cmd(&c, ST_CMD_REGISTER, 1);
    snprintf(c.endpoint, sizeof c.endpoint, "1.2.3.4:5");
    snprintf(c.hostname, sizeof c.hostname, "INVALID-UPPER");
    assert_int_equal(tu_apply(s, &c, &r), REG_OK);
    assert_non_null(strstr(r.message, "hostname_error"));
    struct st_node n;
    assert_int_equal(st_node_get(s, r.node, &n), REG_OK);
    assert_string_equal(n.hostname, "");
    /* A taken hostname at registration is also only a warning. */
    tu_register(s, 2, false, "alice");
    tu_cmd(&c, ST_CMD_REGISTER, 3);
    snprintf(c.endpoint, sizeof c.endpoint, "1.2.3.4:6");
    snprintf(c.hostname, sizeof c.hostname, "alice");
    assert_int_equal(tu_apply(s, &c, &r), REG_OK);
    assert_non_null(strstr(r.message, "taken"));
    assert_int_equal(st_node_get(s, r.node, &n), REG_OK);
    assert_string_equal(n.hostname, "");
    st_free(s);
}

static int set_hostname(struct st_state *s, uint32_t agent, const char *h)
{
    struct st_cmd c;
    tu_cmd(&c, ST_CMD_SET_HOSTNAME, agent);
    snprintf(c.hostname, sizeof c.hostname, "%s", h);
    return tu_apply(s, &c, NULL);
}

static void test_hostname_rules_and_uniqueness(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "localhost", "backbone", "broadcast", "UPPER", "has space", "-lead", "trail-",
        "a@b",       "a.b",      "",
    };
    static const char *const good[] = {"alice", "my-agent", "node42", "a", "a1b2c3"};
    struct st_state *s = st_new();
    uint32_t a = tu_register(s, 1, false, NULL);
    uint32_t b = tu_register(s, 2, false, NULL);
    for (size_t i = 0; i + 1 < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(set_hostname(s, 1, bad[i]), REG_INVALID_ARGUMENT);
    }
    struct st_cmd c;
    tu_cmd(&c, ST_CMD_SET_HOSTNAME, 1);
    memset(c.hostname, 'a', sizeof c.hostname); /* 64 chars: no room for NUL */
    assert_int_equal(tu_apply(s, &c, NULL), REG_INVALID_ARGUMENT);
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        assert_int_equal(set_hostname(s, 1, good[i]), REG_OK);
    }
    struct st_node n;
    assert_int_equal(st_resolve_hostname(s, 0, "a1b2c3", &n), REG_OK);
    assert_int_equal(n.id, a);
    assert_int_equal(st_resolve_hostname(s, 0, "alice", &n), REG_NOT_FOUND); /* replaced */
    /* Uniqueness: b cannot take it; after a clears it, b can. */
    assert_int_equal(set_hostname(s, 2, "a1b2c3"), REG_ALREADY_EXISTS);
    assert_int_equal(set_hostname(s, 1, ""), REG_OK);
    assert_int_equal(set_hostname(s, 2, "a1b2c3"), REG_OK);
    assert_int_equal(st_resolve_hostname(s, 0, "a1b2c3", &n), REG_OK);
    assert_int_equal(n.id, b);
    /* Freed on deregister. */
    tu_cmd(&c, ST_CMD_DEREGISTER, 2);
    assert_int_equal(tu_apply(s, &c, NULL), REG_OK);
    assert_int_equal(set_hostname(s, 1, "a1b2c3"), REG_OK);
    st_free(s);
}

static void test_tags(void **state)
{
    (void)state;
    struct st_state *s = st_new();
    uint32_t a = tu_register(s, 1, false, NULL);
    struct st_cmd c;
    struct st_node n;
    tu_cmd(&c, ST_CMD_SET_TAGS, 1);
    c.n_tags = 4;
    snprintf(c.tags[0], sizeof c.tags[0], "#gpu");
    snprintf(c.tags[1], sizeof c.tags[1], "eu-west");
    snprintf(c.tags[2], sizeof c.tags[2], "gpu");
    snprintf(c.tags[3], sizeof c.tags[3], "#eu-west");
    assert_int_equal(tu_apply(s, &c, NULL), REG_OK);
    assert_int_equal(st_node_get(s, a, &n), REG_OK);
    assert_int_equal(n.n_tags, 2);
    assert_string_equal(n.tags[0], "gpu");
    assert_string_equal(n.tags[1], "eu-west");
    /* Overwrite, validation, clear. */
    c.n_tags = 1;
    snprintf(c.tags[0], sizeof c.tags[0], "Upper");
    assert_int_equal(tu_apply(s, &c, NULL), REG_INVALID_ARGUMENT);
    snprintf(c.tags[0], sizeof c.tags[0], "has space");
    assert_int_equal(tu_apply(s, &c, NULL), REG_INVALID_ARGUMENT);
    memset(c.tags[0], 'a', ST_TAG_MAX + 1); /* 33 chars, unterminated */
    assert_int_equal(tu_apply(s, &c, NULL), REG_INVALID_ARGUMENT);
    c.n_tags = ST_TAGS_MAX + 1;
    assert_int_equal(tu_apply(s, &c, NULL), REG_INVALID_ARGUMENT);
    assert_int_equal(st_node_get(s, a, &n), REG_OK);
    assert_int_equal(n.n_tags, 2);
    c.n_tags = 1;
    snprintf(c.tags[0], sizeof c.tags[0], "cpu");
    assert_int_equal(tu_apply(s, &c, NULL), REG_OK);
    assert_int_equal(st_node_get(s, a, &n), REG_OK);
    assert_int_equal(n.n_tags, 1);
    assert_string_equal(n.tags[0], "cpu");
    c.n_tags = 0;
    assert_int_equal(tu_apply(s, &c, NULL), REG_OK);
    assert_int_equal(st_node_get(s, a, &n), REG_OK);
    assert_int_equal(n.n_tags, 0);
    st_free(s);
}

static void test_endpoint_visibility(void **state)
{
    (void)state;
    struct st_state *s = st_new();
    uint32_t a = tu_register(s, 1, false, NULL);
    struct st_cmd c;
    struct st_node n;
    tu_cmd(&c, ST_CMD_SET_ENDPOINT, 1);
    snprintf(c.endpoint, sizeof c.endpoint, "198.51.100.7:4000");
    assert_int_equal(tu_apply(s, &c, NULL), REG_OK);
    snprintf(c.endpoint, sizeof c.endpoint, "1.1.1.1:1");
    assert_int_equal(tu_apply(s, &c, NULL), REG_OK);
    assert_int_equal(st_node_get(s, a, &n), REG_OK);
    assert_string_equal(n.endpoint, "1.1.1.1:1");
    c.endpoint[0] = '\0';
    assert_int_equal(tu_apply(s, &c, NULL), REG_INVALID_ARGUMENT);
    tu_cmd(&c, ST_CMD_SET_VISIBILITY, 1);
    c.flag = true;
    assert_int_equal(tu_apply(s, &c, NULL), REG_OK);
    assert_int_equal(st_node_get(s, a, &n), REG_OK);
    assert_true(n.public_);
    c.flag = false;
    assert_int_equal(tu_apply(s, &c, NULL), REG_OK);
    assert_int_equal(st_node_get(s, a, &n), REG_OK);
    assert_false(n.public_);
    st_free(s);
}

static void test_rotate_key(void **state)
{
    (void)state;
    struct st_state *s = st_new();
    uint32_t a = tu_register(s, 1, false, NULL);
    uint32_t b = tu_register(s, 2, false, NULL);
    struct st_cmd c;
    uint8_t k1[ST_KEY_LEN], k9[ST_KEY_LEN];
    tu_key(1, k1);
    tu_key(9, k9);
    tu_cmd(&c, ST_CMD_ROTATE_KEY, 1);
    assert_int_equal(tu_apply(s, &c, NULL), REG_INVALID_ARGUMENT); /* zero key */
    tu_key(2, c.key);
    assert_int_equal(tu_apply(s, &c, NULL), REG_ALREADY_EXISTS);    /* b's key */
    memcpy(c.key, k9, ST_KEY_LEN);
    assert_int_equal(tu_apply(s, &c, NULL), REG_OK);
    assert_int_equal(st_node_by_key(s, k9), a);
    assert_int_equal(st_node_by_key(s, k1), 0);
    /* The old key no longer authenticates; the new one does. */
    tu_cmd(&c, ST_CMD_SET_VISIBILITY, 1);
    assert_int_equal(tu_apply(s, &c, NULL), REG_UNAUTHENTICATED);
    tu_cmd(&c, ST_CMD_SET_VISIBILITY, 9);
    assert_int_equal(tu_apply(s, &c, NULL), REG_OK);
    assert_true(st_node_exists(s, b));
    st_free(s);
}

static void test_set_online(void **state)
{
    (void)state;
    struct st_state *s = st_new();
    uint32_t a = tu_register(s, 1, false, NULL);
    struct st_online batch[2] = {{a, false}, {9999, true}};
    struct st_cmd c;
    struct st_node n;
    struct st_stats st;
    tu_cmd(&c, ST_CMD_SET_ONLINE, 1);
    c.online = batch;
    c.n_online = 2;
    assert_int_equal(tu_apply(s, &c, NULL), REG_PERMISSION_DENIED);
    c.caller_admin = true;
    c.ts_ms = 42;
    assert_int_equal(tu_apply(s, &c, NULL), REG_OK);
    assert_int_equal(st_node_get(s, a, &n), REG_OK);
    assert_false(n.online);
    assert_int_equal(n.last_change_ms, 42);
    st_stats(s, &st);
    assert_int_equal(st.nodes_online, 0);
    c.n_online = ST_ONLINE_BATCH_MAX + 1;
    assert_int_equal(tu_apply(s, &c, NULL), REG_INVALID_ARGUMENT);
    c.n_online = 1;
    c.online = NULL;
    assert_int_equal(tu_apply(s, &c, NULL), REG_INVALID_ARGUMENT);
    st_free(s);
}

static void test_unknown_op(void **state)
{
    (void)state;
    struct st_state *s = st_new();
    struct st_cmd c;
    tu_cmd(&c, 999, 1);
    assert_int_equal(tu_apply(s, &c, NULL), REG_INVALID_ARGUMENT);
    tu_cmd(&c, ST_CMD_NONE, 1);
    assert_int_equal(tu_apply(s, &c, NULL), REG_INVALID_ARGUMENT);
    st_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_register_ids_and_return),
        cmocka_unit_test(test_register_bad_arguments_change_nothing),
        cmocka_unit_test(test_register_hostname_warning),
        cmocka_unit_test(test_hostname_rules_and_uniqueness),
        cmocka_unit_test(test_tags),
        cmocka_unit_test(test_endpoint_visibility),
        cmocka_unit_test(test_rotate_key),
        cmocka_unit_test(test_set_online),
        cmocka_unit_test(test_unknown_op),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
