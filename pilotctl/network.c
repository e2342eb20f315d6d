/* pilotctl network commands (seed page "Networks"): create, join, leave,
 * invite, kick, members, list, delete, policy, role, transfer, audit and
 * blueprint apply/export. Writes become one st_cmd each; `members` adds each
 * member's address, hostname, endpoint and online state from lookups. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

struct net_sub {
    const char *name;
    const char *usage;
};

static const struct net_sub subs[] = {
    {"create", "pilotctl network create --name N [--join-rule open|invite|token] [--token T] "
               "[--enterprise]"},
    {"join", "pilotctl network join <id> [--token T]"},
    {"leave", "pilotctl network leave <id>"},
    {"invite", "pilotctl network invite <id> --node <node>"},
    {"kick", "pilotctl network kick <id> --node <node>"},
    {"members", "pilotctl network members <id>"},
    {"list", "pilotctl network list"},
    {"delete", "pilotctl network delete <id>"},
    {"policy", "pilotctl network policy <id> [--set allowed_ports=80,443] [--set max_members=N] "
               "[--set description=TEXT]"},
    {"role", "pilotctl network role <id> --node <node> --role admin|member"},
    {"transfer", "pilotctl network transfer <id> --node <node>"},
    {"audit", "pilotctl network audit <id> [--limit N]"},
    {"blueprint", "pilotctl network blueprint apply <file.json> | blueprint export <id>"},
};

static const char *usage_of(const char *sub)
{
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
        if (strcmp(subs[i].name, sub) == 0)
            return subs[i].usage;
    return "pilotctl network help";
}

static int net_arg(const char *s, const char *usage, uint32_t *out)
{
    uint64_t v;

    if (!ctl_parse_uint(s, 1, ST_MAX_NETWORK_ID, &v))
        return ctl_usage(usage, "bad network id \"%s\" (1-%d)", s, ST_MAX_NETWORK_ID);
    *out = (uint32_t)v;
    return CTL_EXIT_OK;
}

static void net_text(const json_t *d)
{
    static const struct ctl_col cols[] = {
        {"network_id", "Network ID:"}, {"name", "Name:"},       {"join_rule", "Join rule:"},
        {"enterprise", "Enterprise:"}, {"owner", "Owner:"},     {"members", "Members:"},
        {"node_id", "Node:"},          {"role", "Role:"},       {"status", "Status:"},
        {"allowed_ports", "Allowed ports:"}, {"max_members", "Max members:"},
        {"description", "Description:"}, {"created", "Created:"},
    };
    ctl_fields(d, cols, sizeof cols / sizeof cols[0]);
}

/* Run one write; print {network_id, node_id?, status} merged into extra. */
static int net_write(struct cl_client *cl, struct st_cmd *cmd, json_t *extra, const char *status,
                     const char *hint)
{
    struct st_result res;
    int rv;

    rv = ctl_write(cl, cmd, &res, hint);
    if (rv != CTL_EXIT_OK) {
        json_decref(extra);
        return rv;
    }
    if (extra == NULL)
        extra = json_object();
    json_object_set_new(extra, "network_id",
                        json_integer(res.network != 0 ? res.network : cmd->network));
    if (cmd->node != 0 || cmd->hostname[0] != '\0')
        json_object_set_new(extra, "node_id",
                            json_integer(res.node != 0 ? res.node : cmd->node));
    json_object_set_new(extra, "status", json_string(status));
    return ctl_ok(extra, net_text);
}

