/* config.json -> lcmd_unet_config, and the consistency checks. */
#include "models/unet_config.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

void lcmd_unet_config_init(lcmd_unet_config *c)
{
    static const int32_t boc[4] = {320, 640, 1280, 1280};
    memset(c, 0, sizeof *c);
    c->in_channels = 4;
    c->out_channels = 4;
    c->flip_sin_to_cos = 1;
    c->num_blocks = 4;
    for (int i = 0; i < 4; i++) {
        c->down_block_types[i] = i < 3 ? LCMD_UNET_BLOCK_CROSS_ATTN : LCMD_UNET_BLOCK_PLAIN;
        c->up_block_types[i] = i > 0 ? LCMD_UNET_BLOCK_CROSS_ATTN : LCMD_UNET_BLOCK_PLAIN;
        c->block_out_channels[i] = boc[i];
        c->layers_per_block[i] = 2;
        c->transformer_layers_per_block[i] = 1;
        c->attention_head_dim[i] = 8;
    }
    c->mid_block_type = LCMD_UNET_MID_CROSS_ATTN;
    c->downsample_padding = 1;
    c->mid_block_scale_factor = 1.0;
    c->norm_num_groups = 32;
    c->norm_eps = 1e-5;
    c->cross_attention_dim = 1280;
    c->conv_in_kernel = 3;
    c->conv_out_kernel = 3;
}

/* ---- JSON readers: absent or null leaves the field alone ---- */

typedef struct reader {
    const char *label;
    json_t *root;
} reader;

static json_t *get(const reader *r, const char *key)
{
    json_t *v = json_object_get(r->root, key);
    return v && !json_is_null(v) ? v : NULL;
}

/* a short rendering of a JSON value for messages */
static void describe(json_t *v, char *buf, size_t cap)
{
    if (json_is_string(v)) {
        snprintf(buf, cap, "'%s'", json_string_value(v));
        return;
    }
    json_malloc_t jmalloc;
    json_free_t jfree;
    json_get_alloc_funcs(&jmalloc, &jfree);
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    snprintf(buf, cap, "%s", s ? s : "?");
    if (s) jfree(s);
}

static lcmd_status as_int(const reader *r, const char *key, json_t *v, int32_t *out)
{
    if (!json_is_integer(v) || json_integer_value(v) < INT32_MIN || json_integer_value(v) > INT32_MAX)
        return lcmd_set_error(LCMD_ERR_FORMAT, "%s: key '%s' must be an integer", r->label, key);
    *out = (int32_t)json_integer_value(v);
    return LCMD_OK;
}

static lcmd_status read_int(const reader *r, const char *key, int32_t *out)
{
    json_t *v = get(r, key);
    return v ? as_int(r, key, v, out) : LCMD_OK;
}

static lcmd_status read_bool(const reader *r, const char *key, int32_t *out)
{
    json_t *v = get(r, key);
    if (!v) return LCMD_OK;
    if (!json_is_boolean(v))
        return lcmd_set_error(LCMD_ERR_FORMAT, "%s: key '%s' must be true or false", r->label, key);
    *out = json_is_true(v);
    return LCMD_OK;
}

static lcmd_status read_number(const reader *r, const char *key, double *out)
{
    json_t *v = get(r, key);
    if (!v) return LCMD_OK;
    if (!json_is_number(v))
        return lcmd_set_error(LCMD_ERR_FORMAT, "%s: key '%s' must be a number", r->label, key);
    *out = json_number_value(v);
    return LCMD_OK;
}

/* An int for every block, or a list with one per block (diffusers expands an int). */
static lcmd_status read_per_block(const reader *r, const char *key, int32_t n, int32_t *out)
{
    json_t *v = get(r, key);
    if (!v) return LCMD_OK;
    if (json_is_integer(v)) {
        int32_t x;
        LCMD_TRY(as_int(r, key, v, &x));
        for (int32_t i = 0; i < n; i++) out[i] = x;
        return LCMD_OK;
    }
    if (!json_is_array(v))
        return lcmd_set_error(LCMD_ERR_FORMAT, "%s: key '%s' must be an integer or a list of integers", r->label, key);
    if ((int32_t)json_array_size(v) != n)
        return lcmd_set_error(LCMD_ERR_FORMAT, "%s: key '%s' has %zu entries, down_block_types has %d",
                              r->label, key, json_array_size(v), n);
    for (int32_t i = 0; i < n; i++) {
        json_t *e = json_array_get(v, (size_t)i);
        if (json_is_array(e))
            return lcmd_set_error(LCMD_ERR_UNSUPPORTED, "%s: %s[%d] is a list (asymmetric UNets are not supported)",
                                  r->label, key, i);
        if (!json_is_integer(e) || json_integer_value(e) < INT32_MIN || json_integer_value(e) > INT32_MAX)
            return lcmd_set_error(LCMD_ERR_FORMAT, "%s: key '%s'[%d] must be an integer", r->label, key, i);
        out[i] = (int32_t)json_integer_value(e);
    }
    return LCMD_OK;
}

