/* Reference norms, activations, softmax and attention in double. */
#include "ops/ref/ref_ops.h"

#include <math.h>

static double sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

double lcmd_ref_act1(lcmd_act act, double x)
{
    switch (act) {
    case LCMD_ACT_SILU: return x * sigmoid(x);
    case LCMD_ACT_GELU: return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
    case LCMD_ACT_GELU_TANH: {
        const double pi = 3.14159265358979323846;
        return 0.5 * x * (1.0 + tanh(sqrt(2.0 / pi) * (x + 0.044715 * x * x * x)));
    }
    case LCMD_ACT_QUICK_GELU: return x * sigmoid(1.702 * x);
    }
    return NAN;
}

void lcmd_ref_act(lcmd_act act, double *out, const double *inp, int64_t n)
{
    for (int64_t i = 0; i < n; i++) out[i] = lcmd_ref_act1(act, inp[i]);
}

void lcmd_ref_geglu(double *out, const double *inp, int64_t rows, int64_t d)
{
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < d; j++)
            out[r * d + j] = inp[r * 2 * d + j] * lcmd_ref_act1(LCMD_ACT_GELU, inp[r * 2 * d + d + j]);
}

void lcmd_ref_groupnorm(double *out, double *mean, double *rstd, const double *inp, const double *gamma,
                        const double *beta, int64_t n, int64_t hw, int64_t c, int64_t groups, double eps,
                        int silu)
{
    int64_t cg = c / groups;
    for (int64_t i = 0; i < n; i++)
        for (int64_t g = 0; g < groups; g++) {
            double sum = 0.0, var = 0.0, cnt = (double)(hw * cg);
            for (int64_t p = 0; p < hw; p++)
                for (int64_t ch = g * cg; ch < (g + 1) * cg; ch++) sum += inp[(i * hw + p) * c + ch];
            double mu = sum / cnt;
            for (int64_t p = 0; p < hw; p++)
                for (int64_t ch = g * cg; ch < (g + 1) * cg; ch++) {
                    double d = inp[(i * hw + p) * c + ch] - mu;
                    var += d * d;
                }
            double rs = 1.0 / sqrt(var / cnt + eps);
            if (mean) mean[i * groups + g] = mu;
            if (rstd) rstd[i * groups + g] = rs;
            for (int64_t p = 0; p < hw; p++)
                for (int64_t ch = g * cg; ch < (g + 1) * cg; ch++) {
                    int64_t idx = (i * hw + p) * c + ch;
                    double y = (inp[idx] - mu) * rs * gamma[ch] + beta[ch];
                    out[idx] = silu ? lcmd_ref_act1(LCMD_ACT_SILU, y) : y;
                }
        }
}

void lcmd_ref_layernorm(double *out, double *mean, double *rstd, const double *inp, const double *gamma,
                        const double *beta, int64_t rows, int64_t c, double eps)
{
    for (int64_t r = 0; r < rows; r++) {
        double mu, rs;
        lcmd_ref_groupnorm(out + r * c, &mu, &rs, inp + r * c, gamma, beta, 1, 1, c, 1, eps, 0);
        if (mean) mean[r] = mu;
        if (rstd) rstd[r] = rs;
    }
}

void lcmd_ref_softmax(double *out, const double *inp, int64_t rows, int64_t cols, double scale)
{
    for (int64_t r = 0; r < rows; r++) {
        const double *x = inp + r * cols;
        double *y = out + r * cols, mx = -INFINITY, sum = 0.0;
        for (int64_t j = 0; j < cols; j++) mx = fmax(mx, scale * x[j]);
        for (int64_t j = 0; j < cols; j++) sum += (y[j] = exp(scale * x[j] - mx));
        for (int64_t j = 0; j < cols; j++) y[j] /= sum;
    }
}

void lcmd_ref_attention(const lcmd_attn_shape *s, double *out, double *lse, const double *q, const double *k,
                        const double *v)
{
    int64_t hd = s->head_dim;
    for (int64_t b = 0; b < s->b; b++)
        for (int64_t h = 0; h < s->heads; h++)
            for (int64_t i = 0; i < s->sq; i++) {
                const double *qi = q + (b * s->sq + i) * s->ldq + h * hd;
                int64_t lim = s->causal ? i + 1 : s->skv;
                double mx = -INFINITY, sum = 0.0;
                for (int64_t j = 0; j < lim; j++) {
                    const double *kj = k + (b * s->skv + j) * s->ldk + h * hd;
                    double dot = 0.0;
                    for (int64_t d = 0; d < hd; d++) dot += qi[d] * kj[d];
                    mx = fmax(mx, s->scale * dot);
                }
                double *oi = out + (b * s->sq + i) * s->ldo + h * hd;
                for (int64_t d = 0; d < hd; d++) oi[d] = 0.0;
                for (int64_t j = 0; j < lim; j++) {
                    const double *kj = k + (b * s->skv + j) * s->ldk + h * hd;
                    const double *vj = v + (b * s->skv + j) * s->ldv + h * hd;
                    double dot = 0.0;
                    for (int64_t d = 0; d < hd; d++) dot += qi[d] * kj[d];
                    double p = exp(s->scale * dot - mx);
                    sum += p;
                    for (int64_t d = 0; d < hd; d++) oi[d] += p * vj[d];
                }
                for (int64_t d = 0; d < hd; d++) oi[d] /= sum;
                if (lse) lse[(b * s->heads + h) * s->sq + i] = mx + log(sum);
            }
}
