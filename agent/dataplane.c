/* dataplane.c: agent-to-agent traffic over UDP (issue 5 §2).
 *
 * Packets (wire.c) are sealed with the pair key of the two agents. A
 * datagram or a connection request from a peer goes through the registry's
 * access check first (access.c), which also hands us the sender's key;
 * anything else must belong to a connection we already hold, and is opened
 * with that connection's key. Every failure is a silent drop: an agent
 * that may not reach us learns nothing, not even that we exist.
 *
 * Streams are deliberately minimal: SYN / SYN-ACK, numbered DATA and FIN
 * segments, cumulative ACKs, a window of AGENT__WINDOW segments and
 * go-back-N retransmission every AGENT__RTO_MS. The receiver accepts only
 * the next segment in order. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "agent_internal.h"

struct agent__peer {
    struct agent__peer *next;
    uint32_t node;
    uint8_t pk[AGENT_KEY_LEN];
    uint8_t pair[AGENT_KEY_LEN];
    struct agent_replay replay;
};

static uint8_t rxbuf[AGENT_PKT_MAX + 64];

/* The pair state of node with key pk (computed again if the key changed,
 * e.g. after rotate_key). NULL on a bad key or out of memory. */
static struct agent__peer *peer_for(struct agent__d *d, uint32_t node,
                                    const uint8_t pk[AGENT_KEY_LEN])
{
    struct agent__peer *p;
    for (p = d->peers; p != NULL; p = p->next) {
        if (p->node == node) {
            break;
        }
    }
    if (p != NULL && sodium_memcmp(p->pk, pk, AGENT_KEY_LEN) == 0) {
        return p;
    }
    if (p == NULL) {
        p = reg_calloc(1, sizeof *p);
        if (p == NULL) {
            return NULL;
        }
        p->node = node;
        p->next = d->peers;
        d->peers = p;
    }
    if (agent_pair_key(d->sk, pk, p->pair) != REG_OK) {
        memset(p->pk, 0, sizeof p->pk);
        return NULL;
    }
    memcpy(p->pk, pk, AGENT_KEY_LEN);
    return p;
}

static struct agent__peer *peer_find(struct agent__d *d, uint32_t node)
{
    struct agent__peer *p = d->peers;
    while (p != NULL && p->node != node) {
        p = p->next;
    }
    return p;
}

static struct agent__listener *listener_find(struct agent__d *d, uint16_t port)
{
    struct agent__listener *l = d->listeners;
    while (l != NULL && l->port != port) {
        l = l->next;
    }
    return l;
}

static struct agent__conn *conn_find(struct agent__d *d, uint32_t peer, uint32_t id,
                                     bool initiator)
{
    struct agent__conn *c = d->conns;
    while (c != NULL && !(c->peer == peer && c->id == id && c->initiator == initiator)) {
        c = c->next;
    }
    return c;
}

static int parse_endpoint(const char *ep, struct sockaddr_in *out)
{
    char host[64];
    const char *colon = strrchr(ep, ':');
    long port;
    if (colon == NULL || (size_t)(colon - ep) >= sizeof host) {
        return REG_INVALID_ARGUMENT;
    }
    memcpy(host, ep, (size_t)(colon - ep));
    host[colon - ep] = '\0';
    port = strtol(colon + 1, NULL, 10);
    if (port <= 0 || port > 65535 || uv_ip4_addr(host, (int)port, out) != 0) {
        return REG_INVALID_ARGUMENT;
    }
    return REG_OK;
}

static void send_pkt(struct agent__d *d, const struct sockaddr_in *to, struct agent_pkt *p,
                     const uint8_t key[AGENT_KEY_LEN])
{
    uint8_t buf[AGENT_PKT_MAX];
    uv_buf_t b;
    size_t n;
    uint64_t now = agent__wall_us();
    /* Strictly increasing and never behind the wall clock, so a restarted
     * daemon's packets are not taken for replays of its previous life. */
    d->tx_seq = d->tx_seq + 1 > now ? d->tx_seq + 1 : now;
    p->seq = d->tx_seq;
    p->src = atomic_load(&d->self);
    n = agent_pkt_seal(p, key, buf, sizeof buf);
    if (n == 0) {
        return;
    }
    b = uv_buf_init((char *)buf, (unsigned)n);
    /* UDP: a full socket buffer is a lost packet, which retransmission or
     * the application already tolerates. */
    (void)uv_udp_try_send(&d->udp, &b, 1, (const struct sockaddr *)to);
}

