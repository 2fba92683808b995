/* Validation images and the consistency gap (validate.h). */
#include "validate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../generate/png_write.h"
#include "../generate/sampling.h"

#define N_PROMPTS 4
#define PER_PROMPT 4                       /* images of each prompt, as the script makes */
#define N_IMAGES (N_PROMPTS * PER_PROMPT)  /* image i shows prompt i % N_PROMPTS */
#define MAX_LOG 256

/* short prompts in the spirit of the script's four validation prompts */
static const char *PROMPTS[N_PROMPTS] = {
    "a portrait photo of a girl at golden hour",
    "an oil painting of a cyborg with golden hair",
    "an astronaut in a jungle, cold muted colours",
    "a mountain at sunset above a blue lake",
};

struct validator {
    lcmd_context *ctx;
    lcmd_pipeline *p;
    validator_options o;
    lcmd_scheduler_config sc;
    int64_t seq, dim, lh, lw, per;   /* latent sizes: per = C * lh * lw */
    float *cond, *uncond;            /* [N_IMAGES, seq, dim] */
    float *ref;                      /* teacher, teacher_steps DDIM: [N_IMAGES, per] */
    float *work;                     /* [N_IMAGES, per] */
    double baseline, baseline_1;     /* the teacher in student_steps and in 1 DDIM step */
    double spread;                   /* RMS between the references of one prompt */
    double floor;                    /* a perfect consistency model's gap in student_steps */
    char *image[2];                  /* the PNGs of the last run: online, target */
    int64_t log_step[MAX_LOG];
    validation_gaps log[MAX_LOG];
    int n_log;
};

void validator_options_init(validator_options *o)
{
    memset(o, 0, sizeof *o);
    o->output_dir = ".";
    o->resolution = 512;
    o->guidance_scale = 7.5;
    o->teacher_steps = 50;
    o->student_steps = 4;
    o->floor = 1;
}

static double rms(const float *a, const float *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - (double)b[i];
        s += d * d;
    }
    return sqrt(s / (double)n);
}

static void params_of(const validator *v, int steps, sampling_params *sp)
{
    sampling_params_init(sp);
    sp->batch = N_IMAGES;
    sp->latent_height = v->lh;
    sp->latent_width = v->lw;
    sp->num_inference_steps = steps;
    sp->guidance_scale = v->o.guidance_scale;
    sp->seed = v->o.seed;
    sp->first_stream = 0x76616c00;   /* the validation noise: the same at every validation */
    sp->original_inference_steps = v->o.original_steps;
}

/* how far apart the teacher's own samples of one prompt lie (RMS over every pair of
 * images of the same prompt): a sampler that re-noises between its steps, as the LCM
 * sampler does, draws partly fresh samples, so its gap is measured on this scale */
static double spread_of(const validator *v)
{
    double s = 0;
    size_t pairs = 0, n = (size_t)v->per;
    for (int p = 0; p < N_PROMPTS; p++)
        for (int i = 0; i < PER_PROMPT; i++)
            for (int j = i + 1; j < PER_PROMPT; j++) {
                double d = rms(v->ref + (size_t)(i * N_PROMPTS + p) * n, v->ref + (size_t)(j * N_PROMPTS + p) * n, n);
                s += d * d;
                pairs++;
            }
    return sqrt(s / (double)pairs);
}

