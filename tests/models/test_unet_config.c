/* config.json parsing: the fixtures, defaults, errors, and the JSON round trip. */
#include "test_unet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* field by field: struct copies need not preserve padding */
static int same_config(const lcmd_unet_config *a, const lcmd_unet_config *b)
{
#define EQ(f) (a->f == b->f)
#define EQ_ARR(f) (memcmp(a->f, b->f, sizeof a->f) == 0)
    return EQ_ARR(sample_size) && EQ(sample_size_is_pair) && EQ(in_channels) && EQ(out_channels) &&
           EQ(center_input_sample) && EQ(flip_sin_to_cos) && EQ(freq_shift) && EQ(num_blocks) &&
           EQ_ARR(down_block_types) && EQ_ARR(up_block_types) && EQ(mid_block_type) && EQ_ARR(block_out_channels) &&
           EQ_ARR(layers_per_block) && EQ_ARR(transformer_layers_per_block) && EQ_ARR(attention_head_dim) &&
           EQ(downsample_padding) && EQ(mid_block_scale_factor) && EQ(norm_num_groups) && EQ(norm_eps) &&
           EQ(cross_attention_dim) && EQ(use_linear_projection) && EQ(upcast_attention) &&
           EQ(addition_embed_type) && EQ(addition_time_embed_dim) && EQ(projection_class_embeddings_input_dim) &&
           EQ(time_cond_proj_dim) && EQ(time_embedding_dim) && EQ(conv_in_kernel) && EQ(conv_out_kernel);
#undef EQ
#undef EQ_ARR
}

static lcmd_status parse(const char *json, lcmd_unet_config *cfg)
{
    return lcmd_unet_config_parse(json, strlen(json), "config.json", cfg);
}

START_TEST(test_fixture_values)
{
    lcmd_unet_config c;
    load_unet_config("sdxl", &c);
    ck_assert_int_eq(c.num_blocks, 2);
    ck_assert_int_eq(c.down_block_types[0], LCMD_UNET_BLOCK_PLAIN);
    ck_assert_int_eq(c.down_block_types[1], LCMD_UNET_BLOCK_CROSS_ATTN);
    ck_assert_int_eq(c.up_block_types[0], LCMD_UNET_BLOCK_CROSS_ATTN);
    ck_assert_int_eq(c.transformer_layers_per_block[1], 2);
    ck_assert_int_eq(c.attention_head_dim[0], 2);
    ck_assert_int_eq(c.attention_head_dim[1], 4);
    ck_assert_int_eq(c.addition_embed_type, LCMD_UNET_ADD_TEXT_TIME);
    ck_assert_int_eq(c.addition_time_embed_dim, 8);
    ck_assert_int_eq(c.projection_class_embeddings_input_dim, 58);
    ck_assert_int_eq(lcmd_unet_text_embed_dim(&c), 10);
    ck_assert_int_eq(c.use_linear_projection, 1);
    ck_assert_int_eq(c.norm_num_groups, 4);
    load_unet_config("lcm", &c);
    ck_assert_int_eq(c.time_cond_proj_dim, 8);
    ck_assert_int_eq(c.use_linear_projection, 0);
}
END_TEST

START_TEST(test_defaults_are_sd15)
{
    lcmd_unet_config c, d;
    ck_assert_int_eq(parse("{\"cross_attention_dim\": 768}", &c), LCMD_OK);
    lcmd_unet_config_init(&d);
    d.cross_attention_dim = 768;
    ck_assert(same_config(&c, &d));
    ck_assert_int_eq(c.num_blocks, 4);
    ck_assert_int_eq(c.block_out_channels[3], 1280);
    ck_assert_int_eq(lcmd_unet_time_embed_dim(&c), 1280);
}
END_TEST

static void expect_error(const char *json, lcmd_status want, const char *needle)
{
    lcmd_unet_config c;
    lcmd_unet_config_init(&c);
    c.in_channels = 77;
    lcmd_status s = parse(json, &c);
    ck_assert_msg(s == want, "%s: status %d (%s), expected %d", json, s, lcmd_last_error(), want);
    ck_assert_msg(strstr(lcmd_last_error(), needle) != NULL, "'%s' lacks '%s'", lcmd_last_error(), needle);
    ck_assert_int_eq(c.in_channels, 77);   /* untouched on failure */
}

