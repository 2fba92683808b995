/* The public lcmd_text_encoder: a transformers text_encoder/ folder <-> an
 * lcmd_clip_model on the context's backend. */
#include <lcmd/text_encoder.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "context_internal.h"
#include "core/error.h"
#include "io/json_file.h"
#include "io/path.h"
#include "io/weights.h"
#include "models/clip.h"
#include "ops/op_calls.h"

#define LOAD "lcmd_text_encoder_load"
#define TOKEN_KEY "embeddings.token_embedding.weight"

struct lcmd_text_encoder {
    lcmd_context *ctx;
    lcmd_clip_model *model;
};

#define OPTIONS_V1 (offsetof(lcmd_text_encoder_load_options, variant) + sizeof(const char *))
#define INFO_V1 (offsetof(lcmd_text_encoder_info, num_parameters) + sizeof(int64_t))
#define OUTPUTS_V1 (offsetof(lcmd_text_encoder_outputs, pooled) + sizeof(float *))

lcmd_status lcmd_text_encoder_load_options_init(lcmd_text_encoder_load_options *opts)
{
    LCMD_CHECK_ARG(opts, "lcmd_text_encoder_load_options_init", "opts is NULL");
    memset(opts, 0, sizeof *opts);
    opts->struct_size = sizeof *opts;
    return LCMD_OK;
}

lcmd_status lcmd_text_encoder_info_init(lcmd_text_encoder_info *info)
{
    LCMD_CHECK_ARG(info, "lcmd_text_encoder_info_init", "info is NULL");
    memset(info, 0, sizeof *info);
    info->struct_size = sizeof *info;
    return LCMD_OK;
}

lcmd_status lcmd_text_encoder_outputs_init(lcmd_text_encoder_outputs *out)
{
    LCMD_CHECK_ARG(out, "lcmd_text_encoder_outputs_init", "out is NULL");
    memset(out, 0, sizeof *out);
    out->struct_size = sizeof *out;
    return LCMD_OK;
}

static lcmd_status read_config(const char *folder, lcmd_clip_config *cfg)
{
    char *path = NULL, *text = NULL;
    size_t len = 0;
    lcmd_status s = lcmd_path_join(folder, "config.json", &path);
    if (!s) s = lcmd_read_small_file(path, LCMD_JSON_DEFAULT_MAX_BYTES, &text, &len);
    if (!s) s = lcmd_clip_config_parse(text, len, path, cfg);
    free(text);
    free(path);
    return s;
}

/* "text_model." (CLIPTextModelWithProjection, and CLIPTextModel before transformers 5)
 * or "" (CLIPTextModel saved by transformers 5), from where the token embedding is */
static lcmd_status find_prefix(const lcmd_weights *w, const lcmd_clip_config *cfg, const char **prefix)
{
    if (lcmd_weights_find(w, "text_model." TOKEN_KEY, NULL)) *prefix = "text_model.";
    else if (!cfg->with_projection && lcmd_weights_find(w, TOKEN_KEY, NULL)) *prefix = "";
    else
        return lcmd_set_error(LCMD_ERR_FORMAT, "%s: no tensor 'text_model." TOKEN_KEY "'%s",
                              lcmd_weights_source(w), cfg->with_projection ? "" : " or '" TOKEN_KEY "'");
    return LCMD_OK;
}

/* strict, except for the position_ids buffer older transformers saved */
static lcmd_status load_weights(const lcmd_weights *w, lcmd_clip_model *m, float *host)
{
    lcmd_weights_report rep;
    memset(&rep, 0, sizeof rep);
    rep.flags = LCMD_WEIGHTS_ALLOW_UNEXPECTED;
    lcmd_status s = lcmd_weights_load_params(w, &m->params, host, &rep);
    char buffer_name[64];
    snprintf(buffer_name, sizeof buffer_name, "%sembeddings.position_ids", m->prefix);
    for (size_t i = 0; !s && i < rep.unexpected_count; i++)
        if (strcmp(rep.unexpected[i], buffer_name) != 0)
            s = lcmd_set_error(LCMD_ERR_FORMAT, "%s: unexpected tensor '%s' (%zu unexpected in all)",
                               lcmd_weights_source(w), rep.unexpected[i], rep.unexpected_count);
    lcmd_weights_report_free(&rep);
    return s;
}

