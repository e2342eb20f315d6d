/* Cross-file internals of jepsen/checker (jc__ prefix); not for users. */
#ifndef PILOT_JEPSEN_CHECKER_INTERNAL_H
#define PILOT_JEPSEN_CHECKER_INTERNAL_H

#include <stdlib.h>

#include "checker.h"

/* Values nest at most this deep; deeper input is malformed, which keeps the
 * recursive readers and printers off the stack limit. */
#define JC__MAX_DEPTH 64

/* Build an op from a parsed map, taking (stealing) its value and key.
 * position is the default index. On error op is empty. */
int jc__op_from_map(struct jc_val *map, size_t position, struct jc_op *op,
                    char errmsg[static REG_ERRMSG_SIZE]);

/* EDN subset reader (edn.c): appends every map found to h. */
int jc__read_edn(const char *text, size_t len, struct jc_history *h,
                 char errmsg[static REG_ERRMSG_SIZE]);

/* Byte-wise state helpers shared by the models. */
uint64_t jc__hash_bytes(const void *p, size_t n);

/* qsort that accepts an empty array (base may then be NULL, which qsort
 * itself does not allow: UBSan reports it). */
static inline void jc__sort(void *base, size_t n, size_t size,
                            int (*cmp)(const void *, const void *))
{
    if (n > 1) {
        qsort(base, n, size, cmp);
    }
}

#endif /* PILOT_JEPSEN_CHECKER_INTERNAL_H */
