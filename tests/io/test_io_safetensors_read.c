/* safetensors reader against hostile input: every lie in a header is an error
 * naming the file (and the tensor), never a crash or an out-of-bounds read. */
#include "test_io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"

/* Opens `header` + data_len bytes from memory; returns the status, closes on success. */
static lcmd_status open_header(const char *header, size_t data_len)
{
    size_t len;
    unsigned char *buf = make_st(header, data_len, &len);
    lcmd_safetensors *st = NULL;
    lcmd_status s = lcmd_safetensors_open_memory(buf, len, "bad.safetensors", &st);
    if (s == LCMD_OK) {
        for (size_t i = 0; i < lcmd_safetensors_count(st); i++) {
            const lcmd_st_tensor *t = lcmd_safetensors_at(st, i);
            float *dst = malloc((size_t)t->numel * sizeof *dst + 1);
            lcmd_safetensors_read_f32(st, t->name, dst, (size_t)t->numel);
            free(dst);
        }
        lcmd_safetensors_close(st);
    } else {
        ck_assert_ptr_null(st);
    }
    free(buf);
    return s;
}

#define EXPECT_FORMAT(header, data_len, ...)                                                  \
    do {                                                                                      \
        ck_assert_int_eq(open_header(header, data_len), LCMD_ERR_FORMAT);                    \
        ck_assert_msg(error_mentions("bad.safetensors", __VA_ARGS__, (const char *)NULL),    \
                      "message: %s", lcmd_last_error());                                      \
    } while (0)

START_TEST(valid_minimal_file)
{
    const char *h = "{\"__metadata__\":{\"format\":\"pt\"},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]},"
                    "\"a\":{\"dtype\":\"F16\",\"shape\":[2,2],\"data_offsets\":[0,8]},"
                    "\"s\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[16,24]},"
                    "\"z\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[24,24]}}";
    size_t len;
    unsigned char *buf = make_st(h, 24, &len);
    lcmd_safetensors *st = NULL;
    ck_assert_int_eq(lcmd_safetensors_open_memory(buf, len, "ok", &st), LCMD_OK);
    ck_assert_uint_eq(lcmd_safetensors_count(st), 4);
    ck_assert_str_eq(lcmd_safetensors_at(st, 0)->name, "a");   /* sorted by name */
    ck_assert_str_eq(lcmd_safetensors_metadata(st, "format"), "pt");
    ck_assert_ptr_null(lcmd_safetensors_metadata(st, "nope"));
    const lcmd_st_tensor *s = lcmd_safetensors_find(st, "s");
    ck_assert_int_eq(s->ndim, 0);
    ck_assert_int_eq(s->numel, 1);
    ck_assert_int_eq(lcmd_safetensors_find(st, "z")->numel, 0);
    float two[2];
    ck_assert_int_eq(lcmd_safetensors_read_f32(st, "b", two, 2), LCMD_OK);
    ck_assert_int_eq(lcmd_safetensors_read_f32(st, "b", two, 3), LCMD_ERR_FORMAT);
    ck_assert_int_eq(lcmd_safetensors_read_f32(st, "missing", two, 2), LCMD_ERR_FORMAT);
    ck_assert(error_mentions("ok", "missing", (const char *)NULL));
    lcmd_safetensors_close(st);
    free(buf);
}
END_TEST

