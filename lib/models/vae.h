/* AutoencoderKL (diffusers) on the op table: parameters, encoder and decoder.
 *
 * Parameters live in one flat fp32 buffer named as the state dict; activations are
 * NHWC, carved from one arena sized by a planning pass (the UNet's machinery:
 * unet_run / unet_alloc / RUN). Inference only: each layer's intermediates are
 * released as soon as it is done. */
#ifndef LCMD_MODELS_VAE_H
#define LCMD_MODELS_VAE_H

#include <stddef.h>
#include <stdint.h>
#include <lcmd/status.h>

#include "core/arena.h"
#include "models/params.h"
#include "models/vae_config.h"
#include "ops/ops.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ResnetBlock2D without a time embedding */
typedef struct vae_resnet {
    int64_t c_in, c_out;
    int32_t has_shortcut;     /* 1x1 conv_shortcut when c_in != c_out */
    size_t norm1_w, norm1_b, conv1_w, conv1_b, norm2_w, norm2_b, conv2_w, conv2_b, short_w, short_b;
} vae_resnet;

/* the mid block's single-head spatial attention (Attention with group_norm, biases,
 * residual_connection, rescale_output_factor 1) */
typedef struct vae_attn {
    int64_t c;
    size_t norm_w, norm_b, q_w, q_b, k_w, k_b, v_w, v_b, out_w, out_b;
} vae_attn;

typedef struct vae_block {
    int32_t n_layers;
    vae_resnet resnets[LCMD_VAE_MAX_LAYERS + 1];
    int32_t has_sampler;      /* encoder: Downsample2D (pad 0, 1 right/bottom), decoder: Upsample2D */
    int64_t c_out;
    size_t sampler_w, sampler_b;
} vae_block;

typedef struct vae_coder {
    int64_t c_in, c_mid, c_last, c_out;   /* conv_in input, mid channels, conv_out input, conv_out output */
    size_t conv_in_w, conv_in_b, norm_out_w, norm_out_b, conv_out_w, conv_out_b;
    vae_block blocks[LCMD_VAE_MAX_BLOCKS];
    vae_resnet mid_resnets[2];
    vae_attn mid_attn;
    int32_t has_attn;
} vae_coder;

typedef struct vae_net {
    vae_coder enc, dec;
    size_t quant_w, quant_b, post_quant_w, post_quant_b;
} vae_net;

/* The attention leaf names: diffusers' (to_q, to_k, to_v, to_out.0) or those of
 * checkpoints saved before diffusers 0.14 (query, key, value, proj_attn), which
 * diffusers still converts on load (the SD 1.x VAE on the Hub). */
typedef enum lcmd_vae_attn_names {
    LCMD_VAE_ATTN_NAMES_CURRENT = 0,
    LCMD_VAE_ATTN_NAMES_LEGACY = 1
} lcmd_vae_attn_names;

/* Registers every parameter (diffusers' keys, PyTorch shapes, convs as LCMD_PARAM_CONV)
 * and, when net is not NULL, records their offsets. With the current names the key set
 * equals AutoencoderKL(**cfg).state_dict().keys(). */
lcmd_status lcmd_vae_params_build(const lcmd_vae_config *cfg, lcmd_vae_attn_names names, lcmd_param_set *ps,
                                  vae_net *net);

typedef struct lcmd_vae_model {
    lcmd_vae_config cfg;
    lcmd_param_set params;
    vae_net net;
    lcmd_backend *be;
    float *param_mem;
    void *arena_mem;
    size_t arena_bytes;
    lcmd_arena arena;
    int64_t plan_batch, plan_h, plan_w;
    int32_t plan_decode;
} lcmd_vae_model;

/* Builds the registry and a zero-filled parameter buffer on `be` (used for the model's
 * lifetime). Destroy with lcmd_vae_model_destroy. */
lcmd_status lcmd_vae_model_create(const lcmd_vae_config *cfg, lcmd_vae_attn_names names, lcmd_backend *be,
                                  lcmd_vae_model **out);
void lcmd_vae_model_destroy(lcmd_vae_model *m);

/* images [B, in_channels, H, W] (host NCHW) -> mean and logvar [B, latent_channels,
 * H/f, W/f] (host NCHW; logvar clamped to [-30, 20] as DiagonalGaussianDistribution).
 * logvar may be NULL. Errors: LCMD_ERR_INVALID_ARGUMENT (NULL, sizes, H or W not a
 * multiple of f), LCMD_ERR_NUMERIC (NaN/Inf input), LCMD_ERR_OUT_OF_MEMORY, the backend's. */
lcmd_status lcmd_vae_model_encode(lcmd_vae_model *m, int64_t batch, int64_t height, int64_t width,
                                  const float *images, float *mean, float *logvar);

/* latents [B, latent_channels, h, w] (unscaled, as vae.decode takes them) -> images
 * [B, out_channels, h*f, w*f]. Errors as lcmd_vae_model_encode. */
lcmd_status lcmd_vae_model_decode(lcmd_vae_model *m, int64_t batch, int64_t height, int64_t width,
                                  const float *latents, float *images);

/* Layers (vae_layers.c); x and out are NHWC [batch, h*w, c] backend buffers. */
struct unet_run;
lcmd_status vae_resnet_fwd(struct unet_run *r, const vae_resnet *nd, const float *x, int64_t h, int64_t w, float *out);
lcmd_status vae_attn_fwd(struct unet_run *r, const vae_attn *nd, const float *x, int64_t hw, float *out);
/* whole encoder (conv_in .. conv_out, quant_conv applied by the caller) and decoder */
lcmd_status vae_encoder_fwd(struct unet_run *r, const vae_coder *enc, const float *x, int64_t h, int64_t w,
                            float **out);
lcmd_status vae_decoder_fwd(struct unet_run *r, const vae_coder *dec, const float *x, int64_t h, int64_t w,
                            float **out);

#ifdef __cplusplus
}
#endif

#endif /* LCMD_MODELS_VAE_H */
