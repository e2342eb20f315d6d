/* test_glue_io: the barrier-ordering raft_io (raft-glue/io_order.c) in
 * front of a real raft_uv on a temp dir. raft_uv 0.15 drops a truncate
 * made while a snapshot put is in progress, and a put made while a
 * truncate is: each test makes exactly that call sequence, then reloads
 * the log with a fresh raft_uv and checks what is on disk. Given the calls
 * of the first test directly, raft_uv 0.15 leaves both the stale segment
 * 6-8 and the new 6-6 on disk and the reload fails with RAFT_CORRUPT
 * ("closed segment ... is past last snapshot"): the node could never start
 * again (checked by hand). Also: a close with calls still queued cancels
 * them and leaves the log as it was before the truncate. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "glue_internal.h"

#define N_OLD 8
#define PAYLOAD 3000 /* five entries fit in one 16 KiB segment */

static uv_loop_t loop;
static char dir[256];
static struct raft_uv_transport transport;
static struct raft_io uvio;
static struct glue__io shim;
static uv_prepare_t flusher;

static struct raft_entry old_entries[N_OLD];
static struct raft_entry new_entry;
static struct raft_io_append old_reqs[N_OLD];
static struct raft_io_append new_req;
static int appended;      /* append callbacks with status 0 */
static int append_errors; /* ... with another status */
static int last_append_status;

static struct raft_snapshot snap;
static struct raft_buffer snap_buf;
static uint64_t snap_data = 42;
static struct raft_io_snapshot_put put_req;
static int put_status;
static bool put_done;
static bool io_closed;

static void fill(struct raft_entry *e, uint64_t value)
{
    e->term = value >= 100 ? 2 : 1;
    e->type = RAFT_COMMAND;
    e->buf.len = PAYLOAD;
    e->buf.base = raft_malloc(PAYLOAD);
    assert_non_null(e->buf.base);
    memset(e->buf.base, 0, PAYLOAD);
    memcpy(e->buf.base, &value, sizeof value);
    e->batch = NULL;
}

static void append_cb(struct raft_io_append *req, int status)
{
    (void)req;
    last_append_status = status;
    if (status == 0) {
        appended++;
    } else {
        append_errors++;
    }
}

static void put_cb(struct raft_io_snapshot_put *req, int status)
{
    (void)req;
    put_status = status;
    put_done = true;
}

static void flush_cb(uv_prepare_t *p)
{
    (void)p;
    glue__io_flush(&shim);
}

/* Bounded: a dropped barrier shows up as a callback that never comes. */
static void run_until(bool (*pred)(void))
{
    for (int i = 0; i < 10000 && !pred(); i++) {
        uv_run(&loop, UV_RUN_NOWAIT);
        usleep(1000);
    }
    assert_true(pred());
}

static bool old_written(void)
{
    return appended + append_errors >= N_OLD;
}

static bool new_written(void)
{
    return appended + append_errors >= N_OLD + 1;
}

static bool all_written(void)
{
    return new_written() && put_done;
}

static bool is_closed(void)
{
    return io_closed;
}

/* io->load, which must succeed and start the log at index 1. */
static void load(struct raft_io *io, struct raft_snapshot **s, struct raft_entry **entries,
                 size_t *n)
{
    raft_term term;
    raft_id vote;
    raft_index start;

    *s = NULL;
    *entries = NULL;
    *n = 0;
    assert_int_equal(io->load(io, &term, &vote, s, &start, entries, n), 0);
    assert_int_equal(start, 1);
}

static void open_io(void)
{
    struct raft_snapshot *s;
    struct raft_entry *entries;
    size_t n;

    assert_int_equal(raft_uv_tcp_init(&transport, &loop), 0);
    assert_int_equal(raft_uv_init(&uvio, &loop, dir, &transport), 0);
    raft_uv_set_block_size(&uvio, 4096);
    raft_uv_set_segment_size(&uvio, 16384);
    glue__io_init(&shim, &uvio);
    shim.io.data = &shim; /* raft would put itself here */
    assert_int_equal(shim.io.init(&shim.io, 1, "127.0.0.1:1"), 0);
    load(&shim.io, &s, &entries, &n);
    assert_null(s);
    assert_int_equal(n, 0);
    assert_int_equal(uv_prepare_init(&loop, &flusher), 0);
    assert_int_equal(uv_prepare_start(&flusher, flush_cb), 0);
}

static void io_close_cb(struct raft_io *io)
{
    (void)io;
    io_closed = true;
}

