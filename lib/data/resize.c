/* Pillow-exact bilinear resize (see resize.h for the arithmetic). */
#include "data/resize.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

/* The two passes are also built for AVX2 and picked at load time where the compiler
 * and the target allow it (x86-64 GCC or Clang, with ifunc): the integer arithmetic is
 * the same, so the result is too. */
#if defined(__x86_64__) && defined(__GNUC__) && defined(__linux__) && !defined(__SANITIZE_ADDRESS__)
#define PASS_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define PASS_CLONES
#endif

/* fixed-point fraction bits of the weights: 8 bits of result, 2 of headroom */
#define FRAC_BITS 22

/* Taps of one axis: per output pixel the first input index and the tap count, and
 * `ksize` fixed-point weights (only the first `count` used). */
typedef struct taps {
    int ksize;
    int *first_count; /* 2 per output pixel */
    int32_t *w;       /* ksize per output pixel */
    /* the same taps as a fixed window of ksize inputs per output pixel, starting at
     * start[j] (start[j] + ksize <= in_size), with zero weights outside the real taps
     * (adding zeros leaves the integer sums unchanged); NULL when in_size < ksize */
    int *start;
    int32_t *wpad;
} taps;

static void taps_free(taps *t)
{
    free(t->first_count);
    free(t->w);
    free(t->start);
    free(t->wpad);
    t->first_count = NULL;
    t->w = NULL;
    t->start = NULL;
    t->wpad = NULL;
}

/* Triangle (tent) filter of support 1. */
static double tent(double x)
{
    x = fabs(x);
    return x < 1.0 ? 1.0 - x : 0.0;
}

/* Fixed point of a normalised weight, rounded half away from zero. */
static int32_t to_fixed(double v)
{
    double s = v * (double)(1 << FRAC_BITS);
    return (int32_t)(v < 0.0 ? s - 0.5 : s + 0.5);
}

/* Computes the taps of output pixels [o0, o0 + n) of the map from in_size samples onto
 * out_size (entry j of t is output pixel o0 + j). Each output pixel's taps depend on
 * nothing but its own index, so a window computes the same taps as the whole axis. */
static lcmd_status taps_make(int in_size, int out_size, int o0, int n_out, taps *t)
{
    double scale = (double)in_size / (double)out_size;
    double fscale = scale < 1.0 ? 1.0 : scale;
    double support = fscale; /* the tent's support (1) times the filter scale */
    int ksize = (int)ceil(support) * 2 + 1;
    t->ksize = ksize;
    t->first_count = malloc((size_t)n_out * 2 * sizeof *t->first_count);
    t->w = malloc((size_t)n_out * (size_t)ksize * sizeof *t->w);
    double *tmp = malloc((size_t)ksize * sizeof *tmp);
    if (!t->first_count || !t->w || !tmp) {
        free(tmp);
        taps_free(t);
        return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "resize: %d taps", n_out);
    }
    double inv = 1.0 / fscale;
    for (int j = 0; j < n_out; j++) {
        int o = o0 + j;
        double center = ((double)o + 0.5) * scale;
        int lo = (int)(center - support + 0.5);
        int hi = (int)(center + support + 0.5);
        if (lo < 0)
            lo = 0;
        if (hi > in_size)
            hi = in_size;
        int n = hi - lo;
        double sum = 0.0;
        for (int i = 0; i < n; i++) {
            tmp[i] = tent(((double)(i + lo) - center + 0.5) * inv);
            sum += tmp[i];
        }
        int32_t *w = t->w + (size_t)j * (size_t)ksize;
        for (int i = 0; i < ksize; i++)
            w[i] = i < n ? to_fixed(sum != 0.0 ? tmp[i] / sum : tmp[i]) : 0;
        t->first_count[2 * j] = lo;
        t->first_count[2 * j + 1] = n;
    }
    free(tmp);
    if (in_size >= ksize) {
        t->start = malloc((size_t)n_out * sizeof *t->start);
        t->wpad = calloc((size_t)n_out * (size_t)ksize, sizeof *t->wpad);
        if (!t->start || !t->wpad) {
            taps_free(t);
            return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "resize: %d taps", n_out);
        }
        for (int j = 0; j < n_out; j++) {
            int lo = t->first_count[2 * j], n = t->first_count[2 * j + 1];
            int st = lo > in_size - ksize ? in_size - ksize : lo;
            t->start[j] = st;
            memcpy(t->wpad + (size_t)j * (size_t)ksize + (lo - st), t->w + (size_t)j * (size_t)ksize,
                   (size_t)n * sizeof *t->wpad);
        }
    }
    return LCMD_OK;
}