/* A key liblcmd supports only in its default state: null (or absent). */
static lcmd_status require_null(const reader *r, const char *key)
{
    json_t *v = get(r, key);
    if (!v) return LCMD_OK;
    char d[128];
    describe(v, d, sizeof d);
    return lcmd_set_error(LCMD_ERR_UNSUPPORTED, "%s: %s %s is not supported", r->label, key, d);
}

/* A bool (or list of bools) that must be false. */
static lcmd_status require_false(const reader *r, const char *key)
{
    json_t *v = get(r, key);
    if (!v) return LCMD_OK;
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            json_t *e = json_array_get(v, i);
            if (!json_is_boolean(e))
                return lcmd_set_error(LCMD_ERR_FORMAT, "%s: key '%s'[%zu] must be true or false", r->label, key, i);
            if (json_is_true(e))
                return lcmd_set_error(LCMD_ERR_UNSUPPORTED, "%s: %s[%zu] true is not supported", r->label, key, i);
        }
        return LCMD_OK;
    }
    if (!json_is_boolean(v))
        return lcmd_set_error(LCMD_ERR_FORMAT, "%s: key '%s' must be true or false", r->label, key);
    if (json_is_true(v))
        return lcmd_set_error(LCMD_ERR_UNSUPPORTED, "%s: %s true is not supported", r->label, key);
    return LCMD_OK;
}

/* A string key with a set of accepted values (index into `names`, NULL-terminated). */
static lcmd_status read_choice(const reader *r, const char *key, json_t *v, const char *shown_as,
                               const char *const *names, int *out)
{
    if (!json_is_string(v))
        return lcmd_set_error(LCMD_ERR_FORMAT, "%s: key '%s' must be a string", r->label, key);
    const char *s = json_string_value(v);
    for (int i = 0; names[i]; i++)
        if (strcmp(s, names[i]) == 0) { *out = i; return LCMD_OK; }
    return lcmd_set_error(LCMD_ERR_UNSUPPORTED, "%s: %s '%s' is not supported", r->label, shown_as, s);
}

static lcmd_status require_string(const reader *r, const char *key, const char *const *accepted)
{
    json_t *v = get(r, key);
    int ignored;
    return v ? read_choice(r, key, v, key, accepted, &ignored) : LCMD_OK;
}

static lcmd_status read_block_types(const reader *r, const char *key, const char *const *names,
                                    lcmd_unet_block_type *out, int32_t *n)
{
    json_t *v = get(r, key);
    if (!v) return LCMD_OK;
    if (!json_is_array(v))
        return lcmd_set_error(LCMD_ERR_FORMAT, "%s: key '%s' must be a list of strings", r->label, key);
    size_t count = json_array_size(v);
    if (count < 1 || count > LCMD_UNET_MAX_BLOCKS)
        return lcmd_set_error(LCMD_ERR_UNSUPPORTED, "%s: %s has %zu entries (1..%d supported)",
                              r->label, key, count, LCMD_UNET_MAX_BLOCKS);
    for (size_t i = 0; i < count; i++) {
        char shown[96];
        snprintf(shown, sizeof shown, "%s[%zu]", key, i);
        int t;
        LCMD_TRY(read_choice(r, key, json_array_get(v, i), shown, names, &t));
        out[i] = (lcmd_unet_block_type)t;
    }
    *n = (int32_t)count;
    return LCMD_OK;
}

static lcmd_status read_list_len(const reader *r, const char *key, int32_t n)
{
    json_t *v = get(r, key);
    if (v && json_is_array(v) && (int32_t)json_array_size(v) != n)
        return lcmd_set_error(LCMD_ERR_FORMAT, "%s: key '%s' has %zu entries, down_block_types has %d",
                              r->label, key, json_array_size(v), n);
    return LCMD_OK;
}

static lcmd_status read_sample_size(const reader *r, lcmd_unet_config *c)
{
    json_t *v = get(r, "sample_size");
    if (!v) return LCMD_OK;
    if (json_is_integer(v)) {
        LCMD_TRY(as_int(r, "sample_size", v, &c->sample_size[0]));
        c->sample_size[1] = c->sample_size[0];
        c->sample_size_is_pair = 0;
        return LCMD_OK;
    }
    if (!json_is_array(v) || json_array_size(v) != 2)
        return lcmd_set_error(LCMD_ERR_FORMAT, "%s: key 'sample_size' must be an integer or a list of two", r->label);
    for (size_t i = 0; i < 2; i++)
        LCMD_TRY(as_int(r, "sample_size", json_array_get(v, i), &c->sample_size[i]));
    c->sample_size_is_pair = 1;
    return LCMD_OK;
}

