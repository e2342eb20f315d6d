/* Shared helpers for the jepsen checker tests: a compact history notation
 * turned into JSON lines (so every test also runs the real reader), and
 * one-call wrappers around the checkers.
 *
 * Notation: ops separated by ';', each "P TYPE F VALUE TIME [KEY]":
 *   P      process number, or n for the nemesis
 *   TYPE   i (invoke), ok, fail, info
 *   VALUE  _ (null), an integer, a JSON array such as [1,2], allow, deny,
 *          !code (a business rejection {"rejected":"code"}) or any JSON
 *   TIME   an integer, or - for none
 *   KEY    optional JSON partition key */
#ifndef PILOT_TEST_CHECKER_HELPERS_H
#define PILOT_TEST_CHECKER_HELPERS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checker.h"

static char *th_jsonl(const char *dsl)
{
    size_t cap = strlen(dsl) * 8 + 256;
    char *out = malloc(cap);
    size_t n = 0;
    const char *p = dsl;

    assert_non_null(out);
    out[0] = '\0';
    while (*p != '\0') {
        char proc[16], type[16], f[32], val[128], tim[32], key[64];
        const char *end = strchr(p, ';');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char line[512];
        int got;
        memcpy(line, p, len);
        line[len] = '\0';
        key[0] = '\0';
        got = sscanf(line, "%15s %15s %31s %127s %31s %63s", proc, type, f, val, tim, key);
        p += len + (end != NULL);
        if (got < 5) {
            continue;
        }
        n += (size_t)snprintf(out + n, cap - n, "{\"process\":");
        if (strcmp(proc, "n") == 0) {
            n += (size_t)snprintf(out + n, cap - n, "\"nemesis\"");
        } else {
            n += (size_t)snprintf(out + n, cap - n, "%s", proc);
        }
        n += (size_t)snprintf(out + n, cap - n, ",\"type\":\"%s\",\"f\":\"%s\",\"value\":",
                              strcmp(type, "i") == 0 ? "invoke" : type, f);
        if (strcmp(val, "_") == 0) {
            n += (size_t)snprintf(out + n, cap - n, "null");
        } else if (strcmp(val, "allow") == 0 || strcmp(val, "deny") == 0) {
            n += (size_t)snprintf(out + n, cap - n, "\"%s\"", val);
        } else if (val[0] == '!') {
            n += (size_t)snprintf(out + n, cap - n, "{\"rejected\":\"%s\"}", val + 1);
        } else {
            n += (size_t)snprintf(out + n, cap - n, "%s", val);
        }
        if (strcmp(tim, "-") != 0) {
            n += (size_t)snprintf(out + n, cap - n, ",\"time\":%s", tim);
        }
        if (got == 6) {
            n += (size_t)snprintf(out + n, cap - n, ",\"key\":%s", key);
        }
        n += (size_t)snprintf(out + n, cap - n, "}\n");
        assert_true(n < cap);
    }
    return out;
}

/* Parse and pair; both must succeed. */
static inline void th_load(const char *dsl, struct jc_history *h, struct jc_pairs *pairs)
{
    char errmsg[REG_ERRMSG_SIZE];
    char *text = th_jsonl(dsl);
    int rv;

    jc_history_init(h);
    rv = jc_read_history(text, strlen(text), JC_FORMAT_JSONL, h, errmsg);
    if (rv != REG_OK) {
        print_error("read: %s\n", errmsg);
    }
    assert_int_equal(rv, REG_OK);
    free(text);
    rv = jc_pair_history(h, pairs, errmsg);
    if (rv != REG_OK) {
        print_error("pair: %s\n", errmsg);
    }
    assert_int_equal(rv, REG_OK);
}

static inline enum jc_verdict th_lin_opts(const struct jc_model *m, const char *dsl,
                                   const struct jc_opts *opts, struct jc_lin_result *keep)
{
    struct jc_history h;
    struct jc_pairs pairs;
    struct jc_lin_result res;
    char errmsg[REG_ERRMSG_SIZE];
    enum jc_verdict v;

    th_load(dsl, &h, &pairs);
    assert_int_equal(jc_check_linearizable(&h, &pairs, m, opts, &res, errmsg), REG_OK);
    v = res.verdict;
    if (keep != NULL) {
        *keep = res;
    } else {
        jc_lin_result_free(&res);
    }
    jc_pairs_free(&pairs);
    jc_history_free(&h);
    return v;
}

static inline enum jc_verdict th_lin(const struct jc_model *m, const char *dsl)
{
    return th_lin_opts(m, dsl, NULL, NULL);
}

static inline enum jc_verdict th_direct(enum jc_direct which, const struct jc_model *m,
                                 const char *dsl, struct jc_direct_result *keep)
{
    struct jc_history h;
    struct jc_pairs pairs;
    struct jc_direct_result res;
    char errmsg[REG_ERRMSG_SIZE];

    th_load(dsl, &h, &pairs);
    assert_int_equal(jc_check_direct(which, &h, &pairs, m, NULL, &res, errmsg), REG_OK);
    if (keep != NULL) {
        *keep = res;
    }
    jc_pairs_free(&pairs);
    jc_history_free(&h);
    return res.verdict;
}

#endif /* PILOT_TEST_CHECKER_HELPERS_H */