START_TEST(short_and_huge_headers)
{
    lcmd_safetensors *st = NULL;
    unsigned char small[5] = {1, 0, 0, 0, 0};
    ck_assert_int_eq(lcmd_safetensors_open_memory(small, sizeof small, "bad.safetensors", &st), LCMD_ERR_FORMAT);
    ck_assert_int_eq(lcmd_safetensors_open_memory(small, 0, "bad.safetensors", &st), LCMD_ERR_FORMAT);
    unsigned char huge[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, '{', '}'};
    ck_assert_int_eq(lcmd_safetensors_open_memory(huge, sizeof huge, "bad.safetensors", &st), LCMD_ERR_FORMAT);
    ck_assert(error_mentions("bad.safetensors", "limit", (const char *)NULL));
    unsigned char all_ones[16];
    memset(all_ones, 0xff, sizeof all_ones);
    ck_assert_int_eq(lcmd_safetensors_open_memory(all_ones, sizeof all_ones, "bad.safetensors", &st), LCMD_ERR_FORMAT);
    unsigned char past_end[16] = {100, 0, 0, 0, 0, 0, 0, 0, '{', '}'};
    ck_assert_int_eq(lcmd_safetensors_open_memory(past_end, sizeof past_end, "bad.safetensors", &st), LCMD_ERR_FORMAT);
    ck_assert(error_mentions("bad.safetensors", "past the end", (const char *)NULL));
    ck_assert_ptr_null(st);
}
END_TEST

START_TEST(malformed_or_non_object_json)
{
    EXPECT_FORMAT("{", 0, "header JSON", "line");
    EXPECT_FORMAT("[1, 2]", 0, "not an object");
    EXPECT_FORMAT("\"text\"", 0, "header JSON");
    EXPECT_FORMAT("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                  "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "duplicate");
    EXPECT_FORMAT("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}\x01", 4, "header JSON");
    EXPECT_FORMAT("{\"\xff\":1}", 0, "header JSON");
}
END_TEST