static int cmd_create(int argc, char **argv, struct cl_client **cl)
{
    const char *usage = usage_of("create");
    struct ctl_opt o[] = {{.name = "--name", .has_arg = true},
                          {.name = "--join-rule", .has_arg = true},
                          {.name = "--token", .has_arg = true},
                          {.name = "--enterprise"}};
    const char *pos[1];
    size_t np;
    struct st_cmd cmd;
    const char *name, *rule, *token;
    int jr, rv;

    rv = ctl_parse(argc, argv, o, 4, pos, 0, 0, &np, usage);
    if (rv != CTL_EXIT_OK)
        return rv;
    name = ctl_opt_val(&o[0]);
    rule = ctl_opt_val(&o[1]) != NULL ? ctl_opt_val(&o[1]) : "open";
    token = ctl_opt_val(&o[2]);
    if (name == NULL)
        return ctl_usage(usage, "--name is required");
    if (!st_valid_name(name))
        return ctl_usage(usage, "invalid network name \"%s\" ([a-z0-9-], 1-63)", name);
    jr = proto_join_rule_from_name(rule, strlen(rule));
    if (jr < 0)
        return ctl_usage(usage, "bad --join-rule \"%s\" (open, invite or token)", rule);
    if (jr == ST_JOIN_TOKEN && (token == NULL || token[0] == '\0'))
        return ctl_usage(usage, "--join-rule token needs --token");
    if (jr != ST_JOIN_TOKEN && token != NULL)
        return ctl_usage(usage, "--token only goes with --join-rule token");
    if (token != NULL && strlen(token) > ST_TOKEN_MAX)
        return ctl_usage(usage, "token too long (max %d)", ST_TOKEN_MAX);
    memset(&cmd, 0, sizeof cmd);
    cmd.op = ST_CMD_NET_CREATE;
    snprintf(cmd.name, sizeof cmd.name, "%s", name);
    cmd.join_rule = (uint8_t)jr;
    if (token != NULL)
        snprintf(cmd.token, sizeof cmd.token, "%s", token);
    cmd.flag = o[3].seen;
    rv = ctl_connect(CTL_AUTH_AGENT, cl);
    if (rv != CTL_EXIT_OK)
        return rv;
    return net_write(*cl, &cmd,
                     json_pack("{s:s, s:s, s:b}", "name", name, "join_rule", rule, "enterprise",
                               cmd.flag),
                     "created", NULL);
}

/* join / leave / delete / invite / kick / role / transfer: one network id,
 * maybe --node, --token, --role. */
static int cmd_member_op(int argc, char **argv, struct cl_client **cl)
{
    const char *sub = argv[0];
    const char *usage = usage_of(sub);
    struct ctl_opt o[] = {{.name = "--node", .has_arg = true},
                          {.name = "--token", .has_arg = true},
                          {.name = "--role", .has_arg = true}};
    const char *pos[1];
    size_t np;
    struct st_cmd cmd;
    bool needs_node = false;
    const char *status = "", *hint = NULL;
    json_t *extra = NULL;
    int rv;

    rv = ctl_parse(argc, argv, o, 3, pos, 1, 1, &np, usage);
    if (rv != CTL_EXIT_OK)
        return rv;
    memset(&cmd, 0, sizeof cmd);
    rv = net_arg(pos[0], usage, &cmd.network);
    if (rv != CTL_EXIT_OK)
        return rv;
    if (strcmp(sub, "join") == 0) {
        cmd.op = ST_CMD_NET_JOIN;
        status = "joined";
        if (ctl_opt_val(&o[1]) != NULL) {
            if (strlen(ctl_opt_val(&o[1])) > ST_TOKEN_MAX)
                return ctl_usage(usage, "token too long (max %d)", ST_TOKEN_MAX);
            snprintf(cmd.token, sizeof cmd.token, "%s", ctl_opt_val(&o[1]));
        }
        hint = "token networks need --token; invite-only networks need an admin's invite";
    } else if (strcmp(sub, "leave") == 0) {
        cmd.op = ST_CMD_NET_LEAVE;
        status = "left";
    } else if (strcmp(sub, "delete") == 0) {
        cmd.op = ST_CMD_NET_DELETE;
        status = "deleted";
    } else if (strcmp(sub, "invite") == 0) {
        cmd.op = ST_CMD_NET_INVITE;
        status = "invited";
        needs_node = true;
    } else if (strcmp(sub, "kick") == 0) {
        cmd.op = ST_CMD_NET_KICK;
        status = "kicked";
        needs_node = true;
    } else if (strcmp(sub, "transfer") == 0) {
        cmd.op = ST_CMD_NET_TRANSFER;
        status = "transferred";
        needs_node = true;
    } else {
        const char *r = ctl_opt_val(&o[2]);
        int role = r != NULL ? proto_role_from_name(r, strlen(r)) : -1;
        cmd.op = ST_CMD_NET_ROLE;
        status = "role_set";
        needs_node = true;
        if (role != ST_ROLE_ADMIN && role != ST_ROLE_MEMBER)
            return ctl_usage(usage, "--role must be admin or member");
        cmd.role = (uint8_t)role;
        extra = json_pack("{s:s}", "role", r);
    }
    if (!needs_node && o[0].seen) {
        json_decref(extra);
        return ctl_usage(usage, "--node does not apply to network %s", sub);
    }
    if (needs_node && ctl_opt_val(&o[0]) == NULL) {
        json_decref(extra);
        return ctl_usage(usage, "--node is required");
    }
    if (cmd.op != ST_CMD_NET_JOIN && o[1].seen) {
        json_decref(extra);
        return ctl_usage(usage, "--token only applies to network join");
    }
    if (cmd.op != ST_CMD_NET_ROLE && o[2].seen) {
        json_decref(extra);
        return ctl_usage(usage, "--role only applies to network role");
    }
    rv = needs_node ? ctl_target_arg(ctl_opt_val(&o[0]), &cmd) : CTL_EXIT_OK;
    if (rv == CTL_EXIT_OK)
        rv = ctl_connect(CTL_AUTH_ANY, cl);
    if (rv != CTL_EXIT_OK) {
        json_decref(extra);
        return rv;
    }
    return net_write(*cl, &cmd, extra, status, hint);
}

