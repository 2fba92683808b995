/* Elementwise ops: convert, activations, GEGLU, add, mul, axpy, scale.
 * One generic map kernel: NIN inputs, NOUT outputs (NULL outputs skipped), 16-byte
 * packs when every pointer is aligned, scalar tail; ACC outputs are read first. */
#include "ops/cuda/cu_common.cuh"

namespace {

constexpr int kThreads = 256;

template <typename T, int NIN, int NOUT> struct ptrs_t {
    const T *in[NIN > 0 ? NIN : 1];
    T *out[NOUT];
};

template <typename T, int V, int NIN, int NOUT, bool ACC, typename F>
__global__ void __launch_bounds__(kThreads) k_map(int64_t n, ptrs_t<T, NIN, NOUT> p, F f)
{
    const int64_t nv = n / V;
    const int64_t stride = (int64_t)gridDim.x * blockDim.x;
    const int64_t tid = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    for (int64_t i = tid; i < nv; i += stride) {
        float x[NIN > 0 ? NIN : 1][V], y[NOUT][V];
#pragma unroll
        for (int j = 0; j < NIN; j++) ldv<T, V>(p.in[j] + i * V, x[j]);
#pragma unroll
        for (int o = 0; o < NOUT; o++) {
            if (ACC && p.out[o]) ldv<T, V>(p.out[o] + i * V, y[o]);
            else {
#pragma unroll
                for (int e = 0; e < V; e++) y[o][e] = 0.0f;
            }
        }
#pragma unroll
        for (int e = 0; e < V; e++) {
            float xi[NIN > 0 ? NIN : 1], yi[NOUT];
#pragma unroll
            for (int j = 0; j < NIN; j++) xi[j] = x[j][e];
#pragma unroll
            for (int o = 0; o < NOUT; o++) yi[o] = y[o][e];
            f(xi, yi);
#pragma unroll
            for (int o = 0; o < NOUT; o++) y[o][e] = yi[o];
        }
#pragma unroll
        for (int o = 0; o < NOUT; o++)
            if (p.out[o]) stv<T, V>(p.out[o] + i * V, y[o]);
    }
    for (int64_t i = nv * V + tid; i < n; i += stride) {
        float xi[NIN > 0 ? NIN : 1], yi[NOUT];
#pragma unroll
        for (int j = 0; j < NIN; j++) xi[j] = ld_f(p.in[j][i]);
#pragma unroll
        for (int o = 0; o < NOUT; o++) yi[o] = (ACC && p.out[o]) ? ld_f(p.out[o][i]) : 0.0f;
        f(xi, yi);
#pragma unroll
        for (int o = 0; o < NOUT; o++)
            if (p.out[o]) p.out[o][i] = st_f<T>(yi[o]);
    }
}

template <typename T, int NIN, int NOUT, bool ACC, typename F>
lcmd_status run_map(lcmd_cu_backend *cb, int64_t n, const ptrs_t<T, NIN, NOUT> &p, F f)
{
    if (n <= 0) return LCMD_OK;
    bool aligned = true;
    for (int j = 0; j < NIN; j++) aligned = aligned && al16(p.in[j]);
    for (int o = 0; o < NOUT; o++) aligned = aligned && al16(p.out[o]);
    constexpr int V = vec_of<T>::v;
    unsigned max_blocks = (unsigned)cb->sm_count * 16u;
    if (aligned && n >= V) {
        k_map<T, V, NIN, NOUT, ACC, F><<<grid_for(n / V, kThreads, max_blocks), kThreads, 0, cb->stream>>>(n, p, f);
    } else {
        k_map<T, 1, NIN, NOUT, ACC, F><<<grid_for(n, kThreads, max_blocks), kThreads, 0, cb->stream>>>(n, p, f);
    }
    return lcmd_cu_launch_check("k_map");
}

/* ---- activations ---- */

constexpr float kSqrt2 = 1.41421356237309504880f;
constexpr float kInvSqrt2Pi = 0.39894228040143267794f;
constexpr float kSqrt2OverPi = 0.79788456080286535588f;

template <int ACT> __device__ __forceinline__ float act_f(float x)
{
    if (ACT == LCMD_ACT_SILU) return x * sigmoidf_(x);
    if (ACT == LCMD_ACT_GELU) return 0.5f * x * (1.0f + erff(x / kSqrt2));
    if (ACT == LCMD_ACT_GELU_TANH) {
        float u = kSqrt2OverPi * (x + 0.044715f * x * x * x);
        return 0.5f * x * (1.0f + tanhf(u));
    }
    return x * sigmoidf_(1.702f * x);
}

template <int ACT> __device__ __forceinline__ float act_d(float x)
{
    if (ACT == LCMD_ACT_SILU) {
        float s = sigmoidf_(x);
        return s * (1.0f + x * (1.0f - s));
    }
    if (ACT == LCMD_ACT_GELU) {
        float cdf = 0.5f * (1.0f + erff(x / kSqrt2));
        return cdf + x * kInvSqrt2Pi * expf(-0.5f * x * x);
    }
    if (ACT == LCMD_ACT_GELU_TANH) {
        float u = kSqrt2OverPi * (x + 0.044715f * x * x * x);
        float t = tanhf(u);
        return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * kSqrt2OverPi * (1.0f + 3.0f * 0.044715f * x * x);
    }
    float s = sigmoidf_(1.702f * x);
    return s + 1.702f * x * s * (1.0f - s);
}

template <int ACT> struct f_act { __device__ void operator()(const float *x, float *y) const { y[0] = act_f<ACT>(x[0]); } };
template <int ACT> struct f_act_bwd {   /* x = (dout, inp), y = dinp */
    __device__ void operator()(const float *x, float *y) const { y[0] += x[0] * act_d<ACT>(x[1]); }
};
struct f_add { __device__ void operator()(const float *x, float *y) const { y[0] = x[0] + x[1]; } };
struct f_mul { __device__ void operator()(const float *x, float *y) const { y[0] = x[0] * x[1]; } };
struct f_mul_bwd {   /* x = (dout, a, b), y = (da, db) */
    __device__ void operator()(const float *x, float *y) const { y[0] += x[0] * x[2]; y[1] += x[0] * x[1]; }
};
struct f_axpy { float a; __device__ void operator()(const float *x, float *y) const { y[0] += a * x[0]; } };
struct f_scale { float a; __device__ void operator()(const float *, float *y) const { y[0] *= a; } };

template <typename T, int ACT>
lcmd_status act_fwd_t(lcmd_cu_backend *cb, void *out, const void *inp, int64_t n)
{
    ptrs_t<T, 1, 1> p = {{(const T *)inp}, {(T *)out}};
    return run_map<T, 1, 1, false>(cb, n, p, f_act<ACT>());
}

template <typename T, int ACT>
lcmd_status act_bwd_t(lcmd_cu_backend *cb, void *dinp, const void *dout, const void *inp, int64_t n)
{
    ptrs_t<T, 2, 1> p = {{(const T *)dout, (const T *)inp}, {(T *)dinp}};
    return run_map<T, 2, 1, true>(cb, n, p, f_act_bwd<ACT>());
}

/* ---- convert ---- */

template <typename S, typename D, int V>
__global__ void __launch_bounds__(kThreads) k_convert(D *dst, const S *src, int64_t n)
{
    const int64_t stride = (int64_t)gridDim.x * blockDim.x;
    const int64_t tid = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    const int64_t nv = n / V;
    for (int64_t i = tid; i < nv; i += stride) {
        float f[V];
        ldv<S, V>(src + i * V, f);
        stv<D, V>(dst + i * V, f);
    }
    for (int64_t i = nv * V + tid; i < n; i += stride) dst[i] = st_f<D>(ld_f(src[i]));
}

template <typename S, typename D>
lcmd_status convert_t(lcmd_cu_backend *cb, void *dst, const void *src, int64_t n)
{
    unsigned mb = (unsigned)cb->sm_count * 16u;
    if (al16(dst, src) && n >= 4)
        k_convert<S, D, 4><<<grid_for(n / 4, kThreads, mb), kThreads, 0, cb->stream>>>((D *)dst, (const S *)src, n);
    else
        k_convert<S, D, 1><<<grid_for(n, kThreads, mb), kThreads, 0, cb->stream>>>((D *)dst, (const S *)src, n);
    return lcmd_cu_launch_check("k_convert");
}

template <typename S>
lcmd_status convert_s(lcmd_cu_backend *cb, lcmd_dtype dst_dt, void *dst, const void *src, int64_t n)
{
    LCMD_CU_DISPATCH(dst_dt, return convert_t<S, T>(cb, dst, src, n));
    return LCMD_OK;
}

/* ---- GEGLU ---- */

__device__ __forceinline__ float gelu_f(float g) { return 0.5f * g * (1.0f + erff(g / kSqrt2)); }
__device__ __forceinline__ float gelu_d(float g)
{
    return 0.5f * (1.0f + erff(g / kSqrt2)) + g * kInvSqrt2Pi * expf(-0.5f * g * g);
}

template <typename T, int V, bool BWD>
__global__ void __launch_bounds__(kThreads) k_geglu(T *dst, const T *dout, const T *inp, int64_t rows, int64_t d)
{
    const int64_t dv = d / V;
    const int64_t total = rows * dv;
    const int64_t stride = (int64_t)gridDim.x * blockDim.x;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += stride) {
        int64_t r = i / dv, j = (i - r * dv) * V;
        const T *pa = inp + r * 2 * d + j;
        const T *pg = pa + d;
        float a[V], g[V];
        ldv<T, V>(pa, a);
        ldv<T, V>(pg, g);
        if (!BWD) {
            float o[V];
#pragma unroll
            for (int e = 0; e < V; e++) o[e] = a[e] * gelu_f(g[e]);
            stv<T, V>(dst + r * d + j, o);
        } else {
            float go[V], da[V], dg[V];
            ldv<T, V>(dout + r * d + j, go);
            T *pda = dst + r * 2 * d + j;
            ldv<T, V>(pda, da);
            ldv<T, V>(pda + d, dg);
#pragma unroll
            for (int e = 0; e < V; e++) {
                da[e] += go[e] * gelu_f(g[e]);
                dg[e] += go[e] * a[e] * gelu_d(g[e]);
            }
            stv<T, V>(pda, da);
            stv<T, V>(pda + d, dg);
        }
    }
}

