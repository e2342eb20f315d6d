/* test_proto_mp: the msgpack reading layer and the encoder output modes.
 * What callers rely on: every well-formed value is read back exactly,
 * every malformed or hostile input is refused with an error naming the
 * field, and the three output modes agree byte for byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <msgpack.h>

#include "proto.h"

static char errmsg[REG_ERRMSG_SIZE];

/* A map exercising every getter. */
static size_t sample(uint8_t *buf, size_t cap)
{
    struct proto_out o;
    uint8_t key[32];
    memset(key, 0xAB, sizeof key);
    proto_out_fixed(&o, buf, cap);
    proto_put_map(&o, 9);
    proto_put_str(&o, "u");
    proto_put_u64(&o, UINT64_MAX);
    proto_put_str(&o, "small");
    proto_put_u64(&o, 7);
    proto_put_str(&o, "neg");
    proto_put_i64(&o, -5);
    proto_put_str(&o, "b");
    proto_put_bool(&o, true);
    proto_put_str(&o, "s");
    proto_put_str(&o, "hello");
    proto_put_str(&o, "k");
    proto_put_bin(&o, key, sizeof key);
    proto_put_str(&o, "m");
    proto_put_map(&o, 1);
    proto_put_str(&o, "x");
    proto_put_u64(&o, 1);
    proto_put_str(&o, "a");
    proto_put_array(&o, 3);
    proto_put_u64(&o, 1);
    proto_put_u64(&o, 2);
    proto_put_u64(&o, 3);
    proto_put_str(&o, "nil");
    proto_put_nil(&o);
    assert_int_equal(o.err, REG_OK);
    return o.len;
}

static void test_getters_read_back(void **state)
{
    (void)state;
    uint8_t buf[256];
    size_t len = sample(buf, sizeof buf);
    struct proto_val root, m, a, e;
    struct proto_iter it;
    uint64_t u = 0;
    int64_t i = 0;
    bool b = false;
    char s[8];
    uint8_t key[32], want[32];
    memset(want, 0xAB, sizeof want);
    assert_int_equal(proto_parse(buf, len, "", &root, errmsg), REG_OK);
    assert_int_equal(proto_get_u64(&root, "u", PROTO_REQ, UINT64_MAX, &u, errmsg), REG_OK);
    assert_true(u == UINT64_MAX);
    assert_int_equal(proto_get_i64(&root, "neg", PROTO_REQ, &i, errmsg), REG_OK);
    assert_int_equal(i, -5);
    assert_int_equal(proto_get_i64(&root, "small", PROTO_REQ, &i, errmsg), REG_OK);
    assert_int_equal(i, 7);
    assert_int_equal(proto_get_bool(&root, "b", PROTO_REQ, &b, errmsg), REG_OK);
    assert_true(b);
    assert_int_equal(proto_get_str(&root, "s", PROTO_REQ, 7, s, errmsg), REG_OK);
    assert_string_equal(s, "hello");
    assert_int_equal(proto_get_bin(&root, "k", PROTO_REQ, 32, key, errmsg), REG_OK);
    assert_memory_equal(key, want, 32);
    assert_int_equal(proto_get_map(&root, "m", PROTO_REQ, &m, errmsg), REG_OK);
    assert_int_equal(proto_get_u64(&m, "x", PROTO_REQ, 10, &u, errmsg), REG_OK);
    assert_int_equal(u, 1);
    assert_int_equal(proto_get_array(&root, "a", PROTO_REQ, 3, &a, errmsg), REG_OK);
    proto_iter_init(&it, &a);
    uint64_t sum = 0;
    while (proto_iter_next(&it, &e)) {
        assert_int_equal(proto_val_u64(&e, 10, &u, errmsg), REG_OK);
        sum += u;
    }
    assert_int_equal(sum, 6);
    /* nil reads as absent; absent optional leaves the output untouched */
    u = 99;
    assert_int_equal(proto_get_u64(&root, "nil", 0, 10, &u, errmsg), REG_OK);
    assert_int_equal(u, 99);
    assert_false(proto_has(&root, "nil"));
    assert_int_equal(proto_get_u64(&root, "nope", 0, 10, &u, errmsg), REG_OK);
    assert_int_equal(u, 99);
}

