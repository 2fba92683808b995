/* Attention forward: flash-style, one block per (64-query tile, batch*head), online
 * softmax over 64-key tiles; the score matrix only ever exists as a 64 x 64 tile in
 * shared memory. Writes out and lse = m + log(l) (fp32) per query row. */
#include "ops/cuda/cu_attn.cuh"

namespace {

template <typename T, int D>
__global__ void __launch_bounds__(kAThreads) k_attn_fwd(T *out, float *lse, const T *q, const T *k, const T *v,
                                                        lcmd_attn_shape s)
{
    constexpr int S = attn_dims<D>::S, J = attn_dims<D>::J;
    extern __shared__ float smem[];
    float *sQ = smem, *sK = sQ + kAB * S, *sV = sK + kAB * S, *sP = sV + kAB * S;
    const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
    const int hd = (int)s.head_dim;
    const int64_t bh = blockIdx.y, b = bh / s.heads, h = bh % s.heads;
    const int64_t q0 = (int64_t)blockIdx.x * kAB;
    const int64_t nq = s.sq - q0 < kAB ? s.sq - q0 : kAB;

    attn_load<T, D>(sQ, q + (b * s.sq + q0) * s.ldq + h * hd, s.ldq, 0, nq, hd);

    float o[4][J], m[4], l[4];
#pragma unroll
    for (int i = 0; i < 4; i++) {
        m[i] = -INFINITY;
        l[i] = 0.0f;
#pragma unroll
        for (int j = 0; j < J; j++) o[i][j] = 0.0f;
    }
    const int64_t nkt_all = (s.skv + kAB - 1) / kAB;
    const int64_t nkt = s.causal ? (blockIdx.x + 1 < nkt_all ? blockIdx.x + 1 : nkt_all) : nkt_all;
    for (int64_t kt = 0; kt < nkt; kt++) {
        const int64_t k0 = kt * kAB;
        const int64_t nk = s.skv - k0 < kAB ? s.skv - k0 : kAB;
        __syncthreads();
        attn_load<T, D>(sK, k + (b * s.skv + k0) * s.ldk + h * hd, s.ldk, 0, nk, hd);
        attn_load<T, D>(sV, v + (b * s.skv + k0) * s.ldv + h * hd, s.ldv, 0, nk, hd);
        __syncthreads();
        float sc[4][4];
        attn_dot<D>(sc, sQ, sK, ty, tx);
#pragma unroll
        for (int i = 0; i < 4; i++) {
            const int64_t qi = q0 + ty * 4 + i;
            float mx = -INFINITY;
#pragma unroll
            for (int j = 0; j < 4; j++) {
                const int64_t ki = k0 + tx + 16 * j;
                bool ok = ki < s.skv && !(s.causal && ki > qi);
                sc[i][j] = ok ? sc[i][j] * s.scale : -INFINITY;
                mx = fmaxf(mx, sc[i][j]);
            }
            mx = row16_max(mx);
            const float mnew = fmaxf(m[i], mx);
            const float mref = mnew == -INFINITY ? 0.0f : mnew;
            const float alpha = expf(m[i] - mref);   /* m = -inf -> 0 */
            float rs = 0.0f;
#pragma unroll
            for (int j = 0; j < 4; j++) {
                float p = expf(sc[i][j] - mref);
                sP[(ty * 4 + i) * kPS + tx + 16 * j] = p;
                rs += p;
            }
            rs = row16_sum(rs);
            l[i] = l[i] * alpha + rs;
            m[i] = mnew;
#pragma unroll
            for (int j = 0; j < J; j++) o[i][j] *= alpha;
        }
        __syncthreads();
        attn_pv<D, false>(o, sP, sV, ty, tx);
    }
#pragma unroll
    for (int i = 0; i < 4; i++) {
        const int r = ty * 4 + i;
        if (r >= nq) continue;
        const float inv = l[i] > 0.0f ? 1.0f / l[i] : 0.0f;
        T *orow = out + (b * s.sq + q0 + r) * s.ldo + h * hd;
#pragma unroll
        for (int j = 0; j < J; j++) {
            const int d = tx + 16 * j;
            if (d < hd) orow[d] = st_f<T>(o[i][j] * inv);
        }
        if (tx == 0) lse[bh * s.sq + q0 + r] = l[i] > 0.0f ? m[i] + logf(l[i]) : -INFINITY;
    }
}

template <typename T, int D>
lcmd_status attn_fwd_t(lcmd_cu_backend *cb, const lcmd_attn_shape *s, void *out, float *lse, const void *q,
                       const void *k, const void *v)
{
    const size_t smem = 3 * attn_tile_bytes<D>() + attn_ptile_bytes();
    if (smem > cb->smem_optin)
        return lcmd_set_error(LCMD_ERR_UNSUPPORTED, "cuda attention_fwd: needs %zu bytes of shared memory, device has %zu",
                              smem, cb->smem_optin);
    LCMD_CU_TRY(cudaFuncSetAttribute(k_attn_fwd<T, D>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
    dim3 grid((unsigned)((s->sq + kAB - 1) / kAB), (unsigned)(s->b * s->heads));
    k_attn_fwd<T, D><<<grid, kAThreads, smem, cb->stream>>>((T *)out, lse, (const T *)q, (const T *)k, (const T *)v, *s);
    return lcmd_cu_launch_check("k_attn_fwd");
}

}  /* namespace */

extern "C" lcmd_status lcmd_cu_attention_fwd(lcmd_backend *be, lcmd_dtype dt, const lcmd_attn_shape *s,
                                             void *out, float *lse, const void *q, const void *k, const void *v)
{
    lcmd_cu_backend *cb = lcmd_cu(be);
    LCMD_TRY(lcmd_cu_enter(cb));
    if (s->b <= 0 || s->heads <= 0 || s->sq <= 0) return LCMD_OK;
    if (s->skv <= 0) return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "cuda attention_fwd: skv = 0");
    const void *ptrs[4] = {out, q, k, v};
    if (lcmd_cu_attn_tc_supported(cb, dt, s, ptrs, 4)) return lcmd_cu_attn_tc_fwd(cb, dt, s, out, lse, q, k, v);
    LCMD_CU_DISPATCH(dt, LCMD_ATTN_DISPATCH_D(s->head_dim, return (attn_fwd_t<T, D>(cb, s, out, lse, q, k, v))));
    return LCMD_OK;
}
