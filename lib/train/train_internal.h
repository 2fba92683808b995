/* The trainer's state and the pieces of its step (lib/train). */
#ifndef LCMD_TRAIN_INTERNAL_H
#define LCMD_TRAIN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <lcmd/trainer.h>

#include "context_internal.h"
#include "models/unet.h"

struct lcmd_trainer {
    lcmd_context *ctx;
    const lcmd_unet *teacher;
    lcmd_unet *student, *target;
    lcmd_trainer_options o;
    lcmd_prediction_type pred;
    lcmd_noise_schedule *sched;
    lcmd_ddim_solver *solver;
    int32_t num_train_timesteps;
    int32_t n_ddim;
    int64_t skip;                 /* k = T // N */
    int64_t *grid;                /* [N] ddim_timesteps */
    double *alpha_prev;           /* [N] ā at the previous grid point (float32 values) */
    float *alpha, *sigma;         /* [T] sqrt(ā), sqrt(1 − ā), float32 */
    size_t total;                 /* floats of the flat parameter buffer (student = target) */
    float *grad;                  /* backend memory [total], accumulated over micro-steps */
    float *m, *v;                 /* host [total]: AdamW moments */
    float *stage_p, *stage_g, *stage_t; /* host staging of params/grad/target on a device backend */
    int64_t step;                 /* optimizer steps taken (s of §7.3 minus one, of §7.6) */
    int64_t micro;                /* micro-steps called, for the draws' streams */
    int32_t accum;                /* micro-steps in the current accumulation cycle */
    int32_t accum_bad;            /* a non-finite loss in the current cycle */
    int64_t samples;              /* samples of every micro-step so far */
    /* encoders of lcmd_trainer_step (borrowed) and the unconditional embedding */
    lcmd_tokenizer *tok;
    lcmd_text_encoder *text;
    lcmd_vae *vae;
    int64_t seq_len;              /* the tokenizer's model_max_length */
    float *uncond;                /* host [seq_len, cross_attention_dim]: E_text("") */
    int32_t ckpt_fail_after;      /* test hook: >0 makes lcmd_trainer_save_checkpoint fail with
                                     LCMD_ERR_IO after writing that many of its parts (0 = off) */
};

/* Philox streams of a micro-step's draws (trainer.h): kind, micro-step index */
#define LCMD_TRAIN_DRAW_STREAM(kind, micro) \
    ((0x4c43ull << 48) | ((uint64_t)(kind) << 40) | ((uint64_t)(micro) & 0xffffffffffull))
enum { LCMD_TRAIN_DRAW_NOISE = 1, LCMD_TRAIN_DRAW_INDEX = 2, LCMD_TRAIN_DRAW_W = 3, LCMD_TRAIN_DRAW_VAE = 4 };

/* The encoders of a step (spec §6 steps 2–3): the last hidden states [n, L, D] of n
 * captions padded to L tokens; and scaled latents (mean + exp(½·clamp(logvar))·ξ)·
 * scaling_factor of B images [B,3,H,W], with ξ = xi ([B,C,h,w]) and `logvar` as
 * scratch of the same size. Used by the trainer and by the demo teacher's training. */
lcmd_status lcmd_train_encode_captions(lcmd_tokenizer *tok, lcmd_text_encoder *te, const char *const *captions,
                                       int64_t n, int64_t L, float *embeds);
lcmd_status lcmd_train_encode_images(lcmd_vae *vae, int64_t B, int64_t H, int64_t W, const float *images,
                                     const float *xi, float *logvar, float *latents);

/* n standard normals of stream `stream` (Box–Muller on Philox blocks i/4) */
void lcmd_train_draw_normal(uint64_t seed, uint64_t stream, float *out, size_t n);

/* Global-norm clipping, AdamW, EMA on host arrays of n floats (the flat buffers), on
 * `threads` OpenMP threads (the results do not depend on it):
 * returns the norm before clipping (NaN/Inf when a gradient is not finite, in which
 * case nothing was changed). */
double lcmd_train_grad_norm(const float *g, size_t n, int threads);
void lcmd_train_clip(float *g, size_t n, double norm, double max_norm, int threads);
/* one AdamW step (§7.3) at 1-based step s with learning rate lr */
void lcmd_train_adamw(float *p, const float *g, float *m, float *v, size_t n, int64_t s, double lr,
                      const lcmd_trainer_options *o, int threads);
/* target ← μ target + (1 − μ) p */
void lcmd_train_ema(float *target, const float *p, size_t n, double mu, int threads);

/* The optimizer part of a step (clip, AdamW, lr schedule, EMA), on the accumulated
 * gradient; fills norm/lr/skipped of *r and advances tr->step on success. */
lcmd_status lcmd_train_apply(lcmd_trainer *tr, lcmd_step_report *r);

/* Test hook: overwrites one plain (non-conv) parameter of both the student and the
 * target, before the first step (e.g. the new cond_proj, to match a reference init).
 * Errors: LCMD_ERR_INVALID_ARGUMENT (unknown name, conv layout, size, after a step). */
lcmd_status lcmd_trainer_set_param(lcmd_trainer *tr, const char *name, const float *data, size_t n);

#endif /* LCMD_TRAIN_INTERNAL_H */
