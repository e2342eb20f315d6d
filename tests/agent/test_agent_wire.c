/* Unit test of agent_core: the data-plane packet codec and crypto, the
 * replay window and the control-socket codec. What users rely on: both
 * ends derive the same pair key and nobody else can; any change to header
 * or payload is refused; replays are refused; hostile bytes give errors,
 * never crashes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <cmocka.h>
#include <sodium.h>

#include "agent.h"

struct keys {
    uint8_t pk_a[32], sk_a[64], pk_b[32], sk_b[64], pk_c[32], sk_c[64];
};

static void make_keys(struct keys *k)
{
    crypto_sign_keypair(k->pk_a, k->sk_a);
    crypto_sign_keypair(k->pk_b, k->sk_b);
    crypto_sign_keypair(k->pk_c, k->sk_c);
}

static void test_pair_key_symmetric_and_private(void **state)
{
    struct keys k;
    uint8_t ab[32], ba[32], cb[32];
    uint8_t bad[32];
    (void)state;
    make_keys(&k);
    assert_int_equal(agent_pair_key(k.sk_a, k.pk_b, ab), REG_OK);
    assert_int_equal(agent_pair_key(k.sk_b, k.pk_a, ba), REG_OK);
    assert_memory_equal(ab, ba, 32);
    assert_int_equal(agent_pair_key(k.sk_c, k.pk_b, cb), REG_OK);
    assert_memory_not_equal(ab, cb, 32);
    /* A public key that is not on the curve is refused. */
    memset(bad, 0, sizeof bad);
    bad[31] = 0x80;
    assert_int_not_equal(agent_pair_key(k.sk_a, bad, ab), REG_OK);
}

static size_t seal_sample(const uint8_t key[32], uint8_t *buf, size_t cap, const char *msg)
{
    struct agent_pkt p;
    memset(&p, 0, sizeof p);
    p.type = AGENT_PKT_DATA;
    p.src = 7;
    p.dst = 9;
    p.port = 80;
    p.flags = AGENT_FLAG_FROM_INITIATOR;
    p.conn = 0xdeadbeef;
    p.pseq = 3;
    p.seq = 0x0102030405060708ull;
    p.payload = (const uint8_t *)msg;
    p.payload_len = strlen(msg);
    return agent_pkt_seal(&p, key, buf, cap);
}

static void test_seal_open_round_trip(void **state)
{
    struct keys k;
    uint8_t key[32], buf[AGENT_PKT_MAX];
    struct agent_pkt p;
    size_t n;
    (void)state;
    make_keys(&k);
    agent_pair_key(k.sk_a, k.pk_b, key);
    n = seal_sample(key, buf, sizeof buf, "hello");
    assert_int_equal(n, AGENT_PKT_HDR + 5 + AGENT_PKT_TAG);
    assert_int_equal(agent_pkt_peek(buf, n, &p), REG_OK);
    assert_int_equal(p.src, 7);
    assert_int_equal(p.dst, 9);
    assert_int_equal(p.port, 80);
    assert_int_equal(p.conn, 0xdeadbeef);
    assert_true(p.seq == 0x0102030405060708ull);
    assert_int_equal(agent_pkt_open(buf, n, key, &p), REG_OK);
    assert_int_equal(p.payload_len, 5);
    assert_memory_equal(p.payload, "hello", 5);
    assert_int_equal(p.type, AGENT_PKT_DATA);
    assert_int_equal(p.pseq, 3);
}

static void test_tamper_and_wrong_key_refused(void **state)
{
    struct keys k;
    uint8_t key[32], other[32], buf[AGENT_PKT_MAX], copy[AGENT_PKT_MAX];
    struct agent_pkt p;
    size_t n;
    (void)state;
    make_keys(&k);
    agent_pair_key(k.sk_a, k.pk_b, key);
    agent_pair_key(k.sk_c, k.pk_b, other);
    n = seal_sample(key, buf, sizeof buf, "payload");
    memcpy(copy, buf, n);
    assert_int_equal(agent_pkt_open(copy, n, other, &p), REG_UNAUTHENTICATED);
    /* Every byte of header and body is covered. */
    for (size_t i = 3; i < n; i++) {
        memcpy(copy, buf, n);
        copy[i] ^= 0x01;
        int rv = agent_pkt_open(copy, n, key, &p);
        assert_true(rv == REG_UNAUTHENTICATED || rv == REG_MALFORMED);
    }
    memcpy(copy, buf, n);
    assert_int_equal(agent_pkt_open(copy, n, key, &p), REG_OK);
}

