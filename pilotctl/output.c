/* pilotctl output: the one place that prints. Success goes to stdout, as
 * {"status":"ok","data":{...}} with --json or as text rendered from the same
 * data object; errors go to stderr as "error: ..." + "hint: ..." or as
 * {"status":"error","code","message","hint"}. The REG_* code of a failed
 * call decides the exit code (registry-reference.md §4.1, DESIGN.md §8). */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"

struct ctl_globals ctl_g;

static void print_json(FILE *f, json_t *obj)
{
    char *s = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);

    if (s != NULL) {
        fputs(s, f);
        fputc('\n', f);
        free(s);
    }
}

int ctl_ok(json_t *data, ctl_text_fn text)
{
    if (data == NULL)
        data = json_object();
    if (ctl_g.json) {
        json_t *env = json_pack("{s:s, s:O}", "status", "ok", "data", data);
        if (env != NULL) {
            print_json(stdout, env);
            json_decref(env);
        }
    } else if (text != NULL) {
        text(data);
    }
    json_decref(data);
    fflush(stdout);
    return CTL_EXIT_OK;
}

static int vfail(int exit_code, const char *code, const char *hint, const char *fmt, va_list ap)
{
    char msg[1024];

    vsnprintf(msg, sizeof msg, fmt, ap);
    if (ctl_g.json) {
        json_t *e = json_pack("{s:s, s:s, s:s}", "status", "error", "code", code, "message", msg);
        if (e != NULL && hint != NULL)
            json_object_set_new(e, "hint", json_string(hint));
        if (e != NULL) {
            print_json(stderr, e);
            json_decref(e);
        }
    } else {
        fprintf(stderr, "error: %s\n", msg);
        if (hint != NULL)
            fprintf(stderr, "hint: %s\n", hint);
    }
    return exit_code;
}

int ctl_fail(int exit_code, const char *code, const char *hint, const char *fmt, ...)
{
    va_list ap;
    int rv;

    va_start(ap, fmt);
    rv = vfail(exit_code, code, hint, fmt, ap);
    va_end(ap);
    return rv;
}

int ctl_usage(const char *usage, const char *fmt, ...)
{
    char hint[512];
    va_list ap;
    int rv;

    snprintf(hint, sizeof hint, "usage: %s", usage);
    va_start(ap, fmt);
    rv = vfail(CTL_EXIT_USAGE, "usage", hint, fmt, ap);
    va_end(ap);
    return rv;
}

static const char *default_hint(int code)
{
    switch (code) {
    case REG_UNAVAILABLE:
        return "check --registry / PILOT_REGISTRY and that the registry nodes are running";
    case REG_NO_LEADER:
        return "the cluster has no leader (lost quorum?); check `pilotctl cluster status`";
    case REG_TIMEOUT:
        return "the cluster did not answer in time; retry or raise --timeout";
    case REG_UNKNOWN_OUTCOME:
        return "the change may or may not have been applied; check before retrying";
    case REG_UNAUTHENTICATED:
        return "run `pilotctl init` and `pilotctl register`, or check the admin token";
    case REG_RATE_LIMITED:
        return "slow down and retry";
    default:
        return NULL;
    }
}

int ctl_fail_reg(int reg_code, const char *message, const char *hint)
{
    int exit_code = CTL_EXIT_ERROR;

    if (reg_code == REG_UNAVAILABLE || reg_code == REG_NO_LEADER || reg_code == REG_TIMEOUT)
        exit_code = CTL_EXIT_UNREACHABLE;
    /* A command's hint explains its business errors; cluster-level failures
     * keep their own. */
    if (hint == NULL || default_hint(reg_code) != NULL)
        hint = default_hint(reg_code);
    return ctl_fail(exit_code, reg_err_name(reg_code), hint, "%s",
                    message != NULL && message[0] != '\0' ? message : reg_strerror(reg_code));
}

