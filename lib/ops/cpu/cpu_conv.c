/* conv2d as im2col + sgemm, NHWC, weight [Cout, kh, kw, Cin].
 * The column matrix of a chunk of output rows of one image lives in the backend
 * scratch; the chunk is sized from the shape alone, so a repeated shape reuses it. */
#include "ops/cpu/cpu_backend.h"

#include <cblas.h>
#include <string.h>

#include "core/error.h"

#define CONV_COL_BUDGET ((int64_t)4 << 20)   /* floats of im2col per chunk (16 MiB) */

typedef struct conv_geom {
    int64_t ho, wo, k;   /* output size, column width kh*kw*cin */
    int64_t chunk_rows;  /* output rows per chunk */
} conv_geom;

static conv_geom conv_geometry(const lcmd_conv2d_shape *s)
{
    conv_geom g;
    g.ho = lcmd_conv2d_out_h(s);
    g.wo = lcmd_conv2d_out_w(s);
    g.k = (int64_t)s->kh * s->kw * s->c_in;
    g.chunk_rows = CONV_COL_BUDGET / (g.wo * g.k);
    if (g.chunk_rows < 1) g.chunk_rows = 1;
    if (g.chunk_rows > g.ho) g.chunk_rows = g.ho;
    return g;
}

static int is_pointwise(const lcmd_conv2d_shape *s)
{
    return s->kh == 1 && s->kw == 1 && s->stride == 1 && s->pad == 0;
}

/* col[r, (ky, kx, ci)] for output rows [oh0, oh1) of image `img` */
static void im2col(lcmd_backend *be, const lcmd_conv2d_shape *s, const conv_geom *g,
                   const float *inp, int64_t img, int64_t oh0, int64_t oh1, float *col)
{
    const float *x = inp + img * s->h * s->w * s->c_in;
    int64_t rows = (oh1 - oh0) * g->wo;
    size_t cin_bytes = (size_t)s->c_in * sizeof(float);
#pragma omp parallel for num_threads(lcmd_cpu_threads(be, rows / 8 + 1)) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        int64_t oh = oh0 + r / g->wo, ow = r % g->wo;
        float *dst = col + r * g->k;
        for (int32_t ky = 0; ky < s->kh; ky++) {
            int64_t ih = oh * s->stride - s->pad + ky;
            for (int32_t kx = 0; kx < s->kw; kx++, dst += s->c_in) {
                int64_t iw = ow * s->stride - s->pad + kx;
                if (ih < 0 || ih >= s->h || iw < 0 || iw >= s->w) memset(dst, 0, cin_bytes);
                else memcpy(dst, x + (ih * s->w + iw) * s->c_in, cin_bytes);
            }
        }
    }
}

/* dinp[img] += the transpose of im2col applied to dcol, for output rows [oh0, oh1).
 * A gather over input pixels: every thread owns the pixels it writes. */
static void col2im_acc(lcmd_backend *be, const lcmd_conv2d_shape *s, const conv_geom *g,
                       const float *dcol, int64_t img, int64_t oh0, int64_t oh1, float *dinp)
{
    float *dx = dinp + img * s->h * s->w * s->c_in;
    int64_t ih_lo = oh0 * s->stride - s->pad, ih_hi = (oh1 - 1) * s->stride - s->pad + s->kh - 1;
    if (ih_lo < 0) ih_lo = 0;
    if (ih_hi > s->h - 1) ih_hi = s->h - 1;
    if (ih_hi < ih_lo) return;
    int64_t pixels = (ih_hi - ih_lo + 1) * s->w;
    int64_t cin = s->c_in;
#pragma omp parallel for num_threads(lcmd_cpu_threads(be, pixels / 8 + 1)) schedule(static)
    for (int64_t pix = 0; pix < pixels; pix++) {
        int64_t ih = ih_lo + pix / s->w, iw = pix % s->w;
        float *d = dx + (ih * s->w + iw) * cin;
        for (int32_t ky = 0; ky < s->kh; ky++) {
            int64_t oy = ih + s->pad - ky;
            if (oy < 0 || oy % s->stride) continue;
            oy /= s->stride;
            if (oy < oh0 || oy >= oh1) continue;
            for (int32_t kx = 0; kx < s->kw; kx++) {
                int64_t ox = iw + s->pad - kx;
                if (ox < 0 || ox % s->stride) continue;
                ox /= s->stride;
                if (ox >= g->wo) continue;
                const float *src = dcol + ((oy - oh0) * g->wo + ox) * g->k + ((int64_t)ky * s->kw + kx) * cin;
                for (int64_t ci = 0; ci < cin; ci++) d[ci] += src[ci];
            }
        }
    }
}

