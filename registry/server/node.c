/* node.c: lifecycle of one registry node: build the state machine and raft
 * (raft-glue) from the configuration, start the listeners and timers, and
 * stop in order (raft-0.15-notes §2.8 "Shutdown"): stop accepting clients,
 * close connections and peer links, let glue transfer leadership and close
 * raft on a later loop iteration, then free. Also the small queries every
 * other file needs: loop time, the leader hint, the state hash. */
#include <errno.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>

#include "srv_internal.h"

uint64_t srv__now(struct srv *s)
{
    return uv_now(s->loop);
}

void srv__leader_hint(struct srv *s, uint64_t *id, char addr[static ST_ADDR_MAX + 1])
{
    char raft_addr[GLUE_ADDR_MAX + 1];
    struct st_cluster_member m;
    addr[0] = '\0';
    glue_leader(s->glue, id, raft_addr);
    if (*id == 0) {
        return;
    }
    if (*id == s->id) {
        snprintf(addr, ST_ADDR_MAX + 1, "%s", s->cfg.listen);
    } else if (st_cluster_member_get(s->state, *id, &m) == REG_OK) {
        snprintf(addr, ST_ADDR_MAX + 1, "%s", m.client_addr);
    }
}

void srv__state_hash_hex(struct srv *s, char out[static 2 * ST_HASH_LEN + 1])
{
    uint8_t h[ST_HASH_LEN];
    st_hash(s->state, h);
    sodium_bin2hex(out, 2 * ST_HASH_LEN + 1, h, sizeof h);
}

static uint64_t log_term(void *arg)
{
    struct srv *s = arg;
    struct glue_status st;
    if (s->glue == NULL) {
        return 0;
    }
    glue_status(s->glue, &st);
    return st.term;
}

static void glue_log(void *data, int level, const char *msg)
{
    char q[600];
    (void)data;
    srv_log_quote(q, sizeof q, msg);
    srv_log(level, "raft", "msg=%s", q);
}

static void glue_fail(void *data, int code, const char *why)
{
    struct srv *s = data;
    char q[REG_ERRMSG_SIZE + 2];
    srv_log_quote(q, sizeof q, why);
    s->failed = code == REG_OK ? REG_INTERNAL : code;
    srv_log(SRV_LOG_ERROR, "fail_stop", "code=%s why=%s", reg_err_name(code), q);
    if (s->fail_hook != NULL) {
        s->fail_hook(s->fail_data);
    }
}

void srv_set_fail_hook(struct srv *s, void (*hook)(void *data), void *data)
{
    s->fail_hook = hook;
    s->fail_data = data;
}

int srv_failed(const struct srv *s)
{
    return s->failed;
}

int srv_new(struct srv **out, struct uv_loop_s *loop, const struct srv_config *cfg,
            const struct srv_secrets *secrets, char errmsg[static REG_ERRMSG_SIZE])
{
    struct srv *s;
    struct glue_config gc;
    struct glue_app app;
    struct glue_peer peers[GLUE_MAX_PEERS];
    unsigned n_peers = 0;
    int rv;

    s = reg_calloc(1, sizeof *s);
    if (s == NULL) {
        reg_errmsgf(errmsg, "out of memory");
        rv = REG_NOMEM;
        goto out;
    }
    s->loop = loop;
    s->cfg = *cfg;
    s->secrets = *secrets;
    if (s->cfg.name[0] == '\0') {
        snprintf(s->cfg.name, sizeof s->cfg.name, "node-%llu", (unsigned long long)cfg->id);
    }
    if (mkdir(cfg->data_dir, 0700) != 0 && errno != EEXIST) {
        reg_errmsgf(errmsg, "cannot create data dir %s: %s", cfg->data_dir, strerror(errno));
        rv = REG_INVALID_ARGUMENT;
        goto err_after_alloc;
    }
    s->online_buf = reg_malloc(ST_ONLINE_BATCH_MAX * sizeof *s->online_buf);
    if (s->online_buf == NULL) {
        reg_errmsgf(errmsg, "out of memory");
        rv = REG_NOMEM;
        goto err_after_alloc;
    }
    s->state = st_new();
    s->founding = cfg->bootstrap || cfg->initial_cluster[0] != '\0';

    glue_config_defaults(&gc);
    gc.id = cfg->id;
    gc.data_dir = cfg->data_dir;
    gc.raft_address = cfg->raft;
    memcpy(gc.cluster_key, secrets->cluster_key, GLUE_KEY_LEN);
    if (cfg->bootstrap) {
        gc.mode = GLUE_MODE_BOOTSTRAP;
    } else if (cfg->initial_cluster[0] != '\0') {
        gc.mode = GLUE_MODE_INITIAL;
        rv = glue_parse_peers(cfg->initial_cluster, peers, GLUE_MAX_PEERS, &n_peers, errmsg);
        if (rv != REG_OK) {
            goto err_after_state;
        }
        gc.peers = peers;
        gc.n_peers = n_peers;
    } else if (cfg->join[0] != '\0') {
        gc.mode = GLUE_MODE_JOIN;
    } else if (cfg->force_new_cluster) {
        gc.mode = GLUE_MODE_RECOVER;
    } else {
        /* Restart of an existing node: raft's data dir holds the
         * configuration; joining mode bootstraps nothing. */
        gc.mode = GLUE_MODE_JOIN;
    }
    gc.election_timeout_ms = (unsigned)cfg->election_timeout_ms;
    gc.heartbeat_timeout_ms = (unsigned)cfg->heartbeat_timeout_ms;
    gc.snapshot_threshold = (unsigned)cfg->snapshot_threshold;
    gc.snapshot_trailing = (unsigned)cfg->snapshot_trailing;
    gc.no_fast_failover = cfg->no_fast_failover;
    gc.log = glue_log;
    gc.log_data = s;
    gc.fail_stop = glue_fail;
    gc.fail_stop_data = s;
    rv = srv__backup_init(s, errmsg);
    if (rv != REG_OK) {
        goto err_after_state;
    }
    srv__app_init(s, &app);
    rv = glue_init(&s->glue, loop, &gc, &app, errmsg);
    if (rv != REG_OK) {
        goto err_after_state;
    }
    s->id = glue_id(s->glue);
    srv_log_set_context(s->id, log_term, s);
    *out = s;
    rv = REG_OK;
    goto out;

err_after_state:
    srv__backup_free(s);
    st_free(s->state);
    reg_free(s->online_buf);
err_after_alloc:
    reg_free(s);
out:
    return rv;
}

