/* The UNet's parameters under diffusers' state-dict names, in module order, and
 * the node tree that records where each one lives in the flat buffer. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "models/unet.h"
#include "models/unet_net.h"

typedef struct builder {
    lcmd_param_set *ps;
} builder;

/* registers "<prefix>.<leaf>" with up to 4 dims (0-terminated list) */
static lcmd_status add(builder *b, size_t *off, lcmd_param_layout layout, const char *prefix, const char *leaf,
                       int64_t d0, int64_t d1, int64_t d2, int64_t d3)
{
    char name[256];
    int len = snprintf(name, sizeof name, "%s%s%s", prefix, *prefix ? "." : "", leaf);
    if (len < 0 || (size_t)len >= sizeof name)
        return lcmd_set_error(LCMD_ERR_INTERNAL, "unet params: name too long: %s.%s", prefix, leaf);
    int64_t shape[4] = {d0, d1, d2, d3};
    int32_t ndim = d3 ? 4 : d2 ? 3 : d1 ? 2 : 1;
    size_t o;
    LCMD_TRY(lcmd_param_set_add(b->ps, name, ndim, shape, layout, &o));
    if (off) *off = o;
    return LCMD_OK;
}

static lcmd_status add_vec(builder *b, size_t *off, const char *prefix, const char *leaf, int64_t n)
{
    return add(b, off, LCMD_PARAM_PLAIN, prefix, leaf, n, 0, 0, 0);
}

static lcmd_status add_mat(builder *b, size_t *off, const char *prefix, const char *leaf, int64_t out, int64_t in)
{
    return add(b, off, LCMD_PARAM_PLAIN, prefix, leaf, out, in, 0, 0);
}

static lcmd_status add_conv(builder *b, size_t *w, size_t *bias, const char *prefix, int64_t cout, int64_t cin, int64_t k)
{
    char p[256];
    snprintf(p, sizeof p, "%s", prefix);
    LCMD_TRY(add(b, w, LCMD_PARAM_CONV, p, "weight", cout, cin, k, k));
    return add_vec(b, bias, p, "bias", cout);
}

static lcmd_status add_linear(builder *b, size_t *w, size_t *bias, const char *prefix, int64_t out, int64_t in)
{
    LCMD_TRY(add_mat(b, w, prefix, "weight", out, in));
    return bias ? add_vec(b, bias, prefix, "bias", out) : LCMD_OK;
}

static lcmd_status add_norm(builder *b, size_t *w, size_t *bias, const char *prefix, int64_t c)
{
    LCMD_TRY(add_vec(b, w, prefix, "weight", c));
    return add_vec(b, bias, prefix, "bias", c);
}

static void join(char *out, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, cap, fmt, ap);
    va_end(ap);
}

static lcmd_status build_resnet(builder *b, const char *prefix, int64_t cin, int64_t cout, int64_t temb,
                                float out_scale, unet_resnet *r)
{
    char p[256];
    memset(r, 0, sizeof *r);
    r->c_in = cin;
    r->c_out = cout;
    r->out_scale = out_scale;
    join(p, sizeof p, "%s.norm1", prefix);
    LCMD_TRY(add_norm(b, &r->norm1_w, &r->norm1_b, p, cin));
    join(p, sizeof p, "%s.conv1", prefix);
    LCMD_TRY(add_conv(b, &r->conv1_w, &r->conv1_b, p, cout, cin, 3));
    join(p, sizeof p, "%s.time_emb_proj", prefix);
    LCMD_TRY(add_linear(b, &r->temb_w, &r->temb_b, p, cout, temb));
    join(p, sizeof p, "%s.norm2", prefix);
    LCMD_TRY(add_norm(b, &r->norm2_w, &r->norm2_b, p, cout));
    join(p, sizeof p, "%s.conv2", prefix);
    LCMD_TRY(add_conv(b, &r->conv2_w, &r->conv2_b, p, cout, cout, 3));
    r->has_shortcut = cin != cout;
    if (r->has_shortcut) {
        join(p, sizeof p, "%s.conv_shortcut", prefix);
        LCMD_TRY(add_conv(b, &r->short_w, &r->short_b, p, cout, cin, 1));
    }
    return LCMD_OK;
}

