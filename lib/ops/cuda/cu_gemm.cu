/* GEMM, linear forward/backward through cuBLASLt.
 *
 * Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T, so cuBLASLt gets
 * (B, A) swapped with the same transposes. fp32 uses CUBLAS_COMPUTE_32F (no TF32);
 * fp16/bf16 use fp32 compute and fp32 alpha/beta. A plan (descriptors + heuristic
 * algorithm) is cached per shape, strides and pointer alignment class. */
#include <stdlib.h>
#include <string.h>

#include "ops/cuda/cu_common.cuh"
#include "ops/cuda/cu_cache.h"

struct lcmd_cu_gemm_key {
    int32_t dt, ta, tb, epi;
    int64_t m, n, k, lda, ldb, ldc, sa, sb, sc, batch;
    int32_t align_a, align_b, align_c;
};

struct lcmd_cu_gemm_entry {
    int valid;
    lcmd_cu_gemm_key key;
    cublasLtMatmulDesc_t op;
    cublasLtMatrixLayout_t la, lb, lc;   /* column-major view: la <- user B, lb <- user A */
    cublasLtMatmulAlgo_t algo;
};

static void entry_clear(lcmd_cu_gemm_entry *e)
{
    if (e->op) cublasLtMatmulDescDestroy(e->op);
    if (e->la) cublasLtMatrixLayoutDestroy(e->la);
    if (e->lb) cublasLtMatrixLayoutDestroy(e->lb);
    if (e->lc) cublasLtMatrixLayoutDestroy(e->lc);
    memset(e, 0, sizeof(*e));
}

extern "C" lcmd_status lcmd_cu_gemm_cache_new(lcmd_cu_gemm_entry **out)
{
    *out = (lcmd_cu_gemm_entry *)calloc(LCMD_CU_CACHE, sizeof(lcmd_cu_gemm_entry));
    if (!*out) return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "cuda gemm cache: out of host memory");
    return LCMD_OK;
}

extern "C" void lcmd_cu_gemm_cache_free(lcmd_cu_gemm_entry *c)
{
    for (int i = 0; i < LCMD_CU_CACHE; i++) entry_clear(&c[i]);
    free(c);
}

static int32_t align_of(const void *p, int64_t stride_bytes, int64_t batch)
{
    uintptr_t v = (uintptr_t)p;
    if (batch > 1) v |= (uintptr_t)stride_bytes;
    int32_t a = 256;
    while (a > 1 && (v & (uintptr_t)(a - 1))) a >>= 1;
    return a;
}

static cudaDataType_t cuda_type(lcmd_dtype dt)
{
    return dt == LCMD_DT_F32 ? CUDA_R_32F : dt == LCMD_DT_F16 ? CUDA_R_16F : CUDA_R_16BF;
}

static lcmd_status set_layout(cublasLtMatrixLayout_t *l, cudaDataType_t ty, int64_t rows, int64_t cols,
                              int64_t ld, int64_t batch, int64_t stride)
{
    LCMD_CU_BLAS_TRY(cublasLtMatrixLayoutCreate(l, ty, (uint64_t)rows, (uint64_t)cols, ld));
    if (batch > 1) {
        int32_t bc = (int32_t)batch;
        LCMD_CU_BLAS_TRY(cublasLtMatrixLayoutSetAttribute(*l, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &bc, sizeof(bc)));
        LCMD_CU_BLAS_TRY(cublasLtMatrixLayoutSetAttribute(*l, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET,
                                                          &stride, sizeof(stride)));
    }
    return LCMD_OK;
}

