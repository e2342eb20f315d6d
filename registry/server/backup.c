/* backup.c: consistent backups and restore into a new cluster (issue 6
 * item 4, docs/operations.md "Backup and restore").
 *
 * Save: `cluster_snapshot_read {snapshot_id: 0}` runs on the leader after a
 * read barrier (so the snapshot holds every write acknowledged before the
 * request), encodes the state into a snapshot file image (header with
 * applied index, state hash and BLAKE2b checksum; proto_snapfile_*) and
 * keeps it for SNAP_TTL_MS under a random id; the client then reads it by
 * offset in pieces that fit a frame.
 *
 * Restore: a founding node started with --restore FILE, once it leads and
 * is ready and only while the state holds no agents, networks or trust,
 * proposes the file's payload as RESTORE_CHUNK entries (one at a time, each
 * committed before the next) and a final RESTORE_COMMIT with the checksum.
 * Every replica assembles the chunks in apply order and, at the commit,
 * verifies the checksum, decodes and swaps the state in: all replicas, and
 * nodes that join later and replay the log, end identical. The cluster
 * membership map of the running cluster is kept (it names this cluster's
 * addresses, not the old one's). While chunks are assembled raft snapshots
 * are refused (app.c), since a snapshot would drop them. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "srv_internal.h"

/* A snapshot being saved is dropped after this long without a read. */
#define SNAP_TTL_MS 60000
#define RESTORE_TICK_MS 100
/* Snapshot files larger than this are refused by --restore. */
#define RESTORE_FILE_MAX (1024u * 1024u * 1024u)
/* Cluster members carried over into a restored state (far above any real
 * cluster). */
#define KEEP_MEMBERS_MAX 256

struct srv__snapcache {
    uint64_t id;
    uint8_t *file;
    size_t len;
    uint64_t expires;
    uint64_t applied_index;
    char hash[2 * ST_HASH_LEN + 1];
};

static void snapcache_free(struct srv *s)
{
    if (s->snap != NULL) {
        reg_free(s->snap->file);
        reg_free(s->snap);
        s->snap = NULL;
    }
}

/* ---- Save ------------------------------------------------------------------ */

struct chunk_view {
    const struct srv__snapcache *c;
    uint64_t offset;
    size_t n;
};

static int chunk_result(struct proto_out *o, struct srv *s, struct srv__req *r, void *arg)
{
    const struct chunk_view *v = arg;
    (void)s;
    (void)r;
    proto_put_map(o, 6);
    proto_put_str(o, "snapshot_id");
    proto_put_u64(o, v->c->id);
    proto_put_str(o, "total");
    proto_put_u64(o, v->c->len);
    proto_put_str(o, "offset");
    proto_put_u64(o, v->offset);
    proto_put_str(o, "applied_index");
    proto_put_u64(o, v->c->applied_index);
    proto_put_str(o, "state_hash");
    proto_put_str(o, v->c->hash);
    proto_put_str(o, "data");
    proto_put_bin(o, v->c->file + v->offset, v->n);
    return o->err;
}

static void serve_chunk(struct srv__req *r, uint64_t id)
{
    struct srv *s = r->srv;
    struct chunk_view v;
    if (s->snap == NULL || s->snap->id != id || srv__now(s) > s->snap->expires) {
        snapcache_free(s);
        srv__reply_error(r, REG_NOT_FOUND,
                         "snapshot %llu expired or was taken by another leader; save again",
                         (unsigned long long)id);
        return;
    }
    if (r->rargs.offset > s->snap->len) {
        srv__reply_error(r, REG_INVALID_ARGUMENT, "offset %llu past the end (%zu bytes)",
                         (unsigned long long)r->rargs.offset, s->snap->len);
        return;
    }
    s->snap->expires = srv__now(s) + SNAP_TTL_MS;
    v.c = s->snap;
    v.offset = r->rargs.offset;
    v.n = s->snap->len - (size_t)v.offset;
    if (v.n > PROTO_RESTORE_CHUNK_MAX) {
        v.n = PROTO_RESTORE_CHUNK_MAX;
    }
    srv__reply_result(r, chunk_result, &v, true, v.c->applied_index);
}

