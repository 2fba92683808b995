/* UNet model: parameter memory, the activation arena and its planning, input
 * checks, the host-side layout change (NCHW <-> NHWC) and the top-level forward. */
#include "models/unet.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "models/unet_run.h"
#include "ops/op_calls.h"

#define FN "lcmd_unet_model_forward"

lcmd_status lcmd_unet_model_create(const lcmd_unet_config *cfg, lcmd_backend *be, lcmd_unet_model **out)
{
    LCMD_CHECK_ARG(cfg && be && out, "lcmd_unet_model_create", "cfg, be or out is NULL");
    *out = NULL;
    lcmd_unet_model *m = calloc(1, sizeof *m);
    if (!m) return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "lcmd_unet_model_create: out of memory");
    m->cfg = *cfg;
    m->be = be;
    lcmd_status s = unet_net_build(cfg, &m->params, &m->net);
    if (!s) s = lcmd_op_alloc(be, m->params.total * sizeof(float), (void **)&m->param_mem);
    if (!s) s = lcmd_op_zero(be, m->param_mem, m->params.total * sizeof(float));
    if (s) {
        lcmd_unet_model_destroy(m);
        return s;
    }
    *out = m;
    return LCMD_OK;
}

void lcmd_unet_model_destroy(lcmd_unet_model *m)
{
    if (!m) return;
    if (m->param_mem) lcmd_op_free(m->be, m->param_mem);
    if (m->arena_mem) lcmd_op_free(m->be, m->arena_mem);
    if (m->bwd_mem) lcmd_op_free(m->be, m->bwd_mem);
    unet_net_free(&m->net);
    lcmd_param_set_free(&m->params);
    free(m);
}

/* Backend copies of the inputs (host data only on the real pass). */
typedef struct dev_inputs {
    float *sample, *t, *ctx, *cond, *text, *ids;
} dev_inputs;

static lcmd_status upload(unet_run *r, const void *host, int64_t n, float **dev)
{
    LCMD_TRY(unet_alloc(r, n, dev));
    RUN(r, lcmd_op_upload(r->be, *dev, host, (size_t)n * sizeof(float)));
    return LCMD_OK;
}

static lcmd_status upload_inputs(unet_run *r, const lcmd_unet_config *c, const lcmd_unet_forward_args *a,
                                 const float *sample_nhwc, int64_t hw, dev_inputs *d)
{
    int64_t n = a->batch;
    memset(d, 0, sizeof *d);
    LCMD_TRY(upload(r, sample_nhwc, n * hw * c->in_channels, &d->sample));
    LCMD_TRY(upload(r, a->timesteps, n, &d->t));
    LCMD_TRY(upload(r, a->encoder_hidden_states, n * a->seq_len * c->cross_attention_dim, &d->ctx));
    if (c->time_cond_proj_dim) LCMD_TRY(upload(r, a->timestep_cond, n * c->time_cond_proj_dim, &d->cond));
    if (c->addition_embed_type == LCMD_UNET_ADD_TEXT_TIME) {
        LCMD_TRY(upload(r, a->text_embeds, n * lcmd_unet_text_embed_dim(c), &d->text));
        LCMD_TRY(upload(r, a->time_ids, n * 6, &d->ids));
    }
    return LCMD_OK;
}

/* The whole forward; `out` receives the device NHWC output. */
static lcmd_status forward_pass(lcmd_unet_model *m, unet_run *r, const lcmd_unet_forward_args *a,
                                const float *sample_nhwc, float **out)
{
    unet_net *net = &m->net;
    const lcmd_unet_config *c = &m->cfg;
    int64_t h = a->height, w = a->width, n = a->batch;
    dev_inputs d;
    LCMD_TRY(upload_inputs(r, c, a, sample_nhwc, h * w, &d));
    r->ctx = d.ctx;
    net->sample = d.sample;
    net->ctx = d.ctx;
    r->seq = a->seq_len;
    LCMD_TRY(unet_embed_fwd(r, net, d.t, d.cond, d.text, d.ids));

    LCMD_TRY(unet_alloc(r, n * h * w * net->c0, &net->conv_in_out));
    LCMD_TRY(unet_conv_fwd(r, d.sample, h, w, c->in_channels, net->c0, 1, c->conv_in_kernel, net->conv_in_w,
                           net->conv_in_b, net->conv_in_out));
    r->skip_top = 0;
    LCMD_TRY(unet_push_skip(r, net, net->conv_in_out, net->c0));
    const float *x = net->conv_in_out;
    for (int32_t i = 0; i < c->num_blocks; i++) LCMD_TRY(unet_down_block_fwd(r, net, &net->down[i], &x, &h, &w));
    if (net->has_mid) LCMD_TRY(unet_mid_block_fwd(r, &net->mid, &x, h, w));
    for (int32_t i = 0; i < c->num_blocks; i++) LCMD_TRY(unet_up_block_fwd(r, net, &net->up[i], &x, &h, &w));
    if (r->skip_top != 0) return lcmd_set_error(LCMD_ERR_INTERNAL, "unet: %d skips left", r->skip_top);

    LCMD_TRY(unet_alloc(r, n * h * w * net->c0, &net->norm_out));
    LCMD_TRY(unet_alloc(r, n * r->groups, &net->norm_mean));
    LCMD_TRY(unet_alloc(r, n * r->groups, &net->norm_rstd));
    RUN(r, lcmd_op_groupnorm_fwd(r->be, r->dt, net->norm_out, net->norm_mean, net->norm_rstd, x,
                                 PW(r, net->norm_out_w), PW(r, net->norm_out_b), n, h * w, net->c0, r->groups,
                                 r->eps, 1));
    LCMD_TRY(unet_alloc(r, n * h * w * c->out_channels, out));
    return unet_conv_fwd(r, net->norm_out, h, w, net->c0, c->out_channels, 1, c->conv_out_kernel, net->conv_out_w,
                         net->conv_out_b, *out);
}

