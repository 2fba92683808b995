/* Layout ops: broadcast add (and bias add), column sums (bias gradients), channel
 * concat, nearest 2x upsample. Vector packs over the channel dim when it divides. */
#include "ops/cuda/cu_common.cuh"

namespace {

constexpr int kThreads = 256;

/* ---- out[i, p, c] = a[i, p, c] + b[i, c] ---- */
template <typename T, int V>
__global__ void __launch_bounds__(kThreads) k_add_bcast(T *out, const T *a, const T *b, int64_t n, int64_t p, int64_t c)
{
    const int64_t total = n * p * c / V;
    const int64_t stride = (int64_t)gridDim.x * blockDim.x;
    for (int64_t g = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; g < total; g += stride) {
        int64_t e = g * V;
        int64_t cc = e % c, i = e / (p * c);
        float x[V], y[V];
        ldv<T, V>(a + e, x);
        ldv<T, V>(b + i * c + cc, y);
#pragma unroll
        for (int k = 0; k < V; k++) x[k] += y[k];
        stv<T, V>(out + e, x);
    }
}

template <typename T>
lcmd_status add_bcast_t(lcmd_cu_backend *cb, void *out, const void *a, const void *b, int64_t n, int64_t p, int64_t c)
{
    constexpr int V = vec_of<T>::v;
    int64_t total = n * p * c;
    if (total <= 0) return LCMD_OK;
    unsigned mb = (unsigned)cb->sm_count * 16u;
    if (c % V == 0 && al16(out, a, b))
        k_add_bcast<T, V><<<grid_for(total / V, kThreads, mb), kThreads, 0, cb->stream>>>((T *)out, (const T *)a, (const T *)b, n, p, c);
    else
        k_add_bcast<T, 1><<<grid_for(total, kThreads, mb), kThreads, 0, cb->stream>>>((T *)out, (const T *)a, (const T *)b, n, p, c);
    return lcmd_cu_launch_check("k_add_bcast");
}

/* ---- column sums: partial[b][split][c] = sum over the split's rows ---- */
template <typename T>
__global__ void __launch_bounds__(256) k_colsum_part(float *part, const T *x, int64_t rows, int64_t cols, int64_t rows_per)
{
    __shared__ float red[8][33];
    const int tx = threadIdx.x, ty = threadIdx.y;
    const int64_t col = (int64_t)blockIdx.x * 32 + tx;
    const int64_t split = blockIdx.y, b = blockIdx.z;
    const int64_t r0 = split * rows_per;
    int64_t r1 = r0 + rows_per;
    if (r1 > rows) r1 = rows;
    float s = 0.0f;
    if (col < cols) {
        const T *px = x + (b * rows) * cols + col;
        for (int64_t r = r0 + ty; r < r1; r += 8) s += ld_f(px[r * cols]);
    }
    red[ty][tx] = s;
    __syncthreads();
    if (ty == 0 && col < cols) {
        float t = 0.0f;
#pragma unroll
        for (int k = 0; k < 8; k++) t += red[k][tx];
        part[(b * gridDim.y + split) * cols + col] = t;
    }
}

template <typename T>
__global__ void k_colsum_fin(T *out, const float *part, int64_t batch, int64_t splits, int64_t cols)
{
    int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= batch * cols) return;
    int64_t b = i / cols, c = i - b * cols;
    float s = 0.0f;
    for (int64_t k = 0; k < splits; k++) s += part[(b * splits + k) * cols + c];
    out[i] = st_f<T>(ld_f(out[i]) + s);
}

template <typename T>
lcmd_status colsum_t(lcmd_cu_backend *cb, void *out, const void *x, int64_t batch, int64_t rows, int64_t cols)
{
    int64_t cblocks = (cols + 31) / 32;
    int64_t target = (int64_t)cb->sm_count * 4;
    int64_t splits = (target + cblocks * batch - 1) / (cblocks * batch);
    int64_t max_splits = (rows + 31) / 32;   /* at least 32 rows per split */
    if (splits > max_splits) splits = max_splits;
    if (splits > 1024) splits = 1024;
    if (splits < 1) splits = 1;
    int64_t rows_per = (rows + splits - 1) / splits;
    splits = (rows + rows_per - 1) / rows_per;
    if (splits < 1) splits = 1;
    size_t sz = (size_t)(batch * splits * cols) * sizeof(float);
    void *part = NULL;
    LCMD_TRY(lcmd_cu_scratch(cb, 1, &sz, &part));
    dim3 grid((unsigned)cblocks, (unsigned)splits, (unsigned)batch);
    k_colsum_part<T><<<grid, dim3(32, 8), 0, cb->stream>>>((float *)part, (const T *)x, rows, cols, rows_per);
    LCMD_CU_LAUNCHED("k_colsum_part");
    k_colsum_fin<T><<<grid_for(batch * cols, 256), 256, 0, cb->stream>>>((T *)out, (const float *)part, batch, splits, cols);
    return lcmd_cu_launch_check("k_colsum_fin");
}

