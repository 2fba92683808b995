/* The AutoencoderKL's layers: ResnetBlock2D (no time embedding), the mid block's
 * spatial attention, Downsample2D with diffusers' (0, 1, 0, 1) padding, Upsample2D,
 * and the Encoder / Decoder stacks. All GroupNorms use eps 1e-6 (resnet_eps). */
#include <math.h>

#include "models/unet_run.h"
#include "models/vae.h"

#define EPS 1e-6f

static lcmd_status groupnorm(unet_run *r, float *out, const float *x, size_t g, size_t b, int64_t hw, int64_t c,
                             int silu)
{
    float *mean, *rstd;
    LCMD_TRY(unet_alloc(r, r->batch * r->groups, &mean));
    LCMD_TRY(unet_alloc(r, r->batch * r->groups, &rstd));
    RUN(r, lcmd_op_groupnorm_fwd(r->be, r->dt, out, mean, rstd, x, PW(r, g), PW(r, b), r->batch, hw, c, r->groups,
                                 EPS, silu));
    return LCMD_OK;
}

/* out = shortcut(x) + conv2(silu(gn2(conv1(silu(gn1(x)))))) (output_scale_factor 1) */
lcmd_status vae_resnet_fwd(unet_run *r, const vae_resnet *nd, const float *x, int64_t h, int64_t w, float *out)
{
    int64_t rows = r->batch * h * w, cin = nd->c_in, cout = nd->c_out;
    size_t mark = lcmd_arena_mark(r->arena);
    float *h1, *h2, *h3;
    LCMD_TRY(unet_alloc(r, rows * cin, &h1));
    LCMD_TRY(groupnorm(r, h1, x, nd->norm1_w, nd->norm1_b, h * w, cin, 1));
    LCMD_TRY(unet_alloc(r, rows * cout, &h2));
    LCMD_TRY(unet_conv_fwd(r, h1, h, w, cin, cout, 1, 3, nd->conv1_w, nd->conv1_b, h2));
    LCMD_TRY(unet_alloc(r, rows * cout, &h3));
    LCMD_TRY(groupnorm(r, h3, h2, nd->norm2_w, nd->norm2_b, h * w, cout, 1));
    LCMD_TRY(unet_conv_fwd(r, h3, h, w, cout, cout, 1, 3, nd->conv2_w, nd->conv2_b, out));
    if (nd->has_shortcut) {
        /* a 1x1 conv in NHWC is a linear layer over the pixels; h2 is free again */
        RUN(r, lcmd_op_linear_fwd(r->be, r->dt, h2, x, PW(r, nd->short_w), PW(r, nd->short_b), rows, cin, cout));
        RUN(r, lcmd_op_add_fwd(r->be, r->dt, out, out, h2, rows * cout));
    } else {
        RUN(r, lcmd_op_add_fwd(r->be, r->dt, out, out, x, rows * cout));
    }
    lcmd_arena_release(r->arena, mark);
    return LCMD_OK;
}

/* out = x + to_out(attention(to_q(gn(x)), to_k(gn(x)), to_v(gn(x)))): one head of
 * width c over the h*w pixel tokens */
lcmd_status vae_attn_fwd(unet_run *r, const vae_attn *nd, const float *x, int64_t hw, float *out)
{
    int64_t n = r->batch, rows = n * hw, c = nd->c;
    size_t mark = lcmd_arena_mark(r->arena);
    float *g, *q, *k, *v, *lse;
    LCMD_TRY(unet_alloc(r, rows * c, &g));
    LCMD_TRY(groupnorm(r, g, x, nd->norm_w, nd->norm_b, hw, c, 0));
    LCMD_TRY(unet_alloc(r, rows * c, &q));
    LCMD_TRY(unet_alloc(r, rows * c, &k));
    LCMD_TRY(unet_alloc(r, rows * c, &v));
    LCMD_TRY(unet_alloc(r, n * hw, &lse));
    RUN(r, lcmd_op_linear_fwd(r->be, r->dt, q, g, PW(r, nd->q_w), PW(r, nd->q_b), rows, c, c));
    RUN(r, lcmd_op_linear_fwd(r->be, r->dt, k, g, PW(r, nd->k_w), PW(r, nd->k_b), rows, c, c));
    RUN(r, lcmd_op_linear_fwd(r->be, r->dt, v, g, PW(r, nd->v_w), PW(r, nd->v_b), rows, c, c));
    lcmd_attn_shape s = {.b = n, .heads = 1, .sq = hw, .skv = hw, .head_dim = c, .ldq = c, .ldk = c, .ldv = c,
                         .ldo = c, .scale = (float)(1.0 / sqrt((double)c)), .causal = 0};
    RUN(r, lcmd_op_attention_fwd(r->be, r->dt, &s, g, lse, q, k, v));   /* g is free after the projections */
    RUN(r, lcmd_op_linear_fwd(r->be, r->dt, out, g, PW(r, nd->out_w), PW(r, nd->out_b), rows, c, c));
    RUN(r, lcmd_op_add_fwd(r->be, r->dt, out, out, x, rows * c));
    lcmd_arena_release(r->arena, mark);
    return LCMD_OK;
}

