/* pilotctl cluster commands: status (every member's raft view, each node
 * asked directly), members, add, remove, transfer, snapshot save/inspect
 * (backups) and gen-haproxy (a load-balancer config from the live
 * membership). Membership changes, leadership transfer and snapshots need
 * the cluster admin token (--admin-token-file or PILOT_ADMIN_TOKEN); status,
 * members and gen-haproxy are readable by any agent. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "ctl.h"

static const char usage_all[] =
    "pilotctl cluster status | members | add --id N --name NAME --raft H:P --client H:P "
    "[--http H:P] | remove <id> | transfer [--to id] | snapshot save FILE | snapshot inspect FILE | "
    "gen-haproxy [--mode ready|leader] [--bind H:P] [--output FILE]";

/* Snapshot files above this are refused (save and inspect). */
#define SNAPFILE_MAX (1024ull * 1024 * 1024)

static void members_text(const json_t *d)
{
    static const struct ctl_col cols[] = {{"raft_id", "ID"},
                                          {"name", "NAME"},
                                          {"client_addr", "CLIENT"},
                                          {"raft_addr", "RAFT"},
                                          {"http_addr", "HTTP"}};
    ctl_table(json_object_get(d, "members"), cols, 5);
}

static void status_text(const json_t *d)
{
    static const struct ctl_col cols[] = {
        {"raft_id", "ID"},       {"name", "NAME"},        {"client_addr", "ADDRESS"},
        {"state", "STATE"},      {"role", "ROLE"},        {"term", "TERM"},
        {"commit_index", "COMMIT"}, {"applied_index", "APPLIED"}, {"leader_id", "LEADER"},
        {"serving", "READY"},    {"error", "ERROR"},
    };
    ctl_table(json_object_get(d, "members"), cols, 11);
}

/* Ask one node for its own cluster_status, connecting to it alone. */
static json_t *node_status(const char *client_addr, const struct cl_options *base)
{
    struct cl_options o = *base;
    struct cl_client *cl = NULL;
    struct cl_request req = {.op = "cluster_status"};
    struct cl_response resp;
    char errmsg[REG_ERRMSG_SIZE];
    json_t *j;

    o.endpoints = client_addr;
    o.deadline_ms = 3000;
    o.connect_timeout_ms = 1000;
    o.attempt_timeout_ms = 2000;
    if (cl_open(&o, &cl, errmsg) != REG_OK)
        return json_pack("{s:s}", "error", errmsg);
    memset(&resp, 0, sizeof resp);
    if (cl_call(cl, &req, &resp) == REG_OK)
        j = ctl_result_json(&resp);
    else
        j = json_pack("{s:s, s:s}", "error", resp.message, "state", "unreachable");
    cl_response_free(&resp);
    cl_close(cl);
    return j;
}

static int cmd_members(int argc, char **argv)
{
    const char *pos[1];
    size_t np;
    struct cl_client *cl = NULL;
    json_t *res = NULL;
    int rv;

    rv = ctl_parse(argc, argv, NULL, 0, pos, 0, 0, &np, "pilotctl cluster members");
    if (rv == CTL_EXIT_OK)
        rv = ctl_connect(CTL_AUTH_ANY, &cl);
    if (rv == CTL_EXIT_OK)
        rv = ctl_read(cl, "cluster_members", NULL, &res, NULL);
    cl_close(cl);
    if (rv != CTL_EXIT_OK)
        return rv;
    if (!json_is_array(json_object_get(res, "members")))
        json_object_set_new(res, "members", json_array());
    return ctl_ok(res, members_text);
}

/* The member list from the cluster, or, when it cannot answer (no leader:
 * exactly when an operator needs status), one row per configured endpoint
 * so that each node still reports its own view. NULL after printing. */
