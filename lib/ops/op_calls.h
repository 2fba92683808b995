/* Checked calls of the op table: lcmd_op_X(be, ...) takes the arguments of
 * be->ops->X, checks the handle, pointers and shapes, and then calls the backend.
 * A failed check returns LCMD_ERR_INVALID_ARGUMENT with a message that names the
 * op, the field and its value ("lcmd_op_conv2d_fwd: shape.c_in = 0 must be > 0").
 * Input pointers a computation needs must be non-NULL; gradient outputs may be
 * NULL (skipped), and a backward call with every gradient NULL does nothing. */
#ifndef LCMD_OPS_OP_CALLS_H
#define LCMD_OPS_OP_CALLS_H

#include "ops/ops.h"

#ifdef __cplusplus
extern "C" {
#endif

lcmd_status lcmd_op_alloc(lcmd_backend *be, size_t bytes, void **out);
void lcmd_op_free(lcmd_backend *be, void *p);
lcmd_status lcmd_op_upload(lcmd_backend *be, void *dst, const void *host_src, size_t bytes);
lcmd_status lcmd_op_download(lcmd_backend *be, void *host_dst, const void *src, size_t bytes);
lcmd_status lcmd_op_zero(lcmd_backend *be, void *dst, size_t bytes);
lcmd_status lcmd_op_sync(lcmd_backend *be);
lcmd_status lcmd_op_convert(lcmd_backend *be, lcmd_dtype dst_dt, void *dst, lcmd_dtype src_dt,
    const void *src, size_t n);
lcmd_status lcmd_op_gemm(lcmd_backend *be, lcmd_dtype dt, int trans_a, int trans_b, int64_t m,
    int64_t n, int64_t k, float alpha, const void *a, int64_t lda, int64_t stride_a, const void *b,
    int64_t ldb, int64_t stride_b, float beta, void *c, int64_t ldc, int64_t stride_c,
    int64_t batch);
lcmd_status lcmd_op_linear_fwd(lcmd_backend *be, lcmd_dtype dt, void *out, const void *inp,
    const void *w, const void *bias, int64_t m, int64_t k, int64_t n);
lcmd_status lcmd_op_linear_bwd(lcmd_backend *be, lcmd_dtype dt, void *dinp, void *dw, void *dbias,
    const void *dout, const void *inp, const void *w, int64_t m, int64_t k, int64_t n);
lcmd_status lcmd_op_conv2d_fwd(lcmd_backend *be, lcmd_dtype dt, const lcmd_conv2d_shape *s,
    void *out, const void *inp, const void *w, const void *bias);
lcmd_status lcmd_op_conv2d_bwd(lcmd_backend *be, lcmd_dtype dt, const lcmd_conv2d_shape *s,
    void *dinp, void *dw, void *dbias, const void *dout, const void *inp, const void *w);
lcmd_status lcmd_op_groupnorm_fwd(lcmd_backend *be, lcmd_dtype dt, void *out, float *mean,
    float *rstd, const void *inp, const void *gamma, const void *beta, int64_t n, int64_t hw,
    int64_t c, int64_t groups, float eps, int silu);
lcmd_status lcmd_op_groupnorm_bwd(lcmd_backend *be, lcmd_dtype dt, void *dinp, void *dgamma,
    void *dbeta, const void *dout, const void *inp, const void *gamma, const void *beta,
    const float *mean, const float *rstd, int64_t n, int64_t hw, int64_t c, int64_t groups,
    int silu);
lcmd_status lcmd_op_layernorm_fwd(lcmd_backend *be, lcmd_dtype dt, void *out, float *mean,
    float *rstd, const void *inp, const void *gamma, const void *beta, int64_t rows, int64_t c,
    float eps);
lcmd_status lcmd_op_layernorm_bwd(lcmd_backend *be, lcmd_dtype dt, void *dinp, void *dgamma,
    void *dbeta, const void *dout, const void *inp, const void *gamma, const float *mean,
    const float *rstd, int64_t rows, int64_t c);
lcmd_status lcmd_op_act_fwd(lcmd_backend *be, lcmd_dtype dt, lcmd_act act, void *out,
    const void *inp, int64_t n);
lcmd_status lcmd_op_act_bwd(lcmd_backend *be, lcmd_dtype dt, lcmd_act act, void *dinp,
    const void *dout, const void *inp, int64_t n);
lcmd_status lcmd_op_geglu_fwd(lcmd_backend *be, lcmd_dtype dt, void *out, const void *inp,
    int64_t rows, int64_t d);
lcmd_status lcmd_op_geglu_bwd(lcmd_backend *be, lcmd_dtype dt, void *dinp, const void *dout,
    const void *inp, int64_t rows, int64_t d);
lcmd_status lcmd_op_softmax_fwd(lcmd_backend *be, lcmd_dtype dt, void *out, const void *inp,
    int64_t rows, int64_t cols, float scale);
lcmd_status lcmd_op_softmax_bwd(lcmd_backend *be, lcmd_dtype dt, void *dinp, const void *dout,
    const void *out, int64_t rows, int64_t cols, float scale);
lcmd_status lcmd_op_attention_fwd(lcmd_backend *be, lcmd_dtype dt, const lcmd_attn_shape *s,
    void *out, float *lse, const void *q, const void *k, const void *v);
lcmd_status lcmd_op_attention_bwd(lcmd_backend *be, lcmd_dtype dt, const lcmd_attn_shape *s,
    void *dq, void *dk, void *dv, const void *dout, const void *q, const void *k, const void *v,
    const void *out, const float *lse);
lcmd_status lcmd_op_upsample2x_fwd(lcmd_backend *be, lcmd_dtype dt, void *out, const void *inp,
    int64_t n, int64_t h, int64_t w, int64_t c);
lcmd_status lcmd_op_upsample2x_bwd(lcmd_backend *be, lcmd_dtype dt, void *dinp, const void *dout,
    int64_t n, int64_t h, int64_t w, int64_t c);
lcmd_status lcmd_op_add_fwd(lcmd_backend *be, lcmd_dtype dt, void *out, const void *a,
    const void *b, int64_t n);
lcmd_status lcmd_op_add_bcast_fwd(lcmd_backend *be, lcmd_dtype dt, void *out, const void *a,
    const void *b, int64_t n, int64_t p, int64_t c);
lcmd_status lcmd_op_add_bcast_bwd(lcmd_backend *be, lcmd_dtype dt, void *da, void *db,
    const void *dout, int64_t n, int64_t p, int64_t c);
lcmd_status lcmd_op_mul_fwd(lcmd_backend *be, lcmd_dtype dt, void *out, const void *a,
    const void *b, int64_t n);
lcmd_status lcmd_op_mul_bwd(lcmd_backend *be, lcmd_dtype dt, void *da, void *db, const void *dout,
    const void *a, const void *b, int64_t n);
lcmd_status lcmd_op_axpy(lcmd_backend *be, lcmd_dtype dt, void *y, float alpha, const void *x,
    int64_t n);
lcmd_status lcmd_op_scale(lcmd_backend *be, lcmd_dtype dt, void *y, float alpha, int64_t n);
lcmd_status lcmd_op_concat_fwd(lcmd_backend *be, lcmd_dtype dt, void *out, const void *a,
    const void *b, int64_t p, int64_t ca, int64_t cb);
lcmd_status lcmd_op_concat_bwd(lcmd_backend *be, lcmd_dtype dt, void *da, void *db,
    const void *dout, int64_t p, int64_t ca, int64_t cb);
lcmd_status lcmd_op_timestep_emb_fwd(lcmd_backend *be, lcmd_dtype dt, void *out, const float *t,
    int64_t n, int64_t dim, int flip_sin_to_cos, float shift, float scale, float max_period);
lcmd_status lcmd_op_timestep_emb_bwd(lcmd_backend *be, lcmd_dtype dt, float *dt_grad,
    const void *dout, const float *t, int64_t n, int64_t dim, int flip_sin_to_cos, float shift,
    float scale, float max_period);

#ifdef __cplusplus
}
#endif

#endif /* LCMD_OPS_OP_CALLS_H */