/* Downsample2D(padding=0): F.pad(x, (0, 1, 0, 1)) then a 3x3 stride-2 conv without
 * padding. The zero column and row are appended with two channel concats: [n*h, w*c]
 * rows get c zeros, then [n, h*(w+1)*c] rows get (w+1)*c zeros. */
static lcmd_status downsample(unet_run *r, const vae_block *b, const float *x, int64_t h, int64_t w, float *out)
{
    int64_t n = r->batch, c = b->c_out;
    size_t mark = lcmd_arena_mark(r->arena);
    int64_t zn = (h > w + 1 ? h : w + 1) * n * c;
    float *zeros, *padw, *pad;
    LCMD_TRY(unet_alloc(r, zn, &zeros));
    LCMD_TRY(unet_alloc(r, n * h * (w + 1) * c, &padw));
    LCMD_TRY(unet_alloc(r, n * (h + 1) * (w + 1) * c, &pad));
    RUN(r, lcmd_op_zero(r->be, zeros, (size_t)zn * sizeof(float)));
    RUN(r, lcmd_op_concat_fwd(r->be, r->dt, padw, x, zeros, n * h, w * c, c));
    RUN(r, lcmd_op_concat_fwd(r->be, r->dt, pad, padw, zeros, n, h * (w + 1) * c, (w + 1) * c));
    lcmd_conv2d_shape s = {.n = n, .h = h + 1, .w = w + 1, .c_in = c, .c_out = c, .kh = 3, .kw = 3, .stride = 2,
                           .pad = 0};
    RUN(r, lcmd_op_conv2d_fwd(r->be, r->dt, &s, out, pad, PW(r, b->sampler_w), PW(r, b->sampler_b)));
    lcmd_arena_release(r->arena, mark);
    return LCMD_OK;
}

/* nearest 2x, then a 3x3 conv */
static lcmd_status upsample(unet_run *r, const vae_block *b, const float *x, int64_t h, int64_t w, float *out)
{
    int64_t n = r->batch, c = b->c_out;
    size_t mark = lcmd_arena_mark(r->arena);
    float *up;
    LCMD_TRY(unet_alloc(r, n * 4 * h * w * c, &up));
    RUN(r, lcmd_op_upsample2x_fwd(r->be, r->dt, up, x, n, h, w, c));
    LCMD_TRY(unet_conv_fwd(r, up, 2 * h, 2 * w, c, c, 1, 3, b->sampler_w, b->sampler_b, out));
    lcmd_arena_release(r->arena, mark);
    return LCMD_OK;
}

/* The running value ping-pongs between two buffers of the coder's largest tensor;
 * each step's intermediates are released when it returns. */
typedef struct pingpong {
    float *buf[2];
    const float *cur;
} pingpong;

static float *next_buf(const pingpong *p) { return p->cur == p->buf[0] ? p->buf[1] : p->buf[0]; }

static lcmd_status step_resnet(unet_run *r, const vae_resnet *nd, pingpong *p, int64_t h, int64_t w)
{
    float *out = next_buf(p);
    LCMD_TRY(vae_resnet_fwd(r, nd, p->cur, h, w, out));
    p->cur = out;
    return LCMD_OK;
}

static lcmd_status mid_fwd(unet_run *r, const vae_coder *cd, pingpong *p, int64_t h, int64_t w)
{
    LCMD_TRY(step_resnet(r, &cd->mid_resnets[0], p, h, w));
    if (cd->has_attn) {
        float *out = next_buf(p);
        LCMD_TRY(vae_attn_fwd(r, &cd->mid_attn, p->cur, h * w, out));
        p->cur = out;
    }
    return step_resnet(r, &cd->mid_resnets[1], p, h, w);
}

