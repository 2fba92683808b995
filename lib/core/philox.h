/* Philox4x32-10 (Salmon et al., SC'11): the counter-based generator behind every
 * random draw. Header-only and branch-free so that the CUDA backend compiles the
 * same functions as device code and draws the same numbers. */
#ifndef LCMD_CORE_PHILOX_H
#define LCMD_CORE_PHILOX_H

#include <math.h>
#include <stdint.h>

#if defined(__CUDACC__)
#  define LCMD_HD __host__ __device__ __forceinline__
#else
#  define LCMD_HD static inline
#endif

typedef struct lcmd_u32x4 { uint32_t v[4]; } lcmd_u32x4;

LCMD_HD uint32_t lcmd_mulhilo32(uint32_t a, uint32_t b, uint32_t *hi)
{
    uint64_t p = (uint64_t)a * (uint64_t)b;
    *hi = (uint32_t)(p >> 32);
    return (uint32_t)p;
}

/* Ten rounds with the published multipliers and Weyl key increments. */
LCMD_HD lcmd_u32x4 lcmd_philox4x32_10_block(lcmd_u32x4 c, uint32_t k0, uint32_t k1)
{
    for (int r = 0; r < 10; r++) {
        uint32_t hi0, hi1;
        uint32_t lo0 = lcmd_mulhilo32(0xD2511F53u, c.v[0], &hi0);
        uint32_t lo1 = lcmd_mulhilo32(0xCD9E8D57u, c.v[2], &hi1);
        lcmd_u32x4 n;
        n.v[0] = hi1 ^ c.v[1] ^ k0;
        n.v[1] = lo1;
        n.v[2] = hi0 ^ c.v[3] ^ k1;
        n.v[3] = lo0;
        c = n;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    return c;
}

/* The block used for draws: counter = (block lo, block hi, stream lo, stream hi),
 * key = seed. */
LCMD_HD lcmd_u32x4 lcmd_rng_block(uint64_t seed, uint64_t stream, uint64_t block)
{
    lcmd_u32x4 c;
    c.v[0] = (uint32_t)block;
    c.v[1] = (uint32_t)(block >> 32);
    c.v[2] = (uint32_t)stream;
    c.v[3] = (uint32_t)(stream >> 32);
    return lcmd_philox4x32_10_block(c, (uint32_t)seed, (uint32_t)(seed >> 32));
}

/* uniform in [0, 1) from the top 24 bits: exact in float */
LCMD_HD float lcmd_u32_to_unit(uint32_t x) { return (float)(x >> 8) * (1.0f / 16777216.0f); }

/* uniform in (0, 1]: safe for log() */
LCMD_HD float lcmd_u32_to_unit_open0(uint32_t x) { return ((float)(x >> 8) + 1.0f) * (1.0f / 16777216.0f); }


/* Four standard normals from one block: Box-Muller on the pairs (v0, v1), (v2, v3).
 * The transcendental functions run in double so that CPU results do not depend on
 * the libm's float variants; the GPU evaluates the same formula in double too. */
LCMD_HD void lcmd_box_muller(lcmd_u32x4 r, float z[4])
{
    for (int p = 0; p < 2; p++) {
        double u1 = (double)lcmd_u32_to_unit_open0(r.v[2 * p]);
        double u2 = (double)lcmd_u32_to_unit(r.v[2 * p + 1]);
        double rad = sqrt(-2.0 * log(u1));
        double th = 6.283185307179586 * u2;
        z[2 * p] = (float)(rad * cos(th));
        z[2 * p + 1] = (float)(rad * sin(th));
    }
}

#endif /* LCMD_CORE_PHILOX_H */
