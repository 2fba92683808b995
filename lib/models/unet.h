/* UNet2DConditionModel (diffusers) on the op table: parameters, forward pass.
 *
 * The model keeps its parameters as one flat fp32 buffer in backend memory (the
 * registry in `params` names every view) and carves all activations of a forward
 * from one arena, sized by a planning pass (a dry run of the same code that only
 * counts bytes) the first time a larger input shape appears. */
#ifndef LCMD_MODELS_UNET_H
#define LCMD_MODELS_UNET_H

#include <stddef.h>
#include <stdint.h>
#include <lcmd/status.h>

#include "core/arena.h"
#include "models/params.h"
#include "models/unet_config.h"
#include "models/unet_net.h"
#include "ops/ops.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Registers every parameter of the UNet with diffusers' state-dict key and PyTorch
 * shape (convs as LCMD_PARAM_CONV): the key set equals
 * UNet2DConditionModel(**cfg).state_dict().keys(). */
lcmd_status lcmd_unet_params_build(const lcmd_unet_config *cfg, lcmd_param_set *ps);

typedef struct lcmd_unet_model {
    lcmd_unet_config cfg;
    lcmd_param_set params;
    unet_net net;
    lcmd_backend *be;          /* the backend the memory below belongs to */
    float *param_mem;          /* params.total floats, stored layout */
    /* keep every activation a backward needs (training); off, a layer's
     * intermediates are released as soon as it is done (inference) */
    int32_t keep_activations;
    /* gradient checkpointing: with keep_activations off and this on, a forward can
     * still be followed by a backward, which recomputes each layer's forward from
     * the kept block-level tensors (layer inputs/outputs, skips, embeddings) just
     * before that layer's backward: the same gradients, less memory */
    int32_t checkpoint;
    void *arena_mem;
    size_t arena_bytes;
    lcmd_arena arena;
    /* the shape the arena was planned for */
    int64_t plan_batch, plan_hw, plan_seq;
    int32_t plan_keep;
    /* backward: set by a successful forward with keep_activations (its shape
     * below), cleared by any other forward or planning pass */
    int32_t bwd_ready;
    int32_t bwd_recompute;     /* the last forward kept block-level tensors only */
    int64_t fwd_batch, fwd_height, fwd_width, fwd_seq;
    /* the backward's own arena (gradients of activations), planned per shape */
    void *bwd_mem;
    size_t bwd_bytes;
    int64_t bwd_plan_batch, bwd_plan_hw, bwd_plan_seq, bwd_pp_cap;
    int32_t bwd_plan_recompute;
} lcmd_unet_model;

/* Builds the parameter registry and allocates the parameter buffer on `be`
 * (zero-filled). The model uses `be` for its lifetime. */
lcmd_status lcmd_unet_model_create(const lcmd_unet_config *cfg, lcmd_backend *be, lcmd_unet_model **out);
void lcmd_unet_model_destroy(lcmd_unet_model *m);

/* Host float arrays; NCHW for images, row-major otherwise. */
typedef struct lcmd_unet_forward_args {
    int64_t batch, height, width;          /* latent size */
    const float *sample;                   /* [B, in_channels, H, W] */
    const float *timesteps;                /* [B] (float timesteps, as diffusers accepts) */
    const float *encoder_hidden_states;    /* [B, seq_len, cross_attention_dim] */
    int64_t seq_len;
    int64_t encoder_dim;                   /* the last dim of encoder_hidden_states */
    const float *timestep_cond;            /* [B, time_cond_proj_dim] iff the config has one */
    const float *text_embeds;              /* SDXL: [B, text_embed_dim] */
    int64_t text_embed_dim;                /* SDXL: projection_class_embeddings_input_dim - 6 * addition_time_embed_dim */
    const float *time_ids;                 /* SDXL: [B, 6] */
} lcmd_unet_forward_args;

/* out_nchw: [B, out_channels, H, W]. Errors: LCMD_ERR_INVALID_ARGUMENT (NULL, shapes,
 * missing or unexpected conditions), LCMD_ERR_NUMERIC (NaN/Inf in an input),
 * LCMD_ERR_OUT_OF_MEMORY, and the backend's. */
lcmd_status lcmd_unet_model_forward(lcmd_unet_model *m, lcmd_backend *be, const lcmd_unet_forward_args *a,
                                    float *out_nchw);

/* The backward of the last forward, which must have run with keep_activations = 1
 * or checkpoint = 1 on this model (and be the last forward or planning call on it), with the
 * parameters unchanged since. dout_nchw: host [B, out_channels, H, W], the
 * gradient of the loss with respect to that forward's output. grad_params:
 * backend memory of params.total floats, the layout of param_mem (same offsets);
 * every parameter's gradient is ADDED to it (zero it for a fresh gradient), those
 * of parameters the forward did not use stay untouched. dsample_nchw: host
 * [B, in_channels, H, W] or NULL, OVERWRITTEN with the gradient of the sample.
 * No gradients flow to timesteps, timestep_cond, encoder states or SDXL
 * conditions. The saved activations are not consumed: a second backward adds the
 * same gradients again. Activation gradients come from a second arena
 * (bwd_mem, bwd_bytes), planned by a dry run the first time a shape appears.
 * Errors: LCMD_ERR_INVALID_ARGUMENT (NULL, another backend, no keeping forward
 * before), LCMD_ERR_NUMERIC (NaN/Inf in dout), LCMD_ERR_OUT_OF_MEMORY, the backend's. */
lcmd_status lcmd_unet_model_backward(lcmd_unet_model *m, lcmd_backend *be, const float *dout_nchw,
                                     float *grad_params, float *dsample_nchw);

/* The model of a public lcmd_unet (NULL for NULL); defined in unet_api.c, for lib/train. */
struct lcmd_unet;
lcmd_unet_model *lcmd_unet_model_of(const struct lcmd_unet *unet);

/* Bytes of activation memory a forward of this shape needs (the planning pass). */
lcmd_status lcmd_unet_model_plan(lcmd_unet_model *m, int64_t batch, int64_t height, int64_t width,
                                 int64_t seq_len, size_t *bytes);

#ifdef __cplusplus
}
#endif

#endif /* LCMD_MODELS_UNET_H */
