/* Betas, alphas_cumprod and the elementwise schedule functions, in the float32
 * arithmetic diffusers uses on PyTorch (the order of operations matters). */
#include <lcmd/scheduler.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "sched/sched_internal.h"

/* torch.linspace for float32 on the CPU: a float32 step, the first half counted from
 * the start and the second half from the end, each point one fused multiply-add (the
 * vectorised kernel's rounding; a separate multiply and add differ in ~15% of betas). */
static void linspace_f32(float *out, double start, double end, int32_t n)
{
    float s = (float)start, e = (float)end;
    float step = (e - s) / (float)(n - 1);
    int32_t half = n / 2;
    for (int32_t i = 0; i < n; i++)
        out[i] = i < half ? fmaf(step, (float)i, s) : fmaf(-step, (float)(n - 1 - i), e);
}

static double alpha_bar_cosine(double t)
{
    double c = cos((t + 0.008) / 1.008 * 3.14159265358979323846 / 2.0);
    return c * c;
}

/* rescale_zero_terminal_snr, in float32 tensor arithmetic */
static void rescale_zero_snr(float *betas, int32_t T)
{
    float *abar = malloc((size_t)T * sizeof *abar);
    if (!abar) return;
    double prod = 1.0;
    for (int32_t i = 0; i < T; i++) {
        prod *= (double)(1.0f - betas[i]);
        abar[i] = sqrtf((float)prod);
    }
    float s0 = abar[0], sT = abar[T - 1];
    float k = s0 / (s0 - sT);
    for (int32_t i = 0; i < T; i++) {
        float v = (abar[i] - sT) * k;
        abar[i] = v * v;
    }
    for (int32_t i = T - 1; i >= 1; i--)
        betas[i] = 1.0f - abar[i] / abar[i - 1];
    betas[0] = 1.0f - abar[0];
    free(abar);
}

lcmd_status lcmd_noise_schedule_create(const lcmd_scheduler_config *cfg, lcmd_noise_schedule **out)
{
    LCMD_CHECK_ARG(out, "lcmd_noise_schedule_create", "out is NULL");
    *out = NULL;
    LCMD_TRY(lcmd_sched_validate_config(cfg, "lcmd_noise_schedule_create"));
    int32_t T = cfg->num_train_timesteps;
    lcmd_noise_schedule *s = calloc(1, sizeof *s);
    float *block = s ? malloc((size_t)T * 4 * sizeof(float)) : NULL;
    if (!block) {
        free(s);
        return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "lcmd_noise_schedule_create: out of memory");
    }
    memcpy(&s->cfg, cfg, cfg->struct_size);
    s->cfg.struct_size = sizeof s->cfg;
    s->T = T;
    s->betas = block;
    s->ac = block + T;
    s->alpha = block + 2 * (size_t)T;
    s->sigma = block + 3 * (size_t)T;

    switch (cfg->beta_schedule) {
    case LCMD_BETA_LINEAR:
        linspace_f32(s->betas, cfg->beta_start, cfg->beta_end, T);
        break;
    case LCMD_BETA_SCALED_LINEAR:
        linspace_f32(s->betas, sqrt(cfg->beta_start), sqrt(cfg->beta_end), T);
        for (int32_t i = 0; i < T; i++) s->betas[i] = s->betas[i] * s->betas[i];
        break;
    case LCMD_BETA_SQUAREDCOS_CAP_V2:
        for (int32_t i = 0; i < T; i++) {
            double b = 1.0 - alpha_bar_cosine((double)(i + 1) / T) / alpha_bar_cosine((double)i / T);
            s->betas[i] = (float)(b < 0.999 ? b : 0.999);
        }
        break;
    }
    if (cfg->rescale_betas_zero_snr)
        rescale_zero_snr(s->betas, T);
    /* cumprod: a float64 running product, each output rounded to float32 */
    double prod = 1.0;
    for (int32_t i = 0; i < T; i++) {
        prod *= (double)(1.0f - s->betas[i]);
        s->ac[i] = (float)prod;
        s->alpha[i] = sqrtf(s->ac[i]);
        s->sigma[i] = sqrtf(1.0f - s->ac[i]);
    }
    *out = s;
    return LCMD_OK;
}

void lcmd_noise_schedule_destroy(lcmd_noise_schedule *s)
{
    if (!s) return;
    free(s->betas);
    free(s);
}

int32_t lcmd_noise_schedule_num_timesteps(const lcmd_noise_schedule *s) { return s ? s->T : 0; }

static lcmd_status copy_table(const lcmd_noise_schedule *s, const float *src, double *out, size_t n, const char *fn)
{
    LCMD_CHECK_ARG(s && out, "lcmd_noise_schedule", "%s: NULL argument", fn);
    LCMD_CHECK_ARG(n >= (size_t)s->T, "lcmd_noise_schedule", "%s: n = %zu is smaller than T = %d", fn, n, s->T);
    for (int32_t i = 0; i < s->T; i++) out[i] = src[i];
    return LCMD_OK;
}

