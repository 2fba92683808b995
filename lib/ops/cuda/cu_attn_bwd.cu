/* Attention backward, recomputing P = exp(scale q.k - lse) tile by tile:
 *   k_attn_di:   Di = rowsum(dO * O) (fp32 scratch)
 *   k_attn_dkdv: one block per (64-key tile, b*h), loops over query tiles:
 *                dV += P^T dO, dS = P (dO V^T - Di), dK += scale dS^T Q
 *   k_attn_dq:   one block per (64-query tile, b*h), loops over key tiles:
 *                dQ += scale dS K
 * Two passes instead of atomics: deterministic, and every gradient is accumulated
 * (read-modify-write) exactly once per element. */
#include "ops/cuda/cu_attn.cuh"

namespace {

template <typename T>
__global__ void __launch_bounds__(256) k_attn_di(float *di, const T *dout, const T *out, lcmd_attn_shape s)
{
    const int lane = threadIdx.x & 31;
    const int64_t row = (int64_t)blockIdx.x * 8 + threadIdx.x / 32;   /* over b * heads * sq */
    if (row >= s.b * s.heads * s.sq) return;
    const int64_t bh = row / s.sq, qi = row - bh * s.sq, b = bh / s.heads, h = bh % s.heads;
    const T *g = dout + (b * s.sq + qi) * s.ldo + h * s.head_dim;
    const T *o = out + (b * s.sq + qi) * s.ldo + h * s.head_dim;
    float acc = 0.0f;
    for (int64_t d = lane; d < s.head_dim; d += 32) acc += ld_f(g[d]) * ld_f(o[d]);
    acc = warp_sum(acc);
    if (lane == 0) di[row] = acc;
}

/* P and dS of one (query tile, key tile) pair into registers */
template <int D>
__device__ __forceinline__ void attn_p_ds(float (&p)[4][4], float (&ds)[4][4], const float *sQ, const float *sK,
                                          const float *sdO, const float *sV, const float *sL, const float *sDi,
                                          int64_t q0, int64_t k0, const lcmd_attn_shape &s, int ty, int tx)
{
    attn_dot<D>(p, sQ, sK, ty, tx);
    attn_dot<D>(ds, sdO, sV, ty, tx);
#pragma unroll
    for (int i = 0; i < 4; i++) {
        const int r = ty * 4 + i;
        const int64_t qi = q0 + r;
#pragma unroll
        for (int j = 0; j < 4; j++) {
            const int64_t ki = k0 + tx + 16 * j;
            bool ok = qi < s.sq && ki < s.skv && !(s.causal && ki > qi);
            float pv = ok ? expf(p[i][j] * s.scale - sL[r]) : 0.0f;
            p[i][j] = pv;
            ds[i][j] = pv * (ds[i][j] - sDi[r]);
        }
    }
}

template <typename T, int D>
__global__ void __launch_bounds__(kAThreads) k_attn_dkdv(T *dk, T *dv, const T *dout, const T *q, const T *k,
                                                         const T *v, const float *lse, const float *di,
                                                         lcmd_attn_shape s)
{
    constexpr int S = attn_dims<D>::S, J = attn_dims<D>::J;
    extern __shared__ float smem[];
    float *sK = smem, *sV = sK + kAB * S, *sQ = sV + kAB * S, *sdO = sQ + kAB * S, *sP = sdO + kAB * S;
    float *sL = sP + kAB * kPS, *sDi = sL + kAB;
    const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
    const int hd = (int)s.head_dim;
    const int64_t bh = blockIdx.y, b = bh / s.heads, h = bh % s.heads;
    const int64_t k0 = (int64_t)blockIdx.x * kAB;
    const int64_t nk = s.skv - k0 < kAB ? s.skv - k0 : kAB;
    attn_load<T, D>(sK, k + (b * s.skv + k0) * s.ldk + h * hd, s.ldk, 0, nk, hd);
    attn_load<T, D>(sV, v + (b * s.skv + k0) * s.ldv + h * hd, s.ldv, 0, nk, hd);

    float adk[4][J], adv[4][J];
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < J; j++) adk[i][j] = adv[i][j] = 0.0f;

