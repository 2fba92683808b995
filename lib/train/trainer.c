/* lcmd_trainer: options, creation (student, target, moments, solver), accessors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "ops/op_calls.h"
#include "train/train_internal.h"

#define FN "lcmd_trainer_create"

#define TRAINER_OPTIONS_V1 (offsetof(lcmd_trainer_options, seed) + sizeof(uint64_t))

lcmd_status lcmd_trainer_options_init(lcmd_trainer_options *o)
{
    LCMD_CHECK_ARG(o, "lcmd_trainer_options_init", "o is NULL");
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->learning_rate = 1e-4;
    o->adam_beta1 = 0.9;
    o->adam_beta2 = 0.999;
    o->adam_weight_decay = 1e-2;
    o->adam_epsilon = 1e-8;
    o->max_grad_norm = 1.0;
    o->w_min = 5.0;
    o->w_max = 15.0;
    o->num_ddim_timesteps = 50;
    o->loss_type = LCMD_LOSS_L2;
    o->huber_c = 0.001;
    o->ema_decay = 0.95;
    o->timestep_scaling_factor = 10.0;
    o->unet_time_cond_proj_dim = 256;
    o->lr_scheduler = LCMD_LR_CONSTANT;
    o->lr_warmup_steps = 500;
    o->max_train_steps = 0;
    o->gradient_accumulation_steps = 1;
    o->seed = 0;
    return LCMD_OK;
}

static lcmd_status check_options(const lcmd_trainer_options *o)
{
    LCMD_CHECK_ARG(isfinite(o->learning_rate) && o->learning_rate >= 0, FN, "learning_rate = %g", o->learning_rate);
    LCMD_CHECK_ARG(o->adam_beta1 >= 0 && o->adam_beta1 < 1 && o->adam_beta2 >= 0 && o->adam_beta2 < 1, FN,
                   "adam betas (%g, %g) must lie in [0, 1)", o->adam_beta1, o->adam_beta2);
    LCMD_CHECK_ARG(isfinite(o->adam_weight_decay) && o->adam_weight_decay >= 0, FN, "adam_weight_decay = %g",
                   o->adam_weight_decay);
    LCMD_CHECK_ARG(isfinite(o->adam_epsilon) && o->adam_epsilon >= 0, FN, "adam_epsilon = %g", o->adam_epsilon);
    LCMD_CHECK_ARG(o->max_grad_norm > 0 && isfinite(o->max_grad_norm), FN, "max_grad_norm = %g", o->max_grad_norm);
    LCMD_CHECK_ARG(isfinite(o->w_min) && isfinite(o->w_max) && o->w_min <= o->w_max, FN, "w range [%g, %g)",
                   o->w_min, o->w_max);
    LCMD_CHECK_ARG(o->num_ddim_timesteps >= 1, FN, "num_ddim_timesteps = %d", o->num_ddim_timesteps);
    LCMD_CHECK_ARG(o->loss_type == LCMD_LOSS_L2 || o->loss_type == LCMD_LOSS_HUBER, FN, "loss_type = %d",
                   (int)o->loss_type);
    LCMD_CHECK_ARG(isfinite(o->huber_c) && o->huber_c >= 0, FN, "huber_c = %g", o->huber_c);
    LCMD_CHECK_ARG(o->ema_decay >= 0 && o->ema_decay <= 1, FN, "ema_decay = %g", o->ema_decay);
    LCMD_CHECK_ARG(isfinite(o->timestep_scaling_factor), FN, "timestep_scaling_factor = %g",
                   o->timestep_scaling_factor);
    LCMD_CHECK_ARG(o->lr_scheduler >= LCMD_LR_CONSTANT && o->lr_scheduler <= LCMD_LR_POLYNOMIAL, FN,
                   "lr_scheduler = %d", (int)o->lr_scheduler);
    LCMD_CHECK_ARG(o->lr_warmup_steps >= 0, FN, "lr_warmup_steps = %lld", (long long)o->lr_warmup_steps);
    int decays = o->lr_scheduler != LCMD_LR_CONSTANT && o->lr_scheduler != LCMD_LR_CONSTANT_WITH_WARMUP;
    LCMD_CHECK_ARG(!decays || o->max_train_steps > o->lr_warmup_steps, FN,
                   "lr_scheduler %d needs max_train_steps (%lld) > lr_warmup_steps (%lld)", (int)o->lr_scheduler,
                   (long long)o->max_train_steps, (long long)o->lr_warmup_steps);
    LCMD_CHECK_ARG(o->lr_scheduler != LCMD_LR_POLYNOMIAL || o->learning_rate > 1e-7, FN,
                   "polynomial schedule needs learning_rate > 1e-7 (its end value)");
    LCMD_CHECK_ARG(o->gradient_checkpointing == 0 || o->gradient_checkpointing == 1, FN,
                   "gradient_checkpointing = %d (0 or 1)", o->gradient_checkpointing);
    LCMD_CHECK_ARG(o->gradient_accumulation_steps >= 1, FN, "gradient_accumulation_steps = %d",
                   o->gradient_accumulation_steps);
    return LCMD_OK;
}

/* the target: a model of the student's config holding a copy of its parameters */
static lcmd_status copy_student(lcmd_trainer *tr)
{
    lcmd_unet_model *sm = lcmd_unet_model_of(tr->student);
    LCMD_TRY(lcmd_unet_create_student(tr->ctx, tr->teacher, tr->o.unet_time_cond_proj_dim, &tr->target));
    lcmd_unet_model *tm = lcmd_unet_model_of(tr->target);
    if (tm->params.total != sm->params.total)
        return lcmd_set_error(LCMD_ERR_INTERNAL, "lcmd_trainer_create: target and student differ in size");
    float *host = malloc(tr->total * sizeof *host);
    if (!host) return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "lcmd_trainer_create: out of memory");
    lcmd_status s = lcmd_op_download(sm->be, host, sm->param_mem, tr->total * sizeof *host);
    if (!s) s = lcmd_op_upload(tm->be, tm->param_mem, host, tr->total * sizeof *host);
    free(host);
    return s;
}

