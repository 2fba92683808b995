/* The sampling loops' invariants on the tiny SD fixture pipeline: a DDIM run resumed from
 * its own first latent is the same run; the perfect-student LCM sampler in one step is
 * exactly the teacher's DDIM sample (no re-noising happens), in more steps it differs
 * from it but stays finite; an LCM timestep off the teacher's grid is refused.
 *
 *   sampling-test PIPELINE_FOLDER */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lcmd/lcmd.h>

#include "sampling.h"

static const char *g_folder;
static lcmd_context *ctx;
static lcmd_pipeline *pipe_;
static lcmd_scheduler_config sc;
static float *cond, *uncond;
static int64_t seq, dim, lh = 8, lw = 8, per;

enum { BATCH = 1 };

static void setup(void)
{
    lcmd_context_options co;
    lcmd_context_options_init(&co);
    co.num_threads = 2;
    ck_assert_msg(lcmd_context_create(&co, &ctx) == LCMD_OK, "%s", lcmd_last_error());
    ck_assert_msg(lcmd_pipeline_open(ctx, g_folder, NULL, &pipe_) == LCMD_OK, "%s", lcmd_last_error());
    lcmd_scheduler_config_init(&sc);
    lcmd_pipeline_scheduler_config(pipe_, &sc);
    lcmd_tokenizer *tok = lcmd_pipeline_tokenizer(pipe_, 0);
    lcmd_text_encoder *te = lcmd_pipeline_text_encoder(pipe_, 0);
    prompt_embeds_size(tok, te, &seq, &dim);
    cond = malloc((size_t)(BATCH * seq * dim) * sizeof(float));
    uncond = malloc((size_t)(BATCH * seq * dim) * sizeof(float));
    const char *prompts[BATCH] = {"a red circle"}, *empty[BATCH] = {""};
    ck_assert(encode_prompts(tok, te, prompts, BATCH, cond) == LCMD_OK);
    ck_assert(encode_prompts(tok, te, empty, BATCH, uncond) == LCMD_OK);
    lcmd_unet_info ui;
    lcmd_unet_info_init(&ui);
    lcmd_unet_get_info(lcmd_pipeline_unet(pipe_), &ui);
    per = ui.in_channels * lh * lw;
}

static void teardown(void)
{
    free(cond);
    free(uncond);
    lcmd_pipeline_destroy(pipe_);
    lcmd_context_destroy(ctx);
}

static sampling_params params(int steps, int original)
{
    sampling_params p;
    sampling_params_init(&p);
    p.batch = BATCH;
    p.latent_height = lh;
    p.latent_width = lw;
    p.num_inference_steps = steps;
    p.original_inference_steps = original;
    p.guidance_scale = 4.0;
    p.seed = 7;
    return p;
}

static double rms(const float *a, const float *b, int64_t n)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    return sqrt(s / (double)n);
}

START_TEST(test_ddim_from_its_start)
{
    sampling_params p = params(4, 0);
    int64_t n = BATCH * per;
    float *x = malloc((size_t)n * sizeof *x), *a = malloc((size_t)n * sizeof *a), *b = malloc((size_t)n * sizeof *b);
    ck_assert(initial_latents(p.seed, p.first_stream, BATCH, per, x) == LCMD_OK);
    lcmd_unet *u = lcmd_pipeline_unet(pipe_);
    ck_assert_msg(ddim_sample(ctx, u, &sc, cond, uncond, seq, &p, a) == LCMD_OK, "%s", lcmd_last_error());
    /* the 4-point grid's top is 999 */
    ck_assert_msg(ddim_sample_from(ctx, u, &sc, cond, uncond, seq, &p, 999, x, b) == LCMD_OK, "%s", lcmd_last_error());
    ck_assert(memcmp(a, b, (size_t)n * sizeof *a) == 0);
    ck_assert_int_eq(ddim_sample_from(ctx, u, &sc, cond, uncond, seq, &p, 500, x, b), LCMD_ERR_INVALID_ARGUMENT);
    free(x);
    free(a);
    free(b);
}
END_TEST

START_TEST(test_perfect_student)
{
    int64_t n = BATCH * per;
    float *ref = malloc((size_t)n * sizeof *ref), *o = malloc((size_t)n * sizeof *o);
    lcmd_unet *u = lcmd_pipeline_unet(pipe_);
    sampling_params t = params(4, 0);
    ck_assert(ddim_sample(ctx, u, &sc, cond, uncond, seq, &t, ref) == LCMD_OK);
    for (int64_t i = 0; i < n; i++) ck_assert(isfinite(ref[i]));
    /* one LCM step: the consistency function at 999 is the teacher's whole ODE */
    sampling_params p = params(1, 4);
    ck_assert_msg(lcm_oracle_sample(ctx, u, &sc, cond, uncond, seq, &p, 4, o) == LCMD_OK, "%s", lcmd_last_error());
    ck_assert(memcmp(ref, o, (size_t)n * sizeof *o) == 0);
    /* four steps (999, 749, 499, 249, the points of the 4-point grid): re-noised, so other samples */
    p = params(4, 4);
    ck_assert_msg(lcm_oracle_sample(ctx, u, &sc, cond, uncond, seq, &p, 4, o) == LCMD_OK, "%s", lcmd_last_error());
    double d = rms(ref, o, n);
    ck_assert_msg(isfinite(d) && d > 1e-3, "4-step perfect student at distance %g from the reference", d);
    /* the LCM timesteps miss the 3-point grid (332, 665, 998) */
    ck_assert_int_eq(lcm_oracle_sample(ctx, u, &sc, cond, uncond, seq, &p, 3, o), LCMD_ERR_INVALID_ARGUMENT);
    free(ref);
    free(o);
}
END_TEST

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s PIPELINE_FOLDER\n", argv[0]);
        return 2;
    }
    g_folder = argv[1];
    Suite *s = suite_create("sampling");
    TCase *tc = tcase_create("sampling");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_ddim_from_its_start);
    tcase_add_test(tc, test_perfect_student);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
