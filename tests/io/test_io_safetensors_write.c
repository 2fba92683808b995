/* safetensors writer: round trips, the header format readers rely on, argument
 * checks, and atomic replacement. */
#include "test_io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "core/half.h"
#include "io/safetensors.h"
#include "io/safetensors_write.h"

static const float values[6] = {1.0f, -2.5f, 3.14159265f, 1e-8f, 65504.0f, -0.0f};

static lcmd_safetensors *reopen(const char *path)
{
    lcmd_safetensors *st = NULL;
    ck_assert_msg(lcmd_safetensors_open(path, &st) == LCMD_OK, "%s", lcmd_last_error());
    return st;
}

START_TEST(round_trip_every_dtype)
{
    char *dir = tmp_dir_new();
    char path[1024];
    path_in(path, sizeof path, dir, "rt.safetensors");
    int64_t ints[3] = {-1, 0, 1234567890123LL};
    double dbl[2] = {0.1, -1e300};
    lcmd_st_write_tensor t[6] = {
        {.name = "w.f32", .dtype = LCMD_ST_F32, .ndim = 2, .shape = {2, 3}, .f32 = values},
        {.name = "w.f16", .dtype = LCMD_ST_F16, .ndim = 2, .shape = {3, 2}, .f32 = values},
        {.name = "w.bf16", .dtype = LCMD_ST_BF16, .ndim = 1, .shape = {6}, .f32 = values},
        {.name = "a.i64", .dtype = LCMD_ST_I64, .ndim = 1, .shape = {3}, .data = ints},
        {.name = "a.f64", .dtype = LCMD_ST_F64, .ndim = 1, .shape = {2}, .data = dbl},
        {.name = "s.f64", .dtype = LCMD_ST_F64, .ndim = 0, .f32 = values + 2},
    };
    lcmd_st_metadata_entry meta[2] = {{"format", "pt"}, {"note", "caf\xc3\xa9"}};
    ck_assert_msg(lcmd_safetensors_write(path, t, 6, meta, 2) == LCMD_OK, "%s", lcmd_last_error());
    lcmd_safetensors *st = reopen(path);
    ck_assert_uint_eq(lcmd_safetensors_count(st), 6);
    ck_assert_str_eq(lcmd_safetensors_metadata(st, "note"), "caf\xc3\xa9");
    float got[6];
    ck_assert_int_eq(lcmd_safetensors_read_f32(st, "w.f32", got, 6), LCMD_OK);
    ck_assert_mem_eq(got, values, sizeof values);
    ck_assert_int_eq(lcmd_safetensors_read_f32(st, "w.f16", got, 6), LCMD_OK);
    for (int i = 0; i < 6; i++)
        ck_assert_float_eq(got[i], lcmd_f16_to_f32(lcmd_f32_to_f16(values[i])));
    ck_assert_int_eq(lcmd_safetensors_find(st, "w.f16")->dtype, LCMD_ST_F16);
    ck_assert_int_eq(lcmd_safetensors_read_f32(st, "w.bf16", got, 6), LCMD_OK);
    for (int i = 0; i < 6; i++)
        ck_assert_float_eq(got[i], lcmd_bf16_to_f32(lcmd_f32_to_bf16(values[i])));
    int64_t ints_back[3];
    ck_assert_int_eq(lcmd_safetensors_read_i64(st, "a.i64", ints_back, 3), LCMD_OK);
    ck_assert_mem_eq(ints_back, ints, sizeof ints);
    double dbl_back[2];
    ck_assert_int_eq(lcmd_safetensors_read_f64(st, "a.f64", dbl_back, 2), LCMD_OK);
    ck_assert_mem_eq(dbl_back, dbl, sizeof dbl);
    ck_assert_int_eq(lcmd_safetensors_read_f64(st, "s.f64", dbl_back, 1), LCMD_OK);
    ck_assert(dbl_back[0] == (double)values[2]);
    const lcmd_st_tensor *f16 = lcmd_safetensors_find(st, "w.f16");
    ck_assert_int_eq(f16->ndim, 2);
    ck_assert_int_eq(f16->shape[0], 3);
    lcmd_safetensors_close(st);
    tmp_dir_free(dir);
}
END_TEST

/* The layout safetensors itself writes: 8-aligned data start, sorted keys,
 * offsets in key order without gaps, data ending at EOF. */
