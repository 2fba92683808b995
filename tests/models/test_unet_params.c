/* The registry's keys and shapes against diffusers' state dict of each fixture. */
#include "test_unet.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* key set == keys_<kind>.json (dumped from UNet2DConditionModel(**cfg).state_dict()) */
START_TEST(test_keys_match_diffusers)
{
    const char *kind = unet_kinds[_i];
    lcmd_unet_config cfg;
    load_unet_config(kind, &cfg);
    lcmd_param_set ps = {0};
    ck_assert_msg(lcmd_unet_params_build(&cfg, &ps) == LCMD_OK, "%s", lcmd_last_error());
    char path[512];
    snprintf(path, sizeof path, UNET_FIXTURE("keys_%s.json"), kind);
    json_error_t err;
    json_t *keys = json_load_file(path, 0, &err);
    ck_assert_msg(keys && json_is_array(keys), "%s: %s", path, err.text);
    for (size_t i = 0; i < json_array_size(keys); i++) {
        const char *k = json_string_value(json_array_get(keys, i));
        ck_assert_msg(lcmd_param_set_find(&ps, k) != NULL, "%s: diffusers key '%s' not registered", kind, k);
    }
    ck_assert_msg(ps.count == json_array_size(keys), "%s: %zu registered, diffusers has %zu", kind, ps.count,
                  json_array_size(keys));
    json_decref(keys);
    lcmd_param_set_free(&ps);
}
END_TEST

/* every registered shape equals the tensor's shape in the fixture's weights */
START_TEST(test_shapes_match_weights)
{
    const char *kind = unet_kinds[_i];
    lcmd_unet_config cfg;
    load_unet_config(kind, &cfg);
    lcmd_param_set ps = {0};
    ck_assert_int_eq(lcmd_unet_params_build(&cfg, &ps), LCMD_OK);
    char path[512];
    snprintf(path, sizeof path, UNET_FIXTURE("%s/diffusion_pytorch_model.safetensors"), kind);
    lcmd_safetensors *st = NULL;
    ck_assert_msg(lcmd_safetensors_open(path, &st) == LCMD_OK, "%s", lcmd_last_error());
    ck_assert_int_eq(lcmd_safetensors_count(st), ps.count);
    for (size_t i = 0; i < ps.count; i++) {
        const lcmd_param *p = &ps.items[i];
        const lcmd_st_tensor *t = lcmd_safetensors_find(st, p->name);
        ck_assert_msg(t != NULL, "%s missing from %s", p->name, path);
        ck_assert_msg(t->ndim == p->ndim, "%s: ndim %d vs %d", p->name, t->ndim, p->ndim);
        for (int32_t d = 0; d < p->ndim; d++)
            ck_assert_msg(t->shape[d] == p->shape[d], "%s: dim %d is %lld, registered %lld", p->name, d,
                          (long long)t->shape[d], (long long)p->shape[d]);
        ck_assert_int_eq(p->layout == LCMD_PARAM_CONV, p->ndim == 4);
    }
    lcmd_safetensors_close(st);
    lcmd_param_set_free(&ps);
}
END_TEST

/* SD1.5 at full size: the real model's parameter count (859,520,964) */
START_TEST(test_sd15_full_size_count)
{
    lcmd_unet_config cfg;
    lcmd_unet_config_init(&cfg);
    cfg.cross_attention_dim = 768;
    lcmd_param_set ps = {0};
    ck_assert_int_eq(lcmd_unet_params_build(&cfg, &ps), LCMD_OK);
    int64_t total = 0;
    for (size_t i = 0; i < ps.count; i++) total += ps.items[i].numel;
    ck_assert_int_eq(ps.count, 686);
    ck_assert_int_eq(total, 859520964);
    lcmd_param_set_free(&ps);
}
END_TEST

TCase *unet_params_tcase(void)
{
    TCase *tc = tcase_create("params");
    tcase_add_loop_test(tc, test_keys_match_diffusers, 0, 4);
    tcase_add_loop_test(tc, test_shapes_match_weights, 0, 4);
    tcase_add_test(tc, test_sd15_full_size_count);
    return tc;
}
