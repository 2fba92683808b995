/* Optimizer side of a training step (spec §7.2–§7.6): global-norm clipping, torch
 * AdamW, the diffusers LR schedules and the EMA of the target. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "ops/op_calls.h"
#include "train/train_internal.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

double lcmd_lr_multiplier(lcmd_lr_schedule sched, int64_t s, int64_t warmup, int64_t total, double base_lr)
{
    double w = (double)(warmup > 1 ? warmup : 1);
    if (sched == LCMD_LR_CONSTANT) return 1.0;
    if (sched < LCMD_LR_CONSTANT || sched > LCMD_LR_POLYNOMIAL) return NAN;
    if (s < warmup) return (double)s / w;
    if (sched == LCMD_LR_CONSTANT_WITH_WARMUP) return 1.0;
    double span = (double)(total - warmup > 1 ? total - warmup : 1);
    double q = (double)(s - warmup) / span;
    switch (sched) {
    case LCMD_LR_LINEAR: {
        double f = (double)(total - s) / span;
        return f > 0 ? f : 0.0;
    }
    case LCMD_LR_COSINE: {
        double f = 0.5 * (1.0 + cos(M_PI * 2.0 * 0.5 * q));
        return f > 0 ? f : 0.0;
    }
    case LCMD_LR_COSINE_WITH_RESTARTS: {
        if (q >= 1.0) return 0.0;
        double f = 0.5 * (1.0 + cos(M_PI * fmod(1.0 * q, 1.0)));
        return f > 0 ? f : 0.0;
    }
    case LCMD_LR_POLYNOMIAL: {
        const double end = 1e-7;
        if (!(base_lr > end)) return NAN;   /* diffusers refuses lr_end >= lr */
        if (s > total) return end / base_lr;
        double decay = (base_lr - end) * (1.0 - (double)(s - warmup) / (double)(total - warmup)) + end;
        return decay / base_lr;
    }
    default:
        return NAN;
    }
}

/* the norm sums fixed blocks in double, then the blocks in order: the same value for
 * any thread count */
#define NORM_BLOCK ((size_t)1 << 16)

double lcmd_train_grad_norm(const float *g, size_t n, int threads)
{
    size_t nb = (n + NORM_BLOCK - 1) / NORM_BLOCK;
    double *part = malloc((nb ? nb : 1) * sizeof *part);
    if (!part) {   /* out of memory: the same blocks, one thread */
        double acc = 0.0;
        for (size_t b = 0; b < nb; b++) {
            double blk = 0.0;
            for (size_t i = b * NORM_BLOCK; i < n && i < (b + 1) * NORM_BLOCK; i++) blk += (double)g[i] * (double)g[i];
            acc += blk;
        }
        return sqrt(acc);
    }
#pragma omp parallel for num_threads(threads) schedule(static)
    for (size_t b = 0; b < nb; b++) {
        double blk = 0.0;
        size_t end = (b + 1) * NORM_BLOCK < n ? (b + 1) * NORM_BLOCK : n;
        for (size_t i = b * NORM_BLOCK; i < end; i++) blk += (double)g[i] * (double)g[i];
        part[b] = blk;
    }
    double acc = 0.0;
    for (size_t b = 0; b < nb; b++) acc += part[b];
    free(part);
    return sqrt(acc);
}

void lcmd_train_clip(float *g, size_t n, double norm, double max_norm, int threads)
{
    /* torch.nn.utils.clip_grad_norm_: coef = max_norm / (norm + 1e-6), clamped to 1 */
    float coef = (float)(max_norm / ((double)(float)norm + 1e-6));
    if (coef >= 1.0f) return;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (size_t i = 0; i < n; i++) g[i] *= coef;
}

