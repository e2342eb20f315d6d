/* pilotctl trust commands (seed page "Trust"): handshake, pending, approve,
 * reject, trust, untrust. Output fields follow the page: handshake/approve/
 * reject return {status, node_id}; pending returns pending[{node_id,
 * justification, received_at}]; trust returns trusted[{node_id, mutual,
 * network, approved_at}]; untrust returns {node_id}. Times are unix seconds
 * in JSON and UTC date-times in text. */
#include <stdio.h>
#include <string.h>

#include "ctl.h"

/* Convert a millisecond field to unix seconds in place. */
static void ms_to_s(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);

    if (json_is_integer(v))
        json_object_set_new(o, key, json_integer(json_integer_value(v) / 1000));
}

static void add_time_text(json_t *rows, const char *key, const char *text_key)
{
    size_t i;
    json_t *r;
    char buf[32];

    json_array_foreach(rows, i, r) {
        ctl_fmt_time(json_integer_value(json_object_get(r, key)) * 1000, buf, sizeof buf);
        json_object_set_new(r, text_key, json_string(buf));
    }
}

static void status_text(const json_t *d)
{
    const char *st = json_string_value(json_object_get(d, "status"));
    json_int_t id = json_integer_value(json_object_get(d, "node_id"));

    if (st == NULL)
        printf("trust with node %lld revoked\n", (long long)id);
    else if (strcmp(st, "sent") == 0)
        printf("handshake request sent to node %lld\n"
               "the peer approves with: pilotctl approve <your node id>\n",
               (long long)id);
    else if (strcmp(st, "approved") == 0)
        printf("trust established with node %lld\n", (long long)id);
    else if (strcmp(st, "already_trusted") == 0)
        printf("already trusted with node %lld\n", (long long)id);
    else if (strcmp(st, "rejected") == 0)
        printf("handshake from node %lld rejected\n", (long long)id);
    else
        printf("%s: node %lld\n", st, (long long)id);
}

static int node_write(int argc, char **argv, int op, const char *usage, bool text_arg)
{
    const char *pos[2];
    size_t np;
    struct cl_client *cl = NULL;
    struct st_cmd cmd;
    struct st_result res;
    const char *status;
    json_t *d;
    int rv;

    rv = ctl_parse(argc, argv, NULL, 0, pos, 1, text_arg ? 2 : 1, &np, usage);
    if (rv != CTL_EXIT_OK)
        return rv;
    memset(&cmd, 0, sizeof cmd);
    cmd.op = (uint16_t)op;
    if (np == 2) {
        if (strlen(pos[1]) > ST_JUSTIFICATION_MAX)
            return ctl_fail(CTL_EXIT_ERROR, "invalid_argument", NULL,
                            "text too long (%zu bytes, max %d)", strlen(pos[1]),
                            ST_JUSTIFICATION_MAX);
        snprintf(cmd.text, sizeof cmd.text, "%s", pos[1]);
    }
    rv = ctl_target_arg(pos[0], &cmd);
    if (rv != CTL_EXIT_OK)
        return rv;
    rv = ctl_connect(CTL_AUTH_AGENT, &cl);
    if (rv != CTL_EXIT_OK)
        return rv;
    if (rv == CTL_EXIT_OK)
        rv = ctl_write(cl, &cmd, &res,
                       op == ST_CMD_HANDSHAKE ? NULL : "see `pilotctl pending` / `pilotctl trust`");
    if (rv == CTL_EXIT_OK) {
        switch (op) {
        case ST_CMD_HANDSHAKE:
            status = proto_status_name(res.status);
            if (status == NULL || status[0] == '\0')
                status = "sent";
            break;
        case ST_CMD_APPROVE:
            status = "approved";
            break;
        case ST_CMD_REJECT:
            status = "rejected";
            break;
        default:
            status = NULL;
            break;
        }
        /* res.node is the resolved target when it was named by hostname. */
        d = json_pack("{s:i}", "node_id", (json_int_t)(res.node != 0 ? res.node : cmd.node));
        if (status != NULL)
            json_object_set_new(d, "status", json_string(status));
        rv = ctl_ok(d, status_text);
    }
    cl_close(cl);
    return rv;
}

static void pending_text(const json_t *d)
{
    static const struct ctl_col in[] = {
        {"node_id", "NODE ID"}, {"justification", "JUSTIFICATION"}, {"received", "RECEIVED"}};
    static const struct ctl_col rej[] = {
        {"node_id", "NODE ID"}, {"reason", "REASON"}, {"when", "REJECTED AT"}};
    const json_t *p = json_object_get(d, "pending");
    const json_t *r = json_object_get(d, "rejected");

    if (json_array_size(p) == 0)
        printf("no pending handshake requests\n");
    else
        ctl_table(p, in, 3);
    if (json_array_size(r) > 0) {
        printf("\nyour requests rejected:\n");
        ctl_table(r, rej, 3);
    }
}