START_TEST(header_is_sorted_padded_and_contiguous)
{
    char *dir = tmp_dir_new();
    char path[1024];
    path_in(path, sizeof path, dir, "h.safetensors");
    lcmd_st_write_tensor t[3] = {
        {.name = "zeta", .dtype = LCMD_ST_F16, .ndim = 1, .shape = {3}, .f32 = values},
        {.name = "alpha", .dtype = LCMD_ST_F32, .ndim = 1, .shape = {1}, .f32 = values},
        {.name = "mid", .dtype = LCMD_ST_BF16, .ndim = 1, .shape = {0}},
    };
    ck_assert_int_eq(lcmd_safetensors_write(path, t, 3, NULL, 0), LCMD_OK);
    FILE *f = fopen(path, "rb");
    unsigned char buf[4096];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--)
        hl = hl << 8 | buf[i];
    ck_assert_uint_eq(hl % 8, 0);
    ck_assert_uint_eq(n, 8 + hl + 4 + 6);
    char *header = strndup((const char *)buf + 8, hl);
    ck_assert_msg(strstr(header, "\"alpha\"") < strstr(header, "\"mid\"") && strstr(header, "\"mid\"") < strstr(header, "\"zeta\""),
                  "%s", header);
    ck_assert_ptr_nonnull(strstr(header, "\"data_offsets\":[0,4]"));
    ck_assert_ptr_nonnull(strstr(header, "\"data_offsets\":[4,10]"));
    ck_assert_ptr_null(strstr(header, "__metadata__"));
    free(header);
    tmp_dir_free(dir);
}
END_TEST

START_TEST(invalid_descriptors_write_nothing)
{
    char *dir = tmp_dir_new();
    char path[1024];
    path_in(path, sizeof path, dir, "bad.safetensors");
    static const struct { lcmd_st_write_tensor t[2]; size_t n; const char *needle; } cases[] = {
        {{{.name = "a", .dtype = LCMD_ST_F32, .ndim = 1, .shape = {1}, .f32 = values},
          {.name = "a", .dtype = LCMD_ST_F32, .ndim = 1, .shape = {1}, .f32 = values}}, 2, "twice"},
        {{{.name = "__metadata__", .dtype = LCMD_ST_F32, .ndim = 1, .shape = {1}, .f32 = values}}, 1, "reserved"},
        {{{.name = "", .dtype = LCMD_ST_F32, .ndim = 1, .shape = {1}, .f32 = values}}, 1, "no name"},
        {{{.name = "neg", .dtype = LCMD_ST_F32, .ndim = 1, .shape = {-1}, .f32 = values}}, 1, "negative"},
        {{{.name = "dims", .dtype = LCMD_ST_F32, .ndim = 9, .f32 = values}}, 1, "ndim"},
        {{{.name = "two", .dtype = LCMD_ST_F32, .ndim = 1, .shape = {1}, .f32 = values, .data = values}}, 1, "exactly one"},
        {{{.name = "none", .dtype = LCMD_ST_F32, .ndim = 1, .shape = {1}}}, 1, "exactly one"},
        {{{.name = "int", .dtype = LCMD_ST_I64, .ndim = 1, .shape = {1}, .f32 = values}}, 1, "cannot be written"},
        {{{.name = "\xff\xfe", .dtype = LCMD_ST_F32, .ndim = 1, .shape = {1}, .f32 = values}}, 1, "UTF-8"},
        {{{.name = "huge", .dtype = LCMD_ST_F32, .ndim = 2, .shape = {INT64_MAX, 4}, .data = values}}, 1, "'huge'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        ck_assert_int_eq(lcmd_safetensors_write(path, cases[i].t, cases[i].n, NULL, 0), LCMD_ERR_INVALID_ARGUMENT);
        ck_assert_msg(error_mentions(path, cases[i].needle, (const char *)NULL), "case %zu: %s", i, lcmd_last_error());
    }
    lcmd_st_metadata_entry dup[2] = {{"k", "1"}, {"k", "2"}};
    lcmd_st_write_tensor ok = {.name = "ok", .dtype = LCMD_ST_F32, .ndim = 1, .shape = {1}, .f32 = values};
    ck_assert_int_eq(lcmd_safetensors_write(path, &ok, 1, dup, 2), LCMD_ERR_INVALID_ARGUMENT);
    lcmd_st_metadata_entry null_value = {"k", NULL};
    ck_assert_int_eq(lcmd_safetensors_write(path, &ok, 1, &null_value, 1), LCMD_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(dir_entry_count(dir), 0);
    tmp_dir_free(dir);
}
END_TEST

static lcmd_status failing_source(void *ctx, float *dst, size_t n)
{
    (void)ctx;
    memset(dst, 0, n * sizeof *dst);
    return lcmd_set_error(LCMD_ERR_IO, "source failed on purpose");
}

typedef struct counted_values {
    const float *values;
    int calls;
} counted_values;

static lcmd_status counting_source(void *ctx, float *dst, size_t n)
{
    counted_values *c = ctx;
    memcpy(dst, c->values, n * sizeof *dst);
    c->calls++;
    return LCMD_OK;
}

START_TEST(source_callback_values_are_converted)
{
    char *dir = tmp_dir_new();
    char path[1024];
    path_in(path, sizeof path, dir, "cb.safetensors");
    counted_values ctx = {values, 0};
    lcmd_st_write_tensor t = {.name = "cb", .dtype = LCMD_ST_BF16, .ndim = 1, .shape = {6},
                              .source = counting_source, .source_ctx = &ctx};
    ck_assert_int_eq(lcmd_safetensors_write(path, &t, 1, NULL, 0), LCMD_OK);
    ck_assert_int_eq(ctx.calls, 1);
    lcmd_safetensors *st = reopen(path);
    float got[6];
    ck_assert_int_eq(lcmd_safetensors_read_f32(st, "cb", got, 6), LCMD_OK);
    for (int i = 0; i < 6; i++)
        ck_assert_float_eq(got[i], lcmd_bf16_to_f32(lcmd_f32_to_bf16(values[i])));
    lcmd_safetensors_close(st);
    tmp_dir_free(dir);
}
END_TEST

static unsigned char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    unsigned char *buf = malloc(1 << 16);
    *len = fread(buf, 1, 1 << 16, f);
    fclose(f);
    return buf;
}

/* A failure half-way through leaves the old file byte-identical and no temp behind. */
START_TEST(failed_write_keeps_the_old_file)
{
    char *dir = tmp_dir_new();
    char path[1024];
    path_in(path, sizeof path, dir, "model.safetensors");
    lcmd_st_write_tensor first = {.name = "a", .dtype = LCMD_ST_F32, .ndim = 1, .shape = {6}, .f32 = values};
    ck_assert_int_eq(lcmd_safetensors_write(path, &first, 1, NULL, 0), LCMD_OK);
    chmod(path, 0640);
    size_t old_len;
    unsigned char *old = read_all(path, &old_len);
    lcmd_st_write_tensor second[2] = {
        {.name = "a", .dtype = LCMD_ST_F32, .ndim = 1, .shape = {6}, .f32 = values},
        {.name = "b", .dtype = LCMD_ST_F16, .ndim = 1, .shape = {6}, .source = failing_source},
    };
    ck_assert_int_eq(lcmd_safetensors_write(path, second, 2, NULL, 0), LCMD_ERR_IO);
    ck_assert(error_mentions("on purpose", (const char *)NULL));
    size_t now_len;
    unsigned char *now = read_all(path, &now_len);
    ck_assert_uint_eq(now_len, old_len);
    ck_assert_mem_eq(now, old, old_len);
    ck_assert_int_eq(dir_entry_count(dir), 1);
    /* a successful rewrite keeps the file's mode */
    ck_assert_int_eq(lcmd_safetensors_write(path, second, 1, NULL, 0), LCMD_OK);
    struct stat sb;
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 0777, 0640);
    ck_assert_int_eq(dir_entry_count(dir), 1);
    free(old);
    free(now);
    tmp_dir_free(dir);
}
END_TEST

