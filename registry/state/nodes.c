/* nodes.c: agent records: register / deregister / visibility / hostname /
 * tags / endpoint / key rotation / liveness, the key and hostname indexes,
 * and each node's sorted list of networks.
 *
 * Choices the contract leaves to us (state.h, issue 2):
 *   - REGISTER with an invalid or taken hostname still registers the node
 *     (as the Go registry does, TestHostnameRegistrationWarning): the result
 *     is REG_OK, the hostname is not set, and res->message carries
 *     "hostname_error: ...". Every other bad argument refuses the command.
 *   - REGISTER of an already-registered key refreshes endpoint and
 *     visibility, and hostname / tags only when given (empty keeps them:
 *     a daemon re-registering does not lose what it set before).
 *   - A registration marks the node online (it just talked to us).
 *   - SET_ONLINE skips entries naming unregistered nodes: the leader built
 *     the batch earlier and the node may have left since.
 *   - Tags keep the caller's order, with '#' stripped and repeats dropped. */
#include <stdio.h>
#include <string.h>

#include "st_internal.h"

/* ---- indexes ------------------------------------------------------------- */
static uint64_t key_hash(const void *ctx, uint32_t id)
{
    return st__hash_bytes(st__node(ctx, id)->key, ST_KEY_LEN);
}

static bool key_eq(const void *ctx, uint32_t id, const void *probe)
{
    return memcmp(st__node(ctx, id)->key, probe, ST_KEY_LEN) == 0;
}

static uint64_t host_hash(const void *ctx, uint32_t id)
{
    const char *h = st__host(st__node(ctx, id));
    return st__hash_bytes(h, strlen(h));
}

static bool host_eq(const void *ctx, uint32_t id, const void *probe)
{
    return strcmp(st__host(st__node(ctx, id)), probe) == 0;
}

uint32_t st__key_find(const struct st_state *s, const uint8_t key[static ST_KEY_LEN])
{
    uint32_t id = st__ix_find(&s->key_ix, st__hash_bytes(key, ST_KEY_LEN), key_eq, s, key);
    return id == UINT32_MAX ? 0 : id;
}

uint32_t st__host_find(const struct st_state *s, const char *hostname)
{
    uint32_t id = st__ix_find(&s->host_ix, st__hash_bytes(hostname, strlen(hostname)), host_eq, s,
                              hostname);
    return id == UINT32_MAX ? 0 : id;
}

void st__key_index(struct st_state *s, uint32_t id)
{
    st__ix_insert(&s->key_ix, key_hash(s, id), id, key_hash, s);
}

void st__host_index(struct st_state *s, uint32_t id)
{
    st__ix_insert(&s->host_ix, host_hash(s, id), id, host_hash, s);
}

static void host_clear(struct st_state *s, uint32_t id)
{
    struct st__node *n = st__node(s, id);
    if (n->host_len > 0) {
        st__ix_remove(&s->host_ix, host_hash(s, id), id, host_hash, s);
        char ep[ST_ENDPOINT_MAX + 1];
        snprintf(ep, sizeof ep, "%s", st__endpoint(n));
        st__node_set_str(n, "", ep);
    }
}

/* ---- per-node network list ------------------------------------------------ */
bool st__node_in_net(const struct st__node *n, uint16_t net)
{
    const uint16_t *v = st__nets_of(n);
    uint32_t lo = 0, hi = n->n_nets;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (v[mid] < net) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo < n->n_nets && v[lo] == net;
}

void st__node_add_net(struct st__node *n, uint16_t net)
{
    if (n->cap_nets == 0) {
        n->cap_nets = ST__NETS_INLINE;
    }
    if (n->n_nets == n->cap_nets) {
        uint32_t cap = (uint32_t)n->cap_nets * 2;
        if (cap > UINT16_MAX) {
            cap = UINT16_MAX;
        }
        uint16_t *heap = reg_xmalloc(cap * sizeof *heap);
        memcpy(heap, st__nets_of(n), n->n_nets * sizeof *heap);
        if (n->cap_nets > ST__NETS_INLINE) {
            reg_free(n->nets.heap);
        }
        n->nets.heap = heap;
        n->cap_nets = (uint16_t)cap;
    }
    uint16_t *v = n->cap_nets <= ST__NETS_INLINE ? n->nets.inl : n->nets.heap;
    uint32_t i = n->n_nets;
    while (i > 0 && v[i - 1] > net) {
        v[i] = v[i - 1];
        i--;
    }
    v[i] = net;
    n->n_nets++;
}

