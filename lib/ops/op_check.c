/* The op check harness (see op_check.h): host-built inputs, double reference,
 * central finite differences, and the accumulate / NULL-gradient contract. */
#include "ops/op_check.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/half.h"
#include "core/philox.h"
#include "ops/op_calls.h"
#include "ops/op_check_cases.h"

/* Finite-difference step: central differences in double have truncation error
 * ~h^2 |f'''| ~ 1e-10 and rounding error ~1e-16 |L| / h ~ 1e-10, far below what
 * fp32 backward itself carries (~1e-6 relative), so 1e-4 is a tolerance of 100x
 * on fp32 while a wrong term (missing factor, wrong index) gives O(1). */
#define OC_FD_STEP 1e-5

/* ---------------------------------------------------------------- random inputs */

typedef struct oc_rng {
    uint64_t seed, stream, block;
    lcmd_u32x4 buf;
    int used;
} oc_rng;

static double oc_uniform(oc_rng *r, double lo, double hi)
{
    if (r->used == 4) {
        r->buf = lcmd_rng_block(r->seed, r->stream, r->block++);
        r->used = 0;
    }
    return lo + (hi - lo) * (double)lcmd_u32_to_unit(r->buf.v[r->used++]);
}

/* x as the backend stores it */
static double round_to(lcmd_dtype dt, double x)
{
    float f = (float)x;
    if (dt == LCMD_DT_F16) return lcmd_f16_to_f32(lcmd_f32_to_f16(f));
    if (dt == LCMD_DT_BF16) return lcmd_bf16_to_f32(lcmd_f32_to_bf16(f));
    return f;
}

static double rms(const double *x, int64_t n)
{
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) s += x[i] * x[i];
    return n ? sqrt(s / (double)n) : 0.0;
}

/* ||a - b|| / ||b|| (||a - b|| when b is zero); NaN anywhere gives NaN */
static double rel_err(const double *a, const double *b, int64_t n)
{
    double num = 0.0, den = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double d = a[i] - b[i];
        num += d * d;
        den += b[i] * b[i];
    }
    if (isnan(num)) return NAN;
    return den > 0.0 ? sqrt(num / den) : sqrt(num);
}

static double worst(double a, double b) { return (isnan(a) || isnan(b)) ? NAN : (a > b ? a : b); }

/* ---------------------------------------------------------------- host <-> backend */

static lcmd_status dev_put(lcmd_backend *be, lcmd_dtype dt, void *dev, const double *h, int64_t n)
{
    size_t es = lcmd_dtype_size(dt);
    void *tmp = malloc((size_t)n * es);
    if (!tmp) return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "op check: %lld host values", (long long)n);
    for (int64_t i = 0; i < n; i++) {
        float f = (float)h[i];
        if (dt == LCMD_DT_F32) ((float *)tmp)[i] = f;
        else ((uint16_t *)tmp)[i] = dt == LCMD_DT_F16 ? lcmd_f32_to_f16(f) : lcmd_f32_to_bf16(f);
    }
    lcmd_status st = lcmd_op_upload(be, dev, tmp, (size_t)n * es);
    free(tmp);
    return st;
}

static lcmd_status dev_get(lcmd_backend *be, lcmd_dtype dt, const void *dev, double *h, int64_t n)
{
    size_t es = lcmd_dtype_size(dt);
    void *tmp = malloc((size_t)n * es);
    if (!tmp) return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "op check: %lld host values", (long long)n);
    lcmd_status st = lcmd_op_sync(be);
    if (st == LCMD_OK) st = lcmd_op_download(be, tmp, dev, (size_t)n * es);
    for (int64_t i = 0; st == LCMD_OK && i < n; i++) {
        if (dt == LCMD_DT_F32) h[i] = ((float *)tmp)[i];
        else h[i] = dt == LCMD_DT_F16 ? lcmd_f16_to_f32(((uint16_t *)tmp)[i]) : lcmd_bf16_to_f32(((uint16_t *)tmp)[i]);
    }
    free(tmp);
    return st;
}

/* ---------------------------------------------------------------- one check */

typedef struct oc_state {
    oc_case c;
    lcmd_dtype dt;
    double *hin[OC_MAX_IN], *ref_out, *ref_aux, *out, *aux, *g, *tmp_out;
    double *fd[OC_MAX_IN], *pre[OC_MAX_IN], *post[OC_MAX_IN];
    oc_bufs dev;
    void *dev_out_owned, *dev_dout;
} oc_state;