template <typename T, bool BWD>
lcmd_status geglu_t(lcmd_cu_backend *cb, void *dst, const void *dout, const void *inp, int64_t rows, int64_t d)
{
    constexpr int V = vec_of<T>::v;
    unsigned mb = (unsigned)cb->sm_count * 16u;
    if (rows <= 0 || d <= 0) return LCMD_OK;
    if (d % V == 0 && al16(dst, dout, inp))
        k_geglu<T, V, BWD><<<grid_for(rows * d / V, kThreads, mb), kThreads, 0, cb->stream>>>(
            (T *)dst, (const T *)dout, (const T *)inp, rows, d);
    else
        k_geglu<T, 1, BWD><<<grid_for(rows * d, kThreads, mb), kThreads, 0, cb->stream>>>(
            (T *)dst, (const T *)dout, (const T *)inp, rows, d);
    return lcmd_cu_launch_check("k_geglu");
}

}  /* namespace */

#define ACT_SWITCH(act, EXPR_T)                                                        \
    switch (act) {                                                                     \
    case LCMD_ACT_SILU: { constexpr int A = LCMD_ACT_SILU; return EXPR_T; }            \
    case LCMD_ACT_GELU: { constexpr int A = LCMD_ACT_GELU; return EXPR_T; }            \
    case LCMD_ACT_GELU_TANH: { constexpr int A = LCMD_ACT_GELU_TANH; return EXPR_T; }  \
    case LCMD_ACT_QUICK_GELU: { constexpr int A = LCMD_ACT_QUICK_GELU; return EXPR_T; }\
    default: return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "cuda act: unknown activation %d", (int)act); \
    }

