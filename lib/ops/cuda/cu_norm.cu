/* GroupNorm (+ fused SiLU) and LayerNorm, forward and backward.
 *
 * GroupNorm over x[n, hw, c]: a per-channel reduce over row splits (fwd: shifted sums
 * of x, the shift being the group's first element, for a stable variance; bwd: sums
 * of dy*xhat and dy), a small finalize per (sample, group), then one elementwise
 * apply pass with 16-byte packs. Deterministic: no global atomics.
 * LayerNorm: one warp per row (two-pass mean/variance), and a column reduce over row
 * splits for dgamma/dbeta. */
#include <math.h>

#include "ops/cuda/cu_common.cuh"

namespace {

constexpr int kThreads = 256;

template <typename T> __device__ __forceinline__ float opt_ld(const T *p, int64_t i, float dflt)
{
    return p ? ld_f(p[i]) : dflt;
}

/* dy from dout through the optional SiLU, recomputing y = gamma xhat + beta */
template <bool SILU> __device__ __forceinline__ float gn_dy(float go, float y)
{
    if (!SILU) return go;
    float s = sigmoidf_(y);
    return go * s * (1.0f + y * (1.0f - s));
}

/* part[(i * splits + split) * c + ch][2] */
template <typename T, bool BWD, bool SILU>
__global__ void __launch_bounds__(kThreads) k_gn_reduce(float *part, const T *x, const T *dout, const T *gamma,
                                                        const T *beta, const float *mean, const float *rstd,
                                                        int64_t hw, int64_t c, int64_t cpg, int64_t groups,
                                                        int64_t rows_per)
{
    extern __shared__ float s_acc[];   /* [c][2] */
    const int64_t i = blockIdx.y, split = blockIdx.x, splits = gridDim.x;
    for (int64_t k = threadIdx.x; k < 2 * c; k += blockDim.x) s_acc[k] = 0.0f;
    __syncthreads();
    const int tc = (int)(c < (int64_t)blockDim.x ? c : (int64_t)blockDim.x);
    const int tr = (int)blockDim.x / tc;
    const int tcol = (int)threadIdx.x % tc, trow = (int)threadIdx.x / tc;
    const int64_t r0 = split * rows_per;
    int64_t r1 = r0 + rows_per;
    if (r1 > hw) r1 = hw;
    const T *xs = x + i * hw * c;
    if (trow < tr) {
        for (int64_t ch = tcol; ch < c; ch += tc) {
            const int64_t g = ch / cpg;
            float u = 0.0f, w = 0.0f;
            if (!BWD) {
                const float shift = ld_f(xs[g * cpg]);
                for (int64_t r = r0 + trow; r < r1; r += tr) {
                    float d = ld_f(xs[r * c + ch]) - shift;
                    u += d;
                    w += d * d;
                }
            } else {
                const float mu = mean[i * groups + g], rs = rstd[i * groups + g];
                const float ga = opt_ld(gamma, ch, 1.0f), be = opt_ld(beta, ch, 0.0f);
                const T *dos = dout + i * hw * c;
                for (int64_t r = r0 + trow; r < r1; r += tr) {
                    float xh = (ld_f(xs[r * c + ch]) - mu) * rs;
                    float dy = gn_dy<SILU>(ld_f(dos[r * c + ch]), ga * xh + be);
                    u += dy * xh;
                    w += dy;
                }
            }
            atomicAdd(&s_acc[2 * ch], u);
            atomicAdd(&s_acc[2 * ch + 1], w);
        }
    }
    __syncthreads();
    float *dst = part + (i * splits + split) * c * 2;
    for (int64_t k = threadIdx.x; k < 2 * c; k += blockDim.x) dst[k] = s_acc[k];
}

/* one block per (i, g): mean, rstd from the shifted sums */
template <typename T>
__global__ void __launch_bounds__(kThreads) k_gn_stats(float *mean, float *rstd, const float *part, const T *x,
                                                       int64_t hw, int64_t c, int64_t cpg, int64_t groups,
                                                       int64_t splits, float eps)
{
    __shared__ float red[2][32];
    const int64_t i = blockIdx.x / groups, g = blockIdx.x % groups;
    float u = 0.0f, w = 0.0f;
    for (int64_t k = threadIdx.x; k < splits * cpg; k += blockDim.x) {
        int64_t s = k / cpg, cc = k - s * cpg;
        const float *p = part + ((i * splits + s) * c + g * cpg + cc) * 2;
        u += p[0];
        w += p[1];
    }
    u = warp_sum(u);
    w = warp_sum(w);
    if ((threadIdx.x & 31) == 0) { red[0][threadIdx.x / 32] = u; red[1][threadIdx.x / 32] = w; }
    __syncthreads();
    if (threadIdx.x == 0) {
        float su = 0.0f, sw = 0.0f;
        for (int k = 0; k < (int)(blockDim.x / 32); k++) { su += red[0][k]; sw += red[1][k]; }
        const float cnt = (float)(hw * cpg);
        const float mu_s = su / cnt;
        float var = sw / cnt - mu_s * mu_s;
        if (var < 0.0f) var = 0.0f;
        const float shift = ld_f(x[i * hw * c + g * cpg]);
        mean[blockIdx.x] = shift + mu_s;
        rstd[blockIdx.x] = rsqrtf(var + eps);
    }
}

/* bwd finalize per (i, g): coef = (sum gamma*w, sum gamma*u) / count */
template <typename T>
__global__ void __launch_bounds__(kThreads) k_gn_coef(float *coef, const float *part, const T *gamma, int64_t hw,
                                                      int64_t c, int64_t cpg, int64_t groups, int64_t splits)
{
    __shared__ float red[2][32];
    const int64_t i = blockIdx.x / groups, g = blockIdx.x % groups;
    float u = 0.0f, w = 0.0f;
    for (int64_t k = threadIdx.x; k < splits * cpg; k += blockDim.x) {
        int64_t s = k / cpg, cc = k - s * cpg;
        const float *p = part + ((i * splits + s) * c + g * cpg + cc) * 2;
        const float ga = opt_ld(gamma, g * cpg + cc, 1.0f);
        u += ga * p[0];
        w += ga * p[1];
    }
    u = warp_sum(u);
    w = warp_sum(w);
    if ((threadIdx.x & 31) == 0) { red[0][threadIdx.x / 32] = u; red[1][threadIdx.x / 32] = w; }
    __syncthreads();
    if (threadIdx.x == 0) {
        float su = 0.0f, sw = 0.0f;
        for (int k = 0; k < (int)(blockDim.x / 32); k++) { su += red[0][k]; sw += red[1][k]; }
        const float cnt = (float)(hw * cpg);
        coef[blockIdx.x * 2] = sw / cnt;       /* mean of dxhat */
        coef[blockIdx.x * 2 + 1] = su / cnt;   /* mean of dxhat * xhat */
    }
}

/* dgamma[ch] += sum u, dbeta[ch] += sum w over samples and splits; part is [m][c][2] */
template <typename T>
__global__ void k_param_grad(T *dgamma, T *dbeta, const float *part, int64_t m, int64_t c)
{
    const int64_t ch = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (ch >= c) return;
    float u = 0.0f, w = 0.0f;
    for (int64_t k = 0; k < m; k++) {
        u += part[(k * c + ch) * 2];
        w += part[(k * c + ch) * 2 + 1];
    }
    if (dgamma) dgamma[ch] = st_f<T>(ld_f(dgamma[ch]) + u);
    if (dbeta) dbeta[ch] = st_f<T>(ld_f(dbeta[ch]) + w);
}

template <typename T, int V, bool BWD, bool SILU>
__global__ void __launch_bounds__(kThreads) k_gn_apply(T *dst, const T *x, const T *dout, const T *gamma,
                                                       const T *beta, const float *mean, const float *rstd,
                                                       const float *coef, int64_t n, int64_t hw, int64_t c,
                                                       int64_t cpg, int64_t groups)
{
    const int64_t total = n * hw * c / V;
    const int64_t stride = (int64_t)gridDim.x * blockDim.x;
    for (int64_t q = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; q < total; q += stride) {
        const int64_t e = q * V;
        const int64_t i = e / (hw * c), ch0 = e % c;
        float xv[V], o[V];
        ldv<T, V>(x + e, xv);
        if (BWD) {
            ldv<T, V>(dout + e, o);
        }
        float acc[V];
        if (BWD) ldv<T, V>(dst + e, acc);
#pragma unroll
        for (int k = 0; k < V; k++) {
            const int64_t ch = ch0 + k, ig = i * groups + ch / cpg;
            const float ga = opt_ld(gamma, ch, 1.0f), be = opt_ld(beta, ch, 0.0f);
            const float xh = (xv[k] - mean[ig]) * rstd[ig];
            const float y = ga * xh + be;
            if (!BWD) {
                o[k] = SILU ? y * sigmoidf_(y) : y;
            } else {
                const float dy = gn_dy<SILU>(o[k], y);
                acc[k] += rstd[ig] * (ga * dy - coef[2 * ig] - xh * coef[2 * ig + 1]);
            }
        }
        if (!BWD) stv<T, V>(dst + e, o);
        else stv<T, V>(dst + e, acc);
    }
}

template <typename T, bool BWD, bool SILU>
lcmd_status gn_apply(lcmd_cu_backend *cb, T *dst, const T *x, const T *dout, const T *gamma, const T *beta,
                     const float *mean, const float *rstd, const float *coef, int64_t n, int64_t hw, int64_t c,
                     int64_t cpg, int64_t groups)
{
    constexpr int V = vec_of<T>::v;
    const int64_t total = n * hw * c;
    unsigned mb = (unsigned)cb->sm_count * 16u;
    if (c % V == 0 && al16(dst, x, dout))
        k_gn_apply<T, V, BWD, SILU><<<grid_for(total / V, kThreads, mb), kThreads, 0, cb->stream>>>(
            dst, x, dout, gamma, beta, mean, rstd, coef, n, hw, c, cpg, groups);
    else
        k_gn_apply<T, 1, BWD, SILU><<<grid_for(total, kThreads, mb), kThreads, 0, cb->stream>>>(
            dst, x, dout, gamma, beta, mean, rstd, coef, n, hw, c, cpg, groups);
    return lcmd_cu_launch_check("k_gn_apply");
}

static int64_t gn_splits(lcmd_cu_backend *cb, int64_t n, int64_t hw, int64_t *rows_per)
{
    int64_t s = ((int64_t)cb->sm_count * 2 + n - 1) / n;
    int64_t mx = (hw + 15) / 16;
    if (s > mx) s = mx;
    if (s > 256) s = 256;
    if (s < 1) s = 1;
    *rows_per = (hw + s - 1) / s;
    return (hw + *rows_per - 1) / *rows_per;
}

template <typename T, bool SILU>
lcmd_status gn_fwd_t(lcmd_cu_backend *cb, T *out, float *mean, float *rstd, const T *x, const T *gamma,
                     const T *beta, int64_t n, int64_t hw, int64_t c, int64_t groups, float eps)
{
    const int64_t cpg = c / groups;
    int64_t rows_per = 0;
    const int64_t splits = gn_splits(cb, n, hw, &rows_per);
    size_t sz = (size_t)(n * splits * c * 2) * sizeof(float);
    void *part = NULL;
    LCMD_TRY(lcmd_cu_scratch(cb, 1, &sz, &part));
    size_t smem = (size_t)c * 2 * sizeof(float);
    k_gn_reduce<T, false, false><<<dim3((unsigned)splits, (unsigned)n), kThreads, smem, cb->stream>>>(
        (float *)part, x, NULL, NULL, NULL, NULL, NULL, hw, c, cpg, groups, rows_per);
    LCMD_CU_LAUNCHED("k_gn_reduce");
    k_gn_stats<T><<<(unsigned)(n * groups), kThreads, 0, cb->stream>>>(mean, rstd, (const float *)part, x, hw, c, cpg,
                                                                        groups, splits, eps);
    LCMD_CU_LAUNCHED("k_gn_stats");
    return gn_apply<T, false, SILU>(cb, out, x, NULL, gamma, beta, mean, rstd, NULL, n, hw, c, cpg, groups);
}

template <typename T, bool SILU>
lcmd_status gn_bwd_t(lcmd_cu_backend *cb, T *dinp, T *dgamma, T *dbeta, const T *dout, const T *x, const T *gamma,
                     const T *beta, const float *mean, const float *rstd, int64_t n, int64_t hw, int64_t c,
                     int64_t groups)
{
    const int64_t cpg = c / groups;
    int64_t rows_per = 0;
    const int64_t splits = gn_splits(cb, n, hw, &rows_per);
    size_t sz[2] = {(size_t)(n * splits * c * 2) * sizeof(float), (size_t)(n * groups * 2) * sizeof(float)};
    void *p[2] = {NULL, NULL};
    LCMD_TRY(lcmd_cu_scratch(cb, 2, sz, p));
    float *part = (float *)p[0], *coef = (float *)p[1];
    size_t smem = (size_t)c * 2 * sizeof(float);
    k_gn_reduce<T, true, SILU><<<dim3((unsigned)splits, (unsigned)n), kThreads, smem, cb->stream>>>(
        part, x, dout, gamma, beta, mean, rstd, hw, c, cpg, groups, rows_per);
    LCMD_CU_LAUNCHED("k_gn_reduce");
    if (dgamma || dbeta) {
        k_param_grad<T><<<grid_for(c, 256), 256, 0, cb->stream>>>(dgamma, dbeta, part, n * splits, c);
        LCMD_CU_LAUNCHED("k_param_grad");
    }
    if (!dinp) return LCMD_OK;
    k_gn_coef<T><<<(unsigned)(n * groups), kThreads, 0, cb->stream>>>(coef, part, gamma, hw, c, cpg, groups, splits);
    LCMD_CU_LAUNCHED("k_gn_coef");
    return gn_apply<T, true, SILU>(cb, dinp, x, dout, gamma, beta, mean, rstd, coef, n, hw, c, cpg, groups);
}

/* ---- LayerNorm ---- */

template <typename T, int V>
__global__ void __launch_bounds__(kThreads) k_ln_fwd(T *out, float *mean, float *rstd, const T *x, const T *gamma,
                                                     const T *beta, int64_t rows, int64_t c, float eps)
{
    const int lane = threadIdx.x & 31;
    const int64_t row = (int64_t)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    if (row >= rows) return;
    const T *xr = x + row * c;
    float s = 0.0f;
    for (int64_t j = lane * V; j < c; j += 32 * V) {
        float v[V];
        ldv<T, V>(xr + j, v);
#pragma unroll
        for (int k = 0; k < V; k++) s += v[k];
    }
    const float mu = warp_sum(s) / (float)c;
    float q = 0.0f;
    for (int64_t j = lane * V; j < c; j += 32 * V) {
        float v[V];
        ldv<T, V>(xr + j, v);
#pragma unroll
        for (int k = 0; k < V; k++) q += (v[k] - mu) * (v[k] - mu);
    }
    const float rs = rsqrtf(warp_sum(q) / (float)c + eps);
    for (int64_t j = lane * V; j < c; j += 32 * V) {
        float v[V];
        ldv<T, V>(xr + j, v);
#pragma unroll
        for (int k = 0; k < V; k++) v[k] = (v[k] - mu) * rs * opt_ld(gamma, j + k, 1.0f) + opt_ld(beta, j + k, 0.0f);
        stv<T, V>(out + row * c + j, v);
    }
    if (lane == 0) {
        mean[row] = mu;
        rstd[row] = rs;
    }
}

template <typename T, int V>
__global__ void __launch_bounds__(kThreads) k_ln_bwd(T *dinp, const T *dout, const T *x, const T *gamma,
                                                     const float *mean, const float *rstd, int64_t rows, int64_t c)
{
    const int lane = threadIdx.x & 31;
    const int64_t row = (int64_t)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    if (row >= rows) return;
    const T *xr = x + row * c, *gr = dout + row * c;
    const float mu = mean[row], rs = rstd[row];
    float a = 0.0f, b = 0.0f;
    for (int64_t j = lane * V; j < c; j += 32 * V) {
        float v[V], g[V];
        ldv<T, V>(xr + j, v);
        ldv<T, V>(gr + j, g);
#pragma unroll
        for (int k = 0; k < V; k++) {
            float dxh = g[k] * opt_ld(gamma, j + k, 1.0f);
            a += dxh;
            b += dxh * (v[k] - mu) * rs;
        }
    }
    a = warp_sum(a) / (float)c;
    b = warp_sum(b) / (float)c;
    for (int64_t j = lane * V; j < c; j += 32 * V) {
        float v[V], g[V], d[V];
        ldv<T, V>(xr + j, v);
        ldv<T, V>(gr + j, g);
        ldv<T, V>(dinp + row * c + j, d);
#pragma unroll
        for (int k = 0; k < V; k++) {
            float xh = (v[k] - mu) * rs;
            d[k] += rs * (g[k] * opt_ld(gamma, j + k, 1.0f) - a - xh * b);
        }
        stv<T, V>(dinp + row * c + j, d);
    }
}

/* part[split][c][2] = (sum dout*xhat, sum dout) over the split's rows */
template <typename T>
__global__ void __launch_bounds__(256) k_ln_pgrad(float *part, const T *dout, const T *x, const float *mean,
                                                  const float *rstd, int64_t rows, int64_t c, int64_t rows_per)
{
    __shared__ float red[2][8][33];
    const int tx = threadIdx.x, ty = threadIdx.y;
    const int64_t col = (int64_t)blockIdx.x * 32 + tx;
    const int64_t r0 = (int64_t)blockIdx.y * rows_per;
    int64_t r1 = r0 + rows_per;
    if (r1 > rows) r1 = rows;
    float u = 0.0f, w = 0.0f;
    if (col < c) {
        for (int64_t r = r0 + ty; r < r1; r += 8) {
            float g = ld_f(dout[r * c + col]);
            u += g * (ld_f(x[r * c + col]) - mean[r]) * rstd[r];
            w += g;
        }
    }
    red[0][ty][tx] = u;
    red[1][ty][tx] = w;
    __syncthreads();
    if (ty == 0 && col < c) {
        float su = 0.0f, sw = 0.0f;
#pragma unroll
        for (int k = 0; k < 8; k++) { su += red[0][k][tx]; sw += red[1][k][tx]; }
        part[((int64_t)blockIdx.y * c + col) * 2] = su;
        part[((int64_t)blockIdx.y * c + col) * 2 + 1] = sw;
    }
}

template <typename T>
lcmd_status ln_fwd_t(lcmd_cu_backend *cb, void *out, float *mean, float *rstd, const void *x, const void *gamma,
                     const void *beta, int64_t rows, int64_t c, float eps)
{
    constexpr int V = vec_of<T>::v;
    unsigned blocks = (unsigned)((rows + 7) / 8);
    if (c % V == 0 && al16(out, x, gamma, beta))
        k_ln_fwd<T, V><<<blocks, kThreads, 0, cb->stream>>>((T *)out, mean, rstd, (const T *)x, (const T *)gamma, (const T *)beta, rows, c, eps);
    else
        k_ln_fwd<T, 1><<<blocks, kThreads, 0, cb->stream>>>((T *)out, mean, rstd, (const T *)x, (const T *)gamma, (const T *)beta, rows, c, eps);
    return lcmd_cu_launch_check("k_ln_fwd");
}

template <typename T>
lcmd_status ln_bwd_t(lcmd_cu_backend *cb, void *dinp, void *dgamma, void *dbeta, const void *dout, const void *x,
                     const void *gamma, const float *mean, const float *rstd, int64_t rows, int64_t c)
{
    constexpr int V = vec_of<T>::v;
    if (dgamma || dbeta) {
        int64_t cblocks = (c + 31) / 32;
        int64_t splits = ((int64_t)cb->sm_count * 4 + cblocks - 1) / cblocks;
        int64_t mx = (rows + 31) / 32;
        if (splits > mx) splits = mx;
        if (splits > 1024) splits = 1024;
        if (splits < 1) splits = 1;
        int64_t rows_per = (rows + splits - 1) / splits;
        splits = (rows + rows_per - 1) / rows_per;
        size_t sz = (size_t)(splits * c * 2) * sizeof(float);
        void *part = NULL;
        LCMD_TRY(lcmd_cu_scratch(cb, 1, &sz, &part));
        k_ln_pgrad<T><<<dim3((unsigned)cblocks, (unsigned)splits), dim3(32, 8), 0, cb->stream>>>(
            (float *)part, (const T *)dout, (const T *)x, mean, rstd, rows, c, rows_per);
        LCMD_CU_LAUNCHED("k_ln_pgrad");
        k_param_grad<T><<<grid_for(c, 256), 256, 0, cb->stream>>>((T *)dgamma, (T *)dbeta, (const float *)part, splits, c);
        LCMD_CU_LAUNCHED("k_param_grad");
    }
    if (!dinp) return LCMD_OK;
    unsigned blocks = (unsigned)((rows + 7) / 8);
    if (c % V == 0 && al16(dinp, dout, x, gamma))
        k_ln_bwd<T, V><<<blocks, kThreads, 0, cb->stream>>>((T *)dinp, (const T *)dout, (const T *)x, (const T *)gamma, mean, rstd, rows, c);
    else
        k_ln_bwd<T, 1><<<blocks, kThreads, 0, cb->stream>>>((T *)dinp, (const T *)dout, (const T *)x, (const T *)gamma, mean, rstd, rows, c);
    return lcmd_cu_launch_check("k_ln_bwd");
}

}  /* namespace */