static int snapcache_take(struct srv *s)
{
    struct srv__snapcache *c;
    struct proto_snapfile h;
    void *payload = NULL;
    size_t n = 0;
    int rv = st_snapshot_encode(s->state, &payload, &n);
    if (rv != REG_OK) {
        goto out;
    }
    c = reg_calloc(1, sizeof *c);
    if (c != NULL) {
        c->file = reg_malloc(PROTO_SNAPFILE_HDR + n);
    }
    if (c == NULL || c->file == NULL) {
        reg_free(c);
        rv = REG_NOMEM;
        goto out_payload;
    }
    memset(&h, 0, sizeof h);
    h.version = PROTO_SNAPFILE_VERSION;
    h.applied_index = st_applied_index(s->state);
    st_hash(s->state, h.state_hash);
    h.payload_len = n;
    proto_snapfile_checksum(payload, n, h.checksum);
    proto_snapfile_header(&h, c->file);
    memcpy(c->file + PROTO_SNAPFILE_HDR, payload, n);
    c->len = PROTO_SNAPFILE_HDR + n;
    do {
        randombytes_buf(&c->id, sizeof c->id);
    } while (c->id == 0);
    c->applied_index = h.applied_index;
    sodium_bin2hex(c->hash, sizeof c->hash, h.state_hash, sizeof h.state_hash);
    c->expires = srv__now(s) + SNAP_TTL_MS;
    snapcache_free(s);
    s->snap = c;
    srv_log(SRV_LOG_INFO, "backup_snapshot_taken", "bytes=%zu applied_index=%llu", c->len,
            (unsigned long long)c->applied_index);
out_payload:
    reg_free(payload);
out:
    return rv;
}

static void barrier_done(void *data, int status)
{
    struct srv__req *r = data;
    int rv = status;
    if (rv == REG_OK) {
        rv = snapcache_take(r->srv);
    }
    if (rv != REG_OK) {
        srv__reply_error(r, rv, "snapshot not taken");
        return;
    }
    serve_chunk(r, r->srv->snap->id);
}

void srv__snapshot_read(struct srv__req *r)
{
    int rv;
    if (!srv__at_leader(r)) {
        return;
    }
    if (r->rargs.snapshot_id != 0) {
        serve_chunk(r, r->rargs.snapshot_id);
        return;
    }
    rv = glue_read(r->srv->glue, barrier_done, r);
    if (rv != REG_OK) {
        srv__reply_error(r, rv, "snapshot barrier refused");
    }
}

/* ---- Restore: the proposer (leader with --restore) -------------------------- */

int srv__backup_init(struct srv *s, char errmsg[static REG_ERRMSG_SIZE])
{
    struct stat sb;
    int fd = -1, rv = REG_INVALID_ARGUMENT;
    size_t got = 0;
    if (s->cfg.restore[0] == '\0') {
        return REG_OK;
    }
    fd = open(s->cfg.restore, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &sb) != 0) {
        reg_errmsgf(errmsg, "--restore %s: %s", s->cfg.restore, strerror(errno));
        goto out;
    }
    if (!S_ISREG(sb.st_mode) || sb.st_size <= 0 || (uint64_t)sb.st_size > RESTORE_FILE_MAX) {
        reg_errmsgf(errmsg, "--restore %s: not a regular file of 1 byte to 1 GiB",
                    s->cfg.restore);
        goto out;
    }
    s->restore_file_len = (size_t)sb.st_size;
    s->restore_file = reg_malloc(s->restore_file_len);
    if (s->restore_file == NULL) {
        rv = REG_NOMEM;
        reg_errmsgf(errmsg, "--restore %s: out of memory", s->cfg.restore);
        goto out;
    }
    while (got < s->restore_file_len) {
        ssize_t n = read(fd, s->restore_file + got, s->restore_file_len - got);
        if (n <= 0) {
            reg_errmsgf(errmsg, "--restore %s: read failed", s->cfg.restore);
            goto err_free;
        }
        got += (size_t)n;
    }
    if (proto_snapfile_verify(s->restore_file, s->restore_file_len, &s->restore_hdr,
                              &s->restore_payload, errmsg) != REG_OK) {
        reg_errmsg_wrapf(errmsg, "--restore %s", s->cfg.restore);
        goto err_free;
    }
    rv = REG_OK;
    goto out;
err_free:
    reg_free(s->restore_file);
    s->restore_file = NULL;
out:
    if (fd >= 0) {
        close(fd);
    }
    return rv;
}

static bool state_empty(struct srv *s)
{
    struct st_stats ss;
    st_stats(s->state, &ss);
    return ss.nodes == 0 && ss.networks == 0 && ss.trust_pairs == 0 && ss.pending == 0;
}

