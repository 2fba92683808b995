/* liblcmd: AutoencoderKL (diffusers) — load a `vae/` folder, encode images to the
 * latent posterior, draw latents, scale them as the pipelines do, decode latents.
 *
 * Supported: DownEncoderBlock2D / UpDecoderBlock2D stacks with SiLU (SD 1.x, SD 2.x,
 * SDXL, and SD3/Flux-style configs with shift_factor and without quant convs), with or
 * without the mid-block attention; weights diffusion_pytorch_model[.variant].safetensors
 * or its sharded index, fp32, fp16 or bf16 (kept and computed in fp32, so `force_upcast`,
 * which is about fp16 inference, has no effect), with the current or the pre-0.14
 * attention key names. Other config values are LCMD_ERR_UNSUPPORTED naming the field.
 * Note: the mid-block attention is one head as wide as the channels (512 for SD); the
 * CUDA attention op is limited to head_dim <= 160 and returns LCMD_ERR_UNSUPPORTED for
 * it, so on a CUDA context a VAE with mid-block attention currently fails there (the
 * CPU context runs it). */
#ifndef LCMD_VAE_H
#define LCMD_VAE_H

#include <stddef.h>
#include <stdint.h>
#include <lcmd/lcmd_export.h>
#include <lcmd/status.h>
#include <lcmd/context.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Opaque VAE: configuration and parameters, on the context's device. */
typedef struct lcmd_vae lcmd_vae;

/** How lcmd_vae_load reads a folder. Fill with lcmd_vae_load_options_init(). */
typedef struct lcmd_vae_load_options {
    uint32_t struct_size;
    const char *variant;   /**< NULL, or a weight-file variant such as "fp16" */
} lcmd_vae_load_options;

/** Sets defaults (no variant). Errors: LCMD_ERR_INVALID_ARGUMENT for NULL. */
LCMD_API lcmd_status lcmd_vae_load_options_init(lcmd_vae_load_options *opts);

/** Loads a diffusers AutoencoderKL folder (`config.json` plus
 *  `diffusion_pytorch_model[.variant].safetensors` or its sharded index). `opts` may be
 *  NULL. Every weight of the config must be present with its shape, and no other
 *  tensor. *out owns the new VAE (lcmd_vae_destroy); the context must outlive it.
 *  Errors: LCMD_ERR_IO (missing folder or file, naming it), LCMD_ERR_FORMAT (malformed
 *  JSON or safetensors, wrong shapes, missing/unexpected keys), LCMD_ERR_UNSUPPORTED,
 *  LCMD_ERR_INVALID_ARGUMENT, LCMD_ERR_OUT_OF_MEMORY, LCMD_ERR_DEVICE. */
LCMD_API lcmd_status lcmd_vae_load(lcmd_context *ctx, const char *folder, const lcmd_vae_load_options *opts,
                                   lcmd_vae **out);

/** NULL is a no-op. */
LCMD_API void lcmd_vae_destroy(lcmd_vae *vae);

/** Sizes and constants of a VAE. Fill with lcmd_vae_info_init() first. */
typedef struct lcmd_vae_info {
    uint32_t struct_size;
    int32_t in_channels, out_channels;   /**< image channels (3) */
    int32_t latent_channels;
    int32_t downsample_factor;           /**< 2^(len(block_out_channels) - 1): image size / latent size */
    double scaling_factor;
    int32_t has_shift;                   /**< config shift_factor is not null */
    double shift_factor;                 /**< 0 when null */
    int32_t force_upcast;                /**< the config value (no effect: liblcmd computes in fp32) */
    int64_t num_parameters;
} lcmd_vae_info;

LCMD_API lcmd_status lcmd_vae_info_init(lcmd_vae_info *info);
/** Errors: LCMD_ERR_INVALID_ARGUMENT (NULL, info not initialised). */
LCMD_API lcmd_status lcmd_vae_get_info(const lcmd_vae *vae, lcmd_vae_info *info);

/** Encodes images [batch, in_channels, height, width] (host NCHW, values in [-1, 1]) to
 *  the posterior: mean and logvar, each [batch, latent_channels, height / f, width / f]
 *  with f = downsample_factor; logvar is clamped to [-30, 20] as diffusers'
 *  DiagonalGaussianDistribution does. logvar may be NULL. Host arrays, written only on
 *  success. Errors: LCMD_ERR_INVALID_ARGUMENT (NULL, batch < 1, height or width not a
 *  positive multiple of f: the message names the value), LCMD_ERR_NUMERIC (NaN/Inf in
 *  images), LCMD_ERR_OUT_OF_MEMORY, LCMD_ERR_DEVICE, LCMD_ERR_UNSUPPORTED (see above). */
LCMD_API lcmd_status lcmd_vae_encode(lcmd_vae *vae, int64_t batch, int64_t height, int64_t width,
                                     const float *images, float *mean, float *logvar);

/** Draws latents from the posterior, as latent_dist.sample():
 *  latents[i] = mean[i] + exp(0.5 * clamp(logvar[i], -30, 20)) * noise[i], for n values.
 *  `noise` is the caller's standard-normal tensor, or NULL to draw it from the library
 *  RNG: noise[i] is element i of lcmd_rng_normal(context seed, stream, offset, ., n), so
 *  a (stream, offset) pair names one draw. latents may alias mean. Not scaled (see
 *  lcmd_vae_scale_latents). Errors: LCMD_ERR_INVALID_ARGUMENT (NULL vae, mean, logvar or
 *  latents with n > 0), LCMD_ERR_NUMERIC (a NaN/Inf input). */
LCMD_API lcmd_status lcmd_vae_sample(const lcmd_vae *vae, size_t n, const float *mean, const float *logvar,
                                     const float *noise, uint64_t stream, uint64_t offset, float *latents);

/** In place, n values: latents = (latents - shift_factor) * scaling_factor, the model
 *  input the pipelines and the LCD training script make (shift_factor 0 when null).
 *  Errors: LCMD_ERR_INVALID_ARGUMENT (NULL with n > 0). */
LCMD_API lcmd_status lcmd_vae_scale_latents(const lcmd_vae *vae, size_t n, float *latents);

/** The inverse, before decoding: latents = latents / scaling_factor + shift_factor.
 *  Errors: LCMD_ERR_INVALID_ARGUMENT (NULL with n > 0). */
LCMD_API lcmd_status lcmd_vae_unscale_latents(const lcmd_vae *vae, size_t n, float *latents);

/** Decodes unscaled latents [batch, latent_channels, height, width] (host NCHW, as
 *  vae.decode takes them: unscale first) to images [batch, out_channels, height * f,
 *  width * f] (host, written only on success; not clamped to [-1, 1]).
 *  Errors: LCMD_ERR_INVALID_ARGUMENT (NULL, sizes), LCMD_ERR_NUMERIC (NaN/Inf in
 *  latents), LCMD_ERR_OUT_OF_MEMORY, LCMD_ERR_DEVICE, LCMD_ERR_UNSUPPORTED (see above). */
LCMD_API lcmd_status lcmd_vae_decode(lcmd_vae *vae, int64_t batch, int64_t height, int64_t width,
                                     const float *latents, float *images);

#ifdef __cplusplus
}
#endif

#endif /* LCMD_VAE_H */
