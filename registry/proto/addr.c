/* addr.c: Pilot address text form N:NNNN.HHHH.LLLL (registry-reference.md
 * §2.1): decimal network id, the same id as 4 hex digits (a mismatch is
 * refused, as the Go parser does), node id high and low 16 bits. */
#include <stdio.h>

#include "proto.h"

void proto_addr_format(uint16_t network, uint32_t node, char out[static PROTO_ADDR_STRLEN])
{
    snprintf(out, PROTO_ADDR_STRLEN, "%u:%04X.%04X.%04X", (unsigned)network, (unsigned)network,
             (unsigned)(node >> 16), (unsigned)(node & 0xFFFF));
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Exactly 4 hex digits at s. */
static int hex4(const char *s, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        int d = hexval(s[i]);
        if (d < 0) {
            return -1;
        }
        v = (v << 4) | (uint32_t)d;
    }
    *out = v;
    return 0;
}

int proto_addr_parse(const char *s, size_t len, uint16_t *network, uint32_t *node,
                     char errmsg[static REG_ERRMSG_SIZE])
{
    uint32_t dec = 0, hnet = 0, hi = 0, lo = 0;
    size_t i = 0;
    while (i < len && i < 6 && s[i] >= '0' && s[i] <= '9') {
        dec = dec * 10 + (uint32_t)(s[i] - '0');
        i++;
    }
    /* 1-5 digits, then ':' and 14 more characters: NNNN.HHHH.LLLL */
    if (i == 0 || i > 5 || len != i + 15 || s[i] != ':' || s[i + 5] != '.' || s[i + 10] != '.' ||
        hex4(s + i + 1, &hnet) != 0 || hex4(s + i + 6, &hi) != 0 || hex4(s + i + 11, &lo) != 0) {
        reg_errmsgf(errmsg, "address \"%.*s\": expected N:NNNN.HHHH.LLLL", (int)(len > 64 ? 64 : len),
                    s);
        return REG_INVALID_ARGUMENT;
    }
    if (dec > 65535 || dec != hnet) {
        reg_errmsgf(errmsg, "address \"%.*s\": network mismatch", (int)len, s);
        return REG_INVALID_ARGUMENT;
    }
    *network = (uint16_t)dec;
    *node = (hi << 16) | lo;
    return REG_OK;
}
