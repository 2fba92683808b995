/* The text encoder's forward: host embedding gather, pre-LN causal encoder layers on
 * the backend, final LayerNorm, and the pooled (projected) eos rows. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "models/clip.h"
#include "models/unet_run.h"   /* unet_run, unet_alloc, RUN, PW: the shared planning machinery */
#include "ops/op_calls.h"

#define FN "lcmd_clip_model_forward"

int64_t lcmd_clip_pool_index(const lcmd_clip_config *c, const int32_t *ids, int64_t seq_len)
{
    int64_t best = 0;
    if (c->eos_token_id == 2) {
        for (int64_t i = 1; i < seq_len; i++)
            if (ids[i] > ids[best]) best = i;
        return best;
    }
    for (int64_t i = 0; i < seq_len; i++)
        if (ids[i] == c->eos_token_id) return i;
    return 0;
}

/* x[rows, d] += out_proj(attn(q, k, v)) and x += fc2(act(fc1(ln2(x)))) */
static lcmd_status layer_fwd(unet_run *r, const lcmd_clip_config *c, const clip_layer *l, float *x, int64_t seq)
{
    int64_t n = r->batch, rows = n * seq, d = c->hidden_size, inter = c->intermediate_size;
    int64_t heads = c->num_attention_heads, hd = d / heads;
    float eps = (float)c->layer_norm_eps;
    float *h, *q, *k, *v, *att, *mean, *rstd, *lse, *ff;
    size_t mark = lcmd_arena_mark(r->arena);
    LCMD_TRY(unet_alloc(r, rows * d, &h));
    LCMD_TRY(unet_alloc(r, rows * d, &q));
    LCMD_TRY(unet_alloc(r, rows * d, &k));
    LCMD_TRY(unet_alloc(r, rows * d, &v));
    LCMD_TRY(unet_alloc(r, rows * d, &att));
    LCMD_TRY(unet_alloc(r, rows, &mean));
    LCMD_TRY(unet_alloc(r, rows, &rstd));
    LCMD_TRY(unet_alloc(r, n * heads * seq, &lse));
    LCMD_TRY(unet_alloc(r, rows * inter, &ff));
    RUN(r, lcmd_op_layernorm_fwd(r->be, r->dt, h, mean, rstd, x, PW(r, l->ln1_w), PW(r, l->ln1_b), rows, d, eps));
    RUN(r, lcmd_op_linear_fwd(r->be, r->dt, q, h, PW(r, l->q_w), PW(r, l->q_b), rows, d, d));
    RUN(r, lcmd_op_linear_fwd(r->be, r->dt, k, h, PW(r, l->k_w), PW(r, l->k_b), rows, d, d));
    RUN(r, lcmd_op_linear_fwd(r->be, r->dt, v, h, PW(r, l->v_w), PW(r, l->v_b), rows, d, d));
    lcmd_attn_shape s = {.b = n, .heads = heads, .sq = seq, .skv = seq, .head_dim = hd,
                         .ldq = d, .ldk = d, .ldv = d, .ldo = d,
                         .scale = (float)(1.0 / sqrt((double)hd)), .causal = 1};
    RUN(r, lcmd_op_attention_fwd(r->be, r->dt, &s, att, lse, q, k, v));
    RUN(r, lcmd_op_linear_fwd(r->be, r->dt, h, att, PW(r, l->o_w), PW(r, l->o_b), rows, d, d));
    RUN(r, lcmd_op_add_fwd(r->be, r->dt, x, x, h, rows * d));
    RUN(r, lcmd_op_layernorm_fwd(r->be, r->dt, h, mean, rstd, x, PW(r, l->ln2_w), PW(r, l->ln2_b), rows, d, eps));
    RUN(r, lcmd_op_linear_fwd(r->be, r->dt, ff, h, PW(r, l->fc1_w), PW(r, l->fc1_b), rows, d, inter));
    RUN(r, lcmd_op_act_fwd(r->be, r->dt, c->act, ff, ff, rows * inter));
    RUN(r, lcmd_op_linear_fwd(r->be, r->dt, q, ff, PW(r, l->fc2_w), PW(r, l->fc2_b), rows, inter, d));
    RUN(r, lcmd_op_add_fwd(r->be, r->dt, x, x, q, rows * d));
    lcmd_arena_release(r->arena, mark);
    return LCMD_OK;
}

