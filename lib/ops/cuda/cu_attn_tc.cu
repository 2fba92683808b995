/* Tensor-core attention for f16/bf16 storage (mma.sync m16n8k16, fp32 accumulators):
 * the __global__ wrappers around the bodies in cu_attn_tc.cuh, their launchers, and
 * the eligibility test used by lcmd_cu_attention_fwd/bwd (cu_attn_fwd.cu,
 * cu_attn_bwd.cu), which fall back to the fp32 CUDA-core kernels otherwise. */
#include "ops/cuda/cu_attn.cuh"
#include "ops/cuda/cu_attn_tc.cuh"

namespace {

template <typename T, int D>
__global__ void __launch_bounds__(kTcThreads) k_attn_tc_fwd(T *out, float *lse, const T *q, const T *k, const T *v,
                                                            lcmd_attn_shape s)
{
    extern __shared__ __align__(16) unsigned char tc_smem[];
    tc_fwd_body<T, D>(out, lse, q, k, v, s, tc_smem);
}

template <typename T, int D>
__global__ void __launch_bounds__(kTcThreads) k_attn_tc_dq(T *dq, const T *dout, const T *q, const T *k, const T *v,
                                                           const float *lse, const float *di, lcmd_attn_shape s)
{
    extern __shared__ __align__(16) unsigned char tc_smem[];
    tc_dq_body<T, D>(dq, dout, q, k, v, lse, di, s, tc_smem);
}

template <typename T, int D>
__global__ void __launch_bounds__(kTcThreads) k_attn_tc_dkdv(T *dk, T *dv, const T *dout, const T *q, const T *k,
                                                             const T *v, const float *lse, const float *di,
                                                             lcmd_attn_shape s)
{
    extern __shared__ __align__(16) unsigned char tc_smem[];
    tc_dkdv_body<T, D, tc_dc<D>()>(dk, dv, dout, q, k, v, lse, di, s, tc_smem);
}

template <typename T, int D>
lcmd_status tc_fwd_t(lcmd_cu_backend *cb, const lcmd_attn_shape *s, void *out, float *lse, const void *q,
                     const void *k, const void *v)
{
    const size_t smem = tc_fwd_smem<D>();
    LCMD_CU_TRY(cudaFuncSetAttribute(k_attn_tc_fwd<T, D>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
    dim3 grid((unsigned)((s->sq + kTcB - 1) / kTcB), (unsigned)(s->b * s->heads));
    k_attn_tc_fwd<T, D><<<grid, kTcThreads, smem, cb->stream>>>((T *)out, lse, (const T *)q, (const T *)k,
                                                                (const T *)v, *s);
    return lcmd_cu_launch_check("k_attn_tc_fwd");
}

template <typename T, int D>
lcmd_status tc_bwd_t(lcmd_cu_backend *cb, const lcmd_attn_shape *s, void *dq, void *dk, void *dv, const void *dout,
                     const void *q, const void *k, const void *v, const float *lse, const float *di)
{
    if (dk || dv) {
        const size_t smem = tc_dkdv_smem<D>();
        LCMD_CU_TRY(cudaFuncSetAttribute(k_attn_tc_dkdv<T, D>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
        dim3 grid((unsigned)((s->skv + kTcB - 1) / kTcB), (unsigned)(s->b * s->heads), (unsigned)(D / tc_dc<D>()));
        k_attn_tc_dkdv<T, D><<<grid, kTcThreads, smem, cb->stream>>>((T *)dk, (T *)dv, (const T *)dout, (const T *)q,
                                                                     (const T *)k, (const T *)v, lse, di, *s);
        LCMD_CU_LAUNCHED("k_attn_tc_dkdv");
    }
    if (dq) {
        const size_t smem = tc_dq_smem<D>();
        LCMD_CU_TRY(cudaFuncSetAttribute(k_attn_tc_dq<T, D>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
        dim3 grid((unsigned)((s->sq + kTcB - 1) / kTcB), (unsigned)(s->b * s->heads));
        k_attn_tc_dq<T, D><<<grid, kTcThreads, smem, cb->stream>>>((T *)dq, (const T *)dout, (const T *)q,
                                                                   (const T *)k, (const T *)v, lse, di, *s);
        LCMD_CU_LAUNCHED("k_attn_tc_dq");
    }
    return LCMD_OK;
}

}  /* namespace */

extern "C" int lcmd_cu_attn_tc_supported(const lcmd_cu_backend *cb, lcmd_dtype dt, const lcmd_attn_shape *s,
                                         const void *const *ptrs, int nptrs)
{
    if (!cb->tc_attention || (dt != LCMD_DT_F16 && dt != LCMD_DT_BF16)) return 0;
    const int64_t hd = s->head_dim;
    if (hd < 8 || hd > 160 || hd % 8 != 0) return 0;
    if (s->ldq % 8 != 0 || s->ldk % 8 != 0 || s->ldv % 8 != 0 || s->ldo % 8 != 0) return 0;
    if (s->b * s->heads > 65535) return 0;
    for (int j = 0; j < nptrs; j++)
        if (((uintptr_t)ptrs[j] & 15u) != 0) return 0;
    size_t smem = 0;
    LCMD_ATTN_TC_DISPATCH_D(hd, smem = tc_dkdv_smem<D>() > tc_fwd_smem<D>() ? tc_dkdv_smem<D>() : tc_fwd_smem<D>());
    return smem <= cb->smem_optin;
}

extern "C" lcmd_status lcmd_cu_attn_tc_fwd(lcmd_cu_backend *cb, lcmd_dtype dt, const lcmd_attn_shape *s, void *out,
                                           float *lse, const void *q, const void *k, const void *v)
{
    if (dt == LCMD_DT_BF16) {
        typedef bf16 T;
        LCMD_ATTN_TC_DISPATCH_D(s->head_dim, return (tc_fwd_t<T, D>(cb, s, out, lse, q, k, v)));
    } else if (dt == LCMD_DT_F16) {
        typedef f16 T;
        LCMD_ATTN_TC_DISPATCH_D(s->head_dim, return (tc_fwd_t<T, D>(cb, s, out, lse, q, k, v)));
    }
    return lcmd_set_error(LCMD_ERR_INTERNAL, "cuda attention_fwd: tensor-core path called for dtype %d", (int)dt);
}

extern "C" lcmd_status lcmd_cu_attn_tc_bwd(lcmd_cu_backend *cb, lcmd_dtype dt, const lcmd_attn_shape *s, void *dq,
                                           void *dk, void *dv, const void *dout, const void *q, const void *k,
                                           const void *v, const float *lse, const float *di)
{
    if (dt == LCMD_DT_BF16) {
        typedef bf16 T;
        LCMD_ATTN_TC_DISPATCH_D(s->head_dim, return (tc_bwd_t<T, D>(cb, s, dq, dk, dv, dout, q, k, v, lse, di)));
    } else if (dt == LCMD_DT_F16) {
        typedef f16 T;
        LCMD_ATTN_TC_DISPATCH_D(s->head_dim, return (tc_bwd_t<T, D>(cb, s, dq, dk, dv, dout, q, k, v, lse, di)));
    }
    return lcmd_set_error(LCMD_ERR_INTERNAL, "cuda attention_bwd: tensor-core path called for dtype %d", (int)dt);
}
