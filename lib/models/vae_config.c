/* vae/config.json -> lcmd_vae_config. */
#include "models/vae_config.h"

#include <jansson.h>
#include <math.h>
#include <string.h>

#include "core/error.h"
#include "io/json_fields.h"
#include "io/json_file.h"

void lcmd_vae_config_init(lcmd_vae_config *c)
{
    memset(c, 0, sizeof *c);
    c->in_channels = 3;
    c->out_channels = 3;
    c->latent_channels = 4;
    c->num_blocks = 1;
    c->block_out_channels[0] = 64;
    c->layers_per_block = 1;
    c->norm_num_groups = 32;
    c->scaling_factor = 0.18215;
    c->force_upcast = 1;
    c->use_quant_conv = 1;
    c->use_post_quant_conv = 1;
    c->mid_block_add_attention = 1;
}

static lcmd_status read_string_is(json_t *root, const char *label, const char *key, const char *want)
{
    json_t *v = lcmd_json_field(root, key);
    if (!v) return LCMD_OK;
    if (!json_is_string(v)) return lcmd_set_error(LCMD_ERR_FORMAT, "%s: key '%s' must be a string", label, key);
    if (strcmp(json_string_value(v), want) != 0)
        return lcmd_set_error(LCMD_ERR_UNSUPPORTED, "%s: %s '%s' is not supported (only '%s')", label, key,
                              json_string_value(v), want);
    return LCMD_OK;
}

/* a list of block types all equal to `want`; *n receives its length */
static lcmd_status read_types(json_t *root, const char *label, const char *key, const char *want, int32_t *n)
{
    json_t *v = lcmd_json_field(root, key);
    *n = -1;
    if (!v) return LCMD_OK;
    if (!json_is_array(v)) return lcmd_set_error(LCMD_ERR_FORMAT, "%s: key '%s' must be a list of strings", label, key);
    for (size_t i = 0; i < json_array_size(v); i++) {
        json_t *e = json_array_get(v, i);
        if (!json_is_string(e))
            return lcmd_set_error(LCMD_ERR_FORMAT, "%s: %s[%zu] must be a string", label, key, i);
        if (strcmp(json_string_value(e), want) != 0)
            return lcmd_set_error(LCMD_ERR_UNSUPPORTED, "%s: %s[%zu] = '%s' is not supported (only '%s')", label, key,
                                  i, json_string_value(e), want);
    }
    *n = (int32_t)json_array_size(v);
    return LCMD_OK;
}

static lcmd_status read_channels(json_t *root, const char *label, lcmd_vae_config *c)
{
    json_t *v = lcmd_json_field(root, "block_out_channels");
    if (!v) return LCMD_OK;
    if (!json_is_array(v) || json_array_size(v) < 1)
        return lcmd_set_error(LCMD_ERR_FORMAT, "%s: key 'block_out_channels' must be a non-empty list of integers",
                              label);
    if (json_array_size(v) > LCMD_VAE_MAX_BLOCKS)
        return lcmd_set_error(LCMD_ERR_UNSUPPORTED, "%s: block_out_channels has %zu entries (at most %d)", label,
                              json_array_size(v), LCMD_VAE_MAX_BLOCKS);
    for (size_t i = 0; i < json_array_size(v); i++) {
        json_t *e = json_array_get(v, i);
        if (!json_is_integer(e) || json_integer_value(e) < 1 || json_integer_value(e) > (1 << 20))
            return lcmd_set_error(LCMD_ERR_FORMAT, "%s: block_out_channels[%zu] must be an integer in [1, 2^20]",
                                  label, i);
        c->block_out_channels[i] = (int32_t)json_integer_value(e);
    }
    c->num_blocks = (int32_t)json_array_size(v);
    return LCMD_OK;
}

