/* Schedulers against the reference numbers of the spec (section 14). */
#include "test_sched.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

double rel_err_f32(const float *a, const float *b, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(a[i]) || isnan(b[i])) return INFINITY;
        double d = (double)a[i] - (double)b[i];
        num += d * d;
        den += (double)b[i] * b[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

lcmd_safetensors *open_fixture(const char *path)
{
    lcmd_safetensors *st = NULL;
    lcmd_status s = lcmd_safetensors_open(path, &st);
    ck_assert_msg(s == LCMD_OK, "%s", lcmd_last_error());
    return st;
}

void load_config(const char *name, lcmd_scheduler_config *cfg)
{
    char path[512];
    snprintf(path, sizeof path, FIXTURE("config_%s.json"), name);
    lcmd_scheduler_config_init(cfg);
    lcmd_status s = lcmd_scheduler_config_load(path, cfg);
    ck_assert_msg(s == LCMD_OK, "%s", lcmd_last_error());
}

static uint32_t bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

static lcmd_noise_schedule *sd15(void)
{
    lcmd_scheduler_config cfg;
    load_config("sd15", &cfg);
    lcmd_noise_schedule *s = NULL;
    ck_assert_int_eq(lcmd_noise_schedule_create(&cfg, &s), LCMD_OK);
    return s;
}

/* §14.1: ā as exact float32 bits; α, σ to the printed digits */
START_TEST(spec_schedule_values)
{
    static const struct { int t; uint32_t hex; double alpha, sigma; } rows[] = {
        {0, 0x3f7fc84b, 0.99957490, 0.029155133}, {1, 0x3f7f9054, 0.99914765, 0.041279264},
        {19, 0x3f7b7457, 0.99108219, 0.13325182}, {239, 0x3f31168d, 0.83171529, 0.55520237},
        {259, 0x3f28b29a, 0.81177288, 0.58397323}, {499, 0x3e8e2ab0, 0.52694350, 0.84990031},
        {759, 0x3d55dd2f, 0.22850139, 0.97354358}, {979, 0x3bc1bfe0, 0.076894514, 0.99703920},
        {999, 0x3b98b3b6, 0.068264887, 0.99766725},
    };
    lcmd_noise_schedule *s = sd15();
    double ac[1000];
    float al[1000], si[1000];
    ck_assert_int_eq(lcmd_noise_schedule_alphas_cumprod(s, ac, 1000), LCMD_OK);
    ck_assert_int_eq(lcmd_noise_schedule_alpha_sigma(s, al, si, 1000), LCMD_OK);
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        ck_assert_msg(bits((float)ac[rows[i].t]) == rows[i].hex, "ā[%d] = %08x, expected %08x",
                      rows[i].t, bits((float)ac[rows[i].t]), rows[i].hex);
        ck_assert_msg(fabs(al[rows[i].t] - rows[i].alpha) <= 1e-7 * rows[i].alpha + 1e-9, "alpha[%d]", rows[i].t);
        ck_assert_msg(fabs(si[rows[i].t] - rows[i].sigma) <= 1e-7 * rows[i].sigma + 1e-9, "sigma[%d]", rows[i].t);
    }
    double sum = 0;
    for (int t = 0; t < 1000; t++) sum += ac[t];
    ck_assert_msg(fabs(sum - 373.37647) < 1e-5, "sum %f", sum);
    lcmd_noise_schedule_destroy(s);
}
END_TEST