lcmd_status validator_create(lcmd_context *ctx, lcmd_pipeline *p, const validator_options *o, validator **out)
{
    *out = NULL;
    validator *v = calloc(1, sizeof *v);
    if (!v) return LCMD_ERR_OUT_OF_MEMORY;
    v->ctx = ctx;
    v->p = p;
    v->o = *o;
    lcmd_scheduler_config_init(&v->sc);
    lcmd_pipeline_scheduler_config(p, &v->sc);
    lcmd_vae_info vi;
    lcmd_vae_info_init(&vi);
    lcmd_vae_get_info(lcmd_pipeline_vae(p), &vi);
    v->lh = v->lw = o->resolution / vi.downsample_factor;
    v->per = vi.latent_channels * v->lh * v->lw;
    prompt_embeds_size(lcmd_pipeline_tokenizer(p, 0), lcmd_pipeline_text_encoder(p, 0), &v->seq, &v->dim);
    size_t row = (size_t)(v->seq * v->dim), ne = N_IMAGES * row, nl = (size_t)(N_IMAGES * v->per);
    v->cond = malloc(ne * sizeof(float));
    v->uncond = malloc(ne * sizeof(float));
    v->ref = malloc(nl * sizeof(float));
    v->work = malloc(nl * sizeof(float));
    lcmd_status s = v->cond && v->uncond && v->ref && v->work ? LCMD_OK : LCMD_ERR_OUT_OF_MEMORY;
    const char *empty[N_PROMPTS] = {"", "", "", ""};
    lcmd_tokenizer *tok = lcmd_pipeline_tokenizer(p, 0);
    lcmd_text_encoder *te = lcmd_pipeline_text_encoder(p, 0);
    if (!s) s = encode_prompts(tok, te, o->prompts ? o->prompts : PROMPTS, N_PROMPTS, v->cond);
    if (!s) s = encode_prompts(tok, te, empty, N_PROMPTS, v->uncond);
    for (size_t i = N_PROMPTS; !s && i < N_IMAGES; i++) {   /* the other images repeat the prompts */
        memcpy(v->cond + i * row, v->cond + (i % N_PROMPTS) * row, row * sizeof(float));
        memcpy(v->uncond + i * row, v->uncond, row * sizeof(float));
    }
    sampling_params sp;
    params_of(v, o->teacher_steps, &sp);
    if (!s) s = ddim_sample(ctx, lcmd_pipeline_unet(p), &v->sc, v->cond, v->uncond, v->seq, &sp, v->ref);
    params_of(v, o->student_steps, &sp);
    if (!s) s = ddim_sample(ctx, lcmd_pipeline_unet(p), &v->sc, v->cond, v->uncond, v->seq, &sp, v->work);
    if (!s) v->baseline = rms(v->work, v->ref, nl);
    params_of(v, 1, &sp);
    if (!s) s = ddim_sample(ctx, lcmd_pipeline_unet(p), &v->sc, v->cond, v->uncond, v->seq, &sp, v->work);
    if (!s) v->baseline_1 = rms(v->work, v->ref, nl);
    if (!s) v->spread = spread_of(v);
    /* the floor: the LCM sampler with the teacher's own ODE as its consistency function;
     * NaN where the LCM timesteps miss the teacher's grid (lcm_oracle_sample's only
     * LCMD_ERR_INVALID_ARGUMENT for the arguments passed here) */
    params_of(v, o->student_steps, &sp);
    v->floor = NAN;
    if (!s && o->floor) {
        lcmd_status fs = lcm_oracle_sample(ctx, lcmd_pipeline_unet(p), &v->sc, v->cond, v->uncond, v->seq, &sp,
                                           o->teacher_steps, v->work);
        if (fs && fs != LCMD_ERR_INVALID_ARGUMENT) s = fs;
        v->floor = fs ? NAN : rms(v->work, v->ref, nl);
    }
    if (s) {
        validator_destroy(v);
        return s;
    }
    *out = v;
    return LCMD_OK;
}

/* decodes the latents in v->work and writes them as a grid: one column per prompt,
 * one row per image of it */
static lcmd_status write_grid(validator *v, const char *path)
{
    int64_t f = v->o.resolution / v->lh, H = v->lh * f, W = v->lw * f;
    int64_t GW = W * N_PROMPTS, GH = H * PER_PROMPT;
    float *img = malloc((size_t)(N_IMAGES * 3 * H * W) * sizeof(float));
    float *strip = malloc((size_t)(3 * GH * GW) * sizeof(float));
    lcmd_status s = img && strip ? LCMD_OK : LCMD_ERR_OUT_OF_MEMORY;
    if (!s) s = decode_latents(lcmd_pipeline_vae(v->p), v->work, N_IMAGES, v->lh, v->lw, img);
    if (!s) {
        for (int64_t b = 0; b < N_IMAGES; b++) {
            int64_t col = b % N_PROMPTS, rowi = b / N_PROMPTS;
            for (int64_t c = 0; c < 3; c++)
                for (int64_t y = 0; y < H; y++)
                    memcpy(strip + (c * GH + rowi * H + y) * GW + col * W, img + ((b * 3 + c) * H + y) * W,
                           (size_t)W * sizeof(float));
        }
        if (png_write_rgb(path, strip, GH, GW)) s = LCMD_ERR_IO;
    }
    free(img);
    free(strip);
    return s;
}