static json_t *status_rows(bool *from_cluster)
{
    struct cl_client *cl = NULL;
    struct cl_request req = {.op = "cluster_members"};
    struct cl_response resp;
    struct cl_endpoint eps[CL_ENDPOINTS_MAX];
    size_t n = 0;
    const char *list;
    char errmsg[REG_ERRMSG_SIZE], addr[CL_HOST_MAX + 8];
    uint32_t saved = ctl_g.timeout_ms;
    json_t *rows = NULL, *res;

    *from_cluster = false;
    if (ctl_registry(&list) != CTL_EXIT_OK)
        return NULL;
    ctl_g.timeout_ms = saved != 0 && saved < 4000 ? saved : 4000;
    if (ctl_connect(CTL_AUTH_ANY, &cl) != CTL_EXIT_OK) {
        ctl_g.timeout_ms = saved;
        return NULL;
    }
    ctl_g.timeout_ms = saved;
    if (cl_call(cl, &req, &resp) == REG_OK) {
        res = ctl_result_json(&resp);
        rows = json_incref(json_object_get(res, "members"));
        json_decref(res);
        *from_cluster = json_is_array(rows);
    }
    cl_response_free(&resp);
    cl_close(cl);
    if (*from_cluster)
        return rows;
    json_decref(rows);
    if (cl_endpoints_parse(list, eps, CL_ENDPOINTS_MAX, &n, errmsg) != REG_OK) {
        ctl_fail(CTL_EXIT_USAGE, "usage", NULL, "%s", errmsg);
        return NULL;
    }
    rows = json_array();
    for (size_t i = 0; i < n; i++) {
        snprintf(addr, sizeof addr, strchr(eps[i].host, ':') ? "[%s]:%u" : "%s:%u", eps[i].host,
                 (unsigned)eps[i].port);
        json_array_append_new(rows, json_pack("{s:s}", "client_addr", addr));
    }
    return rows;
}

static int cmd_status(int argc, char **argv)
{
    const char *pos[1];
    size_t np, i;
    json_t *rows, *m;
    struct cl_options base;
    uint8_t sk[CL_SECRET_KEY_LEN];
    char token[CL_ADMIN_TOKEN_MAX + 2];
    bool from_cluster, any = false;
    int rv;

    rv = ctl_parse(argc, argv, NULL, 0, pos, 0, 0, &np, "pilotctl cluster status");
    if (rv != CTL_EXIT_OK)
        return rv;
    rows = status_rows(&from_cluster);
    if (rows == NULL)
        return CTL_EXIT_ERROR;
    /* Same credentials for every per-node connection. */
    memset(&base, 0, sizeof base);
    memset(sk, 0, sizeof sk);
    memset(token, 0, sizeof token);
    if (ctl_g.admin_token_file != NULL || getenv("PILOT_ADMIN_TOKEN") != NULL) {
        if (ctl_admin_token(token, sizeof token) == CTL_EXIT_OK)
            base.admin_token = token;
    } else if (ctl_identity_load(sk) == CTL_EXIT_OK) {
        base.secret_key = sk;
    }
    json_array_foreach(rows, i, m) {
        const char *addr = json_string_value(json_object_get(m, "client_addr"));
        json_t *st = addr != NULL && addr[0] != '\0'
                         ? node_status(addr, &base)
                         : json_pack("{s:s}", "error", "no client address");
        const char *k;
        json_t *v;
        any = any || json_object_get(st, "error") == NULL;
        json_object_foreach(st, k, v) {
            if (json_object_get(m, k) == NULL || strcmp(k, "error") == 0)
                json_object_set(m, k, v);
        }
        json_decref(st);
    }
    sodium_memzero(sk, sizeof sk);
    sodium_memzero(token, sizeof token);
    if (!any) {
        json_decref(rows);
        return ctl_fail(CTL_EXIT_UNREACHABLE, "unavailable", NULL,
                        "no registry node answered cluster_status");
    }
    /* members_known: false when the list comes from --registry because the
     * cluster could not name its members (typically: no leader). */
    return ctl_ok(json_pack("{s:o, s:b}", "members", rows, "members_known", from_cluster),
                  status_text);
}

