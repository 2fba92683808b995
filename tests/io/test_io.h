/* Shared helpers of the file-format tests: temp folders and hand-made files. */
#ifndef LCMD_TEST_IO_H
#define LCMD_TEST_IO_H

#include <check.h>
#include <stddef.h>
#include <lcmd/lcmd.h>

#define UNET_FIXTURE(rel) LCMD_FIXTURES "/unet/" rel

/* A fresh directory under $TMPDIR (or /tmp); the caller owns the string. */
char *tmp_dir_new(void);
/* Removes the directory and the plain files in it, then frees `dir`. */
void tmp_dir_free(char *dir);
/* dir/name in a static-free buffer of `cap` bytes. */
void path_in(char *buf, size_t cap, const char *dir, const char *name);
/* Writes `len` bytes to dir/name (fails the test on error). */
void write_bytes(const char *dir, const char *name, const void *data, size_t len);
/* Writes a string (without its NUL) to dir/name. */
void write_text(const char *dir, const char *name, const char *text);
/* An 8-byte length + `header` + `data_len` data bytes (value i % 251) in a new
 * malloc'd buffer; *len receives the total. */
unsigned char *make_st(const char *header, size_t data_len, size_t *len);
/* make_st written to dir/name. */
void write_st(const char *dir, const char *name, const char *header, size_t data_len);
/* Number of directory entries in `dir` (., .. excluded). */
int dir_entry_count(const char *dir);
/* 1 when lcmd_last_error() contains every NULL-terminated needle. */
int error_mentions(const char *first, ...);
/* Copies a file (fails the test on error). */
void copy_file(const char *from, const char *to);

TCase *io_safetensors_read_tcase(void);
TCase *io_safetensors_write_tcase(void);
TCase *io_weights_tcase(void);
TCase *io_weights_params_tcase(void);
TCase *io_json_tcase(void);

#endif
