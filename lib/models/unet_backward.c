/* UNet backward: the contract checks, the backward arena and its planning, the
 * host-side layout change and the walk of the node tree in reverse:
 * conv_out <- GroupNorm+SiLU <- up blocks <- mid block <- down blocks <- conv_in,
 * then the time embedding from the gradient every resnet left in d_emb_act. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "models/unet.h"
#include "models/unet_bwd.h"

#define FN "lcmd_unet_model_backward"

/* Resolutions of the forward: hd/wd the input of each down block, hu/wu of each up
 * block, hm/wm the mid block's; skip_rows the pixels (batch included) of each skip. */
typedef struct bwd_shapes {
    int64_t hd[LCMD_UNET_MAX_BLOCKS], wd[LCMD_UNET_MAX_BLOCKS];
    int64_t hu[LCMD_UNET_MAX_BLOCKS], wu[LCMD_UNET_MAX_BLOCKS];
    int64_t hm, wm;
} bwd_shapes;

static void shapes_of(const lcmd_unet_model *m, bwd_shapes *sh)
{
    const unet_net *net = &m->net;
    int64_t h = m->fwd_height, w = m->fwd_width;
    for (int32_t i = 0; i < m->cfg.num_blocks; i++) {
        sh->hd[i] = h;
        sh->wd[i] = w;
        if (net->down[i].has_sampler) {
            h = (h + 1) / 2;
            w = (w + 1) / 2;
        }
    }
    sh->hm = h;
    sh->wm = w;
    for (int32_t i = 0; i < m->cfg.num_blocks; i++) {
        sh->hu[i] = h;
        sh->wu[i] = w;
        if (net->up[i].has_sampler) {
            h *= 2;
            w *= 2;
        }
    }
}

/* one zeroed gradient per skip tensor, at the resolution it was pushed at */
static lcmd_status alloc_skip_grads(unet_bwd *b, const lcmd_unet_model *m, const bwd_shapes *sh)
{
    const unet_net *net = &m->net;
    int32_t s = 0;
    int64_t n = b->r.batch;
    LCMD_TRY(unet_galloc(b, n * m->fwd_height * m->fwd_width * net->skip_c[s], &b->dskip[s]));
    s++;
    for (int32_t i = 0; i < m->cfg.num_blocks; i++) {
        const unet_block *blk = &net->down[i];
        int32_t pushes = blk->n_layers + (blk->has_sampler ? 1 : 0);
        for (int32_t j = 0; j < pushes; j++, s++) {
            if (s >= net->n_skips) return lcmd_set_error(LCMD_ERR_INTERNAL, "unet backward: too many skips");
            int64_t hw = j < blk->n_layers ? sh->hd[i] * sh->wd[i] : ((sh->hd[i] + 1) / 2) * ((sh->wd[i] + 1) / 2);
            LCMD_TRY(unet_galloc(b, n * hw * net->skip_c[s], &b->dskip[s]));
        }
    }
    if (s != net->n_skips) return lcmd_set_error(LCMD_ERR_INTERNAL, "unet backward: %d of %d skips", s, net->n_skips);
    return LCMD_OK;
}

static const float *block_out(const unet_block *blk)
{
    return blk->has_sampler ? blk->sampler_out : blk->outs[blk->n_layers - 1];
}

/* The whole backward; dout_nhwc is host memory (NULL while planning); *dsample gets
 * the device NHWC gradient of the sample when want_dsample. */
