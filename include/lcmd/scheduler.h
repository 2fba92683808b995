/* liblcmd: noise schedules, the DDIM solver of distillation, boundary-condition
 * scalings, the guidance-scale embedding and the LCM sampler (LCMScheduler).
 *
 * All arrays are host memory, row-major. A "batch" of samples is `batch` rows of
 * `per_sample` floats (a latent NCHW tensor is batch x C*H*W). Timesteps are
 * integers in [0, num_train_timesteps). Float results follow the reference's
 * float32 arithmetic (diffusers on PyTorch), including where it rounds. */
#ifndef LCMD_SCHEDULER_H
#define LCMD_SCHEDULER_H

#include <stddef.h>
#include <stdint.h>
#include <lcmd/lcmd_export.h>
#include <lcmd/status.h>
#include <lcmd/context.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum lcmd_beta_schedule {
    LCMD_BETA_LINEAR = 0,             /* "linear" */
    LCMD_BETA_SCALED_LINEAR = 1,      /* "scaled_linear" (SD) */
    LCMD_BETA_SQUAREDCOS_CAP_V2 = 2   /* "squaredcos_cap_v2" */
} lcmd_beta_schedule;

typedef enum lcmd_prediction_type {
    LCMD_PREDICT_EPSILON = 0,         /* "epsilon" */
    LCMD_PREDICT_V = 1,               /* "v_prediction" */
    LCMD_PREDICT_SAMPLE = 2           /* "sample" */
} lcmd_prediction_type;

typedef enum lcmd_timestep_spacing {
    LCMD_SPACING_LEADING = 0,         /* "leading" */
    LCMD_SPACING_TRAILING = 1,        /* "trailing" */
    LCMD_SPACING_LINSPACE = 2         /* "linspace" */
} lcmd_timestep_spacing;

/** A diffusers scheduler_config.json, as far as the noise schedule, the DDIM solver and
 *  LCMScheduler use it. Fill with lcmd_scheduler_config_init() (LCMScheduler's
 *  defaults), then lcmd_scheduler_config_load/parse, or set fields by hand. */
typedef struct lcmd_scheduler_config {
    uint32_t struct_size;
    int32_t num_train_timesteps;          /**< 1000 */
    double beta_start;                    /**< 0.00085 */
    double beta_end;                      /**< 0.012 */
    lcmd_beta_schedule beta_schedule;     /**< scaled_linear */
    lcmd_prediction_type prediction_type; /**< epsilon */
    lcmd_timestep_spacing timestep_spacing; /**< leading (not used by LCM) */
    int32_t steps_offset;                 /**< 0 (not used by LCM) */
    int32_t set_alpha_to_one;             /**< 1: final_alpha_cumprod = 1, else alphas_cumprod[0] */
    int32_t rescale_betas_zero_snr;       /**< 0 */
    int32_t clip_sample;                  /**< 0 */
    double clip_sample_range;             /**< 1.0 */
    int32_t thresholding;                 /**< 0: dynamic thresholding of x0 */
    double dynamic_thresholding_ratio;    /**< 0.995 */
    double sample_max_value;              /**< 1.0 */
    int32_t original_inference_steps;     /**< 50 */
    double timestep_scaling;              /**< 10.0 */
} lcmd_scheduler_config;

/** Fills `cfg` with LCMScheduler's defaults and sets struct_size.
 *  Errors: LCMD_ERR_INVALID_ARGUMENT if cfg is NULL. */
LCMD_API lcmd_status lcmd_scheduler_config_init(lcmd_scheduler_config *cfg);

/** Reads a scheduler_config.json (of any diffusers scheduler class) over `cfg`: keys it
 *  holds replace the fields, keys it lacks keep their values, keys liblcmd does not use
 *  are ignored (as diffusers ignores them). `cfg` must have been initialised.
 *  Errors: LCMD_ERR_IO (cannot read `path`), LCMD_ERR_FORMAT (malformed JSON, wrong
 *  type of a known key; the message names the file and key), LCMD_ERR_UNSUPPORTED (a
 *  value liblcmd does not implement, e.g. beta_schedule "sigmoid" or trained_betas),
 *  LCMD_ERR_INVALID_ARGUMENT (a value out of range, e.g. num_train_timesteps < 2). */
LCMD_API lcmd_status lcmd_scheduler_config_load(const char *path, lcmd_scheduler_config *cfg);

