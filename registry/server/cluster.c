/* cluster.c: cluster operations and the node's own membership upkeep
 * (DESIGN.md §8, raft-0.15-notes §9.5-9.6, operations-conventions §B).
 *
 * Ops (admin only except cluster_status, which any authenticated caller may
 * read and which every node answers for itself):
 *   cluster_add {member}: MEMBER_UPSERT (so hints name the node's client
 *     address cluster-wide) then glue_member_add: spare -> standby ->
 *     caught up -> voter;
 *   cluster_remove {member:{raft_id}, force}: glue_member_remove, then
 *     MEMBER_DELETE;
 *   cluster_transfer {member:{raft_id}} (0 or absent: any voter).
 *
 * Upkeep, from a timer:
 *   - self-registration: a node that is in the raft configuration makes sure
 *     the replicated members map holds its current addresses. The leader
 *     proposes MEMBER_UPSERT itself; a follower sends it to the leader over
 *     a peer link. Founding nodes thus publish their client address as soon
 *     as a leader exists, which is what followers need to forward;
 *   - --join HOST:PORT: until this node is a voter, ask the node at HOST:PORT
 *     (peer-authenticated with the cluster key) to cluster_add it, following
 *     leader hints. */
#include <string.h>

#include "srv_internal.h"

static void self_member(struct srv *s, struct st_cluster_member *m)
{
    memset(m, 0, sizeof *m);
    m->raft_id = s->id;
    snprintf(m->name, sizeof m->name, "%s", s->cfg.name);
    snprintf(m->raft_addr, sizeof m->raft_addr, "%s", s->cfg.raft);
    snprintf(m->client_addr, sizeof m->client_addr, "%s", s->cfg.listen);
    snprintf(m->http_addr, sizeof m->http_addr, "%s", s->cfg.http);
}

static int self_role(struct srv *s)
{
    struct glue_server conf[GLUE_MAX_PEERS * 4];
    unsigned n = glue_configuration(s->glue, conf, sizeof conf / sizeof conf[0]), i;
    for (i = 0; i < n; i++) {
        if (conf[i].id == s->id) {
            return conf[i].role;
        }
    }
    return -1;
}

/* ---- cluster_status ------------------------------------------------------ */

static int status_result(struct proto_out *o, struct srv *s, struct srv__req *r, void *arg)
{
    struct glue_status st;
    char hash[2 * ST_HASH_LEN + 1];
    uint64_t lid;
    char laddr[ST_ADDR_MAX + 1];
    char why[128];
    (void)r;
    (void)arg;
    glue_status(s->glue, &st);
    srv__state_hash_hex(s, hash);
    srv__leader_hint(s, &lid, laddr);
    proto_put_map(o, 17);
    proto_put_str(o, "id");
    proto_put_u64(o, s->id);
    proto_put_str(o, "name");
    proto_put_str(o, s->cfg.name);
    proto_put_str(o, "raft_addr");
    proto_put_str(o, s->cfg.raft);
    proto_put_str(o, "client_addr");
    proto_put_str(o, s->cfg.listen);
    proto_put_str(o, "http_addr");
    proto_put_str(o, s->cfg.http);
    proto_put_str(o, "state");
    proto_put_str(o, glue_state_name(st.state));
    proto_put_str(o, "role");
    proto_put_str(o, glue_role_name(self_role(s)));
    proto_put_str(o, "term");
    proto_put_u64(o, st.term);
    proto_put_str(o, "commit_index");
    proto_put_u64(o, st.commit_index);
    proto_put_str(o, "applied_index");
    proto_put_u64(o, st_applied_index(s->state));
    proto_put_str(o, "last_index");
    proto_put_u64(o, st.last_index);
    proto_put_str(o, "leader_id");
    proto_put_u64(o, lid);
    proto_put_str(o, "leader_addr");
    proto_put_str(o, laddr);
    /* ready: raft-glue's leader readiness (leader-init barrier committed;
     * always false on a follower). serving: what /readyz answers (has a
     * leader, caught up, can forward), which operators want to see. */
    proto_put_str(o, "ready");
    proto_put_bool(o, st.ready);
    proto_put_str(o, "serving");
    proto_put_bool(o, srv__ready(s, why, sizeof why));
    proto_put_str(o, "state_hash");
    proto_put_str(o, hash);
    proto_put_str(o, "cluster_id");
    proto_put_str(o, s->cfg.cluster_id);
    return o->err;
}

