/* Model folders: diffusers' file naming (variants, shards, transformers names)
 * and every way a sharded index can contradict its shards. */
#include "test_io.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/json_file.h"
#include "io/weights.h"

#define F32_1(off) "{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[" off "]}"

static lcmd_weights *open_ok(const char *folder, const char *variant)
{
    lcmd_weights *w = NULL;
    ck_assert_msg(lcmd_weights_open(folder, variant, &w) == LCMD_OK, "%s", lcmd_last_error());
    return w;
}

static int ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), m = strlen(tail);
    return n >= m && strcmp(s + n - m, tail) == 0;
}

START_TEST(fixture_folders_resolve_like_diffusers)
{
    static const char *const kinds[] = {"sd15", "sd2", "sdxl", "lcm"};
    for (size_t k = 0; k < 4; k++) {
        char folder[512], keys_path[512];
        snprintf(folder, sizeof folder, UNET_FIXTURE("%s"), kinds[k]);
        snprintf(keys_path, sizeof keys_path, UNET_FIXTURE("keys_%s.json"), kinds[k]);
        json_t *keys = NULL;
        ck_assert_int_eq(lcmd_json_load_file(keys_path, LCMD_JSON_DEFAULT_MAX_BYTES, &keys), LCMD_OK);
        static const struct { const char *variant, *file; lcmd_st_dtype dt; } v[] = {
            {NULL, "/diffusion_pytorch_model.safetensors", LCMD_ST_F32},
            {"fp16", "/diffusion_pytorch_model.fp16.safetensors", LCMD_ST_F16},
            {"bf16", "/diffusion_pytorch_model.bf16.safetensors", LCMD_ST_BF16},
        };
        for (size_t i = 0; i < 3; i++) {
            lcmd_weights *w = open_ok(folder, v[i].variant);
            ck_assert_msg(ends_with(lcmd_weights_source(w), v[i].file), "%s", lcmd_weights_source(w));
            ck_assert_uint_eq(lcmd_weights_count(w), json_array_size(keys));
            ck_assert_uint_eq(lcmd_weights_file_count(w), 1);
            size_t j;
            json_t *key;
            json_array_foreach(keys, j, key) {
                const lcmd_st_tensor *t = lcmd_weights_find(w, json_string_value(key), NULL);
                ck_assert_msg(t != NULL, "%s: %s", kinds[k], json_string_value(key));
                ck_assert_int_eq(t->dtype, v[i].dt);
            }
            lcmd_weights_close(w);
        }
        json_decref(keys);
    }
}
END_TEST

START_TEST(sharded_fixture_merges_shards)
{
    lcmd_weights *w = open_ok(UNET_FIXTURE("sd15_sharded"), NULL);
    lcmd_weights *single = open_ok(UNET_FIXTURE("sd15"), NULL);
    ck_assert(ends_with(lcmd_weights_source(w), "diffusion_pytorch_model.safetensors.index.json"));
    ck_assert_uint_eq(lcmd_weights_file_count(w), 2);
    ck_assert_uint_eq(lcmd_weights_count(w), lcmd_weights_count(single));
    for (size_t i = 0; i < lcmd_weights_count(w); i++) {
        const lcmd_safetensors *fa, *fb;
        const lcmd_st_tensor *a = lcmd_weights_at(w, i, &fa), *b = lcmd_weights_at(single, i, &fb);
        ck_assert_str_eq(a->name, b->name);
        ck_assert(lcmd_weights_find(w, a->name, NULL) == a);
        ck_assert_int_eq(a->numel, b->numel);
        ck_assert_mem_eq(a->data, b->data, (size_t)(a->end - a->begin));
    }
    ck_assert_ptr_null(lcmd_weights_at(w, lcmd_weights_count(w), NULL));
    ck_assert_ptr_null(lcmd_weights_find(w, "nope", NULL));
    lcmd_weights_close(w);
    lcmd_weights_close(single);
    /* a variant never falls back to the plain files */
    w = NULL;
    ck_assert_int_eq(lcmd_weights_open(UNET_FIXTURE("sd15_sharded"), "fp16", &w), LCMD_ERR_IO);
    ck_assert(error_mentions("fp16", (const char *)NULL));
    ck_assert_ptr_null(w);
}
END_TEST

/* Two one-tensor shards "s1" (a) and "s2" (b) plus the given index text. */
static void two_shards(const char *dir, const char *s1, const char *s2, const char *index_name, const char *index)
{
    write_st(dir, s1, "{\"a\":" F32_1("0,4") "}", 4);
    write_st(dir, s2, "{\"b\":" F32_1("0,4") "}", 4);
    write_text(dir, index_name, index);
}

