/* Reference gemm, linear and conv2d in double. */
#include "ops/ref/ref_ops.h"

void lcmd_ref_gemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, double alpha,
                   const double *a, int64_t lda, int64_t stride_a, const double *b, int64_t ldb,
                   int64_t stride_b, double beta, double *c, int64_t ldc, int64_t stride_c, int64_t batch)
{
    for (int64_t bi = 0; bi < batch; bi++) {
        const double *ab = a + bi * stride_a, *bb = b + bi * stride_b;
        double *cb = c + bi * stride_c;
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                double acc = 0.0;
                for (int64_t l = 0; l < k; l++) {
                    double av = trans_a ? ab[l * lda + i] : ab[i * lda + l];
                    double bv = trans_b ? bb[j * ldb + l] : bb[l * ldb + j];
                    acc += av * bv;
                }
                /* beta == 0 ignores C, as BLAS does */
                cb[i * ldc + j] = alpha * acc + (beta == 0.0 ? 0.0 : beta * cb[i * ldc + j]);
            }
    }
}

void lcmd_ref_linear(double *out, const double *inp, const double *w, const double *bias,
                     int64_t m, int64_t k, int64_t n)
{
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double acc = bias ? bias[j] : 0.0;
            for (int64_t l = 0; l < k; l++) acc += inp[i * k + l] * w[j * k + l];
            out[i * n + j] = acc;
        }
}

void lcmd_ref_conv2d(const lcmd_conv2d_shape *s, double *out, const double *inp, const double *w,
                     const double *bias)
{
    int64_t ho = lcmd_conv2d_out_h(s), wo = lcmd_conv2d_out_w(s);
    for (int64_t i = 0; i < s->n; i++)
        for (int64_t oy = 0; oy < ho; oy++)
            for (int64_t ox = 0; ox < wo; ox++)
                for (int64_t co = 0; co < s->c_out; co++) {
                    double acc = bias ? bias[co] : 0.0;
                    for (int64_t ky = 0; ky < s->kh; ky++)
                        for (int64_t kx = 0; kx < s->kw; kx++) {
                            int64_t iy = oy * s->stride - s->pad + ky, ix = ox * s->stride - s->pad + kx;
                            if (iy < 0 || iy >= s->h || ix < 0 || ix >= s->w) continue;
                            const double *xp = inp + ((i * s->h + iy) * s->w + ix) * s->c_in;
                            const double *wp = w + ((co * s->kh + ky) * s->kw + kx) * s->c_in;
                            for (int64_t ci = 0; ci < s->c_in; ci++) acc += xp[ci] * wp[ci];
                        }
                    out[((i * ho + oy) * wo + ox) * s->c_out + co] = acc;
                }
}
