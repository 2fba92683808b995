/* State of one UNet backward, shared by the per-layer backward functions
 * (unet_*_bwd.c). Like the forward, the same code runs twice: a planning pass that
 * only counts arena bytes (every op inside RUN(&b->r, ...)), and the real pass.
 *
 * Gradient memory: the gradients of the skip tensors (every down-path output,
 * conv_in's output first) live for the whole backward, because the up path
 * produces part of them and the down path the rest; the running gradient of the
 * up path alternates between two "ping-pong" buffers sized for the largest step;
 * everything else is layer scratch, released as soon as the layer is done. All
 * of it comes from the model's backward arena (see unet_backward.c). */
#ifndef LCMD_MODELS_UNET_BWD_H
#define LCMD_MODELS_UNET_BWD_H

#include "models/unet_run.h"

typedef struct unet_bwd {
    unet_run r;               /* be, dt, w (parameters), arena, plan, batch, seq, ctx, emb_act, temb_dim, groups */
    float *g;                 /* parameter gradients, the layout of r.w; accumulated into */
    float *d_emb_act;         /* dL/d SiLU(emb) [batch, temb_dim], accumulated by every resnet */
    float **dskip;            /* net->n_skips gradients of the skip tensors */
    float *pp[2];             /* the up path's running gradient */
    int32_t pp_cur;           /* which of pp holds it */
    int64_t pp_cap;           /* floats per ping-pong buffer (0 in the first planning pass) */
    int64_t pp_need;          /* the most any step asked for (planning) */
    int32_t recompute;        /* checkpointing: rerun each layer's forward (keeping) before its backward */
} unet_bwd;

#define PG(b, off) ((b)->g + (off))

/* n zeroed floats from the arena (gradient buffers are accumulated into) */
lcmd_status unet_galloc(unet_bwd *b, int64_t n, float **out);
/* the ping-pong buffer not holding the running gradient, n floats zeroed; it becomes
 * the running one. LCMD_ERR_INTERNAL when n exceeds what was planned. */
lcmd_status unet_pp_next(unet_bwd *b, int64_t n, float **out);

/* Layers: dout is the gradient of the layer's output, dx (may be NULL) receives
 * (+=) the gradient of its input; parameter gradients are accumulated into b->g,
 * the time embedding's into b->d_emb_act. Shapes as in the forward. */
lcmd_status unet_conv_bwd(unet_bwd *b, const float *x, int64_t h, int64_t w, int64_t cin, int64_t cout,
                          int32_t stride, int32_t kernel, size_t w_off, size_t b_off, const float *dout, float *dx);
lcmd_status unet_resnet_bwd(unet_bwd *b, const unet_resnet *nd, const float *dout, int64_t h, int64_t w, float *dx);
lcmd_status unet_transformer_bwd(unet_bwd *b, const unet_transformer *nd, const float *dout, int64_t hw, float *dx);

/* Down block at input resolution h x w; *skip is the index of its last skip (its
 * output) on entry and of its input's on return. The gradients of its outputs are
 * b->dskip[...] (complete when it is called: the up path and the next block have
 * accumulated into them), and it accumulates into its input's. */
lcmd_status unet_down_block_bwd(unet_bwd *b, const unet_net *net, unet_block *blk, int32_t *skip,
                                int64_t h, int64_t w);
/* Mid block at h x w with input x: dout -> dx (+=). With b->recompute, the
 * block functions rerun each layer's forward (saving into the nodes) first. */
lcmd_status unet_mid_block_bwd(unet_bwd *b, const unet_block *blk, const float *x, const float *dout, int64_t h,
                               int64_t w, float *dx);
/* Up block whose input (x) is h x w: *d is the running gradient (a ping-pong buffer) of
 * its output on entry and of its input on return; *skip counts the skips consumed
 * from the bottom (the last up layer took skip 0), their gradients accumulated. */
lcmd_status unet_up_block_bwd(unet_bwd *b, const unet_net *net, unet_block *blk, const float *x, const float **d,
                              int32_t *skip, int64_t h, int64_t w);

/* The time (and SDXL add) embedding, from b->d_emb_act: linear_1/linear_2 and the
 * LCM cond_proj weight; no gradients for the timesteps, timestep_cond or text. */
lcmd_status unet_embed_bwd(unet_bwd *b, const unet_net *net);

#endif /* LCMD_MODELS_UNET_BWD_H */
