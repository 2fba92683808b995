/* liblcmd: latent consistency distillation, one training step at a time
 * (train_lcm_distill_sd_wds.py; spec §6 and §7). A trainer owns the student (the
 * teacher with a guidance-embedding projection), the target (its EMA copy), the
 * AdamW moments and the DDIM solver of the teacher's schedule. Computation is in
 * float32 (the solver step and the target in float64, as the script). */
#ifndef LCMD_TRAINER_H
#define LCMD_TRAINER_H

#include <stddef.h>
#include <stdint.h>
#include <lcmd/lcmd_export.h>
#include <lcmd/status.h>
#include <lcmd/context.h>
#include <lcmd/scheduler.h>
#include <lcmd/unet.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum lcmd_loss_type {
    LCMD_LOSS_L2 = 0,                 /**< mean(d²) */
    LCMD_LOSS_HUBER = 1               /**< pseudo-Huber: mean(sqrt(d² + c²) − c) */
} lcmd_loss_type;

typedef enum lcmd_lr_schedule {
    LCMD_LR_CONSTANT = 0,
    LCMD_LR_CONSTANT_WITH_WARMUP = 1,
    LCMD_LR_LINEAR = 2,
    LCMD_LR_COSINE = 3,
    LCMD_LR_COSINE_WITH_RESTARTS = 4,
    LCMD_LR_POLYNOMIAL = 5
} lcmd_lr_schedule;

/** Hyper-parameters, with the script's defaults. Fill with lcmd_trainer_options_init(). */
typedef struct lcmd_trainer_options {
    uint32_t struct_size;
    double learning_rate;             /**< 1e-4 */
    double adam_beta1;                /**< 0.9 */
    double adam_beta2;                /**< 0.999 */
    double adam_weight_decay;         /**< 1e-2 (decoupled, every parameter) */
    double adam_epsilon;              /**< 1e-8 */
    double max_grad_norm;             /**< 1.0 (global L2 norm) */
    double w_min;                     /**< 5.0: guidance weights w ~ U[w_min, w_max) */
    double w_max;                     /**< 15.0 */
    int32_t num_ddim_timesteps;       /**< 50 */
    lcmd_loss_type loss_type;         /**< l2 */
    double huber_c;                   /**< 0.001 */
    double ema_decay;                 /**< 0.95 */
    double timestep_scaling_factor;   /**< 10.0 */
    int32_t unet_time_cond_proj_dim;  /**< 256 (used when the teacher has none) */
    lcmd_lr_schedule lr_scheduler;    /**< constant */
    int64_t lr_warmup_steps;          /**< 500 */
    int64_t max_train_steps;          /**< 0: unknown (the decaying schedules then need it set) */
    int32_t gradient_accumulation_steps; /**< 1 */
    uint64_t seed;                    /**< 0: the draws' Philox key (see lcmd_trainer_step_latents) */
} lcmd_trainer_options;

/** Fills the defaults above. Errors: LCMD_ERR_INVALID_ARGUMENT (NULL). */
LCMD_API lcmd_status lcmd_trainer_options_init(lcmd_trainer_options *o);

typedef struct lcmd_trainer lcmd_trainer;

/** Makes a trainer: the student (lcmd_unet_create_student, so its new projection comes
 *  from the context's seed), the target (an exact copy of the student), zeroed AdamW
 *  moments and the DDIM solver of `sched` with o->num_ddim_timesteps. The teacher is
 *  borrowed (its forward scratch is used by every step, so it must not run elsewhere
 *  meanwhile): it and ctx must outlive the trainer. opts may be NULL (defaults).
 *  SD1.x/2.x teachers without a guidance projection only (SDXL: LCMD_ERR_UNSUPPORTED).
 *  Errors: LCMD_ERR_INVALID_ARGUMENT (NULL, out-of-range option), LCMD_ERR_OUT_OF_MEMORY,
 *  LCMD_ERR_DEVICE. */
LCMD_API lcmd_status lcmd_trainer_create(lcmd_context *ctx, const lcmd_unet *teacher,
                                         const lcmd_scheduler_config *sched, const lcmd_trainer_options *opts,
                                         lcmd_trainer **out);

/** NULL is a no-op. */
LCMD_API void lcmd_trainer_destroy(lcmd_trainer *tr);

