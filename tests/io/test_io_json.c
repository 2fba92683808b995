/* JSON configs: lcmd_json_load_file's errors and the model_index.json reader. */
#include "test_io.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/json_file.h"
#include "io/model_index.h"
#include "io/weights_index.h"

START_TEST(json_file_errors_name_the_file)
{
    char *dir = tmp_dir_new();
    char path[1024];
    json_t *j = NULL;
    write_text(dir, "ok.json", "{\"a\": [1, 2]}");
    path_in(path, sizeof path, dir, "ok.json");
    ck_assert_int_eq(lcmd_json_load_file(path, 1024, &j), LCMD_OK);
    ck_assert_int_eq(json_array_size(json_object_get(j, "a")), 2);
    json_decref(j);
    /* size limit */
    ck_assert_int_eq(lcmd_json_load_file(path, 5, &j), LCMD_ERR_FORMAT);
    ck_assert(error_mentions(path, "limit", (const char *)NULL));
    ck_assert_ptr_null(j);
    /* malformed: line and column */
    write_text(dir, "bad.json", "{\n  \"a\": 1,\n  \"b\": tru\n}");
    path_in(path, sizeof path, dir, "bad.json");
    ck_assert_int_eq(lcmd_json_load_file(path, 1024, &j), LCMD_ERR_FORMAT);
    ck_assert_msg(error_mentions(path, "line 3", "column", (const char *)NULL), "%s", lcmd_last_error());
    /* duplicate keys */
    write_text(dir, "dup.json", "{\"a\": 1, \"a\": 2}");
    path_in(path, sizeof path, dir, "dup.json");
    ck_assert_int_eq(lcmd_json_load_file(path, 1024, &j), LCMD_ERR_FORMAT);
    ck_assert(error_mentions(path, "duplicate", (const char *)NULL));
    /* empty, NUL byte, missing, a directory */
    write_text(dir, "empty.json", "");
    path_in(path, sizeof path, dir, "empty.json");
    ck_assert_int_eq(lcmd_json_load_file(path, 1024, &j), LCMD_ERR_FORMAT);
    write_bytes(dir, "nul.json", "{\"a\": \"x\0y\"}", 12);
    path_in(path, sizeof path, dir, "nul.json");
    ck_assert_int_eq(lcmd_json_load_file(path, 1024, &j), LCMD_ERR_FORMAT);
    path_in(path, sizeof path, dir, "absent.json");
    ck_assert_int_eq(lcmd_json_load_file(path, 1024, &j), LCMD_ERR_IO);
    ck_assert(error_mentions(path, (const char *)NULL));
    ck_assert_int_eq(lcmd_json_load_file(dir, 1024, &j), LCMD_ERR_IO);
    ck_assert_int_eq(lcmd_json_load_file(NULL, 1024, &j), LCMD_ERR_INVALID_ARGUMENT);
    tmp_dir_free(dir);
}
END_TEST

static const char sd_pipeline[] =
    "{\"_class_name\": \"StableDiffusionPipeline\", \"_diffusers_version\": \"0.42.1\","
    " \"feature_extractor\": [\"transformers\", \"CLIPImageProcessor\"],"
    " \"image_encoder\": [null, null], \"requires_safety_checker\": true,"
    " \"safety_checker\": [null, null], \"scheduler\": [\"diffusers\", \"LCMScheduler\"],"
    " \"text_encoder\": [\"transformers\", \"CLIPTextModel\"], \"tokenizer\": [\"transformers\", \"CLIPTokenizer\"],"
    " \"unet\": [\"diffusers\", \"UNet2DConditionModel\"], \"vae\": [\"diffusers\", \"AutoencoderKL\"],"
    " \"_name_or_path\": \"x\"}";

START_TEST(model_index_components)
{
    char *dir = tmp_dir_new();
    write_text(dir, "model_index.json", sd_pipeline);
    lcmd_model_index *mi = NULL;
    ck_assert_msg(lcmd_model_index_load(dir, &mi) == LCMD_OK, "%s", lcmd_last_error());
    ck_assert_str_eq(mi->class_name, "StableDiffusionPipeline");
    ck_assert_str_eq(mi->diffusers_version, "0.42.1");
    ck_assert_uint_eq(mi->count, 8);
    ck_assert_str_eq(mi->components[0].name, "feature_extractor");
    const lcmd_model_component *unet = lcmd_model_index_find(mi, "unet");
    ck_assert_str_eq(unet->library, "diffusers");
    ck_assert_str_eq(unet->class_name, "UNet2DConditionModel");
    const lcmd_model_component *sc = lcmd_model_index_find(mi, "safety_checker");
    ck_assert_ptr_null(sc->library);
    ck_assert_ptr_null(sc->class_name);
    ck_assert_ptr_null(lcmd_model_index_find(mi, "requires_safety_checker"));
    ck_assert_ptr_null(lcmd_model_index_find(mi, "_name_or_path"));
    lcmd_model_index_free(mi);
    tmp_dir_free(dir);
}
END_TEST

