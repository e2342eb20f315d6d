/* Malformed and oversized frames get clear errors and the node keeps
 * serving: a broken envelope is answered (malformed) on a connection that
 * stays usable, a frame that is not a msgpack map and a frame over
 * --max-frame get their error and the connection closes, junk before the
 * handshake is refused. After all of it the node answers normally. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "harness.h"

static int recv_error(int fd)
{
    uint8_t buf[4096];
    struct proto_response rs;
    char errmsg[REG_ERRMSG_SIZE];
    long n = it_raw_recv_frame(fd, buf, sizeof buf, 5000);
    assert_true(n > 0);
    assert_int_equal(proto_response_decode(buf, (size_t)n, &rs, errmsg), REG_OK);
    assert_false(rs.ok);
    return rs.code;
}

static void send_status_request(int fd, uint64_t id)
{
    uint8_t buf[512];
    struct proto_request rq;
    struct proto_out o;
    memset(&rq, 0, sizeof rq);
    rq.id = id;
    snprintf(rq.op, sizeof rq.op, "cluster_status");
    proto_out_fixed(&o, buf, sizeof buf);
    assert_int_equal(proto_request_encode(&o, &rq), REG_OK);
    assert_int_equal(it_raw_send_frame(fd, buf, o.len), 0);
}

static void expect_ok(int fd, uint64_t id)
{
    uint8_t buf[8192];
    struct proto_response rs;
    char errmsg[REG_ERRMSG_SIZE];
    long n = it_raw_recv_frame(fd, buf, sizeof buf, 5000);
    assert_true(n > 0);
    assert_int_equal(proto_response_decode(buf, (size_t)n, &rs, errmsg), REG_OK);
    assert_true(rs.ok);
    assert_int_equal(rs.id, id);
}

static void test_bad_frames(void **state)
{
    struct it_cluster c;
    /* {"op": 5}: a map that is no request (no id to answer to). */
    static const uint8_t bad_envelope[] = {0x81, 0xa2, 'o', 'p', 0x05};
    /* {"id": 7, "op": 5}: a request with a mistyped field. */
    static const uint8_t bad_field[] = {0x82, 0xa2, 'i', 'd', 0x07, 0xa2, 'o', 'p', 0x05};
    /* {"v":1,"id":8,"op":"no_such_op"} */
    static const uint8_t unknown_op[] = {0x83, 0xa1, 'v', 0x01, 0xa2, 'i', 'd', 0x08, 0xa2,
                                         'o', 'p', 0xaa, 'n', 'o', '_', 's', 'u', 'c', 'h',
                                         '_', 'o', 'p'};
    static const uint8_t not_a_map[] = {0x2a};
    uint8_t big_hdr[4] = {0x00, 0xa0, 0x00, 0x00}; /* 10 MiB announced */
    uint8_t junk[64];
    int fd, code;
    unsigned i;
    (void)state;
    it_cluster_start(&c, 3);

    for (i = 0; i < 3; i++) {
        fd = it_raw_admin_conn(&c, i);
        assert_int_equal(it_raw_send_frame(fd, bad_envelope, sizeof bad_envelope), 0);
        assert_int_equal(recv_error(fd), REG_MALFORMED);
        assert_int_equal(it_raw_send_frame(fd, bad_field, sizeof bad_field), 0);
        assert_int_equal(recv_error(fd), REG_INVALID_ARGUMENT);
        assert_int_equal(it_raw_send_frame(fd, unknown_op, sizeof unknown_op), 0);
        code = recv_error(fd);
        assert_int_equal(code, REG_INVALID_ARGUMENT);
        /* Same connection still serves. */
        send_status_request(fd, 9);
        expect_ok(fd, 9);
        assert_int_equal(it_raw_send_frame(fd, not_a_map, sizeof not_a_map), 0);
        assert_int_equal(recv_error(fd), REG_MALFORMED);
        assert_true(it_raw_closed(fd, 5000));
        close(fd);

        fd = it_raw_admin_conn(&c, i);
        assert_int_equal(it_raw_send(fd, big_hdr, sizeof big_hdr), 0);
        assert_int_equal(recv_error(fd), REG_TOO_LARGE);
        assert_true(it_raw_closed(fd, 5000));
        close(fd);

        /* Junk instead of an auth frame. */
        fd = it_raw_connect(c.nodes[i].client_addr);
        assert_true(fd >= 0);
        randombytes_buf(junk, sizeof junk);
        junk[0] = 0;
        junk[1] = 0;
        junk[2] = 0;
        junk[3] = 60;
        assert_int_equal(it_raw_send(fd, junk, sizeof junk), 0);
        assert_true(it_raw_closed(fd, 5000));
        close(fd);

        fd = it_raw_admin_conn(&c, i);
        send_status_request(fd, 10);
        expect_ok(fd, 10);
        close(fd);
    }
    it_assert_converged(&c, 10000);
    it_cluster_destroy(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_frames),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