lcmd_status lcmd_vae_config_validate(const lcmd_vae_config *c, const char *label)
{
    const struct { const char *name; int32_t v; } sizes[] = {
        {"in_channels", c->in_channels}, {"out_channels", c->out_channels},
        {"latent_channels", c->latent_channels}, {"norm_num_groups", c->norm_num_groups}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        if (sizes[i].v < 1 || sizes[i].v > (1 << 20))
            return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "%s: %s = %d must be in [1, 2^20]", label, sizes[i].name,
                                  sizes[i].v);
    if (c->num_blocks < 1 || c->num_blocks > LCMD_VAE_MAX_BLOCKS)
        return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "%s: %d blocks (1..%d)", label, c->num_blocks,
                              LCMD_VAE_MAX_BLOCKS);
    if (c->layers_per_block < 1 || c->layers_per_block > LCMD_VAE_MAX_LAYERS)
        return lcmd_set_error(LCMD_ERR_UNSUPPORTED, "%s: layers_per_block = %d is not in [1, %d]", label,
                              c->layers_per_block, LCMD_VAE_MAX_LAYERS);
    for (int32_t i = 0; i < c->num_blocks; i++)
        if (c->block_out_channels[i] < 1 || c->block_out_channels[i] % c->norm_num_groups != 0)
            return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT,
                                  "%s: block_out_channels[%d] = %d is not a positive multiple of norm_num_groups = %d",
                                  label, i, c->block_out_channels[i], c->norm_num_groups);
    if (!isfinite(c->scaling_factor) || c->scaling_factor == 0.0)
        return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "%s: scaling_factor = %g must be finite and non-zero", label,
                              c->scaling_factor);
    if (c->has_shift && !isfinite(c->shift_factor))
        return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "%s: shift_factor = %g must be finite", label,
                              c->shift_factor);
    return LCMD_OK;
}

static lcmd_status parse(json_t *root, const char *label, lcmd_vae_config *c)
{
    if (!json_is_object(root)) return lcmd_set_error(LCMD_ERR_FORMAT, "%s: the top level must be an object", label);
    int32_t n_down = -1, n_up = -1;
    LCMD_TRY(read_string_is(root, label, "_class_name", "AutoencoderKL"));
    LCMD_TRY(read_string_is(root, label, "act_fn", "silu"));
    LCMD_TRY(read_types(root, label, "down_block_types", "DownEncoderBlock2D", &n_down));
    LCMD_TRY(read_types(root, label, "up_block_types", "UpDecoderBlock2D", &n_up));
    LCMD_TRY(read_channels(root, label, c));
    if ((n_down >= 0 && n_down != c->num_blocks) || (n_up >= 0 && n_up != c->num_blocks))
        return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT,
                              "%s: down_block_types (%d), up_block_types (%d) and block_out_channels (%d) differ in length",
                              label, n_down, n_up, c->num_blocks);
    LCMD_TRY(lcmd_json_read_int(root, label, "in_channels", &c->in_channels));
    LCMD_TRY(lcmd_json_read_int(root, label, "out_channels", &c->out_channels));
    LCMD_TRY(lcmd_json_read_int(root, label, "latent_channels", &c->latent_channels));
    LCMD_TRY(lcmd_json_read_int(root, label, "layers_per_block", &c->layers_per_block));
    LCMD_TRY(lcmd_json_read_int(root, label, "norm_num_groups", &c->norm_num_groups));
    LCMD_TRY(lcmd_json_read_number(root, label, "scaling_factor", &c->scaling_factor, NULL));
    LCMD_TRY(lcmd_json_read_number(root, label, "shift_factor", &c->shift_factor, &c->has_shift));
    LCMD_TRY(lcmd_json_read_bool(root, label, "force_upcast", &c->force_upcast));
    LCMD_TRY(lcmd_json_read_bool(root, label, "use_quant_conv", &c->use_quant_conv));
    LCMD_TRY(lcmd_json_read_bool(root, label, "use_post_quant_conv", &c->use_post_quant_conv));
    LCMD_TRY(lcmd_json_read_bool(root, label, "mid_block_add_attention", &c->mid_block_add_attention));
    return lcmd_vae_config_validate(c, label);
}

lcmd_status lcmd_vae_config_parse(const char *json, size_t len, const char *label, lcmd_vae_config *out)
{
    LCMD_CHECK_ARG(json && out, "lcmd_vae_config_parse", "json or out is NULL");
    if (!label) label = "vae config";
    json_t *root = NULL;
    LCMD_TRY(lcmd_json_parse_buffer(json, len, label, &root));
    lcmd_vae_config c;
    lcmd_vae_config_init(&c);
    lcmd_status s = parse(root, label, &c);
    json_decref(root);
    if (!s) *out = c;
    return s;
}