/* §14.2 and §14.3: the DDIM grid and the boundary scalings */
START_TEST(spec_ddim_grid_and_scalings)
{
    lcmd_noise_schedule *s = sd15();
    lcmd_ddim_solver *d = NULL;
    ck_assert_int_eq(lcmd_ddim_solver_create(s, 50, &d), LCMD_OK);
    int64_t ts[50];
    double at[50], prev[50];
    ck_assert_int_eq(lcmd_ddim_solver_timesteps(d, ts, 50), LCMD_OK);
    ck_assert_int_eq(lcmd_ddim_solver_alphas_cumprod(d, at, prev, 50), LCMD_OK);
    for (int n = 0; n < 50; n++) ck_assert_int_eq(ts[n], 20 * n + 19);
    ck_assert(fabs(prev[0] - 0.9991499781608582) < 1e-15);
    ck_assert(fabs(prev[1] - 0.9822439551353455) < 1e-15);
    ck_assert(fabs(prev[12] - 0.6917503476142883) < 1e-15);
    ck_assert(fabs(prev[24] - 0.3050956428050995) < 1e-15);
    ck_assert(fabs(prev[49] - 0.005912765860557556) < 1e-15);
    ck_assert(fabs(at[1] - 0.9628949) < 1e-7);
    int64_t t0, t1;
    ck_assert_int_eq(lcmd_ddim_solver_interval(d, 0, &t0, &t1), LCMD_OK);
    ck_assert(t0 == 19 && t1 == 0);
    ck_assert_int_eq(lcmd_ddim_solver_interval(d, 12, &t0, &t1), LCMD_OK);
    ck_assert(t0 == 259 && t1 == 239);

    static const struct { int64_t t; double c_skip, c_out; } rows[] = {
        {0, 1.0, 0.0}, {1, 2.4937657e-03, 0.99875236}, {19, 6.9251596e-06, 0.99999654},
        {39, 1.6436528e-06, 0.99999917}, {259, 3.726838e-08, 1.0}, {499, 1.0040121e-08, 1.0},
        {999, 2.5050075e-09, 1.0},
    };
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        float cs, co;
        ck_assert_int_eq(lcmd_boundary_scalings(&rows[i].t, 1, 10.0, &cs, &co), LCMD_OK);
        ck_assert_msg(fabs(cs - rows[i].c_skip) <= 1e-7 * rows[i].c_skip, "c_skip(%lld) = %.9g", (long long)rows[i].t, cs);
        ck_assert_msg(fabs(co - rows[i].c_out) <= 1e-7, "c_out(%lld) = %.9g", (long long)rows[i].t, co);
    }
    lcmd_ddim_solver_destroy(d);
    lcmd_noise_schedule_destroy(s);
}
END_TEST

/* §14.4: guidance embedding, w = 3, d = 256 (and the other listed points) */
START_TEST(spec_guidance_embedding)
{
    float w[3] = {3.0f, 6.5f, 0.0f}, e[3 * 256];
    ck_assert_int_eq(lcmd_guidance_scale_embedding(w, 3, 256, e), LCMD_OK);
    static const double sin0[4] = {0.2191900, 0.3898689, -0.0046041, 0.6270345};
    static const double cos0[4] = {-0.9756822, 0.9208704, 0.9999894, 0.7789915};
    static const double sin_lo[4] = {0.3643313, 0.3399160, 0.3170003, 0.2955202};
    static const double cos_lo[4] = {0.9312694, 0.9404558, 0.9484255, 0.9553365};
    static const double w65[8] = {-0.0447847, 0.7628611, -0.8710300, 0.9947659, -0.9989967, 0.6465625, 0.4912298, 0.1021800};
    for (int j = 0; j < 4; j++) {
        ck_assert_msg(fabs(e[j] - sin0[j]) < 1e-6, "sin[%d] %.7f", j, e[j]);
        ck_assert_msg(fabs(e[128 + j] - cos0[j]) < 1e-6, "cos[%d] %.7f", j, e[128 + j]);
        ck_assert(fabs(e[124 + j] - sin_lo[j]) < 1e-6);
        ck_assert(fabs(e[252 + j] - cos_lo[j]) < 1e-6);
        ck_assert(fabs(e[256 + j] - w65[j]) < 1e-6);
        ck_assert(fabs(e[256 + 128 + j] - w65[4 + j]) < 1e-6);
    }
    for (int j = 0; j < 128; j++) {
        ck_assert(e[512 + j] == 0.0f);
        ck_assert(e[512 + 128 + j] == 1.0f);
    }
}
END_TEST

