/* Value trees shared by the JSON-lines and EDN readers: free, total order,
 * map lookup and a compact printer for messages. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "checker.h"

void jc_val_free(struct jc_val *v)
{
    size_t count;

    if (v == NULL) {
        return;
    }
    count = v->type == JC_MAP ? 2 * v->n : v->n;
    if (v->type == JC_VEC || v->type == JC_MAP) {
        for (size_t i = 0; i < count; i++) {
            jc_val_free(&v->items[i]);
        }
    }
    reg_free(v->items);
    reg_free(v->s);
    memset(v, 0, sizeof(*v));
}

int jc_val_cmp(const struct jc_val *a, const struct jc_val *b)
{
    size_t count;

    if (a->type != b->type) {
        return a->type < b->type ? -1 : 1;
    }
    switch (a->type) {
    case JC_NIL:
        return 0;
    case JC_BOOL:
    case JC_INT:
        return a->i < b->i ? -1 : (a->i > b->i ? 1 : 0);
    case JC_STR:
        return strcmp(a->s, b->s);
    case JC_VEC:
    case JC_MAP:
        if (a->n != b->n) {
            return a->n < b->n ? -1 : 1;
        }
        count = a->type == JC_MAP ? 2 * a->n : a->n;
        for (size_t i = 0; i < count; i++) {
            int c = jc_val_cmp(&a->items[i], &b->items[i]);
            if (c != 0) {
                return c;
            }
        }
        return 0;
    }
    return 0;
}

const struct jc_val *jc_val_get(const struct jc_val *map, const char *name)
{
    if (map == NULL || map->type != JC_MAP) {
        return NULL;
    }
    for (size_t i = 0; i < map->n; i++) {
        const struct jc_val *k = &map->items[2 * i];
        if (k->type == JC_STR && strcmp(k->s, name) == 0) {
            return &map->items[2 * i + 1];
        }
    }
    return NULL;
}

/* Appends to buf at *pos without overflowing; keeps counting so the caller
 * needs no special case for truncation. */
static void put(char *buf, size_t len, size_t *pos, const char *s)
{
    for (; *s != '\0'; s++, (*pos)++) {
        if (*pos + 1 < len) {
            buf[*pos] = *s;
        }
    }
}

static void format_rec(const struct jc_val *v, char *buf, size_t len, size_t *pos, int depth)
{
    char num[32];
    size_t count;

    if (depth > 16) {
        put(buf, len, pos, "...");
        return;
    }
    switch (v->type) {
    case JC_NIL:
        put(buf, len, pos, "nil");
        break;
    case JC_BOOL:
        put(buf, len, pos, v->i ? "true" : "false");
        break;
    case JC_INT:
        snprintf(num, sizeof(num), "%" PRId64, v->i);
        put(buf, len, pos, num);
        break;
    case JC_STR:
        put(buf, len, pos, "\"");
        put(buf, len, pos, v->s);
        put(buf, len, pos, "\"");
        break;
    case JC_VEC:
    case JC_MAP:
        put(buf, len, pos, v->type == JC_VEC ? "[" : "{");
        count = v->type == JC_MAP ? 2 * v->n : v->n;
        for (size_t i = 0; i < count; i++) {
            if (i > 0) {
                put(buf, len, pos, " ");
            }
            format_rec(&v->items[i], buf, len, pos, depth + 1);
        }
        put(buf, len, pos, v->type == JC_VEC ? "]" : "}");
        break;
    }
}

void jc_val_format(const struct jc_val *v, char *buf, size_t len)
{
    size_t pos = 0;

    if (len == 0) {
        return;
    }
    format_rec(v, buf, len, &pos, 0);
    buf[pos < len ? pos : len - 1] = '\0';
}