lcmd_status lcmd_text_encoder_load(lcmd_context *ctx, const char *folder, const lcmd_text_encoder_load_options *opts,
                                   lcmd_text_encoder **out)
{
    LCMD_CHECK_ARG(out, LOAD, "out is NULL");
    *out = NULL;
    LCMD_CHECK_ARG(ctx && folder, LOAD, "ctx or folder is NULL");
    lcmd_text_encoder_load_options o;
    lcmd_text_encoder_load_options_init(&o);
    if (opts) {
        LCMD_CHECK_ARG(opts->struct_size >= OPTIONS_V1 && opts->struct_size <= sizeof o, LOAD,
                       "opts.struct_size = %u (call lcmd_text_encoder_load_options_init)", opts->struct_size);
        memcpy(&o, opts, opts->struct_size);
    }
    struct stat sb;
    if (stat(folder, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return lcmd_set_error(LCMD_ERR_IO, "%s: not a folder (%s)", folder, strerror(errno ? errno : ENOTDIR));
    lcmd_clip_config cfg;
    LCMD_TRY(read_config(folder, &cfg));
    lcmd_weights *w = NULL;
    LCMD_TRY(lcmd_weights_open_named(folder, LCMD_WEIGHTS_BASE_TRANSFORMERS, o.variant, &w));
    const char *prefix = NULL;
    lcmd_status s = find_prefix(w, &cfg, &prefix);
    lcmd_text_encoder *te = NULL;
    float *host = NULL;
    if (!s) {
        te = calloc(1, sizeof *te);
        if (!te) s = lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, LOAD ": out of memory");
    }
    if (!s) {
        te->ctx = ctx;
        s = lcmd_clip_model_create(&cfg, prefix, ctx->backend, &te->model);
    }
    if (!s) {
        host = calloc(te->model->params.total ? te->model->params.total : 1, sizeof *host);
        if (!host) s = lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, LOAD ": out of memory");
    }
    if (!s) s = load_weights(w, te->model, host);
    if (!s) s = lcmd_op_upload(te->model->be, te->model->param_mem, host, te->model->params.total * sizeof *host);
    free(host);
    lcmd_weights_close(w);
    if (s) {
        lcmd_text_encoder_destroy(te);
        return s;
    }
    lcmd_log(&ctx->log, LCMD_LOG_INFO, "loaded text encoder from %s: %zu tensors, %d layers", folder,
             te->model->params.count, cfg.num_hidden_layers);
    *out = te;
    return LCMD_OK;
}

void lcmd_text_encoder_destroy(lcmd_text_encoder *te)
{
    if (!te) return;
    lcmd_clip_model_destroy(te->model);
    free(te);
}

lcmd_status lcmd_text_encoder_get_info(const lcmd_text_encoder *te, lcmd_text_encoder_info *info)
{
    LCMD_CHECK_ARG(te && info, "lcmd_text_encoder_get_info", "te or info is NULL");
    LCMD_CHECK_ARG(info->struct_size >= INFO_V1 && info->struct_size <= sizeof *info, "lcmd_text_encoder_get_info",
                   "info.struct_size = %u (call lcmd_text_encoder_info_init)", info->struct_size);
    const lcmd_clip_config *c = &te->model->cfg;
    lcmd_text_encoder_info v;
    memset(&v, 0, sizeof v);
    v.struct_size = info->struct_size;
    v.vocab_size = c->vocab_size;
    v.hidden_size = c->hidden_size;
    v.num_hidden_layers = c->num_hidden_layers;
    v.max_position_embeddings = c->max_position_embeddings;
    v.has_projection = c->with_projection;
    v.pooled_dim = lcmd_clip_pooled_dim(c);
    v.eos_token_id = c->has_eos ? c->eos_token_id : -1;
    v.bos_token_id = c->bos_token_id;
    v.pad_token_id = c->pad_token_id;
    int64_t n = 0;
    for (size_t i = 0; i < te->model->params.count; i++) n += te->model->params.items[i].numel;
    v.num_parameters = n;
    memcpy(info, &v, info->struct_size);
    return LCMD_OK;
}

lcmd_status lcmd_text_encoder_forward(lcmd_text_encoder *te, const int32_t *ids, int64_t batch, int64_t seq_len,
                                      const lcmd_text_encoder_outputs *out)
{
    LCMD_CHECK_ARG(te && ids && out, "lcmd_text_encoder_forward", "te, ids or out is NULL");
    LCMD_CHECK_ARG(out->struct_size >= OUTPUTS_V1 && out->struct_size <= sizeof *out, "lcmd_text_encoder_forward",
                   "out.struct_size = %u (call lcmd_text_encoder_outputs_init)", out->struct_size);
    int32_t layers = te->model->cfg.num_hidden_layers, k = out->hidden_layer;
    if (out->hidden_states) {
        LCMD_CHECK_ARG(k >= -(layers + 1) && k <= layers, "lcmd_text_encoder_forward",
                       "hidden_layer = %d must be in [%d, %d] (hidden_states has %d entries)", k, -(layers + 1), layers,
                       layers + 1);
        if (k < 0) k += layers + 1;
    }
    lcmd_clip_forward_args a = {.batch = batch, .seq_len = seq_len, .ids = ids,
                                .last_hidden_state = out->last_hidden_state, .hidden_index = k,
                                .hidden = out->hidden_states, .pooled = out->pooled};
    return lcmd_clip_model_forward(te->model, &a);
}
