/* The demo pipeline's small JSON files and its three models: model_index.json,
 * scheduler/, text_encoder/, vae/, unet/ (configs here, weights in demo_weights.c). */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "demo/demo_internal.h"
#include "io/weights.h"
#include "models/clip.h"
#include "models/unet.h"
#include "models/unet_config.h"
#include "models/vae.h"
#include "models/vae_config.h"

#define DIFFUSERS_VERSION "0.42.1"

/* ["library", "Class"], or [null, null] for an absent optional component */
static json_t *component(const char *library, const char *cls)
{
    return library ? json_pack("[ss]", library, cls) : json_pack("[nn]");
}

lcmd_status demo_write_model_index(const char *folder)
{
    json_t *o = json_object();
    lcmd_status s = o ? LCMD_OK : lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "demo: out of memory");
    if (!s) s = demo_json_set(o, "_class_name", json_string("StableDiffusionPipeline"));
    if (!s) s = demo_json_set(o, "_diffusers_version", json_string(DIFFUSERS_VERSION));
    if (!s) s = demo_json_set(o, "feature_extractor", component(NULL, NULL));
    if (!s) s = demo_json_set(o, "image_encoder", component(NULL, NULL));
    if (!s) s = demo_json_set(o, "requires_safety_checker", json_false());
    if (!s) s = demo_json_set(o, "safety_checker", component(NULL, NULL));
    if (!s) s = demo_json_set(o, "scheduler", component("diffusers", "DDPMScheduler"));
    if (!s) s = demo_json_set(o, "text_encoder", component("transformers", "CLIPTextModel"));
    if (!s) s = demo_json_set(o, "tokenizer", component("transformers", "CLIPTokenizer"));
    if (!s) s = demo_json_set(o, "unet", component("diffusers", "UNet2DConditionModel"));
    if (!s) s = demo_json_set(o, "vae", component("diffusers", "AutoencoderKL"));
    if (!s) s = demo_write_json(folder, "model_index.json", o);
    json_decref(o);
    return s;
}

/* SD 1.5's training schedule, as DDPMScheduler writes it */
lcmd_status demo_write_scheduler(const char *folder)
{
    char *dir = NULL;
    LCMD_TRY(demo_join(folder, "scheduler", &dir));
    json_t *o = json_object();
    lcmd_status s = o ? demo_make_folder(dir) : lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "demo: out of memory");
    if (!s) s = demo_json_set(o, "_class_name", json_string("DDPMScheduler"));
    if (!s) s = demo_json_set(o, "_diffusers_version", json_string(DIFFUSERS_VERSION));
    if (!s) s = demo_json_set(o, "beta_end", json_real(0.012));
    if (!s) s = demo_json_set(o, "beta_schedule", json_string("scaled_linear"));
    if (!s) s = demo_json_set(o, "beta_start", json_real(0.00085));
    if (!s) s = demo_json_set(o, "clip_sample", json_false());
    if (!s) s = demo_json_set(o, "num_train_timesteps", json_integer(1000));
    if (!s) s = demo_json_set(o, "prediction_type", json_string("epsilon"));
    if (!s) s = demo_json_set(o, "set_alpha_to_one", json_false());
    if (!s) s = demo_json_set(o, "steps_offset", json_integer(1));
    if (!s) s = demo_json_set(o, "timestep_spacing", json_string("leading"));
    if (!s) s = demo_json_set(o, "trained_betas", json_null());
    if (!s) s = demo_json_set(o, "variance_type", json_string("fixed_small"));
    if (!s) s = demo_write_json(dir, "scheduler_config.json", o);
    json_decref(o);
    free(dir);
    return s;
}

/* registry of `ps` built by the caller -> weights + config.json in folder/name */
static lcmd_status write_model(const char *folder, const char *name, const lcmd_param_set *ps, uint64_t seed,
                               uint32_t tag, const char *base, const json_t *config)
{
    char *dir = NULL;
    LCMD_TRY(demo_join(folder, name, &dir));
    lcmd_status s = demo_make_folder(dir);
    if (!s) s = demo_init_and_save(ps, seed, tag, dir, base);
    if (!s) s = demo_write_json(dir, "config.json", config);
    free(dir);
    return s;
}

static lcmd_status clip_json(const lcmd_clip_config *c, json_t **out)
{
    *out = json_pack("{s:[s], s:f, s:I, s:I, s:s, s:I, s:f, s:f, s:I, s:f, s:I, s:s, s:I, s:I, s:I, s:I, s:s, s:I}",
                     "architectures", "CLIPTextModel", "attention_dropout", 0.0, "bos_token_id",
                     (json_int_t)c->bos_token_id, "eos_token_id", (json_int_t)c->eos_token_id, "hidden_act",
                     "quick_gelu", "hidden_size", (json_int_t)c->hidden_size, "initializer_factor", 1.0,
                     "initializer_range", 0.02, "intermediate_size", (json_int_t)c->intermediate_size,
                     "layer_norm_eps", c->layer_norm_eps, "max_position_embeddings",
                     (json_int_t)c->max_position_embeddings, "model_type", "clip_text_model",
                     "num_attention_heads", (json_int_t)c->num_attention_heads, "num_hidden_layers",
                     (json_int_t)c->num_hidden_layers, "pad_token_id", (json_int_t)c->pad_token_id,
                     "projection_dim", (json_int_t)c->projection_dim, "torch_dtype", "float32", "vocab_size",
                     (json_int_t)c->vocab_size);
    return *out ? LCMD_OK : lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "demo text encoder: out of memory");
}