lcmd_status lcmd_noise_schedule_betas(const lcmd_noise_schedule *s, double *out, size_t n)
{
    return copy_table(s, s ? s->betas : NULL, out, n, "betas");
}

lcmd_status lcmd_noise_schedule_alphas_cumprod(const lcmd_noise_schedule *s, double *out, size_t n)
{
    return copy_table(s, s ? s->ac : NULL, out, n, "alphas_cumprod");
}

lcmd_status lcmd_noise_schedule_alpha_sigma(const lcmd_noise_schedule *s, float *alpha, float *sigma, size_t n)
{
    LCMD_CHECK_ARG(s && alpha && sigma, "lcmd_noise_schedule_alpha_sigma", "NULL argument");
    LCMD_CHECK_ARG(n >= (size_t)s->T, "lcmd_noise_schedule_alpha_sigma", "n = %zu is smaller than T = %d", n, s->T);
    memcpy(alpha, s->alpha, (size_t)s->T * sizeof *alpha);
    memcpy(sigma, s->sigma, (size_t)s->T * sizeof *sigma);
    return LCMD_OK;
}

lcmd_status lcmd_sched_check_batch(const lcmd_noise_schedule *s, const int64_t *timesteps, int64_t batch,
                                   int64_t per_sample, const char *fn)
{
    if (!s || !timesteps)
        return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "%s: schedule or timesteps is NULL", fn);
    if (batch < 1 || per_sample < 1)
        return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "%s: batch = %lld and per_sample = %lld must be >= 1",
                              fn, (long long)batch, (long long)per_sample);
    for (int64_t b = 0; b < batch; b++)
        if (timesteps[b] < 0 || timesteps[b] >= s->T)
            return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "%s: timesteps[%lld] = %lld outside [0, %d)",
                                  fn, (long long)b, (long long)timesteps[b], s->T);
    return LCMD_OK;
}

lcmd_status lcmd_sched_check_finite(const float *x, int64_t n, const char *fn, const char *what)
{
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return lcmd_set_error(LCMD_ERR_NUMERIC, "%s: %s[%lld] = %g is not finite", fn, what, (long long)i, (double)x[i]);
    return LCMD_OK;
}

lcmd_status lcmd_add_noise(const lcmd_noise_schedule *s, const float *x0, const float *noise,
                           const int64_t *timesteps, int64_t batch, int64_t per_sample, float *out)
{
    LCMD_TRY(lcmd_sched_check_batch(s, timesteps, batch, per_sample, "lcmd_add_noise"));
    LCMD_CHECK_ARG(x0 && noise && out, "lcmd_add_noise", "x0, noise or out is NULL");
    LCMD_TRY(lcmd_sched_check_finite(x0, batch * per_sample, "lcmd_add_noise", "x0"));
    LCMD_TRY(lcmd_sched_check_finite(noise, batch * per_sample, "lcmd_add_noise", "noise"));
    for (int64_t b = 0; b < batch; b++) {
        float a = s->ac[timesteps[b]];
        float ca = sqrtf(a), cs = sqrtf(1.0f - a);
        const float *x = x0 + b * per_sample, *e = noise + b * per_sample;
        float *o = out + b * per_sample;
        for (int64_t i = 0; i < per_sample; i++) {
            float u = ca * x[i], v = cs * e[i];
            o[i] = u + v;
        }
    }
    return LCMD_OK;
}

static lcmd_status check_type(lcmd_prediction_type type, const char *fn)
{
    if (type < LCMD_PREDICT_EPSILON || type > LCMD_PREDICT_SAMPLE)
        return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "%s: prediction type %d is not epsilon, v_prediction or sample",
                              fn, (int)type);
    return LCMD_OK;
}

lcmd_status lcmd_predicted_origin(const lcmd_noise_schedule *s, lcmd_prediction_type type,
                                  const float *model_output, const int64_t *timesteps,
                                  const float *sample, int64_t batch, int64_t per_sample, float *out)
{
    LCMD_TRY(lcmd_sched_check_batch(s, timesteps, batch, per_sample, "lcmd_predicted_origin"));
    LCMD_TRY(check_type(type, "lcmd_predicted_origin"));
    LCMD_CHECK_ARG(model_output && sample && out, "lcmd_predicted_origin", "model_output, sample or out is NULL");
    LCMD_TRY(lcmd_sched_check_finite(model_output, batch * per_sample, "lcmd_predicted_origin", "model_output"));
    LCMD_TRY(lcmd_sched_check_finite(sample, batch * per_sample, "lcmd_predicted_origin", "sample"));
    for (int64_t b = 0; b < batch; b++) {
        float al = s->alpha[timesteps[b]], si = s->sigma[timesteps[b]];
        const float *o = model_output + b * per_sample, *x = sample + b * per_sample;
        float *r = out + b * per_sample;
        for (int64_t i = 0; i < per_sample; i++) {
            float u, v;
            switch (type) {
            case LCMD_PREDICT_EPSILON: v = si * o[i]; r[i] = (x[i] - v) / al; break;
            case LCMD_PREDICT_V: u = al * x[i]; v = si * o[i]; r[i] = u - v; break;
            default: r[i] = o[i]; break;
            }
        }
    }
    return LCMD_OK;
}

