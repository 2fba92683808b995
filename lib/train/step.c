/* lcmd_trainer_step_latents: one LCD micro-step (spec §6 steps 4–13). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/philox.h"
#include "ops/op_calls.h"
#include "train/train_internal.h"

#define FN "lcmd_trainer_step_latents"

#define STEP_INPUTS_V1 (offsetof(lcmd_step_inputs, guidance) + sizeof(const float *))
#define STEP_REPORT_V1 (offsetof(lcmd_step_report, skipped) + sizeof(int32_t))
#define DRAW_STREAM LCMD_TRAIN_DRAW_STREAM
#define DRAW_INDEX LCMD_TRAIN_DRAW_INDEX
#define DRAW_W LCMD_TRAIN_DRAW_W

/* scratch of one step: float arrays of n = B·C·H·W unless noted */
typedef struct step_buf {
    float *noise, *zt, *os, *x0s, *f, *oc, *x0c, *ec, *ou, *x0u, *eu, *xpf, *ot, *dout;
    double *xprev;
    float *ew;                       /* [B, proj] */
    float *w, *ts_start, *ts_end, *cs_s, *co_s, *cs_e, *co_e;   /* [B] */
    int64_t *idx, *t_start, *t_end;  /* [B] */
    void *block;
} step_buf;

static lcmd_status buf_alloc(step_buf *b, size_t n, size_t batch, size_t proj)
{
    memset(b, 0, sizeof *b);
    size_t floats = 14 * n + batch * proj + 7 * batch;
    size_t bytes = n * sizeof(double) + 3 * batch * sizeof(int64_t) + floats * sizeof(float);
    b->block = malloc(bytes);
    if (!b->block) return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "lcmd_trainer_step_latents: out of memory");
    b->xprev = b->block;
    b->idx = (int64_t *)(b->xprev + n);
    b->t_start = b->idx + batch;
    b->t_end = b->t_start + batch;
    float *p = (float *)(b->t_end + batch);
    float **arr[] = {&b->noise, &b->zt, &b->os, &b->x0s, &b->f, &b->oc, &b->x0c, &b->ec,
                     &b->ou, &b->x0u, &b->eu, &b->xpf, &b->ot, &b->dout};
    for (size_t i = 0; i < sizeof arr / sizeof arr[0]; i++, p += n) *arr[i] = p;
    b->ew = p;
    p += batch * proj;
    float **sm[] = {&b->w, &b->ts_start, &b->ts_end, &b->cs_s, &b->co_s, &b->cs_e, &b->co_e};
    for (size_t i = 0; i < sizeof sm / sizeof sm[0]; i++, p += batch) *sm[i] = p;
    return LCMD_OK;
}

static lcmd_status check_inputs(const lcmd_trainer *tr, const lcmd_step_inputs *in)
{
    LCMD_CHECK_ARG(in->struct_size >= STEP_INPUTS_V1 && in->struct_size <= sizeof *in, FN,
                   "in.struct_size = %u (call lcmd_step_inputs_init)", in->struct_size);
    const lcmd_unet_config *c = &lcmd_unet_model_of(tr->student)->cfg;
    LCMD_CHECK_ARG(in->batch >= 1 && in->height >= 1 && in->width >= 1 && in->seq_len >= 1, FN,
                   "batch, height, width and seq_len must be >= 1");
    LCMD_CHECK_ARG(in->channels == c->in_channels && c->out_channels == c->in_channels, FN,
                   "channels = %lld, the UNet has %d in / %d out", (long long)in->channels, c->in_channels,
                   c->out_channels);
    LCMD_CHECK_ARG(in->embed_dim == c->cross_attention_dim, FN, "embed_dim = %lld, the UNet wants %d",
                   (long long)in->embed_dim, c->cross_attention_dim);
    LCMD_CHECK_ARG(in->latents && in->cond_embeds && in->uncond_embeds, FN,
                   "latents, cond_embeds or uncond_embeds is NULL");
    if (in->ddim_indices)
        for (int64_t b = 0; b < in->batch; b++)
            LCMD_CHECK_ARG(in->ddim_indices[b] >= 0 && in->ddim_indices[b] < tr->n_ddim, FN,
                           "ddim_indices[%lld] = %lld outside [0, %d)", (long long)b,
                           (long long)in->ddim_indices[b], tr->n_ddim);
    if (in->guidance)
        for (int64_t b = 0; b < in->batch; b++)
            if (!isfinite(in->guidance[b] * 1000.0f))   /* GSE scales w by 1000 in float32 */
                return lcmd_set_error(LCMD_ERR_NUMERIC, "%s: guidance[%lld] = %g: w·1000 is not finite", FN,
                                      (long long)b, (double)in->guidance[b]);
    return LCMD_OK;
}

