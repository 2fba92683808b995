/* Checked wrappers of the op table (see op_calls.h). Each check fails with a message
 * naming the op, the field and its value; nothing here dereferences a data pointer. */
#include "ops/op_calls.h"

#include <math.h>
#include <stdint.h>

#include "core/error.h"

#define BAD(fn, ...) lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, fn ": " __VA_ARGS__)

/* The handle and its table entry; UNSUPPORTED when a backend leaves an op out. */
static lcmd_status need_be(const char *fn, const lcmd_backend *be, int has_entry)
{
    if (!be) return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "%s: be is NULL", fn);
    if (!be->ops) return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "%s: be->ops is NULL", fn);
    if (!has_entry) return lcmd_set_error(LCMD_ERR_UNSUPPORTED, "%s: backend '%s' does not implement it", fn,
                                          be->ops->name ? be->ops->name : "?");
    return LCMD_OK;
}

static lcmd_status need_ptr(const char *fn, const char *what, const void *p)
{
    if (p) return LCMD_OK;
    return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "%s: %s is NULL", fn, what);
}

static lcmd_status need_pos(const char *fn, const char *what, int64_t v)
{
    if (v > 0) return LCMD_OK;
    return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "%s: %s = %lld must be > 0", fn, what, (long long)v);
}

static lcmd_status need_nonneg(const char *fn, const char *what, int64_t v)
{
    if (v >= 0) return LCMD_OK;
    return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "%s: %s = %lld must be >= 0", fn, what, (long long)v);
}

static lcmd_status need_at_least(const char *fn, const char *what, int64_t v, const char *bound_name, int64_t bound)
{
    if (v >= bound) return LCMD_OK;
    return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "%s: %s = %lld must be >= %s = %lld", fn, what,
                          (long long)v, bound_name, (long long)bound);
}

static lcmd_status need_finite(const char *fn, const char *what, float v)
{
    if (isfinite(v)) return LCMD_OK;
    return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "%s: %s = %g must be finite", fn, what, (double)v);
}

static lcmd_status need_dtype(const char *fn, const char *what, lcmd_dtype dt)
{
    if (dt == LCMD_DT_F32 || dt == LCMD_DT_F16 || dt == LCMD_DT_BF16) return LCMD_OK;
    return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "%s: %s = %d is not a dtype", fn, what, (int)dt);
}

/* The element count a*b*c*d (all > 0) must stay addressable in bytes. */
static lcmd_status need_numel(const char *fn, const char *what, int64_t a, int64_t b, int64_t c, int64_t d)
{
    int64_t lim = INT64_MAX / 8, p = a;
    if (b > lim / p) goto overflow;
    p *= b;
    if (c > lim / p) goto overflow;
    p *= c;
    if (d > lim / p) goto overflow;
    return LCMD_OK;
overflow:
    return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "%s: %s is too large", fn, what);
}

#define TRY LCMD_TRY
#define BE(entry) TRY(need_be(__func__, be, be && be->ops && be->ops->entry != NULL))
#define DT() TRY(need_dtype(__func__, "dt", dt))
#define PTR(p) TRY(need_ptr(__func__, #p, (p)))
#define PTR_IF(cond, p) do { if (cond) PTR(p); } while (0)
#define POS(v) TRY(need_pos(__func__, #v, (v)))
#define POS_N(name, v) TRY(need_pos(__func__, name, (v)))
#define FINITE(v) TRY(need_finite(__func__, #v, (v)))
#define NUMEL(a, b, c, d) TRY(need_numel(__func__, #a " * " #b " * " #c " * " #d, (a), (b), (c), (d)))

/* ---------------------------------------------------------------- memory */

lcmd_status lcmd_op_alloc(lcmd_backend *be, size_t bytes, void **out)
{
    BE(alloc);
    PTR(out);
    *out = NULL;
    if (bytes == 0) return BAD("lcmd_op_alloc", "bytes = 0 must be > 0");
    return be->ops->alloc(be, bytes, out);
}

void lcmd_op_free(lcmd_backend *be, void *p)
{
    if (be && be->ops && be->ops->free && p) be->ops->free(be, p);
}

