/* liblcmd: Latent Consistency Distillation of Stable Diffusion models, in C.
 *
 * The umbrella header: include this one. Conventions of the whole API:
 *  - every function returns lcmd_status (see status.h) unless it cannot fail;
 *    lcmd_last_error() then names what was wrong;
 *  - handles are opaque; lcmd_x_destroy(NULL) is a no-op;
 *  - option structs start with struct_size and are filled by lcmd_x_options_init();
 *  - outputs come back through `T **out`; nothing the caller passes is kept unless
 *    the function says so;
 *  - public arrays are host memory, row-major, images and latents NCHW;
 *  - handles are not thread-safe; different handles may be used from different threads. */
#ifndef LCMD_H
#define LCMD_H

#include <lcmd/lcmd_export.h>
#include <lcmd/version.h>
#include <lcmd/status.h>
#include <lcmd/context.h>
#include <lcmd/rng.h>
#include <lcmd/scheduler.h>
#include <lcmd/unet.h>
#include <lcmd/text.h>
#include <lcmd/text_encoder.h>
#include <lcmd/vae.h>
#include <lcmd/pipeline.h>
#include <lcmd/dataset.h>
#include <lcmd/trainer.h>
#include <lcmd/demo.h>

#endif /* LCMD_H */
