/* The CUDA backend object and the internal functions behind its op table.
 * C-compatible: cu_ops.c (the table) and the kernel lab include it too. */
#ifndef LCMD_CU_BACKEND_H
#define LCMD_CU_BACKEND_H

#include <stddef.h>
#include <stdint.h>
#include <cuda_runtime_api.h>

#include "ops/ops.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LCMD_CU_LT_WORKSPACE (32u << 20)   /* cuBLASLt workspace, fixed */
#define LCMD_CU_CACHE 64                   /* algorithm cache entries (per kind) */

typedef struct lcmd_cu_gemm_entry lcmd_cu_gemm_entry;
typedef struct lcmd_cu_conv_entry lcmd_cu_conv_entry;

typedef struct lcmd_cu_backend {
    lcmd_backend head;            /* first: lcmd_backend * casts to this */
    cudaStream_t stream;
    struct cublasLtContext *lt;   /* cublasLtHandle_t */
    struct cudnnContext *dnn;     /* cudnnHandle_t */
    void *lt_ws;                  /* LCMD_CU_LT_WORKSPACE bytes */
    void *ws;                     /* the scratch arena's block */
    size_t ws_cap;
    int sm_count;
    size_t smem_optin;            /* max dynamic shared memory per block */
    int tc_attention;             /* tensor-core attention for f16/bf16 (checked on an H200);
                                     LCMD_CUDA_TC_ATTENTION=0 falls back to the fp32-core kernel */
    lcmd_cu_gemm_entry *gemm_cache;   /* LCMD_CU_CACHE entries, round robin */
    int gemm_next;
    lcmd_cu_conv_entry *conv_cache;
    int conv_next;
} lcmd_cu_backend;

static inline lcmd_cu_backend *lcmd_cu(lcmd_backend *be) { return (lcmd_cu_backend *)be; }

/* error helpers: set the thread's message naming the call, return LCMD_ERR_DEVICE
 * (LCMD_ERR_OUT_OF_MEMORY for allocation failures) */
lcmd_status lcmd_cu_err(cudaError_t e, const char *call);
/* (cuBLAS and cuDNN status helpers: cu_common.cuh) */
/* cudaGetLastError after a launch; `what` names the kernel */
lcmd_status lcmd_cu_launch_check(const char *what);
/* make the backend's device current for this thread */
lcmd_status lcmd_cu_enter(lcmd_cu_backend *cb);

/* Scratch: grow the arena block to at least `bytes` (synchronizes and reallocates only
 * when larger than ever before), then carve `count` pieces of sizes[i] bytes, each
 * 256-byte aligned, into ptrs[i]. Valid until the next op call on this backend. */
lcmd_status lcmd_cu_scratch(lcmd_cu_backend *cb, int count, const size_t *sizes, void **ptrs);

/* the op table (cu_ops.c) */
const lcmd_ops *lcmd_cu_ops_table(void);

/* ---- op implementations (signatures of struct lcmd_ops) ---- */
void lcmd_cu_destroy(lcmd_backend *be);
lcmd_status lcmd_cu_alloc(lcmd_backend *be, size_t bytes, void **out);
void lcmd_cu_free(lcmd_backend *be, void *p);
lcmd_status lcmd_cu_upload(lcmd_backend *be, void *dst, const void *host_src, size_t bytes);
lcmd_status lcmd_cu_download(lcmd_backend *be, void *host_dst, const void *src, size_t bytes);
lcmd_status lcmd_cu_zero(lcmd_backend *be, void *dst, size_t bytes);
lcmd_status lcmd_cu_sync(lcmd_backend *be);
lcmd_status lcmd_cu_convert(lcmd_backend *be, lcmd_dtype dst_dt, void *dst, lcmd_dtype src_dt, const void *src, size_t n);

lcmd_status lcmd_cu_gemm(lcmd_backend *be, lcmd_dtype dt, int trans_a, int trans_b,
                         int64_t m, int64_t n, int64_t k, float alpha,
                         const void *a, int64_t lda, int64_t stride_a,
                         const void *b, int64_t ldb, int64_t stride_b, float beta,
                         void *c, int64_t ldc, int64_t stride_c, int64_t batch);
lcmd_status lcmd_cu_linear_fwd(lcmd_backend *be, lcmd_dtype dt, void *out, const void *inp,
                               const void *w, const void *bias, int64_t m, int64_t k, int64_t n);
lcmd_status lcmd_cu_linear_bwd(lcmd_backend *be, lcmd_dtype dt, void *dinp, void *dw, void *dbias,
                               const void *dout, const void *inp, const void *w,
                               int64_t m, int64_t k, int64_t n);

lcmd_status lcmd_cu_conv2d_fwd(lcmd_backend *be, lcmd_dtype dt, const lcmd_conv2d_shape *s,
                               void *out, const void *inp, const void *w, const void *bias);
lcmd_status lcmd_cu_conv2d_bwd(lcmd_backend *be, lcmd_dtype dt, const lcmd_conv2d_shape *s,
                               void *dinp, void *dw, void *dbias,
                               const void *dout, const void *inp, const void *w);

lcmd_status lcmd_cu_groupnorm_fwd(lcmd_backend *be, lcmd_dtype dt, void *out, float *mean, float *rstd,
                                  const void *inp, const void *gamma, const void *beta,
                                  int64_t n, int64_t hw, int64_t c, int64_t groups, float eps, int silu);
lcmd_status lcmd_cu_groupnorm_bwd(lcmd_backend *be, lcmd_dtype dt, void *dinp, void *dgamma, void *dbeta,
                                  const void *dout, const void *inp, const void *gamma, const void *beta,
                                  const float *mean, const float *rstd,
                                  int64_t n, int64_t hw, int64_t c, int64_t groups, int silu);
