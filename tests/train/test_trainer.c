/* lcmd_trainer against the script's step composed in PyTorch (tests/reference/
 * gen_trainer.py): per-step losses and grad norms, final student and target weights
 * after 3 AdamW steps with injected draws; the LR schedules against spec §7.6; the
 * AdamW formula; gradient accumulation; drawn inputs; refused arguments. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lcmd/lcmd.h>

#include "io/safetensors.h"
#include "models/unet.h"
#include "ops/op_calls.h"
#include "train/train_internal.h"

#include "train_util.h"

static lcmd_context *new_ctx(void) { return new_ctx_on(NULL); }

static const struct { const char *file, *teacher, *sched; lcmd_loss_type loss; double huber_c; } CASES[] = {
    {"trainer_l2_eps.safetensors", "sd15", "config_sd15.json", LCMD_LOSS_L2, 0.001},
    {"trainer_huber_eps.safetensors", "sd15", "config_sd15.json", LCMD_LOSS_HUBER, 0.05},
    {"trainer_l2_v.safetensors", "sd2", "config_sd2_v.json", LCMD_LOSS_L2, 0.001},
};

START_TEST(test_parity)
{
    char path[512];
    snprintf(path, sizeof path, "%s/train/%s", fixtures(), CASES[_i].file);
    lcmd_safetensors *st = NULL;
    ck_assert_msg(lcmd_safetensors_open(path, &st) == LCMD_OK, "%s", lcmd_last_error());
    lcmd_context *ctx = new_ctx_on(getenv("LCMD_TEST_DEVICE"));
    lcmd_unet *teacher = load_teacher(ctx, CASES[_i].teacher);
    lcmd_scheduler_config sc;
    load_sched(CASES[_i].sched, &sc);
    lcmd_trainer_options o;
    lcmd_trainer_options_init(&o);
    o.loss_type = CASES[_i].loss;
    o.huber_c = CASES[_i].huber_c;
    lcmd_trainer *tr = NULL;
    ck_assert_msg(lcmd_trainer_create(ctx, teacher, &sc, &o, &tr) == LCMD_OK, "%s", lcmd_last_error());
    size_t n;
    float *cp = read_f32(st, "init.cond_proj", &n);
    ck_assert_msg(lcmd_trainer_set_param(tr, "time_embedding.cond_proj.weight", cp, n) == LCMD_OK, "%s",
                  lcmd_last_error());
    free(cp);
    float *init = params_host(lcmd_trainer_student(tr));
    const lcmd_st_tensor *zt = lcmd_safetensors_find(st, "z0");
    const lcmd_st_tensor *ct = lcmd_safetensors_find(st, "cond");
    ck_assert(zt && ct && zt->ndim == 4 && ct->ndim == 3);
    float *z0 = read_f32(st, "z0", NULL), *cond = read_f32(st, "cond", NULL), *uncond = read_f32(st, "uncond", NULL);
    double loss_ref[3], norm_ref[3];
    ck_assert(lcmd_safetensors_read_f64(st, "loss", loss_ref, 3) == LCMD_OK);
    ck_assert(lcmd_safetensors_read_f64(st, "grad_norm", norm_ref, 3) == LCMD_OK);
    for (int s = 0; s < 3; s++) {
        char k1[32], k2[32], k3[32];
        snprintf(k1, sizeof k1, "step%d.noise", s);
        snprintf(k2, sizeof k2, "step%d.index", s);
        snprintf(k3, sizeof k3, "step%d.w", s);
        int64_t idx[8];
        ck_assert(lcmd_safetensors_read_i64(st, k2, idx, (size_t)zt->shape[0]) == LCMD_OK);
        float *noise = read_f32(st, k1, NULL), *w = read_f32(st, k3, NULL);
        lcmd_step_inputs in;
        lcmd_step_inputs_init(&in);
        in.batch = zt->shape[0];
        in.channels = zt->shape[1];
        in.height = zt->shape[2];
        in.width = zt->shape[3];
        in.latents = z0;
        in.seq_len = ct->shape[1];
        in.embed_dim = ct->shape[2];
        in.cond_embeds = cond;
        in.uncond_embeds = uncond;
        in.noise = noise;
        in.ddim_indices = idx;
        in.guidance = w;
        lcmd_step_report r;
        lcmd_step_report_init(&r);
        ck_assert_msg(lcmd_trainer_step_latents(tr, &in, &r) == LCMD_OK, "%s", lcmd_last_error());
        free(noise);
        free(w);
        double el = fabs(r.loss - loss_ref[s]) / fabs(loss_ref[s]);
        double en = fabs(r.grad_norm - norm_ref[s]) / fabs(norm_ref[s]);
        printf("# %s step %d: loss %.9g (ref %.9g, rel %.2g) grad norm %.7g (ref %.7g, rel %.2g)\n",
               CASES[_i].file, s, r.loss, loss_ref[s], el, r.grad_norm, norm_ref[s], en);
        ck_assert_msg(el <= TOL, "step %d loss %g vs %g", s, r.loss, loss_ref[s]);
        ck_assert_msg(en <= TOL, "step %d grad norm %g vs %g", s, r.grad_norm, norm_ref[s]);
        ck_assert_int_eq(r.step, s + 1);
        ck_assert_int_eq(r.optimizer_stepped, 1);
        ck_assert_int_eq(r.skipped, 0);
        ck_assert(fabs(r.lr - 1e-4) < 1e-15);
    }
    compare_model(lcmd_trainer_student(tr), st, "student", init, UPDATE_TOL);
    compare_model(lcmd_trainer_target(tr), st, "target", init, TARGET_UPDATE_TOL);
    free(init);
    free(z0);
    free(cond);
    free(uncond);
    lcmd_trainer_destroy(tr);
    lcmd_unet_destroy(teacher);
    lcmd_context_destroy(ctx);
    lcmd_safetensors_close(st);
}
END_TEST

START_TEST(test_lr_schedules)
{
    const double lr = 1e-4;
    /* W = 10, S = 110 */
    ck_assert(lcmd_lr_multiplier(LCMD_LR_CONSTANT, 3, 10, 110, lr) == 1.0);
    ck_assert(fabs(lcmd_lr_multiplier(LCMD_LR_CONSTANT_WITH_WARMUP, 0, 10, 110, lr) - 0.0) < 1e-15);
    ck_assert(fabs(lcmd_lr_multiplier(LCMD_LR_CONSTANT_WITH_WARMUP, 3, 10, 110, lr) - 0.3) < 1e-15);
    ck_assert(lcmd_lr_multiplier(LCMD_LR_CONSTANT_WITH_WARMUP, 50, 10, 110, lr) == 1.0);
    ck_assert(fabs(lcmd_lr_multiplier(LCMD_LR_LINEAR, 5, 10, 110, lr) - 0.5) < 1e-15);
    ck_assert(fabs(lcmd_lr_multiplier(LCMD_LR_LINEAR, 60, 10, 110, lr) - 0.5) < 1e-15);
    ck_assert(lcmd_lr_multiplier(LCMD_LR_LINEAR, 200, 10, 110, lr) == 0.0);
    ck_assert(fabs(lcmd_lr_multiplier(LCMD_LR_COSINE, 10, 10, 110, lr) - 1.0) < 1e-15);
    ck_assert(fabs(lcmd_lr_multiplier(LCMD_LR_COSINE, 60, 10, 110, lr) - 0.5) < 1e-12);
    ck_assert(fabs(lcmd_lr_multiplier(LCMD_LR_COSINE, 35, 10, 110, lr) - 0.5 * (1 + cos(M_PI * 0.25))) < 1e-12);
    ck_assert(fabs(lcmd_lr_multiplier(LCMD_LR_COSINE, 110, 10, 110, lr)) < 1e-12);
    ck_assert(fabs(lcmd_lr_multiplier(LCMD_LR_COSINE_WITH_RESTARTS, 60, 10, 110, lr) - 0.5) < 1e-12);
    ck_assert(lcmd_lr_multiplier(LCMD_LR_COSINE_WITH_RESTARTS, 110, 10, 110, lr) == 0.0);
    ck_assert(fabs(lcmd_lr_multiplier(LCMD_LR_POLYNOMIAL, 60, 10, 110, lr) -
                   ((lr - 1e-7) * 0.5 + 1e-7) / lr) < 1e-12);
    ck_assert(fabs(lcmd_lr_multiplier(LCMD_LR_POLYNOMIAL, 200, 10, 110, lr) - 1e-7 / lr) < 1e-15);
    ck_assert(fabs(lcmd_lr_multiplier(LCMD_LR_POLYNOMIAL, 4, 10, 110, lr) - 0.4) < 1e-15);
    /* W = 0: warmup degenerates, f(0) = 1 */
    ck_assert(lcmd_lr_multiplier(LCMD_LR_LINEAR, 0, 0, 100, lr) == 1.0);
    ck_assert(isnan(lcmd_lr_multiplier((lcmd_lr_schedule)99, 0, 0, 100, lr)));
}
END_TEST