void srv__cluster_status(struct srv__req *r)
{
    srv__reply_result(r, status_result, NULL, true, st_applied_index(r->srv->state));
}

/* ---- cluster_add ------------------------------------------------------------ */

static void add_done(void *data, int status, const char *msg)
{
    struct srv__req *r = data;
    if (status != REG_OK) {
        srv__reply_error(r, status, "cluster_add %llu: %s",
                         (unsigned long long)r->rargs.member.raft_id, msg ? msg : "");
        return;
    }
    srv_log(SRV_LOG_INFO, "member_added", "raft_id=%llu raft_addr=%s",
            (unsigned long long)r->rargs.member.raft_id, r->rargs.member.raft_addr);
    srv__reply_result(r, NULL, NULL, false, 0);
}

static void add_upserted(struct srv__req *ir, int code, const struct st_result *res,
                         uint64_t index)
{
    struct srv__req *r = ir->done_data;
    struct srv *s = r->srv;
    int rv;
    (void)index;
    if (code == REG_OK && res != NULL && res->code != REG_OK) {
        code = res->code;
    }
    if (code != REG_OK) {
        srv__reply_error(r, code, "cluster_add: recording the member failed");
        return;
    }
    rv = glue_member_add(s->glue, r->rargs.member.raft_id, r->rargs.member.raft_addr, add_done,
                         r);
    if (rv != REG_OK) {
        srv__reply_error(r, rv, "cluster_add: raft refused the change");
    }
}

static void op_add(struct srv__req *r)
{
    struct srv *s = r->srv;
    struct st_cmd cmd;
    const struct st_cluster_member *m = &r->rargs.member;
    char host[64];
    uint16_t port;
    int rv;
    if (m->raft_id == 0 || srv_parse_hostport(m->raft_addr, host, &port) != 0 ||
        (m->client_addr[0] != '\0' && srv_parse_hostport(m->client_addr, host, &port) != 0)) {
        srv__reply_error(r, REG_INVALID_ARGUMENT,
                         "cluster_add needs member.raft_id > 0 and IPV4:PORT addresses");
        return;
    }
    if (!srv__at_leader(r)) {
        return;
    }
    if (!glue_ready(s->glue)) {
        srv__reply_error(r, REG_UNAVAILABLE, "leader not ready yet; retry shortly");
        return;
    }
    memset(&cmd, 0, sizeof cmd);
    cmd.op = ST_CMD_MEMBER_UPSERT;
    cmd.member = *m;
    rv = srv__submit_internal(s, &cmd, add_upserted, r);
    if (rv != REG_OK) {
        srv__reply_error(r, rv, "cluster_add: cannot propose the member record");
    }
}

/* ---- cluster_remove ---------------------------------------------------------- */

static void remove_deleted(struct srv__req *ir, int code, const struct st_result *res,
                           uint64_t index)
{
    struct srv__req *r = ir->done_data;
    (void)res;
    if (code != REG_OK) {
        srv__reply_error(r, code, "removed from raft, but the member record was not deleted");
        return;
    }
    srv__reply_result(r, NULL, NULL, true, index);
}

static void remove_done(void *data, int status, const char *msg)
{
    struct srv__req *r = data;
    struct srv *s = r->srv;
    struct st_cmd cmd;
    int rv;
    if (status != REG_OK) {
        srv__reply_error(r, status, "cluster_remove %llu: %s",
                         (unsigned long long)r->rargs.member.raft_id, msg ? msg : "");
        return;
    }
    srv_log(SRV_LOG_INFO, "member_removed", "raft_id=%llu",
            (unsigned long long)r->rargs.member.raft_id);
    memset(&cmd, 0, sizeof cmd);
    cmd.op = ST_CMD_MEMBER_DELETE;
    cmd.member.raft_id = r->rargs.member.raft_id;
    rv = srv__submit_internal(s, &cmd, remove_deleted, r);
    if (rv != REG_OK) {
        srv__reply_error(r, rv, "removed from raft, but the member record was not deleted");
    }
}