static lcmd_status one(validator *v, lcmd_unet *u, int64_t step, int which, double *gap, double *gap_1)
{
    const char *name = which ? "target" : "online";
    sampling_params sp;
    params_of(v, 1, &sp);
    lcmd_status s = lcm_sample(v->ctx, u, &v->sc, v->cond, v->seq, &sp, v->work);
    if (s) return s;
    *gap_1 = rms(v->work, v->ref, (size_t)(N_IMAGES * v->per));
    params_of(v, v->o.student_steps, &sp);
    s = lcm_sample(v->ctx, u, &v->sc, v->cond, v->seq, &sp, v->work);
    if (s) return s;
    *gap = rms(v->work, v->ref, (size_t)(N_IMAGES * v->per));
    size_t n = strlen(v->o.output_dir) + 64;
    char *dir = malloc(n), *path = malloc(n);
    if (!dir || !path) s = LCMD_ERR_OUT_OF_MEMORY;
    if (!s) {
        snprintf(dir, n, "%s/samples", v->o.output_dir);
        mkdir(dir, 0777);
        snprintf(path, n, "%s/step-%06lld-%s.png", dir, (long long)step, name);
        s = write_grid(v, path);
    }
    free(dir);
    free(v->image[which]);
    v->image[which] = s ? NULL : path;
    if (s) free(path);
    return s;
}

lcmd_status validator_run(validator *v, lcmd_unet *online, lcmd_unet *target, int64_t step, validation_gaps *g)
{
    lcmd_status s = one(v, online, step, 0, &g->online, &g->online_1);
    if (!s) s = one(v, target, step, 1, &g->target, &g->target_1);
    if (!s && v->n_log < MAX_LOG) {
        v->log_step[v->n_log] = step;
        v->log[v->n_log] = *g;
        v->n_log++;
    }
    return s;
}

double validator_baseline(const validator *v, int one_step) { return one_step ? v->baseline_1 : v->baseline; }

double validator_spread(const validator *v) { return v->spread; }

double validator_floor(const validator *v) { return v->floor; }

const char *validator_image(const validator *v, int which, int *height, int *width)
{
    int64_t f = v->o.resolution / v->lh;   /* the VAE's factor */
    *height = (int)(v->lh * f * PER_PROMPT);
    *width = (int)(v->lw * f * N_PROMPTS);
    return v->image[which ? 1 : 0];
}

void validator_summary(const validator *v, FILE *out)
{
    fprintf(out, "consistency gap: RMS latent distance to the teacher's %d-step DDIM samples, guidance scale %g "
                 "(the teacher itself in %d DDIM steps: %.4f, in 1 step: %.4f)\n", v->o.teacher_steps,
            v->o.guidance_scale, v->o.student_steps, v->baseline, v->baseline_1);
    if (isfinite(v->floor))
        fprintf(out, "  a perfect consistency model in %d LCM steps (the teacher's ODE from each re-noised point): %.4f\n",
                v->o.student_steps, v->floor);
    else if (v->o.floor)
        fprintf(out, "  a perfect consistency model: not measured (the LCM timesteps on the %d-point origin grid "
                     "are not points of the teacher's %d-step grid)\n", v->o.original_steps, v->o.teacher_steps);
    fprintf(out, "  the teacher's spread (RMS between its %d-step samples of one prompt from different noise): %.4f\n",
            v->o.teacher_steps, v->spread);
    fprintf(out, "  step      online %d-step  target %d-step  online 1-step  target 1-step\n", v->o.student_steps,
            v->o.student_steps);
    for (int i = 0; i < v->n_log; i++)
        fprintf(out, "  %-8lld  %-13.4f  %-13.4f  %-13.4f  %.4f\n", (long long)v->log_step[i], v->log[i].online,
                v->log[i].target, v->log[i].online_1, v->log[i].target_1);
}

void validator_destroy(validator *v)
{
    if (!v) return;
    free(v->cond);
    free(v->uncond);
    free(v->ref);
    free(v->work);
    free(v->image[0]);
    free(v->image[1]);
    free(v);
}
