/* trust.c: bilateral trust: pairs, pending handshakes, rejection outcomes
 * and the handshake / approve / reject / untrust commands (seed page
 * "Trust", DESIGN.md §6).
 *
 * Invariant: no pending request exists between the two ends of a trust
 * pair (every path that creates a pair removes both directions).
 *
 * Choices the contract leaves to us:
 *   - a repeated handshake to the same target refreshes the justification
 *     and timestamp of the pending request (status SENT), keeping its place
 *     in the inbox;
 *   - a pair auto-approved by co-membership has approved_by = 0 (no node
 *     approved it); a mutual handshake has approved_by = the node whose
 *     request completed it;
 *   - outcomes: one per (requester, peer), the newest ST__OUTCOMES_MAX
 *     kept; a new handshake or an approval clears the earlier rejection;
 *   - deregistering drops the node's pending requests (both directions) and
 *     its outcomes, but keeps its trust pairs. */
#include <string.h>

#include "st_internal.h"

/* ---- pairs ------------------------------------------------------------------ */
static uint64_t pair_hash(const void *ctx, uint32_t idx)
{
    const struct st_state *s = ctx;
    return st__mix64(st__pair_key(s->pairs[idx].a, s->pairs[idx].b));
}

static bool pair_eq(const void *ctx, uint32_t idx, const void *probe)
{
    const struct st_state *s = ctx;
    return st__pair_key(s->pairs[idx].a, s->pairs[idx].b) == *(const uint64_t *)probe;
}

struct st__pair *st__pair_find(const struct st_state *s, uint32_t a, uint32_t b)
{
    uint64_t k = st__pair_key(a, b);
    uint32_t idx = st__ix_find(&s->pair_ix, st__mix64(k), pair_eq, s, &k);
    return idx == UINT32_MAX ? NULL : &s->pairs[idx];
}

/* Insert pair idx into node's list, which is kept sorted by peer id so that
 * st_trust_list answers alike on every replica, however the pairs came. */
static void link_sorted(struct st_state *s, uint32_t node, uint32_t idx)
{
    struct st__pair *p = &s->pairs[idx];
    uint32_t peer = p->a == node ? p->b : p->a;
    uint32_t *link = &st__node(s, node)->trust_head;
    while (*link != ST__NIL) {
        struct st__pair *q = &s->pairs[*link - 1];
        if ((q->a == node ? q->b : q->a) > peer) {
            break;
        }
        link = q->a == node ? &q->next_a : &q->next_b;
    }
    if (p->a == node) {
        p->next_a = *link;
    } else {
        p->next_b = *link;
    }
    *link = idx + 1;
}

uint32_t st__pair_alloc(struct st_state *s, uint32_t a, uint32_t b)
{
    uint32_t idx;
    if (s->pairs_free != ST__NIL) {
        idx = s->pairs_free - 1;
        s->pairs_free = s->pairs[idx].next_a;
    } else {
        st__grow((void **)&s->pairs, &s->pairs_cap, s->pairs_hw + 1, sizeof *s->pairs);
        idx = s->pairs_hw++;
    }
    struct st__pair *p = &s->pairs[idx];
    memset(p, 0, sizeof *p);
    p->a = a < b ? a : b;
    p->b = a < b ? b : a;
    p->live = 1;
    st__ix_insert(&s->pair_ix, pair_hash(s, idx), idx, pair_hash, s);
    s->n_pairs++;
    return idx;
}

struct st__pair *st__pair_add(struct st_state *s, uint32_t a, uint32_t b)
{
    uint32_t idx = st__pair_alloc(s, a, b);
    link_sorted(s, s->pairs[idx].a, idx);
    link_sorted(s, s->pairs[idx].b, idx);
    return &s->pairs[idx];
}

/* Unlink pair idx from node's list. */
static void unlink_pair(struct st_state *s, uint32_t node, uint32_t idx)
{
    uint32_t *link = &st__node(s, node)->trust_head;
    while (*link != ST__NIL) {
        struct st__pair *p = &s->pairs[*link - 1];
        if (*link - 1 == idx) {
            *link = p->a == node ? p->next_a : p->next_b;
            return;
        }
        link = p->a == node ? &p->next_a : &p->next_b;
    }
}

static void pair_del(struct st_state *s, struct st__pair *p)
{
    uint32_t idx = (uint32_t)(p - s->pairs);
    st__ix_remove(&s->pair_ix, pair_hash(s, idx), idx, pair_hash, s);
    unlink_pair(s, p->a, idx);
    unlink_pair(s, p->b, idx);
    memset(p, 0, sizeof *p);
    p->next_a = s->pairs_free;
    s->pairs_free = idx + 1;
    s->n_pairs--;
}

/* ---- pending and outcomes ------------------------------------------------------ */
struct st__ext *st__ext(struct st__node *n)
{
    if (n->ext == NULL) {
        n->ext = reg_xcalloc(1, sizeof *n->ext);
    }
    return n->ext;
}

