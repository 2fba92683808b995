/* Layout ops: nearest 2x upsampling and channel concat. */
#include "ops/cpu/cpu_backend.h"

#include <string.h>

#include "core/error.h"

lcmd_status lcmd_cpu_upsample2x_fwd(lcmd_backend *be, lcmd_dtype dt, void *out, const void *inp,
                                    int64_t n, int64_t h, int64_t w, int64_t c)
{
    LCMD_CPU_F32_ONLY(dt, "upsample2x_fwd");
    const float *x = inp;
    float *y = out;
    size_t row_bytes = (size_t)c * sizeof(float);
    /* one task per output row pair: read each input row once, write two output rows */
#pragma omp parallel for num_threads(lcmd_cpu_threads(be, n * h * w * c / 16384 + 1)) schedule(static)
    for (int64_t r = 0; r < n * h; r++) {
        const float *xr = x + r * w * c;
        float *y0 = y + r * 2 * (2 * w * c), *y1 = y0 + 2 * w * c;
        for (int64_t j = 0; j < w; j++) {
            memcpy(y0 + (2 * j) * c, xr + j * c, row_bytes);
            memcpy(y0 + (2 * j + 1) * c, xr + j * c, row_bytes);
        }
        memcpy(y1, y0, 2 * (size_t)w * row_bytes);
    }
    return LCMD_OK;
}

lcmd_status lcmd_cpu_upsample2x_bwd(lcmd_backend *be, lcmd_dtype dt, void *dinp, const void *dout,
                                    int64_t n, int64_t h, int64_t w, int64_t c)
{
    LCMD_CPU_F32_ONLY(dt, "upsample2x_bwd");
    if (!dinp) return LCMD_OK;
    const float *dy = dout;
    float *dx = dinp;
#pragma omp parallel for num_threads(lcmd_cpu_threads(be, n * h * w * c / 16384 + 1)) schedule(static)
    for (int64_t r = 0; r < n * h; r++) {
        const float *y0 = dy + r * 2 * (2 * w * c), *y1 = y0 + 2 * w * c;
        float *xr = dx + r * w * c;
        for (int64_t j = 0; j < w; j++) {
            const float *a = y0 + 2 * j * c, *b = y1 + 2 * j * c;
            float *d = xr + j * c;
            for (int64_t ch = 0; ch < c; ch++) d[ch] += (a[ch] + a[c + ch]) + (b[ch] + b[c + ch]);
        }
    }
    return LCMD_OK;
}

lcmd_status lcmd_cpu_concat_fwd(lcmd_backend *be, lcmd_dtype dt, void *out, const void *a, const void *b,
                                int64_t p, int64_t ca, int64_t cb)
{
    LCMD_CPU_F32_ONLY(dt, "concat_fwd");
    const float *x = a, *y = b;
    float *o = out;
    int64_t c = ca + cb;
#pragma omp parallel for num_threads(lcmd_cpu_threads(be, p * c / 16384 + 1)) schedule(static)
    for (int64_t r = 0; r < p; r++) {
        memcpy(o + r * c, x + r * ca, (size_t)ca * sizeof(float));
        memcpy(o + r * c + ca, y + r * cb, (size_t)cb * sizeof(float));
    }
    return LCMD_OK;
}

lcmd_status lcmd_cpu_concat_bwd(lcmd_backend *be, lcmd_dtype dt, void *da, void *db, const void *dout,
                                int64_t p, int64_t ca, int64_t cb)
{
    LCMD_CPU_F32_ONLY(dt, "concat_bwd");
    const float *d = dout;
    float *gx = da, *gy = db;
    int64_t c = ca + cb;
#pragma omp parallel for num_threads(lcmd_cpu_threads(be, p * c / 16384 + 1)) schedule(static)
    for (int64_t r = 0; r < p; r++) {
        const float *dr = d + r * c;
        if (gx)
            for (int64_t j = 0; j < ca; j++) gx[r * ca + j] += dr[j];
        if (gy)
            for (int64_t j = 0; j < cb; j++) gy[r * cb + j] += dr[ca + j];
    }
    return LCMD_OK;
}