START_TEST(test_errors)
{
    expect_error("{", LCMD_ERR_FORMAT, "config.json");
    expect_error("[1]", LCMD_ERR_FORMAT, "not a JSON object");
    expect_error("{\"in_channels\": 4, \"in_channels\": 5}", LCMD_ERR_FORMAT, "duplicate");
    expect_error("{\"in_channels\": \"4\"}", LCMD_ERR_FORMAT, "'in_channels'");
    expect_error("{\"use_linear_projection\": 1}", LCMD_ERR_FORMAT, "'use_linear_projection'");
    expect_error("{\"norm_eps\": \"x\"}", LCMD_ERR_FORMAT, "'norm_eps'");
    expect_error("{\"down_block_types\": \"DownBlock2D\"}", LCMD_ERR_FORMAT, "'down_block_types'");
    expect_error("{\"down_block_types\": [\"CrossAttnDownBlock2D\", \"SimpleCrossAttnDownBlock2D\"],"
                 " \"up_block_types\": [\"UpBlock2D\", \"CrossAttnUpBlock2D\"], \"block_out_channels\": [32, 64]}",
                 LCMD_ERR_UNSUPPORTED, "config.json: down_block_types[1] 'SimpleCrossAttnDownBlock2D' is not supported");
    expect_error("{\"mid_block_type\": \"UNetMidBlock2DSimpleCrossAttn\"}", LCMD_ERR_UNSUPPORTED,
                 "mid_block_type 'UNetMidBlock2DSimpleCrossAttn'");
    expect_error("{\"class_embed_type\": \"timestep\"}", LCMD_ERR_UNSUPPORTED, "class_embed_type 'timestep'");
    expect_error("{\"num_attention_heads\": 8}", LCMD_ERR_UNSUPPORTED, "num_attention_heads 8");
    expect_error("{\"only_cross_attention\": [false, true, false, false]}", LCMD_ERR_UNSUPPORTED, "only_cross_attention[1]");
    expect_error("{\"dual_cross_attention\": true}", LCMD_ERR_UNSUPPORTED, "dual_cross_attention");
    expect_error("{\"resnet_time_scale_shift\": \"scale_shift\"}", LCMD_ERR_UNSUPPORTED, "'scale_shift'");
    expect_error("{\"addition_embed_type\": \"text\"}", LCMD_ERR_UNSUPPORTED, "addition_embed_type 'text'");
    expect_error("{\"time_embedding_type\": \"fourier\"}", LCMD_ERR_UNSUPPORTED, "'fourier'");
    expect_error("{\"act_fn\": \"gelu\"}", LCMD_ERR_UNSUPPORTED, "act_fn 'gelu'");
    expect_error("{\"encoder_hid_dim\": 512}", LCMD_ERR_UNSUPPORTED, "encoder_hid_dim 512");
    expect_error("{\"cross_attention_dim\": [768, 768, 1024, 1024]}", LCMD_ERR_UNSUPPORTED, "cross_attention_dim");
    expect_error("{\"transformer_layers_per_block\": [[1], [2], [3], [4]]}", LCMD_ERR_UNSUPPORTED,
                 "transformer_layers_per_block[0]");
    expect_error("{\"layers_per_block\": [2, 2]}", LCMD_ERR_FORMAT, "'layers_per_block' has 2 entries");
    expect_error("{\"down_block_types\": [\"DownBlock2D\"], \"up_block_types\": [\"UpBlock2D\", \"UpBlock2D\"]}",
                 LCMD_ERR_FORMAT, "up_block_types");
    expect_error("{\"norm_num_groups\": 7}", LCMD_ERR_INVALID_ARGUMENT, "norm_num_groups");
    expect_error("{\"addition_embed_type\": \"text_time\", \"addition_time_embed_dim\": 256}",
                 LCMD_ERR_INVALID_ARGUMENT, "projection_class_embeddings_input_dim");
    expect_error("{\"attention_head_dim\": 400}", LCMD_ERR_INVALID_ARGUMENT, "attention_head_dim[0] = 400 heads");
    expect_error("{\"dropout\": 0.1}", LCMD_ERR_UNSUPPORTED, "dropout");
    expect_error("{\"downsample_padding\": 0}", LCMD_ERR_UNSUPPORTED, "downsample_padding");
}
END_TEST

/* unknown keys and null for nullable keys are accepted; mid_block_type null drops the mid block */
START_TEST(test_lenient_keys)
{
    lcmd_unet_config c;
    ck_assert_int_eq(parse("{\"some_future_key\": [1, {}], \"sample_size\": [64, 96], \"class_embed_type\": null,"
                           " \"mid_block_type\": null, \"only_cross_attention\": false, \"act_fn\": \"swish\"}", &c),
                     LCMD_OK);
    ck_assert_int_eq(c.mid_block_type, LCMD_UNET_MID_NONE);
    ck_assert_int_eq(c.sample_size_is_pair, 1);
    ck_assert_int_eq(c.sample_size[1], 96);
}
END_TEST

/* to_json -> parse gives the same config, for every fixture */
START_TEST(test_json_round_trip)
{
    lcmd_unet_config c, back;
    load_unet_config(unet_kinds[_i], &c);
    char *json = NULL;
    ck_assert_msg(lcmd_unet_config_to_json(&c, &json) == LCMD_OK, "%s", lcmd_last_error());
    ck_assert_ptr_nonnull(strstr(json, "\"_class_name\": \"UNet2DConditionModel\""));
    ck_assert_ptr_nonnull(strstr(json, "\"_diffusers_version\": \"0.42.1\""));
    ck_assert_msg(parse(json, &back) == LCMD_OK, "%s", lcmd_last_error());
    ck_assert(same_config(&c, &back));
    free(json);
}
END_TEST

TCase *unet_config_tcase(void)
{
    TCase *tc = tcase_create("config");
    tcase_add_test(tc, test_fixture_values);
    tcase_add_test(tc, test_defaults_are_sd15);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_lenient_keys);
    tcase_add_loop_test(tc, test_json_round_trip, 0, 4);
    return tc;
}
