/* test_glue_transport: the authenticated raft transport on its own, over
 * 127.0.0.1: a good handshake hands raft TCP_NODELAY streams carrying the
 * authenticated id and address; a peer with the wrong cluster key and a
 * peer sending garbage are dropped before raft's accept callback runs. */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "glue_internal.h"

static uv_loop_t loop;
static int accepted;
static raft_id accepted_id;
static char accepted_addr[64];
static uv_stream_t *in_stream;
static int connected;
static int connect_status;
static uv_stream_t *out_stream;
static int closed;

static void on_accept(struct raft_uv_transport *t, raft_id id, const char *address,
                      struct uv_stream_s *stream)
{
    (void)t;
    accepted++;
    accepted_id = id;
    snprintf(accepted_addr, sizeof accepted_addr, "%s", address);
    in_stream = stream;
}

static void on_connect(struct raft_uv_connect *req, struct uv_stream_s *stream, int status)
{
    (void)req;
    connected++;
    connect_status = status;
    out_stream = stream;
}

static void on_tr_closed(struct raft_uv_transport *t)
{
    (void)t;
    closed++;
}

static void free_handle(uv_handle_t *h)
{
    raft_free(h);
}

static int free_port(void)
{
    uv_tcp_t tcp;
    struct sockaddr_in sa;
    struct sockaddr_storage name;
    int len = sizeof name;

    uv_ip4_addr("127.0.0.1", 0, &sa);
    uv_tcp_init(&loop, &tcp);
    assert_int_equal(uv_tcp_bind(&tcp, (struct sockaddr *)&sa, 0), 0);
    assert_int_equal(uv_tcp_getsockname(&tcp, (struct sockaddr *)&name, &len), 0);
    uv_close((uv_handle_t *)&tcp, NULL);
    uv_run(&loop, UV_RUN_NOWAIT);
    return ntohs(((struct sockaddr_in *)&name)->sin_port);
}

static bool run_until(int *counter, int want, unsigned max_ms)
{
    uint64_t deadline;
    uv_update_time(&loop);
    deadline = uv_now(&loop) + max_ms;
    while (*counter < want && uv_now(&loop) < deadline) {
        uv_run(&loop, UV_RUN_NOWAIT);
        uv_sleep(1);
        uv_update_time(&loop);
    }
    return *counter >= want;
}

static int nodelay(uv_stream_t *s)
{
    uv_os_fd_t fd;
    int on = 0;
    socklen_t len = sizeof on;

    assert_int_equal(uv_fileno((uv_handle_t *)s, &fd), 0);
    assert_int_equal(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, &len), 0);
    return on;
}

struct pair
{
    struct raft_uv_transport a, b;
    char addr_a[64], addr_b[64];
};

static void pair_open(struct pair *p, const uint8_t ka[32], const uint8_t kb[32])
{
    memset(p, 0, sizeof *p);
    snprintf(p->addr_a, sizeof p->addr_a, "127.0.0.1:%d", free_port());
    snprintf(p->addr_b, sizeof p->addr_b, "127.0.0.1:%d", free_port());
    assert_int_equal(glue__transport_init(&p->a, &loop, ka, NULL, NULL), 0);
    assert_int_equal(glue__transport_init(&p->b, &loop, kb, NULL, NULL), 0);
    assert_int_equal(p->a.init(&p->a, 1, p->addr_a), 0);
    assert_int_equal(p->b.init(&p->b, 2, p->addr_b), 0);
    assert_int_equal(p->a.listen(&p->a, on_accept), 0);
}

static void pair_close(struct pair *p)
{
    closed = 0;
    p->a.close(&p->a, on_tr_closed);
    p->b.close(&p->b, on_tr_closed);
    assert_true(run_until(&closed, 2, 2000));
    glue__transport_close(&p->a);
    glue__transport_close(&p->b);
}

static void reset(void)
{
    accepted = connected = 0;
    connect_status = -1;
    in_stream = out_stream = NULL;
}

