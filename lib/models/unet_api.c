/* The public lcmd_unet: a diffusers folder <-> an lcmd_unet_model on the context's backend. */
#include <lcmd/unet.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "context_internal.h"
#include "core/error.h"
#include "core/philox.h"
#include "io/atomic_file.h"
#include "io/json_file.h"
#include "io/path.h"
#include "io/weights.h"
#include "models/unet.h"
#include "ops/op_calls.h"

#define COND_PROJ_NAME "time_embedding.cond_proj.weight"
#define STUDENT_INIT_STREAM 0x53545544454e54ull   /* RNG stream of the student's new weights */

struct lcmd_unet {
    lcmd_context *ctx;
    lcmd_unet_model *model;
};

#define UNET_LOAD_OPTIONS_V1 (offsetof(lcmd_unet_load_options, variant) + sizeof(const char *))
#define UNET_INFO_V1 (offsetof(lcmd_unet_info, num_parameters) + sizeof(int64_t))
#define UNET_INPUTS_V1 (offsetof(lcmd_unet_inputs, time_ids) + sizeof(const float *))

lcmd_status lcmd_unet_load_options_init(lcmd_unet_load_options *opts)
{
    LCMD_CHECK_ARG(opts, "lcmd_unet_load_options_init", "opts is NULL");
    memset(opts, 0, sizeof *opts);
    opts->struct_size = sizeof *opts;
    return LCMD_OK;
}

lcmd_status lcmd_unet_info_init(lcmd_unet_info *info)
{
    LCMD_CHECK_ARG(info, "lcmd_unet_info_init", "info is NULL");
    memset(info, 0, sizeof *info);
    info->struct_size = sizeof *info;
    return LCMD_OK;
}

lcmd_status lcmd_unet_inputs_init(lcmd_unet_inputs *in)
{
    LCMD_CHECK_ARG(in, "lcmd_unet_inputs_init", "in is NULL");
    memset(in, 0, sizeof *in);
    in->struct_size = sizeof *in;
    return LCMD_OK;
}

static lcmd_status wrap(lcmd_context *ctx, const lcmd_unet_config *cfg, lcmd_unet **out)
{
    lcmd_unet *u = calloc(1, sizeof *u);
    if (!u)
        return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "lcmd_unet: out of memory");
    lcmd_status s = lcmd_unet_model_create(cfg, ctx->backend, &u->model);
    if (s) {
        free(u);
        return s;
    }
    u->ctx = ctx;
    *out = u;
    return LCMD_OK;
}

/* Host copy of the parameters <-> the backend's buffer. */
static lcmd_status params_to_host(const lcmd_unet *u, float **host)
{
    size_t bytes = u->model->params.total * sizeof(float);
    *host = malloc(bytes ? bytes : 1);
    if (!*host)
        return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "lcmd_unet: out of memory (%zu bytes of parameters)", bytes);
    lcmd_status s = lcmd_op_download(u->model->be, *host, u->model->param_mem, bytes);
    if (s) {
        free(*host);
        *host = NULL;
    }
    return s;
}

static lcmd_status params_from_host(lcmd_unet *u, const float *host)
{
    return lcmd_op_upload(u->model->be, u->model->param_mem, host, u->model->params.total * sizeof(float));
}

