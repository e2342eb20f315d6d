/* pilotctl agent commands: this node's registration and directory lookups
 * (register, deregister, whoami, lookup, find, resolve, set-public,
 * set-private, set-hostname, clear-hostname, set-tags, rotate-key).
 * Each parses into an st_cmd or proto_args, makes one call, prints. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ctl.h"

static void add_address(json_t *d)
{
    char addr[PROTO_ADDR_STRLEN];
    json_int_t id = json_integer_value(json_object_get(d, "node_id"));

    if (id > 0 && json_object_get(d, "address") == NULL) {
        proto_addr_format(0, (uint32_t)id, addr);
        json_object_set_new(d, "address", json_string(addr));
    }
}

static void node_text(const json_t *d)
{
    static const struct ctl_col cols[] = {
        {"node_id", "Node ID:"},   {"address", "Address:"},     {"hostname", "Hostname:"},
        {"public", "Public:"},     {"endpoint", "Endpoint:"},   {"online", "Online:"},
        {"tags", "Tags:"},         {"networks", "Networks:"},   {"public_key", "Public key:"},
        {"status", "Status:"},     {"admin", "Admin:"},
    };
    ctl_fields(d, cols, sizeof cols / sizeof cols[0]);
}

/* Open an agent client, run cmd, print {node_id, ...extra}. */
static int simple_write(struct st_cmd *cmd, json_t *extra, const char *hint)
{
    struct cl_client *cl = NULL;
    struct st_result res;
    uint32_t me = 0;
    char errmsg[REG_ERRMSG_SIZE];
    int rv;

    rv = ctl_connect(CTL_AUTH_AGENT, &cl);
    if (rv != CTL_EXIT_OK)
        goto out;
    rv = ctl_write(cl, cmd, &res, hint);
    if (rv != CTL_EXIT_OK)
        goto out;
    if (res.node == 0 && cl_whoami(cl, &me, errmsg) == REG_OK)
        res.node = me;
    if (extra == NULL)
        extra = json_object();
    json_object_set_new(extra, "node_id", json_integer(res.node));
    add_address(extra);
    rv = ctl_ok(extra, node_text);
    extra = NULL;
out:
    json_decref(extra);
    cl_close(cl);
    return rv;
}

static int cmd_register(int argc, char **argv)
{
    static const char usage[] = "pilotctl register [--hostname H] [--public] [--endpoint H:P]";
    struct ctl_opt opts[] = {{.name = "--hostname", .has_arg = true},
                             {.name = "--public"},
                             {.name = "--endpoint", .has_arg = true}};
    const char *pos[1];
    size_t np;
    struct st_cmd cmd;
    struct cl_client *cl = NULL;
    struct st_result res;
    json_t *d;
    int rv;

    rv = ctl_parse(argc, argv, opts, 3, pos, 0, 0, &np, usage);
    if (rv != CTL_EXIT_OK)
        return rv;
    memset(&cmd, 0, sizeof cmd);
    cmd.op = ST_CMD_REGISTER;
    cmd.flag = opts[1].seen;
    if (ctl_opt_val(&opts[0]) != NULL) {
        if (!st_valid_name(ctl_opt_val(&opts[0])))
            return ctl_usage(usage, "invalid hostname \"%s\" ([a-z0-9-], 1-63, not reserved)",
                             ctl_opt_val(&opts[0]));
        snprintf(cmd.hostname, sizeof cmd.hostname, "%s", ctl_opt_val(&opts[0]));
    }
    if (ctl_opt_val(&opts[2]) != NULL) {
        if (strlen(ctl_opt_val(&opts[2])) > ST_ENDPOINT_MAX)
            return ctl_usage(usage, "endpoint too long");
        snprintf(cmd.endpoint, sizeof cmd.endpoint, "%s", ctl_opt_val(&opts[2]));
    }
    rv = ctl_connect(CTL_AUTH_AGENT, &cl);
    if (rv != CTL_EXIT_OK)
        return rv;
    if (cmd.endpoint[0] == '\0') {
        /* No agent endpoint given: register the address the registry sees
         * us at, as the public registry does for an empty listen address. */
        uint32_t me;
        char errmsg[REG_ERRMSG_SIZE];
        int crv = cl_whoami(cl, &me, errmsg);
        if (crv != REG_OK) {
            rv = ctl_fail_reg(crv, errmsg, NULL);
            goto out;
        }
        cl_local_endpoint(cl, cmd.endpoint, sizeof cmd.endpoint);
    }
    rv = ctl_write(cl, &cmd, &res, NULL);
    if (rv == CTL_EXIT_OK) {
        d = json_pack("{s:i, s:b, s:s, s:s}", "node_id", (json_int_t)res.node, "public",
                      cmd.flag, "status",
                      res.status == ST_STATUS_RETURNING ? "returning" : "registered",
                      "endpoint", cmd.endpoint);
        add_address(d);
        if (cmd.hostname[0] != '\0')
            json_object_set_new(d, "hostname", json_string(cmd.hostname));
        rv = ctl_ok(d, node_text);
    }
out:
    cl_close(cl);
    return rv;
}

