/* registry.c: how the daemon talks to the registry cluster.
 *
 * registry/client is blocking, the daemon is a libuv loop: every call runs
 * on libuv's thread pool with a client taken from a small pool (one
 * cl_client per thread, as client.h requires), and its completion runs back
 * on the loop. The client library already does failover across the
 * endpoint list, leader redirects and retries, so registration and
 * heartbeats survive leader changes and node failures without help here.
 *
 * The watch long poll has a thread of its own, so a 15-second poll never
 * holds a pool thread that an access check needs. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent_internal.h"

struct agent__pool {
    pthread_mutex_t mu;
    struct cl_options opts;
    struct cl_client *idle[AGENT__POOL];
    unsigned n_idle;
};

static void fill_options(struct agent__d *d, struct cl_options *o, uint32_t attempt_ms,
                         uint32_t deadline_ms)
{
    memset(o, 0, sizeof *o);
    o->endpoints = d->cfg.registry;
    o->secret_key = d->sk;
    o->connect_timeout_ms = 1000;
    o->attempt_timeout_ms = attempt_ms;
    o->deadline_ms = deadline_ms;
}

int agent__pool_new(struct agent__d *d, struct agent__pool **out,
                    char errmsg[static REG_ERRMSG_SIZE])
{
    struct agent__pool *p = reg_calloc(1, sizeof *p);
    struct cl_client *probe = NULL;
    int rv;
    if (p == NULL) {
        reg_errmsgf(errmsg, "out of memory");
        return REG_NOMEM;
    }
    pthread_mutex_init(&p->mu, NULL);
    /* Access checks must answer quickly or drop: a short deadline. */
    fill_options(d, &p->opts, 2000, 4000);
    rv = cl_open(&p->opts, &probe, errmsg);
    if (rv != REG_OK) {
        pthread_mutex_destroy(&p->mu);
        reg_free(p);
        return rv;
    }
    p->idle[p->n_idle++] = probe;
    *out = p;
    return REG_OK;
}

void agent__pool_free(struct agent__pool *p)
{
    if (p == NULL) {
        return;
    }
    for (unsigned i = 0; i < p->n_idle; i++) {
        cl_close(p->idle[i]);
    }
    pthread_mutex_destroy(&p->mu);
    reg_free(p);
}

static struct cl_client *pool_get(struct agent__pool *p, char errmsg[static REG_ERRMSG_SIZE])
{
    struct cl_client *cl = NULL;
    pthread_mutex_lock(&p->mu);
    if (p->n_idle > 0) {
        cl = p->idle[--p->n_idle];
    }
    pthread_mutex_unlock(&p->mu);
    if (cl == NULL && cl_open(&p->opts, &cl, errmsg) != REG_OK) {
        cl = NULL;
    }
    return cl;
}

static void pool_put(struct agent__pool *p, struct cl_client *cl)
{
    pthread_mutex_lock(&p->mu);
    if (p->n_idle < AGENT__POOL) {
        p->idle[p->n_idle++] = cl;
        cl = NULL;
    }
    pthread_mutex_unlock(&p->mu);
    cl_close(cl);
}

static int do_register(struct cl_client *cl, struct agent__call *c)
{
    struct st_cmd cmd;
    struct cl_request rq = {.op = "register", .cmd = &cmd};
    struct cl_response rs;
    struct st_result res;
    int rv;
    memset(&cmd, 0, sizeof cmd);
    cmd.op = ST_CMD_REGISTER;
    snprintf(cmd.endpoint, sizeof cmd.endpoint, "%s", c->endpoint);
    rv = cl_call(cl, &rq, &rs);
    if (rv == REG_OK && rs.has_result) {
        rv = proto_result_decode(&rs.result, ST_CMD_REGISTER, &res, c->message);
        c->node = res.node;
    }
    if (rv != REG_OK && c->message[0] == 0) {
        reg_errmsgf(c->message, "register: %s", rs.message);
    }
    cl_response_free(&rs);
    if (rv != REG_OK) {
        return rv;
    }
    /* A returning key keeps its old endpoint: publish the current one. */
    memset(&cmd, 0, sizeof cmd);
    cmd.op = ST_CMD_SET_ENDPOINT;
    snprintf(cmd.endpoint, sizeof cmd.endpoint, "%s", c->endpoint);
    rq.op = "set_endpoint";
    rv = cl_call(cl, &rq, &rs);
    if (rv != REG_OK) {
        reg_errmsgf(c->message, "set_endpoint: %s", rs.message);
    }
    cl_response_free(&rs);
    return rv;
}

