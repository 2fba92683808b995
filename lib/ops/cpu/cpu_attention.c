/* Multi-head attention, flash-attention style: the full score matrix is never
 * formed, the fp32 log-sum-exp of each query row is kept for backward.
 *  - Forward: own register-tiled kernels (cpu_attn_kern.h) over tasks of ATTN_TQ
 *    queries on OpenMP threads, online softmax over blocks of ATTN_TK keys; no
 *    BLAS (8 heads x 4096 tokens x 40 dims on 2 cores: 0.23 s vs 1.6 s with sgemm).
 *  - Backward: a thread holds the scores of ATTN_BQ queries against all keys of one
 *    head and recomputes the probabilities from the lse; scores, dP and the
 *    gradients go through sgemm on strided views.
 * q, k, v may be column slices of one fused projection in both. */
#include "ops/cpu/cpu_backend.h"

#include <cblas.h>
#include <math.h>
#include <string.h>
#include <omp.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define ATTN_X86_KERNELS 1
#include <immintrin.h>
#else
#define ATTN_X86_KERNELS 0
#endif

#include "core/error.h"

#define ATTN_BQ 64   /* queries per block: 64 x 4096 fp32 scores (1 MiB) stay in L2 */

/* (Backward) OpenBLAS built with its own pthread pool runs every large sgemm on that pool, so
 * sgemm calls from several OpenMP threads at once oversubscribe the cores (measured
 * 3-5x slower), and OpenMP row loops between the sgemm calls fight that pool too
 * (another 3x). Then the blocks run one after another with threaded sgemm and
 * single-threaded rows. Otherwise (OPENBLAS_NUM_THREADS=1, a sequential or an
 * OpenMP OpenBLAS, whose calls inside a parallel region run single-threaded)
 * OpenMP threads take whole blocks: the fastest schedule (1.6 s vs 2.3 s forward
 * for 8 heads x 4096 tokens x 40 dims on 2 cores). */
static int blas_owns_threads(void)
{
    return openblas_get_parallel() == 1 && openblas_get_num_threads() > 1;
}

/* floats per thread, rounded to whole cache lines so threads never share one */
static int64_t per_thread_floats(int64_t floats) { return (floats + 15) / 16 * 16; }

/* keys visible to the block of queries [i0, i0 + nq) */
static int64_t visible_keys(const lcmd_attn_shape *s, int64_t i0, int64_t nq)
{
    if (!s->causal) return s->skv;
    return i0 + nq < s->skv ? i0 + nq : s->skv;
}

static lcmd_status attn_blas_sizes(const lcmd_attn_shape *s, const char *op)
{
    LCMD_TRY(lcmd_cpu_check_blas_int(s->skv, op, "skv"));
    LCMD_TRY(lcmd_cpu_check_blas_int(s->ldq, op, "ldq"));
    LCMD_TRY(lcmd_cpu_check_blas_int(s->ldk, op, "ldk"));
    LCMD_TRY(lcmd_cpu_check_blas_int(s->ldv, op, "ldv"));
    return lcmd_cpu_check_blas_int(s->ldo, op, "ldo");
}

/* last visible key + 1 of row r of the block at i0 */
static int64_t row_limit(const lcmd_attn_shape *s, int64_t i0, int64_t r, int64_t nkv)
{
    int64_t lim = s->causal ? i0 + r + 1 : nkv;
    return lim < nkv ? lim : nkv;
}

/* scores -> probabilities exp(x - lse), recomputed in backward */
static void block_probs(const lcmd_attn_shape *s, float *p, int64_t i0, int64_t nq, int64_t nkv,
                        const float *lse_row)
{
    for (int64_t r = 0; r < nq; r++) {
        float *pr = p + r * nkv, l = lse_row[r];
        int64_t lim = row_limit(s, i0, r, nkv);
        for (int64_t j = 0; j < lim; j++) pr[j] = expf(pr[j] - l);
        for (int64_t j = lim; j < nkv; j++) pr[j] = 0.0f;
    }
}

