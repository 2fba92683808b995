/* UNet2DConditionModel configuration (diffusers' config.json) for the SD1.x, SD2.x,
 * SDXL and LCM-student families. Per-block values are stored expanded to one entry
 * per down block, as diffusers' constructor expands an int. */
#ifndef LCMD_MODELS_UNET_CONFIG_H
#define LCMD_MODELS_UNET_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <lcmd/status.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LCMD_UNET_MAX_BLOCKS 8

typedef enum lcmd_unet_block_type {
    LCMD_UNET_BLOCK_PLAIN = 0,       /* DownBlock2D / UpBlock2D: resnets only */
    LCMD_UNET_BLOCK_CROSS_ATTN = 1   /* CrossAttnDownBlock2D / CrossAttnUpBlock2D */
} lcmd_unet_block_type;

typedef enum lcmd_unet_mid_type {
    LCMD_UNET_MID_NONE = 0,          /* mid_block_type null */
    LCMD_UNET_MID_CROSS_ATTN = 1     /* UNetMidBlock2DCrossAttn */
} lcmd_unet_mid_type;

typedef enum lcmd_unet_addition {
    LCMD_UNET_ADD_NONE = 0,
    LCMD_UNET_ADD_TEXT_TIME = 1      /* SDXL: pooled text embeds + micro-conditioning time ids */
} lcmd_unet_addition;

typedef struct lcmd_unet_config {
    int32_t sample_size[2];          /* [h, w]; 0 when null */
    int32_t sample_size_is_pair;     /* config gave a list */
    int32_t in_channels, out_channels;
    int32_t center_input_sample;
    int32_t flip_sin_to_cos;
    int32_t freq_shift;
    int32_t num_blocks;              /* len(down_block_types) */
    lcmd_unet_block_type down_block_types[LCMD_UNET_MAX_BLOCKS];
    lcmd_unet_block_type up_block_types[LCMD_UNET_MAX_BLOCKS];
    lcmd_unet_mid_type mid_block_type;
    int32_t block_out_channels[LCMD_UNET_MAX_BLOCKS];
    int32_t layers_per_block[LCMD_UNET_MAX_BLOCKS];
    int32_t transformer_layers_per_block[LCMD_UNET_MAX_BLOCKS];
    int32_t attention_head_dim[LCMD_UNET_MAX_BLOCKS];   /* diffusers uses it as the head COUNT */
    int32_t downsample_padding;      /* 1 only */
    double mid_block_scale_factor;
    int32_t norm_num_groups;
    double norm_eps;
    int32_t cross_attention_dim;
    int32_t use_linear_projection;
    int32_t upcast_attention;        /* no effect in fp32; kept for the round trip */
    lcmd_unet_addition addition_embed_type;
    int32_t addition_time_embed_dim;                 /* 0 when null */
    int32_t projection_class_embeddings_input_dim;   /* 0 when null */
    int32_t time_cond_proj_dim;                      /* 0 when null (no cond_proj) */
    int32_t time_embedding_dim;                      /* 0 when null: 4 * block_out_channels[0] */
    int32_t conv_in_kernel, conv_out_kernel;
} lcmd_unet_config;

/* diffusers' constructor defaults (the SD1.5 UNet). */
void lcmd_unet_config_init(lcmd_unet_config *cfg);

/* Parses config.json over the defaults; `label` names the source in messages.
 * Errors: LCMD_ERR_FORMAT (bad JSON, a key of the wrong type, naming label and key),
 * LCMD_ERR_UNSUPPORTED (a value liblcmd does not implement, naming field and value),
 * LCMD_ERR_INVALID_ARGUMENT (inconsistent sizes diffusers would refuse too).
 * Unknown keys are ignored. *out is written only on success. */
lcmd_status lcmd_unet_config_parse(const char *json, size_t len, const char *label, lcmd_unet_config *out);

/* Checks a config built in code (the parser calls it too); `label` prefixes messages. */
lcmd_status lcmd_unet_config_validate(const lcmd_unet_config *cfg, const char *label);

/* A config.json that diffusers' UNet2DConditionModel.from_pretrained accepts; *out is
 * malloc'd, free() it. */
lcmd_status lcmd_unet_config_to_json(const lcmd_unet_config *cfg, char **out);

/* Derived sizes. */
static inline int64_t lcmd_unet_time_embed_dim(const lcmd_unet_config *c)
{
    return c->time_embedding_dim ? c->time_embedding_dim : 4 * (int64_t)c->block_out_channels[0];
}
/* width of the pooled text embedding SDXL's add_embedding expects */
static inline int64_t lcmd_unet_text_embed_dim(const lcmd_unet_config *c)
{
    return (int64_t)c->projection_class_embeddings_input_dim - 6 * (int64_t)c->addition_time_embed_dim;
}

#ifdef __cplusplus
}
#endif

#endif /* LCMD_MODELS_UNET_CONFIG_H */
