/* The pipeline folder loader: a tiny StableDiffusionPipeline end to end (caption ->
 * ids -> text embeddings against transformers -> UNet; image -> VAE -> image), and
 * folders with missing or unsupported components. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lcmd/lcmd.h>
#include "io/safetensors.h"

#define PIPE LCMD_FIXTURES "/pipeline/tiny-sd"

static lcmd_context *ctx_new(void)
{
    lcmd_context_options o;
    lcmd_context_options_init(&o);
    o.log_level = LCMD_LOG_WARN;
    lcmd_context *ctx = NULL;
    ck_assert_int_eq(lcmd_context_create(&o, &ctx), LCMD_OK);
    return ctx;
}

START_TEST(tiny_pipeline_end_to_end)
{
    lcmd_context *ctx = ctx_new();
    lcmd_pipeline *p = NULL;
    ck_assert_msg(lcmd_pipeline_open(ctx, PIPE, NULL, &p) == LCMD_OK, "%s", lcmd_last_error());
    ck_assert_str_eq(lcmd_pipeline_class_name(p), "StableDiffusionPipeline");
    ck_assert_int_eq(lcmd_pipeline_is_sdxl(p), 0);
    ck_assert_ptr_null(lcmd_pipeline_tokenizer(p, 1));
    lcmd_scheduler_config cfg;
    lcmd_scheduler_config_init(&cfg);
    ck_assert_int_eq(lcmd_pipeline_scheduler_config(p, &cfg), LCMD_OK);
    ck_assert_int_eq(cfg.beta_schedule, LCMD_BETA_SCALED_LINEAR);
    ck_assert_int_eq(cfg.set_alpha_to_one, 0);
    ck_assert_int_eq(cfg.steps_offset, 1);

    /* captions -> ids -> embeddings, against transformers */
    lcmd_safetensors *st = NULL;
    ck_assert_int_eq(lcmd_safetensors_open(LCMD_FIXTURES "/pipeline/tiny-sd-text.safetensors", &st), LCMD_OK);
    const char *captions[3] = {"a photo of a cat", "A red bicycle leaning against a brick wall, 35mm film", ""};
    static int32_t ids[3 * 77];
    static int64_t want_ids[3 * 77];
    ck_assert_int_eq(lcmd_tokenizer_encode_padded(lcmd_pipeline_tokenizer(p, 0), captions, 3, ids), LCMD_OK);
    ck_assert_int_eq(lcmd_safetensors_read_i64(st, "input_ids", want_ids, 3 * 77), LCMD_OK);
    for (int i = 0; i < 3 * 77; i++) ck_assert_int_eq(ids[i], want_ids[i]);
    static float hidden[3 * 77 * 12], want[3 * 77 * 12];
    lcmd_text_encoder_outputs out;
    lcmd_text_encoder_outputs_init(&out);
    out.last_hidden_state = hidden;
    ck_assert_msg(lcmd_text_encoder_forward(lcmd_pipeline_text_encoder(p, 0), ids, 3, 77, &out) == LCMD_OK, "%s",
                  lcmd_last_error());
    ck_assert_int_eq(lcmd_safetensors_read_f32(st, "last_hidden_state", want, 3 * 77 * 12), LCMD_OK);
    double num = 0, den = 0;
    for (int i = 0; i < 3 * 77 * 12; i++) { num += (hidden[i] - want[i]) * (hidden[i] - want[i]); den += want[i] * want[i]; }
    ck_assert_msg(sqrt(num / den) < 1e-4, "text embeddings: relative error %.3g", sqrt(num / den));
    lcmd_safetensors_close(st);

    /* the embeddings condition the UNet; an image goes through the VAE and back */
    static float latents[3 * 4 * 8 * 8], eps[3 * 4 * 8 * 8], image[3 * 3 * 64 * 64], back[3 * 3 * 64 * 64];
    static float mean[3 * 4 * 8 * 8], logvar[3 * 4 * 8 * 8];
    lcmd_rng_normal(1, 0, 0, latents, sizeof latents / sizeof *latents);
    float t[3] = {999, 500, 19};
    lcmd_unet_inputs in;
    lcmd_unet_inputs_init(&in);
    in.batch = 3; in.height = 8; in.width = 8; in.seq_len = 77;
    in.sample = latents; in.timesteps = t; in.encoder_hidden_states = hidden;
    ck_assert_msg(lcmd_unet_forward(lcmd_pipeline_unet(p), &in, eps) == LCMD_OK, "%s", lcmd_last_error());
    lcmd_vae_info vi;
    lcmd_vae_info_init(&vi);
    ck_assert_int_eq(lcmd_vae_get_info(lcmd_pipeline_vae(p), &vi), LCMD_OK);
    int64_t hw = 8 * vi.downsample_factor;
    for (int64_t i = 0; i < 3 * 3 * hw * hw; i++) image[i] = sinf(0.05f * (float)i);
    ck_assert_msg(lcmd_vae_encode(lcmd_pipeline_vae(p), 3, hw, hw, image, mean, logvar) == LCMD_OK, "%s", lcmd_last_error());
    ck_assert_msg(lcmd_vae_decode(lcmd_pipeline_vae(p), 3, 8, 8, mean, back) == LCMD_OK, "%s", lcmd_last_error());
    for (int64_t i = 0; i < 3 * 3 * hw * hw; i++) ck_assert(isfinite(back[i]));
    lcmd_pipeline_destroy(p);

    /* only what is asked for */
    lcmd_pipeline_options o;
    lcmd_pipeline_options_init(&o);
    o.load_unet = 0;
    o.load_text = 0;
    ck_assert_int_eq(lcmd_pipeline_open(ctx, PIPE, &o, &p), LCMD_OK);
    ck_assert_ptr_null(lcmd_pipeline_unet(p));
    ck_assert_ptr_null(lcmd_pipeline_text_encoder(p, 0));
    ck_assert_ptr_nonnull(lcmd_pipeline_vae(p));
    lcmd_pipeline_destroy(p);
    lcmd_pipeline_destroy(NULL);
    lcmd_context_destroy(ctx);
}
END_TEST

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

