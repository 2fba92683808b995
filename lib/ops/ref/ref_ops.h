/* A naive double-precision reference of every op forward, with the layouts of
 * ops.h (NHWC, conv weight [Cout, kh, kw, Cin], linear weight [out, in]). Slow on
 * purpose: plain loops that read like the definitions. Used by tests and by the
 * op check (lib/ops/op_check.c). Saved statistics (mean, rstd, lse) may be NULL. */
#ifndef LCMD_OPS_REF_OPS_H
#define LCMD_OPS_REF_OPS_H

#include <stdint.h>
#include "ops/ops.h"

#ifdef __cplusplus
extern "C" {
#endif

void lcmd_ref_gemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, double alpha,
                   const double *a, int64_t lda, int64_t stride_a, const double *b, int64_t ldb,
                   int64_t stride_b, double beta, double *c, int64_t ldc, int64_t stride_c, int64_t batch);
void lcmd_ref_linear(double *out, const double *inp, const double *w, const double *bias,
                     int64_t m, int64_t k, int64_t n);
void lcmd_ref_conv2d(const lcmd_conv2d_shape *s, double *out, const double *inp, const double *w,
                     const double *bias);
void lcmd_ref_groupnorm(double *out, double *mean, double *rstd, const double *inp, const double *gamma,
                        const double *beta, int64_t n, int64_t hw, int64_t c, int64_t groups, double eps,
                        int silu);
void lcmd_ref_layernorm(double *out, double *mean, double *rstd, const double *inp, const double *gamma,
                        const double *beta, int64_t rows, int64_t c, double eps);
double lcmd_ref_act1(lcmd_act act, double x);
void lcmd_ref_act(lcmd_act act, double *out, const double *inp, int64_t n);
void lcmd_ref_geglu(double *out, const double *inp, int64_t rows, int64_t d);
void lcmd_ref_softmax(double *out, const double *inp, int64_t rows, int64_t cols, double scale);
void lcmd_ref_attention(const lcmd_attn_shape *s, double *out, double *lse, const double *q, const double *k,
                        const double *v);
void lcmd_ref_upsample2x(double *out, const double *inp, int64_t n, int64_t h, int64_t w, int64_t c);
void lcmd_ref_add(double *out, const double *a, const double *b, int64_t n);
void lcmd_ref_add_bcast(double *out, const double *a, const double *b, int64_t n, int64_t p, int64_t c);
void lcmd_ref_mul(double *out, const double *a, const double *b, int64_t n);
void lcmd_ref_axpy(double *y, double alpha, const double *x, int64_t n);
void lcmd_ref_scale(double *y, double alpha, int64_t n);
void lcmd_ref_concat(double *out, const double *a, const double *b, int64_t p, int64_t ca, int64_t cb);
void lcmd_ref_timestep_emb(double *out, const double *t, int64_t n, int64_t dim, int flip_sin_to_cos,
                           double shift, double scale, double max_period);

#ifdef __cplusplus
}
#endif

#endif /* LCMD_OPS_REF_OPS_H */
