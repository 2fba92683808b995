/* lcmd_demo_pretrain_teacher: a short DDPM training of the demo teacher's UNet on the
 * demo data (epsilon prediction, uniform timesteps, empty captions now and then so that
 * classifier-free guidance has an unconditional model to push against), so that the
 * distillation has a teacher whose samples mean something. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <lcmd/lcmd.h>

#include "core/error.h"
#include "core/log.h"
#include "core/philox.h"
#include "io/json_file.h"
#include "demo/demo_internal.h"
#include "models/unet.h"
#include "ops/op_calls.h"
#include "train/train_internal.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

#define FN "lcmd_demo_pretrain_teacher"
#define PRETRAIN_V1 (offsetof(lcmd_demo_pretrain_options, uncond_probability) + sizeof(double))

/* Philox streams of the pretraining draws: kind, step */
#define STREAM(kind, step) ((0x4450ull << 48) | ((uint64_t)(kind) << 40) | ((uint64_t)(step) & 0xffffffffffull))
enum { DRAW_NOISE = 1, DRAW_T = 2 };

lcmd_status lcmd_demo_pretrain_options_init(lcmd_demo_pretrain_options *o)
{
    LCMD_CHECK_ARG(o, "lcmd_demo_pretrain_options_init", "opts is NULL");
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->steps = 600;
    o->batch_size = 16;
    o->resolution = 32;
    o->learning_rate = 2e-3;
    o->seed = 0;
    o->uncond_probability = 0.1;
    return LCMD_OK;
}

static lcmd_status resolve(const lcmd_demo_pretrain_options *in, lcmd_demo_pretrain_options *o)
{
    lcmd_demo_pretrain_options_init(o);
    if (in) {
        LCMD_CHECK_ARG(in->struct_size >= PRETRAIN_V1 && in->struct_size <= sizeof *o, FN,
                       "opts.struct_size = %u (call lcmd_demo_pretrain_options_init)", in->struct_size);
        memcpy(o, in, in->struct_size);
        o->struct_size = sizeof *o;
    }
    LCMD_CHECK_ARG(o->steps >= 0 && o->steps <= 10000000, FN, "opts.steps = %d (0..10000000)", o->steps);
    LCMD_CHECK_ARG(o->batch_size >= 1 && o->batch_size <= 4096, FN, "opts.batch_size = %d (1..4096)", o->batch_size);
    LCMD_CHECK_ARG(o->resolution >= 8 && o->resolution <= 4096, FN, "opts.resolution = %d (8..4096)", o->resolution);
    LCMD_CHECK_ARG(o->learning_rate > 0 && o->learning_rate < 1, FN, "opts.learning_rate = %g (0..1)",
                   o->learning_rate);
    LCMD_CHECK_ARG(o->uncond_probability >= 0 && o->uncond_probability <= 1, FN, "opts.uncond_probability = %g",
                   o->uncond_probability);
    return LCMD_OK;
}

typedef struct pretrain {
    lcmd_pipeline *p;
    lcmd_unet_model *m;
    lcmd_noise_schedule *sched;
    float *grad;            /* backend memory [total] */
    float *adam_m, *adam_v; /* host [total] */
    float *host_p, *host_g; /* host staging on a device backend */
    lcmd_trainer_options adam;
    int64_t L, D, C, h, w;
    float *uncond;          /* [L, D] */
} pretrain;

/* The demo data, encoded once: the VAE's posterior means (the demo VAE's log-variance
 * is -30, so they are its samples) and the caption embeddings. The demo data is small,
 * and encoding it at every step would cost more than the UNet's training itself. */
typedef struct encoded_data {
    int64_t n, per, row;  /* samples; floats per latent; floats per caption embedding */
    float *latents;       /* [n, per], unscaled until calibrate_scaling */
    float *embeds;        /* [n, row] */
} encoded_data;

#define MAX_SAMPLES 65536   /* what the in-memory encoding accepts */

static void encoded_free(encoded_data *d)
{
    free(d->latents);
    free(d->embeds);
    memset(d, 0, sizeof *d);
}

