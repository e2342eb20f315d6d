/* test_proto_handshake: hello / auth / welcome round trips and the
 * authentication rules: a good signature is accepted; a wrong key, a replay
 * against a new hello (new nonce), another cluster and a truncated
 * signature are all refused; admin tokens and peer MACs likewise. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "proto.h"

static char errmsg[REG_ERRMSG_SIZE];
static uint8_t pk[32], sk[64], pk2[32], sk2[64];
static const uint8_t cluster_key[32] = {1, 2, 3, 4, 5, 6, 7, 8};

static int setup(void **state)
{
    (void)state;
    if (sodium_init() < 0) {
        return -1;
    }
    crypto_sign_keypair(pk, sk);
    crypto_sign_keypair(pk2, sk2);
    return 0;
}

static void make_hello(struct proto_hello *h, const char *cluster, uint8_t fill)
{
    memset(h, 0, sizeof *h);
    h->v = PROTO_VERSION;
    strcpy(h->cluster, cluster);
    h->node = 3;
    memset(h->nonce, fill, sizeof h->nonce);
}

/* Encode then decode an auth, as the wire would carry it. */
static void through_wire(const struct proto_auth *in, struct proto_auth *out)
{
    uint8_t buf[512];
    struct proto_out o;
    proto_out_fixed(&o, buf, sizeof buf);
    assert_int_equal(proto_auth_encode(&o, in), REG_OK);
    assert_int_equal(proto_auth_decode(buf, o.len, out, errmsg), REG_OK);
}

static void test_hello_welcome_round_trip(void **state)
{
    (void)state;
    uint8_t buf[256];
    struct proto_out o;
    struct proto_hello h, h2;
    struct proto_welcome w = {.ok = true, .node_id = 77}, w2;
    make_hello(&h, "cluster-a", 0x5A);
    proto_out_fixed(&o, buf, sizeof buf);
    assert_int_equal(proto_hello_encode(&o, &h), REG_OK);
    assert_int_equal(proto_hello_decode(buf, o.len, &h2, errmsg), REG_OK);
    assert_memory_equal(&h, &h2, sizeof h);
    proto_out_fixed(&o, buf, sizeof buf);
    assert_int_equal(proto_welcome_encode(&o, &w), REG_OK);
    assert_int_equal(proto_welcome_decode(buf, o.len, &w2, errmsg), REG_OK);
    assert_true(w2.ok);
    assert_int_equal(w2.node_id, 77);
    memset(&w, 0, sizeof w);
    w.code = REG_UNAUTHENTICATED;
    strcpy(w.message, "auth: bad signature");
    proto_out_fixed(&o, buf, sizeof buf);
    assert_int_equal(proto_welcome_encode(&o, &w), REG_OK);
    assert_int_equal(proto_welcome_decode(buf, o.len, &w2, errmsg), REG_OK);
    assert_false(w2.ok);
    assert_int_equal(w2.code, REG_UNAUTHENTICATED);
    assert_string_equal(w2.message, "auth: bad signature");
    /* a hello is not a welcome */
    proto_out_fixed(&o, buf, sizeof buf);
    proto_hello_encode(&o, &h);
    assert_int_equal(proto_welcome_decode(buf, o.len, &w2, errmsg), REG_MALFORMED);
    assert_string_equal(errmsg, "t: expected \"welcome\", got \"hello\"");
}

