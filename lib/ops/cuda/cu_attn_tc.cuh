/* Tensor-core attention (f16/bf16 storage): the kernel bodies, shared by
 * cu_attn_tc.cu (the CUDA build) and cu_attn_tc_emu.cpp (a host emulator that runs
 * these very bodies with 128 threads per block and an emulated mma.sync, to check the
 * fragment indexing without a GPU). With LCMD_ATTN_EMU defined, the includer supplies
 * the primitives (tc_mma, tc_pack, tc_unpack, tc_cp16, tc_commit, tc_wait, tc_sync,
 * tc_shfl_xor, tc_zero16), threadIdx/blockIdx and TC_DEV.
 *
 * Layout (docs/cuda-backend.md, Attention): every tile is 64 rows (queries or keys) x D
 * columns (head_dim rounded up, zero padded), stored row-major in shared memory with a
 * row stride of D + 8 elements (a multiple of 16 bytes for cp.async, and 4 * odd
 * words, so the 8 rows x 4 words of a fragment load hit 32 distinct banks). A block is
 * 4 warps; warp w owns tile rows 16w .. 16w + 15 of the tile it iterates for (query
 * rows in fwd and dq, key rows in dkdv).
 *
 * mma.sync.m16n8k16 fragments (PTX ISA, .f16/.bf16 with .f32 accumulators), with
 * g = lane / 4, t = lane % 4, lower column / k index in the lower 16 bits:
 *   A (16 x 16, row): a0 = A[g][2t, 2t+1]   a1 = A[g+8][2t, 2t+1]
 *                     a2 = A[g][2t+8, +9]   a3 = A[g+8][2t+8, +9]
 *   B (16 x 8, col):  b0 = B[2t, 2t+1][g]   b1 = B[2t+8, 2t+9][g]
 *   C (16 x 8, f32):  c0, c1 = C[g][2t, 2t+1]   c2, c3 = C[g+8][2t, 2t+1]
 * So the C fragments of two adjacent n8 tiles (key columns 16j .. 16j+15) are, packed
 * to 16 bits, exactly the A fragment of k-step j of the next product (P V, dS K, ...):
 * a0 = C(2j)[c0, c1], a1 = C(2j)[c2, c3], a2 = C(2j+1)[c0, c1], a3 = C(2j+1)[c2, c3]. */
#ifndef LCMD_CU_ATTN_TC_CUH
#define LCMD_CU_ATTN_TC_CUH

#include <math.h>
#include <stdint.h>

#include "ops/ops.h"

#ifndef LCMD_ATTN_EMU
#include "ops/cuda/cu_common.cuh"
#define TC_DEV __device__ __forceinline__
#endif

namespace {

constexpr int kTcB = 64;          /* rows of every tile */
constexpr int kTcThreads = 128;   /* 4 warps x 16 rows */
constexpr float kTcLog2e = 1.4426950408889634f;
constexpr float kTcLn2 = 0.6931471805599453f;

template <int D> constexpr size_t tc_tile_bytes() { return (size_t)kTcB * (D + 8) * 2; }

#ifndef LCMD_ATTN_EMU
/* ---- primitives (CUDA) ---- */
template <typename T> __device__ __forceinline__ uint32_t tc_pack(float lo, float hi);
template <> __device__ __forceinline__ uint32_t tc_pack<bf16>(float lo, float hi)
{
    __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);   /* .x (low half) = lo */
    return *reinterpret_cast<uint32_t *>(&v);
}
template <> __device__ __forceinline__ uint32_t tc_pack<f16>(float lo, float hi)
{
    __half2 v = __floats2half2_rn(lo, hi);
    return *reinterpret_cast<uint32_t *>(&v);
}

template <typename T> __device__ __forceinline__ void tc_unpack(uint32_t u, float &lo, float &hi);
template <> __device__ __forceinline__ void tc_unpack<bf16>(uint32_t u, float &lo, float &hi)
{
    float2 f = __bfloat1622float2(*reinterpret_cast<__nv_bfloat162 *>(&u));
    lo = f.x;
    hi = f.y;
}
template <> __device__ __forceinline__ void tc_unpack<f16>(uint32_t u, float &lo, float &hi)
{
    float2 f = __half22float2(*reinterpret_cast<__half2 *>(&u));
    lo = f.x;
    hi = f.y;
}

