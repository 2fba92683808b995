/* Weights <-> param sets: every fixture kind and dtype loads with exact values,
 * shapes are checked, missing/unexpected names are reported, saving round-trips. */
#include "test_io.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/half.h"
#include "io/json_file.h"
#include "io/safetensors_write.h"
#include "io/weights.h"

static const char *const kinds[] = {"sd15", "sd2", "sdxl", "lcm"};

static lcmd_weights *open_ok(const char *folder, const char *variant)
{
    lcmd_weights *w = NULL;
    ck_assert_msg(lcmd_weights_open(folder, variant, &w) == LCMD_OK, "%s", lcmd_last_error());
    return w;
}

/* Params named and shaped after a file's tensors; 4-D ones are conv weights. */
static void params_from(const lcmd_weights *w, lcmd_param_set *ps)
{
    memset(ps, 0, sizeof *ps);
    for (size_t i = 0; i < lcmd_weights_count(w); i++) {
        const lcmd_st_tensor *t = lcmd_weights_at(w, i, NULL);
        lcmd_param_layout layout = t->ndim == 4 ? LCMD_PARAM_CONV : LCMD_PARAM_PLAIN;
        ck_assert_msg(lcmd_param_set_add(ps, t->name, t->ndim, t->shape, layout, NULL) == LCMD_OK, "%s", lcmd_last_error());
    }
}

static float round_to(lcmd_st_dtype dt, float x)
{
    if (dt == LCMD_ST_F16) return lcmd_f16_to_f32(lcmd_f32_to_f16(x));
    if (dt == LCMD_ST_BF16) return lcmd_bf16_to_f32(lcmd_f32_to_bf16(x));
    return x;
}

/* buffer (stored layout) == the fp32 reference rounded to `dt`, bit for bit */
static void expect_values(const lcmd_param_set *ps, const float *buffer, const lcmd_weights *ref, lcmd_st_dtype dt)
{
    for (size_t i = 0; i < ps->count; i++) {
        const lcmd_param *p = &ps->items[i];
        const lcmd_safetensors *file;
        if (!lcmd_weights_find(ref, p->name, &file))
            continue;
        size_t n = (size_t)p->numel;
        float *want = malloc(n * sizeof *want), *got = malloc(n * sizeof *got);
        ck_assert_int_eq(lcmd_safetensors_read_f32(file, p->name, want, n), LCMD_OK);
        lcmd_param_to_file(p, buffer + p->offset, got);
        for (size_t j = 0; j < n; j++) {
            float r = round_to(dt, want[j]);
            ck_assert_msg(memcmp(&r, &got[j], 4) == 0, "%s[%zu]: %g vs %g", p->name, j, (double)got[j], (double)r);
        }
        free(want);
        free(got);
    }
}

START_TEST(every_fixture_kind_and_dtype_loads_exactly)
{
    static const struct { const char *variant; lcmd_st_dtype dt; } v[] = {
        {NULL, LCMD_ST_F32}, {"fp16", LCMD_ST_F16}, {"bf16", LCMD_ST_BF16}};
    for (size_t k = 0; k < 4; k++) {
        char folder[512];
        snprintf(folder, sizeof folder, UNET_FIXTURE("%s"), kinds[k]);
        lcmd_weights *ref = open_ok(folder, NULL);
        lcmd_param_set ps;
        params_from(ref, &ps);
        float *buffer = calloc(ps.total, sizeof *buffer);
        for (size_t i = 0; i < 3; i++) {
            lcmd_weights *w = open_ok(folder, v[i].variant);
            lcmd_weights_report report = {0};
            ck_assert_msg(lcmd_weights_load_params(w, &ps, buffer, &report) == LCMD_OK, "%s", lcmd_last_error());
            ck_assert_uint_eq(report.loaded, ps.count);
            ck_assert_uint_eq(report.missing_count, 0);
            ck_assert_uint_eq(report.unexpected_count, 0);
            expect_values(&ps, buffer, ref, v[i].dt);
            lcmd_weights_report_free(&report);
            lcmd_weights_close(w);
        }
        free(buffer);
        lcmd_param_set_free(&ps);
        lcmd_weights_close(ref);
    }
}
END_TEST

