/* Correctness: every op, forward and backward, f32/f16/bf16, against the CPU backend
 * run in fp32 on the same (dtype-rounded) inputs.
 *
 * Per case and dtype: inputs random (never zero), outputs poisoned with 0xFF bytes
 * (NaN in every dtype), the CPU runs first with zeroed gradients to get each
 * gradient's increment; the GPU's gradients are pre-filled with random values of the
 * same RMS, and (gpu - prefill) is compared with the CPU's increment, which checks
 * that backward accumulates. Every element is compared; NaN fails.
 * Tolerance: relative L2 error 1e-5 (f32), 1e-2 (f16, bf16). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "lab.h"

enum {
    K_IN,     /* input, dtype dt */
    K_FIN,    /* input, fp32 */
    K_OUT,    /* output, dtype dt, poisoned */
    K_FOUT,   /* output, fp32, poisoned */
    K_INOUT,  /* prefilled with the same random values on both sides, then compared */
    K_GRAD,   /* accumulated gradient, dtype dt */
    K_FGRAD,  /* accumulated gradient, fp32 */
    K_NULL    /* passes NULL */
};

enum {
    OP_GEMM, OP_LIN_F, OP_LIN_B, OP_CONV_F, OP_CONV_B, OP_GN_F, OP_GN_B, OP_LN_F, OP_LN_B, OP_ACT_F, OP_ACT_B,
    OP_ACT_INPLACE, OP_GEGLU_F, OP_GEGLU_B, OP_SM_F, OP_SM_B, OP_ATT_F, OP_ATT_B, OP_ATT_QKV_B, OP_UP_F, OP_UP_B,
    OP_ADD, OP_ADD_INPLACE, OP_ADDB_F, OP_ADDB_B, OP_MUL_F, OP_MUL_B, OP_AXPY, OP_SCALE, OP_CAT_F, OP_CAT_B,
    OP_TS_F, OP_TS_B
};

#define MAXT 10

typedef struct lab_case {
    const char *name;
    int op;
    int nt;
    int kind[MAXT];
    int64_t size[MAXT];
    int64_t i[8];
    float f[4];
    lcmd_conv2d_shape conv;
    lcmd_attn_shape attn;
    float fin_hi;   /* FIN inputs uniform in [0, fin_hi) */
} lab_case;

static int64_t es(lcmd_dtype dt) { return (int64_t)lcmd_dtype_size(dt); }

