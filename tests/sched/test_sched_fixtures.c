/* Schedulers against the fixtures written by tests/reference/gen_scheduler.py. */
#include "test_sched.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOL 1e-6   /* floats within 1e-6 relative; integers exact */

static const char *const CONFIGS[] = {"sd15", "sd2_v", "linear", "cosine", "zero_snr_v", "t500",
                                      "lcm_sample", "lcm_clip", "lcm_threshold"};

static void expect_close(const lcmd_safetensors *st, const char *name, const float *got, size_t n)
{
    float *want = malloc(n * sizeof *want);
    ck_assert_msg(lcmd_safetensors_read_f32(st, name, want, n) == LCMD_OK, "%s", lcmd_last_error());
    double e = rel_err_f32(got, want, n);
    ck_assert_msg(e <= TOL, "%s: %s relative error %.3g", lcmd_safetensors_label(st), name, e);
    free(want);
}

START_TEST(schedules_match_diffusers)
{
    const char *name = CONFIGS[_i];
    lcmd_scheduler_config cfg;
    load_config(name, &cfg);
    lcmd_noise_schedule *s = NULL;
    ck_assert_int_eq(lcmd_noise_schedule_create(&cfg, &s), LCMD_OK);
    int32_t T = lcmd_noise_schedule_num_timesteps(s);
    double *b = malloc(T * sizeof *b), *ac = malloc(T * sizeof *ac);
    float *bf = malloc(T * sizeof *bf), *acf = malloc(T * sizeof *acf), *al = malloc(T * sizeof *al), *si = malloc(T * sizeof *si);
    lcmd_noise_schedule_betas(s, b, T);
    lcmd_noise_schedule_alphas_cumprod(s, ac, T);
    lcmd_noise_schedule_alpha_sigma(s, al, si, T);
    for (int32_t i = 0; i < T; i++) { bf[i] = (float)b[i]; acf[i] = (float)ac[i]; }
    char path[512];
    snprintf(path, sizeof path, FIXTURE("schedule_%s.safetensors"), name);
    lcmd_safetensors *st = open_fixture(path);
    expect_close(st, "betas", bf, T);
    expect_close(st, "alphas_cumprod", acf, T);
    expect_close(st, "alpha_schedule", al, T);
    expect_close(st, "sigma_schedule", si, T);
    /* elementwise too: every ā within 1e-6 relative. (Not all bit-identical: the
     * reference's float32 sqrt is not correctly rounded on every CPU, and the
     * zero-SNR rescaling goes through it.) */
    float *want = malloc(T * sizeof *want);
    lcmd_safetensors_read_f32(st, "alphas_cumprod", want, T);
    for (int32_t i = 0; i < T; i++)
        ck_assert_msg(fabs(acf[i] - want[i]) <= TOL * fabs(want[i]) + 1e-12, "%s ā[%d] %.9g vs %.9g", name, i, acf[i], want[i]);
    free(want); free(b); free(ac); free(bf); free(acf); free(al); free(si);
    lcmd_safetensors_close(st);
    lcmd_noise_schedule_destroy(s);
}
END_TEST