lcmd_status lcmd_op_upload(lcmd_backend *be, void *dst, const void *host_src, size_t bytes)
{
    BE(upload);
    if (bytes == 0) return LCMD_OK;
    PTR(dst);
    PTR(host_src);
    return be->ops->upload(be, dst, host_src, bytes);
}

lcmd_status lcmd_op_download(lcmd_backend *be, void *host_dst, const void *src, size_t bytes)
{
    BE(download);
    if (bytes == 0) return LCMD_OK;
    PTR(host_dst);
    PTR(src);
    return be->ops->download(be, host_dst, src, bytes);
}

lcmd_status lcmd_op_zero(lcmd_backend *be, void *dst, size_t bytes)
{
    BE(zero);
    if (bytes == 0) return LCMD_OK;
    PTR(dst);
    return be->ops->zero(be, dst, bytes);
}

lcmd_status lcmd_op_sync(lcmd_backend *be)
{
    BE(sync);
    return be->ops->sync(be);
}

lcmd_status lcmd_op_convert(lcmd_backend *be, lcmd_dtype dst_dt, void *dst, lcmd_dtype src_dt,
                            const void *src, size_t n)
{
    BE(convert);
    TRY(need_dtype(__func__, "dst_dt", dst_dt));
    TRY(need_dtype(__func__, "src_dt", src_dt));
    if (n == 0) return LCMD_OK;
    PTR(dst);
    PTR(src);
    return be->ops->convert(be, dst_dt, dst, src_dt, src, n);
}

/* ---------------------------------------------------------------- gemm, linear */

lcmd_status lcmd_op_gemm(lcmd_backend *be, lcmd_dtype dt, int trans_a, int trans_b, int64_t m,
                         int64_t n, int64_t k, float alpha, const void *a, int64_t lda, int64_t stride_a,
                         const void *b, int64_t ldb, int64_t stride_b, float beta, void *c, int64_t ldc,
                         int64_t stride_c, int64_t batch)
{
    BE(gemm);
    DT();
    PTR(a);
    PTR(b);
    PTR(c);
    POS(m);
    POS(n);
    POS(k);
    POS(batch);
    TRY(need_at_least(__func__, "lda", lda, trans_a ? "m" : "k", trans_a ? m : k));
    TRY(need_at_least(__func__, "ldb", ldb, trans_b ? "k" : "n", trans_b ? k : n));
    TRY(need_at_least(__func__, "ldc", ldc, "n", n));
    TRY(need_nonneg(__func__, "stride_a", stride_a));
    TRY(need_nonneg(__func__, "stride_b", stride_b));
    /* batches of C must not overlap: they are written in parallel */
    if (batch > 1) TRY(need_at_least(__func__, "stride_c", stride_c, "(m - 1) * ldc + n", (m - 1) * ldc + n));
    FINITE(alpha);
    FINITE(beta);
    return be->ops->gemm(be, dt, trans_a, trans_b, m, n, k, alpha, a, lda, stride_a, b, ldb, stride_b,
                         beta, c, ldc, stride_c, batch);
}

lcmd_status lcmd_op_linear_fwd(lcmd_backend *be, lcmd_dtype dt, void *out, const void *inp,
                               const void *w, const void *bias, int64_t m, int64_t k, int64_t n)
{
    BE(linear_fwd);
    DT();
    PTR(out);
    PTR(inp);
    PTR(w);
    POS(m);
    POS(k);
    POS(n);
    NUMEL(m, k, n, 1);
    return be->ops->linear_fwd(be, dt, out, inp, w, bias, m, k, n);
}

lcmd_status lcmd_op_linear_bwd(lcmd_backend *be, lcmd_dtype dt, void *dinp, void *dw, void *dbias,
                               const void *dout, const void *inp, const void *w, int64_t m, int64_t k, int64_t n)
{
    BE(linear_bwd);
    DT();
    PTR(dout);
    PTR_IF(dw, inp);
    PTR_IF(dinp, w);
    POS(m);
    POS(k);
    POS(n);
    NUMEL(m, k, n, 1);
    if (!dinp && !dw && !dbias) return LCMD_OK;
    return be->ops->linear_bwd(be, dt, dinp, dw, dbias, dout, inp, w, m, k, n);
}