/* cross_attention_dim: an int, or a list of equal ints (one per block) */
static lcmd_status read_cross_attention_dim(const reader *r, lcmd_unet_config *c)
{
    json_t *v = get(r, "cross_attention_dim");
    if (!v || json_is_integer(v))
        return read_int(r, "cross_attention_dim", &c->cross_attention_dim);
    int32_t dims[LCMD_UNET_MAX_BLOCKS];
    LCMD_TRY(read_per_block(r, "cross_attention_dim", c->num_blocks, dims));
    for (int32_t i = 1; i < c->num_blocks; i++)
        if (dims[i] != dims[0])
            return lcmd_set_error(LCMD_ERR_UNSUPPORTED, "%s: cross_attention_dim with different values per block "
                                  "(%d and %d) is not supported", r->label, dims[0], dims[i]);
    c->cross_attention_dim = dims[0];
    return LCMD_OK;
}

static lcmd_status parse_root(const reader *r, lcmd_unet_config *c)
{
    static const char *const down_names[] = {"DownBlock2D", "CrossAttnDownBlock2D", NULL};
    static const char *const up_names[] = {"UpBlock2D", "CrossAttnUpBlock2D", NULL};
    static const char *const mid_names[] = {"UNetMidBlock2DCrossAttn", NULL};
    static const char *const add_names[] = {"text_time", NULL};
    static const char *const act_names[] = {"silu", "swish", NULL};
    static const char *const shift_names[] = {"default", NULL};
    static const char *const temb_names[] = {"positional", NULL};
    static const char *const attn_names[] = {"default", NULL};

    LCMD_TRY(read_sample_size(r, c));
    LCMD_TRY(read_int(r, "in_channels", &c->in_channels));
    LCMD_TRY(read_int(r, "out_channels", &c->out_channels));
    LCMD_TRY(read_bool(r, "center_input_sample", &c->center_input_sample));
    LCMD_TRY(read_bool(r, "flip_sin_to_cos", &c->flip_sin_to_cos));
    LCMD_TRY(read_int(r, "freq_shift", &c->freq_shift));

    int32_t n_down = c->num_blocks, n_up = c->num_blocks;
    LCMD_TRY(read_block_types(r, "down_block_types", down_names, c->down_block_types, &n_down));
    LCMD_TRY(read_block_types(r, "up_block_types", up_names, c->up_block_types, &n_up));
    if (n_down != n_up)
        return lcmd_set_error(LCMD_ERR_FORMAT, "%s: down_block_types has %d entries, up_block_types %d",
                              r->label, n_down, n_up);
    c->num_blocks = n_down;
    json_t *mid = json_object_get(r->root, "mid_block_type");
    if (mid && json_is_null(mid)) {
        c->mid_block_type = LCMD_UNET_MID_NONE;
    } else if (mid) {
        int t;
        LCMD_TRY(read_choice(r, "mid_block_type", mid, "mid_block_type", mid_names, &t));
        c->mid_block_type = LCMD_UNET_MID_CROSS_ATTN;
    }

    /* the per-block lists: a default of another length must be replaced by the file */
    LCMD_TRY(read_list_len(r, "block_out_channels", c->num_blocks));
    LCMD_TRY(read_per_block(r, "block_out_channels", c->num_blocks, c->block_out_channels));
    if (json_is_integer(get(r, "block_out_channels")))
        return lcmd_set_error(LCMD_ERR_FORMAT, "%s: key 'block_out_channels' must be a list of integers", r->label);
    LCMD_TRY(read_per_block(r, "layers_per_block", c->num_blocks, c->layers_per_block));
    LCMD_TRY(read_per_block(r, "transformer_layers_per_block", c->num_blocks, c->transformer_layers_per_block));
    LCMD_TRY(read_per_block(r, "attention_head_dim", c->num_blocks, c->attention_head_dim));
    if (c->num_blocks != 4) {
        /* the defaults are 4-block lists: block_out_channels must come from the file */
        if (!get(r, "block_out_channels"))
            return lcmd_set_error(LCMD_ERR_FORMAT, "%s: %d blocks need a block_out_channels list", r->label, c->num_blocks);
        for (int32_t i = 4; i < c->num_blocks; i++) {
            if (!get(r, "layers_per_block")) c->layers_per_block[i] = 2;
            if (!get(r, "transformer_layers_per_block")) c->transformer_layers_per_block[i] = 1;
            if (!get(r, "attention_head_dim")) c->attention_head_dim[i] = 8;
        }
    }

    LCMD_TRY(read_int(r, "downsample_padding", &c->downsample_padding));
    LCMD_TRY(read_number(r, "mid_block_scale_factor", &c->mid_block_scale_factor));
    double dropout = 0;
    LCMD_TRY(read_number(r, "dropout", &dropout));
    if (dropout != 0)
        return lcmd_set_error(LCMD_ERR_UNSUPPORTED, "%s: dropout %g is not supported (only 0)", r->label, dropout);
    LCMD_TRY(require_string(r, "act_fn", act_names));
    json_t *groups = json_object_get(r->root, "norm_num_groups");
    if (groups && json_is_null(groups))
        return lcmd_set_error(LCMD_ERR_UNSUPPORTED, "%s: norm_num_groups null is not supported", r->label);
    LCMD_TRY(read_int(r, "norm_num_groups", &c->norm_num_groups));
    LCMD_TRY(read_number(r, "norm_eps", &c->norm_eps));
    LCMD_TRY(read_cross_attention_dim(r, c));
    LCMD_TRY(read_bool(r, "use_linear_projection", &c->use_linear_projection));
    LCMD_TRY(read_bool(r, "upcast_attention", &c->upcast_attention));
    LCMD_TRY(require_string(r, "resnet_time_scale_shift", shift_names));
    LCMD_TRY(require_string(r, "time_embedding_type", temb_names));
    LCMD_TRY(require_string(r, "attention_type", attn_names));

    json_t *add = get(r, "addition_embed_type");
    if (add) {
        int t;
        LCMD_TRY(read_choice(r, "addition_embed_type", add, "addition_embed_type", add_names, &t));
        c->addition_embed_type = LCMD_UNET_ADD_TEXT_TIME;
    }
    LCMD_TRY(read_int(r, "addition_time_embed_dim", &c->addition_time_embed_dim));
    LCMD_TRY(read_int(r, "projection_class_embeddings_input_dim", &c->projection_class_embeddings_input_dim));
    LCMD_TRY(read_int(r, "time_cond_proj_dim", &c->time_cond_proj_dim));
    LCMD_TRY(read_int(r, "time_embedding_dim", &c->time_embedding_dim));
    LCMD_TRY(read_int(r, "conv_in_kernel", &c->conv_in_kernel));
    LCMD_TRY(read_int(r, "conv_out_kernel", &c->conv_out_kernel));

    /* diffusers itself raises for a non-null num_attention_heads */
    static const char *const must_be_null[] = {
        "num_attention_heads", "class_embed_type", "num_class_embeds", "encoder_hid_dim",
        "encoder_hid_dim_type", "time_embedding_act_fn", "timestep_post_act",
        "reverse_transformer_layers_per_block", "cross_attention_norm", NULL};
    for (int i = 0; must_be_null[i]; i++)
        LCMD_TRY(require_null(r, must_be_null[i]));
    static const char *const must_be_false[] = {
        "dual_cross_attention", "only_cross_attention", "mid_block_only_cross_attention",
        "resnet_skip_time_act", "class_embeddings_concat", NULL};
    for (int i = 0; must_be_false[i]; i++)
        LCMD_TRY(require_false(r, must_be_false[i]));
    return LCMD_OK;
}

