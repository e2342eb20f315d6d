/* The four models (fault-injection.md §3.5): a register with read, write and
 * cas; per-agent-pair access (join/kick grant and revoke membership,
 * approve/untrust grant and revoke trust, resolve answers allow iff either
 * holds); a member set per network; and a write-once key for unique
 * registrations and durability. States are small fixed-size structs, fully
 * zeroed first so byte-wise hash and equality are exact. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "checker.h"
#include "internal.h"

uint64_t jc__hash_bytes(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t h = 1469598103934665603ull;

    for (size_t i = 0; i < n; i++) {
        h = (h ^ b[i]) * 1099511628211ull;
    }
    return h;
}

/* ---- Shared preparation helpers ----------------------------------------- */

static int rejection_class(const char *code)
{
    if (strcmp(code, "not_found") == 0) {
        return JC_REJ_NOT_FOUND;
    }
    if (strcmp(code, "already_exists") == 0) {
        return JC_REJ_EXISTS;
    }
    if (strcmp(code, "failed_precondition") == 0) {
        return JC_REJ_PRECONDITION;
    }
    return JC_REJ_OTHER;
}

static const char *rejection_code(const struct jc_op *done)
{
    const struct jc_val *rej = jc_val_get(&done->value, "rejected");

    if (rej != NULL && rej->type == JC_STR) {
        return rej->s;
    }
    return done->error;
}

/* Fills flags, key and (for a rejection) out; returns the completion value
 * for models to read, or NULL when the output is unknown or rejected. */
static const struct jc_val *base(const struct jc_op *inv, const struct jc_op *done,
                                 enum jc_type outcome, struct jc_call *call)
{
    const char *rej;

    memset(call, 0, sizeof(*call));
    call->key = &inv->key;
    if (outcome == JC_FAIL) {
        call->flags |= JC_CALL_FAILED | JC_CALL_UNKNOWN;
        return NULL;
    }
    if (outcome == JC_INFO || done == NULL) {
        call->flags |= JC_CALL_UNKNOWN;
        return NULL;
    }
    rej = rejection_code(done);
    if (rej != NULL) {
        call->flags |= JC_CALL_REJECTED;
        call->out = rejection_class(rej);
        return NULL;
    }
    return &done->value;
}

/* The argument of a write: the invoke's value, or the completion's when the
 * invoke left it nil. */
static const struct jc_val *arg_of(const struct jc_op *inv, const struct jc_op *done)
{
    if (inv->value.type == JC_NIL && done != NULL) {
        return &done->value;
    }
    return &inv->value;
}

static int want_int(const struct jc_val *v, int64_t *out, const struct jc_op *inv,
                    const char *what, char errmsg[static REG_ERRMSG_SIZE])
{
    char buf[64];

    if (v == NULL || v->type != JC_INT) {
        jc_val_format(v ? v : &inv->value, buf, sizeof(buf));
        reg_errmsgf(errmsg, "op %" PRId64 " (%s): %s must be an integer, got %s", inv->index,
                    inv->f, what, buf);
        return REG_MALFORMED;
    }
    *out = v->i;
    return REG_OK;
}

static int bad_f(const struct jc_op *inv, const char *model, char errmsg[static REG_ERRMSG_SIZE])
{
    reg_errmsgf(errmsg, "op %" PRId64 ": f \"%s\" is not an op of the %s model", inv->index,
                inv->f, model);
    return REG_MALFORMED;
}

static uint64_t hash_generic(const void *s, size_t n)
{
    return jc__hash_bytes(s, n);
}

/* ---- Register ------------------------------------------------------------ */

struct reg_state {
    int64_t v;
    int64_t is_nil;
};

static void reg_init(void *state, const struct jc_opts *opts)
{
    struct reg_state *s = state;

    memset(s, 0, sizeof(*s));
    s->is_nil = !(opts && opts->has_init);
    s->v = s->is_nil ? 0 : opts->init;
}

