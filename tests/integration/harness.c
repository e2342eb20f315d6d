/* Integration harness (see harness.h): processes, ports, clients, status. */
#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "harness.h"

uint64_t it_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void it_sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Ports for test nodes come from 30000-32767: below the kernel's ephemeral
 * range (32768+), so no outgoing connection of a concurrent test can take
 * one between our check and the node's bind; tests/e2e draws from
 * 10000-29999. Concurrent test processes coordinate through one lock file
 * per port under /tmp/pilot-test-ports (flock, held until this process
 * exits), so two of them never pick the same port. */
#define IT_PORT_LO 30000
#define IT_PORT_HI 32767

static bool port_bindable(uint16_t port)
{
    struct sockaddr_in sa;
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    bool ok;
    if (fd < 0) {
        return false;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok = bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    close(fd);
    return ok;
}

static uint16_t free_port(void)
{
    static unsigned next;
    char path[64];
    if (next == 0) {
        next = (unsigned)getpid() * 7919u;
    }
    mkdir("/tmp/pilot-test-ports", 0777);
    for (unsigned tries = 0; tries < 4 * (IT_PORT_HI - IT_PORT_LO); tries++) {
        uint16_t port = (uint16_t)(IT_PORT_LO + (next++ % (IT_PORT_HI - IT_PORT_LO + 1)));
        snprintf(path, sizeof path, "/tmp/pilot-test-ports/%u", port);
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
        if (fd < 0) {
            continue;
        }
        /* Kept open (and locked) for the life of this test process. */
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            close(fd);
            continue;
        }
        if (!port_bindable(port)) {
            close(fd);
            continue;
        }
        return port;
    }
    fail_msg("no free test port in %d-%d", IT_PORT_LO, IT_PORT_HI);
    return 0;
}

static void write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
}

static void node_init(struct it_cluster *c, unsigned i)
{
    struct it_node *n = &c->nodes[i];
    memset(n, 0, sizeof *n);
    n->id = i + 1;
    n->client_port = free_port();
    n->raft_port = free_port();
    while (n->raft_port == n->client_port) {
        n->raft_port = free_port();
    }
    snprintf(n->client_addr, sizeof n->client_addr, "127.0.0.1:%u", n->client_port);
    snprintf(n->raft_addr, sizeof n->raft_addr, "127.0.0.1:%u", n->raft_port);
    /* A copy: n lives inside c, and gcc -O2 (-Wrestrict) cannot tell that
     * c->root and n->data_dir do not overlap. */
    char root[sizeof c->root];
    memcpy(root, c->root, sizeof root);
    snprintf(n->data_dir, sizeof n->data_dir, "%s/node%u", root, i + 1);
    snprintf(n->log_path, sizeof n->log_path, "%s/node%u.log", root, i + 1);
}

/* mode: "initial", "join", "restart". */
static void node_spawn(struct it_cluster *c, unsigned i, const char *mode, unsigned via)
{
    struct it_node *n = &c->nodes[i];
    char id[24], el[24], hb[24];
    const char *argv[40];
    int k = 0, fd;
    pid_t pid;
    snprintf(id, sizeof id, "%llu", (unsigned long long)n->id);
    snprintf(el, sizeof el, "%u", IT_ELECTION_MS);
    snprintf(hb, sizeof hb, "%u", IT_HEARTBEAT_MS);
    argv[k++] = PILOT_REGISTRY_BIN;
    argv[k++] = "--id";
    argv[k++] = id;
    argv[k++] = "--data-dir";
    argv[k++] = n->data_dir;
    argv[k++] = "--listen";
    argv[k++] = n->client_addr;
    argv[k++] = "--raft";
    argv[k++] = n->raft_addr;
    argv[k++] = "--cluster-key-file";
    argv[k++] = c->key_path;
    argv[k++] = "--admin-token-file";
    argv[k++] = c->token_path;
    argv[k++] = "--election-timeout";
    argv[k++] = el;
    argv[k++] = "--heartbeat-timeout";
    argv[k++] = hb;
    argv[k++] = "--snapshot-threshold";
    argv[k++] = "64";
    argv[k++] = "--snapshot-trailing";
    argv[k++] = "32";
    argv[k++] = "--max-frame";
    argv[k++] = "65536";
    for (unsigned e = 0; e < c->n_extra && k < 36; e++) {
        argv[k++] = c->extra[e];
    }
    if (strcmp(mode, "initial") == 0) {
        argv[k++] = "--initial-cluster";
        argv[k++] = c->initial;
    } else if (strcmp(mode, "join") == 0) {
        argv[k++] = "--join";
        argv[k++] = c->nodes[via].client_addr;
    }
    argv[k] = NULL;
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* A test that fails an assertion or hits ctest's timeout never
         * reaches its teardown: let the kernel stop the node with it. (The
         * signal follows the forking thread; tests spawn from the main one.) */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        fd = open(n->log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            dup2(fd, 2);
            dup2(fd, 1);
            close(fd);
        }
        /* A small quarantine keeps RSS figures meaningful on a shared box. */
        setenv("ASAN_OPTIONS", "detect_leaks=1:quarantine_size_mb=4", 1);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    n->pid = pid;
}

