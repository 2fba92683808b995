/* Transformer2DModel (continuous input) with BasicTransformerBlocks: self-attention,
 * cross-attention to the encoder states, GEGLU feed-forward, each pre-LayerNorm
 * with a residual. Tokens are the NHWC pixels, so no transposes are needed. */
#include <math.h>

#include "models/unet_run.h"

#define LN_EPS 1e-5f   /* BasicTransformerBlock norm_eps */
#define GN_EPS 1e-6f   /* Transformer2DModel GroupNorm */

/* out = in + x w^T + bias, with x [rows, k], w [n, k]: the residual and the bias are
 * written first (in place when out == in, as ops.h allows for add_bcast) and the
 * GEMM accumulates on top, so no projection buffer is filled and added. */
static lcmd_status linear_residual(unet_run *r, float *out, const float *in, const float *x, size_t w, size_t b,
                                   int64_t rows, int64_t k, int64_t n)
{
    RUN(r, lcmd_op_add_bcast_fwd(r->be, r->dt, out, in, PW(r, b), 1, rows, n));
    RUN(r, lcmd_op_gemm(r->be, r->dt, 0, 1, rows, n, k, 1.0f, x, k, 0, PW(r, w), k, 0, 1.0f, out, n, 0, 1));
    return LCMD_OK;
}

/* q from xq [batch * sq, inner]; k, v from xkv [batch * skv, kv_dim]; out_add += to_out(attn) */
static lcmd_status attention_fwd(unet_run *r, const unet_transformer *t, unet_attn *a, const float *xq, int64_t sq,
                                 const float *xkv, int64_t skv, float *stream_out, const float *stream_in)
{
    int64_t n = r->batch, d = t->inner;
    LCMD_TRY(unet_alloc(r, n * sq * d, &a->q));
    LCMD_TRY(unet_alloc(r, n * skv * d, &a->k));
    LCMD_TRY(unet_alloc(r, n * skv * d, &a->v));
    LCMD_TRY(unet_alloc(r, n * sq * d, &a->o));
    LCMD_TRY(unet_alloc(r, n * t->heads * sq, &a->lse));
    RUN(r, lcmd_op_linear_fwd(r->be, r->dt, a->q, xq, PW(r, a->q_w), NULL, n * sq, d, d));
    RUN(r, lcmd_op_linear_fwd(r->be, r->dt, a->k, xkv, PW(r, a->k_w), NULL, n * skv, a->kv_dim, d));
    RUN(r, lcmd_op_linear_fwd(r->be, r->dt, a->v, xkv, PW(r, a->v_w), NULL, n * skv, a->kv_dim, d));
    lcmd_attn_shape s = {.b = n, .heads = t->heads, .sq = sq, .skv = skv, .head_dim = t->head_dim,
                         .ldq = d, .ldk = d, .ldv = d, .ldo = d,
                         .scale = (float)(1.0 / sqrt((double)t->head_dim)), .causal = 0};
    RUN(r, lcmd_op_attention_fwd(r->be, r->dt, &s, a->o, a->lse, a->q, a->k, a->v));
    return linear_residual(r, stream_out, stream_in, a->o, a->out_w, a->out_b, n * sq, d, d);
}

static lcmd_status layernorm(unet_run *r, float *out, float **mean, float **rstd, const float *x,
                             size_t g, size_t b, int64_t rows, int64_t c)
{
    LCMD_TRY(unet_alloc(r, rows, mean));
    LCMD_TRY(unet_alloc(r, rows, rstd));
    RUN(r, lcmd_op_layernorm_fwd(r->be, r->dt, out, *mean, *rstd, x, PW(r, g), PW(r, b), rows, c, LN_EPS));
    return LCMD_OK;
}

/* The residual stream: a fresh buffer per step when activations are kept (the
 * norms' backward needs each one), else updated in place. */
static lcmd_status next_stream(unet_run *r, const float *cur, int64_t n, float **out)
{
    if (r->keep) return unet_alloc(r, n, out);
    *out = (float *)cur;
    return LCMD_OK;
}

