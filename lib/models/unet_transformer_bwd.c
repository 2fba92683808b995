/* Backward of Transformer2DModel / BasicTransformerBlock (see unet_transformer.c).
 * The residual stream's gradient lives in one buffer: each sub-layer reads it as
 * the gradient of its output and its LayerNorm accumulates into it the part that
 * flows back through the norm, which leaves the gradient of its input there. */
#include <math.h>

#include "models/unet_bwd.h"

/* attention sub-layer: ds is the gradient of stream_out = stream_in + to_out(attn(q, k, v));
 * dxq (+=) receives the gradient of the query input; dxkv (+=, may be NULL) that of the
 * key/value input, which for self-attention is the same buffer as dxq */
static lcmd_status attention_bwd(unet_bwd *b, const unet_transformer *t, const unet_attn *a, const float *xq,
                                 int64_t sq, const float *xkv, int64_t skv, const float *ds, float *dxq, float *dxkv)
{
    unet_run *r = &b->r;
    int64_t n = r->batch, d = t->inner;
    size_t mark = lcmd_arena_mark(r->arena);
    float *dattn, *dq, *dk, *dv;
    LCMD_TRY(unet_galloc(b, n * sq * d, &dattn));
    RUN(r, lcmd_op_linear_bwd(r->be, r->dt, dattn, PG(b, a->out_w), PG(b, a->out_b), ds, a->o, PW(r, a->out_w),
                              n * sq, d, d));
    LCMD_TRY(unet_galloc(b, n * sq * d, &dq));
    LCMD_TRY(unet_galloc(b, n * skv * d, &dk));
    LCMD_TRY(unet_galloc(b, n * skv * d, &dv));
    lcmd_attn_shape s = {.b = n, .heads = t->heads, .sq = sq, .skv = skv, .head_dim = t->head_dim,
                         .ldq = d, .ldk = d, .ldv = d, .ldo = d,
                         .scale = (float)(1.0 / sqrt((double)t->head_dim)), .causal = 0};
    RUN(r, lcmd_op_attention_bwd(r->be, r->dt, &s, dq, dk, dv, dattn, a->q, a->k, a->v, a->o, a->lse));
    RUN(r, lcmd_op_linear_bwd(r->be, r->dt, dxq, PG(b, a->q_w), NULL, dq, xq, PW(r, a->q_w), n * sq, d, d));
    RUN(r, lcmd_op_linear_bwd(r->be, r->dt, dxkv, PG(b, a->k_w), NULL, dk, xkv, PW(r, a->k_w), n * skv, a->kv_dim, d));
    RUN(r, lcmd_op_linear_bwd(r->be, r->dt, dxkv, PG(b, a->v_w), NULL, dv, xkv, PW(r, a->v_w), n * skv, a->kv_dim, d));
    lcmd_arena_release(r->arena, mark);
    return LCMD_OK;
}

static lcmd_status layernorm_bwd(unet_bwd *b, float *ds, const float *dn, const float *x, size_t g, size_t bias,
                                 const float *mean, const float *rstd, int64_t rows, int64_t c)
{
    RUN(&b->r, lcmd_op_layernorm_bwd(b->r.be, b->r.dt, ds, PG(b, g), PG(b, bias), dn, x, PW(&b->r, g), mean, rstd,
                                     rows, c));
    return LCMD_OK;
}

/* ds: gradient of the block's output stream on entry, of its input stream on return */
static lcmd_status tblock_bwd(unet_bwd *b, const unet_transformer *t, const unet_tblock *k, int64_t hw, float *ds)
{
    unet_run *r = &b->r;
    int64_t rows = r->batch * hw, d = t->inner, ffi = t->ff_inner;
    size_t mark = lcmd_arena_mark(r->arena);
    float *dn, *dffg, *dff1;
    LCMD_TRY(unet_galloc(b, rows * d, &dn));
    /* GEGLU feed-forward: s4 = s3 + ff2(geglu(ff1(n3))) */
    LCMD_TRY(unet_galloc(b, rows * ffi, &dffg));
    RUN(r, lcmd_op_linear_bwd(r->be, r->dt, dffg, PG(b, k->ff2_w), PG(b, k->ff2_b), ds, k->ffg, PW(r, k->ff2_w),
                              rows, ffi, d));
    LCMD_TRY(unet_galloc(b, rows * 2 * ffi, &dff1));
    RUN(r, lcmd_op_geglu_bwd(r->be, r->dt, dff1, dffg, k->ff1, rows, ffi));
    RUN(r, lcmd_op_linear_bwd(r->be, r->dt, dn, PG(b, k->ff1_w), PG(b, k->ff1_b), dff1, k->n3, PW(r, k->ff1_w),
                              rows, d, 2 * ffi));
    LCMD_TRY(layernorm_bwd(b, ds, dn, k->s3, k->norm3_w, k->norm3_b, k->mean3, k->rstd3, rows, d));
    /* cross-attention: no gradient for the encoder states */
    RUN(r, lcmd_op_zero(r->be, dn, (size_t)(rows * d) * sizeof(float)));
    LCMD_TRY(attention_bwd(b, t, &k->attn2, k->n2, hw, r->ctx, r->seq, ds, dn, NULL));
    LCMD_TRY(layernorm_bwd(b, ds, dn, k->s2, k->norm2_w, k->norm2_b, k->mean2, k->rstd2, rows, d));
    /* self-attention */
    RUN(r, lcmd_op_zero(r->be, dn, (size_t)(rows * d) * sizeof(float)));
    LCMD_TRY(attention_bwd(b, t, &k->attn1, k->n1, hw, k->n1, hw, ds, dn, dn));
    LCMD_TRY(layernorm_bwd(b, ds, dn, k->s1, k->norm1_w, k->norm1_b, k->mean1, k->rstd1, rows, d));
    lcmd_arena_release(r->arena, mark);
    return LCMD_OK;
}

/* out = x + proj_out(blocks(proj_in(gn(x)))) */
lcmd_status unet_transformer_bwd(unet_bwd *b, const unet_transformer *nd, const float *dout, int64_t hw, float *dx)
{
    unet_run *r = &b->r;
    int64_t n = r->batch, rows = n * hw, c = nd->c, d = nd->inner;
    size_t mark = lcmd_arena_mark(r->arena);
    if (dx) RUN(r, lcmd_op_axpy(r->be, r->dt, dx, 1.0f, dout, rows * c));
    float *ds, *dgn;
    LCMD_TRY(unet_galloc(b, rows * d, &ds));
    RUN(r, lcmd_op_linear_bwd(r->be, r->dt, ds, PG(b, nd->proj_out_w), PG(b, nd->proj_out_b), dout, nd->last,
                              PW(r, nd->proj_out_w), rows, d, c));
    for (int32_t i = nd->depth - 1; i >= 0; i--) LCMD_TRY(tblock_bwd(b, nd, &nd->blocks[i], hw, ds));
    LCMD_TRY(unet_galloc(b, rows * c, &dgn));
    RUN(r, lcmd_op_linear_bwd(r->be, r->dt, dgn, PG(b, nd->proj_in_w), PG(b, nd->proj_in_b), ds, nd->gn,
                              PW(r, nd->proj_in_w), rows, c, d));
    RUN(r, lcmd_op_groupnorm_bwd(r->be, r->dt, dx, PG(b, nd->norm_w), PG(b, nd->norm_b), dgn, nd->x,
                                 PW(r, nd->norm_w), PW(r, nd->norm_b), nd->mean, nd->rstd, n, hw, c, r->groups, 0));
    lcmd_arena_release(r->arena, mark);
    return LCMD_OK;
}