static int cmd_admin(int argc, char **argv)
{
    const char *sub = argv[0];
    struct ctl_opt o[] = {{.name = "--id", .has_arg = true},     {.name = "--name", .has_arg = true},
                          {.name = "--raft", .has_arg = true},   {.name = "--client", .has_arg = true},
                          {.name = "--http", .has_arg = true},   {.name = "--to", .has_arg = true}};
    const char *pos[1];
    size_t np;
    struct proto_args a;
    struct cl_client *cl = NULL;
    json_t *res = NULL;
    uint64_t id = 0;
    const char *op;
    int rv;

    rv = ctl_parse(argc, argv, o, 6, pos, 0, 1, &np, usage_all);
    if (rv != CTL_EXIT_OK)
        return rv;
    memset(&a, 0, sizeof a);
    if (strcmp(sub, "add") == 0) {
        op = "cluster_add";
        if (ctl_opt_val(&o[0]) == NULL || !ctl_parse_uint(ctl_opt_val(&o[0]), 1, UINT64_MAX, &id))
            return ctl_usage(usage_all, "cluster add needs --id N (N >= 1)");
        if (ctl_opt_val(&o[2]) == NULL || ctl_opt_val(&o[3]) == NULL)
            return ctl_usage(usage_all, "cluster add needs --raft H:P and --client H:P");
        a.member.raft_id = id;
        snprintf(a.member.name, sizeof a.member.name, "%s",
                 ctl_opt_val(&o[1]) != NULL ? ctl_opt_val(&o[1]) : "");
        snprintf(a.member.raft_addr, sizeof a.member.raft_addr, "%s", ctl_opt_val(&o[2]));
        snprintf(a.member.client_addr, sizeof a.member.client_addr, "%s", ctl_opt_val(&o[3]));
        snprintf(a.member.http_addr, sizeof a.member.http_addr, "%s",
                 ctl_opt_val(&o[4]) != NULL ? ctl_opt_val(&o[4]) : "");
    } else if (strcmp(sub, "remove") == 0) {
        op = "cluster_remove";
        if (np != 1 || !ctl_parse_uint(pos[0], 1, UINT64_MAX, &id))
            return ctl_usage("pilotctl cluster remove <id>", "cluster remove needs a member id");
        a.member.raft_id = id;
    } else {
        op = "cluster_transfer";
        if (ctl_opt_val(&o[5]) != NULL && !ctl_parse_uint(ctl_opt_val(&o[5]), 1, UINT64_MAX, &id))
            return ctl_usage("pilotctl cluster transfer [--to id]", "bad --to \"%s\"",
                             ctl_opt_val(&o[5]));
        a.member.raft_id = id;
    }
    rv = ctl_connect(CTL_AUTH_ADMIN, &cl);
    if (rv == CTL_EXIT_OK)
        rv = ctl_read(cl, op, &a, &res, NULL);
    cl_close(cl);
    if (rv != CTL_EXIT_OK)
        return rv;
    if (json_object_get(res, "raft_id") == NULL && id != 0)
        json_object_set_new(res, "raft_id", json_integer((json_int_t)id));
    return ctl_ok(res, members_text);
}

/* ---- snapshot save / inspect ------------------------------------------------- */

static void snapshot_text(const json_t *d)
{
    static const struct ctl_col cols[] = {
        {"file", "file"},           {"bytes", "bytes"},       {"applied_index", "applied index"},
        {"state_hash", "state hash"}, {"nodes", "nodes"},     {"networks", "networks"},
        {"trust_pairs", "trust pairs"}, {"pending", "pending handshakes"},
    };
    ctl_fields(d, cols, sizeof cols / sizeof cols[0]);
}

/* Write len bytes to path through path.tmp + fsync + rename. 0 or errno. */
static int write_binary(const char *path, const uint8_t *buf, size_t len)
{
    char tmp[4300];
    size_t done = 0;
    int fd, e = 0;
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    unlink(tmp);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return errno;
    while (done < len && e == 0) {
        ssize_t n = write(fd, buf + done, len - done);
        if (n <= 0)
            e = errno != 0 ? errno : EIO;
        else
            done += (size_t)n;
    }
    if (e == 0 && fsync(fd) != 0)
        e = errno;
    close(fd);
    if (e == 0 && rename(tmp, path) != 0)
        e = errno;
    if (e != 0)
        unlink(tmp);
    return e;
}

/* One pass of the transfer: REG_OK with *buf (malloc'd) holding the file, or
 * the REG_* code of the failing call (message printed by the caller). */
