/* Validation of a distillation run: 4-step LCM images of 4 fixed prompts (4 each) from the
 * student (online) and the target, written as PNG, and the consistency gap — the RMS
 * latent distance between those 4-step samples and the teacher's 50-step guided DDIM
 * samples of the same prompts from the same starting noise. The student before training
 * gives the baseline; the teacher's own ODE run from each re-noised point of the LCM
 * sampler (a perfect consistency model) gives the floor distillation can reach. */
#ifndef LCMD_DISTILL_VALIDATE_H
#define LCMD_DISTILL_VALIDATE_H

#include <stdint.h>
#include <stdio.h>

#include <lcmd/lcmd.h>

typedef struct validator validator;

typedef struct validator_options {
    const char *output_dir;     /* images go to output_dir/samples/ */
    int resolution;             /* pixels */
    uint64_t seed;              /* the starting noise */
    double guidance_scale;      /* 7.5 (the pipeline default): w = 6.5 for the student; a
                                   host passes 1 + a w of the range the student trains on */
    int teacher_steps;          /* 50 */
    int student_steps;          /* 4 */
    int original_steps;         /* the LCM sampler's origin grid = the distillation's
                                   num_ddim_timesteps (0: the scheduler config's) */
    int floor;                  /* 1: measure validator_floor (1.4x the references' cost) */
    const char *const *prompts; /* 4 prompts, or NULL for the default ones (in the spirit of
                                   the script's validation prompts) */
} validator_options;

void validator_options_init(validator_options *o);

/* Encodes the prompts and samples the teacher (the references and the baseline) once.
 * The pipeline and ctx must outlive the validator. */
lcmd_status validator_create(lcmd_context *ctx, lcmd_pipeline *p, const validator_options *o, validator **out);

/* The gaps of one validation: 4-step samples (student_steps) and, as a second view
 * that no re-noising blurs, 1-step samples (the consistency function itself). */
typedef struct validation_gaps {
    double online, target;       /* student_steps */
    double online_1, target_1;   /* 1 step */
} validation_gaps;

/* Samples `online` and `target` (LCM UNets), writes
 * samples/step-STEP-{online,target}.png (4 images of each of the 4 prompts: a column
 * per prompt) and returns the gaps. */
lcmd_status validator_run(validator *v, lcmd_unet *online, lcmd_unet *target, int64_t step, validation_gaps *g);

/* The PNG that the last validator_run wrote for the online (which = 0) or the target
 * (1) model, and its size; NULL before the first run. */
const char *validator_image(const validator *v, int which, int *height, int *width);

/* The gap of the teacher's own DDIM samples in student_steps (steps = 0) or 1 step. */
double validator_baseline(const validator *v, int one_step);

/* The teacher's spread: the RMS distance between its teacher_steps samples of the same
 * prompt from different starting noise. The LCM sampler re-noises between its steps and
 * so draws partly fresh samples of the prompt: its multi-step gap is read on this scale,
 * while the 1-step gap can approach 0. */
double validator_spread(const validator *v);

/* The gap a perfect consistency model would leave in student_steps LCM steps: the LCM
 * sampler with the teacher's own guided teacher_steps-point ODE from each re-noised point
 * as its model (the re-noising draws the same noise). What distillation can reach; NaN
 * when not measured (options.floor = 0) or when the LCM timesteps are not points of the
 * teacher's grid. */
double validator_floor(const validator *v);

/* Prints the gap at every validation of this run. */
void validator_summary(const validator *v, FILE *out);

void validator_destroy(validator *v);

#endif