lcmd_status lcmd_unet_load(lcmd_context *ctx, const char *folder, const lcmd_unet_load_options *opts, lcmd_unet **out)
{
    LCMD_CHECK_ARG(out, "lcmd_unet_load", "out is NULL");
    *out = NULL;
    LCMD_CHECK_ARG(ctx && folder, "lcmd_unet_load", "ctx or folder is NULL");
    lcmd_unet_load_options o;
    lcmd_unet_load_options_init(&o);
    if (opts) {
        LCMD_CHECK_ARG(opts->struct_size >= UNET_LOAD_OPTIONS_V1 && opts->struct_size <= sizeof o, "lcmd_unet_load",
                       "opts.struct_size = %u (call lcmd_unet_load_options_init)", opts->struct_size);
        memcpy(&o, opts, opts->struct_size);
    }
    struct stat sb;
    if (stat(folder, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return lcmd_set_error(LCMD_ERR_IO, "%s: not a folder (%s)", folder, strerror(errno ? errno : ENOTDIR));

    char *cfg_path = NULL, *text = NULL;
    size_t len = 0;
    lcmd_status s = lcmd_path_join(folder, "config.json", &cfg_path);
    if (!s) s = lcmd_read_small_file(cfg_path, LCMD_JSON_DEFAULT_MAX_BYTES, &text, &len);
    lcmd_unet_config cfg;
    if (!s) s = lcmd_unet_config_parse(text, len, cfg_path, &cfg);
    free(text);
    free(cfg_path);
    if (s) return s;

    lcmd_weights *w = NULL;
    LCMD_TRY(lcmd_weights_open(folder, o.variant, &w));
    lcmd_unet *u = NULL;
    s = wrap(ctx, &cfg, &u);
    /* the CPU backend's memory is host memory: fill it in place, no staging copy */
    int in_place = !s && u->model->be->device < 0;
    float *host = in_place ? u->model->param_mem : NULL;
    if (!s && !in_place) {
        host = calloc(u->model->params.total ? u->model->params.total : 1, sizeof *host);
        if (!host) s = lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "lcmd_unet_load: out of memory");
    }
    if (!s) s = lcmd_weights_load_params(w, &u->model->params, host, NULL);
    if (!s && !in_place) s = params_from_host(u, host);
    if (!in_place) free(host);
    lcmd_weights_close(w);
    if (s) {
        lcmd_unet_destroy(u);
        return s;
    }
    lcmd_log(&ctx->log, LCMD_LOG_INFO, "loaded UNet from %s: %zu tensors, %zu parameters", folder,
             u->model->params.count, u->model->params.total);
    *out = u;
    return LCMD_OK;
}

lcmd_status lcmd_unet_create_student(lcmd_context *ctx, const lcmd_unet *teacher, int32_t time_cond_proj_dim,
                                     lcmd_unet **out)
{
    LCMD_CHECK_ARG(out, "lcmd_unet_create_student", "out is NULL");
    *out = NULL;
    LCMD_CHECK_ARG(ctx && teacher, "lcmd_unet_create_student", "ctx or teacher is NULL");
    lcmd_unet_config cfg = teacher->model->cfg;
    if (cfg.time_cond_proj_dim == 0) {
        LCMD_CHECK_ARG(time_cond_proj_dim >= 1, "lcmd_unet_create_student",
                       "time_cond_proj_dim = %d must be >= 1 for a teacher without one", time_cond_proj_dim);
        cfg.time_cond_proj_dim = time_cond_proj_dim;
    }
    float *src = NULL;
    LCMD_TRY(params_to_host(teacher, &src));
    lcmd_unet *u = NULL;
    lcmd_status s = wrap(ctx, &cfg, &u);
    float *dst = NULL;
    if (!s) {
        dst = calloc(u->model->params.total ? u->model->params.total : 1, sizeof *dst);
        if (!dst) s = lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "lcmd_unet_create_student: out of memory");
    }
    /* copy every teacher tensor by name; the student has at most one more */
    for (size_t i = 0; !s && i < u->model->params.count; i++) {
        const lcmd_param *p = &u->model->params.items[i];
        const lcmd_param *q = lcmd_param_set_find(&teacher->model->params, p->name);
        if (q) {
            memcpy(dst + p->offset, src + q->offset, (size_t)p->numel * sizeof *dst);
        } else if (strcmp(p->name, COND_PROJ_NAME) == 0) {
            /* nn.Linear's default init: kaiming_uniform(a = sqrt 5) = U(±1/sqrt(fan_in)) */
            float bound = 1.0f / sqrtf((float)cfg.time_cond_proj_dim);
            for (int64_t j = 0; j < p->numel; j += 4) {
                lcmd_u32x4 r = lcmd_rng_block(ctx->seed, STUDENT_INIT_STREAM, (uint64_t)j / 4);
                for (int k = 0; k < 4 && j + k < p->numel; k++)
                    dst[p->offset + j + k] = (2.0f * lcmd_u32_to_unit(r.v[k]) - 1.0f) * bound;
            }
        } else {
            s = lcmd_set_error(LCMD_ERR_INTERNAL, "lcmd_unet_create_student: student parameter '%s' has no teacher counterpart", p->name);
        }
    }
    if (!s) s = params_from_host(u, dst);
    free(src);
    free(dst);
    if (s) {
        lcmd_unet_destroy(u);
        return s;
    }
    *out = u;
    return LCMD_OK;
}

/* Internal accessor (lib/train): the model behind a public UNet. */
lcmd_unet_model *lcmd_unet_model_of(const lcmd_unet *unet)
{
    return unet ? unet->model : NULL;
}

void lcmd_unet_destroy(lcmd_unet *unet)
{
    if (!unet) return;
    lcmd_unet_model_destroy(unet->model);
    free(unet);
}