void lcmd_train_adamw(float *p, const float *g, float *m, float *v, size_t n, int64_t s, double lr,
                      const lcmd_trainer_options *o, int threads)
{
    /* torch.optim.AdamW (single-tensor): scalars in double, tensors in float */
    float decay = (float)(1.0 - lr * o->adam_weight_decay);
    float b1 = (float)o->adam_beta1, b2 = (float)o->adam_beta2;
    double bc1 = 1.0 - pow(o->adam_beta1, (double)s);
    double bc2 = 1.0 - pow(o->adam_beta2, (double)s);
    float step_size = (float)(lr / bc1);
    float bc2_sqrt = (float)sqrt(bc2);
    float eps = (float)o->adam_epsilon;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (size_t i = 0; i < n; i++) {
        float gi = g[i];
        float pi = p[i] * decay;
        m[i] = m[i] + (gi - m[i]) * (1.0f - b1);
        v[i] = v[i] * b2 + (1.0f - b2) * gi * gi;
        float denom = sqrtf(v[i]) / bc2_sqrt + eps;
        p[i] = pi - step_size * (m[i] / denom);
    }
}

void lcmd_train_ema(float *target, const float *p, size_t n, double mu, int threads)
{
    float a = (float)mu, b = (float)(1.0 - mu);
#pragma omp parallel for num_threads(threads) schedule(static)
    for (size_t i = 0; i < n; i++) target[i] = target[i] * a + p[i] * b;
}

/* host views of the three flat buffers; staged through host copies on a device */
static lcmd_status host_views(lcmd_trainer *tr, float **p, float **g, float **t)
{
    lcmd_unet_model *sm = lcmd_unet_model_of(tr->student), *tm = lcmd_unet_model_of(tr->target);
    if (sm->be->device < 0) {
        *p = sm->param_mem;
        *g = tr->grad;
        *t = tm->param_mem;
        return LCMD_OK;
    }
    size_t bytes = tr->total * sizeof(float);
    LCMD_TRY(lcmd_op_download(sm->be, tr->stage_p, sm->param_mem, bytes));
    LCMD_TRY(lcmd_op_download(sm->be, tr->stage_g, tr->grad, bytes));
    LCMD_TRY(lcmd_op_download(tm->be, tr->stage_t, tm->param_mem, bytes));
    *p = tr->stage_p;
    *g = tr->stage_g;
    *t = tr->stage_t;
    return LCMD_OK;
}

lcmd_status lcmd_train_apply(lcmd_trainer *tr, lcmd_step_report *r)
{
    lcmd_unet_model *sm = lcmd_unet_model_of(tr->student), *tm = lcmd_unet_model_of(tr->target);
    float *p, *g, *t;
    LCMD_TRY(host_views(tr, &p, &g, &t));
    int nt = (int)(tr->ctx->cpu->num_threads > 0 ? tr->ctx->cpu->num_threads : 1);
    double norm = lcmd_train_grad_norm(g, tr->total, nt);
    r->grad_norm = norm;
    double lr = tr->o.learning_rate *
                lcmd_lr_multiplier(tr->o.lr_scheduler, tr->step, tr->o.lr_warmup_steps, tr->o.max_train_steps,
                                   tr->o.learning_rate);
    r->lr = lr;
    if (!isfinite(norm) || tr->accum_bad) {
        r->skipped = 1;
        return LCMD_OK;
    }
    lcmd_train_clip(g, tr->total, norm, tr->o.max_grad_norm, nt);
    lcmd_train_adamw(p, g, tr->m, tr->v, tr->total, tr->step + 1, lr, &tr->o, nt);
    lcmd_train_ema(t, p, tr->total, tr->o.ema_decay, nt);
    if (sm->be->device >= 0) {
        size_t bytes = tr->total * sizeof(float);
        LCMD_TRY(lcmd_op_upload(sm->be, sm->param_mem, p, bytes));
        LCMD_TRY(lcmd_op_upload(tm->be, tm->param_mem, t, bytes));
    }
    tr->step++;
    return LCMD_OK;
}