/** The trainer's student and target UNets (owned by the trainer; may be used for
 *  inference or lcmd_unet_save between steps). NULL for a NULL trainer. */
LCMD_API lcmd_unet *lcmd_trainer_student(lcmd_trainer *tr);
LCMD_API lcmd_unet *lcmd_trainer_target(lcmd_trainer *tr);

/** One micro-batch, host arrays, row-major. Fill with lcmd_step_inputs_init(). */
typedef struct lcmd_step_inputs {
    uint32_t struct_size;
    int64_t batch, channels, height, width;   /**< latent shape; channels = the UNet's in_channels */
    const float *latents;             /**< z0 [B,C,H,W]: scaled VAE latents */
    int64_t seq_len, embed_dim;       /**< L, D (D = the UNet's cross_attention_dim) */
    const float *cond_embeds;         /**< [B,L,D] text embeddings of the captions */
    const float *uncond_embeds;       /**< [B,L,D] embeddings of the empty caption */
    /* optional injected draws; NULL = drawn (see lcmd_trainer_step_latents) */
    const float *noise;               /**< [B,C,H,W] */
    const int64_t *ddim_indices;      /**< [B] in [0, num_ddim_timesteps) */
    const float *guidance;            /**< [B] w */
} lcmd_step_inputs;

LCMD_API lcmd_status lcmd_step_inputs_init(lcmd_step_inputs *in);

/** What a step did. Fill with lcmd_step_report_init(). */
typedef struct lcmd_step_report {
    uint32_t struct_size;
    double loss;                      /**< this micro-batch's loss (before the 1/G scaling) */
    double grad_norm;                 /**< global norm before clipping (optimizer steps only, else 0) */
    double lr;                        /**< the learning rate used (or next to be used) */
    int64_t step;                     /**< optimizer steps taken so far, after this call */
    int32_t optimizer_stepped;        /**< 1 when this micro-step ended an accumulation cycle and updated */
    int32_t skipped;                  /**< 1 when a NaN/Inf loss or gradient skipped the update */
} lcmd_step_report;

LCMD_API lcmd_status lcmd_step_report_init(lcmd_step_report *r);

/** One training micro-step on latents and embeddings (spec §6 steps 4–13, §7):
 *  noising at t_start = ddim_timesteps[n], student with the guidance embedding, two
 *  teacher passes with the guided x̂0/ε̂ (cond + w·(cond − uncond)), one DDIM step,
 *  the target at t_end = max(t_start − k, 0), the loss, the student's gradient (scaled
 *  by 1/gradient_accumulation_steps); every G-th call also clips, takes an AdamW step
 *  with the scheduled learning rate and updates the target by EMA.
 *  Draws not injected come from Philox keyed by o->seed with counter block = element
 *  index/4 and stream (0x4c43 << 48) | (kind << 40) | micro-step index (micro-steps
 *  counted from 0): kind 1 noise (Box–Muller), kind 2 the indices (u·N, u uniform
 *  [0,1) from 24 bits), kind 3 w = (w_max − w_min)·u + w_min.
 *  A NaN/Inf loss or gradient skips the update: state and step count unchanged,
 *  report->skipped = 1, LCMD_OK. report may be NULL.
 *  Errors: LCMD_ERR_INVALID_ARGUMENT (NULL, shapes, index out of range),
 *  LCMD_ERR_NUMERIC (NaN/Inf in an input), LCMD_ERR_OUT_OF_MEMORY, LCMD_ERR_DEVICE. */
LCMD_API lcmd_status lcmd_trainer_step_latents(lcmd_trainer *tr, const lcmd_step_inputs *in,
                                               lcmd_step_report *report);

/** The LR multiplier f(s) of the schedule after s optimizer steps (spec §7.6), for
 *  warmup W and total S steps; lr = learning_rate·f(s). base_lr is used only by the
 *  polynomial schedule (its 1e-7 floor). Returns NaN on an unknown schedule. */
LCMD_API double lcmd_lr_multiplier(lcmd_lr_schedule sched, int64_t s, int64_t warmup, int64_t total,
                                   double base_lr);

/* ------------------------------------------------------------ checkpoints (spec §12) */

/** Version of the checkpoint layout written by lcmd_trainer_save_checkpoint
 *  ("format_version" in trainer_state.json). */