/** The same from a JSON text of `len` bytes; `label` names it in messages (may be NULL). */
LCMD_API lcmd_status lcmd_scheduler_config_parse(const char *json, size_t len, const char *label,
                                                 lcmd_scheduler_config *cfg);

/* ---------------------------------------------------------------- noise schedule */

/** Opaque noise schedule: betas, alphas_cumprod and the alpha/sigma tables. */
typedef struct lcmd_noise_schedule lcmd_noise_schedule;

/** Builds the schedule of `cfg` exactly as diffusers does (float32 betas; a float64
 *  running product rounded to float32 per element for alphas_cumprod).
 *  *out owns the new schedule. Errors: LCMD_ERR_INVALID_ARGUMENT (NULL, bad struct_size,
 *  num_train_timesteps < 2, beta values not finite or not in [0, 1)). */
LCMD_API lcmd_status lcmd_noise_schedule_create(const lcmd_scheduler_config *cfg, lcmd_noise_schedule **out);
/** NULL is a no-op. */
LCMD_API void lcmd_noise_schedule_destroy(lcmd_noise_schedule *s);
/** T = num_train_timesteps, or 0 for NULL. */
LCMD_API int32_t lcmd_noise_schedule_num_timesteps(const lcmd_noise_schedule *s);
/** Copies T values of betas / alphas_cumprod (float32 values held in doubles) / the
 *  training alpha table sqrt(ā) and sigma table sqrt(1 − ā) (float32) into `out`,
 *  which holds `n` >= T values. Errors: LCMD_ERR_INVALID_ARGUMENT. */
LCMD_API lcmd_status lcmd_noise_schedule_betas(const lcmd_noise_schedule *s, double *out, size_t n);
LCMD_API lcmd_status lcmd_noise_schedule_alphas_cumprod(const lcmd_noise_schedule *s, double *out, size_t n);
LCMD_API lcmd_status lcmd_noise_schedule_alpha_sigma(const lcmd_noise_schedule *s, float *alpha, float *sigma, size_t n);

/** Forward noising (DDPM add_noise): out = sqrt(ā[t]) x0 + sqrt(1 − ā[t]) noise per
 *  sample, with the coefficients in float32. out may alias x0 or noise.
 *  Errors: LCMD_ERR_INVALID_ARGUMENT (NULL pointers, batch or per_sample < 1, a
 *  timestep outside [0, T)); LCMD_ERR_NUMERIC (NaN or Inf in an input, named). */
LCMD_API lcmd_status lcmd_add_noise(const lcmd_noise_schedule *s, const float *x0, const float *noise,
                                    const int64_t *timesteps, int64_t batch, int64_t per_sample, float *out);

/** x̂0 from a model output at timestep t (per sample), with α = sqrt(ā[t]), σ = sqrt(1 − ā[t]):
 *  epsilon (x − σ o)/α, v_prediction α x − σ o, sample o. out may alias an input.
 *  Errors: as lcmd_add_noise, plus an unknown prediction type. */
LCMD_API lcmd_status lcmd_predicted_origin(const lcmd_noise_schedule *s, lcmd_prediction_type type,
                                           const float *model_output, const int64_t *timesteps,
                                           const float *sample, int64_t batch, int64_t per_sample, float *out);

/** ε̂ from a model output: epsilon o, v_prediction α o + σ x, sample (x − α o)/σ. */
LCMD_API lcmd_status lcmd_predicted_noise(const lcmd_noise_schedule *s, lcmd_prediction_type type,
                                          const float *model_output, const int64_t *timesteps,
                                          const float *sample, int64_t batch, int64_t per_sample, float *out);

/** Boundary-condition scalings of the consistency function, per timestep, float32:
 *  with u = timestep_scaling·t, c_skip = σd²/(u² + σd²), c_out = u/sqrt(u² + σd²), σd = 0.5.
 *  Either output may be NULL. Errors: LCMD_ERR_INVALID_ARGUMENT (NULL timesteps, n < 1,
 *  negative timestep, non-finite scaling). */
LCMD_API lcmd_status lcmd_boundary_scalings(const int64_t *timesteps, int64_t n, double timestep_scaling,
                                            float *c_skip, float *c_out);

