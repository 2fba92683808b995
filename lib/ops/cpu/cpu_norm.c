/* GroupNorm (optionally fused with SiLU) and LayerNorm, statistics in double. */
#include "ops/cpu/cpu_backend.h"

#include <math.h>

#include "core/error.h"
#include "ops/cpu/cpu_math.h"
#include "ops/cpu/cpu_simd.h"

#define NORM_COL_BLOCK 64   /* channels per task in the gamma/beta gradient reduction */

/* mean and rstd of the (hw x cg) block of group g of sample i, two passes in double */
static void group_stats(const float *x, int64_t hw, int64_t c, int64_t c0, int64_t cg, float eps,
                        float *mean, float *rstd)
{
    double sum = 0.0;
    for (int64_t p = 0; p < hw; p++) {
        const float *r = x + p * c + c0;
        for (int64_t j = 0; j < cg; j++) sum += r[j];
    }
    double cnt = (double)(hw * cg), mu = sum / cnt, var = 0.0;
    for (int64_t p = 0; p < hw; p++) {
        const float *r = x + p * c + c0;
        for (int64_t j = 0; j < cg; j++) {
            double d = r[j] - mu;
            var += d * d;
        }
    }
    *mean = (float)mu;
    *rstd = (float)(1.0 / sqrt(var / cnt + eps));
}

/* One row of the GroupNorm output: y = f((x - mu) * sc + beta) over c channels, with
 * mu and sc expanded per channel; f = SiLU or identity. The SiLU row is the hot
 * loop of every resnet; its AVX-512 copy computes e^-v with a vector polynomial
 * (Cody-Waite reduction, Cephes' degree-5 polynomial, relative error ~1e-7)
 * instead of a libm call per value. */
static void gn_row_generic(float *y, const float *x, const float *mu, const float *sc, const float *bt, int64_t c,
                           int silu)
{
    for (int64_t ch = 0; ch < c; ch++) {
        float v = (x[ch] - mu[ch]) * sc[ch] + bt[ch];
        y[ch] = silu ? lcmd_silu_f(v) : v;
    }
}

#if LCMD_CPU_SIMD
#pragma GCC push_options
#pragma GCC target("avx512f,fma")
static void gn_row_avx512(float *y, const float *x, const float *mu, const float *sc, const float *bt, int64_t c,
                          int silu)
{
    int64_t ch = 0;
    for (; ch + 16 <= c; ch += 16) {
        lcmd_v16 v = _mm512_fmadd_ps(lcmd_v16_load(x + ch) - lcmd_v16_load(mu + ch), lcmd_v16_load(sc + ch),
                                     lcmd_v16_load(bt + ch));
        lcmd_v16_store(y + ch, silu ? lcmd_v16_silu(v) : v);
    }
    gn_row_generic(y + ch, x + ch, mu + ch, sc + ch, bt + ch, c - ch, silu);
}
#pragma GCC pop_options
#endif

typedef void (*gn_row_fn)(float *y, const float *x, const float *mu, const float *sc, const float *bt, int64_t c,
                          int silu);

static gn_row_fn gn_row_kernel(void)
{
#if LCMD_CPU_SIMD
    if (lcmd_cpu_have_avx512()) return gn_row_avx512;
#endif
    return gn_row_generic;
}

lcmd_status lcmd_cpu_groupnorm_fwd(lcmd_backend *be, lcmd_dtype dt, void *out, float *mean, float *rstd,
                                   const void *inp, const void *gamma, const void *beta,
                                   int64_t n, int64_t hw, int64_t c, int64_t groups, float eps, int silu)
{
    LCMD_CPU_F32_ONLY(dt, "groupnorm_fwd");
    const float *x = inp, *ga = gamma, *be_ = beta;
    float *y = out;
    int64_t cg = c / groups;
#pragma omp parallel for num_threads(lcmd_cpu_threads(be, n * groups)) schedule(dynamic, 1)
    for (int64_t u = 0; u < n * groups; u++) {
        int64_t i = u / groups, g = u % groups;
        group_stats(x + i * hw * c, hw, c, g * cg, cg, eps, &mean[u], &rstd[u]);
    }
    /* per sample and channel: the group mean and rstd * gamma */
    float *muc = lcmd_cpu_scratch(be, (size_t)(2 * n * c) * sizeof(float));
    if (!muc) return LCMD_ERR_OUT_OF_MEMORY;
    float *scc = muc + n * c;
    for (int64_t i = 0; i < n; i++)
        for (int64_t ch = 0; ch < c; ch++) {
            int64_t u = i * groups + ch / cg;
            muc[i * c + ch] = mean[u];
            scc[i * c + ch] = rstd[u] * ga[ch];
        }
    gn_row_fn row = gn_row_kernel();
#pragma omp parallel for num_threads(lcmd_cpu_threads(be, n * hw / 16 + 1)) schedule(static)
    for (int64_t r = 0; r < n * hw; r++) {
        int64_t i = r / hw;
        row(y + r * c, x + r * c, muc + i * c, scc + i * c, be_, c, silu);
    }
    return LCMD_OK;
}