/* §13.2: timesteps of the SD1.5 defaults */
START_TEST(spec_lcm_timesteps)
{
    static const int64_t want[][9] = {
        {1, 999}, {2, 999, 499}, {3, 999, 679, 339}, {4, 999, 759, 499, 259},
        {5, 999, 799, 599, 399, 199}, {6, 999, 839, 679, 499, 339, 179},
        {8, 999, 879, 759, 639, 499, 379, 259, 139},
    };
    lcmd_scheduler_config cfg;
    load_config("sd15", &cfg);
    lcmd_lcm_scheduler *s = NULL;
    ck_assert_int_eq(lcmd_lcm_scheduler_create(NULL, &cfg, &s), LCMD_OK);
    int64_t got[64];
    for (size_t r = 0; r < sizeof want / sizeof *want; r++) {
        int32_t n = (int32_t)want[r][0];
        ck_assert_int_eq(lcmd_lcm_scheduler_set_timesteps(s, n, 0, 1.0), LCMD_OK);
        ck_assert_int_eq(lcmd_lcm_scheduler_num_timesteps(s), n);
        ck_assert_int_eq(lcmd_lcm_scheduler_timesteps(s, got, 64), LCMD_OK);
        for (int32_t i = 0; i < n; i++) ck_assert_int_eq(got[i], want[r][1 + i]);
    }
    ck_assert_int_eq(lcmd_lcm_scheduler_set_timesteps(s, 10, 0, 1.0), LCMD_OK);
    lcmd_lcm_scheduler_timesteps(s, got, 64);
    for (int i = 0; i < 10; i++) ck_assert_int_eq(got[i], 999 - 100 * i);
    ck_assert_int_eq(lcmd_lcm_scheduler_set_timesteps(s, 50, 0, 1.0), LCMD_OK);
    lcmd_lcm_scheduler_timesteps(s, got, 64);
    for (int i = 0; i < 50; i++) ck_assert_int_eq(got[i], 999 - 20 * i);
    ck_assert_int_eq(lcmd_lcm_scheduler_set_timesteps(s, 4, 0, 0.5), LCMD_OK);
    lcmd_lcm_scheduler_timesteps(s, got, 64);
    ck_assert(got[0] == 499 && got[1] == 379 && got[2] == 259 && got[3] == 139);
    ck_assert_int_eq(lcmd_lcm_scheduler_set_timesteps(s, 4, 100, 1.0), LCMD_OK);
    lcmd_lcm_scheduler_timesteps(s, got, 64);
    ck_assert(got[0] == 999 && got[1] == 749 && got[2] == 499 && got[3] == 249);
    lcmd_lcm_scheduler_destroy(s);
}
END_TEST

