/* The forward attention kernel of one task, written once over a vector type of
 * AK_VL floats and included by cpu_attention.c once per instruction set (AVX-512,
 * AVX2+FMA, portable). The includer defines:
 *   AK_SUFFIX   name suffix of the functions (avx512, avx2, generic)
 *   AK_VL       floats per vector
 *   AK_RK       keys per register tile of S^T = K Q^T
 *   AK_RD       head dims per register tile of O^T += V^T P^T
 *   AK_FMA(a, b, c)  a * b + c on vectors
 * and ATTN_TQ (queries per task) and ATTN_TK (keys per block) before the include.
 *
 * Layout: everything is transposed so that the vector lanes run over the task's
 * ATTN_TQ queries. Scores S^T[key][query] then come from broadcasting a scalar of
 * K against a vector of Q^T, the per-query max and sum of the online softmax are
 * plain vector max / add over key rows (no horizontal reductions), and
 * O^T[dim][query] += V[key][dim] * P^T[key][query] broadcasts V the same way. Any
 * head_dim works; no BLAS call, so tasks run on OpenMP threads. Scores are kept in
 * base 2 (Q pre-scaled by scale * log2 e) for exp2. */

#define AK_CAT2(a, b) a##_##b
#define AK_CAT(a, b) AK_CAT2(a, b)
#define AK_FN(name) AK_CAT(name, AK_SUFFIX)
#define AK_QV (ATTN_TQ / AK_VL)

typedef float AK_FN(akvf) __attribute__((vector_size(AK_VL * 4), may_alias));
typedef int32_t AK_FN(akvi) __attribute__((vector_size(AK_VL * 4), may_alias));
#define VF AK_FN(akvf)
#define VI AK_FN(akvi)
#define SPLAT(x) ((x) - (VF){0})   /* x - +0 == x exactly: folds to a broadcast */

/* 2^x for x <= 0 (scores minus the running max); 0 below 2^-126 and for -inf.
 * Round-to-nearest split x = n + f, |f| <= 1/2, Cephes' degree-6 polynomial for
 * 2^f (relative error about 1.5e-7), 2^n from the exponent bits. */
static inline VF AK_FN(ak_exp2)(VF x)
{
    VI tiny = x < -126.0f;
    VF xc = (VF)((tiny & (VI)SPLAT(-126.0f)) | (~tiny & (VI)x));
    VF t = xc + 12582912.0f;   /* 1.5 * 2^23: the low mantissa bits hold round(x) */
    VF f = xc - (t - 12582912.0f);
    VI e = ((VI)t - 0x4B400000 + 127) << 23;
    VF p = AK_FMA(f, SPLAT(1.535336188319500e-4f), SPLAT(1.339887440266574e-3f));
    p = AK_FMA(p, f, SPLAT(9.618437357674640e-3f));
    p = AK_FMA(p, f, SPLAT(5.550332471162809e-2f));
    p = AK_FMA(p, f, SPLAT(2.402264791363012e-1f));
    p = AK_FMA(p, f, SPLAT(6.931472028550421e-1f));
    p = AK_FMA(p, f, SPLAT(1.0f));
    return (VF)((VI)(p * (VF)e) & ~tiny);
}

static inline VF AK_FN(ak_max)(VF a, VF b)
{
    VI gt = a > b;
    return (VF)((gt & (VI)a) | (~gt & (VI)b));
}

