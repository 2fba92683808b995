/* Backward of the time embedding (TimestepEmbedding with the LCM cond_proj) and of
 * SDXL's add_embedding (see unet_embed.c). The sinusoidal projections have no
 * parameters and the conditions need no gradients, so the chain stops at each
 * MLP's weights (and cond_proj's). */
#include "models/unet_bwd.h"

/* out = linear_2(silu(linear_1(in))), in = t_proj + cond_proj(cond) when has_cond */
static lcmd_status mlp_bwd(unet_bwd *b, const unet_embed *e, const float *dout, int64_t cond_dim)
{
    unet_run *r = &b->r;
    int64_t n = r->batch;
    size_t mark = lcmd_arena_mark(r->arena);
    float *dact, *dh, *din = NULL;
    LCMD_TRY(unet_galloc(b, n * e->dim, &dact));
    RUN(r, lcmd_op_linear_bwd(r->be, r->dt, dact, PG(b, e->lin2_w), PG(b, e->lin2_b), dout, e->h_act,
                              PW(r, e->lin2_w), n, e->dim, e->dim));
    LCMD_TRY(unet_galloc(b, n * e->dim, &dh));
    RUN(r, lcmd_op_act_bwd(r->be, r->dt, LCMD_ACT_SILU, dh, dact, e->h, n * e->dim));
    if (e->has_cond) LCMD_TRY(unet_galloc(b, n * e->in_dim, &din));
    RUN(r, lcmd_op_linear_bwd(r->be, r->dt, din, PG(b, e->lin1_w), PG(b, e->lin1_b), dh, e->in, PW(r, e->lin1_w),
                              n, e->in_dim, e->dim));
    if (e->has_cond)
        RUN(r, lcmd_op_linear_bwd(r->be, r->dt, NULL, PG(b, e->cond_w), NULL, din, e->cond, PW(r, e->cond_w), n,
                                  cond_dim, e->in_dim));
    lcmd_arena_release(r->arena, mark);
    return LCMD_OK;
}

lcmd_status unet_embed_bwd(unet_bwd *b, const unet_net *net)
{
    unet_run *r = &b->r;
    int64_t n = r->batch, td = net->temb_dim;
    size_t mark = lcmd_arena_mark(r->arena);
    float *demb;
    LCMD_TRY(unet_galloc(b, n * td, &demb));
    RUN(r, lcmd_op_act_bwd(r->be, r->dt, LCMD_ACT_SILU, demb, b->d_emb_act, net->emb, n * td));
    LCMD_TRY(mlp_bwd(b, &net->time, demb, net->cfg.time_cond_proj_dim));
    /* emb = time(t) + add(...): both get the whole gradient */
    if (net->has_add) LCMD_TRY(mlp_bwd(b, &net->add, demb, 0));
    lcmd_arena_release(r->arena, mark);
    return LCMD_OK;
}