static int no_args(int argc, char **argv, const char *usage)
{
    const char *pos[1];
    size_t np;

    return ctl_parse(argc, argv, NULL, 0, pos, 0, 0, &np, usage);
}

static int cmd_simple(int argc, char **argv)
{
    struct st_cmd cmd;
    char usage[64];
    int rv;

    snprintf(usage, sizeof usage, "pilotctl %s", argv[0]);
    rv = no_args(argc, argv, usage);
    if (rv != CTL_EXIT_OK)
        return rv;
    memset(&cmd, 0, sizeof cmd);
    if (strcmp(argv[0], "deregister") == 0) {
        cmd.op = ST_CMD_DEREGISTER;
        return simple_write(&cmd, json_pack("{s:s}", "status", "deregistered"), NULL);
    }
    if (strcmp(argv[0], "clear-hostname") == 0) {
        cmd.op = ST_CMD_SET_HOSTNAME;
        return simple_write(&cmd, json_pack("{s:s}", "hostname", ""), NULL);
    }
    cmd.op = ST_CMD_SET_VISIBILITY;
    cmd.flag = strcmp(argv[0], "set-public") == 0;
    return simple_write(&cmd, json_pack("{s:b}", "public", cmd.flag), NULL);
}

static int cmd_set_hostname(int argc, char **argv)
{
    static const char usage[] = "pilotctl set-hostname <hostname>";
    const char *pos[1];
    size_t np;
    struct st_cmd cmd;
    int rv;

    rv = ctl_parse(argc, argv, NULL, 0, pos, 1, 1, &np, usage);
    if (rv != CTL_EXIT_OK)
        return rv;
    if (!st_valid_name(pos[0]))
        return ctl_fail(CTL_EXIT_ERROR, "invalid_argument",
                        "hostnames are [a-z0-9-], 1-63 characters, not localhost/backbone/"
                        "broadcast",
                        "invalid hostname \"%s\"", pos[0]);
    memset(&cmd, 0, sizeof cmd);
    cmd.op = ST_CMD_SET_HOSTNAME;
    snprintf(cmd.hostname, sizeof cmd.hostname, "%s", pos[0]);
    return simple_write(&cmd, json_pack("{s:s}", "hostname", pos[0]), NULL);
}

static int cmd_set_tags(int argc, char **argv)
{
    static const char usage[] = "pilotctl set-tags <tag>...";
    const char *pos[ST_TAGS_MAX + 1];
    size_t np;
    struct st_cmd cmd;
    json_t *tags;
    int rv;

    rv = ctl_parse(argc, argv, NULL, 0, pos, 0, ST_TAGS_MAX + 1, &np, usage);
    if (rv != CTL_EXIT_OK)
        return rv;
    if (np > ST_TAGS_MAX)
        return ctl_usage(usage, "at most %d tags", ST_TAGS_MAX);
    memset(&cmd, 0, sizeof cmd);
    cmd.op = ST_CMD_SET_TAGS;
    tags = json_array();
    for (size_t i = 0; i < np; i++) {
        const char *t = pos[i][0] == '#' ? pos[i] + 1 : pos[i];
        if (!st_valid_tag(pos[i])) {
            json_decref(tags);
            return ctl_fail(CTL_EXIT_ERROR, "invalid_argument",
                            "tags are [a-z0-9-], 1-32 characters, optional leading #",
                            "invalid tag \"%s\"", pos[i]);
        }
        snprintf(cmd.tags[i], sizeof cmd.tags[i], "%s", t);
        json_array_append_new(tags, json_string(t));
    }
    cmd.n_tags = (uint8_t)np;
    return simple_write(&cmd, json_pack("{s:o}", "tags", tags), NULL);
}

