/* ops_http.c: the node's side of the HTTP operations listener (--http,
 * issue 6 item 2): the registry/http provider that answers /readyz,
 * /readyz/leader, /status and /metrics from raft-glue's status, the state
 * machine's counters and the node's own counters.
 *
 * Readiness is what a load balancer needs (operations-conventions §C):
 * the node knows a leader (a node cut off in a minority loses it within an
 * election timeout, because raft turns it into a candidate and a leader
 * without a majority steps down), a leader has committed its leader-init
 * barrier, a follower knows the leader's client address (else it could not
 * forward), and the node has applied what it knows to be committed up to a
 * small lag. /livez is answered by registry/http alone and never depends on
 * any of this. */
#include <jansson.h>
#include <string.h>

#include "srv_internal.h"

/* Applied may trail commit by this many entries and still be ready: a
 * follower under write load is always a few entries behind. */
#define SRV__READY_LAG 256

bool srv__ready(struct srv *s, char *why, size_t why_len)
{
    struct glue_status st;
    char leader_addr[ST_ADDR_MAX + 1];
    uint64_t leader_id = 0;
    bool ok = false;
    if (s->stopping || s->glue == NULL) {
        snprintf(why, why_len, "stopping");
        goto out;
    }
    glue_status(s->glue, &st);
    srv__leader_hint(s, &leader_id, leader_addr);
    if (st.failed) {
        snprintf(why, why_len, "failed");
    } else if (st.leader_id == 0) {
        snprintf(why, why_len, "no leader (state %s, term %llu)", glue_state_name(st.state),
                 (unsigned long long)st.term);
    } else if (st.state == GLUE_LEADER && !st.ready) {
        snprintf(why, why_len, "leader-init barrier not committed yet");
    } else if (st.state != GLUE_LEADER && leader_addr[0] == '\0') {
        /* Until the leader's client address is replicated this node could
         * not forward a single request. */
        snprintf(why, why_len, "leader %llu's client address not known yet",
                 (unsigned long long)st.leader_id);
    } else if (st.commit_index > st.applied_index + SRV__READY_LAG) {
        snprintf(why, why_len, "catching up: applied %llu of %llu",
                 (unsigned long long)st.applied_index, (unsigned long long)st.commit_index);
    } else {
        ok = true;
    }
out:
    return ok;
}

static bool p_ready(void *data, char *why, size_t why_len)
{
    return srv__ready(data, why, why_len);
}

static bool p_is_leader(void *data)
{
    struct srv *s = data;
    char why[8];
    return s->glue != NULL && glue_ready(s->glue) && srv__ready(s, why, sizeof why);
}

static json_t *members_json(struct srv *s)
{
    struct glue_server conf[GLUE_MAX_PEERS * 4];
    struct st_cluster_member m;
    unsigned n = glue_configuration(s->glue, conf, sizeof conf / sizeof conf[0]), i;
    json_t *arr = json_array();
    for (i = 0; i < n; i++) {
        bool known = st_cluster_member_get(s->state, conf[i].id, &m) == REG_OK;
        json_array_append_new(
            arr, json_pack("{s:I, s:s, s:s, s:s, s:s, s:s}", "id", (json_int_t)conf[i].id,
                           "name", known ? m.name : "", "role", glue_role_name(conf[i].role),
                           "raft_addr", conf[i].address, "client_addr",
                           known ? m.client_addr : "", "http_addr", known ? m.http_addr : ""));
    }
    return arr;
}

static void p_status(void *data, struct http_buf *out)
{
    struct srv *s = data;
    struct glue_status st;
    char hash[2 * ST_HASH_LEN + 1], leader_addr[ST_ADDR_MAX + 1], why[128];
    uint64_t leader_id = 0;
    json_t *o;
    char *text;
    if (s->glue == NULL) {
        http_buf_printf(out, "{\"id\":%llu,\"role\":\"stopping\"}", (unsigned long long)s->id);
        return;
    }
    glue_status(s->glue, &st);
    srv__leader_hint(s, &leader_id, leader_addr);
    srv__state_hash_hex(s, hash);
    bool ready = srv__ready(s, why, sizeof why);
    o = json_pack("{s:I, s:s, s:s, s:I, s:{s:I, s:s}, s:I, s:I, s:I, s:b, s:s, s:o, s:s, s:s, "
                  "s:b}",
                  "id", (json_int_t)s->id, "name", s->cfg.name, "role", glue_state_name(st.state),
                  "term", (json_int_t)st.term, "leader", "id", (json_int_t)leader_id,
                  "client_addr", leader_addr, "commit_index", (json_int_t)st.commit_index,
                  "applied_index", (json_int_t)st.applied_index, "last_index",
                  (json_int_t)st.last_index, "ready", ready, "not_ready_reason",
                  ready ? "" : why, "members", members_json(s), "state_hash", hash,
                  "version", SRV_VERSION, "restoring", srv__restore_busy(s));
    text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    if (text == NULL) {
        out->failed = true;
    } else {
        http_buf_printf(out, "%s", text);
    }
    free(text);
    json_decref(o);
}