static lcmd_status build(lcmd_trainer *tr, const lcmd_scheduler_config *sched)
{
    LCMD_TRY(lcmd_unet_create_student(tr->ctx, tr->teacher, tr->o.unet_time_cond_proj_dim, &tr->student));
    lcmd_unet_model *sm = lcmd_unet_model_of(tr->student);
    tr->total = sm->params.total;
    LCMD_TRY(copy_student(tr));
    LCMD_TRY(lcmd_noise_schedule_create(sched, &tr->sched));
    LCMD_TRY(lcmd_ddim_solver_create(tr->sched, tr->o.num_ddim_timesteps, &tr->solver));
    tr->pred = sched->prediction_type;
    tr->num_train_timesteps = lcmd_noise_schedule_num_timesteps(tr->sched);
    tr->n_ddim = lcmd_ddim_solver_num_timesteps(tr->solver);
    tr->skip = tr->num_train_timesteps / tr->n_ddim;
    size_t T = (size_t)tr->num_train_timesteps, N = (size_t)tr->n_ddim;
    tr->grid = malloc(N * sizeof *tr->grid);
    tr->alpha_prev = malloc(N * sizeof *tr->alpha_prev);
    double *at = malloc(N * sizeof *at);
    tr->alpha = malloc(T * sizeof *tr->alpha);
    tr->sigma = malloc(T * sizeof *tr->sigma);
    tr->m = calloc(tr->total ? tr->total : 1, sizeof *tr->m);
    tr->v = calloc(tr->total ? tr->total : 1, sizeof *tr->v);
    int staged = sm->be->device >= 0;
    if (staged) {
        tr->stage_p = malloc(tr->total * sizeof(float));
        tr->stage_g = malloc(tr->total * sizeof(float));
        tr->stage_t = malloc(tr->total * sizeof(float));
    }
    lcmd_status s = LCMD_OK;
    if (!tr->grid || !tr->alpha_prev || !at || !tr->alpha || !tr->sigma || !tr->m || !tr->v ||
        (staged && (!tr->stage_p || !tr->stage_g || !tr->stage_t)))
        s = lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "lcmd_trainer_create: out of memory");
    if (!s) s = lcmd_ddim_solver_timesteps(tr->solver, tr->grid, N);
    if (!s) s = lcmd_ddim_solver_alphas_cumprod(tr->solver, at, tr->alpha_prev, N);
    if (!s) s = lcmd_noise_schedule_alpha_sigma(tr->sched, tr->alpha, tr->sigma, T);
    free(at);
    if (!s) s = lcmd_op_alloc(sm->be, tr->total * sizeof(float), (void **)&tr->grad);
    if (!s) s = lcmd_op_zero(sm->be, tr->grad, tr->total * sizeof(float));
    return s;
}