lcmd_status demo_write_text_encoder(const char *folder, const lcmd_demo_teacher_options *o, int32_t vocab_size)
{
    lcmd_clip_config c;
    lcmd_clip_config_init(&c);
    c.vocab_size = vocab_size;
    c.hidden_size = o->text_hidden_size;
    c.intermediate_size = 2 * o->text_hidden_size;
    c.num_hidden_layers = o->text_layers;
    c.num_attention_heads = 2;
    c.max_position_embeddings = DEMO_MAX_LENGTH;
    c.projection_dim = o->text_hidden_size;
    /* the tokenizer puts <|startoftext|> and <|endoftext|> last */
    c.bos_token_id = vocab_size - 2;
    c.eos_token_id = vocab_size - 1;
    c.pad_token_id = vocab_size - 1;
    LCMD_TRY(lcmd_clip_config_validate(&c, "demo text encoder"));
    lcmd_param_set ps = {0};
    json_t *cfg = NULL;
    lcmd_status s = lcmd_clip_params_build(&c, "text_model.", &ps, NULL);
    if (!s) s = clip_json(&c, &cfg);
    if (!s) s = write_model(folder, "text_encoder", &ps, o->seed, DEMO_TAG_TEXT, LCMD_WEIGHTS_BASE_TRANSFORMERS, cfg);
    json_decref(cfg);
    lcmd_param_set_free(&ps);
    return s;
}

static lcmd_status vae_json(const lcmd_vae_config *c, json_t **out)
{
    *out = json_pack("{s:s, s:s, s:s, s:[i,i], s:[s,s], s:b, s:i, s:i, s:i, s:i, s:i, s:i, s:f, s:[s,s]}",
                     "_class_name", "AutoencoderKL", "_diffusers_version", DIFFUSERS_VERSION, "act_fn", "silu",
                     "block_out_channels", c->block_out_channels[0], c->block_out_channels[1], "down_block_types",
                     "DownEncoderBlock2D", "DownEncoderBlock2D", "force_upcast", 1, "in_channels", c->in_channels,
                     "latent_channels", c->latent_channels, "layers_per_block", c->layers_per_block,
                     "norm_num_groups", c->norm_num_groups, "out_channels", c->out_channels, "sample_size", 32,
                     "scaling_factor", c->scaling_factor, "up_block_types", "UpDecoderBlock2D", "UpDecoderBlock2D");
    return *out ? LCMD_OK : lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "demo vae: out of memory");
}

lcmd_status demo_write_vae(const char *folder, const lcmd_demo_teacher_options *o)
{
    lcmd_vae_config c;
    lcmd_vae_config_init(&c);
    c.num_blocks = 2;
    c.block_out_channels[0] = o->vae_channels;
    c.block_out_channels[1] = 2 * o->vae_channels;
    c.layers_per_block = 1;
    c.norm_num_groups = 8;
    LCMD_TRY(lcmd_vae_config_validate(&c, "demo vae"));
    lcmd_param_set ps = {0};
    json_t *cfg = NULL;
    lcmd_status s = lcmd_vae_params_build(&c, LCMD_VAE_ATTN_NAMES_CURRENT, &ps, NULL);
    if (!s) s = vae_json(&c, &cfg);
    if (!s) s = write_model(folder, "vae", &ps, o->seed, DEMO_TAG_VAE, LCMD_WEIGHTS_BASE_DIFFUSERS, cfg);
    json_decref(cfg);
    lcmd_param_set_free(&ps);
    return s;
}

lcmd_status demo_write_unet(const char *folder, const lcmd_demo_teacher_options *o)
{
    lcmd_unet_config c;
    lcmd_unet_config_init(&c);
    c.sample_size[0] = c.sample_size[1] = 16;
    c.sample_size_is_pair = 0;
    c.num_blocks = 2;
    /* SD 1.5's block types, cut to two levels */
    c.down_block_types[0] = LCMD_UNET_BLOCK_CROSS_ATTN;
    c.down_block_types[1] = LCMD_UNET_BLOCK_PLAIN;
    c.up_block_types[0] = LCMD_UNET_BLOCK_PLAIN;
    c.up_block_types[1] = LCMD_UNET_BLOCK_CROSS_ATTN;
    for (int i = 0; i < 2; i++) {
        c.block_out_channels[i] = o->unet_channels << i;
        c.layers_per_block[i] = 1;
        c.transformer_layers_per_block[i] = 1;
        c.attention_head_dim[i] = 8;
    }
    c.norm_num_groups = 8;
    c.cross_attention_dim = o->text_hidden_size;
    LCMD_TRY(lcmd_unet_config_validate(&c, "demo unet"));
    lcmd_param_set ps = {0};
    char *text = NULL;
    json_t *cfg = NULL;
    lcmd_status s = lcmd_unet_params_build(&c, &ps);
    if (!s) s = lcmd_unet_config_to_json(&c, &text);
    if (!s) {
        json_error_t err;
        cfg = json_loads(text, 0, &err);
        if (!cfg) s = lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "demo unet: config: %s", err.text);
    }
    if (!s) s = write_model(folder, "unet", &ps, o->seed, DEMO_TAG_UNET, LCMD_WEIGHTS_BASE_DIFFUSERS, cfg);
    json_decref(cfg);
    free(text);
    lcmd_param_set_free(&ps);
    return s;
}