static lcmd_status build_attn(builder *b, const char *prefix, int64_t inner, int64_t kv_dim, unet_attn *a)
{
    char p[256];
    memset(a, 0, sizeof *a);
    a->kv_dim = kv_dim;
    join(p, sizeof p, "%s.to_q", prefix);
    LCMD_TRY(add_linear(b, &a->q_w, NULL, p, inner, inner));
    join(p, sizeof p, "%s.to_k", prefix);
    LCMD_TRY(add_linear(b, &a->k_w, NULL, p, inner, kv_dim));
    join(p, sizeof p, "%s.to_v", prefix);
    LCMD_TRY(add_linear(b, &a->v_w, NULL, p, inner, kv_dim));
    join(p, sizeof p, "%s.to_out.0", prefix);
    return add_linear(b, &a->out_w, &a->out_b, p, inner, inner);
}

static lcmd_status build_tblock(builder *b, const char *prefix, const unet_transformer *t, int64_t ctx_dim,
                                unet_tblock *k)
{
    char p[256];
    memset(k, 0, sizeof *k);
    int64_t d = t->inner;
    join(p, sizeof p, "%s.norm1", prefix);
    LCMD_TRY(add_norm(b, &k->norm1_w, &k->norm1_b, p, d));
    join(p, sizeof p, "%s.attn1", prefix);
    LCMD_TRY(build_attn(b, p, d, d, &k->attn1));
    join(p, sizeof p, "%s.norm2", prefix);
    LCMD_TRY(add_norm(b, &k->norm2_w, &k->norm2_b, p, d));
    join(p, sizeof p, "%s.attn2", prefix);
    LCMD_TRY(build_attn(b, p, d, ctx_dim, &k->attn2));
    join(p, sizeof p, "%s.norm3", prefix);
    LCMD_TRY(add_norm(b, &k->norm3_w, &k->norm3_b, p, d));
    join(p, sizeof p, "%s.ff.net.0.proj", prefix);
    LCMD_TRY(add_linear(b, &k->ff1_w, &k->ff1_b, p, 2 * t->ff_inner, d));
    join(p, sizeof p, "%s.ff.net.2", prefix);
    return add_linear(b, &k->ff2_w, &k->ff2_b, p, d, t->ff_inner);
}

/* proj_in / proj_out: Linear with use_linear_projection, else a 1x1 Conv2d (the
 * same [out, in] numbers once stored [K, 1, 1, C]) */
static lcmd_status add_proj(builder *b, size_t *w, size_t *bias, const char *prefix, int64_t out, int64_t in,
                            int linear)
{
    return linear ? add_linear(b, w, bias, prefix, out, in) : add_conv(b, w, bias, prefix, out, in, 1);
}

static lcmd_status build_transformer(builder *b, const char *prefix, const lcmd_unet_config *cfg, int64_t c,
                                     int32_t heads, int32_t depth, unet_transformer *t)
{
    char p[256];
    memset(t, 0, sizeof *t);
    t->c = c;
    t->heads = heads;
    t->head_dim = c / heads;
    t->inner = t->heads * t->head_dim;
    t->ff_inner = 4 * t->inner;
    t->depth = depth;
    join(p, sizeof p, "%s.norm", prefix);
    LCMD_TRY(add_norm(b, &t->norm_w, &t->norm_b, p, c));
    join(p, sizeof p, "%s.proj_in", prefix);
    LCMD_TRY(add_proj(b, &t->proj_in_w, &t->proj_in_b, p, t->inner, c, cfg->use_linear_projection));
    t->blocks = calloc((size_t)depth, sizeof *t->blocks);
    if (!t->blocks) return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "unet params: out of memory");
    for (int32_t i = 0; i < depth; i++) {
        join(p, sizeof p, "%s.transformer_blocks.%d", prefix, i);
        LCMD_TRY(build_tblock(b, p, t, cfg->cross_attention_dim, &t->blocks[i]));
    }
    join(p, sizeof p, "%s.proj_out", prefix);
    return add_proj(b, &t->proj_out_w, &t->proj_out_b, p, c, t->inner, cfg->use_linear_projection);
}

static lcmd_status alloc_block(unet_block *blk, int32_t n_layers, int has_attn)
{
    blk->n_layers = n_layers;
    blk->has_attn = has_attn;
    blk->resnets = calloc((size_t)n_layers, sizeof *blk->resnets);
    blk->outs = calloc((size_t)n_layers, sizeof *blk->outs);
    if (has_attn) blk->attns = calloc((size_t)n_layers, sizeof *blk->attns);
    if (!blk->resnets || !blk->outs || (has_attn && !blk->attns))
        return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "unet params: out of memory");
    return LCMD_OK;
}