    const int64_t nqt = (s.sq + kAB - 1) / kAB;
    for (int64_t qt = s.causal ? blockIdx.x : 0; qt < nqt; qt++) {
        const int64_t q0 = qt * kAB;
        const int64_t nq = s.sq - q0 < kAB ? s.sq - q0 : kAB;
        __syncthreads();
        attn_load<T, D>(sQ, q + (b * s.sq + q0) * s.ldq + h * hd, s.ldq, 0, nq, hd);
        attn_load<T, D>(sdO, dout + (b * s.sq + q0) * s.ldo + h * hd, s.ldo, 0, nq, hd);
        if (threadIdx.x < kAB) {
            const int64_t qi = q0 + threadIdx.x;
            sL[threadIdx.x] = qi < s.sq ? lse[bh * s.sq + qi] : 0.0f;
            sDi[threadIdx.x] = qi < s.sq ? di[bh * s.sq + qi] : 0.0f;
        }
        __syncthreads();
        float p[4][4], ds[4][4];
        attn_p_ds<D>(p, ds, sQ, sK, sdO, sV, sL, sDi, q0, k0, s, ty, tx);
#pragma unroll
        for (int i = 0; i < 4; i++)
#pragma unroll
            for (int j = 0; j < 4; j++) sP[(ty * 4 + i) * kPS + tx + 16 * j] = p[i][j];
        __syncthreads();
        attn_pv<D, true>(adv, sP, sdO, ty, tx);   /* rows = keys */
        __syncthreads();
#pragma unroll
        for (int i = 0; i < 4; i++)
#pragma unroll
            for (int j = 0; j < 4; j++) sP[(ty * 4 + i) * kPS + tx + 16 * j] = ds[i][j];
        __syncthreads();
        attn_pv<D, true>(adk, sP, sQ, ty, tx);
    }
#pragma unroll
    for (int i = 0; i < 4; i++) {
        const int r = ty * 4 + i;
        if (r >= nk) continue;
        T *pk = dk ? dk + (b * s.skv + k0 + r) * s.ldk + h * hd : NULL;
        T *pv = dv ? dv + (b * s.skv + k0 + r) * s.ldv + h * hd : NULL;
#pragma unroll
        for (int j = 0; j < J; j++) {
            const int d = tx + 16 * j;
            if (d >= hd) continue;
            if (pk) pk[d] = st_f<T>(ld_f(pk[d]) + s.scale * adk[i][j]);
            if (pv) pv[d] = st_f<T>(ld_f(pv[d]) + adv[i][j]);
        }
    }
}

template <typename T, int D>
__global__ void __launch_bounds__(kAThreads) k_attn_dq(T *dq, const T *dout, const T *q, const T *k, const T *v,
                                                       const float *lse, const float *di, lcmd_attn_shape s)
{
    constexpr int S = attn_dims<D>::S, J = attn_dims<D>::J;
    extern __shared__ float smem[];
    float *sQ = smem, *sdO = sQ + kAB * S, *sK = sdO + kAB * S, *sV = sK + kAB * S, *sP = sV + kAB * S;
    float *sL = sP + kAB * kPS, *sDi = sL + kAB;
    const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
    const int hd = (int)s.head_dim;
    const int64_t bh = blockIdx.y, b = bh / s.heads, h = bh % s.heads;
    const int64_t q0 = (int64_t)blockIdx.x * kAB;
    const int64_t nq = s.sq - q0 < kAB ? s.sq - q0 : kAB;
    attn_load<T, D>(sQ, q + (b * s.sq + q0) * s.ldq + h * hd, s.ldq, 0, nq, hd);
    attn_load<T, D>(sdO, dout + (b * s.sq + q0) * s.ldo + h * hd, s.ldo, 0, nq, hd);
    if (threadIdx.x < kAB) {
        const int64_t qi = q0 + threadIdx.x;
        sL[threadIdx.x] = qi < s.sq ? lse[bh * s.sq + qi] : 0.0f;
        sDi[threadIdx.x] = qi < s.sq ? di[bh * s.sq + qi] : 0.0f;
    }
    float adq[4][J];
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < J; j++) adq[i][j] = 0.0f;
    const int64_t nkt_all = (s.skv + kAB - 1) / kAB;
    const int64_t nkt = s.causal ? (blockIdx.x + 1 < nkt_all ? blockIdx.x + 1 : nkt_all) : nkt_all;
    for (int64_t kt = 0; kt < nkt; kt++) {
        const int64_t k0 = kt * kAB;
        const int64_t nk = s.skv - k0 < kAB ? s.skv - k0 : kAB;
        __syncthreads();
        attn_load<T, D>(sK, k + (b * s.skv + k0) * s.ldk + h * hd, s.ldk, 0, nk, hd);
        attn_load<T, D>(sV, v + (b * s.skv + k0) * s.ldv + h * hd, s.ldv, 0, nk, hd);
        __syncthreads();
        float p[4][4], ds[4][4];
        attn_p_ds<D>(p, ds, sQ, sK, sdO, sV, sL, sDi, q0, k0, s, ty, tx);
#pragma unroll
        for (int i = 0; i < 4; i++)
#pragma unroll
            for (int j = 0; j < 4; j++) sP[(ty * 4 + i) * kPS + tx + 16 * j] = ds[i][j];
        __syncthreads();
        attn_pv<D, false>(adq, sP, sK, ty, tx);
    }
