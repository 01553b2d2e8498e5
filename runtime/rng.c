/* MT19937 (Matsumoto & Nishimura 1998, as in numpy's legacy RandomState) and
 * splitmix64 (Steele, Lea & Flood 2014). See rng.h. */
#include "rng.h"

#define MT_M 397
#define MT_MATRIX_A 0x9908b0dfu
#define MT_UPPER 0x80000000u
#define MT_LOWER 0x7fffffffu

void oc_mt_seed(oc_mt19937 *s, uint32_t seed)
{
    s->mt[0] = seed;
    for (uint32_t i = 1; i < OC_MT_N; i++)
        s->mt[i] = 1812433253u * (s->mt[i - 1] ^ (s->mt[i - 1] >> 30)) + i;
    s->pos = OC_MT_N;
}

/* Regenerate all 624 words (the "twist"). */
static void mt_generate(oc_mt19937 *s)
{
    uint32_t *mt = s->mt;
    int i;
    for (i = 0; i < OC_MT_N - MT_M; i++) {
        uint32_t y = (mt[i] & MT_UPPER) | (mt[i + 1] & MT_LOWER);
        mt[i] = mt[i + MT_M] ^ (y >> 1) ^ ((y & 1u) ? MT_MATRIX_A : 0u);
    }
    for (; i < OC_MT_N - 1; i++) {
        uint32_t y = (mt[i] & MT_UPPER) | (mt[i + 1] & MT_LOWER);
        mt[i] = mt[i + (MT_M - OC_MT_N)] ^ (y >> 1) ^ ((y & 1u) ? MT_MATRIX_A : 0u);
    }
    uint32_t y = (mt[OC_MT_N - 1] & MT_UPPER) | (mt[0] & MT_LOWER);
    mt[OC_MT_N - 1] = mt[MT_M - 1] ^ (y >> 1) ^ ((y & 1u) ? MT_MATRIX_A : 0u);
    s->pos = 0;
}

uint32_t oc_mt_next32(oc_mt19937 *s)
{
    if (s->pos >= OC_MT_N) mt_generate(s);
    uint32_t y = s->mt[s->pos++];
    /* Tempering. */
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

double oc_mt_next_double(oc_mt19937 *s)
{
    /* Draw order matters: a first, then b (numpy's mt19937_next_double). */
    uint32_t a = oc_mt_next32(s) >> 5;
    uint32_t b = oc_mt_next32(s) >> 6;
    return ((double)a * 67108864.0 + (double)b) / 9007199254740992.0;
}

uint64_t oc_rng_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