static lcmd_status conv_blas_sizes(const lcmd_conv2d_shape *s, const conv_geom *g, const char *op)
{
    int64_t rows = is_pointwise(s) ? s->n * s->h * s->w : g->chunk_rows * g->wo;
    LCMD_TRY(lcmd_cpu_check_blas_int(rows, op, "pixels per chunk"));
    LCMD_TRY(lcmd_cpu_check_blas_int(g->k, op, "kh*kw*c_in"));
    return lcmd_cpu_check_blas_int(s->c_out, op, "c_out");
}

lcmd_status lcmd_cpu_conv2d_fwd(lcmd_backend *be, lcmd_dtype dt, const lcmd_conv2d_shape *s,
                                void *out, const void *inp, const void *w, const void *bias)
{
    LCMD_CPU_F32_ONLY(dt, "conv2d_fwd");
    conv_geom g = conv_geometry(s);
    LCMD_TRY(conv_blas_sizes(s, &g, "conv2d_fwd"));
    int64_t cout = s->c_out, pixels_img = g.ho * g.wo;
    float beta = 0.0f;
    if (bias) {
        lcmd_cpu_fill_rows(be, out, bias, s->n * pixels_img, cout);
        beta = 1.0f;
    }
    if (is_pointwise(s)) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(s->n * pixels_img), (int)cout, (int)g.k,
                    1.0f, inp, (int)g.k, w, (int)g.k, beta, out, (int)cout);
        return LCMD_OK;
    }
    float *col = lcmd_cpu_scratch(be, (size_t)(g.chunk_rows * g.wo * g.k) * sizeof(float));
    if (!col) return LCMD_ERR_OUT_OF_MEMORY;
    for (int64_t img = 0; img < s->n; img++) {
        for (int64_t oh0 = 0; oh0 < g.ho; oh0 += g.chunk_rows) {
            int64_t oh1 = oh0 + g.chunk_rows < g.ho ? oh0 + g.chunk_rows : g.ho;
            int64_t rows = (oh1 - oh0) * g.wo;
            im2col(be, s, &g, inp, img, oh0, oh1, col);
            float *o = (float *)out + (img * pixels_img + oh0 * g.wo) * cout;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)cout, (int)g.k,
                        1.0f, col, (int)g.k, w, (int)g.k, beta, o, (int)cout);
        }
    }
    return LCMD_OK;
}

lcmd_status lcmd_cpu_conv2d_bwd(lcmd_backend *be, lcmd_dtype dt, const lcmd_conv2d_shape *s,
                                void *dinp, void *dw, void *dbias,
                                const void *dout, const void *inp, const void *w)
{
    LCMD_CPU_F32_ONLY(dt, "conv2d_bwd");
    conv_geom g = conv_geometry(s);
    LCMD_TRY(conv_blas_sizes(s, &g, "conv2d_bwd"));
    int64_t cout = s->c_out, pixels_img = g.ho * g.wo;
    if (dbias) lcmd_cpu_colsum_acc(be, dbias, dout, s->n * pixels_img, cout, cout);
    if (is_pointwise(s)) {
        int m = (int)(s->n * pixels_img);
        if (dw)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)cout, (int)g.k, m,
                        1.0f, dout, (int)cout, inp, (int)g.k, 1.0f, dw, (int)g.k);
        if (dinp)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, (int)g.k, (int)cout,
                        1.0f, dout, (int)cout, w, (int)g.k, 1.0f, dinp, (int)g.k);
        return LCMD_OK;
    }
    if (!dw && !dinp) return LCMD_OK;
    float *col = lcmd_cpu_scratch(be, (size_t)(g.chunk_rows * g.wo * g.k) * sizeof(float));
    if (!col) return LCMD_ERR_OUT_OF_MEMORY;
    for (int64_t img = 0; img < s->n; img++) {
        for (int64_t oh0 = 0; oh0 < g.ho; oh0 += g.chunk_rows) {
            int64_t oh1 = oh0 + g.chunk_rows < g.ho ? oh0 + g.chunk_rows : g.ho;
            int rows = (int)((oh1 - oh0) * g.wo);
            const float *dy = (const float *)dout + (img * pixels_img + oh0 * g.wo) * cout;
            if (dw) {
                /* dw[cout, k] += dy^T[cout, rows] * col[rows, k] */
                im2col(be, s, &g, inp, img, oh0, oh1, col);
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)cout, (int)g.k, rows,
                            1.0f, dy, (int)cout, col, (int)g.k, 1.0f, dw, (int)g.k);
            }
            if (dinp) {
                /* dcol[rows, k] = dy[rows, cout] * w[cout, k], reusing the column buffer */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, (int)g.k, (int)cout,
                            1.0f, dy, (int)cout, w, (int)g.k, 0.0f, col, (int)g.k);
                col2im_acc(be, s, &g, col, img, oh0, oh1, dinp);
            }
        }
    }
    return LCMD_OK;
}