static void conn_send(struct agent__conn *c, uint8_t type, uint32_t pseq, const uint8_t *data,
                      size_t len)
{
    struct agent_pkt p;
    memset(&p, 0, sizeof p);
    p.type = type;
    p.dst = c->peer;
    p.port = c->port;
    p.flags = c->initiator ? AGENT_FLAG_FROM_INITIATOR : 0;
    p.conn = c->id;
    p.pseq = pseq;
    p.payload = data;
    p.payload_len = len;
    send_pkt(c->d, &c->addr, &p, c->key);
    c->last_tx = agent__now(c->d);
}

static void conn_free(struct agent__conn *c)
{
    struct agent__d *d = c->d;
    struct agent__conn **pp = &d->conns;
    while (*pp != NULL && *pp != c) {
        pp = &(*pp)->next;
    }
    if (*pp == c) {
        *pp = c->next;
    }
    while (c->segs != NULL) {
        struct agent__seg *s = c->segs;
        c->segs = s->next;
        reg_free(s);
    }
    agent__sess_conn_gone(c->sess, c);
    reg_free(c);
}

void agent__conn_drop(struct agent__conn *c, const char *reason)
{
    agent__log("info", "conn_closed", "peer=%u conn=%u port=%u reason=%s", c->peer, c->id,
               c->port, reason);
    agent__sess_event(c->sess, "close", c->peer, c->port, c->id, NULL, 0, reason);
    conn_free(c);
}

/* Send what the window allows, from snd_sent on. */
static void pump(struct agent__conn *c)
{
    struct agent__seg *s;
    if (c->state != AGENT__OPEN) {
        return;
    }
    for (s = c->segs; s != NULL; s = s->next) {
        if (s->n < c->snd_sent) {
            continue;
        }
        if (s->n >= c->snd_una + AGENT__WINDOW) {
            break;
        }
        conn_send(c, s->fin ? AGENT_PKT_FIN : AGENT_PKT_DATA, s->n, s->data, s->len);
        c->snd_sent = s->n + 1;
    }
}

static int queue_seg(struct agent__conn *c, const uint8_t *data, size_t len, bool fin)
{
    struct agent__seg *s, **pp;
    if (c->queued + len > AGENT__SEND_QUEUE_MAX) {
        return REG_RESOURCE_EXHAUSTED;
    }
    s = reg_malloc(sizeof *s + len);
    if (s == NULL) {
        return REG_NOMEM;
    }
    s->next = NULL;
    s->n = c->snd_next++;
    s->fin = fin;
    s->len = len;
    if (len > 0) {
        memcpy(s->data, data, len);
    }
    for (pp = &c->segs; *pp != NULL; pp = &(*pp)->next) {
    }
    *pp = s;
    c->queued += len;
    return REG_OK;
}

int agent__conn_write(struct agent__conn *c, const uint8_t *data, size_t len)
{
    int rv = REG_OK;
    if (c->fin_sent) {
        return REG_FAILED_PRECONDITION;
    }
    while (len > 0 && rv == REG_OK) {
        size_t n = len < AGENT_PKT_PAYLOAD_MAX ? len : AGENT_PKT_PAYLOAD_MAX;
        rv = queue_seg(c, data, n, false);
        data += n;
        len -= n;
    }
    pump(c);
    return rv;
}

void agent__conn_finish(struct agent__conn *c)
{
    if (c->fin_sent) {
        return;
    }
    c->fin_sent = queue_seg(c, NULL, 0, true) == REG_OK;
    pump(c);
}

