/* Helpers of the trainer tests: contexts, fixtures, parameter comparison against the
 * PyTorch layout of gen_trainer.py's fixtures. */
#ifndef LCMD_TEST_TRAIN_UTIL_H
#define LCMD_TEST_TRAIN_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include <lcmd/lcmd.h>

#include "io/safetensors.h"
#include "models/unet.h"

#define TOL 1e-4          /* losses, grad norms, weights: relative */
#define UPDATE_TOL 1e-3   /* the student's 3-step update (final − initial weights), relative L2 */
/* the target moves by (1 − μ) = 5 % of that: float32 rounding of its weights (~3e-8
 * relative) alone is ~1e-3 of its update */
#define TARGET_UPDATE_TOL 1e-2

/* a CPU context (device NULL) or one on `device` ("cuda"), 2 threads, warnings only */
lcmd_context *new_ctx_on(const char *device);
/* the fixture folder: LCMD_TEST_FIXTURES or the source tree's */
const char *fixtures(void);
/* a host copy of a model's flat parameter buffer (caller frees) */
float *params_host(lcmd_unet *u);
/* fixtures/unet/<kind> and fixtures/scheduler/<name> */
lcmd_unet *load_teacher(lcmd_context *ctx, const char *kind);
void load_sched(const char *name, lcmd_scheduler_config *cfg);
/* a fixture tensor as float32 (caller frees); *n its element count when n != NULL */
float *read_f32(lcmd_safetensors *st, const char *name, size_t *n);
/* final weights (worst tensor within TOL) and the update since `init` (within utol)
 * of a model against "<prefix>.<key>" tensors */
void compare_model(lcmd_unet *u, lcmd_safetensors *st, const char *prefix, const float *init, double utol);

#endif