static void test_signed_bytes_layout(void **state)
{
    (void)state;
    uint8_t nonce[32], cnonce[32], key[32], out[256];
    memset(nonce, 1, 32);
    memset(cnonce, 2, 32);
    memset(key, 3, 32);
    size_t n = proto_auth_signed_bytes("c1", nonce, cnonce, key, out, sizeof out);
    assert_int_equal(n, 14 + 2 + 1 + 96);
    assert_memory_equal(out, "pilot-auth-v1\0c1\0", 17);
    assert_memory_equal(out + 17, nonce, 32);
    assert_memory_equal(out + 49, cnonce, 32);
    assert_memory_equal(out + 81, key, 32);
    assert_int_equal(proto_auth_signed_bytes("c1", nonce, cnonce, key, NULL, 0), n);
    n = proto_peer_mac_bytes("c1", nonce, cnonce, 0x0102030405060708ull, out, sizeof out);
    assert_int_equal(n, 14 + 2 + 1 + 64 + 8);
    assert_memory_equal(out, "pilot-peer-v1\0c1\0", 17);
    static const uint8_t be[] = {1, 2, 3, 4, 5, 6, 7, 8};
    assert_memory_equal(out + 81, be, 8);
}

static void test_agent_signature(void **state)
{
    (void)state;
    struct proto_hello h, h_new, h_other;
    struct proto_auth a, got;
    uint8_t cnonce[32];
    memset(cnonce, 9, sizeof cnonce);
    make_hello(&h, "cluster-a", 0x11);
    assert_int_equal(proto_auth_sign(&a, &h, sk, cnonce), REG_OK);
    through_wire(&a, &got);
    assert_int_equal(got.kind, PROTO_AUTH_AGENT);
    assert_memory_equal(got.key, pk, 32);
    assert_int_equal(proto_auth_verify(&got, &h, NULL, NULL, errmsg), REG_OK);

    /* replay of the captured auth against a new connection's hello */
    make_hello(&h_new, "cluster-a", 0x12);
    assert_int_equal(proto_auth_verify(&got, &h_new, NULL, NULL, errmsg), REG_UNAUTHENTICATED);
    assert_string_equal(errmsg, "auth: bad signature");
    /* another cluster with the same nonce */
    make_hello(&h_other, "cluster-b", 0x11);
    assert_int_equal(proto_auth_verify(&got, &h_other, NULL, NULL, errmsg), REG_UNAUTHENTICATED);
    /* wrong key: claims pk2 but signed with sk */
    struct proto_auth forged = got;
    memcpy(forged.key, pk2, 32);
    assert_int_equal(proto_auth_verify(&forged, &h, NULL, NULL, errmsg), REG_UNAUTHENTICATED);
    /* a tampered client nonce */
    forged = got;
    forged.cnonce[0] ^= 1;
    assert_int_equal(proto_auth_verify(&forged, &h, NULL, NULL, errmsg), REG_UNAUTHENTICATED);
    /* flipped signature bit */
    forged = got;
    forged.sig[63] ^= 0x80;
    assert_int_equal(proto_auth_verify(&forged, &h, NULL, NULL, errmsg), REG_UNAUTHENTICATED);
}

static void test_truncated_signature_refused(void **state)
{
    (void)state;
    uint8_t buf[256], cnonce[32] = {0};
    struct proto_out o;
    struct proto_auth a, got;
    struct proto_hello h;
    make_hello(&h, "c", 1);
    proto_auth_sign(&a, &h, sk, cnonce);
    proto_out_fixed(&o, buf, sizeof buf);
    proto_put_map(&o, 4);
    proto_put_str(&o, "t");
    proto_put_str(&o, "auth");
    proto_put_str(&o, "key");
    proto_put_bin(&o, a.key, 32);
    proto_put_str(&o, "cnonce");
    proto_put_bin(&o, a.cnonce, 32);
    proto_put_str(&o, "sig");
    proto_put_bin(&o, a.sig, 63);
    assert_int_equal(proto_auth_decode(buf, o.len, &got, errmsg), REG_MALFORMED);
    assert_string_equal(errmsg, "auth.sig: must be 64 bytes (got 63)");
    /* truncated frame body */
    proto_out_fixed(&o, buf, sizeof buf);
    proto_auth_encode(&o, &a);
    for (size_t n = 0; n < o.len; n++) {
        assert_int_equal(proto_auth_decode(buf, n, &got, errmsg), REG_MALFORMED);
    }
    /* no credential at all */
    proto_out_fixed(&o, buf, sizeof buf);
    proto_put_map(&o, 1);
    proto_put_str(&o, "t");
    proto_put_str(&o, "auth");
    assert_int_equal(proto_auth_decode(buf, o.len, &got, errmsg), REG_MALFORMED);
}