/* token + position embeddings of every row, gathered from the parameter buffer */
static lcmd_status embed_host(lcmd_clip_model *m, const lcmd_clip_forward_args *a, float *host)
{
    int64_t d = m->cfg.hidden_size, L = a->seq_len;
    float *pos = malloc((size_t)(L * d) * sizeof *pos);
    if (!pos) return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, FN ": out of memory");
    lcmd_status s = lcmd_op_download(m->be, pos, m->param_mem + m->pos_emb, (size_t)(L * d) * sizeof *pos);
    for (int64_t i = 0; !s && i < a->batch * L; i++) {
        float *row = host + i * d;
        s = lcmd_op_download(m->be, row, m->param_mem + m->tok_emb + (size_t)a->ids[i] * (size_t)d,
                             (size_t)d * sizeof *row);
        /* inputs_embeds + position_embeddings: one fp32 add, as torch */
        for (int64_t j = 0; !s && j < d; j++) row[j] += pos[(i % L) * d + j];
    }
    free(pos);
    return s;
}

typedef struct clip_outs {
    float *x, *final, *pooled_in, *pooled;   /* backend buffers */
} clip_outs;

/* n_layers encoder layers, then (when wanted) final norm and projection. The hidden
 * state asked for is downloaded when it passes (the real pass only). */
static lcmd_status forward_pass(lcmd_clip_model *m, unet_run *r, const lcmd_clip_forward_args *a,
                                const float *emb_host, float *pooled_host)
{
    const lcmd_clip_config *c = &m->cfg;
    int64_t rows = a->batch * a->seq_len, d = c->hidden_size;
    int need_final = a->last_hidden_state || a->pooled;
    int32_t n_layers = need_final ? c->num_hidden_layers : a->hidden_index;
    size_t bytes = (size_t)(rows * d) * sizeof(float);
    float *x, *y, *mean, *rstd;
    LCMD_TRY(unet_alloc(r, rows * d, &x));
    RUN(r, lcmd_op_upload(r->be, x, emb_host, bytes));
    if (a->hidden && a->hidden_index == 0) RUN(r, lcmd_op_download(r->be, a->hidden, x, bytes));
    for (int32_t i = 0; i < n_layers; i++) {
        LCMD_TRY(layer_fwd(r, c, &m->layers[i], x, a->seq_len));
        if (a->hidden && a->hidden_index == i + 1) RUN(r, lcmd_op_download(r->be, a->hidden, x, bytes));
    }
    if (!need_final) return LCMD_OK;
    LCMD_TRY(unet_alloc(r, rows * d, &y));
    LCMD_TRY(unet_alloc(r, rows, &mean));
    LCMD_TRY(unet_alloc(r, rows, &rstd));
    RUN(r, lcmd_op_layernorm_fwd(r->be, r->dt, y, mean, rstd, x, PW(r, m->final_ln_w), PW(r, m->final_ln_b), rows, d,
                                 (float)c->layer_norm_eps));
    if (a->last_hidden_state) RUN(r, lcmd_op_download(r->be, a->last_hidden_state, y, bytes));
    if (!a->pooled) return LCMD_OK;
    /* the eos row of each sequence */
    for (int64_t b = 0; !r->plan && b < a->batch; b++) {
        int64_t row = b * a->seq_len + lcmd_clip_pool_index(c, a->ids + b * a->seq_len, a->seq_len);
        LCMD_TRY(lcmd_op_download(r->be, pooled_host + b * d, y + row * d, (size_t)d * sizeof(float)));
    }
    if (!c->with_projection) {
        if (!r->plan) memcpy(a->pooled, pooled_host, (size_t)(a->batch * d) * sizeof(float));
        return LCMD_OK;
    }
    float *pin, *pout;
    int64_t pd = c->projection_dim;
    LCMD_TRY(unet_alloc(r, a->batch * d, &pin));
    LCMD_TRY(unet_alloc(r, a->batch * pd, &pout));
    RUN(r, lcmd_op_upload(r->be, pin, pooled_host, (size_t)(a->batch * d) * sizeof(float)));
    RUN(r, lcmd_op_linear_fwd(r->be, r->dt, pout, pin, PW(r, m->proj_w), NULL, a->batch, d, pd));
    RUN(r, lcmd_op_download(r->be, a->pooled, pout, (size_t)(a->batch * pd) * sizeof(float)));
    return LCMD_OK;
}