/* ---------------------------------------------------------------- conv2d */

static lcmd_status check_conv_shape(const char *fn, const lcmd_conv2d_shape *s)
{
    TRY(need_ptr(fn, "s", s));
    TRY(need_pos(fn, "shape.n", s->n));
    TRY(need_pos(fn, "shape.h", s->h));
    TRY(need_pos(fn, "shape.w", s->w));
    TRY(need_pos(fn, "shape.c_in", s->c_in));
    TRY(need_pos(fn, "shape.c_out", s->c_out));
    TRY(need_pos(fn, "shape.kh", s->kh));
    TRY(need_pos(fn, "shape.kw", s->kw));
    TRY(need_pos(fn, "shape.stride", s->stride));
    TRY(need_nonneg(fn, "shape.pad", s->pad));
    /* a pad of a whole kernel or more only adds outputs that see nothing but zeros */
    if (s->pad >= s->kh || s->pad >= s->kw)
        return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "%s: shape.pad = %d must be < kh = %d and kw = %d",
                              fn, (int)s->pad, (int)s->kh, (int)s->kw);
    TRY(need_numel(fn, "shape.n * h * w * c_in", s->n, s->h, s->w, s->c_in));
    TRY(need_numel(fn, "shape.c_out * kh * kw * c_in", s->c_out, s->kh, s->kw, s->c_in));
    if (s->h + 2 * (int64_t)s->pad < s->kh)
        return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "%s: shape.h = %lld with pad %d is smaller than kh = %d",
                              fn, (long long)s->h, (int)s->pad, (int)s->kh);
    if (s->w + 2 * (int64_t)s->pad < s->kw)
        return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "%s: shape.w = %lld with pad %d is smaller than kw = %d",
                              fn, (long long)s->w, (int)s->pad, (int)s->kw);
    return need_numel(fn, "shape.n * ho * wo * c_out", s->n, lcmd_conv2d_out_h(s), lcmd_conv2d_out_w(s), s->c_out);
}

lcmd_status lcmd_op_conv2d_fwd(lcmd_backend *be, lcmd_dtype dt, const lcmd_conv2d_shape *s,
                               void *out, const void *inp, const void *w, const void *bias)
{
    BE(conv2d_fwd);
    DT();
    TRY(check_conv_shape(__func__, s));
    PTR(out);
    PTR(inp);
    PTR(w);
    return be->ops->conv2d_fwd(be, dt, s, out, inp, w, bias);
}

lcmd_status lcmd_op_conv2d_bwd(lcmd_backend *be, lcmd_dtype dt, const lcmd_conv2d_shape *s,
                               void *dinp, void *dw, void *dbias, const void *dout, const void *inp, const void *w)
{
    BE(conv2d_bwd);
    DT();
    TRY(check_conv_shape(__func__, s));
    PTR(dout);
    PTR_IF(dw, inp);
    PTR_IF(dinp, w);
    if (!dinp && !dw && !dbias) return LCMD_OK;
    return be->ops->conv2d_bwd(be, dt, s, dinp, dw, dbias, dout, inp, w);
}

/* ---------------------------------------------------------------- norms */

static lcmd_status check_groups(const char *fn, int64_t n, int64_t hw, int64_t c, int64_t groups)
{
    TRY(need_pos(fn, "n", n));
    TRY(need_pos(fn, "hw", hw));
    TRY(need_pos(fn, "c", c));
    TRY(need_pos(fn, "groups", groups));
    TRY(need_numel(fn, "n * hw * c", n, hw, c, 1));
    if (c % groups)
        return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "%s: groups = %lld does not divide c = %lld",
                              fn, (long long)groups, (long long)c);
    return LCMD_OK;
}

static lcmd_status check_eps(const char *fn, float eps)
{
    if (isfinite(eps) && eps >= 0.0f) return LCMD_OK;
    return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "%s: eps = %g must be finite and >= 0", fn, (double)eps);
}