START_TEST(test_adamw_formula)
{
    lcmd_trainer_options o;
    lcmd_trainer_options_init(&o);
    float p[2] = {0.5f, -2.0f}, g[2] = {0.1f, 3.0f}, m[2] = {0}, v[2] = {0};
    double lr = 1e-3;
    double pe[2] = {0.5, -2.0}, me[2] = {0}, ve[2] = {0};
    for (int s = 1; s <= 3; s++) {
        lcmd_train_adamw(p, g, m, v, 2, s, lr, &o, 2);
        for (int i = 0; i < 2; i++) {   /* §7.3 in double */
            pe[i] *= 1 - lr * o.adam_weight_decay;
            me[i] = 0.9 * me[i] + 0.1 * g[i];
            ve[i] = 0.999 * ve[i] + 0.001 * (double)g[i] * g[i];
            pe[i] -= lr / (1 - pow(0.9, s)) * me[i] / (sqrt(ve[i]) / sqrt(1 - pow(0.999, s)) + 1e-8);
        }
    }
    for (int i = 0; i < 2; i++) ck_assert_msg(fabs(p[i] - pe[i]) < 1e-6, "%g vs %g", p[i], pe[i]);
    float gc[2] = {3.0f, 4.0f};
    double nrm = lcmd_train_grad_norm(gc, 2, 2);
    ck_assert(fabs(nrm - 5.0) < 1e-12);
    lcmd_train_clip(gc, 2, nrm, 1.0, 2);
    ck_assert(fabs(gc[0] - 0.6f) < 1e-6 && fabs(gc[1] - 0.8f) < 1e-6);
    float t[1] = {1.0f}, q[1] = {0.0f};
    lcmd_train_ema(t, q, 1, 0.95, 2);
    ck_assert(fabs(t[0] - 0.95f) < 1e-7);
}
END_TEST

