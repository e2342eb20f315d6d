/* htab.c: the open-addressing index used for every lookup table of the
 * state (key → node, hostname → node, network name → network, trust pair,
 * dedup client). A slot is one uint32 (value + 1, 0 = empty); the key of
 * a value lives in the record it names and is reached through callbacks,
 * which keeps the tables at a few bytes per entry (st_internal.h).
 *
 * Linear probing with backward-shift deletion: no tombstones, so lookups
 * stay short however many removals happen. Iteration order is never used
 * for output, so the table layout need not be canonical. */
#include <stdlib.h>
#include <string.h>

#include "st_internal.h"

#define IX_MIN_CAP 16u
/* One byte of the hash kept beside each slot: a probe touches the record
 * (a likely cache miss) only when the tag matches. */
#define TAG(h) ((uint8_t)((h) >> 56))

uint64_t st__mix64(uint64_t x)
{
    /* splitmix64 finaliser: full avalanche, so masking low bits is fine. */
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

uint64_t st__hash_bytes(const void *p, size_t n)
{
    const uint8_t *b = p;
    uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, b + i, 8);
        h = st__mix64(h ^ w);
    }
    uint64_t tail = 0;
    for (size_t k = 0; i < n; i++, k++) {
        tail |= (uint64_t)b[i] << (8 * k);
    }
    return st__mix64(h ^ tail);
}

void st__ix_free(struct st__ix *ix)
{
    reg_free(ix->slots);
    reg_free(ix->tags);
    ix->slots = NULL;
    ix->tags = NULL;
    ix->mask = 0;
    ix->count = 0;
}

uint32_t st__ix_find(const struct st__ix *ix, uint64_t h, st__ix_eq_fn eq, const void *ctx,
                     const void *probe)
{
    if (ix->slots == NULL) {
        return UINT32_MAX;
    }
    uint8_t tag = TAG(h);
    for (uint32_t i = (uint32_t)h & ix->mask;; i = (i + 1) & ix->mask) {
        uint32_t v = ix->slots[i];
        if (v == 0) {
            return UINT32_MAX;
        }
        if (ix->tags[i] == tag && eq(ctx, v - 1, probe)) {
            return v - 1;
        }
    }
}

static void place(struct st__ix *ix, uint64_t h, uint32_t value)
{
    uint32_t i = (uint32_t)h & ix->mask;
    while (ix->slots[i] != 0) {
        i = (i + 1) & ix->mask;
    }
    ix->slots[i] = value + 1;
    ix->tags[i] = TAG(h);
}

static void rehash(struct st__ix *ix, uint32_t cap, st__ix_hash_fn hash, const void *ctx)
{
    uint32_t *old = ix->slots;
    uint32_t old_cap = old == NULL ? 0 : ix->mask + 1;
    reg_free(ix->tags);
    ix->slots = reg_xcalloc(cap, sizeof *ix->slots);
    ix->tags = reg_xmalloc(cap);
    ix->mask = cap - 1;
    for (uint32_t i = 0; i < old_cap; i++) {
        if (old[i] != 0) {
            place(ix, hash(ctx, old[i] - 1), old[i] - 1);
        }
    }
    reg_free(old);
}

static uint32_t cap_for(uint32_t n)
{
    uint64_t cap = IX_MIN_CAP;
    while ((uint64_t)n * 10 > cap * 7) {
        cap <<= 1;
    }
    return cap > (1ull << 31) ? (1u << 31) : (uint32_t)cap;
}

void st__ix_reserve(struct st__ix *ix, uint32_t n, st__ix_hash_fn hash, const void *ctx)
{
    uint32_t cap = cap_for(n);
    if (ix->slots == NULL || cap > ix->mask + 1) {
        rehash(ix, cap, hash, ctx);
    }
}

void st__ix_insert(struct st__ix *ix, uint64_t h, uint32_t value, st__ix_hash_fn hash,
                   const void *ctx)
{
    st__ix_reserve(ix, ix->count + 1, hash, ctx);
    place(ix, h, value);
    ix->count++;
}

bool st__ix_remove(struct st__ix *ix, uint64_t h, uint32_t value, st__ix_hash_fn hash,
                   const void *ctx)
{
    if (ix->slots == NULL) {
        return false;
    }
    uint32_t i = (uint32_t)h & ix->mask;
    while (ix->slots[i] != value + 1) {
        if (ix->slots[i] == 0) {
            return false;
        }
        i = (i + 1) & ix->mask;
    }
    /* Backward shift: pull later entries of the cluster into the hole when
     * their home slot does not lie (cyclically) between the hole and them. */
    uint32_t hole = i;
    for (uint32_t j = (i + 1) & ix->mask; ix->slots[j] != 0; j = (j + 1) & ix->mask) {
        uint32_t home = (uint32_t)hash(ctx, ix->slots[j] - 1) & ix->mask;
        bool stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!stays) {
            ix->slots[hole] = ix->slots[j];
            ix->tags[hole] = ix->tags[j];
            hole = j;
        }
    }
    ix->slots[hole] = 0;
    ix->count--;
    return true;
}