extern "C" lcmd_status lcmd_cu_act_fwd(lcmd_backend *be, lcmd_dtype dt, lcmd_act act, void *out, const void *inp, int64_t n)
{
    lcmd_cu_backend *cb = lcmd_cu(be);
    LCMD_TRY(lcmd_cu_enter(cb));
    LCMD_CU_DISPATCH(dt, ACT_SWITCH(act, (act_fwd_t<T, A>(cb, out, inp, n))));
    return LCMD_OK;
}

extern "C" lcmd_status lcmd_cu_act_bwd(lcmd_backend *be, lcmd_dtype dt, lcmd_act act, void *dinp,
                                       const void *dout, const void *inp, int64_t n)
{
    lcmd_cu_backend *cb = lcmd_cu(be);
    LCMD_TRY(lcmd_cu_enter(cb));
    if (!dinp) return LCMD_OK;
    LCMD_CU_DISPATCH(dt, ACT_SWITCH(act, (act_bwd_t<T, A>(cb, dinp, dout, inp, n))));
    return LCMD_OK;
}

extern "C" lcmd_status lcmd_cu_convert(lcmd_backend *be, lcmd_dtype dst_dt, void *dst, lcmd_dtype src_dt,
                                       const void *src, size_t n)
{
    lcmd_cu_backend *cb = lcmd_cu(be);
    LCMD_TRY(lcmd_cu_enter(cb));
    if (n == 0) return LCMD_OK;
    if (dst_dt == src_dt) {
        if (dst != src)
            LCMD_CU_TRY(cudaMemcpyAsync(dst, src, n * lcmd_dtype_size(dst_dt), cudaMemcpyDeviceToDevice, cb->stream));
        return LCMD_OK;
    }
    LCMD_CU_DISPATCH(src_dt, return convert_s<T>(cb, dst_dt, dst, src, (int64_t)n));
    return LCMD_OK;
}

