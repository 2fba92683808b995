/* CLIPTextConfig (transformers' text_encoder/config.json) for CLIPTextModel and
 * CLIPTextModelWithProjection. */
#ifndef LCMD_MODELS_CLIP_CONFIG_H
#define LCMD_MODELS_CLIP_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <lcmd/status.h>

#include "ops/ops.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lcmd_clip_config {
    int32_t vocab_size, hidden_size, intermediate_size;
    int32_t num_hidden_layers, num_attention_heads, max_position_embeddings;
    int32_t projection_dim;       /* text_projection width (WithProjection only) */
    int32_t with_projection;      /* architectures ["CLIPTextModelWithProjection"] */
    lcmd_act act;                 /* hidden_act */
    double layer_norm_eps;
    int32_t has_eos;              /* eos_token_id not null */
    int64_t eos_token_id;         /* 2 selects transformers' legacy pooled rule (argmax of the ids) */
    int64_t bos_token_id, pad_token_id;   /* informational; -1 when null */
} lcmd_clip_config;

/* CLIPTextConfig's defaults (the SD 1.x text encoder, openai/clip-vit-large-patch14
 * apart from its sizes: transformers' class defaults). */
void lcmd_clip_config_init(lcmd_clip_config *cfg);

/* Parses config.json over the defaults; `label` names the source in messages.
 * hidden_act: "quick_gelu", "gelu" (exact), "gelu_new" / "gelu_pytorch_tanh" (tanh
 * approximation). eos_token_id: an integer, a one-element list, or null (no pooled
 * output then). Errors: LCMD_ERR_FORMAT (bad JSON, a key of the wrong type, naming
 * label and key), LCMD_ERR_UNSUPPORTED (another hidden_act, architecture or model_type,
 * naming the value), LCMD_ERR_INVALID_ARGUMENT (sizes < 1, hidden_size not a multiple
 * of num_attention_heads). Unknown keys are ignored. *out is written only on success. */
lcmd_status lcmd_clip_config_parse(const char *json, size_t len, const char *label, lcmd_clip_config *out);

/* Consistency checks of a config built in code; `label` prefixes messages. */
lcmd_status lcmd_clip_config_validate(const lcmd_clip_config *cfg, const char *label);

#ifdef __cplusplus
}
#endif

#endif /* LCMD_MODELS_CLIP_CONFIG_H */