static void members_text(const json_t *d)
{
    static const struct ctl_col cols[] = {
        {"address", "ADDRESS"},   {"node_id", "NODE ID"},   {"hostname", "HOSTNAME"},
        {"endpoint", "ENDPOINT"}, {"online", "ONLINE"},     {"role", "ROLE"},
    };
    ctl_table(json_object_get(d, "members"), cols, 6);
}

static int cmd_members(int argc, char **argv, struct cl_client **cl)
{
    const char *usage = usage_of("members");
    const char *pos[1];
    size_t np, i;
    struct proto_args a;
    json_t *res = NULL, *rows, *m;
    int rv;

    rv = ctl_parse(argc, argv, NULL, 0, pos, 1, 1, &np, usage);
    if (rv != CTL_EXIT_OK)
        return rv;
    memset(&a, 0, sizeof a);
    rv = net_arg(pos[0], usage, &a.network);
    if (rv == CTL_EXIT_OK)
        rv = ctl_connect(CTL_AUTH_ANY, cl);
    if (rv == CTL_EXIT_OK)
        rv = ctl_read(*cl, "network_members", &a, &res, NULL);
    if (rv != CTL_EXIT_OK)
        return rv;
    rows = json_object_get(res, "members");
    if (!json_is_array(rows)) {
        rows = json_array();
        json_object_set_new(res, "members", rows);
    }
    json_array_foreach(rows, i, m) {
        json_int_t id = json_integer_value(json_object_get(m, "node_id"));
        struct proto_args la;
        struct cl_request req = {.op = "lookup", .args = &la};
        struct cl_response resp;
        char addr[PROTO_ADDR_STRLEN];
        json_t *node;

        proto_addr_format((uint16_t)a.network, (uint32_t)id, addr);
        json_object_set_new(m, "address", json_string(addr));
        memset(&la, 0, sizeof la);
        la.node = (uint32_t)id;
        if (cl_call(*cl, &req, &resp) == REG_OK) {
            node = ctl_result_json(&resp);
            static const char *const keys[] = {"hostname", "endpoint", "online", "public"};
            for (size_t k = 0; k < 4; k++)
                if (json_object_get(node, keys[k]) != NULL)
                    json_object_set(m, keys[k], json_object_get(node, keys[k]));
            json_decref(node);
        }
        cl_response_free(&resp);
        if (json_object_get(m, "online") == NULL)
            json_object_set_new(m, "online", json_null());
    }
    return ctl_ok(res, members_text);
}

static void list_text(const json_t *d)
{
    static const struct ctl_col cols[] = {
        {"network_id", "ID"},   {"name", "NAME"},           {"join_rule", "JOIN RULE"},
        {"members", "MEMBERS"}, {"enterprise", "ENTERPRISE"}, {"owner", "OWNER"},
    };
    const json_t *n = json_object_get(d, "networks");

    if (json_array_size(n) == 0)
        printf("no networks\n");
    else
        ctl_table(n, cols, 6);
}