static void test_getter_errors_name_the_field(void **state)
{
    (void)state;
    uint8_t buf[256];
    size_t len = sample(buf, sizeof buf);
    struct proto_val root, a, m;
    uint64_t u = 0;
    char s[4];
    uint8_t key[16];
    bool b;
    assert_int_equal(proto_parse(buf, len, "args", &root, errmsg), REG_OK);
    assert_int_equal(proto_get_u64(&root, "nope", PROTO_REQ, 10, &u, errmsg), REG_INVALID_ARGUMENT);
    assert_string_equal(errmsg, "args.nope: missing");
    assert_int_equal(proto_get_str(&root, "s", PROTO_REQ, 3, s, errmsg), REG_INVALID_ARGUMENT);
    assert_string_equal(errmsg, "args.s: too long (max 3)");
    assert_int_equal(proto_get_u64(&root, "s", PROTO_REQ, 10, &u, errmsg), REG_INVALID_ARGUMENT);
    assert_string_equal(errmsg, "args.s: wrong type (want integer, got string)");
    assert_int_equal(proto_get_u64(&root, "u", PROTO_REQ, 10, &u, errmsg), REG_INVALID_ARGUMENT);
    assert_string_equal(errmsg, "args.u: out of range (0..10)");
    assert_int_equal(proto_get_u64(&root, "neg", PROTO_REQ, 10, &u, errmsg), REG_INVALID_ARGUMENT);
    assert_int_equal(proto_get_bin(&root, "k", PROTO_REQ, 16, key, errmsg), REG_INVALID_ARGUMENT);
    assert_string_equal(errmsg, "args.k: must be 16 bytes (got 32)");
    assert_int_equal(proto_get_bool(&root, "small", PROTO_REQ, &b, errmsg), REG_INVALID_ARGUMENT);
    assert_int_equal(proto_get_array(&root, "a", PROTO_REQ, 2, &a, errmsg), REG_INVALID_ARGUMENT);
    assert_string_equal(errmsg, "args.a: too many entries (max 2)");
    assert_int_equal(proto_get_map(&root, "a", PROTO_REQ, &m, errmsg), REG_INVALID_ARGUMENT);
    int64_t i;
    assert_int_equal(proto_get_i64(&root, "u", PROTO_REQ, &i, errmsg), REG_INVALID_ARGUMENT);
}

static void test_string_with_nul_refused(void **state)
{
    (void)state;
    uint8_t buf[64];
    struct proto_out o;
    struct proto_val root;
    char s[16];
    proto_out_fixed(&o, buf, sizeof buf);
    proto_put_map(&o, 1);
    proto_put_str(&o, "h");
    proto_put_strn(&o, "a\0b", 3);
    assert_int_equal(proto_parse(buf, o.len, "", &root, errmsg), REG_OK);
    assert_int_equal(proto_get_str(&root, "h", PROTO_REQ, 15, s, errmsg), REG_INVALID_ARGUMENT);
    assert_string_equal(errmsg, "h: contains a NUL byte");
}

static void test_duplicate_key_refused(void **state)
{
    (void)state;
    uint8_t buf[64];
    struct proto_out o;
    struct proto_val root;
    uint64_t u;
    proto_out_fixed(&o, buf, sizeof buf);
    proto_put_map(&o, 2);
    proto_put_str(&o, "id");
    proto_put_u64(&o, 1);
    proto_put_str(&o, "id");
    proto_put_u64(&o, 2);
    assert_int_equal(proto_parse(buf, o.len, "", &root, errmsg), REG_OK);
    assert_int_equal(proto_get_u64(&root, "id", PROTO_REQ, 10, &u, errmsg), REG_MALFORMED);
    assert_string_equal(errmsg, "id: duplicate key");
}

