/* errors.c: the error-code table's name/strerror functions and the human
 * detail buffer helpers. */
#include <stdio.h>
#include <string.h>

#include "reg_common.h"

static const char *const err_names[] = {
#define X(name, wire, text) wire,
    REG_ERR_MAP(X)
#undef X
};

static const char *const err_texts[] = {
#define X(name, wire, text) text,
    REG_ERR_MAP(X)
#undef X
};

const char *reg_err_name(int code)
{
    if (code < 0 || code >= REG_ERR_COUNT) {
        return "internal";
    }
    return err_names[code];
}

const char *reg_strerror(int code)
{
    if (code < 0 || code >= REG_ERR_COUNT) {
        return "unknown error";
    }
    return err_texts[code];
}

int reg_err_from_name(const char *name, size_t len)
{
    for (int i = 0; i < REG_ERR_COUNT; i++) {
        if (strlen(err_names[i]) == len && memcmp(err_names[i], name, len) == 0) {
            return i;
        }
    }
    return REG_INTERNAL;
}

void reg_errmsgf(char buf[static REG_ERRMSG_SIZE], const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, REG_ERRMSG_SIZE, fmt, ap);
    va_end(ap);
}

void reg_errmsg_wrapf(char buf[static REG_ERRMSG_SIZE], const char *fmt, ...)
{
    char prefix[REG_ERRMSG_SIZE];
    char old[REG_ERRMSG_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, buf, REG_ERRMSG_SIZE);
    old[REG_ERRMSG_SIZE - 1] = '\0';
    /* Truncation is expected and fine: detail is for humans. */
    size_t n = strnlen(prefix, sizeof prefix);
    size_t pos = 0;
    for (size_t i = 0; i < n && pos < REG_ERRMSG_SIZE - 1; i++) {
        buf[pos++] = prefix[i];
    }
    for (const char *sep = ": "; *sep != '\0' && pos < REG_ERRMSG_SIZE - 1; sep++) {
        buf[pos++] = *sep;
    }
    for (size_t i = 0; old[i] != '\0' && pos < REG_ERRMSG_SIZE - 1; i++) {
        buf[pos++] = old[i];
    }
    buf[pos] = '\0';
}

int reg_ct_equal(const void *a, const void *b, size_t n)
{
    const volatile unsigned char *x = a;
    const volatile unsigned char *y = b;
    unsigned char d = 0;
    for (size_t i = 0; i < n; i++) {
        d |= (unsigned char)(x[i] ^ y[i]);
    }
    return d == 0;
}