static void p_metrics(void *data, struct http_buf *b)
{
    struct srv *s = data;
    struct glue_status st;
    struct st_stats ss;
    char why[8];
    if (s->glue == NULL) {
        return;
    }
    glue_status(s->glue, &st);
    st_stats(s->state, &ss);
    http_buf_printf(b, "# HELP pilot_build_info Build of this node (value is always 1).\n"
                       "# TYPE pilot_build_info gauge\n"
                       "pilot_build_info{version=\"%s\"} 1\n",
                    SRV_VERSION);
    http_prom_gauge(b, "pilot_raft_has_leader", "1 if this node knows a leader.",
                    st.leader_id != 0 ? 1 : 0);
    http_prom_gauge(b, "pilot_raft_is_leader", "1 if this node is the leader.",
                    st.state == GLUE_LEADER ? 1 : 0);
    http_prom_gauge(b, "pilot_ready", "1 if /readyz answers 200.",
                    srv__ready(s, why, sizeof why) ? 1 : 0);
    http_prom_counter(b, "pilot_raft_leader_changes_total",
                      "Times the leader known to this node changed.", (double)st.leader_changes);
    http_prom_gauge(b, "pilot_raft_term", "Current raft term.", (double)st.term);
    http_prom_gauge(b, "pilot_raft_commit_index", "Highest committed raft index known.",
                    (double)st.commit_index);
    http_prom_gauge(b, "pilot_raft_applied_index", "Highest raft index applied here.",
                    (double)st.applied_index);
    http_prom_gauge(b, "pilot_raft_last_index", "Last raft index in this node's log.",
                    (double)st.last_index);
    http_prom_counter(b, "pilot_raft_proposals_committed_total",
                      "Ops proposed by this node and committed.", (double)st.committed);
    http_prom_counter(b, "pilot_raft_proposals_failed_total",
                      "Ops proposed by this node that ended with an error.",
                      (double)st.failed_ops);
    http_prom_gauge(b, "pilot_raft_proposals_pending", "Ops queued or in flight.",
                    (double)st.pending);
    http_prom_counter(b, "pilot_raft_read_barriers_total", "Read barriers issued.",
                      (double)st.barriers);
    http_prom_counter(b, "pilot_raft_config_refreshes_total",
                      "Configuration refreshes (raft 0.15 rollback mitigation).",
                      (double)st.config_refreshes);
    http_prom_counter(b, "pilot_raft_log_truncates_total",
                      "Conflicting log suffixes truncated on this node.",
                      (double)st.log_truncates);
    http_prom_counter(b, "pilot_raft_barriers_deferred_total",
                      "Truncates and snapshot writes held back behind another "
                      "(raft 0.15 dropped-barrier mitigation).",
                      (double)st.barriers_deferred);
    http_prom_counter(b, "pilot_raft_leader_probes_total",
                      "TCP probes of a silent leader (fast failover).", (double)st.leader_probes);
    http_prom_counter(b, "pilot_raft_leader_probes_refused_total",
                      "Probes refused: the leader process was gone.",
                      (double)st.leader_probes_refused);
    http_prom_counter(b, "pilot_raft_fast_elections_total",
                      "Elections brought forward after a refused probe.",
                      (double)st.fast_elections);
    http_prom_gauge(b, "pilot_disk_low_space", "1 while proposals are refused for disk space.",
                    st.low_space ? 1 : 0);
    http_prom_hist(b, "pilot_raft_commit_duration_seconds",
                   "Write latency on the leader: submit to applied.", &s->commit_hist);
    http_prom_hist(b, "pilot_fsm_apply_duration_seconds",
                   "Time to apply one committed entry to the state machine.", &s->apply_hist);
    http_prom_counter(b, "pilot_requests_forwarded_total",
                      "Requests this node forwarded to the leader.", (double)s->n_forwarded);
    http_prom_gauge(b, "pilot_agents_registered", "Registered agents.", (double)ss.nodes);
    http_prom_gauge(b, "pilot_agents_online", "Agents currently online.",
                    (double)ss.nodes_online);
    http_prom_gauge(b, "pilot_networks", "Networks (excluding the backbone).",
                    (double)ss.networks);
    http_prom_gauge(b, "pilot_trust_pairs", "Trust pairs.", (double)ss.trust_pairs);
    http_prom_gauge(b, "pilot_handshakes_pending", "Pending handshakes.", (double)ss.pending);
    http_prom_gauge(b, "pilot_clients_connected", "Open client connections on this node.",
                    (double)s->n_conns);
}

int srv__http_start(struct srv *s, char errmsg[static REG_ERRMSG_SIZE])
{
    struct http_provider p = {
        .data = s,
        .ready = p_ready,
        .is_leader = p_is_leader,
        .status_json = p_status,
        .metrics = p_metrics,
    };
    int rv = REG_OK;
    if (s->cfg.http[0] == '\0') {
        goto out;
    }
    rv = http_start(&s->http, s->loop, s->cfg.http, &p, errmsg);
    if (rv == REG_OK) {
        srv_log(SRV_LOG_INFO, "http_listening", "http=%s", s->cfg.http);
    }
out:
    return rv;
}

void srv__http_stop(struct srv *s)
{
    http_stop(s->http);
    s->http = NULL;
}
