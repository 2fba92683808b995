/* Row softmax (one warp per row, three passes over the row through L1/L2) and the
 * sinusoidal timestep embedding. */
#include <math.h>

#include "ops/cuda/cu_common.cuh"

namespace {

template <typename T>
__global__ void __launch_bounds__(256) k_softmax_fwd(T *out, const T *inp, int64_t rows, int64_t cols, float scale)
{
    const int lane = threadIdx.x & 31;
    const int64_t row = (int64_t)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    if (row >= rows) return;
    const T *x = inp + row * cols;
    T *y = out + row * cols;
    float m = -INFINITY;
    for (int64_t j = lane; j < cols; j += 32) m = fmaxf(m, scale * ld_f(x[j]));
    m = warp_max(m);
    float s = 0.0f;
    for (int64_t j = lane; j < cols; j += 32) s += expf(scale * ld_f(x[j]) - m);
    s = warp_sum(s);
    const float inv = 1.0f / s;
    for (int64_t j = lane; j < cols; j += 32) y[j] = st_f<T>(expf(scale * ld_f(x[j]) - m) * inv);
}

template <typename T>
__global__ void __launch_bounds__(256) k_softmax_bwd(T *dinp, const T *dout, const T *out, int64_t rows, int64_t cols, float scale)
{
    const int lane = threadIdx.x & 31;
    const int64_t row = (int64_t)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    if (row >= rows) return;
    const T *dy = dout + row * cols, *y = out + row * cols;
    T *dx = dinp + row * cols;
    float s = 0.0f;
    for (int64_t j = lane; j < cols; j += 32) s += ld_f(dy[j]) * ld_f(y[j]);
    s = warp_sum(s);
    for (int64_t j = lane; j < cols; j += 32)
        dx[j] = st_f<T>(ld_f(dx[j]) + scale * ld_f(y[j]) * (ld_f(dy[j]) - s));
}

/* a_j = scale * (t * exp((nl * j) / (half - shift))), in fp32 as diffusers and the CPU
 * compute it. The exponential is evaluated in double and rounded once (correctly
 * rounded f_j, as glibc's expf gives): a_j reaches ~1000, where one ulp of f_j moves
 * sin(a_j) by ~6e-5, so a 1-2 ulp device expf would not match the reference to 1e-5. */
__device__ __forceinline__ float ts_arg(float t, int64_t j, float nl, float denom, float scale, float *dadt)
{
    float f = (float)exp((double)((nl * (float)j) / denom));
    *dadt = scale * f;
    return scale * (t * f);
}

template <typename T>
__global__ void k_ts_fwd(T *out, const float *t, int64_t n, int64_t dim, int flip, float nl, float denom, float scale)
{
    const int64_t half = dim / 2;
    const int64_t total = n * dim;
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < total; e += (int64_t)gridDim.x * blockDim.x) {
        int64_t i = e / dim, j = e - i * dim;
        float v = 0.0f;
        if (j < 2 * half) {
            int second = j >= half;
            int64_t jj = second ? j - half : j;
            float d;
            float a = ts_arg(t[i], jj, nl, denom, scale, &d);
            int use_cos = second ^ (flip ? 1 : 0);
            v = use_cos ? cosf(a) : sinf(a);
        }
        out[e] = st_f<T>(v);
    }
}

template <typename T>
__global__ void __launch_bounds__(256) k_ts_bwd(float *dt_grad, const T *dout, const float *t, int64_t dim, int flip,
                                                float nl, float denom, float scale)
{
    __shared__ float red[8];
    const int64_t i = blockIdx.x;
    const int64_t half = dim / 2;
    float s = 0.0f;
    for (int64_t j = threadIdx.x; j < 2 * half; j += blockDim.x) {
        int second = j >= half;
        int64_t jj = second ? j - half : j;
        float d;
        float a = ts_arg(t[i], jj, nl, denom, scale, &d);
        int use_cos = second ^ (flip ? 1 : 0);
        float g = use_cos ? -sinf(a) * d : cosf(a) * d;
        s += ld_f(dout[i * dim + j]) * g;
    }
    s = warp_sum(s);
    if ((threadIdx.x & 31) == 0) red[threadIdx.x / 32] = s;
    __syncthreads();
    if (threadIdx.x == 0) {
        float tot = 0.0f;
        for (int k = 0; k < (int)(blockDim.x / 32); k++) tot += red[k];
        dt_grad[i] += tot;
    }
}

}  /* namespace */

