/* Forward argument checks: NULLs, shapes, conditions the config needs or lacks, NaN. */
#include "test_unet.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct fixture {
    lcmd_backend *be;
    lcmd_unet_model *m;
    float sample[2 * 4 * 8 * 8], t[2], ehs[2 * 7 * 12], cond[2 * 8], text[2 * 10], ids[2 * 6];
    float out[2 * 4 * 8 * 8];
    lcmd_unet_forward_args a;
} fixture;

static void setup(fixture *f, const char *kind)
{
    memset(f, 0, sizeof *f);
    f->be = cpu_backend();
    lcmd_unet_config cfg;
    load_unet_config(kind, &cfg);
    ck_assert_int_eq(lcmd_unet_model_create(&cfg, f->be, &f->m), LCMD_OK);
    for (size_t i = 0; i < sizeof f->sample / sizeof *f->sample; i++) f->sample[i] = (float)(i % 7) * 0.1f;
    f->t[0] = 10;
    f->t[1] = 500;
    f->a = (lcmd_unet_forward_args){.batch = 2, .height = 8, .width = 8, .sample = f->sample, .timesteps = f->t,
                                    .encoder_hidden_states = f->ehs, .seq_len = 7, .encoder_dim = 12};
    if (cfg.time_cond_proj_dim) f->a.timestep_cond = f->cond;
    if (cfg.addition_embed_type) {
        f->a.text_embeds = f->text;
        f->a.text_embed_dim = 10;
        f->a.time_ids = f->ids;
    }
}

static void teardown(fixture *f)
{
    lcmd_unet_model_destroy(f->m);
    lcmd_backend_destroy(f->be);
}

static void expect(fixture *f, lcmd_status want, const char *needle)
{
    lcmd_status s = lcmd_unet_model_forward(f->m, f->be, &f->a, f->out);
    ck_assert_msg(s == want, "status %d (%s), expected %d", s, lcmd_last_error(), want);
    if (needle)
        ck_assert_msg(strstr(lcmd_last_error(), needle) != NULL, "'%s' lacks '%s'", lcmd_last_error(), needle);
}

START_TEST(test_valid_call_works)
{
    fixture *f = malloc(sizeof *f);
    setup(f, unet_kinds[_i]);
    expect(f, LCMD_OK, NULL);
    teardown(f);
    free(f);
}
END_TEST

START_TEST(test_bad_shapes_and_nulls)
{
    fixture *f = malloc(sizeof *f);
    setup(f, "sd15");
    lcmd_unet_forward_args keep = f->a;
    f->a.sample = NULL;
    expect(f, LCMD_ERR_INVALID_ARGUMENT, "sample");
    f->a = keep;
    f->a.height = 7;
    expect(f, LCMD_ERR_INVALID_ARGUMENT, "divisible by 2");
    f->a = keep;
    f->a.batch = 0;
    expect(f, LCMD_ERR_INVALID_ARGUMENT, "batch");
    f->a = keep;
    f->a.encoder_dim = 13;
    expect(f, LCMD_ERR_INVALID_ARGUMENT, "cross_attention_dim is 12");
    f->a = keep;
    f->a.seq_len = 0;
    expect(f, LCMD_ERR_INVALID_ARGUMENT, "seq_len");
    f->a = keep;
    f->a.timestep_cond = f->cond;
    expect(f, LCMD_ERR_INVALID_ARGUMENT, "timestep_cond");
    f->a = keep;
    f->a.text_embeds = f->text;
    expect(f, LCMD_ERR_INVALID_ARGUMENT, "text_embeds");
    f->a = keep;
    ck_assert_int_eq(lcmd_unet_model_forward(f->m, NULL, &f->a, f->out), LCMD_ERR_INVALID_ARGUMENT);
    lcmd_backend *other = cpu_backend();
    ck_assert_int_eq(lcmd_unet_model_forward(f->m, other, &f->a, f->out), LCMD_ERR_INVALID_ARGUMENT);
    lcmd_backend_destroy(other);
    expect(f, LCMD_OK, NULL);
    teardown(f);
    free(f);
}
END_TEST

START_TEST(test_missing_conditions)
{
    fixture *f = malloc(sizeof *f);
    setup(f, "lcm");
    f->a.timestep_cond = NULL;
    expect(f, LCMD_ERR_INVALID_ARGUMENT, "timestep_cond");
    teardown(f);
    setup(f, "sdxl");
    lcmd_unet_forward_args keep = f->a;
    f->a.time_ids = NULL;
    expect(f, LCMD_ERR_INVALID_ARGUMENT, "time_ids");
    f->a = keep;
    f->a.text_embeds = NULL;
    expect(f, LCMD_ERR_INVALID_ARGUMENT, "text_embeds");
    f->a = keep;
    f->a.text_embed_dim = 11;
    expect(f, LCMD_ERR_INVALID_ARGUMENT, "text_embeds has 11");
    teardown(f);
    free(f);
}
END_TEST

START_TEST(test_nan_inputs)
{
    fixture *f = malloc(sizeof *f);
    setup(f, "sdxl");
    f->sample[5] = NAN;
    expect(f, LCMD_ERR_NUMERIC, "sample[5]");
    f->sample[5] = 0;
    f->t[1] = INFINITY;
    expect(f, LCMD_ERR_NUMERIC, "timesteps[1]");
    f->t[1] = 1;
    f->ehs[3] = NAN;
    expect(f, LCMD_ERR_NUMERIC, "encoder_hidden_states[3]");
    f->ehs[3] = 0;
    f->ids[11] = NAN;
    expect(f, LCMD_ERR_NUMERIC, "time_ids[11]");
    f->ids[11] = 0;
    expect(f, LCMD_OK, NULL);
    teardown(f);
    free(f);
}
END_TEST

TCase *unet_args_tcase(void)
{
    TCase *tc = tcase_create("args");
    tcase_add_loop_test(tc, test_valid_call_works, 0, 4);
    tcase_add_test(tc, test_bad_shapes_and_nulls);
    tcase_add_test(tc, test_missing_conditions);
    tcase_add_test(tc, test_nan_inputs);
    return tc;
}