/* ---- concat ---- */
template <typename T, int V, bool BWD>
__global__ void __launch_bounds__(kThreads) k_concat(T *o, T *a, T *b, int64_t p, int64_t ca, int64_t cb)
{
    const int64_t c = ca + cb;
    const int64_t total = p * c / V;
    const int64_t stride = (int64_t)gridDim.x * blockDim.x;
    for (int64_t g = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; g < total; g += stride) {
        int64_t e = g * V;
        int64_t r = e / c, j = e - r * c;
        T *src = j < ca ? a + r * ca + j : b + r * cb + (j - ca);
        if (!BWD) {
            float x[V];
            ldv<T, V>(src, x);
            stv<T, V>(o + e, x);
        } else {
            if ((j < ca && !a) || (j >= ca && !b)) continue;
            float x[V], y[V];
            ldv<T, V>(o + e, x);
            ldv<T, V>(src, y);
#pragma unroll
            for (int k = 0; k < V; k++) y[k] += x[k];
            stv<T, V>(src, y);
        }
    }
}

template <typename T, bool BWD>
lcmd_status concat_t(lcmd_cu_backend *cb, void *o, void *a, void *b, int64_t p, int64_t ca, int64_t cbb)
{
    constexpr int V = vec_of<T>::v;
    int64_t total = p * (ca + cbb);
    if (total <= 0) return LCMD_OK;
    unsigned mb = (unsigned)cb->sm_count * 16u;
    if (ca % V == 0 && cbb % V == 0 && al16(o, a, b))
        k_concat<T, V, BWD><<<grid_for(total / V, kThreads, mb), kThreads, 0, cb->stream>>>((T *)o, (T *)a, (T *)b, p, ca, cbb);
    else
        k_concat<T, 1, BWD><<<grid_for(total, kThreads, mb), kThreads, 0, cb->stream>>>((T *)o, (T *)a, (T *)b, p, ca, cbb);
    return lcmd_cu_launch_check("k_concat");
}

/* ---- nearest 2x upsample ---- */
template <typename T, int V>
__global__ void __launch_bounds__(kThreads) k_up_fwd(T *out, const T *inp, int64_t n, int64_t h, int64_t w, int64_t c)
{
    const int64_t total = n * 4 * h * w * c / V;
    const int64_t stride = (int64_t)gridDim.x * blockDim.x;
    for (int64_t g = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; g < total; g += stride) {
        int64_t e = g * V;
        int64_t cc = e % c, pix = e / c;
        int64_t ow = pix % (2 * w), t = pix / (2 * w);
        int64_t oh = t % (2 * h), ni = t / (2 * h);
        float x[V];
        ldv<T, V>(inp + ((ni * h + oh / 2) * w + ow / 2) * c + cc, x);
        stv<T, V>(out + e, x);
    }
}

template <typename T, int V>
__global__ void __launch_bounds__(kThreads) k_up_bwd(T *dinp, const T *dout, int64_t n, int64_t h, int64_t w, int64_t c)
{
    const int64_t total = n * h * w * c / V;
    const int64_t stride = (int64_t)gridDim.x * blockDim.x;
    for (int64_t g = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; g < total; g += stride) {
        int64_t e = g * V;
        int64_t cc = e % c, pix = e / c;
        int64_t x0 = pix % w, t = pix / w;
        int64_t y0 = t % h, ni = t / h;
        float acc[V], v[V];
        ldv<T, V>(dinp + e, acc);
#pragma unroll
        for (int dy = 0; dy < 2; dy++)
#pragma unroll
            for (int dx = 0; dx < 2; dx++) {
                ldv<T, V>(dout + ((ni * 2 * h + 2 * y0 + dy) * 2 * w + 2 * x0 + dx) * c + cc, v);
#pragma unroll
                for (int k = 0; k < V; k++) acc[k] += v[k];
            }
        stv<T, V>(dinp + e, acc);
    }
}

template <typename T, bool BWD>
lcmd_status up_t(lcmd_cu_backend *cb, void *dst, const void *src, int64_t n, int64_t h, int64_t w, int64_t c)
{
    constexpr int V = vec_of<T>::v;
    int64_t total = n * h * w * c * (BWD ? 1 : 4);
    if (total <= 0) return LCMD_OK;
    unsigned mb = (unsigned)cb->sm_count * 16u;
    bool vec = c % V == 0 && al16(dst, src);
    if (!BWD) {
        if (vec) k_up_fwd<T, V><<<grid_for(total / V, kThreads, mb), kThreads, 0, cb->stream>>>((T *)dst, (const T *)src, n, h, w, c);
        else k_up_fwd<T, 1><<<grid_for(total, kThreads, mb), kThreads, 0, cb->stream>>>((T *)dst, (const T *)src, n, h, w, c);
    } else {
        if (vec) k_up_bwd<T, V><<<grid_for(total / V, kThreads, mb), kThreads, 0, cb->stream>>>((T *)dst, (const T *)src, n, h, w, c);
        else k_up_bwd<T, 1><<<grid_for(total, kThreads, mb), kThreads, 0, cb->stream>>>((T *)dst, (const T *)src, n, h, w, c);
    }
    return lcmd_cu_launch_check("k_upsample2x");
}

}  /* namespace */

