/* Agent test harness (agent_harness.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sodium.h>

#include "agent_harness.h"
#include "ctl.h"

static void registry_list(struct it_cluster *c, char *out, size_t cap)
{
    size_t o = 0;
    out[0] = '\0';
    for (unsigned i = 0; i < c->n; i++) {
        o += (size_t)snprintf(out + o, cap - o, "%s%s", o ? "," : "", c->nodes[i].client_addr);
    }
}

static int ask(struct ag *a, struct agent_ipc_msg *rq, struct agent_ipc_msg *m, uint8_t *buf,
               size_t cap, int timeout_ms, int *fd_out)
{
    char errmsg[REG_ERRMSG_SIZE];
    int fd = agent_ipc_connect(a->home, errmsg);
    int rv;
    if (fd < 0) {
        return REG_UNAVAILABLE;
    }
    rv = agent_ipc_send(fd, rq);
    if (rv == REG_OK) {
        rv = agent_ipc_recv(fd, buf, cap, timeout_ms, m, errmsg);
    }
    if (rv == REG_OK && !(m->has_ok && m->ok)) {
        rv = reg_err_from_name(m->code, strlen(m->code));
    }
    if (fd_out != NULL && rv == REG_OK) {
        *fd_out = fd;
    } else {
        close(fd);
    }
    return rv;
}

void ag_dump_log(const struct ag *a)
{
    char path[512], line[512];
    FILE *f;
    snprintf(path, sizeof path, "%s/agent.log", a->home);
    f = fopen(path, "r");
    if (f == NULL) {
        return;
    }
    fprintf(stderr, "---- %s (%s) ----\n", a->name, path);
    while (fgets(line, sizeof line, f) != NULL) {
        fputs(line, stderr);
    }
    fclose(f);
}

/* Run the agent process on a->home and wait until it reports a node id. */
static void spawn(struct ag *a, struct it_cluster *c)
{
    char logpath[512], registry[512];
    struct agent_ipc_msg rq, m;
    uint8_t buf[4096];
    uint64_t deadline;
    snprintf(logpath, sizeof logpath, "%s/agent.log", a->home);
    registry_list(c, registry, sizeof registry);
    a->node = 0;
    a->pid = fork();
    assert_true(a->pid >= 0);
    if (a->pid == 0) {
        /* Stopped with the test process even when its teardown never runs. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int out = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (out >= 0) {
            dup2(out, 1);
            dup2(out, 2);
        }
        execl(PILOT_AGENT_BIN, PILOT_AGENT_BIN, "--home", a->home, "--registry", registry,
              "--udp", "127.0.0.1:0", (char *)NULL);
        _exit(127);
    }
    memset(&rq, 0, sizeof rq);
    snprintf(rq.op, sizeof rq.op, "status");
    deadline = it_now_ms() + 15000;
    while (it_now_ms() < deadline) {
        if (ask(a, &rq, &m, buf, sizeof buf, 2000, NULL) == REG_OK && m.node_id != 0) {
            char errmsg[REG_ERRMSG_SIZE];
            a->node = m.node_id;
            assert_int_equal(proto_get_str(&m.root, "endpoint", PROTO_REQ,
                                           sizeof a->endpoint - 1, a->endpoint, errmsg),
                             REG_OK);
            break;
        }
        it_sleep_ms(50);
    }
    if (a->node == 0) {
        ag_dump_log(a);
        fail_msg("agent %s did not register", a->name);
    }
    a->cl = it_agent_client_sk(c, -1, a->sk);
}

void ag_start(struct ag *a, struct it_cluster *c, const char *name)
{
    char idpath[512];
    memset(a, 0, sizeof *a);
    snprintf(a->name, sizeof a->name, "%s", name);
    snprintf(a->home, sizeof a->home, "%s/agent-%s", c->root, name);
    assert_int_equal(mkdir(a->home, 0700), 0);
    crypto_sign_keypair(a->pk, a->sk);
    snprintf(idpath, sizeof idpath, "%s/identity", a->home);
    assert_int_equal(ctl_identity_save(idpath, a->sk), CTL_EXIT_OK);
    spawn(a, c);
}

void ag_restart(struct ag *a, struct it_cluster *c)
{
    ag_stop(a);
    spawn(a, c);
}

void ag_stop(struct ag *a)
{
    int status;
    if (a->cl != NULL) {
        cl_close(a->cl);
        a->cl = NULL;
    }
    if (a->pid <= 0) {
        return;
    }
    kill(a->pid, SIGTERM);
    for (int i = 0; i < 200; i++) {
        if (waitpid(a->pid, &status, WNOHANG) == a->pid) {
            a->pid = 0;
            return;
        }
        it_sleep_ms(25);
    }
    kill(a->pid, SIGKILL);
    waitpid(a->pid, &status, 0);
    a->pid = 0;
    ag_dump_log(a);
    fail_msg("agent %s did not stop on SIGTERM", a->name);
}

int ag_listen(struct ag *a, uint16_t port, bool echo)
{
    struct agent_ipc_msg rq, m;
    uint8_t buf[4096];
    int fd = -1;
    memset(&rq, 0, sizeof rq);
    snprintf(rq.op, sizeof rq.op, "listen");
    rq.port = port;
    rq.echo = echo;
    assert_int_equal(ask(a, &rq, &m, buf, sizeof buf, 5000, &fd), REG_OK);
    return fd;
}

int ag_event(int fd, int timeout_ms, struct agent_ipc_msg *m, uint8_t *buf, size_t cap)
{
    char errmsg[REG_ERRMSG_SIZE];
    return agent_ipc_recv(fd, buf, cap, timeout_ms, m, errmsg);
}

int ag_send(struct ag *a, uint32_t node, uint16_t port, const char *msg)
{
    struct agent_ipc_msg rq, m;
    uint8_t buf[4096];
    memset(&rq, 0, sizeof rq);
    snprintf(rq.op, sizeof rq.op, "send");
    snprintf(rq.node, sizeof rq.node, "%u", node);
    rq.port = port;
    rq.data = (const uint8_t *)msg;
    rq.data_len = strlen(msg);
    return ask(a, &rq, &m, buf, sizeof buf, 20000, NULL);
}

int ag_connect(struct ag *a, uint32_t node, uint16_t port, int *fd)
{
    struct agent_ipc_msg rq, m;
    uint8_t buf[4096];
    memset(&rq, 0, sizeof rq);
    snprintf(rq.op, sizeof rq.op, "connect");
    snprintf(rq.node, sizeof rq.node, "%u", node);
    rq.port = port;
    return ask(a, &rq, &m, buf, sizeof buf, 30000, fd);
}

int ag_stream_write(int fd, const char *data)
{
    struct agent_ipc_msg rq;
    memset(&rq, 0, sizeof rq);
    snprintf(rq.op, sizeof rq.op, "data");
    rq.data = (const uint8_t *)data;
    rq.data_len = strlen(data);
    return agent_ipc_send(fd, &rq);
}

uint64_t ag_stat(struct ag *a, const char *key)
{
    struct agent_ipc_msg rq, m;
    uint8_t buf[4096];
    char errmsg[REG_ERRMSG_SIZE];
    uint64_t v = 0;
    memset(&rq, 0, sizeof rq);
    snprintf(rq.op, sizeof rq.op, "status");
    assert_int_equal(ask(a, &rq, &m, buf, sizeof buf, 5000, NULL), REG_OK);
    assert_int_equal(proto_get_u64(&m.root, key, PROTO_REQ, UINT64_MAX, &v, errmsg), REG_OK);
    return v;
}

static int forge(const struct ag *from, const struct ag *to, uint8_t type, uint16_t port,
                 const char *msg)
{
    uint8_t key[AGENT_KEY_LEN], pkt[AGENT_PKT_MAX];
    struct agent_pkt p;
    struct sockaddr_in sa;
    struct timespec ts;
    char host[64];
    const char *colon = strrchr(to->endpoint, ':');
    size_t n;
    int fd;
    assert_non_null(colon);
    snprintf(host, sizeof host, "%.*s", (int)(colon - to->endpoint), to->endpoint);
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)atoi(colon + 1));
    assert_int_equal(inet_pton(AF_INET, host, &sa.sin_addr), 1);
    assert_int_equal(agent_pair_key(from->sk, to->pk, key), REG_OK);
    clock_gettime(CLOCK_REALTIME, &ts);
    memset(&p, 0, sizeof p);
    p.type = type;
    p.src = from->node;
    p.dst = to->node;
    p.port = port;
    p.flags = type == AGENT_PKT_SYN ? AGENT_FLAG_FROM_INITIATOR : 0;
    p.conn = type == AGENT_PKT_SYN ? 0x5eed : 0;
    /* The wall clock in microseconds, like the real daemon's counter: an
     * admitted forgery must not push a's replay window into the future. */
    p.seq = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
    p.payload = (const uint8_t *)msg;
    p.payload_len = strlen(msg);
    n = agent_pkt_seal(&p, key, pkt, sizeof pkt);
    assert_true(n > 0);
    fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    assert_int_equal(sendto(fd, pkt, n, 0, (struct sockaddr *)&sa, sizeof sa), (ssize_t)n);
    return fd;
}

int ag_forge_dgram(const struct ag *from, const struct ag *to, uint16_t port, const char *msg)
{
    return forge(from, to, AGENT_PKT_DGRAM, port, msg);
}

int ag_forge_syn(const struct ag *from, const struct ag *to, uint16_t port)
{
    return forge(from, to, AGENT_PKT_SYN, port, "");
}

bool ag_udp_answered(int fd, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, timeout_ms) > 0;
}

