/* Per-op timing of the CPU backend (LCMD_PROFILE=1 in the environment when the
 * backend is created): every op goes through a wrapper that adds its wall time,
 * call count and, for the GEMM-shaped ops, FLOPs to a row of a small table keyed
 * by op name and kind (conv 3x3 vs 1x1, self vs cross attention). The table is
 * printed to stderr when the backend is destroyed. Costs two clock reads per op. */
#include "ops/cpu/cpu_backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PROF_ROWS 256

typedef struct prof_row {
    char key[48];
    double seconds, flops;
    int64_t calls;
} prof_row;

struct lcmd_cpu_profile {
    prof_row rows[PROF_ROWS];
    int n;
    int shapes;   /* LCMD_PROFILE=shapes: one row per shape of the GEMM-like ops */
};

/* the key of a GEMM-like op: its name, plus its shape when profiling by shape */
static int prof_shapes(lcmd_backend *be) { return ((lcmd_cpu_backend *)be)->profile->shapes; }
#define SHAPE_KEY(buf, base, fmt, ...) \
    (prof_shapes(be) ? (snprintf((buf), sizeof(buf), "%s " fmt, (base), __VA_ARGS__), (const char *)(buf)) : (base))

static double prof_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void prof_add(lcmd_backend *be, const char *key, double t0, double flops)
{
    double dt = prof_now() - t0;
    lcmd_cpu_profile *pf = ((lcmd_cpu_backend *)be)->profile;
    int i = 0;
    while (i < pf->n && strcmp(pf->rows[i].key, key)) i++;
    if (i == pf->n) {
        if (pf->n == PROF_ROWS) return;
        snprintf(pf->rows[i].key, sizeof pf->rows[i].key, "%s", key);
        pf->n++;
    }
    pf->rows[i].seconds += dt;
    pf->rows[i].flops += flops;
    pf->rows[i].calls++;
}

static int by_time(const void *a, const void *b)
{
    double x = ((const prof_row *)a)->seconds, y = ((const prof_row *)b)->seconds;
    return (x < y) - (x > y);
}

void lcmd_cpu_profile_print(lcmd_backend *be)
{
    lcmd_cpu_profile *pf = ((lcmd_cpu_backend *)be)->profile;
    if (!pf || !pf->n) return;
    qsort(pf->rows, (size_t)pf->n, sizeof pf->rows[0], by_time);
    double total = 0;
    for (int i = 0; i < pf->n; i++) total += pf->rows[i].seconds;
    fprintf(stderr, "lcmd cpu profile (%d threads): %.3f s in ops\n", be->num_threads, total);
    fprintf(stderr, "%-40s %8s %10s %6s %9s\n", "op", "calls", "seconds", "%", "GFLOP/s");
    for (int i = 0; i < pf->n; i++) {
        const prof_row *r = &pf->rows[i];
        fprintf(stderr, "%-40s %8lld %10.3f %6.1f", r->key, (long long)r->calls, r->seconds,
                100.0 * r->seconds / (total > 0 ? total : 1));
        if (r->flops > 0) fprintf(stderr, " %9.1f", r->flops / r->seconds / 1e9);
        fputc('\n', stderr);
    }
}

lcmd_cpu_profile *lcmd_cpu_profile_create(void)
{
    const char *e = getenv("LCMD_PROFILE");
    if (!e || !*e || !strcmp(e, "0")) return NULL;
    lcmd_cpu_profile *pf = calloc(1, sizeof(lcmd_cpu_profile));
    if (pf) pf->shapes = !strcmp(e, "shapes");
    return pf;
}

/* One wrapper per op: W(name, key expression, flops expression, (params), (args)) */
#define W(name, key, flops, params, args)                          \
    static lcmd_status prof_##name params                          \
    {                                                              \
        char kb_[40];                                              \
        (void)kb_;                                                 \
        double t0_ = prof_now();                                   \
        lcmd_status st_ = lcmd_cpu_##name args;                    \
        prof_add(be, (key), t0_, (double)(flops));                 \
        return st_;                                                \
    }

