/* Lab helpers: generator, dtype rounding, relative error, clock. */
#include "lab.h"

#include <math.h>
#include <string.h>
#include <time.h>

#include "core/half.h"

uint64_t lab_next(lab_rng *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

float lab_unif(lab_rng *r, float lo, float hi)
{
    /* 24 random bits, offset by half a step: never the exact midpoint or an end */
    float u = ((float)(lab_next(r) >> 40) + 0.5f) * (1.0f / 16777216.0f);
    return lo + (hi - lo) * u;
}

float lab_round(lcmd_dtype dt, float x)
{
    switch (dt) {
    case LCMD_DT_F16: return lcmd_f16_to_f32(lcmd_f32_to_f16(x));
    case LCMD_DT_BF16: return lcmd_bf16_to_f32(lcmd_f32_to_bf16(x));
    default: return x;
    }
}

void lab_to_dt(lcmd_dtype dt, void *dst, const float *src, size_t n)
{
    switch (dt) {
    case LCMD_DT_F16: lcmd_f32_to_f16_n(dst, src, n); break;
    case LCMD_DT_BF16: lcmd_f32_to_bf16_n(dst, src, n); break;
    default: memcpy(dst, src, n * sizeof(float)); break;
    }
}

void lab_from_dt(lcmd_dtype dt, float *dst, const void *src, size_t n)
{
    switch (dt) {
    case LCMD_DT_F16: lcmd_f16_to_f32_n(dst, src, n); break;
    case LCMD_DT_BF16: lcmd_bf16_to_f32_n(dst, src, n); break;
    default: memcpy(dst, src, n * sizeof(float)); break;
    }
}

double lab_relerr(const float *a, const float *b, size_t n)
{
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(a[i]) || !isfinite(b[i])) return NAN;
        double d = (double)a[i] - (double)b[i];
        num += d * d;
        den += (double)b[i] * (double)b[i];
    }
    return den > 0.0 ? sqrt(num / den) : sqrt(num);
}

double lab_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