static int do_read(struct cl_client *cl, struct agent__call *c, const char *op)
{
    struct cl_request rq = {.op = op, .args = &c->args};
    struct cl_response rs;
    struct proto_arena arena;
    struct st_node n;
    uint64_t v = 0;
    int rv = cl_call(cl, &rq, &rs);
    proto_arena_init(&arena);
    if (rv != REG_OK) {
        reg_errmsgf(c->message, "%s", rs.message);
        goto out;
    }
    if (c->kind == AGENT__CALL_AUTHORIZE) {
        rv = proto_get_bool(&rs.result, "allowed", PROTO_REQ, &c->allowed, c->message);
        if (rv == REG_OK && c->allowed && proto_has(&rs.result, "key")) {
            rv = proto_get_bin(&rs.result, "key", 0, AGENT_KEY_LEN, c->key, c->message);
            c->has_key = rv == REG_OK;
        }
    } else if (c->kind == AGENT__CALL_HEARTBEAT) {
        rv = proto_get_u64(&rs.result, "offline_after_ms", 0, UINT64_MAX, &v, c->message);
        c->offline_after_ms = v;
    } else {
        rv = proto_node_decode(&rs.result, &n, &arena, c->message);
        if (rv == REG_OK) {
            c->node = n.id;
            memcpy(c->key, n.key, AGENT_KEY_LEN);
            c->has_key = true;
            snprintf(c->endpoint, sizeof c->endpoint, "%s", n.endpoint);
        }
    }
out:
    proto_arena_free(&arena);
    cl_response_free(&rs);
    return rv;
}

/* Resolve a node given as an id, a Pilot address or a hostname. */
static int do_resolve(struct cl_client *cl, struct agent__call *c)
{
    uint64_t id = 0;
    uint16_t net;
    uint32_t node;
    char *end = NULL;
    const char *op = "resolve";
    int rv = REG_INVALID_ARGUMENT;
    memset(&c->args, 0, sizeof c->args);
    if (c->target[0] >= '0' && c->target[0] <= '9' && strchr(c->target, ':') == NULL) {
        id = strtoull(c->target, &end, 10);
        if (*end != '\0' || id == 0 || id > ST_MAX_NODE_ID) {
            reg_errmsgf(c->message, "bad node id \"%s\"", c->target);
            goto out;
        }
        c->args.node = (uint32_t)id;
    } else if (strchr(c->target, ':') != NULL) {
        if (proto_addr_parse(c->target, strlen(c->target), &net, &node, c->message) != REG_OK) {
            goto out;
        }
        c->args.node = node;
    } else {
        snprintf(c->args.hostname, sizeof c->args.hostname, "%s", c->target);
        op = "resolve_hostname";
    }
    rv = do_read(cl, c, op);
out:
    return rv;
}

static void work_cb(uv_work_t *w)
{
    struct agent__call *c = w->data;
    struct agent__d *d = c->d;
    struct cl_client *cl;
    c->started_us = agent__wall_us();
    cl = pool_get(d->pool, c->message);
    if (cl == NULL) {
        c->code = REG_NOMEM;
        return;
    }
    switch (c->kind) {
    case AGENT__CALL_REGISTER: c->code = do_register(cl, c); break;
    case AGENT__CALL_HEARTBEAT: c->code = do_read(cl, c, "heartbeat"); break;
    case AGENT__CALL_AUTHORIZE: c->code = do_read(cl, c, "authorize"); break;
    case AGENT__CALL_RESOLVE: c->code = do_resolve(cl, c); break;
    case AGENT__CALL_MIRROR:
        c->code = agent__mirror_write(cl, d->cfg.home, atomic_load(&d->self), c->message);
        break;
    default: c->code = REG_INTERNAL; break;
    }
    pool_put(d->pool, cl);
}

