/* UNet tests: config parsing, the parameter registry against diffusers' keys,
 * forward parity with diffusers, and argument checks. */
#include "test_unet.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/op_calls.h"

const char *const unet_kinds[4] = {"sd15", "sd2", "sdxl", "lcm"};

char *read_text(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)size + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_int_eq(fread(buf, 1, (size_t)size, f), (size_t)size);
    buf[size] = '\0';
    fclose(f);
    if (len) *len = (size_t)size;
    return buf;
}

void load_unet_config(const char *kind, lcmd_unet_config *cfg)
{
    char dir[512];
    snprintf(dir, sizeof dir, UNET_FIXTURE("%s"), kind);
    load_unet_config_dir(dir, cfg);
}

void load_unet_config_dir(const char *dir, lcmd_unet_config *cfg)
{
    char path[600];
    snprintf(path, sizeof path, "%s/config.json", dir);
    size_t len;
    char *json = read_text(path, &len);
    lcmd_status s = lcmd_unet_config_parse(json, len, path, cfg);
    free(json);
    ck_assert_msg(s == LCMD_OK, "%s", lcmd_last_error());
}

double rel_err(const float *a, const float *b, size_t n)
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

lcmd_backend *cpu_backend(void)
{
    lcmd_backend *be = NULL;
    ck_assert_int_eq(lcmd_cpu_backend_create(2, &be), LCMD_OK);
    return be;
}

lcmd_unet_model *load_unet(lcmd_backend *be, const char *kind, const char *file)
{
    char dir[512];
    snprintf(dir, sizeof dir, UNET_FIXTURE("%s"), kind);
    return load_unet_dir(be, dir, file);
}

lcmd_unet_model *load_unet_dir(lcmd_backend *be, const char *dir, const char *file)
{
    lcmd_unet_config cfg;
    load_unet_config_dir(dir, &cfg);
    lcmd_unet_model *m = NULL;
    ck_assert_msg(lcmd_unet_model_create(&cfg, be, &m) == LCMD_OK, "%s", lcmd_last_error());
    char path[1100];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    lcmd_safetensors *st = NULL;
    ck_assert_msg(lcmd_safetensors_open(path, &st) == LCMD_OK, "%s", lcmd_last_error());
    for (size_t i = 0; i < m->params.count; i++) {
        const lcmd_param *p = &m->params.items[i];
        float *file_order = malloc((size_t)p->numel * sizeof(float));
        float *stored = malloc((size_t)p->numel * sizeof(float));
        ck_assert(file_order && stored);
        ck_assert_msg(lcmd_safetensors_read_f32(st, p->name, file_order, (size_t)p->numel) == LCMD_OK, "%s",
                      lcmd_last_error());
        lcmd_param_to_stored(p, file_order, stored);
        ck_assert_int_eq(lcmd_op_upload(be, m->param_mem + p->offset, stored, (size_t)p->numel * sizeof(float)),
                         LCMD_OK);
        free(file_order);
        free(stored);
    }
    lcmd_safetensors_close(st);
    return m;
}

int main(void)
{
    Suite *s = suite_create("unet");
    suite_add_tcase(s, unet_config_tcase());
    suite_add_tcase(s, unet_params_tcase());
    suite_add_tcase(s, unet_parity_tcase());
    suite_add_tcase(s, unet_args_tcase());
    suite_add_tcase(s, unet_edge_tcase());
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