START_TEST(sharded_fixture_loads_exactly)
{
    lcmd_weights *ref = open_ok(UNET_FIXTURE("sd15"), NULL), *w = open_ok(UNET_FIXTURE("sd15_sharded"), NULL);
    lcmd_param_set ps;
    params_from(ref, &ps);
    float *buffer = calloc(ps.total, sizeof *buffer);
    ck_assert_msg(lcmd_weights_load_params(w, &ps, buffer, NULL) == LCMD_OK, "%s", lcmd_last_error());
    expect_values(&ps, buffer, ref, LCMD_ST_F32);
    free(buffer);
    lcmd_param_set_free(&ps);
    lcmd_weights_close(w);
    lcmd_weights_close(ref);
}
END_TEST

/* The config says in_channels = 5, the weights have 4: named shapes, buffer untouched. */
START_TEST(config_contradicting_weights_is_a_shape_error)
{
    json_t *cfg = NULL;
    ck_assert_int_eq(lcmd_json_load_file(UNET_FIXTURE("sd15/config.json"), 1 << 20, &cfg), LCMD_OK);
    int64_t ch0 = json_integer_value(json_array_get(json_object_get(cfg, "block_out_channels"), 0));
    int64_t in = json_integer_value(json_object_get(cfg, "in_channels"));
    json_decref(cfg);
    lcmd_weights *w = open_ok(UNET_FIXTURE("sd15"), "fp16");
    lcmd_param_set ps;
    params_from(w, &ps);
    lcmd_param_set wrong = {0};
    for (size_t i = 0; i < ps.count; i++) {
        lcmd_param p = ps.items[i];
        if (strcmp(p.name, "conv_in.weight") == 0)
            p.shape[1] = in + 1;
        ck_assert_int_eq(lcmd_param_set_add(&wrong, p.name, p.ndim, p.shape, p.layout, NULL), LCMD_OK);
    }
    float *buffer = malloc(wrong.total * sizeof *buffer);
    for (size_t i = 0; i < wrong.total; i++)
        buffer[i] = 7.0f;
    lcmd_weights_report report = {.flags = LCMD_WEIGHTS_ALLOW_MISSING | LCMD_WEIGHTS_ALLOW_UNEXPECTED};
    ck_assert_int_eq(lcmd_weights_load_params(w, &wrong, buffer, &report), LCMD_ERR_FORMAT);
    char file_shape[64], model_shape[64];
    snprintf(file_shape, sizeof file_shape, "[%lld, %lld, 3, 3]", (long long)ch0, (long long)in);
    snprintf(model_shape, sizeof model_shape, "[%lld, %lld, 3, 3]", (long long)ch0, (long long)in + 1);
    ck_assert_msg(error_mentions("diffusion_pytorch_model.fp16.safetensors", "'conv_in.weight'", file_shape, model_shape,
                                 (const char *)NULL), "%s", lcmd_last_error());
    for (size_t i = 0; i < wrong.total; i++)
        ck_assert_float_eq(buffer[i], 7.0f);
    /* fewer dims than the file */
    lcmd_param_set flat = {0};
    int64_t n = ch0 * in * 9;
    ck_assert_int_eq(lcmd_param_set_add(&flat, "conv_in.weight", 1, &n, LCMD_PARAM_PLAIN, NULL), LCMD_OK);
    ck_assert_int_eq(lcmd_weights_load_params(w, &flat, buffer, &report), LCMD_ERR_FORMAT);
    ck_assert(error_mentions("'conv_in.weight'", "shape", (const char *)NULL));
    lcmd_weights_report_free(&report);
    lcmd_param_set_free(&flat);
    free(buffer);
    lcmd_param_set_free(&wrong);
    lcmd_param_set_free(&ps);
    lcmd_weights_close(w);
}
END_TEST