static void op_remove(struct srv__req *r)
{
    struct srv *s = r->srv;
    char errmsg[REG_ERRMSG_SIZE];
    bool force = false;
    int rv = proto_get_bool(&r->args, "force", 0, &force, errmsg);
    if (rv != REG_OK) {
        srv__reply_error(r, rv, "%s", errmsg);
        return;
    }
    if (r->rargs.member.raft_id == 0) {
        srv__reply_error(r, REG_INVALID_ARGUMENT, "cluster_remove needs member.raft_id > 0");
        return;
    }
    if (!srv__at_leader(r)) {
        return;
    }
    rv = glue_member_remove(s->glue, r->rargs.member.raft_id, force, remove_done, r);
    if (rv != REG_OK) {
        srv__reply_error(r, rv, "cluster_remove refused");
    }
}

/* ---- cluster_transfer -------------------------------------------------------- */

static void transfer_done(void *data, int status, const char *msg)
{
    struct srv__req *r = data;
    if (status != REG_OK) {
        srv__reply_error(r, status, "cluster_transfer: %s", msg ? msg : "");
        return;
    }
    srv__reply_result(r, NULL, NULL, false, 0);
}

static void op_transfer(struct srv__req *r)
{
    int rv;
    if (!srv__at_leader(r)) {
        return;
    }
    rv = glue_transfer(r->srv->glue, r->rargs.member.raft_id, transfer_done, r);
    if (rv != REG_OK) {
        srv__reply_error(r, rv, "cluster_transfer refused");
    }
}

bool srv__cluster_op(struct srv__req *r)
{
    const char *name = r->op->name;
    if (strcmp(name, "cluster_add") == 0) {
        op_add(r);
    } else if (strcmp(name, "cluster_remove") == 0) {
        op_remove(r);
    } else if (strcmp(name, "cluster_transfer") == 0) {
        op_transfer(r);
    } else {
        return false;
    }
    return true;
}

/* ---- Upkeep: self-registration and joining ----------------------------------- */

static void self_upsert_done(struct srv__req *ir, int code, const struct st_result *res,
                             uint64_t index)
{
    struct srv *s = ir->srv;
    s->self_upsert_busy = false;
    if (code == REG_OK && res != NULL && res->code == REG_OK) {
        srv_log(SRV_LOG_INFO, "member_record_published", "index=%llu",
                (unsigned long long)index);
    } else {
        srv_log(SRV_LOG_WARN, "member_record_publish_failed", "code=%s",
                reg_err_name(code != REG_OK ? code : res != NULL ? res->code : REG_INTERNAL));
    }
}

static void self_upsert_remote_done(void *data, int code, bool sent, const struct proto_response *rs)
{
    struct srv *s = data;
    (void)sent;
    s->self_upsert_busy = false;
    if (code == REG_OK && rs->ok) {
        srv_log(SRV_LOG_INFO, "member_record_published", "via=leader index=%llu",
                (unsigned long long)rs->index);
    } else {
        srv_log(SRV_LOG_WARN, "member_record_publish_failed", "code=%s",
                reg_err_name(code != REG_OK ? code : rs->code));
    }
}

static bool same_member(const struct st_cluster_member *a, const struct st_cluster_member *b)
{
    return a->raft_id == b->raft_id && strcmp(a->name, b->name) == 0 &&
           strcmp(a->raft_addr, b->raft_addr) == 0 && strcmp(a->client_addr, b->client_addr) == 0 &&
           strcmp(a->http_addr, b->http_addr) == 0;
}

static void self_register(struct srv *s)
{
    struct st_cluster_member want, have;
    struct st_cmd cmd;
    struct proto_request rq;
    uint64_t leader;
    char raft_addr[GLUE_ADDR_MAX + 1];
    if (s->self_upsert_busy || self_role(s) < 0) {
        return;
    }
    self_member(s, &want);
    if (st_cluster_member_get(s->state, s->id, &have) == REG_OK && same_member(&want, &have)) {
        return;
    }
    memset(&cmd, 0, sizeof cmd);
    cmd.op = ST_CMD_MEMBER_UPSERT;
    cmd.member = want;
    if (glue_is_leader(s->glue)) {
        if (glue_ready(s->glue) &&
            srv__submit_internal(s, &cmd, self_upsert_done, NULL) == REG_OK) {
            s->self_upsert_busy = true;
        }
        return;
    }
    glue_leader(s->glue, &leader, raft_addr);
    if (leader == 0 || st_cluster_member_get(s->state, leader, &have) != REG_OK ||
        have.client_addr[0] == '\0') {
        return;
    }
    if (s->link != NULL && !srv__link_usable(s->link)) {
        s->link = NULL;
    }
    if (s->link == NULL) {
        s->link = srv__link_open(s, have.client_addr, leader);
        if (s->link == NULL) {
            return;
        }
        srv__link_set_slot(s->link, &s->link);
    }
    memset(&rq, 0, sizeof rq);
    snprintf(rq.op, sizeof rq.op, "%s", st_cmd_name(ST_CMD_MEMBER_UPSERT));
    rq.cmd = &cmd;
    rq.has_on_behalf = true;
    rq.on_behalf_admin = true;
    if (srv__link_call(s->link, &rq, srv__now(s) + 2 * s->cfg.election_timeout_ms,
                       self_upsert_remote_done, s) == REG_OK) {
        s->self_upsert_busy = true;
    }
}