/* drawn inputs, accumulation and refusals on the tiny teacher */
typedef struct small {
    lcmd_context *ctx;
    lcmd_unet *teacher;
    lcmd_scheduler_config sc;
    float z0[2 * 4 * 8 * 8], cond[2 * 5 * 12], uncond[2 * 5 * 12];
    lcmd_step_inputs in;
} small;

static void small_init(small *s)
{
    s->ctx = new_ctx();
    s->teacher = load_teacher(s->ctx, "sd15");
    load_sched("config_sd15.json", &s->sc);
    for (size_t i = 0; i < sizeof s->z0 / sizeof s->z0[0]; i++) s->z0[i] = (float)sin(0.37 * (double)i);
    for (size_t i = 0; i < sizeof s->cond / sizeof s->cond[0]; i++) {
        s->cond[i] = (float)cos(0.11 * (double)i);
        s->uncond[i] = 0.1f * (float)sin(0.23 * (double)i);
    }
    lcmd_step_inputs_init(&s->in);
    s->in.batch = 2;
    s->in.channels = 4;
    s->in.height = 8;
    s->in.width = 8;
    s->in.latents = s->z0;
    s->in.seq_len = 5;
    s->in.embed_dim = 12;
    s->in.cond_embeds = s->cond;
    s->in.uncond_embeds = s->uncond;
}

static void small_free(small *s)
{
    lcmd_unet_destroy(s->teacher);
    lcmd_context_destroy(s->ctx);
}

START_TEST(test_drawn_deterministic)
{
    small s;
    small_init(&s);
    lcmd_trainer_options o;
    lcmd_trainer_options_init(&o);
    o.seed = 42;
    double loss[2][2];
    for (int k = 0; k < 2; k++) {
        lcmd_trainer *tr = NULL;
        ck_assert_msg(lcmd_trainer_create(s.ctx, s.teacher, &s.sc, &o, &tr) == LCMD_OK, "%s", lcmd_last_error());
        for (int j = 0; j < 2; j++) {
            lcmd_step_report r;
            lcmd_step_report_init(&r);
            ck_assert_msg(lcmd_trainer_step_latents(tr, &s.in, &r) == LCMD_OK, "%s", lcmd_last_error());
            ck_assert(isfinite(r.loss) && r.loss > 0);
            loss[k][j] = r.loss;
        }
        lcmd_trainer_destroy(tr);
    }
    ck_assert(loss[0][0] == loss[1][0] && loss[0][1] == loss[1][1]);
    ck_assert(loss[0][0] != loss[0][1]);   /* the second micro-step draws anew */
    small_free(&s);
}
END_TEST