int ag_cmd(struct ag *a, struct st_cmd *cmd, uint32_t *network_out)
{
    struct cl_response resp;
    uint64_t v = 0;
    int rv = it_call_cmd(a->cl, cmd, &resp);
    if (rv == REG_OK && network_out != NULL && it_map_u64(&resp.result, "network_id", &v)) {
        *network_out = (uint32_t)v;
    }
    cl_response_free(&resp);
    return rv;
}

uint32_t ag_net_create(struct ag *owner, const char *name, bool enterprise)
{
    struct st_cmd cmd;
    uint32_t net = 0;
    memset(&cmd, 0, sizeof cmd);
    cmd.op = ST_CMD_NET_CREATE;
    snprintf(cmd.name, sizeof cmd.name, "%s", name);
    cmd.join_rule = ST_JOIN_OPEN;
    cmd.flag = enterprise;
    assert_int_equal(ag_cmd(owner, &cmd, &net), REG_OK);
    assert_true(net != 0);
    return net;
}

int ag_net_join(struct ag *a, uint32_t network)
{
    struct st_cmd cmd;
    memset(&cmd, 0, sizeof cmd);
    cmd.op = ST_CMD_NET_JOIN;
    cmd.network = network;
    return ag_cmd(a, &cmd, NULL);
}

int ag_net_kick(struct ag *owner, uint32_t network, uint32_t node)
{
    struct st_cmd cmd;
    memset(&cmd, 0, sizeof cmd);
    cmd.op = ST_CMD_NET_KICK;
    cmd.network = network;
    cmd.node = node;
    return ag_cmd(owner, &cmd, NULL);
}

int ag_net_ports(struct ag *owner, uint32_t network, const uint16_t *ports, unsigned n)
{
    struct st_cmd cmd;
    memset(&cmd, 0, sizeof cmd);
    cmd.op = ST_CMD_NET_POLICY;
    cmd.network = network;
    cmd.policy.has_allowed_ports = true;
    cmd.policy.n_ports = (uint16_t)n;
    memcpy(cmd.policy.ports, ports, n * sizeof *ports);
    return ag_cmd(owner, &cmd, NULL);
}
