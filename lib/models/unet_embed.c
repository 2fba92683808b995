/* The time embedding (Timesteps + TimestepEmbedding, with the LCM cond_proj) and
 * SDXL's "text_time" add_embedding, summed into emb; SiLU(emb) is computed once
 * here because every resnet applies it before its time_emb_proj. */
#include "models/unet_run.h"

#define MAX_PERIOD 10000.0f

/* TimestepEmbedding: linear_2(silu(linear_1(in + cond_proj(cond)))) */
static lcmd_status embed_mlp(unet_run *r, unet_embed *e, const float *in, const float *cond, int64_t cond_dim,
                             float *out)
{
    int64_t n = r->batch;
    /* decided by the config, not the pointer: the planning pass has no data */
    e->cond = cond;
    if (e->has_cond) {
        float *c;
        LCMD_TRY(unet_alloc(r, n * e->in_dim, &c));
        RUN(r, lcmd_op_linear_fwd(r->be, r->dt, c, cond, PW(r, e->cond_w), NULL, n, cond_dim, e->in_dim));
        LCMD_TRY(unet_alloc(r, n * e->in_dim, &e->in));
        RUN(r, lcmd_op_add_fwd(r->be, r->dt, e->in, in, c, n * e->in_dim));
    } else {
        e->in = (float *)in;
    }
    LCMD_TRY(unet_alloc(r, n * e->dim, &e->h));
    LCMD_TRY(unet_alloc(r, n * e->dim, &e->h_act));
    RUN(r, lcmd_op_linear_fwd(r->be, r->dt, e->h, e->in, PW(r, e->lin1_w), PW(r, e->lin1_b), n, e->in_dim, e->dim));
    RUN(r, lcmd_op_act_fwd(r->be, r->dt, LCMD_ACT_SILU, e->h_act, e->h, n * e->dim));
    RUN(r, lcmd_op_linear_fwd(r->be, r->dt, out, e->h_act, PW(r, e->lin2_w), PW(r, e->lin2_b), n, e->dim, e->dim));
    return LCMD_OK;
}

lcmd_status unet_embed_fwd(unet_run *r, unet_net *net, const float *t, const float *cond,
                           const float *text_embeds, const float *time_ids)
{
    const lcmd_unet_config *c = &net->cfg;
    int64_t n = r->batch, td = net->temb_dim;
    float shift = (float)c->freq_shift;
    LCMD_TRY(unet_alloc(r, n * net->c0, &net->t_proj));
    RUN(r, lcmd_op_timestep_emb_fwd(r->be, r->dt, net->t_proj, t, n, net->c0, c->flip_sin_to_cos, shift, 1.0f,
                                    MAX_PERIOD));
    LCMD_TRY(unet_alloc(r, n * td, &net->emb));
    LCMD_TRY(embed_mlp(r, &net->time, net->t_proj, cond, c->time_cond_proj_dim, net->emb));
    if (net->has_add) {
        /* the 6 ids of a sample embed to 6 rows, which read as one [6 * dim] row */
        int64_t ad = c->addition_time_embed_dim, te = lcmd_unet_text_embed_dim(c);
        float *aug;
        LCMD_TRY(unet_alloc(r, n * 6 * ad, &net->add_time_proj));
        RUN(r, lcmd_op_timestep_emb_fwd(r->be, r->dt, net->add_time_proj, time_ids, n * 6, ad, c->flip_sin_to_cos,
                                        shift, 1.0f, MAX_PERIOD));
        LCMD_TRY(unet_alloc(r, n * (te + 6 * ad), &net->add_in));
        RUN(r, lcmd_op_concat_fwd(r->be, r->dt, net->add_in, text_embeds, net->add_time_proj, n, te, 6 * ad));
        LCMD_TRY(unet_alloc(r, n * td, &aug));
        LCMD_TRY(embed_mlp(r, &net->add, net->add_in, NULL, 0, aug));
        RUN(r, lcmd_op_add_fwd(r->be, r->dt, net->emb, net->emb, aug, n * td));
    }
    LCMD_TRY(unet_alloc(r, n * td, &net->emb_act));
    RUN(r, lcmd_op_act_fwd(r->be, r->dt, LCMD_ACT_SILU, net->emb_act, net->emb, n * td));
    r->emb_act = net->emb_act;
    r->temb_dim = td;
    return LCMD_OK;
}
