/* pilot-agent: the agent daemon (DESIGN.md §8, docs/agent.md).
 *
 *   pilot-agent [--home DIR] [--registry H:P[,H:P...]] [--udp HOST:PORT]
 *
 * Loads (or creates) the identity in $PILOT_HOME with pilotctl's identity
 * code, registers with the cluster and heartbeats, mirrors trust into
 * trust.json, serves the control socket and runs the data plane; one libuv
 * loop. `pilotctl daemon start` runs it with its log in agent.log. This is
 * the edge: it alone prints (logfmt lines on stderr). */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "agent_internal.h"
#include "ctl.h"

static const char usage[] =
    "usage: pilot-agent [--home DIR] [--registry H:P[,H:P...]] [--udp HOST:PORT]\n";

void agent__log(const char *level, const char *event, const char *fmt, ...)
{
    struct timespec ts;
    struct tm tm;
    char when[32];
    va_list ap;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(stderr, "ts=%s.%03ldZ level=%s event=%s ", when, ts.tv_nsec / 1000000, level, event);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

uint64_t agent__wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t agent__now(struct agent__d *d)
{
    return uv_now(d->loop);
}

/* ---- Registration and heartbeats ----------------------------------------- */

static struct agent__call reg_call, hb_call, mirror_call;

static void register_done(struct agent__call *c)
{
    struct agent__d *d = c->d;
    d->registering = false;
    if (c->code != REG_OK) {
        agent__log("warn", "register_failed", "code=%s detail=\"%s\"", reg_err_name(c->code),
                   c->message);
        return;
    }
    d->need_register = false;
    atomic_store(&d->self, c->node);
    agent__log("info", "registered", "node_id=%u endpoint=%s", c->node, d->endpoint);
    agent__mirror_soon(d);
}

static void heartbeat_done(struct agent__call *c)
{
    struct agent__d *d = c->d;
    uint64_t every;
    d->hb_busy = false;
    if (c->code == REG_NOT_FOUND) {
        /* Deregistered behind our back: register again (same key, same id). */
        d->need_register = true;
        return;
    }
    if (c->code != REG_OK) {
        agent__log("warn", "heartbeat_failed", "code=%s", reg_err_name(c->code));
        return;
    }
    if (c->offline_after_ms != 0 && c->offline_after_ms != d->offline_after_ms && !d->stopping) {
        d->offline_after_ms = c->offline_after_ms;
        /* Four beats per offline threshold ride out one lost beat and a
         * leader change. */
        every = c->offline_after_ms / 4;
        every = every < 200 ? 200 : every > 10000 ? 10000 : every;
        uv_timer_set_repeat(&d->hb_timer, every);
    }
}

static void hb_tick(uv_timer_t *t)
{
    struct agent__d *d = t->data;
    if (d->stopping) {
        return;
    }
    if (atomic_load(&d->self) == 0 || d->need_register) {
        if (d->registering) {
            return;
        }
        memset(&reg_call, 0, sizeof reg_call);
        reg_call.kind = AGENT__CALL_REGISTER;
        snprintf(reg_call.endpoint, sizeof reg_call.endpoint, "%s", d->endpoint);
        reg_call.done = register_done;
        d->registering = agent__call_start(d, &reg_call) == REG_OK;
        return;
    }
    if (d->hb_busy) {
        return;
    }
    memset(&hb_call, 0, sizeof hb_call);
    hb_call.kind = AGENT__CALL_HEARTBEAT;
    hb_call.done = heartbeat_done;
    d->hb_busy = agent__call_start(d, &hb_call) == REG_OK;
}

/* ---- Trust mirror, re-checks, watch events -------------------------------- */

static void mirror_done(struct agent__call *c)
{
    struct agent__d *d = c->d;
    d->mirror_busy = false;
    if (c->code != REG_OK) {
        agent__log("warn", "trust_mirror_failed", "code=%s detail=\"%s\"",
                   reg_err_name(c->code), c->message);
    }
    if (d->mirror_again && !d->stopping) {
        d->mirror_again = false;
        agent__mirror_soon(d);
    }
}

void agent__mirror_soon(struct agent__d *d)
{
    if (d->stopping || atomic_load(&d->self) == 0) {
        return;
    }
    if (d->mirror_busy) {
        d->mirror_again = true;
        return;
    }
    memset(&mirror_call, 0, sizeof mirror_call);
    mirror_call.kind = AGENT__CALL_MIRROR;
    mirror_call.done = mirror_done;
    d->mirror_busy = agent__call_start(d, &mirror_call) == REG_OK;
}

static void mirror_tick(uv_timer_t *t)
{
    agent__mirror_soon(t->data);
}

static void recheck_tick(uv_timer_t *t)
{
    agent__dp_recheck(t->data);
}

static void watch_event(uv_async_t *a)
{
    struct agent__d *d = a->data;
    agent__log("debug", "watch_event", "connections=re-checked");
    agent__dp_recheck(d);
    agent__mirror_soon(d);
}

static void on_signal(uv_signal_t *s, int signum)
{
    agent__log("info", "signal", "signum=%d", signum);
    agent__begin_stop(s->data);
}

static void handle_closed(uv_handle_t *h)
{
    struct agent__d *d = h->data;
    d->open_handles--;
}

static void close_handle(struct agent__d *d, uv_handle_t *h)
{
    (void)d;
    uv_close(h, handle_closed);
}

void agent__begin_stop(struct agent__d *d)
{
    if (d->stopping) {
        return;
    }
    d->stopping = true;
    agent__log("info", "stopping", "node_id=%u", atomic_load(&d->self));
    agent__watch_stop(d);
    agent__ipc_stop(d);
    agent__dp_stop(d);
    agent__access_stop(d);
    close_handle(d, (uv_handle_t *)&d->hb_timer);
    close_handle(d, (uv_handle_t *)&d->recheck_timer);
    close_handle(d, (uv_handle_t *)&d->mirror_timer);
    close_handle(d, (uv_handle_t *)&d->stop_timer);
    close_handle(d, (uv_handle_t *)&d->sig_term);
    close_handle(d, (uv_handle_t *)&d->sig_int);
    close_handle(d, (uv_handle_t *)&d->watch_async);
}

/* ---- Start-up --------------------------------------------------------------- */

static int parse_args(int argc, char **argv, struct agent__cfg *cfg)
{
    const char *udp = "127.0.0.1:0";
    const char *colon;
    long port;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--home") == 0 && v != NULL) {
            setenv("PILOT_HOME", v, 1);
        } else if (strcmp(argv[i], "--registry") == 0 && v != NULL) {
            ctl_g.registry = v;
        } else if (strcmp(argv[i], "--udp") == 0 && v != NULL) {
            udp = v;
        } else {
            fprintf(stderr, "pilot-agent: bad argument \"%s\"\n%s", argv[i], usage);
            return 2;
        }
        i++;
    }
    colon = strrchr(udp, ':');
    port = colon != NULL ? strtol(colon + 1, NULL, 10) : -1;
    if (colon == NULL || (size_t)(colon - udp) >= sizeof cfg->udp_host || port < 0 ||
        port > 65535) {
        fprintf(stderr, "pilot-agent: bad --udp \"%s\" (want HOST:PORT)\n", udp);
        return 2;
    }
    memcpy(cfg->udp_host, udp, (size_t)(colon - udp));
    cfg->udp_host[colon - udp] = '\0';
    cfg->udp_port = (uint16_t)port;
    return 0;
}

