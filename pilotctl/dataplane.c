/* pilotctl send|listen|connect: the data plane through the local daemon
 * (issue 5). Each command opens the daemon's control socket (agent/ipc.h):
 *   send <node> <port> <message>   one datagram; the daemon resolves the
 *                                  peer through the registry first
 *   listen <port> [--echo] [--count N]
 *                                  print datagrams and stream data arriving
 *                                  on port (one line per event), echoing
 *                                  stream data back with --echo
 *   connect <node> <port>          a stream: stdin to the peer, the peer's
 *                                  data to stdout
 * A peer that may not reach us, or that we may not reach, gets and gives
 * silence: connect then fails with "no answer", send still succeeds (a
 * datagram is never acknowledged). */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "ctl.h"

#define CONNECT_WAIT_MS 10000
#define CLOSE_WAIT_MS 10000

static const char hint_start[] = "start it with `pilotctl daemon start`";

static int open_daemon(void)
{
    char home[4096], errmsg[REG_ERRMSG_SIZE];
    int fd;
    if (ctl_home(home, sizeof home) != CTL_EXIT_OK) {
        return -1;
    }
    fd = agent_ipc_connect(home, errmsg);
    if (fd < 0) {
        ctl_fail(CTL_EXIT_ERROR, "unavailable", hint_start, "no daemon: %s", errmsg);
    }
    return fd;
}

/* Wait for the answer to a request; prints a failure. */
static int await_answer(int fd, uint8_t *buf, size_t cap, int timeout_ms,
                        struct agent_ipc_msg *m)
{
    char errmsg[REG_ERRMSG_SIZE];
    int rv = agent_ipc_recv(fd, buf, cap, timeout_ms, m, errmsg);
    if (rv != REG_OK) {
        return ctl_fail(CTL_EXIT_ERROR, reg_err_name(rv), NULL, "daemon: %s", errmsg);
    }
    if (!m->has_ok || !m->ok) {
        int code = reg_err_from_name(m->code, strlen(m->code));
        return ctl_fail(code == REG_UNAVAILABLE || code == REG_NO_LEADER ? CTL_EXIT_UNREACHABLE
                                                                         : CTL_EXIT_ERROR,
                        m->code[0] ? m->code : "internal", NULL, "%s", m->message);
    }
    return CTL_EXIT_OK;
}

static bool parse_port(const char *s, uint32_t *port)
{
    uint64_t v;
    if (!ctl_parse_uint(s, 1, 65535, &v)) {
        return false;
    }
    *port = (uint32_t)v;
    return true;
}

static void sent_text(const json_t *d)
{
    printf("sent %lld bytes to node %lld port %lld\n",
           (long long)json_integer_value(json_object_get(d, "bytes")),
           (long long)json_integer_value(json_object_get(d, "node_id")),
           (long long)json_integer_value(json_object_get(d, "port")));
}

static int cmd_send(int argc, char **argv)
{
    static const char usage[] = "pilotctl send <node> <port> <message>";
    const char *pos[3];
    size_t np;
    struct agent_ipc_msg rq, m;
    uint8_t buf[4096];
    int fd, rv = ctl_parse(argc, argv, NULL, 0, pos, 3, 3, &np, usage);
    if (rv != CTL_EXIT_OK) {
        return rv;
    }
    memset(&rq, 0, sizeof rq);
    if (!parse_port(pos[1], &rq.port)) {
        return ctl_usage(usage, "bad port \"%s\" (1-65535)", pos[1]);
    }
    if (strlen(pos[0]) >= sizeof rq.node) {
        return ctl_usage(usage, "node \"%s\" is too long", pos[0]);
    }
    if (strlen(pos[2]) > AGENT_PKT_PAYLOAD_MAX) {
        return ctl_usage(usage, "message is longer than %u bytes", AGENT_PKT_PAYLOAD_MAX);
    }
    fd = open_daemon();
    if (fd < 0) {
        return CTL_EXIT_ERROR;
    }
    snprintf(rq.op, sizeof rq.op, "send");
    snprintf(rq.node, sizeof rq.node, "%s", pos[0]);
    rq.data = (const uint8_t *)pos[2];
    rq.data_len = strlen(pos[2]);
    rv = agent_ipc_send(fd, &rq) == REG_OK ? await_answer(fd, buf, sizeof buf, 20000, &m)
                                           : ctl_fail(CTL_EXIT_ERROR, "unavailable", NULL,
                                                      "cannot talk to the daemon");
    close(fd);
    if (rv != CTL_EXIT_OK) {
        return rv;
    }
    return ctl_ok(json_pack("{s:I, s:I, s:I}", "node_id", (json_int_t)m.node_id, "port",
                            (json_int_t)rq.port, "bytes", (json_int_t)rq.data_len),
                  sent_text);
}

/* One event as a line: JSON object in --json mode, text otherwise. */
static void print_event(const struct agent_ipc_msg *m)
{
    if (ctl_g.json) {
        json_t *j = json_pack("{s:s, s:I, s:I, s:I}", "event", m->ev, "from", (json_int_t)m->from,
                              "port", (json_int_t)m->port, "conn", (json_int_t)m->conn);
        char *s;
        if (j != NULL && m->data != NULL) {
            json_object_set_new(j, "data", json_stringn((const char *)m->data, m->data_len));
        }
        if (j != NULL && m->reason[0] != '\0') {
            json_object_set_new(j, "reason", json_string(m->reason));
        }
        s = j != NULL ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        if (s != NULL) {
            printf("%s\n", s);
        }
        free(s);
        json_decref(j);
    } else if (m->data != NULL) {
        printf("%s from %u port %u: %.*s\n", m->ev, m->from, m->port, (int)m->data_len,
               (const char *)m->data);
    } else {
        printf("%s from %u port %u conn %u%s%s\n", m->ev, m->from, m->port, m->conn,
               m->reason[0] ? " " : "", m->reason);
    }
    fflush(stdout);
}