static void test_parse_refuses_structure_errors(void **state)
{
    (void)state;
    struct proto_val root;
    /* not a map */
    static const uint8_t arr[] = {0x91, 0x01};
    assert_int_equal(proto_parse(arr, sizeof arr, "", &root, errmsg), REG_MALFORMED);
    assert_string_equal(errmsg, "message: not a map");
    /* trailing bytes */
    static const uint8_t trail[] = {0x80, 0x00};
    assert_int_equal(proto_parse(trail, sizeof trail, "", &root, errmsg), REG_MALFORMED);
    assert_string_equal(errmsg, "message: 1 trailing bytes");
    /* truncated string */
    static const uint8_t trunc[] = {0x81, 0xa1, 'k', 0xa5, 'a'};
    assert_int_equal(proto_parse(trunc, sizeof trunc, "", &root, errmsg), REG_MALFORMED);
    assert_string_equal(errmsg, "message: truncated");
    /* reserved byte */
    static const uint8_t bad[] = {0x81, 0xa1, 'k', 0xc1};
    assert_int_equal(proto_parse(bad, sizeof bad, "", &root, errmsg), REG_MALFORMED);
    assert_string_equal(errmsg, "message: invalid msgpack");
    /* empty */
    assert_int_equal(proto_parse(bad, 0, "", &root, errmsg), REG_MALFORMED);
    /* a huge array count costs nothing and is refused as truncated */
    static const uint8_t huge[] = {0x81, 0xa1, 'k', 0xdd, 0xff, 0xff, 0xff, 0xff, 0x01};
    assert_int_equal(proto_parse(huge, sizeof huge, "", &root, errmsg), REG_MALFORMED);
    static const uint8_t hugemap[] = {0xdf, 0xff, 0xff, 0xff, 0xff};
    assert_int_equal(proto_parse(hugemap, sizeof hugemap, "", &root, errmsg), REG_MALFORMED);
    /* a 4 GB string header */
    static const uint8_t hugestr[] = {0x81, 0xa1, 'k', 0xdb, 0xff, 0xff, 0xff, 0xff, 'x'};
    assert_int_equal(proto_parse(hugestr, sizeof hugestr, "", &root, errmsg), REG_MALFORMED);
}

static void test_depth_bomb_refused(void **state)
{
    (void)state;
    struct proto_val root;
    size_t n = 100000;
    uint8_t *b = malloc(n + 8);
    assert_non_null(b);
    b[0] = 0x81;
    b[1] = 0xa1;
    b[2] = 'k';
    memset(b + 3, 0x91, n);   /* [[[[...]]]] */
    b[3 + n] = 0x01;
    assert_int_equal(proto_parse(b, n + 4, "", &root, errmsg), REG_MALFORMED);
    assert_string_equal(errmsg, "message: nested too deep");
    /* the deepest accepted nesting */
    int depth = PROTO_MAX_DEPTH - 1; /* map + arrays */
    b[3 + depth] = 0x01;
    assert_int_equal(proto_parse(b, (size_t)depth + 4, "", &root, errmsg), REG_OK);
    b[3 + depth + 1] = 0x01;
    assert_int_equal(proto_parse(b, (size_t)depth + 5, "", &root, errmsg), REG_MALFORMED);
    free(b);
}

/* Our writer's bytes are what msgpack-c itself reads, and our reader reads
 * every integer width msgpack-c writes. */
