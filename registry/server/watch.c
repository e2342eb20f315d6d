/* watch.c: the `watch` op, a long poll that tells an agent daemon when an
 * applied entry may have changed who can reach it (issue 5, docs/agent.md).
 *
 * Why a long poll and not a push stream: the client library is strictly
 * request/response, and a poll with a `since` index survives failover for
 * free (raft indexes are the same on every node). The answer is
 * {index, changed}: `changed` means "something after `since` touched your
 * memberships, trust or the visibility/policy they depend on: re-check";
 * `index` is this node's applied index, the caller's next `since`.
 *
 * It is served by whichever node the agent is connected to, from that
 * node's applied entries; it is a hint and never a grant. The daemon still
 * asks the leader (linearizable authorize) for every connection request and
 * datagram; it uses watch events only to re-check connections that are
 * already open. Nothing orders an event before the revoking write's reply,
 * which is exactly why the daemon does not cache decisions.
 *
 * Bookkeeping: a ring of the last WATCH_RING events, each with up to
 * WATCH_IDS affected node ids or "everyone". `floor` is the highest index
 * below which events may be unknown (node start, ring eviction): a caller
 * whose `since` is below it is told `changed` at once. Parked requests are
 * answered on a matching event or after WATCH_HOLD_MS. */
#include <string.h>

#include "srv_internal.h"

#define WATCH_RING 256
#define WATCH_IDS 32
#define WATCH_HOLD_MS 15000
#define WATCH_TICK_MS 1000

struct watch_event {
    uint64_t index;
    bool all;
    uint8_t n;
    uint32_t ids[WATCH_IDS];
};

struct watch_waiter {
    struct srv__req *r;
    uint32_t node;                  /* viewer; 0 = admin, sees everything */
    uint64_t since;
    uint64_t deadline;
    struct watch_waiter *next;
};

struct srv__watch {
    struct watch_event ring[WATCH_RING];
    unsigned head, count;           /* ring[(head + i) % RING], oldest first */
    uint64_t floor;
    struct watch_waiter *waiters;
    uv_timer_t timer;
    bool timer_open;
};

struct watch_answer {
    uint64_t index;
    bool changed;
};

static int watch_result(struct proto_out *o, struct srv *s, struct srv__req *r, void *arg)
{
    const struct watch_answer *a = arg;
    (void)s;
    (void)r;
    proto_put_map(o, 2);
    proto_put_str(o, "index");
    proto_put_u64(o, a->index);
    proto_put_str(o, "changed");
    proto_put_bool(o, a->changed);
    return o->err;
}

static bool event_touches(const struct watch_event *e, uint32_t node)
{
    if (e->all || node == 0) {
        return true;
    }
    for (unsigned i = 0; i < e->n; i++) {
        if (e->ids[i] == node) {
            return true;
        }
    }
    return false;
}

static bool changed_since(struct srv__watch *w, uint32_t node, uint64_t since)
{
    if (since < w->floor) {
        return true;
    }
    for (unsigned i = 0; i < w->count; i++) {
        const struct watch_event *e = &w->ring[(w->head + i) % WATCH_RING];
        if (e->index > since && event_touches(e, node)) {
            return true;
        }
    }
    return false;
}

/* index: the caller's next `since`. During an apply the state's applied
 * index is not yet advanced, so the event's own index is passed. */
static void answer(struct srv__req *r, uint64_t index, bool changed)
{
    struct watch_answer a = {index, changed};
    srv__reply_result(r, watch_result, &a, false, 0);
}

void srv__watch(struct srv__req *r)
{
    struct srv *s = r->srv;
    struct srv__watch *w = s->watch;
    struct watch_waiter *x;
    uint32_t node = srv__viewer(s, &r->ident);
    if (w == NULL || s->stopping) {
        srv__reply_error(r, REG_UNAVAILABLE, "watch: node is stopping");
        return;
    }
    if (node == UINT32_MAX) {
        srv__reply_error(r, REG_NOT_FOUND, "watch: the caller's key is not registered");
        return;
    }
    if (r->rargs.since == 0 || changed_since(w, node, r->rargs.since)) {
        answer(r, st_applied_index(s->state), r->rargs.since != 0);
        return;
    }
    x = reg_calloc(1, sizeof *x);
    if (x == NULL) {
        srv__reply_error(r, REG_NOMEM, "watch: out of memory");
        return;
    }
    x->r = r;
    x->node = node;
    x->since = r->rargs.since;
    x->deadline = srv__now(s) + WATCH_HOLD_MS;
    x->next = w->waiters;
    w->waiters = x;
}

/* Add node to e, degrading to "everyone" when the id list is full. */
static void event_add(struct watch_event *e, uint32_t node)
{
    if (e->all || node == 0 || node == UINT32_MAX) {
        return;
    }
    for (unsigned i = 0; i < e->n; i++) {
        if (e->ids[i] == node) {
            return;
        }
    }
    if (e->n == WATCH_IDS) {
        e->all = true;
        return;
    }
    e->ids[e->n++] = node;
}

