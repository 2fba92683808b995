/* The edge-case fixtures (gen_unet_edge.py): LCM-SDXL conditioning together,
 * center_input_sample, freq_shift 1, no flip, 1x1 conv_in/out, time_embedding_dim,
 * heads that do not divide the channels, conv projections, two transformer layers,
 * mixed block types, asymmetric layers_per_block, no mid block / a scaled mid block. */
#include "test_unet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const edge_kinds[2] = {"edge", "edge_mid"};

static void edge_dir(int i, char *dir, size_t cap)
{
    snprintf(dir, cap, EDGE_FIXTURE("%s"), edge_kinds[i]);
}

START_TEST(test_edge_params_match_weights)
{
    char dir[512], path[600];
    edge_dir(_i, dir, sizeof dir);
    lcmd_unet_config cfg;
    load_unet_config_dir(dir, &cfg);
    lcmd_param_set ps = {0};
    ck_assert_int_eq(lcmd_unet_params_build(&cfg, &ps), LCMD_OK);
    snprintf(path, sizeof path, "%s/diffusion_pytorch_model.safetensors", dir);
    lcmd_safetensors *st = NULL;
    ck_assert_msg(lcmd_safetensors_open(path, &st) == LCMD_OK, "%s", lcmd_last_error());
    ck_assert_int_eq(lcmd_safetensors_count(st), ps.count);
    for (size_t i = 0; i < ps.count; i++) {
        const lcmd_st_tensor *t = lcmd_safetensors_find(st, ps.items[i].name);
        ck_assert_msg(t != NULL, "%s not in %s", ps.items[i].name, path);
        ck_assert_int_eq(t->ndim, ps.items[i].ndim);
        for (int32_t d = 0; d < t->ndim; d++) ck_assert_int_eq(t->shape[d], ps.items[i].shape[d]);
    }
    lcmd_safetensors_close(st);
    lcmd_param_set_free(&ps);
}
END_TEST

static void edge_parity(int kind, int keep)
{
    char dir[512], path[600];
    edge_dir(kind, dir, sizeof dir);
    lcmd_backend *be = cpu_backend();
    lcmd_unet_model *m = load_unet_dir(be, dir, "diffusion_pytorch_model.safetensors");
    m->keep_activations = keep;
    snprintf(path, sizeof path, "%s/io.safetensors", dir);
    lcmd_safetensors *st = NULL;
    ck_assert_msg(lcmd_safetensors_open(path, &st) == LCMD_OK, "%s", lcmd_last_error());
    io_case io;
    load_case(st, 0, "out", &io);
    float *out = malloc(io.out_n * sizeof(float));
    ck_assert_ptr_nonnull(out);
    lcmd_status s = lcmd_unet_model_forward(m, be, &io.a, out);
    ck_assert_msg(s == LCMD_OK, "%s: %s", edge_kinds[kind], lcmd_last_error());
    double err = rel_err(out, io.expected, io.out_n);
    fprintf(stderr, "# unet %s (keep %d): rel err %.3e\n", edge_kinds[kind], keep, err);
    ck_assert_msg(err <= TOL, "%s: relative error %.3e > %.0e", edge_kinds[kind], err, TOL);
    free(out);
    free_case(&io);
    lcmd_safetensors_close(st);
    lcmd_unet_model_destroy(m);
    lcmd_backend_destroy(be);
}

START_TEST(test_edge_parity)
{
    edge_parity(_i / 2, _i % 2);
}
END_TEST

START_TEST(test_edge_json_round_trip)
{
    char dir[512];
    edge_dir(_i, dir, sizeof dir);
    lcmd_unet_config c, back;
    load_unet_config_dir(dir, &c);
    char *json = NULL;
    ck_assert_int_eq(lcmd_unet_config_to_json(&c, &json), LCMD_OK);
    ck_assert_msg(lcmd_unet_config_parse(json, strlen(json), "round trip", &back) == LCMD_OK, "%s", lcmd_last_error());
    char *again = NULL;
    ck_assert_int_eq(lcmd_unet_config_to_json(&back, &again), LCMD_OK);
    ck_assert_str_eq(json, again);
    free(json);
    free(again);
}
END_TEST

TCase *unet_edge_tcase(void)
{
    TCase *tc = tcase_create("edge");
    tcase_add_loop_test(tc, test_edge_params_match_weights, 0, 2);
    tcase_add_loop_test(tc, test_edge_parity, 0, 4);
    tcase_add_loop_test(tc, test_edge_json_round_trip, 0, 2);
    return tc;
}