START_TEST(model_index_errors)
{
    static const struct { const char *text, *needle; } cases[] = {
        {"[1]", "not a JSON object"},
        {"{\"unet\": [\"diffusers\", \"UNet2DConditionModel\"]}", "_class_name"},
        {"{\"_class_name\": 3}", "_class_name"},
        {"{\"_class_name\": \"P\", \"_diffusers_version\": 1}", "_diffusers_version"},
        {"{\"_class_name\": \"P\", \"unet\": [\"diffusers\", null]}", "'unet'"},
        {"{\"_class_name\": \"P\", \"unet\": [\"diffusers\", 5]}", "'unet'"},
        {"{\"_class_name\": \"P\", \"../x\": [\"diffusers\", \"UNet2DConditionModel\"]}", "'../x'"},
        {"{\"_class_name\": \"P\", \"a/b\": [null, null]}", "'a/b'"},
        {"{\"_class_name\": \"P\", \"unet\": [\"d\", \"U\"], \"unet\": [\"d\", \"U\"]}", "duplicate"},
        {"{\"_class_name\": \"P\"", "line 1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        lcmd_model_index *mi = NULL;
        ck_assert_int_eq(lcmd_model_index_parse(cases[i].text, strlen(cases[i].text), "mi.json", &mi), LCMD_ERR_FORMAT);
        ck_assert_ptr_null(mi);
        ck_assert_msg(error_mentions("mi.json", cases[i].needle, (const char *)NULL), "case %zu: %s", i, lcmd_last_error());
    }
    char *dir = tmp_dir_new();
    lcmd_model_index *mi = NULL;
    ck_assert_int_eq(lcmd_model_index_load(dir, &mi), LCMD_ERR_IO);
    ck_assert(error_mentions("model_index.json", (const char *)NULL));
    tmp_dir_free(dir);
    /* a pipeline with no components at all is valid */
    ck_assert_int_eq(lcmd_model_index_parse("{\"_class_name\": \"P\"}", 20, NULL, &mi), LCMD_OK);
    ck_assert_uint_eq(mi->count, 0);
    lcmd_model_index_free(mi);
}
END_TEST

START_TEST(weights_index_parser)
{
    const char *text = "{\"metadata\": {\"total_size\": 12}, \"weight_map\": {\"z\": \"b.st\", \"a\": \"b.st\", \"m\": \"a.st\"}}";
    lcmd_weights_index *idx = NULL;
    ck_assert_int_eq(lcmd_weights_index_parse(text, strlen(text), NULL, &idx), LCMD_OK);
    ck_assert_uint_eq(idx->key_count, 3);
    ck_assert_uint_eq(idx->shard_count, 2);
    ck_assert_str_eq(idx->keys[0], "a");
    ck_assert_str_eq(idx->shards[0], "a.st");
    ck_assert_str_eq(lcmd_weights_index_shard_of(idx, "a"), "b.st");
    ck_assert_str_eq(lcmd_weights_index_shard_of(idx, "m"), "a.st");
    ck_assert_ptr_null(lcmd_weights_index_shard_of(idx, "q"));
    lcmd_weights_index_free(idx);
    ck_assert_int_eq(lcmd_weights_index_parse(NULL, 0, "x", &idx), LCMD_ERR_FORMAT);
    ck_assert_int_eq(lcmd_weights_index_parse(text, strlen(text), "x", NULL), LCMD_ERR_INVALID_ARGUMENT);
}
END_TEST

TCase *io_json_tcase(void)
{
    TCase *tc = tcase_create("json");
    tcase_add_test(tc, json_file_errors_name_the_file);
    tcase_add_test(tc, model_index_components);
    tcase_add_test(tc, model_index_errors);
    tcase_add_test(tc, weights_index_parser);
    return tc;
}