static lcmd_status run_case(lcmd_backend *be, lcmd_dtype dt, void **p, const lab_case *c)
{
    const lcmd_ops *o = be->ops;
    const int64_t *i = c->i;
    const float *f = c->f;
    switch (c->op) {
    case OP_GEMM: {
        /* i: ta tb m n k batch lda ldb; f: alpha beta; ldc = n + i[7] pad... */
        int64_t ta = i[0], tb = i[1], m = i[2], n = i[3], k = i[4], batch = i[5], pad = i[6];
        int64_t lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
        int64_t sa = (ta ? k : m) * lda, sb = (tb ? n : k) * ldb, sc = m * ldc;
        return o->gemm(be, dt, (int)ta, (int)tb, m, n, k, f[0], p[0], lda, sa, p[1], ldb, sb, f[1], p[2], ldc, sc, batch);
    }
    case OP_LIN_F: return o->linear_fwd(be, dt, p[0], p[1], p[2], p[3], i[0], i[1], i[2]);
    case OP_LIN_B: return o->linear_bwd(be, dt, p[0], p[1], p[2], p[3], p[4], p[5], i[0], i[1], i[2]);
    case OP_CONV_F: return o->conv2d_fwd(be, dt, &c->conv, p[0], p[1], p[2], p[3]);
    case OP_CONV_B: return o->conv2d_bwd(be, dt, &c->conv, p[0], p[1], p[2], p[3], p[4], p[5]);
    case OP_GN_F:
        return o->groupnorm_fwd(be, dt, p[0], p[1], p[2], p[3], p[4], p[5], i[0], i[1], i[2], i[3], 1e-5f, (int)i[4]);
    case OP_GN_B:
        LCMD_TRY(o->groupnorm_fwd(be, dt, p[0], p[1], p[2], p[7], p[8], p[9], i[0], i[1], i[2], i[3], 1e-5f, (int)i[4]));
        return o->groupnorm_bwd(be, dt, p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[1], p[2], i[0], i[1], i[2], i[3],
                                (int)i[4]);
    case OP_LN_F: return o->layernorm_fwd(be, dt, p[0], p[1], p[2], p[3], p[4], p[5], i[0], i[1], 1e-5f);
    case OP_LN_B:
        LCMD_TRY(o->layernorm_fwd(be, dt, p[0], p[1], p[2], p[7], p[8], p[9], i[0], i[1], 1e-5f));
        return o->layernorm_bwd(be, dt, p[3], p[4], p[5], p[6], p[7], p[8], p[1], p[2], i[0], i[1]);
    case OP_ACT_F: return o->act_fwd(be, dt, (lcmd_act)i[0], p[0], p[1], i[1]);
    case OP_ACT_B: return o->act_bwd(be, dt, (lcmd_act)i[0], p[0], p[1], p[2], i[1]);
    case OP_ACT_INPLACE: return o->act_fwd(be, dt, (lcmd_act)i[0], p[0], p[0], i[1]);
    case OP_GEGLU_F: return o->geglu_fwd(be, dt, p[0], p[1], i[0], i[1]);
    case OP_GEGLU_B: return o->geglu_bwd(be, dt, p[0], p[1], p[2], i[0], i[1]);
    case OP_SM_F: return o->softmax_fwd(be, dt, p[0], p[1], i[0], i[1], f[0]);
    case OP_SM_B:
        LCMD_TRY(o->softmax_fwd(be, dt, p[0], p[3], i[0], i[1], f[0]));
        return o->softmax_bwd(be, dt, p[1], p[2], p[0], i[0], i[1], f[0]);
    case OP_ATT_F: return o->attention_fwd(be, dt, &c->attn, p[0], p[1], p[2], p[3], p[4]);
    case OP_ATT_B:
        LCMD_TRY(o->attention_fwd(be, dt, &c->attn, p[0], p[1], p[5], p[6], p[7]));
        return o->attention_bwd(be, dt, &c->attn, p[2], p[3], p[4], p[8], p[5], p[6], p[7], p[0], p[1]);
    case OP_ATT_QKV_B: {
        /* q, k, v (and dq, dk, dv) are column slices of one [b*s, 3*h*d] tensor */
        int64_t hd = c->attn.heads * c->attn.head_dim;
        char *qkv = p[3], *dqkv = p[2];
        LCMD_TRY(o->attention_fwd(be, dt, &c->attn, p[0], p[1], qkv, qkv + hd * es(dt), qkv + 2 * hd * es(dt)));
        return o->attention_bwd(be, dt, &c->attn, dqkv, dqkv + hd * es(dt), dqkv + 2 * hd * es(dt), p[4], qkv,
                                qkv + hd * es(dt), qkv + 2 * hd * es(dt), p[0], p[1]);
    }
    case OP_UP_F: return o->upsample2x_fwd(be, dt, p[0], p[1], i[0], i[1], i[2], i[3]);
    case OP_UP_B: return o->upsample2x_bwd(be, dt, p[0], p[1], i[0], i[1], i[2], i[3]);
    case OP_ADD: return o->add_fwd(be, dt, p[0], p[1], p[2], i[0]);
    case OP_ADD_INPLACE: return o->add_fwd(be, dt, p[0], p[0], p[1], i[0]);
    case OP_ADDB_F: return o->add_bcast_fwd(be, dt, p[0], p[1], p[2], i[0], i[1], i[2]);
    case OP_ADDB_B: return o->add_bcast_bwd(be, dt, p[0], p[1], p[2], i[0], i[1], i[2]);
    case OP_MUL_F: return o->mul_fwd(be, dt, p[0], p[1], p[2], i[0]);
    case OP_MUL_B: return o->mul_bwd(be, dt, p[0], p[1], p[2], p[3], p[4], i[0]);
    case OP_AXPY: return o->axpy(be, dt, p[0], f[0], p[1], i[0]);
    case OP_SCALE: return o->scale(be, dt, p[0], f[0], i[0]);
    case OP_CAT_F: return o->concat_fwd(be, dt, p[0], p[1], p[2], i[0], i[1], i[2]);
    case OP_CAT_B: return o->concat_bwd(be, dt, p[0], p[1], p[2], i[0], i[1], i[2]);
    case OP_TS_F: return o->timestep_emb_fwd(be, dt, p[0], p[1], i[0], i[1], (int)i[2], f[0], f[1], f[2]);
    case OP_TS_B: return o->timestep_emb_bwd(be, dt, p[0], p[1], p[2], i[0], i[1], (int)i[2], f[0], f[1], f[2]);
    }
    return lcmd_set_error(LCMD_ERR_INTERNAL, "lab: unknown op %d", c->op);
}

/* ---- the harness ---- */

static int is_fp32_kind(int k) { return k == K_FIN || k == K_FOUT || k == K_FGRAD; }

static double rms(const float *x, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)x[i] * x[i];
    return n ? sqrt(s / (double)n) : 0.0;
}

