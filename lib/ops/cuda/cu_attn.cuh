/* Shared pieces of the attention kernels (cu_attn_fwd.cu, cu_attn_bwd.cu).
 *
 * Tiles of 64 queries x 64 keys, 256 threads as a 16 x 16 grid (ty, tx). A thread owns
 * rows ty*4 + i (i < 4) of a 64-row tile, score columns tx + 16 j (j < 4) and head-dim
 * columns tx + 16 j (j < D / 16). Shared tiles are fp32, row stride D + 1 (odd: the
 * column walks of K/V rows hit distinct banks). D is the head dim rounded up to a
 * multiple of 16; the padding is zero. */
#ifndef LCMD_CU_ATTN_CUH
#define LCMD_CU_ATTN_CUH

#include <math.h>

#include "ops/cuda/cu_common.cuh"

namespace {

constexpr int kAB = 64;        /* tile rows (queries) and cols (keys) */
constexpr int kAThreads = 256;
constexpr int kPS = kAB + 1;   /* stride of the 64 x 64 score tile */

template <int D> struct attn_dims { static constexpr int S = D + 1; static constexpr int J = D / 16; };

/* s[r][d] = src[(row0 + r) * ld + d] for r < nrows, d < hd; zero elsewhere */
template <typename T, int D>
__device__ __forceinline__ void attn_load(float *s, const T *src, int64_t ld, int64_t row0, int64_t nrows, int hd)
{
    constexpr int S = attn_dims<D>::S;
    for (int idx = threadIdx.x; idx < kAB * D; idx += kAThreads) {
        int r = idx / D, d = idx - (idx / D) * D;
        float v = 0.0f;
        if (r < nrows && d < hd) v = ld_f(src[(row0 + r) * ld + d]);
        s[r * S + d] = v;
    }
}

/* acc[i][j] = sum_d A[ty*4+i][d] * B[tx+16j][d] */
template <int D>
__device__ __forceinline__ void attn_dot(float (&acc)[4][4], const float *A, const float *B, int ty, int tx)
{
    constexpr int S = attn_dims<D>::S;
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 4; j++) acc[i][j] = 0.0f;
#pragma unroll 4
    for (int d = 0; d < D; d++) {
        float a[4], b[4];
#pragma unroll
        for (int i = 0; i < 4; i++) a[i] = A[(ty * 4 + i) * S + d];
#pragma unroll
        for (int j = 0; j < 4; j++) b[j] = B[(tx + 16 * j) * S + d];
#pragma unroll
        for (int i = 0; i < 4; i++)
#pragma unroll
            for (int j = 0; j < 4; j++) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
    }
}

/* acc[i][j] += sum_k P[ty*4+i][k] * V[k][tx+16j]  (TRANS: P[k][ty*4+i]) */
template <int D, bool TRANS>
__device__ __forceinline__ void attn_pv(float (&acc)[4][attn_dims<D>::J], const float *P, const float *V, int ty, int tx)
{
    constexpr int S = attn_dims<D>::S, J = attn_dims<D>::J;
#pragma unroll 4
    for (int k = 0; k < kAB; k++) {
        float p[4], v[J];
#pragma unroll
        for (int i = 0; i < 4; i++) p[i] = TRANS ? P[k * kPS + ty * 4 + i] : P[(ty * 4 + i) * kPS + k];
#pragma unroll
        for (int j = 0; j < J; j++) v[j] = V[k * S + tx + 16 * j];
#pragma unroll
        for (int i = 0; i < 4; i++)
#pragma unroll
            for (int j = 0; j < J; j++) acc[i][j] = fmaf(p[i], v[j], acc[i][j]);
    }
}

/* reduce across the 16 tx lanes of one ty (xor 8, 4, 2, 1 stay inside a half warp) */
__device__ __forceinline__ float row16_max(float v)
{
#pragma unroll
    for (int o = 8; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

__device__ __forceinline__ float row16_sum(float v)
{
#pragma unroll
    for (int o = 8; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

template <int D> constexpr size_t attn_tile_bytes() { return (size_t)kAB * attn_dims<D>::S * sizeof(float); }
constexpr size_t attn_ptile_bytes() { return (size_t)kAB * kPS * sizeof(float); }

}  /* namespace */

/* head_dim -> padded D, calls BODY with constexpr int D */
#define LCMD_ATTN_DISPATCH_D(hd, ...)                                       \
    do {                                                                    \
        if ((hd) <= 32) { constexpr int D = 32; __VA_ARGS__; }              \
        else if ((hd) <= 48) { constexpr int D = 48; __VA_ARGS__; }         \
        else if ((hd) <= 64) { constexpr int D = 64; __VA_ARGS__; }         \
        else if ((hd) <= 80) { constexpr int D = 80; __VA_ARGS__; }         \
        else if ((hd) <= 128) { constexpr int D = 128; __VA_ARGS__; }       \
        else if ((hd) <= 160) { constexpr int D = 160; __VA_ARGS__; }       \
        else return lcmd_set_error(LCMD_ERR_UNSUPPORTED,                    \
                                   "cuda attention: head_dim %lld > 160 is not supported", (long long)(hd)); \
    } while (0)

/* Tensor-core path for f16/bf16 (cu_attn_tc.cu, kernel bodies in cu_attn_tc.cuh).
 * supported: dtype f16/bf16, head_dim a multiple of 8 in [8, 160], ldq/ldk/ldv/ldo
 * multiples of 8, every pointer in ptrs 16-byte aligned, b*heads <= 65535, shared
 * memory fits. Otherwise the fp32 CUDA-core kernels above run. di: fp32 rowsum(dO*O). */
extern "C" {
int lcmd_cu_attn_tc_supported(const lcmd_cu_backend *cb, lcmd_dtype dt, const lcmd_attn_shape *s,
                              const void *const *ptrs, int nptrs);
lcmd_status lcmd_cu_attn_tc_fwd(lcmd_cu_backend *cb, lcmd_dtype dt, const lcmd_attn_shape *s, void *out, float *lse,
                                const void *q, const void *k, const void *v);
lcmd_status lcmd_cu_attn_tc_bwd(lcmd_cu_backend *cb, lcmd_dtype dt, const lcmd_attn_shape *s, void *dq, void *dk,
                                void *dv, const void *dout, const void *q, const void *k, const void *v,
                                const float *lse, const float *di);
}

#endif /* LCMD_CU_ATTN_CUH */
