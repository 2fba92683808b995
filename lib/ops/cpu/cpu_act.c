/* Elementwise activations and GEGLU. */
#include "ops/cpu/cpu_backend.h"

#include "core/error.h"
#include "ops/cpu/cpu_math.h"
#include "ops/cpu/cpu_simd.h"

#define ACT_GRAIN 4096   /* values per thread at least: below that threads cost more than they save */

/* One loop per activation so each body is a straight line the compiler can unroll. */
#define ACT_LOOP(be, n, body) \
    _Pragma("omp parallel for num_threads(lcmd_cpu_threads(be, (n) / ACT_GRAIN + 1)) schedule(static)") \
    for (int64_t i = 0; i < (n); i++) { body; }

lcmd_status lcmd_cpu_act_fwd(lcmd_backend *be, lcmd_dtype dt, lcmd_act act, void *out, const void *inp, int64_t n)
{
    LCMD_CPU_F32_ONLY(dt, "act_fwd");
    const float *x = inp;
    float *y = out;
    switch (act) {
    case LCMD_ACT_SILU: ACT_LOOP(be, n, y[i] = lcmd_silu_f(x[i])) break;
    case LCMD_ACT_GELU: ACT_LOOP(be, n, y[i] = lcmd_gelu_f(x[i])) break;
    case LCMD_ACT_GELU_TANH: ACT_LOOP(be, n, y[i] = lcmd_gelu_tanh_f(x[i])) break;
    case LCMD_ACT_QUICK_GELU: ACT_LOOP(be, n, y[i] = lcmd_quick_gelu_f(x[i])) break;
    default: return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "act_fwd: act = %d is unknown", (int)act);
    }
    return LCMD_OK;
}

lcmd_status lcmd_cpu_act_bwd(lcmd_backend *be, lcmd_dtype dt, lcmd_act act, void *dinp,
                             const void *dout, const void *inp, int64_t n)
{
    LCMD_CPU_F32_ONLY(dt, "act_bwd");
    if (!dinp) return LCMD_OK;
    const float *x = inp, *dy = dout;
    float *dx = dinp;
    switch (act) {
    case LCMD_ACT_SILU: ACT_LOOP(be, n, dx[i] += dy[i] * lcmd_silu_grad(x[i])) break;
    case LCMD_ACT_GELU: ACT_LOOP(be, n, dx[i] += dy[i] * lcmd_gelu_grad(x[i])) break;
    case LCMD_ACT_GELU_TANH: ACT_LOOP(be, n, dx[i] += dy[i] * lcmd_gelu_tanh_grad(x[i])) break;
    case LCMD_ACT_QUICK_GELU: ACT_LOOP(be, n, dx[i] += dy[i] * lcmd_quick_gelu_grad(x[i])) break;
    default: return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "act_bwd: act = %d is unknown", (int)act);
    }
    return LCMD_OK;
}

/* one row of GEGLU: y[j] = a[j] * GELU(g[j]) with [a | g] = x[0, 2d) */
static void geglu_row_generic(float *y, const float *x, int64_t d)
{
    for (int64_t j = 0; j < d; j++) y[j] = x[j] * lcmd_gelu_f(x[d + j]);
}

#if LCMD_CPU_SIMD
#pragma GCC push_options
#pragma GCC target("avx512f,fma")
static void geglu_row_avx512(float *y, const float *x, int64_t d)
{
    int64_t j = 0;
    for (; j + 16 <= d; j += 16) lcmd_v16_store(y + j, lcmd_v16_load(x + j) * lcmd_v16_gelu(lcmd_v16_load(x + d + j)));
    for (; j < d; j++) y[j] = x[j] * lcmd_gelu_f(x[d + j]);
}
#pragma GCC pop_options
#endif

typedef void (*geglu_row_fn)(float *y, const float *x, int64_t d);

lcmd_status lcmd_cpu_geglu_fwd(lcmd_backend *be, lcmd_dtype dt, void *out, const void *inp, int64_t rows, int64_t d)
{
    LCMD_CPU_F32_ONLY(dt, "geglu_fwd");
    const float *x = inp;
    float *y = out;
    geglu_row_fn row = geglu_row_generic;
#if LCMD_CPU_SIMD
    if (lcmd_cpu_have_avx512()) row = geglu_row_avx512;
#endif
#pragma omp parallel for num_threads(lcmd_cpu_threads(be, rows * d / ACT_GRAIN + 1)) schedule(static)
    for (int64_t r = 0; r < rows; r++) row(y + r * d, x + r * 2 * d, d);
    return LCMD_OK;
}

lcmd_status lcmd_cpu_geglu_bwd(lcmd_backend *be, lcmd_dtype dt, void *dinp, const void *dout,
                               const void *inp, int64_t rows, int64_t d)
{
    LCMD_CPU_F32_ONLY(dt, "geglu_bwd");
    if (!dinp) return LCMD_OK;
    const float *x = inp, *dy = dout;
    float *dx = dinp;
#pragma omp parallel for num_threads(lcmd_cpu_threads(be, rows * d / ACT_GRAIN + 1)) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const float *a = x + r * 2 * d, *g = a + d, *dyr = dy + r * d;
        float *da = dx + r * 2 * d, *dg = da + d;
        for (int64_t j = 0; j < d; j++) {
            da[j] += dyr[j] * lcmd_gelu_f(g[j]);
            dg[j] += dyr[j] * a[j] * lcmd_gelu_grad(g[j]);
        }
    }
    return LCMD_OK;
}