/* §14.6: one training element through add_noise, x0, CFG, DDIM and the target */
START_TEST(spec_training_walkthrough)
{
    lcmd_noise_schedule *s = sd15();
    lcmd_ddim_solver *d = NULL;
    ck_assert_int_eq(lcmd_ddim_solver_create(s, 50, &d), LCMD_OK);
    int64_t n = 12, t_start, t_end;
    lcmd_ddim_solver_interval(d, n, &t_start, &t_end);
    float z0 = 0.5f, eps = -1.0f, zt, x0s, x0c, x0u, oc = 0.3f, ou = 0.1f, os = 0.2f, w = 7.0f;
    ck_assert_int_eq(lcmd_add_noise(s, &z0, &eps, &t_start, 1, 1, &zt), LCMD_OK);
    ck_assert_msg(fabs(zt - -0.178086799) < 2e-7, "z_t %.9f", zt);
    lcmd_predicted_origin(s, LCMD_PREDICT_EPSILON, &os, &t_start, &zt, 1, 1, &x0s);
    ck_assert_msg(fabs(x0s - -0.363256089) < 5e-7, "x0_s %.9f", x0s);
    lcmd_predicted_origin(s, LCMD_PREDICT_EPSILON, &oc, &t_start, &zt, 1, 1, &x0c);
    lcmd_predicted_origin(s, LCMD_PREDICT_EPSILON, &ou, &t_start, &zt, 1, 1, &x0u);
    ck_assert(fabs(x0c - -0.435194096) < 5e-7 && fabs(x0u - -0.291318081) < 5e-7);
    float gx0 = x0c + w * (x0c - x0u), geps = oc + w * (oc - ou), xprev, x0t, ot = 0.25f;
    ck_assert(fabs(gx0 - -1.442326199) < 2e-6 && fabs(geps - 1.7) < 1e-6);
    ck_assert_int_eq(lcmd_ddim_solver_step(d, &gx0, &geps, &n, 1, 1, &xprev), LCMD_OK);
    ck_assert_msg(fabs(xprev - -0.255760774) < 1e-6, "x_prev %.9f", xprev);
    lcmd_predicted_origin(s, LCMD_PREDICT_EPSILON, &ot, &t_end, &xprev, 1, 1, &x0t);
    ck_assert_msg(fabs(x0t - -0.474394736) < 2e-6, "x0_t %.9f", x0t);
    /* n = 0: the target is x_prev itself */
    n = 0;
    lcmd_ddim_solver_interval(d, n, &t_start, &t_end);
    ck_assert_int_eq(lcmd_add_noise(s, &z0, &eps, &t_start, 1, 1, &zt), LCMD_OK);
    ck_assert_msg(fabs(zt - 0.362289297) < 2e-7, "z_t(19) %.9f", zt);
    float cs, co;
    lcmd_boundary_scalings(&t_end, 1, 10.0, &cs, &co);
    ck_assert(cs == 1.0f && co == 0.0f);
    lcmd_ddim_solver_destroy(d);
    lcmd_noise_schedule_destroy(s);
}
END_TEST

/* §14.7: the 4-step sampler with output 0.9 and z = 0.5 */
START_TEST(spec_lcm_walkthrough)
{
    lcmd_scheduler_config cfg;
    load_config("sd15", &cfg);
    lcmd_lcm_scheduler *s = NULL;
    ck_assert_int_eq(lcmd_lcm_scheduler_create(NULL, &cfg, &s), LCMD_OK);
    ck_assert_int_eq(lcmd_lcm_scheduler_set_timesteps(s, 4, 0, 1.0), LCMD_OK);
    float x = 1.0f, o = 0.9f, z = 0.5f, prev, den;
    ck_assert_int_eq(lcmd_lcm_scheduler_step(s, &o, 999, &x, 1, 1, &z, &prev, &den), LCMD_OK);
    ck_assert_msg(fabs(den - 1.495636966) < 1e-6 && fabs(prev - 0.828526934) < 1e-6, "%.9f %.9f", den, prev);
    x = prev;
    ck_assert_int_eq(lcmd_lcm_scheduler_step(s, &o, 759, &x, 1, 1, &z, &prev, &den), LCMD_OK);
    ck_assert_msg(fabs(den - -0.208586426) < 1e-6 && fabs(prev - 0.315036908) < 1e-6, "%.9f %.9f", den, prev);
    ck_assert_int_eq(lcmd_lcm_scheduler_step_index(s), 2);
    lcmd_lcm_scheduler_destroy(s);
}
END_TEST

TCase *sched_reference_numbers_tcase(void)
{
    TCase *t = tcase_create("reference_numbers");
    tcase_add_test(t, spec_schedule_values);
    tcase_add_test(t, spec_ddim_grid_and_scalings);
    tcase_add_test(t, spec_guidance_embedding);
    tcase_add_test(t, spec_lcm_timesteps);
    tcase_add_test(t, spec_training_walkthrough);
    tcase_add_test(t, spec_lcm_walkthrough);
    return t;
}

int main(void)
{
    Suite *suite = suite_create("sched");
    suite_add_tcase(suite, sched_reference_numbers_tcase());
    suite_add_tcase(suite, sched_fixture_tcase());
    suite_add_tcase(suite, sched_error_tcase());
    SRunner *sr = srunner_create(suite);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
