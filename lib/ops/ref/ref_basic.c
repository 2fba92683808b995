/* Reference elementwise, layout and embedding ops in double. */
#include "ops/ref/ref_ops.h"

#include <math.h>

void lcmd_ref_upsample2x(double *out, const double *inp, int64_t n, int64_t h, int64_t w, int64_t c)
{
    for (int64_t i = 0; i < n; i++)
        for (int64_t y = 0; y < 2 * h; y++)
            for (int64_t x = 0; x < 2 * w; x++)
                for (int64_t ch = 0; ch < c; ch++)
                    out[((i * 2 * h + y) * 2 * w + x) * c + ch] = inp[((i * h + y / 2) * w + x / 2) * c + ch];
}

void lcmd_ref_add(double *out, const double *a, const double *b, int64_t n)
{
    for (int64_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

void lcmd_ref_add_bcast(double *out, const double *a, const double *b, int64_t n, int64_t p, int64_t c)
{
    for (int64_t i = 0; i < n; i++)
        for (int64_t q = 0; q < p; q++)
            for (int64_t ch = 0; ch < c; ch++)
                out[(i * p + q) * c + ch] = a[(i * p + q) * c + ch] + b[i * c + ch];
}

void lcmd_ref_mul(double *out, const double *a, const double *b, int64_t n)
{
    for (int64_t i = 0; i < n; i++) out[i] = a[i] * b[i];
}

void lcmd_ref_axpy(double *y, double alpha, const double *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++) y[i] += alpha * x[i];
}

void lcmd_ref_scale(double *y, double alpha, int64_t n)
{
    for (int64_t i = 0; i < n; i++) y[i] *= alpha;
}

void lcmd_ref_concat(double *out, const double *a, const double *b, int64_t p, int64_t ca, int64_t cb)
{
    for (int64_t r = 0; r < p; r++) {
        for (int64_t j = 0; j < ca; j++) out[r * (ca + cb) + j] = a[r * ca + j];
        for (int64_t j = 0; j < cb; j++) out[r * (ca + cb) + ca + j] = b[r * cb + j];
    }
}

void lcmd_ref_timestep_emb(double *out, const double *t, int64_t n, int64_t dim, int flip_sin_to_cos,
                           double shift, double scale, double max_period)
{
    int64_t half = dim / 2;
    for (int64_t i = 0; i < n; i++) {
        double *row = out + i * dim;
        for (int64_t j = 0; j < half; j++) {
            double a = scale * t[i] * exp(-log(max_period) * (double)j / ((double)half - shift));
            row[flip_sin_to_cos ? half + j : j] = sin(a);
            row[flip_sin_to_cos ? j : half + j] = cos(a);
        }
        if (dim % 2) row[dim - 1] = 0.0;
    }
}