void ctl_warn(const char *fmt, ...)
{
    va_list ap;

    fputs("warning: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void cell(const json_t *v, char *buf, size_t cap)
{
    if (v == NULL || json_is_null(v))
        snprintf(buf, cap, "-");
    else if (json_is_string(v))
        snprintf(buf, cap, "%s", json_string_value(v)[0] ? json_string_value(v) : "-");
    else if (json_is_integer(v))
        snprintf(buf, cap, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else if (json_is_boolean(v))
        snprintf(buf, cap, "%s", json_is_true(v) ? "yes" : "no");
    else if (json_is_array(v)) {
        size_t i, off = 0;
        const json_t *x;
        buf[0] = '\0';
        json_array_foreach(v, i, x) {
            char one[128];
            cell(x, one, sizeof one);
            int w = snprintf(buf + off, cap - off, "%s%s", i ? "," : "", one);
            if (w < 0 || (size_t)w >= cap - off)
                break;
            off += (size_t)w;
        }
        if (off == 0)
            snprintf(buf, cap, "-");
    } else {
        char *s = json_dumps(v, JSON_COMPACT);
        snprintf(buf, cap, "%s", s != NULL ? s : "?");
        free(s);
    }
}

#define CTL_CELL_MAX 256

void ctl_table(const json_t *rows, const struct ctl_col *cols, size_t n_cols)
{
    size_t width[16] = {0};
    size_t i, c;
    const json_t *row;
    char buf[CTL_CELL_MAX];

    if (n_cols > 16)
        n_cols = 16;
    for (c = 0; c < n_cols; c++)
        width[c] = strlen(cols[c].header);
    json_array_foreach(rows, i, row) {
        for (c = 0; c < n_cols; c++) {
            cell(json_object_get(row, cols[c].key), buf, sizeof buf);
            if (strlen(buf) > width[c])
                width[c] = strlen(buf);
        }
    }
    for (c = 0; c < n_cols; c++)
        printf("%-*s%s", c + 1 < n_cols ? (int)width[c] : 0, cols[c].header,
               c + 1 < n_cols ? "  " : "\n");
    json_array_foreach(rows, i, row) {
        for (c = 0; c < n_cols; c++) {
            cell(json_object_get(row, cols[c].key), buf, sizeof buf);
            printf("%-*s%s", c + 1 < n_cols ? (int)width[c] : 0, buf,
                   c + 1 < n_cols ? "  " : "\n");
        }
    }
}

void ctl_fields(const json_t *obj, const struct ctl_col *cols, size_t n_cols)
{
    size_t width = 0;
    char buf[CTL_CELL_MAX];

    for (size_t c = 0; c < n_cols; c++)
        if (strlen(cols[c].header) > width)
            width = strlen(cols[c].header);
    for (size_t c = 0; c < n_cols; c++) {
        const json_t *v = json_object_get(obj, cols[c].key);
        if (v == NULL)
            continue;
        cell(v, buf, sizeof buf);
        printf("%-*s  %s\n", (int)width + 1, cols[c].header, buf);
    }
}

json_t *ctl_from_msgpack(const msgpack_object *o)
{
    json_t *j = NULL;

    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        return json_null();
    case MSGPACK_OBJECT_BOOLEAN:
        return json_boolean(o->via.boolean);
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        return json_integer((json_int_t)o->via.u64);
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        return json_integer((json_int_t)o->via.i64);
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        return json_real(o->via.f64);
    case MSGPACK_OBJECT_STR:
        return json_stringn_nocheck(o->via.str.ptr, o->via.str.size);
    case MSGPACK_OBJECT_BIN: {
        static const char hex[] = "0123456789abcdef";
        size_t n = o->via.bin.size;
        char *s = malloc(2 * n + 1);
        if (s == NULL)
            return NULL;
        for (size_t i = 0; i < n; i++) {
            s[2 * i] = hex[(unsigned char)o->via.bin.ptr[i] >> 4];
            s[2 * i + 1] = hex[(unsigned char)o->via.bin.ptr[i] & 15];
        }
        s[2 * n] = '\0';
        j = json_string(s);
        free(s);
        return j;
    }
    case MSGPACK_OBJECT_ARRAY:
        j = json_array();
        for (uint32_t i = 0; j != NULL && i < o->via.array.size; i++)
            json_array_append_new(j, ctl_from_msgpack(&o->via.array.ptr[i]));
        return j;
    case MSGPACK_OBJECT_MAP:
        j = json_object();
        for (uint32_t i = 0; j != NULL && i < o->via.map.size; i++) {
            const msgpack_object_kv *kv = &o->via.map.ptr[i];
            char key[128];
            if (kv->key.type != MSGPACK_OBJECT_STR)
                continue;
            snprintf(key, sizeof key, "%.*s", (int)kv->key.via.str.size, kv->key.via.str.ptr);
            json_object_set_new(j, key, ctl_from_msgpack(&kv->val));
        }
        return j;
    default:
        return json_null();
    }
}

void ctl_fmt_time(int64_t ms, char *buf, size_t cap)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;

    if (ms <= 0 || gmtime_r(&t, &tm) == NULL) {
        snprintf(buf, cap, "-");
        return;
    }
    strftime(buf, cap, "%Y-%m-%d %H:%M:%S", &tm);
}
