/* Pillow-exact bilinear resize (see resize.h for the arithmetic). */
#include "data/resize.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

/* fixed-point fraction bits of the weights: 8 bits of result, 2 of headroom */
#define FRAC_BITS 22

/* Taps of one axis: per output pixel the first input index and the tap count, and
 * `ksize` fixed-point weights (only the first `count` used). */
typedef struct taps {
    int ksize;
    int *first_count; /* 2 per output pixel */
    int32_t *w;       /* ksize per output pixel */
} taps;

static void taps_free(taps *t)
{
    free(t->first_count);
    free(t->w);
    t->first_count = NULL;
    t->w = NULL;
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

/* Computes the taps that map in_size samples onto out_size. */
static lcmd_status taps_make(int in_size, int out_size, taps *t)
{
    double scale = (double)in_size / (double)out_size;
    double fscale = scale < 1.0 ? 1.0 : scale;
    double support = fscale; /* the tent's support (1) times the filter scale */
    int ksize = (int)ceil(support) * 2 + 1;
    t->ksize = ksize;
    t->first_count = malloc((size_t)out_size * 2 * sizeof *t->first_count);
    t->w = malloc((size_t)out_size * (size_t)ksize * sizeof *t->w);
    double *tmp = malloc((size_t)ksize * sizeof *tmp);
    if (!t->first_count || !t->w || !tmp) {
        free(tmp);
        taps_free(t);
        return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "resize: %d taps", out_size);
    }
    double inv = 1.0 / fscale;
    for (int o = 0; o < out_size; o++) {
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
        int32_t *w = t->w + (size_t)o * (size_t)ksize;
        for (int i = 0; i < ksize; i++)
            w[i] = i < n ? to_fixed(sum != 0.0 ? tmp[i] / sum : tmp[i]) : 0;
        t->first_count[2 * o] = lo;
        t->first_count[2 * o + 1] = n;
    }
    free(tmp);
    return LCMD_OK;
}

/* Accumulator (started at the rounding half) to 8 bits, clamped. */
static inline uint8_t to_u8(int32_t acc)
{
    int32_t v = acc >> FRAC_BITS; /* arithmetic shift of a negative sum gives < 0 */
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* Horizontal pass: `rows` rows of src starting at row `row0` (width sw) into dst
 * (width dw, `rows` rows). */
static void pass_h(const uint8_t *src, int sw, int row0, int rows, int ch, uint8_t *dst, int dw, const taps *t)
{
    size_t in_stride = (size_t)sw * (size_t)ch, out_stride = (size_t)dw * (size_t)ch;
    for (int y = 0; y < rows; y++) {
        const uint8_t *in = src + (size_t)(row0 + y) * in_stride;
        uint8_t *out = dst + (size_t)y * out_stride;
        for (int o = 0; o < dw; o++) {
            const uint8_t *p = in + (size_t)t->first_count[2 * o] * (size_t)ch;
            int n = t->first_count[2 * o + 1];
            const int32_t *w = t->w + (size_t)o * (size_t)t->ksize;
            if (ch == 3) {
                int32_t a0 = 1 << (FRAC_BITS - 1), a1 = a0, a2 = a0;
                for (int i = 0; i < n; i++) {
                    a0 += (int32_t)p[3 * i] * w[i];
                    a1 += (int32_t)p[3 * i + 1] * w[i];
                    a2 += (int32_t)p[3 * i + 2] * w[i];
                }
                out[3 * (size_t)o] = to_u8(a0);
                out[3 * (size_t)o + 1] = to_u8(a1);
                out[3 * (size_t)o + 2] = to_u8(a2);
                continue;
            }
            for (int c = 0; c < ch; c++) {
                int32_t a = 1 << (FRAC_BITS - 1);
                for (int i = 0; i < n; i++)
                    a += (int32_t)p[(size_t)i * (size_t)ch + (size_t)c] * w[i];
                out[(size_t)o * (size_t)ch + (size_t)c] = to_u8(a);
            }
        }
    }
}

/* Vertical pass: src (width w, its first row being source row `row0`) into dst
 * (dh rows of width w). */
static void pass_v(const uint8_t *src, int w, int row0, int ch, uint8_t *dst, int dh, const taps *t)
{
    size_t stride = (size_t)w * (size_t)ch;
    for (int o = 0; o < dh; o++) {
        const uint8_t *p = src + (size_t)(t->first_count[2 * o] - row0) * stride;
        int n = t->first_count[2 * o + 1];
        const int32_t *wt = t->w + (size_t)o * (size_t)t->ksize;
        uint8_t *out = dst + (size_t)o * stride;
        for (size_t i = 0; i < stride; i++) {
            int32_t a = 1 << (FRAC_BITS - 1);
            for (int k = 0; k < n; k++)
                a += (int32_t)p[(size_t)k * stride + i] * wt[k];
            out[i] = to_u8(a);
        }
    }
}

lcmd_status lcmd_resize_bilinear_u8(const uint8_t *src, int sw, int sh, int ch, uint8_t *dst, int dw,
                                    int dh)
{
    if (sw <= 0 || sh <= 0 || dw <= 0 || dh <= 0 || ch <= 0)
        return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "resize: bad size %dx%d -> %dx%d", sw, sh, dw, dh);
    int need_h = dw != sw, need_v = dh != sh;
    if (!need_h && !need_v) {
        memcpy(dst, src, (size_t)sw * (size_t)sh * (size_t)ch);
        return LCMD_OK;
    }
    int64_t shrink_v = (int64_t)sh - dh, shrink_h = (int64_t)sw - dw;
    int vertical_first = shrink_v > 0 && shrink_v > 2 * shrink_h;
    taps th = { 0 }, tv = { 0 };
    if (need_h)
        LCMD_TRY(taps_make(sw, dw, &th));
    if (need_v) {
        lcmd_status s = taps_make(sh, dh, &tv);
        if (s != LCMD_OK) {
            taps_free(&th);
            return s;
        }
    }
    lcmd_status st = LCMD_OK;
    if (need_h && need_v) {
        /* vertical first: all columns of the dh output rows; horizontal first: only
         * the source rows that the vertical taps read */
        int first = vertical_first ? 0 : tv.first_count[0];
        int last = vertical_first ? 0 : tv.first_count[2 * dh - 2] + tv.first_count[2 * dh - 1];
        size_t tmp_px = vertical_first ? (size_t)sw * (size_t)dh : (size_t)dw * (size_t)(last - first);
        uint8_t *tmp = malloc(tmp_px * (size_t)ch);
        if (!tmp) {
            st = lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "resize buffer");
        } else if (vertical_first) {
            pass_v(src, sw, 0, ch, tmp, dh, &tv);
            pass_h(tmp, sw, 0, dh, ch, dst, dw, &th);
        } else {
            pass_h(src, sw, first, last - first, ch, tmp, dw, &th);
            pass_v(tmp, dw, first, ch, dst, dh, &tv);
        }
        free(tmp);
    } else if (need_h) {
        pass_h(src, sw, 0, sh, ch, dst, dw, &th);
    } else {
        pass_v(src, sw, 0, ch, dst, dh, &tv);
    }
    taps_free(&th);
    taps_free(&tv);
    return st;
}