/* the draws of this micro-step: injected or from Philox (streams in trainer.h) */
static void draw(const lcmd_trainer *tr, const lcmd_step_inputs *in, step_buf *b, size_t n)
{
    uint64_t seed = tr->o.seed;
    int64_t B = in->batch;
    if (in->noise)
        memcpy(b->noise, in->noise, n * sizeof(float));
    else
        lcmd_train_draw_normal(seed, DRAW_STREAM(LCMD_TRAIN_DRAW_NOISE, tr->micro), b->noise, n);
    for (int64_t i = 0; i < B; i++) {
        if (in->ddim_indices) {
            b->idx[i] = in->ddim_indices[i];
        } else {
            lcmd_u32x4 r = lcmd_rng_block(seed, DRAW_STREAM(DRAW_INDEX, tr->micro), (uint64_t)i / 4);
            int64_t v = (int64_t)((double)lcmd_u32_to_unit(r.v[i % 4]) * tr->n_ddim);
            b->idx[i] = v < tr->n_ddim ? v : tr->n_ddim - 1;
        }
        if (in->guidance) {
            b->w[i] = in->guidance[i];
        } else {
            lcmd_u32x4 r = lcmd_rng_block(seed, DRAW_STREAM(DRAW_W, tr->micro), (uint64_t)i / 4);
            b->w[i] = (float)(tr->o.w_max - tr->o.w_min) * lcmd_u32_to_unit(r.v[i % 4]) + (float)tr->o.w_min;
        }
    }
}

void lcmd_train_draw_normal(uint64_t seed, uint64_t stream, float *out, size_t n)
{
    for (size_t i = 0; i < n; i += 4) {
        float z[4];
        lcmd_box_muller(lcmd_rng_block(seed, stream, i / 4), z);
        for (size_t k = 0; k < 4 && i + k < n; k++) out[i + k] = z[k];
    }
}

static lcmd_status unet_run(lcmd_unet_model *m, const lcmd_step_inputs *in, const float *x, const float *ts,
                            const float *ehs, const float *cond, float *out)
{
    lcmd_unet_forward_args a;
    memset(&a, 0, sizeof a);
    a.batch = in->batch;
    a.height = in->height;
    a.width = in->width;
    a.sample = x;
    a.timesteps = ts;
    a.encoder_hidden_states = ehs;
    a.seq_len = in->seq_len;
    a.encoder_dim = in->embed_dim;
    a.timestep_cond = cond;
    return lcmd_unet_model_forward(m, m->be, &a, out);
}

