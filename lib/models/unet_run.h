/* State of one UNet forward, shared by the layer functions.
 *
 * The same code runs twice: a planning pass (plan = 1) that only counts arena
 * bytes, and the real pass. Every op goes through RUN(), which the planning pass
 * skips, and every buffer through unet_alloc(). */
#ifndef LCMD_MODELS_UNET_RUN_H
#define LCMD_MODELS_UNET_RUN_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/error.h"
#include "models/unet_net.h"
#include "ops/op_calls.h"

typedef struct unet_run {
    lcmd_backend *be;
    lcmd_dtype dt;
    const float *w;            /* the flat parameter buffer */
    lcmd_arena *arena;
    int32_t plan;              /* count bytes only */
    int32_t keep;              /* keep the intermediates a backward needs */
    int64_t batch;
    int64_t seq;               /* encoder tokens per sample */
    const float *ctx;          /* encoder_hidden_states [batch * seq, cross_attention_dim] */
    const float *emb_act;      /* SiLU(emb) [batch, temb_dim] */
    int64_t temb_dim;
    int64_t groups;
    float eps;                 /* resnet / out norm eps */
    int32_t skip_top;          /* skip connections pushed so far */
} unet_run;

#define RUN(r, call) do { if (!(r)->plan) LCMD_TRY(call); } while (0)
#define PW(r, off) ((r)->w + (off))

/* n floats from the arena (fp32 also for stats); NULL pointers while planning */
lcmd_status unet_alloc(unet_run *r, int64_t n, float **out);

/* Marks and releases layer intermediates when activations are not kept. */
static inline size_t unet_scratch_mark(const unet_run *r) { return lcmd_arena_mark(r->arena); }
static inline void unet_scratch_release(unet_run *r, size_t mark)
{
    if (!r->keep) lcmd_arena_release(r->arena, mark);
}

/* layers: x and out are [batch, h * w, channels] */
lcmd_status unet_resnet_fwd(unet_run *r, unet_resnet *nd, const float *x, int64_t h, int64_t w, float *out);
lcmd_status unet_transformer_fwd(unet_run *r, unet_transformer *nd, const float *x, int64_t hw, float *out);
lcmd_status unet_conv_fwd(unet_run *r, const float *x, int64_t h, int64_t w, int64_t cin, int64_t cout,
                             int32_t stride, int32_t kernel, size_t w_off, size_t b_off, float *out);

/* blocks: *x is the running hidden state, replaced by the block's output */
lcmd_status unet_down_block_fwd(unet_run *r, unet_net *net, unet_block *blk, const float **x, int64_t *h, int64_t *w);
lcmd_status unet_mid_block_fwd(unet_run *r, unet_block *blk, const float **x, int64_t h, int64_t w);
lcmd_status unet_up_block_fwd(unet_run *r, unet_net *net, unet_block *blk, const float **x, int64_t *h, int64_t *w);

lcmd_status unet_push_skip(unet_run *r, unet_net *net, const float *x, int64_t c);

/* time (and SDXL add) embedding: fills net->emb and net->emb_act from uploaded inputs */
lcmd_status unet_embed_fwd(unet_run *r, unet_net *net, const float *t, const float *cond,
                           const float *text_embeds, const float *time_ids);

#endif /* LCMD_MODELS_UNET_RUN_H */