extern "C" lcmd_status lcmd_cu_geglu_fwd(lcmd_backend *be, lcmd_dtype dt, void *out, const void *inp, int64_t rows, int64_t d)
{
    lcmd_cu_backend *cb = lcmd_cu(be);
    LCMD_TRY(lcmd_cu_enter(cb));
    LCMD_CU_DISPATCH(dt, return (geglu_t<T, false>(cb, out, NULL, inp, rows, d)));
    return LCMD_OK;
}

extern "C" lcmd_status lcmd_cu_geglu_bwd(lcmd_backend *be, lcmd_dtype dt, void *dinp, const void *dout,
                                         const void *inp, int64_t rows, int64_t d)
{
    lcmd_cu_backend *cb = lcmd_cu(be);
    LCMD_TRY(lcmd_cu_enter(cb));
    if (!dinp) return LCMD_OK;
    LCMD_CU_DISPATCH(dt, return (geglu_t<T, true>(cb, dinp, dout, inp, rows, d)));
    return LCMD_OK;
}

extern "C" lcmd_status lcmd_cu_add_fwd(lcmd_backend *be, lcmd_dtype dt, void *out, const void *a, const void *b, int64_t n)
{
    lcmd_cu_backend *cb = lcmd_cu(be);
    LCMD_TRY(lcmd_cu_enter(cb));
    LCMD_CU_DISPATCH(dt, {
        ptrs_t<T, 2, 1> p = {{(const T *)a, (const T *)b}, {(T *)out}};
        return run_map<T, 2, 1, false>(cb, n, p, f_add());
    });
    return LCMD_OK;
}

extern "C" lcmd_status lcmd_cu_mul_fwd(lcmd_backend *be, lcmd_dtype dt, void *out, const void *a, const void *b, int64_t n)
{
    lcmd_cu_backend *cb = lcmd_cu(be);
    LCMD_TRY(lcmd_cu_enter(cb));
    LCMD_CU_DISPATCH(dt, {
        ptrs_t<T, 2, 1> p = {{(const T *)a, (const T *)b}, {(T *)out}};
        return run_map<T, 2, 1, false>(cb, n, p, f_mul());
    });
    return LCMD_OK;
}

extern "C" lcmd_status lcmd_cu_mul_bwd(lcmd_backend *be, lcmd_dtype dt, void *da, void *db, const void *dout,
                                       const void *a, const void *b, int64_t n)
{
    lcmd_cu_backend *cb = lcmd_cu(be);
    LCMD_TRY(lcmd_cu_enter(cb));
    if (!da && !db) return LCMD_OK;
    LCMD_CU_DISPATCH(dt, {
        ptrs_t<T, 3, 2> p = {{(const T *)dout, (const T *)a, (const T *)b}, {(T *)da, (T *)db}};
        return run_map<T, 3, 2, true>(cb, n, p, f_mul_bwd());
    });
    return LCMD_OK;
}

extern "C" lcmd_status lcmd_cu_axpy(lcmd_backend *be, lcmd_dtype dt, void *y, float alpha, const void *x, int64_t n)
{
    lcmd_cu_backend *cb = lcmd_cu(be);
    LCMD_TRY(lcmd_cu_enter(cb));
    LCMD_CU_DISPATCH(dt, {
        ptrs_t<T, 1, 1> p = {{(const T *)x}, {(T *)y}};
        f_axpy f = {alpha};
        return run_map<T, 1, 1, true>(cb, n, p, f);
    });
    return LCMD_OK;
}

extern "C" lcmd_status lcmd_cu_scale(lcmd_backend *be, lcmd_dtype dt, void *y, float alpha, int64_t n)
{
    lcmd_cu_backend *cb = lcmd_cu(be);
    LCMD_TRY(lcmd_cu_enter(cb));
    LCMD_CU_DISPATCH(dt, {
        ptrs_t<T, 0, 1> p = {{NULL}, {(T *)y}};
        f_scale f = {alpha};
        return run_map<T, 0, 1, true>(cb, n, p, f);
    });
    return LCMD_OK;
}