static void restore_finish(struct srv *s, const char *why)
{
    s->restore_done = true;
    reg_free(s->restore_file);
    s->restore_file = NULL;
    s->restore_payload = NULL;
    srv_log(SRV_LOG_INFO, "restore_proposer_done", "why=\"%s\"", why);
}

static void restore_submitted(struct srv__req *r, int code, const struct st_result *res,
                              uint64_t index)
{
    struct srv *s = r->srv;
    s->restore_inflight = false;
    (void)index;
    if (code != REG_OK || res->code != REG_OK) {
        srv_log(SRV_LOG_WARN, "restore_entry_failed", "code=%s offset=%llu",
                reg_err_name(code != REG_OK ? code : res->code),
                (unsigned long long)s->restore_next);
        s->restore_next = 0;
        return;
    }
    if (s->restore_entry.kind == PROTO_LOG_KIND_RESTORE_COMMIT) {
        restore_finish(s, "committed");
        return;
    }
    s->restore_next += s->restore_entry.len;
}

static void restore_tick(uv_timer_t *t)
{
    struct srv *s = t->data;
    struct proto_restore *e = &s->restore_entry;
    uint64_t total;
    if (s->restore_done || s->restore_inflight || s->stopping) {
        return;
    }
    if (!glue_ready(s->glue)) {
        /* A later leadership starts over: chunk 0 resets every replica. */
        s->restore_next = 0;
        return;
    }
    if (s->restore_next == 0 && !state_empty(s)) {
        restore_finish(s, "state not empty: refusing to overwrite it");
        return;
    }
    total = s->restore_hdr.payload_len;
    memset(e, 0, sizeof *e);
    e->total = total;
    if (s->restore_next < total || total == 0) {
        e->kind = PROTO_LOG_KIND_RESTORE_CHUNK;
        e->offset = s->restore_next;
        e->data = s->restore_payload + s->restore_next;
        e->len = (size_t)(total - s->restore_next);
        if (e->len > PROTO_RESTORE_CHUNK_MAX) {
            e->len = PROTO_RESTORE_CHUNK_MAX;
        }
        if (total == 0) {
            s->restore_next = 1; /* an empty payload is one empty chunk */
        }
    } else {
        e->kind = PROTO_LOG_KIND_RESTORE_COMMIT;
        memcpy(e->checksum, s->restore_hdr.checksum, sizeof e->checksum);
    }
    struct srv__req *r = srv__req_new(s, NULL);
    if (r == NULL) {
        return;
    }
    r->restore = e;
    r->done = restore_submitted;
    r->frame_len = e->len + 128;
    r->submit_ns = uv_hrtime();
    if (glue_submit(s->glue, r, srv__write_done, r) != REG_OK) {
        srv__req_free(r);
        return;
    }
    s->restore_inflight = true;
}

void srv__backup_start(struct srv *s)
{
    if (s->restore_file == NULL) {
        return;
    }
    srv_log(SRV_LOG_INFO, "restore_pending",
            "file=\"%s\" payload_bytes=%llu applied_index=%llu", s->cfg.restore,
            (unsigned long long)s->restore_hdr.payload_len,
            (unsigned long long)s->restore_hdr.applied_index);
    uv_timer_init(s->loop, &s->restore_timer);
    s->restore_timer.data = s;
    s->open_handles++;
    s->restore_timer_on = true;
    uv_timer_start(&s->restore_timer, restore_tick, RESTORE_TICK_MS, RESTORE_TICK_MS);
}

static void timer_closed(uv_handle_t *h)
{
    srv__handle_closed(h->data);
}

void srv__backup_stop(struct srv *s)
{
    if (s->restore_timer_on) {
        s->restore_timer_on = false;
        uv_close((uv_handle_t *)&s->restore_timer, timer_closed);
    }
}

void srv__backup_free(struct srv *s)
{
    snapcache_free(s);
    reg_free(s->restore_file);
    s->restore_file = NULL;
    reg_free(s->asm_buf);
    s->asm_buf = NULL;
}

bool srv__restore_pending(struct srv *s)
{
    return s->restore_file != NULL && !s->restore_done;
}

bool srv__restore_busy(struct srv *s)
{
    return s->asm_len > 0 || s->asm_total > 0;
}

/* ---- Restore: applying the entries (every replica) -------------------------- */

void srv__restore_reset(struct srv *s)
{
    reg_free(s->asm_buf);
    s->asm_buf = NULL;
    s->asm_len = s->asm_cap = 0;
    s->asm_total = 0;
}