static void event_add_members(struct srv *s, struct watch_event *e, uint16_t network)
{
    struct st_member m[WATCH_IDS + 1];
    uint32_t total = 0, n;
    if (st_network_members(s->state, 0, network, 0, m, WATCH_IDS + 1, &total) != REG_OK) {
        return;
    }
    if (total > WATCH_IDS) {
        e->all = true;
        return;
    }
    n = total < WATCH_IDS + 1 ? total : WATCH_IDS + 1;
    for (uint32_t i = 0; i < n; i++) {
        event_add(e, m[i].node);
    }
}

/* Which nodes an applied command may have changed access for; false when
 * it touches no access or trust state. Computed on the state after the
 * command, so ops whose "before" matters (delete, visibility, blueprint)
 * conservatively say "everyone". */
static bool classify(struct srv *s, const struct st_cmd *cmd, struct watch_event *e)
{
    uint32_t caller = st_node_by_key(s->state, cmd->caller_key);
    switch (cmd->op) {
    case ST_CMD_NET_JOIN: case ST_CMD_NET_LEAVE:
        event_add(e, caller);
        event_add_members(s, e, (uint16_t)cmd->network);
        return true;
    case ST_CMD_NET_INVITE: case ST_CMD_NET_KICK: case ST_CMD_NET_ROLE:
    case ST_CMD_NET_TRANSFER:
        event_add(e, cmd->node);
        event_add_members(s, e, (uint16_t)cmd->network);
        return true;
    case ST_CMD_NET_POLICY:
        event_add_members(s, e, (uint16_t)cmd->network);
        return true;
    case ST_CMD_HANDSHAKE: case ST_CMD_APPROVE: case ST_CMD_REJECT: case ST_CMD_UNTRUST:
        event_add(e, caller);
        event_add(e, cmd->node);
        return true;
    case ST_CMD_NET_DELETE: case ST_CMD_BLUEPRINT_APPLY: case ST_CMD_SET_VISIBILITY:
    case ST_CMD_DEREGISTER: case ST_CMD_ROTATE_KEY:
        e->all = true;
        return true;
    default:
        return false;
    }
}

void srv__watch_applied(struct srv *s, const struct st_cmd *cmd, const struct st_result *res,
                        uint64_t index)
{
    struct srv__watch *w = s->watch;
    struct watch_event ev, *e;
    struct watch_waiter **pp;
    if (w == NULL || res->code != REG_OK || res->duplicate) {
        return;
    }
    memset(&ev, 0, sizeof ev);
    ev.index = index;
    if (!classify(s, cmd, &ev)) {
        return;
    }
    if (w->count == WATCH_RING) {
        w->floor = w->ring[w->head].index;
        w->head = (w->head + 1) % WATCH_RING;
        w->count--;
    }
    e = &w->ring[(w->head + w->count) % WATCH_RING];
    *e = ev;
    w->count++;
    pp = &w->waiters;
    while (*pp != NULL) {
        struct watch_waiter *x = *pp;
        if (x->since < index && event_touches(e, x->node)) {
            *pp = x->next;
            answer(x->r, index, true);
            reg_free(x);
        } else {
            pp = &x->next;
        }
    }
}

static void watch_tick(uv_timer_t *t)
{
    struct srv *s = t->data;
    struct srv__watch *w = s->watch;
    uint64_t now = srv__now(s);
    struct watch_waiter **pp = &w->waiters;
    while (*pp != NULL) {
        struct watch_waiter *x = *pp;
        if (x->r->conn == NULL || x->r->conn->phase == SRV__CLOSING) {
            /* Nobody to answer: release the request and its conn ref. */
            *pp = x->next;
            srv__req_free(x->r);
            reg_free(x);
        } else if (now >= x->deadline) {
            *pp = x->next;
            answer(x->r, st_applied_index(s->state), false);
            reg_free(x);
        } else {
            pp = &x->next;
        }
    }
}

void srv__watch_init(struct srv *s)
{
    struct srv__watch *w = reg_calloc(1, sizeof *w);
    if (w == NULL) {
        /* watch then answers unavailable; agents fall back to polling. */
        srv_log(SRV_LOG_WARN, "watch_disabled", "reason=nomem");
        return;
    }
    w->floor = st_applied_index(s->state);
    uv_timer_init(s->loop, &w->timer);
    w->timer.data = s;
    w->timer_open = true;
    s->open_handles++;
    uv_timer_start(&w->timer, watch_tick, WATCH_TICK_MS, WATCH_TICK_MS);
    s->watch = w;
}

static void timer_closed(uv_handle_t *h)
{
    srv__handle_closed(h->data);
}

void srv__watch_stop(struct srv *s)
{
    struct srv__watch *w = s->watch;
    if (w == NULL) {
        return;
    }
    while (w->waiters != NULL) {
        struct watch_waiter *x = w->waiters;
        w->waiters = x->next;
        srv__req_free(x->r);
        reg_free(x);
    }
    if (w->timer_open) {
        w->timer_open = false;
        uv_close((uv_handle_t *)&w->timer, timer_closed);
    }
}

void srv__watch_free(struct srv *s)
{
    reg_free(s->watch);
    s->watch = NULL;
}
