/* test_checker_oracle: differential testing of the WGL search against a
 * brute-force oracle on thousands of generated small histories (<= 8 ops,
 * <= 3 concurrent processes, random ok/fail/info), plus metamorphic
 * properties (fault-injection.md §4 "Validating the checker itself").
 *
 * The oracle enumerates every order of the ok ops (and any subset of the
 * info ops) that respects real time, stepping the model; it shares only
 * the model's step with the checker, not the search. Register histories
 * are made linearizable by construction (each op takes effect at a random
 * point of its interval, info ops later or never) and then sometimes
 * mutated, so both verdicts are well represented; access and set histories
 * get random outputs. Seeds are fixed, so a failure replays. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_checker_helpers.h"

#define MAX_OPS 8

/* ---- Random numbers (xorshift64*, seeded per history) ---------------------- */

static uint64_t rng_state;

static unsigned rnd(unsigned n)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (unsigned)((rng_state * 2685821657736338717ull) >> 33) % n;
}

/* ---- Generated history ----------------------------------------------------- */

struct gop {
    int proc;
    const char *f;
    char inval[32];
    char outval[48];
    enum jc_type outcome;
    int has_completion; /* info ops may have none */
    int64_t call, ret;
    double lp; /* when it took effect; < 0 = never */
};

struct gen {
    struct gop op[MAX_OPS];
    int n;
};

static const char *reg_val(int v)
{
    static const char *const vals[] = {"null", "0", "1", "2"};
    return vals[v + 1];
}

/* Register: simulate each op at its linearization point so outputs are
 * right, then (sometimes) break one read. */