/* one pass over the shards, every sample encoded */
static lcmd_status encode_all(lcmd_context *ctx, pretrain *pt, const lcmd_dataset_options *dopts, const char *shards,
                              encoded_data *d)
{
    lcmd_dataset_options o = *dopts;
    o.resampled = 0;
    o.epochs = 1;
    o.shuffle_buffer = 0;
    o.crop = LCMD_CROP_CENTER;
    o.batch_size = 16;
    lcmd_dataset *ds = NULL;
    LCMD_TRY(lcmd_dataset_create(ctx, &o, &ds));
    d->per = pt->C * pt->h * pt->w;
    d->row = pt->L * pt->D;
    lcmd_status s = LCMD_OK;
    int64_t cap = 0;
    for (;;) {
        lcmd_batch *b = NULL;
        s = lcmd_dataset_next(ds, &b);
        if (s == LCMD_END_OF_STREAM) {
            s = LCMD_OK;
            break;
        }
        if (s) break;
        int64_t B = lcmd_batch_size(b), r = lcmd_batch_resolution(b);
        if (d->n + B > MAX_SAMPLES)
            s = lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, FN ": %s holds more than %d samples", shards, MAX_SAMPLES);
        if (!s && d->n + B > cap) {
            cap = 2 * (d->n + B);
            float *l = realloc(d->latents, (size_t)(cap * d->per) * sizeof(float));
            if (l) d->latents = l;
            float *e = l ? realloc(d->embeds, (size_t)(cap * d->row) * sizeof(float)) : NULL;
            if (e) d->embeds = e;
            if (!l || !e) s = lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, FN ": out of memory");
        }
        const char **caps = s ? NULL : malloc((size_t)B * sizeof *caps);
        if (!s && !caps) s = lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, FN ": out of memory");
        for (int64_t i = 0; !s && i < B; i++) caps[i] = lcmd_batch_caption(b, (int32_t)i);
        if (!s)
            s = lcmd_train_encode_captions(lcmd_pipeline_tokenizer(pt->p, 0), lcmd_pipeline_text_encoder(pt->p, 0),
                                           caps, B, pt->L, d->embeds + d->n * d->row);
        if (!s)
            s = lcmd_vae_encode(lcmd_pipeline_vae(pt->p), B, r, r, lcmd_batch_images(b), d->latents + d->n * d->per,
                                NULL);
        free(caps);
        lcmd_batch_destroy(b);
        if (s) break;
        d->n += B;
    }
    lcmd_dataset_destroy(ds);
    if (!s && d->n == 0) s = lcmd_set_error(LCMD_ERR_IO, FN ": %s holds no usable sample", shards);
    return s;
}

/* one step on a batch drawn from the encoded data; *loss receives its mean squared error */
static lcmd_status step(pretrain *pt, const encoded_data *d, const lcmd_demo_pretrain_options *o, int64_t s,
                        double *loss)
{
    int64_t B = o->batch_size, L = pt->L, D = pt->D;
    size_t per = (size_t)d->per, n = (size_t)B * per, row = (size_t)d->row, ne = (size_t)B * row;
    float *block = malloc((4 * n + ne + (size_t)B) * sizeof(float));
    int64_t *t = malloc((size_t)B * sizeof *t);
    lcmd_status st = block && t ? LCMD_OK : lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, FN ": out of memory");
    float *z0 = block, *noise = z0 + n, *xt = noise + n, *out = xt + n, *ehs = out + n, *ts = ehs + ne;
    for (int64_t i = 0; !st && i < B; i++) {
        lcmd_u32x4 u = lcmd_rng_block(o->seed, STREAM(DRAW_T, s), (uint64_t)i);
        t[i] = (int64_t)(lcmd_u32_to_unit(u.v[0]) * 1000.0f) % 1000;
        ts[i] = (float)t[i];
        int keep = lcmd_u32_to_unit(u.v[1]) >= (float)o->uncond_probability;
        int64_t k = (int64_t)(lcmd_u32_to_unit(u.v[2]) * (float)d->n);
        if (k >= d->n) k = d->n - 1;
        memcpy(z0 + (size_t)i * per, d->latents + (size_t)k * per, per * sizeof(float));
        memcpy(ehs + (size_t)i * row, keep ? d->embeds + (size_t)k * row : pt->uncond, row * sizeof(float));
    }
    if (!st) {
        lcmd_train_draw_normal(o->seed, STREAM(DRAW_NOISE, s), noise, n);
        st = lcmd_add_noise(pt->sched, z0, noise, t, B, (int64_t)per, xt);
    }
    if (!st) {
        lcmd_unet_forward_args a;
        memset(&a, 0, sizeof a);
        a.batch = B;
        a.height = pt->h;
        a.width = pt->w;
        a.sample = xt;
        a.timesteps = ts;
        a.encoder_hidden_states = ehs;
        a.seq_len = L;
        a.encoder_dim = D;
        int32_t kept = pt->m->keep_activations;
        pt->m->keep_activations = 1;
        st = lcmd_unet_model_forward(pt->m, pt->m->be, &a, out);
        pt->m->keep_activations = kept;
    }
    if (!st) {
        double acc = 0;
        for (size_t i = 0; i < n; i++) {
            double dd = (double)out[i] - (double)noise[i];
            acc += dd * dd;
            out[i] = (float)(2.0 * dd / (double)n);   /* dL/dout, in place */
        }
        *loss = acc / (double)n;
        st = lcmd_op_zero(pt->m->be, pt->grad, pt->m->params.total * sizeof(float));
    }
    if (!st) st = lcmd_unet_model_backward(pt->m, pt->m->be, out, pt->grad, NULL);
    free(block);
    free(t);
    return st;
}

