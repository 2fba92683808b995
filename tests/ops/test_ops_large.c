/* Shapes beyond the op checks: attention over 1024 tokens (many query blocks)
 * against the double reference, and conv scratch reuse. */
#include <math.h>
#include <stdlib.h>

#include <lcmd/status.h>

#include "core/philox.h"
#include "ops/cpu/cpu_backend.h"
#include "ops/op_calls.h"
#include "ops/ref/ref_ops.h"
#include "test_ops.h"

static void fill(float *f, double *d, int64_t n, uint64_t stream)
{
    for (int64_t i = 0; i < n; i += 4) {
        lcmd_u32x4 r = lcmd_rng_block(99, stream, (uint64_t)i / 4);
        for (int j = 0; j < 4 && i + j < n; j++) {
            f[i + j] = 2.0f * lcmd_u32_to_unit(r.v[j]) - 1.0f;
            if (d) d[i + j] = f[i + j];
        }
    }
}

static double rel_err_fd(const float *a, const double *b, int64_t n)
{
    double num = 0.0, den = 0.0;
    for (int64_t i = 0; i < n; i++) {
        num += (a[i] - b[i]) * (a[i] - b[i]);
        den += b[i] * b[i];
    }
    return sqrt(num / den);
}

static void attention_long(int causal)
{
    lcmd_backend *be = test_cpu_backend();
    lcmd_attn_shape s = {.b = 1, .heads = 2, .sq = 1024, .skv = 1024, .head_dim = 16, .scale = 0.25f,
                         .causal = causal};
    s.ldq = s.ldk = s.ldv = s.ldo = s.heads * s.head_dim;
    int64_t n = s.b * s.sq * s.ldq, nl = s.b * s.heads * s.sq;
    float *q = malloc(sizeof(float) * n), *k = malloc(sizeof(float) * n), *v = malloc(sizeof(float) * n);
    float *o = malloc(sizeof(float) * n), *lse = malloc(sizeof(float) * nl);
    double *qd = malloc(sizeof(double) * n), *kd = malloc(sizeof(double) * n), *vd = malloc(sizeof(double) * n);
    double *od = malloc(sizeof(double) * n), *lsed = malloc(sizeof(double) * nl);
    ck_assert(q && k && v && o && lse && qd && kd && vd && od && lsed);
    fill(q, qd, n, 1);
    fill(k, kd, n, 2);
    fill(v, vd, n, 3);
    ck_assert_int_eq(lcmd_op_attention_fwd(be, LCMD_DT_F32, &s, o, lse, q, k, v), LCMD_OK);
    lcmd_ref_attention(&s, od, lsed, qd, kd, vd);
    double e_out = rel_err_fd(o, od, n), e_lse = rel_err_fd(lse, lsed, nl);
    ck_assert_msg(e_out <= 1e-5 && e_lse <= 1e-5, "1024-token attention (causal %d): out %.3e, lse %.3e", causal,
                  e_out, e_lse);
    /* the backward at this length runs and stays finite */
    float *dq = calloc((size_t)n, sizeof(float)), *dk = calloc((size_t)n, sizeof(float));
    float *dv = calloc((size_t)n, sizeof(float));
    ck_assert(dq && dk && dv);
    ck_assert_int_eq(lcmd_op_attention_bwd(be, LCMD_DT_F32, &s, dq, dk, dv, v, q, k, v, o, lse), LCMD_OK);
    for (int64_t i = 0; i < n; i++) ck_assert(isfinite(dq[i]) && isfinite(dk[i]) && isfinite(dv[i]));
    free(q); free(k); free(v); free(o); free(lse);
    free(qd); free(kd); free(vd); free(od); free(lsed);
    free(dq); free(dk); free(dv);
    lcmd_backend_destroy(be);
}

START_TEST(test_attention_1024)
{
    attention_long(_i);
}
END_TEST

START_TEST(test_conv_scratch_stable)
{
    lcmd_backend *be = test_cpu_backend();
    lcmd_conv2d_shape s = {.n = 2, .h = 16, .w = 12, .c_in = 8, .c_out = 8, .kh = 3, .kw = 3, .stride = 1, .pad = 1};
    int64_t nx = s.n * s.h * s.w * s.c_in, nw = s.c_out * 9 * s.c_in, ny = s.n * s.h * s.w * s.c_out;
    float *x = malloc(sizeof(float) * nx), *w = malloc(sizeof(float) * nw), *y = malloc(sizeof(float) * ny);
    float *dx = calloc((size_t)nx, sizeof(float)), *dw = calloc((size_t)nw, sizeof(float));
    ck_assert(x && w && y && dx && dw);
    fill(x, NULL, nx, 4);
    fill(w, NULL, nw, 5);
    ck_assert_int_eq(lcmd_op_conv2d_fwd(be, LCMD_DT_F32, &s, y, x, w, NULL), LCMD_OK);
    size_t cap = lcmd_cpu_scratch_capacity(be);
    ck_assert_uint_gt(cap, 0);
    void *first = ((lcmd_cpu_backend *)be)->scratch;
    for (int rep = 0; rep < 3; rep++) {
        ck_assert_int_eq(lcmd_op_conv2d_fwd(be, LCMD_DT_F32, &s, y, x, w, NULL), LCMD_OK);
        ck_assert_int_eq(lcmd_op_conv2d_bwd(be, LCMD_DT_F32, &s, dx, dw, NULL, y, x, w), LCMD_OK);
        ck_assert_uint_eq(lcmd_cpu_scratch_capacity(be), cap);
        ck_assert_ptr_eq(((lcmd_cpu_backend *)be)->scratch, first);
    }
    free(x); free(w); free(y); free(dx); free(dw);
    lcmd_backend_destroy(be);
}
END_TEST

TCase *ops_large_tcase(void)
{
    TCase *tc = tcase_create("large");
    tcase_add_loop_test(tc, test_attention_1024, 0, 2);
    tcase_add_test(tc, test_conv_scratch_stable);
    return tc;
}