static void init_run(lcmd_clip_model *m, lcmd_arena *arena, int plan, int64_t batch, unet_run *r)
{
    memset(r, 0, sizeof *r);
    r->be = m->be;
    r->dt = LCMD_DT_F32;
    r->w = m->param_mem;
    r->arena = arena;
    r->plan = plan;
    r->batch = batch;
}

static lcmd_status check_args(const lcmd_clip_model *m, const lcmd_clip_forward_args *a)
{
    const lcmd_clip_config *c = &m->cfg;
    LCMD_CHECK_ARG(a->ids, FN, "ids is NULL");
    LCMD_CHECK_ARG(a->last_hidden_state || a->hidden || a->pooled, FN,
                   "no output asked for (last_hidden_state, hidden and pooled are NULL)");
    LCMD_CHECK_ARG(a->batch >= 1 && a->batch <= (1 << 20), FN, "batch = %lld must be in [1, 2^20]",
                   (long long)a->batch);
    LCMD_CHECK_ARG(a->seq_len >= 1 && a->seq_len <= c->max_position_embeddings, FN,
                   "seq_len = %lld must be in [1, max_position_embeddings = %d]", (long long)a->seq_len,
                   c->max_position_embeddings);
    if (a->hidden)
        LCMD_CHECK_ARG(a->hidden_index >= 0 && a->hidden_index <= c->num_hidden_layers, FN,
                       "hidden_index = %d must be in [0, num_hidden_layers = %d]", a->hidden_index,
                       c->num_hidden_layers);
    if (a->pooled)
        LCMD_CHECK_ARG(c->has_eos, FN, "pooled output needs eos_token_id, which the config sets to null");
    for (int64_t i = 0; i < a->batch * a->seq_len; i++)
        LCMD_CHECK_ARG(a->ids[i] >= 0 && a->ids[i] < c->vocab_size, FN,
                       "ids[%lld][%lld] = %d is outside the vocabulary [0, %d)", (long long)(i / a->seq_len),
                       (long long)(i % a->seq_len), a->ids[i], c->vocab_size);
    return LCMD_OK;
}

static lcmd_status ensure_arena(lcmd_clip_model *m, const lcmd_clip_forward_args *a)
{
    if (m->arena_mem && a->batch == m->plan_batch && a->seq_len == m->plan_seq) return LCMD_OK;
    /* plan the largest forward of this shape: every layer, final norm and projection */
    lcmd_arena counter = {NULL, SIZE_MAX, 0, 0};
    unet_run r;
    init_run(m, &counter, 1, a->batch, &r);
    lcmd_clip_forward_args full = *a;
    full.last_hidden_state = full.pooled = (float *)1;   /* only tested for NULL while planning */
    LCMD_TRY(forward_pass(m, &r, &full, NULL, NULL));
    if (counter.peak > m->arena_bytes) {
        if (m->arena_mem) lcmd_op_free(m->be, m->arena_mem);
        m->arena_mem = NULL;
        m->arena_bytes = 0;
        LCMD_TRY(lcmd_op_alloc(m->be, counter.peak, &m->arena_mem));
        m->arena_bytes = counter.peak;
    }
    m->plan_batch = a->batch;
    m->plan_seq = a->seq_len;
    return LCMD_OK;
}

lcmd_status lcmd_clip_model_forward(lcmd_clip_model *m, const lcmd_clip_forward_args *a)
{
    LCMD_CHECK_ARG(m && a, FN, "m or args is NULL");
    LCMD_TRY(check_args(m, a));
    LCMD_TRY(ensure_arena(m, a));
    int64_t rows = a->batch * a->seq_len, d = m->cfg.hidden_size;
    float *emb = malloc((size_t)(rows * d) * sizeof *emb);
    float *pooled = malloc((size_t)(a->batch * d) * sizeof *pooled);
    lcmd_status s = emb && pooled ? LCMD_OK : lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, FN ": out of memory");
    if (!s) s = embed_host(m, a, emb);
    if (!s) {
        lcmd_arena_init(&m->arena, m->arena_mem, m->arena_bytes);
        unet_run r;
        init_run(m, &m->arena, 0, a->batch, &r);
        s = forward_pass(m, &r, a, emb, pooled);
    }
    free(emb);
    free(pooled);
    return s;
}