START_TEST(wrong_json_types)
{
    EXPECT_FORMAT("{\"t\":5}", 0, "'t'", "not a JSON object");
    EXPECT_FORMAT("{\"t\":{\"dtype\":3,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "'t'", "dtype");
    EXPECT_FORMAT("{\"t\":{\"dtype\":\"F32\",\"shape\":\"1\",\"data_offsets\":[0,4]}}", 4, "'t'", "shape");
    EXPECT_FORMAT("{\"t\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4, "'t'", "shape[0]");
    EXPECT_FORMAT("{\"t\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, "'t'", "shape[0]");
    EXPECT_FORMAT("{\"t\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "'t'", "data_offsets");
    EXPECT_FORMAT("{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 8, "'t'", "data_offsets");
    EXPECT_FORMAT("{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[\"0\",4]}}", 4, "'t'", "data_offsets");
    EXPECT_FORMAT("{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 4, "'t'", "data_offsets");
    EXPECT_FORMAT("{\"t\":{\"dtype\":\"Q4\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "'t'", "unknown dtype");
    EXPECT_FORMAT("{\"t\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4, "'t'", "dims");
    EXPECT_FORMAT("{\"__metadata__\":[1]}", 0, "__metadata__");
    EXPECT_FORMAT("{\"__metadata__\":{\"k\":1}}", 0, "__metadata__", "'k'");
}
END_TEST

START_TEST(headers_that_lie_about_data)
{
    /* offsets past the end of the data block */
    EXPECT_FORMAT("{\"t\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 12, "'t'", "outside");
    EXPECT_FORMAT("{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[9223372036854775800,9223372036854775804]}}",
                  8, "'t'", "outside");
    /* begin after end */
    EXPECT_FORMAT("{\"t\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,4]}}", 8, "'t'", "outside");
    /* byte count that does not match dtype x shape */
    EXPECT_FORMAT("{\"t\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, "'t'", "F32");
    EXPECT_FORMAT("{\"t\":{\"dtype\":\"F16\",\"shape\":[2,2],\"data_offsets\":[0,4]}}", 8, "'t'", "F16");
    /* a shape whose element count overflows 64 bits */
    EXPECT_FORMAT("{\"t\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,16],\"data_offsets\":[0,4]}}", 4,
                  "'t'", "overflows");
    EXPECT_FORMAT("{\"t\":{\"dtype\":\"F64\",\"shape\":[2305843009213693952,4],\"data_offsets\":[0,0]}}", 4, "'t'");
    /* overlapping byte ranges */
    EXPECT_FORMAT("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                  "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, "'a'", "'b'", "overlap");
    EXPECT_FORMAT("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                  "\"b\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8, "overlap");
}
END_TEST

START_TEST(read_rejects_non_numeric_dtypes)
{
    size_t len;
    unsigned char *buf = make_st("{\"m\":{\"dtype\":\"BOOL\",\"shape\":[4],\"data_offsets\":[0,4]}}", 4, &len);
    lcmd_safetensors *st = NULL;
    ck_assert_int_eq(lcmd_safetensors_open_memory(buf, len, "bool.safetensors", &st), LCMD_OK);
    float f[4];
    ck_assert_int_eq(lcmd_safetensors_read_f32(st, "m", f, 4), LCMD_ERR_FORMAT);
    ck_assert(error_mentions("bool.safetensors", "'m'", "BOOL", (const char *)NULL));
    lcmd_safetensors_close(st);
    free(buf);
}
END_TEST

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "%s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)n);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* Every proper prefix of a real file is rejected: the last tensor ends at EOF. */
START_TEST(every_truncation_of_a_fixture_fails)
{
    size_t len;
    unsigned char *full = slurp(UNET_FIXTURE("sd15/diffusion_pytorch_model.fp16.safetensors"), &len);
    lcmd_safetensors *st = NULL;
    ck_assert_int_eq(lcmd_safetensors_open_memory(full, len, "full", &st), LCMD_OK);
    lcmd_safetensors_close(st);
    for (size_t cut = 0; cut < len; cut += cut < 64 ? 1 : 61) {
        unsigned char *copy = malloc(cut + 1);   /* exact size: ASan sees any overread */
        memcpy(copy, full, cut);
        st = NULL;
        ck_assert_msg(lcmd_safetensors_open_memory(copy, cut, "cut", &st) == LCMD_ERR_FORMAT, "cut at %zu accepted", cut);
        ck_assert_ptr_null(st);
        free(copy);
    }
    free(full);
}
END_TEST

START_TEST(truncated_file_on_disk_names_file_and_tensor)
{
    char *dir = tmp_dir_new();
    size_t len;
    unsigned char *full = slurp(UNET_FIXTURE("sd15/diffusion_pytorch_model.safetensors"), &len);
    write_bytes(dir, "cut.safetensors", full, len - 3);
    char path[1024];
    path_in(path, sizeof path, dir, "cut.safetensors");
    lcmd_safetensors *st = NULL;
    ck_assert_int_eq(lcmd_safetensors_open(path, &st), LCMD_ERR_FORMAT);
    ck_assert_msg(error_mentions(path, "tensor '", "outside", (const char *)NULL), "%s", lcmd_last_error());
    write_bytes(dir, "empty.safetensors", "", 0);
    path_in(path, sizeof path, dir, "empty.safetensors");
    ck_assert_int_eq(lcmd_safetensors_open(path, &st), LCMD_ERR_FORMAT);
    ck_assert_int_eq(lcmd_safetensors_open(dir, &st), LCMD_ERR_IO);   /* a directory */
    path_in(path, sizeof path, dir, "absent.safetensors");
    ck_assert_int_eq(lcmd_safetensors_open(path, &st), LCMD_ERR_IO);
    ck_assert(error_mentions("absent.safetensors", (const char *)NULL));
    free(full);
    tmp_dir_free(dir);
}
END_TEST

TCase *io_safetensors_read_tcase(void)
{
    TCase *tc = tcase_create("safetensors_read");
    tcase_add_test(tc, valid_minimal_file);
    tcase_add_test(tc, short_and_huge_headers);
    tcase_add_test(tc, malformed_or_non_object_json);
    tcase_add_test(tc, wrong_json_types);
    tcase_add_test(tc, headers_that_lie_about_data);
    tcase_add_test(tc, read_rejects_non_numeric_dtypes);
    tcase_add_test(tc, every_truncation_of_a_fixture_fails);
    tcase_add_test(tc, truncated_file_on_disk_names_file_and_tensor);
    return tc;
}