static int cmd_listen(int argc, char **argv)
{
    static const char usage[] = "pilotctl listen <port> [--echo] [--count N]";
    struct ctl_opt opts[] = {{.name = "--echo"}, {.name = "--count", .has_arg = true}};
    const char *pos[1];
    size_t np;
    uint64_t count = 0, seen = 0;
    struct agent_ipc_msg rq, m;
    uint8_t buf[AGENT_IPC_MAX];
    char errmsg[REG_ERRMSG_SIZE];
    int fd, rv = ctl_parse(argc, argv, opts, 2, pos, 1, 1, &np, usage);
    if (rv != CTL_EXIT_OK) {
        return rv;
    }
    memset(&rq, 0, sizeof rq);
    if (!parse_port(pos[0], &rq.port)) {
        return ctl_usage(usage, "bad port \"%s\" (1-65535)", pos[0]);
    }
    if (opts[1].seen && !ctl_parse_uint(ctl_opt_val(&opts[1]), 1, UINT32_MAX, &count)) {
        return ctl_usage(usage, "bad count \"%s\"", ctl_opt_val(&opts[1]));
    }
    fd = open_daemon();
    if (fd < 0) {
        return CTL_EXIT_ERROR;
    }
    snprintf(rq.op, sizeof rq.op, "listen");
    rq.echo = opts[0].seen;
    rv = agent_ipc_send(fd, &rq) == REG_OK ? await_answer(fd, buf, sizeof buf, 5000, &m)
                                           : CTL_EXIT_ERROR;
    if (rv == CTL_EXIT_OK) {
        fprintf(stderr, "listening on port %u\n", rq.port);
    }
    while (rv == CTL_EXIT_OK && (count == 0 || seen < count)) {
        int r = agent_ipc_recv(fd, buf, sizeof buf, -1, &m, errmsg);
        if (r != REG_OK) {
            rv = ctl_fail(CTL_EXIT_ERROR, "unavailable", NULL, "daemon: %s", errmsg);
            break;
        }
        print_event(&m);
        seen += strcmp(m.ev, "dgram") == 0 || strcmp(m.ev, "data") == 0;
    }
    close(fd);
    return rv;
}

static int cmd_connect(int argc, char **argv)
{
    static const char usage[] = "pilotctl connect <node> <port>";
    const char *pos[2];
    size_t np;
    struct agent_ipc_msg rq, m;
    uint8_t buf[AGENT_IPC_MAX], in[AGENT_PKT_PAYLOAD_MAX];
    char errmsg[REG_ERRMSG_SIZE];
    bool eof = false;
    int fd, rv = ctl_parse(argc, argv, NULL, 0, pos, 2, 2, &np, usage);
    if (rv != CTL_EXIT_OK) {
        return rv;
    }
    memset(&rq, 0, sizeof rq);
    if (!parse_port(pos[1], &rq.port)) {
        return ctl_usage(usage, "bad port \"%s\" (1-65535)", pos[1]);
    }
    if (strlen(pos[0]) >= sizeof rq.node) {
        return ctl_usage(usage, "node \"%s\" is too long", pos[0]);
    }
    fd = open_daemon();
    if (fd < 0) {
        return CTL_EXIT_ERROR;
    }
    snprintf(rq.op, sizeof rq.op, "connect");
    snprintf(rq.node, sizeof rq.node, "%s", pos[0]);
    rv = agent_ipc_send(fd, &rq) == REG_OK
             ? await_answer(fd, buf, sizeof buf, CONNECT_WAIT_MS + 20000, &m)
             : CTL_EXIT_ERROR;
    while (rv == CTL_EXIT_OK) {
        struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = 0, .events = POLLIN}};
        int n = poll(p, eof ? 1 : 2, eof ? CLOSE_WAIT_MS : -1);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            rv = ctl_fail(CTL_EXIT_ERROR, "timeout", NULL, "the peer did not close in time");
            break;
        }
        if (p[0].revents != 0) {
            if (agent_ipc_recv(fd, buf, sizeof buf, 5000, &m, errmsg) != REG_OK) {
                rv = ctl_fail(CTL_EXIT_ERROR, "unavailable", NULL, "daemon: %s", errmsg);
                break;
            }
            if (strcmp(m.ev, "data") == 0 && m.data != NULL) {
                fwrite(m.data, 1, m.data_len, stdout);
                fflush(stdout);
            } else if (strcmp(m.ev, "close") == 0) {
                if (strncmp(m.reason, "closed", 6) != 0) {
                    rv = ctl_fail(CTL_EXIT_ERROR, "unavailable", NULL, "connection closed: %s",
                                  m.reason);
                }
                break;
            }
            continue;
        }
        if (!eof && p[1].revents != 0) {
            ssize_t r = read(0, in, sizeof in);
            memset(&rq, 0, sizeof rq);
            if (r > 0) {
                snprintf(rq.op, sizeof rq.op, "data");
                rq.data = in;
                rq.data_len = (size_t)r;
            } else {
                snprintf(rq.op, sizeof rq.op, "close");
                eof = true;
            }
            if (agent_ipc_send(fd, &rq) != REG_OK) {
                rv = ctl_fail(CTL_EXIT_ERROR, "unavailable", NULL, "the daemon went away");
            }
        }
    }
    close(fd);
    return rv;
}

int dataplane_main(int argc, char **argv)
{
    if (strcmp(argv[0], "send") == 0) {
        return cmd_send(argc, argv);
    }
    if (strcmp(argv[0], "listen") == 0) {
        return cmd_listen(argc, argv);
    }
    return cmd_connect(argc, argv);
}