/* returns 1 on failure */
static int check_one(lcmd_backend *gpu, lcmd_backend *cpu, const lab_case *c, lcmd_dtype dt, uint64_t seed)
{
    lab_rng rng = {seed};
    const double tol = dt == LCMD_DT_F32 ? 1e-5 : 1e-2;
    float *host[MAXT] = {0}, *ref[MAXT] = {0}, *pre[MAXT] = {0}, *got[MAXT] = {0};
    void *pc[MAXT] = {0}, *pg[MAXT] = {0}, *stage = NULL;
    int fail = 0;
    double worst = 0.0;
    char worst_name[64] = "";
    lcmd_status st = LCMD_OK;
    size_t maxn = 1;
    for (int t = 0; t < c->nt; t++)
        if ((size_t)c->size[t] > maxn) maxn = (size_t)c->size[t];
    stage = malloc(maxn * 4);
    for (int t = 0; t < c->nt; t++) {
        size_t n = (size_t)c->size[t];
        int k = c->kind[t];
        if (k == K_NULL) continue;
        host[t] = calloc(n + 1, 4);
        ref[t] = calloc(n + 1, 4);
        pre[t] = calloc(n + 1, 4);
        got[t] = calloc(n + 1, 4);
        if (!host[t] || !ref[t] || !pre[t] || !got[t] || !stage) {
            printf("FAIL %-34s [%s] out of host memory\n", c->name, lcmd_dtype_name(dt));
            fail = 1;
            goto done;
        }
        if (k == K_IN || k == K_INOUT)
            for (size_t j = 0; j < n; j++) host[t][j] = lab_round(dt, lab_unif(&rng, -1.0f, 1.0f));
        else if (k == K_FIN)
            for (size_t j = 0; j < n; j++) host[t][j] = lab_unif(&rng, 0.0f, c->fin_hi);
        st = cpu->ops->alloc(cpu, (n + 1) * 4, &pc[t]);
        if (st == LCMD_OK) st = gpu->ops->alloc(gpu, (n + 1) * (size_t)(is_fp32_kind(k) ? 4 : es(dt)), &pg[t]);
        if (st != LCMD_OK) goto err;
        /* CPU: inputs, zero gradients, arbitrary (poisoned) outputs */
        if (k == K_GRAD || k == K_FGRAD) memset(stage, 0, n * 4);
        else if (k == K_OUT || k == K_FOUT) memset(stage, 0xFF, n * 4);
        else memcpy(stage, host[t], n * 4);
        st = cpu->ops->upload(cpu, pc[t], stage, n * 4);
        if (st != LCMD_OK) goto err;
    }
    st = run_case(cpu, LCMD_DT_F32, pc, c);
    if (st != LCMD_OK) {
        printf("FAIL %-34s [%s] CPU reference failed: %s: %s\n", c->name, lcmd_dtype_name(dt), lcmd_status_string(st),
               lcmd_last_error());
        fail = 1;
        goto done;
    }
    for (int t = 0; t < c->nt; t++) {
        int k = c->kind[t];
        size_t n = (size_t)c->size[t];
        if (k == K_NULL || k == K_IN || k == K_FIN) continue;
        st = cpu->ops->download(cpu, ref[t], pc[t], n * 4);
        if (st != LCMD_OK) goto err;
    }
    /* GPU side */
    for (int t = 0; t < c->nt; t++) {
        int k = c->kind[t];
        size_t n = (size_t)c->size[t];
        if (k == K_NULL) continue;
        size_t bytes = n * (size_t)(is_fp32_kind(k) ? 4 : es(dt));
        if (k == K_OUT || k == K_FOUT) {
            memset(stage, 0xFF, bytes);
        } else if (k == K_GRAD || k == K_FGRAD) {
            double r = rms(ref[t], n);
            if (!(r > 0.0)) r = 1.0;
            for (size_t j = 0; j < n; j++) {
                float v = (float)r * lab_unif(&rng, -1.0f, 1.0f);
                pre[t][j] = k == K_FGRAD ? v : lab_round(dt, v);
            }
            if (k == K_FGRAD) memcpy(stage, pre[t], bytes);
            else lab_to_dt(dt, stage, pre[t], n);
        } else if (k == K_FIN) {
            memcpy(stage, host[t], bytes);
        } else {
            lab_to_dt(dt, stage, host[t], n);
        }
        st = gpu->ops->upload(gpu, pg[t], stage, bytes);
        if (st != LCMD_OK) goto err;
    }
    st = run_case(gpu, dt, pg, c);
    if (st == LCMD_OK) st = gpu->ops->sync(gpu);
    if (st != LCMD_OK) goto err;
    for (int t = 0; t < c->nt; t++) {
        int k = c->kind[t];
        size_t n = (size_t)c->size[t];
        if (k == K_NULL || k == K_IN || k == K_FIN) continue;
        size_t bytes = n * (size_t)(is_fp32_kind(k) ? 4 : es(dt));
        st = gpu->ops->download(gpu, stage, pg[t], bytes);
        if (st != LCMD_OK) goto err;
        if (is_fp32_kind(k)) memcpy(got[t], stage, bytes);
        else lab_from_dt(dt, got[t], stage, n);
        double e;
        if (k == K_GRAD || k == K_FGRAD) {
            for (size_t j = 0; j < n; j++) got[t][j] -= pre[t][j];
            e = lab_relerr(got[t], ref[t], n);
        } else {
            e = lab_relerr(got[t], ref[t], n);
        }
        if (isnan(e) || e > worst) {
            if (!isnan(worst)) worst = e;
            snprintf(worst_name, sizeof worst_name, "t%d", t);
        }
        if (isnan(e) || e > tol) {
            size_t bad = 0;
            for (size_t j = 0; j < n; j++)
                if (!isfinite(got[t][j]) || fabsf(got[t][j] - ref[t][j]) > 1e-3f + 1e-2f * fabsf(ref[t][j])) {
                    bad = j;
                    break;
                }
            printf("     %s tensor %d: relerr %.3e; e.g. [%zu] gpu %.6g ref %.6g\n", c->name, t, e, bad,
                   (double)got[t][bad], (double)ref[t][bad]);
            fail = 1;
        }
    }
    printf("%s %-34s [%-4s] worst relerr %.2e (%s, tol %.0e)\n", fail ? "FAIL" : "ok  ", c->name, lcmd_dtype_name(dt),
           worst, worst_name, tol);
    goto done;
err:
    printf("FAIL %-34s [%s] %s: %s\n", c->name, lcmd_dtype_name(dt), lcmd_status_string(st), lcmd_last_error());
    fail = 1;
done:
    for (int t = 0; t < c->nt; t++) {
        if (pc[t]) cpu->ops->free(cpu, pc[t]);
        if (pg[t]) gpu->ops->free(gpu, pg[t]);
        free(host[t]);
        free(ref[t]);
        free(pre[t]);
        free(got[t]);
    }
    free(stage);
    return fail;
}

