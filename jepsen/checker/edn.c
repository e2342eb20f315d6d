/* A small tolerant EDN reader, enough for Jepsen histories from other tools
 * (Knossos and Jepsen history.edn files): maps, vectors, lists, sets (read
 * as vectors), keywords (as strings without ':'), integers (an N suffix is
 * accepted), strings, nil, booleans, symbols (as strings), ';' comments,
 * '#_' discards and '#tag' prefixes (the tag is ignored, the value kept).
 * Floats are kept as their text: no model reads them, and latencies in
 * foreign histories should not make a file unreadable. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "checker.h"
#include "internal.h"

struct rd {
    const char *p;
    const char *end;
    size_t line;
    char *errmsg;
};

static int fail(struct rd *r, const char *what)
{
    reg_errmsgf(r->errmsg, "edn line %zu: %s", r->line, what);
    return REG_MALFORMED;
}

static void skip_ws(struct rd *r)
{
    while (r->p < r->end) {
        char c = *r->p;
        if (c == '\n') {
            r->line++;
            r->p++;
        } else if (c == ' ' || c == '\t' || c == '\r' || c == ',') {
            r->p++;
        } else if (c == ';') {
            while (r->p < r->end && *r->p != '\n') {
                r->p++;
            }
        } else {
            break;
        }
    }
}

static int is_delim(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ',' || c == '{' ||
           c == '}' || c == '[' || c == ']' || c == '(' || c == ')' || c == '"' || c == ';';
}

static int dup_range(struct jc_val *v, const char *s, size_t n)
{
    v->type = JC_STR;
    v->s = reg_malloc(n + 1);
    if (v->s == NULL) {
        return REG_NOMEM;
    }
    memcpy(v->s, s, n);
    v->s[n] = '\0';
    return REG_OK;
}

static int parse(struct rd *r, struct jc_val *v, int depth);

static int parse_coll(struct rd *r, struct jc_val *v, char close, int is_map, int depth)
{
    size_t cap = 8;
    size_t count = 0;

    v->type = is_map ? JC_MAP : JC_VEC;
    v->items = reg_calloc(cap, sizeof(*v->items));
    if (v->items == NULL) {
        return REG_NOMEM;
    }
    for (;;) {
        int rv;
        skip_ws(r);
        if (r->p >= r->end) {
            return fail(r, "unterminated collection");
        }
        if (*r->p == close) {
            r->p++;
            break;
        }
        /* One spare slot, so a failed map with an odd count frees cleanly. */
        if (count + 1 >= cap) {
            struct jc_val *items = reg_realloc(v->items, 2 * cap * sizeof(*items));
            if (items == NULL) {
                return REG_NOMEM;
            }
            memset(items + cap, 0, cap * sizeof(*items));
            v->items = items;
            cap *= 2;
        }
        rv = parse(r, &v->items[count], depth + 1);
        count++;
        /* Counting a half-built pair (its value slot is still zeroed) lets
         * jc_val_free release everything on any early return. */
        v->n = is_map ? (count + 1) / 2 : count;
        if (rv != REG_OK) {
            return rv;
        }
    }
    if (is_map && count % 2 != 0) {
        return fail(r, "map with an odd number of forms");
    }
    return REG_OK;
}

static int parse_string(struct rd *r, struct jc_val *v)
{
    size_t cap = 16;
    size_t n = 0;

    v->type = JC_STR;
    v->s = reg_malloc(cap);
    if (v->s == NULL) {
        return REG_NOMEM;
    }
    r->p++;
    for (;;) {
        char c;
        if (r->p >= r->end) {
            return fail(r, "unterminated string");
        }
        c = *r->p++;
        if (c == '"') {
            break;
        }
        if (c == '\n') {
            r->line++;
        }
        if (c == '\\') {
            if (r->p >= r->end) {
                return fail(r, "unterminated string");
            }
            c = *r->p++;
            c = c == 'n' ? '\n' : c == 't' ? '\t' : c == 'r' ? '\r' : c;
        }
        if (c == '\0') {
            return fail(r, "NUL byte in string");
        }
        if (n + 1 >= cap) {
            char *s = reg_realloc(v->s, 2 * cap);
            if (s == NULL) {
                return REG_NOMEM;
            }
            v->s = s;
            cap *= 2;
        }
        v->s[n++] = c;
    }
    v->s[n] = '\0';
    return REG_OK;
}

