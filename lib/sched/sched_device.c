/* The elementwise schedule functions on a context's device memory, as scale/axpy
 * passes of the op table (so the CPU and CUDA backends both run them). */
#include <lcmd/scheduler.h>

#include <math.h>

#include "context_internal.h"
#include "core/error.h"
#include "ops/op_calls.h"
#include "sched/sched_internal.h"

lcmd_status lcmd_sched_combine(lcmd_backend *be, float *out, float a, const float *x, float b, const float *y,
                               int64_t n)
{
    if (out == x) {
        LCMD_TRY(lcmd_op_scale(be, LCMD_DT_F32, out, a, n));
        return y ? lcmd_op_axpy(be, LCMD_DT_F32, out, b, y, n) : LCMD_OK;
    }
    if (y && out == y) {
        LCMD_TRY(lcmd_op_scale(be, LCMD_DT_F32, out, b, n));
        return lcmd_op_axpy(be, LCMD_DT_F32, out, a, x, n);
    }
    LCMD_TRY(lcmd_op_zero(be, out, (size_t)n * sizeof *out));
    LCMD_TRY(lcmd_op_axpy(be, LCMD_DT_F32, out, a, x, n));
    return y ? lcmd_op_axpy(be, LCMD_DT_F32, out, b, y, n) : LCMD_OK;
}

lcmd_status lcmd_add_noise_device(lcmd_context *ctx, const lcmd_noise_schedule *s, const float *x0,
                                  const float *noise, const int64_t *timesteps, int64_t batch,
                                  int64_t per_sample, float *out)
{
    LCMD_CHECK_ARG(ctx, "lcmd_add_noise_device", "ctx is NULL");
    LCMD_TRY(lcmd_sched_check_batch(s, timesteps, batch, per_sample, "lcmd_add_noise_device"));
    LCMD_CHECK_ARG(x0 && noise && out, "lcmd_add_noise_device", "x0, noise or out is NULL");
    for (int64_t b = 0; b < batch; b++) {
        float a = s->ac[timesteps[b]];
        int64_t o = b * per_sample;
        LCMD_TRY(lcmd_sched_combine(ctx->backend, out + o, sqrtf(a), x0 + o, sqrtf(1.0f - a), noise + o, per_sample));
    }
    return LCMD_OK;
}

/* x̂0 (want_noise = 0) or ε̂ (1) as a combination u·output + v·sample per sample */
static lcmd_status convert(lcmd_context *ctx, const lcmd_noise_schedule *s, lcmd_prediction_type type, int want_noise,
                           const float *model_output, const int64_t *timesteps, const float *sample, int64_t batch,
                           int64_t per_sample, float *out, const char *fn)
{
    LCMD_CHECK_ARG(ctx, "lcmd_predicted_device", "%s: ctx is NULL", fn);
    LCMD_TRY(lcmd_sched_check_batch(s, timesteps, batch, per_sample, fn));
    if (type < LCMD_PREDICT_EPSILON || type > LCMD_PREDICT_SAMPLE)
        return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "%s: prediction type %d is not epsilon, v_prediction or sample", fn, (int)type);
    LCMD_CHECK_ARG(model_output && sample && out, "lcmd_predicted_device", "%s: model_output, sample or out is NULL", fn);
    for (int64_t b = 0; b < batch; b++) {
        float al = s->alpha[timesteps[b]], si = s->sigma[timesteps[b]], u, v;
        if (!want_noise) {
            switch (type) {
            case LCMD_PREDICT_EPSILON: u = -si / al; v = 1.0f / al; break;   /* (x - σ o) / α */
            case LCMD_PREDICT_V: u = -si; v = al; break;                     /* α x - σ o */
            default: u = 1.0f; v = 0.0f; break;                              /* o */
            }
        } else {
            switch (type) {
            case LCMD_PREDICT_EPSILON: u = 1.0f; v = 0.0f; break;            /* o */
            case LCMD_PREDICT_V: u = al; v = si; break;                      /* α o + σ x */
            default: u = -al / si; v = 1.0f / si; break;                     /* (x - α o) / σ */
            }
        }
        int64_t o = b * per_sample;
        LCMD_TRY(lcmd_sched_combine(ctx->backend, out + o, u, model_output + o, v, v != 0.0f ? sample + o : NULL,
                                    per_sample));
    }
    return LCMD_OK;
}

lcmd_status lcmd_predicted_origin_device(lcmd_context *ctx, const lcmd_noise_schedule *s, lcmd_prediction_type type,
                                         const float *model_output, const int64_t *timesteps, const float *sample,
                                         int64_t batch, int64_t per_sample, float *out)
{
    return convert(ctx, s, type, 0, model_output, timesteps, sample, batch, per_sample, out, "lcmd_predicted_origin_device");
}

lcmd_status lcmd_predicted_noise_device(lcmd_context *ctx, const lcmd_noise_schedule *s, lcmd_prediction_type type,
                                        const float *model_output, const int64_t *timesteps, const float *sample,
                                        int64_t batch, int64_t per_sample, float *out)
{
    return convert(ctx, s, type, 1, model_output, timesteps, sample, batch, per_sample, out, "lcmd_predicted_noise_device");
}