/* Every timestep case of diffusers, errors included: same list or both refuse. */
START_TEST(lcm_timesteps_match_diffusers)
{
    json_error_t jerr;
    json_t *cases = json_load_file(FIXTURE("lcm_timesteps.json"), 0, &jerr);
    ck_assert_msg(cases && json_is_array(cases), "%s", jerr.text);
    size_t i, checked = 0, refused = 0;
    json_t *c;
    char loaded[32] = "";
    lcmd_lcm_scheduler *s = NULL;
    json_array_foreach(cases, i, c) {
        const char *config = json_string_value(json_object_get(c, "config"));
        if (strcmp(config, loaded) != 0) {
            lcmd_lcm_scheduler_destroy(s);
            lcmd_scheduler_config cfg;
            load_config(config, &cfg);
            ck_assert_int_eq(lcmd_lcm_scheduler_create(NULL, &cfg, &s), LCMD_OK);
            snprintf(loaded, sizeof loaded, "%s", config);
        }
        int32_t original = (int32_t)json_integer_value(json_object_get(c, "original"));
        double strength = json_real_value(json_object_get(c, "strength"));
        json_t *custom = json_object_get(c, "custom");
        lcmd_status st;
        if (custom) {
            int64_t list[16];
            size_t n = json_array_size(custom);
            for (size_t k = 0; k < n; k++) list[k] = json_integer_value(json_array_get(custom, k));
            st = lcmd_lcm_scheduler_set_custom_timesteps(s, list, n, original, strength);
        } else {
            st = lcmd_lcm_scheduler_set_timesteps(s, (int32_t)json_integer_value(json_object_get(c, "n")), original, strength);
        }
        json_t *want = json_object_get(c, "timesteps");
        char *desc = json_dumps(c, JSON_COMPACT);
        if (!want) {
            ck_assert_msg(st == LCMD_ERR_INVALID_ARGUMENT, "case %zu %s: diffusers raises, liblcmd gave %d", i, desc, st);
            refused++;
        } else if (json_array_size(want) == 0) {
            /* diffusers leaves an empty schedule (strength keeps nothing); liblcmd refuses */
            ck_assert_msg(st == LCMD_ERR_INVALID_ARGUMENT, "case %zu %s", i, desc);
        } else {
            ck_assert_msg(st == LCMD_OK, "case %zu %s: %s", i, desc, lcmd_last_error());
            int64_t got[1024];
            size_t n = json_array_size(want);
            ck_assert_int_eq(lcmd_lcm_scheduler_num_timesteps(s), (int32_t)n);
            lcmd_lcm_scheduler_timesteps(s, got, 1024);
            for (size_t k = 0; k < n; k++)
                ck_assert_msg(got[k] == json_integer_value(json_array_get(want, k)), "case %zu %s: [%zu] = %lld",
                              i, desc, k, (long long)got[k]);
            checked++;
        }
        free(desc);
    }
    ck_assert_uint_ge(checked, 200);
    ck_assert_uint_ge(refused, 100);
    lcmd_lcm_scheduler_destroy(s);
    json_decref(cases);
}
END_TEST

/* Whole sampling runs with the reference's noise injected. */
START_TEST(lcm_runs_match_diffusers)
{
    static const struct { const char *config; int steps; } runs[] = {
        {"sd15", 4}, {"sd15", 1}, {"sd15", 8}, {"sd2_v", 4}, {"lcm_sample", 4},
        {"lcm_clip", 4}, {"lcm_threshold", 3}, {"zero_snr_v", 4}, {"t500", 4},
    };
    const size_t B = 2, P = 4 * 8 * 8, N = B * P;
    float x[2 * 256], out[2 * 256], z[2 * 256], prev[2 * 256], den[2 * 256];
    for (size_t r = 0; r < sizeof runs / sizeof *runs; r++) {
        char path[512], name[64];
        snprintf(path, sizeof path, FIXTURE("lcm_run_%s_%d.safetensors"), runs[r].config, runs[r].steps);
        lcmd_safetensors *st = open_fixture(path);
        lcmd_scheduler_config cfg;
        load_config(runs[r].config, &cfg);
        lcmd_lcm_scheduler *s = NULL;
        ck_assert_int_eq(lcmd_lcm_scheduler_create(NULL, &cfg, &s), LCMD_OK);
        ck_assert_int_eq(lcmd_lcm_scheduler_set_timesteps(s, runs[r].steps, 0, 1.0), LCMD_OK);
        int64_t want_ts[8], ts[8];
        ck_assert_int_eq(lcmd_safetensors_read_i64(st, "timesteps", want_ts, runs[r].steps), LCMD_OK);
        lcmd_lcm_scheduler_timesteps(s, ts, 8);
        ck_assert_int_eq(lcmd_safetensors_read_f32(st, "x_T", x, N), LCMD_OK);
        for (int i = 0; i < runs[r].steps; i++) {
            ck_assert_int_eq(ts[i], want_ts[i]);
            snprintf(name, sizeof name, "model_output_%d", i);
            ck_assert_int_eq(lcmd_safetensors_read_f32(st, name, out, N), LCMD_OK);
            snprintf(name, sizeof name, "noise_%d", i);
            ck_assert_int_eq(lcmd_safetensors_read_f32(st, name, z, N), LCMD_OK);
            ck_assert_msg(lcmd_lcm_scheduler_step(s, out, ts[i], x, B, P, z, prev, den) == LCMD_OK, "%s", lcmd_last_error());
            snprintf(name, sizeof name, "denoised_%d", i);
            expect_close(st, name, den, N);
            snprintf(name, sizeof name, "prev_%d", i);
            expect_close(st, name, prev, N);
            memcpy(x, prev, sizeof x);
        }
        /* every step taken: another is refused */
        ck_assert_int_eq(lcmd_lcm_scheduler_step(s, out, ts[0], x, B, P, z, prev, den), LCMD_ERR_INVALID_ARGUMENT);
        lcmd_lcm_scheduler_destroy(s);
        lcmd_safetensors_close(st);
    }
}
END_TEST