static void test_good_handshake_sets_nodelay(void **state)
{
    uint8_t key[32];
    struct pair p;
    struct raft_uv_connect req;
    struct glue__transport_stats st;
    (void)state;

    memset(key, 7, sizeof key);
    reset();
    pair_open(&p, key, key);
    assert_int_equal(p.b.connect(&p.b, &req, 1, p.addr_a, on_connect), 0);
    assert_true(run_until(&connected, 1, 5000));
    assert_int_equal(connect_status, 0);
    assert_true(run_until(&accepted, 1, 5000));
    assert_int_equal(accepted_id, 2);
    assert_string_equal(accepted_addr, p.addr_b);
    assert_int_equal(nodelay(in_stream), 1);
    assert_int_equal(nodelay(out_stream), 1);
    glue__transport_stats(&p.a, &st);
    assert_int_equal(st.accepted, 1);
    assert_int_equal(st.rejected, 0);
    uv_close((uv_handle_t *)in_stream, free_handle);
    uv_close((uv_handle_t *)out_stream, free_handle);
    pair_close(&p);
}

static void test_wrong_key_is_dropped(void **state)
{
    uint8_t ka[32], kb[32];
    struct pair p;
    struct raft_uv_connect req;
    struct glue__transport_stats st;
    (void)state;

    memset(ka, 7, sizeof ka);
    memset(kb, 7, sizeof kb);
    kb[31] ^= 1;
    reset();
    pair_open(&p, ka, kb);
    assert_int_equal(p.b.connect(&p.b, &req, 1, p.addr_a, on_connect), 0);
    assert_true(run_until(&connected, 1, 6000));
    assert_int_equal(connect_status, RAFT_NOCONNECTION);
    assert_null(out_stream);
    uv_run(&loop, UV_RUN_NOWAIT);
    assert_int_equal(accepted, 0); /* raft never got the stream */
    glue__transport_stats(&p.a, &st);
    assert_int_equal(st.rejected, 1);
    assert_int_equal(st.accepted, 0);
    pair_close(&p);
}

static int garbage_done;
static void garbage_write_cb(uv_write_t *w, int status)
{
    (void)w;
    (void)status;
}
static void garbage_read_alloc(uv_handle_t *h, size_t s, uv_buf_t *b)
{
    static char buf[256];
    (void)h;
    (void)s;
    *b = uv_buf_init(buf, sizeof buf);
}
static void garbage_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    (void)b;
    if (n < 0) {
        uv_read_stop(s);
        garbage_done = 1;
    }
}
static void garbage_connected(uv_connect_t *c, int status)
{
    static char junk[4096];
    static uv_write_t w;
    uv_buf_t buf = uv_buf_init(junk, sizeof junk);

    assert_int_equal(status, 0);
    /* Looks like a huge raft message header: a raft that trusted it would
     * try to allocate it. */
    memset(junk, 0xff, sizeof junk);
    uv_write(&w, c->handle, &buf, 1, garbage_write_cb);
    uv_read_start(c->handle, garbage_read_alloc, garbage_read);
}

static void test_garbage_peer_is_dropped(void **state)
{
    uint8_t key[32];
    struct pair p;
    uv_tcp_t raw;
    uv_connect_t creq;
    struct sockaddr_in sa;
    struct glue__transport_stats st;
    int port;
    (void)state;

    memset(key, 9, sizeof key);
    reset();
    garbage_done = 0;
    pair_open(&p, key, key);
    sscanf(strchr(p.addr_a, ':') + 1, "%d", &port);
    uv_ip4_addr("127.0.0.1", port, &sa);
    uv_tcp_init(&loop, &raw);
    assert_int_equal(uv_tcp_connect(&creq, &raw, (struct sockaddr *)&sa, garbage_connected), 0);
    assert_true(run_until(&garbage_done, 1, 6000)); /* the node hung up */
    assert_int_equal(accepted, 0);
    glue__transport_stats(&p.a, &st);
    assert_int_equal(st.rejected, 1);
    uv_close((uv_handle_t *)&raw, NULL);
    pair_close(&p);
}

static int setup(void **state)
{
    (void)state;
    return uv_loop_init(&loop);
}

static int teardown(void **state)
{
    (void)state;
    uv_run(&loop, UV_RUN_DEFAULT);
    return uv_loop_close(&loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_good_handshake_sets_nodelay, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_key_is_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage_peer_is_dropped, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
