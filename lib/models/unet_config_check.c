/* Consistency of an lcmd_unet_config: sizes the blocks and ops need, and a skip
 * stack whose channels match what the up blocks were built for. */
#include "models/unet_config.h"

#include <math.h>

#include "core/error.h"

#define FAIL(...) return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, __VA_ARGS__)

static int is_block_type(lcmd_unet_block_type t)
{
    return t == LCMD_UNET_BLOCK_PLAIN || t == LCMD_UNET_BLOCK_CROSS_ATTN;
}

static int block_has_attention(const lcmd_unet_config *c, int32_t i, int up)
{
    return (up ? c->up_block_types[i] : c->down_block_types[i]) == LCMD_UNET_BLOCK_CROSS_ATTN;
}

static lcmd_status check_attention(const lcmd_unet_config *c, const char *label, int32_t i, int32_t channels)
{
    int32_t heads = c->attention_head_dim[i];
    if (heads < 1 || heads > channels)
        FAIL("%s: attention_head_dim[%d] = %d heads must be in [1, %d] (the channels of the block)",
             label, i, heads, channels);
    if (c->transformer_layers_per_block[i] < 1)
        FAIL("%s: transformer_layers_per_block[%d] = %d must be >= 1", label, i, c->transformer_layers_per_block[i]);
    return LCMD_OK;
}

/* Replays the skip connections: conv_in, every down resnet/attention and every
 * downsampler push one; every up resnet pops one of the channels it was built for. */
static lcmd_status check_skips(const lcmd_unet_config *c, const char *label)
{
    int32_t n = c->num_blocks, stack[1 + LCMD_UNET_MAX_BLOCKS * 1025], top = 0;
    stack[top++] = c->block_out_channels[0];
    for (int32_t i = 0; i < n; i++) {
        for (int32_t j = 0; j < c->layers_per_block[i]; j++) stack[top++] = c->block_out_channels[i];
        if (i < n - 1) stack[top++] = c->block_out_channels[i];
    }
    for (int32_t i = 0; i < n; i++) {
        int32_t rev = n - 1 - i;
        int32_t out = c->block_out_channels[rev];
        int32_t in = c->block_out_channels[n - 1 - (i + 1 < n ? i + 1 : n - 1)];
        int32_t layers = c->layers_per_block[rev] + 1;
        for (int32_t j = 0; j < layers; j++) {
            int32_t want = j == layers - 1 ? in : out;
            if (top == 0)
                FAIL("%s: up_blocks[%d].resnets[%d] has no skip connection left (layers_per_block is not symmetric)",
                     label, i, j);
            int32_t got = stack[--top];
            if (got != want)
                FAIL("%s: up_blocks[%d].resnets[%d] expects a %d-channel skip, the down path gives %d",
                     label, i, j, want, got);
        }
    }
    if (top != 0)
        FAIL("%s: %d skip connections are left unused by the up blocks", label, top);
    return LCMD_OK;
}