extern "C" lcmd_status lcmd_cu_softmax_fwd(lcmd_backend *be, lcmd_dtype dt, void *out, const void *inp,
                                           int64_t rows, int64_t cols, float scale)
{
    lcmd_cu_backend *cb = lcmd_cu(be);
    LCMD_TRY(lcmd_cu_enter(cb));
    if (rows <= 0 || cols <= 0) return LCMD_OK;
    LCMD_CU_DISPATCH(dt, k_softmax_fwd<T><<<(unsigned)((rows + 7) / 8), 256, 0, cb->stream>>>((T *)out, (const T *)inp, rows, cols, scale));
    return lcmd_cu_launch_check("k_softmax_fwd");
}

extern "C" lcmd_status lcmd_cu_softmax_bwd(lcmd_backend *be, lcmd_dtype dt, void *dinp, const void *dout,
                                           const void *out, int64_t rows, int64_t cols, float scale)
{
    lcmd_cu_backend *cb = lcmd_cu(be);
    LCMD_TRY(lcmd_cu_enter(cb));
    if (!dinp || rows <= 0 || cols <= 0) return LCMD_OK;
    LCMD_CU_DISPATCH(dt, k_softmax_bwd<T><<<(unsigned)((rows + 7) / 8), 256, 0, cb->stream>>>((T *)dinp, (const T *)dout, (const T *)out, rows, cols, scale));
    return lcmd_cu_launch_check("k_softmax_bwd");
}

extern "C" lcmd_status lcmd_cu_timestep_emb_fwd(lcmd_backend *be, lcmd_dtype dt, void *out, const float *t, int64_t n,
                                                int64_t dim, int flip_sin_to_cos, float shift, float scale, float max_period)
{
    lcmd_cu_backend *cb = lcmd_cu(be);
    LCMD_TRY(lcmd_cu_enter(cb));
    if (n <= 0 || dim <= 0) return LCMD_OK;
    const float nl = -logf(max_period);              /* as the CPU and diffusers: fp32 */
    const float denom = (float)(dim / 2) - shift;
    LCMD_CU_DISPATCH(dt, k_ts_fwd<T><<<grid_for(n * dim, 256), 256, 0, cb->stream>>>((T *)out, t, n, dim, flip_sin_to_cos, nl, denom, scale));
    return lcmd_cu_launch_check("k_timestep_emb_fwd");
}

extern "C" lcmd_status lcmd_cu_timestep_emb_bwd(lcmd_backend *be, lcmd_dtype dt, float *dt_grad, const void *dout,
                                                const float *t, int64_t n, int64_t dim, int flip_sin_to_cos,
                                                float shift, float scale, float max_period)
{
    lcmd_cu_backend *cb = lcmd_cu(be);
    LCMD_TRY(lcmd_cu_enter(cb));
    if (!dt_grad || n <= 0 || dim <= 0) return LCMD_OK;
    const float nl = -logf(max_period);              /* as the CPU and diffusers: fp32 */
    const float denom = (float)(dim / 2) - shift;
    LCMD_CU_DISPATCH(dt, k_ts_bwd<T><<<(unsigned)n, 256, 0, cb->stream>>>(dt_grad, (const T *)dout, t, dim, flip_sin_to_cos, nl, denom, scale));
    return lcmd_cu_launch_check("k_timestep_emb_bwd");
}