/* Load the identity, creating it (and $PILOT_HOME) on first start. 0 or 1
 * (printed). */
static int load_identity(struct agent__d *d)
{
    char path[AGENT__PATH_MAX + 32];
    struct stat st;
    uint8_t pk[crypto_sign_PUBLICKEYBYTES];
    int rv = 1;
    snprintf(path, sizeof path, "%s/identity", d->cfg.home);
    if (stat(path, &st) != 0) {
        if (mkdir(d->cfg.home, 0700) != 0 && errno != EEXIST) {
            fprintf(stderr, "pilot-agent: cannot create %s: %s\n", d->cfg.home,
                    strerror(errno));
            goto out;
        }
        crypto_sign_keypair(pk, d->sk);
        if (ctl_identity_save(path, d->sk) != CTL_EXIT_OK) {
            goto out;
        }
        agent__log("info", "identity_created", "path=%s", path);
    }
    if (ctl_identity_load(d->sk) != CTL_EXIT_OK) {
        goto out;
    }
    crypto_sign_ed25519_sk_to_pk(d->pk, d->sk);
    rv = 0;
out:
    return rv;
}

/* Refuse to start twice; write our pid file. 0 or 1 (printed). */
static int take_pidfile(struct agent__d *d)
{
    char path[AGENT__PATH_MAX + 32], text[32], errmsg[REG_ERRMSG_SIZE];
    FILE *f;
    long pid = 0;
    int fd, rv = 1;
    snprintf(path, sizeof path, "%s/%s", d->cfg.home, AGENT_PID_NAME);
    f = fopen(path, "r");
    if (f != NULL) {
        if (fscanf(f, "%ld", &pid) != 1) {
            pid = 0;
        }
        fclose(f);
    }
    /* A stale pid file (crash, kill -9) is taken over; a live daemon that
     * answers on the socket is not. */
    if (pid > 0 && pid != (long)getpid() && kill((pid_t)pid, 0) == 0) {
        fd = agent_ipc_connect(d->cfg.home, errmsg);
        if (fd >= 0) {
            close(fd);
            fprintf(stderr, "pilot-agent: already running in %s (pid %ld)\n", d->cfg.home,
                    pid);
            goto out;
        }
    }
    snprintf(text, sizeof text, "%ld\n", (long)getpid());
    if (ctl_write_file(path, text, 0644) != 0) {
        fprintf(stderr, "pilot-agent: cannot write %s\n", path);
        goto out;
    }
    rv = 0;
out:
    return rv;
}

