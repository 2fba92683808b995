/* Bad input to the schedulers: a status and a message naming what was wrong. */
#include "test_sched.h"

#include <math.h>
#include <string.h>

#define EXPECT(call, status, needle) do { \
        lcmd_status s_ = (call); \
        ck_assert_msg(s_ == (status), "%s: status %d, expected %d (%s)", #call, s_, status, lcmd_last_error()); \
        ck_assert_msg(strstr(lcmd_last_error(), needle) != NULL, "message '%s' lacks '%s'", lcmd_last_error(), needle); \
    } while (0)

static lcmd_status parse(const char *json, lcmd_scheduler_config *cfg)
{
    lcmd_scheduler_config_init(cfg);
    return lcmd_scheduler_config_parse(json, strlen(json), "test.json", cfg);
}

START_TEST(config_errors_name_the_key)
{
    lcmd_scheduler_config c;
    EXPECT(parse("{\"beta_start\": 0.1", &c), LCMD_ERR_FORMAT, "test.json");
    EXPECT(parse("[1, 2]", &c), LCMD_ERR_FORMAT, "not a JSON object");
    EXPECT(parse("{\"num_train_timesteps\": \"1000\"}", &c), LCMD_ERR_FORMAT, "num_train_timesteps");
    EXPECT(parse("{\"num_train_timesteps\": 1.5}", &c), LCMD_ERR_FORMAT, "num_train_timesteps");
    EXPECT(parse("{\"beta_start\": \"x\"}", &c), LCMD_ERR_FORMAT, "beta_start");
    EXPECT(parse("{\"clip_sample\": 1}", &c), LCMD_ERR_FORMAT, "clip_sample");
    EXPECT(parse("{\"beta_schedule\": \"sigmoid\"}", &c), LCMD_ERR_UNSUPPORTED, "beta_schedule 'sigmoid'");
    EXPECT(parse("{\"beta_schedule\": \"cubic\"}", &c), LCMD_ERR_UNSUPPORTED, "beta_schedule 'cubic'");
    EXPECT(parse("{\"prediction_type\": \"flow\"}", &c), LCMD_ERR_UNSUPPORTED, "prediction_type 'flow'");
    EXPECT(parse("{\"timestep_spacing\": 3}", &c), LCMD_ERR_FORMAT, "timestep_spacing");
    EXPECT(parse("{\"trained_betas\": [0.1, 0.2]}", &c), LCMD_ERR_UNSUPPORTED, "trained_betas");
    EXPECT(parse("{\"num_train_timesteps\": 1}", &c), LCMD_ERR_INVALID_ARGUMENT, "num_train_timesteps");
    EXPECT(parse("{\"beta_end\": 1.5}", &c), LCMD_ERR_INVALID_ARGUMENT, "beta_end");
    EXPECT(parse("{\"a\": 1, \"a\": 2}", &c), LCMD_ERR_FORMAT, "duplicate");
    /* a refused parse leaves the config as it was */
    parse("{\"beta_schedule\": \"linear\"}", &c);
    ck_assert_int_eq(lcmd_scheduler_config_parse("{\"beta_start\": \"x\", \"num_train_timesteps\": 10}", 45, "t", &c), LCMD_ERR_FORMAT);
    ck_assert_int_eq(c.beta_schedule, LCMD_BETA_LINEAR);
    ck_assert_int_eq(c.num_train_timesteps, 1000);
    /* unknown keys and nulls are ignored, as diffusers does */
    ck_assert_int_eq(parse("{\"_class_name\": \"PNDMScheduler\", \"skip_prk_steps\": true, \"prediction_type\": null}", &c), LCMD_OK);
    EXPECT(lcmd_scheduler_config_load("/nonexistent/scheduler_config.json", &c), LCMD_ERR_IO, "/nonexistent/scheduler_config.json");
    EXPECT(lcmd_scheduler_config_parse(NULL, 0, NULL, &c), LCMD_ERR_INVALID_ARGUMENT, "NULL");
    c.struct_size = 3;
    EXPECT(lcmd_scheduler_config_parse("{}", 2, NULL, &c), LCMD_ERR_INVALID_ARGUMENT, "struct_size");
    EXPECT(lcmd_noise_schedule_create(&c, &(lcmd_noise_schedule *){NULL}), LCMD_ERR_INVALID_ARGUMENT, "struct_size");
}
END_TEST

