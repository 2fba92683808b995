/* liblcmd: the counter-based random numbers (Philox4x32-10) that every random draw
 * of the library comes from, exposed so that hosts can draw the same numbers.
 *
 * A draw is keyed by (seed, stream, offset): element i of a fill is a function of
 * those and i alone, so CPU and GPU give the same numbers, any slice can be drawn
 * without the rest, and a resumed run draws what it would have drawn. */
#ifndef LCMD_RNG_H
#define LCMD_RNG_H

#include <stddef.h>
#include <stdint.h>
#include <lcmd/lcmd_export.h>
#include <lcmd/status.h>

#ifdef __cplusplus
extern "C" {
#endif

/** One Philox4x32-10 block: encrypts the 128-bit `counter` under the 64-bit `key`
 *  and writes four 32-bit words to `out` (the published algorithm, bit-exact).
 *  Errors: LCMD_ERR_INVALID_ARGUMENT if a pointer is NULL. */
LCMD_API lcmd_status lcmd_philox4x32_10(const uint32_t counter[4], const uint32_t key[2],
                                        uint32_t out[4]);

/** Fills out[0..n) with uniform floats in [0, 1) (24-bit resolution): element i is
 *  drawn from counter (offset + i / 4, stream) under key `seed`.
 *  Errors: LCMD_ERR_INVALID_ARGUMENT if out is NULL and n > 0. */
LCMD_API lcmd_status lcmd_rng_uniform(uint64_t seed, uint64_t stream, uint64_t offset,
                                      float *out, size_t n);

/** Fills out[0..n) with standard normal floats (Box-Muller on pairs of uniforms):
 *  element i comes from block offset + i / 4, so a slice [a, b) equals the same
 *  slice of a longer fill. Errors: LCMD_ERR_INVALID_ARGUMENT as above. */
LCMD_API lcmd_status lcmd_rng_normal(uint64_t seed, uint64_t stream, uint64_t offset,
                                     float *out, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* LCMD_RNG_H */