lcmd_status lcmd_unet_get_info(const lcmd_unet *unet, lcmd_unet_info *info)
{
    LCMD_CHECK_ARG(unet && info, "lcmd_unet_get_info", "unet or info is NULL");
    LCMD_CHECK_ARG(info->struct_size >= UNET_INFO_V1 && info->struct_size <= sizeof *info, "lcmd_unet_get_info",
                   "info.struct_size = %u (call lcmd_unet_info_init)", info->struct_size);
    const lcmd_unet_config *c = &unet->model->cfg;
    lcmd_unet_info v;
    memset(&v, 0, sizeof v);
    v.struct_size = info->struct_size;
    v.in_channels = c->in_channels;
    v.out_channels = c->out_channels;
    v.sample_size = c->sample_size[0];
    v.cross_attention_dim = c->cross_attention_dim;
    v.time_cond_proj_dim = c->time_cond_proj_dim;
    v.text_embed_dim = c->addition_embed_type == LCMD_UNET_ADD_TEXT_TIME ? (int32_t)lcmd_unet_text_embed_dim(c) : 0;
    v.downsample_factor = 1 << (c->num_blocks - 1);
    int64_t n = 0;
    for (size_t i = 0; i < unet->model->params.count; i++) n += unet->model->params.items[i].numel;
    v.num_parameters = n;
    memcpy(info, &v, info->struct_size);
    return LCMD_OK;
}

lcmd_status lcmd_unet_forward(lcmd_unet *unet, const lcmd_unet_inputs *in, float *out)
{
    LCMD_CHECK_ARG(unet && in && out, "lcmd_unet_forward", "unet, in or out is NULL");
    LCMD_CHECK_ARG(in->struct_size >= UNET_INPUTS_V1 && in->struct_size <= sizeof *in, "lcmd_unet_forward",
                   "in.struct_size = %u (call lcmd_unet_inputs_init)", in->struct_size);
    lcmd_unet_forward_args a;
    memset(&a, 0, sizeof a);
    a.batch = in->batch;
    a.height = in->height;
    a.width = in->width;
    a.sample = in->sample;
    a.timesteps = in->timesteps;
    a.encoder_hidden_states = in->encoder_hidden_states;
    a.seq_len = in->seq_len;
    a.encoder_dim = unet->model->cfg.cross_attention_dim;
    a.timestep_cond = in->timestep_cond;
    a.text_embeds = in->text_embeds;
    a.text_embed_dim = lcmd_unet_text_embed_dim(&unet->model->cfg);
    a.time_ids = in->time_ids;
    return lcmd_unet_model_forward(unet->model, unet->model->be, &a, out);
}

lcmd_status lcmd_unet_save(const lcmd_unet *unet, const char *folder, lcmd_weight_dtype dtype, const char *variant)
{
    LCMD_CHECK_ARG(unet && folder, "lcmd_unet_save", "unet or folder is NULL");
    static const lcmd_st_dtype map[] = {LCMD_ST_F32, LCMD_ST_F16, LCMD_ST_BF16};
    LCMD_CHECK_ARG(dtype >= LCMD_WEIGHTS_F32 && dtype <= LCMD_WEIGHTS_BF16, "lcmd_unet_save",
                   "dtype = %d is not an lcmd_weight_dtype", (int)dtype);
    LCMD_CHECK_ARG(!variant || lcmd_path_is_plain_name(variant), "lcmd_unet_save",
                   "variant '%s' must be a plain name such as \"fp16\"", variant ? variant : "");
    if (mkdir(folder, 0777) != 0 && errno != EEXIST)
        return lcmd_set_error(LCMD_ERR_IO, "%s: cannot create folder: %s", folder, strerror(errno));
    char base[256];
    snprintf(base, sizeof base, "%s%s%s", LCMD_WEIGHTS_BASE_DIFFUSERS, variant ? "." : "", variant ? variant : "");
    float *host = NULL;
    LCMD_TRY(params_to_host(unet, &host));
    lcmd_status s = lcmd_weights_save_params(folder, &unet->model->params, host, map[dtype], base);
    free(host);
    LCMD_TRY(s);
    char *json = NULL, *path = NULL;
    s = lcmd_unet_config_to_json(&unet->model->cfg, &json);
    if (!s) s = lcmd_path_join(folder, "config.json", &path);
    lcmd_atomic_file af;
    if (!s) s = lcmd_atomic_file_begin(path, &af);
    if (!s) {
        s = lcmd_atomic_file_write(&af, json, strlen(json));
        if (!s) s = lcmd_atomic_file_commit(&af);
        else lcmd_atomic_file_abort(&af);
    }
    free(json);
    free(path);
    return s;
}
