/* The AutoencoderKL's parameters under diffusers' state-dict names, in module order,
 * and the node tree with their offsets; the model's parameter memory. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "models/vae.h"
#include "ops/op_calls.h"

/* registers printf(fmt, ...) + "." + leaf, with 1, 2 or 4 dims (trailing zeros dropped) */
static lcmd_status add(lcmd_param_set *ps, size_t *off, lcmd_param_layout layout, const char *prefix,
                       const char *leaf, int64_t d0, int64_t d1, int64_t d2, int64_t d3)
{
    char name[256];
    int len = snprintf(name, sizeof name, "%s.%s", prefix, leaf);
    if (len < 0 || (size_t)len >= sizeof name)
        return lcmd_set_error(LCMD_ERR_INTERNAL, "vae params: name too long: %s.%s", prefix, leaf);
    int64_t shape[4] = {d0, d1, d2, d3};
    int32_t ndim = d3 ? 4 : d1 ? 2 : 1;
    size_t o;
    LCMD_TRY(lcmd_param_set_add(ps, name, ndim, shape, layout, &o));
    if (off) *off = o;
    return LCMD_OK;
}

static lcmd_status add_conv(lcmd_param_set *ps, size_t *w, size_t *b, const char *prefix, int64_t cout, int64_t cin,
                            int64_t k)
{
    LCMD_TRY(add(ps, w, LCMD_PARAM_CONV, prefix, "weight", cout, cin, k, k));
    return add(ps, b, LCMD_PARAM_PLAIN, prefix, "bias", cout, 0, 0, 0);
}

static lcmd_status add_linear(lcmd_param_set *ps, size_t *w, size_t *b, const char *prefix, int64_t out, int64_t in)
{
    LCMD_TRY(add(ps, w, LCMD_PARAM_PLAIN, prefix, "weight", out, in, 0, 0));
    return add(ps, b, LCMD_PARAM_PLAIN, prefix, "bias", out, 0, 0, 0);
}

static lcmd_status add_norm(lcmd_param_set *ps, size_t *w, size_t *b, const char *prefix, int64_t c)
{
    LCMD_TRY(add(ps, w, LCMD_PARAM_PLAIN, prefix, "weight", c, 0, 0, 0));
    return add(ps, b, LCMD_PARAM_PLAIN, prefix, "bias", c, 0, 0, 0);
}

static void join(char *out, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, cap, fmt, ap);
    va_end(ap);
}

static lcmd_status build_resnet(lcmd_param_set *ps, const char *prefix, int64_t cin, int64_t cout, vae_resnet *r)
{
    char p[256];
    memset(r, 0, sizeof *r);
    r->c_in = cin;
    r->c_out = cout;
    join(p, sizeof p, "%s.norm1", prefix);
    LCMD_TRY(add_norm(ps, &r->norm1_w, &r->norm1_b, p, cin));
    join(p, sizeof p, "%s.conv1", prefix);
    LCMD_TRY(add_conv(ps, &r->conv1_w, &r->conv1_b, p, cout, cin, 3));
    join(p, sizeof p, "%s.norm2", prefix);
    LCMD_TRY(add_norm(ps, &r->norm2_w, &r->norm2_b, p, cout));
    join(p, sizeof p, "%s.conv2", prefix);
    LCMD_TRY(add_conv(ps, &r->conv2_w, &r->conv2_b, p, cout, cout, 3));
    r->has_shortcut = cin != cout;
    if (r->has_shortcut) {
        join(p, sizeof p, "%s.conv_shortcut", prefix);
        LCMD_TRY(add_conv(ps, &r->short_w, &r->short_b, p, cout, cin, 1));
    }
    return LCMD_OK;
}

