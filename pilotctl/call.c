/* pilotctl call: opening a client with the configured endpoints and
 * credentials, making one call with its error printed, turning a result
 * map into JSON, and resolving node arguments (id, address or hostname). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <msgpack.h>
#include <sodium.h>

#include "ctl.h"

int ctl_admin_token(char *buf, size_t cap)
{
    const char *env = getenv("PILOT_ADMIN_TOKEN");
    FILE *f;
    size_t n;
    struct stat st;

    if (ctl_g.admin_token_file != NULL) {
        f = fopen(ctl_g.admin_token_file, "r");
        if (f == NULL)
            return ctl_fail(CTL_EXIT_ERROR, "invalid_argument", NULL,
                            "cannot read admin token file \"%s\"", ctl_g.admin_token_file);
        if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077) != 0)
            ctl_warn("admin token file %s is readable by others", ctl_g.admin_token_file);
        n = fread(buf, 1, cap - 1, f);
        fclose(f);
        buf[n] = '\0';
    } else if (env != NULL && env[0] != '\0') {
        snprintf(buf, cap, "%s", env);
    } else {
        return ctl_fail(CTL_EXIT_USAGE, "usage",
                        "pass --admin-token-file FILE or set PILOT_ADMIN_TOKEN",
                        "this command needs the cluster admin token");
    }
    n = strlen(buf);
    while (n > 0 && isspace((unsigned char)buf[n - 1]))
        buf[--n] = '\0';
    if (n == 0)
        return ctl_fail(CTL_EXIT_ERROR, "invalid_argument", NULL, "the admin token is empty");
    return CTL_EXIT_OK;
}

static bool identity_exists(void)
{
    char home[4096], path[4200];
    struct stat st;

    if (ctl_home(home, sizeof home) != CTL_EXIT_OK)
        return false;
    snprintf(path, sizeof path, "%s/identity", home);
    return stat(path, &st) == 0;
}

int ctl_connect(enum ctl_auth auth, struct cl_client **out)
{
    struct cl_options o;
    uint8_t sk[CL_SECRET_KEY_LEN];
    char token[CL_ADMIN_TOKEN_MAX + 2];
    char errmsg[REG_ERRMSG_SIZE];
    bool want_key = auth == CTL_AUTH_AGENT || identity_exists();
    bool want_admin = auth == CTL_AUTH_ADMIN ||
                      (auth == CTL_AUTH_ANY && (ctl_g.admin_token_file != NULL ||
                                                getenv("PILOT_ADMIN_TOKEN") != NULL));
    int rv;

    memset(&o, 0, sizeof o);
    rv = ctl_registry(&o.endpoints);
    if (rv != CTL_EXIT_OK)
        return rv;
    if (want_key) {
        rv = ctl_identity_load(sk);
        if (rv != CTL_EXIT_OK)
            return rv;
        o.secret_key = sk;
    }
    if (want_admin) {
        rv = ctl_admin_token(token, sizeof token);
        if (rv != CTL_EXIT_OK)
            goto out;
        if (strlen(token) > CL_ADMIN_TOKEN_MAX) {
            rv = ctl_fail(CTL_EXIT_ERROR, "invalid_argument", NULL, "admin token too long");
            goto out;
        }
        o.admin_token = token;
    }
    if (!want_key && !want_admin) {
        rv = ctl_fail(CTL_EXIT_ERROR, "unauthenticated",
                      "run `pilotctl init` to create an identity, or give the admin token",
                      "no identity to talk to the registry with");
        goto out;
    }
    o.deadline_ms = ctl_g.timeout_ms;
    o.redirect = ctl_g.redirect;
    rv = cl_open(&o, out, errmsg);
    if (rv != REG_OK) {
        rv = ctl_fail(CTL_EXIT_USAGE, "usage",
                      "--registry / PILOT_REGISTRY take HOST:PORT[,HOST:PORT...]", "%s", errmsg);
        goto out;
    }
    rv = CTL_EXIT_OK;
out:
    sodium_memzero(sk, sizeof sk);
    sodium_memzero(token, sizeof token);
    return rv;
}

int ctl_call(struct cl_client *cl, const struct cl_request *req, struct cl_response *resp,
             const char *hint)
{
    int rv = cl_call(cl, req, resp);

    if (rv == REG_OK)
        return CTL_EXIT_OK;
    return ctl_fail_reg(rv, resp->message, hint);
}

json_t *ctl_result_json(const struct cl_response *resp)
{
    msgpack_zone zone;
    msgpack_object obj;
    json_t *j = NULL;

    if (!resp->has_result)
        return json_object();
    if (!msgpack_zone_init(&zone, 2048))
        return NULL;
    if (msgpack_unpack((const char *)resp->result.p, resp->result.len, NULL, &zone, &obj) ==
            MSGPACK_UNPACK_SUCCESS &&
        obj.type == MSGPACK_OBJECT_MAP)
        j = ctl_from_msgpack(&obj);
    msgpack_zone_destroy(&zone);
    return j != NULL ? j : json_object();
}

static bool all_digits(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return false;
    return true;
}

/* A node id or a Pilot address into *node (CTL_EXIT_OK); 1 if arg is a
 * valid hostname left to the caller; an exit code (printed) otherwise. */
