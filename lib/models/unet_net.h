/* The UNet as a tree of layer nodes built from a config: each node holds the
 * offsets of its parameters in the flat buffer (from the param registry) and the
 * pointers to the activations its backward will need, filled by the forward.
 *
 * Saved activations (arena memory, valid after a forward with keep_activations
 * until the next forward; with keep_activations off only the block-level tensors
 * (layer inputs/outputs, skips, embeddings) stay valid, which is what a backward
 * with per-layer recomputation (gradient checkpointing) starts from). */
#ifndef LCMD_MODELS_UNET_NET_H
#define LCMD_MODELS_UNET_NET_H

#include <stddef.h>
#include <stdint.h>

#include "models/params.h"
#include "models/unet_config.h"

typedef struct unet_resnet {
    int64_t c_in, c_out;
    int32_t has_shortcut;    /* 1x1 conv when c_in != c_out */
    float out_scale;         /* diffusers' output_scale_factor */
    size_t norm1_w, norm1_b, conv1_w, conv1_b, temb_w, temb_b;
    size_t norm2_w, norm2_b, conv2_w, conv2_b, short_w, short_b;
    /* saved: x (input), h1 = silu(gn1(x)), h2 = conv1(h1) + temb, h3 = silu(gn2(h2)) */
    const float *x;
    float *h1, *h2, *h3, *mean1, *rstd1, *mean2, *rstd2;
} unet_resnet;

typedef struct unet_attn {
    int64_t kv_dim;          /* inner (self) or cross_attention_dim (cross) */
    size_t q_w, k_w, v_w, out_w, out_b;
    /* saved: q, k, v, o = attention(q, k, v), lse */
    float *q, *k, *v, *o, *lse;
} unet_attn;

typedef struct unet_tblock {
    size_t norm1_w, norm1_b, norm2_w, norm2_b, norm3_w, norm3_b;
    size_t ff1_w, ff1_b, ff2_w, ff2_b;
    unet_attn attn1, attn2;
    /* saved: the residual stream before each norm, the norm outputs and stats,
     * ff1 = GEGLU input, ffg = GEGLU output */
    const float *s1;
    float *s2, *s3, *n1, *n2, *n3, *mean1, *rstd1, *mean2, *rstd2, *mean3, *rstd3, *ff1, *ffg;
} unet_tblock;

typedef struct unet_transformer {
    int64_t c, inner, heads, head_dim, ff_inner;
    int32_t depth;           /* transformer_layers_per_block */
    size_t norm_w, norm_b, proj_in_w, proj_in_b, proj_out_w, proj_out_b;
    unet_tblock *blocks;
    /* saved: x (input, also the residual), gn = gn(x), stream = proj_in output,
     * last = the stream entering proj_out */
    const float *x;
    float *gn, *mean, *rstd, *stream, *last;
} unet_transformer;

typedef struct unet_block {
    int32_t n_layers;
    int32_t has_attn;
    unet_resnet *resnets;
    unet_transformer *attns;          /* n_layers of them when has_attn */
    int32_t has_sampler;              /* downsampler (down) or upsampler (up) */
    int64_t c_out;
    size_t sampler_w, sampler_b;
    float **outs;                     /* output of each layer (resnet, or resnet+attn) */
    float *sampler_in_up;             /* up blocks: the 2x nearest copy, the conv's input */
    float *sampler_out;
} unet_block;

typedef struct unet_embed {
    int64_t in_dim, dim;              /* linear_1: in_dim -> dim, linear_2: dim -> dim */
    size_t lin1_w, lin1_b, lin2_w, lin2_b, cond_w;   /* cond_w: 0 when absent */
    int32_t has_cond;
    float *in, *h, *h_act;            /* saved: linear_1 input, output, silu output */
    const float *cond;                /* saved: the cond_proj input (timestep_cond) when has_cond */
} unet_embed;

typedef struct unet_net {
    lcmd_unet_config cfg;
    int64_t c0, temb_dim;
    size_t conv_in_w, conv_in_b, norm_out_w, norm_out_b, conv_out_w, conv_out_b;
    unet_embed time, add;             /* add: SDXL add_embedding */
    int32_t has_add;
    unet_block down[LCMD_UNET_MAX_BLOCKS], up[LCMD_UNET_MAX_BLOCKS], mid;
    int32_t has_mid;
    int32_t n_skips;
    /* saved, per forward */
    const float *sample, *ctx;        /* the uploaded inputs: NHWC sample, encoder states */
    float *t_proj;                    /* sinusoidal timestep embedding [B, c0] */
    float *add_time_proj, *add_in;    /* SDXL: time-id embedding, [text | time] */
    float *emb, *emb_act;             /* [B, temb_dim], and SiLU of it shared by all resnets */
    float *conv_in_out, *norm_out, *norm_mean, *norm_rstd;
    const float **skips;              /* n_skips entries */
    int64_t *skip_c;                  /* their channels */
} unet_net;

/* Registers every parameter in ps (diffusers names, PyTorch shapes) and, when net
 * is not NULL, builds the node tree with their offsets. Free with unet_net_free. */
lcmd_status unet_net_build(const lcmd_unet_config *cfg, lcmd_param_set *ps, unet_net *net);
void unet_net_free(unet_net *net);

#endif /* LCMD_MODELS_UNET_NET_H */
