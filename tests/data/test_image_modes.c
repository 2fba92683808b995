/* PIL parity of the decode (every image mode), of the EXIF orientation option and of
 * the whole image path (shard -> decode -> resize -> crop -> batch) against the
 * training script's transform, from fixtures written by tests/reference/gen_data.py. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lcmd/lcmd.h>

#include "data/decode.h"
#include "data/exif.h"
#include "data/transform.h"
#include "shard_writer.h"

static char g_dir[256];
static lcmd_context *g_ctx;

static void quiet(void *user, lcmd_log_level level, const char *msg)
{
    (void)user;
    (void)level;
    if (getenv("LCMD_TEST_LOG"))
        fprintf(stderr, "%s\n", msg);
}

static void setup(void)
{
    snprintf(g_dir, sizeof g_dir, "%s/lcmd-img-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(g_dir));
    lcmd_context_options co;
    lcmd_context_options_init(&co);
    co.log_fn = quiet;
    ck_assert_int_eq(lcmd_context_create(&co, &g_ctx), LCMD_OK);
}

static void teardown(void)
{
    lcmd_context_destroy(g_ctx);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* Whole file (malloc'd); fails the test when missing. */
static uint8_t *slurp(const char *file, size_t *n)
{
    FILE *f = fopen(file, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", file);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *d = malloc((size_t)size + 1);
    ck_assert_ptr_nonnull(d);
    ck_assert_uint_eq(fread(d, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    *n = (size_t)size;
    return d;
}

static uint8_t *fixture_image(const char *name, size_t *n)
{
    char p[2048];
    snprintf(p, sizeof p, "%s/data/images/%.64s", LCMD_FIXTURES, name);
    return slurp(p, n);
}

static int32_t rd32(const uint8_t *p)
{
    return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
}

static float rdf(const uint8_t *p)
{
    float f;
    memcpy(&f, p, 4);
    return f;
}

START_TEST(test_modes_match_pil)
{
    size_t size;
    uint8_t *d = slurp(LCMD_FIXTURES "/data/image_modes.bin", &size);
    ck_assert_int_eq(memcmp(d, "LCMDIM01", 8), 0);
    int n = rd32(d + 8);
    const uint8_t *p = d + 12;
    int bad = 0;
    for (int e = 0; e < n; e++) {
        char name[33] = { 0 };
        memcpy(name, p, 32);
        int exif = rd32(p + 32), w = rd32(p + 36), h = rd32(p + 40);
        const uint8_t *ref = p + 44;
        p = ref + (size_t)w * (size_t)h * 3;
        size_t fn;
        uint8_t *file = fixture_image(name, &fn);
        uint8_t *rgb;
        int dw, dh;
        char why[256] = "";
        lcmd_decode_result r = lcmd_image_decode_rgb_exif(file, fn, 1 << 24, exif, &rgb, &dw, &dh, why, sizeof why);
        free(file);
        ck_assert_msg(r == LCMD_DECODE_OK, "%s: %s", name, why);
        ck_assert_msg(dw == w && dh == h, "%s (exif %d): %dx%d, PIL %dx%d", name, exif, dw, dh, w, h);
        int worst = 0;
        size_t diff = 0;
        for (size_t i = 0; i < (size_t)w * (size_t)h * 3; i++) {
            int a = abs((int)rgb[i] - (int)ref[i]);
            worst = a > worst ? a : worst;
            diff += a != 0;
        }
        if (worst) {
            printf("# %s (exif %d): max diff %d, %zu of %d values differ\n", name, exif, worst, diff, w * h * 3);
            bad++;
        }
        free(rgb);
    }
    printf("# %d decoded images compared with PIL's convert(\"RGB\"): %d differ\n", n, bad);
    free(d);
    ck_assert_int_eq(bad, 0);
}
END_TEST

START_TEST(test_orientation_tags)
{
    for (int o = 1; o <= 8; o++) {
        char name[32];
        snprintf(name, sizeof name, "exif%d.jpg", o);
        size_t n;
        uint8_t *f = fixture_image(name, &n);
        ck_assert_int_eq(lcmd_exif_orientation(f, n), o);
        /* cut anywhere: never reads past the end, falls back to 1 or finds the tag */
        for (size_t cut = 0; cut < 64 && cut < n; cut++) {
            int v = lcmd_exif_orientation(f, cut);
            ck_assert(v == 1 || v == o);
        }
        free(f);
    }
    size_t n;
    uint8_t *f = fixture_image("exif8.png", &n);
    ck_assert_int_eq(lcmd_exif_orientation(f, n), 8);
    free(f);
    f = fixture_image("exif3.webp", &n);
    ck_assert_int_eq(lcmd_exif_orientation(f, n), 3);
    free(f);
    f = fixture_image("rgb_q90.jpg", &n);
    ck_assert_int_eq(lcmd_exif_orientation(f, n), 1);
    free(f);
    ck_assert_int_eq(lcmd_exif_orientation((const uint8_t *)"garbage", 7), 1);
    ck_assert_int_eq(lcmd_exif_orientation(NULL, 0), 1);
}
END_TEST

START_TEST(test_jpeg_edges)
{
    size_t n;
    uint8_t *f = fixture_image("rgb_q90.jpg", &n);
    uint8_t *rgb;
    int w, h;
    char why[256];
    /* without its EOI marker: libjpeg reads past the end of the entropy data, and
     * PIL raises "image file is truncated" too */
    ck_assert_int_eq(lcmd_image_decode_rgb(f, n - 2, 1 << 24, &rgb, &w, &h, why, sizeof why), LCMD_DECODE_ERROR);
    /* cut inside the scan: PIL raises "image file is truncated" */
    ck_assert_int_eq(lcmd_image_decode_rgb(f, n - 200, 1 << 24, &rgb, &w, &h, why, sizeof why), LCMD_DECODE_ERROR);
    ck_assert_ptr_null(rgb);
    ck_assert_int_eq(lcmd_image_decode_rgb(f, 40, 1 << 24, &rgb, &w, &h, why, sizeof why), LCMD_DECODE_ERROR);
    ck_assert_int_eq(lcmd_image_decode_rgb(f, 3, 1 << 24, &rgb, &w, &h, why, sizeof why), LCMD_DECODE_ERROR);
    /* the pixel cap is checked from the header */
    ck_assert_int_eq(lcmd_image_decode_rgb(f, n, 40 * 30 - 1, &rgb, &w, &h, why, sizeof why), LCMD_DECODE_TOO_LARGE);
    /* every prefix and a corrupted copy fail or succeed cleanly (ASan checks the rest) */
    for (size_t cut = 0; cut < n; cut += 37) {
        if (lcmd_image_decode_rgb(f, cut, 1 << 24, &rgb, &w, &h, why, sizeof why) == LCMD_DECODE_OK)
            free(rgb);
    }
    for (size_t i = 200; i < n; i += 97)
        f[i] ^= 0x5A;
    if (lcmd_image_decode_rgb(f, n, 1 << 24, &rgb, &w, &h, why, sizeof why) == LCMD_DECODE_OK)
        free(rgb);
    free(f);
}
END_TEST

/* One image of batch_parity.bin. */
typedef struct bp_image {
    char name[33];
    int nw, nh, n_off;
    const uint8_t *resized;  /* nh x nw x 3 */
    const uint8_t *offsets;  /* n_off x (top, left, float[3 R R]) */
} bp_image;

static int read_batch_parity(uint8_t *d, int *r, bp_image *im, int max)
{
    ck_assert_int_eq(memcmp(d, "LCMDBP01", 8), 0);
    *r = rd32(d + 8);
    int n = rd32(d + 12);
    ck_assert_int_le(n, max);
    const uint8_t *p = d + 16;
    size_t crop = 8 + (size_t)3 * (size_t)*r * (size_t)*r * 4;
    for (int i = 0; i < n; i++) {
        memset(im[i].name, 0, sizeof im[i].name);
        memcpy(im[i].name, p, 32);
        im[i].nw = rd32(p + 32);
        im[i].nh = rd32(p + 36);
        im[i].n_off = rd32(p + 40);
        im[i].resized = p + 44;
        im[i].offsets = im[i].resized + (size_t)im[i].nw * (size_t)im[i].nh * 3;
        p = im[i].offsets + (size_t)im[i].n_off * crop;
    }
    return n;
}

/* Accumulates |out - ref| over 3 R R floats. */
static void compare(const float *out, const uint8_t *ref, int r, double *worst, double *sum, size_t *count)
{
    for (size_t i = 0; i < (size_t)3 * (size_t)r * (size_t)r; i++) {
        double e = fabs((double)out[i] - (double)rdf(ref + 4 * i));
        *worst = e > *worst ? e : *worst;
        *sum += e;
        (*count)++;
    }
}

START_TEST(test_transform_offsets)
{
    size_t size;
    uint8_t *d = slurp(LCMD_FIXTURES "/data/batch_parity.bin", &size);
    bp_image im[16];
    int r, n = read_batch_parity(d, &r, im, 16);
    double worst = 0, sum = 0;
    size_t count = 0;
    float *out = malloc((size_t)3 * (size_t)r * (size_t)r * sizeof *out);
    for (int i = 0; i < n; i++) {
        size_t fn;
        uint8_t *file = fixture_image(im[i].name, &fn), *rgb;
        int w, h;
        char why[256];
        ck_assert_int_eq(lcmd_image_decode_rgb(file, fn, 1 << 24, &rgb, &w, &h, why, sizeof why), LCMD_DECODE_OK);
        int nw, nh;
        lcmd_resized_size(w, h, r, &nw, &nh);
        ck_assert_int_eq(nw, im[i].nw);
        ck_assert_int_eq(nh, im[i].nh);
        for (int k = 0; k < im[i].n_off; k++) {
            const uint8_t *o = im[i].offsets + (size_t)k * (8 + (size_t)3 * (size_t)r * (size_t)r * 4);
            ck_assert_int_eq(lcmd_transform_image(rgb, w, h, r, rd32(o), rd32(o + 4), 0, out), LCMD_OK);
            compare(out, o + 8, r, &worst, &sum, &count);
        }
        free(rgb);
        free(file);
    }
    free(out);
    free(d);
    /* [-1, 1] units: the guarantee is 2/255 max and 0.5/255 mean of [0, 1] */
    printf("# transform vs the script's (given offsets): max abs diff %.3g, mean %.3g ([-1, 1] units) over %zu\n",
           worst, sum / (double)count, count);
    ck_assert(worst <= 4.0 / 255.0 && sum / (double)count <= 1.0 / 255.0);
    ck_assert(worst == 0.0);  /* achieved: bit-identical */
}
END_TEST

/* A shard of the batch_parity images in order (key NNN, jpg/png/webp kept as is). */
static void parity_shard(const char *file, const bp_image *im, int n)
{
    struct archive *a = tw_open(file, TW_PLAIN);
    ck_assert_ptr_nonnull(a);
    for (int i = 0; i < n; i++) {
        size_t fn;
        uint8_t *bytes = fixture_image(im[i].name, &fn);
        const char *ext = strrchr(im[i].name, '.') + 1;
        char name[64], cap[64];
        snprintf(name, sizeof name, "%03d.%s", i, ext);
        ck_assert_int_eq(tw_add(a, name, bytes, fn), 0);
        free(bytes);
        snprintf(name, sizeof name, "%03d.txt", i);
        snprintf(cap, sizeof cap, "image %.32s", im[i].name);
        ck_assert_int_eq(tw_add_str(a, name, cap), 0);
    }
    ck_assert_int_eq(tw_close(a), 0);
}

START_TEST(test_stream_batch_parity)
{
    size_t size;
    uint8_t *d = slurp(LCMD_FIXTURES "/data/batch_parity.bin", &size);
    bp_image im[16];
    int r, n = read_batch_parity(d, &r, im, 16);
    char shard[512];
    snprintf(shard, sizeof shard, "%s/parity.tar", g_dir);
    parity_shard(shard, im, n);
    lcmd_dataset_options o;
    lcmd_dataset_options_init(&o);
    o.shards = shard;
    o.resolution = r;
    o.batch_size = n;
    o.shuffle_buffer = 0;
    o.shuffle_shards = 0;
    size_t plane = (size_t)r * (size_t)r;
    double worst = 0, sum = 0;
    size_t count = 0;
    /* centre crop: the stored reference at its first offset */
    o.crop = LCMD_CROP_CENTER;
    lcmd_dataset *ds;
    lcmd_batch *b;
    ck_assert_int_eq(lcmd_dataset_create(g_ctx, &o, &ds), LCMD_OK);
    ck_assert_int_eq(lcmd_dataset_next(ds, &b), LCMD_OK);
    ck_assert_int_eq(lcmd_batch_size(b), n);
    for (int i = 0; i < n; i++) {
        int32_t top, left;
        ck_assert_int_eq(lcmd_batch_crop(b, i, &top, &left, NULL), LCMD_OK);
        ck_assert_int_eq(top, rd32(im[i].offsets));
        ck_assert_int_eq(left, rd32(im[i].offsets + 4));
        compare(lcmd_batch_images(b) + (size_t)i * 3 * plane, im[i].offsets + 8, r, &worst, &sum, &count);
    }
    lcmd_batch_destroy(b);
    lcmd_dataset_destroy(ds);
    /* random crops: the script's crop of the stored resized image at the drawn offsets */
    o.crop = LCMD_CROP_RANDOM;
    for (uint64_t seed = 1; seed <= 3; seed++) {
        o.seed = seed;
        ck_assert_int_eq(lcmd_dataset_create(g_ctx, &o, &ds), LCMD_OK);
        ck_assert_int_eq(lcmd_dataset_next(ds, &b), LCMD_OK);
        for (int i = 0; i < n; i++) {
            int32_t top, left;
            ck_assert_int_eq(lcmd_batch_crop(b, i, &top, &left, NULL), LCMD_OK);
            ck_assert(top >= 0 && left >= 0 && top <= im[i].nh - r && left <= im[i].nw - r);
            const float *got = lcmd_batch_images(b) + (size_t)i * 3 * plane;
            for (int c = 0; c < 3; c++)
                for (int y = 0; y < r; y++)
                    for (int x = 0; x < r; x++) {
                        uint8_t u = im[i].resized[((size_t)(top + y) * (size_t)im[i].nw + (size_t)(left + x)) * 3 + (size_t)c];
                        float ref = ((float)u / 255.0f - 0.5f) / 0.5f;
                        double e = fabs((double)got[(size_t)c * plane + (size_t)y * (size_t)r + (size_t)x] - (double)ref);
                        worst = e > worst ? e : worst;
                        sum += e;
                        count++;
                    }
        }
        lcmd_batch_destroy(b);
        lcmd_dataset_destroy(ds);
    }
    free(d);
    printf("# streamed batches vs the script's transform: max abs diff %.3g, mean %.3g ([-1, 1] units) over %zu\n",
           worst, sum / (double)count, count);
    ck_assert(worst <= 4.0 / 255.0 && sum / (double)count <= 1.0 / 255.0);
    ck_assert(worst == 0.0);
}
END_TEST

START_TEST(test_stream_exif_option)
{
    /* exif6.jpg: 9 x 5 stored, 5 x 9 upright; R = 5 keeps the size, centre top = 2 */
    size_t fn;
    uint8_t *bytes = fixture_image("exif6.jpg", &fn);
    char shard[512];
    snprintf(shard, sizeof shard, "%s/exif.tar", g_dir);
    struct archive *a = tw_open(shard, TW_PLAIN);
    ck_assert_int_eq(tw_add(a, "000.jpg", bytes, fn), 0);
    ck_assert_int_eq(tw_add_str(a, "000.txt", "rotated"), 0);
    ck_assert_int_eq(tw_close(a), 0);
    uint8_t *up;
    int w, h;
    char why[256];
    ck_assert_int_eq(lcmd_image_decode_rgb_exif(bytes, fn, 1 << 24, 1, &up, &w, &h, why, sizeof why), LCMD_DECODE_OK);
    ck_assert_int_eq(w, 5);
    ck_assert_int_eq(h, 9);
    free(bytes);
    lcmd_dataset_options o;
    lcmd_dataset_options_init(&o);
    o.shards = shard;
    o.resolution = 5;
    o.batch_size = 1;
    o.shuffle_buffer = 0;
    o.crop = LCMD_CROP_CENTER;
    for (int apply = 0; apply <= 1; apply++) {
        o.apply_exif_orientation = apply;
        lcmd_dataset *ds;
        lcmd_batch *b;
        ck_assert_int_eq(lcmd_dataset_create(g_ctx, &o, &ds), LCMD_OK);
        ck_assert_int_eq(lcmd_dataset_next(ds, &b), LCMD_OK);
        int32_t top, left;
        ck_assert_int_eq(lcmd_batch_crop(b, 0, &top, &left, NULL), LCMD_OK);
        /* stored 9 x 5 -> resized 9 x 5, crop left 2; upright 5 x 9, crop top 2 */
        ck_assert_int_eq(top, apply ? 2 : 0);
        ck_assert_int_eq(left, apply ? 0 : 2);
        if (apply) {
            const float *got = lcmd_batch_images(b);
            for (int c = 0; c < 3; c++)
                for (int y = 0; y < 5; y++)
                    for (int x = 0; x < 5; x++) {
                        float ref = ((float)up[((size_t)(y + 2) * 5 + (size_t)x) * 3 + (size_t)c] / 255.0f - 0.5f) / 0.5f;
                        ck_assert(got[c * 25 + y * 5 + x] == ref);
                    }
        }
        lcmd_batch_destroy(b);
        lcmd_dataset_destroy(ds);
    }
    free(up);
    o.apply_exif_orientation = 2;
    lcmd_dataset *ds;
    ck_assert_int_eq(lcmd_dataset_create(g_ctx, &o, &ds), LCMD_ERR_INVALID_ARGUMENT);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("image_modes");
    TCase *tc = tcase_create("image_modes");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_modes_match_pil);
    tcase_add_test(tc, test_orientation_tags);
    tcase_add_test(tc, test_jpeg_edges);
    tcase_add_test(tc, test_transform_offsets);
    tcase_add_test(tc, test_stream_batch_parity);
    tcase_add_test(tc, test_stream_exif_option);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