void st__node_del_net(struct st__node *n, uint16_t net)
{
    uint16_t *v = n->cap_nets <= ST__NETS_INLINE ? n->nets.inl : n->nets.heap;
    for (uint32_t i = 0; i < n->n_nets; i++) {
        if (v[i] == net) {
            memmove(&v[i], &v[i + 1], (n->n_nets - i - 1) * sizeof *v);
            n->n_nets--;
            return;
        }
    }
}

void st__node_free_fields(struct st__node *n)
{
    reg_free(n->str);
    reg_free(n->tags);
    if (n->cap_nets > ST__NETS_INLINE) {
        reg_free(n->nets.heap);
    }
    st__ext_free(n->ext);
    n->str = n->tags = NULL;
    n->host_len = 0;
    n->cap_nets = n->n_nets = 0;
    n->ext = NULL;
}

/* ---- argument checks ------------------------------------------------------- */
static bool valid_endpoint(const char *e, size_t size)
{
    if (!st__fits(e, size) || e[0] == '\0') {
        return false;
    }
    for (; *e != '\0'; e++) {
        if ((unsigned char)*e <= 0x20 || (unsigned char)*e >= 0x7f) {
            return false;
        }
    }
    return true;
}

/* Normalised tags (stripped, deduplicated) packed back to back into buf;
 * returns packed length or -1 with res filled. */
static int pack_tags(const struct st_cmd *cmd, char *buf, uint8_t *n_out, struct st_result *res)
{
    if (cmd->n_tags > ST_TAGS_MAX) {
        return -st__fail(res, REG_INVALID_ARGUMENT, "too many tags (%u, max %d)",
                         (unsigned)cmd->n_tags, ST_TAGS_MAX);
    }
    size_t len = 0;
    uint8_t n = 0;
    for (uint8_t i = 0; i < cmd->n_tags; i++) {
        const char *t = cmd->tags[i];
        if (!st__fits(t, sizeof cmd->tags[i]) || !st_valid_tag(t)) {
            return -st__fail(res, REG_INVALID_ARGUMENT,
                             "invalid tag %u: [a-z0-9-], 1-%d chars, alphanumeric at both ends",
                             (unsigned)i, ST_TAG_MAX);
        }
        if (t[0] == '#') {
            t++;
        }
        bool dup = false;
        for (size_t off = 0; off < len; off += strlen(buf + off) + 1) {
            dup = dup || strcmp(buf + off, t) == 0;
        }
        if (!dup) {
            size_t tl = strlen(t) + 1;
            memcpy(buf + len, t, tl);
            len += tl;
            n++;
        }
    }
    *n_out = n;
    return (int)len;
}

static void set_tags(struct st__node *n, const char *buf, int len, uint8_t count)
{
    reg_free(n->tags);
    n->tags = NULL;
    n->n_tags = count;
    if (count > 0) {
        n->tags = reg_xmalloc((size_t)len);
        memcpy(n->tags, buf, (size_t)len);
    }
}

void st__node_set_str(struct st__node *n, const char *host, const char *ep)
{
    size_t hl = strlen(host), el = strlen(ep);
    if (n->str != NULL && hl == n->host_len && memcmp(n->str, host, hl) == 0 &&
        strlen(st__endpoint(n)) >= el) {
        /* Same hostname and the endpoint fits: endpoint refreshes are
         * frequent and should not allocate. */
        memcpy(n->str + hl + 1, ep, el + 1);
        return;
    }
    reg_free(n->str);
    n->str = NULL;
    n->host_len = (uint8_t)hl;
    if (hl + el > 0) {
        n->str = reg_xmalloc(hl + el + 2);
        memcpy(n->str, host, hl + 1);
        memcpy(n->str + hl + 1, ep, el + 1);
    }
}

static void set_endpoint(struct st__node *n, const char *e)
{
    char host[ST_HOSTNAME_MAX + 1];
    snprintf(host, sizeof host, "%s", st__host(n));
    st__node_set_str(n, host, e);
}

