/* liblcmd: a diffusers teacher pipeline folder (model_index.json + one subfolder per
 * component), opened as one handle: tokenizer(s), text encoder(s), VAE, UNet and the
 * scheduler config. SD 1.x/2.x (StableDiffusionPipeline, LatentConsistencyModelPipeline)
 * and SDXL (StableDiffusionXLPipeline: tokenizer_2 and text_encoder_2) folders. */
#ifndef LCMD_PIPELINE_H
#define LCMD_PIPELINE_H

#include <stddef.h>
#include <stdint.h>
#include <lcmd/lcmd_export.h>
#include <lcmd/status.h>
#include <lcmd/context.h>
#include <lcmd/scheduler.h>
#include <lcmd/text.h>
#include <lcmd/text_encoder.h>
#include <lcmd/unet.h>
#include <lcmd/vae.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lcmd_pipeline lcmd_pipeline;

/** Which components lcmd_pipeline_open loads. Fill with lcmd_pipeline_options_init(). */
typedef struct lcmd_pipeline_options {
    uint32_t struct_size;
    const char *variant;     /**< weight-file variant for every model ("fp16"), or NULL */
    int32_t load_unet;       /**< 1 (default): load unet/; 0: skip it (e.g. a data-only host) */
    int32_t load_vae;        /**< 1 (default) */
    int32_t load_text;       /**< 1 (default): tokenizer(s) and text encoder(s) */
} lcmd_pipeline_options;

/** Defaults: no variant, every component. Errors: LCMD_ERR_INVALID_ARGUMENT for NULL. */
LCMD_API lcmd_status lcmd_pipeline_options_init(lcmd_pipeline_options *opts);

/** Opens `folder`. Reads model_index.json, checks that every component liblcmd needs is
 *  present with a class it supports (scheduler: any scheduler class, read through its
 *  scheduler_config.json; tokenizer: CLIPTokenizer[Fast]; text_encoder: CLIPTextModel[WithProjection];
 *  unet: UNet2DConditionModel; vae: AutoencoderKL; SDXL: tokenizer_2/text_encoder_2 too;
 *  other components such as safety_checker and feature_extractor are ignored), then
 *  loads the requested ones. *out owns them all (lcmd_pipeline_destroy).
 *  Errors: LCMD_ERR_IO (no folder, no model_index.json, a component's subfolder missing:
 *  the message names the component and path), LCMD_ERR_FORMAT (malformed files),
 *  LCMD_ERR_UNSUPPORTED (a component of a class liblcmd does not implement, named with
 *  its class), and every error of the component loaders. */
LCMD_API lcmd_status lcmd_pipeline_open(lcmd_context *ctx, const char *folder, const lcmd_pipeline_options *opts,
                                        lcmd_pipeline **out);
/** Destroys the pipeline and every component it loaded. NULL is a no-op. */
LCMD_API void lcmd_pipeline_destroy(lcmd_pipeline *p);

/** "_class_name" of model_index.json; owned by the pipeline. */
LCMD_API const char *lcmd_pipeline_class_name(const lcmd_pipeline *p);
/** 1 for an SDXL folder (two tokenizers and text encoders), else 0. */
LCMD_API int lcmd_pipeline_is_sdxl(const lcmd_pipeline *p);

/** Components, owned by the pipeline (valid until lcmd_pipeline_destroy); NULL when not
 *  loaded (skipped by the options, or, for index 1, not an SDXL folder). `index` 0 is
 *  `tokenizer` / `text_encoder`, 1 is `tokenizer_2` / `text_encoder_2`. */
LCMD_API lcmd_tokenizer *lcmd_pipeline_tokenizer(const lcmd_pipeline *p, int index);
LCMD_API lcmd_text_encoder *lcmd_pipeline_text_encoder(const lcmd_pipeline *p, int index);
LCMD_API lcmd_vae *lcmd_pipeline_vae(const lcmd_pipeline *p);
LCMD_API lcmd_unet *lcmd_pipeline_unet(const lcmd_pipeline *p);

/** Copies the scheduler config (read from scheduler/scheduler_config.json over
 *  LCMScheduler's defaults) into `cfg`, which must be initialised.
 *  Errors: LCMD_ERR_INVALID_ARGUMENT (NULL, cfg not initialised). */
LCMD_API lcmd_status lcmd_pipeline_scheduler_config(const lcmd_pipeline *p, lcmd_scheduler_config *cfg);

#ifdef __cplusplus
}
#endif

#endif /* LCMD_PIPELINE_H */