START_TEST(training_functions_match_script)
{
    lcmd_safetensors *st = open_fixture(FIXTURE("training_functions.safetensors"));
    ck_assert_ptr_nonnull(lcmd_safetensors_metadata(st, "diffusers_commit"));
    float w[8], e[8 * 512];
    ck_assert_int_eq(lcmd_safetensors_read_f32(st, "gse_w", w, 8), LCMD_OK);
    static const int dims[] = {256, 512, 255, 64};
    /* The embedding is sin/cos of a = 1000 w f_j with a up to 15000 rad: the reference's
     * float32 exp is within one ulp, not correctly rounded, so a agrees to ~1e-7
     * relative and sin(a) to |a|·1e-7 absolute. The 1e-6 relative criterion is applied
     * to the argument: |Δ sin a| <= 1e-6 |a| + 1e-6 (|d sin/da| <= 1). */
    for (int k = 0; k < 4; k++) {
        char name[32];
        int64_t dim = dims[k], half = dim / 2;
        snprintf(name, sizeof name, "gse_%d", dims[k]);
        ck_assert_int_eq(lcmd_guidance_scale_embedding(w, 8, dim, e), LCMD_OK);
        float *want = malloc(8 * dim * sizeof *want);
        ck_assert_int_eq(lcmd_safetensors_read_f32(st, name, want, 8 * (size_t)dim), LCMD_OK);
        double step = log(10000.0) / (double)(half - 1);
        for (int b = 0; b < 8; b++)
            for (int64_t j = 0; j < dim; j++) {
                double arg = j < 2 * half ? 1000.0 * w[b] * exp(-(double)(j % half) * step) : 0.0;
                double tol = 1e-6 * arg + 1e-6;
                ck_assert_msg(fabs((double)e[b * dim + j] - want[b * dim + j]) <= tol, "%s[%d][%lld] %.7f vs %.7f",
                              name, b, (long long)j, e[b * dim + j], want[b * dim + j]);
            }
        free(want);
    }
    int64_t t[1000];
    float cs[1000], co[1000];
    ck_assert_int_eq(lcmd_safetensors_read_i64(st, "scaling_t", t, 1000), LCMD_OK);
    for (int lam = 1; lam <= 10; lam += 9) {
        char a[32], b[32];
        snprintf(a, sizeof a, "c_skip_%d", lam);
        snprintf(b, sizeof b, "c_out_%d", lam);
        ck_assert_int_eq(lcmd_boundary_scalings(t, 1000, lam, cs, co), LCMD_OK);
        float want[1000];
        lcmd_safetensors_read_f32(st, a, want, 1000);
        for (int i = 0; i < 1000; i++) ck_assert_msg(fabs(cs[i] - want[i]) <= TOL * want[i], "%s[%d]", a, i);
        lcmd_safetensors_read_f32(st, b, want, 1000);
        for (int i = 0; i < 1000; i++) ck_assert_msg(fabs(co[i] - want[i]) <= TOL * want[i], "%s[%d]", b, i);
    }

    lcmd_scheduler_config cfg;
    load_config("sd15", &cfg);
    lcmd_noise_schedule *s = NULL;
    ck_assert_int_eq(lcmd_noise_schedule_create(&cfg, &s), LCMD_OK);
    const size_t B = 4, P = 256, N = B * P;
    float x0[1024], eps[1024], res[1024];
    ck_assert_int_eq(lcmd_safetensors_read_f32(st, "ddim_x0", x0, N), LCMD_OK);
    ck_assert_int_eq(lcmd_safetensors_read_f32(st, "ddim_eps", eps, N), LCMD_OK);
    static const int grids[] = {50, 30, 20, 1000};
    for (int g = 0; g < 4; g++) {
        int n = grids[g];
        char name[64];
        lcmd_ddim_solver *d = NULL;
        ck_assert_int_eq(lcmd_ddim_solver_create(s, n, &d), LCMD_OK);
        int64_t *ts = malloc(n * sizeof *ts), *want_ts = malloc(n * sizeof *want_ts), idx[4];
        double *at = malloc(n * sizeof *at), *prev = malloc(n * sizeof *prev), *want = malloc(n * sizeof *want);
        lcmd_ddim_solver_timesteps(d, ts, n);
        lcmd_ddim_solver_alphas_cumprod(d, at, prev, n);
        snprintf(name, sizeof name, "ddim%d_timesteps", n);
        ck_assert_int_eq(lcmd_safetensors_read_i64(st, name, want_ts, n), LCMD_OK);
        for (int i = 0; i < n; i++) ck_assert_int_eq(ts[i], want_ts[i]);
        snprintf(name, sizeof name, "ddim%d_ac", n);
        lcmd_safetensors_read_f64(st, name, want, n);
        for (int i = 0; i < n; i++) ck_assert(at[i] == want[i]);
        snprintf(name, sizeof name, "ddim%d_ac_prev", n);
        ck_assert(lcmd_safetensors_find(st, name)->dtype == LCMD_ST_F64);
        lcmd_safetensors_read_f64(st, name, want, n);
        for (int i = 0; i < n; i++) ck_assert(prev[i] == want[i]);
        snprintf(name, sizeof name, "ddim%d_index", n);
        lcmd_safetensors_read_i64(st, name, idx, 4);
        ck_assert_int_eq(lcmd_ddim_solver_step(d, x0, eps, idx, B, P, res), LCMD_OK);
        snprintf(name, sizeof name, "ddim%d_x_prev", n);
        expect_close(st, name, res, N);
        free(ts); free(want_ts); free(at); free(prev); free(want);
        lcmd_ddim_solver_destroy(d);
    }

    int64_t nt[4];
    float n0[1024], ne[1024];
    lcmd_safetensors_read_i64(st, "noise_t", nt, 4);
    lcmd_safetensors_read_f32(st, "noise_x0", n0, N);
    lcmd_safetensors_read_f32(st, "noise_eps", ne, N);
    ck_assert_int_eq(lcmd_add_noise(s, n0, ne, nt, B, P, res), LCMD_OK);
    expect_close(st, "noisy", res, N);
    lcmd_noise_schedule_destroy(s);

    float po[1024], ps[1024];
    lcmd_safetensors_read_f32(st, "pred_out", po, N);
    lcmd_safetensors_read_f32(st, "pred_sample", ps, N);
    static const char *const types[] = {"epsilon", "v_prediction", "sample"};
    static const char *const cfgs[] = {"sd15", "sd2_v"};
    for (int c = 0; c < 2; c++) {
        load_config(cfgs[c], &cfg);
        ck_assert_int_eq(lcmd_noise_schedule_create(&cfg, &s), LCMD_OK);
        for (int k = 0; k < 3; k++) {
            char name[64];
            ck_assert_int_eq(lcmd_predicted_origin(s, (lcmd_prediction_type)k, po, nt, ps, B, P, res), LCMD_OK);
            snprintf(name, sizeof name, "x0_%s_%s", cfgs[c], types[k]);
            expect_close(st, name, res, N);
            ck_assert_int_eq(lcmd_predicted_noise(s, (lcmd_prediction_type)k, po, nt, ps, B, P, res), LCMD_OK);
            snprintf(name, sizeof name, "eps_%s_%s", cfgs[c], types[k]);
            expect_close(st, name, res, N);
        }
        lcmd_noise_schedule_destroy(s);
    }
    lcmd_safetensors_close(st);
}
END_TEST