static int reg_prepare(const struct jc_op *inv, const struct jc_op *done, enum jc_type outcome,
                       struct jc_call *call, char errmsg[static REG_ERRMSG_SIZE])
{
    const struct jc_val *out = base(inv, done, outcome, call);
    const struct jc_val *arg = arg_of(inv, done);

    if (strcmp(inv->f, "read") == 0) {
        call->kind = JC_REG_READ;
        call->flags |= JC_CALL_READ;
        if (out == NULL) {
            return REG_OK;
        }
        if (out->type == JC_NIL) {
            call->b = 1;
            return REG_OK;
        }
        return want_int(out, &call->out, inv, "read value", errmsg);
    }
    if (strcmp(inv->f, "write") == 0) {
        call->kind = JC_REG_WRITE;
        return want_int(arg, &call->a, inv, "write value", errmsg);
    }
    if (strcmp(inv->f, "cas") == 0) {
        call->kind = JC_REG_CAS;
        if (arg->type != JC_VEC || arg->n != 2) {
            reg_errmsgf(errmsg, "op %" PRId64 " (cas): value must be [from to]", inv->index);
            return REG_MALFORMED;
        }
        if (want_int(&arg->items[0], &call->a, inv, "cas from", errmsg) != REG_OK) {
            return REG_MALFORMED;
        }
        return want_int(&arg->items[1], &call->b, inv, "cas to", errmsg);
    }
    return bad_f(inv, "register", errmsg);
}

static int reg_step(const void *state, const struct jc_call *c, void *next)
{
    const struct reg_state *s = state;
    struct reg_state *n = next;
    int matches;

    *n = *s;
    switch (c->kind) {
    case JC_REG_READ:
        if (c->flags & JC_CALL_UNKNOWN) {
            return 1;
        }
        return c->b ? (int)s->is_nil : (!s->is_nil && s->v == c->out);
    case JC_REG_WRITE:
        if (c->flags & JC_CALL_REJECTED) {
            return 1;
        }
        n->v = c->a;
        n->is_nil = 0;
        return 1;
    case JC_REG_CAS:
        matches = !s->is_nil && s->v == c->a;
        if (c->flags & JC_CALL_REJECTED) {
            /* A refused cas observed a different value; other refusals say
             * nothing about the state. */
            return c->out == JC_REJ_OTHER ? 1 : !matches;
        }
        if (matches) {
            n->v = c->b;
            return 1;
        }
        /* An unknown cas whose guard fails is a legal no-op. */
        return (c->flags & JC_CALL_UNKNOWN) != 0;
    }
    return 0;
}

static uint64_t reg_hash(const void *s)
{
    return hash_generic(s, sizeof(struct reg_state));
}

static int reg_eq(const void *a, const void *b)
{
    return memcmp(a, b, sizeof(struct reg_state)) == 0;
}

static void reg_describe(const void *state, char *buf, size_t len)
{
    const struct reg_state *s = state;

    if (s->is_nil) {
        snprintf(buf, len, "register=nil");
    } else {
        snprintf(buf, len, "register=%" PRId64, s->v);
    }
}

const struct jc_model jc_model_register = {
    "register", sizeof(struct reg_state), reg_init, reg_prepare, reg_step,
    reg_hash, reg_eq, reg_describe,
};

/* ---- Access (per agent pair) -------------------------------------------- */

struct acc_state {
    uint32_t member;
    uint32_t trusted;
};

static void acc_init(void *state, const struct jc_opts *opts)
{
    (void)opts;
    memset(state, 0, sizeof(struct acc_state));
}

/* allow/deny from a resolve answer. A denied resolve may surface as a
 * not_found or permission_denied rejection (DESIGN.md §4: no enumeration). */
static int acc_answer(const struct jc_val *v, int64_t *allow)
{
    const struct jc_val *r = jc_val_get(v, "result");

    if (r != NULL) {
        v = r;
    }
    if (v->type == JC_BOOL) {
        *allow = v->i;
        return REG_OK;
    }
    if (v->type == JC_STR && (strcmp(v->s, "allow") == 0 || strcmp(v->s, "allowed") == 0)) {
        *allow = 1;
        return REG_OK;
    }
    if (v->type == JC_STR && (strcmp(v->s, "deny") == 0 || strcmp(v->s, "denied") == 0)) {
        *allow = 0;
        return REG_OK;
    }
    return REG_MALFORMED;
}