extern "C" lcmd_status lcmd_cu_colsum_acc(lcmd_cu_backend *cb, lcmd_dtype dt, void *out, const void *x,
                                          int64_t batch, int64_t rows, int64_t cols)
{
    if (batch <= 0 || cols <= 0 || rows <= 0) return LCMD_OK;
    LCMD_CU_DISPATCH(dt, return colsum_t<T>(cb, out, x, batch, rows, cols));
    return LCMD_OK;
}

extern "C" lcmd_status lcmd_cu_bias_add(lcmd_cu_backend *cb, lcmd_dtype dt, void *y, const void *bias,
                                        int64_t rows, int64_t cols)
{
    LCMD_CU_DISPATCH(dt, return add_bcast_t<T>(cb, y, y, bias, 1, rows, cols));
    return LCMD_OK;
}

extern "C" lcmd_status lcmd_cu_add_bcast_fwd(lcmd_backend *be, lcmd_dtype dt, void *out, const void *a, const void *b,
                                             int64_t n, int64_t p, int64_t c)
{
    lcmd_cu_backend *cb = lcmd_cu(be);
    LCMD_TRY(lcmd_cu_enter(cb));
    LCMD_CU_DISPATCH(dt, return add_bcast_t<T>(cb, out, a, b, n, p, c));
    return LCMD_OK;
}

extern "C" lcmd_status lcmd_cu_add_bcast_bwd(lcmd_backend *be, lcmd_dtype dt, void *da, void *db, const void *dout,
                                             int64_t n, int64_t p, int64_t c)
{
    lcmd_cu_backend *cb = lcmd_cu(be);
    LCMD_TRY(lcmd_cu_enter(cb));
    if (da) LCMD_TRY(lcmd_cu_axpy(be, dt, da, 1.0f, dout, n * p * c));
    if (db) LCMD_TRY(lcmd_cu_colsum_acc(cb, dt, db, dout, n, p, c));
    return LCMD_OK;
}

extern "C" lcmd_status lcmd_cu_concat_fwd(lcmd_backend *be, lcmd_dtype dt, void *out, const void *a, const void *b,
                                          int64_t p, int64_t ca, int64_t cb)
{
    lcmd_cu_backend *cbe = lcmd_cu(be);
    LCMD_TRY(lcmd_cu_enter(cbe));
    LCMD_CU_DISPATCH(dt, return (concat_t<T, false>(cbe, out, (void *)a, (void *)b, p, ca, cb)));
    return LCMD_OK;
}

extern "C" lcmd_status lcmd_cu_concat_bwd(lcmd_backend *be, lcmd_dtype dt, void *da, void *db, const void *dout,
                                          int64_t p, int64_t ca, int64_t cb)
{
    lcmd_cu_backend *cbe = lcmd_cu(be);
    LCMD_TRY(lcmd_cu_enter(cbe));
    if (!da && !db) return LCMD_OK;
    LCMD_CU_DISPATCH(dt, return (concat_t<T, true>(cbe, (void *)dout, da, db, p, ca, cb)));
    return LCMD_OK;
}

extern "C" lcmd_status lcmd_cu_upsample2x_fwd(lcmd_backend *be, lcmd_dtype dt, void *out, const void *inp,
                                              int64_t n, int64_t h, int64_t w, int64_t c)
{
    lcmd_cu_backend *cb = lcmd_cu(be);
    LCMD_TRY(lcmd_cu_enter(cb));
    LCMD_CU_DISPATCH(dt, return (up_t<T, false>(cb, out, inp, n, h, w, c)));
    return LCMD_OK;
}

extern "C" lcmd_status lcmd_cu_upsample2x_bwd(lcmd_backend *be, lcmd_dtype dt, void *dinp, const void *dout,
                                              int64_t n, int64_t h, int64_t w, int64_t c)
{
    lcmd_cu_backend *cb = lcmd_cu(be);
    LCMD_TRY(lcmd_cu_enter(cb));
    if (!dinp) return LCMD_OK;
    LCMD_CU_DISPATCH(dt, return (up_t<T, true>(cb, dinp, dout, n, h, w, c)));
    return LCMD_OK;
}