#pragma unroll
    for (int i = 0; i < 4; i++) {
        const int r = ty * 4 + i;
        if (r >= nq) continue;
        T *pq = dq + (b * s.sq + q0 + r) * s.ldq + h * hd;
#pragma unroll
        for (int j = 0; j < J; j++) {
            const int d = tx + 16 * j;
            if (d < hd) pq[d] = st_f<T>(ld_f(pq[d]) + s.scale * adq[i][j]);
        }
    }
}

/* Di = rowsum(dO * O) into fp32 scratch */
template <typename T>
lcmd_status attn_di_t(lcmd_cu_backend *cb, const lcmd_attn_shape *s, const void *dout, const void *out, void **di)
{
    const int64_t rows = s->b * s->heads * s->sq;
    size_t sz = (size_t)rows * sizeof(float);
    LCMD_TRY(lcmd_cu_scratch(cb, 1, &sz, di));
    k_attn_di<T><<<(unsigned)((rows + 7) / 8), 256, 0, cb->stream>>>((float *)*di, (const T *)dout, (const T *)out, *s);
    return lcmd_cu_launch_check("k_attn_di");
}

template <typename T, int D>
lcmd_status attn_bwd_t(lcmd_cu_backend *cb, const lcmd_attn_shape *s, void *dq, void *dk, void *dv, const void *dout,
                       const void *q, const void *k, const void *v, const void *out, const float *lse)
{
    const size_t smem = 4 * attn_tile_bytes<D>() + attn_ptile_bytes() + 2 * kAB * sizeof(float);
    if (smem > cb->smem_optin)
        return lcmd_set_error(LCMD_ERR_UNSUPPORTED, "cuda attention_bwd: needs %zu bytes of shared memory, device has %zu",
                              smem, cb->smem_optin);
    void *di = NULL;
    LCMD_TRY(attn_di_t<T>(cb, s, dout, out, &di));
    if (dk || dv) {
        LCMD_CU_TRY(cudaFuncSetAttribute(k_attn_dkdv<T, D>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
        dim3 grid((unsigned)((s->skv + kAB - 1) / kAB), (unsigned)(s->b * s->heads));
        k_attn_dkdv<T, D><<<grid, kAThreads, smem, cb->stream>>>((T *)dk, (T *)dv, (const T *)dout, (const T *)q,
                                                                 (const T *)k, (const T *)v, lse, (const float *)di, *s);
        LCMD_CU_LAUNCHED("k_attn_dkdv");
    }
    if (dq) {
        LCMD_CU_TRY(cudaFuncSetAttribute(k_attn_dq<T, D>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
        dim3 grid((unsigned)((s->sq + kAB - 1) / kAB), (unsigned)(s->b * s->heads));
        k_attn_dq<T, D><<<grid, kAThreads, smem, cb->stream>>>((T *)dq, (const T *)dout, (const T *)q, (const T *)k,
                                                               (const T *)v, lse, (const float *)di, *s);
        LCMD_CU_LAUNCHED("k_attn_dq");
    }
    return LCMD_OK;
}

}  /* namespace */

extern "C" lcmd_status lcmd_cu_attention_bwd(lcmd_backend *be, lcmd_dtype dt, const lcmd_attn_shape *s,
                                             void *dq, void *dk, void *dv, const void *dout,
                                             const void *q, const void *k, const void *v,
                                             const void *out, const float *lse)
{
    lcmd_cu_backend *cb = lcmd_cu(be);
    LCMD_TRY(lcmd_cu_enter(cb));
    if (s->b <= 0 || s->heads <= 0 || s->sq <= 0 || s->skv <= 0 || (!dq && !dk && !dv)) return LCMD_OK;
    /* NULL gradients are skipped, so only the non-NULL pointers need the alignment */
    const void *ptrs[8] = {dout, q, k, v, out, dq ? dq : q, dk ? dk : q, dv ? dv : q};
    if (lcmd_cu_attn_tc_supported(cb, dt, s, ptrs, 8)) {
        void *di = NULL;
        if (dt == LCMD_DT_BF16) LCMD_TRY(attn_di_t<bf16>(cb, s, dout, out, &di));
        else LCMD_TRY(attn_di_t<f16>(cb, s, dout, out, &di));
        return lcmd_cu_attn_tc_bwd(cb, dt, s, dq, dk, dv, dout, q, k, v, lse, (const float *)di);
    }
    LCMD_CU_DISPATCH(dt, LCMD_ATTN_DISPATCH_D(s->head_dim, return (attn_bwd_t<T, D>(cb, s, dq, dk, dv, dout, q, k, v, out, lse))));
    return LCMD_OK;
}