static lcmd_dtype in_dtype(const oc_state *s, int i) { return (s->c.f32_mask >> i) & 1u ? LCMD_DT_F32 : s->dt; }

static void *host_alloc(int64_t n, int *fail)
{
    void *p = calloc((size_t)(n > 0 ? n : 1), sizeof(double));
    if (!p) *fail = 1;
    return p;
}

static void state_free(lcmd_backend *be, oc_state *s)
{
    for (int i = 0; i < OC_MAX_IN; i++) {
        free(s->hin[i]);
        free(s->fd[i]);
        free(s->pre[i]);
        free(s->post[i]);
        lcmd_op_free(be, s->dev.in[i]);
        lcmd_op_free(be, s->dev.grad[i]);
    }
    free(s->ref_out);
    free(s->ref_aux);
    free(s->out);
    free(s->aux);
    free(s->g);
    free(s->tmp_out);
    lcmd_op_free(be, s->dev_out_owned);
    lcmd_op_free(be, s->dev.aux);
    lcmd_op_free(be, s->dev_dout);
}

/* reference output for the current host inputs, into out (aux may be NULL) */
static void run_ref(oc_state *s, double *out, double *aux)
{
    if (s->c.inplace >= 0) memcpy(out, s->hin[s->c.inplace], (size_t)s->c.out_len * sizeof(double));
    else memset(out, 0, (size_t)s->c.out_len * sizeof(double));
    s->c.ref(&s->c, s->hin, out, aux);
}

static double loss(oc_state *s)
{
    run_ref(s, s->tmp_out, NULL);
    double l = 0.0;
    for (int64_t j = 0; j < s->c.out_len; j++) l += s->g[j] * s->tmp_out[j];
    return l;
}

/* d loss / d input i by central differences of the double reference */
static void finite_diff(oc_state *s, int i)
{
    for (int64_t e = 0; e < s->c.in_len[i]; e++) {
        double x = s->hin[i][e], h = OC_FD_STEP * (1.0 + fabs(x));
        s->hin[i][e] = x + h;
        double lp = loss(s);
        s->hin[i][e] = x - h;
        double lm = loss(s);
        s->hin[i][e] = x;
        s->fd[i][e] = (lp - lm) / (2.0 * h);
    }
}

static lcmd_status setup(lcmd_backend *be, oc_state *s, oc_rng *rng)
{
    const oc_case *c = &s->c;
    int fail = 0;
    for (int i = 0; i < c->n_in; i++) {
        s->hin[i] = host_alloc(c->in_len[i], &fail);
        if (fail) break;
        for (int64_t e = 0; e < c->in_len[i]; e++)
            s->hin[i][e] = round_to(in_dtype(s, i), oc_uniform(rng, c->in_lo[i], c->in_hi[i]));
    }
    s->ref_out = host_alloc(c->out_len, &fail);
    s->out = host_alloc(c->out_len, &fail);
    s->tmp_out = host_alloc(c->out_len, &fail);
    s->g = host_alloc(c->out_len, &fail);
    s->ref_aux = host_alloc(c->aux_len, &fail);
    s->aux = host_alloc(c->aux_len, &fail);
    if (fail) return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "op check %s: host buffers", c->name);
    for (int i = 0; i < c->n_in; i++) {
        size_t bytes = (size_t)c->in_len[i] * lcmd_dtype_size(in_dtype(s, i));
        LCMD_TRY(lcmd_op_alloc(be, bytes, &s->dev.in[i]));
        LCMD_TRY(dev_put(be, in_dtype(s, i), s->dev.in[i], s->hin[i], c->in_len[i]));
    }
    if (c->inplace >= 0) {
        s->dev.out = s->dev.in[c->inplace];
    } else {
        size_t bytes = (size_t)c->out_len * lcmd_dtype_size(s->dt);
        LCMD_TRY(lcmd_op_alloc(be, bytes, &s->dev_out_owned));
        LCMD_TRY(lcmd_op_zero(be, s->dev_out_owned, bytes));   /* padding columns stay 0 */
        s->dev.out = s->dev_out_owned;
    }
    if (c->aux_len) {
        void *p;
        LCMD_TRY(lcmd_op_alloc(be, (size_t)c->aux_len * sizeof(float), &p));
        s->dev.aux = p;
    }
    return LCMD_OK;
}

