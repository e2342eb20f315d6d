/* pilot-bench: CPU time per operation (B9) of the leader, the followers and
 * the benchmark itself. Throughput on our shared 2-core machines depends on
 * what else runs; CPU per operation does not, so it is the figure to
 * compare between runs. Node CPU comes from /proc/<pid>/stat of the PIDs in
 * --pid-dir (unavailable without it); the client's from getrusage. */
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "pilot_bench.h"

/* utime + stime of a process in microseconds; false if unreadable. */
static bool proc_cpu_us(pid_t pid, uint64_t *us)
{
    char path[64], buf[1024];
    const char *p;
    unsigned long long ut = 0, st = 0;
    long hz = sysconf(_SC_CLK_TCK);
    bool ok = false;
    size_t n;
    FILE *f;
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    f = fopen(path, "r");
    if (f == NULL) {
        goto out;
    }
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* Fields after the command name, which may hold spaces: skip past ')'. */
    p = strrchr(buf, ')');
    if (p != NULL && hz > 0 &&
        sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) == 2) {
        *us = (ut + st) * 1000000ull / (unsigned long long)hz;
        ok = true;
    }
out:
    return ok;
}

static bool node_pid(const struct pb_config *cfg, uint64_t id, pid_t *pid)
{
    char path[600];
    long v = 0;
    bool ok = false;
    FILE *f;
    snprintf(path, sizeof path, "%s/node%llu.pid", cfg->pid_dir, (unsigned long long)id);
    f = fopen(path, "r");
    if (f != NULL) {
        ok = fscanf(f, "%ld", &v) == 1 && v > 1;
        fclose(f);
    }
    *pid = (pid_t)v;
    return ok;
}

/* Busy CPU time of the whole machine (all cores, /proc/stat) in us. */
static uint64_t machine_busy_us(void)
{
    unsigned long long v[8] = {0};
    long hz = sysconf(_SC_CLK_TCK);
    uint64_t busy = 0;
    FILE *f = fopen("/proc/stat", "r");
    if (f != NULL) {
        if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                   &v[4], &v[5], &v[6], &v[7]) == 8 && hz > 0) {
            /* user nice system [idle iowait] irq softirq steal */
            busy = (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) * 1000000ull /
                   (unsigned long long)hz;
        }
        fclose(f);
    }
    return busy;
}

void pb_cpu_begin(const struct pb_config *cfg, struct pb_cpu *c)
{
    struct pb_status st;
    char errmsg[REG_ERRMSG_SIZE];
    struct rusage ru;
    memset(c, 0, sizeof *c);
    c->nodes_ok = cfg->pid_dir != NULL;
    for (size_t i = 0; i < cfg->n_eps && c->nodes_ok; i++) {
        c->nodes_ok = pb_status(cfg, i, &st, errmsg) == REG_OK &&
                      node_pid(cfg, st.id, &c->pid[i]) && proc_cpu_us(c->pid[i], &c->us[i]);
        c->leader[i] = st.leader;
    }
    getrusage(RUSAGE_SELF, &ru);
    c->self_us = (uint64_t)ru.ru_utime.tv_sec * 1000000u + (uint64_t)ru.ru_utime.tv_usec +
                 (uint64_t)ru.ru_stime.tv_sec * 1000000u + (uint64_t)ru.ru_stime.tv_usec;
    c->machine_us = machine_busy_us();
    c->wall_us = pb_now_us();
}

void pb_cpu_end(const struct pb_config *cfg, const struct pb_cpu *c, uint64_t ops, char *out,
                size_t cap)
{
    struct rusage ru;
    uint64_t self, now, lead = 0, fol = 0, machine = machine_busy_us() - c->machine_us;
    uint64_t wall = pb_now_us() - c->wall_us, ours;
    unsigned n_fol = 0;
    bool ok = c->nodes_ok && ops > 0;
    getrusage(RUSAGE_SELF, &ru);
    self = (uint64_t)ru.ru_utime.tv_sec * 1000000u + (uint64_t)ru.ru_utime.tv_usec +
           (uint64_t)ru.ru_stime.tv_sec * 1000000u + (uint64_t)ru.ru_stime.tv_usec;
    for (size_t i = 0; i < cfg->n_eps && ok; i++) {
        ok = proc_cpu_us(c->pid[i], &now);
        if (ok && c->leader[i]) {
            lead += now - c->us[i];
        } else if (ok) {
            fol += now - c->us[i];
            n_fol++;
        }
    }
    ours = lead + fol + (self - c->self_us);
    if (ops == 0 && cap > 0) {
        out[0] = '\0';
    } else if (ok) {
        /* others_cores: cores busy with processes not ours (other
         * engineers' builds) during the point - the noise of the figure. */
        snprintf(out, cap,
                 "cpu_leader_us=%.1f cpu_follower_us=%.1f cpu_client_us=%.1f others_cores=%.2f",
                 (double)lead / (double)ops,
                 n_fol ? (double)fol / (double)n_fol / (double)ops : 0.0,
                 (double)(self - c->self_us) / (double)ops,
                 wall > 0 && machine > ours ? (double)(machine - ours) / (double)wall : 0.0);
    } else {
        snprintf(out, cap, "cpu_client_us=%.1f", (double)(self - c->self_us) / (double)ops);
    }
}
