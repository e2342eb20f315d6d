/* access.c: checkpoints 2 and 3 (seeds: connection acceptance, datagram
 * delivery) in the receiving daemon.
 *
 * Every connection request and every datagram from a peer is admitted only
 * after the registry's linearizable authorize(src, self, port) says so; a
 * denial, an error or a timeout drops it silently (no reply of any kind).
 * Decisions are never cached: a revocation (kick, untrust, policy change)
 * that has returned to its caller is seen by the next check, because that
 * check is a linearizable read sent after the packet arrived.
 *
 * Coalescing keeps that guarantee: packets for the same (src, port) that
 * arrive while a check is in flight wait for the NEXT check, never join
 * the one already sent (which may predate the revocation). So at most one
 * check per (src, port) is in flight and one batch waits behind it. */
#include <string.h>

#include "agent_internal.h"

struct pkt {
    struct pkt *next;
    struct sockaddr_in from;
    size_t len;
    uint8_t buf[];
};

struct agent__check {
    struct agent__check *next;
    struct agent__d *d;
    uint32_t src;
    uint16_t port;
    bool inflight;
    struct pkt *batch;                  /* waiting on the check in flight */
    struct pkt *waiting, **waiting_tail;/* arrived after it was sent */
    unsigned n_waiting;
    struct agent__call call;
};

static void free_pkts(struct agent__d *d, struct pkt *p)
{
    while (p != NULL) {
        struct pkt *n = p->next;
        d->pending_pkts--;
        reg_free(p);
        p = n;
    }
}

static void check_unlink_free(struct agent__check *c)
{
    struct agent__d *d = c->d;
    struct agent__check **pp = &d->checks;
    while (*pp != NULL && *pp != c) {
        pp = &(*pp)->next;
    }
    if (*pp == c) {
        *pp = c->next;
    }
    free_pkts(d, c->batch);
    free_pkts(d, c->waiting);
    d->n_checks--;
    reg_free(c);
}

static void check_send(struct agent__check *c);

static void check_done(struct agent__call *call)
{
    struct agent__check *c = call->data;
    struct agent__d *d = c->d;
    struct pkt *p = c->batch;
    bool allowed = call->code == REG_OK && call->allowed && call->has_key;
    c->batch = NULL;
    c->inflight = false;
    d->stats.auth_calls++;
    if (allowed) {
        d->stats.auth_allowed++;
    } else {
        d->stats.auth_denied++;
        if (call->code != REG_OK) {
            agent__log("warn", "access_check_failed", "from=%u port=%u code=%s", c->src,
                       c->port, reg_err_name(call->code));
        }
    }
    while (p != NULL) {
        struct pkt *n = p->next;
        if (allowed && !d->stopping) {
            agent__dp_admit(d, p->buf, p->len, &p->from, call->key);
        } else {
            d->stats.dropped++;
        }
        d->pending_pkts--;
        reg_free(p);
        p = n;
    }
    if (c->waiting != NULL && !d->stopping) {
        check_send(c);
    } else {
        check_unlink_free(c);
    }
}

static void check_send(struct agent__check *c)
{
    struct agent__d *d = c->d;
    c->batch = c->waiting;
    c->waiting = NULL;
    c->waiting_tail = &c->waiting;
    c->n_waiting = 0;
    memset(&c->call, 0, sizeof c->call);
    c->call.kind = AGENT__CALL_AUTHORIZE;
    c->call.args.from = c->src;
    c->call.args.to = atomic_load(&d->self);
    c->call.args.port = c->port;
    c->call.done = check_done;
    c->call.data = c;
    if (agent__call_start(d, &c->call) != REG_OK) {
        d->stats.dropped++;
        check_unlink_free(c);
        return;
    }
    c->inflight = true;
}

void agent__access_submit(struct agent__d *d, uint32_t src, uint16_t port, const uint8_t *buf,
                          size_t len, const struct sockaddr_in *from)
{
    struct agent__check *c;
    struct pkt *p;
    if (d->pending_pkts >= AGENT__PENDING_MAX || d->stopping) {
        d->stats.dropped++;
        return;
    }
    for (c = d->checks; c != NULL; c = c->next) {
        if (c->src == src && c->port == port) {
            break;
        }
    }
    if (c != NULL && c->n_waiting >= AGENT__CHECK_QUEUE_MAX) {
        d->stats.dropped++;
        return;
    }
    p = reg_malloc(sizeof *p + len);
    if (p == NULL) {
        d->stats.dropped++;
        return;
    }
    p->next = NULL;
    p->from = *from;
    p->len = len;
    memcpy(p->buf, buf, len);
    if (c == NULL && d->n_checks >= AGENT__CHECKS_MAX) {
        /* Forged headers cost us a registry call each: bound how many
         * distinct ones we chase at once (the rest are dropped, which is
         * what a refused packet gets anyway). */
        reg_free(p);
        d->stats.dropped++;
        return;
    }
    if (c == NULL) {
        c = reg_calloc(1, sizeof *c);
        if (c == NULL) {
            reg_free(p);
            d->stats.dropped++;
            return;
        }
        d->n_checks++;
        c->d = d;
        c->src = src;
        c->port = port;
        c->waiting_tail = &c->waiting;
        c->next = d->checks;
        d->checks = c;
    }
    *c->waiting_tail = p;
    c->waiting_tail = &p->next;
    c->n_waiting++;
    d->pending_pkts++;
    if (!c->inflight) {
        check_send(c);
    }
}

void agent__access_stop(struct agent__d *d)
{
    /* Checks in flight finish through check_done (stopping: dropped). */
    struct agent__check *c = d->checks;
    while (c != NULL) {
        struct agent__check *n = c->next;
        if (!c->inflight) {
            check_unlink_free(c);
        }
        c = n;
    }
}