static lcmd_status gn_check(lcmd_cu_backend *cb, int64_t c, const char *fn)
{
    size_t smem = (size_t)c * 2 * sizeof(float);
    if (smem > 48u * 1024u)
        return lcmd_set_error(LCMD_ERR_UNSUPPORTED, "%s: cuda: c = %lld channels is more than 6144", fn, (long long)c);
    (void)cb;
    return LCMD_OK;
}

extern "C" lcmd_status lcmd_cu_groupnorm_fwd(lcmd_backend *be, lcmd_dtype dt, void *out, float *mean, float *rstd,
                                             const void *inp, const void *gamma, const void *beta,
                                             int64_t n, int64_t hw, int64_t c, int64_t groups, float eps, int silu)
{
    lcmd_cu_backend *cb = lcmd_cu(be);
    LCMD_TRY(lcmd_cu_enter(cb));
    if (n <= 0 || hw <= 0 || c <= 0) return LCMD_OK;
    LCMD_TRY(gn_check(cb, c, "groupnorm_fwd"));
    LCMD_CU_DISPATCH(dt, {
        if (silu) return gn_fwd_t<T, true>(cb, (T *)out, mean, rstd, (const T *)inp, (const T *)gamma, (const T *)beta, n, hw, c, groups, eps);
        return gn_fwd_t<T, false>(cb, (T *)out, mean, rstd, (const T *)inp, (const T *)gamma, (const T *)beta, n, hw, c, groups, eps);
    });
    return LCMD_OK;
}