static lcmd_status build_attn(lcmd_param_set *ps, const char *prefix, int64_t c, lcmd_vae_attn_names names,
                              vae_attn *a)
{
    static const char *const leaves[2][4] = {{"to_q", "to_k", "to_v", "to_out.0"},
                                             {"query", "key", "value", "proj_attn"}};
    const char *const *l = leaves[names == LCMD_VAE_ATTN_NAMES_LEGACY];
    char p[256];
    memset(a, 0, sizeof *a);
    a->c = c;
    join(p, sizeof p, "%s.group_norm", prefix);
    LCMD_TRY(add_norm(ps, &a->norm_w, &a->norm_b, p, c));
    join(p, sizeof p, "%s.%s", prefix, l[0]);
    LCMD_TRY(add_linear(ps, &a->q_w, &a->q_b, p, c, c));
    join(p, sizeof p, "%s.%s", prefix, l[1]);
    LCMD_TRY(add_linear(ps, &a->k_w, &a->k_b, p, c, c));
    join(p, sizeof p, "%s.%s", prefix, l[2]);
    LCMD_TRY(add_linear(ps, &a->v_w, &a->v_b, p, c, c));
    join(p, sizeof p, "%s.%s", prefix, l[3]);
    return add_linear(ps, &a->out_w, &a->out_b, p, c, c);
}

/* UNetMidBlock2D: attentions.0 (when enabled) is registered before resnets.0/1 */
static lcmd_status build_mid(lcmd_param_set *ps, const char *coder, const lcmd_vae_config *cfg,
                             lcmd_vae_attn_names names, vae_coder *cd)
{
    char p[256];
    int64_t c = cd->c_mid;
    cd->has_attn = cfg->mid_block_add_attention;
    if (cd->has_attn) {
        join(p, sizeof p, "%s.mid_block.attentions.0", coder);
        LCMD_TRY(build_attn(ps, p, c, names, &cd->mid_attn));
    }
    for (int i = 0; i < 2; i++) {
        join(p, sizeof p, "%s.mid_block.resnets.%d", coder, i);
        LCMD_TRY(build_resnet(ps, p, c, c, &cd->mid_resnets[i]));
    }
    return LCMD_OK;
}

static lcmd_status build_encoder(lcmd_param_set *ps, const lcmd_vae_config *cfg, lcmd_vae_attn_names names,
                                 vae_coder *e)
{
    char p[256];
    int32_t nb = cfg->num_blocks;
    const int32_t *boc = cfg->block_out_channels;
    e->c_in = cfg->in_channels;
    e->c_mid = e->c_last = boc[nb - 1];
    e->c_out = 2 * (int64_t)cfg->latent_channels;
    LCMD_TRY(add_conv(ps, &e->conv_in_w, &e->conv_in_b, "encoder.conv_in", boc[0], e->c_in, 3));
    int64_t c = boc[0];
    for (int32_t i = 0; i < nb; i++) {
        vae_block *b = &e->blocks[i];
        b->n_layers = cfg->layers_per_block;
        b->c_out = boc[i];
        for (int32_t j = 0; j < b->n_layers; j++) {
            join(p, sizeof p, "encoder.down_blocks.%d.resnets.%d", i, j);
            LCMD_TRY(build_resnet(ps, p, j == 0 ? c : boc[i], boc[i], &b->resnets[j]));
        }
        c = boc[i];
        b->has_sampler = i < nb - 1;
        if (b->has_sampler) {
            join(p, sizeof p, "encoder.down_blocks.%d.downsamplers.0.conv", i);
            LCMD_TRY(add_conv(ps, &b->sampler_w, &b->sampler_b, p, c, c, 3));
        }
    }
    LCMD_TRY(build_mid(ps, "encoder", cfg, names, e));
    LCMD_TRY(add_norm(ps, &e->norm_out_w, &e->norm_out_b, "encoder.conv_norm_out", e->c_last));
    return add_conv(ps, &e->conv_out_w, &e->conv_out_b, "encoder.conv_out", e->c_out, e->c_last, 3);
}