/* G = 2 with the same micro-batch twice takes the same update as G = 1 once */
START_TEST(test_accumulation)
{
    small s;
    small_init(&s);
    float noise[2 * 4 * 8 * 8], w[2] = {6.0f, 9.5f};
    int64_t idx[2] = {3, 27};
    for (size_t i = 0; i < sizeof noise / sizeof noise[0]; i++) noise[i] = (float)cos(0.7 * (double)i + 1.0);
    s.in.noise = noise;
    s.in.ddim_indices = idx;
    s.in.guidance = w;
    lcmd_trainer *tr[2] = {NULL, NULL};
    for (int k = 0; k < 2; k++) {
        lcmd_trainer_options o;
        lcmd_trainer_options_init(&o);
        o.gradient_accumulation_steps = k + 1;
        ck_assert(lcmd_trainer_create(s.ctx, s.teacher, &s.sc, &o, &tr[k]) == LCMD_OK);
    }
    lcmd_step_report r;
    lcmd_step_report_init(&r);
    ck_assert(lcmd_trainer_step_latents(tr[0], &s.in, &r) == LCMD_OK);
    ck_assert_int_eq(r.step, 1);
    double n1 = r.grad_norm;
    ck_assert(lcmd_trainer_step_latents(tr[1], &s.in, &r) == LCMD_OK);
    ck_assert_int_eq(r.step, 0);
    ck_assert_int_eq(r.optimizer_stepped, 0);
    ck_assert(lcmd_trainer_step_latents(tr[1], &s.in, &r) == LCMD_OK);
    ck_assert_int_eq(r.step, 1);
    ck_assert(fabs(r.grad_norm - n1) <= 1e-5 * n1);
    lcmd_unet_model *a = lcmd_unet_model_of(lcmd_trainer_student(tr[0]));
    lcmd_unet_model *b = lcmd_unet_model_of(lcmd_trainer_student(tr[1]));
    double worst = 0;
    for (size_t i = 0; i < a->params.total; i++) {
        double d = fabs((double)a->param_mem[i] - b->param_mem[i]);
        if (d > worst) worst = d;
    }
    ck_assert_msg(worst < 1e-6, "accumulated update differs by %g", worst);
    lcmd_trainer_destroy(tr[0]);
    lcmd_trainer_destroy(tr[1]);
    small_free(&s);
}
END_TEST

/* a diverged student (NaN weights) makes the loss non-finite: skipped, state unchanged */
START_TEST(test_skip_nonfinite)
{
    small s;
    small_init(&s);
    lcmd_trainer *tr = NULL;
    ck_assert(lcmd_trainer_create(s.ctx, s.teacher, &s.sc, NULL, &tr) == LCMD_OK);
    lcmd_unet_model *sm = lcmd_unet_model_of(lcmd_trainer_student(tr));
    lcmd_unet_model *tm = lcmd_unet_model_of(lcmd_trainer_target(tr));
    const lcmd_param *cp = lcmd_param_set_find(&sm->params, "time_embedding.cond_proj.weight");
    ck_assert_ptr_nonnull(cp);
    size_t n = sm->params.total, nc = (size_t)cp->numel;
    float *saved = malloc(nc * sizeof *saved), *nan = malloc(nc * sizeof *nan);
    ck_assert(saved && nan);
    memcpy(saved, sm->param_mem + cp->offset, nc * sizeof *saved);
    for (size_t i = 0; i < nc; i++) nan[i] = i == 7 ? NAN : saved[i];
    ck_assert(lcmd_trainer_set_param(tr, cp->name, nan, nc) == LCMD_OK);
    float *p0 = malloc(n * sizeof *p0), *t0 = malloc(n * sizeof *t0);
    ck_assert(p0 && t0);
    memcpy(p0, sm->param_mem, n * sizeof *p0);
    memcpy(t0, tm->param_mem, n * sizeof *t0);
    lcmd_step_report r;
    lcmd_step_report_init(&r);
    ck_assert_msg(lcmd_trainer_step_latents(tr, &s.in, &r) == LCMD_OK, "%s", lcmd_last_error());
    ck_assert_int_eq(r.skipped, 1);
    ck_assert_int_eq(r.optimizer_stepped, 1);
    ck_assert_int_eq(r.step, 0);
    ck_assert(!isfinite(r.loss));
    ck_assert(memcmp(p0, sm->param_mem, n * sizeof *p0) == 0);
    ck_assert(memcmp(t0, tm->param_mem, n * sizeof *t0) == 0);
    for (size_t i = 0; i < n; i++) ck_assert(tr->m[i] == 0.0f && tr->v[i] == 0.0f && tr->grad[i] == 0.0f);
    /* repaired, the next step is the first optimizer step */
    ck_assert(lcmd_trainer_set_param(tr, cp->name, saved, nc) == LCMD_OK);
    ck_assert(lcmd_trainer_step_latents(tr, &s.in, &r) == LCMD_OK);
    ck_assert_int_eq(r.skipped, 0);
    ck_assert_int_eq(r.step, 1);
    ck_assert(isfinite(r.loss));
    /* w whose embedding overflows is refused */
    float w[2] = {3e38f, 6.0f};
    s.in.guidance = w;
    ck_assert_int_eq(lcmd_trainer_step_latents(tr, &s.in, &r), LCMD_ERR_NUMERIC);
    free(saved);
    free(nan);
    free(p0);
    free(t0);
    lcmd_trainer_destroy(tr);
    small_free(&s);
}
END_TEST