static void after_cb(uv_work_t *w, int status)
{
    struct agent__call *c = w->data;
    uint64_t now = agent__wall_us();
    if (status == UV_ECANCELED) {
        c->code = REG_UNAVAILABLE;
    }
    if (now - c->queued_us > 100000) {
        agent__log("warn", "registry_call_slow", "kind=%d code=%s queued_us=%llu call_us=%llu",
                   c->kind, reg_err_name(c->code),
                   (unsigned long long)(c->started_us - c->queued_us),
                   (unsigned long long)(now - c->started_us));
    }
    c->done(c);
}

int agent__call_start(struct agent__d *d, struct agent__call *c)
{
    c->d = d;
    c->code = REG_INTERNAL;
    c->message[0] = '\0';
    c->work.data = c;
    c->queued_us = agent__wall_us();
    c->started_us = c->queued_us;
    return uv_queue_work(d->loop, &c->work, work_cb, after_cb) == 0 ? REG_OK : REG_INTERNAL;
}

/* ---- Watch thread ------------------------------------------------------- */

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void *watch_main(void *arg)
{
    struct agent__d *d = arg;
    struct cl_options o;
    struct cl_client *cl = NULL;
    char errmsg[REG_ERRMSG_SIZE];
    uint64_t since = 0;
    /* The server holds a poll up to 15 s: the attempt timeout exceeds it. */
    fill_options(d, &o, 20000, 25000);
    if (cl_open(&o, &cl, errmsg) != REG_OK) {
        agent__log("error", "watch_disabled", "reason=\"%s\"", errmsg);
        return NULL;
    }
    while (!atomic_load(&d->watch_stop)) {
        struct proto_args a = {.since = since};
        struct cl_request rq = {.op = "watch", .args = &a};
        struct cl_response rs;
        uint64_t index = 0;
        bool changed = false;
        if (atomic_load(&d->self) == 0) {
            sleep_ms(20);
            continue;
        }
        if (cl_call(cl, &rq, &rs) == REG_OK &&
            proto_get_u64(&rs.result, "index", PROTO_REQ, UINT64_MAX, &index, errmsg) == REG_OK &&
            proto_get_bool(&rs.result, "changed", 0, &changed, errmsg) == REG_OK) {
            /* The first answer only sets the baseline; whatever changed
             * before it is unknown, so it counts as a change. */
            if (since == 0) {
                changed = true;
            }
            /* A node that is behind our since answers with a lower index:
             * keep the higher one so nothing is reported twice. */
            if (index > since) {
                since = index;
            }
            if (changed && !atomic_load(&d->watch_stop)) {
                uv_async_send(&d->watch_async);
            }
        } else {
            sleep_ms(300);
        }
        cl_response_free(&rs);
    }
    cl_close(cl);
    return NULL;
}

int agent__watch_start(struct agent__d *d, char errmsg[static REG_ERRMSG_SIZE])
{
    atomic_store(&d->watch_stop, false);
    if (pthread_create(&d->watch_thread, NULL, watch_main, d) != 0) {
        reg_errmsgf(errmsg, "cannot start the watch thread");
        return REG_INTERNAL;
    }
    d->watch_running = true;
    return REG_OK;
}

void agent__watch_stop(struct agent__d *d)
{
    if (!d->watch_running) {
        return;
    }
    atomic_store(&d->watch_stop, true);
    /* The thread may be inside a 15 s poll: detach instead of waiting; the
     * process is about to exit and the thread touches only its own client
     * and d's atomics, and d lives in main's frame until exit. */
    pthread_detach(d->watch_thread);
    d->watch_running = false;
}
