/* pilot-check: check one history file and print one verdict line per
 * checker. Exit 0 when every verdict is valid, 1 when any is invalid or
 * unknown (or the history is malformed), 2 on usage errors or an unreadable
 * file. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checker.h"

static void usage(FILE *to)
{
    fprintf(to, "usage: pilot-check --model register|access|set|unique [--format jsonl|edn]\n"
                "                   [--budget-ms N] [--budget-steps N] [--init N] FILE\n"
                "  --init N   register model: start at N instead of nil (Knossos cas-register\n"
                "             histories start at 0)\n");
}

static int parse_i64(const char *s, int64_t *out)
{
    char *end;
    long long v;

    if (*s == '\0') {
        return -1;
    }
    v = strtoll(s, &end, 10);
    if (*end != '\0') {
        return -1;
    }
    *out = v;
    return 0;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0;
    size_t n = 0;

    if (f == NULL) {
        return NULL;
    }
    for (;;) {
        size_t got;
        if (n + 4096 > cap) {
            char *nb = realloc(buf, cap ? 2 * cap : 65536);
            if (nb == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap = cap ? 2 * cap : 65536;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) {
                free(buf);
                buf = NULL;
            }
            break;
        }
    }
    fclose(f);
    *len = n;
    return buf;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"model", required_argument, NULL, 'm'},  {"format", required_argument, NULL, 'f'},
        {"budget-ms", required_argument, NULL, 'b'}, {"budget-steps", required_argument, NULL, 's'},
        {"init", required_argument, NULL, 'i'},   {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const struct jc_model *model = NULL;
    enum jc_format fmt = JC_FORMAT_JSONL;
    struct jc_opts opts = {0, 0, 0, 0};
    struct jc_history h;
    struct jc_pairs pairs;
    struct jc_lin_result lin;
    char errmsg[REG_ERRMSG_SIZE];
    char *text;
    size_t len = 0;
    int bad = 0;
    int c;

    while ((c = getopt_long(argc, argv, "m:f:b:s:i:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'm':
            model = jc_model_find(optarg);
            if (model == NULL) {
                fprintf(stderr, "pilot-check: unknown model \"%s\"\n", optarg);
                return 2;
            }
            break;
        case 'f':
            if (strcmp(optarg, "jsonl") == 0) {
                fmt = JC_FORMAT_JSONL;
            } else if (strcmp(optarg, "edn") == 0) {
                fmt = JC_FORMAT_EDN;
            } else {
                fprintf(stderr, "pilot-check: unknown format \"%s\"\n", optarg);
                return 2;
            }
            break;
        case 'b':
        case 's':
            if (parse_i64(optarg, c == 'b' ? &opts.budget_ms : &opts.budget_steps) != 0 ||
                (c == 'b' ? opts.budget_ms : opts.budget_steps) <= 0) {
                fprintf(stderr, "pilot-check: bad budget \"%s\" (a positive integer)\n", optarg);
                return 2;
            }
            break;
        case 'i':
            if (parse_i64(optarg, &opts.init) != 0) {
                fprintf(stderr, "pilot-check: bad --init \"%s\" (an integer)\n", optarg);
                return 2;
            }
            opts.has_init = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (model == NULL || optind != argc - 1) {
        usage(stderr);
        return 2;
    }
    text = slurp(argv[optind], &len);
    if (text == NULL) {
        fprintf(stderr, "pilot-check: cannot read \"%s\"\n", argv[optind]);
        return 2;
    }
    jc_history_init(&h);
    if (jc_read_history(text, len, fmt, &h, errmsg) != REG_OK) {
        printf("history: invalid (%s)\n", errmsg);
        free(text);
        return 1;
    }
    free(text);
    if (jc_pair_history(&h, &pairs, errmsg) != REG_OK) {
        printf("history: invalid (%s)\n", errmsg);
        jc_history_free(&h);
        return 1;
    }
    if (jc_check_linearizable(&h, &pairs, model, &opts, &lin, errmsg) != REG_OK) {
        printf("history: invalid (%s)\n", errmsg);
        jc_pairs_free(&pairs);
        jc_history_free(&h);
        return 1;
    }
    printf("linearizable: %s (%s)\n", jc_verdict_name(lin.verdict), lin.msg);
    if (lin.verdict == JC_INVALID && lin.prefix != NULL) {
        printf("  longest linearizable prefix:");
        for (size_t i = 0; i < lin.prefix_len; i++) {
            printf(" %" PRId64, lin.prefix[i]);
        }
        printf("\n");
    }
    bad |= lin.verdict != JC_VALID;
    jc_lin_result_free(&lin);
    for (int d = 0; d < JC_D_COUNT; d++) {
        struct jc_direct_result r;
        if (jc_check_direct((enum jc_direct)d, &h, &pairs, model, &opts, &r, errmsg) != REG_OK) {
            printf("%s: unknown (%s)\n", jc_direct_name((enum jc_direct)d), errmsg);
            bad = 1;
            continue;
        }
        printf("%s: %s (%s", jc_direct_name((enum jc_direct)d), jc_verdict_name(r.verdict), r.msg);
        if (r.violations > 1) {
            printf("; %zu violations", r.violations);
        }
        printf(")\n");
        bad |= r.verdict != JC_VALID;
    }
    jc_pairs_free(&pairs);
    jc_history_free(&h);
    return bad ? 1 : 0;
}