static int cmd_rotate_key(int argc, char **argv)
{
    char home[4096], idpath[4200], newpath[4200], pk_b64[64];
    uint8_t pk[32], sk[CL_SECRET_KEY_LEN];
    struct st_cmd cmd;
    int rv;

    rv = no_args(argc, argv, "pilotctl rotate-key");
    if (rv == CTL_EXIT_OK)
        rv = ctl_home(home, sizeof home);
    if (rv != CTL_EXIT_OK)
        return rv;
    snprintf(idpath, sizeof idpath, "%s/identity", home);
    snprintf(newpath, sizeof newpath, "%s/identity.new", home);
    if (sodium_init() < 0)
        return ctl_fail(CTL_EXIT_ERROR, "internal", NULL, "libsodium failed to initialise");
    crypto_sign_keypair(pk, sk);
    /* The new key is on disk before the registry learns it, so a crash in
     * between never leaves the node bound to a key nobody holds. */
    rv = ctl_identity_save(newpath, sk);
    sodium_memzero(sk, sizeof sk);
    if (rv != CTL_EXIT_OK)
        return rv;
    memset(&cmd, 0, sizeof cmd);
    cmd.op = ST_CMD_ROTATE_KEY;
    memcpy(cmd.key, pk, sizeof pk);
    sodium_bin2base64(pk_b64, sizeof pk_b64, pk, sizeof pk, sodium_base64_VARIANT_ORIGINAL);
    rv = simple_write(&cmd, json_pack("{s:s}", "public_key", pk_b64),
                      "the new key is kept in identity.new; the old one is still in use");
    if (rv == CTL_EXIT_OK && rename(newpath, idpath) != 0)
        ctl_warn("key rotated but %s could not replace %s: move it by hand", newpath, idpath);
    if (rv != CTL_EXIT_OK)
        remove(newpath);
    return rv;
}

static int read_node(const char *op, const char *usage, int argc, char **argv)
{
    const char *pos[1];
    size_t np;
    struct cl_client *cl = NULL;
    struct proto_args a;
    json_t *d = NULL;
    int rv;

    rv = ctl_parse(argc, argv, NULL, 0, pos, 1, 1, &np, usage);
    if (rv != CTL_EXIT_OK)
        return rv;
    memset(&a, 0, sizeof a);
    rv = ctl_connect(CTL_AUTH_AGENT, &cl);
    if (rv != CTL_EXIT_OK)
        return rv;
    if (strcmp(op, "resolve_hostname") == 0) {
        if (!st_valid_name(pos[0])) {
            rv = ctl_fail(CTL_EXIT_ERROR, "invalid_argument", NULL, "invalid hostname \"%s\"",
                          pos[0]);
            goto out;
        }
        snprintf(a.hostname, sizeof a.hostname, "%s", pos[0]);
    } else {
        rv = ctl_node_arg(cl, pos[0], &a.node);
        if (rv != CTL_EXIT_OK)
            goto out;
    }
    rv = ctl_read(cl, op, &a, &d,
                  "the node is private or unknown: establish trust first (pilotctl handshake "
                  "<node> \"reason\") or share a network");
    if (rv == CTL_EXIT_OK) {
        add_address(d);
        rv = ctl_ok(d, node_text);
    }
out:
    cl_close(cl);
    return rv;
}

static int cmd_whoami(int argc, char **argv)
{
    struct cl_client *cl = NULL;
    json_t *d = NULL;
    int rv;

    rv = no_args(argc, argv, "pilotctl whoami");
    if (rv == CTL_EXIT_OK)
        rv = ctl_connect(CTL_AUTH_ANY, &cl);
    if (rv != CTL_EXIT_OK)
        return rv;
    rv = ctl_read(cl, "whoami", NULL, &d, NULL);
    if (rv == CTL_EXIT_OK) {
        add_address(d);
        rv = ctl_ok(d, node_text);
    }
    cl_close(cl);
    return rv;
}

int agent_main(int argc, char **argv)
{
    const char *c = argv[0];

    if (strcmp(c, "register") == 0)
        return cmd_register(argc, argv);
    if (strcmp(c, "set-hostname") == 0)
        return cmd_set_hostname(argc, argv);
    if (strcmp(c, "set-tags") == 0)
        return cmd_set_tags(argc, argv);
    if (strcmp(c, "rotate-key") == 0)
        return cmd_rotate_key(argc, argv);
    if (strcmp(c, "whoami") == 0)
        return cmd_whoami(argc, argv);
    if (strcmp(c, "lookup") == 0)
        return read_node("lookup", "pilotctl lookup <node>", argc, argv);
    if (strcmp(c, "resolve") == 0)
        return read_node("resolve", "pilotctl resolve <node>", argc, argv);
    if (strcmp(c, "find") == 0)
        return read_node("resolve_hostname", "pilotctl find <hostname>", argc, argv);
    return cmd_simple(argc, argv);
}
