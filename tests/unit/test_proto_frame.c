/* test_proto_frame: the incremental frame reader. Frames arrive in any
 * chunking and come out whole; oversized and malformed frames give a
 * sticky error before anything is yielded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto.h"

static char errmsg[REG_ERRMSG_SIZE];

/* Frame {"n": i} into buf; returns the length. */
static size_t frame(uint8_t *buf, size_t cap, uint64_t i)
{
    struct proto_out o;
    proto_out_fixed(&o, buf, cap);
    size_t at = proto_frame_begin(&o);
    proto_put_map(&o, 1);
    proto_put_str(&o, "n");
    proto_put_u64(&o, i);
    assert_int_equal(proto_frame_end(&o, at, PROTO_FRAME_MAX_DEFAULT), REG_OK);
    return o.len;
}

static uint64_t frame_n(const uint8_t *body, size_t len)
{
    struct proto_val root;
    uint64_t n = 0;
    assert_int_equal(proto_parse(body, len, "", &root, errmsg), REG_OK);
    assert_int_equal(proto_get_u64(&root, "n", PROTO_REQ, UINT64_MAX, &n, errmsg), REG_OK);
    return n;
}

static void test_byte_by_byte_and_bulk(void **state)
{
    (void)state;
    uint8_t stream[4096];
    size_t len = 0;
    for (uint64_t i = 0; i < 50; i++) {
        len += frame(stream + len, sizeof stream - len, i * 1000003);
    }
    /* Every chunk size from 1 byte to the whole stream yields all 50 frames in order. */
    for (size_t chunk = 1; chunk <= len; chunk = chunk < 8 ? chunk + 1 : chunk * 3) {
        struct proto_reader r;
        uint64_t next = 0;
        proto_reader_init(&r, 0);
        for (size_t off = 0; off < len; off += chunk) {
            size_t n = len - off < chunk ? len - off : chunk;
            assert_int_equal(proto_reader_feed(&r, stream + off, n), REG_OK);
            const uint8_t *body;
            size_t blen;
            for (;;) {
                assert_int_equal(proto_reader_next(&r, &body, &blen, errmsg), REG_OK);
                if (body == NULL) {
                    break;
                }
                assert_true(frame_n(body, blen) == next * 1000003);
                next++;
            }
        }
        assert_int_equal(next, 50);
        proto_reader_free(&r);
    }
}

static void test_too_large_refused_at_header(void **state)
{
    (void)state;
    struct proto_reader r;
    const uint8_t *body;
    size_t blen;
    static const uint8_t hdr[] = {0x00, 0x00, 0x01, 0x01}; /* 257 bytes */
    proto_reader_init(&r, 256);
    assert_int_equal(proto_reader_feed(&r, hdr, sizeof hdr), REG_OK);
    assert_int_equal(proto_reader_next(&r, &body, &blen, errmsg), REG_TOO_LARGE);
    assert_null(body);
    assert_string_equal(errmsg, "frame of 257 bytes exceeds the limit of 256");
    /* sticky */
    assert_int_equal(proto_reader_feed(&r, hdr, sizeof hdr), REG_TOO_LARGE);
    assert_int_equal(proto_reader_next(&r, &body, &blen, errmsg), REG_TOO_LARGE);
    proto_reader_free(&r);
    /* the default limit is 1 MiB */
    static const uint8_t big[] = {0x00, 0x10, 0x00, 0x01};
    proto_reader_init(&r, 0);
    assert_int_equal(proto_reader_feed(&r, big, sizeof big), REG_OK);
    assert_int_equal(proto_reader_next(&r, &body, &blen, errmsg), REG_TOO_LARGE);
    proto_reader_free(&r);
}

static void test_encoder_refuses_oversized_frame(void **state)
{
    (void)state;
    struct proto_out o;
    char s[300];
    memset(s, 'a', sizeof s);
    proto_out_count(&o);
    size_t at = proto_frame_begin(&o);
    proto_put_map(&o, 1);
    proto_put_str(&o, "s");
    proto_put_strn(&o, s, sizeof s);
    assert_int_equal(proto_frame_end(&o, at, 256), REG_TOO_LARGE);
}

static void test_malformed_bodies(void **state)
{
    (void)state;
    static const uint8_t not_map[] = {0, 0, 0, 2, 0x91, 0x01};
    static const uint8_t trailing[] = {0, 0, 0, 2, 0x80, 0x80};
    static const uint8_t empty[] = {0, 0, 0, 0};
    static const uint8_t garbage[] = {0, 0, 0, 3, 0xc1, 0xc1, 0xc1};
    const struct {
        const uint8_t *p;
        size_t n;
    } cases[] = {{not_map, sizeof not_map}, {trailing, sizeof trailing},
                 {empty, sizeof empty}, {garbage, sizeof garbage}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct proto_reader r;
        const uint8_t *body;
        size_t blen;
        proto_reader_init(&r, 0);
        assert_int_equal(proto_reader_feed(&r, cases[i].p, cases[i].n), REG_OK);
        assert_int_equal(proto_reader_next(&r, &body, &blen, errmsg), REG_MALFORMED);
        assert_non_null(strstr(errmsg, "frame: message"));
        proto_reader_free(&r);
    }
}

static void test_feed_nomem(void **state)
{
    (void)state;
    struct proto_reader r;
    uint8_t buf[64];
    size_t n = frame(buf, sizeof buf, 5);
    proto_reader_init(&r, 0);
    reg_alloc_fail_at(1);
    assert_int_equal(proto_reader_feed(&r, buf, n), REG_NOMEM);
    reg_alloc_fail_at(0);
    /* not sticky: a later feed works */
    assert_int_equal(proto_reader_feed(&r, buf, n), REG_OK);
    const uint8_t *body;
    size_t blen;
    assert_int_equal(proto_reader_next(&r, &body, &blen, errmsg), REG_OK);
    assert_non_null(body);
    assert_int_equal(frame_n(body, blen), 5);
    proto_reader_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_byte_by_byte_and_bulk),
        cmocka_unit_test(test_too_large_refused_at_header),
        cmocka_unit_test(test_encoder_refuses_oversized_frame),
        cmocka_unit_test(test_malformed_bodies),
        cmocka_unit_test(test_feed_nomem),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