START_TEST(variant_and_transformers_names)
{
    char *dir = tmp_dir_new();
    /* current diffusers variant index name, shards named as save_pretrained does */
    two_shards(dir, "diffusion_pytorch_model.fp16-00001-of-00002.safetensors",
               "diffusion_pytorch_model.fp16-00002-of-00002.safetensors",
               "diffusion_pytorch_model.safetensors.index.fp16.json",
               "{\"metadata\":{\"total_size\":8},\"weight_map\":{"
               "\"a\":\"diffusion_pytorch_model.fp16-00001-of-00002.safetensors\","
               "\"b\":\"diffusion_pytorch_model.fp16-00002-of-00002.safetensors\"}}");
    lcmd_weights *w = open_ok(dir, "fp16");
    ck_assert_uint_eq(lcmd_weights_count(w), 2);
    ck_assert_uint_eq(lcmd_weights_file_count(w), 2);
    lcmd_weights_close(w);
    tmp_dir_free(dir);

    /* legacy variant index name */
    dir = tmp_dir_new();
    two_shards(dir, "x1.safetensors", "x2.safetensors", "diffusion_pytorch_model.safetensors.fp16.index.json",
               "{\"weight_map\":{\"a\":\"x1.safetensors\",\"b\":\"x2.safetensors\"}}");
    w = open_ok(dir, "fp16");
    ck_assert(ends_with(lcmd_weights_source(w), ".safetensors.fp16.index.json"));
    lcmd_weights_close(w);
    tmp_dir_free(dir);

    /* transformers: model.safetensors and model.safetensors.index.json */
    dir = tmp_dir_new();
    write_st(dir, "model.safetensors", "{\"a\":" F32_1("0,4") "}", 4);
    w = open_ok(dir, NULL);
    ck_assert(ends_with(lcmd_weights_source(w), "/model.safetensors"));
    lcmd_weights_close(w);
    two_shards(dir, "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", "model.safetensors.index.json",
               "{\"weight_map\":{\"a\":\"model-00001-of-00002.safetensors\",\"b\":\"model-00002-of-00002.safetensors\"}}");
    w = open_ok(dir, NULL);   /* the index wins over the single file, as in diffusers */
    ck_assert(ends_with(lcmd_weights_source(w), "model.safetensors.index.json"));
    ck_assert_uint_eq(lcmd_weights_count(w), 2);
    lcmd_weights_close(w);
    w = NULL;
    ck_assert_int_eq(lcmd_weights_open_named(dir, "diffusion_pytorch_model", NULL, &w), LCMD_ERR_IO);
    ck_assert_int_eq(lcmd_weights_open_named(dir, "model", NULL, &w), LCMD_OK);
    lcmd_weights_close(w);
    tmp_dir_free(dir);
}
END_TEST

