/* CLIPTextModel / CLIPTextModelWithProjection (transformers) on the op table:
 * parameters in one flat buffer named as the state dict, and the forward pass.
 *
 * Activations are [batch * seq_len, hidden] rows carved from one arena sized by a
 * planning pass (the same code counting bytes), as the UNet does. Inference only:
 * each layer's intermediates are released when it is done. */
#ifndef LCMD_MODELS_CLIP_H
#define LCMD_MODELS_CLIP_H

#include <stddef.h>
#include <stdint.h>
#include <lcmd/status.h>

#include "core/arena.h"
#include "models/clip_config.h"
#include "models/params.h"
#include "ops/ops.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Offsets of one CLIPEncoderLayer's parameters in the flat buffer. */
typedef struct clip_layer {
    size_t ln1_w, ln1_b, q_w, q_b, k_w, k_b, v_w, v_b, o_w, o_b;
    size_t ln2_w, ln2_b, fc1_w, fc1_b, fc2_w, fc2_b;
} clip_layer;

typedef struct lcmd_clip_model {
    lcmd_clip_config cfg;
    char prefix[16];            /* "text_model." or "" (a CLIPTextModel saved by transformers >= 5) */
    lcmd_param_set params;
    lcmd_backend *be;
    float *param_mem;           /* params.total floats */
    size_t tok_emb, pos_emb, final_ln_w, final_ln_b, proj_w;
    clip_layer *layers;         /* num_hidden_layers */
    void *arena_mem;
    size_t arena_bytes;
    lcmd_arena arena;
    int64_t plan_batch, plan_seq;   /* the shape the arena was planned for */
} lcmd_clip_model;

/* Registers every parameter under transformers' key (`prefix` + "embeddings....",
 * plus "text_projection.weight" with a projection) and, when m is not NULL, records
 * the offsets in m (m->layers is allocated). The key set equals the state dict of
 * the transformers class (minus the non-persistent position_ids buffer). */
lcmd_status lcmd_clip_params_build(const lcmd_clip_config *cfg, const char *prefix, lcmd_param_set *ps,
                                   lcmd_clip_model *m);

/* Builds the registry and a zero-filled parameter buffer on `be`, used for the
 * model's lifetime. `prefix` is "text_model." or "". Destroy with lcmd_clip_model_destroy. */
lcmd_status lcmd_clip_model_create(const lcmd_clip_config *cfg, const char *prefix, lcmd_backend *be,
                                   lcmd_clip_model **out);
void lcmd_clip_model_destroy(lcmd_clip_model *m);

/* One forward; host arrays. Each output may be NULL (not computed when nothing needs it). */
typedef struct lcmd_clip_forward_args {
    int64_t batch, seq_len;
    const int32_t *ids;          /* [batch, seq_len], each in [0, vocab_size) */
    float *last_hidden_state;    /* [batch, seq_len, hidden]: after final_layer_norm */
    int32_t hidden_index;        /* hidden_states[hidden_index], 0..num_hidden_layers (0: embeddings) */
    float *hidden;               /* [batch, seq_len, hidden]: before final_layer_norm */
    float *pooled;               /* [batch, pooled_dim]: the eos row of last_hidden_state (projected) */
} lcmd_clip_forward_args;

/* Width of the pooled output: projection_dim with a projection, else hidden_size. */
static inline int32_t lcmd_clip_pooled_dim(const lcmd_clip_config *c)
{
    return c->with_projection ? c->projection_dim : c->hidden_size;
}

/* The row each sequence pools, as transformers picks it: eos_token_id == 2 (configs
 * saved before transformers PR #24773): the first position of the largest id; else the
 * first position holding eos_token_id, 0 when there is none. */
int64_t lcmd_clip_pool_index(const lcmd_clip_config *c, const int32_t *ids, int64_t seq_len);

/* Errors: LCMD_ERR_INVALID_ARGUMENT (NULL ids, no output, sizes, seq_len above
 * max_position_embeddings, an id outside the vocabulary, hidden_index out of range,
 * pooled asked of a config without eos_token_id), LCMD_ERR_OUT_OF_MEMORY, the backend's. */
lcmd_status lcmd_clip_model_forward(lcmd_clip_model *m, const lcmd_clip_forward_args *a);

#ifdef __cplusplus
}
#endif

#endif /* LCMD_MODELS_CLIP_H */