static void conn_input(struct agent__conn *c, const struct agent_pkt *p)
{
    struct agent__d *d = c->d;
    struct agent__listener *l;
    c->last_rx = agent__now(d);
    switch (p->type) {
    case AGENT_PKT_SYNACK:
        if (c->initiator && c->state == AGENT__SYN_SENT) {
            c->state = AGENT__OPEN;
            c->tries = 0;
            agent__sess_connected(c->sess, c, REG_OK, "");
            pump(c);
        }
        return;
    case AGENT_PKT_SYN:
        /* Retransmitted SYN (already authorized by access.c): answer again. */
        if (!c->initiator) {
            conn_send(c, AGENT_PKT_SYNACK, 0, NULL, 0);
        }
        return;
    case AGENT_PKT_DATA: case AGENT_PKT_FIN:
        if (c->state != AGENT__OPEN) {
            return;
        }
        if (p->pseq == c->rcv_next) {
            c->rcv_next++;
            if (p->type == AGENT_PKT_DATA) {
                d->stats.delivered++;
                agent__sess_event(c->sess, "data", c->peer, c->port, c->id, p->payload,
                                  p->payload_len, NULL);
                l = c->initiator ? NULL : listener_find(d, c->port);
                if (l != NULL && l->echo && !c->fin_sent) {
                    agent__conn_write(c, p->payload, p->payload_len);
                }
            } else {
                c->fin_rcvd = true;
                agent__conn_finish(c);
            }
        }
        conn_send(c, AGENT_PKT_ACK, c->rcv_next, NULL, 0);
        return;
    case AGENT_PKT_ACK:
        if (p->pseq <= c->snd_una || p->pseq > c->snd_next) {
            return;
        }
        while (c->segs != NULL && c->segs->n < p->pseq) {
            struct agent__seg *s = c->segs;
            c->segs = s->next;
            c->queued -= s->len;
            reg_free(s);
        }
        c->snd_una = p->pseq;
        if (c->snd_sent < c->snd_una) {
            c->snd_sent = c->snd_una;
        }
        c->tries = 0;
        if (c->fin_sent && c->segs == NULL) {
            agent__conn_drop(c, c->fin_rcvd ? "closed" : "closed by us");
            return;
        }
        pump(c);
        return;
    default:
        return;
    }
}

/* A datagram or SYN that the registry allowed, with the sender's key. */
void agent__dp_admit(struct agent__d *d, uint8_t *buf, size_t len,
                     const struct sockaddr_in *from, const uint8_t peer_pk[AGENT_KEY_LEN])
{
    struct agent_pkt p;
    struct agent__peer *peer;
    struct agent__listener *l;
    struct agent__conn *c;
    if (agent_pkt_peek(buf, len, &p) != REG_OK || (peer = peer_for(d, p.src, peer_pk)) == NULL ||
        agent_pkt_open(buf, len, peer->pair, &p) != REG_OK ||
        !agent_replay_accept(&peer->replay, p.seq)) {
        d->stats.dropped++;
        return;
    }
    l = listener_find(d, p.port);
    if (l == NULL) {
        d->stats.dropped++;
        return;
    }
    if (p.type == AGENT_PKT_DGRAM) {
        d->stats.delivered++;
        agent__sess_event(l->sess, "dgram", p.src, p.port, 0, p.payload, p.payload_len, NULL);
        return;
    }
    c = conn_find(d, p.src, p.conn, false);
    if (c != NULL) {
        conn_input(c, &p);
        return;
    }
    c = reg_calloc(1, sizeof *c);
    if (c == NULL) {
        return;
    }
    c->d = d;
    c->peer = p.src;
    c->id = p.conn;
    c->port = p.port;
    c->state = AGENT__OPEN;
    c->last_rx = agent__now(d);
    c->sess = l->sess;
    c->addr = *from;
    memcpy(c->key, peer->pair, AGENT_KEY_LEN);
    c->next = d->conns;
    d->conns = c;
    conn_send(c, AGENT_PKT_SYNACK, 0, NULL, 0);
    agent__log("info", "conn_accepted", "peer=%u conn=%u port=%u", c->peer, c->id, c->port);
    agent__sess_event(c->sess, "accept", c->peer, c->port, c->id, NULL, 0, NULL);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    *buf = uv_buf_init((char *)rxbuf, sizeof rxbuf);
}