static int cmd_list(int argc, char **argv, struct cl_client **cl)
{
    const char *pos[1];
    size_t np;
    json_t *res = NULL;
    int rv;

    rv = ctl_parse(argc, argv, NULL, 0, pos, 0, 0, &np, usage_of("list"));
    if (rv == CTL_EXIT_OK)
        rv = ctl_connect(CTL_AUTH_ANY, cl);
    if (rv == CTL_EXIT_OK)
        rv = ctl_read(*cl, "network_list", NULL, &res, NULL);
    if (rv != CTL_EXIT_OK)
        return rv;
    if (json_object_get(res, "networks") == NULL)
        json_object_set_new(res, "networks", json_array());
    return ctl_ok(res, list_text);
}

/* Parse one --set k=v into the policy. */
static int policy_set(const char *kv, struct st_policy *p, json_t *shown, const char *usage)
{
    const char *eq = strchr(kv, '=');
    const char *v;
    size_t klen;
    uint64_t n;

    if (eq == NULL)
        return ctl_usage(usage, "--set wants key=value, got \"%s\"", kv);
    klen = (size_t)(eq - kv);
    v = eq + 1;
    if (klen == 13 && strncmp(kv, "allowed_ports", klen) == 0) {
        char buf[1024];
        char *save = NULL, *tok;
        json_t *arr = json_array();
        if (strlen(v) >= sizeof buf) {
            json_decref(arr);
            return ctl_usage(usage, "allowed_ports list too long");
        }
        snprintf(buf, sizeof buf, "%s", v);
        p->has_allowed_ports = true;
        p->n_ports = 0;
        for (tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
            if (!ctl_parse_uint(tok, 1, 65535, &n)) {
                json_decref(arr);
                return ctl_usage(usage, "bad port \"%s\" in allowed_ports (1-65535)", tok);
            }
            if (p->n_ports == ST_PORTS_MAX) {
                json_decref(arr);
                return ctl_usage(usage, "at most %d allowed ports", ST_PORTS_MAX);
            }
            p->ports[p->n_ports++] = (uint16_t)n;
            json_array_append_new(arr, json_integer((json_int_t)n));
        }
        json_object_set_new(shown, "allowed_ports", arr);
    } else if (klen == 11 && strncmp(kv, "max_members", klen) == 0) {
        if (!ctl_parse_uint(v, 0, ST_MAX_MEMBERS_LIMIT, &n))
            return ctl_usage(usage, "bad max_members \"%s\" (0-%d, 0 = unlimited)", v,
                             ST_MAX_MEMBERS_LIMIT);
        p->has_max_members = true;
        p->max_members = (uint32_t)n;
        json_object_set_new(shown, "max_members", json_integer((json_int_t)n));
    } else if (klen == 11 && strncmp(kv, "description", klen) == 0) {
        if (strlen(v) > ST_DESCRIPTION_MAX)
            return ctl_usage(usage, "description too long (max %d)", ST_DESCRIPTION_MAX);
        p->has_description = true;
        snprintf(p->description, sizeof p->description, "%s", v);
        json_object_set_new(shown, "description", json_string(v));
    } else {
        return ctl_usage(usage, "unknown policy key \"%.*s\" (allowed_ports, max_members, "
                                "description)",
                         (int)klen, kv);
    }
    return CTL_EXIT_OK;
}

static int cmd_policy(int argc, char **argv, struct cl_client **cl)
{
    const char *usage = usage_of("policy");
    struct ctl_opt o[] = {{.name = "--set", .has_arg = true}};
    const char *pos[1];
    size_t np;
    struct st_cmd cmd;
    struct proto_args a;
    json_t *shown, *res = NULL;
    int rv;

    rv = ctl_parse(argc, argv, o, 1, pos, 1, 1, &np, usage);
    if (rv != CTL_EXIT_OK)
        return rv;
    memset(&cmd, 0, sizeof cmd);
    rv = net_arg(pos[0], usage, &cmd.network);
    if (rv != CTL_EXIT_OK)
        return rv;
    if (o[0].n == 0) {
        memset(&a, 0, sizeof a);
        a.network = cmd.network;
        rv = ctl_connect(CTL_AUTH_ANY, cl);
        if (rv == CTL_EXIT_OK)
            rv = ctl_read(*cl, "network_policy_get", &a, &res, NULL);
        if (rv != CTL_EXIT_OK)
            return rv;
        return ctl_ok(res, net_text);
    }
    shown = json_object();
    cmd.op = ST_CMD_NET_POLICY;
    for (size_t i = 0; i < o[0].n; i++) {
        rv = policy_set(o[0].vals[i], &cmd.policy, shown, usage);
        if (rv != CTL_EXIT_OK) {
            json_decref(shown);
            return rv;
        }
    }
    rv = ctl_connect(CTL_AUTH_ANY, cl);
    if (rv != CTL_EXIT_OK) {
        json_decref(shown);
        return rv;
    }
    return net_write(*cl, &cmd, shown, "policy_set",
                     "policies need an enterprise network and its owner or an admin");
}