/** Guidance-scale embedding of the LCD script (float32, sin first, no flip, frequency
 *  denominator dim/2 − 1, a zero column when dim is odd): out is n x dim.
 *  Errors: LCMD_ERR_INVALID_ARGUMENT (NULL, n < 1, dim < 4, a non-finite w). */
LCMD_API lcmd_status lcmd_guidance_scale_embedding(const float *w, int64_t n, int64_t dim, float *out);

/* ---------------------------------------------------------------- DDIM solver */

/** Opaque DDIM solver of the distillation script over N grid points. */
typedef struct lcmd_ddim_solver lcmd_ddim_solver;

/** Builds the solver grid: timesteps[n] = round((n + 1)·(T / N)) − 1 (ascending),
 *  ā at each and at the previous grid point (ā[0] before the first). The schedule is
 *  copied; it may be destroyed afterwards. Errors: LCMD_ERR_INVALID_ARGUMENT (NULL,
 *  num_ddim_timesteps < 1 or > T). */
LCMD_API lcmd_status lcmd_ddim_solver_create(const lcmd_noise_schedule *s, int32_t num_ddim_timesteps,
                                             lcmd_ddim_solver **out);
LCMD_API void lcmd_ddim_solver_destroy(lcmd_ddim_solver *d);
/** N, or 0 for NULL. */
LCMD_API int32_t lcmd_ddim_solver_num_timesteps(const lcmd_ddim_solver *d);
/** Copies the N grid timesteps / ā at each grid point / ā at the previous point into
 *  arrays of n >= N values. Errors: LCMD_ERR_INVALID_ARGUMENT. */
LCMD_API lcmd_status lcmd_ddim_solver_timesteps(const lcmd_ddim_solver *d, int64_t *out, size_t n);
LCMD_API lcmd_status lcmd_ddim_solver_alphas_cumprod(const lcmd_ddim_solver *d, double *at, double *prev, size_t n);
/** The start and end timesteps of grid index `index`: t_start = timesteps[index],
 *  t_end = max(t_start − T/N, 0). Either output may be NULL. */
LCMD_API lcmd_status lcmd_ddim_solver_interval(const lcmd_ddim_solver *d, int64_t index,
                                               int64_t *t_start, int64_t *t_end);
/** One deterministic DDIM step per sample: x_prev = sqrt(a')·x̂0 + sqrt(1 − a')·ε̂ with
 *  a' = ā at the grid point before `indices[b]`, computed in double precision and
 *  rounded once to float. Errors: LCMD_ERR_INVALID_ARGUMENT (NULL, sizes < 1, an
 *  index outside [0, N)); LCMD_ERR_NUMERIC (NaN or Inf in an input). */
LCMD_API lcmd_status lcmd_ddim_solver_step(const lcmd_ddim_solver *d, const float *pred_x0,
                                           const float *pred_noise, const int64_t *indices,
                                           int64_t batch, int64_t per_sample, float *x_prev);

/* ---------------------------------------------------------------- on device memory */

/* The same functions on arrays in the memory of a context's device: for a "cuda:N"
 * context, device pointers on GPU N (e.g. from cudaMalloc); for a "cpu" context, host
 * memory. Timesteps and indices stay host arrays (they are per sample). The work runs on
 * the context's op backend; results agree with the host functions to float rounding
 * (~1e-7 relative: coefficients are applied as scale/axpy passes). `out` may alias one
 * input. Errors: as the host versions (LCMD_ERR_NUMERIC is not checked on device
 * memory), plus LCMD_ERR_INVALID_ARGUMENT for a NULL ctx and LCMD_ERR_DEVICE. */
LCMD_API lcmd_status lcmd_add_noise_device(lcmd_context *ctx, const lcmd_noise_schedule *s, const float *x0,
                                           const float *noise, const int64_t *timesteps, int64_t batch,
                                           int64_t per_sample, float *out);
LCMD_API lcmd_status lcmd_predicted_origin_device(lcmd_context *ctx, const lcmd_noise_schedule *s,
                                                  lcmd_prediction_type type, const float *model_output,
                                                  const int64_t *timesteps, const float *sample, int64_t batch,
                                                  int64_t per_sample, float *out);
LCMD_API lcmd_status lcmd_predicted_noise_device(lcmd_context *ctx, const lcmd_noise_schedule *s,
                                                 lcmd_prediction_type type, const float *model_output,
                                                 const int64_t *timesteps, const float *sample, int64_t batch,
                                                 int64_t per_sample, float *out);
