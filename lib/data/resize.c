#include "data/resize.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

#define PRECISION_BITS (32 - 8 - 2)

/* Per output pixel: first input index, number of taps, fixed-point weights. */
typedef struct coeffs {
    int ksize;
    int *bounds;  /* 2 per output pixel: xmin, count */
    int32_t *k;   /* ksize per output pixel */
} coeffs;

static double triangle(double x)
{
    if (x < 0.0)
        x = -x;
    return x < 1.0 ? 1.0 - x : 0.0;
}

static lcmd_status make_coeffs(int in_size, int out_size, coeffs *c)
{
    double scale = (double)in_size / (double)out_size;
    double filterscale = scale < 1.0 ? 1.0 : scale;
    double support = 1.0 * filterscale;
    int ksize = (int)ceil(support) * 2 + 1;
    c->ksize = ksize;
    c->bounds = malloc((size_t)out_size * 2 * sizeof *c->bounds);
    c->k = malloc((size_t)out_size * (size_t)ksize * sizeof *c->k);
    double *w = malloc((size_t)ksize * sizeof *w);
    if (!c->bounds || !c->k || !w) {
        free(c->bounds);
        free(c->k);
        free(w);
        c->bounds = NULL;
        c->k = NULL;
        return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "resize coefficients");
    }
    double ss = 1.0 / filterscale;
    for (int xx = 0; xx < out_size; xx++) {
        double center = ((double)xx + 0.5) * scale;
        int xmin = (int)(center - support + 0.5);
        if (xmin < 0)
            xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > in_size)
            xmax = in_size;
        xmax -= xmin;
        double ww = 0.0;
        for (int x = 0; x < xmax; x++) {
            w[x] = triangle(((double)(x + xmin) - center + 0.5) * ss);
            ww += w[x];
        }
        int32_t *kk = c->k + (size_t)xx * (size_t)ksize;
        for (int x = 0; x < ksize; x++) {
            double v = x < xmax ? (ww != 0.0 ? w[x] / ww : w[x]) : 0.0;
            kk[x] = v < 0.0 ? (int32_t)(-0.5 + v * (1 << PRECISION_BITS))
                            : (int32_t)(0.5 + v * (1 << PRECISION_BITS));
        }
        c->bounds[2 * xx] = xmin;
        c->bounds[2 * xx + 1] = xmax;
    }
    free(w);
    return LCMD_OK;
}

static void free_coeffs(coeffs *c)
{
    free(c->bounds);
    free(c->k);
}

static uint8_t clip8(int32_t v)
{
    if (v >= (1 << PRECISION_BITS << 8))
        return 255;
    if (v <= 0)
        return 0;
    return (uint8_t)(v >> PRECISION_BITS);
}

/* rows [row0, row0 + rows) of src (width sw) -> dst (width dw, `rows` rows) */
static void pass_horizontal(const uint8_t *src, int sw, int row0, int rows, int ch, uint8_t *dst, int dw,
                            const coeffs *c)
{
    for (int y = 0; y < rows; y++) {
        const uint8_t *in = src + ((size_t)(row0 + y) * (size_t)sw) * (size_t)ch;
        uint8_t *out = dst + (size_t)y * (size_t)dw * (size_t)ch;
        for (int xx = 0; xx < dw; xx++) {
            int xmin = c->bounds[2 * xx], n = c->bounds[2 * xx + 1];
            const int32_t *k = c->k + (size_t)xx * (size_t)c->ksize;
            for (int cc = 0; cc < ch; cc++) {
                int32_t acc = 1 << (PRECISION_BITS - 1);
                for (int x = 0; x < n; x++)
                    acc += (int32_t)in[(size_t)(xmin + x) * (size_t)ch + (size_t)cc] * k[x];
                out[(size_t)xx * (size_t)ch + (size_t)cc] = clip8(acc);
            }
        }
    }
}

/* src (width w, first row = source row `row0`) -> dst (dh rows) */
static void pass_vertical(const uint8_t *src, int w, int row0, int ch, uint8_t *dst, int dh, const coeffs *c)
{
    size_t stride = (size_t)w * (size_t)ch;
    for (int yy = 0; yy < dh; yy++) {
        int ymin = c->bounds[2 * yy] - row0, n = c->bounds[2 * yy + 1];
        const int32_t *k = c->k + (size_t)yy * (size_t)c->ksize;
        uint8_t *out = dst + (size_t)yy * stride;
        for (size_t i = 0; i < stride; i++) {
            int32_t acc = 1 << (PRECISION_BITS - 1);
            for (int y = 0; y < n; y++)
                acc += (int32_t)src[(size_t)(ymin + y) * stride + i] * k[y];
            out[i] = clip8(acc);
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
    coeffs ch_ = { 0 }, cv = { 0 };
    if (need_h)
        LCMD_TRY(make_coeffs(sw, dw, &ch_));
    if (need_v) {
        lcmd_status s = make_coeffs(sh, dh, &cv);
        if (s != LCMD_OK) {
            free_coeffs(&ch_);
            return s;
        }
    }
    lcmd_status st = LCMD_OK;
    if (need_h && need_v) {
        int first = cv.bounds[0];
        int last = cv.bounds[2 * dh - 2] + cv.bounds[2 * dh - 1];
        uint8_t *tmp = malloc((size_t)dw * (size_t)(last - first) * (size_t)ch);
        if (!tmp) {
            st = lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "resize buffer");
        } else {
            pass_horizontal(src, sw, first, last - first, ch, tmp, dw, &ch_);
            pass_vertical(tmp, dw, first, ch, dst, dh, &cv);
            free(tmp);
        }
    } else if (need_h) {
        pass_horizontal(src, sw, 0, sh, ch, dst, dw, &ch_);
    } else {
        pass_vertical(src, sw, 0, ch, dst, dh, &cv);
    }
    free_coeffs(&ch_);
    free_coeffs(&cv);
    return st;
}
