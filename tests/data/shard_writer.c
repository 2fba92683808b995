#include "shard_writer.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdlib.h>
#include <string.h>

#include <stb_image_write.h>

struct archive *tw_open(const char *path, int compression)
{
    struct archive *a = archive_write_new();
    if (!a)
        return NULL;
    archive_write_set_format_ustar(a);
    if (compression == TW_GZIP)
        archive_write_add_filter_gzip(a);
    else if (compression == TW_ZSTD)
        archive_write_add_filter_zstd(a);
    if (archive_write_open_filename(a, path) != ARCHIVE_OK) {
        archive_write_free(a);
        return NULL;
    }
    return a;
}

int tw_add(struct archive *a, const char *name, const void *data, size_t len)
{
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, name);
    archive_entry_set_size(e, (la_int64_t)len);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    int r = archive_write_header(a, e);
    archive_entry_free(e);
    if (r != ARCHIVE_OK)
        return -1;
    if (len && archive_write_data(a, data, len) != (la_ssize_t)len)
        return -1;
    return 0;
}

int tw_add_str(struct archive *a, const char *name, const char *text)
{
    return tw_add(a, name, text, strlen(text));
}

int tw_close(struct archive *a)
{
    int r = archive_write_close(a);
    archive_write_free(a);
    return r == ARCHIVE_OK ? 0 : -1;
}

typedef struct membuf {
    uint8_t *p;
    size_t n;
} membuf;

static void sink(void *ctx, void *data, int size)
{
    membuf *m = ctx;
    uint8_t *q = realloc(m->p, m->n + (size_t)size);
    if (!q)
        return;
    memcpy(q + m->n, data, (size_t)size);
    m->p = q;
    m->n += (size_t)size;
}

static uint8_t *pixels(int w, int h, int comp, uint8_t r, uint8_t g, uint8_t b)
{
    uint8_t *px = malloc((size_t)w * (size_t)h * (size_t)comp);
    uint8_t c[4] = { r, g, b, 128 };
    if (comp == 1)
        c[0] = r;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int k = 0; k < comp; k++)
                px[((size_t)y * (size_t)w + (size_t)x) * (size_t)comp + (size_t)k] = c[k];
    return px;
}

uint8_t *tw_png(int w, int h, int comp, uint8_t r, uint8_t g, uint8_t b, size_t *len)
{
    uint8_t *px = pixels(w, h, comp, r, g, b);
    membuf m = { 0 };
    stbi_write_png_to_func(sink, &m, w, h, comp, px, w * comp);
    free(px);
    *len = m.n;
    return m.p;
}

uint8_t *tw_jpg(int w, int h, uint8_t r, uint8_t g, uint8_t b, size_t *len)
{
    uint8_t *px = pixels(w, h, 3, r, g, b);
    membuf m = { 0 };
    stbi_write_jpg_to_func(sink, &m, w, h, 3, px, 95);
    free(px);
    *len = m.n;
    return m.p;
}
