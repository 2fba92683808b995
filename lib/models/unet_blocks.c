/* Down, mid and up blocks: resnets (+ transformers), the skip connections between
 * them, and the 2x down/up sampling convolutions. */
#include "models/unet_run.h"

/* One layer: resnet, then the transformer when the block has attention. The layer
 * output is allocated first so that, without kept activations, everything the
 * layer needed inside (the resnet output included) is released after it. */
static lcmd_status layer_fwd(unet_run *r, unet_block *blk, int32_t j, const float *x, int64_t h, int64_t w,
                             float **out)
{
    int64_t rows = r->batch * h * w, c = blk->resnets[j].c_out;
    LCMD_TRY(unet_alloc(r, rows * c, out));
    if (!blk->has_attn) return unet_resnet_fwd(r, &blk->resnets[j], x, h, w, *out);
    size_t mark = unet_scratch_mark(r);
    float *res;
    LCMD_TRY(unet_alloc(r, rows * c, &res));
    LCMD_TRY(unet_resnet_fwd(r, &blk->resnets[j], x, h, w, res));
    LCMD_TRY(unet_transformer_fwd(r, &blk->attns[j], res, h * w, *out));
    unet_scratch_release(r, mark);
    return LCMD_OK;
}

lcmd_status unet_push_skip(unet_run *r, unet_net *net, const float *x, int64_t c)
{
    if (r->skip_top >= net->n_skips)
        return lcmd_set_error(LCMD_ERR_INTERNAL, "unet: skip stack overflow (%d)", net->n_skips);
    net->skip_c[r->skip_top] = c;
    net->skips[r->skip_top++] = x;
    return LCMD_OK;
}

lcmd_status unet_down_block_fwd(unet_run *r, unet_net *net, unet_block *blk, const float **x, int64_t *h, int64_t *w)
{
    for (int32_t j = 0; j < blk->n_layers; j++) {
        LCMD_TRY(layer_fwd(r, blk, j, *x, *h, *w, &blk->outs[j]));
        *x = blk->outs[j];
        LCMD_TRY(unet_push_skip(r, net, *x, blk->c_out));
    }
    if (blk->has_sampler) {
        int64_t ho = (*h + 1) / 2, wo = (*w + 1) / 2;
        LCMD_TRY(unet_alloc(r, r->batch * ho * wo * blk->c_out, &blk->sampler_out));
        LCMD_TRY(unet_conv_fwd(r, *x, *h, *w, blk->c_out, blk->c_out, 2, 3, blk->sampler_w, blk->sampler_b,
                               blk->sampler_out));
        *h = ho;
        *w = wo;
        *x = blk->sampler_out;
        LCMD_TRY(unet_push_skip(r, net, *x, blk->c_out));
    }
    return LCMD_OK;
}

lcmd_status unet_mid_block_fwd(unet_run *r, unet_block *blk, const float **x, int64_t h, int64_t w)
{
    int64_t rows = r->batch * h * w, c = blk->c_out;
    LCMD_TRY(unet_alloc(r, rows * c, &blk->outs[0]));
    LCMD_TRY(unet_resnet_fwd(r, &blk->resnets[0], *x, h, w, blk->outs[0]));
    /* (attention, resnet) pair: same shape as a down layer with the resnet last */
    LCMD_TRY(unet_alloc(r, rows * c, &blk->outs[1]));
    size_t mark = unet_scratch_mark(r);
    float *att;
    LCMD_TRY(unet_alloc(r, rows * c, &att));
    LCMD_TRY(unet_transformer_fwd(r, &blk->attns[0], blk->outs[0], h * w, att));
    LCMD_TRY(unet_resnet_fwd(r, &blk->resnets[1], att, h, w, blk->outs[1]));
    unet_scratch_release(r, mark);
    *x = blk->outs[1];
    return LCMD_OK;
}

lcmd_status unet_up_block_fwd(unet_run *r, unet_net *net, unet_block *blk, const float **x, int64_t *h, int64_t *w)
{
    int64_t rows = r->batch * *h * *w;
    for (int32_t j = 0; j < blk->n_layers; j++) {
        if (r->skip_top <= 0) return lcmd_set_error(LCMD_ERR_INTERNAL, "unet: skip stack underflow");
        r->skip_top--;
        const float *skip = net->skips[r->skip_top];
        int64_t c_skip = net->skip_c[r->skip_top], c_cat = blk->resnets[j].c_in;
        /* torch.cat([hidden, skip], dim=1) is a channel concat in NHWC; the layer
         * output goes below the mark, the concat (the resnet's input) above it */
        int64_t c = blk->resnets[j].c_out;
        LCMD_TRY(unet_alloc(r, rows * c, &blk->outs[j]));
        size_t mark = unet_scratch_mark(r);
        float *cat, *layer_out;
        LCMD_TRY(unet_alloc(r, rows * c_cat, &cat));
        RUN(r, lcmd_op_concat_fwd(r->be, r->dt, cat, *x, skip, rows, c_cat - c_skip, c_skip));
        if (blk->has_attn) {
            LCMD_TRY(unet_alloc(r, rows * c, &layer_out));
            LCMD_TRY(unet_resnet_fwd(r, &blk->resnets[j], cat, *h, *w, layer_out));
            LCMD_TRY(unet_transformer_fwd(r, &blk->attns[j], layer_out, *h * *w, blk->outs[j]));
        } else {
            LCMD_TRY(unet_resnet_fwd(r, &blk->resnets[j], cat, *h, *w, blk->outs[j]));
        }
        unet_scratch_release(r, mark);
        *x = blk->outs[j];
    }
    if (blk->has_sampler) {
        /* nearest 2x, then a 3x3 conv */
        int64_t h2 = 2 * *h, w2 = 2 * *w, c = blk->c_out;
        LCMD_TRY(unet_alloc(r, r->batch * h2 * w2 * c, &blk->sampler_out));
        size_t mark = unet_scratch_mark(r);
        LCMD_TRY(unet_alloc(r, r->batch * h2 * w2 * c, &blk->sampler_in_up));
        RUN(r, lcmd_op_upsample2x_fwd(r->be, r->dt, blk->sampler_in_up, *x, r->batch, *h, *w, c));
        LCMD_TRY(unet_conv_fwd(r, blk->sampler_in_up, h2, w2, c, c, 1, 3, blk->sampler_w, blk->sampler_b,
                               blk->sampler_out));
        unet_scratch_release(r, mark);
        *h = h2;
        *w = w2;
        *x = blk->sampler_out;
    }
    return LCMD_OK;
}