/* The device-memory variants (here on a CPU context, whose device memory is host
 * memory) against the same fixtures, aliased outputs included. */
START_TEST(device_variants_match_the_reference)
{
    lcmd_safetensors *st = open_fixture(FIXTURE("training_functions.safetensors"));
    lcmd_context *ctx = NULL;
    ck_assert_int_eq(lcmd_context_create(NULL, &ctx), LCMD_OK);
    lcmd_scheduler_config cfg;
    const size_t B = 4, P = 256, N = B * P;
    static float a[1024], b[1024], res[1024], x0[1024], eps[1024];
    int64_t nt[4], idx[4];
    lcmd_safetensors_read_i64(st, "noise_t", nt, 4);
    lcmd_safetensors_read_f32(st, "noise_x0", a, N);
    lcmd_safetensors_read_f32(st, "noise_eps", b, N);
    load_config("sd15", &cfg);
    lcmd_noise_schedule *s = NULL;
    ck_assert_int_eq(lcmd_noise_schedule_create(&cfg, &s), LCMD_OK);
    ck_assert_int_eq(lcmd_add_noise_device(ctx, s, a, b, nt, B, P, res), LCMD_OK);
    expect_close(st, "noisy", res, N);
    memcpy(res, a, sizeof res);   /* out aliasing x0 */
    ck_assert_int_eq(lcmd_add_noise_device(ctx, s, res, b, nt, B, P, res), LCMD_OK);
    expect_close(st, "noisy", res, N);
    memcpy(res, b, sizeof res);   /* out aliasing noise */
    ck_assert_int_eq(lcmd_add_noise_device(ctx, s, a, res, nt, B, P, res), LCMD_OK);
    expect_close(st, "noisy", res, N);
    lcmd_noise_schedule_destroy(s);

    lcmd_safetensors_read_f32(st, "pred_out", a, N);
    lcmd_safetensors_read_f32(st, "pred_sample", b, N);
    static const char *const types[] = {"epsilon", "v_prediction", "sample"};
    static const char *const cfgs[] = {"sd15", "sd2_v"};
    for (int c = 0; c < 2; c++) {
        load_config(cfgs[c], &cfg);
        ck_assert_int_eq(lcmd_noise_schedule_create(&cfg, &s), LCMD_OK);
        for (int k = 0; k < 3; k++) {
            char name[64];
            ck_assert_int_eq(lcmd_predicted_origin_device(ctx, s, (lcmd_prediction_type)k, a, nt, b, B, P, res), LCMD_OK);
            snprintf(name, sizeof name, "x0_%s_%s", cfgs[c], types[k]);
            expect_close(st, name, res, N);
            ck_assert_int_eq(lcmd_predicted_noise_device(ctx, s, (lcmd_prediction_type)k, a, nt, b, B, P, res), LCMD_OK);
            snprintf(name, sizeof name, "eps_%s_%s", cfgs[c], types[k]);
            expect_close(st, name, res, N);
        }
        lcmd_noise_schedule_destroy(s);
    }
    load_config("sd15", &cfg);
    ck_assert_int_eq(lcmd_noise_schedule_create(&cfg, &s), LCMD_OK);
    lcmd_ddim_solver *d = NULL;
    ck_assert_int_eq(lcmd_ddim_solver_create(s, 50, &d), LCMD_OK);
    lcmd_safetensors_read_f32(st, "ddim_x0", x0, N);
    lcmd_safetensors_read_f32(st, "ddim_eps", eps, N);
    lcmd_safetensors_read_i64(st, "ddim50_index", idx, 4);
    ck_assert_int_eq(lcmd_ddim_solver_step_device(ctx, d, x0, eps, idx, B, P, res), LCMD_OK);
    expect_close(st, "ddim50_x_prev", res, N);
    int64_t bad = 50;
    ck_assert_int_eq(lcmd_ddim_solver_step_device(ctx, d, x0, eps, &bad, 1, P, res), LCMD_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(lcmd_add_noise_device(NULL, s, x0, eps, nt, 1, P, res), LCMD_ERR_INVALID_ARGUMENT);
    lcmd_ddim_solver_destroy(d);
    lcmd_noise_schedule_destroy(s);
    lcmd_context_destroy(ctx);
    lcmd_safetensors_close(st);
}
END_TEST

TCase *sched_fixture_tcase(void)
{
    TCase *t = tcase_create("fixtures");
    tcase_add_loop_test(t, schedules_match_diffusers, 0, (int)(sizeof CONFIGS / sizeof *CONFIGS));
    tcase_add_test(t, lcm_timesteps_match_diffusers);
    tcase_add_test(t, lcm_runs_match_diffusers);
    tcase_add_test(t, training_functions_match_script);
    tcase_add_test(t, device_variants_match_the_reference);
    return t;
}