static int acc_prepare(const struct jc_op *inv, const struct jc_op *done, enum jc_type outcome,
                       struct jc_call *call, char errmsg[static REG_ERRMSG_SIZE])
{
    /* authorize (the data-plane check) answers like resolve. */
    static const struct {
        const char *f;
        uint32_t kind;
    } names[] = {{"join", JC_ACC_JOIN},       {"kick", JC_ACC_KICK},
                 {"approve", JC_ACC_APPROVE}, {"untrust", JC_ACC_UNTRUST},
                 {"resolve", JC_ACC_RESOLVE}, {"authorize", JC_ACC_RESOLVE}};
    const struct jc_val *out = base(inv, done, outcome, call);
    char buf[64];
    int found = 0;

    for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
        if (strcmp(inv->f, names[k].f) == 0) {
            call->kind = names[k].kind;
            found = 1;
        }
    }
    if (!found) {
        return bad_f(inv, "access", errmsg);
    }
    if (call->kind != JC_ACC_RESOLVE) {
        return REG_OK;
    }
    call->flags |= JC_CALL_READ;
    if (call->flags & JC_CALL_REJECTED) {
        if (call->out == JC_REJ_NOT_FOUND ||
            strcmp(rejection_code(done), "permission_denied") == 0) {
            call->flags &= ~JC_CALL_REJECTED;
            call->out = 0;
            return REG_OK;
        }
        /* Any other refusal of a read says nothing: drop it like a fail. */
        call->flags |= JC_CALL_UNKNOWN;
        return REG_OK;
    }
    if (out == NULL) {
        return REG_OK;
    }
    if (acc_answer(out, &call->out) != REG_OK) {
        jc_val_format(out, buf, sizeof(buf));
        reg_errmsgf(errmsg, "op %" PRId64 " (resolve): answer must be allow or deny, got %s",
                    inv->index, buf);
        return REG_MALFORMED;
    }
    return REG_OK;
}

static int acc_step(const void *state, const struct jc_call *c, void *next)
{
    const struct acc_state *s = state;
    struct acc_state *n = next;
    int rej = (c->flags & JC_CALL_REJECTED) != 0;

    *n = *s;
    switch (c->kind) {
    case JC_ACC_JOIN:
    case JC_ACC_APPROVE: {
        uint32_t *bit = c->kind == JC_ACC_JOIN ? &n->member : &n->trusted;
        if (rej) {
            return c->out == JC_REJ_EXISTS ? *bit == 1 : 1;
        }
        *bit = 1;
        return 1;
    }
    case JC_ACC_KICK:
    case JC_ACC_UNTRUST: {
        uint32_t *bit = c->kind == JC_ACC_KICK ? &n->member : &n->trusted;
        if (rej) {
            return c->out == JC_REJ_NOT_FOUND ? *bit == 0 : 1;
        }
        *bit = 0;
        return 1;
    }
    case JC_ACC_RESOLVE:
        if (c->flags & JC_CALL_UNKNOWN) {
            return 1;
        }
        return c->out == (int64_t)(s->member || s->trusted);
    }
    return 0;
}

static uint64_t acc_hash(const void *s)
{
    return hash_generic(s, sizeof(struct acc_state));
}

static int acc_eq(const void *a, const void *b)
{
    return memcmp(a, b, sizeof(struct acc_state)) == 0;
}

static void acc_describe(const void *state, char *buf, size_t len)
{
    const struct acc_state *s = state;

    snprintf(buf, len, "member=%s trusted=%s", s->member ? "true" : "false",
             s->trusted ? "true" : "false");
}

const struct jc_model jc_model_access = {
    "access", sizeof(struct acc_state), acc_init, acc_prepare, acc_step,
    acc_hash, acc_eq, acc_describe,
};

/* ---- Set (members of one network; elements 0..63) ------------------------- */

static void set_init(void *state, const struct jc_opts *opts)
{
    (void)opts;
    memset(state, 0, sizeof(uint64_t));
}

