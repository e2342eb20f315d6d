/* Slow and abusive clients cannot exhaust a node: connections beyond
 * --max-conns are closed at accept, silent connections are closed after
 * --idle-timeout, and a client that pipelines requests without ever reading
 * its answers only fills its own socket buffers (the node stops reading from
 * it) while other clients keep being served. The node's resident memory
 * growth during the flood is printed. */
#include <errno.h>
#include <sys/time.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

static long rss_kb(pid_t pid)
{
    char path[64], line[256];
    long kb = -1;
    FILE *f;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    f = fopen(path, "r");
    if (f == NULL) {
        return -1;
    }
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kb = atol(line + 6);
        }
    }
    fclose(f);
    return kb;
}

static void test_limits(void **state)
{
    static const char *const extra[] = {"--max-conns", "16", "--idle-timeout", "1500",
                                        "--write-queue-max", "65536", NULL};
    struct it_cluster c;
    struct it_status st;
    int fds[24];
    uint8_t buf[512], frame[256];
    struct proto_request rq;
    struct proto_out o;
    unsigned i, greeted = 0, refused = 0, sent = 0;
    long before, after;
    uint64_t end;
    int fd;
    (void)state;
    it_cluster_start_args(&c, 3, extra);

    /* max-conns: of 24 connections at once, at most 16 get a hello. */
    for (i = 0; i < 24; i++) {
        fds[i] = it_raw_connect(c.nodes[0].client_addr);
        assert_true(fds[i] >= 0);
    }
    for (i = 0; i < 24; i++) {
        long n = it_raw_recv_frame(fds[i], buf, sizeof buf, 3000);
        if (n > 0) {
            greeted++;
        } else {
            refused++;
        }
    }
    printf("abuse: %u of 24 connections greeted, %u refused (max-conns 16)\n", greeted,
           refused);
    assert_true(greeted <= 16);
    assert_true(refused >= 8);
    /* idle-timeout: the greeted ones that say nothing are closed. */
    for (i = 0; i < 24; i++) {
        assert_true(it_raw_closed(fds[i], 6000));
        close(fds[i]);
    }

    /* Flood without reading. */
    fd = it_raw_admin_conn(&c, 1);
    {
        struct timeval tv = {1, 0};
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    }
    before = rss_kb(c.nodes[1].pid);
    memset(&rq, 0, sizeof rq);
    snprintf(rq.op, sizeof rq.op, "cluster_status");
    end = it_now_ms() + 20000;
    while (sent < 200000 && it_now_ms() < end) {
        rq.id = sent + 1;
        proto_out_fixed(&o, frame + 4, sizeof frame - 4);
        assert_int_equal(proto_request_encode(&o, &rq), REG_OK);
        frame[0] = 0;
        frame[1] = 0;
        frame[2] = (uint8_t)(o.len >> 8);
        frame[3] = (uint8_t)o.len;
        /* Blocks up to 1 s: a full second without progress means the node
         * stopped reading from us (or closed us as idle). */
        if (send(fd, frame, o.len + 4, MSG_NOSIGNAL) != (ssize_t)(o.len + 4)) {
            break;
        }
        sent++;
    }
    /* Others are still served meanwhile. */
    assert_int_equal(it_status(&c, 1, &st), REG_OK);
    after = rss_kb(c.nodes[1].pid);
    printf("abuse: %u pipelined requests accepted before back-pressure; node RSS %ld -> %ld kB\n",
           sent, before, after);
    assert_true(sent > 0 && sent < 200000);
    close(fd);
    it_assert_converged(&c, 10000);
    it_cluster_destroy(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
