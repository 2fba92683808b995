/* Backward of the down, mid and up blocks (see unet_blocks.c): the layers in
 * reverse, the skip concatenations split into the hidden path's gradient and the
 * skip's (accumulated into the down-path output it came from), and the samplers.
 * With b->recompute (gradient checkpointing) each layer's forward is rerun from its
 * kept input, keeping its intermediates in the backward arena, right before its
 * backward, and released with the layer's gradient scratch. */
#include "models/unet_bwd.h"

/* checkpointing: resnet (+ transformer) forward of layer j from x, saving into the nodes */
static lcmd_status layer_refwd(unet_bwd *b, unet_block *blk, int32_t j, const float *x, int64_t h, int64_t w)
{
    float *res, *out;
    int64_t n = b->r.batch * h * w * blk->resnets[j].c_out;
    LCMD_TRY(unet_alloc(&b->r, n, &res));
    LCMD_TRY(unet_resnet_fwd(&b->r, &blk->resnets[j], x, h, w, res));
    if (!blk->has_attn) return LCMD_OK;
    LCMD_TRY(unet_alloc(&b->r, n, &out));
    return unet_transformer_fwd(&b->r, &blk->attns[j], res, h * w, out);
}

/* resnet (+ transformer) with input x: dout -> dx (+=) */
static lcmd_status layer_bwd(unet_bwd *b, unet_block *blk, int32_t j, const float *x, const float *dout, int64_t h,
                             int64_t w, float *dx)
{
    size_t mark = lcmd_arena_mark(b->r.arena);
    if (b->recompute) LCMD_TRY(layer_refwd(b, blk, j, x, h, w));
    if (!blk->has_attn) {
        LCMD_TRY(unet_resnet_bwd(b, &blk->resnets[j], dout, h, w, dx));
        lcmd_arena_release(b->r.arena, mark);
        return LCMD_OK;
    }
    float *dres;
    LCMD_TRY(unet_galloc(b, b->r.batch * h * w * blk->resnets[j].c_out, &dres));
    LCMD_TRY(unet_transformer_bwd(b, &blk->attns[j], dout, h * w, dres));
    LCMD_TRY(unet_resnet_bwd(b, &blk->resnets[j], dres, h, w, dx));
    lcmd_arena_release(b->r.arena, mark);
    return LCMD_OK;
}

static lcmd_status check_skip(int32_t s, int32_t n_skips)
{
    if (s < 1 || s >= n_skips) return lcmd_set_error(LCMD_ERR_INTERNAL, "unet backward: skip index %d", s);
    return LCMD_OK;
}

lcmd_status unet_down_block_bwd(unet_bwd *b, const unet_net *net, unet_block *blk, int32_t *skip,
                                int64_t h, int64_t w)
{
    int32_t s = *skip;
    if (blk->has_sampler) {
        /* skips[s] = conv_stride2(skips[s - 1]) */
        LCMD_TRY(check_skip(s, net->n_skips));
        LCMD_TRY(unet_conv_bwd(b, net->skips[s - 1], h, w, blk->c_out, blk->c_out, 2, 3, blk->sampler_w,
                               blk->sampler_b, b->dskip[s], b->dskip[s - 1]));
        s--;
    }
    for (int32_t j = blk->n_layers - 1; j >= 0; j--) {
        LCMD_TRY(check_skip(s, net->n_skips));
        LCMD_TRY(layer_bwd(b, blk, j, net->skips[s - 1], b->dskip[s], h, w, b->dskip[s - 1]));
        s--;
    }
    *skip = s;
    return LCMD_OK;
}

