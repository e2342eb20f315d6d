/* History readers: JSON lines through jansson, and the shared mapping from
 * a parsed map (JSON object or EDN map) to an op. EDN parsing itself lives
 * in edn.c. Every rejection names the line (JSON) or op position (EDN). */
#include <inttypes.h>
#include <string.h>

#include <jansson.h>

#include "checker.h"
#include "internal.h"

/* ---- JSON to value ------------------------------------------------------ */

static int from_json(json_t *j, struct jc_val *v, int depth, char errmsg[static REG_ERRMSG_SIZE])
{
    memset(v, 0, sizeof(*v));
    if (depth > JC__MAX_DEPTH) {
        reg_errmsgf(errmsg, "nested deeper than %d", JC__MAX_DEPTH);
        return REG_MALFORMED;
    }
    switch (json_typeof(j)) {
    case JSON_NULL:
        v->type = JC_NIL;
        return REG_OK;
    case JSON_TRUE:
    case JSON_FALSE:
        v->type = JC_BOOL;
        v->i = json_is_true(j);
        return REG_OK;
    case JSON_INTEGER:
        v->type = JC_INT;
        v->i = (int64_t)json_integer_value(j);
        return REG_OK;
    case JSON_REAL:
        reg_errmsgf(errmsg, "real number %g not supported (values are integers)", json_real_value(j));
        return REG_MALFORMED;
    case JSON_STRING:
        v->type = JC_STR;
        v->s = reg_strdup(json_string_value(j));
        return v->s ? REG_OK : REG_NOMEM;
    case JSON_ARRAY:
    case JSON_OBJECT: {
        int is_map = json_is_object(j);
        size_t n = is_map ? json_object_size(j) : json_array_size(j);
        size_t k = 0;
        v->type = is_map ? JC_MAP : JC_VEC;
        v->items = reg_calloc(n ? (is_map ? 2 * n : n) : 1, sizeof(*v->items));
        if (v->items == NULL) {
            return REG_NOMEM;
        }
        if (is_map) {
            const char *name;
            json_t *item;
            json_object_foreach(j, name, item) {
                int rv;
                v->items[2 * k].type = JC_STR;
                v->items[2 * k].s = reg_strdup(name);
                v->n = k + 1;
                if (v->items[2 * k].s == NULL) {
                    return REG_NOMEM;
                }
                rv = from_json(item, &v->items[2 * k + 1], depth + 1, errmsg);
                if (rv != REG_OK) {
                    return rv;
                }
                k++;
            }
        } else {
            for (k = 0; k < n; k++) {
                int rv = from_json(json_array_get(j, k), &v->items[k], depth + 1, errmsg);
                v->n = k + 1;
                if (rv != REG_OK) {
                    return rv;
                }
            }
        }
        return REG_OK;
    }
    }
    reg_errmsgf(errmsg, "unsupported JSON type");
    return REG_MALFORMED;
}

/* ---- Map to op ---------------------------------------------------------- */

static struct jc_val *field(struct jc_val *map, const char *name)
{
    return (struct jc_val *)jc_val_get(map, name);
}

static int opt_int(struct jc_val *map, const char *name, int64_t *out,
                   char errmsg[static REG_ERRMSG_SIZE])
{
    struct jc_val *v = field(map, name);

    *out = JC_ABSENT;
    if (v == NULL || v->type == JC_NIL) {
        return REG_OK;
    }
    if (v->type != JC_INT || v->i == JC_ABSENT || v->i == JC_NEMESIS) {
        reg_errmsgf(errmsg, "field %s must be an integer", name);
        return REG_MALFORMED;
    }
    *out = v->i;
    return REG_OK;
}

/* Strings stay as they are; ints and other values are printed, since node
 * names, request ids and error payloads come in every shape. */
static int opt_text(struct jc_val *map, const char *name, char **out)
{
    struct jc_val *v = field(map, name);
    char buf[128];

    *out = NULL;
    if (v == NULL || v->type == JC_NIL) {
        return REG_OK;
    }
    if (v->type == JC_STR) {
        *out = reg_strdup(v->s);
    } else if (v->type == JC_VEC && v->n > 0 && v->items[0].type == JC_STR) {
        /* Jepsen errors are often [:code detail...]; the code is what maps. */
        *out = reg_strdup(v->items[0].s);
    } else {
        jc_val_format(v, buf, sizeof(buf));
        *out = reg_strdup(buf);
    }
    return *out ? REG_OK : REG_NOMEM;
}

static void steal(struct jc_val *map, const char *name, struct jc_val *dst)
{
    struct jc_val *v = field(map, name);

    memset(dst, 0, sizeof(*dst));
    if (v != NULL) {
        *dst = *v;
        memset(v, 0, sizeof(*v));
    }
}

