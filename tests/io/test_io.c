/* File-format tests: safetensors reader and writer, weights folders, JSON configs. */
#include "test_io.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *tmp_dir_new(void)
{
    const char *base = getenv("TMPDIR");
    char buf[512];
    snprintf(buf, sizeof buf, "%s/lcmd-io-XXXXXX", base && *base ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(buf));
    char *dir = strdup(buf);
    ck_assert_ptr_nonnull(dir);
    return dir;
}

void tmp_dir_free(char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        char path[1024];
        while ((e = readdir(d)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
                path_in(path, sizeof path, dir, e->d_name);
                if (unlink(path) != 0)
                    rmdir(path);
            }
        closedir(d);
    }
    rmdir(dir);
    free(dir);
}

void path_in(char *buf, size_t cap, const char *dir, const char *name)
{
    ck_assert_int_lt(snprintf(buf, cap, "%s/%s", dir, name), (int)cap);
}

void write_bytes(const char *dir, const char *name, const void *data, size_t len)
{
    char path[1024];
    path_in(path, sizeof path, dir, name);
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s", path);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

void write_text(const char *dir, const char *name, const char *text)
{
    write_bytes(dir, name, text, strlen(text));
}

unsigned char *make_st(const char *header, size_t data_len, size_t *len)
{
    size_t hl = strlen(header);
    unsigned char *buf = malloc(8 + hl + data_len + 1);
    ck_assert_ptr_nonnull(buf);
    for (int i = 0; i < 8; i++)
        buf[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    memcpy(buf + 8, header, hl);
    for (size_t i = 0; i < data_len; i++)
        buf[8 + hl + i] = (unsigned char)(i % 251);
    *len = 8 + hl + data_len;
    return buf;
}

void write_st(const char *dir, const char *name, const char *header, size_t data_len)
{
    size_t len;
    unsigned char *buf = make_st(header, data_len, &len);
    write_bytes(dir, name, buf, len);
    free(buf);
}

int dir_entry_count(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

int error_mentions(const char *first, ...)
{
    const char *msg = lcmd_last_error();
    int ok = 1;
    va_list ap;
    va_start(ap, first);
    for (const char *s = first; s; s = va_arg(ap, const char *))
        ok &= strstr(msg, s) != NULL;
    va_end(ap);
    return ok;
}

void copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    ck_assert_msg(in && out, "copy %s -> %s", from, to);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        ck_assert_uint_eq(fwrite(buf, 1, n, out), n);
    fclose(in);
    ck_assert_int_eq(fclose(out), 0);
}

int main(void)
{
    Suite *suite = suite_create("io");
    suite_add_tcase(suite, io_safetensors_read_tcase());
    suite_add_tcase(suite, io_safetensors_write_tcase());
    suite_add_tcase(suite, io_weights_tcase());
    suite_add_tcase(suite, io_weights_params_tcase());
    suite_add_tcase(suite, io_json_tcase());
    SRunner *sr = srunner_create(suite);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
