/* text_encoder/config.json -> lcmd_clip_config. */
#include "models/clip_config.h"

#include <jansson.h>
#include <math.h>
#include <string.h>

#include "core/error.h"
#include "io/json_fields.h"
#include "io/json_file.h"

void lcmd_clip_config_init(lcmd_clip_config *c)
{
    memset(c, 0, sizeof *c);
    c->vocab_size = 49408;
    c->hidden_size = 512;
    c->intermediate_size = 2048;
    c->num_hidden_layers = 12;
    c->num_attention_heads = 8;
    c->max_position_embeddings = 77;
    c->projection_dim = 512;
    c->act = LCMD_ACT_QUICK_GELU;
    c->layer_norm_eps = 1e-5;
    c->has_eos = 1;
    c->eos_token_id = 49407;
    c->bos_token_id = 49406;
    c->pad_token_id = 1;
}

/* a token id: an integer, or null (-1) */
static lcmd_status read_token(json_t *root, const char *label, const char *key, int64_t *out)
{
    json_t *v = json_object_get(root, key);
    if (!v) return LCMD_OK;
    if (json_is_null(v)) {
        *out = -1;
        return LCMD_OK;
    }
    if (json_is_array(v) && json_array_size(v) == 1) v = json_array_get(v, 0);
    else if (json_is_array(v))
        return lcmd_set_error(LCMD_ERR_UNSUPPORTED, "%s: key '%s' is a list of %zu ids (one id is supported)",
                              label, key, json_array_size(v));
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return lcmd_set_error(LCMD_ERR_FORMAT, "%s: key '%s' must be a non-negative integer or null", label, key);
    *out = (int64_t)json_integer_value(v);
    return LCMD_OK;
}

static lcmd_status read_act(json_t *root, const char *label, lcmd_act *out)
{
    static const struct { const char *name; lcmd_act act; } acts[] = {
        {"quick_gelu", LCMD_ACT_QUICK_GELU}, {"gelu", LCMD_ACT_GELU},
        {"gelu_new", LCMD_ACT_GELU_TANH}, {"gelu_pytorch_tanh", LCMD_ACT_GELU_TANH}};
    json_t *v = lcmd_json_field(root, "hidden_act");
    if (!v) return LCMD_OK;
    if (!json_is_string(v)) return lcmd_set_error(LCMD_ERR_FORMAT, "%s: key 'hidden_act' must be a string", label);
    for (size_t i = 0; i < sizeof acts / sizeof acts[0]; i++)
        if (strcmp(json_string_value(v), acts[i].name) == 0) {
            *out = acts[i].act;
            return LCMD_OK;
        }
    return lcmd_set_error(LCMD_ERR_UNSUPPORTED,
                          "%s: hidden_act '%s' is not supported (quick_gelu, gelu, gelu_new, gelu_pytorch_tanh)", label,
                          json_string_value(v));
}

static lcmd_status read_arch(json_t *root, const char *label, int32_t *with_projection)
{
    json_t *v = lcmd_json_field(root, "model_type");
    if (v && (!json_is_string(v) || strcmp(json_string_value(v), "clip_text_model") != 0))
        return lcmd_set_error(LCMD_ERR_UNSUPPORTED, "%s: model_type '%s' is not 'clip_text_model'", label,
                              json_is_string(v) ? json_string_value(v) : "?");
    v = lcmd_json_field(root, "architectures");
    if (!v) return LCMD_OK;   /* no architectures: a CLIPTextModel */
    if (!json_is_array(v) || json_array_size(v) != 1 || !json_is_string(json_array_get(v, 0)))
        return lcmd_set_error(LCMD_ERR_FORMAT, "%s: key 'architectures' must be a list of one string", label);
    const char *a = json_string_value(json_array_get(v, 0));
    if (strcmp(a, "CLIPTextModel") == 0) *with_projection = 0;
    else if (strcmp(a, "CLIPTextModelWithProjection") == 0) *with_projection = 1;
    else
        return lcmd_set_error(LCMD_ERR_UNSUPPORTED,
                              "%s: architecture '%s' is not supported (CLIPTextModel, CLIPTextModelWithProjection)",
                              label, a);
    return LCMD_OK;
}

lcmd_status lcmd_clip_config_validate(const lcmd_clip_config *c, const char *label)
{
    const struct { const char *name; int32_t v; } sizes[] = {
        {"vocab_size", c->vocab_size}, {"hidden_size", c->hidden_size},
        {"intermediate_size", c->intermediate_size}, {"num_hidden_layers", c->num_hidden_layers},
        {"num_attention_heads", c->num_attention_heads}, {"max_position_embeddings", c->max_position_embeddings},
        {"projection_dim", c->with_projection ? c->projection_dim : 1}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        if (sizes[i].v < 1 || sizes[i].v > (1 << 24))
            return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "%s: %s = %d must be in [1, 2^24]", label, sizes[i].name,
                                  sizes[i].v);
    if (c->hidden_size % c->num_attention_heads != 0)
        return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT,
                              "%s: hidden_size = %d is not a multiple of num_attention_heads = %d", label,
                              c->hidden_size, c->num_attention_heads);
    if (!(c->layer_norm_eps > 0.0) || !isfinite(c->layer_norm_eps))
        return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "%s: layer_norm_eps = %g must be > 0", label,
                              c->layer_norm_eps);
    return LCMD_OK;
}

lcmd_status lcmd_clip_config_parse(const char *json, size_t len, const char *label, lcmd_clip_config *out)
{
    LCMD_CHECK_ARG(json && out, "lcmd_clip_config_parse", "json or out is NULL");
    if (!label) label = "text encoder config";
    json_t *root = NULL;
    LCMD_TRY(lcmd_json_parse_buffer(json, len, label, &root));
    lcmd_clip_config c;
    lcmd_clip_config_init(&c);
    lcmd_status s = json_is_object(root) ? LCMD_OK
                                         : lcmd_set_error(LCMD_ERR_FORMAT, "%s: the top level must be an object", label);
    if (!s) s = read_arch(root, label, &c.with_projection);
    if (!s) s = lcmd_json_read_int(root, label, "vocab_size", &c.vocab_size);
    if (!s) s = lcmd_json_read_int(root, label, "hidden_size", &c.hidden_size);
    if (!s) s = lcmd_json_read_int(root, label, "intermediate_size", &c.intermediate_size);
    if (!s) s = lcmd_json_read_int(root, label, "num_hidden_layers", &c.num_hidden_layers);
    if (!s) s = lcmd_json_read_int(root, label, "num_attention_heads", &c.num_attention_heads);
    if (!s) s = lcmd_json_read_int(root, label, "max_position_embeddings", &c.max_position_embeddings);
    if (!s) s = lcmd_json_read_int(root, label, "projection_dim", &c.projection_dim);
    if (!s) s = read_act(root, label, &c.act);
    if (!s) {
        json_t *v = lcmd_json_field(root, "layer_norm_eps");
        if (v && !json_is_number(v))
            s = lcmd_set_error(LCMD_ERR_FORMAT, "%s: key 'layer_norm_eps' must be a number", label);
        else if (v)
            c.layer_norm_eps = json_number_value(v);
    }
    if (!s) s = read_token(root, label, "eos_token_id", &c.eos_token_id);
    if (!s) s = read_token(root, label, "bos_token_id", &c.bos_token_id);
    if (!s) s = read_token(root, label, "pad_token_id", &c.pad_token_id);
    json_decref(root);
    if (s) return s;
    c.has_eos = c.eos_token_id >= 0;
    LCMD_TRY(lcmd_clip_config_validate(&c, label));
    *out = c;
    return LCMD_OK;
}