static int node_literal(const char *arg, uint32_t *node)
{
    char errmsg[REG_ERRMSG_SIZE];
    uint64_t v;
    uint16_t net;

    if (all_digits(arg)) {
        if (!ctl_parse_uint(arg, 1, ST_MAX_NODE_ID, &v))
            return ctl_fail(CTL_EXIT_ERROR, "invalid_argument", NULL,
                            "node id \"%s\" out of range", arg);
        *node = (uint32_t)v;
        return CTL_EXIT_OK;
    }
    if (strchr(arg, ':') != NULL) {
        if (proto_addr_parse(arg, strlen(arg), &net, node, errmsg) != REG_OK || *node == 0)
            return ctl_fail(CTL_EXIT_ERROR, "invalid_argument",
                            "addresses look like 0:0000.0000.0005", "bad Pilot address \"%s\"",
                            arg);
        return CTL_EXIT_OK;
    }
    if (!st_valid_name(arg))
        return ctl_fail(CTL_EXIT_ERROR, "invalid_argument",
                        "give a node id, an address (N:NNNN.HHHH.LLLL) or a hostname",
                        "\"%s\" is not a node id, address or valid hostname", arg);
    return 1;
}

int ctl_target_arg(const char *arg, struct st_cmd *cmd)
{
    int rv = node_literal(arg, &cmd->node);
    if (rv == 1) {
        /* The registry resolves the name when it applies the command, so a
         * private agent the caller cannot see yet can still be named. */
        snprintf(cmd->hostname, sizeof cmd->hostname, "%s", arg);
        rv = CTL_EXIT_OK;
    }
    return rv;
}

int ctl_node_arg(struct cl_client *cl, const char *arg, uint32_t *node)
{
    struct proto_args a;
    struct cl_request req = {.op = "resolve_hostname", .args = &a};
    struct cl_response resp;
    char errmsg[REG_ERRMSG_SIZE];
    int rv = node_literal(arg, node);

    if (rv != 1)
        return rv;
    memset(&a, 0, sizeof a);
    snprintf(a.hostname, sizeof a.hostname, "%s", arg);
    rv = cl_call(cl, &req, &resp);
    if (rv == REG_NOT_FOUND) {
        cl_response_free(&resp);
        return ctl_fail(CTL_EXIT_ERROR, "not_found",
                        "the node may be private: establish trust first (pilotctl handshake "
                        "<node_id> \"reason\")",
                        "hostname \"%s\" not found", arg);
    }
    if (rv != REG_OK) {
        rv = ctl_fail_reg(rv, resp.message, NULL);
        cl_response_free(&resp);
        return rv;
    }
    rv = proto_get_u32(&resp.result, "node_id", PROTO_REQ, UINT32_MAX, node, errmsg);
    cl_response_free(&resp);
    if (rv != REG_OK)
        return ctl_fail(CTL_EXIT_ERROR, "malformed", NULL, "bad answer resolving \"%s\": %s",
                        arg, errmsg);
    return CTL_EXIT_OK;
}

int ctl_write(struct cl_client *cl, const struct st_cmd *cmd, struct st_result *res,
              const char *hint)
{
    struct cl_request req = {.op = st_cmd_name(cmd->op), .cmd = cmd};
    struct cl_response resp;
    char errmsg[REG_ERRMSG_SIZE];
    int rv;

    memset(res, 0, sizeof *res);
    rv = ctl_call(cl, &req, &resp, hint);
    if (rv == CTL_EXIT_OK && resp.has_result &&
        proto_result_decode(&resp.result, cmd->op, res, errmsg) != REG_OK)
        rv = ctl_fail(CTL_EXIT_ERROR, "malformed", NULL, "bad answer to %s: %s", req.op, errmsg);
    cl_response_free(&resp);
    return rv;
}

int ctl_read(struct cl_client *cl, const char *op, const struct proto_args *a, json_t **out,
             const char *hint)
{
    struct cl_request req = {.op = op, .args = a};
    struct cl_response resp;
    int rv;

    rv = ctl_call(cl, &req, &resp, hint);
    if (rv == CTL_EXIT_OK)
        *out = ctl_result_json(&resp);
    cl_response_free(&resp);
    return rv;
}