lcmd_status lcmd_unet_config_validate(const lcmd_unet_config *c, const char *label)
{
    if (!label) label = "lcmd_unet_config_validate";
    LCMD_CHECK_ARG(c, "lcmd_unet_config_validate", "cfg is NULL");
    int32_t n = c->num_blocks;
    if (n < 1 || n > LCMD_UNET_MAX_BLOCKS) FAIL("%s: num_blocks = %d must be in [1, %d]", label, n, LCMD_UNET_MAX_BLOCKS);
    if (c->in_channels < 1 || c->out_channels < 1)
        FAIL("%s: in_channels = %d, out_channels = %d must be >= 1", label, c->in_channels, c->out_channels);
    if (c->norm_num_groups < 1) FAIL("%s: norm_num_groups = %d must be >= 1", label, c->norm_num_groups);
    if (!(c->norm_eps > 0) || !isfinite(c->norm_eps)) FAIL("%s: norm_eps = %g must be finite and > 0", label, c->norm_eps);
    if (!(c->mid_block_scale_factor != 0) || !isfinite(c->mid_block_scale_factor))
        FAIL("%s: mid_block_scale_factor = %g must be finite and nonzero", label, c->mid_block_scale_factor);
    if (c->cross_attention_dim < 1) FAIL("%s: cross_attention_dim = %d must be >= 1", label, c->cross_attention_dim);
    if (c->downsample_padding != 1)
        return lcmd_set_error(LCMD_ERR_UNSUPPORTED, "%s: downsample_padding %d is not supported (only 1)",
                              label, c->downsample_padding);
    if (c->mid_block_type != LCMD_UNET_MID_NONE && c->mid_block_type != LCMD_UNET_MID_CROSS_ATTN)
        FAIL("%s: mid_block_type = %d is not an lcmd_unet_mid_type", label, (int)c->mid_block_type);
    for (int32_t i = 0; i < n; i++) {
        if (!is_block_type(c->down_block_types[i]) || !is_block_type(c->up_block_types[i]))
            FAIL("%s: block type of block %d is not an lcmd_unet_block_type", label, i);
        int32_t ch = c->block_out_channels[i];
        if (ch < 1 || ch % c->norm_num_groups != 0)
            FAIL("%s: block_out_channels[%d] = %d must be a positive multiple of norm_num_groups = %d",
                 label, i, ch, c->norm_num_groups);
        if (c->layers_per_block[i] < 1 || c->layers_per_block[i] > 1024)
            FAIL("%s: layers_per_block[%d] = %d must be in [1, 1024]", label, i, c->layers_per_block[i]);
        if (block_has_attention(c, i, 0)) LCMD_TRY(check_attention(c, label, i, ch));
        /* up block i is built with the un-reversed attention_head_dim list, as diffusers does */
        if (block_has_attention(c, i, 1)) {
            int32_t heads = c->attention_head_dim[n - 1 - i];
            int32_t up_ch = c->block_out_channels[n - 1 - i];
            if (heads < 1 || heads > up_ch)
                FAIL("%s: up_blocks[%d] has %d heads for %d channels", label, i, heads, up_ch);
            if (c->transformer_layers_per_block[n - 1 - i] < 1)
                FAIL("%s: transformer_layers_per_block[%d] = %d must be >= 1", label, n - 1 - i,
                     c->transformer_layers_per_block[n - 1 - i]);
        }
    }
    if (c->mid_block_type == LCMD_UNET_MID_CROSS_ATTN) LCMD_TRY(check_attention(c, label, n - 1, c->block_out_channels[n - 1]));
    int32_t c0 = c->block_out_channels[0];
    if (c0 < 2 || c->freq_shift == c0 / 2)
        FAIL("%s: the timestep embedding needs block_out_channels[0] = %d >= 2 and freq_shift = %d != %d",
             label, c0, c->freq_shift, c0 / 2);
    if (c->time_embedding_dim < 0) FAIL("%s: time_embedding_dim = %d must be >= 0", label, c->time_embedding_dim);
    if (c->time_cond_proj_dim < 0) FAIL("%s: time_cond_proj_dim = %d must be >= 0", label, c->time_cond_proj_dim);
    if (c->conv_in_kernel < 1 || c->conv_in_kernel % 2 == 0 || c->conv_out_kernel < 1 || c->conv_out_kernel % 2 == 0)
        return lcmd_set_error(LCMD_ERR_UNSUPPORTED, "%s: conv_in_kernel %d / conv_out_kernel %d: only odd sizes are supported",
                              label, c->conv_in_kernel, c->conv_out_kernel);
    if (c->addition_embed_type == LCMD_UNET_ADD_TEXT_TIME) {
        int32_t d = c->addition_time_embed_dim;
        if (d < 2 || c->freq_shift == d / 2)
            FAIL("%s: addition_embed_type 'text_time' needs addition_time_embed_dim = %d >= 2 (and != 2 * freq_shift)",
                 label, d);
        if (lcmd_unet_text_embed_dim(c) < 1)
            FAIL("%s: projection_class_embeddings_input_dim = %d must exceed 6 * addition_time_embed_dim = %d",
                 label, c->projection_class_embeddings_input_dim, 6 * d);
    } else if (c->addition_embed_type != LCMD_UNET_ADD_NONE) {
        FAIL("%s: addition_embed_type = %d is not an lcmd_unet_addition", label, (int)c->addition_embed_type);
    }
    return check_skips(c, label);
}
