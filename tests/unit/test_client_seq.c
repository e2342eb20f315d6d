/* test_client_seq: what callers rely on from the client without a cluster:
 * client ids are random and non-zero, writes take one seq each (never
 * reused by a later write), bad requests are refused before anything is
 * sent, and an unreachable cluster is reported as unavailable, not as an
 * unknown outcome (nothing was sent). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "client.h"

/* A loopback port nobody listens on: bind one, then close it. */
static uint16_t dead_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &l), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static struct cl_client *open_dead(uint8_t sk[CL_SECRET_KEY_LEN])
{
    char eps[64];
    struct cl_options o;
    struct cl_client *cl = NULL;
    char msg[REG_ERRMSG_SIZE];
    uint8_t pk[32];

    snprintf(eps, sizeof eps, "127.0.0.1:%u,127.0.0.1:%u", dead_port(), dead_port());
    memset(&o, 0, sizeof o);
    assert_true(sodium_init() >= 0);
    crypto_sign_keypair(pk, sk);
    o.endpoints = eps;
    o.secret_key = sk;
    o.deadline_ms = 300;
    o.connect_timeout_ms = 100;
    o.backoff_initial_ms = 10;
    o.backoff_max_ms = 40;
    assert_int_equal(cl_open(&o, &cl, msg), REG_OK);
    return cl;
}

static void test_client_ids(void **state)
{
    (void)state;
    uint8_t sk[CL_SECRET_KEY_LEN];
    struct cl_client *a = open_dead(sk), *b = open_dead(sk);

    assert_true(cl_client_id(a) != 0);
    assert_true(cl_client_id(a) != cl_client_id(b));
    assert_int_equal(cl_next_seq(a), 1);
    assert_string_equal(cl_connected_to(a), "");
    cl_close(a);
    cl_close(b);
}

static void test_fixed_client_id(void **state)
{
    (void)state;
    struct cl_options o = {.endpoints = "127.0.0.1:1", .client_id = 42};
    struct cl_client *cl = NULL;
    char msg[REG_ERRMSG_SIZE];

    assert_int_equal(cl_open(&o, &cl, msg), REG_OK);
    assert_int_equal(cl_client_id(cl), 42);
    cl_close(cl);
    o.endpoints = "nope";
    cl = NULL;
    assert_int_equal(cl_open(&o, &cl, msg), REG_INVALID_ARGUMENT);
    assert_null(cl);
}

static void test_bad_requests_take_no_seq(void **state)
{
    (void)state;
    uint8_t sk[CL_SECRET_KEY_LEN];
    struct cl_client *cl = open_dead(sk);
    struct st_cmd cmd;
    struct cl_request unknown = {.op = "no_such_op"};
    struct cl_request write_no_cmd = {.op = "network_kick"};
    struct cl_request mismatched = {.op = "network_kick", .cmd = &cmd};
    struct cl_response resp;

    memset(&cmd, 0, sizeof cmd);
    cmd.op = ST_CMD_NET_JOIN;
    assert_int_equal(cl_call(cl, &unknown, &resp), REG_INVALID_ARGUMENT);
    assert_non_null(strstr(resp.message, "no_such_op"));
    cl_response_free(&resp);
    assert_int_equal(cl_call(cl, &write_no_cmd, &resp), REG_INVALID_ARGUMENT);
    cl_response_free(&resp);
    assert_int_equal(cl_call(cl, &mismatched, &resp), REG_INVALID_ARGUMENT);
    cl_response_free(&resp);
    assert_int_equal(cl_next_seq(cl), 1);
    cl_close(cl);
}

static void test_unreachable_is_not_ambiguous(void **state)
{
    (void)state;
    uint8_t sk[CL_SECRET_KEY_LEN];
    struct cl_client *cl = open_dead(sk);
    struct st_cmd cmd;
    struct cl_request w = {.op = "network_join", .cmd = &cmd};
    struct proto_args a;
    struct cl_request r = {.op = "lookup", .args = &a};
    struct cl_response resp;
    uint32_t me = 7;
    char msg[REG_ERRMSG_SIZE];

    memset(&cmd, 0, sizeof cmd);
    cmd.op = ST_CMD_NET_JOIN;
    cmd.network = 1;
    memset(&a, 0, sizeof a);
    a.node = 5;
    /* Never sent: definitely not applied, so unavailable, with the seq
     * consumed (the next write gets a fresh one). */
    assert_int_equal(cl_call(cl, &w, &resp), REG_UNAVAILABLE);
    assert_int_equal(resp.code, REG_UNAVAILABLE);
    assert_int_equal(resp.seq, 1);
    assert_int_equal(resp.attempts, 0);
    assert_true(strlen(resp.message) > 0);
    assert_false(resp.has_result);
    cl_response_free(&resp);
    assert_int_equal(cl_next_seq(cl), 2);
    assert_int_equal(cl_call(cl, &w, &resp), REG_UNAVAILABLE);
    assert_int_equal(resp.seq, 2);
    cl_response_free(&resp);
    /* Reads carry no seq. */
    assert_int_equal(cl_call(cl, &r, &resp), REG_UNAVAILABLE);
    assert_int_equal(resp.seq, 0);
    cl_response_free(&resp);
    assert_int_equal(cl_next_seq(cl), 3);
    assert_int_equal(cl_whoami(cl, &me, msg), REG_UNAVAILABLE);
    assert_int_equal(me, 7); /* untouched on failure */
    cl_close(cl);
}

static void test_response_free_idempotent(void **state)
{
    (void)state;
    struct cl_response resp;

    memset(&resp, 0, sizeof resp);
    cl_response_free(&resp);
    cl_response_free(&resp);
    assert_null(resp.body_);
}

/* Every allocation of cl_open may fail: nomem, nothing leaked (ASan). The
 * allocations of a call are swept against a real cluster in
 * tests/e2e/test_client_cluster. */
static void test_open_alloc_failure(void **state)
{
    (void)state;
    struct cl_options o = {.endpoints = "127.0.0.1:1"};
    char msg[REG_ERRMSG_SIZE];
    unsigned long n;

    for (n = 1; n <= 8; n++) {
        struct cl_client *cl = NULL;
        int rv;

        reg_alloc_fail_at(n);
        rv = cl_open(&o, &cl, msg);
        reg_alloc_fail_at(0);
        assert_true(rv == REG_OK || rv == REG_NOMEM);
        assert_true((rv == REG_OK) == (cl != NULL));
        cl_close(cl);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_client_ids),
        cmocka_unit_test(test_fixed_client_id),
        cmocka_unit_test(test_bad_requests_take_no_seq),
        cmocka_unit_test(test_unreachable_is_not_ambiguous),
        cmocka_unit_test(test_response_free_idempotent),
        cmocka_unit_test(test_open_alloc_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
