/* main.c: the pilot-registry executable, an edge over registry/server.
 *
 * Reads the configuration (flags and --config FILE, DESIGN.md §8), loads the
 * secrets, runs one node on a libuv loop, and stops cleanly on SIGTERM or
 * SIGINT (leadership is transferred first). Under systemd (Type=notify) it
 * sends READY=1 once the client listener accepts connections (not once in
 * quorum: that is /readyz) and STOPPING=1 when it begins to stop. Exit
 * status: 0 after a clean stop, 1 after a fail-stop or a start failure, 2
 * for bad usage. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <uv.h>

#include "server.h"

static const char usage[] =
    "usage: pilot-registry [--config FILE] --id N --data-dir DIR --listen IP:PORT\n"
    "                      --raft IP:PORT --cluster-key-file FILE\n"
    "                      (--bootstrap | --initial-cluster 1=IP:PORT,2=IP:PORT,... |\n"
    "                       --join IP:PORT) [options]\n"
    "options:\n"
    "  --name NAME               human name of this node (default node-<id>)\n"
    "  --http IP:PORT            ops HTTP listener: /livez /readyz /readyz/leader\n"
    "                            /status /metrics (unauthenticated; bind it privately)\n"
    "  --restore FILE            new cluster only (with --bootstrap or\n"
    "                            --initial-cluster): replicate this snapshot file\n"
    "                            (pilotctl cluster snapshot save) once leader\n"
    "  --force-new-cluster       quorum lost: keep this node's data and make it a\n"
    "                            one-node cluster; others rejoin with --join\n"
    "  --admin-token-file FILE   cluster admin token (>= 16 bytes, mode 0600)\n"
    "  --cluster-id ID           cluster identity in the handshake (default pilot)\n"
    "  --election-timeout MS     raft election timeout (default 1000)\n"
    "  --heartbeat-timeout MS    raft heartbeat (default 100; < election)\n"
    "  --snapshot-threshold N    entries between snapshots (default 4096)\n"
    "  --snapshot-trailing N     entries kept after a snapshot (default 8192)\n"
    "  --max-frame BYTES         request frame limit (default 1048576)\n"
    "  --max-conns N             client connections (default 4096)\n"
    "  --idle-timeout MS         close silent connections (default 300000)\n"
    "  --write-queue-max BYTES   unwritten responses per connection (default 8 MiB)\n"
    "  --offline-after MS        heartbeat silence before offline (default 60000)\n"
    "  --liveness-interval MS    liveness check period (default 5000)\n"
    "  --redirect                answer not_leader instead of forwarding\n"
    "  --no-fast-failover        do not probe a silent leader; elect on raft's timers only\n"
    "  --log-level LEVEL         debug, info, warn or error (default info)\n"
    "Every option is also an INI key of the --config file (same name).\n";

struct app {
    uv_loop_t loop;
    uv_signal_t sigterm, sigint;
    struct srv *srv;
    bool stopping;
    int failed;
};

static void stopped(void *data)
{
    struct app *a = data;
    uv_close((uv_handle_t *)&a->sigterm, NULL);
    uv_close((uv_handle_t *)&a->sigint, NULL);
}

static void notify(const char *state)
{
    char errmsg[REG_ERRMSG_SIZE];
    if (srv_notify(state, errmsg) != REG_OK) {
        srv_log(SRV_LOG_WARN, "sd_notify_failed", "state=%s why=\"%s\"", state, errmsg);
    }
}

static void begin_stop(struct app *a)
{
    if (a->stopping) {
        return;
    }
    a->stopping = true;
    notify("STOPPING=1");
    a->failed = srv_failed(a->srv);
    srv_stop(a->srv, stopped, a);
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct app *a = h->data;
    srv_log(SRV_LOG_INFO, "signal", "signal=%s", signum == SIGTERM ? "SIGTERM" : "SIGINT");
    begin_stop(a);
}

static void on_fail(void *data)
{
    begin_stop(data);
}

int main(int argc, char **argv)
{
    struct srv_config cfg;
    struct srv_secrets secrets;
    struct app a;
    char errmsg[REG_ERRMSG_SIZE];
    int i, rv;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        }
    }
    srv_config_defaults(&cfg);
    if (srv_config_parse_args(&cfg, argc, argv, errmsg) != REG_OK ||
        srv_config_validate(&cfg, errmsg) != REG_OK) {
        fprintf(stderr, "pilot-registry: %s\n%s", errmsg, usage);
        return 2;
    }
    if (srv_config_load_secrets(&cfg, &secrets, errmsg) != REG_OK) {
        fprintf(stderr, "pilot-registry: %s\n", errmsg);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    memset(&a, 0, sizeof a);
    uv_loop_init(&a.loop);
    srv_log_set_context(cfg.id, NULL, NULL);
    srv_log_set_level(srv_log_level_from_name(cfg.log_level));
    rv = srv_new(&a.srv, &a.loop, &cfg, &secrets, errmsg);
    if (rv != REG_OK) {
        srv_log(SRV_LOG_ERROR, "start_failed", "code=%s why=\"%s\"", reg_err_name(rv), errmsg);
        uv_loop_close(&a.loop);
        return 1;
    }
    srv_set_fail_hook(a.srv, on_fail, &a);
    uv_signal_init(&a.loop, &a.sigterm);
    uv_signal_init(&a.loop, &a.sigint);
    a.sigterm.data = a.sigint.data = &a;
    uv_signal_start(&a.sigterm, on_signal, SIGTERM);
    uv_signal_start(&a.sigint, on_signal, SIGINT);
    rv = srv_start(a.srv, errmsg);
    if (rv != REG_OK) {
        srv_log(SRV_LOG_ERROR, "start_failed", "code=%s why=\"%s\"", reg_err_name(rv), errmsg);
        a.failed = rv;
        a.stopping = true;
        srv_stop(a.srv, stopped, &a);
    } else {
        notify("READY=1");
    }
    uv_run(&a.loop, UV_RUN_DEFAULT);
    uv_loop_close(&a.loop);
    return a.failed != 0 ? 1 : 0;
}