static void recv_cb(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *sa,
                    unsigned flags)
{
    struct agent__d *d = h->data;
    struct agent_pkt p;
    struct agent__conn *c;
    struct agent__peer *peer;
    uint8_t *b = (uint8_t *)buf->base;
    size_t len = nread > 0 ? (size_t)nread : 0;
    (void)flags;
    if (nread <= 0 || sa == NULL || sa->sa_family != AF_INET || d->stopping) {
        return;
    }
    if (agent_pkt_peek(b, len, &p) != REG_OK || p.dst != atomic_load(&d->self) ||
        atomic_load(&d->self) == 0) {
        d->stats.dropped++;
        return;
    }
    if (p.type == AGENT_PKT_DGRAM || p.type == AGENT_PKT_SYN) {
        agent__access_submit(d, p.src, p.port, b, len, (const struct sockaddr_in *)sa);
        return;
    }
    c = conn_find(d, p.src, p.conn, (p.flags & AGENT_FLAG_FROM_INITIATOR) == 0);
    peer = peer_find(d, p.src);
    if (c == NULL || peer == NULL || agent_pkt_open(b, len, c->key, &p) != REG_OK ||
        !agent_replay_accept(&peer->replay, p.seq)) {
        d->stats.dropped++;
        return;
    }
    conn_input(c, &p);
}

int agent__dp_send_dgram(struct agent__d *d, const struct agent__call *peer, uint16_t port,
                         const uint8_t *data, size_t len)
{
    struct sockaddr_in to;
    struct agent_pkt p;
    struct agent__peer *pp;
    if (len > AGENT_PKT_PAYLOAD_MAX) {
        return REG_TOO_LARGE;
    }
    if (parse_endpoint(peer->endpoint, &to) != REG_OK) {
        return REG_FAILED_PRECONDITION;
    }
    pp = peer_for(d, peer->node, peer->key);
    if (pp == NULL) {
        return REG_INVALID_ARGUMENT;
    }
    memset(&p, 0, sizeof p);
    p.type = AGENT_PKT_DGRAM;
    p.dst = peer->node;
    p.port = port;
    p.payload = data;
    p.payload_len = len;
    send_pkt(d, &to, &p, pp->pair);
    return REG_OK;
}

struct agent__conn *agent__dp_connect(struct agent__d *d, const struct agent__call *peer,
                                      uint16_t port, struct agent__session *sess)
{
    struct agent__peer *pp;
    struct agent__conn *c = reg_calloc(1, sizeof *c);
    if (c == NULL) {
        return NULL;
    }
    pp = peer_for(d, peer->node, peer->key);
    if (pp == NULL || parse_endpoint(peer->endpoint, &c->addr) != REG_OK) {
        reg_free(c);
        return NULL;
    }
    c->d = d;
    c->peer = peer->node;
    c->id = 1 + randombytes_uniform(UINT32_MAX - 1);
    c->port = port;
    c->initiator = true;
    c->state = AGENT__SYN_SENT;
    c->last_rx = agent__now(d);
    c->sess = sess;
    memcpy(c->key, pp->pair, AGENT_KEY_LEN);
    c->next = d->conns;
    d->conns = c;
    conn_send(c, AGENT_PKT_SYN, 0, NULL, 0);
    return c;
}

static void tick_cb(uv_timer_t *t)
{
    struct agent__d *d = t->data;
    uint64_t now = agent__now(d);
    struct agent__conn *c = d->conns, *next;
    for (; c != NULL; c = next) {
        next = c->next;
        if (c->state == AGENT__OPEN && now - c->last_rx > AGENT__IDLE_MS) {
            agent__conn_drop(c, "idle");
            continue;
        }
        if (now - c->last_tx < AGENT__RTO_MS) {
            continue;
        }
        if (c->state == AGENT__SYN_SENT) {
            if (++c->tries >= AGENT__SYN_TRIES) {
                /* Silence is all a refused sender ever gets. */
                agent__sess_connected(c->sess, c, REG_TIMEOUT, "no answer");
                conn_free(c);
            } else {
                conn_send(c, AGENT_PKT_SYN, 0, NULL, 0);
            }
        } else if (c->state == AGENT__OPEN && c->snd_sent > c->snd_una) {
            if (++c->tries >= AGENT__DATA_TRIES) {
                agent__conn_drop(c, "timeout");
            } else {
                c->snd_sent = c->snd_una;
                pump(c);
            }
        }
    }
}

/* ---- Re-checks of open connections -------------------------------------- */

struct recheck {
    struct agent__call call;
    uint32_t peer, id;
    bool initiator;
};