extern "C" lcmd_status lcmd_cu_groupnorm_bwd(lcmd_backend *be, lcmd_dtype dt, void *dinp, void *dgamma, void *dbeta,
                                             const void *dout, const void *inp, const void *gamma, const void *beta,
                                             const float *mean, const float *rstd,
                                             int64_t n, int64_t hw, int64_t c, int64_t groups, int silu)
{
    lcmd_cu_backend *cb = lcmd_cu(be);
    LCMD_TRY(lcmd_cu_enter(cb));
    if (n <= 0 || hw <= 0 || c <= 0 || (!dinp && !dgamma && !dbeta)) return LCMD_OK;
    LCMD_TRY(gn_check(cb, c, "groupnorm_bwd"));
    LCMD_CU_DISPATCH(dt, {
        if (silu) return gn_bwd_t<T, true>(cb, (T *)dinp, (T *)dgamma, (T *)dbeta, (const T *)dout, (const T *)inp, (const T *)gamma, (const T *)beta, mean, rstd, n, hw, c, groups);
        return gn_bwd_t<T, false>(cb, (T *)dinp, (T *)dgamma, (T *)dbeta, (const T *)dout, (const T *)inp, (const T *)gamma, (const T *)beta, mean, rstd, n, hw, c, groups);
    });
    return LCMD_OK;
}