int srv_start(struct srv *s, char errmsg[static REG_ERRMSG_SIZE])
{
    int rv = glue_start(s->glue, errmsg);
    if (rv != REG_OK) {
        goto out;
    }
    rv = srv__listener_start(s, errmsg);
    if (rv != REG_OK) {
        goto out;
    }
    rv = srv__http_start(s, errmsg);
    if (rv != REG_OK) {
        goto out;
    }
    srv__liveness_init(s);
    srv__cluster_init(s);
    srv__watch_init(s);
    srv__backup_start(s);
    s->started = true;
    srv_log(SRV_LOG_INFO, "node_started",
            "name=%s listen=%s raft=%s http=%s applied_index=%llu mode=%s", s->cfg.name,
            s->cfg.listen, s->cfg.raft, s->cfg.http[0] ? s->cfg.http : "-",
            (unsigned long long)st_applied_index(s->state),
            s->cfg.bootstrap ? "bootstrap"
            : s->cfg.initial_cluster[0] ? "initial-cluster"
            : s->cfg.join[0] ? "join"
            : s->cfg.force_new_cluster ? "force-new-cluster" : "restart");
out:
    return rv;
}

static void maybe_finish(struct srv *s)
{
    void (*cb)(void *data);
    void *data;
    if (s->glue != NULL || s->open_handles != 0) {
        return;
    }
    cb = s->stop_cb;
    data = s->stop_data;
    srv__liveness_free(s);
    srv__watch_free(s);
    srv__backup_free(s);
    reg_free(s->results);
    reg_free(s->online_buf);
    st_free(s->state);
    sodium_memzero(&s->secrets, sizeof s->secrets);
    srv_log(SRV_LOG_INFO, "node_stopped", "%s", "");
    srv_log_set_context(s->id, NULL, NULL);
    reg_free(s);
    if (cb != NULL) {
        cb(data);
    }
}

void srv__handle_closed(struct srv *s)
{
    s->open_handles--;
    if (s->stopping) {
        maybe_finish(s);
    }
}

static void glue_closed(void *data)
{
    struct srv *s = data;
    s->glue = NULL;
    maybe_finish(s);
}

void srv_stop(struct srv *s, void (*cb)(void *data), void *data)
{
    if (s->stopping) {
        return;
    }
    srv_log(SRV_LOG_INFO, "node_stopping", "%s", "");
    s->stopping = true;
    s->stop_cb = cb;
    s->stop_data = data;
    srv__listener_stop(s);
    srv__http_stop(s);
    srv__forward_stop(s);
    if (s->started) {
        srv__liveness_stop(s);
        srv__cluster_stop(s);
        srv__watch_stop(s);
    }
    srv__backup_stop(s);
    glue_shutdown(s->glue, glue_closed, s);
}