static int set_elem(const struct jc_val *v, int64_t *e, const struct jc_op *inv,
                    char errmsg[static REG_ERRMSG_SIZE])
{
    if (want_int(v, e, inv, "element", errmsg) != REG_OK) {
        return REG_MALFORMED;
    }
    if (*e < 0 || *e > 63) {
        reg_errmsgf(errmsg, "op %" PRId64 " (%s): element %" PRId64
                    " outside 0..63 (the set model's universe)", inv->index, inv->f, *e);
        return REG_MALFORMED;
    }
    return REG_OK;
}

static int set_prepare(const struct jc_op *inv, const struct jc_op *done, enum jc_type outcome,
                       struct jc_call *call, char errmsg[static REG_ERRMSG_SIZE])
{
    const struct jc_val *out = base(inv, done, outcome, call);

    if (strcmp(inv->f, "add") == 0 || strcmp(inv->f, "remove") == 0) {
        call->kind = inv->f[0] == 'a' ? JC_SET_ADD : JC_SET_REMOVE;
        return set_elem(arg_of(inv, done), &call->a, inv, errmsg);
    }
    if (strcmp(inv->f, "read") != 0) {
        return bad_f(inv, "set", errmsg);
    }
    call->kind = JC_SET_READ;
    call->flags |= JC_CALL_READ;
    if (call->flags & JC_CALL_REJECTED) {
        call->flags |= JC_CALL_UNKNOWN;
        return REG_OK;
    }
    if (out == NULL) {
        return REG_OK;
    }
    if (out->type != JC_VEC) {
        reg_errmsgf(errmsg, "op %" PRId64 " (read): value must be a list of elements", inv->index);
        return REG_MALFORMED;
    }
    for (size_t i = 0; i < out->n; i++) {
        int64_t e;
        if (set_elem(&out->items[i], &e, inv, errmsg) != REG_OK) {
            return REG_MALFORMED;
        }
        call->set |= 1ull << e;
    }
    return REG_OK;
}

static int set_step(const void *state, const struct jc_call *c, void *next)
{
    uint64_t s;
    uint64_t bit = 1ull << (c->a & 63);
    int rej = (c->flags & JC_CALL_REJECTED) != 0;

    memcpy(&s, state, sizeof(s));
    memcpy(next, &s, sizeof(s));
    switch (c->kind) {
    case JC_SET_ADD:
        if (rej) {
            return c->out == JC_REJ_EXISTS ? (s & bit) != 0 : 1;
        }
        s |= bit;
        break;
    case JC_SET_REMOVE:
        if (rej) {
            return c->out == JC_REJ_NOT_FOUND ? (s & bit) == 0 : 1;
        }
        s &= ~bit;
        break;
    case JC_SET_READ:
        return (c->flags & JC_CALL_UNKNOWN) ? 1 : s == c->set;
    default:
        return 0;
    }
    memcpy(next, &s, sizeof(s));
    return 1;
}

static uint64_t set_hash(const void *s)
{
    return hash_generic(s, sizeof(uint64_t));
}

static int set_eq(const void *a, const void *b)
{
    return memcmp(a, b, sizeof(uint64_t)) == 0;
}

static void set_describe(const void *state, char *buf, size_t len)
{
    uint64_t s;
    size_t pos = 0;

    memcpy(&s, state, sizeof(s));
    pos += (size_t)snprintf(buf, len, "set={");
    for (int e = 0; e < 64 && pos < len; e++) {
        if (s & (1ull << e)) {
            pos += (size_t)snprintf(buf + pos, len - pos, pos > 5 ? " %d" : "%d", e);
        }
    }
    if (pos < len) {
        snprintf(buf + pos, len - pos, "}");
    }
}

const struct jc_model jc_model_set = {
    "set", sizeof(uint64_t), set_init, set_prepare, set_step, set_hash, set_eq, set_describe,
};

/* ---- Unique write (registration once per key; durability) ---------------- */