START_TEST(no_weights_or_bad_arguments)
{
    char *dir = tmp_dir_new();
    lcmd_weights *w = NULL;
    ck_assert_int_eq(lcmd_weights_open(dir, NULL, &w), LCMD_ERR_IO);
    ck_assert(error_mentions(dir, "diffusion_pytorch_model.safetensors", "model.safetensors", (const char *)NULL));
    ck_assert_int_eq(lcmd_weights_open(dir, "../fp16", &w), LCMD_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(lcmd_weights_open(dir, "", &w), LCMD_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(lcmd_weights_open_named(dir, "../model", NULL, &w), LCMD_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(lcmd_weights_open(NULL, NULL, &w), LCMD_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(lcmd_weights_open(dir, NULL, NULL), LCMD_ERR_INVALID_ARGUMENT);
    /* a weights file that exists but is broken is reported, not skipped */
    write_text(dir, "diffusion_pytorch_model.safetensors", "garbage!");
    write_st(dir, "model.safetensors", "{\"a\":" F32_1("0,4") "}", 4);
    ck_assert_int_eq(lcmd_weights_open(dir, NULL, &w), LCMD_ERR_FORMAT);
    ck_assert(error_mentions("diffusion_pytorch_model.safetensors", (const char *)NULL));
    ck_assert_ptr_null(w);
    tmp_dir_free(dir);
}
END_TEST

#define INDEX "diffusion_pytorch_model.safetensors.index.json"

/* Opens dir, expects `want`, and checks the message mentions the needles. */
static void expect_open_error(const char *dir, lcmd_status want, const char *n1, const char *n2)
{
    lcmd_weights *w = NULL;
    lcmd_status s = lcmd_weights_open(dir, NULL, &w);
    ck_assert_msg(s == want, "status %d, want %d: %s", (int)s, (int)want, lcmd_last_error());
    ck_assert_ptr_null(w);
    ck_assert_msg(error_mentions(n1, n2, (const char *)NULL), "message: %s", lcmd_last_error());
}

START_TEST(malformed_indexes_are_refused)
{
    static const struct { const char *text, *n1, *n2; } cases[] = {
        {"{\"weight_map\": ", INDEX, "line 1"},
        {"[]", INDEX, "not a JSON object"},
        {"{}", INDEX, "weight_map"},
        {"{\"weight_map\": []}", INDEX, "weight_map"},
        {"{\"weight_map\": {}}", INDEX, "empty"},
        {"{\"weight_map\": {\"a\": 1}}", INDEX, "'a'"},
        {"{\"weight_map\": {\"a\": \"s1.safetensors\"}, \"metadata\": 3}", INDEX, "metadata"},
        {"{\"weight_map\": {\"a\": \"s1.safetensors\", \"a\": \"s2.safetensors\"}}", INDEX, "duplicate"},
        {"{\"weight_map\": {\"a\": \"../s1.safetensors\"}}", INDEX, "../s1.safetensors"},
        {"{\"weight_map\": {\"a\": \"/etc/passwd\"}}", INDEX, "same folder"},
        {"{\"weight_map\": {\"a\": \"sub/s1.safetensors\"}}", INDEX, "same folder"},
        {"{\"weight_map\": {\"a\": \"..\"}}", INDEX, "same folder"},
        {"{\"weight_map\": {\"a\": \"\"}}", INDEX, "same folder"},
        {"{\"weight_map\": {\"__metadata__\": \"s1.safetensors\"}}", INDEX, "__metadata__"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *dir = tmp_dir_new();
        two_shards(dir, "s1.safetensors", "s2.safetensors", INDEX, cases[i].text);
        expect_open_error(dir, LCMD_ERR_FORMAT, cases[i].n1, cases[i].n2);
        tmp_dir_free(dir);
    }
}
END_TEST

START_TEST(indexes_that_contradict_their_shards)
{
    char *dir = tmp_dir_new();
    /* a missing shard */
    two_shards(dir, "s1.safetensors", "s2.safetensors", INDEX,
               "{\"weight_map\":{\"a\":\"s1.safetensors\",\"b\":\"s3.safetensors\"}}");
    expect_open_error(dir, LCMD_ERR_IO, "s3.safetensors", INDEX);
    /* a key the shard does not hold */
    write_text(dir, INDEX, "{\"weight_map\":{\"a\":\"s1.safetensors\",\"b\":\"s2.safetensors\",\"c\":\"s2.safetensors\"}}");
    expect_open_error(dir, LCMD_ERR_FORMAT, "'c'", "s2.safetensors");
    /* a shard tensor the index does not list */
    write_text(dir, INDEX, "{\"weight_map\":{\"a\":\"s1.safetensors\"}}");
    write_st(dir, "s1.safetensors", "{\"a\":" F32_1("0,4") ",\"extra\":" F32_1("4,8") "}", 8);
    expect_open_error(dir, LCMD_ERR_FORMAT, "'extra'", "not listed");
    /* the same tensor in two shards */
    write_st(dir, "s1.safetensors", "{\"a\":" F32_1("0,4") "}", 4);
    write_st(dir, "s2.safetensors", "{\"a\":" F32_1("0,4") ",\"b\":" F32_1("4,8") "}", 8);
    write_text(dir, INDEX, "{\"weight_map\":{\"a\":\"s1.safetensors\",\"b\":\"s2.safetensors\"}}");
    expect_open_error(dir, LCMD_ERR_FORMAT, "'a'", "s2.safetensors");
    /* a broken shard is named */
    write_bytes(dir, "s2.safetensors", "\x04\0\0\0\0\0\0\0{}", 10);
    expect_open_error(dir, LCMD_ERR_FORMAT, "s2.safetensors", "past the end");
    /* the index is a directory */
    tmp_dir_free(dir);
    dir = tmp_dir_new();
    char path[1024];
    path_in(path, sizeof path, dir, INDEX);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    expect_open_error(dir, LCMD_ERR_IO, INDEX, "regular");
    tmp_dir_free(dir);
}
END_TEST

START_TEST(each_shard_is_opened_once)
{
    char *dir = tmp_dir_new();
    write_st(dir, "s1.safetensors", "{\"a\":" F32_1("0,4") ",\"c\":" F32_1("4,8") "}", 8);
    write_st(dir, "s2.safetensors", "{\"b\":" F32_1("0,4") "}", 4);
    write_text(dir, INDEX, "{\"weight_map\":{\"c\":\"s1.safetensors\",\"b\":\"s2.safetensors\",\"a\":\"s1.safetensors\"}}");
    lcmd_weights *w = open_ok(dir, NULL);
    ck_assert_uint_eq(lcmd_weights_file_count(w), 2);
    ck_assert_uint_eq(lcmd_weights_count(w), 3);
    const lcmd_safetensors *fa, *fc;
    lcmd_weights_find(w, "a", &fa);
    lcmd_weights_find(w, "c", &fc);
    ck_assert_ptr_eq(fa, fc);
    ck_assert_str_eq(lcmd_weights_at(w, 2, NULL)->name, "c");
    lcmd_weights_close(w);
    tmp_dir_free(dir);
}
END_TEST

TCase *io_weights_tcase(void)
{
    TCase *tc = tcase_create("weights");
    tcase_add_test(tc, fixture_folders_resolve_like_diffusers);
    tcase_add_test(tc, sharded_fixture_merges_shards);
    tcase_add_test(tc, variant_and_transformers_names);
    tcase_add_test(tc, no_weights_or_bad_arguments);
    tcase_add_test(tc, malformed_indexes_are_refused);
    tcase_add_test(tc, indexes_that_contradict_their_shards);
    tcase_add_test(tc, each_shard_is_opened_once);
    return tc;
}
