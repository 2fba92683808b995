/* Backward of ResnetBlock2D and of the plain convolutions, and the gradient
 * buffer helpers of the backward. */
#include "models/unet_bwd.h"

lcmd_status unet_galloc(unet_bwd *b, int64_t n, float **out)
{
    LCMD_TRY(unet_alloc(&b->r, n, out));
    RUN(&b->r, lcmd_op_zero(b->r.be, *out, (size_t)n * sizeof(float)));
    return LCMD_OK;
}

lcmd_status unet_pp_next(unet_bwd *b, int64_t n, float **out)
{
    *out = NULL;
    if (n > b->pp_need) b->pp_need = n;
    if (b->r.plan) return LCMD_OK;
    if (n > b->pp_cap)
        return lcmd_set_error(LCMD_ERR_INTERNAL, "unet backward: %lld floats exceed the planned %lld",
                              (long long)n, (long long)b->pp_cap);
    b->pp_cur ^= 1;
    *out = b->pp[b->pp_cur];
    return lcmd_op_zero(b->r.be, *out, (size_t)n * sizeof(float));
}

lcmd_status unet_conv_bwd(unet_bwd *b, const float *x, int64_t h, int64_t w, int64_t cin, int64_t cout,
                          int32_t stride, int32_t kernel, size_t w_off, size_t b_off, const float *dout, float *dx)
{
    lcmd_conv2d_shape s = {.n = b->r.batch, .h = h, .w = w, .c_in = cin, .c_out = cout,
                           .kh = kernel, .kw = kernel, .stride = stride, .pad = kernel / 2};
    RUN(&b->r, lcmd_op_conv2d_bwd(b->r.be, b->r.dt, &s, dx, PG(b, w_off), PG(b, b_off), dout, x, PW(&b->r, w_off)));
    return LCMD_OK;
}

/* out = (shortcut(x) + conv2(h3)) / s, h3 = silu(gn2(h2)), h2 = conv1(h1) + temb_proj(silu(emb)),
 * h1 = silu(gn1(x)): see unet_resnet_fwd */
lcmd_status unet_resnet_bwd(unet_bwd *b, const unet_resnet *nd, const float *dout, int64_t h, int64_t w, float *dx)
{
    unet_run *r = &b->r;
    int64_t n = r->batch, hw = h * w, rows = n * hw, cin = nd->c_in, cout = nd->c_out;
    size_t mark = lcmd_arena_mark(r->arena);
    const float *dy = dout;
    if (nd->out_scale != 1.0f) {
        float *scaled;
        LCMD_TRY(unet_galloc(b, rows * cout, &scaled));
        RUN(r, lcmd_op_axpy(r->be, r->dt, scaled, 1.0f / nd->out_scale, dout, rows * cout));
        dy = scaled;
    }
    if (nd->has_shortcut)
        RUN(r, lcmd_op_linear_bwd(r->be, r->dt, dx, PG(b, nd->short_w), PG(b, nd->short_b), dy, nd->x,
                                  PW(r, nd->short_w), rows, cin, cout));
    else if (dx)
        RUN(r, lcmd_op_axpy(r->be, r->dt, dx, 1.0f, dy, rows * cout));
    float *dh3, *dh2, *dtproj, *dh1;
    LCMD_TRY(unet_galloc(b, rows * cout, &dh3));
    LCMD_TRY(unet_conv_bwd(b, nd->h3, h, w, cout, cout, 1, 3, nd->conv2_w, nd->conv2_b, dy, dh3));
    LCMD_TRY(unet_galloc(b, rows * cout, &dh2));
    RUN(r, lcmd_op_groupnorm_bwd(r->be, r->dt, dh2, PG(b, nd->norm2_w), PG(b, nd->norm2_b), dh3, nd->h2,
                                 PW(r, nd->norm2_w), PW(r, nd->norm2_b), nd->mean2, nd->rstd2, n, hw, cout,
                                 r->groups, 1));
    /* h2 = c1 + tproj broadcast over the pixels: dc1 = dh2, dtproj = sum over pixels */
    LCMD_TRY(unet_galloc(b, n * cout, &dtproj));
    RUN(r, lcmd_op_add_bcast_bwd(r->be, r->dt, NULL, dtproj, dh2, n, hw, cout));
    RUN(r, lcmd_op_linear_bwd(r->be, r->dt, b->d_emb_act, PG(b, nd->temb_w), PG(b, nd->temb_b), dtproj,
                              r->emb_act, PW(r, nd->temb_w), n, r->temb_dim, cout));
    LCMD_TRY(unet_galloc(b, rows * cin, &dh1));
    LCMD_TRY(unet_conv_bwd(b, nd->h1, h, w, cin, cout, 1, 3, nd->conv1_w, nd->conv1_b, dh2, dh1));
    RUN(r, lcmd_op_groupnorm_bwd(r->be, r->dt, dx, PG(b, nd->norm1_w), PG(b, nd->norm1_b), dh1, nd->x,
                                 PW(r, nd->norm1_w), PW(r, nd->norm1_b), nd->mean1, nd->rstd1, n, hw, cin,
                                 r->groups, 1));
    lcmd_arena_release(r->arena, mark);
    return LCMD_OK;
}