/* An LCM student (time_cond_proj_dim set) loads its teacher's weights. */
START_TEST(student_loads_teacher_with_allowed_missing_key)
{
    lcmd_weights *student_file = open_ok(UNET_FIXTURE("lcm"), NULL), *teacher = open_ok(UNET_FIXTURE("sd15"), NULL);
    lcmd_param_set student;
    params_from(student_file, &student);
    float *buffer = calloc(student.total, sizeof *buffer);
    ck_assert_int_eq(lcmd_weights_load_params(teacher, &student, buffer, NULL), LCMD_ERR_FORMAT);
    ck_assert_msg(error_mentions("1 missing", "'time_embedding.cond_proj.weight'", (const char *)NULL), "%s", lcmd_last_error());
    static const char *const allowed[] = {"time_embedding.cond_proj.weight", NULL};
    lcmd_weights_report report = {.allow_missing = allowed};
    ck_assert_msg(lcmd_weights_load_params(teacher, &student, buffer, &report) == LCMD_OK, "%s", lcmd_last_error());
    ck_assert_uint_eq(report.missing_count, 1);
    ck_assert_str_eq(report.missing[0], "time_embedding.cond_proj.weight");
    ck_assert_uint_eq(report.loaded, student.count - 1);
    const lcmd_param *cond = lcmd_param_set_find(&student, "time_embedding.cond_proj.weight");
    for (int64_t i = 0; i < cond->numel; i++)
        ck_assert_float_eq(buffer[cond->offset + (size_t)i], 0.0f);   /* left as the caller set it */
    expect_values(&student, buffer, teacher, LCMD_ST_F32);
    lcmd_weights_report_free(&report);
    ck_assert_ptr_null(report.missing);
    report.flags = LCMD_WEIGHTS_ALLOW_MISSING;
    report.allow_missing = NULL;
    ck_assert_int_eq(lcmd_weights_load_params(teacher, &student, buffer, &report), LCMD_OK);
    lcmd_weights_report_free(&report);

    /* the other way round the student's extra tensor is unexpected */
    lcmd_param_set teacher_ps;
    params_from(teacher, &teacher_ps);
    ck_assert_int_eq(lcmd_weights_load_params(student_file, &teacher_ps, buffer, &report), LCMD_ERR_FORMAT);
    ck_assert_msg(error_mentions("1 unexpected", "'time_embedding.cond_proj.weight'", (const char *)NULL), "%s", lcmd_last_error());
    ck_assert_uint_eq(report.unexpected_count, 1);
    report.flags = LCMD_WEIGHTS_ALLOW_UNEXPECTED;
    ck_assert_int_eq(lcmd_weights_load_params(student_file, &teacher_ps, buffer, &report), LCMD_OK);
    ck_assert_uint_eq(report.loaded, teacher_ps.count);
    lcmd_weights_report_free(&report);
    lcmd_param_set_free(&teacher_ps);
    free(buffer);
    lcmd_param_set_free(&student);
    lcmd_weights_close(teacher);
    lcmd_weights_close(student_file);
}
END_TEST

START_TEST(many_missing_names_are_summarised)
{
    lcmd_weights *w = open_ok(UNET_FIXTURE("sd15"), NULL);
    lcmd_param_set ps = {0};
    char name[32];
    int64_t one = 1;
    for (int i = 0; i < 9; i++) {
        snprintf(name, sizeof name, "ghost.%d", i);
        ck_assert_int_eq(lcmd_param_set_add(&ps, name, 1, &one, LCMD_PARAM_PLAIN, NULL), LCMD_OK);
    }
    float *buffer = calloc(ps.total, sizeof *buffer);
    lcmd_weights_report report = {0};
    ck_assert_int_eq(lcmd_weights_load_params(w, &ps, buffer, &report), LCMD_ERR_FORMAT);
    ck_assert_msg(error_mentions("9 missing", "'ghost.0'", "and 5 more", "208 unexpected", "'conv_in.bias'", (const char *)NULL),
                  "%s", lcmd_last_error());
    ck_assert_uint_eq(report.missing_count, 9);
    ck_assert_uint_eq(report.unexpected_count, 208);
    lcmd_weights_report_free(&report);
    free(buffer);
    lcmd_param_set_free(&ps);
    lcmd_weights_close(w);
}
END_TEST

START_TEST(non_float_and_f64_tensors)
{
    char *dir = tmp_dir_new();
    char path[1024];
    path_in(path, sizeof path, dir, "diffusion_pytorch_model.safetensors");
    int64_t ints[2] = {1, 2};
    double dbl[2] = {0.5, -3.25};
    lcmd_st_write_tensor t[2] = {
        {.name = "ints", .dtype = LCMD_ST_I64, .ndim = 1, .shape = {2}, .data = ints},
        {.name = "dbl", .dtype = LCMD_ST_F64, .ndim = 1, .shape = {2}, .data = dbl},
    };
    ck_assert_int_eq(lcmd_safetensors_write(path, t, 2, NULL, 0), LCMD_OK);
    lcmd_weights *w = open_ok(dir, NULL);
    lcmd_param_set ps = {0};
    int64_t two = 2;
    ck_assert_int_eq(lcmd_param_set_add(&ps, "dbl", 1, &two, LCMD_PARAM_PLAIN, NULL), LCMD_OK);
    float *buffer = calloc(ps.total + LCMD_PARAM_ALIGN, sizeof *buffer);
    lcmd_weights_report report = {.flags = LCMD_WEIGHTS_ALLOW_UNEXPECTED};
    ck_assert_int_eq(lcmd_weights_load_params(w, &ps, buffer, &report), LCMD_OK);
    ck_assert_float_eq(buffer[0], 0.5f);
    ck_assert_float_eq(buffer[1], -3.25f);
    ck_assert_int_eq(lcmd_param_set_add(&ps, "ints", 1, &two, LCMD_PARAM_PLAIN, NULL), LCMD_OK);
    ck_assert_int_eq(lcmd_weights_load_params(w, &ps, buffer, &report), LCMD_ERR_FORMAT);
    ck_assert(error_mentions("'ints'", "I64", path, (const char *)NULL));
    lcmd_weights_report_free(&report);
    free(buffer);
    lcmd_param_set_free(&ps);
    lcmd_weights_close(w);
    tmp_dir_free(dir);
}
END_TEST