static void audit_text(const json_t *d)
{
    static const struct ctl_col cols[] = {
        {"when", "TIME"}, {"action", "ACTION"}, {"actor", "ACTOR"},
        {"target", "TARGET"}, {"origin", "VIA NODE"}, {"detail", "DETAIL"},
    };
    const json_t *r = json_object_get(d, "records");

    if (json_array_size(r) == 0)
        printf("no audit records\n");
    else
        ctl_table(r, cols, 6);
}

static int cmd_audit(int argc, char **argv, struct cl_client **cl)
{
    const char *usage = usage_of("audit");
    struct ctl_opt o[] = {{.name = "--limit", .has_arg = true}};
    const char *pos[1];
    size_t np, i;
    struct proto_args a;
    uint64_t lim = 0;
    json_t *res = NULL, *r;
    int rv;

    rv = ctl_parse(argc, argv, o, 1, pos, 1, 1, &np, usage);
    if (rv != CTL_EXIT_OK)
        return rv;
    memset(&a, 0, sizeof a);
    rv = net_arg(pos[0], usage, &a.network);
    if (rv != CTL_EXIT_OK)
        return rv;
    if (ctl_opt_val(&o[0]) != NULL && !ctl_parse_uint(ctl_opt_val(&o[0]), 1, ST_AUDIT_MAX, &lim))
        return ctl_usage(usage, "bad --limit \"%s\" (1-%d)", ctl_opt_val(&o[0]), ST_AUDIT_MAX);
    a.limit = (uint32_t)lim;
    rv = ctl_connect(CTL_AUTH_ANY, cl);
    if (rv == CTL_EXIT_OK)
        rv = ctl_read(*cl, "network_audit", &a, &res, NULL);
    if (rv != CTL_EXIT_OK)
        return rv;
    json_array_foreach(json_object_get(res, "records"), i, r) {
        char buf[32];
        ctl_fmt_time(json_integer_value(json_object_get(r, "at")), buf, sizeof buf);
        if (!ctl_g.json)
            json_object_set_new(r, "when", json_string(buf));
    }
    return ctl_ok(res, audit_text);
}

/* Blueprint JSON file → st_blueprint. Role nodes may be ids, addresses or
 * hostnames (resolved through cl). */
static int blueprint_load(struct cl_client *cl, const json_t *j, struct st_blueprint *b,
                          struct st_blueprint_role *roles, const char *path)
{
    const char *name = json_string_value(json_object_get(j, "name"));
    const char *rule = json_string_value(json_object_get(j, "join_rule"));
    const char *token = json_string_value(json_object_get(j, "token"));
    const json_t *pol = json_object_get(j, "policy");
    const json_t *rl = json_object_get(j, "roles");
    const json_t *v;
    size_t i;
    int jr, rv;