LCMD_API lcmd_status lcmd_ddim_solver_step_device(lcmd_context *ctx, const lcmd_ddim_solver *d, const float *pred_x0,
                                                  const float *pred_noise, const int64_t *indices, int64_t batch,
                                                  int64_t per_sample, float *x_prev);

/* ---------------------------------------------------------------- LCM scheduler */

/** Opaque LCM sampler (diffusers LCMScheduler). */
typedef struct lcmd_lcm_scheduler lcmd_lcm_scheduler;

/** Creates a sampler from a config (copied). `ctx` (may be NULL) gives the seed of the
 *  noise the sampler draws between steps and the log for its warnings. Errors:
 *  LCMD_ERR_INVALID_ARGUMENT as lcmd_noise_schedule_create. */
LCMD_API lcmd_status lcmd_lcm_scheduler_create(lcmd_context *ctx, const lcmd_scheduler_config *cfg,
                                               lcmd_lcm_scheduler **out);
LCMD_API void lcmd_lcm_scheduler_destroy(lcmd_lcm_scheduler *s);

/** Sets `num_inference_steps` timesteps, evenly spaced in index over the origin grid
 *  of `original_inference_steps` (0: the config's value) points, shortened by
 *  `strength` in (0, 1]. Resets the step index. Errors: LCMD_ERR_INVALID_ARGUMENT when
 *  diffusers raises: steps < 1 or > T, original steps > T, steps > original steps,
 *  original steps x strength < steps, strength not in (0, 1]. */
LCMD_API lcmd_status lcmd_lcm_scheduler_set_timesteps(lcmd_lcm_scheduler *s, int32_t num_inference_steps,
                                                      int32_t original_inference_steps, double strength);

/** Uses a caller's strictly descending list (first element < T), trimmed by strength to
 *  its last min(int(n·strength), n) entries. Off-grid entries, a first element other than
 *  T − 1 at strength 1, or more entries than the origin grid are allowed with a warning
 *  through the context's log, as the reference does. Errors: LCMD_ERR_INVALID_ARGUMENT
 *  (NULL or empty list, not strictly descending, negative or >= T entries, strength not
 *  in (0, 1], original steps > T). */
LCMD_API lcmd_status lcmd_lcm_scheduler_set_custom_timesteps(lcmd_lcm_scheduler *s, const int64_t *timesteps,
                                                             size_t n, int32_t original_inference_steps,
                                                             double strength);

/** Number of timesteps set (0 before any set_timesteps). */
LCMD_API int32_t lcmd_lcm_scheduler_num_timesteps(const lcmd_lcm_scheduler *s);
/** Copies the timesteps (descending) into `out` of n >= count entries. */
LCMD_API lcmd_status lcmd_lcm_scheduler_timesteps(const lcmd_lcm_scheduler *s, int64_t *out, size_t n);
/** Index of the next step (0 after set_timesteps; the first step() finds it by value). */
LCMD_API int32_t lcmd_lcm_scheduler_step_index(const lcmd_lcm_scheduler *s);

/** One LCM step at `timestep` (a value of the schedule). Computes x̂0 by the config's
 *  prediction type, thresholds or clips it if configured, denoised = c_out·x̂0 +
 *  c_skip·x at the current timestep; unless this is the last step, prev_sample =
 *  sqrt(ā_prev)·denoised + sqrt(1 − ā_prev)·z with z from `noise` (batch x per_sample
 *  standard normals) or, when noise is NULL, drawn from the library RNG keyed by the
 *  context's seed and the step index; on the last step prev_sample = denoised.
 *  `denoised` may be NULL. Errors: LCMD_ERR_INVALID_ARGUMENT (no timesteps set, a
 *  timestep not in the schedule, NULL or sizes < 1, all steps already taken),
 *  LCMD_ERR_NUMERIC (NaN or Inf in the model output, sample or noise). */
LCMD_API lcmd_status lcmd_lcm_scheduler_step(lcmd_lcm_scheduler *s, const float *model_output, int64_t timestep,
                                             const float *sample, int64_t batch, int64_t per_sample,
                                             const float *noise, float *prev_sample, float *denoised);

#ifdef __cplusplus
}
#endif

#endif /* LCMD_SCHEDULER_H */