static void close_io(void)
{
    io_closed = false;
    shim.io.close(&shim.io, io_close_cb);
    run_until(is_closed);
    raft_uv_close(&uvio);
    glue__io_fini(&shim);
    raft_uv_tcp_close(&transport);
    uv_prepare_stop(&flusher);
    uv_close((uv_handle_t *)&flusher, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
}

/* Loads the log with a fresh raft_uv and checks the first value of every
 * entry against want[]. */
static void assert_log(const uint64_t *want, size_t n_want)
{
    struct raft_uv_transport t;
    struct raft_io io;
    struct raft_snapshot *s;
    struct raft_entry *entries;
    size_t n;
    void *batch = NULL;

    assert_int_equal(raft_uv_tcp_init(&t, &loop), 0);
    assert_int_equal(raft_uv_init(&io, &loop, dir, &t), 0);
    assert_int_equal(io.init(&io, 1, "127.0.0.1:1"), 0);
    load(&io, &s, &entries, &n);
    assert_int_equal(n, n_want);
    for (size_t i = 0; i < n; i++) {
        uint64_t v;
        memcpy(&v, entries[i].buf.base, sizeof v);
        assert_int_equal(v, want[i]);
    }
    for (size_t i = 0; i < n; i++) {
        if (entries[i].batch != batch) {
            batch = entries[i].batch;
            raft_free(batch);
        }
    }
    raft_free(entries);
    if (s != NULL) {
        raft_configuration_close(&s->configuration);
        for (unsigned i = 0; i < s->n_bufs; i++) {
            raft_free(s->bufs[i].base);
        }
        raft_free(s->bufs);
        raft_free(s);
    }
    io.close(&io, NULL);
    uv_run(&loop, UV_RUN_NOWAIT);
    raft_uv_close(&io);
    raft_uv_tcp_close(&t);
    uv_run(&loop, UV_RUN_DEFAULT);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/pilot-glue-io-XXXXXX");
    assert_non_null(mkdtemp(dir));
    assert_int_equal(uv_loop_init(&loop), 0);
    appended = append_errors = last_append_status = 0;
    put_done = false;
    put_status = -1;
    open_io();
    for (unsigned i = 0; i < N_OLD; i++) {
        fill(&old_entries[i], i + 1);
        assert_int_equal(shim.io.append(&shim.io, &old_reqs[i], &old_entries[i], 1, append_cb),
                         0);
    }
    run_until(old_written);
    assert_int_equal(appended, N_OLD);
    fill(&new_entry, 100);
    return 0;
}

static int teardown(void **state)
{
    char cmd[300];

    (void)state;
    for (unsigned i = 0; i < N_OLD; i++) {
        raft_free(old_entries[i].buf.base);
    }
    raft_free(new_entry.buf.base);
    assert_int_equal(uv_loop_close(&loop), 0);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static void put_snapshot(void)
{
    raft_configuration_init(&snap.configuration);
    assert_int_equal(raft_configuration_add(&snap.configuration, 1, "127.0.0.1:1", RAFT_VOTER),
                     0);
    snap.term = 1;
    snap.index = 4;
    snap.configuration_index = 1;
    snap_buf.base = &snap_data;
    snap_buf.len = sizeof snap_data;
    snap.bufs = &snap_buf;
    snap.n_bufs = 1;
    /* A large trailing keeps every entry: the log stays checkable. */
    assert_int_equal(shim.io.snapshot_put(&shim.io, 1000, &put_req, &snap, put_cb), 0);
}

/* raft's order after a snapshot starts and a new leader's entry conflicts
 * at index 6: snapshot_put, truncate(6), append(6). */
static void test_truncate_during_snapshot_put(void **state)
{
    static const uint64_t want[] = {1, 2, 3, 4, 5, 100};

    (void)state;
    put_snapshot();
    assert_int_equal(shim.io.truncate(&shim.io, 6), 0);
    assert_int_equal(shim.io.append(&shim.io, &new_req, &new_entry, 1, append_cb), 0);
    assert_int_equal(shim.n_deferred, 1);
    run_until(all_written);
    assert_int_equal(put_status, 0);
    assert_int_equal(append_errors, 0);
    assert_int_equal(shim.n_truncates, 1);
    close_io();
    raft_configuration_close(&snap.configuration);
    assert_log(want, 6);
}

/* The other order: a truncate is in progress when a snapshot starts. */
static void test_snapshot_put_during_truncate(void **state)
{
    static const uint64_t want[] = {1, 2, 3, 4, 5, 100};

    (void)state;
    assert_int_equal(shim.io.truncate(&shim.io, 6), 0);
    assert_int_equal(shim.io.append(&shim.io, &new_req, &new_entry, 1, append_cb), 0);
    put_snapshot();
    assert_int_equal(shim.n_deferred, 1);
    run_until(all_written);
    assert_int_equal(put_status, 0);
    assert_int_equal(append_errors, 0);
    close_io();
    raft_configuration_close(&snap.configuration);
    assert_log(want, 6);
}

/* Closing with a truncate and an append still queued behind a put: the
 * append is cancelled, nothing of the truncate reaches the disk. */
static void test_close_with_queued_calls(void **state)
{
    static const uint64_t want[] = {1, 2, 3, 4, 5, 6, 7, 8};

    (void)state;
    put_snapshot();
    assert_int_equal(shim.io.truncate(&shim.io, 6), 0);
    assert_int_equal(shim.io.append(&shim.io, &new_req, &new_entry, 1, append_cb), 0);
    assert_non_null(shim.head); /* still waiting for the put */
    close_io();
    assert_true(put_done);
    assert_int_equal(append_errors, 1);
    assert_int_equal(last_append_status, RAFT_CANCELED);
    raft_configuration_close(&snap.configuration);
    assert_log(want, N_OLD);
}

/* Appends alone never wait. */
static void test_plain_appends_pass_through(void **state)
{
    static const uint64_t want[] = {1, 2, 3, 4, 5, 6, 7, 8, 100};

    (void)state;
    assert_int_equal(shim.io.append(&shim.io, &new_req, &new_entry, 1, append_cb), 0);
    assert_null(shim.head);
    run_until(new_written);
    assert_int_equal(shim.n_deferred, 0);
    close_io();
    assert_log(want, N_OLD + 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_truncate_during_snapshot_put, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_put_during_truncate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_with_queued_calls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plain_appends_pass_through, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