/* AdamW on the UNet's flat parameters (staged through the host on a device) */
static lcmd_status update(pretrain *pt, int64_t s, double lr, int threads)
{
    lcmd_unet_model *m = pt->m;
    size_t total = m->params.total, bytes = total * sizeof(float);
    float *p = m->param_mem, *g = pt->grad;
    if (m->be->device >= 0) {
        LCMD_TRY(lcmd_op_download(m->be, pt->host_p, m->param_mem, bytes));
        LCMD_TRY(lcmd_op_download(m->be, pt->host_g, pt->grad, bytes));
        p = pt->host_p;
        g = pt->host_g;
    }
    double norm = lcmd_train_grad_norm(g, total, threads);
    if (!isfinite(norm)) return LCMD_OK;   /* a non-finite step is skipped */
    lcmd_train_clip(g, total, norm, 1.0, threads);
    lcmd_train_adamw(p, g, pt->adam_m, pt->adam_v, total, s, lr, &pt->adam, threads);
    if (m->be->device >= 0) LCMD_TRY(lcmd_op_upload(m->be, m->param_mem, p, bytes));
    return LCMD_OK;
}

static lcmd_status setup(lcmd_context *ctx, pretrain *pt)
{
    lcmd_unet *u = lcmd_pipeline_unet(pt->p);
    if (!u || !lcmd_pipeline_vae(pt->p) || !lcmd_pipeline_text_encoder(pt->p, 0))
        return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, FN ": the pipeline lacks a UNet, VAE or text encoder");
    pt->m = lcmd_unet_model_of(u);
    size_t total = pt->m->params.total;
    lcmd_scheduler_config sc;
    lcmd_scheduler_config_init(&sc);
    LCMD_TRY(lcmd_pipeline_scheduler_config(pt->p, &sc));
    LCMD_TRY(lcmd_noise_schedule_create(&sc, &pt->sched));
    if (sc.prediction_type != LCMD_PREDICT_EPSILON)
        return lcmd_set_error(LCMD_ERR_UNSUPPORTED, FN ": the teacher must predict epsilon");
    lcmd_text_encoder_info ti;
    lcmd_text_encoder_info_init(&ti);
    LCMD_TRY(lcmd_text_encoder_get_info(lcmd_pipeline_text_encoder(pt->p, 0), &ti));
    pt->L = (int64_t)lcmd_tokenizer_model_max_length(lcmd_pipeline_tokenizer(pt->p, 0));
    pt->D = ti.hidden_size;
    pt->adam_m = calloc(total, sizeof(float));
    pt->adam_v = calloc(total, sizeof(float));
    pt->uncond = malloc((size_t)(pt->L * pt->D) * sizeof(float));
    if (pt->m->be->device >= 0) {
        pt->host_p = malloc(total * sizeof(float));
        pt->host_g = malloc(total * sizeof(float));
    }
    if (!pt->adam_m || !pt->adam_v || !pt->uncond || (pt->m->be->device >= 0 && (!pt->host_p || !pt->host_g)))
        return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, FN ": out of memory");
    LCMD_TRY(lcmd_op_alloc(pt->m->be, total * sizeof(float), (void **)&pt->grad));
    const char *empty = "";
    lcmd_status s = lcmd_train_encode_captions(lcmd_pipeline_tokenizer(pt->p, 0), lcmd_pipeline_text_encoder(pt->p, 0),
                                               &empty, 1, pt->L, pt->uncond);
    lcmd_trainer_options_init(&pt->adam);
    pt->adam.adam_weight_decay = 0.0;
    (void)ctx;
    return s;
}

static void teardown(pretrain *pt)
{
    if (pt->grad) lcmd_op_free(pt->m->be, pt->grad);
    lcmd_noise_schedule_destroy(pt->sched);
    free(pt->adam_m);
    free(pt->adam_v);
    free(pt->host_p);
    free(pt->host_g);
    free(pt->uncond);
    lcmd_pipeline_destroy(pt->p);
}