static lcmd_status make_plan(lcmd_cu_backend *cb, lcmd_cu_gemm_entry *e, const lcmd_cu_gemm_key *k,
                             const void *bias)
{
    cudaDataType_t ty = cuda_type((lcmd_dtype)k->dt);
    LCMD_CU_BLAS_TRY(cublasLtMatmulDescCreate(&e->op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    cublasOperation_t opa = k->tb ? CUBLAS_OP_T : CUBLAS_OP_N;   /* cm A = user B */
    cublasOperation_t opb = k->ta ? CUBLAS_OP_T : CUBLAS_OP_N;   /* cm B = user A */
    LCMD_CU_BLAS_TRY(cublasLtMatmulDescSetAttribute(e->op, CUBLASLT_MATMUL_DESC_TRANSA, &opa, sizeof(opa)));
    LCMD_CU_BLAS_TRY(cublasLtMatmulDescSetAttribute(e->op, CUBLASLT_MATMUL_DESC_TRANSB, &opb, sizeof(opb)));
    if (k->epi) {
        cublasLtEpilogue_t ep = CUBLASLT_EPILOGUE_BIAS;
        LCMD_CU_BLAS_TRY(cublasLtMatmulDescSetAttribute(e->op, CUBLASLT_MATMUL_DESC_EPILOGUE, &ep, sizeof(ep)));
        LCMD_CU_BLAS_TRY(cublasLtMatmulDescSetAttribute(e->op, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &ty, sizeof(ty)));
        LCMD_CU_BLAS_TRY(cublasLtMatmulDescSetAttribute(e->op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof(bias)));
    }
    LCMD_TRY(set_layout(&e->la, ty, k->tb ? k->k : k->n, k->tb ? k->n : k->k, k->ldb, k->batch, k->sb));
    LCMD_TRY(set_layout(&e->lb, ty, k->ta ? k->m : k->k, k->ta ? k->k : k->m, k->lda, k->batch, k->sa));
    LCMD_TRY(set_layout(&e->lc, ty, k->n, k->m, k->ldc, k->batch, k->sc));

    cublasLtMatmulPreference_t pref = NULL;
    LCMD_CU_BLAS_TRY(cublasLtMatmulPreferenceCreate(&pref));
    size_t ws = LCMD_CU_LT_WORKSPACE;
    uint32_t aa = (uint32_t)k->align_b, ab = (uint32_t)k->align_a, ac = (uint32_t)k->align_c;
    cublasStatus_t s = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof(ws));
    if (s == CUBLAS_STATUS_SUCCESS)
        s = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &aa, sizeof(aa));
    if (s == CUBLAS_STATUS_SUCCESS)
        s = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &ab, sizeof(ab));
    if (s == CUBLAS_STATUS_SUCCESS)
        s = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &ac, sizeof(ac));
    if (s == CUBLAS_STATUS_SUCCESS)
        s = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &ac, sizeof(ac));
    if (s != CUBLAS_STATUS_SUCCESS) {
        cublasLtMatmulPreferenceDestroy(pref);
        return lcmd_cu_blas_err(s, "cublasLtMatmulPreferenceSetAttribute");
    }
    cublasLtMatmulHeuristicResult_t res;
    int found = 0;
    s = cublasLtMatmulAlgoGetHeuristic(cb->lt, e->op, e->la, e->lb, e->lc, e->lc, pref, 1, &res, &found);
    cublasLtMatmulPreferenceDestroy(pref);
    if (s != CUBLAS_STATUS_SUCCESS) return lcmd_cu_blas_err(s, "cublasLtMatmulAlgoGetHeuristic");
    if (found < 1)
        return lcmd_set_error(LCMD_ERR_UNSUPPORTED,
                              "cublasLtMatmulAlgoGetHeuristic: no algorithm for %s gemm m=%lld n=%lld k=%lld ta=%d tb=%d "
                              "lda=%lld ldb=%lld ldc=%lld batch=%lld",
                              lcmd_dtype_name((lcmd_dtype)k->dt), (long long)k->m, (long long)k->n, (long long)k->k,
                              k->ta, k->tb, (long long)k->lda, (long long)k->ldb, (long long)k->ldc, (long long)k->batch);
    e->algo = res.algo;
    return LCMD_OK;
}

static lcmd_status get_plan(lcmd_cu_backend *cb, const lcmd_cu_gemm_key *k, const void *bias, lcmd_cu_gemm_entry **out)
{
    for (int i = 0; i < LCMD_CU_CACHE; i++) {
        lcmd_cu_gemm_entry *e = &cb->gemm_cache[i];
        if (e->valid && memcmp(&e->key, k, sizeof(*k)) == 0) {
            if (k->epi)
                LCMD_CU_BLAS_TRY(cublasLtMatmulDescSetAttribute(e->op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof(bias)));
            *out = e;
            return LCMD_OK;
        }
    }
    lcmd_cu_gemm_entry *e = &cb->gemm_cache[cb->gemm_next];
    cb->gemm_next = (cb->gemm_next + 1) % LCMD_CU_CACHE;
    entry_clear(e);
    e->key = *k;
    lcmd_status st = make_plan(cb, e, k, bias);
    if (st != LCMD_OK) {
        entry_clear(e);
        return st;
    }
    e->valid = 1;
    *out = e;
    return LCMD_OK;
}

