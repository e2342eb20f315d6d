/* alloc.c: the one allocation wrapper, with a fail-the-Nth-call hook for
 * failure-path tests (STYLE habit 9 and 17).
 *
 * The hook counters are process-global and not thread-safe: every binary runs
 * its registry code on one loop thread, and tests set the hook from it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reg_common.h"

static unsigned long alloc_count;
static unsigned long alloc_fail_nth;

static int should_fail(void)
{
    alloc_count++;
    if (alloc_fail_nth != 0 && alloc_count == alloc_fail_nth) {
        return 1;
    }
    return 0;
}

unsigned long reg_alloc_fail_at(unsigned long nth)
{
    unsigned long made = alloc_count;
    alloc_count = 0;
    alloc_fail_nth = nth;
    return made;
}

void *reg_malloc(size_t n)
{
    return should_fail() ? NULL : malloc(n == 0 ? 1 : n);
}

void *reg_calloc(size_t count, size_t n)
{
    return should_fail() ? NULL : calloc(count == 0 ? 1 : count, n == 0 ? 1 : n);
}

void *reg_realloc(void *p, size_t n)
{
    return should_fail() ? NULL : realloc(p, n == 0 ? 1 : n);
}

void reg_free(void *p)
{
    free(p);
}

char *reg_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = reg_malloc(n);
    if (d != NULL) {
        memcpy(d, s, n);
    }
    return d;
}

static void out_of_memory(size_t n)
{
    /* The state machine cannot skip half an entry: a replica that did would
     * silently diverge from the others. Crash loudly instead; raft replays
     * the log on restart. */
    fprintf(stderr, "fatal: out of memory allocating %zu bytes\n", n);
    abort();
}

void *reg_xmalloc(size_t n)
{
    void *p = malloc(n == 0 ? 1 : n);
    if (p == NULL) {
        out_of_memory(n);
    }
    return p;
}

void *reg_xcalloc(size_t count, size_t n)
{
    void *p = calloc(count == 0 ? 1 : count, n == 0 ? 1 : n);
    if (p == NULL) {
        out_of_memory(count * n);
    }
    return p;
}

void *reg_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n == 0 ? 1 : n);
    if (q == NULL) {
        out_of_memory(n);
    }
    return q;
}

void *reg_xaligned(size_t align, size_t n)
{
    size_t bytes = (n + align - 1) & ~(align - 1);
    void *p = aligned_alloc(align, bytes == 0 ? align : bytes);
    if (p == NULL) {
        out_of_memory(bytes);
    }
    return p;
}