/* Wait until node i accepts cluster_status (bounded). */
static void wait_up(struct it_cluster *c, unsigned i)
{
    struct it_status st;
    uint64_t end = it_now_ms() + 15000;
    while (it_now_ms() < end) {
        if (it_status(c, i, &st) == REG_OK) {
            return;
        }
        it_sleep_ms(50);
    }
    fail_msg("node %u did not come up", i + 1);
}

void it_cluster_start(struct it_cluster *c, unsigned n)
{
    it_cluster_start_args(c, n, NULL);
}

void it_cluster_start_args(struct it_cluster *c, unsigned n, const char *const *extra)
{
    uint8_t key[32];
    char tok[33];
    size_t o = 0;
    unsigned i;
    memset(c, 0, sizeof *c);
    for (i = 0; extra != NULL && extra[i] != NULL && i < 8; i++) {
        c->extra[i] = extra[i];
    }
    c->n_extra = i;
    assert_true(sodium_init() >= 0);
    signal(SIGPIPE, SIG_IGN);
    snprintf(c->root, sizeof c->root, "/tmp/pilot-it-XXXXXX");
    assert_non_null(mkdtemp(c->root));
    snprintf(c->key_path, sizeof c->key_path, "%s/cluster.key", c->root);
    snprintf(c->token_path, sizeof c->token_path, "%s/admin.token", c->root);
    randombytes_buf(key, sizeof key);
    write_file(c->key_path, key, sizeof key);
    randombytes_buf(key, 16);
    sodium_bin2hex(tok, sizeof tok, key, 16);
    snprintf(c->admin_token, sizeof c->admin_token, "%s", tok);
    write_file(c->token_path, tok, strlen(tok));
    c->n = n;
    for (i = 0; i < n; i++) {
        node_init(c, i);
        o += (size_t)snprintf(c->initial + o, sizeof c->initial - o, "%s%llu=%s", i ? "," : "",
                              (unsigned long long)c->nodes[i].id, c->nodes[i].raft_addr);
    }
    for (i = 0; i < n; i++) {
        node_spawn(c, i, "initial", 0);
    }
    for (i = 0; i < n; i++) {
        wait_up(c, i);
    }
    assert_true(it_wait_leader(c, 15000) >= 0);
}

void it_node_restart(struct it_cluster *c, unsigned i)
{
    assert_int_equal(c->nodes[i].pid, 0);
    node_spawn(c, i, "restart", 0);
    wait_up(c, i);
}

unsigned it_node_join(struct it_cluster *c, unsigned via)
{
    unsigned i = c->n++;
    assert_true(i < IT_MAX_NODES);
    node_init(c, i);
    node_spawn(c, i, "join", via);
    wait_up(c, i);
    return i;
}

static void print_log_tail(const struct it_node *n);

static int reap(pid_t pid, unsigned timeout_ms, int *status)
{
    uint64_t end = it_now_ms() + timeout_ms;
    while (it_now_ms() < end) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid) {
            return 0;
        }
        it_sleep_ms(20);
    }
    return -1;
}

void it_node_stop(struct it_cluster *c, unsigned i)
{
    struct it_node *n = &c->nodes[i];
    int status = 0;
    if (n->pid == 0) {
        return;
    }
    kill(n->pid, SIGTERM);
    if (reap(n->pid, 15000, &status) != 0) {
        kill(n->pid, SIGKILL);
        waitpid(n->pid, &status, 0);
        n->pid = 0;
        fail_msg("node %u did not stop within 15 s of SIGTERM", i + 1);
    }
    n->pid = 0;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        print_log_tail(n);
    }
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

void it_node_kill(struct it_cluster *c, unsigned i)
{
    struct it_node *n = &c->nodes[i];
    int status;
    if (n->pid == 0) {
        return;
    }
    kill(n->pid, SIGKILL);
    waitpid(n->pid, &status, 0);
    n->pid = 0;
}