/* The forward: one task per ATTN_TQ queries of one (batch, head), on OpenMP
 * threads, with the register-tiled kernels of cpu_attn_kern.h (one copy per
 * instruction set, picked at run time). No BLAS call, so no fight with
 * OpenBLAS's thread pool; each task writes only its own rows of out and lse, in
 * a fixed order, so results do not depend on the thread count. */
#define ATTN_TQ 32    /* queries per task: the vector lanes of the kernels */
#define ATTN_TK 128   /* keys per block: a block of scores is 16 KiB, in L1 */
#define ATTN_LOG2E 1.44269504088896340736f
#define ATTN_LN2 0.69314718055994530942f

/* floats of one task's workspace: Q^T and O^T tiles and a block of scores */
static int64_t attn_ws_floats(int64_t hd) { return per_thread_floats((2 * hd + ATTN_TK) * ATTN_TQ); }

typedef void (*attn_fwd_task_fn)(const lcmd_attn_shape *s, int64_t u, float *ws, float *out, float *lse,
                                 const float *q, const float *k, const float *v);

#define AK_SUFFIX generic
#define AK_VL 4
#define AK_RK 1
#define AK_RD 1
#define AK_FMA(a, b, c) ((a) * (b) + (c))
#include "ops/cpu/cpu_attn_kern.h"
#undef AK_SUFFIX
#undef AK_VL
#undef AK_RK
#undef AK_RD
#undef AK_FMA

#if ATTN_X86_KERNELS
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#define AK_SUFFIX avx2
#define AK_VL 8
#define AK_RK 3
#define AK_RD 3
#define AK_FMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#include "ops/cpu/cpu_attn_kern.h"
#undef AK_SUFFIX
#undef AK_VL
#undef AK_RK
#undef AK_RD
#undef AK_FMA
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx512f,fma")
#define AK_SUFFIX avx512
#define AK_VL 16
#define AK_RK 8
#define AK_RD 8
#define AK_FMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#include "ops/cpu/cpu_attn_kern.h"
#undef AK_SUFFIX
#undef AK_VL
#undef AK_RK
#undef AK_RD
#undef AK_FMA
#pragma GCC pop_options
#endif

static attn_fwd_task_fn attn_fwd_kernel(void)
{
#if ATTN_X86_KERNELS
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return attn_fwd_task_avx512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return attn_fwd_task_avx2;
#endif
    return attn_fwd_task_generic;
}

lcmd_status lcmd_cpu_attention_fwd(lcmd_backend *be, lcmd_dtype dt, const lcmd_attn_shape *s,
                                   void *out, float *lse, const void *q, const void *k, const void *v)
{
    LCMD_CPU_F32_ONLY(dt, "attention_fwd");
    int64_t nqb = (s->sq + ATTN_TQ - 1) / ATTN_TQ, units = s->b * s->heads * nqb;
    int nt = lcmd_cpu_threads(be, units);
    int64_t stride = attn_ws_floats(s->head_dim);
    float *scratch = lcmd_cpu_scratch(be, (size_t)(nt * stride) * sizeof(float));
    if (!scratch) return LCMD_ERR_OUT_OF_MEMORY;
    attn_fwd_task_fn task = attn_fwd_kernel();
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
    for (int64_t u = 0; u < units; u++)
        task(s, u, scratch + omp_get_thread_num() * stride, out, lse, q, k, v);
    return LCMD_OK;
}

/* One query block of the backward of one head: dv += P^T dO, dS = P (dP - D),
 * dq += scale dS K, dk += scale dS^T Q. */