lcmd_status lcmd_cu_layernorm_fwd(lcmd_backend *be, lcmd_dtype dt, void *out, float *mean, float *rstd,
                                  const void *inp, const void *gamma, const void *beta,
                                  int64_t rows, int64_t c, float eps);
lcmd_status lcmd_cu_layernorm_bwd(lcmd_backend *be, lcmd_dtype dt, void *dinp, void *dgamma, void *dbeta,
                                  const void *dout, const void *inp, const void *gamma,
                                  const float *mean, const float *rstd, int64_t rows, int64_t c);

lcmd_status lcmd_cu_act_fwd(lcmd_backend *be, lcmd_dtype dt, lcmd_act act, void *out, const void *inp, int64_t n);
lcmd_status lcmd_cu_act_bwd(lcmd_backend *be, lcmd_dtype dt, lcmd_act act, void *dinp,
                            const void *dout, const void *inp, int64_t n);
lcmd_status lcmd_cu_geglu_fwd(lcmd_backend *be, lcmd_dtype dt, void *out, const void *inp, int64_t rows, int64_t d);
lcmd_status lcmd_cu_geglu_bwd(lcmd_backend *be, lcmd_dtype dt, void *dinp, const void *dout,
                              const void *inp, int64_t rows, int64_t d);
lcmd_status lcmd_cu_softmax_fwd(lcmd_backend *be, lcmd_dtype dt, void *out, const void *inp,
                                int64_t rows, int64_t cols, float scale);
lcmd_status lcmd_cu_softmax_bwd(lcmd_backend *be, lcmd_dtype dt, void *dinp, const void *dout,
                                const void *out, int64_t rows, int64_t cols, float scale);

lcmd_status lcmd_cu_attention_fwd(lcmd_backend *be, lcmd_dtype dt, const lcmd_attn_shape *s,
                                  void *out, float *lse, const void *q, const void *k, const void *v);
lcmd_status lcmd_cu_attention_bwd(lcmd_backend *be, lcmd_dtype dt, const lcmd_attn_shape *s,
                                  void *dq, void *dk, void *dv, const void *dout,
                                  const void *q, const void *k, const void *v,
                                  const void *out, const float *lse);

lcmd_status lcmd_cu_upsample2x_fwd(lcmd_backend *be, lcmd_dtype dt, void *out, const void *inp,
                                   int64_t n, int64_t h, int64_t w, int64_t c);
lcmd_status lcmd_cu_upsample2x_bwd(lcmd_backend *be, lcmd_dtype dt, void *dinp, const void *dout,
                                   int64_t n, int64_t h, int64_t w, int64_t c);
lcmd_status lcmd_cu_add_fwd(lcmd_backend *be, lcmd_dtype dt, void *out, const void *a, const void *b, int64_t n);
lcmd_status lcmd_cu_add_bcast_fwd(lcmd_backend *be, lcmd_dtype dt, void *out, const void *a, const void *b,
                                  int64_t n, int64_t p, int64_t c);
lcmd_status lcmd_cu_add_bcast_bwd(lcmd_backend *be, lcmd_dtype dt, void *da, void *db, const void *dout,
                                  int64_t n, int64_t p, int64_t c);
lcmd_status lcmd_cu_mul_fwd(lcmd_backend *be, lcmd_dtype dt, void *out, const void *a, const void *b, int64_t n);
lcmd_status lcmd_cu_mul_bwd(lcmd_backend *be, lcmd_dtype dt, void *da, void *db, const void *dout,
                            const void *a, const void *b, int64_t n);
lcmd_status lcmd_cu_axpy(lcmd_backend *be, lcmd_dtype dt, void *y, float alpha, const void *x, int64_t n);
lcmd_status lcmd_cu_scale(lcmd_backend *be, lcmd_dtype dt, void *y, float alpha, int64_t n);
lcmd_status lcmd_cu_concat_fwd(lcmd_backend *be, lcmd_dtype dt, void *out, const void *a, const void *b,
                               int64_t p, int64_t ca, int64_t cb);
lcmd_status lcmd_cu_concat_bwd(lcmd_backend *be, lcmd_dtype dt, void *da, void *db, const void *dout,
                               int64_t p, int64_t ca, int64_t cb);
lcmd_status lcmd_cu_timestep_emb_fwd(lcmd_backend *be, lcmd_dtype dt, void *out, const float *t, int64_t n,
                                     int64_t dim, int flip_sin_to_cos, float shift, float scale, float max_period);
lcmd_status lcmd_cu_timestep_emb_bwd(lcmd_backend *be, lcmd_dtype dt, float *dt_grad, const void *dout,
                                     const float *t, int64_t n, int64_t dim, int flip_sin_to_cos,
                                     float shift, float scale, float max_period);

/* internal helper shared by several ops: out[b, c] += sum_r x[b, r, c] (dtype dt), fp32
 * accumulation, deterministic (partials through scratch) */
lcmd_status lcmd_cu_colsum_acc(lcmd_cu_backend *cb, lcmd_dtype dt, void *out, const void *x,
                               int64_t batch, int64_t rows, int64_t cols);
/* y[r, c] += bias[c] (dtype dt) */
lcmd_status lcmd_cu_bias_add(lcmd_cu_backend *cb, lcmd_dtype dt, void *y, const void *bias,
                             int64_t rows, int64_t cols);

#ifdef __cplusplus
}
#endif

#endif /* LCMD_CU_BACKEND_H */