static void test_peek_rejects_garbage(void **state)
{
    uint8_t buf[AGENT_PKT_MAX + 10];
    struct agent_pkt p;
    (void)state;
    memset(buf, 0, sizeof buf);
    assert_int_equal(agent_pkt_peek(buf, 0, &p), REG_MALFORMED);
    assert_int_equal(agent_pkt_peek(buf, AGENT_PKT_HDR, &p), REG_MALFORMED);
    memcpy(buf, "PD\x01\x09", 4);
    assert_int_equal(agent_pkt_peek(buf, 100, &p), REG_MALFORMED);
    memcpy(buf, "PD\x02\x01", 4);
    assert_int_equal(agent_pkt_peek(buf, 100, &p), REG_MALFORMED);
    memcpy(buf, "PD\x01\x01", 4);
    assert_int_equal(agent_pkt_peek(buf, sizeof buf, &p), REG_MALFORMED);
    assert_int_equal(agent_pkt_peek(buf, 100, &p), REG_OK);
    for (int i = 0; i < 2000; i++) {
        size_t len = (size_t)randombytes_uniform(sizeof buf);
        randombytes_buf(buf, len);
        if (i % 2 == 0 && len >= 4) {
            memcpy(buf, "PD\x01\x01", 4);
        }
        uint8_t key[32] = {1};
        (void)agent_pkt_open(buf, len, key, &p);
    }
}

static void test_seal_refuses_oversize(void **state)
{
    uint8_t key[32] = {0}, buf[AGENT_PKT_MAX], big[AGENT_PKT_PAYLOAD_MAX + 1];
    struct agent_pkt p;
    (void)state;
    memset(&p, 0, sizeof p);
    p.type = AGENT_PKT_DGRAM;
    p.payload = big;
    p.payload_len = sizeof big;
    assert_int_equal(agent_pkt_seal(&p, key, buf, sizeof buf), 0);
    p.payload_len = 10;
    assert_int_equal(agent_pkt_seal(&p, key, buf, 20), 0);
}

static void test_replay_window(void **state)
{
    struct agent_replay w = {0, 0};
    (void)state;
    assert_false(agent_replay_accept(&w, 0));
    assert_true(agent_replay_accept(&w, 100));
    assert_false(agent_replay_accept(&w, 100));
    assert_true(agent_replay_accept(&w, 98));
    assert_false(agent_replay_accept(&w, 98));
    assert_true(agent_replay_accept(&w, 101));
    assert_true(agent_replay_accept(&w, 99));
    assert_false(agent_replay_accept(&w, 101 - 64));
    assert_true(agent_replay_accept(&w, 1000));
    assert_false(agent_replay_accept(&w, 101));
    assert_false(agent_replay_accept(&w, 1000));
}

static void test_ipc_round_trip_and_errors(void **state)
{
    struct agent_ipc_msg m, d;
    struct proto_out o;
    char errmsg[REG_ERRMSG_SIZE];
    void *buf = NULL;
    size_t len = 0;
    (void)state;
    memset(&m, 0, sizeof m);
    snprintf(m.op, sizeof m.op, "send");
    snprintf(m.node, sizeof m.node, "agent-b");
    m.port = 80;
    m.data = (const uint8_t *)"hi";
    m.data_len = 2;
    proto_out_grow(&o);
    assert_int_equal(agent_ipc_encode(&o, &m, 0, NULL, 0), REG_OK);
    assert_int_equal(proto_out_take(&o, &buf, &len), REG_OK);
    assert_int_equal(agent_ipc_decode(buf, len, &d, errmsg), REG_OK);
    assert_string_equal(d.op, "send");
    assert_string_equal(d.node, "agent-b");
    assert_int_equal(d.port, 80);
    assert_int_equal(d.data_len, 2);
    assert_memory_equal(d.data, "hi", 2);
    assert_false(d.has_ok);
    /* Truncations of a valid message never decode into garbage. */
    for (size_t i = 0; i < len; i++) {
        assert_int_not_equal(agent_ipc_decode(buf, i, &d, errmsg), REG_OK);
    }
    reg_free(buf);
    /* A port out of range is an argument error. */
    proto_out_grow(&o);
    proto_put_map(&o, 2);
    proto_put_str(&o, "op");
    proto_put_str(&o, "listen");
    proto_put_str(&o, "port");
    proto_put_u64(&o, 70000);
    assert_int_equal(proto_out_take(&o, &buf, &len), REG_OK);
    assert_int_equal(agent_ipc_decode(buf, len, &d, errmsg), REG_INVALID_ARGUMENT);
    reg_free(buf);
    /* data must be bytes. */
    proto_out_grow(&o);
    proto_put_map(&o, 1);
    proto_put_str(&o, "data");
    proto_put_u64(&o, 1);
    assert_int_equal(proto_out_take(&o, &buf, &len), REG_OK);
    assert_int_equal(agent_ipc_decode(buf, len, &d, errmsg), REG_INVALID_ARGUMENT);
    reg_free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pair_key_symmetric_and_private),
        cmocka_unit_test(test_seal_open_round_trip),
        cmocka_unit_test(test_tamper_and_wrong_key_refused),
        cmocka_unit_test(test_peek_rejects_garbage),
        cmocka_unit_test(test_seal_refuses_oversize),
        cmocka_unit_test(test_replay_window),
        cmocka_unit_test(test_ipc_round_trip_and_errors),
    };
    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
