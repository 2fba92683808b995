/* lcmd_unet_config -> config.json as diffusers writes it (every constructor key). */
#include "models/unet_config.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

/* an int when every block has the same value (diffusers expands it back), else a list */
static json_t *per_block(const int32_t *v, int32_t n, int force_list)
{
    int same = 1;
    for (int32_t i = 1; i < n; i++) same &= v[i] == v[0];
    if (same && !force_list) return json_integer(v[0]);
    json_t *a = json_array();
    for (int32_t i = 0; a && i < n; i++) json_array_append_new(a, json_integer(v[i]));
    return a;
}

static json_t *block_types(const lcmd_unet_block_type *t, int32_t n, const char *plain, const char *attn)
{
    json_t *a = json_array();
    for (int32_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_string(t[i] == LCMD_UNET_BLOCK_CROSS_ATTN ? attn : plain));
    return a;
}

static json_t *int_or_null(int32_t v) { return v ? json_integer(v) : json_null(); }

lcmd_status lcmd_unet_config_to_json(const lcmd_unet_config *c, char **out)
{
    LCMD_CHECK_ARG(c && out, "lcmd_unet_config_to_json", "cfg or out is NULL");
    *out = NULL;
    LCMD_TRY(lcmd_unet_config_validate(c, "lcmd_unet_config_to_json"));
    int32_t n = c->num_blocks;
    json_t *o = json_object();
    if (!o) return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "lcmd_unet_config_to_json: out of memory");
    int bad = 0;
#define SET(key, value) (bad |= json_object_set_new(o, key, value))
    SET("_class_name", json_string("UNet2DConditionModel"));
    SET("_diffusers_version", json_string("0.42.1"));
    SET("act_fn", json_string("silu"));
    SET("addition_embed_type", c->addition_embed_type == LCMD_UNET_ADD_TEXT_TIME ? json_string("text_time") : json_null());
    SET("addition_embed_type_num_heads", json_integer(64));
    SET("addition_time_embed_dim", int_or_null(c->addition_time_embed_dim));
    SET("attention_head_dim", per_block(c->attention_head_dim, n, 0));
    SET("attention_type", json_string("default"));
    SET("block_out_channels", per_block(c->block_out_channels, n, 1));
    SET("center_input_sample", json_boolean(c->center_input_sample));
    SET("class_embed_type", json_null());
    SET("class_embeddings_concat", json_false());
    SET("conv_in_kernel", json_integer(c->conv_in_kernel));
    SET("conv_out_kernel", json_integer(c->conv_out_kernel));
    SET("cross_attention_dim", json_integer(c->cross_attention_dim));
    SET("cross_attention_norm", json_null());
    SET("down_block_types", block_types(c->down_block_types, n, "DownBlock2D", "CrossAttnDownBlock2D"));
    SET("downsample_padding", json_integer(c->downsample_padding));
    SET("dropout", json_real(0.0));
    SET("dual_cross_attention", json_false());
    SET("encoder_hid_dim", json_null());
    SET("encoder_hid_dim_type", json_null());
    SET("flip_sin_to_cos", json_boolean(c->flip_sin_to_cos));
    SET("freq_shift", json_integer(c->freq_shift));
    SET("in_channels", json_integer(c->in_channels));
    SET("layers_per_block", per_block(c->layers_per_block, n, 0));
    SET("mid_block_only_cross_attention", json_null());
    SET("mid_block_scale_factor", json_real(c->mid_block_scale_factor));
    SET("mid_block_type", c->mid_block_type == LCMD_UNET_MID_CROSS_ATTN ? json_string("UNetMidBlock2DCrossAttn") : json_null());
    SET("norm_eps", json_real(c->norm_eps));
    SET("norm_num_groups", json_integer(c->norm_num_groups));
    SET("num_attention_heads", json_null());
    SET("num_class_embeds", json_null());
    SET("only_cross_attention", json_false());
    SET("out_channels", json_integer(c->out_channels));
    SET("projection_class_embeddings_input_dim", int_or_null(c->projection_class_embeddings_input_dim));
    SET("resnet_out_scale_factor", json_real(1.0));
    SET("resnet_skip_time_act", json_false());
    SET("resnet_time_scale_shift", json_string("default"));
    SET("reverse_transformer_layers_per_block", json_null());
    if (c->sample_size_is_pair) {
        json_t *a = json_array();
        if (a) {
            json_array_append_new(a, json_integer(c->sample_size[0]));
            json_array_append_new(a, json_integer(c->sample_size[1]));
        }
        SET("sample_size", a);
    } else {
        SET("sample_size", int_or_null(c->sample_size[0]));
    }
    SET("time_cond_proj_dim", int_or_null(c->time_cond_proj_dim));
    SET("time_embedding_act_fn", json_null());
    SET("time_embedding_dim", int_or_null(c->time_embedding_dim));
    SET("time_embedding_type", json_string("positional"));
    SET("timestep_post_act", json_null());
    SET("transformer_layers_per_block", per_block(c->transformer_layers_per_block, n, 0));
    SET("up_block_types", block_types(c->up_block_types, n, "UpBlock2D", "CrossAttnUpBlock2D"));
    SET("upcast_attention", json_boolean(c->upcast_attention));
    SET("use_linear_projection", json_boolean(c->use_linear_projection));
#undef SET
    char *s = bad ? NULL : json_dumps(o, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
    json_decref(o);
    if (!s) return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "lcmd_unet_config_to_json: out of memory");
    /* json_dumps allocates with jansson's allocator (settable): hand back a malloc copy */
    json_malloc_t jmalloc;
    json_free_t jfree;
    json_get_alloc_funcs(&jmalloc, &jfree);
    size_t len = strlen(s);
    *out = malloc(len + 2);
    if (*out) {
        memcpy(*out, s, len);
        (*out)[len] = '\n';
        (*out)[len + 1] = '\0';
    }
    jfree(s);
    return *out ? LCMD_OK : lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "lcmd_unet_config_to_json: out of memory");
}
