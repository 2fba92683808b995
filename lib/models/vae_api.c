/* The public lcmd_vae: a diffusers vae/ folder <-> an lcmd_vae_model on the context's
 * backend; posterior sampling and latent scaling on the host. */
#include <lcmd/vae.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lcmd/rng.h>

#include "context_internal.h"
#include "core/error.h"
#include "io/json_file.h"
#include "io/path.h"
#include "io/weights.h"
#include "models/vae.h"
#include "ops/op_calls.h"

#define LOAD "lcmd_vae_load"
#define ATTN_PROBE_CURRENT "encoder.mid_block.attentions.0.to_q.weight"
#define ATTN_PROBE_LEGACY "encoder.mid_block.attentions.0.query.weight"
#define NOISE_CHUNK 4096    /* a multiple of 4: each chunk starts on a Philox block */

struct lcmd_vae {
    lcmd_context *ctx;
    lcmd_vae_model *model;
};

#define OPTIONS_V1 (offsetof(lcmd_vae_load_options, variant) + sizeof(const char *))
#define INFO_V1 (offsetof(lcmd_vae_info, num_parameters) + sizeof(int64_t))

lcmd_status lcmd_vae_load_options_init(lcmd_vae_load_options *opts)
{
    LCMD_CHECK_ARG(opts, "lcmd_vae_load_options_init", "opts is NULL");
    memset(opts, 0, sizeof *opts);
    opts->struct_size = sizeof *opts;
    return LCMD_OK;
}

lcmd_status lcmd_vae_info_init(lcmd_vae_info *info)
{
    LCMD_CHECK_ARG(info, "lcmd_vae_info_init", "info is NULL");
    memset(info, 0, sizeof *info);
    info->struct_size = sizeof *info;
    return LCMD_OK;
}

static lcmd_status read_config(const char *folder, lcmd_vae_config *cfg)
{
    char *path = NULL, *text = NULL;
    size_t len = 0;
    lcmd_status s = lcmd_path_join(folder, "config.json", &path);
    if (!s) s = lcmd_read_small_file(path, LCMD_JSON_DEFAULT_MAX_BYTES, &text, &len);
    if (!s) s = lcmd_vae_config_parse(text, len, path, cfg);
    free(text);
    free(path);
    return s;
}

/* the legacy attention names only when the file has them and not the current ones */
static lcmd_vae_attn_names attn_names(const lcmd_weights *w)
{
    if (!lcmd_weights_find(w, ATTN_PROBE_CURRENT, NULL) && lcmd_weights_find(w, ATTN_PROBE_LEGACY, NULL))
        return LCMD_VAE_ATTN_NAMES_LEGACY;
    return LCMD_VAE_ATTN_NAMES_CURRENT;
}

lcmd_status lcmd_vae_load(lcmd_context *ctx, const char *folder, const lcmd_vae_load_options *opts, lcmd_vae **out)
{
    LCMD_CHECK_ARG(out, LOAD, "out is NULL");
    *out = NULL;
    LCMD_CHECK_ARG(ctx && folder, LOAD, "ctx or folder is NULL");
    lcmd_vae_load_options o;
    lcmd_vae_load_options_init(&o);
    if (opts) {
        LCMD_CHECK_ARG(opts->struct_size >= OPTIONS_V1 && opts->struct_size <= sizeof o, LOAD,
                       "opts.struct_size = %u (call lcmd_vae_load_options_init)", opts->struct_size);
        memcpy(&o, opts, opts->struct_size);
    }
    struct stat sb;
    if (stat(folder, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return lcmd_set_error(LCMD_ERR_IO, "%s: not a folder (%s)", folder, strerror(errno ? errno : ENOTDIR));
    lcmd_vae_config cfg;
    LCMD_TRY(read_config(folder, &cfg));
    lcmd_weights *w = NULL;
    LCMD_TRY(lcmd_weights_open_named(folder, LCMD_WEIGHTS_BASE_DIFFUSERS, o.variant, &w));
    lcmd_vae *v = calloc(1, sizeof *v);
    lcmd_status s = v ? LCMD_OK : lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, LOAD ": out of memory");
    float *host = NULL;
    if (!s) {
        v->ctx = ctx;
        s = lcmd_vae_model_create(&cfg, attn_names(w), ctx->backend, &v->model);
    }
    if (!s) {
        host = calloc(v->model->params.total ? v->model->params.total : 1, sizeof *host);
        if (!host) s = lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, LOAD ": out of memory");
    }
    if (!s) s = lcmd_weights_load_params(w, &v->model->params, host, NULL);
    if (!s) s = lcmd_op_upload(v->model->be, v->model->param_mem, host, v->model->params.total * sizeof *host);
    free(host);
    lcmd_weights_close(w);
    if (s) {
        lcmd_vae_destroy(v);
        return s;
    }
    lcmd_log(&ctx->log, LCMD_LOG_INFO, "loaded VAE from %s: %zu tensors", folder, v->model->params.count);
    *out = v;
    return LCMD_OK;
}

