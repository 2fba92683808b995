/* The DDIM solver of the distillation script: a fixed grid of N timesteps and the
 * deterministic step from one grid point to the previous one. */
#include <lcmd/scheduler.h>

#include <math.h>
#include <stdlib.h>

#include "context_internal.h"
#include "core/error.h"
#include "sched/sched_internal.h"

struct lcmd_ddim_solver {
    int32_t T, N, k;        /* k = T / N: distance between grid points */
    int64_t *timesteps;     /* ascending */
    double *ac;             /* ā at each grid point (float32 values) */
    double *ac_prev;        /* ā at the previous grid point; ā[0] first */
};

lcmd_status lcmd_ddim_solver_create(const lcmd_noise_schedule *s, int32_t num_ddim_timesteps, lcmd_ddim_solver **out)
{
    LCMD_CHECK_ARG(out, "lcmd_ddim_solver_create", "out is NULL");
    *out = NULL;
    LCMD_CHECK_ARG(s, "lcmd_ddim_solver_create", "schedule is NULL");
    LCMD_CHECK_ARG(num_ddim_timesteps >= 1 && num_ddim_timesteps <= s->T, "lcmd_ddim_solver_create",
                   "num_ddim_timesteps = %d must be in [1, %d]", num_ddim_timesteps, s->T);
    int32_t N = num_ddim_timesteps;
    lcmd_ddim_solver *d = calloc(1, sizeof *d);
    if (!d || !(d->timesteps = malloc((size_t)N * sizeof *d->timesteps)) ||
        !(d->ac = malloc((size_t)N * sizeof *d->ac)) || !(d->ac_prev = malloc((size_t)N * sizeof *d->ac_prev))) {
        lcmd_ddim_solver_destroy(d);
        return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "lcmd_ddim_solver_create: out of memory");
    }
    d->T = s->T;
    d->N = N;
    d->k = s->T / N;
    for (int32_t n = 0; n < N; n++) {
        d->timesteps[n] = (int64_t)(n + 1) * d->k - 1;
        d->ac[n] = s->ac[d->timesteps[n]];
        d->ac_prev[n] = n == 0 ? s->ac[0] : s->ac[d->timesteps[n - 1]];
    }
    *out = d;
    return LCMD_OK;
}

void lcmd_ddim_solver_destroy(lcmd_ddim_solver *d)
{
    if (!d) return;
    free(d->timesteps);
    free(d->ac);
    free(d->ac_prev);
    free(d);
}

int32_t lcmd_ddim_solver_num_timesteps(const lcmd_ddim_solver *d) { return d ? d->N : 0; }

lcmd_status lcmd_ddim_solver_timesteps(const lcmd_ddim_solver *d, int64_t *out, size_t n)
{
    LCMD_CHECK_ARG(d && out, "lcmd_ddim_solver_timesteps", "solver or out is NULL");
    LCMD_CHECK_ARG(n >= (size_t)d->N, "lcmd_ddim_solver_timesteps", "n = %zu is smaller than N = %d", n, d->N);
    for (int32_t i = 0; i < d->N; i++) out[i] = d->timesteps[i];
    return LCMD_OK;
}

lcmd_status lcmd_ddim_solver_alphas_cumprod(const lcmd_ddim_solver *d, double *at, double *prev, size_t n)
{
    LCMD_CHECK_ARG(d && at && prev, "lcmd_ddim_solver_alphas_cumprod", "NULL argument");
    LCMD_CHECK_ARG(n >= (size_t)d->N, "lcmd_ddim_solver_alphas_cumprod", "n = %zu is smaller than N = %d", n, d->N);
    for (int32_t i = 0; i < d->N; i++) {
        at[i] = d->ac[i];
        prev[i] = d->ac_prev[i];
    }
    return LCMD_OK;
}

lcmd_status lcmd_ddim_solver_interval(const lcmd_ddim_solver *d, int64_t index, int64_t *t_start, int64_t *t_end)
{
    LCMD_CHECK_ARG(d, "lcmd_ddim_solver_interval", "solver is NULL");
    LCMD_CHECK_ARG(index >= 0 && index < d->N, "lcmd_ddim_solver_interval", "index = %lld outside [0, %d)",
                   (long long)index, d->N);
    int64_t ts = d->timesteps[index];
    if (t_start) *t_start = ts;
    if (t_end) *t_end = ts - d->k > 0 ? ts - d->k : 0;
    return LCMD_OK;
}

lcmd_status lcmd_ddim_solver_step(const lcmd_ddim_solver *d, const float *pred_x0, const float *pred_noise,
                                  const int64_t *indices, int64_t batch, int64_t per_sample, float *x_prev)
{
    LCMD_CHECK_ARG(d && pred_x0 && pred_noise && indices && x_prev, "lcmd_ddim_solver_step", "NULL argument");
    LCMD_CHECK_ARG(batch >= 1 && per_sample >= 1, "lcmd_ddim_solver_step", "batch = %lld and per_sample = %lld must be >= 1",
                   (long long)batch, (long long)per_sample);
    for (int64_t b = 0; b < batch; b++)
        LCMD_CHECK_ARG(indices[b] >= 0 && indices[b] < d->N, "lcmd_ddim_solver_step",
                       "indices[%lld] = %lld outside [0, %d)", (long long)b, (long long)indices[b], d->N);
    LCMD_TRY(lcmd_sched_check_finite(pred_x0, batch * per_sample, "lcmd_ddim_solver_step", "pred_x0"));
    LCMD_TRY(lcmd_sched_check_finite(pred_noise, batch * per_sample, "lcmd_ddim_solver_step", "pred_noise"));
    for (int64_t b = 0; b < batch; b++) {
        double a = d->ac_prev[indices[b]];
        double ca = sqrt(a), cn = sqrt(1.0 - a);   /* float64, as the reference's table is */
        const float *x0 = pred_x0 + b * per_sample, *e = pred_noise + b * per_sample;
        float *o = x_prev + b * per_sample;
        for (int64_t i = 0; i < per_sample; i++) {
            double dir = cn * (double)e[i];
            o[i] = (float)(ca * (double)x0[i] + dir);
        }
    }
    return LCMD_OK;
}

lcmd_status lcmd_ddim_solver_step_device(lcmd_context *ctx, const lcmd_ddim_solver *d, const float *pred_x0,
                                         const float *pred_noise, const int64_t *indices, int64_t batch,
                                         int64_t per_sample, float *x_prev)
{
    LCMD_CHECK_ARG(ctx && d && pred_x0 && pred_noise && indices && x_prev, "lcmd_ddim_solver_step_device", "NULL argument");
    LCMD_CHECK_ARG(batch >= 1 && per_sample >= 1, "lcmd_ddim_solver_step_device",
                   "batch = %lld and per_sample = %lld must be >= 1", (long long)batch, (long long)per_sample);
    for (int64_t b = 0; b < batch; b++)
        LCMD_CHECK_ARG(indices[b] >= 0 && indices[b] < d->N, "lcmd_ddim_solver_step_device",
                       "indices[%lld] = %lld outside [0, %d)", (long long)b, (long long)indices[b], d->N);
    for (int64_t b = 0; b < batch; b++) {
        double a = d->ac_prev[indices[b]];
        int64_t o = b * per_sample;
        LCMD_TRY(lcmd_sched_combine(ctx->backend, x_prev + o, (float)sqrt(a), pred_x0 + o, (float)sqrt(1.0 - a),
                                    pred_noise + o, per_sample));
    }
    return LCMD_OK;
}
