/* liveness.c: agent heartbeats and online/offline transitions (DESIGN.md §5).
 *
 * Last-seen times are soft state on the leader only: followers forward
 * heartbeats, nothing about them is replicated. A timer on the leader
 * compares each registered node's replicated `online` flag with what its
 * heartbeats say and proposes only the transitions, in batches (one
 * SET_ONLINE command of at most ST_ONLINE_BATCH_MAX entries, one in flight).
 *
 * Failover: a new leader has no last-seen times, so it counts every node as
 * seen at the moment it took over; nobody is declared offline before one
 * full threshold of the new leadership has passed without a heartbeat. */
#include <string.h>

#include "srv_internal.h"

static void seen_set(struct srv *s, uint32_t id, uint64_t now)
{
    size_t i = id - ST_FIRST_NODE_ID;
    if (i >= s->seen_cap) {
        size_t cap = s->seen_cap == 0 ? 1024 : s->seen_cap;
        uint64_t *p;
        while (cap <= i) {
            cap *= 2;
        }
        p = reg_realloc(s->seen, cap * sizeof *p);
        if (p == NULL) {
            /* Soft state: the node just looks unseen for a while. */
            return;
        }
        memset(p + s->seen_cap, 0, (cap - s->seen_cap) * sizeof *p);
        s->seen = p;
        s->seen_cap = cap;
    }
    s->seen[i] = now;
}

void srv__liveness_seen(struct srv *s, uint32_t node)
{
    if (node >= ST_FIRST_NODE_ID) {
        seen_set(s, node, srv__now(s));
    }
}

static uint64_t seen_get(struct srv *s, uint32_t id)
{
    size_t i = id - ST_FIRST_NODE_ID;
    return i < s->seen_cap ? s->seen[i] : 0;
}

static void batch_done(struct srv__req *r, int code, const struct st_result *res, uint64_t index)
{
    struct srv *s = r->srv;
    s->liveness_busy = false;
    if (code != REG_OK || res == NULL || res->code != REG_OK) {
        srv_log(SRV_LOG_WARN, "liveness_batch_failed", "code=%s",
                reg_err_name(code != REG_OK ? code : res == NULL ? REG_INTERNAL : res->code));
        return;
    }
    srv_log(SRV_LOG_DEBUG, "liveness_batch_applied", "index=%llu",
            (unsigned long long)index);
}

static void liveness_tick(uv_timer_t *t)
{
    struct srv *s = t->data;
    struct st_stats stats;
    struct st_node n;
    struct st_cmd cmd;
    uint64_t now = srv__now(s);
    uint32_t id, k = 0, went_offline = 0;
    int rv;
    if (!glue_is_leader(s->glue)) {
        s->was_leader = false;
        return;
    }
    if (!s->was_leader) {
        s->was_leader = true;
        s->lease_base = now;
        srv_log(SRV_LOG_INFO, "liveness_leases_extended", "threshold_ms=%llu",
                (unsigned long long)s->cfg.offline_after_ms);
    }
    if (!glue_ready(s->glue) || s->liveness_busy || s->stopping) {
        return;
    }
    st_stats(s->state, &stats);
    for (id = ST_FIRST_NODE_ID; id < stats.next_node_id && k < ST_ONLINE_BATCH_MAX; id++) {
        uint64_t last;
        bool alive;
        if (st_node_get(s->state, id, &n) != REG_OK) {
            continue;
        }
        last = seen_get(s, id);
        if (last < s->lease_base) {
            last = s->lease_base;
        }
        alive = now - last < s->cfg.offline_after_ms;
        if (alive != n.online) {
            s->online_buf[k].node = id;
            s->online_buf[k].online = alive;
            went_offline += !alive;
            k++;
        }
    }
    if (k == 0) {
        return;
    }
    memset(&cmd, 0, sizeof cmd);
    cmd.op = ST_CMD_SET_ONLINE;
    cmd.n_online = k;
    cmd.online = s->online_buf;
    rv = srv__submit_internal(s, &cmd, batch_done, NULL);
    if (rv == REG_OK) {
        s->liveness_busy = true;
        srv_log(SRV_LOG_INFO, "liveness_batch_proposed", "transitions=%u offline=%u", k,
                went_offline);
    }
}

static int hb_result(struct proto_out *o, struct srv *s, struct srv__req *r, void *arg)
{
    uint32_t node = (uint32_t)(uintptr_t)arg;
    (void)r;
    proto_put_map(o, 2);
    proto_put_str(o, "node_id");
    proto_put_u64(o, node);
    proto_put_str(o, "offline_after_ms");
    proto_put_u64(o, s->cfg.offline_after_ms);
    return o->err;
}

void srv__heartbeat(struct srv__req *r)
{
    struct srv *s = r->srv;
    struct st_node n;
    uint32_t node;
    if (!srv__at_leader(r)) {
        return;
    }
    /* The answer reads local state without a barrier, so a new leader must
     * first have applied everything committed before its term (leader-init
     * barrier, DESIGN.md §5): until then a registration acknowledged by the
     * previous leader could look missing here and send the agent into a
     * needless re-registration. */
    if (!glue_ready(s->glue)) {
        srv__reply_error(r, REG_UNAVAILABLE, "leader not ready yet; retry shortly");
        return;
    }
    node = r->ident.has_key ? st_node_by_key(s->state, r->ident.key) : 0;
    if (node == 0 || st_node_get(s->state, node, &n) != REG_OK) {
        srv__reply_error(r, REG_NOT_FOUND, "heartbeat: the caller's key is not registered");
        return;
    }
    seen_set(s, node, srv__now(s));
    if (!n.online) {
        /* Coming back: report it promptly rather than at the next tick. */
        uv_timer_start(&s->liveness_timer, liveness_tick, 10, s->cfg.liveness_interval_ms);
    }
    srv__reply_result(r, hb_result, (void *)(uintptr_t)node, false, 0);
}

void srv__liveness_init(struct srv *s)
{
    uv_timer_init(s->loop, &s->liveness_timer);
    s->liveness_timer.data = s;
    s->open_handles++;
    uv_timer_start(&s->liveness_timer, liveness_tick, s->cfg.liveness_interval_ms,
                   s->cfg.liveness_interval_ms);
}

static void timer_closed(uv_handle_t *h)
{
    srv__handle_closed(h->data);
}

void srv__liveness_stop(struct srv *s)
{
    uv_close((uv_handle_t *)&s->liveness_timer, timer_closed);
}

void srv__liveness_free(struct srv *s)
{
    reg_free(s->seen);
    s->seen = NULL;
    s->seen_cap = 0;
}
