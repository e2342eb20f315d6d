/* names.c: command-op names and the name/tag validation rules shared with
 * proto, pilotctl and the agent (registry-reference.md §2.2). */
#include <string.h>

#include "state.h"

struct op_name {
    int op;
    const char *name;
};

static const struct op_name op_names[] = {
#define X(name, value, wire) {ST_CMD_##name, wire},
    ST_CMD_MAP(X)
#undef X
};

const char *st_cmd_name(int op)
{
    for (size_t i = 0; i < sizeof op_names / sizeof op_names[0]; i++) {
        if (op_names[i].op == op) {
            return op_names[i].name;
        }
    }
    return NULL;
}

int st_cmd_from_name(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof op_names / sizeof op_names[0]; i++) {
        if (strlen(op_names[i].name) == len && memcmp(op_names[i].name, name, len) == 0) {
            return op_names[i].op;
        }
    }
    return ST_CMD_NONE;
}

static bool lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* [a-z0-9-]{1,max}, alphanumeric first and last. */
static bool valid_label(const char *s, size_t max)
{
    size_t n = strnlen(s, max + 1);
    if (n == 0 || n > max) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (!lower_alnum(s[i]) && s[i] != '-') {
            return false;
        }
    }
    return lower_alnum(s[0]) && lower_alnum(s[n - 1]);
}

bool st_valid_name(const char *s)
{
    static const char *const reserved[] = {"localhost", "backbone", "broadcast"};
    if (!valid_label(s, ST_HOSTNAME_MAX)) {
        return false;
    }
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++) {
        if (strcmp(s, reserved[i]) == 0) {
            return false;
        }
    }
    return true;
}

bool st_valid_tag(const char *s)
{
    if (s[0] == '#') {
        s++;
    }
    return valid_label(s, ST_TAG_MAX);
}
