/* Sinusoidal timestep embedding (diffusers' get_timestep_embedding) and its
 * gradient with respect to t. */
#include "ops/cpu/cpu_backend.h"

#include <math.h>

#include "core/error.h"

/* f_j as diffusers computes it in fp32: exp(-ln(max_period) * j / (half - shift)) */
static inline float emb_freq(int64_t j, int64_t half, float shift, float max_period)
{
    float e = -logf(max_period) * (float)j;
    return expf(e / ((float)half - shift));
}

lcmd_status lcmd_cpu_timestep_emb_fwd(lcmd_backend *be, lcmd_dtype dt, void *out, const float *t, int64_t n,
                                      int64_t dim, int flip_sin_to_cos, float shift, float scale, float max_period)
{
    LCMD_CPU_F32_ONLY(dt, "timestep_emb_fwd");
    int64_t half = dim / 2;
    float *o = out;
#pragma omp parallel for num_threads(lcmd_cpu_threads(be, n * dim / 16384 + 1)) schedule(static)
    for (int64_t i = 0; i < n; i++) {
        float *row = o + i * dim;
        float *sin_part = row + (flip_sin_to_cos ? half : 0), *cos_part = row + (flip_sin_to_cos ? 0 : half);
        for (int64_t j = 0; j < half; j++) {
            float a = scale * (t[i] * emb_freq(j, half, shift, max_period));
            sin_part[j] = sinf(a);
            cos_part[j] = cosf(a);
        }
        if (dim % 2) row[dim - 1] = 0.0f;
    }
    return LCMD_OK;
}

lcmd_status lcmd_cpu_timestep_emb_bwd(lcmd_backend *be, lcmd_dtype dt, float *dt_grad, const void *dout,
                                      const float *t, int64_t n, int64_t dim, int flip_sin_to_cos,
                                      float shift, float scale, float max_period)
{
    LCMD_CPU_F32_ONLY(dt, "timestep_emb_bwd");
    if (!dt_grad) return LCMD_OK;
    int64_t half = dim / 2;
    const float *d = dout;
#pragma omp parallel for num_threads(lcmd_cpu_threads(be, n * dim / 16384 + 1)) schedule(static)
    for (int64_t i = 0; i < n; i++) {
        const float *row = d + i * dim;
        const float *dsin = row + (flip_sin_to_cos ? half : 0), *dcos = row + (flip_sin_to_cos ? 0 : half);
        double acc = 0.0;
        for (int64_t j = 0; j < half; j++) {
            float f = emb_freq(j, half, shift, max_period);
            float a = scale * (t[i] * f);
            acc += (double)scale * f * ((double)dsin[j] * cosf(a) - (double)dcos[j] * sinf(a));
        }
        dt_grad[i] += (float)acc;
    }
    return LCMD_OK;
}