static void test_agrees_with_msgpack_c(void **state)
{
    (void)state;
    static const int64_t ints[] = {0, 1, 127, 128, 255, 256, 65535, 65536, -1, -32, -33, -128,
                                   -129, -32768, -32769, INT32_MIN, INT64_MIN, INT64_MAX};
    uint8_t buf[256];
    size_t len = sample(buf, sizeof buf);
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    assert_int_equal(msgpack_unpack_next(&up, (const char *)buf, len, &off), MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(off, len);
    assert_int_equal(up.data.type, MSGPACK_OBJECT_MAP);
    assert_int_equal(up.data.via.map.size, 9);
    msgpack_unpacked_destroy(&up);
    for (size_t k = 0; k < sizeof ints / sizeof ints[0]; k++) {
        msgpack_sbuffer sb;
        msgpack_packer pk;
        struct proto_val root;
        int64_t got = 0;
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, 1);
        msgpack_pack_str(&pk, 1);
        msgpack_pack_str_body(&pk, "i", 1);
        msgpack_pack_int64(&pk, ints[k]);
        assert_int_equal(proto_parse(sb.data, sb.size, "", &root, errmsg), REG_OK);
        assert_int_equal(proto_get_i64(&root, "i", PROTO_REQ, &got, errmsg), REG_OK);
        assert_true(got == ints[k]);
        msgpack_sbuffer_destroy(&sb);
    }
}

static void test_output_modes_agree(void **state)
{
    (void)state;
    uint8_t fixed[256], small[10];
    size_t len = sample(fixed, sizeof fixed);
    struct proto_out o;
    void *buf = NULL;
    size_t glen = 0;
    proto_out_count(&o);
    proto_put_map(&o, 0);
    assert_int_equal(o.len, 1);
    /* grow mode gives the same bytes */
    proto_out_grow(&o);
    proto_put_raw(&o, fixed, len);
    assert_int_equal(proto_out_take(&o, &buf, &glen), REG_OK);
    assert_int_equal(glen, len);
    assert_memory_equal(buf, fixed, len);
    reg_free(buf);
    /* fixed mode that is too small: sticky REG_TOO_LARGE */
    proto_out_fixed(&o, small, sizeof small);
    proto_put_str(&o, "a string longer than ten bytes");
    assert_int_equal(o.err, REG_TOO_LARGE);
    proto_put_u64(&o, 1);
    assert_int_equal(o.err, REG_TOO_LARGE);
}

static void test_grow_nomem_sweep(void **state)
{
    (void)state;
    char big[5000];
    memset(big, 'x', sizeof big);
    for (unsigned long nth = 1;; nth++) {
        struct proto_out o;
        void *buf = NULL;
        size_t len = 0;
        reg_alloc_fail_at(nth);
        proto_out_grow(&o);
        proto_put_strn(&o, big, sizeof big);
        proto_put_strn(&o, big, sizeof big);
        int rv = proto_out_take(&o, &buf, &len);
        reg_alloc_fail_at(0);
        if (rv == REG_OK) {
            assert_true(len > 2 * sizeof big);
            reg_free(buf);
            assert_true(nth > 1);
            break;
        }
        assert_int_equal(rv, REG_NOMEM);
        assert_true(nth < 100);
    }
}

static void test_arena(void **state)
{
    (void)state;
    struct proto_arena a;
    proto_arena_init(&a);
    uint64_t *p = proto_arena_alloc(&a, 3 * sizeof *p);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % 8, 0);
    assert_int_equal(p[0] | p[1] | p[2], 0);
    reg_alloc_fail_at(1);
    assert_null(proto_arena_alloc(&a, 8));
    reg_alloc_fail_at(0);
    proto_arena_free(&a);
    proto_arena_free(&a);
    assert_null(a.head);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_getters_read_back),
        cmocka_unit_test(test_getter_errors_name_the_field),
        cmocka_unit_test(test_string_with_nul_refused),
        cmocka_unit_test(test_duplicate_key_refused),
        cmocka_unit_test(test_parse_refuses_structure_errors),
        cmocka_unit_test(test_depth_bomb_refused),
        cmocka_unit_test(test_agrees_with_msgpack_c),
        cmocka_unit_test(test_output_modes_agree),
        cmocka_unit_test(test_grow_nomem_sweep),
        cmocka_unit_test(test_arena),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
