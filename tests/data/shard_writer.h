/* Test helpers: tar shards written with libarchive, images encoded with stb. */
#ifndef LCMD_TEST_SHARD_WRITER_H
#define LCMD_TEST_SHARD_WRITER_H

#include <stddef.h>
#include <stdint.h>

struct archive;

enum { TW_PLAIN = 0, TW_GZIP = 1, TW_ZSTD = 2 };

/* Opens a ustar writer on `path` with the given compression; NULL on failure. */
struct archive *tw_open(const char *path, int compression);
/* Adds a regular file member; 0 on success. */
int tw_add(struct archive *a, const char *name, const void *data, size_t len);
/* Adds a text member (strlen). */
int tw_add_str(struct archive *a, const char *name, const char *text);
/* Finishes and frees the writer; 0 on success. */
int tw_close(struct archive *a);

/* A w x h RGB image of one colour (r, g, b) plus a little pattern, as PNG or JPEG
 * bytes (malloc'd; *len set). */
uint8_t *tw_png(int w, int h, int comp, uint8_t r, uint8_t g, uint8_t b, size_t *len);
uint8_t *tw_jpg(int w, int h, uint8_t r, uint8_t g, uint8_t b, size_t *len);

#endif
