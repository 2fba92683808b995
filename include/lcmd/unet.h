/* liblcmd: UNet2DConditionModel (diffusers) — load a diffusers `unet/` folder, make an
 * LCM student from a teacher, run the forward pass, save a folder diffusers loads.
 *
 * Supported: the SD 1.x, SD 2.x (v-prediction teachers, linear projections, per-block
 * head counts, upcast attention), SDXL (text_time added conditions, per-block transformer
 * depth) and LCM-student (time_cond_proj_dim) configurations; any other config value is
 * LCMD_ERR_UNSUPPORTED naming the field and value. Weights: single-file or sharded
 * safetensors, fp32, fp16 or bf16, plain or variant file names; kept as fp32 inside. */
#ifndef LCMD_UNET_H
#define LCMD_UNET_H

#include <stddef.h>
#include <stdint.h>
#include <lcmd/lcmd_export.h>
#include <lcmd/status.h>
#include <lcmd/context.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Opaque UNet: configuration and parameters, on the context's device. */
typedef struct lcmd_unet lcmd_unet;

/** How lcmd_unet_load reads a folder. Fill with lcmd_unet_load_options_init(). */
typedef struct lcmd_unet_load_options {
    uint32_t struct_size;
    const char *variant;   /**< NULL, or a weight-file variant such as "fp16" (diffusion_pytorch_model.fp16.safetensors) */
} lcmd_unet_load_options;

/** Sets defaults (no variant). Errors: LCMD_ERR_INVALID_ARGUMENT for NULL. */
LCMD_API lcmd_status lcmd_unet_load_options_init(lcmd_unet_load_options *opts);

/** Loads a diffusers UNet folder (`config.json` plus `diffusion_pytorch_model[.variant].safetensors`
 *  or its sharded `.index.json`). `opts` may be NULL. Every weight of the config must be
 *  present with its shape, and no other tensor: missing and unexpected keys are named.
 *  *out owns the new UNet (lcmd_unet_destroy); the context must outlive it.
 *  Errors: LCMD_ERR_IO (missing folder or file, naming it), LCMD_ERR_FORMAT (malformed
 *  JSON or safetensors, wrong shapes, missing/unexpected keys), LCMD_ERR_UNSUPPORTED (a
 *  config value liblcmd does not implement), LCMD_ERR_INVALID_ARGUMENT, LCMD_ERR_OUT_OF_MEMORY,
 *  LCMD_ERR_DEVICE. */
LCMD_API lcmd_status lcmd_unet_load(lcmd_context *ctx, const char *folder, const lcmd_unet_load_options *opts,
                                    lcmd_unet **out);

/** Makes the LCM student of a teacher as the distillation script does: the teacher's
 *  config with time_cond_proj_dim set (the teacher's own value when it has one, else
 *  `time_cond_proj_dim`, the script's default being 256), the teacher's weights copied,
 *  and the new `time_embedding.cond_proj.weight` initialised like PyTorch's Linear
 *  (uniform in ±1/sqrt(time_cond_proj_dim)) from the library RNG (the context's seed).
 *  Errors: LCMD_ERR_INVALID_ARGUMENT (NULL, time_cond_proj_dim < 1 for a teacher without
 *  one), LCMD_ERR_OUT_OF_MEMORY, LCMD_ERR_DEVICE. */
LCMD_API lcmd_status lcmd_unet_create_student(lcmd_context *ctx, const lcmd_unet *teacher,
                                              int32_t time_cond_proj_dim, lcmd_unet **out);

/** NULL is a no-op. */
LCMD_API void lcmd_unet_destroy(lcmd_unet *unet);

/** Sizes a host needs to call lcmd_unet_forward. Fill with lcmd_unet_info_init() first. */
typedef struct lcmd_unet_info {
    uint32_t struct_size;
    int32_t in_channels, out_channels;
    int32_t sample_size;             /**< config sample_size (latent pixels), 0 if unset */
    int32_t cross_attention_dim;     /**< width of encoder_hidden_states */
    int32_t time_cond_proj_dim;      /**< width of timestep_cond; 0: the UNet takes none */
    int32_t text_embed_dim;          /**< SDXL pooled text width; 0: no added conditions */
    int32_t downsample_factor;       /**< height and width must be multiples of it */
    int64_t num_parameters;
} lcmd_unet_info;

LCMD_API lcmd_status lcmd_unet_info_init(lcmd_unet_info *info);
/** Errors: LCMD_ERR_INVALID_ARGUMENT (NULL, info not initialised). */
LCMD_API lcmd_status lcmd_unet_get_info(const lcmd_unet *unet, lcmd_unet_info *info);

/** Inputs of one forward pass; host arrays, row-major. Fill with lcmd_unet_inputs_init(). */
typedef struct lcmd_unet_inputs {
    uint32_t struct_size;
    int64_t batch, height, width;         /**< latent size */
    const float *sample;                  /**< [batch, in_channels, height, width] */
    const float *timesteps;               /**< [batch] (fractional timesteps allowed, as diffusers) */
    const float *encoder_hidden_states;   /**< [batch, seq_len, cross_attention_dim] */
    int64_t seq_len;
    const float *timestep_cond;           /**< [batch, time_cond_proj_dim] when the UNet has one, else NULL */
    const float *text_embeds;             /**< SDXL: [batch, text_embed_dim], else NULL */
    const float *time_ids;                /**< SDXL: [batch, 6], else NULL */
} lcmd_unet_inputs;

LCMD_API lcmd_status lcmd_unet_inputs_init(lcmd_unet_inputs *in);

/** Runs the UNet: out is [batch, out_channels, height, width] (host memory, written only
 *  on success). Errors: LCMD_ERR_INVALID_ARGUMENT (NULL, sizes, a condition missing or
 *  not expected, height/width not multiples of downsample_factor), LCMD_ERR_NUMERIC (NaN
 *  or Inf in an input), LCMD_ERR_OUT_OF_MEMORY, LCMD_ERR_DEVICE. */
LCMD_API lcmd_status lcmd_unet_forward(lcmd_unet *unet, const lcmd_unet_inputs *in, float *out);

/** Storage type of saved weights. */
typedef enum lcmd_weight_dtype {
    LCMD_WEIGHTS_F32 = 0,
    LCMD_WEIGHTS_F16 = 1,
    LCMD_WEIGHTS_BF16 = 2
} lcmd_weight_dtype;

/** Writes `folder/config.json` and `folder/diffusion_pytorch_model.safetensors` (or
 *  `diffusion_pytorch_model.<variant>.safetensors` when variant is not NULL) in `dtype`,
 *  each file atomically; diffusers' UNet2DConditionModel.from_pretrained loads the
 *  folder. The folder is created if missing. Errors: LCMD_ERR_IO (naming the path),
 *  LCMD_ERR_INVALID_ARGUMENT, LCMD_ERR_OUT_OF_MEMORY, LCMD_ERR_DEVICE. */
LCMD_API lcmd_status lcmd_unet_save(const lcmd_unet *unet, const char *folder, lcmd_weight_dtype dtype,
                                    const char *variant);

#ifdef __cplusplus
}
#endif

#endif /* LCMD_UNET_H */