static int fetch_snapshot(struct cl_client *cl, uint8_t **buf, size_t *len,
                          struct cl_response *resp)
{
    struct proto_args a;
    struct cl_request req = {.op = "cluster_snapshot_read", .args = &a};
    struct proto_val data;
    char errmsg[REG_ERRMSG_SIZE];
    uint64_t total = 0, off = 0, id = 0, got_off;
    uint8_t *b = NULL;
    int rv;

    memset(&a, 0, sizeof a);
    do {
        a.snapshot_id = id;
        a.offset = off;
        rv = cl_call(cl, &req, resp);
        if (rv != REG_OK)
            break;
        rv = REG_MALFORMED;
        if (!resp->has_result ||
            proto_get_u64(&resp->result, "snapshot_id", PROTO_REQ, UINT64_MAX, &id, errmsg) ||
            proto_get_u64(&resp->result, "total", PROTO_REQ, SNAPFILE_MAX, &total, errmsg) ||
            proto_get_u64(&resp->result, "offset", PROTO_REQ, UINT64_MAX, &got_off, errmsg) ||
            proto_find(&resp->result, "data", &data, errmsg) || data.type != PROTO_T_BIN ||
            got_off != off || data.n > total - off || (data.n == 0 && off < total)) {
            snprintf(resp->message, sizeof resp->message, "bad snapshot chunk at offset %llu",
                     (unsigned long long)off);
            break;
        }
        if (b == NULL && (b = malloc(total > 0 ? total : 1)) == NULL) {
            rv = REG_NOMEM;
            snprintf(resp->message, sizeof resp->message, "out of memory (%llu bytes)",
                     (unsigned long long)total);
            break;
        }
        memcpy(b + off, data.p + (data.len - data.n), data.n);
        off += data.n;
        rv = REG_OK;
        cl_response_free(resp);
    } while (off < total);
    if (rv != REG_OK) {
        free(b);
        return rv;
    }
    *buf = b;
    *len = (size_t)total;
    return REG_OK;
}

static json_t *describe(const char *file, const uint8_t *buf, size_t len, char *errmsg)
{
    struct proto_snapfile h;
    const uint8_t *payload;
    struct st_state *st = NULL;
    struct st_stats ss;
    uint8_t hash[ST_HASH_LEN];
    char hex[2 * ST_HASH_LEN + 1];
    json_t *j = NULL;

    if (proto_snapfile_verify(buf, len, &h, &payload, errmsg) != REG_OK)
        return NULL;
    if (st_snapshot_decode(payload, (size_t)h.payload_len, &st, errmsg) != REG_OK)
        return NULL;
    st_hash(st, hash);
    if (sodium_memcmp(hash, h.state_hash, sizeof hash) != 0) {
        snprintf(errmsg, REG_ERRMSG_SIZE, "state hash in the header does not match the content");
    } else {
        st_stats(st, &ss);
        sodium_bin2hex(hex, sizeof hex, hash, sizeof hash);
        j = json_pack("{s:s, s:I, s:i, s:I, s:s, s:I, s:I, s:I, s:I, s:I}", "file", file,
                      "bytes", (json_int_t)len, "format_version", (int)h.version,
                      "applied_index", (json_int_t)h.applied_index, "state_hash", hex, "nodes",
                      (json_int_t)ss.nodes, "networks", (json_int_t)ss.networks, "trust_pairs",
                      (json_int_t)ss.trust_pairs, "pending", (json_int_t)ss.pending,
                      "memberships", (json_int_t)ss.memberships);
    }
    st_free(st);
    return j;
}