START_TEST(unwritable_targets_are_io_errors)
{
    char *dir = tmp_dir_new();
    char path[1024];
    lcmd_st_write_tensor t = {.name = "a", .dtype = LCMD_ST_F32, .ndim = 1, .shape = {6}, .f32 = values};
    path_in(path, sizeof path, dir, "no/such/dir.safetensors");
    ck_assert_int_eq(lcmd_safetensors_write(path, &t, 1, NULL, 0), LCMD_ERR_IO);
    ck_assert(error_mentions(path, (const char *)NULL));
    /* the target is a directory: rename fails, the temp is removed */
    path_in(path, sizeof path, dir, "taken");
    ck_assert_int_eq(mkdir(path, 0755), 0);
    ck_assert_int_eq(lcmd_safetensors_write(path, &t, 1, NULL, 0), LCMD_ERR_IO);
    ck_assert(error_mentions(path, "rename", (const char *)NULL));
    ck_assert_int_eq(dir_entry_count(dir), 1);
    ck_assert_int_eq(lcmd_safetensors_write(NULL, &t, 1, NULL, 0), LCMD_ERR_INVALID_ARGUMENT);
    tmp_dir_free(dir);
}
END_TEST

START_TEST(empty_file_round_trips)
{
    char *dir = tmp_dir_new();
    char path[1024];
    path_in(path, sizeof path, dir, "empty.safetensors");
    ck_assert_int_eq(lcmd_safetensors_write(path, NULL, 0, NULL, 0), LCMD_OK);
    lcmd_safetensors *st = reopen(path);
    ck_assert_uint_eq(lcmd_safetensors_count(st), 0);
    lcmd_safetensors_close(st);
    tmp_dir_free(dir);
}
END_TEST

TCase *io_safetensors_write_tcase(void)
{
    TCase *tc = tcase_create("safetensors_write");
    tcase_add_test(tc, round_trip_every_dtype);
    tcase_add_test(tc, header_is_sorted_padded_and_contiguous);
    tcase_add_test(tc, invalid_descriptors_write_nothing);
    tcase_add_test(tc, source_callback_values_are_converted);
    tcase_add_test(tc, failed_write_keeps_the_old_file);
    tcase_add_test(tc, unwritable_targets_are_io_errors);
    tcase_add_test(tc, empty_file_round_trips);
    return tc;
}