static void init_timer(struct agent__d *d, uv_timer_t *t)
{
    uv_timer_init(d->loop, t);
    t->data = d;
    d->open_handles++;
}

static int run(struct agent__d *d)
{
    char errmsg[REG_ERRMSG_SIZE];
    int rv;
    if (agent__pool_new(d, &d->pool, errmsg) != REG_OK) {
        fprintf(stderr, "pilot-agent: registry %s: %s\n", d->cfg.registry, errmsg);
        return 1;
    }
    init_timer(d, &d->hb_timer);
    init_timer(d, &d->recheck_timer);
    init_timer(d, &d->mirror_timer);
    init_timer(d, &d->stop_timer);
    uv_signal_init(d->loop, &d->sig_term);
    uv_signal_init(d->loop, &d->sig_int);
    uv_async_init(d->loop, &d->watch_async, watch_event);
    d->sig_term.data = d->sig_int.data = d->watch_async.data = d;
    d->open_handles += 3;
    uv_signal_start(&d->sig_term, on_signal, SIGTERM);
    uv_signal_start(&d->sig_int, on_signal, SIGINT);
    rv = agent__dp_start(d, errmsg);
    if (rv == REG_OK) {
        rv = agent__ipc_start(d, errmsg);
    }
    if (rv == REG_OK) {
        rv = agent__watch_start(d, errmsg);
    }
    if (rv != REG_OK) {
        fprintf(stderr, "pilot-agent: %s\n", errmsg);
        agent__begin_stop(d);
    } else {
        uv_timer_start(&d->hb_timer, hb_tick, 0, 1000);
        uv_timer_start(&d->recheck_timer, recheck_tick, AGENT__RECHECK_MS, AGENT__RECHECK_MS);
        uv_timer_start(&d->mirror_timer, mirror_tick, AGENT__MIRROR_MS, AGENT__MIRROR_MS);
        agent__log("info", "started", "home=%s registry=%s udp=%s pid=%ld", d->cfg.home,
                   d->cfg.registry, d->endpoint, (long)getpid());
    }
    uv_run(d->loop, UV_RUN_DEFAULT);
    agent__pool_free(d->pool);
    return rv == REG_OK ? 0 : 1;
}

int main(int argc, char **argv)
{
    static struct agent__d d;
    char pidpath[AGENT__PATH_MAX + 32];
    const char *registry = NULL;
    uv_loop_t loop;
    int rv;

    signal(SIGPIPE, SIG_IGN);
    /* Concurrent access checks are bounded by pool threads; the server
     * shares one raft barrier among concurrent reads, so more in flight
     * means more checks per barrier. Set before the pool first starts. */
    setenv("UV_THREADPOOL_SIZE", AGENT__POOL_THREADS, 0);
    rv = parse_args(argc, argv, &d.cfg);
    if (rv != 0) {
        return rv;
    }
    if (sodium_init() < 0 || ctl_home(d.cfg.home, sizeof d.cfg.home) != CTL_EXIT_OK ||
        load_identity(&d) != 0 || ctl_registry(&registry) != CTL_EXIT_OK) {
        return 1;
    }
    snprintf(d.cfg.registry, sizeof d.cfg.registry, "%s", registry);
    if (take_pidfile(&d) != 0) {
        return 1;
    }
    uv_loop_init(&loop);
    d.loop = &loop;
    rv = run(&d);
    if (uv_loop_close(&loop) != 0) {
        agent__log("warn", "loop_not_closed", "%s", "handles=open");
    }
    snprintf(pidpath, sizeof pidpath, "%s/%s", d.cfg.home, AGENT_PID_NAME);
    unlink(pidpath);
    sodium_memzero(d.sk, sizeof d.sk);
    agent__log("info", "stopped", "status=%d", rv);
    return rv;
}