static void rm_rf(const char *dir)
{
    pid_t pid = fork();
    int status;
    if (pid == 0) {
        execlp("rm", "rm", "-rf", dir, (char *)NULL);
        _exit(127);
    }
    if (pid > 0) {
        waitpid(pid, &status, 0);
    }
}

static void print_log_tail(const struct it_node *n)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "tail -n 40 '%s' >&2", n->log_path);
    if (system(cmd) != 0) {
        fprintf(stderr, "(cannot show %s)\n", n->log_path);
    }
}

/* Every node must exit 0 on SIGTERM: a sanitizer report (leak, UB) or a
 * fail-stop turns into a non-zero status and fails the test. */
void it_cluster_destroy(struct it_cluster *c)
{
    unsigned i, bad = 0;
    int status;
    for (i = 0; i < c->n; i++) {
        struct it_node *n = &c->nodes[i];
        if (n->pid != 0) {
            kill(n->pid, SIGTERM);
            if (reap(n->pid, 15000, &status) != 0) {
                kill(n->pid, SIGKILL);
                waitpid(n->pid, &status, 0);
                status = -1;
            }
            if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                fprintf(stderr, "node %u: bad exit (status %d)\n", i + 1, status);
                print_log_tail(n);
                bad++;
            }
            n->pid = 0;
        }
    }
    if (getenv("PILOT_IT_KEEP") == NULL && bad == 0) {
        rm_rf(c->root);
    } else {
        fprintf(stderr, "kept %s\n", c->root);
    }
    assert_int_equal(bad, 0);
}

bool it_map_u64(const struct proto_val *m, const char *key, uint64_t *out)
{
    char errmsg[REG_ERRMSG_SIZE];
    *out = UINT64_MAX;
    return proto_get_u64(m, key, PROTO_REQ, UINT64_MAX, out, errmsg) == REG_OK;
}

/* ---- Clients ------------------------------------------------------------ */

static struct cl_client *open_client(struct it_cluster *c, int node, const uint8_t *sk,
                                     const char *token)
{
    char eps[256];
    size_t o = 0;
    unsigned i;
    struct cl_options opts;
    struct cl_client *cl = NULL;
    char errmsg[REG_ERRMSG_SIZE];
    if (node >= 0) {
        snprintf(eps, sizeof eps, "%s", c->nodes[node].client_addr);
    } else {
        eps[0] = '\0';
        for (i = 0; i < c->n; i++) {
            if (c->nodes[i].pid != 0) {
                o += (size_t)snprintf(eps + o, sizeof eps - o, "%s%s", o ? "," : "",
                                      c->nodes[i].client_addr);
            }
        }
    }
    memset(&opts, 0, sizeof opts);
    opts.endpoints = eps;
    opts.secret_key = sk;
    opts.admin_token = token;
    opts.connect_timeout_ms = 1000;
    opts.attempt_timeout_ms = 3000;
    opts.deadline_ms = 10000;
    opts.backoff_max_ms = 100;
    assert_int_equal(cl_open(&opts, &cl, errmsg), REG_OK);
    return cl;
}

struct cl_client *it_admin_client(struct it_cluster *c, int node)
{
    return open_client(c, node, NULL, c->admin_token);
}

struct cl_client *it_agent_client(struct it_cluster *c, int node, uint8_t sk[64])
{
    uint8_t pk[32];
    crypto_sign_keypair(pk, sk);
    return open_client(c, node, sk, NULL);
}

struct cl_client *it_agent_client_sk(struct it_cluster *c, int node, const uint8_t sk[64])
{
    return open_client(c, node, sk, NULL);
}

int it_call_cmd(struct cl_client *cl, const struct st_cmd *cmd, struct cl_response *resp)
{
    struct cl_request rq;
    memset(&rq, 0, sizeof rq);
    rq.op = st_cmd_name(cmd->op);
    rq.cmd = cmd;
    return cl_call(cl, &rq, resp);
}

