/* Shared state of the schedule, solver and sampler. */
#ifndef LCMD_SCHED_INTERNAL_H
#define LCMD_SCHED_INTERNAL_H

#include <lcmd/scheduler.h>

#include "core/log.h"

struct lcmd_noise_schedule {
    lcmd_scheduler_config cfg;
    int32_t T;
    float *betas;     /* float32 as diffusers keeps them */
    float *ac;        /* alphas_cumprod, float32 */
    float *alpha;     /* sqrt(ac), float32: the training alpha table */
    float *sigma;     /* sqrt(1 - ac), float32 */
};

/* Checks the parts of a config a schedule depends on; names the bad field. */
lcmd_status lcmd_sched_validate_config(const lcmd_scheduler_config *cfg, const char *fn);

/* c_skip and c_out of one timestep in float32, as the reference computes them. */
void lcmd_sched_scalings_f32(int64_t t, float timestep_scaling, float *c_skip, float *c_out);

/* Checks batch/per_sample and that every timestep lies in [0, T). */
lcmd_status lcmd_sched_check_batch(const lcmd_noise_schedule *s, const int64_t *timesteps, int64_t batch,
                                   int64_t per_sample, const char *fn);

/* LCMD_ERR_NUMERIC naming `what`[i] at the first NaN or Inf of x[0..n). */
lcmd_status lcmd_sched_check_finite(const float *x, int64_t n, const char *fn, const char *what);

/* out = a x + b y (y may be NULL) on backend memory, n floats; out may alias x or y. */
struct lcmd_backend;
lcmd_status lcmd_sched_combine(struct lcmd_backend *be, float *out, float a, const float *x, float b, const float *y,
                               int64_t n);

#endif /* LCMD_SCHED_INTERNAL_H */
