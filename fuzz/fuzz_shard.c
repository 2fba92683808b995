/* libFuzzer: arbitrary bytes as one WebDataset shard through the whole data path of
 * lcmd_dataset: libarchive (tar, and any compression it detects), member grouping,
 * caption checks, json filters, image decode (stb_image, libwebp), resize, crop, flip
 * and batching. The bytes go to an anonymous in-memory file (memfd) that the dataset
 * opens by its /proc/self/fd path, so the code under test is exactly what a real shard
 * goes through. Each input runs twice: batches of one with a random crop, and batches
 * of two with the json filter, a centre crop and flips.
 *
 * Invariants checked (abort() on violation, which libFuzzer reports):
 *  - the stream ends with LCMD_END_OF_STREAM, or LCMD_ERR_IO when the bytes are not an
 *    archive at all; never another status;
 *  - batches have the requested size and side; every pixel is finite and in [-1, 1];
 *    captions are valid UTF-8; keys are non-empty;
 *  - every grouped sample is accounted for: samples_read equals samples_used plus the
 *    skip counters, and samples_used = batches * batch size + dropped_partial.
 *
 * Seeds (fuzz/corpus/fuzz_shard): a tar with an 8x8 PNG, its caption and json; the
 * same gzip- and zstd-compressed; a tar of awkward samples (folder keys, upper-case
 * extensions, `__meta__`, no caption, zero-byte image, split key, invalid UTF-8, an
 * 8x8 JPEG and a palette PNG with a .caption); and a truncated tar. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <lcmd/lcmd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void no_log(void *user, lcmd_log_level level, const char *msg)
{
    (void)user;
    (void)level;
    (void)msg;
}

/** Well-formed UTF-8 (the dataset promises valid captions). */
static int utf8_ok(const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    while (*s) {
        unsigned c = *s;
        int len = c < 0x80 ? 1 : (c >= 0xC2 && c <= 0xDF) ? 2 : (c >= 0xE0 && c <= 0xEF) ? 3 : (c >= 0xF0 && c <= 0xF4) ? 4 : 0;
        if (!len)
            return 0;
        for (int k = 1; k < len; k++)
            if ((s[k] & 0xC0) != 0x80)
                return 0;
        s += len;
    }
    return 1;
}

/** Streams `shard` with the given options to its end, checking the invariants. */
static void drain(lcmd_context *ctx, const char *shard, int variant)
{
    lcmd_dataset_options o;
    lcmd_dataset_options_init(&o);
    o.shards = shard;
    o.shuffle_buffer = 0;
    o.shuffle_shards = 0;
    o.num_workers = 0;
    o.max_pixels = 1 << 20;        /* keeps decode time bounded */
    o.max_member_bytes = 1 << 20;
    if (variant == 0) {
        o.resolution = 16;
        o.batch_size = 1;
    } else {
        o.resolution = 7;
        o.batch_size = 2;
        o.crop = LCMD_CROP_CENTER;
        o.random_flip = 1;
        o.min_json_width = 1;
        o.max_pwatermark = 0.5;
        o.seed = 7;
    }
    lcmd_dataset *ds = NULL;
    if (lcmd_dataset_create(ctx, &o, &ds) != LCMD_OK)
        abort();  /* the file exists: creation cannot fail */
    lcmd_batch *b;
    lcmd_status s;
    uint64_t batches = 0;
    const size_t per_image = 3 * (size_t)o.resolution * (size_t)o.resolution;
    while ((s = lcmd_dataset_next(ds, &b)) == LCMD_OK) {
        batches++;
        if (lcmd_batch_size(b) != o.batch_size || lcmd_batch_resolution(b) != o.resolution)
            abort();
        const float *im = lcmd_batch_images(b);
        for (size_t i = 0; i < per_image * (size_t)o.batch_size; i++)
            if (!isfinite(im[i]) || im[i] < -1.0f || im[i] > 1.0f)
                abort();
        for (int32_t i = 0; i < o.batch_size; i++) {
            const char *cap = lcmd_batch_caption(b, i), *key = lcmd_batch_key(b, i);
            if (!cap || !key || !key[0] || !utf8_ok(cap))
                abort();
            int32_t top, left, flip, w, h;
            if (lcmd_batch_crop(b, i, &top, &left, &flip) != LCMD_OK || top < 0 || left < 0 || (flip & ~1))
                abort();
            if (lcmd_batch_original_size(b, i, &w, &h) != LCMD_OK || w <= 0 || h <= 0)
                abort();
        }
        lcmd_batch_destroy(b);
    }
    if (s != LCMD_END_OF_STREAM && s != LCMD_ERR_IO && s != LCMD_ERR_OUT_OF_MEMORY)
        abort();
    lcmd_dataset_stats st;
    st.struct_size = sizeof st;
    if (lcmd_dataset_get_stats(ds, &st) != LCMD_OK)
        abort();
    uint64_t skipped = st.skipped_no_image + st.skipped_no_caption + st.skipped_decode + st.skipped_too_large +
                       st.skipped_bad_utf8 + st.skipped_filtered;
    if (s == LCMD_END_OF_STREAM || s == LCMD_ERR_IO) {
        if (st.samples_read != st.samples_used + skipped)
            abort();
        if (st.batches != batches || st.samples_used != batches * (uint64_t)o.batch_size + st.dropped_partial)
            abort();
        if (s == LCMD_ERR_IO && st.shards_failed == 0)
            abort();
    }
    lcmd_dataset_destroy(ds);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (1u << 20))
        return 0;
    int fd = memfd_create("fuzz_shard", 0);
    if (fd < 0)
        return 0;
    size_t off = 0;
    while (off < size) {
        ssize_t w = write(fd, data + off, size - off);
        if (w <= 0) {
            close(fd);
            return 0;
        }
        off += (size_t)w;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    lcmd_context_options co;
    lcmd_context_options_init(&co);
    co.log_fn = no_log;
    co.num_threads = 1;
    lcmd_context *ctx = NULL;
    if (lcmd_context_create(&co, &ctx) == LCMD_OK) {
        drain(ctx, path, 0);
        drain(ctx, path, 1);
        lcmd_context_destroy(ctx);
    }
    close(fd);
    return 0;
}