static void init_run(lcmd_unet_model *m, lcmd_arena *arena, int plan, int64_t batch, unet_run *r)
{
    memset(r, 0, sizeof *r);
    r->be = m->be;
    r->dt = LCMD_DT_F32;
    r->w = m->param_mem;
    r->arena = arena;
    r->plan = plan;
    r->keep = m->keep_activations;
    r->batch = batch;
    r->groups = m->cfg.norm_num_groups;
    r->eps = (float)m->cfg.norm_eps;
}

static lcmd_status plan_bytes(lcmd_unet_model *m, const lcmd_unet_forward_args *a, size_t *bytes)
{
    lcmd_arena counter = {NULL, SIZE_MAX, 0, 0};
    unet_run r;
    /* the dry run overwrites the saved-activation pointers */
    m->bwd_ready = 0;
    init_run(m, &counter, 1, a->batch, &r);
    float *out;
    LCMD_TRY(forward_pass(m, &r, a, NULL, &out));
    *bytes = counter.peak;
    return LCMD_OK;
}

static lcmd_status check_shape(const lcmd_unet_model *m, int64_t batch, int64_t height, int64_t width, int64_t seq)
{
    int64_t div = (int64_t)1 << (m->cfg.num_blocks - 1);
    LCMD_CHECK_ARG(batch >= 1 && batch <= (1 << 20), FN, "batch = %lld must be in [1, 2^20]", (long long)batch);
    LCMD_CHECK_ARG(height >= 1 && width >= 1 && height <= (1 << 16) && width <= (1 << 16), FN,
                   "height = %lld, width = %lld must be in [1, 65536]", (long long)height, (long long)width);
    LCMD_CHECK_ARG(height % div == 0 && width % div == 0, FN,
                   "height = %lld and width = %lld must be divisible by %lld (2^(down blocks - 1))",
                   (long long)height, (long long)width, (long long)div);
    LCMD_CHECK_ARG(seq >= 1 && seq <= (1 << 20), FN, "seq_len = %lld must be in [1, 2^20]", (long long)seq);
    return LCMD_OK;
}

lcmd_status lcmd_unet_model_plan(lcmd_unet_model *m, int64_t batch, int64_t height, int64_t width,
                                 int64_t seq_len, size_t *bytes)
{
    LCMD_CHECK_ARG(m && bytes, "lcmd_unet_model_plan", "m or bytes is NULL");
    LCMD_TRY(check_shape(m, batch, height, width, seq_len));
    lcmd_unet_forward_args a = {.batch = batch, .height = height, .width = width, .seq_len = seq_len};
    return plan_bytes(m, &a, bytes);
}

static lcmd_status check_finite(const char *what, const float *p, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(p[i]))
            return lcmd_set_error(LCMD_ERR_NUMERIC, FN ": %s[%lld] = %g is not finite", what, (long long)i, (double)p[i]);
    return LCMD_OK;
}

static lcmd_status check_args(const lcmd_unet_model *m, const lcmd_unet_forward_args *a)
{
    const lcmd_unet_config *c = &m->cfg;
    LCMD_CHECK_ARG(a->sample && a->timesteps && a->encoder_hidden_states, FN,
                   "sample, timesteps and encoder_hidden_states must not be NULL");
    LCMD_TRY(check_shape(m, a->batch, a->height, a->width, a->seq_len));
    LCMD_CHECK_ARG(a->encoder_dim == c->cross_attention_dim, FN,
                   "encoder_hidden_states has %lld features, the model's cross_attention_dim is %d",
                   (long long)a->encoder_dim, c->cross_attention_dim);
    if (c->time_cond_proj_dim)
        LCMD_CHECK_ARG(a->timestep_cond, FN, "timestep_cond [batch, %d] is required (time_cond_proj_dim is set)",
                       c->time_cond_proj_dim);
    else
        LCMD_CHECK_ARG(!a->timestep_cond, FN, "timestep_cond given but the model has no time_cond_proj_dim");
    if (c->addition_embed_type == LCMD_UNET_ADD_TEXT_TIME) {
        LCMD_CHECK_ARG(a->text_embeds && a->time_ids, FN,
                       "addition_embed_type 'text_time' needs text_embeds and time_ids");
        LCMD_CHECK_ARG(a->text_embed_dim == lcmd_unet_text_embed_dim(c), FN,
                       "text_embeds has %lld features, the model expects %lld", (long long)a->text_embed_dim,
                       (long long)lcmd_unet_text_embed_dim(c));
    } else {
        LCMD_CHECK_ARG(!a->text_embeds && !a->time_ids, FN,
                       "text_embeds/time_ids given but the model has no addition_embed_type");
    }
    int64_t n = a->batch;
    LCMD_TRY(check_finite("sample", a->sample, n * c->in_channels * a->height * a->width));
    LCMD_TRY(check_finite("timesteps", a->timesteps, n));
    LCMD_TRY(check_finite("encoder_hidden_states", a->encoder_hidden_states, n * a->seq_len * c->cross_attention_dim));
    if (a->timestep_cond) LCMD_TRY(check_finite("timestep_cond", a->timestep_cond, n * c->time_cond_proj_dim));
    if (a->text_embeds) LCMD_TRY(check_finite("text_embeds", a->text_embeds, n * lcmd_unet_text_embed_dim(c)));
    if (a->time_ids) LCMD_TRY(check_finite("time_ids", a->time_ids, n * 6));
    return LCMD_OK;
}

