/* AutoencoderKL configuration (diffusers' vae/config.json). */
#ifndef LCMD_MODELS_VAE_CONFIG_H
#define LCMD_MODELS_VAE_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <lcmd/status.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LCMD_VAE_MAX_BLOCKS 8
#define LCMD_VAE_MAX_LAYERS 8    /* layers_per_block (the decoder runs one more) */

typedef struct lcmd_vae_config {
    int32_t in_channels, out_channels, latent_channels;
    int32_t num_blocks;                                  /* len(block_out_channels) */
    int32_t block_out_channels[LCMD_VAE_MAX_BLOCKS];
    int32_t layers_per_block;
    int32_t norm_num_groups;
    double scaling_factor;
    int32_t has_shift;                                   /* shift_factor not null */
    double shift_factor;
    int32_t force_upcast;                                /* fp16 inference only: no effect in fp32 */
    int32_t use_quant_conv, use_post_quant_conv;
    int32_t mid_block_add_attention;
} lcmd_vae_config;

/* diffusers' AutoencoderKL constructor defaults. */
void lcmd_vae_config_init(lcmd_vae_config *cfg);

/* Parses config.json over the defaults; `label` names the source in messages.
 * Block types must be DownEncoderBlock2D / UpDecoderBlock2D, act_fn "silu";
 * latents_mean / latents_std are accepted and ignored (pipelines use them, not the
 * model). Errors: LCMD_ERR_FORMAT (bad JSON, a key of the wrong type, naming label and
 * key), LCMD_ERR_UNSUPPORTED (a value liblcmd does not implement, naming field and
 * value), LCMD_ERR_INVALID_ARGUMENT (inconsistent sizes). *out is written only on success. */
lcmd_status lcmd_vae_config_parse(const char *json, size_t len, const char *label, lcmd_vae_config *out);

/* Consistency checks (the parser calls it); `label` prefixes messages. */
lcmd_status lcmd_vae_config_validate(const lcmd_vae_config *cfg, const char *label);

/* 2^(num_blocks - 1): image size / latent size */
static inline int64_t lcmd_vae_factor(const lcmd_vae_config *c) { return (int64_t)1 << (c->num_blocks - 1); }

#ifdef __cplusplus
}
#endif

#endif /* LCMD_MODELS_VAE_CONFIG_H */