static lcmd_status check_forward(lcmd_backend *be, oc_state *s, lcmd_op_check_result *res)
{
    const oc_case *c = &s->c;
    run_ref(s, s->ref_out, c->aux_len ? s->ref_aux : NULL);
    LCMD_TRY(c->fwd(be, s->dt, c, &s->dev));
    LCMD_TRY(dev_get(be, s->dt, s->dev.out, s->out, c->out_len));
    res->fwd_err = rel_err(s->out, s->ref_out, c->out_len);
    if (c->aux_len) {
        LCMD_TRY(dev_get(be, LCMD_DT_F32, s->dev.aux, s->aux, c->aux_len));
        res->fwd_err = worst(res->fwd_err, rel_err(s->aux, s->ref_aux, c->aux_len));
    }
    return LCMD_OK;
}

/* increment of gradient i since `before`, compared with the finite differences */
static lcmd_status grad_err(lcmd_backend *be, oc_state *s, int i, const double *before, double *after, double *err)
{
    LCMD_TRY(dev_get(be, in_dtype(s, i), s->dev.grad[i], after, s->c.in_len[i]));
    double *inc = malloc((size_t)s->c.in_len[i] * sizeof(double));
    if (!inc) return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "op check %s: gradient", s->c.name);
    for (int64_t e = 0; e < s->c.in_len[i]; e++) inc[e] = after[e] - before[e];
    *err = rel_err(inc, s->fd[i], s->c.in_len[i]);
    free(inc);
    return LCMD_OK;
}

static lcmd_status check_backward(lcmd_backend *be, oc_state *s, oc_rng *rng, lcmd_op_check_result *res)
{
    const oc_case *c = &s->c;
    int fail = 0, first = -1;
    for (int64_t j = 0; j < c->out_len; j++) s->g[j] = round_to(s->dt, oc_uniform(rng, -1.0, 1.0));
    LCMD_TRY(lcmd_op_alloc(be, (size_t)c->out_len * lcmd_dtype_size(s->dt), &s->dev_dout));
    LCMD_TRY(dev_put(be, s->dt, s->dev_dout, s->g, c->out_len));
    s->dev.dout = s->dev_dout;
    for (int i = 0; i < c->n_in; i++) {
        if (!((c->diff_mask >> i) & 1u)) continue;
        if (first < 0) first = i;
        s->fd[i] = host_alloc(c->in_len[i], &fail);
        s->pre[i] = host_alloc(c->in_len[i], &fail);
        s->post[i] = host_alloc(c->in_len[i], &fail);
        if (fail) return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "op check %s: gradients", c->name);
        finite_diff(s, i);
        /* pre-filled at the gradient's own size, so that += is checked at full precision */
        double sc = rms(s->fd[i], c->in_len[i]);
        if (!(sc > 0.0)) sc = 1.0;
        for (int64_t e = 0; e < c->in_len[i]; e++)
            s->pre[i][e] = round_to(in_dtype(s, i), sc * oc_uniform(rng, -1.0, 1.0));
        LCMD_TRY(lcmd_op_alloc(be, (size_t)c->in_len[i] * lcmd_dtype_size(in_dtype(s, i)), &s->dev.grad[i]));
        LCMD_TRY(dev_put(be, in_dtype(s, i), s->dev.grad[i], s->pre[i], c->in_len[i]));
    }
    LCMD_TRY(c->bwd(be, s->dt, c, &s->dev));
    res->bwd_err = 0.0;
    for (int i = 0; i < c->n_in; i++) {
        if (!s->dev.grad[i]) continue;
        double e;
        LCMD_TRY(grad_err(be, s, i, s->pre[i], s->post[i], &e));
        res->bwd_err = worst(res->bwd_err, e);
    }
    /* again with only the first gradient: the others are NULL and must be skipped */
    oc_bufs only = s->dev;
    for (int i = 0; i < OC_MAX_IN; i++)
        if (i != first) only.grad[i] = NULL;
    LCMD_TRY(c->bwd(be, s->dt, c, &only));
    double e;
    LCMD_TRY(grad_err(be, s, first, s->post[first], s->pre[first], &e));
    res->bwd_err = worst(res->bwd_err, e);
    return LCMD_OK;
}

int lcmd_op_check_count(void) { return lcmd_oc_count(); }

const char *lcmd_op_check_name(int i)
{
    oc_case c;
    return lcmd_oc_get(i, &c) ? c.name : NULL;
}

int lcmd_op_check_has_backward(int i)
{
    oc_case c;
    return lcmd_oc_get(i, &c) && c.diff_mask != 0 && c.bwd != NULL;
}