/* res = code with message prefix + detail, truncated to fit. */
static void set_result(struct st_result *res, int code, const char *prefix, const char *detail)
{
    size_t cap = sizeof res->message, n, m;
    memset(res, 0, sizeof *res);
    res->code = code;
    n = strnlen(prefix, cap - 1);
    memcpy(res->message, prefix, n);
    m = strnlen(detail, cap - 1 - n);
    memcpy(res->message + n, detail, m);
    res->message[n + m] = '\0';
}

/* The restored state keeps this cluster's membership map: delete the old
 * cluster's members, copy ours. Deterministic (same map on every replica at
 * this index). */
static void keep_members(struct srv *s, struct st_state *fresh)
{
    struct st_cluster_member *ms;
    struct st_cmd cmd;
    struct st_result res;
    uint32_t n, i;
    ms = reg_xmalloc(sizeof *ms * KEEP_MEMBERS_MAX);
    memset(&cmd, 0, sizeof cmd);
    cmd.caller_admin = true;
    cmd.ts_ms = s->last_ts;
    n = st_cluster_members(fresh, ms, KEEP_MEMBERS_MAX);
    cmd.op = ST_CMD_MEMBER_DELETE;
    for (i = 0; i < n && i < KEEP_MEMBERS_MAX; i++) {
        cmd.member = ms[i];
        st_apply(fresh, &cmd, &res);
    }
    n = st_cluster_members(s->state, ms, KEEP_MEMBERS_MAX);
    cmd.op = ST_CMD_MEMBER_UPSERT;
    for (i = 0; i < n && i < KEEP_MEMBERS_MAX; i++) {
        cmd.member = ms[i];
        st_apply(fresh, &cmd, &res);
    }
    reg_free(ms);
}

static void restore_commit(struct srv *s, const struct proto_restore *e, struct st_result *res)
{
    uint8_t sum[32];
    char errmsg[REG_ERRMSG_SIZE];
    struct st_state *fresh = NULL;
    if (s->asm_total != e->total || s->asm_len != e->total) {
        set_result(res, REG_FAILED_PRECONDITION, "restore commit: ",
                   "chunks incomplete; restore discarded");
        goto out;
    }
    proto_snapfile_checksum(s->asm_buf, s->asm_len, sum);
    if (sodium_memcmp(sum, e->checksum, sizeof sum) != 0) {
        set_result(res, REG_MALFORMED, "restore commit: ", "checksum mismatch; discarded");
        goto out;
    }
    int rv = st_snapshot_decode(s->asm_buf, s->asm_len, &fresh, errmsg);
    if (rv == REG_NOMEM) {
        /* A replica may not skip an entry others applied (app.c policy). */
        abort();
    }
    if (rv != REG_OK) {
        set_result(res, REG_MALFORMED, "restore commit: ", errmsg);
        goto out;
    }
    keep_members(s, fresh);
    st_free(s->state);
    s->state = fresh;
    set_result(res, REG_OK, "", "");
    srv_log(SRV_LOG_INFO, "restore_committed", "payload_bytes=%zu", s->asm_len);
out:
    srv__restore_reset(s);
}

void srv__restore_apply(struct srv *s, const void *buf, size_t len, struct st_result *res)
{
    struct proto_restore e;
    char errmsg[REG_ERRMSG_SIZE];
    if (proto_log_restore_decode(buf, len, &e, errmsg) != REG_OK) {
        set_result(res, REG_MALFORMED, "", errmsg);
        return;
    }
    if (e.kind == PROTO_LOG_KIND_RESTORE_COMMIT) {
        restore_commit(s, &e, res);
        return;
    }
    if (e.offset == 0) {
        srv__restore_reset(s);
        s->asm_total = e.total;
    }
    if (e.offset != s->asm_len || e.total != s->asm_total) {
        set_result(res, REG_FAILED_PRECONDITION, "restore chunk: ",
                   "out of order; waiting for a chunk at offset 0");
        srv__restore_reset(s);
        return;
    }
    if (s->asm_len + e.len > s->asm_cap) {
        size_t cap = s->asm_cap == 0 ? PROTO_RESTORE_CHUNK_MAX : s->asm_cap;
        while (cap < s->asm_len + e.len) {
            cap *= 2;
        }
        s->asm_buf = reg_xrealloc(s->asm_buf, cap);
        s->asm_cap = cap;
    }
    if (e.len > 0) {
        memcpy(s->asm_buf + s->asm_len, e.data, e.len);
    }
    s->asm_len += e.len;
    set_result(res, REG_OK, "", "");
}