int it_register(struct cl_client *cl, const char *hostname, bool public_, uint32_t *node_id)
{
    struct st_cmd cmd;
    struct cl_response resp;
    uint64_t v = 0;
    int rv;
    memset(&cmd, 0, sizeof cmd);
    memset(&resp, 0, sizeof resp);
    cmd.op = ST_CMD_REGISTER;
    cmd.flag = public_;
    if (hostname != NULL) {
        snprintf(cmd.hostname, sizeof cmd.hostname, "%s", hostname);
    }
    snprintf(cmd.endpoint, sizeof cmd.endpoint, "10.0.0.1:4000");
    rv = it_call_cmd(cl, &cmd, &resp);
    if (rv == REG_OK && node_id != NULL) {
        assert_true(resp.has_result);
        assert_true(it_map_u64(&resp.result, "node_id", &v));
        *node_id = (uint32_t)v;
    }
    cl_response_free(&resp);
    return rv;
}

static int call_node_op(struct cl_client *cl, const char *op, uint32_t node)
{
    struct cl_request rq;
    struct cl_response resp;
    struct proto_args args;
    int rv;
    memset(&rq, 0, sizeof rq);
    memset(&resp, 0, sizeof resp);
    memset(&args, 0, sizeof args);
    args.node = node;
    rq.op = op;
    rq.args = &args;
    rv = cl_call(cl, &rq, &resp);
    cl_response_free(&resp);
    return rv;
}

int it_resolve(struct cl_client *cl, uint32_t node)
{
    return call_node_op(cl, "resolve", node);
}

int it_lookup_admin(struct cl_client *cl, uint32_t node)
{
    return call_node_op(cl, "lookup", node);
}

/* ---- Status -------------------------------------------------------------- */

int it_status(struct it_cluster *c, unsigned i, struct it_status *st)
{
    struct cl_client *cl = NULL;
    struct cl_options opts;
    struct cl_request rq;
    struct cl_response resp;
    char errmsg[REG_ERRMSG_SIZE];
    int rv;
    memset(&opts, 0, sizeof opts);
    opts.endpoints = c->nodes[i].client_addr;
    opts.admin_token = c->admin_token;
    opts.connect_timeout_ms = 500;
    opts.attempt_timeout_ms = 1000;
    opts.deadline_ms = 1000;
    opts.backoff_max_ms = 100;
    if (cl_open(&opts, &cl, errmsg) != REG_OK) {
        return REG_INTERNAL;
    }
    memset(&rq, 0, sizeof rq);
    memset(&resp, 0, sizeof resp);
    rq.op = "cluster_status";
    rv = cl_call(cl, &rq, &resp);
    if (rv == REG_OK) {
        memset(st, 0, sizeof *st);
        it_map_u64(&resp.result, "id", &st->id);
        it_map_u64(&resp.result, "term", &st->term);
        it_map_u64(&resp.result, "applied_index", &st->applied_index);
        it_map_u64(&resp.result, "leader_id", &st->leader_id);
        proto_get_bool(&resp.result, "ready", 0, &st->ready, errmsg);
        proto_get_bool(&resp.result, "serving", 0, &st->serving, errmsg);
        proto_get_str(&resp.result, "state", 0, sizeof st->state - 1, st->state, errmsg);
        proto_get_str(&resp.result, "role", 0, sizeof st->role - 1, st->role, errmsg);
        proto_get_str(&resp.result, "state_hash", 0, sizeof st->hash - 1, st->hash, errmsg);
        proto_get_str(&resp.result, "leader_addr", 0, sizeof st->leader_addr - 1, st->leader_addr,
                      errmsg);
    }
    cl_response_free(&resp);
    cl_close(cl);
    return rv;
}

/* A leader is usable once it is ready and every running node knows its
 * client address (it publishes it into the members map shortly after
 * becoming ready), so followers can forward to it. */
int it_wait_leader(struct it_cluster *c, unsigned timeout_ms)
{
    struct it_status st;
    uint64_t end = it_now_ms() + timeout_ms;
    unsigned i, j;
    while (it_now_ms() < end) {
        for (i = 0; i < c->n; i++) {
            bool all = true;
            if (c->nodes[i].pid == 0 || it_status(c, i, &st) != REG_OK ||
                strcmp(st.state, "leader") != 0 || !st.ready) {
                continue;
            }
            for (j = 0; j < c->n && all; j++) {
                if (c->nodes[j].pid == 0) {
                    continue;
                }
                all = it_status(c, j, &st) == REG_OK && st.leader_id == c->nodes[i].id &&
                      strcmp(st.leader_addr, c->nodes[i].client_addr) == 0;
            }
            if (all) {
                return (int)i;
            }
        }
        it_sleep_ms(50);
    }
    return -1;
}