/* ---- case builders ---- */

#define MAXCASES 160
static lab_case g_cases[MAXCASES];
static int g_ncases;

static lab_case *add_case(const char *name, int op)
{
    if (g_ncases >= MAXCASES) return NULL;
    lab_case *c = &g_cases[g_ncases++];
    memset(c, 0, sizeof *c);
    c->name = name;
    c->op = op;
    c->fin_hi = 1.0f;
    return c;
}

static void T(lab_case *c, int kind, int64_t size)
{
    c->kind[c->nt] = kind;
    c->size[c->nt] = size;
    c->nt++;
}

static void gemm_case(const char *name, int ta, int tb, int64_t m, int64_t n, int64_t k, int64_t batch, int64_t pad,
                      float alpha, float beta)
{
    lab_case *c = add_case(name, OP_GEMM);
    int64_t lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
    c->i[0] = ta; c->i[1] = tb; c->i[2] = m; c->i[3] = n; c->i[4] = k; c->i[5] = batch; c->i[6] = pad;
    c->f[0] = alpha; c->f[1] = beta;
    T(c, K_IN, batch * (ta ? k : m) * lda);
    T(c, K_IN, batch * (tb ? n : k) * ldb);
    T(c, K_INOUT, batch * m * ldc);
}

static void conv_cases(const char *fname, const char *bname, int64_t n, int64_t h, int64_t w, int64_t ci, int64_t co,
                       int k, int stride, int pad, int bias, int null_dw)
{
    lcmd_conv2d_shape s = {n, h, w, ci, co, k, k, stride, pad};
    int64_t ho = lcmd_conv2d_out_h(&s), wo = lcmd_conv2d_out_w(&s);
    lab_case *c = add_case(fname, OP_CONV_F);
    c->conv = s;
    T(c, K_OUT, n * ho * wo * co);
    T(c, K_IN, n * h * w * ci);
    T(c, K_IN, co * k * k * ci);
    T(c, bias ? K_IN : K_NULL, co);
    c = add_case(bname, OP_CONV_B);
    c->conv = s;
    T(c, K_GRAD, n * h * w * ci);
    T(c, null_dw ? K_NULL : K_GRAD, co * k * k * ci);
    T(c, bias ? K_GRAD : K_NULL, co);
    T(c, K_IN, n * ho * wo * co);
    T(c, K_IN, n * h * w * ci);
    T(c, K_IN, co * k * k * ci);
}

static void attn_cases(const char *fname, const char *bname, int64_t b, int64_t h, int64_t sq, int64_t skv, int64_t d,
                       int causal, int64_t ldpad)
{
    lcmd_attn_shape s;
    memset(&s, 0, sizeof s);
    s.b = b; s.heads = h; s.sq = sq; s.skv = skv; s.head_dim = d;
    s.ldq = h * d + ldpad; s.ldk = h * d + 2 * ldpad; s.ldv = h * d + 3 * ldpad; s.ldo = h * d;
    s.scale = 1.0f / sqrtf((float)d);
    s.causal = causal;
    lab_case *c = add_case(fname, OP_ATT_F);
    c->attn = s;
    T(c, K_OUT, b * sq * s.ldo);
    T(c, K_FOUT, b * h * sq);
    T(c, K_IN, b * sq * s.ldq);
    T(c, K_IN, b * skv * s.ldk);
    T(c, K_IN, b * skv * s.ldv);
    c = add_case(bname, OP_ATT_B);
    c->attn = s;
    T(c, K_OUT, b * sq * s.ldo);
    T(c, K_FOUT, b * h * sq);
    T(c, K_GRAD, b * sq * s.ldq);
    T(c, K_GRAD, b * skv * s.ldk);
    T(c, K_GRAD, b * skv * s.ldv);
    T(c, K_IN, b * sq * s.ldq);
    T(c, K_IN, b * skv * s.ldk);
    T(c, K_IN, b * skv * s.ldv);
    T(c, K_IN, b * sq * s.ldo);
}

