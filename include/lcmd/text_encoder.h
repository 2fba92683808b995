/* liblcmd: the CLIP text encoder (transformers' CLIPTextModel and
 * CLIPTextModelWithProjection) — load a `text_encoder/` folder and run it on token ids.
 *
 * Supported: config.json of model_type "clip_text_model" with hidden_act quick_gelu
 * (SD 1.x, SDXL's first encoder), gelu (SD 2.x, SDXL's text_encoder_2), gelu_new or
 * gelu_pytorch_tanh; weights model[.variant].safetensors or its sharded index, fp32,
 * fp16 or bf16 (kept as fp32 inside), keys with or without the "text_model." prefix.
 * Inference only; the causal mask is the only mask (no padding attention_mask, as
 * the Stable Diffusion pipelines call their CLIP encoders). */
#ifndef LCMD_TEXT_ENCODER_H
#define LCMD_TEXT_ENCODER_H

#include <stddef.h>
#include <stdint.h>
#include <lcmd/lcmd_export.h>
#include <lcmd/status.h>
#include <lcmd/context.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Opaque text encoder: configuration and parameters, on the context's device. */
typedef struct lcmd_text_encoder lcmd_text_encoder;

/** How lcmd_text_encoder_load reads a folder. Fill with lcmd_text_encoder_load_options_init(). */
typedef struct lcmd_text_encoder_load_options {
    uint32_t struct_size;
    const char *variant;   /**< NULL, or a weight-file variant such as "fp16" (model.fp16.safetensors) */
} lcmd_text_encoder_load_options;

/** Sets defaults (no variant). Errors: LCMD_ERR_INVALID_ARGUMENT for NULL. */
LCMD_API lcmd_status lcmd_text_encoder_load_options_init(lcmd_text_encoder_load_options *opts);

/** Loads a transformers text-encoder folder (`config.json` plus `model[.variant].safetensors`
 *  or its sharded `.index.json`). `opts` may be NULL. Every weight of the config must be
 *  present with its shape and no other tensor (the old non-persistent
 *  `embeddings.position_ids` buffer excepted). *out owns the new encoder
 *  (lcmd_text_encoder_destroy); the context must outlive it.
 *  Errors: LCMD_ERR_IO (missing folder or file, naming it), LCMD_ERR_FORMAT (malformed
 *  JSON or safetensors, wrong shapes, missing/unexpected keys), LCMD_ERR_UNSUPPORTED
 *  (hidden_act, architecture or model_type liblcmd does not implement, naming it),
 *  LCMD_ERR_INVALID_ARGUMENT, LCMD_ERR_OUT_OF_MEMORY, LCMD_ERR_DEVICE. */
LCMD_API lcmd_status lcmd_text_encoder_load(lcmd_context *ctx, const char *folder,
                                            const lcmd_text_encoder_load_options *opts,
                                            lcmd_text_encoder **out);

/** NULL is a no-op. */
LCMD_API void lcmd_text_encoder_destroy(lcmd_text_encoder *te);

/** Sizes of the encoder. Fill with lcmd_text_encoder_info_init() first. */
typedef struct lcmd_text_encoder_info {
    uint32_t struct_size;
    int32_t vocab_size;
    int32_t hidden_size;               /**< width of last_hidden_state and hidden_states */
    int32_t num_hidden_layers;         /**< hidden_states has num_hidden_layers + 1 entries */
    int32_t max_position_embeddings;   /**< the longest sequence */
    int32_t has_projection;            /**< 1 for CLIPTextModelWithProjection */
    int32_t pooled_dim;                /**< projection_dim with a projection, else hidden_size */
    int64_t eos_token_id;              /**< -1 when the config has none (no pooled output) */
    int64_t bos_token_id, pad_token_id;/**< -1 when null */
    int64_t num_parameters;
} lcmd_text_encoder_info;

LCMD_API lcmd_status lcmd_text_encoder_info_init(lcmd_text_encoder_info *info);
/** Errors: LCMD_ERR_INVALID_ARGUMENT (NULL, info not initialised). */
LCMD_API lcmd_status lcmd_text_encoder_get_info(const lcmd_text_encoder *te, lcmd_text_encoder_info *info);

/** What one forward writes: host arrays owned by the caller; a NULL array is not
 *  computed. Fill with lcmd_text_encoder_outputs_init(). */
typedef struct lcmd_text_encoder_outputs {
    uint32_t struct_size;
    float *last_hidden_state;   /**< [batch, seq_len, hidden_size], after final_layer_norm */
    int32_t hidden_layer;       /**< which hidden_states entry: 0 (the embeddings) .. num_hidden_layers,
                                     or negative from the end as in Python (-1: the last layer's
                                     output, -2: SDXL's penultimate layer); all before final_layer_norm */
    float *hidden_states;       /**< [batch, seq_len, hidden_size]: hidden_states[hidden_layer] */
    float *pooled;              /**< [batch, pooled_dim]: pooler_output (CLIPTextModel) or
                                     text_embeds (WithProjection) */
} lcmd_text_encoder_outputs;

LCMD_API lcmd_status lcmd_text_encoder_outputs_init(lcmd_text_encoder_outputs *out);

/** Runs the encoder on token ids `ids` [batch, seq_len] (host, row-major), as transformers
 *  does: token + position embeddings, causal pre-LN layers, final LayerNorm. The pooled
 *  row of each sequence follows transformers' rule for the config's eos_token_id: when
 *  it is 2 (configs from before transformers PR #24773, such as SD's), the first
 *  position of the largest id; otherwise the first position holding eos_token_id (0
 *  when the sequence has none). Only the layers an output needs run.
 *  Errors: LCMD_ERR_INVALID_ARGUMENT (NULL, no output asked for, batch < 1, seq_len
 *  outside [1, max_position_embeddings], an id outside [0, vocab_size), hidden_layer out
 *  of range, pooled asked of a config whose eos_token_id is null), LCMD_ERR_OUT_OF_MEMORY,
 *  LCMD_ERR_DEVICE. After a failure the output arrays may hold partial results. */
LCMD_API lcmd_status lcmd_text_encoder_forward(lcmd_text_encoder *te, const int32_t *ids, int64_t batch,
                                               int64_t seq_len, const lcmd_text_encoder_outputs *out);

#ifdef __cplusplus
}
#endif

#endif /* LCMD_TEXT_ENCODER_H */
