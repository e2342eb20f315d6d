/* pilotctl daemon start|stop|status: drive pilot-agent (issue 5).
 *
 * start runs the agent detached (its own session, log in
 * $PILOT_HOME/agent.log) and waits, bounded, until it answers on its
 * control socket with a registered node id. stop asks it over the socket
 * and waits for it to be gone. status shows what the daemon reports. The
 * agent binary is $PILOT_AGENT_BIN, else pilot-agent beside pilotctl (or
 * in ../agent/ in the build tree), else the first on PATH. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "ctl.h"

#define START_WAIT_MS 15000
#define STOP_WAIT_MS 10000

static const char daemon_usage[] = "pilotctl daemon <start [--udp HOST:PORT]|stop|status>";
static const char hint_start[] = "start it with `pilotctl daemon start`";

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* One request/answer on the control socket. REG_* code; *m and buf hold
 * the answer on REG_OK. */
static int ask(const char *home, const char *op, struct agent_ipc_msg *m, uint8_t *buf,
               size_t cap, char errmsg[static REG_ERRMSG_SIZE])
{
    struct agent_ipc_msg rq;
    int fd = agent_ipc_connect(home, errmsg);
    int rv;
    if (fd < 0) {
        return REG_UNAVAILABLE;
    }
    memset(&rq, 0, sizeof rq);
    snprintf(rq.op, sizeof rq.op, "%s", op);
    rv = agent_ipc_send(fd, &rq);
    if (rv == REG_OK) {
        rv = agent_ipc_recv(fd, buf, cap, 5000, m, errmsg);
    }
    close(fd);
    return rv;
}

static void status_text(const json_t *d)
{
    static const struct ctl_col cols[] = {
        {"node_id", "node id:"},   {"address", "address:"},      {"endpoint", "endpoint:"},
        {"pid", "pid:"},           {"registry", "registry:"},    {"connections", "connections:"},
        {"auth_checks", "access checks:"}, {"auth_denied", "denied:"},
        {"dropped", "dropped:"},   {"delivered", "delivered:"}};
    ctl_fields(d, cols, sizeof cols / sizeof cols[0]);
}

static json_t *status_json(const struct agent_ipc_msg *m)
{
    msgpack_unpacked up;
    json_t *j = NULL;
    char addr[PROTO_ADDR_STRLEN];
    msgpack_unpacked_init(&up);
    if (msgpack_unpack_next(&up, (const char *)m->root.p, m->root.len, NULL) ==
        MSGPACK_UNPACK_SUCCESS) {
        j = ctl_from_msgpack(&up.data);
    }
    msgpack_unpacked_destroy(&up);
    if (j == NULL) {
        return NULL;
    }
    json_object_del(j, "ok");
    json_object_set_new(j, "node_id", json_integer(m->node_id));
    proto_addr_format(0, m->node_id, addr);
    json_object_set_new(j, "address", json_string(addr));
    return j;
}

static int cmd_status(const char *home)
{
    uint8_t buf[AGENT_IPC_MAX];
    struct agent_ipc_msg m;
    char errmsg[REG_ERRMSG_SIZE];
    int rv = ask(home, "status", &m, buf, sizeof buf, errmsg);
    if (rv != REG_OK) {
        return ctl_fail(CTL_EXIT_ERROR, "unavailable", hint_start, "no daemon: %s", errmsg);
    }
    return ctl_ok(status_json(&m), status_text);
}

/* The agent binary to run. */
static void agent_path(char *out, size_t cap)
{
    const char *env = getenv("PILOT_AGENT_BIN");
    char self[PATH_MAX];
    ssize_t n;
    char *slash;
    if (env != NULL && env[0] != '\0') {
        snprintf(out, cap, "%s", env);
        return;
    }
    n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = '\0';
        slash = strrchr(self, '/');
        if (slash != NULL) {
            *slash = '\0';
            snprintf(out, cap, "%s/pilot-agent", self);
            if (access(out, X_OK) == 0) {
                return;
            }
            snprintf(out, cap, "%s/../agent/pilot-agent", self);
            if (access(out, X_OK) == 0) {
                return;
            }
        }
    }
    snprintf(out, cap, "pilot-agent");
}

/* Run the agent detached: double fork so it is re-parented, new session,
 * stdin from /dev/null, stdout and stderr appended to the log. */