W(gemm, "gemm", 2.0 * m * n * k * batch,
  (lcmd_backend *be, lcmd_dtype dt, int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
   const void *a, int64_t lda, int64_t stride_a, const void *b, int64_t ldb, int64_t stride_b, float beta,
   void *c, int64_t ldc, int64_t stride_c, int64_t batch),
  (be, dt, trans_a, trans_b, m, n, k, alpha, a, lda, stride_a, b, ldb, stride_b, beta, c, ldc, stride_c, batch))
W(linear_fwd, SHAPE_KEY(kb_, "linear_fwd", "%lldx%lldx%lld", (long long)m, (long long)k, (long long)n), 2.0 * m * k * n,
  (lcmd_backend *be, lcmd_dtype dt, void *out, const void *inp, const void *w, const void *bias,
   int64_t m, int64_t k, int64_t n),
  (be, dt, out, inp, w, bias, m, k, n))
W(linear_bwd, "linear_bwd", 2.0 * m * k * n * ((dinp != NULL) + (dw != NULL)),
  (lcmd_backend *be, lcmd_dtype dt, void *dinp, void *dw, void *dbias, const void *dout, const void *inp,
   const void *w, int64_t m, int64_t k, int64_t n),
  (be, dt, dinp, dw, dbias, dout, inp, w, m, k, n))

static const char *conv_key(const lcmd_conv2d_shape *s, int bwd)
{
    if (s->kh == 1 && s->kw == 1) return bwd ? "conv2d_bwd 1x1" : "conv2d_fwd 1x1";
    if (s->stride != 1) return bwd ? "conv2d_bwd strided" : "conv2d_fwd strided";
    return bwd ? "conv2d_bwd 3x3" : "conv2d_fwd 3x3";
}
static double conv_flops(const lcmd_conv2d_shape *s)
{
    return 2.0 * s->n * lcmd_conv2d_out_h(s) * lcmd_conv2d_out_w(s) * s->c_out * s->kh * s->kw * s->c_in;
}
W(conv2d_fwd, SHAPE_KEY(kb_, conv_key(s, 0), "%lldx%lld %lld>%lld", (long long)s->h, (long long)s->w, (long long)s->c_in, (long long)s->c_out), conv_flops(s),
  (lcmd_backend *be, lcmd_dtype dt, const lcmd_conv2d_shape *s, void *out, const void *inp, const void *w,
   const void *bias),
  (be, dt, s, out, inp, w, bias))
W(conv2d_bwd, conv_key(s, 1), conv_flops(s) * ((dinp != NULL) + (dw != NULL)),
  (lcmd_backend *be, lcmd_dtype dt, const lcmd_conv2d_shape *s, void *dinp, void *dw, void *dbias,
   const void *dout, const void *inp, const void *w),
  (be, dt, s, dinp, dw, dbias, dout, inp, w))
W(groupnorm_fwd, silu ? "groupnorm_fwd+silu" : "groupnorm_fwd", 0,
  (lcmd_backend *be, lcmd_dtype dt, void *out, float *mean, float *rstd, const void *inp, const void *gamma,
   const void *beta, int64_t n, int64_t hw, int64_t c, int64_t groups, float eps, int silu),
  (be, dt, out, mean, rstd, inp, gamma, beta, n, hw, c, groups, eps, silu))
W(groupnorm_bwd, "groupnorm_bwd", 0,
  (lcmd_backend *be, lcmd_dtype dt, void *dinp, void *dgamma, void *dbeta, const void *dout, const void *inp,
   const void *gamma, const void *beta, const float *mean, const float *rstd, int64_t n, int64_t hw, int64_t c,
   int64_t groups, int silu),
  (be, dt, dinp, dgamma, dbeta, dout, inp, gamma, beta, mean, rstd, n, hw, c, groups, silu))
W(layernorm_fwd, "layernorm_fwd", 0,
  (lcmd_backend *be, lcmd_dtype dt, void *out, float *mean, float *rstd, const void *inp, const void *gamma,
   const void *beta, int64_t rows, int64_t c, float eps),
  (be, dt, out, mean, rstd, inp, gamma, beta, rows, c, eps))