START_TEST(lcm_set_timesteps_refuses_as_the_reference)
{
    lcmd_scheduler_config cfg;
    load_config("sd15", &cfg);
    lcmd_lcm_scheduler *s = NULL;
    ck_assert_int_eq(lcmd_lcm_scheduler_create(NULL, &cfg, &s), LCMD_OK);
    EXPECT(lcmd_lcm_scheduler_set_timesteps(s, 0, 0, 1.0), LCMD_ERR_INVALID_ARGUMENT, "num_inference_steps");
    EXPECT(lcmd_lcm_scheduler_set_timesteps(s, 1001, 0, 1.0), LCMD_ERR_INVALID_ARGUMENT, "num_inference_steps");
    EXPECT(lcmd_lcm_scheduler_set_timesteps(s, 51, 0, 1.0), LCMD_ERR_INVALID_ARGUMENT, "smaller than num_inference_steps");
    EXPECT(lcmd_lcm_scheduler_set_timesteps(s, 4, 2000, 1.0), LCMD_ERR_INVALID_ARGUMENT, "original_inference_steps");
    EXPECT(lcmd_lcm_scheduler_set_timesteps(s, 4, 0, 0.0), LCMD_ERR_INVALID_ARGUMENT, "strength");
    EXPECT(lcmd_lcm_scheduler_set_timesteps(s, 4, 0, 1.5), LCMD_ERR_INVALID_ARGUMENT, "strength");
    EXPECT(lcmd_lcm_scheduler_set_timesteps(s, 4, 0, NAN), LCMD_ERR_INVALID_ARGUMENT, "strength");
    EXPECT(lcmd_lcm_scheduler_set_timesteps(s, 8, 0, 0.1), LCMD_ERR_INVALID_ARGUMENT, "strength");
    EXPECT(lcmd_lcm_scheduler_set_timesteps(NULL, 4, 0, 1.0), LCMD_ERR_INVALID_ARGUMENT, "NULL");
    int64_t asc[] = {259, 499}, big[] = {1000, 500}, neg[] = {500, -1}, ok[] = {999, 499};
    EXPECT(lcmd_lcm_scheduler_set_custom_timesteps(s, asc, 2, 0, 1.0), LCMD_ERR_INVALID_ARGUMENT, "descending");
    EXPECT(lcmd_lcm_scheduler_set_custom_timesteps(s, big, 2, 0, 1.0), LCMD_ERR_INVALID_ARGUMENT, "start before");
    EXPECT(lcmd_lcm_scheduler_set_custom_timesteps(s, neg, 2, 0, 1.0), LCMD_ERR_INVALID_ARGUMENT, "negative");
    EXPECT(lcmd_lcm_scheduler_set_custom_timesteps(s, ok, 0, 0, 1.0), LCMD_ERR_INVALID_ARGUMENT, "0 timesteps");
    EXPECT(lcmd_lcm_scheduler_set_custom_timesteps(s, NULL, 2, 0, 1.0), LCMD_ERR_INVALID_ARGUMENT, "NULL");
    EXPECT(lcmd_lcm_scheduler_set_custom_timesteps(s, ok, 2, 0, 0.25), LCMD_ERR_INVALID_ARGUMENT, "keeps none");
    /* a refused call keeps the previous schedule */
    ck_assert_int_eq(lcmd_lcm_scheduler_set_timesteps(s, 4, 0, 1.0), LCMD_OK);
    lcmd_lcm_scheduler_set_timesteps(s, 0, 0, 1.0);
    ck_assert_int_eq(lcmd_lcm_scheduler_num_timesteps(s), 4);
    lcmd_lcm_scheduler_destroy(s);
    lcmd_lcm_scheduler_destroy(NULL);
}
END_TEST