static void trust_text(const json_t *d)
{
    static const struct ctl_col cols[] = {{"node_id", "NODE ID"},
                                          {"mutual", "MUTUAL"},
                                          {"network_text", "NETWORK"},
                                          {"approved", "APPROVED AT"}};
    const json_t *t = json_object_get(d, "trusted");
    size_t i;
    json_t *r;

    if (json_array_size(t) == 0) {
        printf("no trusted peers\n");
        return;
    }
    json_array_foreach(t, i, r) {
        json_int_t n = json_integer_value(json_object_get(r, "network"));
        json_object_set_new(r, "network_text", n ? json_integer(n) : json_string("-"));
    }
    ctl_table(t, cols, 4);
}

/* Strip rows down to the keys the seed page documents (plus extras). */
static json_t *pick(const json_t *rows, const char *const *keys, size_t n_keys)
{
    json_t *out = json_array(), *r;
    size_t i;

    json_array_foreach(rows, i, r) {
        json_t *o = json_object();
        for (size_t k = 0; k < n_keys; k++) {
            json_t *v = json_object_get(r, keys[k]);
            if (v != NULL)
                json_object_set(o, keys[k], v);
        }
        json_array_append_new(out, o);
    }
    return out;
}

static int list_cmd(int argc, char **argv, bool pending)
{
    const char *pos[1];
    size_t np;
    struct cl_client *cl = NULL;
    json_t *res = NULL, *d, *rows;
    size_t i;
    int rv;

    rv = ctl_parse(argc, argv, NULL, 0, pos, 0, 0, &np,
                   pending ? "pilotctl pending" : "pilotctl trust");
    if (rv == CTL_EXIT_OK)
        rv = ctl_connect(CTL_AUTH_AGENT, &cl);
    if (rv != CTL_EXIT_OK)
        return rv;
    rv = ctl_read(cl, pending ? "pending" : "trust_list", NULL, &res, NULL);
    if (rv != CTL_EXIT_OK)
        goto out;
    if (pending) {
        static const char *const in_keys[] = {"node_id", "justification", "received_at"};
        static const char *const out_keys[] = {"node_id", "justification", "received_at"};
        static const char *const rej_keys[] = {"node_id", "reason", "at"};
        json_t *out_rows, *rej;
        rows = pick(json_object_get(res, "incoming"), in_keys, 3);
        out_rows = pick(json_object_get(res, "outgoing"), out_keys, 3);
        rej = pick(json_object_get(res, "outcomes"), rej_keys, 3);
        /* The other side: "from" for incoming, "to" for outgoing. */
        json_array_foreach(rows, i, d) {
            json_t *src = json_array_get(json_object_get(res, "incoming"), i);
            if (json_object_get(d, "node_id") == NULL && json_object_get(src, "from") != NULL)
                json_object_set(d, "node_id", json_object_get(src, "from"));
        }
        json_array_foreach(out_rows, i, d) {
            json_t *src = json_array_get(json_object_get(res, "outgoing"), i);
            if (json_object_get(src, "to") != NULL)
                json_object_set(d, "node_id", json_object_get(src, "to"));
        }
        json_array_foreach(rows, i, d)
            ms_to_s(d, "received_at");
        json_array_foreach(out_rows, i, d)
            ms_to_s(d, "received_at");
        json_array_foreach(rej, i, d)
            ms_to_s(d, "at");
        d = json_pack("{s:o, s:o, s:o}", "pending", rows, "outgoing", out_rows, "rejected", rej);
        if (!ctl_g.json) {
            add_time_text(json_object_get(d, "pending"), "received_at", "received");
            add_time_text(json_object_get(d, "rejected"), "at", "when");
        }
        rv = ctl_ok(d, pending_text);
    } else {
        static const char *const keys[] = {"node_id", "mutual", "network", "approved_at"};
        rows = pick(json_object_get(res, "trust"), keys, 4);
        json_array_foreach(rows, i, d)
            ms_to_s(d, "approved_at");
        if (!ctl_g.json)
            add_time_text(rows, "approved_at", "approved");
        rv = ctl_ok(json_pack("{s:o}", "trusted", rows), trust_text);
    }
out:
    json_decref(res);
    cl_close(cl);
    return rv;
}

int trust_main(int argc, char **argv)
{
    const char *c = argv[0];

    if (strcmp(c, "handshake") == 0)
        return node_write(argc, argv, ST_CMD_HANDSHAKE,
                          "pilotctl handshake <node|hostname> [\"justification\"]", true);
    if (strcmp(c, "approve") == 0)
        return node_write(argc, argv, ST_CMD_APPROVE, "pilotctl approve <node>", false);
    if (strcmp(c, "reject") == 0)
        return node_write(argc, argv, ST_CMD_REJECT, "pilotctl reject <node> [\"reason\"]",
                          true);
    if (strcmp(c, "untrust") == 0)
        return node_write(argc, argv, ST_CMD_UNTRUST, "pilotctl untrust <node>", false);
    return list_cmd(argc, argv, strcmp(c, "pending") == 0);
}
