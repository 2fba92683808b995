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

/* Stride-1 convolutions without im2col: with the input zero-padded to wp = w + 2 pad
 * columns and flattened, the input pixels that tap (ky, kx) needs for output row oh
 * are a contiguous run of pixels of the padded image starting at (oh + ky) * wp + kx.
 * Computing the output in the padded width too (wp columns per row, the last
 * wp - wo of them junk), each tap is then one plain GEMM over all the chunk's rows:
 * Y[r, :] += Xp[r + ky * wp + kx, :] * W[:, ky, kx, :]^T, K = c_in, lda = c_in.
 * The kh*kw GEMMs read the input in place instead of writing and reading a
 * kh*kw times larger column matrix; the valid columns of Y are then copied out
 * with the bias added. Chunks of output rows bound the scratch like im2col's. */
typedef struct tap_geom {
    int64_t ho, wo, wp;
    int64_t chunk_rows;            /* output rows per chunk */
    int64_t xp_floats, y_floats;   /* scratch of a chunk */
} tap_geom;

/* the wp - wo junk columns cost (2 pad) / w of the FLOPs: worth it on wide images only (measured:
 * 1.1-1.9x faster at w = 32, 64; no gain at w = 16, 8 where the GEMMs are small) */
static int use_taps(const lcmd_conv2d_shape *s) { return s->stride == 1 && !is_pointwise(s) && s->w >= 32; }

static tap_geom tap_geometry(const lcmd_conv2d_shape *s)
{
    tap_geom g;
    g.ho = lcmd_conv2d_out_h(s);
    g.wo = lcmd_conv2d_out_w(s);
    g.wp = s->w + 2 * s->pad;
    int64_t per_row = g.wp * (s->c_in + s->c_out);
    g.chunk_rows = CONV_COL_BUDGET / per_row;
    if (g.chunk_rows < 1) g.chunk_rows = 1;
    if (g.chunk_rows > g.ho) g.chunk_rows = g.ho;
    /* kh - 1 halo rows and kw - 1 pixels read past the last row by the junk columns */
    g.xp_floats = ((g.chunk_rows + s->kh - 1) * g.wp + s->kw) * s->c_in;
    g.y_floats = g.chunk_rows * g.wp * s->c_out;
    g.xp_floats = (g.xp_floats + 15) / 16 * 16;
    return g;
}

/* the zero-padded input rows [oh0, oh1 + kh - 1) of image img, flattened */
static void pad_rows(lcmd_backend *be, const lcmd_conv2d_shape *s, const tap_geom *g, const float *inp,
                     int64_t img, int64_t oh0, int64_t oh1, float *xp)
{
    const float *x = inp + img * s->h * s->w * s->c_in;
    int64_t prow = oh1 - oh0 + s->kh - 1, cin = s->c_in;
#pragma omp parallel for num_threads(lcmd_cpu_threads(be, prow / 4 + 1)) schedule(static)
    for (int64_t r = 0; r < prow; r++) {
        int64_t ih = oh0 + r - s->pad;
        float *d = xp + r * g->wp * cin;
        if (ih < 0 || ih >= s->h) {
            memset(d, 0, (size_t)(g->wp * cin) * sizeof(float));
            continue;
        }
        memset(d, 0, (size_t)(s->pad * cin) * sizeof(float));
        memcpy(d + s->pad * cin, x + ih * s->w * cin, (size_t)(s->w * cin) * sizeof(float));
        memset(d + (s->pad + s->w) * cin, 0, (size_t)(s->pad * cin) * sizeof(float));
    }
    memset(xp + prow * g->wp * cin, 0, (size_t)(s->kw * cin) * sizeof(float));
}

static void conv_taps_fwd(lcmd_backend *be, const lcmd_conv2d_shape *s, const tap_geom *g, float *out,
                          const float *inp, const float *w, const float *bias, float *xp, float *y)
{
    int64_t cin = s->c_in, cout = s->c_out, kk = (int64_t)s->kh * s->kw * cin;
    for (int64_t img = 0; img < s->n; img++) {
        for (int64_t oh0 = 0; oh0 < g->ho; oh0 += g->chunk_rows) {
            int64_t oh1 = oh0 + g->chunk_rows < g->ho ? oh0 + g->chunk_rows : g->ho;
            int64_t m = (oh1 - oh0) * g->wp;
            pad_rows(be, s, g, inp, img, oh0, oh1, xp);
            for (int32_t ky = 0; ky < s->kh; ky++)
                for (int32_t kx = 0; kx < s->kw; kx++)
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)cout, (int)cin, 1.0f,
                                xp + (ky * g->wp + kx) * cin, (int)cin, w + (ky * s->kw + kx) * cin, (int)kk,
                                ky || kx ? 1.0f : 0.0f, y, (int)cout);
            float *o = out + (img * g->ho + oh0) * g->wo * cout;
            int64_t rows = (oh1 - oh0) * g->wo;
#pragma omp parallel for num_threads(lcmd_cpu_threads(be, rows / 16 + 1)) schedule(static)
            for (int64_t r = 0; r < rows; r++) {
                const float *yr = y + ((r / g->wo) * g->wp + r % g->wo) * cout;
                float *orow = o + r * cout;
                if (bias)
                    for (int64_t c = 0; c < cout; c++) orow[c] = yr[c] + bias[c];
                else
                    memcpy(orow, yr, (size_t)cout * sizeof(float));
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
    if (use_taps(s)) {
        tap_geom tg = tap_geometry(s);
        LCMD_TRY(lcmd_cpu_check_blas_int(tg.chunk_rows * tg.wp, "conv2d_fwd", "padded pixels per chunk"));
        LCMD_TRY(lcmd_cpu_check_blas_int((int64_t)s->kh * s->kw * s->c_in, "conv2d_fwd", "kh*kw*c_in"));
        /* at least what the backward's im2col of the same shape takes, so that a
         * forward and backward of one shape settle on one scratch size */
        int64_t need = tg.xp_floats + tg.y_floats, col = g.chunk_rows * g.wo * g.k;
        float *xp = lcmd_cpu_scratch(be, (size_t)(need > col ? need : col) * sizeof(float));
        if (!xp) return LCMD_ERR_OUT_OF_MEMORY;
        conv_taps_fwd(be, s, &tg, out, inp, w, bias, xp, xp + tg.xp_floats);
        return LCMD_OK;
    }
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