W(layernorm_bwd, "layernorm_bwd", 0,
  (lcmd_backend *be, lcmd_dtype dt, void *dinp, void *dgamma, void *dbeta, const void *dout, const void *inp,
   const void *gamma, const float *mean, const float *rstd, int64_t rows, int64_t c),
  (be, dt, dinp, dgamma, dbeta, dout, inp, gamma, mean, rstd, rows, c))
W(act_fwd, "act_fwd", 0,
  (lcmd_backend *be, lcmd_dtype dt, lcmd_act act, void *out, const void *inp, int64_t n),
  (be, dt, act, out, inp, n))
W(act_bwd, "act_bwd", 0,
  (lcmd_backend *be, lcmd_dtype dt, lcmd_act act, void *dinp, const void *dout, const void *inp, int64_t n),
  (be, dt, act, dinp, dout, inp, n))
W(geglu_fwd, "geglu_fwd", 0,
  (lcmd_backend *be, lcmd_dtype dt, void *out, const void *inp, int64_t rows, int64_t d),
  (be, dt, out, inp, rows, d))
W(geglu_bwd, "geglu_bwd", 0,
  (lcmd_backend *be, lcmd_dtype dt, void *dinp, const void *dout, const void *inp, int64_t rows, int64_t d),
  (be, dt, dinp, dout, inp, rows, d))
W(softmax_fwd, "softmax_fwd", 0,
  (lcmd_backend *be, lcmd_dtype dt, void *out, const void *inp, int64_t rows, int64_t cols, float scale),
  (be, dt, out, inp, rows, cols, scale))
W(softmax_bwd, "softmax_bwd", 0,
  (lcmd_backend *be, lcmd_dtype dt, void *dinp, const void *dout, const void *out, int64_t rows, int64_t cols,
   float scale),
  (be, dt, dinp, dout, out, rows, cols, scale))

static double attn_flops(const lcmd_attn_shape *s)
{
    return 4.0 * s->b * s->heads * s->sq * s->skv * s->head_dim / (s->causal ? 2 : 1);
}
W(attention_fwd, SHAPE_KEY(kb_, s->sq == s->skv ? "attention_fwd self" : "attention_fwd cross", "%lldx%lld d%lld", (long long)s->sq, (long long)s->skv, (long long)s->head_dim), attn_flops(s),
  (lcmd_backend *be, lcmd_dtype dt, const lcmd_attn_shape *s, void *out, float *lse, const void *q,
   const void *k, const void *v),
  (be, dt, s, out, lse, q, k, v))
W(attention_bwd, s->sq == s->skv ? "attention_bwd self" : "attention_bwd cross", 2.5 * attn_flops(s),
  (lcmd_backend *be, lcmd_dtype dt, const lcmd_attn_shape *s, void *dq, void *dk, void *dv, const void *dout,
   const void *q, const void *k, const void *v, const void *out, const float *lse),
  (be, dt, s, dq, dk, dv, dout, q, k, v, out, lse))
W(upsample2x_fwd, "upsample2x_fwd", 0,
  (lcmd_backend *be, lcmd_dtype dt, void *out, const void *inp, int64_t n, int64_t h, int64_t w, int64_t c),
  (be, dt, out, inp, n, h, w, c))
W(upsample2x_bwd, "upsample2x_bwd", 0,
  (lcmd_backend *be, lcmd_dtype dt, void *dinp, const void *dout, int64_t n, int64_t h, int64_t w, int64_t c),
  (be, dt, dinp, dout, n, h, w, c))
W(add_fwd, "add_fwd", 0,
  (lcmd_backend *be, lcmd_dtype dt, void *out, const void *a, const void *b, int64_t n),
  (be, dt, out, a, b, n))
W(add_bcast_fwd, "add_bcast_fwd", 0,
  (lcmd_backend *be, lcmd_dtype dt, void *out, const void *a, const void *b, int64_t n, int64_t p, int64_t c),
  (be, dt, out, a, b, n, p, c))