static void recheck_conn(struct agent__d *d, struct agent__conn *c);

static void recheck_done(struct agent__call *call)
{
    struct recheck *r = call->data;
    struct agent__d *d = call->d;
    struct agent__conn *c = conn_find(d, r->peer, r->id, r->initiator);
    bool revoked = call->code == REG_OK && !call->allowed;
    reg_free(r);
    if (c == NULL) {
        return;
    }
    c->checking = false;
    /* Only a definite "no" tears down; an unreachable registry is not a
     * revocation. */
    if (revoked && !d->stopping) {
        agent__conn_drop(c, "revoked");
    } else if (c->check_again && !d->stopping) {
        /* The answer may predate the event that asked again: ask again. */
        recheck_conn(d, c);
    }
}

static void recheck_conn(struct agent__d *d, struct agent__conn *c)
{
    uint32_t self = atomic_load(&d->self);
    struct recheck *r;
    if (c->checking) {
        c->check_again = true;
        return;
    }
    r = reg_calloc(1, sizeof *r);
    if (r == NULL) {
        return;
    }
    r->peer = c->peer;
    r->id = c->id;
    r->initiator = c->initiator;
    r->call.kind = AGENT__CALL_AUTHORIZE;
    r->call.args.from = c->initiator ? self : c->peer;
    r->call.args.to = c->initiator ? c->peer : self;
    r->call.args.port = c->port;
    r->call.done = recheck_done;
    r->call.data = r;
    if (agent__call_start(d, &r->call) != REG_OK) {
        reg_free(r);
        return;
    }
    c->checking = true;
    c->check_again = false;
}

void agent__dp_recheck(struct agent__d *d)
{
    for (struct agent__conn *c = d->conns; c != NULL && !d->stopping; c = c->next) {
        if (c->state == AGENT__OPEN) {
            recheck_conn(d, c);
        }
    }
}

static void udp_closed(uv_handle_t *h)
{
    struct agent__d *d = h->data;
    d->open_handles--;
}

int agent__dp_start(struct agent__d *d, char errmsg[static REG_ERRMSG_SIZE])
{
    struct sockaddr_in sa;
    struct sockaddr_storage bound;
    int len = sizeof bound, rv;
    char ip[INET_ADDRSTRLEN];
    if (uv_ip4_addr(d->cfg.udp_host, d->cfg.udp_port, &sa) != 0) {
        reg_errmsgf(errmsg, "bad data-plane address \"%s\"", d->cfg.udp_host);
        return REG_INVALID_ARGUMENT;
    }
    uv_udp_init(d->loop, &d->udp);
    d->udp.data = d;
    d->open_handles++;
    rv = uv_udp_bind(&d->udp, (const struct sockaddr *)&sa, 0);
    if (rv == 0) {
        rv = uv_udp_getsockname(&d->udp, (struct sockaddr *)&bound, &len);
    }
    if (rv == 0) {
        rv = uv_udp_recv_start(&d->udp, alloc_cb, recv_cb);
    }
    if (rv != 0) {
        reg_errmsgf(errmsg, "data-plane socket %s:%u: %s", d->cfg.udp_host, d->cfg.udp_port,
                    uv_strerror(rv));
        return REG_UNAVAILABLE;
    }
    uv_ip4_name((struct sockaddr_in *)&bound, ip, sizeof ip);
    snprintf(d->endpoint, sizeof d->endpoint, "%s:%u", ip,
             ntohs(((struct sockaddr_in *)&bound)->sin_port));
    uv_timer_init(d->loop, &d->tick_timer);
    d->tick_timer.data = d;
    d->open_handles++;
    uv_timer_start(&d->tick_timer, tick_cb, 50, 50);
    return REG_OK;
}

void agent__dp_stop(struct agent__d *d)
{
    while (d->conns != NULL) {
        agent__conn_drop(d->conns, "daemon stopping");
    }
    while (d->peers != NULL) {
        struct agent__peer *p = d->peers;
        d->peers = p->next;
        sodium_memzero(p, sizeof *p);
        reg_free(p);
    }
    uv_close((uv_handle_t *)&d->udp, udp_closed);
    uv_close((uv_handle_t *)&d->tick_timer, udp_closed);
}