static void build_cases(void)
{
    lab_case *c;
    g_ncases = 0;
    /* gemm: transposes, batch, padded leading dims, alpha/beta */
    gemm_case("gemm nn 37x29x53", 0, 0, 37, 29, 53, 1, 0, 1.0f, 0.0f);
    gemm_case("gemm nt 64x48x40 b3 pad3 a.7 b.5", 0, 1, 64, 48, 40, 3, 3, 0.7f, 0.5f);
    gemm_case("gemm tn 33x65x17 b2", 1, 0, 33, 65, 17, 2, 0, 1.0f, 1.0f);
    gemm_case("gemm tt 16x24x96 pad8", 1, 1, 16, 24, 96, 1, 8, -1.5f, 0.25f);
    gemm_case("gemm nn k=0 beta .5", 0, 0, 8, 8, 0, 1, 1, 1.0f, 0.5f);
    /* linear */
    static const int64_t lin[][3] = {{77, 96, 130}, {64, 320, 320}, {33, 40, 9}};
    static const char *lf[] = {"linear_fwd 77x96->130 bias", "linear_fwd 64x320->320 bias", "linear_fwd 33x40->9 nobias"};
    static const char *lb[] = {"linear_bwd 77x96->130", "linear_bwd 64x320->320", "linear_bwd 33x40->9 no dbias"};
    for (int j = 0; j < 3; j++) {
        int64_t m = lin[j][0], k = lin[j][1], n = lin[j][2];
        c = add_case(lf[j], OP_LIN_F);
        c->i[0] = m; c->i[1] = k; c->i[2] = n;
        T(c, K_OUT, m * n); T(c, K_IN, m * k); T(c, K_IN, n * k); T(c, j == 2 ? K_NULL : K_IN, n);
        c = add_case(lb[j], OP_LIN_B);
        c->i[0] = m; c->i[1] = k; c->i[2] = n;
        T(c, K_GRAD, m * k); T(c, K_GRAD, n * k); T(c, j == 2 ? K_NULL : K_GRAD, n);
        T(c, K_IN, m * n); T(c, K_IN, m * k); T(c, K_IN, n * k);
    }
    /* conv */
    conv_cases("conv_fwd 3x3 s1 16x16 32->48", "conv_bwd 3x3 s1 16x16 32->48", 2, 16, 16, 32, 48, 3, 1, 1, 1, 0);
    conv_cases("conv_fwd 3x3 s2 17x15 16->24", "conv_bwd 3x3 s2 17x15 16->24", 2, 17, 15, 16, 24, 3, 2, 1, 1, 0);
    conv_cases("conv_fwd 1x1 8x8 64->32 nobias", "conv_bwd 1x1 8x8 64->32 no dw", 2, 8, 8, 64, 32, 1, 1, 0, 0, 1);
    conv_cases("conv_fwd 3x3 conv_in 4->32", "conv_bwd 3x3 conv_in 4->32", 1, 12, 12, 4, 32, 3, 1, 1, 1, 0);
    conv_cases("conv_fwd 3x3 conv_out 32->4", "conv_bwd 3x3 conv_out 32->4", 1, 12, 12, 32, 4, 3, 1, 1, 1, 0);
    /* groupnorm: SD-like cpg=10 (c=320/32) at a small hw, and an odd size */
    static const int64_t gn[][4] = {{2, 64, 320, 32}, {1, 37, 24, 6}, {2, 100, 64, 32}};
    for (int j = 0; j < 3; j++)
        for (int silu = 0; silu < 2; silu++) {
            int64_t n = gn[j][0], hw = gn[j][1], ch = gn[j][2], g = gn[j][3];
            static char names[12][64];
            char *nf = names[(j * 2 + silu) * 2], *nb = names[(j * 2 + silu) * 2 + 1];
            snprintf(nf, 64, "groupnorm_fwd %lldx%lldx%lld g%lld%s", (long long)n, (long long)hw, (long long)ch,
                     (long long)g, silu ? " silu" : "");
            snprintf(nb, 64, "groupnorm_bwd %lldx%lldx%lld g%lld%s", (long long)n, (long long)hw, (long long)ch,
                     (long long)g, silu ? " silu" : "");
            c = add_case(nf, OP_GN_F);
            c->i[0] = n; c->i[1] = hw; c->i[2] = ch; c->i[3] = g; c->i[4] = silu;
            T(c, K_OUT, n * hw * ch); T(c, K_FOUT, n * g); T(c, K_FOUT, n * g);
            T(c, K_IN, n * hw * ch); T(c, K_IN, ch); T(c, K_IN, ch);
            c = add_case(nb, OP_GN_B);
            c->i[0] = n; c->i[1] = hw; c->i[2] = ch; c->i[3] = g; c->i[4] = silu;
            T(c, K_OUT, n * hw * ch); T(c, K_FOUT, n * g); T(c, K_FOUT, n * g);
            T(c, K_GRAD, n * hw * ch); T(c, K_GRAD, ch); T(c, K_GRAD, ch);
            T(c, K_IN, n * hw * ch); T(c, K_IN, n * hw * ch); T(c, K_IN, ch); T(c, K_IN, ch);
        }
    /* layernorm */
    static const int64_t ln[][2] = {{77, 320}, {50, 77}, {16, 1280}};
    static const char *lnf[] = {"layernorm_fwd 77x320", "layernorm_fwd 50x77", "layernorm_fwd 16x1280"};
    static const char *lnb[] = {"layernorm_bwd 77x320", "layernorm_bwd 50x77", "layernorm_bwd 16x1280"};
    for (int j = 0; j < 3; j++) {
        int64_t r = ln[j][0], ch = ln[j][1];
        c = add_case(lnf[j], OP_LN_F);
        c->i[0] = r; c->i[1] = ch;
        T(c, K_OUT, r * ch); T(c, K_FOUT, r); T(c, K_FOUT, r); T(c, K_IN, r * ch); T(c, K_IN, ch); T(c, K_IN, ch);
        c = add_case(lnb[j], OP_LN_B);
        c->i[0] = r; c->i[1] = ch;
        T(c, K_OUT, r * ch); T(c, K_FOUT, r); T(c, K_FOUT, r);
        T(c, K_GRAD, r * ch); T(c, K_GRAD, ch); T(c, K_GRAD, ch);
        T(c, K_IN, r * ch); T(c, K_IN, r * ch); T(c, K_IN, ch); T(c, K_IN, ch);
    }
    /* activations: a vector-friendly size and an odd one */
    static const char *an[4][3] = {{"act_fwd silu", "act_bwd silu", "act_fwd silu inplace"},
                                   {"act_fwd gelu", "act_bwd gelu", "act_fwd gelu inplace"},
                                   {"act_fwd gelu_tanh", "act_bwd gelu_tanh", "act_fwd gelu_tanh inplace"},
                                   {"act_fwd quick_gelu", "act_bwd quick_gelu", "act_fwd quick_gelu inplace"}};
    for (int a = 0; a < 4; a++) {
        c = add_case(an[a][0], OP_ACT_F);
        c->i[0] = a; c->i[1] = 4099;
        T(c, K_OUT, 4099); T(c, K_IN, 4099);
        c = add_case(an[a][1], OP_ACT_B);
        c->i[0] = a; c->i[1] = 4096;
        T(c, K_GRAD, 4096); T(c, K_IN, 4096); T(c, K_IN, 4096);
        c = add_case(an[a][2], OP_ACT_INPLACE);
        c->i[0] = a; c->i[1] = 1000;
        T(c, K_INOUT, 1000);
    }
    /* geglu */
    c = add_case("geglu_fwd 77x64", OP_GEGLU_F);
    c->i[0] = 77; c->i[1] = 64; T(c, K_OUT, 77 * 64); T(c, K_IN, 77 * 128);
    c = add_case("geglu_bwd 77x64", OP_GEGLU_B);
    c->i[0] = 77; c->i[1] = 64; T(c, K_GRAD, 77 * 128); T(c, K_IN, 77 * 64); T(c, K_IN, 77 * 128);
    c = add_case("geglu_fwd 13x21 (odd)", OP_GEGLU_F);
    c->i[0] = 13; c->i[1] = 21; T(c, K_OUT, 13 * 21); T(c, K_IN, 13 * 42);
    c = add_case("geglu_bwd 13x21 (odd)", OP_GEGLU_B);
    c->i[0] = 13; c->i[1] = 21; T(c, K_GRAD, 13 * 42); T(c, K_IN, 13 * 21); T(c, K_IN, 13 * 42);
    /* softmax */
    c = add_case("softmax_fwd 100x77 s.3", OP_SM_F);
    c->i[0] = 100; c->i[1] = 77; c->f[0] = 0.3f; T(c, K_OUT, 7700); T(c, K_IN, 7700);
    c = add_case("softmax_bwd 100x77 s.3", OP_SM_B);
    c->i[0] = 100; c->i[1] = 77; c->f[0] = 0.3f;
    T(c, K_OUT, 7700); T(c, K_GRAD, 7700); T(c, K_IN, 7700); T(c, K_IN, 7700);
    c = add_case("softmax_fwd 8x1000 s2", OP_SM_F);
    c->i[0] = 8; c->i[1] = 1000; c->f[0] = 2.0f; T(c, K_OUT, 8000); T(c, K_IN, 8000);
    /* attention */
    attn_cases("attn_fwd self 2x3x77 d40", "attn_bwd self 2x3x77 d40", 2, 3, 77, 77, 40, 0, 0);
    attn_cases("attn_fwd cross 2x2 130/77 d64 ld", "attn_bwd cross 2x2 130/77 d64 ld", 2, 2, 130, 77, 64, 0, 8);
    attn_cases("attn_fwd causal 1x2x130 d80", "attn_bwd causal 1x2x130 d80", 1, 2, 130, 130, 80, 1, 0);
    attn_cases("attn_fwd 1x1 65/70 d160", "attn_bwd 1x1 65/70 d160", 1, 1, 65, 70, 160, 0, 0);
    attn_cases("attn_fwd 2x2 9/200 d24", "attn_bwd 2x2 9/200 d24", 2, 2, 9, 200, 24, 0, 0);
    /* f16/bf16 run on tensor cores when head_dim % 8 == 0 and the lds % 8 == 0 (D = 32, 48,
     * 64, 80, 128, 160 padded; D > 96 splits dK/dV columns over 2 blocks); d36 takes the
     * fp32 fallback in every dtype */
    attn_cases("attn_fwd odd 1x2 67/33 d40", "attn_bwd odd 1x2 67/33 d40", 1, 2, 67, 33, 40, 0, 0);
    attn_cases("attn_fwd cross 1x2 4096/77 d40", "attn_bwd cross 1x2 4096/77 d40", 1, 2, 4096, 77, 40, 0, 0);
    attn_cases("attn_fwd causal 1x2x200 d64", "attn_bwd causal 1x2x200 d64", 1, 2, 200, 200, 64, 1, 0);
    attn_cases("attn_fwd 1x2 100/150 d128 ld", "attn_bwd 1x2 100/150 d128 ld", 1, 2, 100, 150, 128, 0, 8);
    attn_cases("attn_fwd causal 1x1x130 d160", "attn_bwd causal 1x1x130 d160", 1, 1, 130, 130, 160, 1, 0);
    attn_cases("attn_fwd 1x2x70 d36 (fallback)", "attn_bwd 1x2x70 d36 (fallback)", 1, 2, 70, 70, 36, 0, 0);
    {
        lcmd_attn_shape s;
        memset(&s, 0, sizeof s);
        s.b = 2; s.heads = 2; s.sq = 70; s.skv = 70; s.head_dim = 40;
        s.ldq = s.ldk = s.ldv = 3 * 2 * 40;
        s.ldo = 2 * 40;
        s.scale = 1.0f / sqrtf(40.0f);
        c = add_case("attn_bwd fused qkv slices 2x2x70 d40", OP_ATT_QKV_B);
        c->attn = s;
        T(c, K_OUT, 2 * 70 * 80); T(c, K_FOUT, 2 * 2 * 70); T(c, K_GRAD, 2 * 70 * 240); T(c, K_IN, 2 * 70 * 240);
        T(c, K_IN, 2 * 70 * 80);
    }
    /* upsample */
    c = add_case("upsample2x_fwd 2x5x7x16", OP_UP_F);
    c->i[0] = 2; c->i[1] = 5; c->i[2] = 7; c->i[3] = 16; T(c, K_OUT, 2 * 20 * 7 * 16); T(c, K_IN, 2 * 5 * 7 * 16);
    c = add_case("upsample2x_bwd 2x5x7x16", OP_UP_B);
    c->i[0] = 2; c->i[1] = 5; c->i[2] = 7; c->i[3] = 16; T(c, K_GRAD, 2 * 5 * 7 * 16); T(c, K_IN, 2 * 20 * 7 * 16);
    c = add_case("upsample2x_fwd 1x3x3x5 (odd c)", OP_UP_F);
    c->i[0] = 1; c->i[1] = 3; c->i[2] = 3; c->i[3] = 5; T(c, K_OUT, 36 * 5); T(c, K_IN, 9 * 5);
    c = add_case("upsample2x_bwd 1x3x3x5 (odd c)", OP_UP_B);
    c->i[0] = 1; c->i[1] = 3; c->i[2] = 3; c->i[3] = 5; T(c, K_GRAD, 9 * 5); T(c, K_IN, 36 * 5);
    /* elementwise */
    c = add_case("add 5003", OP_ADD);
    c->i[0] = 5003; T(c, K_OUT, 5003); T(c, K_IN, 5003); T(c, K_IN, 5003);
    c = add_case("add inplace 4096", OP_ADD_INPLACE);
    c->i[0] = 4096; T(c, K_INOUT, 4096); T(c, K_IN, 4096);
    c = add_case("add_bcast_fwd 2x50x40", OP_ADDB_F);
    c->i[0] = 2; c->i[1] = 50; c->i[2] = 40; T(c, K_OUT, 4000); T(c, K_IN, 4000); T(c, K_IN, 80);
    c = add_case("add_bcast_bwd 2x50x40", OP_ADDB_B);
    c->i[0] = 2; c->i[1] = 50; c->i[2] = 40; T(c, K_GRAD, 4000); T(c, K_GRAD, 80); T(c, K_IN, 4000);
    c = add_case("add_bcast_bwd 3x200x7 db only", OP_ADDB_B);
    c->i[0] = 3; c->i[1] = 200; c->i[2] = 7; T(c, K_NULL, 4200); T(c, K_GRAD, 21); T(c, K_IN, 4200);
    c = add_case("mul_fwd 3001", OP_MUL_F);
    c->i[0] = 3001; T(c, K_OUT, 3001); T(c, K_IN, 3001); T(c, K_IN, 3001);
    c = add_case("mul_bwd 3001", OP_MUL_B);
    c->i[0] = 3001; T(c, K_GRAD, 3001); T(c, K_GRAD, 3001); T(c, K_IN, 3001); T(c, K_IN, 3001); T(c, K_IN, 3001);
    c = add_case("mul_bwd 2048 da only", OP_MUL_B);
    c->i[0] = 2048; T(c, K_GRAD, 2048); T(c, K_NULL, 2048); T(c, K_IN, 2048); T(c, K_IN, 2048); T(c, K_IN, 2048);
    c = add_case("axpy 4097 a-.75", OP_AXPY);
    c->i[0] = 4097; c->f[0] = -0.75f; T(c, K_INOUT, 4097); T(c, K_IN, 4097);
    c = add_case("scale 4097 a1.5", OP_SCALE);
    c->i[0] = 4097; c->f[0] = 1.5f; T(c, K_INOUT, 4097);
    c = add_case("concat_fwd 30x(16|24)", OP_CAT_F);
    c->i[0] = 30; c->i[1] = 16; c->i[2] = 24; T(c, K_OUT, 30 * 40); T(c, K_IN, 30 * 16); T(c, K_IN, 30 * 24);
    c = add_case("concat_bwd 30x(16|24)", OP_CAT_B);
    c->i[0] = 30; c->i[1] = 16; c->i[2] = 24; T(c, K_GRAD, 30 * 16); T(c, K_GRAD, 30 * 24); T(c, K_IN, 30 * 40);
    c = add_case("concat_fwd 9x(5|3)", OP_CAT_F);
    c->i[0] = 9; c->i[1] = 5; c->i[2] = 3; T(c, K_OUT, 72); T(c, K_IN, 45); T(c, K_IN, 27);
    c = add_case("concat_bwd 9x(5|3) db only", OP_CAT_B);
    c->i[0] = 9; c->i[1] = 5; c->i[2] = 3; T(c, K_NULL, 45); T(c, K_GRAD, 27); T(c, K_IN, 72);
    /* timestep embedding: t in [0, 1000) as in training */
    c = add_case("timestep_emb_fwd 4x320 flip", OP_TS_F);
    c->i[0] = 4; c->i[1] = 320; c->i[2] = 1; c->f[0] = 0.0f; c->f[1] = 1.0f; c->f[2] = 10000.0f; c->fin_hi = 1000.0f;
    T(c, K_OUT, 4 * 320); T(c, K_FIN, 4);
    c = add_case("timestep_emb_fwd 3x33 shift1 s2", OP_TS_F);
    c->i[0] = 3; c->i[1] = 33; c->i[2] = 0; c->f[0] = 1.0f; c->f[1] = 2.0f; c->f[2] = 10000.0f; c->fin_hi = 1000.0f;
    T(c, K_OUT, 3 * 33); T(c, K_FIN, 3);
    c = add_case("timestep_emb_bwd 4x320 flip", OP_TS_B);
    c->i[0] = 4; c->i[1] = 320; c->i[2] = 1; c->f[0] = 0.0f; c->f[1] = 1.0f; c->f[2] = 10000.0f; c->fin_hi = 1000.0f;
    T(c, K_FGRAD, 4); T(c, K_IN, 4 * 320); T(c, K_FIN, 4);
}

