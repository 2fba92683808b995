/* lcmd_pipeline: model_index.json -> the components a distillation needs. */
#include <lcmd/pipeline.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "context_internal.h"
#include "core/error.h"
#include "io/model_index.h"
#include "io/path.h"

#define PIPELINE_OPTIONS_V1 (offsetof(lcmd_pipeline_options, load_text) + sizeof(int32_t))

struct lcmd_pipeline {
    char *class_name;
    int sdxl;
    lcmd_tokenizer *tok[2];
    lcmd_text_encoder *te[2];
    lcmd_vae *vae;
    lcmd_unet *unet;
    lcmd_scheduler_config sched;
};

lcmd_status lcmd_pipeline_options_init(lcmd_pipeline_options *opts)
{
    LCMD_CHECK_ARG(opts, "lcmd_pipeline_options_init", "opts is NULL");
    memset(opts, 0, sizeof *opts);
    opts->struct_size = sizeof *opts;
    opts->load_unet = opts->load_vae = opts->load_text = 1;
    return LCMD_OK;
}

/* A required component: present in the index with one of `classes`, its folder existing.
 * *path receives folder/name (caller frees). */
static lcmd_status component(const lcmd_model_index *mi, const char *folder, const char *name,
                             const char *const *classes, char **path)
{
    const lcmd_model_component *c = lcmd_model_index_find(mi, name);
    if (!c || !c->class_name)
        return lcmd_set_error(LCMD_ERR_FORMAT, "%s/model_index.json: the pipeline has no '%s' component", folder, name);
    int known = 0;
    for (int i = 0; classes[i]; i++)
        known |= strcmp(c->class_name, classes[i]) == 0;
    if (!known)
        return lcmd_set_error(LCMD_ERR_UNSUPPORTED, "%s/model_index.json: component '%s' is a %s, which liblcmd does not implement",
                              folder, name, c->class_name);
    LCMD_TRY(lcmd_path_join(folder, name, path));
    struct stat sb;
    if (stat(*path, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        lcmd_status s = lcmd_set_error(LCMD_ERR_IO, "%s: component '%s' (%s) has no folder", *path, name, c->class_name);
        free(*path);
        *path = NULL;
        return s;
    }
    return LCMD_OK;
}

static const char *const TOKENIZERS[] = {"CLIPTokenizer", "CLIPTokenizerFast", NULL};
static const char *const TEXT_ENCODERS[] = {"CLIPTextModel", "CLIPTextModelWithProjection", NULL};
static const char *const UNETS[] = {"UNet2DConditionModel", NULL};
static const char *const VAES[] = {"AutoencoderKL", NULL};

static lcmd_status load_scheduler(const lcmd_model_index *mi, const char *folder, lcmd_scheduler_config *cfg)
{
    const lcmd_model_component *c = lcmd_model_index_find(mi, "scheduler");
    if (!c || !c->class_name)
        return lcmd_set_error(LCMD_ERR_FORMAT, "%s/model_index.json: the pipeline has no 'scheduler' component", folder);
    char *dir = NULL, *path = NULL;
    lcmd_status s = lcmd_path_join(folder, "scheduler", &dir);
    if (!s) s = lcmd_path_join(dir, "scheduler_config.json", &path);
    lcmd_scheduler_config_init(cfg);
    if (!s) s = lcmd_scheduler_config_load(path, cfg);
    free(dir);
    free(path);
    return s;
}

static lcmd_status load_text(lcmd_context *ctx, const lcmd_model_index *mi, const char *folder, int i,
                             const lcmd_pipeline_options *o, lcmd_pipeline *p)
{
    char *path = NULL;
    LCMD_TRY(component(mi, folder, i ? "tokenizer_2" : "tokenizer", TOKENIZERS, &path));
    lcmd_status s = lcmd_tokenizer_load(ctx, path, &p->tok[i]);
    free(path);
    LCMD_TRY(s);
    LCMD_TRY(component(mi, folder, i ? "text_encoder_2" : "text_encoder", TEXT_ENCODERS, &path));
    lcmd_text_encoder_load_options to;
    lcmd_text_encoder_load_options_init(&to);
    to.variant = o->variant;
    s = lcmd_text_encoder_load(ctx, path, &to, &p->te[i]);
    free(path);
    return s;
}

static lcmd_status open_components(lcmd_context *ctx, const char *folder, const lcmd_pipeline_options *o,
                                   const lcmd_model_index *mi, lcmd_pipeline *p)
{
    p->sdxl = lcmd_model_index_find(mi, "text_encoder_2") != NULL;
    LCMD_TRY(load_scheduler(mi, folder, &p->sched));
    /* check every needed component before loading any: a bad folder fails fast */
    char *path = NULL;
    if (o->load_unet) { LCMD_TRY(component(mi, folder, "unet", UNETS, &path)); free(path); }
    if (o->load_vae) { LCMD_TRY(component(mi, folder, "vae", VAES, &path)); free(path); }
    for (int i = 0; o->load_text && i <= p->sdxl; i++) {
        LCMD_TRY(component(mi, folder, i ? "tokenizer_2" : "tokenizer", TOKENIZERS, &path));
        free(path);
        LCMD_TRY(component(mi, folder, i ? "text_encoder_2" : "text_encoder", TEXT_ENCODERS, &path));
        free(path);
    }
    for (int i = 0; o->load_text && i <= p->sdxl; i++)
        LCMD_TRY(load_text(ctx, mi, folder, i, o, p));
    if (o->load_vae) {
        LCMD_TRY(component(mi, folder, "vae", VAES, &path));
        lcmd_vae_load_options vo;
        lcmd_vae_load_options_init(&vo);
        vo.variant = o->variant;
        lcmd_status s = lcmd_vae_load(ctx, path, &vo, &p->vae);
        free(path);
        LCMD_TRY(s);
    }
    if (o->load_unet) {
        LCMD_TRY(component(mi, folder, "unet", UNETS, &path));
        lcmd_unet_load_options uo;
        lcmd_unet_load_options_init(&uo);
        uo.variant = o->variant;
        lcmd_status s = lcmd_unet_load(ctx, path, &uo, &p->unet);
        free(path);
        LCMD_TRY(s);
    }
    return LCMD_OK;
}

lcmd_status lcmd_pipeline_open(lcmd_context *ctx, const char *folder, const lcmd_pipeline_options *opts,
                               lcmd_pipeline **out)
{
    LCMD_CHECK_ARG(out, "lcmd_pipeline_open", "out is NULL");
    *out = NULL;
    LCMD_CHECK_ARG(ctx && folder, "lcmd_pipeline_open", "ctx or folder is NULL");
    lcmd_pipeline_options o;
    lcmd_pipeline_options_init(&o);
    if (opts) {
        LCMD_CHECK_ARG(opts->struct_size >= PIPELINE_OPTIONS_V1 && opts->struct_size <= sizeof o, "lcmd_pipeline_open",
                       "opts.struct_size = %u (call lcmd_pipeline_options_init)", opts->struct_size);
        memcpy(&o, opts, opts->struct_size);
    }
    struct stat sb;
    if (stat(folder, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return lcmd_set_error(LCMD_ERR_IO, "%s: not a pipeline folder (%s)", folder, strerror(errno ? errno : ENOTDIR));
    lcmd_model_index *mi = NULL;
    LCMD_TRY(lcmd_model_index_load(folder, &mi));
    lcmd_pipeline *p = calloc(1, sizeof *p);
    lcmd_status s = p ? LCMD_OK : lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "lcmd_pipeline_open: out of memory");
    if (!s && !(p->class_name = strdup(mi->class_name)))
        s = lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "lcmd_pipeline_open: out of memory");
    if (!s) s = open_components(ctx, folder, &o, mi, p);
    lcmd_model_index_free(mi);
    if (s) {
        lcmd_pipeline_destroy(p);
        return s;
    }
    lcmd_log(&ctx->log, LCMD_LOG_INFO, "opened %s %s%s", p->class_name, folder, p->sdxl ? " (SDXL)" : "");
    *out = p;
    return LCMD_OK;
}

void lcmd_pipeline_destroy(lcmd_pipeline *p)
{
    if (!p) return;
    for (int i = 0; i < 2; i++) {
        lcmd_tokenizer_destroy(p->tok[i]);
        lcmd_text_encoder_destroy(p->te[i]);
    }
    lcmd_vae_destroy(p->vae);
    lcmd_unet_destroy(p->unet);
    free(p->class_name);
    free(p);
}

const char *lcmd_pipeline_class_name(const lcmd_pipeline *p) { return p ? p->class_name : NULL; }
int lcmd_pipeline_is_sdxl(const lcmd_pipeline *p) { return p ? p->sdxl : 0; }
lcmd_tokenizer *lcmd_pipeline_tokenizer(const lcmd_pipeline *p, int index)
{
    return p && (index == 0 || index == 1) ? p->tok[index] : NULL;
}
lcmd_text_encoder *lcmd_pipeline_text_encoder(const lcmd_pipeline *p, int index)
{
    return p && (index == 0 || index == 1) ? p->te[index] : NULL;
}
lcmd_vae *lcmd_pipeline_vae(const lcmd_pipeline *p) { return p ? p->vae : NULL; }
lcmd_unet *lcmd_pipeline_unet(const lcmd_pipeline *p) { return p ? p->unet : NULL; }

lcmd_status lcmd_pipeline_scheduler_config(const lcmd_pipeline *p, lcmd_scheduler_config *cfg)
{
    LCMD_CHECK_ARG(p && cfg, "lcmd_pipeline_scheduler_config", "p or cfg is NULL");
    LCMD_CHECK_ARG(cfg->struct_size >= sizeof(uint32_t) && cfg->struct_size <= sizeof *cfg,
                   "lcmd_pipeline_scheduler_config", "cfg.struct_size = %u (call lcmd_scheduler_config_init)",
                   cfg->struct_size);
    memcpy((char *)cfg + sizeof cfg->struct_size, (const char *)&p->sched + sizeof cfg->struct_size,
           cfg->struct_size - sizeof cfg->struct_size);
    return LCMD_OK;
}