/* GroupNorm + SiLU + conv_out into out */
static lcmd_status head_fwd(unet_run *r, const vae_coder *cd, const float *x, int64_t h, int64_t w, float *out)
{
    float *g;
    size_t mark = lcmd_arena_mark(r->arena);
    LCMD_TRY(unet_alloc(r, r->batch * h * w * cd->c_last, &g));
    LCMD_TRY(groupnorm(r, g, x, cd->norm_out_w, cd->norm_out_b, h * w, cd->c_last, 1));
    LCMD_TRY(unet_conv_fwd(r, g, h, w, cd->c_last, cd->c_out, 1, 3, cd->conv_out_w, cd->conv_out_b, out));
    lcmd_arena_release(r->arena, mark);
    return LCMD_OK;
}

static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

static lcmd_status pingpong_init(unet_run *r, int64_t n, pingpong *p)
{
    LCMD_TRY(unet_alloc(r, n, &p->buf[0]));
    LCMD_TRY(unet_alloc(r, n, &p->buf[1]));
    p->cur = NULL;
    return LCMD_OK;
}

/* *out (allocated here, below everything else) receives conv_out's output */
lcmd_status vae_encoder_fwd(unet_run *r, const vae_coder *e, const float *x, int64_t h, int64_t w, float **out)
{
    int32_t nb = 0;
    while (nb < LCMD_VAE_MAX_BLOCKS && e->blocks[nb].n_layers) nb++;
    int64_t f = (int64_t)1 << (nb - 1), biggest = 0, c_prev = e->blocks[0].c_out;
    for (int32_t i = 0; i < nb; i++) {
        biggest = max64(biggest, (h >> i) * (w >> i) * max64(c_prev, e->blocks[i].c_out));
        c_prev = e->blocks[i].c_out;
    }
    LCMD_TRY(unet_alloc(r, r->batch * (h / f) * (w / f) * e->c_out, out));
    size_t mark = lcmd_arena_mark(r->arena);
    pingpong p;
    LCMD_TRY(pingpong_init(r, r->batch * biggest, &p));
    LCMD_TRY(unet_conv_fwd(r, x, h, w, e->c_in, e->blocks[0].c_out, 1, 3, e->conv_in_w, e->conv_in_b, p.buf[0]));
    p.cur = p.buf[0];
    for (int32_t i = 0; i < nb; i++) {
        const vae_block *b = &e->blocks[i];
        for (int32_t j = 0; j < b->n_layers; j++) LCMD_TRY(step_resnet(r, &b->resnets[j], &p, h, w));
        if (b->has_sampler) {
            float *d = next_buf(&p);
            LCMD_TRY(downsample(r, b, p.cur, h, w, d));
            p.cur = d;
            h /= 2;
            w /= 2;
        }
    }
    LCMD_TRY(mid_fwd(r, e, &p, h, w));
    LCMD_TRY(head_fwd(r, e, p.cur, h, w, *out));
    lcmd_arena_release(r->arena, mark);
    return LCMD_OK;
}

lcmd_status vae_decoder_fwd(unet_run *r, const vae_coder *d, const float *x, int64_t h, int64_t w, float **out)
{
    int32_t nb = 0;
    while (nb < LCMD_VAE_MAX_BLOCKS && d->blocks[nb].n_layers) nb++;
    int64_t f = (int64_t)1 << (nb - 1), biggest = h * w * d->c_mid, c_prev = d->c_mid;
    for (int32_t i = 0; i < nb; i++) {
        int64_t co = d->blocks[i].c_out, hw = (h << i) * (w << i);
        biggest = max64(biggest, hw * max64(c_prev, co));
        if (d->blocks[i].has_sampler) biggest = max64(biggest, 4 * hw * co);
        c_prev = co;
    }
    LCMD_TRY(unet_alloc(r, r->batch * (h * f) * (w * f) * d->c_out, out));
    size_t mark = lcmd_arena_mark(r->arena);
    pingpong p;
    LCMD_TRY(pingpong_init(r, r->batch * biggest, &p));
    LCMD_TRY(unet_conv_fwd(r, x, h, w, d->c_in, d->c_mid, 1, 3, d->conv_in_w, d->conv_in_b, p.buf[0]));
    p.cur = p.buf[0];
    LCMD_TRY(mid_fwd(r, d, &p, h, w));
    for (int32_t i = 0; i < nb; i++) {
        const vae_block *b = &d->blocks[i];
        for (int32_t j = 0; j < b->n_layers; j++) LCMD_TRY(step_resnet(r, &b->resnets[j], &p, h, w));
        if (b->has_sampler) {
            float *u = next_buf(&p);
            LCMD_TRY(upsample(r, b, p.cur, h, w, u));
            p.cur = u;
            h *= 2;
            w *= 2;
        }
    }
    LCMD_TRY(head_fwd(r, d, p.cur, h, w, *out));
    lcmd_arena_release(r->arena, mark);
    return LCMD_OK;
}