/* convert: every (src, dst) pair must round exactly as lib/core/half.c does */
static int check_convert(lcmd_backend *gpu)
{
    const lcmd_dtype dts[3] = {LCMD_DT_F32, LCMD_DT_F16, LCMD_DT_BF16};
    const size_t n = 10007;
    int fails = 0;
    float *h = malloc(n * 4), *want = malloc(n * 4), *got = malloc(n * 4);
    void *stage = malloc(n * 4);
    lab_rng rng = {1234};
    for (int si = 0; si < 3; si++)
        for (int di = 0; di < 3; di++) {
            lcmd_dtype s = dts[si], d = dts[di];
            void *ps = NULL, *pd = NULL;
            for (size_t j = 0; j < n; j++) h[j] = lab_round(s, lab_unif(&rng, -70000.0f, 70000.0f) * (j % 3 ? 1e-3f : 1.0f));
            for (size_t j = 0; j < n; j++) want[j] = lab_round(d, h[j]);
            lcmd_status st = gpu->ops->alloc(gpu, n * 4, &ps);
            if (st == LCMD_OK) st = gpu->ops->alloc(gpu, n * 4, &pd);
            if (st == LCMD_OK) {
                lab_to_dt(s, stage, h, n);
                st = gpu->ops->upload(gpu, ps, stage, n * lcmd_dtype_size(s));
            }
            if (st == LCMD_OK) {
                memset(stage, 0xFF, n * 4);
                st = gpu->ops->upload(gpu, pd, stage, n * lcmd_dtype_size(d));
            }
            if (st == LCMD_OK) st = gpu->ops->convert(gpu, d, pd, s, ps, n);
            if (st == LCMD_OK) st = gpu->ops->download(gpu, stage, pd, n * lcmd_dtype_size(d));
            size_t bad = n;
            if (st == LCMD_OK) {
                lab_from_dt(d, got, stage, n);
                for (size_t j = 0; j < n && bad == n; j++)
                    if (memcmp(&got[j], &want[j], 4) != 0) bad = j;
            }
            if (st != LCMD_OK) {
                printf("FAIL convert %s->%s: %s: %s\n", lcmd_dtype_name(s), lcmd_dtype_name(d), lcmd_status_string(st),
                       lcmd_last_error());
                fails++;
            } else if (bad != n) {
                printf("FAIL convert %s->%s: [%zu] %.9g -> gpu %.9g, want %.9g\n", lcmd_dtype_name(s), lcmd_dtype_name(d),
                       bad, (double)h[bad], (double)got[bad], (double)want[bad]);
                fails++;
            } else {
                printf("ok   convert %s->%s (%zu values, bit-exact)\n", lcmd_dtype_name(s), lcmd_dtype_name(d), n);
            }
            if (ps) gpu->ops->free(gpu, ps);
            if (pd) gpu->ops->free(gpu, pd);
        }
    free(h); free(want); free(got); free(stage);
    return fails;
}

int lab_check_all(lcmd_backend *gpu, lcmd_backend *cpu, int quick)
{
    (void)quick;
    build_cases();
    const lcmd_dtype dts[3] = {LCMD_DT_F32, LCMD_DT_F16, LCMD_DT_BF16};
    int fails = check_convert(gpu);
    int runs = 9;
    for (int j = 0; j < g_ncases; j++)
        for (int d = 0; d < 3; d++) {
            fails += check_one(gpu, cpu, &g_cases[j], dts[d], 1000003ull * (uint64_t)(j + 1) + (uint64_t)d);
            runs++;
        }
    printf("\n%d checks (%d cases x 3 dtypes + 9 converts), %d failed\n", runs, g_ncases, fails);
    return fails;
}