/* dy = upstream gradient through the optional SiLU, at normalised value xh */
static inline float gn_dy(float dz, float xh, float gamma, float beta, int silu)
{
    return silu ? dz * lcmd_silu_grad(xh * gamma + beta) : dz;
}

lcmd_status lcmd_cpu_groupnorm_bwd(lcmd_backend *be, lcmd_dtype dt, void *dinp, void *dgamma, void *dbeta,
                                   const void *dout, const void *inp, const void *gamma, const void *beta,
                                   const float *mean, const float *rstd,
                                   int64_t n, int64_t hw, int64_t c, int64_t groups, int silu)
{
    LCMD_CPU_F32_ONLY(dt, "groupnorm_bwd");
    const float *x = inp, *dz = dout, *ga = gamma, *bt = beta;
    int64_t cg = c / groups;
    if (dinp) {
        /* per group: mean of dxhat and of dxhat * xhat */
        double *m1 = lcmd_cpu_scratch(be, (size_t)(2 * n * groups) * sizeof(double));
        if (!m1) return LCMD_ERR_OUT_OF_MEMORY;
        double *m2 = m1 + n * groups;
#pragma omp parallel for num_threads(lcmd_cpu_threads(be, n * groups)) schedule(dynamic, 1)
        for (int64_t u = 0; u < n * groups; u++) {
            int64_t i = u / groups, c0 = (u % groups) * cg;
            float mu = mean[u], rs = rstd[u];
            double s1 = 0.0, s2 = 0.0;
            for (int64_t p = 0; p < hw; p++) {
                const float *xr = x + (i * hw + p) * c, *dr = dz + (i * hw + p) * c;
                for (int64_t ch = c0; ch < c0 + cg; ch++) {
                    float xh = (xr[ch] - mu) * rs;
                    float dxh = gn_dy(dr[ch], xh, ga[ch], bt[ch], silu) * ga[ch];
                    s1 += dxh;
                    s2 += (double)dxh * xh;
                }
            }
            m1[u] = s1 / (double)(hw * cg);
            m2[u] = s2 / (double)(hw * cg);
        }
        float *dx = dinp;
#pragma omp parallel for num_threads(lcmd_cpu_threads(be, n * hw / 16 + 1)) schedule(static)
        for (int64_t r = 0; r < n * hw; r++) {
            int64_t i = r / hw;
            const float *xr = x + r * c, *dr = dz + r * c;
            float *dxr = dx + r * c;
            for (int64_t g = 0; g < groups; g++) {
                int64_t u = i * groups + g;
                float mu = mean[u], rs = rstd[u], a1 = (float)m1[u], a2 = (float)m2[u];
                for (int64_t ch = g * cg; ch < (g + 1) * cg; ch++) {
                    float xh = (xr[ch] - mu) * rs;
                    float dxh = gn_dy(dr[ch], xh, ga[ch], bt[ch], silu) * ga[ch];
                    dxr[ch] += rs * (dxh - a1 - xh * a2);
                }
            }
        }
    }
    if (!dgamma && !dbeta) return LCMD_OK;
    float *dg = dgamma, *db = dbeta;
    int64_t blocks = (c + NORM_COL_BLOCK - 1) / NORM_COL_BLOCK;
#pragma omp parallel for num_threads(lcmd_cpu_threads(be, blocks)) schedule(static)
    for (int64_t bi = 0; bi < blocks; bi++) {
        int64_t c0 = bi * NORM_COL_BLOCK, c1 = c0 + NORM_COL_BLOCK < c ? c0 + NORM_COL_BLOCK : c;
        double ag[NORM_COL_BLOCK] = {0}, ab[NORM_COL_BLOCK] = {0};
        for (int64_t r = 0; r < n * hw; r++) {
            int64_t i = r / hw;
            const float *xr = x + r * c, *dr = dz + r * c;
            for (int64_t ch = c0; ch < c1; ch++) {
                int64_t u = i * groups + ch / cg;
                float xh = (xr[ch] - mean[u]) * rstd[u];
                float dy = gn_dy(dr[ch], xh, ga[ch], bt[ch], silu);
                ag[ch - c0] += (double)dy * xh;
                ab[ch - c0] += dy;
            }
        }
        for (int64_t ch = c0; ch < c1; ch++) {
            if (dg) dg[ch] += (float)ag[ch - c0];
            if (db) db[ch] += (float)ab[ch - c0];
        }
    }
    return LCMD_OK;
}