static int unq_prepare(const struct jc_op *inv, const struct jc_op *done, enum jc_type outcome,
                       struct jc_call *call, char errmsg[static REG_ERRMSG_SIZE])
{
    const struct jc_val *out = base(inv, done, outcome, call);

    if (strcmp(inv->f, "write") == 0) {
        call->kind = JC_UNQ_WRITE;
        return REG_OK;
    }
    if (strcmp(inv->f, "read") != 0) {
        return bad_f(inv, "unique", errmsg);
    }
    call->kind = JC_UNQ_READ;
    call->flags |= JC_CALL_READ;
    if (call->flags & JC_CALL_REJECTED) {
        /* A read that says not_found saw the key absent. */
        if (call->out == JC_REJ_NOT_FOUND) {
            call->flags &= ~JC_CALL_REJECTED;
            call->out = 0;
        } else {
            call->flags |= JC_CALL_UNKNOWN;
        }
        return REG_OK;
    }
    if (out != NULL) {
        /* A read returns the record or nil (or a plain boolean). */
        call->out = out->type == JC_BOOL ? out->i : out->type != JC_NIL;
    }
    return REG_OK;
}

static int unq_step(const void *state, const struct jc_call *c, void *next)
{
    uint64_t s;

    memcpy(&s, state, sizeof(s));
    memcpy(next, &s, sizeof(s));
    if (c->kind == JC_UNQ_READ) {
        return (c->flags & JC_CALL_UNKNOWN) ? 1 : (int64_t)s == c->out;
    }
    if (c->flags & JC_CALL_REJECTED) {
        return c->out == JC_REJ_EXISTS ? s == 1 : 1;
    }
    if (s == 1) {
        /* A second acknowledged write of a unique key is illegal; an unknown
         * one would have been refused, which changes nothing. */
        return (c->flags & JC_CALL_UNKNOWN) != 0;
    }
    s = 1;
    memcpy(next, &s, sizeof(s));
    return 1;
}

static void unq_describe(const void *state, char *buf, size_t len)
{
    uint64_t s;

    memcpy(&s, state, sizeof(s));
    snprintf(buf, len, "%s", s ? "present" : "absent");
}

const struct jc_model jc_model_unique = {
    "unique", sizeof(uint64_t), set_init, unq_prepare, unq_step, set_hash, set_eq, unq_describe,
};

const struct jc_model *jc_model_find(const char *name)
{
    static const struct jc_model *const all[] = {&jc_model_register, &jc_model_access,
                                                 &jc_model_set, &jc_model_unique};

    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        if (strcmp(all[i]->name, name) == 0) {
            return all[i];
        }
    }
    return NULL;
}

int jc_prepare(const struct jc_history *h, const struct jc_pairs *pairs,
               const struct jc_model *m, const struct jc_opts *opts, struct jc_call **calls,
               char errmsg[static REG_ERRMSG_SIZE])
{
    struct jc_call *c;

    (void)opts;
    *calls = NULL;
    c = reg_malloc((pairs->n ? pairs->n : 1) * sizeof(*c));
    if (c == NULL) {
        reg_errmsgf(errmsg, "preparing %zu ops: out of memory", pairs->n);
        return REG_NOMEM;
    }
    for (size_t i = 0; i < pairs->n; i++) {
        const struct jc_pair *p = &pairs->p[i];
        const struct jc_op *done = p->done == SIZE_MAX ? NULL : &h->ops[p->done];
        int rv = REG_OK;
        if (strcmp(h->ops[p->inv].f, "hash") == 0) {
            /* Convergence probes (state hash at an applied index) belong
             * to the convergence checker; no model gives them meaning. */
            memset(&c[i], 0, sizeof(c[i]));
            c[i].key = &h->ops[p->inv].key;
            c[i].flags = JC_CALL_PROBE | JC_CALL_UNKNOWN | JC_CALL_READ;
        } else {
            rv = m->prepare(&h->ops[p->inv], done, p->outcome, &c[i], errmsg);
        }
        if (rv != REG_OK) {
            reg_free(c);
            return rv;
        }
        c[i].pair = i;
    }
    *calls = c;
    return REG_OK;
}