    if (!json_is_object(j))
        return ctl_fail(CTL_EXIT_ERROR, "invalid_argument", NULL, "%s: not a JSON object", path);
    if (name == NULL || !st_valid_name(name))
        return ctl_fail(CTL_EXIT_ERROR, "invalid_argument", NULL,
                        "%s: \"name\" missing or invalid", path);
    snprintf(b->name, sizeof b->name, "%s", name);
    jr = rule != NULL ? proto_join_rule_from_name(rule, strlen(rule)) : ST_JOIN_OPEN;
    if (jr < 0)
        return ctl_fail(CTL_EXIT_ERROR, "invalid_argument", NULL,
                        "%s: bad join_rule \"%s\"", path, rule);
    b->join_rule = (uint8_t)jr;
    if (token != NULL) {
        if (strlen(token) > ST_TOKEN_MAX)
            return ctl_fail(CTL_EXIT_ERROR, "invalid_argument", NULL, "%s: token too long", path);
        snprintf(b->token, sizeof b->token, "%s", token);
    }
    b->enterprise = json_is_true(json_object_get(j, "enterprise"));
    if (pol != NULL && !json_is_object(pol))
        return ctl_fail(CTL_EXIT_ERROR, "invalid_argument", NULL,
                        "%s: \"policy\" must be an object", path);
    v = json_object_get(pol, "allowed_ports");
    if (v != NULL) {
        if (!json_is_array(v) || json_array_size(v) > ST_PORTS_MAX)
            return ctl_fail(CTL_EXIT_ERROR, "invalid_argument", NULL,
                            "%s: policy.allowed_ports must be a list of at most %d ports", path,
                            ST_PORTS_MAX);
        b->policy.has_allowed_ports = true;
        json_array_foreach(v, i, pol) {
            json_int_t p = json_integer_value(pol);
            if (!json_is_integer(pol) || p < 1 || p > 65535)
                return ctl_fail(CTL_EXIT_ERROR, "invalid_argument", NULL,
                                "%s: bad port at policy.allowed_ports[%zu]", path, i);
            b->policy.ports[b->policy.n_ports++] = (uint16_t)p;
        }
        pol = json_object_get(j, "policy");
    }
    v = json_object_get(pol, "max_members");
    if (v != NULL) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 ||
            json_integer_value(v) > ST_MAX_MEMBERS_LIMIT)
            return ctl_fail(CTL_EXIT_ERROR, "invalid_argument", NULL,
                            "%s: policy.max_members must be 0-%d", path, ST_MAX_MEMBERS_LIMIT);
        b->policy.has_max_members = true;
        b->policy.max_members = (uint32_t)json_integer_value(v);
    }
    v = json_object_get(pol, "description");
    if (v != NULL) {
        if (!json_is_string(v) || strlen(json_string_value(v)) > ST_DESCRIPTION_MAX)
            return ctl_fail(CTL_EXIT_ERROR, "invalid_argument", NULL,
                            "%s: policy.description must be a string of at most %d bytes", path,
                            ST_DESCRIPTION_MAX);
        b->policy.has_description = true;
        snprintf(b->policy.description, sizeof b->policy.description, "%s",
                 json_string_value(v));
    }
    if (rl != NULL && (!json_is_array(rl) || json_array_size(rl) > ST_BLUEPRINT_ROLES_MAX))
        return ctl_fail(CTL_EXIT_ERROR, "invalid_argument", NULL,
                        "%s: \"roles\" must be a list of at most %d entries", path,
                        ST_BLUEPRINT_ROLES_MAX);
    json_array_foreach(rl, i, v) {
        const json_t *nv = json_object_get(v, "node");
        const char *role = json_string_value(json_object_get(v, "role"));
        char nodebuf[32];
        uint32_t node = 0;
        const char *ns = json_string_value(nv);
        int r = role != NULL ? proto_role_from_name(role, strlen(role)) : -1;
        if (role != NULL && strcmp(role, "owner") == 0)
            continue; /* ownership moves by transfer, not by blueprint */
        if (json_is_integer(nv)) {
            snprintf(nodebuf, sizeof nodebuf, "%lld", (long long)json_integer_value(nv));
            ns = nodebuf;
        }
        if (ns == NULL || (r != ST_ROLE_ADMIN && r != ST_ROLE_MEMBER))
            return ctl_fail(CTL_EXIT_ERROR, "invalid_argument", NULL,
                            "%s: roles[%zu] needs \"node\" and \"role\" admin|member", path, i);
        rv = ctl_node_arg(cl, ns, &node);
        if (rv != CTL_EXIT_OK)
            return rv;
        roles[b->n_roles].node = node;
        roles[b->n_roles].role = (uint8_t)r;
        b->n_roles++;
    }
    b->roles = roles;
    return CTL_EXIT_OK;
}