static int parse_atom(struct rd *r, struct jc_val *v)
{
    const char *s = r->p;
    size_t n;
    char buf[32];
    char *endp;

    while (r->p < r->end && !is_delim(*r->p)) {
        r->p++;
    }
    n = (size_t)(r->p - s);
    if (n == 0) {
        return fail(r, "unexpected character");
    }
    if (s[0] == ':') {
        if (n == 1) {
            return fail(r, "empty keyword");
        }
        return dup_range(v, s + 1, n - 1);
    }
    if (n == 3 && memcmp(s, "nil", 3) == 0) {
        v->type = JC_NIL;
        return REG_OK;
    }
    if ((n == 4 && memcmp(s, "true", 4) == 0) || (n == 5 && memcmp(s, "false", 5) == 0)) {
        v->type = JC_BOOL;
        v->i = n == 4;
        return REG_OK;
    }
    if ((s[0] >= '0' && s[0] <= '9') || ((s[0] == '-' || s[0] == '+') && n > 1 &&
                                          s[1] >= '0' && s[1] <= '9')) {
        size_t m = n > 0 && s[n - 1] == 'N' ? n - 1 : n;
        if (m >= sizeof(buf)) {
            return fail(r, "number too long");
        }
        memcpy(buf, s, m);
        buf[m] = '\0';
        errno = 0;
        v->i = strtoll(buf, &endp, 10);
        if (*endp == '\0' && errno == 0) {
            v->type = JC_INT;
            return REG_OK;
        }
        if (errno == ERANGE) {
            return fail(r, "integer out of range");
        }
        if (strchr(buf, '.') == NULL && strchr(buf, 'e') == NULL && strchr(buf, 'E') == NULL &&
            strchr(buf, '/') == NULL) {
            return fail(r, "bad number");
        }
    }
    return dup_range(v, s, n);
}

static int parse(struct rd *r, struct jc_val *v, int depth)
{
    memset(v, 0, sizeof(*v));
    if (depth > JC__MAX_DEPTH) {
        return fail(r, "nested too deep");
    }
    skip_ws(r);
    if (r->p >= r->end) {
        return fail(r, "unexpected end of input");
    }
    switch (*r->p) {
    case '{':
        r->p++;
        return parse_coll(r, v, '}', 1, depth);
    case '[':
        r->p++;
        return parse_coll(r, v, ']', 0, depth);
    case '(':
        r->p++;
        return parse_coll(r, v, ')', 0, depth);
    case '"':
        return parse_string(r, v);
    case '}':
    case ']':
    case ')':
        return fail(r, "unbalanced closing bracket");
    case '#':
        r->p++;
        if (r->p < r->end && *r->p == '{') {
            r->p++;
            return parse_coll(r, v, '}', 0, depth);
        }
        if (r->p < r->end && *r->p == '_') {
            int rv;
            r->p++;
            rv = parse(r, v, depth + 1);
            jc_val_free(v);
            if (rv != REG_OK) {
                return rv;
            }
            return parse(r, v, depth + 1);
        }
        /* A tagged literal such as #jepsen.history.Op{...}: skip the tag. */
        while (r->p < r->end && !is_delim(*r->p)) {
            r->p++;
        }
        return parse(r, v, depth + 1);
    default:
        return parse_atom(r, v);
    }
}

static int add_op(struct jc_val *map, struct jc_history *h, char *errmsg)
{
    struct jc_op op;
    int rv = jc__op_from_map(map, h->n, &op, errmsg);

    if (rv == REG_OK) {
        rv = jc_history_append(h, &op);
        if (rv != REG_OK) {
            jc_op_free(&op);
        }
    }
    if (rv != REG_OK) {
        reg_errmsg_wrapf(errmsg, "edn op %zu", h->n);
    }
    return rv;
}

int jc__read_edn(const char *text, size_t len, struct jc_history *h,
                 char errmsg[static REG_ERRMSG_SIZE])
{
    struct rd r = {text, text + len, 1, errmsg};
    int rv = REG_OK;

    for (;;) {
        struct jc_val v;
        skip_ws(&r);
        if (r.p >= r.end) {
            break;
        }
        rv = parse(&r, &v, 0);
        if (rv == REG_OK) {
            if (v.type == JC_MAP) {
                rv = add_op(&v, h, errmsg);
            } else if (v.type == JC_VEC) {
                for (size_t i = 0; i < v.n && rv == REG_OK; i++) {
                    rv = add_op(&v.items[i], h, errmsg);
                }
            } else {
                rv = fail(&r, "expected a map or a vector of maps");
            }
        }
        jc_val_free(&v);
        if (rv != REG_OK) {
            break;
        }
    }
    return rv;
}