void st__ext_free(struct st__ext *e)
{
    if (e == NULL) {
        return;
    }
    for (uint32_t i = 0; i < e->n_in; i++) {
        reg_free(e->inbox[i].text);
    }
    for (uint32_t i = 0; i < e->n_outc; i++) {
        reg_free(e->outc[i].reason);
    }
    reg_free(e->inbox);
    reg_free(e->outbox);
    reg_free(e->outc);
    reg_free(e);
}

static void ext_trim(struct st__node *n)
{
    if (n->ext != NULL && n->ext->n_in == 0 && n->ext->n_out == 0 && n->ext->n_outc == 0) {
        st__ext_free(n->ext);
        n->ext = NULL;
    }
}

static int inbox_find(const struct st__node *target, uint32_t from)
{
    const struct st__ext *e = target->ext;
    for (uint32_t i = 0; e != NULL && i < e->n_in; i++) {
        if (e->inbox[i].from == from) {
            return (int)i;
        }
    }
    return -1;
}

void st__outbox_add(struct st__node *n, uint32_t to)
{
    struct st__ext *e = st__ext(n);
    uint32_t i = e->n_out;
    st__grow((void **)&e->outbox, &e->cap_out, e->n_out + 1, sizeof *e->outbox);
    while (i > 0 && e->outbox[i - 1] > to) {
        e->outbox[i] = e->outbox[i - 1];
        i--;
    }
    e->outbox[i] = to;
    e->n_out++;
}

static void outbox_del(struct st__node *n, uint32_t to)
{
    struct st__ext *e = n->ext;
    for (uint32_t i = 0; e != NULL && i < e->n_out; i++) {
        if (e->outbox[i] == to) {
            memmove(&e->outbox[i], &e->outbox[i + 1], (e->n_out - i - 1) * sizeof *e->outbox);
            e->n_out--;
            break;
        }
    }
}

static void pending_add(struct st_state *s, uint32_t from, uint32_t to, const char *text,
                        int64_t at)
{
    struct st__ext *e = st__ext(st__node(s, to));
    st__grow((void **)&e->inbox, &e->cap_in, e->n_in + 1, sizeof *e->inbox);
    e->inbox[e->n_in].from = from;
    e->inbox[e->n_in].at = at;
    e->inbox[e->n_in].text = st__strdup(text);
    e->n_in++;
    st__outbox_add(st__node(s, from), to);
    s->n_pending++;
}

/* Remove the pending request from → to if there is one. */
static void pending_del(struct st_state *s, uint32_t from, uint32_t to)
{
    struct st__node *target = st__node(s, to), *sender = st__node(s, from);
    int i = inbox_find(target, from);
    if (i < 0) {
        return;
    }
    struct st__ext *e = target->ext;
    reg_free(e->inbox[i].text);
    memmove(&e->inbox[i], &e->inbox[i + 1], (e->n_in - (uint32_t)i - 1) * sizeof *e->inbox);
    e->n_in--;
    outbox_del(sender, to);
    s->n_pending--;
    ext_trim(target);
    ext_trim(sender);
}

static void outcome_del(struct st__node *n, uint32_t peer)
{
    struct st__ext *e = n->ext;
    for (uint32_t i = 0; e != NULL && i < e->n_outc; i++) {
        if (e->outc[i].peer == peer) {
            reg_free(e->outc[i].reason);
            memmove(&e->outc[i], &e->outc[i + 1], (e->n_outc - i - 1) * sizeof *e->outc);
            e->n_outc--;
            break;
        }
    }
    ext_trim(n);
}

static void outcome_add(struct st__node *n, uint32_t peer, const char *reason, int64_t at)
{
    outcome_del(n, peer);
    struct st__ext *e = st__ext(n);
    if (e->n_outc == ST__OUTCOMES_MAX) {
        reg_free(e->outc[0].reason);
        memmove(&e->outc[0], &e->outc[1], (e->n_outc - 1) * sizeof *e->outc);
        e->n_outc--;
    }
    st__grow((void **)&e->outc, &e->cap_outc, e->n_outc + 1, sizeof *e->outc);
    e->outc[e->n_outc].peer = peer;
    e->outc[e->n_outc].at = at;
    e->outc[e->n_outc].reason = st__strdup(reason);
    e->n_outc++;
}

void st__pending_drop_node(struct st_state *s, uint32_t node)
{
    struct st__node *n = st__node(s, node);
    while (n->ext != NULL && n->ext->n_in > 0) {
        pending_del(s, n->ext->inbox[0].from, node);
    }
    while (n->ext != NULL && n->ext->n_out > 0) {
        pending_del(s, node, n->ext->outbox[0]);
    }
    st__ext_free(n->ext);
    n->ext = NULL;
}