lcmd_status lcmd_unet_config_parse(const char *json, size_t len, const char *label, lcmd_unet_config *out)
{
    LCMD_CHECK_ARG(json && out, "lcmd_unet_config_parse", "json or out is NULL");
    if (!label) label = "config.json";
    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return lcmd_set_error(LCMD_ERR_FORMAT, "%s: %s (line %d, column %d)", label, jerr.text, jerr.line, jerr.column);
    lcmd_unet_config c;
    lcmd_unet_config_init(&c);
    lcmd_status s;
    if (!json_is_object(root)) {
        s = lcmd_set_error(LCMD_ERR_FORMAT, "%s: not a JSON object", label);
    } else {
        json_t *cls = json_object_get(root, "_class_name");
        if (cls && json_is_string(cls) && strcmp(json_string_value(cls), "UNet2DConditionModel") != 0)
            s = lcmd_set_error(LCMD_ERR_UNSUPPORTED, "%s: _class_name '%s' is not supported (UNet2DConditionModel only)",
                               label, json_string_value(cls));
        else
            s = parse_root(&(reader){label, root}, &c);
    }
    json_decref(root);
    if (s) return s;
    LCMD_TRY(lcmd_unet_config_validate(&c, label));
    *out = c;
    return LCMD_OK;
}
