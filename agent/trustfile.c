/* trustfile.c: the local trust mirror, $PILOT_HOME/trust.json.
 *
 * The cluster is the source of truth for trust (DESIGN.md §6); the daemon
 * keeps a readable copy for tools and people (registry-reference.md §6.2):
 *   {"node_id", "updated_at",
 *    "trusted":  [{node_id, public_key, approved_at, mutual, network?}],
 *    "pending":  [{node_id, justification, received_at}],   (incoming)
 *    "outgoing": [{node_id, justification, sent_at}],       (handshake state)
 *    "rejections": [{node_id, reason, at}]}
 * Times are RFC 3339 UTC. Written through a temporary file, fsync and
 * rename (pilotctl's ctl_write_file), so a reader never sees half a file.
 * Runs on a pool thread with its own client; the daemon never reads it. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>

#include "agent_internal.h"
#include "ctl.h"

#define MIRROR_LIST_MAX 4096

static json_t *rfc3339(int64_t ms)
{
    char buf[40];
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return json_string(buf);
}

/* Public key of a trusted peer (lookup is allowed for trusted peers). */
static json_t *peer_key(struct cl_client *cl, uint32_t node)
{
    struct proto_args a = {.node = node};
    struct cl_request rq = {.op = "lookup", .args = &a};
    struct cl_response rs;
    struct proto_arena arena;
    struct st_node n;
    char errmsg[REG_ERRMSG_SIZE];
    char b64[64];
    json_t *out = json_null();
    proto_arena_init(&arena);
    if (cl_call(cl, &rq, &rs) == REG_OK &&
        proto_node_decode(&rs.result, &n, &arena, errmsg) == REG_OK) {
        sodium_bin2base64(b64, sizeof b64, n.key, ST_KEY_LEN, sodium_base64_VARIANT_ORIGINAL);
        json_decref(out);
        out = json_string(b64);
    }
    proto_arena_free(&arena);
    cl_response_free(&rs);
    return out;
}

static int fetch(struct cl_client *cl, const char *op, struct cl_response *rs,
                 char errmsg[static REG_ERRMSG_SIZE])
{
    struct cl_request rq = {.op = op};
    int rv = cl_call(cl, &rq, rs);
    if (rv != REG_OK) {
        reg_errmsgf(errmsg, "%s: %s", op, rs->message);
    }
    return rv;
}

static int add_trusted(struct cl_client *cl, const struct proto_val *res, json_t *out,
                       char errmsg[static REG_ERRMSG_SIZE])
{
    struct proto_val arr, v;
    struct proto_iter it;
    struct st_trust t;
    int rv = proto_get_array(res, "trust", 0, MIRROR_LIST_MAX, &arr, errmsg);
    if (rv != REG_OK || arr.type == PROTO_T_NONE) {
        return rv;
    }
    proto_iter_init(&it, &arr);
    while (proto_iter_next(&it, &v)) {
        json_t *e;
        if ((rv = proto_trust_decode(&v, &t, errmsg)) != REG_OK) {
            return rv;
        }
        e = json_pack("{s:I, s:o, s:o, s:b}", "node_id", (json_int_t)t.peer, "public_key",
                      peer_key(cl, t.peer), "approved_at", rfc3339(t.approved_ms), "mutual",
                      t.mutual);
        if (e != NULL && t.network != 0) {
            json_object_set_new(e, "network", json_integer(t.network));
        }
        json_array_append_new(out, e);
    }
    return REG_OK;
}