W(add_bcast_bwd, "add_bcast_bwd", 0,
  (lcmd_backend *be, lcmd_dtype dt, void *da, void *db, const void *dout, int64_t n, int64_t p, int64_t c),
  (be, dt, da, db, dout, n, p, c))
W(mul_fwd, "mul_fwd", 0,
  (lcmd_backend *be, lcmd_dtype dt, void *out, const void *a, const void *b, int64_t n),
  (be, dt, out, a, b, n))
W(mul_bwd, "mul_bwd", 0,
  (lcmd_backend *be, lcmd_dtype dt, void *da, void *db, const void *dout, const void *a, const void *b,
   int64_t n),
  (be, dt, da, db, dout, a, b, n))
W(axpy, "axpy", 0,
  (lcmd_backend *be, lcmd_dtype dt, void *y, float alpha, const void *x, int64_t n),
  (be, dt, y, alpha, x, n))
W(scale, "scale", 0,
  (lcmd_backend *be, lcmd_dtype dt, void *y, float alpha, int64_t n),
  (be, dt, y, alpha, n))
W(concat_fwd, "concat_fwd", 0,
  (lcmd_backend *be, lcmd_dtype dt, void *out, const void *a, const void *b, int64_t p, int64_t ca, int64_t cb),
  (be, dt, out, a, b, p, ca, cb))
W(concat_bwd, "concat_bwd", 0,
  (lcmd_backend *be, lcmd_dtype dt, void *da, void *db, const void *dout, int64_t p, int64_t ca, int64_t cb),
  (be, dt, da, db, dout, p, ca, cb))
W(timestep_emb_fwd, "timestep_emb_fwd", 0,
  (lcmd_backend *be, lcmd_dtype dt, void *out, const float *t, int64_t n, int64_t dim, int flip_sin_to_cos,
   float shift, float scale, float max_period),
  (be, dt, out, t, n, dim, flip_sin_to_cos, shift, scale, max_period))
W(timestep_emb_bwd, "timestep_emb_bwd", 0,
  (lcmd_backend *be, lcmd_dtype dt, float *dt_grad, const void *dout, const float *t, int64_t n, int64_t dim,
   int flip_sin_to_cos, float shift, float scale, float max_period),
  (be, dt, dt_grad, dout, t, n, dim, flip_sin_to_cos, shift, scale, max_period))

void lcmd_cpu_profile_wrap(lcmd_ops *ops)
{
    ops->gemm = prof_gemm;
    ops->linear_fwd = prof_linear_fwd;
    ops->linear_bwd = prof_linear_bwd;
    ops->conv2d_fwd = prof_conv2d_fwd;
    ops->conv2d_bwd = prof_conv2d_bwd;
    ops->groupnorm_fwd = prof_groupnorm_fwd;
    ops->groupnorm_bwd = prof_groupnorm_bwd;
    ops->layernorm_fwd = prof_layernorm_fwd;
    ops->layernorm_bwd = prof_layernorm_bwd;
    ops->act_fwd = prof_act_fwd;
    ops->act_bwd = prof_act_bwd;
    ops->geglu_fwd = prof_geglu_fwd;
    ops->geglu_bwd = prof_geglu_bwd;
    ops->softmax_fwd = prof_softmax_fwd;
    ops->softmax_bwd = prof_softmax_bwd;
    ops->attention_fwd = prof_attention_fwd;
    ops->attention_bwd = prof_attention_bwd;
    ops->upsample2x_fwd = prof_upsample2x_fwd;
    ops->upsample2x_bwd = prof_upsample2x_bwd;
    ops->add_fwd = prof_add_fwd;
    ops->add_bcast_fwd = prof_add_bcast_fwd;
    ops->add_bcast_bwd = prof_add_bcast_bwd;
    ops->mul_fwd = prof_mul_fwd;
    ops->mul_bwd = prof_mul_bwd;
    ops->axpy = prof_axpy;
    ops->scale = prof_scale;
    ops->concat_fwd = prof_concat_fwd;
    ops->concat_bwd = prof_concat_bwd;
    ops->timestep_emb_fwd = prof_timestep_emb_fwd;
    ops->timestep_emb_bwd = prof_timestep_emb_bwd;
}