void it_assert_converged(struct it_cluster *c, unsigned timeout_ms)
{
    struct it_status st[IT_MAX_NODES];
    uint64_t end = it_now_ms() + timeout_ms;
    unsigned i, first;
    bool same = false;
    while (!same && it_now_ms() < end) {
        same = true;
        first = IT_MAX_NODES;
        for (i = 0; i < c->n && same; i++) {
            if (c->nodes[i].pid == 0) {
                continue;
            }
            if (it_status(c, i, &st[i]) != REG_OK) {
                same = false;
                break;
            }
            if (first == IT_MAX_NODES) {
                first = i;
            } else if (st[i].applied_index != st[first].applied_index ||
                       strcmp(st[i].hash, st[first].hash) != 0) {
                same = false;
            }
        }
        if (!same) {
            it_sleep_ms(100);
        }
    }
    for (i = 0; i < c->n; i++) {
        if (c->nodes[i].pid != 0) {
            fprintf(stderr, "node %u: applied_index=%llu state_hash=%s\n", i + 1,
                    (unsigned long long)st[i].applied_index, st[i].hash);
        }
    }
    assert_true(same);
}

/* ---- Raw sockets ----------------------------------------------------------- */

int it_raw_connect(const char *addr)
{
    char host[64];
    const char *colon = strrchr(addr, ':');
    struct sockaddr_in sa;
    int fd;
    if (colon == NULL || (size_t)(colon - addr) >= sizeof host) {
        return -1;
    }
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = '\0';
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)atoi(colon + 1));
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        return -1;
    }
    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int it_raw_send(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n <= 0) {
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int it_raw_send_frame(int fd, const void *body, size_t len)
{
    uint8_t hdr[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
                      (uint8_t)len};
    if (it_raw_send(fd, hdr, 4) != 0) {
        return -1;
    }
    return it_raw_send(fd, body, len);
}

static int recv_exact(int fd, uint8_t *buf, size_t len, uint64_t end)
{
    size_t got = 0;
    while (got < len) {
        struct pollfd p = {fd, POLLIN, 0};
        uint64_t now = it_now_ms();
        ssize_t n;
        if (now >= end || poll(&p, 1, (int)(end - now)) <= 0) {
            return -1;
        }
        n = recv(fd, buf + got, len - got, 0);
        if (n == 0) {
            return got == 0 ? 0 : -1;
        }
        if (n < 0) {
            return -1;
        }
        got += (size_t)n;
    }
    return 1;
}

long it_raw_recv_frame(int fd, uint8_t *buf, size_t cap, unsigned timeout_ms)
{
    uint64_t end = it_now_ms() + timeout_ms;
    uint8_t hdr[4];
    size_t len;
    int rv = recv_exact(fd, hdr, 4, end);
    if (rv <= 0) {
        return rv == 0 ? 0 : -1;
    }
    len = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 | (size_t)hdr[2] << 8 | hdr[3];
    if (len > cap || recv_exact(fd, buf, len, end) != 1) {
        return -1;
    }
    return (long)len;
}

bool it_raw_closed(int fd, unsigned timeout_ms)
{
    uint64_t end = it_now_ms() + timeout_ms;
    uint8_t b[256];
    while (it_now_ms() < end) {
        struct pollfd p = {fd, POLLIN, 0};
        ssize_t n;
        if (poll(&p, 1, 50) <= 0) {
            continue;
        }
        n = recv(fd, b, sizeof b, 0);
        if (n <= 0) {
            return true;
        }
    }
    return false;
}

int it_raw_admin_conn(struct it_cluster *c, unsigned i)
{
    uint8_t buf[4096];
    struct proto_hello h;
    struct proto_auth a;
    struct proto_welcome w;
    struct proto_out o;
    char errmsg[REG_ERRMSG_SIZE];
    long n;
    int fd = it_raw_connect(c->nodes[i].client_addr);
    assert_true(fd >= 0);
    n = it_raw_recv_frame(fd, buf, sizeof buf, 5000);
    assert_true(n > 0);
    assert_int_equal(proto_hello_decode(buf, (size_t)n, &h, errmsg), REG_OK);
    assert_int_equal(proto_auth_admin(&a, c->admin_token), REG_OK);
    proto_out_fixed(&o, buf, sizeof buf);
    assert_int_equal(proto_auth_encode(&o, &a), REG_OK);
    assert_int_equal(it_raw_send_frame(fd, buf, o.len), 0);
    n = it_raw_recv_frame(fd, buf, sizeof buf, 5000);
    assert_true(n > 0);
    assert_int_equal(proto_welcome_decode(buf, (size_t)n, &w, errmsg), REG_OK);
    assert_true(w.ok);
    return fd;
}