static void simulate_register(struct gen *g)
{
    int order[MAX_OPS];
    int state = -1; /* -1 = nil */
    int n = 0;

    for (int i = 0; i < g->n; i++) {
        if (g->op[i].lp >= 0) {
            order[n++] = i;
        }
    }
    for (int i = 1; i < n; i++) {
        for (int j = i; j > 0 && g->op[order[j]].lp < g->op[order[j - 1]].lp; j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    }
    for (int k = 0; k < n; k++) {
        struct gop *o = &g->op[order[k]];
        if (strcmp(o->f, "read") == 0) {
            snprintf(o->outval, sizeof(o->outval), "%s", reg_val(state));
        } else if (strcmp(o->f, "write") == 0) {
            state = o->inval[0] - '0';
        } else {
            int from = o->inval[1] - '0';
            int to = o->inval[3] - '0';
            if (state == from) {
                state = to;
            } else if (o->outcome == JC_OK) {
                if (rnd(2)) {
                    o->outcome = JC_FAIL; /* Jepsen records a refused cas as fail */
                } else {
                    snprintf(o->outval, sizeof(o->outval), "{\"rejected\":\"failed_precondition\"}");
                }
            }
        }
    }
    if (rnd(10) < 3) {
        for (int i = 0; i < g->n; i++) {
            if (strcmp(g->op[i].f, "read") == 0 && g->op[i].outcome == JC_OK) {
                snprintf(g->op[i].outval, sizeof(g->op[i].outval), "%s", reg_val((int)rnd(4) - 1));
                break;
            }
        }
    }
}

enum gmodel { G_REGISTER, G_ACCESS, G_SET };

static void pick_op(enum gmodel gm, struct gop *o)
{
    static const char *const acc[] = {"join", "kick", "approve", "untrust", "resolve", "resolve"};
    static const char *const sets[] = {"null", "[]", "[0]", "[1]", "[0,1]", "[2]", "[0,2]"};
    unsigned r;

    switch (gm) {
    case G_REGISTER:
        r = rnd(20);
        if (r < 8) {
            o->f = "read";
            snprintf(o->inval, sizeof(o->inval), "null");
        } else if (r < 15) {
            o->f = "write";
            snprintf(o->inval, sizeof(o->inval), "%u", rnd(3));
        } else {
            o->f = "cas";
            snprintf(o->inval, sizeof(o->inval), "[%u,%u]", rnd(3), rnd(3));
        }
        snprintf(o->outval, sizeof(o->outval), "%s", o->inval);
        break;
    case G_ACCESS:
        o->f = acc[rnd(6)];
        snprintf(o->inval, sizeof(o->inval), "null");
        if (strcmp(o->f, "resolve") == 0) {
            snprintf(o->outval, sizeof(o->outval), rnd(2) ? "\"allow\"" : "\"deny\"");
        } else if (rnd(6) == 0) {
            snprintf(o->outval, sizeof(o->outval), "{\"rejected\":\"%s\"}",
                     o->f[0] == 'j' || o->f[0] == 'a' ? "already_exists" : "not_found");
        } else {
            snprintf(o->outval, sizeof(o->outval), "null");
        }
        break;
    case G_SET:
        r = rnd(3);
        o->f = r == 0 ? "add" : r == 1 ? "remove" : "read";
        snprintf(o->inval, sizeof(o->inval), "%s", r == 2 ? "null" : reg_val((int)rnd(3)));
        snprintf(o->outval, sizeof(o->outval), "%s", r == 2 ? sets[1 + rnd(6)] : o->inval);
        break;
    }
}

static void generate(enum gmodel gm, struct gen *g)
{
    int64_t t[3];
    int pid[3];
    int next_pid = 3;
    int workers = 1 + (int)rnd(3);

    g->n = 1 + (int)rnd(MAX_OPS);
    for (int w = 0; w < 3; w++) {
        t[w] = rnd(3);
        pid[w] = w;
    }
    for (int i = 0; i < g->n; i++) {
        struct gop *o = &g->op[i];
        int w = (int)rnd((unsigned)workers);
        unsigned r = rnd(10);
        memset(o, 0, sizeof(*o));
        o->proc = pid[w];
        o->call = t[w];
        o->ret = o->call + rnd(4);
        t[w] = o->ret + 1 + rnd(2);
        pick_op(gm, o);
        o->outcome = r < 6 ? JC_OK : r < 8 ? JC_FAIL : JC_INFO;
        o->has_completion = o->outcome != JC_INFO || rnd(2);
        if (o->outcome == JC_INFO) {
            pid[w] = next_pid++;
        }
        /* Where the op really took effect. Failed ops sometimes take effect
         * anyway: a buggy system the oracle must judge. */
        if (o->outcome == JC_OK || (o->outcome == JC_FAIL && rnd(10) == 0)) {
            o->lp = (double)o->call + (double)(o->ret - o->call) * (double)rnd(1000) / 1000.0;
        } else if (o->outcome == JC_INFO && rnd(2)) {
            o->lp = (double)o->call + (double)rnd(20000) / 1000.0;
        } else {
            o->lp = -1;
        }
    }
    if (gm == G_REGISTER) {
        simulate_register(g);
    }
}

/* ---- Emitting and checking --------------------------------------------------- */

struct ev {
    int64_t time;
    int op;
    int is_completion;
};

static char *emit(const struct gen *g)
{
    struct ev ev[2 * MAX_OPS];
    int ne = 0;
    size_t cap = 4096;
    size_t n = 0;
    char *out = malloc(cap);
    static const char *const types[] = {"invoke", "ok", "fail", "info"};

    assert_non_null(out);
    for (int i = 0; i < g->n; i++) {
        ev[ne++] = (struct ev){g->op[i].call, i, 0};
        if (g->op[i].has_completion) {
            ev[ne++] = (struct ev){g->op[i].ret, i, 1};
        }
    }
    for (int i = 1; i < ne; i++) {
        for (int j = i; j > 0 && ev[j].time < ev[j - 1].time; j--) {
            struct ev tmp = ev[j];
            ev[j] = ev[j - 1];
            ev[j - 1] = tmp;
        }
    }
    out[0] = '\0';
    for (int i = 0; i < ne; i++) {
        const struct gop *o = &g->op[ev[i].op];
        n += (size_t)snprintf(out + n, cap - n,
                              "{\"process\":%d,\"type\":\"%s\",\"f\":\"%s\",\"value\":%s,"
                              "\"time\":%" PRId64 "}\n",
                              o->proc, ev[i].is_completion ? types[o->outcome] : "invoke", o->f,
                              ev[i].is_completion ? o->outval : o->inval, ev[i].time);
        assert_true(n < cap);
    }
    return out;
}

struct oracle {
    const struct jc_model *m;
    const struct jc_call *c[MAX_OPS];
    const struct jc_pair *p[MAX_OPS];
    int n;
};

static int dfs(const struct oracle *o, unsigned placed, const unsigned char *state)
{
    int done = 1;

    for (int i = 0; i < o->n; i++) {
        if (!(placed & (1u << i)) && !(o->c[i]->flags & JC_CALL_UNKNOWN)) {
            done = 0;
        }
    }
    if (done) {
        return 1;
    }
    for (int i = 0; i < o->n; i++) {
        unsigned char next[JC_STATE_MAX];
        int free_to_go = 1;
        if (placed & (1u << i)) {
            continue;
        }
        for (int j = 0; j < o->n; j++) {
            if (j != i && !(placed & (1u << j)) && o->p[j]->ret < o->p[i]->call) {
                free_to_go = 0;
            }
        }
        if (free_to_go && o->m->step(state, o->c[i], next) && dfs(o, placed | (1u << i), next)) {
            return 1;
        }
    }
    return 0;
}

/* Both verdicts for one generated history; returns the checker's. */
static enum jc_verdict check_both(const struct jc_model *m, const struct gen *g, uint64_t seed)
{
    struct jc_history h;
    struct jc_pairs pairs;
    struct jc_lin_result res;
    struct jc_call *calls;
    struct oracle o;
    unsigned char init[JC_STATE_MAX];
    char errmsg[REG_ERRMSG_SIZE];
    char *text = emit(g);
    enum jc_verdict want;

    jc_history_init(&h);
    assert_int_equal(jc_read_history(text, strlen(text), JC_FORMAT_JSONL, &h, errmsg), REG_OK);
    assert_int_equal(jc_pair_history(&h, &pairs, errmsg), REG_OK);
    assert_int_equal(jc_check_linearizable(&h, &pairs, m, NULL, &res, errmsg), REG_OK);
    assert_int_equal(jc_prepare(&h, &pairs, m, NULL, &calls, errmsg), REG_OK);
    memset(&o, 0, sizeof(o));
    o.m = m;
    for (size_t i = 0; i < pairs.n; i++) {
        uint32_t f = calls[i].flags;
        if ((f & JC_CALL_FAILED) || ((f & JC_CALL_READ) && (f & JC_CALL_UNKNOWN))) {
            continue;
        }
        o.c[o.n] = &calls[i];
        o.p[o.n] = &pairs.p[i];
        o.n++;
    }
    memset(init, 0, sizeof(init));
    m->init(init, NULL);
    want = dfs(&o, 0, init) ? JC_VALID : JC_INVALID;
    if (res.verdict != want) {
        print_error("seed %" PRIu64 " model %s: checker %s, oracle %s\n%s", seed, m->name,
                    jc_verdict_name(res.verdict), jc_verdict_name(want), text);
    }
    assert_int_equal(res.verdict, want);
    jc_lin_result_free(&res);
    reg_free(calls);
    jc_pairs_free(&pairs);
    jc_history_free(&h);
    free(text);
    return want;
}

static void run_differential(const struct jc_model *m, enum gmodel gm, int count, int min_each)
{
    int valid = 0;
    int invalid = 0;

    for (int s = 1; s <= count; s++) {
        struct gen g;
        rng_state = 0x9E3779B97F4A7C15ull * (uint64_t)s + (uint64_t)gm;
        generate(gm, &g);
        if (check_both(m, &g, (uint64_t)s) == JC_VALID) {
            valid++;
        } else {
            invalid++;
        }
    }
    print_message("%s: %d histories, %d valid, %d invalid, checker and oracle agree on all\n",
                  m->name, count, valid, invalid);
    assert_true(valid >= min_each);
    assert_true(invalid >= min_each);
}

static void test_register_agrees_with_oracle(void **state)
{
    (void)state;
    run_differential(&jc_model_register, G_REGISTER, 4000, 400);
}

static void test_access_agrees_with_oracle(void **state)
{
    (void)state;
    run_differential(&jc_model_access, G_ACCESS, 2000, 300);
}

static void test_set_agrees_with_oracle(void **state)
{
    (void)state;
    run_differential(&jc_model_set, G_SET, 2000, 300);
}

/* ---- Metamorphic properties --------------------------------------------------- */

static void test_metamorphic(void **state)
{
    int ok_to_info = 0;

    (void)state;
    for (int s = 1; s <= 2000; s++) {
        struct gen g, t;
        enum jc_verdict v;
        int pick = -1;
        rng_state = 0xD1B54A32D192ED03ull * (uint64_t)s;
        generate(G_REGISTER, &g);
        v = check_both(&jc_model_register, &g, (uint64_t)s);

        /* Shifting every time by a constant keeps the verdict. */
        t = g;
        for (int i = 0; i < t.n; i++) {
            t.op[i].call += 1000000007;
            t.op[i].ret += 1000000007;
        }
        assert_int_equal(check_both(&jc_model_register, &t, (uint64_t)s), v);

        /* Renaming processes keeps the verdict. */
        t = g;
        for (int i = 0; i < t.n; i++) {
            t.op[i].proc = t.op[i].proc * 7 + 11;
        }
        assert_int_equal(check_both(&jc_model_register, &t, (uint64_t)s), v);

        /* Removing a failed op changes nothing. */
        t = g;
        for (int i = 0; i < t.n; i++) {
            if (t.op[i].outcome == JC_FAIL) {
                memmove(&t.op[i], &t.op[i + 1], (size_t)(t.n - i - 1) * sizeof(t.op[0]));
                t.n--;
                assert_int_equal(check_both(&jc_model_register, &t, (uint64_t)s), v);
                break;
            }
        }

        /* Turning an ok op into info never makes a valid history invalid.
         * The process is then retired, so its later ops get a new one. */
        if (v != JC_VALID) {
            continue;
        }
        t = g;
        for (int i = 0; i < t.n; i++) {
            if (t.op[i].outcome == JC_OK && (pick < 0 || rnd(2))) {
                pick = i;
            }
        }
        if (pick < 0) {
            continue;
        }
        t.op[pick].outcome = JC_INFO;
        t.op[pick].has_completion = (int)rnd(2);
        for (int i = pick + 1; i < t.n; i++) {
            if (t.op[i].proc == t.op[pick].proc) {
                t.op[i].proc += 1000;
            }
        }
        assert_int_equal(check_both(&jc_model_register, &t, (uint64_t)s), JC_VALID);
        ok_to_info++;
    }
    assert_true(ok_to_info > 500);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_register_agrees_with_oracle),
        cmocka_unit_test(test_access_agrees_with_oracle),
        cmocka_unit_test(test_set_agrees_with_oracle),
        cmocka_unit_test(test_metamorphic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