#define EXPECT(call, status, needle) do { \
        lcmd_status s_ = (call); \
        ck_assert_msg(s_ == (status), "%s: %d (%s)", #call, s_, lcmd_last_error()); \
        ck_assert_msg(strstr(lcmd_last_error(), needle), "'%s' lacks '%s'", lcmd_last_error(), needle); \
    } while (0)

START_TEST(bad_pipeline_folders_are_named)
{
    lcmd_context *ctx = ctx_new();
    lcmd_pipeline *p = NULL;
    char dir[] = "/tmp/lcmd-pipe-XXXXXX", path[512], cmd[700];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    EXPECT(lcmd_pipeline_open(ctx, "/nonexistent/pipe", NULL, &p), LCMD_ERR_IO, "/nonexistent/pipe");
    EXPECT(lcmd_pipeline_open(ctx, dir, NULL, &p), LCMD_ERR_IO, "model_index.json");
    snprintf(cmd, sizeof cmd, "cp -rL '%s/scheduler' '%s/'", PIPE, dir);
    ck_assert_int_eq(system(cmd), 0);
    snprintf(path, sizeof path, "%s/model_index.json", dir);
    write_text(path, "{\"_class_name\": \"StableDiffusionPipeline\", \"scheduler\": [\"diffusers\", \"PNDMScheduler\"],"
                     " \"vae\": [\"diffusers\", \"AutoencoderTiny\"], \"unet\": [\"diffusers\", \"UNet2DConditionModel\"]}");
    EXPECT(lcmd_pipeline_open(ctx, dir, NULL, &p), LCMD_ERR_IO, "'unet'");
    snprintf(cmd, sizeof cmd, "ln -s '%s/unet' '%s/unet'", PIPE, dir);
    ck_assert_int_eq(system(cmd), 0);
    EXPECT(lcmd_pipeline_open(ctx, dir, NULL, &p), LCMD_ERR_UNSUPPORTED, "AutoencoderTiny");
    write_text(path, "{\"_class_name\": \"StableDiffusionPipeline\", \"scheduler\": [\"diffusers\", \"PNDMScheduler\"],"
                     " \"unet\": [\"diffusers\", \"UNet2DConditionModel\"]}");
    EXPECT(lcmd_pipeline_open(ctx, dir, NULL, &p), LCMD_ERR_FORMAT, "'vae'");
    write_text(path, "{\"_class_name\": \"StableDiffusionPipeline\", \"unet\": [\"diffusers\", \"UNet2DConditionModel\"]}");
    EXPECT(lcmd_pipeline_open(ctx, dir, NULL, &p), LCMD_ERR_FORMAT, "'scheduler'");
    write_text(path, "{\"_class_name\": 3}");
    EXPECT(lcmd_pipeline_open(ctx, dir, NULL, &p), LCMD_ERR_FORMAT, "model_index.json");
    lcmd_pipeline_options o;
    lcmd_pipeline_options_init(&o);
    o.struct_size = 1;
    EXPECT(lcmd_pipeline_open(ctx, PIPE, &o, &p), LCMD_ERR_INVALID_ARGUMENT, "struct_size");
    ck_assert_ptr_null(p);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
    lcmd_context_destroy(ctx);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pipeline");
    TCase *t = tcase_create("pipeline");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, tiny_pipeline_end_to_end);
    tcase_add_test(t, bad_pipeline_folders_are_named);
    suite_add_tcase(s, t);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