static lcmd_status build_down(builder *b, const lcmd_unet_config *cfg, int32_t i, int64_t temb, unet_block *blk)
{
    char p[256];
    int32_t n = cfg->num_blocks;
    int64_t cout = cfg->block_out_channels[i];
    int64_t cin = cfg->block_out_channels[i > 0 ? i - 1 : 0];
    int has_attn = cfg->down_block_types[i] == LCMD_UNET_BLOCK_CROSS_ATTN;
    LCMD_TRY(alloc_block(blk, cfg->layers_per_block[i], has_attn));
    blk->c_out = cout;
    for (int32_t j = 0; j < blk->n_layers; j++) {
        join(p, sizeof p, "down_blocks.%d.resnets.%d", i, j);
        LCMD_TRY(build_resnet(b, p, j == 0 ? cin : cout, cout, temb, 1.0f, &blk->resnets[j]));
        if (has_attn) {
            join(p, sizeof p, "down_blocks.%d.attentions.%d", i, j);
            LCMD_TRY(build_transformer(b, p, cfg, cout, cfg->attention_head_dim[i],
                                       cfg->transformer_layers_per_block[i], &blk->attns[j]));
        }
    }
    blk->has_sampler = i < n - 1;
    if (blk->has_sampler) {
        join(p, sizeof p, "down_blocks.%d.downsamplers.0.conv", i);
        LCMD_TRY(add_conv(b, &blk->sampler_w, &blk->sampler_b, p, cout, cout, 3));
    }
    return LCMD_OK;
}

static lcmd_status build_mid(builder *b, const lcmd_unet_config *cfg, int64_t temb, unet_block *blk)
{
    int32_t last = cfg->num_blocks - 1;
    int64_t c = cfg->block_out_channels[last];
    float scale = (float)cfg->mid_block_scale_factor;
    /* resnets[0], then (attentions[0], resnets[1]): n_layers counts the pairs after
     * resnets[0]; the forward handles the extra leading resnet */
    LCMD_TRY(alloc_block(blk, 2, 1));
    blk->n_layers = 1;
    blk->c_out = c;
    LCMD_TRY(build_resnet(b, "mid_block.resnets.0", c, c, temb, scale, &blk->resnets[0]));
    LCMD_TRY(build_transformer(b, "mid_block.attentions.0", cfg, c, cfg->attention_head_dim[last],
                               cfg->transformer_layers_per_block[last], &blk->attns[0]));
    return build_resnet(b, "mid_block.resnets.1", c, c, temb, scale, &blk->resnets[1]);
}

static lcmd_status build_up(builder *b, const lcmd_unet_config *cfg, int32_t i, int64_t temb, unet_block *blk)
{
    char p[256];
    int32_t n = cfg->num_blocks, rev = n - 1 - i;
    int64_t out = cfg->block_out_channels[rev];
    int64_t prev = cfg->block_out_channels[i > 0 ? n - i : n - 1];
    int64_t in = cfg->block_out_channels[n - 1 - (i + 1 < n ? i + 1 : n - 1)];
    int has_attn = cfg->up_block_types[i] == LCMD_UNET_BLOCK_CROSS_ATTN;
    LCMD_TRY(alloc_block(blk, cfg->layers_per_block[rev] + 1, has_attn));
    blk->c_out = out;
    for (int32_t j = 0; j < blk->n_layers; j++) {
        int64_t skip = j == blk->n_layers - 1 ? in : out;
        int64_t res_in = j == 0 ? prev : out;
        join(p, sizeof p, "up_blocks.%d.resnets.%d", i, j);
        LCMD_TRY(build_resnet(b, p, res_in + skip, out, temb, 1.0f, &blk->resnets[j]));
        if (has_attn) {
            join(p, sizeof p, "up_blocks.%d.attentions.%d", i, j);
            LCMD_TRY(build_transformer(b, p, cfg, out, cfg->attention_head_dim[rev],
                                       cfg->transformer_layers_per_block[rev], &blk->attns[j]));
        }
    }
    blk->has_sampler = i < n - 1;
    if (blk->has_sampler) {
        join(p, sizeof p, "up_blocks.%d.upsamplers.0.conv", i);
        LCMD_TRY(add_conv(b, &blk->sampler_w, &blk->sampler_b, p, out, out, 3));
    }
    return LCMD_OK;
}

