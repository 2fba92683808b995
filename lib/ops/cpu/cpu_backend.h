/* Private header of the CPU backend: the backend object, its scratch and the op
 * functions that fill the table in cpu_backend.c. fp32 only. */
#ifndef LCMD_OPS_CPU_BACKEND_H
#define LCMD_OPS_CPU_BACKEND_H

#include <stddef.h>
#include <stdint.h>
#include "ops/ops.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The CPU backend. A backend is used by one thread at a time (the ops share the
 * scratch), like a CUDA stream. */
typedef struct lcmd_cpu_profile lcmd_cpu_profile;

typedef struct lcmd_cpu_backend {
    lcmd_backend base;     /* must stay first */
    void *scratch;         /* grows only when a larger request first appears */
    size_t scratch_bytes;
    lcmd_cpu_profile *profile;   /* per-op timings (LCMD_PROFILE=1), else NULL */
    lcmd_ops *profiled_ops;      /* the op table with timing wrappers, when profiling */
} lcmd_cpu_backend;

/* Per-op timing (cpu_profile.c): the table exists only when the environment has
 * LCMD_PROFILE set (not "0") at backend creation; wrap replaces the op entries of
 * a copy of the table by timing wrappers; print writes the table to stderr. */
lcmd_cpu_profile *lcmd_cpu_profile_create(void);
void lcmd_cpu_profile_wrap(lcmd_ops *ops);
void lcmd_cpu_profile_print(lcmd_backend *be);

/* Scratch of at least `bytes` (64-byte aligned); NULL with the error set when out of
 * memory. Valid until the next call of an op on the same backend. */
void *lcmd_cpu_scratch(lcmd_backend *be, size_t bytes);
/* Current scratch capacity in bytes (tests check that it does not grow). */
size_t lcmd_cpu_scratch_capacity(const lcmd_backend *be);

/* Returns LCMD_OK for fp32, else LCMD_ERR_UNSUPPORTED naming the op. */
lcmd_status lcmd_cpu_check_dtype(lcmd_dtype dt, const char *op);
/* BLAS takes int sizes: fail with LCMD_ERR_UNSUPPORTED when v does not fit. */
lcmd_status lcmd_cpu_check_blas_int(int64_t v, const char *op, const char *what);

#define LCMD_CPU_F32_ONLY(dt, op) LCMD_TRY(lcmd_cpu_check_dtype((dt), (op)))

/* Threads for a loop of `work` independent units: never more threads than units. */
static inline int lcmd_cpu_threads(const lcmd_backend *be, int64_t work)
{
    int64_t t = be->num_threads > 0 ? be->num_threads : 1;
    if (work < t) t = work < 1 ? 1 : work;
    return (int)t;
}

/* 1 when the CPU has AVX2 but OpenBLAS runs kernels of an older core (it did not
 * recognise the CPU: set OPENBLAS_CORETYPE, e.g. Haswell); 0 otherwise. Writes
 * OpenBLAS's core name to name (size bytes, NUL-terminated) when name is not NULL.
 * (cpu_gemm.c) */
int lcmd_cpu_blas_is_generic(char *name, size_t size);

/* gemm / linear (cpu_gemm.c) */
lcmd_status lcmd_cpu_gemm(lcmd_backend *be, lcmd_dtype dt, int trans_a, int trans_b,
                          int64_t m, int64_t n, int64_t k, float alpha,
                          const void *a, int64_t lda, int64_t stride_a,
                          const void *b, int64_t ldb, int64_t stride_b, float beta,
                          void *c, int64_t ldc, int64_t stride_c, int64_t batch);
lcmd_status lcmd_cpu_linear_fwd(lcmd_backend *be, lcmd_dtype dt, void *out, const void *inp,
                                const void *w, const void *bias, int64_t m, int64_t k, int64_t n);
lcmd_status lcmd_cpu_linear_bwd(lcmd_backend *be, lcmd_dtype dt, void *dinp, void *dw, void *dbias,
                                const void *dout, const void *inp, const void *w,
                                int64_t m, int64_t k, int64_t n);
/* dst[j] += sum_r src[r * ld + j] for j < cols, summed in double (bias gradients) */
void lcmd_cpu_colsum_acc(lcmd_backend *be, float *dst, const float *src, int64_t rows, int64_t cols, int64_t ld);
/* rows of out[rows, cols] = bias */
void lcmd_cpu_fill_rows(lcmd_backend *be, float *out, const float *bias, int64_t rows, int64_t cols);

/* conv (cpu_conv.c) */
lcmd_status lcmd_cpu_conv2d_fwd(lcmd_backend *be, lcmd_dtype dt, const lcmd_conv2d_shape *s,
                                void *out, const void *inp, const void *w, const void *bias);
lcmd_status lcmd_cpu_conv2d_bwd(lcmd_backend *be, lcmd_dtype dt, const lcmd_conv2d_shape *s,
                                void *dinp, void *dw, void *dbias,
                                const void *dout, const void *inp, const void *w);

/* norms (cpu_norm.c) */
lcmd_status lcmd_cpu_groupnorm_fwd(lcmd_backend *be, lcmd_dtype dt, void *out, float *mean, float *rstd,
                                   const void *inp, const void *gamma, const void *beta,
                                   int64_t n, int64_t hw, int64_t c, int64_t groups, float eps, int silu);
