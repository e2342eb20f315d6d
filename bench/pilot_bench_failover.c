/* pilot-bench: failover (B4). kill -9 of the leader, then the time until a
 * write through a client that knows every endpoint is acknowledged; the
 * killed node is restarted and the cluster left to converge before the next
 * trial. The nodes' PIDs come from <pid-dir>/node<raft id>.pid and the
 * restart from "<restart-cmd> <raft id>" (bench/run-cluster-bench provides
 * both), because the benchmark does not own the processes. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pilot_bench.h"

#define FO_WRITE_MAX_US 20000000u  /* give up on a trial after 20 s */
#define FO_RESTART_MAX_MS 30000u
#define FO_CONVERGE_MAX_MS 30000u

static int probe_write(struct cl_client *cl)
{
    struct st_cmd c;
    struct cl_request rq;
    struct cl_response resp;
    int rv;
    memset(&c, 0, sizeof c);
    memset(&rq, 0, sizeof rq);
    memset(&resp, 0, sizeof resp);
    c.op = ST_CMD_REGISTER;
    snprintf(c.endpoint, sizeof c.endpoint, "10.0.0.2:4000");
    rq.op = st_cmd_name(c.op);
    rq.cmd = &c;
    rv = cl_call(cl, &rq, &resp);
    cl_response_free(&resp);
    return rv;
}

static int read_pid(const char *dir, uint64_t id, pid_t *pid, char errmsg[static REG_ERRMSG_SIZE])
{
    char path[600];
    long v = 0;
    int rv = REG_OK;
    FILE *f;
    snprintf(path, sizeof path, "%s/node%llu.pid", dir, (unsigned long long)id);
    f = fopen(path, "r");
    if (f == NULL || fscanf(f, "%ld", &v) != 1 || v <= 1) {
        rv = REG_NOT_FOUND;
        reg_errmsgf(errmsg, "failover: no usable PID in %s", path);
    }
    if (f != NULL) {
        fclose(f);
    }
    *pid = (pid_t)v;
    return rv;
}

/* Run "<cmd> <id>" through sh and wait for it (bounded). */
static int restart_node(const char *cmd, uint64_t id, char errmsg[static REG_ERRMSG_SIZE])
{
    char line[1024];
    uint64_t end = pb_now_us() + (uint64_t)FO_RESTART_MAX_MS * 1000u;
    int status = 0, rv = REG_TIMEOUT;
    pid_t pid, r = 0;
    snprintf(line, sizeof line, "%s %llu", cmd, (unsigned long long)id);
    pid = fork();
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", line, (char *)NULL);
        _exit(127);
    }
    if (pid < 0) {
        reg_errmsgf(errmsg, "failover: fork: %s", strerror(errno));
        rv = REG_INTERNAL;
        goto out;
    }
    while (pb_now_us() < end && (r = waitpid(pid, &status, WNOHANG)) == 0) {
        pb_sleep_ms(20);
    }
    if (r == pid) {
        rv = WIFEXITED(status) && WEXITSTATUS(status) == 0 ? REG_OK : REG_INTERNAL;
    } else {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    if (rv != REG_OK) {
        reg_errmsgf(errmsg, "failover: restart command \"%s\" failed (status %d)", line, status);
    }
out:
    return rv;
}

/* One trial: *ms is the time from the kill to the first acknowledged write. */
static int trial(const struct pb_config *cfg, struct cl_client *cl, uint64_t *ms,
                 char errmsg[static REG_ERRMSG_SIZE])
{
    struct pb_status st;
    size_t leader = 0;
    pid_t pid = 0;
    uint64_t t0;
    int rv = pb_wait_converged(cfg, FO_CONVERGE_MAX_MS, errmsg);
    if (rv == REG_OK) {
        rv = pb_find_leader(cfg, 10000, 0, &leader, errmsg);
    }
    if (rv == REG_OK) {
        rv = pb_status(cfg, leader, &st, errmsg);
    }
    if (rv == REG_OK) {
        rv = read_pid(cfg->pid_dir, st.id, &pid, errmsg);
    }
    /* A connected client, as a real one would be at the moment of the crash. */
    if (rv == REG_OK && (rv = probe_write(cl)) != REG_OK) {
        reg_errmsgf(errmsg, "failover: write before the kill: %s", reg_err_name(rv));
    }
    if (rv != REG_OK) {
        goto out;
    }
    if (kill(pid, SIGKILL) != 0) {
        rv = REG_INTERNAL;
        reg_errmsgf(errmsg, "failover: kill -9 %ld: %s", (long)pid, strerror(errno));
        goto out;
    }
    t0 = pb_now_us();
    do {
        rv = probe_write(cl);
    } while (rv != REG_OK && pb_now_us() - t0 < FO_WRITE_MAX_US);
    *ms = (pb_now_us() - t0) / 1000u;
    if (rv != REG_OK) {
        reg_errmsgf(errmsg, "failover: no write acknowledged within 20 s: %s",
                    reg_err_name(rv));
    }
    {
        char why[REG_ERRMSG_SIZE];
        int r2 = restart_node(cfg->restart_cmd, st.id, why);
        if (r2 != REG_OK && rv == REG_OK) {
            rv = r2;
            snprintf(errmsg, REG_ERRMSG_SIZE, "%s", why);
        }
    }
out:
    return rv;
}

int pb_failover(const struct pb_config *cfg, struct pb_pair *p,
                char errmsg[static REG_ERRMSG_SIZE])
{
    struct cl_client *cl = NULL;
    struct pb_lat l;
    struct pb_summary s;
    char eps[PB_EPS_MAX], extra[64];
    uint64_t begin = pb_now_us();
    int rv = REG_OK;
    memset(&l, 0, sizeof l);
    if (cfg->pid_dir == NULL || cfg->restart_cmd == NULL) {
        rv = REG_INVALID_ARGUMENT;
        reg_errmsgf(errmsg, "failover needs --pid-dir and --restart-cmd "
                            "(bench/run-cluster-bench passes both)");
        goto out;
    }
    pb_eps_rotated(cfg, 0, eps);
    rv = pb_client_open(eps, p->sk_member, PB_CLIENT_PROBE, &cl, errmsg);
    for (unsigned t = 0; t < cfg->failover_trials && rv == REG_OK; t++) {
        uint64_t ms = 0;
        rv = trial(cfg, cl, &ms, errmsg);
        if (rv == REG_OK) {
            pb_lat_add(&l, ms * 1000u);
        }
    }
    if (l.n > 0) {
        pb_summarize(&l, (double)(pb_now_us() - begin) / 1e6, &s);
        snprintf(extra, sizeof extra, "min_ms=%.3f", s.min_ms);
        pb_print(cfg, "failover", &s, extra);
        pb_keep("failover", &s);
    }
    if (rv == REG_OK) {
        rv = pb_wait_converged(cfg, FO_CONVERGE_MAX_MS, errmsg);
    }
out:
    cl_close(cl);
    pb_lat_free(&l);
    return rv;
}