static lcmd_status build_decoder(lcmd_param_set *ps, const lcmd_vae_config *cfg, lcmd_vae_attn_names names,
                                 vae_coder *d)
{
    char p[256];
    int32_t nb = cfg->num_blocks;
    const int32_t *boc = cfg->block_out_channels;
    d->c_in = cfg->latent_channels;
    d->c_mid = boc[nb - 1];
    d->c_last = boc[0];
    d->c_out = cfg->out_channels;
    LCMD_TRY(add_conv(ps, &d->conv_in_w, &d->conv_in_b, "decoder.conv_in", d->c_mid, d->c_in, 3));
    /* up_blocks are registered before mid_block (the ModuleList is created first) */
    int64_t prev = boc[nb - 1];
    for (int32_t i = 0; i < nb; i++) {
        vae_block *b = &d->blocks[i];
        int64_t co = boc[nb - 1 - i];
        b->n_layers = cfg->layers_per_block + 1;
        b->c_out = co;
        for (int32_t j = 0; j < b->n_layers; j++) {
            join(p, sizeof p, "decoder.up_blocks.%d.resnets.%d", i, j);
            LCMD_TRY(build_resnet(ps, p, j == 0 ? prev : co, co, &b->resnets[j]));
        }
        prev = co;
        b->has_sampler = i < nb - 1;
        if (b->has_sampler) {
            join(p, sizeof p, "decoder.up_blocks.%d.upsamplers.0.conv", i);
            LCMD_TRY(add_conv(ps, &b->sampler_w, &b->sampler_b, p, co, co, 3));
        }
    }
    LCMD_TRY(build_mid(ps, "decoder", cfg, names, d));
    LCMD_TRY(add_norm(ps, &d->norm_out_w, &d->norm_out_b, "decoder.conv_norm_out", d->c_last));
    return add_conv(ps, &d->conv_out_w, &d->conv_out_b, "decoder.conv_out", d->c_out, d->c_last, 3);
}

lcmd_status lcmd_vae_params_build(const lcmd_vae_config *cfg, lcmd_vae_attn_names names, lcmd_param_set *ps,
                                  vae_net *net)
{
    LCMD_CHECK_ARG(cfg && ps, "lcmd_vae_params_build", "cfg or ps is NULL");
    LCMD_TRY(lcmd_vae_config_validate(cfg, "lcmd_vae_params_build"));
    vae_net *n = net ? net : calloc(1, sizeof *n);
    if (!n) return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "lcmd_vae_params_build: out of memory");
    memset(n, 0, sizeof *n);
    int64_t lc = cfg->latent_channels;
    lcmd_status s = build_encoder(ps, cfg, names, &n->enc);
    if (!s) s = build_decoder(ps, cfg, names, &n->dec);
    if (!s && cfg->use_quant_conv) s = add_conv(ps, &n->quant_w, &n->quant_b, "quant_conv", 2 * lc, 2 * lc, 1);
    if (!s && cfg->use_post_quant_conv)
        s = add_conv(ps, &n->post_quant_w, &n->post_quant_b, "post_quant_conv", lc, lc, 1);
    if (!net) free(n);
    return s;
}

lcmd_status lcmd_vae_model_create(const lcmd_vae_config *cfg, lcmd_vae_attn_names names, lcmd_backend *be,
                                  lcmd_vae_model **out)
{
    LCMD_CHECK_ARG(cfg && be && out, "lcmd_vae_model_create", "cfg, be or out is NULL");
    *out = NULL;
    lcmd_vae_model *m = calloc(1, sizeof *m);
    if (!m) return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "lcmd_vae_model_create: out of memory");
    m->cfg = *cfg;
    m->be = be;
    lcmd_status s = lcmd_vae_params_build(cfg, names, &m->params, &m->net);
    if (!s) s = lcmd_op_alloc(be, m->params.total * sizeof(float), (void **)&m->param_mem);
    if (!s) s = lcmd_op_zero(be, m->param_mem, m->params.total * sizeof(float));
    if (s) {
        lcmd_vae_model_destroy(m);
        return s;
    }
    *out = m;
    return LCMD_OK;
}

void lcmd_vae_model_destroy(lcmd_vae_model *m)
{
    if (!m) return;
    if (m->param_mem) lcmd_op_free(m->be, m->param_mem);
    if (m->arena_mem) lcmd_op_free(m->be, m->arena_mem);
    lcmd_param_set_free(&m->params);
    free(m);
}
