/* AutoencoderKL model: the activation arena and its planning, input checks, the host
 * layout change (NCHW <-> NHWC), quant_conv / post_quant_conv and the posterior split. */
#include "models/vae.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "models/unet_run.h"
#include "ops/op_calls.h"

#define LOGVAR_MIN -30.0f   /* DiagonalGaussianDistribution's clamp */
#define LOGVAR_MAX 20.0f

static void init_run(lcmd_vae_model *m, lcmd_arena *arena, int plan, int64_t batch, unet_run *r)
{
    memset(r, 0, sizeof *r);
    r->be = m->be;
    r->dt = LCMD_DT_F32;
    r->w = m->param_mem;
    r->arena = arena;
    r->plan = plan;
    r->batch = batch;
    r->groups = m->cfg.norm_num_groups;
    r->eps = 1e-6f;
}

/* encode: images [n, h*w, in] -> [n, h/f * w/f, 2 * latent]; decode: latents -> images.
 * `host_in` is NHWC (NULL while planning); *out_dev receives the backend output. */
static lcmd_status run_pass(lcmd_vae_model *m, unet_run *r, int decode, int64_t h, int64_t w, const float *host_in,
                            float **out_dev)
{
    const lcmd_vae_config *c = &m->cfg;
    const vae_net *net = &m->net;
    int64_t n = r->batch, lc = c->latent_channels;
    int64_t c_in = decode ? lc : c->in_channels;
    float *x;
    LCMD_TRY(unet_alloc(r, n * h * w * c_in, &x));
    RUN(r, lcmd_op_upload(r->be, x, host_in, (size_t)(n * h * w * c_in) * sizeof(float)));
    if (decode) {
        if (c->use_post_quant_conv) {
            float *z;
            LCMD_TRY(unet_alloc(r, n * h * w * lc, &z));
            RUN(r, lcmd_op_linear_fwd(r->be, r->dt, z, x, PW(r, net->post_quant_w), PW(r, net->post_quant_b),
                                      n * h * w, lc, lc));
            x = z;
        }
        return vae_decoder_fwd(r, &net->dec, x, h, w, out_dev);
    }
    float *enc;
    LCMD_TRY(vae_encoder_fwd(r, &net->enc, x, h, w, &enc));
    int64_t f = lcmd_vae_factor(c), rows = n * (h / f) * (w / f);
    if (!c->use_quant_conv) {
        *out_dev = enc;
        return LCMD_OK;
    }
    LCMD_TRY(unet_alloc(r, rows * 2 * lc, out_dev));
    RUN(r, lcmd_op_linear_fwd(r->be, r->dt, *out_dev, enc, PW(r, net->quant_w), PW(r, net->quant_b), rows, 2 * lc,
                              2 * lc));
    return LCMD_OK;
}

static lcmd_status ensure_arena(lcmd_vae_model *m, int decode, int64_t batch, int64_t h, int64_t w)
{
    if (m->arena_mem && batch == m->plan_batch && h == m->plan_h && w == m->plan_w && decode == m->plan_decode)
        return LCMD_OK;
    lcmd_arena counter = {NULL, SIZE_MAX, 0, 0};
    unet_run r;
    init_run(m, &counter, 1, batch, &r);
    float *out;
    LCMD_TRY(run_pass(m, &r, decode, h, w, NULL, &out));
    if (counter.peak > m->arena_bytes) {
        if (m->arena_mem) lcmd_op_free(m->be, m->arena_mem);
        m->arena_mem = NULL;
        m->arena_bytes = 0;
        LCMD_TRY(lcmd_op_alloc(m->be, counter.peak, &m->arena_mem));
        m->arena_bytes = counter.peak;
    }
    m->plan_batch = batch;
    m->plan_h = h;
    m->plan_w = w;
    m->plan_decode = decode;
    return LCMD_OK;
}

static lcmd_status check_finite(const char *fn, const char *what, const float *p, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(p[i]))
            return lcmd_set_error(LCMD_ERR_NUMERIC, "%s: %s[%lld] = %g is not finite", fn, what, (long long)i,
                                  (double)p[i]);
    return LCMD_OK;
}

static lcmd_status check_size(const char *fn, int64_t batch, int64_t h, int64_t w, int64_t mult, const char *what)
{
    if (batch < 1 || batch > (1 << 20))
        return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "%s: batch = %lld must be in [1, 2^20]", fn, (long long)batch);
    if (h < 1 || w < 1 || h > (1 << 16) || w > (1 << 16))
        return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "%s: %s height = %lld, width = %lld must be in [1, 65536]", fn,
                              what, (long long)h, (long long)w);
    if (h % mult != 0 || w % mult != 0)
        return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT,
                              "%s: image height = %lld and width = %lld must be multiples of %lld "
                              "(2^(len(block_out_channels) - 1)); %lld is not",
                              fn, (long long)h, (long long)w, (long long)mult, (long long)(h % mult ? h : w));
    return LCMD_OK;
}