static void attn_bwd_block(const lcmd_attn_shape *s, int64_t bh, int64_t i0, float *p, float *dp,
                           float *dq, float *dk, float *dv, const float *dout,
                           const float *q, const float *k, const float *v, const float *out, const float *lse)
{
    int64_t bi = bh / s->heads, h = bh % s->heads, hd = s->head_dim;
    int64_t nq = s->sq - i0 < ATTN_BQ ? s->sq - i0 : ATTN_BQ, nkv = visible_keys(s, i0, nq);
    int64_t qoff = (bi * s->sq + i0) * s->ldq + h * hd, ooff = (bi * s->sq + i0) * s->ldo + h * hd;
    int64_t koff = bi * s->skv * s->ldk + h * hd, voff = bi * s->skv * s->ldv + h * hd;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nq, (int)nkv, (int)hd,
                s->scale, q + qoff, (int)s->ldq, k + koff, (int)s->ldk, 0.0f, p, (int)nkv);
    block_probs(s, p, i0, nq, nkv, lse + bh * s->sq + i0);
    if (dv)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)nkv, (int)hd, (int)nq,
                    1.0f, p, (int)nkv, dout + ooff, (int)s->ldo, 1.0f, dv + voff, (int)s->ldv);
    if (!dq && !dk) return;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nq, (int)nkv, (int)hd,
                1.0f, dout + ooff, (int)s->ldo, v + voff, (int)s->ldv, 0.0f, dp, (int)nkv);
    for (int64_t r = 0; r < nq; r++) {
        const float *dor = dout + ooff + r * s->ldo, *orow = out + ooff + r * s->ldo;
        double dsum = 0.0;
        for (int64_t d = 0; d < hd; d++) dsum += (double)dor[d] * orow[d];
        float dd = (float)dsum;
        float *pr = p + r * nkv, *dpr = dp + r * nkv;
        for (int64_t j = 0; j < nkv; j++) dpr[j] = pr[j] * (dpr[j] - dd);
    }
    if (dq)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nq, (int)hd, (int)nkv,
                    s->scale, dp, (int)nkv, k + koff, (int)s->ldk, 1.0f, dq + qoff, (int)s->ldq);
    if (dk)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)nkv, (int)hd, (int)nq,
                    s->scale, dp, (int)nkv, q + qoff, (int)s->ldq, 1.0f, dk + koff, (int)s->ldk);
}

lcmd_status lcmd_cpu_attention_bwd(lcmd_backend *be, lcmd_dtype dt, const lcmd_attn_shape *s,
                                   void *dq, void *dk, void *dv, const void *dout,
                                   const void *q, const void *k, const void *v,
                                   const void *out, const float *lse)
{
    LCMD_CPU_F32_ONLY(dt, "attention_bwd");
    LCMD_TRY(attn_blas_sizes(s, "attention_bwd"));
    if (!dq && !dk && !dv) return LCMD_OK;
    /* one (batch, head) per task: its query blocks all add into the same dk, dv rows */
    int64_t units = s->b * s->heads, nqb = (s->sq + ATTN_BQ - 1) / ATTN_BQ;
    int serial = blas_owns_threads(), nt = serial ? 1 : lcmd_cpu_threads(be, units);
    int64_t stride = 2 * per_thread_floats(ATTN_BQ * s->skv);
    float *scratch = lcmd_cpu_scratch(be, (size_t)(nt * stride) * sizeof(float));
    if (!scratch) return LCMD_ERR_OUT_OF_MEMORY;
    if (serial) {
        for (int64_t bh = 0; bh < units; bh++)
            for (int64_t qb = 0; qb < nqb; qb++)
                attn_bwd_block(s, bh, qb * ATTN_BQ, scratch, scratch + stride / 2, dq, dk, dv, dout, q, k, v, out,
                               lse);
        return LCMD_OK;
    }
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
    for (int64_t bh = 0; bh < units; bh++) {
        float *p = scratch + omp_get_thread_num() * stride, *dp = p + stride / 2;
        for (int64_t qb = 0; qb < nqb; qb++)
            attn_bwd_block(s, bh, qb * ATTN_BQ, p, dp, dq, dk, dv, dout, q, k, v, out, lse);
    }
    return LCMD_OK;
}