/* Plans when the shape changes; grows the arena when the plan needs more. */
static lcmd_status ensure_arena(lcmd_unet_model *m, const lcmd_unet_forward_args *a)
{
    int64_t hw = a->height * a->width;
    if (m->arena_mem && a->batch == m->plan_batch && hw == m->plan_hw && a->seq_len == m->plan_seq &&
        m->keep_activations == m->plan_keep)
        return LCMD_OK;
    size_t need;
    LCMD_TRY(plan_bytes(m, a, &need));
    if (need > m->arena_bytes) {
        if (m->arena_mem) lcmd_op_free(m->be, m->arena_mem);
        m->arena_mem = NULL;
        m->arena_bytes = 0;
        LCMD_TRY(lcmd_op_alloc(m->be, need, &m->arena_mem));
        m->arena_bytes = need;
    }
    m->plan_batch = a->batch;
    m->plan_hw = hw;
    m->plan_seq = a->seq_len;
    m->plan_keep = m->keep_activations;
    return LCMD_OK;
}

/* [n, c, hw] <-> [n, hw, c] on the host */
static void nchw_to_nhwc(const float *src, float *dst, int64_t n, int64_t c, int64_t hw, int center)
{
    for (int64_t i = 0; i < n; i++)
        for (int64_t ch = 0; ch < c; ch++)
            for (int64_t p = 0; p < hw; p++) {
                float v = src[(i * c + ch) * hw + p];
                /* center_input_sample: 2 * sample - 1, rounded as torch does (two steps) */
                dst[(i * hw + p) * c + ch] = center ? 2.0f * v - 1.0f : v;
            }
}

static void nhwc_to_nchw(const float *src, float *dst, int64_t n, int64_t c, int64_t hw)
{
    for (int64_t i = 0; i < n; i++)
        for (int64_t p = 0; p < hw; p++)
            for (int64_t ch = 0; ch < c; ch++) dst[(i * c + ch) * hw + p] = src[(i * hw + p) * c + ch];
}

lcmd_status lcmd_unet_model_forward(lcmd_unet_model *m, lcmd_backend *be, const lcmd_unet_forward_args *a,
                                    float *out_nchw)
{
    LCMD_CHECK_ARG(m && be && a && out_nchw, FN, "m, be, args or out_nchw is NULL");
    LCMD_CHECK_ARG(be == m->be, FN, "be is not the backend the model was created on");
    LCMD_TRY(check_args(m, a));
    LCMD_TRY(ensure_arena(m, a));
    const lcmd_unet_config *c = &m->cfg;
    int64_t n = a->batch, hw = a->height * a->width;
    size_t in_n = (size_t)(n * hw * c->in_channels), out_n = (size_t)(n * hw * c->out_channels);
    m->bwd_ready = 0;
    float *host = malloc((in_n > out_n ? in_n : out_n) * sizeof(float));
    if (!host) return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, FN ": out of memory");
    nchw_to_nhwc(a->sample, host, n, c->in_channels, hw, c->center_input_sample);
    lcmd_arena_init(&m->arena, m->arena_mem, m->arena_bytes);
    unet_run r;
    init_run(m, &m->arena, 0, n, &r);
    float *out_dev = NULL;
    lcmd_status s = forward_pass(m, &r, a, host, &out_dev);
    if (!s) s = lcmd_op_download(be, host, out_dev, out_n * sizeof(float));
    if (!s) nhwc_to_nchw(host, out_nchw, n, c->out_channels, hw);
    free(host);
    if (!s && (m->keep_activations || m->checkpoint)) {
        m->bwd_ready = 1;
        m->bwd_recompute = !m->keep_activations;
        m->fwd_batch = n;
        m->fwd_height = a->height;
        m->fwd_width = a->width;
        m->fwd_seq = a->seq_len;
    }
    return s;
}
