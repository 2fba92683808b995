/* Row softmax with a scale on the logits. */
#include "ops/cpu/cpu_backend.h"

#include <math.h>

#include "core/error.h"

lcmd_status lcmd_cpu_softmax_fwd(lcmd_backend *be, lcmd_dtype dt, void *out, const void *inp,
                                 int64_t rows, int64_t cols, float scale)
{
    LCMD_CPU_F32_ONLY(dt, "softmax_fwd");
    const float *x = inp;
    float *y = out;
#pragma omp parallel for num_threads(lcmd_cpu_threads(be, rows * cols / 4096 + 1)) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * cols;
        float *yr = y + r * cols;
        float mx = -INFINITY;
        for (int64_t j = 0; j < cols; j++) mx = fmaxf(mx, scale * xr[j]);
        double sum = 0.0;
        for (int64_t j = 0; j < cols; j++) {
            yr[j] = expf(scale * xr[j] - mx);
            sum += yr[j];
        }
        float inv = (float)(1.0 / sum);
        for (int64_t j = 0; j < cols; j++) yr[j] *= inv;
    }
    return LCMD_OK;
}

lcmd_status lcmd_cpu_softmax_bwd(lcmd_backend *be, lcmd_dtype dt, void *dinp, const void *dout,
                                 const void *out, int64_t rows, int64_t cols, float scale)
{
    LCMD_CPU_F32_ONLY(dt, "softmax_bwd");
    if (!dinp) return LCMD_OK;
    const float *dy = dout, *y = out;
    float *dx = dinp;
#pragma omp parallel for num_threads(lcmd_cpu_threads(be, rows * cols / 4096 + 1)) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const float *dyr = dy + r * cols, *yr = y + r * cols;
        float *dxr = dx + r * cols;
        double dot = 0.0;
        for (int64_t j = 0; j < cols; j++) dot += (double)dyr[j] * yr[j];
        float d = (float)dot;
        for (int64_t j = 0; j < cols; j++) dxr[j] += scale * yr[j] * (dyr[j] - d);
    }
    return LCMD_OK;
}