/* Accumulator (started at the rounding half) to 8 bits, clamped. */
static inline uint8_t to_u8(int32_t acc)
{
    int32_t v = acc >> FRAC_BITS; /* arithmetic shift of a negative sum gives < 0 */
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* One row of the horizontal pass for 3 channels over a fixed window of K taps (K a
 * constant after inlining, so the tap loop unrolls). */
static inline __attribute__((always_inline)) void row_h3(const uint8_t *restrict in, int col0, uint8_t *restrict out,
                                                          int dw, const taps *t, int K)
{
    const int *start = t->start;
    const int32_t *wp = t->wpad;
    for (int o = 0; o < dw; o++) {
        const uint8_t *p = in + (size_t)(start[o] - col0) * 3;
        const int32_t *w = wp + (size_t)o * (size_t)K;
        int32_t a0 = 1 << (FRAC_BITS - 1), a1 = a0, a2 = a0;
        for (int i = 0; i < K; i++) {
            int32_t wi = w[i];
            a0 += (int32_t)p[3 * i] * wi;
            a1 += (int32_t)p[3 * i + 1] * wi;
            a2 += (int32_t)p[3 * i + 2] * wi;
        }
        out[3 * (size_t)o] = to_u8(a0);
        out[3 * (size_t)o + 1] = to_u8(a1);
        out[3 * (size_t)o + 2] = to_u8(a2);
    }
}

/* Horizontal pass: `rows` rows of src (row stride src_stride bytes, its first pixel
 * being source column `col0`) starting at row `row0`, into dst (t's `dw` output pixels
 * per row, `rows` rows, contiguous). */
PASS_CLONES static void pass_h(const uint8_t *src, size_t src_stride, int col0, int row0, int rows, int ch, uint8_t *dst, int dw,
                   const taps *t)
{
    size_t out_stride = (size_t)dw * (size_t)ch;
    for (int y = 0; y < rows; y++) {
        const uint8_t *in = src + (size_t)(row0 + y) * src_stride;
        uint8_t *out = dst + (size_t)y * out_stride;
        if (ch == 3 && t->start) {
            switch (t->ksize) {
            case 3: row_h3(in, col0, out, dw, t, 3); continue;
            case 5: row_h3(in, col0, out, dw, t, 5); continue;
            case 7: row_h3(in, col0, out, dw, t, 7); continue;
            case 9: row_h3(in, col0, out, dw, t, 9); continue;
            default: break;
            }
        }
        if (ch == 3) {
            for (int o = 0; o < dw; o++) {
                const uint8_t *p = in + (size_t)(t->first_count[2 * o] - col0) * 3;
                int n = t->first_count[2 * o + 1];
                const int32_t *w = t->w + (size_t)o * (size_t)t->ksize;
                int32_t a0 = 1 << (FRAC_BITS - 1), a1 = a0, a2 = a0;
                for (int i = 0; i < n; i++) {
                    int32_t wi = w[i];
                    a0 += (int32_t)p[3 * i] * wi;
                    a1 += (int32_t)p[3 * i + 1] * wi;
                    a2 += (int32_t)p[3 * i + 2] * wi;
                }
                out[3 * (size_t)o] = to_u8(a0);
                out[3 * (size_t)o + 1] = to_u8(a1);
                out[3 * (size_t)o + 2] = to_u8(a2);
            }
            continue;
        }
        for (int o = 0; o < dw; o++) {
            const uint8_t *p = in + (size_t)(t->first_count[2 * o] - col0) * (size_t)ch;
            int n = t->first_count[2 * o + 1];
            const int32_t *w = t->w + (size_t)o * (size_t)t->ksize;
            for (int c = 0; c < ch; c++) {
                int32_t a = 1 << (FRAC_BITS - 1);
                for (int i = 0; i < n; i++)
                    a += (int32_t)p[(size_t)i * (size_t)ch + (size_t)c] * w[i];
                out[(size_t)o * (size_t)ch + (size_t)c] = to_u8(a);
            }
        }
    }
}

/* Vertical pass: for each of t's dh output rows, `len` bytes starting at byte `x0` of
 * the rows of src (row stride src_stride, its first row being source row `row0`) into
 * dst (row stride `len`). Row-wise over int32 accumulators `acc` (len entries), so the
 * inner loops run over contiguous bytes and vectorise; the sum is the same integer sum
 * as the per-byte dot product, so the result is identical. */
PASS_CLONES static void pass_v(const uint8_t *src, size_t src_stride, int row0, size_t x0, size_t len, uint8_t *dst, int dh,
                   const taps *t, int32_t *restrict acc)
{
    for (int o = 0; o < dh; o++) {
        const uint8_t *p = src + (size_t)(t->first_count[2 * o] - row0) * src_stride + x0;
        int n = t->first_count[2 * o + 1];
        const int32_t *wt = t->w + (size_t)o * (size_t)t->ksize;
        uint8_t *restrict out = dst + (size_t)o * len;
        for (size_t i = 0; i < len; i++)
            acc[i] = 1 << (FRAC_BITS - 1);
        for (int k = 0; k < n; k++) {
            const uint8_t *restrict row = p + (size_t)k * src_stride;
            int32_t wk = wt[k];
            for (size_t i = 0; i < len; i++)
                acc[i] += (int32_t)row[i] * wk;
        }
        for (size_t i = 0; i < len; i++) {
            int32_t v = acc[i] >> FRAC_BITS;
            out[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    }
}

lcmd_status lcmd_resize_bilinear_u8(const uint8_t *src, int sw, int sh, int ch, uint8_t *dst, int dw,
                                    int dh)
{
    return lcmd_resize_bilinear_crop_u8(src, sw, sh, ch, dw, dh, 0, 0, dw, dh, dst);
}

lcmd_status lcmd_resize_bilinear_crop_u8(const uint8_t *src, int sw, int sh, int ch, int dw, int dh, int cx, int cy,
                                         int cw, int cht, uint8_t *dst)
{
    if (sw <= 0 || sh <= 0 || dw <= 0 || dh <= 0 || ch <= 0)
        return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "resize: bad size %dx%d -> %dx%d", sw, sh, dw, dh);
    if (cw <= 0 || cht <= 0 || cx < 0 || cy < 0 || cx > dw - cw || cy > dh - cht)
        return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "resize: crop %dx%d+%d+%d outside %dx%d", cw, cht, cx, cy,
                              dw, dh);
    size_t uch = (size_t)ch, src_stride = (size_t)sw * uch, out_row = (size_t)cw * uch;
    int need_h = dw != sw, need_v = dh != sh;
    if (!need_h && !need_v) {
        for (int y = 0; y < cht; y++)
            memcpy(dst + (size_t)y * out_row, src + (size_t)(cy + y) * src_stride + (size_t)cx * uch, out_row);
        return LCMD_OK;
    }
    int64_t shrink_v = (int64_t)sh - dh, shrink_h = (int64_t)sw - dw;
    int vertical_first = shrink_v > 0 && shrink_v > 2 * shrink_h;
    taps th = { 0 }, tv = { 0 };
    if (need_h)
        LCMD_TRY(taps_make(sw, dw, cx, cw, &th));
    if (need_v) {
        lcmd_status s = taps_make(sh, dh, cy, cht, &tv);
        if (s != LCMD_OK) {
            taps_free(&th);
            return s;
        }
    }
    lcmd_status st = LCMD_OK;
    uint8_t *tmp = NULL;
    int32_t *acc = NULL;
    if (need_h && need_v) {
        if (vertical_first) {
            /* the kept rows, over the source columns the kept output columns read (tap
             * ranges are monotonic in the output index) */
            int c0 = th.first_count[0];
            int c1 = th.first_count[2 * cw - 2] + th.first_count[2 * cw - 1];
            if (th.start) { /* the fixed windows cover the real taps */
                c0 = th.start[0];
                c1 = th.start[cw - 1] + th.ksize;
            }
            size_t len = (size_t)(c1 - c0) * uch;
            tmp = malloc(len * (size_t)cht);
            acc = malloc(len * sizeof *acc);
            if (!tmp || !acc) {
                st = lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "resize buffer");
            } else {
                pass_v(src, src_stride, 0, (size_t)c0 * uch, len, tmp, cht, &tv, acc);
                pass_h(tmp, len, c0, 0, cht, ch, dst, cw, &th);
            }
        } else {
            /* the kept columns, over only the source rows the kept rows' taps read */
            int first = tv.first_count[0];
            int last = tv.first_count[2 * cht - 2] + tv.first_count[2 * cht - 1];
            tmp = malloc(out_row * (size_t)(last - first));
            acc = malloc(out_row * sizeof *acc);
            if (!tmp || !acc) {
                st = lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "resize buffer");
            } else {
                pass_h(src, src_stride, 0, first, last - first, ch, tmp, cw, &th);
                pass_v(tmp, out_row, first, 0, out_row, dst, cht, &tv, acc);
            }
        }
    } else if (need_h) {
        pass_h(src, src_stride, 0, cy, cht, ch, dst, cw, &th);
    } else {
        acc = malloc(out_row * sizeof *acc);
        if (!acc)
            st = lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "resize buffer");
        else
            pass_v(src, src_stride, 0, (size_t)cx * uch, out_row, dst, cht, &tv, acc);
    }
    free(tmp);
    free(acc);
    taps_free(&th);
    taps_free(&tv);
    return st;
}