/* c += A B, one m16n8k16 with fp32 accumulators */
template <typename T> __device__ __forceinline__ void tc_mma(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1);
template <> __device__ __forceinline__ void tc_mma<bf16>(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1)
{
    asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
template <> __device__ __forceinline__ void tc_mma<f16>(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1)
{
    asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

/* 16 bytes global -> shared, asynchronous; pred false writes 16 zero bytes (src-size 0) */
__device__ __forceinline__ void tc_cp16(void *sdst, const void *gsrc, bool pred)
{
    const unsigned s = (unsigned)__cvta_generic_to_shared(sdst);
    const int n = pred ? 16 : 0;
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(gsrc), "r"(n) : "memory");
}
__device__ __forceinline__ void tc_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
/* wait until at most N of the committed groups are still in flight */
template <int N> __device__ __forceinline__ void tc_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory"); }
__device__ __forceinline__ void tc_sync() { __syncthreads(); }
__device__ __forceinline__ float tc_shfl_xor(float v, int m) { return __shfl_xor_sync(0xffffffffu, v, m); }
__device__ __forceinline__ void tc_zero16(void *p) { *reinterpret_cast<uint4 *>(p) = make_uint4(0u, 0u, 0u, 0u); }
#endif /* !LCMD_ATTN_EMU */

/* ---- tiles and fragments ---- */

template <typename T> TC_DEV uint32_t tc_ld32(const T *p) { return *reinterpret_cast<const uint32_t *>(p); }
template <typename T> TC_DEV uint32_t tc_ld16(const T *p) { return *reinterpret_cast<const uint16_t *>(p); }

/* dst rows [0, 64) <- src rows [0, nrows) (row stride ld), columns [0, hd), hd % 8 == 0;
 * rows >= nrows are zero-filled; columns [hd, D) are not touched (see tc_zero_pad) */
template <typename T, int D>
TC_DEV void tc_load_tile(T *dst, const T *src, int64_t ld, int nrows, int hd)
{
    constexpr int SD = D + 8;
    const int cpr = hd >> 3;   /* 16-byte chunks per row */
    const int n = kTcB * cpr;
    for (int idx = (int)threadIdx.x; idx < n; idx += kTcThreads) {
        const int r = idx / cpr, c = idx - (idx / cpr) * cpr;
        const bool ok = r < nrows;
        tc_cp16(dst + r * SD + c * 8, ok ? src + (int64_t)r * ld + c * 8 : src, ok);
    }
}

/* zero columns [hd, D) of `rows` consecutive tile rows (once per block: cp.async never
 * writes them) */
template <typename T, int D>
TC_DEV void tc_zero_pad(T *dst, int rows, int hd)
{
    constexpr int SD = D + 8;
    const int pc = (D - hd) >> 3;
    if (pc <= 0) return;
    for (int idx = (int)threadIdx.x; idx < rows * pc; idx += kTcThreads) {
        const int r = idx / pc, c = idx - (idx / pc) * pc;
        tc_zero16(dst + r * SD + hd + c * 8);
    }
}

/* A fragment: A[i][kk] = M[r0 + i][c0 + kk] (M row-major in shared memory) */
template <int SD, typename T>
TC_DEV void tc_frag_a(uint32_t (&a)[4], const T *M, int r0, int c0, int g, int t)
{
    const T *p = M + (r0 + g) * SD + c0 + 2 * t;
    a[0] = tc_ld32(p);
    a[1] = tc_ld32(p + 8 * SD);
    a[2] = tc_ld32(p + 8);
    a[3] = tc_ld32(p + 8 * SD + 8);
}

/* B fragment with B[kk][n] = M[n0 + n][k0 + kk]: the rows of M are the n index (K in Q K^T) */
template <int SD, typename T>
TC_DEV void tc_frag_b_nk(uint32_t &b0, uint32_t &b1, const T *M, int n0, int k0, int g, int t)
{
    const T *p = M + (n0 + g) * SD + k0 + 2 * t;
    b0 = tc_ld32(p);
    b1 = tc_ld32(p + 8);
}

/* B fragment with B[kk][n] = M[k0 + kk][n0 + n]: the rows of M are the k index (V in P V);
 * four 16-bit loads (rows 2t, 2t+1, 2t+8, 2t+9 of column g) */
template <int SD, typename T>
TC_DEV void tc_frag_b_kn(uint32_t &b0, uint32_t &b1, const T *M, int k0, int n0, int g, int t)
{
    const T *p = M + (k0 + 2 * t) * SD + n0 + g;
    b0 = tc_ld16(p) | (tc_ld16(p + SD) << 16);
    b1 = tc_ld16(p + 8 * SD) | (tc_ld16(p + 9 * SD) << 16);
}

/* A fragment of k-step j from the fp32 C fragments x[2j], x[2j+1] (rounded to T) */
template <typename T>
TC_DEV void tc_c2a(uint32_t (&a)[4], const float (&x0)[4], const float (&x1)[4])
{
    a[0] = tc_pack<T>(x0[0], x0[1]);
    a[1] = tc_pack<T>(x0[2], x0[3]);
    a[2] = tc_pack<T>(x1[0], x1[1]);
    a[3] = tc_pack<T>(x1[2], x1[3]);
}

/* g[0..1] += f * (x0, x1) on a packed pair in global memory (4-byte aligned) */
template <typename T>
TC_DEV void tc_acc2(T *gp, float f, float x0, float x1)
{
    uint32_t *p = reinterpret_cast<uint32_t *>(gp);
    float a, b;
    tc_unpack<T>(*p, a, b);
    *p = tc_pack<T>(a + f * x0, b + f * x1);
}

TC_DEV int64_t tc_min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* ---- forward: one block per (64-query tile, b*h); online softmax over 64-key tiles ----
 * shared: sQ, sK[2], sV[2] (K/V double buffered with cp.async) */
template <typename T, int D>
TC_DEV void tc_fwd_body(T *out, float *lse, const T *q, const T *k, const T *v, const lcmd_attn_shape &s,
                        unsigned char *smem)
{
    constexpr int SD = D + 8, KD = D / 16, ND = D / 8, TILE = kTcB * SD;
    T *sQ = reinterpret_cast<T *>(smem), *sK = sQ + TILE, *sV = sK + 2 * TILE;
    const int lane = (int)threadIdx.x & 31, w = (int)threadIdx.x >> 5, g = lane >> 2, t = lane & 3;
    const int hd = (int)s.head_dim;
    const int64_t bh = blockIdx.y, b = bh / s.heads, h = bh % s.heads;
    const int64_t q0 = (int64_t)blockIdx.x * kTcB;
    const int nq = (int)tc_min64(s.sq - q0, kTcB);
    const T *kb = k + b * s.skv * s.ldk + h * hd, *vb = v + b * s.skv * s.ldv + h * hd;
    const int64_t nkt_all = (s.skv + kTcB - 1) / kTcB;
    const int64_t nkt = s.causal ? tc_min64((int64_t)blockIdx.x + 1, nkt_all) : nkt_all;

    tc_zero_pad<T, D>(sQ, 5 * kTcB, hd);
    tc_load_tile<T, D>(sQ, q + (b * s.sq + q0) * s.ldq + h * hd, s.ldq, nq, hd);
    tc_load_tile<T, D>(sK, kb, s.ldk, (int)tc_min64(s.skv, kTcB), hd);
    tc_load_tile<T, D>(sV, vb, s.ldv, (int)tc_min64(s.skv, kTcB), hd);
    tc_commit();

    const float sl2 = s.scale * kTcLog2e;   /* scores in log2 units */
    const int64_t qi0 = q0 + w * 16 + g, qi1 = qi0 + 8;
    uint32_t qf[KD][4];
    float o[ND][4];
#pragma unroll
    for (int nd = 0; nd < ND; nd++) o[nd][0] = o[nd][1] = o[nd][2] = o[nd][3] = 0.0f;
    float m0 = -INFINITY, m1 = -INFINITY, l0 = 0.0f, l1 = 0.0f;

    for (int64_t kt = 0; kt < nkt; kt++) {
        const int64_t k0 = kt * kTcB;
        if (kt + 1 < nkt) {
            const int64_t k1 = k0 + kTcB;
            const int nk1 = (int)tc_min64(s.skv - k1, kTcB);
            const int nb = (int)((kt + 1) & 1) * TILE;
            tc_load_tile<T, D>(sK + nb, kb + k1 * s.ldk, s.ldk, nk1, hd);
            tc_load_tile<T, D>(sV + nb, vb + k1 * s.ldv, s.ldv, nk1, hd);
            tc_commit();
            tc_wait<1>();
        } else {
            tc_wait<0>();
        }
        tc_sync();
        if (kt == 0) {
#pragma unroll
            for (int kk = 0; kk < KD; kk++) tc_frag_a<SD>(qf[kk], sQ, w * 16, kk * 16, g, t);
        }
        const T *cK = sK + (int)(kt & 1) * TILE, *cV = sV + (int)(kt & 1) * TILE;

        /* S = Q K^T: 16 rows x 64 keys per warp */
        float sc[8][4];
#pragma unroll
        for (int nt = 0; nt < 8; nt++) sc[nt][0] = sc[nt][1] = sc[nt][2] = sc[nt][3] = 0.0f;
#pragma unroll
        for (int kk = 0; kk < KD; kk++)
#pragma unroll
            for (int nt = 0; nt < 8; nt++) {
                uint32_t b0, b1;
                tc_frag_b_nk<SD>(b0, b1, cK, nt * 8, kk * 16, g, t);
                tc_mma<T>(sc[nt], qf[kk], b0, b1);
            }

        /* scale, mask (key tail, causal), row max over the quad (lanes 4g .. 4g+3) */
        const bool mask = k0 + kTcB > s.skv || (s.causal && k0 + kTcB - 1 > q0);
        float mx0 = -INFINITY, mx1 = -INFINITY;
#pragma unroll
        for (int nt = 0; nt < 8; nt++)
#pragma unroll
            for (int c = 0; c < 4; c++) {
                float x = sc[nt][c] * sl2;
                if (mask) {
                    const int64_t key = k0 + nt * 8 + 2 * t + (c & 1);
                    if (key >= s.skv || (s.causal && key > (c < 2 ? qi0 : qi1))) x = -INFINITY;
                }
                sc[nt][c] = x;
                if (c < 2) mx0 = fmaxf(mx0, x);
                else mx1 = fmaxf(mx1, x);
            }
        mx0 = fmaxf(mx0, tc_shfl_xor(mx0, 1));
        mx0 = fmaxf(mx0, tc_shfl_xor(mx0, 2));
        mx1 = fmaxf(mx1, tc_shfl_xor(mx1, 1));
        mx1 = fmaxf(mx1, tc_shfl_xor(mx1, 2));
        const float mn0 = fmaxf(m0, mx0), mn1 = fmaxf(m1, mx1);
        const float mr0 = mn0 == -INFINITY ? 0.0f : mn0, mr1 = mn1 == -INFINITY ? 0.0f : mn1;
        const float al0 = exp2f(m0 - mr0), al1 = exp2f(m1 - mr1);   /* m = -inf -> 0 */
        m0 = mn0;
        m1 = mn1;
        l0 *= al0;   /* l: this thread's partial row sums; the quad sum is taken at the end */
        l1 *= al1;
#pragma unroll
        for (int nd = 0; nd < ND; nd++) {
            o[nd][0] *= al0;
            o[nd][1] *= al0;
            o[nd][2] *= al1;
            o[nd][3] *= al1;
        }

        /* P = exp2(x - m) rounded to T, O += P V */
#pragma unroll
        for (int j = 0; j < 4; j++) {
#pragma unroll
            for (int hh = 0; hh < 2; hh++) {
                float *x = sc[2 * j + hh];
                x[0] = exp2f(x[0] - mr0);
                x[1] = exp2f(x[1] - mr0);
                x[2] = exp2f(x[2] - mr1);
                x[3] = exp2f(x[3] - mr1);
                l0 += x[0] + x[1];
                l1 += x[2] + x[3];
            }
            uint32_t a[4];
            tc_c2a<T>(a, sc[2 * j], sc[2 * j + 1]);
#pragma unroll
            for (int nd = 0; nd < ND; nd++) {
                uint32_t b0, b1;
                tc_frag_b_kn<SD>(b0, b1, cV, j * 16, nd * 8, g, t);
                tc_mma<T>(o[nd], a, b0, b1);
            }
        }
        tc_sync();   /* this buffer is refilled by the next iteration's prefetch */
    }

    l0 += tc_shfl_xor(l0, 1);
    l0 += tc_shfl_xor(l0, 2);
    l1 += tc_shfl_xor(l1, 1);
    l1 += tc_shfl_xor(l1, 2);
#pragma unroll
    for (int r = 0; r < 2; r++) {
        const int64_t qi = r ? qi1 : qi0;
        if (qi >= s.sq) continue;
        const float l = r ? l1 : l0, m = r ? m1 : m0;
        const float inv = l > 0.0f ? 1.0f / l : 0.0f;
        T *orow = out + (b * s.sq + qi) * s.ldo + h * hd;
#pragma unroll
        for (int nd = 0; nd < ND; nd++) {
            const int col = nd * 8 + 2 * t;
            if (col < hd) {
                *reinterpret_cast<uint32_t *>(orow + col) = tc_pack<T>(o[nd][2 * r] * inv, o[nd][2 * r + 1] * inv);
            }
        }
        if (t == 0) lse[bh * s.sq + qi] = l > 0.0f ? (m + log2f(l)) * kTcLn2 : -INFINITY;
    }
}

/* lse (natural log) of a query row in log2 units; +inf (P = 0) for tail rows and rows
 * that saw no key */
TC_DEV float tc_lse2(const float *lse, int64_t bh, int64_t qi, const lcmd_attn_shape &s)
{
    if (qi >= s.sq) return INFINITY;
    const float l = lse[bh * s.sq + qi];
    return l == -INFINITY ? INFINITY : l * kTcLog2e;
}

/* ---- backward, dQ: one block per (64-query tile, b*h), loops over key tiles ----
 * shared: sQ, sdO, sK[2], sV[2] */
template <typename T, int D>
TC_DEV void tc_dq_body(T *dq, const T *dout, const T *q, const T *k, const T *v, const float *lse, const float *di,
                       const lcmd_attn_shape &s, unsigned char *smem)
{
    constexpr int SD = D + 8, KD = D / 16, ND = D / 8, TILE = kTcB * SD;
    T *sQ = reinterpret_cast<T *>(smem), *sdO = sQ + TILE, *sK = sdO + TILE, *sV = sK + 2 * TILE;
    const int lane = (int)threadIdx.x & 31, w = (int)threadIdx.x >> 5, g = lane >> 2, t = lane & 3;
    const int hd = (int)s.head_dim;
    const int64_t bh = blockIdx.y, b = bh / s.heads, h = bh % s.heads;
    const int64_t q0 = (int64_t)blockIdx.x * kTcB;
    const int nq = (int)tc_min64(s.sq - q0, kTcB);
    const T *kb = k + b * s.skv * s.ldk + h * hd, *vb = v + b * s.skv * s.ldv + h * hd;
    const int64_t nkt_all = (s.skv + kTcB - 1) / kTcB;
    const int64_t nkt = s.causal ? tc_min64((int64_t)blockIdx.x + 1, nkt_all) : nkt_all;

    tc_zero_pad<T, D>(sQ, 6 * kTcB, hd);
    tc_load_tile<T, D>(sQ, q + (b * s.sq + q0) * s.ldq + h * hd, s.ldq, nq, hd);
    tc_load_tile<T, D>(sdO, dout + (b * s.sq + q0) * s.ldo + h * hd, s.ldo, nq, hd);
    tc_load_tile<T, D>(sK, kb, s.ldk, (int)tc_min64(s.skv, kTcB), hd);
    tc_load_tile<T, D>(sV, vb, s.ldv, (int)tc_min64(s.skv, kTcB), hd);
    tc_commit();

    const float sl2 = s.scale * kTcLog2e;
    const int64_t qi0 = q0 + w * 16 + g, qi1 = qi0 + 8;
    const float L0 = tc_lse2(lse, bh, qi0, s), L1 = tc_lse2(lse, bh, qi1, s);
    const float D0 = qi0 < s.sq ? di[bh * s.sq + qi0] : 0.0f, D1 = qi1 < s.sq ? di[bh * s.sq + qi1] : 0.0f;
    float acc[ND][4];
#pragma unroll
    for (int nd = 0; nd < ND; nd++) acc[nd][0] = acc[nd][1] = acc[nd][2] = acc[nd][3] = 0.0f;

    for (int64_t kt = 0; kt < nkt; kt++) {
        const int64_t k0 = kt * kTcB;
        if (kt + 1 < nkt) {
            const int64_t k1 = k0 + kTcB;
            const int nk1 = (int)tc_min64(s.skv - k1, kTcB);
            const int nb = (int)((kt + 1) & 1) * TILE;
            tc_load_tile<T, D>(sK + nb, kb + k1 * s.ldk, s.ldk, nk1, hd);
            tc_load_tile<T, D>(sV + nb, vb + k1 * s.ldv, s.ldv, nk1, hd);
            tc_commit();
            tc_wait<1>();
        } else {
            tc_wait<0>();
        }
        tc_sync();
        const T *cK = sK + (int)(kt & 1) * TILE, *cV = sV + (int)(kt & 1) * TILE;

        float sc[8][4], dp[8][4];
#pragma unroll
        for (int nt = 0; nt < 8; nt++)
#pragma unroll
            for (int c = 0; c < 4; c++) sc[nt][c] = dp[nt][c] = 0.0f;
#pragma unroll
        for (int kk = 0; kk < KD; kk++) {
            uint32_t a[4];
            tc_frag_a<SD>(a, sQ, w * 16, kk * 16, g, t);
#pragma unroll
            for (int nt = 0; nt < 8; nt++) {
                uint32_t b0, b1;
                tc_frag_b_nk<SD>(b0, b1, cK, nt * 8, kk * 16, g, t);
                tc_mma<T>(sc[nt], a, b0, b1);
            }
        }
#pragma unroll
        for (int kk = 0; kk < KD; kk++) {
            uint32_t a[4];
            tc_frag_a<SD>(a, sdO, w * 16, kk * 16, g, t);
#pragma unroll
            for (int nt = 0; nt < 8; nt++) {
                uint32_t b0, b1;
                tc_frag_b_nk<SD>(b0, b1, cV, nt * 8, kk * 16, g, t);
                tc_mma<T>(dp[nt], a, b0, b1);
            }
        }
        /* P = exp2(S scale log2e - lse2), dS = P (dP - Di), into sc */
        const bool mask = k0 + kTcB > s.skv || (s.causal && k0 + kTcB - 1 > q0);
#pragma unroll
        for (int nt = 0; nt < 8; nt++)
#pragma unroll
            for (int c = 0; c < 4; c++) {
                float p = exp2f(sc[nt][c] * sl2 - (c < 2 ? L0 : L1));
                if (mask) {
                    const int64_t key = k0 + nt * 8 + 2 * t + (c & 1);
                    if (key >= s.skv || (s.causal && key > (c < 2 ? qi0 : qi1))) p = 0.0f;
                }
                sc[nt][c] = p * (dp[nt][c] - (c < 2 ? D0 : D1));
            }
        /* dQ += dS K */
#pragma unroll
        for (int j = 0; j < 4; j++) {
            uint32_t a[4];
            tc_c2a<T>(a, sc[2 * j], sc[2 * j + 1]);
#pragma unroll
            for (int nd = 0; nd < ND; nd++) {
                uint32_t b0, b1;
                tc_frag_b_kn<SD>(b0, b1, cK, j * 16, nd * 8, g, t);
                tc_mma<T>(acc[nd], a, b0, b1);
            }
        }
        tc_sync();
    }

#pragma unroll
    for (int r = 0; r < 2; r++) {
        const int64_t qi = r ? qi1 : qi0;
        if (qi >= s.sq) continue;
        T *row = dq + (b * s.sq + qi) * s.ldq + h * hd;
#pragma unroll
        for (int nd = 0; nd < ND; nd++) {
            const int col = nd * 8 + 2 * t;
            if (col < hd) tc_acc2<T>(row + col, s.scale, acc[nd][2 * r], acc[nd][2 * r + 1]);
        }
    }
}

/* ---- backward, dK and dV: one block per (64-key tile, b*h, column chunk of DC),
 * loops over query tiles. Each block recomputes S^T and dP^T over the full head dim
 * and accumulates dK, dV columns [z DC, z DC + DC) (DC = D / 2 for D > 96 to keep the
 * accumulators in registers). shared: sK, sV, sQ[2], sdO[2], lse2[2][64], Di[2][64] */
template <typename T, int D, int DC>
TC_DEV void tc_dkdv_body(T *dk, T *dv, const T *dout, const T *q, const T *k, const T *v, const float *lse,
                         const float *di, const lcmd_attn_shape &s, unsigned char *smem)
{
    constexpr int SD = D + 8, KD = D / 16, NC = DC / 8, TILE = kTcB * SD;
    T *sK = reinterpret_cast<T *>(smem), *sV = sK + TILE, *sQ = sV + TILE, *sdO = sQ + 2 * TILE;
    float *sL = reinterpret_cast<float *>(sdO + 2 * TILE), *sDi = sL + 2 * kTcB;
    const int lane = (int)threadIdx.x & 31, w = (int)threadIdx.x >> 5, g = lane >> 2, t = lane & 3;
    const int hd = (int)s.head_dim;
    const int64_t bh = blockIdx.y, b = bh / s.heads, h = bh % s.heads;
    const int64_t k0 = (int64_t)blockIdx.x * kTcB;
    const int nk = (int)tc_min64(s.skv - k0, kTcB);
    const int c0 = (int)blockIdx.z * DC;
    const T *qb = q + b * s.sq * s.ldq + h * hd, *ob = dout + b * s.sq * s.ldo + h * hd;
    const int64_t nqt = (s.sq + kTcB - 1) / kTcB;
    const int64_t qt0 = s.causal ? (int64_t)blockIdx.x : 0;   /* causal: earlier queries see none of these keys */

    tc_zero_pad<T, D>(sK, 6 * kTcB, hd);
    tc_load_tile<T, D>(sK, k + (b * s.skv + k0) * s.ldk + h * hd, s.ldk, nk, hd);
    tc_load_tile<T, D>(sV, v + (b * s.skv + k0) * s.ldv + h * hd, s.ldv, nk, hd);
    if (qt0 < nqt) {
        const int64_t q0 = qt0 * kTcB;
        const int nq = (int)tc_min64(s.sq - q0, kTcB);
        tc_load_tile<T, D>(sQ, qb + q0 * s.ldq, s.ldq, nq, hd);
        tc_load_tile<T, D>(sdO, ob + q0 * s.ldo, s.ldo, nq, hd);
        if (threadIdx.x < kTcB) sL[threadIdx.x] = tc_lse2(lse, bh, q0 + threadIdx.x, s);
        else if (threadIdx.x < 2 * kTcB) {
            const int64_t qi = q0 + threadIdx.x - kTcB;
            sDi[threadIdx.x - kTcB] = qi < s.sq ? di[bh * s.sq + qi] : 0.0f;
        }
    }
    tc_commit();

    const float sl2 = s.scale * kTcLog2e;
    float adk[NC][4], adv[NC][4];
#pragma unroll
    for (int nd = 0; nd < NC; nd++)
#pragma unroll
        for (int c = 0; c < 4; c++) adk[nd][c] = adv[nd][c] = 0.0f;
    const int64_t key0 = k0 + w * 16 + g;   /* this thread's key rows: key0, key0 + 8 */

    for (int64_t qt = qt0; qt < nqt; qt++) {
        const int64_t q0 = qt * kTcB;
        const int buf = (int)((qt - qt0) & 1);
        if (qt + 1 < nqt) {
            const int64_t q1 = q0 + kTcB;
            const int nq1 = (int)tc_min64(s.sq - q1, kTcB);
            const int nb = buf ^ 1;
            tc_load_tile<T, D>(sQ + nb * TILE, qb + q1 * s.ldq, s.ldq, nq1, hd);
            tc_load_tile<T, D>(sdO + nb * TILE, ob + q1 * s.ldo, s.ldo, nq1, hd);
            if (threadIdx.x < kTcB) sL[nb * kTcB + threadIdx.x] = tc_lse2(lse, bh, q1 + threadIdx.x, s);
            else if (threadIdx.x < 2 * kTcB) {
                const int64_t qi = q1 + threadIdx.x - kTcB;
                sDi[nb * kTcB + threadIdx.x - kTcB] = qi < s.sq ? di[bh * s.sq + qi] : 0.0f;
            }
            tc_commit();
            tc_wait<1>();
        } else {
            tc_wait<0>();
        }
        tc_sync();
        const T *cQ = sQ + buf * TILE, *cdO = sdO + buf * TILE;
        const float *cL = sL + buf * kTcB, *cDi = sDi + buf * kTcB;

        /* S^T = K Q^T and dP^T = V dO^T: 16 keys x 64 queries per warp */
        float st[8][4], dpt[8][4];
#pragma unroll
        for (int nt = 0; nt < 8; nt++)
#pragma unroll
            for (int c = 0; c < 4; c++) st[nt][c] = dpt[nt][c] = 0.0f;
#pragma unroll
        for (int kk = 0; kk < KD; kk++) {
            uint32_t a[4];
            tc_frag_a<SD>(a, sK, w * 16, kk * 16, g, t);
#pragma unroll
            for (int nt = 0; nt < 8; nt++) {
                uint32_t b0, b1;
                tc_frag_b_nk<SD>(b0, b1, cQ, nt * 8, kk * 16, g, t);
                tc_mma<T>(st[nt], a, b0, b1);
            }
        }
#pragma unroll
        for (int kk = 0; kk < KD; kk++) {
            uint32_t a[4];
            tc_frag_a<SD>(a, sV, w * 16, kk * 16, g, t);
#pragma unroll
            for (int nt = 0; nt < 8; nt++) {
                uint32_t b0, b1;
                tc_frag_b_nk<SD>(b0, b1, cdO, nt * 8, kk * 16, g, t);
                tc_mma<T>(dpt[nt], a, b0, b1);
            }
        }
        /* P^T = exp2(S^T scale log2e - lse2[query]) (tail queries: lse2 = inf -> 0),
         * dS^T = P^T (dP^T - Di[query]). Key tail rows are never stored: no mask. */
        const bool mask = s.causal && q0 < k0 + kTcB - 1;
#pragma unroll
        for (int nt = 0; nt < 8; nt++)
#pragma unroll
            for (int c = 0; c < 4; c++) {
                const int col = nt * 8 + 2 * t + (c & 1);
                float p = exp2f(st[nt][c] * sl2 - cL[col]);
                if (mask && key0 + (c >> 1) * 8 > q0 + col) p = 0.0f;
                st[nt][c] = p;
                dpt[nt][c] = p * (dpt[nt][c] - cDi[col]);
            }
        /* dV += P^T dO, dK += dS^T Q over this block's columns */
#pragma unroll
        for (int j = 0; j < 4; j++) {
            uint32_t ap[4], as[4];
            tc_c2a<T>(ap, st[2 * j], st[2 * j + 1]);
            tc_c2a<T>(as, dpt[2 * j], dpt[2 * j + 1]);
#pragma unroll
            for (int nd = 0; nd < NC; nd++) {
                uint32_t b0, b1;
                tc_frag_b_kn<SD>(b0, b1, cdO, j * 16, c0 + nd * 8, g, t);
                tc_mma<T>(adv[nd], ap, b0, b1);
                tc_frag_b_kn<SD>(b0, b1, cQ, j * 16, c0 + nd * 8, g, t);
                tc_mma<T>(adk[nd], as, b0, b1);
            }
        }
        tc_sync();
    }
    tc_wait<0>();   /* nothing left in flight, even when the loop ran zero times */

#pragma unroll
    for (int r = 0; r < 2; r++) {
        const int64_t key = key0 + r * 8;
        if (key >= s.skv) continue;
        T *pk = dk ? dk + (b * s.skv + key) * s.ldk + h * hd : nullptr;
        T *pv = dv ? dv + (b * s.skv + key) * s.ldv + h * hd : nullptr;
#pragma unroll
        for (int nd = 0; nd < NC; nd++) {
            const int col = c0 + nd * 8 + 2 * t;
            if (col >= hd) continue;
            if (pk) tc_acc2<T>(pk + col, s.scale, adk[nd][2 * r], adk[nd][2 * r + 1]);
            if (pv) tc_acc2<T>(pv + col, 1.0f, adv[nd][2 * r], adv[nd][2 * r + 1]);
        }
    }
}

/* dK/dV column chunk: all of D up to 96, half above (accumulator registers) */
template <int D> constexpr int tc_dc() { return D > 96 ? D / 2 : D; }

template <int D> constexpr size_t tc_fwd_smem() { return 5 * tc_tile_bytes<D>(); }
template <int D> constexpr size_t tc_dq_smem() { return 6 * tc_tile_bytes<D>(); }
template <int D> constexpr size_t tc_dkdv_smem() { return 6 * tc_tile_bytes<D>() + 4 * kTcB * sizeof(float); }

}  /* namespace */

/* head_dim (a multiple of 8, <= 160) -> padded D (a multiple of 16) */
#define LCMD_ATTN_TC_DISPATCH_D(hd, ...)                                    \
    do {                                                                    \
        if ((hd) <= 32) { constexpr int D = 32; __VA_ARGS__; }              \
        else if ((hd) <= 48) { constexpr int D = 48; __VA_ARGS__; }         \
        else if ((hd) <= 64) { constexpr int D = 64; __VA_ARGS__; }         \
        else if ((hd) <= 80) { constexpr int D = 80; __VA_ARGS__; }         \
        else if ((hd) <= 128) { constexpr int D = 128; __VA_ARGS__; }       \
        else { constexpr int D = 160; __VA_ARGS__; }                        \
    } while (0)

#endif /* LCMD_CU_ATTN_TC_CUH */