lcmd_status lcmd_op_groupnorm_fwd(lcmd_backend *be, lcmd_dtype dt, void *out, float *mean, float *rstd,
                                  const void *inp, const void *gamma, const void *beta, int64_t n, int64_t hw,
                                  int64_t c, int64_t groups, float eps, int silu)
{
    BE(groupnorm_fwd);
    DT();
    PTR(out);
    PTR(mean);
    PTR(rstd);
    PTR(inp);
    PTR(gamma);
    PTR(beta);
    TRY(check_groups(__func__, n, hw, c, groups));
    TRY(check_eps(__func__, eps));
    return be->ops->groupnorm_fwd(be, dt, out, mean, rstd, inp, gamma, beta, n, hw, c, groups, eps, silu);
}

lcmd_status lcmd_op_groupnorm_bwd(lcmd_backend *be, lcmd_dtype dt, void *dinp, void *dgamma, void *dbeta,
                                  const void *dout, const void *inp, const void *gamma, const void *beta,
                                  const float *mean, const float *rstd, int64_t n, int64_t hw, int64_t c,
                                  int64_t groups, int silu)
{
    BE(groupnorm_bwd);
    DT();
    PTR(dout);
    PTR(inp);
    PTR(gamma);
    PTR_IF(silu, beta);
    PTR(mean);
    PTR(rstd);
    TRY(check_groups(__func__, n, hw, c, groups));
    if (!dinp && !dgamma && !dbeta) return LCMD_OK;
    return be->ops->groupnorm_bwd(be, dt, dinp, dgamma, dbeta, dout, inp, gamma, beta, mean, rstd,
                                  n, hw, c, groups, silu);
}

lcmd_status lcmd_op_layernorm_fwd(lcmd_backend *be, lcmd_dtype dt, void *out, float *mean, float *rstd,
                                  const void *inp, const void *gamma, const void *beta, int64_t rows, int64_t c,
                                  float eps)
{
    BE(layernorm_fwd);
    DT();
    PTR(out);
    PTR(mean);
    PTR(rstd);
    PTR(inp);
    PTR(gamma);
    PTR(beta);
    POS(rows);
    POS(c);
    NUMEL(rows, c, 1, 1);
    TRY(check_eps(__func__, eps));
    return be->ops->layernorm_fwd(be, dt, out, mean, rstd, inp, gamma, beta, rows, c, eps);
}

lcmd_status lcmd_op_layernorm_bwd(lcmd_backend *be, lcmd_dtype dt, void *dinp, void *dgamma, void *dbeta,
                                  const void *dout, const void *inp, const void *gamma, const float *mean,
                                  const float *rstd, int64_t rows, int64_t c)
{
    BE(layernorm_bwd);
    DT();
    PTR(dout);
    PTR(inp);
    PTR(gamma);
    PTR(mean);
    PTR(rstd);
    POS(rows);
    POS(c);
    NUMEL(rows, c, 1, 1);
    if (!dinp && !dgamma && !dbeta) return LCMD_OK;
    return be->ops->layernorm_bwd(be, dt, dinp, dgamma, dbeta, dout, inp, gamma, mean, rstd, rows, c);
}

/* ---------------------------------------------------------------- activations, softmax */

static lcmd_status check_act(const char *fn, lcmd_act act)
{
    if (act == LCMD_ACT_SILU || act == LCMD_ACT_GELU || act == LCMD_ACT_GELU_TANH || act == LCMD_ACT_QUICK_GELU)
        return LCMD_OK;
    return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "%s: act = %d is not an lcmd_act", fn, (int)act);
}

lcmd_status lcmd_op_act_fwd(lcmd_backend *be, lcmd_dtype dt, lcmd_act act, void *out, const void *inp, int64_t n)
{
    BE(act_fwd);
    DT();
    TRY(check_act(__func__, act));
    PTR(out);
    PTR(inp);
    POS(n);
    NUMEL(n, 1, 1, 1);
    return be->ops->act_fwd(be, dt, act, out, inp, n);
}

lcmd_status lcmd_op_act_bwd(lcmd_backend *be, lcmd_dtype dt, lcmd_act act, void *dinp, const void *dout,
                            const void *inp, int64_t n)
{
    BE(act_bwd);
    DT();
    TRY(check_act(__func__, act));
    PTR(dout);
    PTR(inp);
    POS(n);
    NUMEL(n, 1, 1, 1);
    if (!dinp) return LCMD_OK;
    return be->ops->act_bwd(be, dt, act, dinp, dout, inp, n);
}