lcmd_status lcmd_cpu_groupnorm_bwd(lcmd_backend *be, lcmd_dtype dt, void *dinp, void *dgamma, void *dbeta,
                                   const void *dout, const void *inp, const void *gamma, const void *beta,
                                   const float *mean, const float *rstd,
                                   int64_t n, int64_t hw, int64_t c, int64_t groups, int silu);
lcmd_status lcmd_cpu_layernorm_fwd(lcmd_backend *be, lcmd_dtype dt, void *out, float *mean, float *rstd,
                                   const void *inp, const void *gamma, const void *beta,
                                   int64_t rows, int64_t c, float eps);
lcmd_status lcmd_cpu_layernorm_bwd(lcmd_backend *be, lcmd_dtype dt, void *dinp, void *dgamma, void *dbeta,
                                   const void *dout, const void *inp, const void *gamma,
                                   const float *mean, const float *rstd, int64_t rows, int64_t c);

/* activations, geglu, softmax (cpu_act.c, cpu_softmax.c) */
lcmd_status lcmd_cpu_act_fwd(lcmd_backend *be, lcmd_dtype dt, lcmd_act act, void *out, const void *inp, int64_t n);
lcmd_status lcmd_cpu_act_bwd(lcmd_backend *be, lcmd_dtype dt, lcmd_act act, void *dinp,
                             const void *dout, const void *inp, int64_t n);
lcmd_status lcmd_cpu_geglu_fwd(lcmd_backend *be, lcmd_dtype dt, void *out, const void *inp, int64_t rows, int64_t d);
lcmd_status lcmd_cpu_geglu_bwd(lcmd_backend *be, lcmd_dtype dt, void *dinp, const void *dout,
                               const void *inp, int64_t rows, int64_t d);
lcmd_status lcmd_cpu_softmax_fwd(lcmd_backend *be, lcmd_dtype dt, void *out, const void *inp,
                                 int64_t rows, int64_t cols, float scale);
lcmd_status lcmd_cpu_softmax_bwd(lcmd_backend *be, lcmd_dtype dt, void *dinp, const void *dout,
                                 const void *out, int64_t rows, int64_t cols, float scale);

/* attention (cpu_attention.c) */
lcmd_status lcmd_cpu_attention_fwd(lcmd_backend *be, lcmd_dtype dt, const lcmd_attn_shape *s,
                                   void *out, float *lse, const void *q, const void *k, const void *v);
lcmd_status lcmd_cpu_attention_bwd(lcmd_backend *be, lcmd_dtype dt, const lcmd_attn_shape *s,
                                   void *dq, void *dk, void *dv, const void *dout,
                                   const void *q, const void *k, const void *v,
                                   const void *out, const float *lse);

/* elementwise and layout (cpu_elementwise.c, cpu_layout.c) */
lcmd_status lcmd_cpu_upsample2x_fwd(lcmd_backend *be, lcmd_dtype dt, void *out, const void *inp,
                                    int64_t n, int64_t h, int64_t w, int64_t c);
lcmd_status lcmd_cpu_upsample2x_bwd(lcmd_backend *be, lcmd_dtype dt, void *dinp, const void *dout,
                                    int64_t n, int64_t h, int64_t w, int64_t c);
lcmd_status lcmd_cpu_add_fwd(lcmd_backend *be, lcmd_dtype dt, void *out, const void *a, const void *b, int64_t n);
lcmd_status lcmd_cpu_add_bcast_fwd(lcmd_backend *be, lcmd_dtype dt, void *out, const void *a, const void *b,
                                   int64_t n, int64_t p, int64_t c);
lcmd_status lcmd_cpu_add_bcast_bwd(lcmd_backend *be, lcmd_dtype dt, void *da, void *db, const void *dout,
                                   int64_t n, int64_t p, int64_t c);
lcmd_status lcmd_cpu_mul_fwd(lcmd_backend *be, lcmd_dtype dt, void *out, const void *a, const void *b, int64_t n);
lcmd_status lcmd_cpu_mul_bwd(lcmd_backend *be, lcmd_dtype dt, void *da, void *db, const void *dout,
                             const void *a, const void *b, int64_t n);
lcmd_status lcmd_cpu_axpy(lcmd_backend *be, lcmd_dtype dt, void *y, float alpha, const void *x, int64_t n);
lcmd_status lcmd_cpu_scale(lcmd_backend *be, lcmd_dtype dt, void *y, float alpha, int64_t n);
lcmd_status lcmd_cpu_concat_fwd(lcmd_backend *be, lcmd_dtype dt, void *out, const void *a, const void *b,
                                int64_t p, int64_t ca, int64_t cb);
lcmd_status lcmd_cpu_concat_bwd(lcmd_backend *be, lcmd_dtype dt, void *da, void *db, const void *dout,
                                int64_t p, int64_t ca, int64_t cb);

/* timestep embedding (cpu_embed.c) */
lcmd_status lcmd_cpu_timestep_emb_fwd(lcmd_backend *be, lcmd_dtype dt, void *out, const float *t, int64_t n,
                                      int64_t dim, int flip_sin_to_cos, float shift, float scale, float max_period);
lcmd_status lcmd_cpu_timestep_emb_bwd(lcmd_backend *be, lcmd_dtype dt, float *dt_grad, const void *dout,
                                      const float *t, int64_t n, int64_t dim, int flip_sin_to_cos,
                                      float shift, float scale, float max_period);

#ifdef __cplusplus
}
#endif

#endif /* LCMD_OPS_CPU_BACKEND_H */