lcmd_status lcmd_cpu_layernorm_fwd(lcmd_backend *be, lcmd_dtype dt, void *out, float *mean, float *rstd,
                                   const void *inp, const void *gamma, const void *beta,
                                   int64_t rows, int64_t c, float eps)
{
    LCMD_CPU_F32_ONLY(dt, "layernorm_fwd");
    const float *x = inp, *ga = gamma, *bt = beta;
    float *y = out;
#pragma omp parallel for num_threads(lcmd_cpu_threads(be, rows / 4 + 1)) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * c;
        float *yr = y + r * c;
        float mu, rs;
        group_stats(xr, 1, c, 0, c, eps, &mu, &rs);
        mean[r] = mu;
        rstd[r] = rs;
        for (int64_t j = 0; j < c; j++) yr[j] = (xr[j] - mu) * rs * ga[j] + bt[j];
    }
    return LCMD_OK;
}

lcmd_status lcmd_cpu_layernorm_bwd(lcmd_backend *be, lcmd_dtype dt, void *dinp, void *dgamma, void *dbeta,
                                   const void *dout, const void *inp, const void *gamma,
                                   const float *mean, const float *rstd, int64_t rows, int64_t c)
{
    LCMD_CPU_F32_ONLY(dt, "layernorm_bwd");
    const float *x = inp, *dy = dout, *ga = gamma;
    if (dinp) {
        float *dx = dinp;
#pragma omp parallel for num_threads(lcmd_cpu_threads(be, rows / 4 + 1)) schedule(static)
        for (int64_t r = 0; r < rows; r++) {
            const float *xr = x + r * c, *dr = dy + r * c;
            float mu = mean[r], rs = rstd[r];
            double s1 = 0.0, s2 = 0.0;
            for (int64_t j = 0; j < c; j++) {
                float xh = (xr[j] - mu) * rs, dxh = dr[j] * ga[j];
                s1 += dxh;
                s2 += (double)dxh * xh;
            }
            float a1 = (float)(s1 / (double)c), a2 = (float)(s2 / (double)c);
            float *dxr = dx + r * c;
            for (int64_t j = 0; j < c; j++) {
                float xh = (xr[j] - mu) * rs;
                dxr[j] += rs * (dr[j] * ga[j] - a1 - xh * a2);
            }
        }
    }
    if (!dgamma && !dbeta) return LCMD_OK;
    float *dg = dgamma, *db = dbeta;
    int64_t blocks = (c + NORM_COL_BLOCK - 1) / NORM_COL_BLOCK;
#pragma omp parallel for num_threads(lcmd_cpu_threads(be, blocks)) schedule(static)
    for (int64_t bi = 0; bi < blocks; bi++) {
        int64_t c0 = bi * NORM_COL_BLOCK, c1 = c0 + NORM_COL_BLOCK < c ? c0 + NORM_COL_BLOCK : c;
        double ag[NORM_COL_BLOCK] = {0}, ab[NORM_COL_BLOCK] = {0};
        for (int64_t r = 0; r < rows; r++) {
            const float *xr = x + r * c, *dr = dy + r * c;
            float mu = mean[r], rs = rstd[r];
            for (int64_t j = c0; j < c1; j++) {
                ag[j - c0] += (double)dr[j] * ((xr[j] - mu) * rs);
                ab[j - c0] += dr[j];
            }
        }
        for (int64_t j = c0; j < c1; j++) {
            if (dg) dg[j] += (float)ag[j - c0];
            if (db) db[j] += (float)ab[j - c0];
        }
    }
    return LCMD_OK;
}