static lcmd_status gemm_impl(lcmd_cu_backend *cb, lcmd_dtype dt, int ta, int tb, int64_t m, int64_t n, int64_t k,
                             float alpha, const void *a, int64_t lda, int64_t sa, const void *b, int64_t ldb,
                             int64_t sb, float beta, void *c, int64_t ldc, int64_t sc, int64_t batch,
                             const void *bias)
{
    if (m <= 0 || n <= 0 || batch <= 0) return LCMD_OK;
    size_t es = lcmd_dtype_size(dt);
    if (k <= 0) {   /* C = beta C */
        for (int64_t i = 0; i < batch; i++)
            for (int64_t r = 0; r < m; r++)
                LCMD_TRY(lcmd_cu_scale(&cb->head, dt, (unsigned char *)c + (size_t)(i * sc + r * ldc) * es, beta, n));
        if (bias)
            for (int64_t i = 0; i < batch; i++)
                LCMD_TRY(lcmd_cu_bias_add(cb, dt, (unsigned char *)c + (size_t)(i * sc) * es, bias, m, n));
        return LCMD_OK;
    }
    lcmd_cu_gemm_key key;
    memset(&key, 0, sizeof(key));
    key.dt = dt; key.ta = ta ? 1 : 0; key.tb = tb ? 1 : 0; key.epi = bias ? 1 : 0;
    key.m = m; key.n = n; key.k = k; key.lda = lda; key.ldb = ldb; key.ldc = ldc;
    key.batch = batch;
    key.sa = batch > 1 ? sa : 0; key.sb = batch > 1 ? sb : 0; key.sc = batch > 1 ? sc : 0;
    key.align_a = align_of(a, sa * (int64_t)es, batch);
    key.align_b = align_of(b, sb * (int64_t)es, batch);
    key.align_c = align_of(c, sc * (int64_t)es, batch);
    lcmd_cu_gemm_entry *e = NULL;
    LCMD_TRY(get_plan(cb, &key, bias, &e));
    LCMD_CU_BLAS_TRY(cublasLtMatmul(cb->lt, e->op, &alpha, b, e->la, a, e->lb, &beta, c, e->lc, c, e->lc,
                                    &e->algo, cb->lt_ws, LCMD_CU_LT_WORKSPACE, cb->stream));
    return LCMD_OK;
}

extern "C" lcmd_status lcmd_cu_gemm(lcmd_backend *be, lcmd_dtype dt, int trans_a, int trans_b,
                                    int64_t m, int64_t n, int64_t k, float alpha,
                                    const void *a, int64_t lda, int64_t stride_a,
                                    const void *b, int64_t ldb, int64_t stride_b, float beta,
                                    void *c, int64_t ldc, int64_t stride_c, int64_t batch)
{
    lcmd_cu_backend *cb = lcmd_cu(be);
    LCMD_TRY(lcmd_cu_enter(cb));
    return gemm_impl(cb, dt, trans_a, trans_b, m, n, k, alpha, a, lda, stride_a, b, ldb, stride_b, beta, c, ldc,
                     stride_c, batch, NULL);
}

extern "C" lcmd_status lcmd_cu_linear_fwd(lcmd_backend *be, lcmd_dtype dt, void *out, const void *inp,
                                          const void *w, const void *bias, int64_t m, int64_t k, int64_t n)
{
    lcmd_cu_backend *cb = lcmd_cu(be);
    LCMD_TRY(lcmd_cu_enter(cb));
    /* the bias epilogue wants an aligned vector; otherwise add it separately */
    int epi = bias && ((uintptr_t)bias & 15u) == 0;
    LCMD_TRY(gemm_impl(cb, dt, 0, 1, m, n, k, 1.0f, inp, k, 0, w, k, 0, 0.0f, out, n, 0, 1, epi ? bias : NULL));
    if (bias && !epi) LCMD_TRY(lcmd_cu_bias_add(cb, dt, out, bias, m, n));
    return LCMD_OK;
}

extern "C" lcmd_status lcmd_cu_linear_bwd(lcmd_backend *be, lcmd_dtype dt, void *dinp, void *dw, void *dbias,
                                          const void *dout, const void *inp, const void *w,
                                          int64_t m, int64_t k, int64_t n)
{
    lcmd_cu_backend *cb = lcmd_cu(be);
    LCMD_TRY(lcmd_cu_enter(cb));
    if (dinp)   /* dinp[M,K] += dout[M,N] w[N,K] */
        LCMD_TRY(gemm_impl(cb, dt, 0, 0, m, k, n, 1.0f, dout, n, 0, w, k, 0, 1.0f, dinp, k, 0, 1, NULL));
    if (dw)     /* dw[N,K] += dout^T[N,M] inp[M,K] */
        LCMD_TRY(gemm_impl(cb, dt, 1, 0, n, k, m, 1.0f, dout, n, 0, inp, k, 0, 1.0f, dw, k, 0, 1, NULL));
    if (dbias) LCMD_TRY(lcmd_cu_colsum_acc(cb, dt, dbias, dout, 1, m, n));
    return LCMD_OK;
}
