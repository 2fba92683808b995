/* GEMM and linear layers through OpenBLAS. */
#include "ops/cpu/cpu_backend.h"

#include <cblas.h>
#include <stdio.h>
#include <strings.h>

#include "core/error.h"

#define COLSUM_BLOCK 64   /* columns per thread task: 64 doubles of accumulators on the stack */

lcmd_status lcmd_cpu_gemm(lcmd_backend *be, lcmd_dtype dt, int trans_a, int trans_b,
                          int64_t m, int64_t n, int64_t k, float alpha,
                          const void *a, int64_t lda, int64_t stride_a,
                          const void *b, int64_t ldb, int64_t stride_b, float beta,
                          void *c, int64_t ldc, int64_t stride_c, int64_t batch)
{
    (void)be;
    LCMD_CPU_F32_ONLY(dt, "gemm");
    LCMD_TRY(lcmd_cpu_check_blas_int(m, "gemm", "m"));
    LCMD_TRY(lcmd_cpu_check_blas_int(n, "gemm", "n"));
    LCMD_TRY(lcmd_cpu_check_blas_int(k, "gemm", "k"));
    LCMD_TRY(lcmd_cpu_check_blas_int(lda, "gemm", "lda"));
    LCMD_TRY(lcmd_cpu_check_blas_int(ldb, "gemm", "ldb"));
    LCMD_TRY(lcmd_cpu_check_blas_int(ldc, "gemm", "ldc"));
    const float *af = a, *bf = b;
    float *cf = c;
    for (int64_t i = 0; i < batch; i++) {
        cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
                    (int)m, (int)n, (int)k, alpha, af + i * stride_a, (int)lda, bf + i * stride_b, (int)ldb,
                    beta, cf + i * stride_c, (int)ldc);
    }
    return LCMD_OK;
}

void lcmd_cpu_fill_rows(lcmd_backend *be, float *out, const float *bias, int64_t rows, int64_t cols)
{
#pragma omp parallel for num_threads(lcmd_cpu_threads(be, rows / 16 + 1)) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        float *o = out + r * cols;
        for (int64_t j = 0; j < cols; j++) o[j] = bias[j];
    }
}

void lcmd_cpu_colsum_acc(lcmd_backend *be, float *dst, const float *src, int64_t rows, int64_t cols, int64_t ld)
{
    int64_t blocks = (cols + COLSUM_BLOCK - 1) / COLSUM_BLOCK;
#pragma omp parallel for num_threads(lcmd_cpu_threads(be, blocks)) schedule(static)
    for (int64_t bi = 0; bi < blocks; bi++) {
        int64_t j0 = bi * COLSUM_BLOCK;
        int64_t nj = cols - j0 < COLSUM_BLOCK ? cols - j0 : COLSUM_BLOCK;
        double acc[COLSUM_BLOCK] = {0};
        for (int64_t r = 0; r < rows; r++) {
            const float *s = src + r * ld + j0;
            for (int64_t j = 0; j < nj; j++) acc[j] += s[j];
        }
        for (int64_t j = 0; j < nj; j++) dst[j0 + j] += (float)acc[j];
    }
}

lcmd_status lcmd_cpu_linear_fwd(lcmd_backend *be, lcmd_dtype dt, void *out, const void *inp,
                                const void *w, const void *bias, int64_t m, int64_t k, int64_t n)
{
    LCMD_CPU_F32_ONLY(dt, "linear_fwd");
    LCMD_TRY(lcmd_cpu_check_blas_int(m, "linear_fwd", "m"));
    LCMD_TRY(lcmd_cpu_check_blas_int(k, "linear_fwd", "k"));
    LCMD_TRY(lcmd_cpu_check_blas_int(n, "linear_fwd", "n"));
    float beta = 0.0f;
    if (bias) {
        lcmd_cpu_fill_rows(be, out, bias, m, n);
        beta = 1.0f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)n, (int)k,
                1.0f, inp, (int)k, w, (int)k, beta, out, (int)n);
    return LCMD_OK;
}

lcmd_status lcmd_cpu_linear_bwd(lcmd_backend *be, lcmd_dtype dt, void *dinp, void *dw, void *dbias,
                                const void *dout, const void *inp, const void *w,
                                int64_t m, int64_t k, int64_t n)
{
    LCMD_CPU_F32_ONLY(dt, "linear_bwd");
    LCMD_TRY(lcmd_cpu_check_blas_int(m, "linear_bwd", "m"));
    LCMD_TRY(lcmd_cpu_check_blas_int(k, "linear_bwd", "k"));
    LCMD_TRY(lcmd_cpu_check_blas_int(n, "linear_bwd", "n"));
    /* dinp[m,k] += dout[m,n] * w[n,k] */
    if (dinp)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)k, (int)n,
                    1.0f, dout, (int)n, w, (int)k, 1.0f, dinp, (int)k);
    /* dw[n,k] += dout^T[n,m] * inp[m,k] */
    if (dw)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)n, (int)k, (int)m,
                    1.0f, dout, (int)n, inp, (int)k, 1.0f, dw, (int)k);
    if (dbias) lcmd_cpu_colsum_acc(be, dbias, dout, m, n, n);
    return LCMD_OK;
}

/* OpenBLAS kernels written for AVX2/FMA or wider; on an AVX2 CPU any other core
 * name means OpenBLAS did not recognise the CPU and fell back to older kernels. */
static const char *const blas_avx2_cores[] = {"haswell", "skylakex", "cooperlake", "sapphirerapids",
                                              "zen", "excavator"};

int lcmd_cpu_blas_is_generic(char *name, size_t size)
{
    const char *core = openblas_get_corename();
    if (!core) core = "unknown";
    if (name && size) snprintf(name, size, "%s", core);
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2")) return 0;
    for (size_t i = 0; i < sizeof blas_avx2_cores / sizeof blas_avx2_cores[0]; i++)
        if (!strcasecmp(core, blas_avx2_cores[i])) return 0;
    return 1;
#else
    return 0;
#endif
}
