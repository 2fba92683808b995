/* The LCM sampler (diffusers LCMScheduler): timestep selection and the step. */
#include <lcmd/scheduler.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "context_internal.h"
#include "core/error.h"
#include "core/philox.h"
#include "sched/sched_internal.h"

/* RNG stream of the noise injected between LCM steps */
#define LCM_NOISE_STREAM 0x4c434d4e4f495345ull

struct lcmd_lcm_scheduler {
    lcmd_noise_schedule *sched;
    lcmd_logger log;
    uint64_t seed;
    int64_t *timesteps;
    int32_t count;
    int32_t step_index;      /* -1 until the first step finds it */
    float final_ac;          /* ā after the last step: 1 or ā[0] */
};

lcmd_status lcmd_lcm_scheduler_create(lcmd_context *ctx, const lcmd_scheduler_config *cfg, lcmd_lcm_scheduler **out)
{
    LCMD_CHECK_ARG(out, "lcmd_lcm_scheduler_create", "out is NULL");
    *out = NULL;
    lcmd_lcm_scheduler *s = calloc(1, sizeof *s);
    if (!s)
        return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "lcmd_lcm_scheduler_create: out of memory");
    lcmd_status st = lcmd_noise_schedule_create(cfg, &s->sched);
    if (st) {
        free(s);
        return st;
    }
    if (ctx) {
        s->log = ctx->log;
        s->seed = ctx->seed;
    } else {
        s->log.level = LCMD_LOG_WARN;
    }
    s->step_index = -1;
    s->final_ac = cfg->set_alpha_to_one ? 1.0f : s->sched->ac[0];
    *out = s;
    return LCMD_OK;
}

void lcmd_lcm_scheduler_destroy(lcmd_lcm_scheduler *s)
{
    if (!s) return;
    lcmd_noise_schedule_destroy(s->sched);
    free(s->timesteps);
    free(s);
}

static lcmd_status set_list(lcmd_lcm_scheduler *s, const int64_t *ts, int32_t n)
{
    int64_t *copy = malloc((size_t)n * sizeof *copy);
    if (!copy)
        return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "lcm scheduler: out of memory");
    memcpy(copy, ts, (size_t)n * sizeof *copy);
    free(s->timesteps);
    s->timesteps = copy;
    s->count = n;
    s->step_index = -1;
    return LCMD_OK;
}

static lcmd_status resolve_original(const lcmd_lcm_scheduler *s, int32_t original, double strength,
                                    const char *fn, int32_t *O)
{
    *O = original > 0 ? original : s->sched->cfg.original_inference_steps;
    if (original < 0)
        return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "%s: original_inference_steps = %d must be >= 0 (0: the config's)", fn, original);
    if (*O > s->sched->T)
        return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "%s: original_inference_steps = %d cannot be larger than num_train_timesteps = %d",
                              fn, *O, s->sched->T);
    if (!(strength > 0.0 && strength <= 1.0))
        return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "%s: strength = %g must be in (0, 1]", fn, strength);
    return LCMD_OK;
}

lcmd_status lcmd_lcm_scheduler_set_timesteps(lcmd_lcm_scheduler *s, int32_t num_inference_steps,
                                             int32_t original_inference_steps, double strength)
{
    static const char fn[] = "lcmd_lcm_scheduler_set_timesteps";
    LCMD_CHECK_ARG(s, "lcmd_lcm_scheduler_set_timesteps", "scheduler is NULL");
    int32_t O;
    LCMD_TRY(resolve_original(s, original_inference_steps, strength, fn, &O));
    int32_t T = s->sched->T, n = num_inference_steps;
    if (n < 1 || n > T)
        return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "%s: num_inference_steps = %d must be in [1, num_train_timesteps = %d]", fn, n, T);
    int32_t k = T / O;
    int64_t origin_len = (int64_t)((double)O * strength);   /* int(original_steps * strength) */
    int64_t skipping = origin_len / n;
    if (skipping < 1)
        return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT,
                              "%s: original_inference_steps x strength = %d x %g is smaller than num_inference_steps = %d: "
                              "reduce num_inference_steps to at most %lld or increase strength",
                              fn, O, strength, n, (long long)origin_len);
    if (n > O)
        return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "%s: num_inference_steps = %d cannot be larger than original_inference_steps = %d",
                              fn, n, O);
    int64_t ts[1024];
    int64_t *buf = n <= 1024 ? ts : malloc((size_t)n * sizeof *buf);
    if (!buf)
        return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "%s: out of memory", fn);
    /* origin grid i·k − 1 for i = 1..origin_len, reversed, sampled at floor(linspace(0, len, n)) */
    double step = (double)origin_len / (double)n;
    for (int32_t i = 0; i < n; i++) {
        int64_t idx = (int64_t)floor((double)i * step);
        buf[i] = (origin_len - idx) * k - 1;
    }
    lcmd_status st = set_list(s, buf, n);
    if (buf != ts) free(buf);
    return st;
}