static void join_done(void *data, int code, bool sent, const struct proto_response *rs)
{
    struct srv *s = data;
    (void)sent;
    s->join_busy = false;
    if (code != REG_OK) {
        srv_log(SRV_LOG_WARN, "join_attempt_failed", "target=%s code=%s", s->join_target,
                reg_err_name(code));
        return;
    }
    if (rs->ok) {
        s->joined = true;
        srv_log(SRV_LOG_INFO, "joined", "via=%s", s->join_target);
        /* Safe inside the link's callback: the call is already detached. */
        if (s->join_link != NULL) {
            srv__link_close(s->join_link);
        }
        return;
    }
    srv_log(SRV_LOG_WARN, "join_attempt_failed", "target=%s code=%s", s->join_target,
            reg_err_name(rs->code));
    if (rs->code == REG_NOT_LEADER && rs->has_leader && rs->leader_addr[0] != '\0') {
        snprintf(s->join_target, sizeof s->join_target, "%s", rs->leader_addr);
    } else {
        snprintf(s->join_target, sizeof s->join_target, "%s", s->cfg.join);
    }
    if (s->join_link != NULL) {
        srv__link_close(s->join_link);
    }
}

static void join_step(struct srv *s)
{
    struct proto_request rq;
    struct proto_args args;
    if (s->joined || s->join_busy) {
        return;
    }
    if (self_role(s) == GLUE_ROLE_VOTER) {
        s->joined = true;
        srv_log(SRV_LOG_INFO, "joined", "role=voter");
        return;
    }
    if (s->join_link != NULL && !srv__link_usable(s->join_link)) {
        s->join_link = NULL;
    }
    if (s->join_link == NULL) {
        if (s->join_target[0] == '\0') {
            snprintf(s->join_target, sizeof s->join_target, "%s", s->cfg.join);
        }
        s->join_link = srv__link_open(s, s->join_target, 0);
        if (s->join_link == NULL) {
            return;
        }
        srv__link_set_slot(s->join_link, &s->join_link);
    }
    memset(&args, 0, sizeof args);
    self_member(s, &args.member);
    memset(&rq, 0, sizeof rq);
    snprintf(rq.op, sizeof rq.op, "cluster_add");
    rq.opdef = proto_op_find("cluster_add", strlen("cluster_add"));
    rq.args = &args;
    if (srv__link_call(s->join_link, &rq, srv__now(s) + SRV__CLUSTER_OP_TIMEOUT_MS, join_done,
                       s) == REG_OK) {
        s->join_busy = true;
        srv_log(SRV_LOG_INFO, "join_requested", "target=%s", s->join_target);
    }
}

static void cluster_tick(uv_timer_t *t)
{
    struct srv *s = t->data;
    if (s->stopping) {
        return;
    }
    if (s->cfg.join[0] != '\0') {
        join_step(s);
    }
    self_register(s);
}

void srv__cluster_init(struct srv *s)
{
    uint64_t period = s->cfg.election_timeout_ms / 4;
    uv_timer_init(s->loop, &s->cluster_timer);
    s->cluster_timer.data = s;
    s->open_handles++;
    uv_timer_start(&s->cluster_timer, cluster_tick, 20, period < 20 ? 20 : period > 250 ? 250 : period);
}

static void timer_closed(uv_handle_t *h)
{
    srv__handle_closed(h->data);
}

void srv__cluster_stop(struct srv *s)
{
    uv_close((uv_handle_t *)&s->cluster_timer, timer_closed);
    if (s->join_link != NULL) {
        srv__link_close(s->join_link);
    }
}