int jc__op_from_map(struct jc_val *map, size_t position, struct jc_op *op,
                    char errmsg[static REG_ERRMSG_SIZE])
{
    static const char *const types[] = {"invoke", "ok", "fail", "info"};
    struct jc_val *v;
    int rv = REG_MALFORMED;

    memset(op, 0, sizeof(*op));
    if (map->type != JC_MAP) {
        reg_errmsgf(errmsg, "an op must be a map/object");
        goto err;
    }
    v = field(map, "type");
    if (v == NULL || v->type != JC_STR) {
        reg_errmsgf(errmsg, "missing or non-string field type");
        goto err;
    }
    op->type = 4;
    for (int t = 0; t < 4; t++) {
        if (strcmp(v->s, types[t]) == 0) {
            op->type = (enum jc_type)t;
        }
    }
    if ((int)op->type == 4) {
        reg_errmsgf(errmsg, "type \"%s\" is not invoke, ok, fail or info", v->s);
        goto err;
    }
    v = field(map, "process");
    if (v != NULL && v->type == JC_STR && strcmp(v->s, "nemesis") == 0) {
        op->process = JC_NEMESIS;
    } else if (v != NULL && v->type == JC_INT && v->i != JC_ABSENT && v->i != JC_NEMESIS) {
        op->process = v->i;
    } else {
        reg_errmsgf(errmsg, "field process must be an integer or \"nemesis\"");
        goto err;
    }
    v = field(map, "f");
    if (v == NULL || v->type != JC_STR) {
        reg_errmsgf(errmsg, "missing or non-string field f");
        goto err;
    }
    rv = REG_NOMEM;
    op->f = reg_strdup(v->s);
    if (op->f == NULL) {
        goto err;
    }
    if ((rv = opt_int(map, "index", &op->index, errmsg)) != REG_OK ||
        (rv = opt_int(map, "time", &op->time, errmsg)) != REG_OK ||
        (rv = opt_int(map, "applied_index", &op->applied_index, errmsg)) != REG_OK) {
        goto err;
    }
    if (op->index == JC_ABSENT) {
        op->index = (int64_t)position;
    }
    if (op->time != JC_ABSENT && op->time < 0) {
        reg_errmsgf(errmsg, "field time must not be negative");
        rv = REG_MALFORMED;
        goto err;
    }
    if ((rv = opt_text(map, "error", &op->error)) != REG_OK ||
        (rv = opt_text(map, "node", &op->node)) != REG_OK ||
        (rv = opt_text(map, "req_id", &op->req_id)) != REG_OK) {
        goto err;
    }
    steal(map, "value", &op->value);
    steal(map, "key", &op->key);
    return REG_OK;

err:
    jc_op_free(op);
    return rv;
}

/* ---- JSON lines ----------------------------------------------------------- */

static int read_jsonl(const char *text, size_t len, struct jc_history *h,
                      char errmsg[static REG_ERRMSG_SIZE])
{
    size_t pos = 0;
    size_t line = 0;
    int rv = REG_OK;

    while (pos < len && rv == REG_OK) {
        const char *start = text + pos;
        const char *nl = memchr(start, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - start) : len - pos;
        size_t k = 0;
        json_error_t jerr;
        json_t *j;
        struct jc_val map;
        struct jc_op op;

        pos += n + (nl != NULL);
        line++;
        while (k < n && (start[k] == ' ' || start[k] == '\t' || start[k] == '\r')) {
            k++;
        }
        if (k == n) {
            continue;
        }
        j = json_loadb(start, n, JSON_REJECT_DUPLICATES, &jerr);
        if (j == NULL) {
            reg_errmsgf(errmsg, "line %zu: %s", line, jerr.text);
            rv = REG_MALFORMED;
            break;
        }
        rv = from_json(j, &map, 0, errmsg);
        json_decref(j);
        if (rv == REG_OK) {
            rv = jc__op_from_map(&map, h->n, &op, errmsg);
        }
        jc_val_free(&map);
        if (rv == REG_OK) {
            rv = jc_history_append(h, &op);
            if (rv != REG_OK) {
                jc_op_free(&op);
            }
        }
        if (rv != REG_OK) {
            reg_errmsg_wrapf(errmsg, "line %zu", line);
        }
    }
    return rv;
}

int jc_read_history(const char *text, size_t len, enum jc_format fmt, struct jc_history *h,
                    char errmsg[static REG_ERRMSG_SIZE])
{
    int rv;

    if (text == NULL || h == NULL || h->n != 0) {
        reg_errmsgf(errmsg, "jc_read_history: needs text and an empty history");
        return REG_INVALID_ARGUMENT;
    }
    if (fmt == JC_FORMAT_JSONL) {
        rv = read_jsonl(text, len, h, errmsg);
    } else if (fmt == JC_FORMAT_EDN) {
        rv = jc__read_edn(text, len, h, errmsg);
    } else {
        reg_errmsgf(errmsg, "unknown history format %d", (int)fmt);
        return REG_INVALID_ARGUMENT;
    }
    if (rv != REG_OK) {
        jc_history_free(h);
    }
    return rv;
}