/* save -> open -> load gives the same buffer (rounded for F16/BF16), and the
 * file is in PyTorch layout (checked against the fixture bytes for F32). */
START_TEST(save_round_trips)
{
    lcmd_weights *ref = open_ok(UNET_FIXTURE("sdxl"), NULL);
    lcmd_param_set ps;
    params_from(ref, &ps);
    float *buffer = calloc(ps.total, sizeof *buffer), *back = calloc(ps.total, sizeof *back);
    ck_assert_int_eq(lcmd_weights_load_params(ref, &ps, buffer, NULL), LCMD_OK);
    char *dir = tmp_dir_new();
    char folder[1024];
    path_in(folder, sizeof folder, dir, "unet");   /* created by save */
    static const struct { lcmd_st_dtype dt; const char *base, *variant; } v[] = {
        {LCMD_ST_F32, NULL, NULL},
        {LCMD_ST_F16, "diffusion_pytorch_model.fp16", "fp16"},
        {LCMD_ST_BF16, "diffusion_pytorch_model.bf16", "bf16"},
    };
    for (size_t i = 0; i < 3; i++) {
        ck_assert_msg(lcmd_weights_save_params(folder, &ps, buffer, v[i].dt, v[i].base) == LCMD_OK, "%s", lcmd_last_error());
        lcmd_weights *w = open_ok(folder, v[i].variant);
        ck_assert_str_eq(lcmd_safetensors_metadata(lcmd_weights_file(w, 0), "format"), "pt");
        ck_assert_int_eq(lcmd_weights_load_params(w, &ps, back, NULL), LCMD_OK);
        expect_values(&ps, back, ref, v[i].dt);
        if (v[i].dt == LCMD_ST_F32)
            for (size_t j = 0; j < lcmd_weights_count(w); j++) {
                const lcmd_st_tensor *a = lcmd_weights_at(w, j, NULL), *b = lcmd_weights_at(ref, j, NULL);
                ck_assert_str_eq(a->name, b->name);
                ck_assert_mem_eq(a->data, b->data, (size_t)(a->end - a->begin));
            }
        lcmd_weights_close(w);
    }
    ck_assert_int_eq(dir_entry_count(folder), 3);
    ck_assert_int_eq(lcmd_weights_save_params(folder, &ps, buffer, LCMD_ST_I64, NULL), LCMD_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(lcmd_weights_save_params(folder, &ps, buffer, LCMD_ST_F32, "../evil"), LCMD_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(lcmd_weights_save_params(folder, NULL, buffer, LCMD_ST_F32, NULL), LCMD_ERR_INVALID_ARGUMENT);
    char deep[1100];
    path_in(deep, sizeof deep, dir, "a/b/c");
    ck_assert_int_eq(lcmd_weights_save_params(deep, &ps, buffer, LCMD_ST_F32, NULL), LCMD_ERR_IO);
    ck_assert(error_mentions(deep, (const char *)NULL));
    tmp_dir_free(strdup(folder));
    tmp_dir_free(dir);
    free(back);
    free(buffer);
    lcmd_param_set_free(&ps);
    lcmd_weights_close(ref);
}
END_TEST

TCase *io_weights_params_tcase(void)
{
    TCase *tc = tcase_create("weights_params");
    tcase_add_test(tc, every_fixture_kind_and_dtype_loads_exactly);
    tcase_add_test(tc, sharded_fixture_loads_exactly);
    tcase_add_test(tc, config_contradicting_weights_is_a_shape_error);
    tcase_add_test(tc, student_loads_teacher_with_allowed_missing_key);
    tcase_add_test(tc, many_missing_names_are_summarised);
    tcase_add_test(tc, non_float_and_f64_tensors);
    tcase_add_test(tc, save_round_trips);
    return tc;
}