/* "" if hostname can be set for id, else the reason. */
static const char *hostname_problem(const struct st_state *s, uint32_t id, const char *h)
{
    if (!st_valid_name(h)) {
        return "invalid hostname: [a-z0-9-], 1-63 chars, alphanumeric at both ends, "
               "not localhost/backbone/broadcast";
    }
    uint32_t holder = st__host_find(s, h);
    if (holder != 0 && holder != id) {
        return "hostname already taken";
    }
    return "";
}

static void set_hostname(struct st_state *s, uint32_t id, const char *h)
{
    struct st__node *n = st__node(s, id);
    if (strcmp(st__host(n), h) == 0) {
        return;
    }
    host_clear(s, id);
    if (h[0] != '\0') {
        char ep[ST_ENDPOINT_MAX + 1];
        snprintf(ep, sizeof ep, "%s", st__endpoint(n));
        st__node_set_str(n, h, ep);
        st__host_index(s, id);
    }
}

static void set_online(struct st_state *s, struct st__node *n, bool on, int64_t ts)
{
    if ((bool)n->online == on) {
        return;
    }
    n->online = on;
    n->last_change_ms = ts;
    if (on) {
        s->n_online++;
    } else {
        s->n_online--;
    }
}

/* ---- commands ------------------------------------------------------------------ */
static void do_register(struct st_state *s, const struct st_cmd *cmd, struct st_result *res)
{
    static const uint8_t zero[ST_KEY_LEN];
    char tagbuf[ST_TAGS_MAX * (ST_TAG_MAX + 1)];
    uint8_t n_tags = 0;
    if (memcmp(cmd->caller_key, zero, ST_KEY_LEN) == 0) {
        st__fail(res, REG_UNAUTHENTICATED, "register needs the caller's key");
        return;
    }
    if (!valid_endpoint(cmd->endpoint, sizeof cmd->endpoint)) {
        st__fail(res, REG_INVALID_ARGUMENT, "invalid endpoint: 1-%d printable characters",
                 ST_ENDPOINT_MAX);
        return;
    }
    if (!st__fits(cmd->hostname, sizeof cmd->hostname)) {
        st__fail(res, REG_INVALID_ARGUMENT, "hostname longer than %d", ST_HOSTNAME_MAX);
        return;
    }
    int tag_len = pack_tags(cmd, tagbuf, &n_tags, res);
    if (tag_len < 0) {
        return;
    }
    uint32_t id = st__key_find(s, cmd->caller_key);
    if (id == 0 && s->next_node_id > ST_MAX_NODE_ID) {
        st__fail(res, REG_RESOURCE_EXHAUSTED, "node id space exhausted");
        return;
    }
    const char *hprob = cmd->hostname[0] == '\0' ? "" : hostname_problem(s, id, cmd->hostname);

    struct st__node *n;
    if (id == 0) {
        id = s->next_node_id;
        uint32_t need = id - ST_FIRST_NODE_ID + 1;
        st__nodes_reserve(s, need);
        s->next_node_id++;
        n = &s->nodes[id - ST_FIRST_NODE_ID];
        memcpy(n->key, cmd->caller_key, ST_KEY_LEN);
        st__key_index(s, id);
    } else {
        n = st__node(s, id);
        res->status = ST_STATUS_RETURNING;
    }
    if (!n->registered) {
        n->registered = 1;
        n->created_ms = cmd->ts_ms;
        s->n_registered++;
    }
    n->public_ = cmd->flag;
    set_endpoint(n, cmd->endpoint);
    set_online(s, n, true, cmd->ts_ms);
    if (n_tags > 0) {
        set_tags(n, tagbuf, tag_len, n_tags);
    }
    if (cmd->hostname[0] != '\0') {
        if (hprob[0] == '\0') {
            set_hostname(s, id, cmd->hostname);
        } else {
            snprintf(res->message, sizeof res->message, "hostname_error: %s", hprob);
        }
    }
    res->node = id;
}

static void do_deregister(struct st_state *s, const struct st_cmd *cmd, uint32_t id)
{
    struct st__node *n = st__node(s, id);
    st__net_detach_node(s, cmd, id);
    st__pending_drop_node(s, id);
    host_clear(s, id);
    set_online(s, n, false, cmd->ts_ms);
    st__node_set_str(n, "", "");
    reg_free(n->tags);
    n->tags = NULL;
    n->n_tags = 0;
    n->public_ = 0;
    n->registered = 0;
    s->n_registered--;
}