/* Lowest network both nodes are members of, 0 if none. */
static uint16_t shared_net(const struct st__node *a, const struct st__node *b)
{
    const uint16_t *x = st__nets_of(a), *y = st__nets_of(b);
    uint32_t i = 0, j = 0;
    while (i < a->n_nets && j < b->n_nets) {
        if (x[i] == y[j]) {
            return x[i];
        }
        if (x[i] < y[j]) {
            i++;
        } else {
            j++;
        }
    }
    return 0;
}

/* ---- commands ----------------------------------------------------------------- */
static void do_handshake(struct st_state *s, const struct st_cmd *cmd, uint32_t me,
                         struct st_result *res)
{
    uint32_t peer = cmd->node;
    if (!st__fits(cmd->text, sizeof cmd->text)) {
        st__fail(res, REG_INVALID_ARGUMENT, "justification longer than %d", ST_JUSTIFICATION_MAX);
        return;
    }
    if (peer == me) {
        st__fail(res, REG_INVALID_ARGUMENT, "cannot handshake with yourself");
        return;
    }
    struct st__node *pn = st__live(s, peer), *mn = st__node(s, me);
    if (pn == NULL) {
        st__fail(res, REG_NOT_FOUND, "node %u not found", (unsigned)peer);
        return;
    }
    if (st__pair_find(s, me, peer) != NULL) {
        res->status = ST_STATUS_ALREADY_TRUSTED;
        return;
    }
    bool mutual = inbox_find(mn, peer) >= 0;
    uint16_t net = mutual ? 0 : shared_net(mn, pn);
    bool refresh = inbox_find(pn, me) >= 0;
    if (!mutual && net == 0 && !refresh && pn->ext != NULL && pn->ext->n_in >= ST_INBOX_MAX) {
        st__fail(res, REG_RESOURCE_EXHAUSTED, "node %u has %d pending requests", (unsigned)peer,
                 ST_INBOX_MAX);
        return;
    }
    outcome_del(mn, peer);
    if (mutual || net != 0) {
        pending_del(s, peer, me);
        pending_del(s, me, peer);
        struct st__pair *p = st__pair_add(s, me, peer);
        p->mutual = mutual;
        p->network = net;
        p->approved_ms = cmd->ts_ms;
        p->approved_by = mutual ? me : 0;
        res->status = ST_STATUS_APPROVED;
        res->network = net;
        return;
    }
    if (refresh) {
        struct st__pend *pd = &pn->ext->inbox[inbox_find(pn, me)];
        reg_free(pd->text);
        pd->text = st__strdup(cmd->text);
        pd->at = cmd->ts_ms;
    } else {
        pending_add(s, me, peer, cmd->text, cmd->ts_ms);
    }
    res->status = ST_STATUS_SENT;
}

static void do_answer(struct st_state *s, const struct st_cmd *cmd, uint32_t me,
                      struct st_result *res)
{
    uint32_t from = cmd->node;
    struct st__node *mn = st__node(s, me);
    if (cmd->op == ST_CMD_REJECT && !st__fits(cmd->text, sizeof cmd->text)) {
        st__fail(res, REG_INVALID_ARGUMENT, "reason longer than %d", ST_REASON_MAX);
        return;
    }
    if (from == me || inbox_find(mn, from) < 0) {
        st__fail(res, REG_NOT_FOUND, "no pending request from node %u", (unsigned)from);
        return;
    }
    pending_del(s, from, me);
    if (cmd->op == ST_CMD_REJECT) {
        outcome_add(st__node(s, from), me, cmd->text, cmd->ts_ms);
        res->status = ST_STATUS_REJECTED;
        return;
    }
    pending_del(s, me, from);
    outcome_del(st__node(s, from), me);
    struct st__pair *p = st__pair_add(s, me, from);
    p->approved_ms = cmd->ts_ms;
    p->approved_by = me;
    res->status = ST_STATUS_APPROVED;
}

void st__apply_trust(struct st_state *s, const struct st_cmd *cmd, struct st_result *res)
{
    uint32_t me = st__caller(s, cmd);
    if (me == 0) {
        st__fail(res, REG_UNAUTHENTICATED, "caller is not a registered node");
        return;
    }
    res->node = cmd->node;
    switch (cmd->op) {
    case ST_CMD_HANDSHAKE:
        do_handshake(s, cmd, me, res);
        break;
    case ST_CMD_APPROVE:
    case ST_CMD_REJECT:
        do_answer(s, cmd, me, res);
        break;
    case ST_CMD_UNTRUST: {
        struct st__pair *p = cmd->node != me ? st__pair_find(s, me, cmd->node) : NULL;
        if (p == NULL) {
            st__fail(res, REG_NOT_FOUND, "no trust pair with node %u", (unsigned)cmd->node);
            break;
        }
        pair_del(s, p);
        break;
    }
    default:
        st__fail(res, REG_INVALID_ARGUMENT, "not a trust command");
        break;
    }
}