static int add_pending(const struct proto_val *res, const char *key, bool incoming,
                       json_t *out, struct proto_arena *arena,
                       char errmsg[static REG_ERRMSG_SIZE])
{
    struct proto_val arr, v;
    struct proto_iter it;
    struct st_pending p;
    int rv = proto_get_array(res, key, 0, MIRROR_LIST_MAX, &arr, errmsg);
    if (rv != REG_OK || arr.type == PROTO_T_NONE) {
        return rv;
    }
    proto_iter_init(&it, &arr);
    while (proto_iter_next(&it, &v)) {
        if ((rv = proto_pending_decode(&v, &p, arena, errmsg)) != REG_OK) {
            return rv;
        }
        json_array_append_new(out, json_pack("{s:I, s:s, s:o}", "node_id",
                                             (json_int_t)(incoming ? p.from : p.to),
                                             "justification", p.justification,
                                             incoming ? "received_at" : "sent_at",
                                             rfc3339(p.received_ms)));
    }
    return REG_OK;
}

static int add_outcomes(const struct proto_val *res, json_t *out, struct proto_arena *arena,
                        char errmsg[static REG_ERRMSG_SIZE])
{
    struct proto_val arr, v;
    struct proto_iter it;
    struct st_outcome x;
    int rv = proto_get_array(res, "outcomes", 0, MIRROR_LIST_MAX, &arr, errmsg);
    if (rv != REG_OK || arr.type == PROTO_T_NONE) {
        return rv;
    }
    proto_iter_init(&it, &arr);
    while (proto_iter_next(&it, &v)) {
        if ((rv = proto_outcome_decode(&v, &x, arena, errmsg)) != REG_OK) {
            return rv;
        }
        json_array_append_new(out, json_pack("{s:I, s:s, s:o}", "node_id", (json_int_t)x.peer,
                                             "reason", x.reason, "at", rfc3339(x.at_ms)));
    }
    return REG_OK;
}

int agent__mirror_write(struct cl_client *cl, const char *home, uint32_t self,
                        char errmsg[static REG_ERRMSG_SIZE])
{
    struct cl_response trs, prs;
    struct proto_arena arena;
    struct timespec now;
    json_t *root = NULL, *trusted, *pending, *outgoing, *rejections;
    char path[AGENT__PATH_MAX + 32];
    char *text = NULL;
    int rv, e;

    memset(&prs, 0, sizeof prs);
    proto_arena_init(&arena);
    rv = fetch(cl, "trust_list", &trs, errmsg);
    if (rv != REG_OK) {
        goto out;
    }
    rv = fetch(cl, "pending", &prs, errmsg);
    if (rv != REG_OK) {
        goto out;
    }
    clock_gettime(CLOCK_REALTIME, &now);
    trusted = json_array();
    pending = json_array();
    outgoing = json_array();
    rejections = json_array();
    root = json_pack("{s:I, s:o, s:o, s:o, s:o, s:o}", "node_id", (json_int_t)self,
                     "updated_at", rfc3339((int64_t)now.tv_sec * 1000), "trusted", trusted,
                     "pending", pending, "outgoing", outgoing, "rejections", rejections);
    if (root == NULL) {
        reg_errmsgf(errmsg, "out of memory");
        rv = REG_NOMEM;
        goto out;
    }
    if ((rv = add_trusted(cl, &trs.result, trusted, errmsg)) != REG_OK ||
        (rv = add_pending(&prs.result, "incoming", true, pending, &arena, errmsg)) != REG_OK ||
        (rv = add_pending(&prs.result, "outgoing", false, outgoing, &arena, errmsg)) !=
            REG_OK ||
        (rv = add_outcomes(&prs.result, rejections, &arena, errmsg)) != REG_OK) {
        goto out;
    }
    text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    snprintf(path, sizeof path, "%s/%s", home, AGENT_TRUST_NAME);
    e = text != NULL ? ctl_write_file(path, text, 0600) : ENOMEM;
    if (e != 0) {
        reg_errmsgf(errmsg, "cannot write %s: %s", path, strerror(e));
        rv = REG_INTERNAL;
    }
out:
    free(text);
    json_decref(root);
    proto_arena_free(&arena);
    cl_response_free(&prs);
    cl_response_free(&trs);
    return rv;
}
