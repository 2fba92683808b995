/* ResnetBlock2D ("default" time embedding norm) and the plain convolutions. */
#include "models/unet_run.h"

lcmd_status unet_alloc(unet_run *r, int64_t n, float **out)
{
    *out = NULL;
    size_t bytes = (size_t)n * sizeof(float);
    if (!r->plan) return lcmd_arena_alloc(r->arena, bytes, (void **)out);
    /* the same rounding as the arena, without touching memory */
    size_t rounded = (bytes + LCMD_ARENA_ALIGN - 1) & ~(size_t)(LCMD_ARENA_ALIGN - 1);
    r->arena->used += rounded;
    if (r->arena->used > r->arena->peak) r->arena->peak = r->arena->used;
    return LCMD_OK;
}

/* odd kernel, "same" padding (stride 2 then halves: diffusers' downsample_padding 1) */
lcmd_status unet_conv_fwd(unet_run *r, const float *x, int64_t h, int64_t w, int64_t cin, int64_t cout,
                          int32_t stride, int32_t kernel, size_t w_off, size_t b_off, float *out)
{
    lcmd_conv2d_shape s = {.n = r->batch, .h = h, .w = w, .c_in = cin, .c_out = cout,
                           .kh = kernel, .kw = kernel, .stride = stride, .pad = kernel / 2};
    RUN(r, lcmd_op_conv2d_fwd(r->be, r->dt, &s, out, x, PW(r, w_off), PW(r, b_off)));
    return LCMD_OK;
}

/* out = (shortcut(x) + conv2(silu(gn2(conv1(silu(gn1(x))) + temb_proj(silu(emb)))))) / out_scale */
lcmd_status unet_resnet_fwd(unet_run *r, unet_resnet *nd, const float *x, int64_t h, int64_t w, float *out)
{
    int64_t n = r->batch, hw = h * w, cin = nd->c_in, cout = nd->c_out;
    size_t mark = unet_scratch_mark(r);
    float *tproj, *c1;
    nd->x = x;
    LCMD_TRY(unet_alloc(r, n * hw * cin, &nd->h1));
    LCMD_TRY(unet_alloc(r, n * r->groups, &nd->mean1));
    LCMD_TRY(unet_alloc(r, n * r->groups, &nd->rstd1));
    RUN(r, lcmd_op_groupnorm_fwd(r->be, r->dt, nd->h1, nd->mean1, nd->rstd1, x, PW(r, nd->norm1_w),
                                 PW(r, nd->norm1_b), n, hw, cin, r->groups, r->eps, 1));
    LCMD_TRY(unet_alloc(r, n * hw * cout, &c1));
    LCMD_TRY(unet_conv_fwd(r, nd->h1, h, w, cin, cout, 1, 3, nd->conv1_w, nd->conv1_b, c1));
    LCMD_TRY(unet_alloc(r, n * cout, &tproj));
    RUN(r, lcmd_op_linear_fwd(r->be, r->dt, tproj, r->emb_act, PW(r, nd->temb_w), PW(r, nd->temb_b),
                              n, r->temb_dim, cout));
    /* the time embedding is added in place (ops.h allows out == a for add_bcast) */
    nd->h2 = c1;
    RUN(r, lcmd_op_add_bcast_fwd(r->be, r->dt, nd->h2, c1, tproj, n, hw, cout));
    LCMD_TRY(unet_alloc(r, n * hw * cout, &nd->h3));
    LCMD_TRY(unet_alloc(r, n * r->groups, &nd->mean2));
    LCMD_TRY(unet_alloc(r, n * r->groups, &nd->rstd2));
    RUN(r, lcmd_op_groupnorm_fwd(r->be, r->dt, nd->h3, nd->mean2, nd->rstd2, nd->h2, PW(r, nd->norm2_w),
                                 PW(r, nd->norm2_b), n, hw, cout, r->groups, r->eps, 1));
    /* conv2 straight into out, then the shortcut added on top */
    LCMD_TRY(unet_conv_fwd(r, nd->h3, h, w, cout, cout, 1, 3, nd->conv2_w, nd->conv2_b, out));
    if (nd->has_shortcut) {
        float *sc;
        LCMD_TRY(unet_alloc(r, n * hw * cout, &sc));
        /* a 1x1 conv in NHWC is a linear layer over the pixels */
        RUN(r, lcmd_op_linear_fwd(r->be, r->dt, sc, x, PW(r, nd->short_w), PW(r, nd->short_b), n * hw, cin, cout));
        RUN(r, lcmd_op_add_fwd(r->be, r->dt, out, sc, out, n * hw * cout));
    } else {
        RUN(r, lcmd_op_add_fwd(r->be, r->dt, out, x, out, n * hw * cout));
    }
    if (nd->out_scale != 1.0f) RUN(r, lcmd_op_scale(r->be, r->dt, out, 1.0f / nd->out_scale, n * hw * cout));
    unet_scratch_release(r, mark);
    return LCMD_OK;
}