/* the standard deviation of the VAE's latents (posterior means, unscaled) */
static lcmd_status latent_std(const encoded_data *d, double *std)
{
    double sum = 0, sq = 0;
    size_t n = (size_t)(d->n * d->per);
    for (size_t i = 0; i < n; i++) {
        sum += d->latents[i];
        sq += (double)d->latents[i] * d->latents[i];
    }
    double m = n ? sum / (double)n : 0, var = n ? sq / (double)n - m * m : 0;
    if (!(var > 0)) return lcmd_set_error(LCMD_ERR_NUMERIC, FN ": the VAE's latents have no variance");
    *std = sqrt(var);
    return LCMD_OK;
}

/* vae/config.json's scaling_factor = 1 / the latents' standard deviation, as SD's
 * 0.18215 was chosen: latents of unit variance are what the noise schedule assumes */
static lcmd_status calibrate_scaling(const char *folder, double std, double *factor)
{
    char *dir = NULL, *path = NULL;
    LCMD_TRY(demo_join(folder, "vae", &dir));
    lcmd_status s = demo_join(dir, "config.json", &path);
    json_t *cfg = NULL;
    if (!s) s = lcmd_json_load_file(path, LCMD_JSON_DEFAULT_MAX_BYTES, &cfg);
    *factor = 1.0 / std;
    if (!s) s = demo_json_set(cfg, "scaling_factor", json_real(*factor));
    if (!s) s = demo_write_json(dir, "config.json", cfg);
    json_decref(cfg);
    free(path);
    free(dir);
    return s;
}

lcmd_status lcmd_demo_pretrain_teacher(lcmd_context *ctx, const char *folder, const char *shards,
                                       const lcmd_demo_pretrain_options *opts, double *final_loss)
{
    LCMD_CHECK_ARG(ctx && folder && shards, FN, "ctx, folder or shards is NULL");
    lcmd_demo_pretrain_options o;
    LCMD_TRY(resolve(opts, &o));
    if (o.steps == 0) return LCMD_OK;
    pretrain pt;
    memset(&pt, 0, sizeof pt);
    lcmd_dataset_options dopts;
    lcmd_dataset_options_init(&dopts);
    dopts.shards = shards;
    dopts.seed = o.seed;
    dopts.resolution = o.resolution;
    LCMD_TRY(lcmd_pipeline_open(ctx, folder, NULL, &pt.p));
    lcmd_vae_info vi;
    lcmd_vae_info_init(&vi);
    lcmd_status s = lcmd_pipeline_vae(pt.p) ? lcmd_vae_get_info(lcmd_pipeline_vae(pt.p), &vi)
                                            : lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, FN ": the pipeline has no VAE");
    if (!s && o.resolution % vi.downsample_factor != 0)
        s = lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, FN ": opts.resolution %d is not a multiple of the VAE's %d",
                           o.resolution, vi.downsample_factor);
    if (!s) s = setup(ctx, &pt);
    encoded_data data;
    memset(&data, 0, sizeof data);
    if (!s) {
        pt.C = vi.latent_channels;
        pt.h = pt.w = o.resolution / vi.downsample_factor;
        s = encode_all(ctx, &pt, &dopts, shards, &data);
    }
    /* the latent scale first: the UNet learns latents of unit variance */
    double std = 0, factor = 0;
    if (!s) s = latent_std(&data, &std);
    if (!s) s = calibrate_scaling(folder, std, &factor);
    if (!s) {
        size_t n = (size_t)(data.n * data.per);
        for (size_t i = 0; i < n; i++) data.latents[i] = (float)(data.latents[i] * factor);
        lcmd_log(&ctx->log, LCMD_LOG_INFO, "demo teacher: %lld samples, latent std %.4g, scaling_factor %.4g",
                 (long long)data.n, std, factor);
    }
    int threads = (int)ctx->cpu->num_threads;
    double loss = NAN, ema = NAN;
    for (int64_t k = 0; !s && k < o.steps; k++) {
        s = step(&pt, &data, &o, k, &loss);
        /* a cosine decay to 10 % keeps the end of the run smooth */
        double lr = o.learning_rate * (0.1 + 0.45 * (1.0 + cos(M_PI * (double)k / (double)o.steps)));
        if (!s) s = update(&pt, k + 1, lr, threads > 0 ? threads : 1);
        if (!s && isfinite(loss)) ema = isfinite(ema) ? 0.95 * ema + 0.05 * loss : loss;
        if (!s && o.progress) o.progress(o.progress_user, (int32_t)(k + 1), o.steps, loss);
    }
    encoded_free(&data);
    char *unet_dir = NULL;
    if (!s) s = demo_join(folder, "unet", &unet_dir);
    if (!s) s = lcmd_unet_save(lcmd_pipeline_unet(pt.p), unet_dir, LCMD_WEIGHTS_F32, NULL);
    free(unet_dir);
    teardown(&pt);
    if (!s && final_loss) *final_loss = ema;
    return s;
}