lcmd_status lcmd_trainer_create(lcmd_context *ctx, const lcmd_unet *teacher, const lcmd_scheduler_config *sched,
                                const lcmd_trainer_options *opts, lcmd_trainer **out)
{
    LCMD_CHECK_ARG(out, "lcmd_trainer_create", "out is NULL");
    *out = NULL;
    LCMD_CHECK_ARG(ctx && teacher && sched, "lcmd_trainer_create", "ctx, teacher or sched is NULL");
    lcmd_trainer_options o;
    lcmd_trainer_options_init(&o);
    if (opts) {
        LCMD_CHECK_ARG(opts->struct_size >= TRAINER_OPTIONS_V1 && opts->struct_size <= sizeof o,
                       "lcmd_trainer_create", "opts.struct_size = %u (call lcmd_trainer_options_init)",
                       opts->struct_size);
        memcpy(&o, opts, opts->struct_size);
        o.struct_size = sizeof o;
    }
    LCMD_TRY(check_options(&o));
    const lcmd_unet_config *tc = &lcmd_unet_model_of(teacher)->cfg;
    if (tc->addition_embed_type == LCMD_UNET_ADD_TEXT_TIME)
        return lcmd_set_error(LCMD_ERR_UNSUPPORTED, "lcmd_trainer_create: SDXL teachers are not supported yet");
    if (tc->time_cond_proj_dim != 0)
        return lcmd_set_error(LCMD_ERR_UNSUPPORTED,
                              "lcmd_trainer_create: the teacher already has a guidance projection (an LCM?)");
    LCMD_CHECK_ARG(sched->prediction_type >= LCMD_PREDICT_EPSILON && sched->prediction_type <= LCMD_PREDICT_SAMPLE,
                   "lcmd_trainer_create", "prediction_type = %d", (int)sched->prediction_type);
    lcmd_trainer *tr = calloc(1, sizeof *tr);
    if (!tr) return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "lcmd_trainer_create: out of memory");
    tr->ctx = ctx;
    tr->teacher = teacher;
    tr->o = o;
    lcmd_status s = build(tr, sched);
    if (s) {
        lcmd_trainer_destroy(tr);
        return s;
    }
    *out = tr;
    return LCMD_OK;
}

void lcmd_trainer_destroy(lcmd_trainer *tr)
{
    if (!tr) return;
    if (tr->grad) lcmd_op_free(lcmd_unet_model_of(tr->student)->be, tr->grad);
    lcmd_unet_destroy(tr->student);
    lcmd_unet_destroy(tr->target);
    lcmd_ddim_solver_destroy(tr->solver);
    lcmd_noise_schedule_destroy(tr->sched);
    free(tr->grid);
    free(tr->alpha_prev);
    free(tr->alpha);
    free(tr->sigma);
    free(tr->m);
    free(tr->v);
    free(tr->stage_p);
    free(tr->stage_g);
    free(tr->stage_t);
    free(tr->uncond);
    free(tr);
}

lcmd_unet *lcmd_trainer_student(lcmd_trainer *tr) { return tr ? tr->student : NULL; }
lcmd_unet *lcmd_trainer_target(lcmd_trainer *tr) { return tr ? tr->target : NULL; }

lcmd_status lcmd_step_inputs_init(lcmd_step_inputs *in)
{
    LCMD_CHECK_ARG(in, "lcmd_step_inputs_init", "in is NULL");
    memset(in, 0, sizeof *in);
    in->struct_size = sizeof *in;
    return LCMD_OK;
}

lcmd_status lcmd_step_report_init(lcmd_step_report *r)
{
    LCMD_CHECK_ARG(r, "lcmd_step_report_init", "r is NULL");
    memset(r, 0, sizeof *r);
    r->struct_size = sizeof *r;
    return LCMD_OK;
}

lcmd_status lcmd_trainer_set_param(lcmd_trainer *tr, const char *name, const float *data, size_t n)
{
    LCMD_CHECK_ARG(tr && name && data, "lcmd_trainer_set_param", "tr, name or data is NULL");
    LCMD_CHECK_ARG(tr->step == 0 && tr->accum == 0, "lcmd_trainer_set_param", "only before the first step");
    lcmd_unet_model *sm = lcmd_unet_model_of(tr->student), *tm = lcmd_unet_model_of(tr->target);
    const lcmd_param *p = lcmd_param_set_find(&sm->params, name);
    LCMD_CHECK_ARG(p && p->layout == LCMD_PARAM_PLAIN && (size_t)p->numel == n, "lcmd_trainer_set_param",
                   "'%s': no plain parameter of %zu values", name, n);
    LCMD_TRY(lcmd_op_upload(sm->be, sm->param_mem + p->offset, data, n * sizeof *data));
    return lcmd_op_upload(tm->be, tm->param_mem + p->offset, data, n * sizeof *data);
}