lcmd_status lcmd_lcm_scheduler_set_custom_timesteps(lcmd_lcm_scheduler *s, const int64_t *timesteps, size_t n,
                                                    int32_t original_inference_steps, double strength)
{
    static const char fn[] = "lcmd_lcm_scheduler_set_custom_timesteps";
    LCMD_CHECK_ARG(s && timesteps, "lcmd_lcm_scheduler_set_custom_timesteps", "scheduler or timesteps is NULL");
    LCMD_CHECK_ARG(n >= 1 && n <= (size_t)s->sched->T, "lcmd_lcm_scheduler_set_custom_timesteps",
                   "%zu timesteps: the list must hold 1 to %d entries", n, s->sched->T);
    int32_t O;
    LCMD_TRY(resolve_original(s, original_inference_steps, strength, fn, &O));
    int32_t T = s->sched->T, k = T / O;
    int64_t origin_len = (int64_t)((double)O * strength);
    if (timesteps[0] >= T)
        return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "%s: timesteps must start before num_train_timesteps = %d (timesteps[0] = %lld)",
                              fn, T, (long long)timesteps[0]);
    size_t off_grid = 0;
    for (size_t i = 0; i < n; i++) {
        if (timesteps[i] < 0)
            return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "%s: timesteps[%zu] = %lld is negative", fn, i, (long long)timesteps[i]);
        if (i > 0 && timesteps[i] >= timesteps[i - 1])
            return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "%s: custom timesteps must be in descending order (timesteps[%zu] = %lld >= timesteps[%zu] = %lld)",
                                  fn, i, (long long)timesteps[i], i - 1, (long long)timesteps[i - 1]);
        /* the reference checks every entry but the first against the origin grid */
        if (i > 0 && ((timesteps[i] + 1) % k != 0 || (timesteps[i] + 1) / k < 1 || (timesteps[i] + 1) / k > origin_len))
            off_grid++;
    }
    if (strength == 1.0 && timesteps[0] != T - 1)
        lcmd_log(&s->log, LCMD_LOG_WARN, "%s: the first custom timestep is %lld, not num_train_timesteps - 1 = %d; results may be unexpected",
                 fn, (long long)timesteps[0], T - 1);
    if (off_grid)
        lcmd_log(&s->log, LCMD_LOG_WARN, "%s: %zu custom timesteps are not on the original %d-step distillation grid; results may be unexpected",
                 fn, off_grid, O);
    if (n > (size_t)O)
        lcmd_log(&s->log, LCMD_LOG_WARN, "%s: %zu custom timesteps exceed the %d of the distillation grid; results may be unexpected", fn, n, O);
    size_t init = (size_t)((double)n * strength);
    if (init > n) init = n;
    if (init == 0)
        return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "%s: strength = %g keeps none of the %zu timesteps", fn, strength, n);
    return set_list(s, timesteps + (n - init), (int32_t)init);
}

int32_t lcmd_lcm_scheduler_num_timesteps(const lcmd_lcm_scheduler *s) { return s ? s->count : 0; }

lcmd_status lcmd_lcm_scheduler_timesteps(const lcmd_lcm_scheduler *s, int64_t *out, size_t n)
{
    LCMD_CHECK_ARG(s && out, "lcmd_lcm_scheduler_timesteps", "scheduler or out is NULL");
    LCMD_CHECK_ARG(n >= (size_t)s->count, "lcmd_lcm_scheduler_timesteps", "n = %zu is smaller than the %d timesteps", n, s->count);
    if (s->count)
        memcpy(out, s->timesteps, (size_t)s->count * sizeof *out);
    return LCMD_OK;
}

int32_t lcmd_lcm_scheduler_step_index(const lcmd_lcm_scheduler *s)
{
    return !s ? -1 : s->step_index < 0 ? 0 : s->step_index;
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

/* Dynamic thresholding of one sample's x̂0 (torch.quantile with linear interpolation). */
static lcmd_status threshold_sample(const lcmd_scheduler_config *cfg, float *x0, int64_t n)
{
    float *a = malloc((size_t)n * sizeof *a);
    if (!a)
        return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "lcm scheduler: out of memory");
    for (int64_t i = 0; i < n; i++) a[i] = fabsf(x0[i]);
    qsort(a, (size_t)n, sizeof *a, cmp_float);
    double pos = cfg->dynamic_thresholding_ratio * (double)(n - 1);
    int64_t lo = (int64_t)floor(pos), hi = lo + 1 < n ? lo + 1 : lo;
    float frac = (float)(pos - (double)lo);
    float q = a[lo] + frac * (a[hi] - a[lo]);
    free(a);
    float smax = (float)cfg->sample_max_value;
    float sc = q < 1.0f ? 1.0f : q > smax ? smax : q;
    for (int64_t i = 0; i < n; i++) {
        float v = x0[i] < -sc ? -sc : x0[i] > sc ? sc : x0[i];
        x0[i] = v / sc;
    }
    return LCMD_OK;
}

