/* pilotctl cluster commands: status (every member's raft view, each node
 * asked directly), members, add, remove, transfer. Membership changes and
 * leadership transfer need the cluster admin token (--admin-token-file or
 * PILOT_ADMIN_TOKEN); status and members are readable by any agent. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ctl.h"

static const char usage_all[] =
    "pilotctl cluster status | members | add --id N --name NAME --raft H:P --client H:P "
    "[--http H:P] | remove <id> | transfer [--to id] | snapshot";

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
        {"ready", "READY"},      {"error", "ERROR"},
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
    } else if (strcmp(sub, "snapshot") == 0) {
        op = "cluster_snapshot";
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
    if (strcmp(sub, "add") == 0 || strcmp(sub, "remove") == 0 || strcmp(sub, "transfer") == 0 || strcmp(sub, "snapshot") == 0)
        return cmd_admin(argc - 1, argv + 1);
    return ctl_usage(usage_all, "unknown cluster command \"%s\"", sub);
}
