/* AVX-512 helpers for the CPU ops' hot elementwise loops (GroupNorm + SiLU, GEGLU),
 * compiled for AVX-512 inside an otherwise baseline build; callers pick them at run
 * time with lcmd_cpu_have_avx512() and keep a portable loop for other CPUs.
 * LCMD_CPU_SIMD is 0 where the compiler cannot do this (non-x86, clang). */
#ifndef LCMD_OPS_CPU_SIMD_H
#define LCMD_OPS_CPU_SIMD_H

#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define LCMD_CPU_SIMD 1
#include <immintrin.h>

static inline int lcmd_cpu_have_avx512(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f");
}

#pragma GCC push_options
#pragma GCC target("avx512f,fma")
typedef float lcmd_v16 __attribute__((vector_size(64), may_alias));
typedef int32_t lcmd_i16 __attribute__((vector_size(64), may_alias));
#define LCMD_V16(a) ((a) - (lcmd_v16){0})   /* broadcast: a - +0 == a exactly */

static inline lcmd_v16 lcmd_v16_load(const float *p)
{
    lcmd_v16 v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void lcmd_v16_store(float *p, lcmd_v16 v) { memcpy(p, &v, sizeof v); }

/* e^x, x clamped to [-87, 88]: Cody-Waite reduction x = n ln2 + r, |r| <= ln2 / 2,
 * Cephes' degree-5 polynomial for e^r (relative error about 1e-7), 2^n from the
 * exponent bits. */
static inline lcmd_v16 lcmd_v16_exp(lcmd_v16 x)
{
    lcmd_v16 a = _mm512_min_ps(_mm512_max_ps(x, LCMD_V16(-87.0f)), LCMD_V16(88.0f));
    lcmd_v16 t = _mm512_fmadd_ps(a, LCMD_V16(1.44269504088896341f), LCMD_V16(12582912.0f));
    lcmd_v16 nf = t - 12582912.0f;
    lcmd_v16 r = _mm512_fnmadd_ps(nf, LCMD_V16(0.693359375f), a);
    r = _mm512_fnmadd_ps(nf, LCMD_V16(-2.12194440e-4f), r);
    lcmd_v16 p = _mm512_fmadd_ps(LCMD_V16(1.9875691500e-4f), r, LCMD_V16(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, LCMD_V16(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, LCMD_V16(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, LCMD_V16(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, LCMD_V16(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, r * r, r + 1.0f);
    lcmd_i16 e = ((lcmd_i16)t - 0x4B400000 + 127) << 23;
    return p * (lcmd_v16)e;
}

/* x * Phi(x) (exact GELU): Phi from erfc of |x| / sqrt 2 by the Chebyshev fit of
 * Numerical Recipes' erfcc (relative error < 1.2e-7 over the whole range). */
static inline lcmd_v16 lcmd_v16_gelu(lcmd_v16 x)
{
    lcmd_v16 z = _mm512_abs_ps(x) * 0.70710678118654752f;
    lcmd_v16 t = 1.0f / _mm512_fmadd_ps(z, LCMD_V16(0.5f), LCMD_V16(1.0f));
    lcmd_v16 p = _mm512_fmadd_ps(t, LCMD_V16(0.17087277f), LCMD_V16(-0.82215223f));
    p = _mm512_fmadd_ps(p, t, LCMD_V16(1.48851587f));
    p = _mm512_fmadd_ps(p, t, LCMD_V16(-1.13520398f));
    p = _mm512_fmadd_ps(p, t, LCMD_V16(0.27886807f));
    p = _mm512_fmadd_ps(p, t, LCMD_V16(-0.18628806f));
    p = _mm512_fmadd_ps(p, t, LCMD_V16(0.09678418f));
    p = _mm512_fmadd_ps(p, t, LCMD_V16(0.37409196f));
    p = _mm512_fmadd_ps(p, t, LCMD_V16(1.00002368f));
    p = _mm512_fmadd_ps(p, t, LCMD_V16(-1.26551223f));
    lcmd_v16 half_erfc = 0.5f * t * lcmd_v16_exp(_mm512_fnmadd_ps(z, z, p));
    lcmd_i16 neg = x < 0.0f;
    lcmd_v16 phi = (lcmd_v16)((neg & (lcmd_i16)half_erfc) | (~neg & (lcmd_i16)(1.0f - half_erfc)));
    return x * phi;
}

/* x * sigmoid(x) */
static inline lcmd_v16 lcmd_v16_silu(lcmd_v16 x) { return x / (lcmd_v16_exp(-x) + 1.0f); }
#pragma GCC pop_options

#else
#define LCMD_CPU_SIMD 0
static inline int lcmd_cpu_have_avx512(void) { return 0; }
#endif

#endif /* LCMD_OPS_CPU_SIMD_H */