static void do_rotate(struct st_state *s, const struct st_cmd *cmd, uint32_t id,
                      struct st_result *res)
{
    static const uint8_t zero[ST_KEY_LEN];
    if (memcmp(cmd->key, zero, ST_KEY_LEN) == 0) {
        st__fail(res, REG_INVALID_ARGUMENT, "new key missing");
        return;
    }
    uint32_t holder = st__key_find(s, cmd->key);
    if (holder == id) {
        return;
    }
    if (holder != 0) {
        st__fail(res, REG_ALREADY_EXISTS, "key belongs to node %u", holder);
        return;
    }
    st__ix_remove(&s->key_ix, key_hash(s, id), id, key_hash, s);
    memcpy(s->nodes[id - ST_FIRST_NODE_ID].key, cmd->key, ST_KEY_LEN); /* id is live */
    st__key_index(s, id);
}

static void do_set_online(struct st_state *s, const struct st_cmd *cmd, struct st_result *res)
{
    if (!cmd->caller_admin) {
        st__fail(res, REG_PERMISSION_DENIED, "set_online is issued by the leader only");
        return;
    }
    if (cmd->n_online > ST_ONLINE_BATCH_MAX || (cmd->n_online > 0 && cmd->online == NULL)) {
        st__fail(res, REG_INVALID_ARGUMENT, "online batch of %u entries (max %d)",
                 (unsigned)cmd->n_online, ST_ONLINE_BATCH_MAX);
        return;
    }
    for (uint32_t i = 0; i < cmd->n_online; i++) {
        struct st__node *n = st__live(s, cmd->online[i].node);
        if (n != NULL) {
            set_online(s, n, cmd->online[i].online, cmd->ts_ms);
        }
    }
}

void st__apply_node(struct st_state *s, const struct st_cmd *cmd, struct st_result *res)
{
    if (cmd->op == ST_CMD_REGISTER) {
        do_register(s, cmd, res);
        return;
    }
    if (cmd->op == ST_CMD_SET_ONLINE) {
        do_set_online(s, cmd, res);
        return;
    }
    uint32_t id = st__caller(s, cmd);
    if (id == 0) {
        st__fail(res, REG_UNAUTHENTICATED, "caller is not a registered node");
        return;
    }
    struct st__node *n = st__node(s, id);
    res->node = id;
    switch (cmd->op) {
    case ST_CMD_DEREGISTER:
        do_deregister(s, cmd, id);
        break;
    case ST_CMD_SET_VISIBILITY:
        n->public_ = cmd->flag;
        break;
    case ST_CMD_SET_HOSTNAME: {
        if (!st__fits(cmd->hostname, sizeof cmd->hostname)) {
            st__fail(res, REG_INVALID_ARGUMENT, "hostname longer than %d", ST_HOSTNAME_MAX);
            break;
        }
        const char *prob = cmd->hostname[0] == '\0' ? "" : hostname_problem(s, id, cmd->hostname);
        if (prob[0] != '\0') {
            st__fail(res, strstr(prob, "taken") ? REG_ALREADY_EXISTS : REG_INVALID_ARGUMENT, "%s",
                     prob);
            break;
        }
        set_hostname(s, id, cmd->hostname);
        break;
    }
    case ST_CMD_SET_TAGS: {
        char buf[ST_TAGS_MAX * (ST_TAG_MAX + 1)];
        uint8_t count = 0;
        int len = pack_tags(cmd, buf, &count, res);
        if (len >= 0) {
            set_tags(n, buf, len, count);
        }
        break;
    }
    case ST_CMD_SET_ENDPOINT:
        if (!valid_endpoint(cmd->endpoint, sizeof cmd->endpoint)) {
            st__fail(res, REG_INVALID_ARGUMENT, "invalid endpoint: 1-%d printable characters",
                     ST_ENDPOINT_MAX);
            break;
        }
        set_endpoint(n, cmd->endpoint);
        break;
    case ST_CMD_ROTATE_KEY:
        do_rotate(s, cmd, id, res);
        break;
    default:
        st__fail(res, REG_INVALID_ARGUMENT, "not a node command");
        break;
    }
}