static lcmd_status tblock_fwd(unet_run *r, const unet_transformer *t, unet_tblock *k, const float *s_in,
                              int64_t hw, float **s_out)
{
    int64_t n = r->batch, rows = n * hw, d = t->inner, ffi = t->ff_inner;
    k->s1 = s_in;
    /* self-attention */
    LCMD_TRY(unet_alloc(r, rows * d, &k->n1));
    LCMD_TRY(layernorm(r, k->n1, &k->mean1, &k->rstd1, s_in, k->norm1_w, k->norm1_b, rows, d));
    LCMD_TRY(next_stream(r, s_in, rows * d, &k->s2));
    LCMD_TRY(attention_fwd(r, t, &k->attn1, k->n1, hw, k->n1, hw, k->s2, s_in));
    /* cross-attention */
    LCMD_TRY(unet_alloc(r, rows * d, &k->n2));
    LCMD_TRY(layernorm(r, k->n2, &k->mean2, &k->rstd2, k->s2, k->norm2_w, k->norm2_b, rows, d));
    LCMD_TRY(next_stream(r, k->s2, rows * d, &k->s3));
    LCMD_TRY(attention_fwd(r, t, &k->attn2, k->n2, hw, r->ctx, r->seq, k->s3, k->s2));
    /* GEGLU feed-forward */
    float *s4;
    LCMD_TRY(unet_alloc(r, rows * d, &k->n3));
    LCMD_TRY(layernorm(r, k->n3, &k->mean3, &k->rstd3, k->s3, k->norm3_w, k->norm3_b, rows, d));
    LCMD_TRY(unet_alloc(r, rows * 2 * ffi, &k->ff1));
    RUN(r, lcmd_op_linear_fwd(r->be, r->dt, k->ff1, k->n3, PW(r, k->ff1_w), PW(r, k->ff1_b), rows, d, 2 * ffi));
    LCMD_TRY(unet_alloc(r, rows * ffi, &k->ffg));
    RUN(r, lcmd_op_geglu_fwd(r->be, r->dt, k->ffg, k->ff1, rows, ffi));
    LCMD_TRY(next_stream(r, k->s3, rows * d, &s4));
    LCMD_TRY(linear_residual(r, s4, k->s3, k->ffg, k->ff2_w, k->ff2_b, rows, ffi, d));
    *s_out = s4;
    return LCMD_OK;
}

lcmd_status unet_transformer_fwd(unet_run *r, unet_transformer *nd, const float *x, int64_t hw, float *out)
{
    int64_t n = r->batch, rows = n * hw, c = nd->c, d = nd->inner;
    size_t mark = unet_scratch_mark(r);
    nd->x = x;
    LCMD_TRY(unet_alloc(r, rows * c, &nd->gn));
    LCMD_TRY(unet_alloc(r, n * r->groups, &nd->mean));
    LCMD_TRY(unet_alloc(r, n * r->groups, &nd->rstd));
    RUN(r, lcmd_op_groupnorm_fwd(r->be, r->dt, nd->gn, nd->mean, nd->rstd, x, PW(r, nd->norm_w), PW(r, nd->norm_b),
                                 n, hw, c, r->groups, GN_EPS, 0));
    /* proj_in: Linear, or a 1x1 conv whose stored [K,1,1,C] weight is the same matrix */
    LCMD_TRY(unet_alloc(r, rows * d, &nd->stream));
    RUN(r, lcmd_op_linear_fwd(r->be, r->dt, nd->stream, nd->gn, PW(r, nd->proj_in_w), PW(r, nd->proj_in_b), rows, c, d));
    float *s = nd->stream;
    for (int32_t i = 0; i < nd->depth; i++) {
        /* without kept activations, each block's intermediates go once it is done;
         * the in-place stream lives below the mark */
        size_t block_mark = unet_scratch_mark(r);
        LCMD_TRY(tblock_fwd(r, nd, &nd->blocks[i], s, hw, &s));
        unet_scratch_release(r, block_mark);
    }
    nd->last = s;
    LCMD_TRY(linear_residual(r, out, x, s, nd->proj_out_w, nd->proj_out_b, rows, d, c));
    unet_scratch_release(r, mark);
    return LCMD_OK;
}