static void test_admin_token(void **state)
{
    (void)state;
    struct proto_hello h;
    struct proto_auth a, got;
    uint8_t cnonce[32] = {7};
    make_hello(&h, "c", 3);
    assert_int_equal(proto_auth_admin(&a, "s3cret-token"), REG_OK);
    through_wire(&a, &got);
    assert_int_equal(got.kind, PROTO_AUTH_ADMIN);
    assert_false(got.has_key);
    assert_int_equal(proto_auth_verify(&got, &h, "s3cret-token", NULL, errmsg), REG_OK);
    assert_int_equal(proto_auth_verify(&got, &h, "s3cret-tokem", NULL, errmsg),
                     REG_UNAUTHENTICATED);
    assert_int_equal(proto_auth_verify(&got, &h, "s3cret-token-longer", NULL, errmsg),
                     REG_UNAUTHENTICATED);
    assert_int_equal(proto_auth_verify(&got, &h, NULL, NULL, errmsg), REG_UNAUTHENTICATED);
    /* an admin that also proves a key */
    struct proto_auth signed_;
    proto_auth_sign(&signed_, &h, sk, cnonce);
    memcpy(signed_.admin, "s3cret-token", 13);
    signed_.kind = PROTO_AUTH_ADMIN;
    through_wire(&signed_, &got);
    assert_true(got.has_key);
    assert_int_equal(proto_auth_verify(&got, &h, "s3cret-token", NULL, errmsg), REG_OK);
    got.sig[0] ^= 1;
    assert_int_equal(proto_auth_verify(&got, &h, "s3cret-token", NULL, errmsg),
                     REG_UNAUTHENTICATED);
    char longtok[PROTO_ADMIN_TOKEN_MAX + 2];
    memset(longtok, 'x', sizeof longtok - 1);
    longtok[sizeof longtok - 1] = '\0';
    assert_int_equal(proto_auth_admin(&a, longtok), REG_INVALID_ARGUMENT);
}

static void test_peer_mac(void **state)
{
    (void)state;
    struct proto_hello h, h2;
    struct proto_auth a, got;
    uint8_t cnonce[32] = {4};
    uint8_t other_key[32] = {9};
    make_hello(&h, "c", 3);
    assert_int_equal(proto_auth_peer(&a, &h, 2, cluster_key, cnonce), REG_OK);
    through_wire(&a, &got);
    assert_int_equal(got.kind, PROTO_AUTH_PEER);
    assert_int_equal(got.peer, 2);
    assert_int_equal(proto_auth_verify(&got, &h, NULL, cluster_key, errmsg), REG_OK);
    assert_int_equal(proto_auth_verify(&got, &h, NULL, other_key, errmsg), REG_UNAUTHENTICATED);
    assert_int_equal(proto_auth_verify(&got, &h, NULL, NULL, errmsg), REG_UNAUTHENTICATED);
    make_hello(&h2, "c", 4);
    assert_int_equal(proto_auth_verify(&got, &h2, NULL, cluster_key, errmsg),
                     REG_UNAUTHENTICATED);
    got.peer = 3; /* claims another raft id */
    assert_int_equal(proto_auth_verify(&got, &h, NULL, cluster_key, errmsg),
                     REG_UNAUTHENTICATED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hello_welcome_round_trip),
        cmocka_unit_test(test_signed_bytes_layout),
        cmocka_unit_test(test_agent_signature),
        cmocka_unit_test(test_truncated_signature_refused),
        cmocka_unit_test(test_admin_token),
        cmocka_unit_test(test_peer_mac),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
