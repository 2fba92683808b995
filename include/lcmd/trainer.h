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
#include <lcmd/dataset.h>
#include <lcmd/scheduler.h>
#include <lcmd/text.h>
#include <lcmd/text_encoder.h>
#include <lcmd/unet.h>
#include <lcmd/vae.h>

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
    int32_t gradient_checkpointing;   /**< 0; 1: the student's backward recomputes each block's
                                           forward instead of keeping its activations (the same
                                           gradients, less memory, about one more forward of time) */
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
    int64_t micro_steps;              /**< micro-steps (batches) taken so far, after this call */
    int64_t samples_seen;             /**< samples of every micro-step so far, after this call */
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
 *  report->skipped = 1, LCMD_OK (the micro-step and its samples still count). report
 *  may be NULL; its struct_size may be that of an older, shorter layout.
 *  Errors: LCMD_ERR_INVALID_ARGUMENT (NULL, shapes, index out of range),
 *  LCMD_ERR_NUMERIC (NaN/Inf in an input), LCMD_ERR_OUT_OF_MEMORY, LCMD_ERR_DEVICE. */
LCMD_API lcmd_status lcmd_trainer_step_latents(lcmd_trainer *tr, const lcmd_step_inputs *in,
                                               lcmd_step_report *report);

/* ------------------------------------------------- the step on images and captions */

/** Gives the trainer the encoders lcmd_trainer_step uses (spec §5.1, §8.1): the
 *  teacher's tokenizer, text encoder and VAE, borrowed (they must outlive the trainer
 *  or the next call of this function, and not run elsewhere during a step). The text
 *  encoder's hidden size must be the UNet's cross_attention_dim and the VAE's latent
 *  channels its in_channels. The unconditional embedding (the empty caption padded to
 *  model_max_length, spec §8.1) is computed here, once.
 *  On error the trainer keeps the encoders it had.
 *  Errors: LCMD_ERR_INVALID_ARGUMENT (NULL, sizes that do not fit the UNet: named),
 *  LCMD_ERR_OUT_OF_MEMORY, LCMD_ERR_DEVICE. */
LCMD_API lcmd_status lcmd_trainer_set_encoders(lcmd_trainer *tr, lcmd_tokenizer *tokenizer,
                                               lcmd_text_encoder *text_encoder, lcmd_vae *vae);

/** One micro-batch of images and captions. Fill with lcmd_step_batch_init(). */
typedef struct lcmd_step_batch {
    uint32_t struct_size;
    int64_t batch, height, width;     /**< images [B,3,H,W]; H, W multiples of the VAE's factor */
    const float *images;              /**< host NCHW, values in [-1, 1] */
    const char *const *captions;      /**< [B] NUL-terminated UTF-8 captions */
    /* optional injected draws; NULL = drawn (see lcmd_trainer_step) */
    const float *vae_noise;           /**< [B,C,H/f,W/f]: ξ of the posterior sample */
    const float *noise;               /**< as lcmd_step_inputs */
    const int64_t *ddim_indices;      /**< as lcmd_step_inputs */
    const float *guidance;            /**< as lcmd_step_inputs */
} lcmd_step_batch;

LCMD_API lcmd_status lcmd_step_batch_init(lcmd_step_batch *b);

/** One training micro-step on images and captions (spec §6 steps 2–13): captions are
 *  tokenized (padded and cut to model_max_length) and encoded (last hidden state);
 *  images are encoded by the VAE, latents drawn from the posterior as
 *  mean + exp(0.5·clamp(logvar, −30, 20))·ξ and scaled by the VAE's scaling factor;
 *  then lcmd_trainer_step_latents with the unconditional embedding of
 *  lcmd_trainer_set_encoders. ξ not injected is drawn as the noise of
 *  lcmd_trainer_step_latents with draw kind 4. report may be NULL.
 *  Errors: LCMD_ERR_INVALID_ARGUMENT (NULL, no encoders set, a NULL caption, sizes:
 *  named), LCMD_ERR_NUMERIC (NaN/Inf in the images or an injected draw), and those of
 *  lcmd_trainer_step_latents. A failed call changes nothing. */
LCMD_API lcmd_status lcmd_trainer_step(lcmd_trainer *tr, const lcmd_step_batch *in, lcmd_step_report *report);

/** lcmd_trainer_step on a batch of lcmd_dataset_next (its images and captions, every
 *  draw from the trainer's Philox streams). Errors: those of lcmd_trainer_step. */
LCMD_API lcmd_status lcmd_trainer_step_dataset(lcmd_trainer *tr, const lcmd_batch *batch,
                                               lcmd_step_report *report);

/** Where training stands: optimizer steps, micro-steps and samples taken so far (after
 *  lcmd_trainer_resume: those of the checkpoint). A host that feeds one dataset batch
 *  per micro-step resumes its data stream with lcmd_dataset_skip(ds, *micro_steps).
 *  Any output may be NULL. Errors: LCMD_ERR_INVALID_ARGUMENT (NULL tr). */
LCMD_API lcmd_status lcmd_trainer_progress(const lcmd_trainer *tr, int64_t *step, int64_t *micro_steps,
                                           int64_t *samples_seen);

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
 *  `trainer_state.json` (format_version, step, micro_step (the draws' and the data
 *  stream's position), samples_seen, accum, accum_bad, param_count and the options
 *  that affect the math).
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
