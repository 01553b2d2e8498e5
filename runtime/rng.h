/*
 * Random numbers for ops that draw them (Dropout in training mode).
 *
 * oc_mt19937 is the Mersenne Twister exactly as numpy's legacy RandomState
 * uses it, so that a seeded op reproduces the ONNX reference outputs, which
 * were made with `np.random.seed(seed); np.random.uniform(0, 1, shape)`:
 *   - oc_mt_seed is init_genrand (numpy's mt19937_seed for a 32-bit seed);
 *   - oc_mt_next_double is random_sample: a 53-bit double in [0, 1) from two
 *     32-bit draws, ((a >> 5) * 2^26 + (b >> 6)) / 2^53.
 * uniform(0, 1) is 0 + 1 * random_sample, so the values are the same.
 *
 * oc_rng_next is splitmix64 over the session's 64-bit state: it derives
 * seeds for ops that have no seed attribute, advancing the state so every
 * call draws a fresh one.
 */
#ifndef OC_RNG_H
#define OC_RNG_H

#include <stdint.h>

#define OC_MT_N 624

typedef struct oc_mt19937 {
    uint32_t mt[OC_MT_N];            /* state words */
    int pos;                         /* next word to temper; OC_MT_N: regenerate */
} oc_mt19937;

void oc_mt_seed(oc_mt19937 *s, uint32_t seed);
uint32_t oc_mt_next32(oc_mt19937 *s);
/* Uniform double in [0, 1) with 53 random bits (numpy random_sample). */
double oc_mt_next_double(oc_mt19937 *s);

/* splitmix64: advance *state and return the next 64-bit value. */
uint64_t oc_rng_next(uint64_t *state);

#endif