#define LCMD_CHECKPOINT_FORMAT_VERSION 1

/** Saves the trainer's whole state as `output_dir/checkpoint-STEP` (STEP = optimizer
 *  steps taken): `unet/` (student) and `unet_target/` (target), diffusers folders in
 *  float32; `optimizer.safetensors` with the AdamW moments "exp_avg" and "exp_avg_sq"
 *  as flat F32 tensors [n] in the parameter buffer's layout (and "grad_accum", the
 *  gradient accumulated so far, when a save falls inside an accumulation cycle);
 *  `trainer_state.json` (format_version, step, micro_step (the draws' position),
 *  accum, accum_bad, param_count and the options that affect the math).
 *  Atomic as a whole: everything is written and fsynced in
 *  `output_dir/.checkpoint-STEP.tmp-XXXXXX`, then renamed to `checkpoint-STEP`; an
 *  existing `checkpoint-STEP` is moved aside, replaced, then removed, so a failure at
 *  any point leaves the old one (or none) under that name, never a partial one.
 *  total_limit > 0 prunes as the reference: the entries of output_dir whose name
 *  starts with "checkpoint" and has an integer after the first '-' (other ones, the
 *  temporaries and checkpoint-STEP itself are ignored) are sorted by it and, if there
 *  are count >= total_limit, the oldest count − total_limit + 1 are removed. They are
 *  chosen before saving but only removed once the new checkpoint is in place, so a
 *  failed save removes nothing. output_dir is created if missing (one level).
 *  path_out (may be NULL) receives the checkpoint's path.
 *  Errors: LCMD_ERR_INVALID_ARGUMENT (NULL tr/output_dir, total_limit < 0, path_size
 *  too small for the path: then nothing is written), LCMD_ERR_IO (naming the path),
 *  LCMD_ERR_OUT_OF_MEMORY, LCMD_ERR_DEVICE. */
LCMD_API lcmd_status lcmd_trainer_save_checkpoint(lcmd_trainer *tr, const char *output_dir, int32_t total_limit,
                                                  char *path_out, size_t path_size);

/** Restores a checkpoint written by lcmd_trainer_save_checkpoint into `tr` (a trainer
 *  made from the same teacher and options): student, target, AdamW moments, the
 *  accumulated gradient and the counters, so that the following steps are bit-identical
 *  to an uninterrupted run. `which`:
 *   - "latest": the highest-numbered `checkpoint-N` in output_dir. When there is none
 *     (output_dir missing or without checkpoints) the result is LCMD_END_OF_STREAM
 *     (not an error: the reference then starts fresh; the trainer is untouched and
 *     lcmd_last_error names the folder);
 *   - otherwise its basename is looked up inside output_dir (as the reference does);
 *     if that is not a folder and `which` itself is an existing folder, it is used as
 *     the checkpoint's path. output_dir may be NULL for an explicit path.
 *  Everything is read and checked before the trainer is changed: on error it is intact.
 *  The options in trainer_state.json are informational, except that a checkpoint
 *  saved inside an accumulation cycle needs the same gradient_accumulation_steps.
 *  Errors: LCMD_ERR_INVALID_ARGUMENT (NULL tr/which, NULL output_dir with "latest"),
 *  LCMD_ERR_IO (an explicit checkpoint not found, a file cannot be read; naming it),
 *  LCMD_ERR_FORMAT (a checkpoint of another model: the message names the tensor; a
 *  malformed or newer trainer_state.json or optimizer file), LCMD_ERR_OUT_OF_MEMORY,
 *  LCMD_ERR_DEVICE. */
LCMD_API lcmd_status lcmd_trainer_resume(lcmd_trainer *tr, const char *output_dir, const char *which);

/** The final save (spec §12): `output_dir/unet/` (student) and `output_dir/unet_target/`
 *  (target) as float32 diffusers folders; output_dir is created if missing (one level).
 *  Each file is replaced atomically. Errors: LCMD_ERR_INVALID_ARGUMENT (NULL),
 *  LCMD_ERR_IO, LCMD_ERR_OUT_OF_MEMORY, LCMD_ERR_DEVICE. */
LCMD_API lcmd_status lcmd_trainer_export(lcmd_trainer *tr, const char *output_dir);

#ifdef __cplusplus
}
#endif

#endif /* LCMD_TRAINER_H */