lcmd_status lcmd_op_check_run(lcmd_backend *be, lcmd_dtype dt, int op_index, uint64_t seed,
                              lcmd_op_check_result *res)
{
    LCMD_CHECK_ARG(be != NULL, "lcmd_op_check_run", "be is NULL");
    LCMD_CHECK_ARG(res != NULL, "lcmd_op_check_run", "res is NULL");
    LCMD_CHECK_ARG(dt == LCMD_DT_F32 || dt == LCMD_DT_F16 || dt == LCMD_DT_BF16, "lcmd_op_check_run",
                   "dt = %d is not a dtype", (int)dt);
    oc_state *s = calloc(1, sizeof *s);
    if (!s) return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "lcmd_op_check_run: state");
    if (!lcmd_oc_get(op_index, &s->c)) {
        free(s);
        return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "lcmd_op_check_run: op_index = %d is not in [0, %d)",
                              op_index, lcmd_oc_count());
    }
    s->dt = dt;
    memset(res, 0, sizeof *res);
    res->op = s->c.name;
    res->fwd_tol = dt == LCMD_DT_F32 ? 1e-5 : 1e-2;
    res->bwd_tol = dt == LCMD_DT_F32 ? 1e-4 : 2e-2;
    res->has_bwd = s->c.diff_mask != 0 && s->c.bwd != NULL;
    oc_rng rng = {.seed = seed, .stream = (uint64_t)op_index, .block = 0, .used = 4};
    lcmd_status st = setup(be, s, &rng);
    if (st == LCMD_OK) st = check_forward(be, s, res);
    if (st == LCMD_OK && res->has_bwd) st = check_backward(be, s, &rng, res);
    if (st == LCMD_OK) {
        res->fwd_ok = res->fwd_err <= res->fwd_tol;              /* NaN compares false */
        res->bwd_ok = !res->has_bwd || res->bwd_err <= res->bwd_tol;
        res->ok = res->fwd_ok && res->bwd_ok;
    }
    state_free(be, s);
    free(s);
    return st;
}

/* appends to a bounded report; drops what does not fit */
#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static void report_add(char *report, size_t size, size_t *used, const char *fmt, ...)
{
    if (!report || *used + 1 >= size) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(report + *used, size - *used, fmt, ap);
    va_end(ap);
    if (n > 0) *used = *used + (size_t)n < size ? *used + (size_t)n : size - 1;
}

lcmd_status lcmd_op_check_all(lcmd_backend *be, lcmd_dtype dt, char *report, size_t size)
{
    LCMD_CHECK_ARG(be != NULL, "lcmd_op_check_all", "be is NULL");
    if (report && size) report[0] = '\0';
    size_t used = 0;
    int failed = 0;
    const char *first_failed = NULL;
    lcmd_status first_error = LCMD_OK;
    char error_msg[256] = "";
    for (int i = 0; i < lcmd_op_check_count(); i++) {
        lcmd_op_check_result r;
        lcmd_status st = lcmd_op_check_run(be, dt, i, 0x6c636d64u, &r);
        if (st != LCMD_OK) {
            report_add(report, size, &used, "%-24s error: %s\n", lcmd_op_check_name(i), lcmd_last_error());
            if (first_error == LCMD_OK) {
                first_error = st;
                snprintf(error_msg, sizeof error_msg, "%s: %s", lcmd_op_check_name(i), lcmd_last_error());
            }
            continue;
        }
        if (r.has_bwd)
            report_add(report, size, &used, "%-24s fwd %.2e (tol %.0e)  bwd %.2e (tol %.0e)  %s\n", r.op, r.fwd_err,
                       r.fwd_tol, r.bwd_err, r.bwd_tol, r.ok ? "ok" : "FAIL");
        else
            report_add(report, size, &used, "%-24s fwd %.2e (tol %.0e)  bwd -                    %s\n", r.op,
                       r.fwd_err, r.fwd_tol, r.ok ? "ok" : "FAIL");
        if (!r.ok && !failed++) first_failed = r.op;
    }
    if (first_error != LCMD_OK) return lcmd_set_error(first_error, "lcmd_op_check_all: %s", error_msg);
    if (failed)
        return lcmd_set_error(LCMD_ERR_NUMERIC, "lcmd_op_check_all: %d of %d checks failed, first %s", failed,
                              lcmd_op_check_count(), first_failed);
    return LCMD_OK;
}