/* [n, c, hw] <-> [n, hw, c] */
static void to_nhwc(const float *src, float *dst, int64_t n, int64_t c, int64_t hw)
{
    for (int64_t i = 0; i < n; i++)
        for (int64_t ch = 0; ch < c; ch++)
            for (int64_t p = 0; p < hw; p++) dst[(i * hw + p) * c + ch] = src[(i * c + ch) * hw + p];
}

/* channels [c0, c0 + c) of an NHWC [n, hw, cs] array -> NCHW [n, c, hw] */
static void to_nchw(const float *src, float *dst, int64_t n, int64_t cs, int64_t c0, int64_t c, int64_t hw)
{
    for (int64_t i = 0; i < n; i++)
        for (int64_t p = 0; p < hw; p++)
            for (int64_t ch = 0; ch < c; ch++) dst[(i * c + ch) * hw + p] = src[(i * hw + p) * cs + c0 + ch];
}

/* runs one pass; host_out receives the NHWC output (out_n floats) */
static lcmd_status run(lcmd_vae_model *m, int decode, int64_t batch, int64_t h, int64_t w, const float *host_in,
                       float *host_out, size_t out_n)
{
    LCMD_TRY(ensure_arena(m, decode, batch, h, w));
    lcmd_arena_init(&m->arena, m->arena_mem, m->arena_bytes);
    unet_run r;
    init_run(m, &m->arena, 0, batch, &r);
    float *out = NULL;
    LCMD_TRY(run_pass(m, &r, decode, h, w, host_in, &out));
    return lcmd_op_download(m->be, host_out, out, out_n * sizeof(float));
}

lcmd_status lcmd_vae_model_encode(lcmd_vae_model *m, int64_t batch, int64_t height, int64_t width, const float *images,
                                  float *mean, float *logvar)
{
    const char *fn = "lcmd_vae_encode";
    LCMD_CHECK_ARG(m && images && mean, "lcmd_vae_encode", "model, images or mean is NULL");
    const lcmd_vae_config *c = &m->cfg;
    int64_t f = lcmd_vae_factor(c);
    LCMD_TRY(check_size(fn, batch, height, width, f, "image"));
    int64_t in_n = batch * c->in_channels * height * width, hw = (height / f) * (width / f), lc = c->latent_channels;
    LCMD_TRY(check_finite(fn, "images", images, in_n));
    size_t out_n = (size_t)(batch * hw * 2 * lc);
    float *in = malloc((size_t)in_n * sizeof *in), *out = malloc(out_n * sizeof *out);
    lcmd_status s = in && out ? LCMD_OK : lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "%s: out of memory", fn);
    if (!s) {
        to_nhwc(images, in, batch, c->in_channels, height * width);
        s = run(m, 0, batch, height, width, in, out, out_n);
    }
    if (!s) {
        to_nchw(out, mean, batch, 2 * lc, 0, lc, hw);
        if (logvar) {
            to_nchw(out, logvar, batch, 2 * lc, lc, lc, hw);
            for (int64_t i = 0; i < batch * lc * hw; i++)
                logvar[i] = fminf(fmaxf(logvar[i], LOGVAR_MIN), LOGVAR_MAX);
        }
    }
    free(in);
    free(out);
    return s;
}

lcmd_status lcmd_vae_model_decode(lcmd_vae_model *m, int64_t batch, int64_t height, int64_t width,
                                  const float *latents, float *images)
{
    const char *fn = "lcmd_vae_decode";
    LCMD_CHECK_ARG(m && latents && images, "lcmd_vae_decode", "model, latents or images is NULL");
    const lcmd_vae_config *c = &m->cfg;
    int64_t f = lcmd_vae_factor(c);
    LCMD_TRY(check_size(fn, batch, height, width, 1, "latent"));
    LCMD_CHECK_ARG(height <= (1 << 16) / f && width <= (1 << 16) / f, "lcmd_vae_decode",
                   "latent height = %lld, width = %lld make an image above 65536 pixels a side", (long long)height,
                   (long long)width);
    int64_t lc = c->latent_channels, in_n = batch * lc * height * width, hw = height * f * width * f;
    LCMD_TRY(check_finite(fn, "latents", latents, in_n));
    size_t out_n = (size_t)(batch * hw * c->out_channels);
    float *in = malloc((size_t)in_n * sizeof *in), *out = malloc(out_n * sizeof *out);
    lcmd_status s = in && out ? LCMD_OK : lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "%s: out of memory", fn);
    if (!s) {
        to_nhwc(latents, in, batch, lc, height * width);
        s = run(m, 1, batch, height, width, in, out, out_n);
    }
    if (!s) to_nchw(out, images, batch, c->out_channels, 0, c->out_channels, hw);
    free(in);
    free(out);
    return s;
}
