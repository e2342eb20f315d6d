/* node.c: the node's lifecycle on one libuv loop: configuration checks, the
 * persisted node id, raft_uv + transport setup, bootstrap, start, and the
 * ordered shutdown (transfer leadership, close raft outside any raft
 * callback, close glue's handles, report). See notes §2.8 for the order. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "glue_internal.h"
#include "raft_compat.h"

/* ---- Small shared helpers ---------------------------------------------- */

uint64_t glue__now(struct glue *g)
{
    if (g->r != NULL && g->r->io != NULL && (g->fixture || g->raft_inited)) {
        return g->r->io->time(g->r->io);
    }
    return g->loop != NULL ? uv_now(g->loop) : 0;
}

uint64_t glue__wall_ms(struct glue *g)
{
    struct timespec ts;

    if (g->fixture) {
        /* Virtual time keeps fixture runs deterministic. */
        return glue__now(g);
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void glue__logf(struct glue *g, int level, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    if (g->cfg.log == NULL) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    g->cfg.log(g->cfg.log_data, level, msg);
}

bool glue__is_leader(struct glue *g)
{
    return g->r != NULL && g->started && raft_state(g->r) == RAFT_LEADER;
}

static void trace_emit(struct raft_tracer *t, const char *file, int line, const char *message)
{
    glue__logf(t->impl, GLUE_LOG_DEBUG, "raft %s:%d %s", file, line, message);
}

/* ---- Configuration ----------------------------------------------------- */

void glue__config_fill(struct glue_config *c)
{
    if (c->election_timeout_ms == 0) c->election_timeout_ms = 1000;
    if (c->heartbeat_timeout_ms == 0) c->heartbeat_timeout_ms = c->election_timeout_ms / 10;
    if (c->snapshot_threshold == 0) c->snapshot_threshold = 4096;
    if (c->snapshot_trailing == 0) c->snapshot_trailing = 8192;
    if (c->segment_size == 0) c->segment_size = 8u << 20;
    if (c->max_inflight == 0) c->max_inflight = 2;
    if (c->max_batch_ops == 0) c->max_batch_ops = 256;
    if (c->max_batch_bytes == 0) c->max_batch_bytes = 256u << 10;
    if (c->max_queued == 0) c->max_queued = 65536;
    if (c->min_free_bytes == 0) c->min_free_bytes = 3 * (uint64_t)c->segment_size + (64u << 20);
    if (c->critical_free_bytes == 0) c->critical_free_bytes = c->segment_size;
    if (c->statfs_interval_ms == 0) c->statfs_interval_ms = 1000;
}

void glue_config_defaults(struct glue_config *c)
{
    memset(c, 0, sizeof *c);
    glue__config_fill(c);
}

void glue__apply_settings(struct glue *g)
{
    struct raft *r = g->r;

    if (!g->fixture) {
        /* The fixture fixes its own timeouts to stay deterministic. */
        raft_set_election_timeout(r, g->cfg.election_timeout_ms);
        raft_set_heartbeat_timeout(r, g->cfg.heartbeat_timeout_ms);
    }
    raft_set_snapshot_threshold(r, g->cfg.snapshot_threshold);
    raft_set_snapshot_trailing(r, g->cfg.snapshot_trailing);
    /* notes §8 #11: pre-vote stops partitioned or removed nodes from
     * bumping terms. */
    raft_set_pre_vote(r, true);
    raft_set_max_catch_up_rounds(r, 50);
    raft_set_max_catch_up_round_duration(r, 30000);
    raft_set_install_snapshot_timeout(r, 30000);
}

static int check_address(const char *addr)
{
    char host[GLUE_ADDR_MAX + 1];
    const char *colon;
    struct sockaddr_in sa;
    char *end;
    long port;

    if (addr == NULL || strlen(addr) > GLUE_ADDR_MAX || (colon = strrchr(addr, ':')) == NULL) {
        return -1;
    }
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = '\0';
    errno = 0;
    port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || colon[1] == '\0' || port <= 0 || port > 65535 || errno != 0) {
        return -1;
    }
    return uv_ip4_addr(host, (int)port, &sa) == 0 ? 0 : -1;
}

int glue_parse_peers(const char *text, struct glue_peer *peers, unsigned max, unsigned *n,
                     char errmsg[static REG_ERRMSG_SIZE])
{
    const char *p = text;
    unsigned count = 0;

    if (text == NULL || *text == '\0') {
        reg_errmsgf(errmsg, "empty peer list");
        return REG_INVALID_ARGUMENT;
    }
    while (*p != '\0') {
        const char *comma = strchr(p, ',');
        size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
        char item[GLUE_ADDR_MAX + 32];
        char *eq, *end;
        unsigned long long id;

        if (len == 0 || len >= sizeof item) {
            reg_errmsgf(errmsg, "peer %u: empty or too long", count + 1);
            return REG_INVALID_ARGUMENT;
        }
        memcpy(item, p, len);
        item[len] = '\0';
        eq = strchr(item, '=');
        errno = 0;
        id = eq != NULL ? strtoull(item, &end, 10) : 0;
        if (eq == NULL || end != eq || id == 0 || errno != 0 || item[0] == '-' ||
            check_address(eq + 1) != 0) {
            reg_errmsgf(errmsg, "bad peer \"%s\" (want id=a.b.c.d:port, id > 0)", item);
            return REG_INVALID_ARGUMENT;
        }
        if (count >= max) {
            reg_errmsgf(errmsg, "more than %u peers", max);
            return REG_INVALID_ARGUMENT;
        }
        for (unsigned i = 0; i < count; i++) {
            if (peers[i].id == id || strcmp(peers[i].address, eq + 1) == 0) {
                reg_errmsgf(errmsg, "duplicate peer \"%s\"", item);
                return REG_INVALID_ARGUMENT;
            }
        }
        peers[count].id = id;
        snprintf(peers[count].address, sizeof peers[count].address, "%s", eq + 1);
        count++;
        p += len;
        if (*p == ',') {
            p++;
        }
    }
    *n = count;
    return REG_OK;
}

static int check_config(const struct glue_config *c, char errmsg[static REG_ERRMSG_SIZE])
{
    struct stat st;
    bool self = false;

    if (c->data_dir == NULL || stat(c->data_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        reg_errmsgf(errmsg, "data dir \"%s\" is not a directory",
                    c->data_dir != NULL ? c->data_dir : "(null)");
        return REG_INVALID_ARGUMENT;
    }
    if (strlen(c->data_dir) > 900) {
        reg_errmsgf(errmsg, "data dir path too long");
        return REG_INVALID_ARGUMENT;
    }
    if (check_address(c->raft_address) != 0) {
        reg_errmsgf(errmsg, "raft address \"%s\" is not a.b.c.d:port",
                    c->raft_address != NULL ? c->raft_address : "(null)");
        return REG_INVALID_ARGUMENT;
    }
    /* raft 0.15 does not check this itself (the assert is compiled out). */
    if (c->heartbeat_timeout_ms >= c->election_timeout_ms) {
        reg_errmsgf(errmsg, "heartbeat timeout %u ms must be below election timeout %u ms",
                    c->heartbeat_timeout_ms, c->election_timeout_ms);
        return REG_INVALID_ARGUMENT;
    }
    if (c->mode != GLUE_MODE_BOOTSTRAP && c->mode != GLUE_MODE_INITIAL &&
        c->mode != GLUE_MODE_JOIN && c->mode != GLUE_MODE_RECOVER) {
        reg_errmsgf(errmsg, "unknown mode %d", (int)c->mode);
        return REG_INVALID_ARGUMENT;
    }
    if (c->mode == GLUE_MODE_INITIAL) {
        if (c->peers == NULL || c->n_peers == 0 || c->n_peers > GLUE_MAX_PEERS || c->id == 0) {
            reg_errmsgf(errmsg, "initial cluster needs an explicit id and 1..%d peers",
                        GLUE_MAX_PEERS);
            return REG_INVALID_ARGUMENT;
        }
        for (unsigned i = 0; i < c->n_peers; i++) {
            if (c->peers[i].id == 0 || check_address(c->peers[i].address) != 0) {
                reg_errmsgf(errmsg, "peer %u is invalid", i + 1);
                return REG_INVALID_ARGUMENT;
            }
            if (c->peers[i].id == c->id) {
                self = strcmp(c->peers[i].address, c->raft_address) == 0;
            }
        }
        if (!self) {
            reg_errmsgf(errmsg, "initial cluster does not list this node (%" PRIu64 "=%s)",
                        c->id, c->raft_address);
            return REG_INVALID_ARGUMENT;
        }
    }
    /* notes §8 #10: lagging followers should catch up from the log. */
    if (c->snapshot_trailing < c->snapshot_threshold / 2) {
        reg_errmsgf(errmsg, "snapshot trailing %u must be at least half the threshold %u",
                    c->snapshot_trailing, c->snapshot_threshold);
        return REG_INVALID_ARGUMENT;
    }
    return REG_OK;
}

/* ---- Persisted node id (notes §9.5 item 1) ----------------------------- */

static int node_id_resolve(struct glue *g, uint64_t want, char errmsg[static REG_ERRMSG_SIZE])
{
    char path[1100], tmp[1110], buf[32];
    uint64_t id = 0;
    ssize_t n;
    int fd;

    snprintf(path, sizeof path, "%s/node-id", g->data_dir);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        char *end;
        n = read(fd, buf, sizeof buf - 1);
        close(fd);
        buf[n > 0 ? n : 0] = '\0';
        id = strtoull(buf, &end, 10);
        if (n <= 0 || id == 0 || (*end != '\n' && *end != '\0')) {
            reg_errmsgf(errmsg, "%s is corrupt", path);
            return REG_INVALID_ARGUMENT;
        }
        if (want != 0 && want != id) {
            reg_errmsgf(errmsg, "id %" PRIu64 " disagrees with %s (%" PRIu64 ")", want, path, id);
            return REG_INVALID_ARGUMENT;
        }
        g->id = id;
        return REG_OK;
    }
    id = want;
    while (id == 0) {
        randombytes_buf(&id, sizeof id);
        id &= INT64_MAX; /* stays printable as a signed number too */
    }
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        reg_errmsgf(errmsg, "create %s: %s", tmp, strerror(errno));
        return REG_INTERNAL;
    }
    n = snprintf(buf, sizeof buf, "%" PRIu64 "\n", id);
    if (write(fd, buf, (size_t)n) != n || fsync(fd) != 0) {
        reg_errmsgf(errmsg, "write %s: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        return REG_INTERNAL;
    }
    close(fd);
    if (rename(tmp, path) != 0) {
        reg_errmsgf(errmsg, "rename %s: %s", tmp, strerror(errno));
        unlink(tmp);
        return REG_INTERNAL;
    }
    g->id = id;
    return REG_OK;
}

/* ---- Init / start ------------------------------------------------------ */

static int bootstrap(struct glue *g, char errmsg[static REG_ERRMSG_SIZE])
{
    struct raft_configuration conf;
    int rv;

    if (g->cfg.mode == GLUE_MODE_JOIN) {
        /* notes §9.7: never bootstrap a node meant to join. */
        return REG_OK;
    }
    raft_configuration_init(&conf);
    if (g->cfg.mode == GLUE_MODE_RECOVER) {
        /* Quorum-loss recovery (raft-0.15-notes §2.2 raft_recover): the
         * surviving node keeps its log and snapshot; only the configuration
         * is forced to {self}. The other survivors must be wiped and rejoin
         * (they would otherwise hold the old configuration). */
        rv = raft_configuration_add(&conf, g->id, g->address, RAFT_VOTER);
        if (rv == 0) {
            rv = raft_recover(g->r, &conf);
        }
        raft_configuration_close(&conf);
        if (rv != 0) {
            reg_errmsgf(errmsg, "recover: %s (%s)", raft_strerror(rv), raft_errmsg(g->r));
            return REG_INTERNAL;
        }
        glue__logf(g, GLUE_LOG_WARN, "configuration forced to this node alone (recover)");
        return REG_OK;
    }
    if (g->cfg.mode == GLUE_MODE_BOOTSTRAP) {
        rv = raft_configuration_add(&conf, g->id, g->address, RAFT_VOTER);
    } else {
        rv = 0;
        for (unsigned i = 0; i < g->cfg.n_peers && rv == 0; i++) {
            rv = raft_configuration_add(&conf, g->peers[i].id, g->peers[i].address,
                                        RAFT_VOTER);
        }
    }
    if (rv == 0) {
        rv = raft_bootstrap(g->r, &conf);
    }
    raft_configuration_close(&conf);
    if (rv == RAFT_CANTBOOTSTRAP) {
        glue__logf(g, GLUE_LOG_INFO, "data dir already initialised; not bootstrapping");
        return REG_OK;
    }
    if (rv != 0) {
        reg_errmsgf(errmsg, "bootstrap: %s (%s)", raft_strerror(rv), raft_errmsg(g->r));
        return REG_INTERNAL;
    }
    return REG_OK;
}

static void on_raft_closed(struct raft *r)
{
    struct glue *g = r->data;

    raft_uv_close(&g->io);
    glue__io_fini(&g->io_order);
    glue__transport_close(&g->transport);
    g->raft_inited = false;
    glue__logf(g, GLUE_LOG_INFO, "raft closed (%llu log truncates, %llu held back behind "
               "another barrier)", (unsigned long long)g->io_order.n_truncates,
               (unsigned long long)g->io_order.n_deferred);
    g->phase = GLUE__CLOSED;
    if (g->failed && !g->fail_reported) {
        g->fail_reported = true;
        glue__logf(g, GLUE_LOG_ERROR, "fail-stop: %s", g->fail_why);
        if (g->cfg.fail_stop != NULL) {
            g->cfg.fail_stop(g->cfg.fail_stop_data, g->fail_code, g->fail_why);
        } else {
            exit(70);
        }
    }
    glue__maybe_finish_close(g);
}

void glue__close_raft(struct glue *g)
{
    if (g->phase == GLUE__CLOSING || g->phase == GLUE__CLOSED) {
        return;
    }
    g->phase = GLUE__CLOSING;
    g->ready = false;
    glue__logf(g, GLUE_LOG_INFO, "closing raft");
    raft_close(g->r, on_raft_closed);
}

int glue_init(struct glue **out, struct uv_loop_s *loop, const struct glue_config *cfg,
              const struct glue_app *app, char errmsg[static REG_ERRMSG_SIZE])
{
    struct glue *g;
    char raft_err[REG_ERRMSG_SIZE];
    int rv;

    *out = NULL;
    /* raft_uv and the transport write to TCP peers that may have gone away;
     * Linux would kill the process with SIGPIPE instead of returning EPIPE. */
    signal(SIGPIPE, SIG_IGN);
    if (sodium_init() < 0) {
        reg_errmsgf(errmsg, "libsodium init failed");
        return REG_INTERNAL;
    }
    g = reg_calloc(1, sizeof *g);
    if (g == NULL) {
        reg_errmsgf(errmsg, "out of memory");
        return REG_NOMEM;
    }
    g->cfg = *cfg;
    glue__config_fill(&g->cfg);
    rv = check_config(&g->cfg, errmsg);
    if (rv != REG_OK) {
        goto err_after_alloc;
    }
    g->app = *app;
    g->loop = loop;
    g->last_state = -1;
    snprintf(g->data_dir, sizeof g->data_dir, "%s", cfg->data_dir);
    snprintf(g->raft_dir, sizeof g->raft_dir, "%s/raft", cfg->data_dir);
    snprintf(g->address, sizeof g->address, "%s", cfg->raft_address);
    for (unsigned i = 0; i < cfg->n_peers && cfg->mode == GLUE_MODE_INITIAL; i++) {
        g->peers[i] = cfg->peers[i];
    }
    g->cfg.peers = g->peers;
    g->cfg.data_dir = g->data_dir;
    g->cfg.raft_address = g->address;
    rv = node_id_resolve(g, cfg->id, errmsg);
    if (rv != REG_OK) {
        goto err_after_alloc;
    }
    if (mkdir(g->raft_dir, 0700) != 0 && errno != EEXIST) {
        reg_errmsgf(errmsg, "mkdir %s: %s", g->raft_dir, strerror(errno));
        rv = REG_INTERNAL;
        goto err_after_alloc;
    }
    glue__fsm_init(g);
    g->tracer.impl = g;
    g->tracer.emit = trace_emit;
    /* Tracing formats a line per raft event: opt-in, like raft's own. */
    g->tracer.enabled = cfg->log != NULL && getenv("LIBRAFT_TRACE") != NULL;
    rv = glue__transport_init(&g->transport, loop, cfg->cluster_key, cfg->log, cfg->log_data);
    if (rv != 0) {
        reg_errmsgf(errmsg, "transport init failed");
        rv = REG_NOMEM;
        goto err_after_alloc;
    }
    rv = raft_uv_init(&g->io, loop, g->raft_dir, &g->transport);
    if (rv != 0) {
        snprintf(raft_err, sizeof raft_err, "%s", g->io.errmsg);
        reg_errmsgf(errmsg, "raft_uv_init: %s (%s)", raft_strerror(rv), raft_err);
        rv = REG_INTERNAL;
        goto err_after_transport;
    }
    raft_uv_set_segment_size(&g->io, g->cfg.segment_size);
    raft_uv_set_tracer(&g->io, &g->tracer);
    raft_uv_set_connect_retry_delay(&g->io, 250);
    g->r = &g->own_raft;
    glue__io_init(&g->io_order, &g->io);
    rv = raft_init(g->r, &g->io_order.io, &g->fsm, g->id, g->address);
    if (rv != 0) {
        reg_errmsgf(errmsg, "raft_init: %s (%s)", rv > 0 ? raft_strerror(rv) : "version",
                    raft_errmsg(g->r));
        rv = REG_INTERNAL;
        goto err_after_io;
    }
    g->raft_inited = true;
    g->r->data = g;
    g->r->tracer = &g->tracer;
    glue__apply_settings(g);
    rv = bootstrap(g, errmsg);
    if (rv != REG_OK) {
        /* raft is initialised: its close completes on the loop. */
        g->shutting_down = true;
        glue__close_raft(g);
        return rv;
    }
    *out = g;
    return REG_OK;

err_after_io:
    raft_uv_close(&g->io);
    glue__io_fini(&g->io_order);
err_after_transport:
    glue__transport_close(&g->transport);
err_after_alloc:
    reg_free(g);
    return rv;
}

int glue_start(struct glue *g, char errmsg[static REG_ERRMSG_SIZE])
{
    int rv = raft_start(g->r);

    if (rv != 0) {
        reg_errmsgf(errmsg, "raft_start: %s (%s)", raft_strerror(rv), raft_errmsg(g->r));
        return REG_INTERNAL;
    }
    g->started = true;
    g->phase = GLUE__RUNNING;
    rv = glue__watchdog_start(g);
    if (rv != 0) {
        reg_errmsgf(errmsg, "monitor: %s", uv_strerror(rv));
        return REG_INTERNAL;
    }
    glue__logf(g, GLUE_LOG_INFO, "raft started: id %" PRIu64 " at %s", g->id, g->address);
    return REG_OK;
}

/* ---- Shutdown ------------------------------------------------------------ */

static void handle_closed_cb(uv_handle_t *h)
{
    struct glue *g = h->data;

    g->open_handles--;
    glue__maybe_finish_close(g);
}

void glue__maybe_finish_close(struct glue *g)
{
    void (*cb)(void *data);
    void *data;

    if (!g->shutting_down || g->fixture || (g->raft_inited && g->phase != GLUE__CLOSED) ||
        g->statfs_busy) {
        return;
    }
    if (g->open_handles > 0) {
        if (!uv_is_closing((uv_handle_t *)&g->monitor)) {
            uv_prepare_stop(&g->monitor);
            uv_close((uv_handle_t *)&g->monitor, handle_closed_cb);
        }
        if (!uv_is_closing((uv_handle_t *)&g->statfs_timer)) {
            uv_close((uv_handle_t *)&g->statfs_timer, handle_closed_cb);
        }
        glue__failover_close(g);
        return;
    }
    cb = g->shutdown_cb;
    data = g->shutdown_data;
    reg_free(g);
    if (cb != NULL) {
        cb(data);
    }
}

/* Called by the monitor while shutting down. */
void glue__shutdown_step(struct glue *g)
{
    if (g->phase != GLUE__RUNNING) {
        return;
    }
    if (g->shutdown_transfer && g->transfer_busy && glue__now(g) < g->shutdown_deadline_ms) {
        return;
    }
    glue__close_raft(g);
}

void glue_shutdown(struct glue *g, void (*cb)(void *data), void *data)
{
    bool was = g->shutting_down;

    g->shutting_down = true;
    g->shutdown_cb = cb;
    g->shutdown_data = data;
    if (was) {
        return;
    }
    glue__fail_queued(g, REG_UNAVAILABLE);
    glue__reads_fail(g, REG_UNAVAILABLE);
    glue__changes_fail(g, REG_UNAVAILABLE);
    if (g->phase == GLUE__RUNNING && glue__is_leader(g) && glue__c_voters(g->r) > 1 &&
        glue__transfer_start(g, 0) == 0) {
        g->shutdown_transfer = true;
        g->shutdown_deadline_ms = glue__now(g) + 2ull * g->cfg.election_timeout_ms;
        glue__logf(g, GLUE_LOG_INFO, "shutdown: transferring leadership first");
    }
    if (g->phase == GLUE__INIT) {
        /* Not started: no raft callback can be on the stack. */
        glue__close_raft(g);
    }
    /* RUNNING: the monitor closes raft at its next run (notes §0 item 3). */
    glue__maybe_finish_close(g);
}