/* sc[j][.] = sum_d K[j][d] * qt[d][.] for keys j < nk (key rows at stride ldk) */
static void AK_FN(ak_scores)(VF *sc, const VF *qt, const float *kb, int64_t ldk, int64_t nk, int64_t hd)
{
    int64_t j = 0;
    for (; j + AK_RK <= nk; j += AK_RK) {
        VF acc[AK_RK][AK_QV];
        const float *kr = kb + j * ldk;
#pragma GCC unroll 16
        for (int r = 0; r < AK_RK; r++)
#pragma GCC unroll 16
            for (int w = 0; w < AK_QV; w++) acc[r][w] = (VF){0};
        for (int64_t d = 0; d < hd; d++) {
            VF qv[AK_QV];
#pragma GCC unroll 16
            for (int w = 0; w < AK_QV; w++) qv[w] = qt[d * AK_QV + w];
#pragma GCC unroll 16
            for (int r = 0; r < AK_RK; r++) {
                VF kk = SPLAT(kr[r * ldk + d]);
#pragma GCC unroll 16
                for (int w = 0; w < AK_QV; w++) acc[r][w] = AK_FMA(kk, qv[w], acc[r][w]);
            }
        }
#pragma GCC unroll 16
        for (int r = 0; r < AK_RK; r++)
#pragma GCC unroll 16
            for (int w = 0; w < AK_QV; w++) sc[(j + r) * AK_QV + w] = acc[r][w];
    }
    for (; j < nk; j++) {
        VF acc[AK_QV];
        const float *kr = kb + j * ldk;
#pragma GCC unroll 16
        for (int w = 0; w < AK_QV; w++) acc[w] = (VF){0};
        for (int64_t d = 0; d < hd; d++) {
            VF kk = SPLAT(kr[d]);
#pragma GCC unroll 16
            for (int w = 0; w < AK_QV; w++) acc[w] = AK_FMA(kk, qt[d * AK_QV + w], acc[w]);
        }
#pragma GCC unroll 16
        for (int w = 0; w < AK_QV; w++) sc[j * AK_QV + w] = acc[w];
    }
}

/* ot[d][.] = alpha * ot[d][.] + sum_j V[j][d] * p[j][.] for dims d < hd */
static void AK_FN(ak_pv)(VF *ot, const VF *alpha, const VF *p, const float *vb, int64_t ldv, int64_t nk,
                         int64_t hd)
{
    int64_t d = 0;
    for (; d + AK_RD <= hd; d += AK_RD) {
        VF acc[AK_RD][AK_QV];
#pragma GCC unroll 16
        for (int r = 0; r < AK_RD; r++)
#pragma GCC unroll 16
            for (int w = 0; w < AK_QV; w++) acc[r][w] = ot[(d + r) * AK_QV + w] * alpha[w];
        for (int64_t j = 0; j < nk; j++) {
            VF pv[AK_QV];
            const float *vr = vb + j * ldv + d;
#pragma GCC unroll 16
            for (int w = 0; w < AK_QV; w++) pv[w] = p[j * AK_QV + w];
#pragma GCC unroll 16
            for (int r = 0; r < AK_RD; r++) {
                VF vv = SPLAT(vr[r]);
#pragma GCC unroll 16
                for (int w = 0; w < AK_QV; w++) acc[r][w] = AK_FMA(vv, pv[w], acc[r][w]);
            }
        }
#pragma GCC unroll 16
        for (int r = 0; r < AK_RD; r++)
#pragma GCC unroll 16
            for (int w = 0; w < AK_QV; w++) ot[(d + r) * AK_QV + w] = acc[r][w];
    }
    for (; d < hd; d++) {
        VF acc[AK_QV];
#pragma GCC unroll 16
        for (int w = 0; w < AK_QV; w++) acc[w] = ot[d * AK_QV + w] * alpha[w];
        for (int64_t j = 0; j < nk; j++) {
            VF vv = SPLAT(vb[j * ldv + d]);
#pragma GCC unroll 16
            for (int w = 0; w < AK_QV; w++) acc[w] = AK_FMA(vv, p[j * AK_QV + w], acc[w]);
        }
#pragma GCC unroll 16
        for (int w = 0; w < AK_QV; w++) ot[d * AK_QV + w] = acc[w];
    }
}