static int spawn(const char *bin, const char *home, const char *registry, const char *udp)
{
    char log[4200];
    pid_t pid;
    int status;
    snprintf(log, sizeof log, "%s/%s", home, AGENT_LOG_NAME);
    pid = fork();
    if (pid < 0) {
        return errno;
    }
    if (pid == 0) {
        int in, out;
        if (setsid() < 0 || fork() != 0) {
            _exit(0);
        }
        in = open("/dev/null", O_RDONLY);
        out = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (in < 0 || out < 0) {
            _exit(127);
        }
        dup2(in, 0);
        dup2(out, 1);
        dup2(out, 2);
        if (udp != NULL) {
            execlp(bin, bin, "--home", home, "--registry", registry, "--udp", udp, (char *)NULL);
        } else {
            execlp(bin, bin, "--home", home, "--registry", registry, (char *)NULL);
        }
        fprintf(stderr, "cannot run %s: %s\n", bin, strerror(errno));
        _exit(127);
    }
    waitpid(pid, &status, 0);
    return 0;
}

static int mkdir_home(const char *home)
{
    return mkdir(home, 0700) == 0 || errno == EEXIST ? 0 : errno;
}

static int cmd_start(const char *home, int argc, char **argv)
{
    struct ctl_opt opts[] = {{.name = "--udp", .has_arg = true}};
    const char *pos[1], *registry;
    uint8_t buf[AGENT_IPC_MAX];
    struct agent_ipc_msg m;
    char errmsg[REG_ERRMSG_SIZE], bin[PATH_MAX + 32];
    size_t np;
    int rv = ctl_parse(argc, argv, opts, 1, pos, 0, 0, &np, daemon_usage);
    if (rv != CTL_EXIT_OK) {
        return rv;
    }
    if (ask(home, "status", &m, buf, sizeof buf, errmsg) == REG_OK) {
        ctl_warn("a daemon is already running in %s", home);
        return ctl_ok(status_json(&m), status_text);
    }
    rv = ctl_registry(&registry);
    if (rv != CTL_EXIT_OK) {
        return rv;
    }
    rv = mkdir_home(home);
    if (rv != 0) {
        return ctl_fail(CTL_EXIT_ERROR, "internal", NULL, "cannot create %s: %s", home,
                        strerror(rv));
    }
    agent_path(bin, sizeof bin);
    rv = spawn(bin, home, registry, ctl_opt_val(&opts[0]));
    if (rv != 0) {
        return ctl_fail(CTL_EXIT_ERROR, "internal", NULL, "cannot start %s: %s", bin,
                        strerror(rv));
    }
    for (unsigned waited = 0; waited < START_WAIT_MS; waited += 100) {
        if (ask(home, "status", &m, buf, sizeof buf, errmsg) == REG_OK && m.node_id != 0) {
            return ctl_ok(status_json(&m), status_text);
        }
        sleep_ms(100);
    }
    return ctl_fail(CTL_EXIT_UNREACHABLE, "unavailable", "see $PILOT_HOME/agent.log",
                    "the daemon did not come up registered within %u s", START_WAIT_MS / 1000);
}

static void stop_text(const json_t *d)
{
    (void)d;
    printf("daemon stopped\n");
}

static int cmd_stop(const char *home)
{
    uint8_t buf[AGENT_IPC_MAX];
    struct agent_ipc_msg m;
    char errmsg[REG_ERRMSG_SIZE];
    int rv = ask(home, "stop", &m, buf, sizeof buf, errmsg);
    if (rv != REG_OK) {
        return ctl_fail(CTL_EXIT_ERROR, "unavailable", NULL, "no daemon running: %s", errmsg);
    }
    for (unsigned waited = 0; waited < STOP_WAIT_MS; waited += 50) {
        int fd = agent_ipc_connect(home, errmsg);
        if (fd < 0) {
            return ctl_ok(json_pack("{s:b}", "stopped", 1), stop_text);
        }
        close(fd);
        sleep_ms(50);
    }
    return ctl_fail(CTL_EXIT_ERROR, "timeout", NULL, "the daemon did not stop within %u s",
                    STOP_WAIT_MS / 1000);
}

int daemon_main(int argc, char **argv)
{
    char home[4096];
    int rv;
    if (argc < 2) {
        return ctl_usage(daemon_usage, "missing subcommand");
    }
    rv = ctl_home(home, sizeof home);
    if (rv != CTL_EXIT_OK) {
        return rv;
    }
    if (strcmp(argv[1], "start") == 0) {
        return cmd_start(home, argc - 1, argv + 1);
    }
    if (argc > 2) {
        return ctl_usage(daemon_usage, "unexpected argument \"%s\"", argv[2]);
    }
    if (strcmp(argv[1], "stop") == 0) {
        return cmd_stop(home);
    }
    if (strcmp(argv[1], "status") == 0) {
        return cmd_status(home);
    }
    return ctl_usage(daemon_usage, "unknown subcommand \"%s\"", argv[1]);
}