lcmd_status lcmd_op_geglu_fwd(lcmd_backend *be, lcmd_dtype dt, void *out, const void *inp, int64_t rows, int64_t d)
{
    BE(geglu_fwd);
    DT();
    PTR(out);
    PTR(inp);
    POS(rows);
    POS(d);
    NUMEL(rows, d, 2, 1);
    return be->ops->geglu_fwd(be, dt, out, inp, rows, d);
}

lcmd_status lcmd_op_geglu_bwd(lcmd_backend *be, lcmd_dtype dt, void *dinp, const void *dout, const void *inp,
                              int64_t rows, int64_t d)
{
    BE(geglu_bwd);
    DT();
    PTR(dout);
    PTR(inp);
    POS(rows);
    POS(d);
    NUMEL(rows, d, 2, 1);
    if (!dinp) return LCMD_OK;
    return be->ops->geglu_bwd(be, dt, dinp, dout, inp, rows, d);
}

lcmd_status lcmd_op_softmax_fwd(lcmd_backend *be, lcmd_dtype dt, void *out, const void *inp, int64_t rows,
                                int64_t cols, float scale)
{
    BE(softmax_fwd);
    DT();
    PTR(out);
    PTR(inp);
    POS(rows);
    POS(cols);
    NUMEL(rows, cols, 1, 1);
    FINITE(scale);
    return be->ops->softmax_fwd(be, dt, out, inp, rows, cols, scale);
}

lcmd_status lcmd_op_softmax_bwd(lcmd_backend *be, lcmd_dtype dt, void *dinp, const void *dout, const void *out,
                                int64_t rows, int64_t cols, float scale)
{
    BE(softmax_bwd);
    DT();
    PTR(dout);
    PTR(out);
    POS(rows);
    POS(cols);
    NUMEL(rows, cols, 1, 1);
    FINITE(scale);
    if (!dinp) return LCMD_OK;
    return be->ops->softmax_bwd(be, dt, dinp, dout, out, rows, cols, scale);
}

/* ---------------------------------------------------------------- attention */

static lcmd_status check_attn_shape(const char *fn, const lcmd_attn_shape *s)
{
    TRY(need_ptr(fn, "s", s));
    TRY(need_pos(fn, "shape.b", s->b));
    TRY(need_pos(fn, "shape.heads", s->heads));
    TRY(need_pos(fn, "shape.sq", s->sq));
    TRY(need_pos(fn, "shape.skv", s->skv));
    TRY(need_pos(fn, "shape.head_dim", s->head_dim));
    TRY(need_numel(fn, "shape.heads * head_dim", s->heads, s->head_dim, 1, 1));
    int64_t hd = s->heads * s->head_dim;
    TRY(need_at_least(fn, "shape.ldq", s->ldq, "heads * head_dim", hd));
    TRY(need_at_least(fn, "shape.ldk", s->ldk, "heads * head_dim", hd));
    TRY(need_at_least(fn, "shape.ldv", s->ldv, "heads * head_dim", hd));
    TRY(need_at_least(fn, "shape.ldo", s->ldo, "heads * head_dim", hd));
    TRY(need_numel(fn, "shape.b * sq * ldq", s->b, s->sq, s->ldq, 1));
    TRY(need_numel(fn, "shape.b * skv * max(ldk, ldv)", s->b, s->skv, s->ldk > s->ldv ? s->ldk : s->ldv, 1));
    TRY(need_numel(fn, "shape.b * sq * ldo", s->b, s->sq, s->ldo, 1));
    TRY(need_finite(fn, "shape.scale", s->scale));
    if (s->causal && s->sq != s->skv)
        return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "%s: shape.causal needs sq == skv, got sq = %lld, skv = %lld",
                              fn, (long long)s->sq, (long long)s->skv);
    return LCMD_OK;
}