START_TEST(lcm_step_refuses_bad_calls)
{
    lcmd_scheduler_config cfg;
    load_config("sd15", &cfg);
    lcmd_lcm_scheduler *s = NULL;
    ck_assert_int_eq(lcmd_lcm_scheduler_create(NULL, &cfg, &s), LCMD_OK);
    float x[4] = {1, 2, 3, 4}, o[4] = {0.1f, 0.2f, 0.3f, 0.4f}, p[4];
    EXPECT(lcmd_lcm_scheduler_step(s, o, 999, x, 1, 4, NULL, p, NULL), LCMD_ERR_INVALID_ARGUMENT, "set_timesteps");
    ck_assert_int_eq(lcmd_lcm_scheduler_set_timesteps(s, 4, 0, 1.0), LCMD_OK);
    EXPECT(lcmd_lcm_scheduler_step(s, o, 998, x, 1, 4, NULL, p, NULL), LCMD_ERR_INVALID_ARGUMENT, "not in the schedule");
    EXPECT(lcmd_lcm_scheduler_step(s, o, 5000, x, 1, 4, NULL, p, NULL), LCMD_ERR_INVALID_ARGUMENT, "outside");
    EXPECT(lcmd_lcm_scheduler_step(s, o, 999, x, 0, 4, NULL, p, NULL), LCMD_ERR_INVALID_ARGUMENT, "batch");
    EXPECT(lcmd_lcm_scheduler_step(s, NULL, 999, x, 1, 4, NULL, p, NULL), LCMD_ERR_INVALID_ARGUMENT, "NULL");
    o[2] = NAN;
    EXPECT(lcmd_lcm_scheduler_step(s, o, 999, x, 1, 4, NULL, p, NULL), LCMD_ERR_NUMERIC, "model_output[2]");
    o[2] = 0.3f;
    x[1] = INFINITY;
    EXPECT(lcmd_lcm_scheduler_step(s, o, 999, x, 1, 4, NULL, p, NULL), LCMD_ERR_NUMERIC, "sample[1]");
    lcmd_lcm_scheduler_destroy(s);
}
END_TEST

/* Without caller noise the sampler draws from the context's seed and the step index:
 * same seed, same images; another seed, other images; finite, unit-variance noise. */
START_TEST(lcm_step_draws_reproducible_noise)
{
    lcmd_scheduler_config cfg;
    load_config("sd15", &cfg);
    lcmd_context_options o;
    lcmd_context_options_init(&o);
    o.seed = 5;
    lcmd_context *ctx = NULL;
    ck_assert_int_eq(lcmd_context_create(&o, &ctx), LCMD_OK);
    enum { N = 4096 };
    static float x[N], out[N], p1[N], p2[N], den[N];
    for (int i = 0; i < N; i++) { x[i] = 0.0f; out[i] = 0.0f; }
    for (int run = 0; run < 2; run++) {
        lcmd_lcm_scheduler *s = NULL;
        ck_assert_int_eq(lcmd_lcm_scheduler_create(ctx, &cfg, &s), LCMD_OK);
        ck_assert_int_eq(lcmd_lcm_scheduler_set_timesteps(s, 4, 0, 1.0), LCMD_OK);
        ck_assert_int_eq(lcmd_lcm_scheduler_step(s, out, 999, x, 1, N, NULL, run ? p2 : p1, den), LCMD_OK);
        lcmd_lcm_scheduler_destroy(s);
    }
    ck_assert(memcmp(p1, p2, sizeof p1) == 0);
    /* x = 0, output 0: denoised 0, so prev = sqrt(1 - ā[759]) z */
    double m = 0, v = 0, c = sqrt(1.0 - 0.052212890);
    for (int i = 0; i < N; i++) { ck_assert(isfinite(p1[i])); m += p1[i] / c; v += (p1[i] / c) * (p1[i] / c); }
    m /= N; v /= N;
    ck_assert_msg(fabs(m) < 0.06 && fabs(v - 1) < 0.08, "noise mean %f var %f", m, v);
    lcmd_context_destroy(ctx);
}
END_TEST