lcmd_status unet_mid_block_bwd(unet_bwd *b, const unet_block *blk, const float *x, const float *dout, int64_t h,
                               int64_t w, float *dx)
{
    int64_t rows = b->r.batch * h * w, c = blk->c_out;
    size_t mark = lcmd_arena_mark(b->r.arena);
    float *datt, *dres;
    if (b->recompute) {
        /* resnet, transformer, resnet: outs[0] (the transformer's input) was kept */
        float *res, *att, *out;
        LCMD_TRY(unet_alloc(&b->r, rows * c, &res));
        LCMD_TRY(unet_resnet_fwd(&b->r, &blk->resnets[0], x, h, w, res));
        LCMD_TRY(unet_alloc(&b->r, rows * c, &att));
        LCMD_TRY(unet_transformer_fwd(&b->r, &blk->attns[0], blk->outs[0], h * w, att));
        LCMD_TRY(unet_alloc(&b->r, rows * c, &out));
        LCMD_TRY(unet_resnet_fwd(&b->r, &blk->resnets[1], att, h, w, out));
    }
    LCMD_TRY(unet_galloc(b, rows * c, &datt));
    LCMD_TRY(unet_resnet_bwd(b, &blk->resnets[1], dout, h, w, datt));
    LCMD_TRY(unet_galloc(b, rows * c, &dres));
    LCMD_TRY(unet_transformer_bwd(b, &blk->attns[0], datt, h * w, dres));
    LCMD_TRY(unet_resnet_bwd(b, &blk->resnets[0], dres, h, w, dx));
    lcmd_arena_release(b->r.arena, mark);
    return LCMD_OK;
}

lcmd_status unet_up_block_bwd(unet_bwd *b, const unet_net *net, unet_block *blk, const float *x, const float **d,
                              int32_t *skip, int64_t h, int64_t w)
{
    unet_run *r = &b->r;
    int64_t n = r->batch, rows = n * h * w;
    if (blk->has_sampler) {
        /* out = conv3x3(nearest2x(x)) */
        int64_t c = blk->c_out;
        size_t mark = lcmd_arena_mark(r->arena);
        float *dup, *dx;
        if (b->recompute) {
            LCMD_TRY(unet_alloc(r, n * 4 * h * w * c, &blk->sampler_in_up));
            RUN(r, lcmd_op_upsample2x_fwd(r->be, r->dt, blk->sampler_in_up, blk->outs[blk->n_layers - 1], n, h, w, c));
        }
        LCMD_TRY(unet_galloc(b, n * 4 * h * w * c, &dup));
        LCMD_TRY(unet_conv_bwd(b, blk->sampler_in_up, 2 * h, 2 * w, c, c, 1, 3, blk->sampler_w, blk->sampler_b, *d,
                               dup));
        LCMD_TRY(unet_pp_next(b, rows * c, &dx));
        RUN(r, lcmd_op_upsample2x_bwd(r->be, r->dt, dx, dup, n, h, w, c));
        lcmd_arena_release(r->arena, mark);
        *d = dx;
    }
    for (int32_t j = blk->n_layers - 1; j >= 0; j--) {
        int32_t s = (*skip)++;
        if (s < 0 || s >= net->n_skips) return lcmd_set_error(LCMD_ERR_INTERNAL, "unet backward: skip %d", s);
        int64_t c_cat = blk->resnets[j].c_in, c_skip = net->skip_c[s], c_hid = c_cat - c_skip;
        size_t mark = lcmd_arena_mark(r->arena);
        float *dcat, *dx, *cat = NULL;
        if (b->recompute) {
            LCMD_TRY(unet_alloc(r, rows * c_cat, &cat));
            RUN(r, lcmd_op_concat_fwd(r->be, r->dt, cat, j ? blk->outs[j - 1] : x, net->skips[s], rows, c_hid, c_skip));
        }
        LCMD_TRY(unet_galloc(b, rows * c_cat, &dcat));
        LCMD_TRY(layer_bwd(b, blk, j, cat, *d, h, w, dcat));
        /* cat = [hidden | skip] along channels */
        LCMD_TRY(unet_pp_next(b, rows * c_hid, &dx));
        RUN(r, lcmd_op_concat_bwd(r->be, r->dt, dx, b->dskip[s], dcat, rows, c_hid, c_skip));
        lcmd_arena_release(r->arena, mark);
        *d = dx;
    }
    return LCMD_OK;
}
