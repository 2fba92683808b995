/* The text encoder's parameters under transformers' state-dict names, and the model's
 * parameter memory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "models/clip.h"
#include "ops/op_calls.h"

static lcmd_status add(lcmd_param_set *ps, size_t *off, const char *prefix, const char *name, int64_t d0, int64_t d1)
{
    char key[256];
    int len = snprintf(key, sizeof key, "%s%s", prefix, name);
    if (len < 0 || (size_t)len >= sizeof key)
        return lcmd_set_error(LCMD_ERR_INTERNAL, "clip params: name too long: %s%s", prefix, name);
    int64_t shape[2] = {d0, d1};
    size_t o;
    LCMD_TRY(lcmd_param_set_add(ps, key, d1 ? 2 : 1, shape, LCMD_PARAM_PLAIN, &o));
    if (off) *off = o;
    return LCMD_OK;
}

/* "<layer>.<leaf>.weight" [out, in] and ".bias" [out] */
static lcmd_status add_linear(lcmd_param_set *ps, size_t *w, size_t *b, const char *prefix, const char *layer,
                              const char *leaf, int64_t out, int64_t in)
{
    char name[160];
    snprintf(name, sizeof name, "%s.%s.weight", layer, leaf);
    LCMD_TRY(add(ps, w, prefix, name, out, in));
    snprintf(name, sizeof name, "%s.%s.bias", layer, leaf);
    return add(ps, b, prefix, name, out, 0);
}

static lcmd_status add_norm(lcmd_param_set *ps, size_t *w, size_t *b, const char *prefix, const char *layer,
                            const char *leaf, int64_t c)
{
    char name[160];
    snprintf(name, sizeof name, "%s%s%s.weight", layer, *layer ? "." : "", leaf);
    LCMD_TRY(add(ps, w, prefix, name, c, 0));
    snprintf(name, sizeof name, "%s%s%s.bias", layer, *layer ? "." : "", leaf);
    return add(ps, b, prefix, name, c, 0);
}

lcmd_status lcmd_clip_params_build(const lcmd_clip_config *c, const char *prefix, lcmd_param_set *ps,
                                   lcmd_clip_model *m)
{
    LCMD_CHECK_ARG(c && prefix && ps, "lcmd_clip_params_build", "cfg, prefix or ps is NULL");
    LCMD_TRY(lcmd_clip_config_validate(c, "lcmd_clip_params_build"));
    int64_t d = c->hidden_size, inter = c->intermediate_size;
    size_t tok, pos, fw, fb;
    LCMD_TRY(add(ps, &tok, prefix, "embeddings.token_embedding.weight", c->vocab_size, d));
    LCMD_TRY(add(ps, &pos, prefix, "embeddings.position_embedding.weight", c->max_position_embeddings, d));
    clip_layer scratch;
    for (int32_t i = 0; i < c->num_hidden_layers; i++) {
        clip_layer *l = m ? &m->layers[i] : &scratch;
        char layer[64];
        snprintf(layer, sizeof layer, "encoder.layers.%d", i);
        LCMD_TRY(add_norm(ps, &l->ln1_w, &l->ln1_b, prefix, layer, "layer_norm1", d));
        LCMD_TRY(add_linear(ps, &l->k_w, &l->k_b, prefix, layer, "self_attn.k_proj", d, d));
        LCMD_TRY(add_linear(ps, &l->v_w, &l->v_b, prefix, layer, "self_attn.v_proj", d, d));
        LCMD_TRY(add_linear(ps, &l->q_w, &l->q_b, prefix, layer, "self_attn.q_proj", d, d));
        LCMD_TRY(add_linear(ps, &l->o_w, &l->o_b, prefix, layer, "self_attn.out_proj", d, d));
        LCMD_TRY(add_norm(ps, &l->ln2_w, &l->ln2_b, prefix, layer, "layer_norm2", d));
        LCMD_TRY(add_linear(ps, &l->fc1_w, &l->fc1_b, prefix, layer, "mlp.fc1", inter, d));
        LCMD_TRY(add_linear(ps, &l->fc2_w, &l->fc2_b, prefix, layer, "mlp.fc2", d, inter));
    }
    LCMD_TRY(add_norm(ps, &fw, &fb, prefix, "", "final_layer_norm", d));
    size_t proj = 0;
    if (c->with_projection) LCMD_TRY(add(ps, &proj, "", "text_projection.weight", c->projection_dim, d));
    if (m) {
        m->tok_emb = tok;
        m->pos_emb = pos;
        m->final_ln_w = fw;
        m->final_ln_b = fb;
        m->proj_w = proj;
    }
    return LCMD_OK;
}

lcmd_status lcmd_clip_model_create(const lcmd_clip_config *cfg, const char *prefix, lcmd_backend *be,
                                   lcmd_clip_model **out)
{
    LCMD_CHECK_ARG(cfg && prefix && be && out, "lcmd_clip_model_create", "cfg, prefix, be or out is NULL");
    LCMD_CHECK_ARG(strlen(prefix) < sizeof((lcmd_clip_model *)0)->prefix, "lcmd_clip_model_create",
                   "prefix '%s' is too long", prefix);
    *out = NULL;
    LCMD_TRY(lcmd_clip_config_validate(cfg, "lcmd_clip_model_create"));
    lcmd_clip_model *m = calloc(1, sizeof *m);
    if (m) m->layers = calloc((size_t)cfg->num_hidden_layers, sizeof *m->layers);
    if (!m || !m->layers) {
        free(m);
        return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "lcmd_clip_model_create: out of memory");
    }
    m->cfg = *cfg;
    m->be = be;
    snprintf(m->prefix, sizeof m->prefix, "%s", prefix);
    lcmd_status s = lcmd_clip_params_build(cfg, prefix, &m->params, m);
    if (!s) s = lcmd_op_alloc(be, m->params.total * sizeof(float), (void **)&m->param_mem);
    if (!s) s = lcmd_op_zero(be, m->param_mem, m->params.total * sizeof(float));
    if (s) {
        lcmd_clip_model_destroy(m);
        return s;
    }
    *out = m;
    return LCMD_OK;
}

void lcmd_clip_model_destroy(lcmd_clip_model *m)
{
    if (!m) return;
    if (m->param_mem) lcmd_op_free(m->be, m->param_mem);
    if (m->arena_mem) lcmd_op_free(m->be, m->arena_mem);
    lcmd_param_set_free(&m->params);
    free(m->layers);
    free(m);
}