START_TEST(schedule_functions_refuse_bad_arguments)
{
    lcmd_scheduler_config cfg;
    load_config("sd15", &cfg);
    lcmd_noise_schedule *s = NULL;
    ck_assert_int_eq(lcmd_noise_schedule_create(&cfg, &s), LCMD_OK);
    float a[4] = {1, 2, 3, 4}, r[4];
    int64_t t_bad = 1000, t_neg = -1, t_ok = 5, idx_bad = 50;
    EXPECT(lcmd_add_noise(s, a, a, &t_bad, 1, 4, r), LCMD_ERR_INVALID_ARGUMENT, "timesteps[0] = 1000");
    EXPECT(lcmd_add_noise(s, a, a, &t_neg, 1, 4, r), LCMD_ERR_INVALID_ARGUMENT, "timesteps[0] = -1");
    EXPECT(lcmd_add_noise(s, a, a, &t_ok, 1, 0, r), LCMD_ERR_INVALID_ARGUMENT, "per_sample");
    EXPECT(lcmd_predicted_origin(s, (lcmd_prediction_type)9, a, &t_ok, a, 1, 4, r), LCMD_ERR_INVALID_ARGUMENT, "prediction type");
    float bad[4] = {1, NAN, 3, 4};
    EXPECT(lcmd_add_noise(s, a, bad, &t_ok, 1, 4, r), LCMD_ERR_NUMERIC, "noise[1]");
    EXPECT(lcmd_predicted_origin(s, LCMD_PREDICT_EPSILON, bad, &t_ok, a, 1, 4, r), LCMD_ERR_NUMERIC, "model_output[1]");
    EXPECT(lcmd_predicted_noise(s, LCMD_PREDICT_V, a, &t_ok, bad, 1, 4, r), LCMD_ERR_NUMERIC, "sample[1]");
    EXPECT(lcmd_boundary_scalings(&t_neg, 1, 10.0, r, r), LCMD_ERR_INVALID_ARGUMENT, "negative");
    EXPECT(lcmd_boundary_scalings(&t_ok, 1, NAN, r, r), LCMD_ERR_INVALID_ARGUMENT, "timestep_scaling");
    float w = NAN, e[8];
    EXPECT(lcmd_guidance_scale_embedding(&w, 1, 8, e), LCMD_ERR_INVALID_ARGUMENT, "not finite");
    EXPECT(lcmd_guidance_scale_embedding(a, 1, 2, e), LCMD_ERR_INVALID_ARGUMENT, "dim");
    lcmd_ddim_solver *d = NULL;
    EXPECT(lcmd_ddim_solver_create(s, 0, &d), LCMD_ERR_INVALID_ARGUMENT, "num_ddim_timesteps");
    EXPECT(lcmd_ddim_solver_create(s, 1001, &d), LCMD_ERR_INVALID_ARGUMENT, "num_ddim_timesteps");
    ck_assert_int_eq(lcmd_ddim_solver_create(s, 50, &d), LCMD_OK);
    EXPECT(lcmd_ddim_solver_step(d, a, a, &idx_bad, 1, 4, r), LCMD_ERR_INVALID_ARGUMENT, "indices[0] = 50");
    int64_t idx_ok = 3;
    EXPECT(lcmd_ddim_solver_step(d, bad, a, &idx_ok, 1, 4, r), LCMD_ERR_NUMERIC, "pred_x0[1]");
    EXPECT(lcmd_ddim_solver_interval(d, -1, NULL, NULL), LCMD_ERR_INVALID_ARGUMENT, "index");
    int64_t small[10];
    EXPECT(lcmd_ddim_solver_timesteps(d, small, 10), LCMD_ERR_INVALID_ARGUMENT, "smaller");
    lcmd_ddim_solver_destroy(d);
    lcmd_ddim_solver_destroy(NULL);
    lcmd_noise_schedule_destroy(s);
    lcmd_noise_schedule_destroy(NULL);
}
END_TEST

TCase *sched_error_tcase(void)
{
    TCase *t = tcase_create("errors");
    tcase_add_test(t, config_errors_name_the_key);
    tcase_add_test(t, lcm_set_timesteps_refuses_as_the_reference);
    tcase_add_test(t, lcm_step_refuses_bad_calls);
    tcase_add_test(t, lcm_step_draws_reproducible_noise);
    tcase_add_test(t, schedule_functions_refuse_bad_arguments);
    return t;
}