static int cmd_blueprint(int argc, char **argv, struct cl_client **cl)
{
    const char *usage = usage_of("blueprint");
    const char *pos[2];
    size_t np;
    json_error_t jerr;
    json_t *j = NULL, *res = NULL;
    struct st_blueprint *b = NULL;
    struct st_blueprint_role *roles = NULL;
    struct st_cmd cmd;
    struct st_result r;
    struct proto_args a;
    int rv;

    rv = ctl_parse(argc, argv, NULL, 0, pos, 2, 2, &np, usage);
    if (rv != CTL_EXIT_OK)
        return rv;
    if (strcmp(pos[0], "export") == 0) {
        memset(&a, 0, sizeof a);
        rv = net_arg(pos[1], usage, &a.network);
        if (rv == CTL_EXIT_OK)
            rv = ctl_connect(CTL_AUTH_ANY, cl);
        if (rv == CTL_EXIT_OK)
            rv = ctl_read(*cl, "blueprint_export", &a, &res, NULL);
        if (rv != CTL_EXIT_OK)
            return rv;
        if (!ctl_g.json) {
            char *s = json_dumps(res, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
            if (s != NULL)
                puts(s);
            free(s);
        }
        return ctl_ok(res, NULL);
    }
    if (strcmp(pos[0], "apply") != 0)
        return ctl_usage(usage, "unknown blueprint action \"%s\" (apply or export)", pos[0]);
    j = json_load_file(pos[1], 0, &jerr);
    if (j == NULL)
        return ctl_fail(CTL_EXIT_ERROR, "invalid_argument", NULL, "%s: %s (line %d)", pos[1],
                        jerr.text, jerr.line);
    b = calloc(1, sizeof *b);
    roles = calloc(ST_BLUEPRINT_ROLES_MAX, sizeof *roles);
    if (b == NULL || roles == NULL) {
        rv = ctl_fail(CTL_EXIT_ERROR, "nomem", NULL, "out of memory");
        goto out;
    }
    rv = ctl_connect(CTL_AUTH_ANY, cl);
    if (rv == CTL_EXIT_OK)
        rv = blueprint_load(*cl, j, b, roles, pos[1]);
    if (rv != CTL_EXIT_OK)
        goto out;
    memset(&cmd, 0, sizeof cmd);
    cmd.op = ST_CMD_BLUEPRINT_APPLY;
    cmd.blueprint = b;
    rv = ctl_write(*cl, &cmd, &r, NULL);
    if (rv == CTL_EXIT_OK)
        rv = ctl_ok(json_pack("{s:i, s:s, s:s}", "network_id", (json_int_t)r.network, "name",
                              b->name, "status", r.created ? "created" : "updated"),
                    net_text);
out:
    free(roles);
    free(b);
    json_decref(j);
    return rv;
}

static int net_help(void)
{
    printf("usage: pilotctl network <command>\n");
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
        printf("  %s\n", subs[i].usage);
    printf("node arguments take a node id, an address (0:0000.0000.0005) or a hostname.\n");
    return CTL_EXIT_OK;
}

int network_main(int argc, char **argv)
{
    struct cl_client *cl = NULL;
    const char *sub;
    int rv;

    if (argc < 2)
        return ctl_usage("pilotctl network help", "missing network command");
    sub = argv[1];
    if (strcmp(sub, "help") == 0 || strcmp(sub, "--help") == 0)
        return net_help();
    for (int k = 2; k < argc; k++)
        if (strcmp(argv[k], "--help") == 0) {
            printf("usage: %s\n", usage_of(sub));
            return CTL_EXIT_OK;
        }
    argc--;
    argv++;
    if (strcmp(sub, "create") == 0)
        rv = cmd_create(argc, argv, &cl);
    else if (strcmp(sub, "members") == 0)
        rv = cmd_members(argc, argv, &cl);
    else if (strcmp(sub, "list") == 0)
        rv = cmd_list(argc, argv, &cl);
    else if (strcmp(sub, "policy") == 0)
        rv = cmd_policy(argc, argv, &cl);
    else if (strcmp(sub, "audit") == 0)
        rv = cmd_audit(argc, argv, &cl);
    else if (strcmp(sub, "blueprint") == 0)
        rv = cmd_blueprint(argc, argv, &cl);
    else if (strcmp(sub, "join") == 0 || strcmp(sub, "leave") == 0 ||
             strcmp(sub, "delete") == 0 || strcmp(sub, "invite") == 0 ||
             strcmp(sub, "kick") == 0 || strcmp(sub, "role") == 0 ||
             strcmp(sub, "transfer") == 0)
        rv = cmd_member_op(argc, argv, &cl);
    else
        rv = ctl_usage("pilotctl network help", "unknown network command \"%s\"", sub);
    cl_close(cl);
    return rv;
}
