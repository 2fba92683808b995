/* lcmd_demo_write_shards: WebDataset tars of demo samples (KEY.png, KEY.txt,
 * KEY.json), each streamed through libarchive into an atomically replaced file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <archive.h>
#include <archive_entry.h>
#include <stb_image_write.h>

#include "core/error.h"
#include "demo/demo_internal.h"
#include "io/atomic_file.h"

#define FN "lcmd_demo_write_shards"

/* where libarchive's blocks go: the atomic file, remembering the first failure */
typedef struct tar_sink {
    lcmd_atomic_file af;
    lcmd_status status;
} tar_sink;

static la_ssize_t sink_write(struct archive *a, void *user, const void *buf, size_t n)
{
    (void)a;
    tar_sink *t = user;
    if (t->status == LCMD_OK) t->status = lcmd_atomic_file_write(&t->af, buf, n);
    return t->status == LCMD_OK ? (la_ssize_t)n : -1;
}

typedef struct png_buf {
    uint8_t *p;
    size_t n, cap;
    int failed;
} png_buf;

static void png_append(void *user, void *data, int size)
{
    png_buf *b = user;
    if (b->failed || size <= 0) return;
    if (b->n + (size_t)size > b->cap) {
        size_t cap = 2 * (b->n + (size_t)size);
        uint8_t *p = realloc(b->p, cap);
        if (!p) {
            b->failed = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, data, (size_t)size);
    b->n += (size_t)size;
}

/* one regular-file member; fixed owner, mode and time so the bytes depend on the seed only */
static lcmd_status add_member(struct archive *a, const char *path, const char *name, const void *data, size_t len)
{
    struct archive_entry *e = archive_entry_new();
    if (!e) return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "%s: out of memory", FN);
    archive_entry_set_pathname(e, name);
    archive_entry_set_size(e, (la_int64_t)len);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_mtime(e, 0, 0);
    int r = archive_write_header(a, e);
    archive_entry_free(e);
    if (r != ARCHIVE_OK || (len && archive_write_data(a, data, len) != (la_ssize_t)len))
        return lcmd_set_error(LCMD_ERR_IO, "%s: cannot write member %s: %s", path, name,
                              archive_error_string(a) ? archive_error_string(a) : "write failed");
    return LCMD_OK;
}

static lcmd_status add_sample(struct archive *a, const char *path, const lcmd_demo_data_options *o, uint64_t index,
                              uint8_t *rgb)
{
    int32_t R = o->resolution;
    demo_sample s;
    LCMD_TRY(demo_sample_draw(o, index, &s));
    demo_sample_render(&s, R, rgb);
    png_buf png = {0};
    if (!stbi_write_png_to_func(png_append, &png, R, R, 3, rgb, R * 3) || png.failed) {
        free(png.p);
        return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "%s: cannot encode the PNG of sample %llu", FN,
                              (unsigned long long)index);
    }
    char key[32], name[48], caption[160], json[96];
    snprintf(key, sizeof key, "%06llu", (unsigned long long)index);
    demo_sample_caption(&s, caption, sizeof caption);
    int jn = snprintf(json, sizeof json, "{\"width\": %d, \"height\": %d}", (int)R, (int)R);
    snprintf(name, sizeof name, "%s.png", key);
    lcmd_status st = add_member(a, path, name, png.p, png.n);
    free(png.p);
    snprintf(name, sizeof name, "%s.txt", key);
    if (!st) st = add_member(a, path, name, caption, strlen(caption));
    snprintf(name, sizeof name, "%s.json", key);
    if (!st) st = add_member(a, path, name, json, (size_t)jn);
    return st;
}

static lcmd_status write_shard(const char *path, const lcmd_demo_data_options *o, int32_t shard, uint8_t *rgb)
{
    tar_sink sink = {.status = LCMD_OK};
    LCMD_TRY(lcmd_atomic_file_begin(path, &sink.af));
    struct archive *a = archive_write_new();
    lcmd_status s = a ? LCMD_OK : lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "%s: out of memory", FN);
    if (!s && (archive_write_set_format_ustar(a) != ARCHIVE_OK ||
               archive_write_open(a, &sink, NULL, sink_write, NULL) != ARCHIVE_OK))
        s = sink.status ? sink.status : lcmd_set_error(LCMD_ERR_IO, "%s: %s", path, archive_error_string(a));
    uint64_t first = (uint64_t)shard * (uint64_t)o->samples_per_shard;
    for (int32_t i = 0; !s && i < o->samples_per_shard; i++)
        s = add_sample(a, path, o, first + (uint64_t)i, rgb);
    if (!s && archive_write_close(a) != ARCHIVE_OK)
        s = sink.status ? sink.status : lcmd_set_error(LCMD_ERR_IO, "%s: %s", path, archive_error_string(a));
    if (!s && sink.status) s = sink.status;
    if (a) archive_write_free(a);
    if (!s) return lcmd_atomic_file_commit(&sink.af);
    lcmd_atomic_file_abort(&sink.af);
    return s;
}

LCMD_API lcmd_status lcmd_demo_write_shards(const char *folder, const lcmd_demo_data_options *opts)
{
    LCMD_CHECK_ARG(folder && *folder, FN, "folder is NULL or empty");
    lcmd_demo_data_options o;
    LCMD_TRY(demo_data_options_resolve(opts, &o, FN));
    LCMD_TRY(demo_make_folder(folder));
    uint8_t *rgb = malloc((size_t)o.resolution * (size_t)o.resolution * 3);
    if (!rgb) return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "%s: out of memory", FN);
    lcmd_status s = LCMD_OK;
    for (int32_t k = 0; !s && k < o.num_shards; k++) {
        char name[32];
        char *path = NULL;
        snprintf(name, sizeof name, "demo-%06d.tar", (int)k);
        s = demo_join(folder, name, &path);
        if (!s) s = write_shard(path, &o, k, rgb);
        free(path);
    }
    free(rgb);
    return s;
}