static int all_finite(const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

/* dx̂0/do of the prediction type at α, σ */
static float dx0_do(lcmd_prediction_type p, float alpha, float sigma)
{
    if (p == LCMD_PREDICT_EPSILON) return -sigma / alpha;
    if (p == LCMD_PREDICT_V) return -sigma;
    return 1.0f;
}

/* x̂0 of the target in float64 on the float64 x_prev (α, σ float32 values) */
static double x0_f64(lcmd_prediction_type p, double o, double x, double alpha, double sigma)
{
    if (p == LCMD_PREDICT_EPSILON) return (x - sigma * o) / alpha;
    if (p == LCMD_PREDICT_V) return alpha * x - sigma * o;
    return o;
}

/* forward passes, loss and the student's backward; *loss receives the loss */
static lcmd_status compute(lcmd_trainer *tr, const lcmd_step_inputs *in, step_buf *b, int64_t per, double *loss)
{
    int64_t B = in->batch;
    size_t n = (size_t)(B * per);
    const lcmd_noise_schedule *ns = tr->sched;
    lcmd_prediction_type pt = tr->pred;
    lcmd_unet_model *sm = lcmd_unet_model_of(tr->student), *tm = lcmd_unet_model_of(tr->target);
    lcmd_unet_model *te = lcmd_unet_model_of(tr->teacher);
    for (int64_t i = 0; i < B; i++) {
        b->t_start[i] = tr->grid[b->idx[i]];
        b->t_end[i] = b->t_start[i] - tr->skip > 0 ? b->t_start[i] - tr->skip : 0;
        b->ts_start[i] = (float)b->t_start[i];
        b->ts_end[i] = (float)b->t_end[i];
    }
    double lam = tr->o.timestep_scaling_factor;
    LCMD_TRY(lcmd_boundary_scalings(b->t_start, B, lam, b->cs_s, b->co_s));
    LCMD_TRY(lcmd_boundary_scalings(b->t_end, B, lam, b->cs_e, b->co_e));
    LCMD_TRY(lcmd_add_noise(ns, in->latents, b->noise, b->t_start, B, per, b->zt));
    LCMD_TRY(lcmd_guidance_scale_embedding(b->w, B, sm->cfg.time_cond_proj_dim, b->ew));

    /* student: keeps its activations for the backward, or only the block-level ones
     * with gradient checkpointing (the mode is recorded by the forward itself) */
    int32_t keep = sm->keep_activations, ck = sm->checkpoint;
    sm->keep_activations = !tr->o.gradient_checkpointing;
    sm->checkpoint = tr->o.gradient_checkpointing;
    lcmd_status s = unet_run(sm, in, b->zt, b->ts_start, in->cond_embeds, b->ew, b->os);
    sm->keep_activations = keep;
    sm->checkpoint = ck;
    LCMD_TRY(s);
    /* a non-finite model output (diverged weights) makes the loss non-finite: skipped */
    *loss = NAN;
    if (!all_finite(b->os, n)) return LCMD_OK;
    LCMD_TRY(lcmd_predicted_origin(ns, pt, b->os, b->t_start, b->zt, B, per, b->x0s));
    for (size_t i = 0; i < n; i++) {
        size_t k = i / (size_t)per;
        b->f[i] = b->cs_s[k] * b->zt[i] + b->co_s[k] * b->x0s[i];
    }

    /* teacher, conditional and unconditional; guided estimates; one DDIM step */
    LCMD_TRY(unet_run(te, in, b->zt, b->ts_start, in->cond_embeds, NULL, b->oc));
    LCMD_TRY(unet_run(te, in, b->zt, b->ts_start, in->uncond_embeds, NULL, b->ou));
    if (!all_finite(b->oc, n) || !all_finite(b->ou, n)) return LCMD_OK;
    LCMD_TRY(lcmd_predicted_origin(ns, pt, b->oc, b->t_start, b->zt, B, per, b->x0c));
    LCMD_TRY(lcmd_predicted_noise(ns, pt, b->oc, b->t_start, b->zt, B, per, b->ec));
    LCMD_TRY(lcmd_predicted_origin(ns, pt, b->ou, b->t_start, b->zt, B, per, b->x0u));
    LCMD_TRY(lcmd_predicted_noise(ns, pt, b->ou, b->t_start, b->zt, B, per, b->eu));
    for (size_t i = 0; i < n; i++) {
        size_t k = i / (size_t)per;
        float w = b->w[k];
        float x0g = b->x0c[i] + w * (b->x0c[i] - b->x0u[i]);
        float eg = b->ec[i] + w * (b->ec[i] - b->eu[i]);
        double ap = tr->alpha_prev[b->idx[k]];
        b->xprev[i] = sqrt(ap) * (double)x0g + sqrt(1.0 - ap) * (double)eg;
        b->xpf[i] = (float)b->xprev[i];
    }

    /* an overflow makes the loss non-finite: the step is skipped */
    if (!all_finite(b->xpf, n)) return LCMD_OK;

    /* target at t_end; loss on float32 copies; dL/do of the student */
    LCMD_TRY(unet_run(tm, in, b->xpf, b->ts_end, in->cond_embeds, b->ew, b->ot));
    if (!all_finite(b->ot, n)) return LCMD_OK;
    double acc = 0.0, c = tr->o.huber_c;
    double scale = 1.0 / ((double)n * (double)tr->o.gradient_accumulation_steps);
    for (size_t i = 0; i < n; i++) {
        size_t k = i / (size_t)per;
        int64_t te_ = b->t_end[k], ts_ = b->t_start[k];
        double x0t = x0_f64(pt, (double)b->ot[i], b->xprev[i], tr->alpha[te_], tr->sigma[te_]);
        float y = (float)((double)b->cs_e[k] * b->xprev[i] + (double)b->co_e[k] * x0t);
        float d = b->f[i] - y;
        double dd = (double)d, dl;
        if (tr->o.loss_type == LCMD_LOSS_L2) {
            acc += dd * dd;
            dl = 2.0 * dd;
        } else {
            double r = sqrt(dd * dd + c * c);
            acc += r - c;
            dl = r > 0 ? dd / r : 0.0;
        }
        b->dout[i] = (float)(dl * scale) * b->co_s[k] * dx0_do(pt, tr->alpha[ts_], tr->sigma[ts_]);
    }
    *loss = acc / (double)n;
    if (!isfinite(*loss)) return LCMD_OK;
    return lcmd_unet_model_backward(sm, sm->be, b->dout, tr->grad, NULL);
}

lcmd_status lcmd_trainer_step_latents(lcmd_trainer *tr, const lcmd_step_inputs *in, lcmd_step_report *report)
{
    LCMD_CHECK_ARG(tr && in, "lcmd_trainer_step_latents", "tr or in is NULL");
    LCMD_CHECK_ARG(!report || (report->struct_size >= STEP_REPORT_V1 && report->struct_size <= sizeof *report),
                   "lcmd_trainer_step_latents", "report.struct_size = %u (call lcmd_step_report_init)",
                   report ? report->struct_size : 0u);
    LCMD_TRY(check_inputs(tr, in));
    int64_t per = in->channels * in->height * in->width;
    size_t n = (size_t)(in->batch * per);
    step_buf b;
    LCMD_TRY(buf_alloc(&b, n, (size_t)in->batch, (size_t)lcmd_unet_model_of(tr->student)->cfg.time_cond_proj_dim));
    draw(tr, in, &b, n);
    lcmd_step_report r;
    lcmd_step_report_init(&r);
    double loss = NAN;
    lcmd_status s = compute(tr, in, &b, per, &loss);
    free(b.block);
    if (s) return s;
    lcmd_unet_model *sm = lcmd_unet_model_of(tr->student);
    tr->micro++;
    tr->samples += in->batch;
    r.loss = loss;
    if (!isfinite(loss)) tr->accum_bad = 1;
    if (++tr->accum >= tr->o.gradient_accumulation_steps) {
        r.optimizer_stepped = 1;
        s = lcmd_train_apply(tr, &r);
        tr->accum = 0;
        tr->accum_bad = 0;
        lcmd_status z = lcmd_op_zero(sm->be, tr->grad, tr->total * sizeof(float));
        if (!s) s = z;
        if (s) return s;
    } else {
        r.lr = tr->o.learning_rate * lcmd_lr_multiplier(tr->o.lr_scheduler, tr->step, tr->o.lr_warmup_steps,
                                                        tr->o.max_train_steps, tr->o.learning_rate);
    }
    r.step = tr->step;
    r.micro_steps = tr->micro;
    r.samples_seen = tr->samples;
    if (report) memcpy((char *)report + sizeof r.struct_size, (const char *)&r + sizeof r.struct_size,
                       report->struct_size - sizeof r.struct_size);
    return LCMD_OK;
}