extern "C" lcmd_status lcmd_cu_layernorm_fwd(lcmd_backend *be, lcmd_dtype dt, void *out, float *mean, float *rstd,
                                             const void *inp, const void *gamma, const void *beta,
                                             int64_t rows, int64_t c, float eps)
{
    lcmd_cu_backend *cb = lcmd_cu(be);
    LCMD_TRY(lcmd_cu_enter(cb));
    if (rows <= 0 || c <= 0) return LCMD_OK;
    LCMD_CU_DISPATCH(dt, return ln_fwd_t<T>(cb, out, mean, rstd, inp, gamma, beta, rows, c, eps));
    return LCMD_OK;
}

extern "C" lcmd_status lcmd_cu_layernorm_bwd(lcmd_backend *be, lcmd_dtype dt, void *dinp, void *dgamma, void *dbeta,
                                             const void *dout, const void *inp, const void *gamma,
                                             const float *mean, const float *rstd, int64_t rows, int64_t c)
{
    lcmd_cu_backend *cb = lcmd_cu(be);
    LCMD_TRY(lcmd_cu_enter(cb));
    if (rows <= 0 || c <= 0) return LCMD_OK;
    LCMD_CU_DISPATCH(dt, return ln_bwd_t<T>(cb, dinp, dgamma, dbeta, dout, inp, gamma, mean, rstd, rows, c));
    return LCMD_OK;
}