static lcmd_status backward_pass(lcmd_unet_model *m, unet_bwd *b, const float *dout_nhwc, int want_dsample,
                                 float **dsample)
{
    unet_net *net = &m->net;
    const lcmd_unet_config *c = &m->cfg;
    unet_run *r = &b->r;
    int64_t n = r->batch, hh = m->fwd_height, ww = m->fwd_width, rows = n * hh * ww, nb = c->num_blocks;
    bwd_shapes sh;
    shapes_of(m, &sh);
    if (b->pp_cap) {
        LCMD_TRY(unet_alloc(r, b->pp_cap, &b->pp[0]));
        LCMD_TRY(unet_alloc(r, b->pp_cap, &b->pp[1]));
    }
    LCMD_TRY(alloc_skip_grads(b, m, &sh));
    LCMD_TRY(unet_galloc(b, n * net->temb_dim, &b->d_emb_act));

    /* conv_out <- GroupNorm + SiLU */
    float *dfinal, *dnorm, *dh;
    LCMD_TRY(unet_alloc(r, rows * c->out_channels, &dfinal));
    RUN(r, lcmd_op_upload(r->be, dfinal, dout_nhwc, (size_t)(rows * c->out_channels) * sizeof(float)));
    LCMD_TRY(unet_pp_next(b, rows * net->c0, &dnorm));
    LCMD_TRY(unet_conv_bwd(b, net->norm_out, hh, ww, net->c0, c->out_channels, 1, c->conv_out_kernel,
                           net->conv_out_w, net->conv_out_b, dfinal, dnorm));
    LCMD_TRY(unet_pp_next(b, rows * net->c0, &dh));
    RUN(r, lcmd_op_groupnorm_bwd(r->be, r->dt, dh, PG(b, net->norm_out_w), PG(b, net->norm_out_b), dnorm,
                                 block_out(&net->up[nb - 1]), PW(r, net->norm_out_w), PW(r, net->norm_out_b),
                                 net->norm_mean, net->norm_rstd, n, hh * ww, net->c0, r->groups, 1));

    /* up blocks, mid block: the running gradient in the ping-pong buffers */
    const float *d = dh;
    int32_t skip = 0;
    const float *down_out = net->skips[net->n_skips - 1];
    const float *mid_out = net->has_mid ? net->mid.outs[1] : down_out;
    for (int32_t i = (int32_t)nb - 1; i >= 0; i--) {
        const float *x = i ? block_out(&net->up[i - 1]) : mid_out;
        LCMD_TRY(unet_up_block_bwd(b, net, &net->up[i], x, &d, &skip, sh.hu[i], sh.wu[i]));
    }
    if (skip != net->n_skips) return lcmd_set_error(LCMD_ERR_INTERNAL, "unet backward: %d skips consumed", skip);
    float *dlast = b->dskip[net->n_skips - 1];
    if (net->has_mid)
        LCMD_TRY(unet_mid_block_bwd(b, &net->mid, down_out, d, sh.hm, sh.wm, dlast));
    else
        RUN(r, lcmd_op_axpy(r->be, r->dt, dlast, 1.0f, d, n * sh.hm * sh.wm * net->skip_c[net->n_skips - 1]));

    /* down blocks: the gradients of their outputs are the skip gradients */
    skip = net->n_skips - 1;
    for (int32_t i = (int32_t)nb - 1; i >= 0; i--)
        LCMD_TRY(unet_down_block_bwd(b, net, &net->down[i], &skip, sh.hd[i], sh.wd[i]));
    if (skip != 0) return lcmd_set_error(LCMD_ERR_INTERNAL, "unet backward: ended at skip %d", skip);

    *dsample = NULL;
    if (want_dsample) LCMD_TRY(unet_galloc(b, rows * c->in_channels, dsample));
    LCMD_TRY(unet_conv_bwd(b, net->sample, hh, ww, c->in_channels, net->c0, 1, c->conv_in_kernel, net->conv_in_w,
                           net->conv_in_b, b->dskip[0], *dsample));
    return unet_embed_bwd(b, net);
}

static void init_bwd(lcmd_unet_model *m, lcmd_arena *arena, int plan, float *grad, float **dskip, unet_bwd *b)
{
    memset(b, 0, sizeof *b);
    unet_run *r = &b->r;
    r->be = m->be;
    r->dt = LCMD_DT_F32;
    r->w = m->param_mem;
    r->arena = arena;
    r->plan = plan;
    r->keep = 1;
    r->batch = m->fwd_batch;
    r->seq = m->fwd_seq;
    r->ctx = m->net.ctx;
    r->emb_act = m->net.emb_act;
    r->temb_dim = m->net.temb_dim;
    r->groups = m->cfg.norm_num_groups;
    r->eps = (float)m->cfg.norm_eps;
    b->g = grad;
    b->dskip = dskip;
    b->recompute = m->bwd_recompute;
}

/* Two dry runs: the first finds the largest running gradient, the second counts
 * the bytes with the ping-pong buffers of that size. */