/* Task u: queries [i0, i0 + ATTN_TQ) of one (batch, head). ws: attn_ws_floats(hd). */
static void AK_FN(attn_fwd_task)(const lcmd_attn_shape *s, int64_t u, float *ws, float *out, float *lse,
                                 const float *q, const float *k, const float *v)
{
    const int64_t hd = s->head_dim, nqb = (s->sq + ATTN_TQ - 1) / ATTN_TQ;
    const int64_t bh = u / nqb, bi = bh / s->heads, h = bh % s->heads;
    const int64_t i0 = (u % nqb) * ATTN_TQ, nq = s->sq - i0 < ATTN_TQ ? s->sq - i0 : ATTN_TQ;
    const int64_t nkv = visible_keys(s, i0, nq);
    const float *qb = q + (bi * s->sq + i0) * s->ldq + h * hd;
    const float *kb = k + bi * s->skv * s->ldk + h * hd;
    const float *vb = v + bi * s->skv * s->ldv + h * hd;
    VF *qt = (VF *)ws, *ot = qt + hd * AK_QV, *sc = ot + hd * AK_QV;
    float *qtf = (float *)qt, *scf = (float *)sc, *otf = (float *)ot;
    const float c = s->scale * ATTN_LOG2E;
    for (int64_t d = 0; d < hd; d++)
        for (int64_t i = 0; i < ATTN_TQ; i++) qtf[d * ATTN_TQ + i] = i < nq ? c * qb[i * s->ldq + d] : 0.0f;
    for (int64_t x = 0; x < hd * ATTN_TQ; x++) otf[x] = 0.0f;
    VF m[AK_QV], l[AK_QV];
    for (int w = 0; w < AK_QV; w++) {
        m[w] = SPLAT(-INFINITY);
        l[w] = (VF){0};
    }
    for (int64_t j0 = 0; j0 < nkv; j0 += ATTN_TK) {
        int64_t nk = nkv - j0 < ATTN_TK ? nkv - j0 : ATTN_TK;
        AK_FN(ak_scores)(sc, qt, kb + j0 * s->ldk, s->ldk, nk, hd);
        if (s->causal && j0 + nk - 1 > i0) {
            /* query i0 + i sees key j iff j <= i0 + i */
            for (int64_t jj = 0; jj < nk; jj++) {
                int64_t lim = j0 + jj - i0;   /* lanes i < lim are masked */
                for (int64_t i = 0; i < lim && i < ATTN_TQ; i++) scf[jj * ATTN_TQ + i] = -INFINITY;
            }
        }
        VF alpha[AK_QV], mn[AK_QV], sum[AK_QV];
        for (int w = 0; w < AK_QV; w++) mn[w] = m[w];
        for (int64_t jj = 0; jj < nk; jj++)
            for (int w = 0; w < AK_QV; w++) mn[w] = AK_FN(ak_max)(mn[w], sc[jj * AK_QV + w]);
        for (int w = 0; w < AK_QV; w++) {
            alpha[w] = AK_FN(ak_exp2)(m[w] - mn[w]);
            m[w] = mn[w];
            sum[w] = (VF){0};
        }
        for (int64_t jj = 0; jj < nk; jj++)
            for (int w = 0; w < AK_QV; w++) {
                VF pv = AK_FN(ak_exp2)(sc[jj * AK_QV + w] - mn[w]);
                sc[jj * AK_QV + w] = pv;
                sum[w] += pv;
            }
        for (int w = 0; w < AK_QV; w++) l[w] = AK_FMA(l[w], alpha[w], sum[w]);
        AK_FN(ak_pv)(ot, alpha, sc, vb + j0 * s->ldv, s->ldv, nk, hd);
    }
    float mf[ATTN_TQ], lf[ATTN_TQ];
    memcpy(mf, m, sizeof mf);
    memcpy(lf, l, sizeof lf);
    float *ob = out + (bi * s->sq + i0) * s->ldo + h * hd, *lse_row = lse + bh * s->sq + i0;
    for (int64_t i = 0; i < nq; i++) {
        float inv = 1.0f / lf[i];
        for (int64_t d = 0; d < hd; d++) ob[i * s->ldo + d] = otf[d * ATTN_TQ + i] * inv;
        lse_row[i] = (mf[i] + log2f(lf[i])) * ATTN_LN2;
    }
}

#undef VF
#undef VI
#undef SPLAT
#undef AK_QV
#undef AK_FN
#undef AK_CAT
#undef AK_CAT2
