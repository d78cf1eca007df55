/*
 * test_rng.h — the fixed-seed xorshift generator the randomized backend
 * tests share, so a failure reproduces. Each test program sets its seed
 * (test_rng_state) at the start of main.
 */
#ifndef NETC_TEST_RNG_H
#define NETC_TEST_RNG_H

#include <stdint.h>

static uint64_t test_rng_state;

static inline uint64_t next_u64(void)
{
    uint64_t r = test_rng_state;
    r ^= r << 13, r ^= r >> 7, r ^= r << 17;
    return test_rng_state = r;
}

/* Uniform in [lo, hi]. */
static inline int64_t pick(int64_t lo, int64_t hi) { return lo + (int64_t)(next_u64() % (uint64_t)(hi - lo + 1)); }
/* Uniform in [-1, 1). */
static inline float uniform(void) { return (float)((next_u64() >> 11) * (1.0 / 9007199254740992.0)) * 2 - 1; }

#endif