static int snapshot_save(const char *path)
{
    struct cl_client *cl = NULL;
    struct cl_response resp;
    uint8_t *buf = NULL;
    size_t len = 0;
    char errmsg[REG_ERRMSG_SIZE];
    json_t *d;
    int rv, code = REG_UNAVAILABLE, e;

    rv = ctl_connect(CTL_AUTH_ADMIN, &cl);
    if (rv != CTL_EXIT_OK)
        return rv;
    /* A leader change drops the snapshot being read (not_found): start over
     * on the new leader, a bounded number of times. */
    for (int attempt = 0; attempt < 3; attempt++) {
        memset(&resp, 0, sizeof resp);
        code = fetch_snapshot(cl, &buf, &len, &resp);
        if (code != REG_NOT_FOUND)
            break;
        cl_response_free(&resp);
    }
    cl_close(cl);
    if (code != REG_OK) {
        rv = ctl_fail_reg(code, resp.message, NULL);
        cl_response_free(&resp);
        return rv;
    }
    d = describe(path, buf, len, errmsg);
    if (d == NULL) {
        free(buf);
        return ctl_fail(CTL_EXIT_ERROR, "malformed", NULL, "snapshot received is invalid: %s",
                        errmsg);
    }
    e = write_binary(path, buf, len);
    free(buf);
    if (e != 0) {
        json_decref(d);
        return ctl_fail(CTL_EXIT_ERROR, "internal", NULL, "cannot write %s: %s", path,
                        strerror(e));
    }
    return ctl_ok(d, snapshot_text);
}

static int snapshot_inspect(const char *path)
{
    struct stat sb;
    uint8_t *buf = NULL;
    size_t got = 0;
    char errmsg[REG_ERRMSG_SIZE];
    json_t *d;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) ||
        (uint64_t)sb.st_size > SNAPFILE_MAX) {
        if (fd >= 0)
            close(fd);
        return ctl_fail(CTL_EXIT_ERROR, "invalid_argument", NULL,
                        "cannot read %s: %s", path, fd < 0 ? strerror(errno)
                                                           : "not a regular file up to 1 GiB");
    }
    buf = malloc(sb.st_size > 0 ? (size_t)sb.st_size : 1);
    while (buf != NULL && got < (size_t)sb.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)sb.st_size - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (buf == NULL || got != (size_t)sb.st_size) {
        free(buf);
        return ctl_fail(CTL_EXIT_ERROR, "internal", NULL, "cannot read %s", path);
    }
    d = describe(path, buf, got, errmsg);
    free(buf);
    if (d == NULL)
        return ctl_fail(CTL_EXIT_ERROR, "malformed", NULL, "%s: %s", path, errmsg);
    return ctl_ok(d, snapshot_text);
}

static int cmd_snapshot(int argc, char **argv)
{
    static const char usage[] = "pilotctl cluster snapshot save FILE | inspect FILE";
    const char *pos[2];
    size_t np;
    int rv;

    rv = ctl_parse(argc, argv, NULL, 0, pos, 2, 2, &np, usage);
    if (rv != CTL_EXIT_OK)
        return rv;
    if (strcmp(pos[0], "save") == 0)
        return snapshot_save(pos[1]);
    if (strcmp(pos[0], "inspect") == 0)
        return snapshot_inspect(pos[1]);
    return ctl_usage(usage, "unknown snapshot command \"%s\"", pos[0]);
}

/* ---- gen-haproxy ------------------------------------------------------------- */

static void haproxy_text(const json_t *d)
{
    fputs(json_string_value(json_object_get(d, "config")), stdout);
}