lcmd_status lcmd_op_attention_fwd(lcmd_backend *be, lcmd_dtype dt, const lcmd_attn_shape *s, void *out, float *lse,
                                  const void *q, const void *k, const void *v)
{
    BE(attention_fwd);
    DT();
    TRY(check_attn_shape(__func__, s));
    PTR(out);
    PTR(lse);
    PTR(q);
    PTR(k);
    PTR(v);
    return be->ops->attention_fwd(be, dt, s, out, lse, q, k, v);
}

lcmd_status lcmd_op_attention_bwd(lcmd_backend *be, lcmd_dtype dt, const lcmd_attn_shape *s, void *dq, void *dk,
                                  void *dv, const void *dout, const void *q, const void *k, const void *v,
                                  const void *out, const float *lse)
{
    BE(attention_bwd);
    DT();
    TRY(check_attn_shape(__func__, s));
    PTR(dout);
    PTR(q);
    PTR(k);
    PTR(v);
    PTR(out);
    PTR(lse);
    if (!dq && !dk && !dv) return LCMD_OK;
    return be->ops->attention_bwd(be, dt, s, dq, dk, dv, dout, q, k, v, out, lse);
}

/* ---------------------------------------------------------------- layout, elementwise */

lcmd_status lcmd_op_upsample2x_fwd(lcmd_backend *be, lcmd_dtype dt, void *out, const void *inp, int64_t n,
                                   int64_t h, int64_t w, int64_t c)
{
    BE(upsample2x_fwd);
    DT();
    PTR(out);
    PTR(inp);
    POS(n);
    POS(h);
    POS(w);
    POS(c);
    NUMEL(n * 4, h, w, c);
    return be->ops->upsample2x_fwd(be, dt, out, inp, n, h, w, c);
}

lcmd_status lcmd_op_upsample2x_bwd(lcmd_backend *be, lcmd_dtype dt, void *dinp, const void *dout, int64_t n,
                                   int64_t h, int64_t w, int64_t c)
{
    BE(upsample2x_bwd);
    DT();
    PTR(dout);
    POS(n);
    POS(h);
    POS(w);
    POS(c);
    NUMEL(n * 4, h, w, c);
    if (!dinp) return LCMD_OK;
    return be->ops->upsample2x_bwd(be, dt, dinp, dout, n, h, w, c);
}

lcmd_status lcmd_op_add_fwd(lcmd_backend *be, lcmd_dtype dt, void *out, const void *a, const void *b, int64_t n)
{
    BE(add_fwd);
    DT();
    PTR(out);
    PTR(a);
    PTR(b);
    POS(n);
    NUMEL(n, 1, 1, 1);
    return be->ops->add_fwd(be, dt, out, a, b, n);
}

lcmd_status lcmd_op_add_bcast_fwd(lcmd_backend *be, lcmd_dtype dt, void *out, const void *a, const void *b,
                                  int64_t n, int64_t p, int64_t c)
{
    BE(add_bcast_fwd);
    DT();
    PTR(out);
    PTR(a);
    PTR(b);
    POS(n);
    POS(p);
    POS(c);
    NUMEL(n, p, c, 1);
    return be->ops->add_bcast_fwd(be, dt, out, a, b, n, p, c);
}

lcmd_status lcmd_op_add_bcast_bwd(lcmd_backend *be, lcmd_dtype dt, void *da, void *db, const void *dout,
                                  int64_t n, int64_t p, int64_t c)
{
    BE(add_bcast_bwd);
    DT();
    PTR(dout);
    POS(n);
    POS(p);
    POS(c);
    NUMEL(n, p, c, 1);
    if (!da && !db) return LCMD_OK;
    return be->ops->add_bcast_bwd(be, dt, da, db, dout, n, p, c);
}

lcmd_status lcmd_op_mul_fwd(lcmd_backend *be, lcmd_dtype dt, void *out, const void *a, const void *b, int64_t n)
{
    BE(mul_fwd);
    DT();
    PTR(out);
    PTR(a);
    PTR(b);
    POS(n);
    NUMEL(n, 1, 1, 1);
    return be->ops->mul_fwd(be, dt, out, a, b, n);
}