lcmd_status lcmd_predicted_noise(const lcmd_noise_schedule *s, lcmd_prediction_type type,
                                 const float *model_output, const int64_t *timesteps,
                                 const float *sample, int64_t batch, int64_t per_sample, float *out)
{
    LCMD_TRY(lcmd_sched_check_batch(s, timesteps, batch, per_sample, "lcmd_predicted_noise"));
    LCMD_TRY(check_type(type, "lcmd_predicted_noise"));
    LCMD_CHECK_ARG(model_output && sample && out, "lcmd_predicted_noise", "model_output, sample or out is NULL");
    LCMD_TRY(lcmd_sched_check_finite(model_output, batch * per_sample, "lcmd_predicted_noise", "model_output"));
    LCMD_TRY(lcmd_sched_check_finite(sample, batch * per_sample, "lcmd_predicted_noise", "sample"));
    for (int64_t b = 0; b < batch; b++) {
        float al = s->alpha[timesteps[b]], si = s->sigma[timesteps[b]];
        const float *o = model_output + b * per_sample, *x = sample + b * per_sample;
        float *r = out + b * per_sample;
        for (int64_t i = 0; i < per_sample; i++) {
            float u, v;
            switch (type) {
            case LCMD_PREDICT_EPSILON: r[i] = o[i]; break;
            case LCMD_PREDICT_V: u = al * o[i]; v = si * x[i]; r[i] = u + v; break;
            default: u = al * o[i]; r[i] = (x[i] - u) / si; break;
            }
        }
    }
    return LCMD_OK;
}

void lcmd_sched_scalings_f32(int64_t t, float timestep_scaling, float *c_skip, float *c_out)
{
    const float sd2 = 0.25f;                   /* sigma_data^2 with sigma_data = 0.5 */
    float u = timestep_scaling * (float)t;
    float d = u * u + sd2;
    if (c_skip) *c_skip = sd2 / d;
    if (c_out) *c_out = u / sqrtf(d);
}

lcmd_status lcmd_boundary_scalings(const int64_t *timesteps, int64_t n, double timestep_scaling,
                                   float *c_skip, float *c_out)
{
    LCMD_CHECK_ARG(timesteps && n >= 1, "lcmd_boundary_scalings", "timesteps is NULL or n = %lld < 1", (long long)n);
    LCMD_CHECK_ARG(isfinite(timestep_scaling) && timestep_scaling >= 0, "lcmd_boundary_scalings",
                   "timestep_scaling = %g must be finite and >= 0", timestep_scaling);
    for (int64_t i = 0; i < n; i++) {
        LCMD_CHECK_ARG(timesteps[i] >= 0, "lcmd_boundary_scalings", "timesteps[%lld] = %lld is negative",
                       (long long)i, (long long)timesteps[i]);
        lcmd_sched_scalings_f32(timesteps[i], (float)timestep_scaling, c_skip ? c_skip + i : NULL, c_out ? c_out + i : NULL);
    }
    return LCMD_OK;
}

/* Correctly rounded float32 transcendental functions (through double): the
 * reference's vectorised float kernels are within one ulp of these. */
static float exp_f32(float x) { return (float)exp((double)x); }
static float sin_f32(float x) { return (float)sin((double)x); }
static float cos_f32(float x) { return (float)cos((double)x); }

lcmd_status lcmd_guidance_scale_embedding(const float *w, int64_t n, int64_t dim, float *out)
{
    LCMD_CHECK_ARG(w && out, "lcmd_guidance_scale_embedding", "w or out is NULL");
    LCMD_CHECK_ARG(n >= 1 && dim >= 4, "lcmd_guidance_scale_embedding", "n = %lld must be >= 1 and dim = %lld >= 4",
                   (long long)n, (long long)dim);
    for (int64_t b = 0; b < n; b++)
        LCMD_CHECK_ARG(isfinite(w[b]), "lcmd_guidance_scale_embedding", "w[%lld] is not finite", (long long)b);
    int64_t half = dim / 2;
    float e = (float)log(10000.0) / (float)(half - 1);
    for (int64_t b = 0; b < n; b++) {
        float wk = w[b] * 1000.0f;
        float *row = out + b * dim;
        for (int64_t j = 0; j < half; j++) {
            float a = wk * exp_f32((float)j * -e);
            row[j] = sin_f32(a);
            row[half + j] = cos_f32(a);
        }
        if (dim % 2) row[dim - 1] = 0.0f;
    }
    return LCMD_OK;
}