void lcmd_vae_destroy(lcmd_vae *vae)
{
    if (!vae) return;
    lcmd_vae_model_destroy(vae->model);
    free(vae);
}

lcmd_status lcmd_vae_get_info(const lcmd_vae *vae, lcmd_vae_info *info)
{
    LCMD_CHECK_ARG(vae && info, "lcmd_vae_get_info", "vae or info is NULL");
    LCMD_CHECK_ARG(info->struct_size >= INFO_V1 && info->struct_size <= sizeof *info, "lcmd_vae_get_info",
                   "info.struct_size = %u (call lcmd_vae_info_init)", info->struct_size);
    const lcmd_vae_config *c = &vae->model->cfg;
    lcmd_vae_info v;
    memset(&v, 0, sizeof v);
    v.struct_size = info->struct_size;
    v.in_channels = c->in_channels;
    v.out_channels = c->out_channels;
    v.latent_channels = c->latent_channels;
    v.downsample_factor = (int32_t)lcmd_vae_factor(c);
    v.scaling_factor = c->scaling_factor;
    v.has_shift = c->has_shift;
    v.shift_factor = c->has_shift ? c->shift_factor : 0.0;
    v.force_upcast = c->force_upcast;
    int64_t n = 0;
    for (size_t i = 0; i < vae->model->params.count; i++) n += vae->model->params.items[i].numel;
    v.num_parameters = n;
    memcpy(info, &v, info->struct_size);
    return LCMD_OK;
}

lcmd_status lcmd_vae_encode(lcmd_vae *vae, int64_t batch, int64_t height, int64_t width, const float *images,
                            float *mean, float *logvar)
{
    LCMD_CHECK_ARG(vae, "lcmd_vae_encode", "vae is NULL");
    return lcmd_vae_model_encode(vae->model, batch, height, width, images, mean, logvar);
}

lcmd_status lcmd_vae_decode(lcmd_vae *vae, int64_t batch, int64_t height, int64_t width, const float *latents,
                            float *images)
{
    LCMD_CHECK_ARG(vae, "lcmd_vae_decode", "vae is NULL");
    return lcmd_vae_model_decode(vae->model, batch, height, width, latents, images);
}

static lcmd_status check_finite(const char *what, const float *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(p[i]))
            return lcmd_set_error(LCMD_ERR_NUMERIC, "lcmd_vae_sample: %s[%zu] = %g is not finite", what, i,
                                  (double)p[i]);
    return LCMD_OK;
}

lcmd_status lcmd_vae_sample(const lcmd_vae *vae, size_t n, const float *mean, const float *logvar, const float *noise,
                            uint64_t stream, uint64_t offset, float *latents)
{
    LCMD_CHECK_ARG(vae, "lcmd_vae_sample", "vae is NULL");
    if (n == 0) return LCMD_OK;
    LCMD_CHECK_ARG(mean && logvar && latents, "lcmd_vae_sample", "mean, logvar or latents is NULL");
    LCMD_TRY(check_finite("mean", mean, n));
    LCMD_TRY(check_finite("logvar", logvar, n));
    if (noise) LCMD_TRY(check_finite("noise", noise, n));
    float chunk[NOISE_CHUNK];
    for (size_t i0 = 0; i0 < n; i0 += NOISE_CHUNK) {
        size_t m = n - i0 < NOISE_CHUNK ? n - i0 : NOISE_CHUNK;
        const float *z = noise ? noise + i0 : chunk;
        if (!noise) LCMD_TRY(lcmd_rng_normal(vae->ctx->seed, stream, offset + i0 / 4, chunk, m));
        for (size_t i = 0; i < m; i++) {
            float lv = fminf(fmaxf(logvar[i0 + i], -30.0f), 20.0f);
            float sd = expf(0.5f * lv);
            float scaled = sd * z[i];   /* two roundings, as torch: mean + std * noise */
            latents[i0 + i] = mean[i0 + i] + scaled;
        }
    }
    return LCMD_OK;
}

lcmd_status lcmd_vae_scale_latents(const lcmd_vae *vae, size_t n, float *latents)
{
    LCMD_CHECK_ARG(vae && (latents || n == 0), "lcmd_vae_scale_latents", "vae or latents is NULL");
    const lcmd_vae_config *c = &vae->model->cfg;
    float scale = (float)c->scaling_factor, shift = (float)c->shift_factor;
    for (size_t i = 0; i < n; i++) latents[i] = c->has_shift ? (latents[i] - shift) * scale : latents[i] * scale;
    return LCMD_OK;
}

lcmd_status lcmd_vae_unscale_latents(const lcmd_vae *vae, size_t n, float *latents)
{
    LCMD_CHECK_ARG(vae && (latents || n == 0), "lcmd_vae_unscale_latents", "vae or latents is NULL");
    const lcmd_vae_config *c = &vae->model->cfg;
    float scale = (float)c->scaling_factor, shift = (float)c->shift_factor;
    for (size_t i = 0; i < n; i++) latents[i] = c->has_shift ? latents[i] / scale + shift : latents[i] / scale;
    return LCMD_OK;
}
