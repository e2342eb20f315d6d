/* pilotctl argument parsing: options and positionals of one command, and
 * strict number parsing. Every rejection quotes the offending word. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

static struct ctl_opt *find_opt(struct ctl_opt *opts, size_t n, const char *word, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(opts[i].name) == len && strncmp(opts[i].name, word, len) == 0)
            return &opts[i];
    return NULL;
}

int ctl_parse(int argc, char **argv, struct ctl_opt *opts, size_t n_opts, const char **pos,
              size_t min_pos, size_t max_pos, size_t *n_pos, const char *usage)
{
    size_t np = 0;
    bool only_pos = false;

    for (int i = 1; i < argc; i++) {
        const char *w = argv[i];
        if (!only_pos && strcmp(w, "--") == 0) {
            only_pos = true;
            continue;
        }
        if (!only_pos && w[0] == '-' && w[1] == '-') {
            const char *eq = strchr(w, '=');
            size_t len = eq != NULL ? (size_t)(eq - w) : strlen(w);
            struct ctl_opt *o = find_opt(opts, n_opts, w, len);
            const char *val = NULL;
            if (o == NULL)
                return ctl_usage(usage, "unknown option \"%.*s\"", (int)len, w);
            if (o->has_arg) {
                if (eq != NULL)
                    val = eq + 1;
                else if (i + 1 < argc)
                    val = argv[++i];
                else
                    return ctl_usage(usage, "option %s needs a value", o->name);
                if (o->n == CTL_OPT_VALUES_MAX)
                    return ctl_usage(usage, "option %s given too many times", o->name);
                o->vals[o->n++] = val;
            } else if (eq != NULL) {
                return ctl_usage(usage, "option %s takes no value", o->name);
            }
            o->seen = true;
            continue;
        }
        if (np == max_pos)
            return ctl_usage(usage, "unexpected argument \"%s\"", w);
        pos[np++] = w;
    }
    if (np < min_pos)
        return ctl_usage(usage, "missing argument");
    *n_pos = np;
    return CTL_EXIT_OK;
}

const char *ctl_opt_val(const struct ctl_opt *o)
{
    return o->n > 0 ? o->vals[o->n - 1] : NULL;
}

bool ctl_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;
    unsigned long long v;

    if (s == NULL || *s < '0' || *s > '9')
        return false;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return false;
    *out = v;
    return true;
}