START_TEST(test_refused)
{
    small s;
    small_init(&s);
    lcmd_trainer *tr = NULL;
    lcmd_trainer_options o;
    lcmd_trainer_options_init(&o);
    ck_assert_int_eq(lcmd_trainer_create(NULL, s.teacher, &s.sc, &o, &tr), LCMD_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(lcmd_trainer_create(s.ctx, s.teacher, &s.sc, &o, NULL), LCMD_ERR_INVALID_ARGUMENT);
    o.lr_scheduler = LCMD_LR_COSINE;   /* needs max_train_steps */
    ck_assert_int_eq(lcmd_trainer_create(s.ctx, s.teacher, &s.sc, &o, &tr), LCMD_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null(tr);
    lcmd_trainer_options_init(&o);
    o.struct_size = 3;
    ck_assert_int_eq(lcmd_trainer_create(s.ctx, s.teacher, &s.sc, &o, &tr), LCMD_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(lcmd_trainer_create(s.ctx, s.teacher, &s.sc, NULL, &tr), LCMD_OK);
    int64_t bad[2] = {0, 50};
    s.in.ddim_indices = bad;
    ck_assert_int_eq(lcmd_trainer_step_latents(tr, &s.in, NULL), LCMD_ERR_INVALID_ARGUMENT);
    s.in.ddim_indices = NULL;
    s.in.embed_dim = 13;
    ck_assert_int_eq(lcmd_trainer_step_latents(tr, &s.in, NULL), LCMD_ERR_INVALID_ARGUMENT);
    s.in.embed_dim = 12;
    s.z0[5] = NAN;
    ck_assert_int_eq(lcmd_trainer_step_latents(tr, &s.in, NULL), LCMD_ERR_NUMERIC);
    s.z0[5] = 0.0f;
    ck_assert_int_eq(lcmd_trainer_step_latents(tr, NULL, NULL), LCMD_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(lcmd_trainer_step_latents(tr, &s.in, NULL), LCMD_OK);
    ck_assert_int_eq(lcmd_trainer_set_param(tr, "time_embedding.cond_proj.weight", s.z0, 8), LCMD_ERR_INVALID_ARGUMENT);
    lcmd_trainer_destroy(tr);
    lcmd_trainer_destroy(NULL);
    small_free(&s);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("trainer");
    TCase *tp = tcase_create("parity");
    tcase_set_timeout(tp, 240);
    tcase_add_loop_test(tp, test_parity, 0, (int)(sizeof CASES / sizeof CASES[0]));
    suite_add_tcase(s, tp);
    TCase *tc = tcase_create("trainer");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, test_lr_schedules);
    tcase_add_test(tc, test_adamw_formula);
    tcase_add_test(tc, test_drawn_deterministic);
    tcase_add_test(tc, test_accumulation);
    tcase_add_test(tc, test_skip_nonfinite);
    tcase_add_test(tc, test_refused);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