static int cmd_gen_haproxy(int argc, char **argv)
{
    static const char usage[] =
        "pilotctl cluster gen-haproxy [--mode ready|leader] [--bind H:P] [--output FILE]";
    struct ctl_opt o[] = {{.name = "--mode", .has_arg = true},
                          {.name = "--bind", .has_arg = true},
                          {.name = "--output", .has_arg = true}};
    const char *pos[1], *mode, *bind, *out;
    struct cl_client *cl = NULL;
    json_t *res = NULL, *m, *members;
    char *cfg = NULL;
    size_t np, i, cap = 0;
    FILE *f;
    bool leader;
    int rv, e;

    rv = ctl_parse(argc, argv, o, 3, pos, 0, 0, &np, usage);
    if (rv != CTL_EXIT_OK)
        return rv;
    mode = ctl_opt_val(&o[0]) != NULL ? ctl_opt_val(&o[0]) : "ready";
    bind = ctl_opt_val(&o[1]) != NULL ? ctl_opt_val(&o[1]) : "0.0.0.0:9000";
    out = ctl_opt_val(&o[2]);
    if (strcmp(mode, "ready") != 0 && strcmp(mode, "leader") != 0)
        return ctl_usage(usage, "--mode must be ready or leader, not \"%s\"", mode);
    leader = mode[0] == 'l';
    rv = ctl_connect(CTL_AUTH_ANY, &cl);
    if (rv == CTL_EXIT_OK)
        rv = ctl_read(cl, "cluster_members", NULL, &res, NULL);
    cl_close(cl);
    if (rv != CTL_EXIT_OK)
        return rv;
    members = json_object_get(res, "members");
    f = open_memstream(&cfg, &cap);
    if (f == NULL) {
        json_decref(res);
        return ctl_fail(CTL_EXIT_ERROR, "nomem", NULL, "out of memory");
    }
    fprintf(f,
            "# Written by pilotctl cluster gen-haproxy --mode %s from the live membership.\n"
            "# %s\n"
            "global\n    maxconn 4096  # raise with LimitNOFILE / ulimit -n for big fleets\n"
            "defaults\n    mode tcp\n    timeout connect 2s\n    timeout client 10m\n"
            "    timeout server 10m\n    option redispatch\n    retries 3\n"
            "frontend pilot_registry\n    bind %s\n    default_backend pilot_nodes\n"
            "backend pilot_nodes\n    balance leastconn\n    option httpchk GET %s\n"
            "    http-check expect status 200\n"
            "    default-server inter %s fall %s rise %s on-marked-down shutdown-sessions\n",
            mode,
            leader ? "Leader only: saves the forwarding hop; no server during a failover."
                   : "Any ready node: followers forward writes and linearizable reads.",
            bind, leader ? "/readyz/leader" : "/readyz", leader ? "250ms" : "500ms",
            leader ? "1" : "2", leader ? "1" : "2");
    json_array_foreach(members, i, m) {
        const char *name = json_string_value(json_object_get(m, "name"));
        const char *client = json_string_value(json_object_get(m, "client_addr"));
        const char *http = json_string_value(json_object_get(m, "http_addr"));
        const char *colon = http != NULL ? strrchr(http, ':') : NULL;
        json_int_t id = json_integer_value(json_object_get(m, "raft_id"));
        if (client == NULL || client[0] == '\0')
            continue;
        if (colon != NULL)
            fprintf(f, "    server node-%lld %s check port %s  # %s\n", (long long)id, client,
                    colon + 1, name != NULL ? name : "");
        else
            fprintf(f, "    server node-%lld %s check  # %s: no --http, TCP check only\n",
                    (long long)id, client, name != NULL ? name : "");
    }
    fclose(f);
    json_decref(res);
    if (out != NULL) {
        e = ctl_write_file(out, cfg, 0644);
        if (e != 0) {
            free(cfg);
            return ctl_fail(CTL_EXIT_ERROR, "internal", NULL, "cannot write %s: %s", out,
                            strerror(e));
        }
    }
    res = json_pack("{s:s, s:s, s:s?}", "mode", mode, "config", cfg, "file", out);
    free(cfg);
    if (out != NULL)
        return ctl_ok(res, NULL);
    return ctl_ok(res, haproxy_text);
}

int cluster_main(int argc, char **argv)
{
    const char *sub;

    if (argc < 2)
        return ctl_usage(usage_all, "missing cluster command");
    sub = argv[1];
    if (strcmp(sub, "help") == 0 || strcmp(sub, "--help") == 0) {
        printf("usage: %s\n", usage_all);
        return CTL_EXIT_OK;
    }
    if (strcmp(sub, "status") == 0)
        return cmd_status(argc - 1, argv + 1);
    if (strcmp(sub, "members") == 0)
        return cmd_members(argc - 1, argv + 1);
    if (strcmp(sub, "snapshot") == 0)
        return cmd_snapshot(argc - 1, argv + 1);
    if (strcmp(sub, "gen-haproxy") == 0)
        return cmd_gen_haproxy(argc - 1, argv + 1);
    if (strcmp(sub, "add") == 0 || strcmp(sub, "remove") == 0 || strcmp(sub, "transfer") == 0)
        return cmd_admin(argc - 1, argv + 1);
    return ctl_usage(usage_all, "unknown cluster command \"%s\"", sub);
}
