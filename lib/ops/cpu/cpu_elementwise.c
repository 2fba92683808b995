/* Elementwise arithmetic: add, broadcast add, mul, axpy, scale. */
#include "ops/cpu/cpu_backend.h"

#include "core/error.h"

#define EW_GRAIN 16384   /* values per thread at least */

#define EW_THREADS(be, n) num_threads(lcmd_cpu_threads((be), (n) / EW_GRAIN + 1))

lcmd_status lcmd_cpu_add_fwd(lcmd_backend *be, lcmd_dtype dt, void *out, const void *a, const void *b, int64_t n)
{
    LCMD_CPU_F32_ONLY(dt, "add_fwd");
    float *o = out;
    const float *x = a, *y = b;
#pragma omp parallel for EW_THREADS(be, n) schedule(static)
    for (int64_t i = 0; i < n; i++) o[i] = x[i] + y[i];
    return LCMD_OK;
}

lcmd_status lcmd_cpu_add_bcast_fwd(lcmd_backend *be, lcmd_dtype dt, void *out, const void *a, const void *b,
                                   int64_t n, int64_t p, int64_t c)
{
    LCMD_CPU_F32_ONLY(dt, "add_bcast_fwd");
    float *o = out;
    const float *x = a, *y = b;
#pragma omp parallel for EW_THREADS(be, n * p * c) schedule(static)
    for (int64_t r = 0; r < n * p; r++) {
        const float *yr = y + (r / p) * c, *xr = x + r * c;
        float *orow = o + r * c;
        for (int64_t j = 0; j < c; j++) orow[j] = xr[j] + yr[j];
    }
    return LCMD_OK;
}

lcmd_status lcmd_cpu_add_bcast_bwd(lcmd_backend *be, lcmd_dtype dt, void *da, void *db, const void *dout,
                                   int64_t n, int64_t p, int64_t c)
{
    LCMD_CPU_F32_ONLY(dt, "add_bcast_bwd");
    if (da) LCMD_TRY(lcmd_cpu_axpy(be, dt, da, 1.0f, dout, n * p * c));
    if (db)
        for (int64_t i = 0; i < n; i++)
            lcmd_cpu_colsum_acc(be, (float *)db + i * c, (const float *)dout + i * p * c, p, c, c);
    return LCMD_OK;
}

lcmd_status lcmd_cpu_mul_fwd(lcmd_backend *be, lcmd_dtype dt, void *out, const void *a, const void *b, int64_t n)
{
    LCMD_CPU_F32_ONLY(dt, "mul_fwd");
    float *o = out;
    const float *x = a, *y = b;
#pragma omp parallel for EW_THREADS(be, n) schedule(static)
    for (int64_t i = 0; i < n; i++) o[i] = x[i] * y[i];
    return LCMD_OK;
}

lcmd_status lcmd_cpu_mul_bwd(lcmd_backend *be, lcmd_dtype dt, void *da, void *db, const void *dout,
                             const void *a, const void *b, int64_t n)
{
    LCMD_CPU_F32_ONLY(dt, "mul_bwd");
    float *gx = da, *gy = db;
    const float *d = dout, *x = a, *y = b;
    if (gx) {
#pragma omp parallel for EW_THREADS(be, n) schedule(static)
        for (int64_t i = 0; i < n; i++) gx[i] += d[i] * y[i];
    }
    if (gy) {
#pragma omp parallel for EW_THREADS(be, n) schedule(static)
        for (int64_t i = 0; i < n; i++) gy[i] += d[i] * x[i];
    }
    return LCMD_OK;
}

lcmd_status lcmd_cpu_axpy(lcmd_backend *be, lcmd_dtype dt, void *y, float alpha, const void *x, int64_t n)
{
    LCMD_CPU_F32_ONLY(dt, "axpy");
    float *yy = y;
    const float *xx = x;
#pragma omp parallel for EW_THREADS(be, n) schedule(static)
    for (int64_t i = 0; i < n; i++) yy[i] += alpha * xx[i];
    return LCMD_OK;
}

lcmd_status lcmd_cpu_scale(lcmd_backend *be, lcmd_dtype dt, void *y, float alpha, int64_t n)
{
    LCMD_CPU_F32_ONLY(dt, "scale");
    float *yy = y;
#pragma omp parallel for EW_THREADS(be, n) schedule(static)
    for (int64_t i = 0; i < n; i++) yy[i] *= alpha;
    return LCMD_OK;
}