lcmd_status lcmd_lcm_scheduler_step(lcmd_lcm_scheduler *s, const float *model_output, int64_t timestep,
                                    const float *sample, int64_t batch, int64_t per_sample,
                                    const float *noise, float *prev_sample, float *denoised)
{
    static const char fn[] = "lcmd_lcm_scheduler_step";
    LCMD_CHECK_ARG(s && model_output && sample && prev_sample, "lcmd_lcm_scheduler_step",
                   "scheduler, model_output, sample or prev_sample is NULL");
    LCMD_CHECK_ARG(batch >= 1 && per_sample >= 1, "lcmd_lcm_scheduler_step", "batch = %lld and per_sample = %lld must be >= 1",
                   (long long)batch, (long long)per_sample);
    if (s->count == 0)
        return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "%s: no timesteps: call lcmd_lcm_scheduler_set_timesteps first", fn);
    if (timestep < 0 || timestep >= s->sched->T)
        return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "%s: timestep %lld outside [0, %d)", fn, (long long)timestep, s->sched->T);
    if (s->step_index < 0) {
        /* found by value; with duplicates the second match, as the reference does */
        int32_t found = -1, matches = 0;
        for (int32_t i = 0; i < s->count; i++)
            if (s->timesteps[i] == timestep && ++matches <= 2) found = i;
        if (found < 0)
            return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "%s: timestep %lld is not in the schedule", fn, (long long)timestep);
        s->step_index = found;
    }
    if (s->step_index >= s->count)
        return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "%s: all %d steps have been taken; set the timesteps again", fn, s->count);
    int64_t total = batch * per_sample;
    LCMD_TRY(lcmd_sched_check_finite(model_output, total, fn, "model_output"));
    LCMD_TRY(lcmd_sched_check_finite(sample, total, fn, "sample"));
    if (noise)
        LCMD_TRY(lcmd_sched_check_finite(noise, total, fn, "noise"));

    const lcmd_scheduler_config *cfg = &s->sched->cfg;
    int32_t next = s->step_index + 1;
    int64_t prev_t = next < s->count ? s->timesteps[next] : timestep;
    float a_t = s->sched->ac[timestep], b_t = 1.0f - a_t;
    float a_p = prev_t >= 0 ? s->sched->ac[prev_t] : s->final_ac, b_p = 1.0f - a_p;
    float c_skip, c_out;
    lcmd_sched_scalings_f32(timestep, (float)cfg->timestep_scaling, &c_skip, &c_out);
    float sa = sqrtf(a_t), sb = sqrtf(b_t), spa = sqrtf(a_p), spb = sqrtf(b_p);
    int last = s->step_index == s->count - 1;

    float *x0 = malloc((size_t)per_sample * sizeof *x0);
    float *z = (!last && !noise) ? malloc((size_t)total * sizeof *z) : NULL;
    if (!x0 || (!last && !noise && !z)) {
        free(x0);
        free(z);
        return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "%s: out of memory", fn);
    }
    if (z) {   /* keyed by seed and step index: the same schedule draws the same noise */
        uint64_t blocks = ((uint64_t)total + 3) / 4;
        for (int64_t i = 0; i < total; i += 4) {
            float q[4];
            lcmd_box_muller(lcmd_rng_block(s->seed, LCM_NOISE_STREAM, (uint64_t)s->step_index * blocks + (uint64_t)i / 4), q);
            for (int j = 0; j < 4 && i + j < total; j++) z[i + j] = q[j];
        }
    }
    lcmd_status st = LCMD_OK;
    for (int64_t b = 0; b < batch && st == LCMD_OK; b++) {
        const float *o = model_output + b * per_sample, *x = sample + b * per_sample;
        for (int64_t i = 0; i < per_sample; i++) {
            float u, v;
            switch (cfg->prediction_type) {
            case LCMD_PREDICT_EPSILON: v = sb * o[i]; x0[i] = (x[i] - v) / sa; break;
            case LCMD_PREDICT_V: u = sa * x[i]; v = sb * o[i]; x0[i] = u - v; break;
            default: x0[i] = o[i]; break;
            }
        }
        if (cfg->thresholding) {
            st = threshold_sample(cfg, x0, per_sample);
        } else if (cfg->clip_sample) {
            float r = (float)cfg->clip_sample_range;
            for (int64_t i = 0; i < per_sample; i++) x0[i] = x0[i] < -r ? -r : x0[i] > r ? r : x0[i];
        }
        const float *zz = noise ? noise + b * per_sample : z ? z + b * per_sample : NULL;
        float *p = prev_sample + b * per_sample, *dn = denoised ? denoised + b * per_sample : NULL;
        for (int64_t i = 0; i < per_sample; i++) {
            float u = c_out * x0[i], v = c_skip * x[i];
            float d = u + v;
            if (dn) dn[i] = d;
            if (last) {
                p[i] = d;
            } else {
                float pu = spa * d, pv = spb * zz[i];
                p[i] = pu + pv;
            }
        }
    }
    free(x0);
    free(z);
    if (st == LCMD_OK)
        s->step_index++;
    return st;
}