static lcmd_status build_embed(builder *b, const char *prefix, int64_t in_dim, int64_t dim, int64_t cond_dim,
                               unet_embed *e)
{
    char p[256];
    memset(e, 0, sizeof *e);
    e->in_dim = in_dim;
    e->dim = dim;
    join(p, sizeof p, "%s.linear_1", prefix);
    LCMD_TRY(add_linear(b, &e->lin1_w, &e->lin1_b, p, dim, in_dim));
    if (cond_dim > 0) {
        /* diffusers registers cond_proj after linear_1 */
        e->has_cond = 1;
        join(p, sizeof p, "%s.cond_proj", prefix);
        LCMD_TRY(add_linear(b, &e->cond_w, NULL, p, in_dim, cond_dim));
    }
    join(p, sizeof p, "%s.linear_2", prefix);
    return add_linear(b, &e->lin2_w, &e->lin2_b, p, dim, dim);
}

static lcmd_status build_all(builder *b, const lcmd_unet_config *cfg, unet_net *net)
{
    int32_t n = cfg->num_blocks;
    net->cfg = *cfg;
    net->c0 = cfg->block_out_channels[0];
    net->temb_dim = lcmd_unet_time_embed_dim(cfg);
    LCMD_TRY(add_conv(b, &net->conv_in_w, &net->conv_in_b, "conv_in", net->c0, cfg->in_channels, cfg->conv_in_kernel));
    LCMD_TRY(build_embed(b, "time_embedding", net->c0, net->temb_dim, cfg->time_cond_proj_dim, &net->time));
    net->has_add = cfg->addition_embed_type == LCMD_UNET_ADD_TEXT_TIME;
    if (net->has_add)
        LCMD_TRY(build_embed(b, "add_embedding", cfg->projection_class_embeddings_input_dim, net->temb_dim, 0, &net->add));
    net->n_skips = 1;
    for (int32_t i = 0; i < n; i++) {
        LCMD_TRY(build_down(b, cfg, i, net->temb_dim, &net->down[i]));
        net->n_skips += net->down[i].n_layers + net->down[i].has_sampler;
    }
    for (int32_t i = 0; i < n; i++) LCMD_TRY(build_up(b, cfg, i, net->temb_dim, &net->up[i]));
    net->has_mid = cfg->mid_block_type == LCMD_UNET_MID_CROSS_ATTN;
    if (net->has_mid) LCMD_TRY(build_mid(b, cfg, net->temb_dim, &net->mid));
    LCMD_TRY(add_norm(b, &net->norm_out_w, &net->norm_out_b, "conv_norm_out", net->c0));
    LCMD_TRY(add_conv(b, &net->conv_out_w, &net->conv_out_b, "conv_out", cfg->out_channels, net->c0, cfg->conv_out_kernel));
    net->skips = calloc((size_t)net->n_skips, sizeof *net->skips);
    net->skip_c = calloc((size_t)net->n_skips, sizeof *net->skip_c);
    if (!net->skips || !net->skip_c) return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "unet params: out of memory");
    return LCMD_OK;
}

static void free_block(unet_block *blk)
{
    if (blk->attns) {
        int32_t count = blk->n_layers;
        for (int32_t j = 0; j < count; j++) free(blk->attns[j].blocks);
    }
    free(blk->attns);
    free(blk->resnets);
    free(blk->outs);
    memset(blk, 0, sizeof *blk);
}

void unet_net_free(unet_net *net)
{
    if (!net) return;
    for (int32_t i = 0; i < LCMD_UNET_MAX_BLOCKS; i++) {
        free_block(&net->down[i]);
        free_block(&net->up[i]);
    }
    free_block(&net->mid);
    free(net->skips);
    free(net->skip_c);
    memset(net, 0, sizeof *net);
}

lcmd_status unet_net_build(const lcmd_unet_config *cfg, lcmd_param_set *ps, unet_net *net)
{
    LCMD_CHECK_ARG(cfg && ps, "lcmd_unet_params_build", "cfg or ps is NULL");
    LCMD_TRY(lcmd_unet_config_validate(cfg, "lcmd_unet_params_build"));
    unet_net scratch;
    unet_net *target = net ? net : &scratch;
    memset(target, 0, sizeof *target);
    builder b = {ps};
    lcmd_status s = build_all(&b, cfg, target);
    if (s || !net) unet_net_free(target);
    return s;
}

lcmd_status lcmd_unet_params_build(const lcmd_unet_config *cfg, lcmd_param_set *ps)
{
    return unet_net_build(cfg, ps, NULL);
}