static lcmd_status ensure_bwd_arena(lcmd_unet_model *m, float **dskip)
{
    int64_t hw = m->fwd_height * m->fwd_width;
    if (m->bwd_mem && m->bwd_plan_batch == m->fwd_batch && m->bwd_plan_hw == hw && m->bwd_plan_seq == m->fwd_seq &&
        m->bwd_plan_recompute == m->bwd_recompute)
        return LCMD_OK;
    unet_bwd b;
    float *ds;
    lcmd_arena counter = {NULL, SIZE_MAX, 0, 0};
    init_bwd(m, &counter, 1, NULL, dskip, &b);
    LCMD_TRY(backward_pass(m, &b, NULL, 1, &ds));
    int64_t cap = b.pp_need;
    lcmd_arena counter2 = {NULL, SIZE_MAX, 0, 0};
    init_bwd(m, &counter2, 1, NULL, dskip, &b);
    b.pp_cap = cap;
    LCMD_TRY(backward_pass(m, &b, NULL, 1, &ds));
    if (counter2.peak > m->bwd_bytes) {
        if (m->bwd_mem) lcmd_op_free(m->be, m->bwd_mem);
        m->bwd_mem = NULL;
        m->bwd_bytes = 0;
        LCMD_TRY(lcmd_op_alloc(m->be, counter2.peak, &m->bwd_mem));
        m->bwd_bytes = counter2.peak;
    }
    m->bwd_pp_cap = cap;
    m->bwd_plan_batch = m->fwd_batch;
    m->bwd_plan_hw = hw;
    m->bwd_plan_seq = m->fwd_seq;
    m->bwd_plan_recompute = m->bwd_recompute;
    return LCMD_OK;
}

static lcmd_status run_backward(lcmd_unet_model *m, const float *dout_nchw, float *grad_params, float *dsample_nchw,
                                float **dskip, float *host)
{
    const lcmd_unet_config *c = &m->cfg;
    int64_t n = m->fwd_batch, hw = m->fwd_height * m->fwd_width;
    /* [n, c, hw] -> [n, hw, c] */
    for (int64_t i = 0; i < n; i++)
        for (int64_t ch = 0; ch < c->out_channels; ch++)
            for (int64_t p = 0; p < hw; p++)
                host[(i * hw + p) * c->out_channels + ch] = dout_nchw[(i * c->out_channels + ch) * hw + p];
    LCMD_TRY(ensure_bwd_arena(m, dskip));
    lcmd_arena arena;
    lcmd_arena_init(&arena, m->bwd_mem, m->bwd_bytes);
    unet_bwd b;
    init_bwd(m, &arena, 0, grad_params, dskip, &b);
    b.pp_cap = m->bwd_pp_cap;
    float *ds = NULL;
    LCMD_TRY(backward_pass(m, &b, host, dsample_nchw != NULL, &ds));
    if (!dsample_nchw) return LCMD_OK;
    int64_t cin = c->in_channels;
    float *tmp = host + n * hw * c->out_channels;
    LCMD_TRY(lcmd_op_download(m->be, tmp, ds, (size_t)(n * hw * cin) * sizeof(float)));
    /* center_input_sample fed 2 * sample - 1 to conv_in */
    float k = c->center_input_sample ? 2.0f : 1.0f;
    for (int64_t i = 0; i < n; i++)
        for (int64_t p = 0; p < hw; p++)
            for (int64_t ch = 0; ch < cin; ch++) dsample_nchw[(i * cin + ch) * hw + p] = k * tmp[(i * hw + p) * cin + ch];
    return LCMD_OK;
}

lcmd_status lcmd_unet_model_backward(lcmd_unet_model *m, lcmd_backend *be, const float *dout_nchw,
                                     float *grad_params, float *dsample_nchw)
{
    LCMD_CHECK_ARG(m && be && dout_nchw && grad_params, FN, "m, be, dout_nchw or grad_params is NULL");
    LCMD_CHECK_ARG(be == m->be, FN, "be is not the backend the model was created on");
    LCMD_CHECK_ARG(m->bwd_ready, FN,
                   "no saved activations: run lcmd_unet_model_forward with keep_activations = 1 first "
                   "(and no other forward or plan call in between)");
    const lcmd_unet_config *c = &m->cfg;
    int64_t n = m->fwd_batch, hw = m->fwd_height * m->fwd_width, out_n = n * hw * c->out_channels;
    for (int64_t i = 0; i < out_n; i++)
        if (!isfinite(dout_nchw[i]))
            return lcmd_set_error(LCMD_ERR_NUMERIC, FN ": dout[%lld] = %g is not finite", (long long)i,
                                  (double)dout_nchw[i]);
    float **dskip = calloc((size_t)m->net.n_skips, sizeof *dskip);
    float *host = malloc((size_t)(out_n + n * hw * c->in_channels) * sizeof(float));
    lcmd_status s = LCMD_OK;
    if (!dskip || !host)
        s = lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, FN ": out of memory");
    else
        s = run_backward(m, dout_nchw, grad_params, dsample_nchw, dskip, host);
    free(dskip);
    free(host);
    return s;
}
