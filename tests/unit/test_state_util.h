/* test_state_util.h: helpers shared by the test_state_* programs: build a
 * command for an agent identified by a small integer, apply it, register
 * agents and networks in one call. Header-only (static inline) so each test
 * program stays one translation unit plus reg_state. */
#ifndef PILOT_TEST_STATE_UTIL_H
#define PILOT_TEST_STATE_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "state.h"

/* Agent n's key: distinct for every n, never all zero. */
static inline void tu_key(uint32_t n, uint8_t key[ST_KEY_LEN])
{
    memset(key, 0, ST_KEY_LEN);
    key[0] = 0xA5;
    memcpy(key + 1, &n, sizeof n);
    key[31] = (uint8_t)(n * 7 + 1);
}

/* A command from agent n (0: no key) at time ts. */
static inline void tu_cmd(struct st_cmd *c, uint16_t op, uint32_t agent)
{
    memset(c, 0, sizeof *c);
    c->op = op;
    c->ts_ms = 1700000000000 + agent;
    c->origin = 1;
    if (agent != 0) {
        tu_key(agent, c->caller_key);
    }
}

static inline int tu_apply(struct st_state *s, const struct st_cmd *c, struct st_result *r)
{
    struct st_result local;
    if (r == NULL) {
        r = &local;
    }
    st_apply(s, c, r);
    return r->code;
}

/* Register agent n; returns its node id (asserts success). */
static inline uint32_t tu_register(struct st_state *s, uint32_t agent, bool public_,
                                   const char *hostname)
{
    struct st_cmd c;
    struct st_result r;
    tu_cmd(&c, ST_CMD_REGISTER, agent);
    c.flag = public_;
    snprintf(c.endpoint, sizeof c.endpoint, "10.0.%u.%u:4000", (agent >> 8) & 255, agent & 255);
    if (hostname != NULL) {
        snprintf(c.hostname, sizeof c.hostname, "%s", hostname);
    }
    assert_int_equal(tu_apply(s, &c, &r), REG_OK);
    return r.node;
}

/* Agent `agent` runs op on network `net` with target node `node`. */
static inline int tu_net_op(struct st_state *s, uint16_t op, uint32_t agent, uint32_t net,
                            uint32_t node)
{
    struct st_cmd c;
    tu_cmd(&c, op, agent);
    c.network = net;
    c.node = node;
    return tu_apply(s, &c, NULL);
}

/* Agent creates a network; returns its id (asserts success). */
static inline uint32_t tu_net_create(struct st_state *s, uint32_t agent, const char *name,
                                     uint8_t rule, const char *token, bool enterprise)
{
    struct st_cmd c;
    struct st_result r;
    tu_cmd(&c, ST_CMD_NET_CREATE, agent);
    snprintf(c.name, sizeof c.name, "%s", name);
    c.join_rule = rule;
    if (token != NULL) {
        snprintf(c.token, sizeof c.token, "%s", token);
    }
    c.flag = enterprise;
    assert_int_equal(tu_apply(s, &c, &r), REG_OK);
    assert_true(r.network > 0);
    return r.network;
}

static inline int tu_join(struct st_state *s, uint32_t agent, uint32_t net, const char *token)
{
    struct st_cmd c;
    tu_cmd(&c, ST_CMD_NET_JOIN, agent);
    c.network = net;
    if (token != NULL) {
        snprintf(c.token, sizeof c.token, "%s", token);
    }
    return tu_apply(s, &c, NULL);
}

static inline int tu_trust_op(struct st_state *s, uint16_t op, uint32_t agent, uint32_t node,
                              const char *text, struct st_result *r)
{
    struct st_cmd c;
    tu_cmd(&c, op, agent);
    c.node = node;
    if (text != NULL) {
        snprintf(c.text, sizeof c.text, "%s", text);
    }
    return tu_apply(s, &c, r);
}

static inline void tu_hash_eq(const struct st_state *a, const struct st_state *b, bool equal)
{
    uint8_t ha[ST_HASH_LEN], hb[ST_HASH_LEN];
    st_hash(a, ha);
    st_hash(b, hb);
    if (equal) {
        assert_memory_equal(ha, hb, ST_HASH_LEN);
    } else {
        assert_memory_not_equal(ha, hb, ST_HASH_LEN);
    }
}

#endif /* PILOT_TEST_STATE_UTIL_H */
