/* Peer authentication: a connection to the raft port without the cluster
 * key is dropped before raft sees a byte (garbage, and a well-formed
 * handshake MACed with a wrong key), and a peer login on the client port
 * with a wrong key is refused as unauthenticated. The cluster keeps
 * serving, and the state stays identical everywhere. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "harness.h"

static void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static void raft_garbage(struct it_cluster *c)
{
    uint8_t junk[200];
    int fd = it_raw_connect(c->nodes[0].raft_addr);
    assert_true(fd >= 0);
    randombytes_buf(junk, sizeof junk);
    it_raw_send(fd, junk, sizeof junk);
    assert_true(it_raw_closed(fd, 8000));
    close(fd);
}

/* The transport handshake of raft-glue/transport.c, with a wrong key. */
static void raft_wrong_key(struct it_cluster *c)
{
    uint8_t hello[44], theirs[44], auth[2 + 32 + 32], wrong[32];
    uint8_t msg[12 + 32 + 32 + 8 + 8 + 2 + 32];
    const char *addr = "127.0.0.1:1";
    size_t alen = strlen(addr), o = 0;
    uint8_t b;
    int fd = it_raw_connect(c->nodes[1].raft_addr);
    assert_true(fd >= 0);
    memcpy(hello, "PRH1", 4);
    put_be64(hello + 4, 99);
    randombytes_buf(hello + 12, 32);
    assert_int_equal(it_raw_send(fd, hello, sizeof hello), 0);
    assert_int_equal(recv(fd, theirs, sizeof theirs, MSG_WAITALL), (ssize_t)sizeof theirs);
    assert_memory_equal(theirs, "PRH1", 4);
    randombytes_buf(wrong, sizeof wrong);
    memcpy(msg + o, "pilot-raft-c", 12);
    o += 12;
    memcpy(msg + o, hello + 12, 32);
    o += 32;
    memcpy(msg + o, theirs + 12, 32);
    o += 32;
    memcpy(msg + o, hello + 4, 8);
    o += 8;
    memcpy(msg + o, theirs + 4, 8);
    o += 8;
    msg[o++] = 0;
    msg[o++] = (uint8_t)alen;
    memcpy(msg + o, addr, alen);
    o += alen;
    auth[0] = 0;
    auth[1] = (uint8_t)alen;
    memcpy(auth + 2, addr, alen);
    crypto_auth_hmacsha256(auth + 2 + alen, msg, o, wrong);
    assert_int_equal(it_raw_send(fd, auth, 2 + alen + 32), 0);
    /* No PROOF comes back: the listener drops us. */
    assert_true(it_raw_closed(fd, 8000));
    assert_int_not_equal(recv(fd, &b, 1, MSG_DONTWAIT), 1);
    close(fd);
}

static void client_port_wrong_peer_key(struct it_cluster *c)
{
    uint8_t buf[4096], wrong[32], cnonce[32];
    struct proto_hello h;
    struct proto_auth a;
    struct proto_welcome w;
    struct proto_out o;
    char errmsg[REG_ERRMSG_SIZE];
    long n;
    int fd = it_raw_connect(c->nodes[2].client_addr);
    assert_true(fd >= 0);
    n = it_raw_recv_frame(fd, buf, sizeof buf, 5000);
    assert_true(n > 0);
    assert_int_equal(proto_hello_decode(buf, (size_t)n, &h, errmsg), REG_OK);
    randombytes_buf(wrong, sizeof wrong);
    randombytes_buf(cnonce, sizeof cnonce);
    assert_int_equal(proto_auth_peer(&a, &h, 1, wrong, cnonce), REG_OK);
    proto_out_fixed(&o, buf, sizeof buf);
    assert_int_equal(proto_auth_encode(&o, &a), REG_OK);
    assert_int_equal(it_raw_send_frame(fd, buf, o.len), 0);
    n = it_raw_recv_frame(fd, buf, sizeof buf, 5000);
    assert_true(n > 0);
    assert_int_equal(proto_welcome_decode(buf, (size_t)n, &w, errmsg), REG_OK);
    assert_false(w.ok);
    assert_int_equal(w.code, REG_UNAUTHENTICATED);
    assert_true(it_raw_closed(fd, 5000));
    close(fd);
}

static void test_peer_auth(void **state)
{
    struct it_cluster c;
    struct it_status before, after;
    uint8_t sk[64];
    struct cl_client *cl;
    int leader;
    (void)state;
    it_cluster_start(&c, 3);
    leader = it_wait_leader(&c, 10000);
    assert_int_equal(it_status(&c, (unsigned)leader, &before), REG_OK);
    raft_garbage(&c);
    raft_wrong_key(&c);
    client_port_wrong_peer_key(&c);
    cl = it_agent_client(&c, -1, sk);
    assert_int_equal(it_register(cl, "after-attack", true, NULL), REG_OK);
    cl_close(cl);
    assert_int_equal(it_status(&c, (unsigned)leader, &after), REG_OK);
    assert_int_equal(after.term, before.term);
    it_assert_converged(&c, 10000);
    it_cluster_destroy(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_peer_auth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