lcmd_status lcmd_op_mul_bwd(lcmd_backend *be, lcmd_dtype dt, void *da, void *db, const void *dout, const void *a,
                            const void *b, int64_t n)
{
    BE(mul_bwd);
    DT();
    PTR(dout);
    PTR_IF(da, b);
    PTR_IF(db, a);
    POS(n);
    NUMEL(n, 1, 1, 1);
    if (!da && !db) return LCMD_OK;
    return be->ops->mul_bwd(be, dt, da, db, dout, a, b, n);
}

lcmd_status lcmd_op_axpy(lcmd_backend *be, lcmd_dtype dt, void *y, float alpha, const void *x, int64_t n)
{
    BE(axpy);
    DT();
    PTR(y);
    PTR(x);
    POS(n);
    NUMEL(n, 1, 1, 1);
    FINITE(alpha);
    return be->ops->axpy(be, dt, y, alpha, x, n);
}

lcmd_status lcmd_op_scale(lcmd_backend *be, lcmd_dtype dt, void *y, float alpha, int64_t n)
{
    BE(scale);
    DT();
    PTR(y);
    POS(n);
    NUMEL(n, 1, 1, 1);
    FINITE(alpha);
    return be->ops->scale(be, dt, y, alpha, n);
}

lcmd_status lcmd_op_concat_fwd(lcmd_backend *be, lcmd_dtype dt, void *out, const void *a, const void *b, int64_t p,
                               int64_t ca, int64_t cb)
{
    BE(concat_fwd);
    DT();
    PTR(out);
    PTR(a);
    PTR(b);
    POS(p);
    POS(ca);
    POS(cb);
    NUMEL(p, ca + cb, 1, 1);
    return be->ops->concat_fwd(be, dt, out, a, b, p, ca, cb);
}

lcmd_status lcmd_op_concat_bwd(lcmd_backend *be, lcmd_dtype dt, void *da, void *db, const void *dout, int64_t p,
                               int64_t ca, int64_t cb)
{
    BE(concat_bwd);
    DT();
    PTR(dout);
    POS(p);
    POS(ca);
    POS(cb);
    NUMEL(p, ca + cb, 1, 1);
    if (!da && !db) return LCMD_OK;
    return be->ops->concat_bwd(be, dt, da, db, dout, p, ca, cb);
}

/* ---------------------------------------------------------------- timestep embedding */

static lcmd_status check_temb(const char *fn, int64_t n, int64_t dim, float shift, float scale, float max_period)
{
    TRY(need_pos(fn, "n", n));
    TRY(need_at_least(fn, "dim", dim, "2", 2));
    TRY(need_numel(fn, "n * dim", n, dim, 1, 1));
    TRY(need_finite(fn, "shift", shift));
    TRY(need_finite(fn, "scale", scale));
    if (!(isfinite(max_period) && max_period > 0.0f))
        return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "%s: max_period = %g must be finite and > 0", fn,
                              (double)max_period);
    if ((float)(dim / 2) - shift == 0.0f)
        return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "%s: shift = %g equals dim / 2 = %lld (division by zero)",
                              fn, (double)shift, (long long)(dim / 2));
    return LCMD_OK;
}

lcmd_status lcmd_op_timestep_emb_fwd(lcmd_backend *be, lcmd_dtype dt, void *out, const float *t, int64_t n,
                                     int64_t dim, int flip_sin_to_cos, float shift, float scale, float max_period)
{
    BE(timestep_emb_fwd);
    DT();
    PTR(out);
    PTR(t);
    TRY(check_temb(__func__, n, dim, shift, scale, max_period));
    return be->ops->timestep_emb_fwd(be, dt, out, t, n, dim, flip_sin_to_cos, shift, scale, max_period);
}

lcmd_status lcmd_op_timestep_emb_bwd(lcmd_backend *be, lcmd_dtype dt, float *dt_grad, const void *dout,
                                     const float *t, int64_t n, int64_t dim, int flip_sin_to_cos, float shift,
                                     float scale, float max_period)
{
    BE(timestep_emb_bwd);
    DT();
    PTR(dout);
    PTR(t);
    TRY(check_temb(__func__, n, dim, shift, scale, max_period));
    if (!dt_grad) return LCMD_OK;
    return be->ops->timestep_emb_bwd(be, dt, dt_grad, dout, t, n, dim, flip_sin_to_cos, shift, scale, max_period);
}
