/* The op checks: shapes, references and backend calls (see op_check_cases.h). */
#include "ops/op_check_cases.h"

#include <math.h>
#include <string.h>

#include "ops/op_calls.h"
#include "ops/ref/ref_ops.h"

/* a device pointer moved by `elems` elements of dt (the fused qkv slices) */
static void *dev_at(void *p, lcmd_dtype dt, int64_t elems)
{
    return (char *)p + (size_t)elems * lcmd_dtype_size(dt);
}

/* ---------------------------------------------------------------- gemm */

typedef struct gemm_dims { int64_t lda, ldb, ldc, sa, sb, sc; } gemm_dims;

/* leading dimensions padded past the minimum, so a wrong ld shows up */
static gemm_dims gemm_layout(const oc_case *c)
{
    int64_t ta = c->d[0], tb = c->d[1], m = c->d[2], n = c->d[3], k = c->d[4];
    gemm_dims g;
    g.lda = (ta ? m : k) + 1;
    g.ldb = (tb ? k : n) + 2;
    g.ldc = n + 1;
    g.sa = (ta ? k : m) * g.lda;
    g.sb = (tb ? n : k) * g.ldb;
    g.sc = m * g.ldc;
    return g;
}

static void gemm_ref(const oc_case *c, double *const *in, double *out, double *aux)
{
    (void)aux;
    gemm_dims g = gemm_layout(c);
    lcmd_ref_gemm((int)c->d[0], (int)c->d[1], c->d[2], c->d[3], c->d[4], c->f[0], in[0], g.lda, g.sa,
                  in[1], g.ldb, g.sb, c->f[1], out, g.ldc, g.sc, c->d[5]);
}

static lcmd_status gemm_fwd(lcmd_backend *be, lcmd_dtype dt, const oc_case *c, const oc_bufs *b)
{
    gemm_dims g = gemm_layout(c);
    return lcmd_op_gemm(be, dt, (int)c->d[0], (int)c->d[1], c->d[2], c->d[3], c->d[4], c->f[0], b->in[0], g.lda,
                        g.sa, b->in[1], g.ldb, g.sb, c->f[1], b->out, g.ldc, g.sc, c->d[5]);
}

static void build_gemm(oc_case *c, int v)
{
    int64_t ta = v & 1, tb = (v >> 1) & 1, m = 5, n = 7, k = 6, batch = 2;
    c->d[0] = ta; c->d[1] = tb; c->d[2] = m; c->d[3] = n; c->d[4] = k; c->d[5] = batch;
    c->f[0] = 0.75f;
    c->f[1] = (v & 4) ? 0.0f : 0.5f;
    gemm_dims g = gemm_layout(c);
    c->n_in = 3;
    c->in_len[0] = g.sa * batch;
    c->in_len[1] = g.sb * batch;
    c->in_len[2] = g.sc * batch;
    c->inplace = 2;
    c->out_len = g.sc * batch;
    c->ref = gemm_ref;
    c->fwd = gemm_fwd;
}

/* ---------------------------------------------------------------- linear */

static void linear_ref(const oc_case *c, double *const *in, double *out, double *aux)
{
    (void)aux;
    lcmd_ref_linear(out, in[0], in[1], c->flag[0] ? in[2] : NULL, c->d[0], c->d[1], c->d[2]);
}

static lcmd_status linear_fwd(lcmd_backend *be, lcmd_dtype dt, const oc_case *c, const oc_bufs *b)
{
    return lcmd_op_linear_fwd(be, dt, b->out, b->in[0], b->in[1], c->flag[0] ? b->in[2] : NULL,
                              c->d[0], c->d[1], c->d[2]);
}

static lcmd_status linear_bwd(lcmd_backend *be, lcmd_dtype dt, const oc_case *c, const oc_bufs *b)
{
    return lcmd_op_linear_bwd(be, dt, b->grad[0], b->grad[1], c->flag[0] ? b->grad[2] : NULL, b->dout,
                              b->in[0], b->in[1], c->d[0], c->d[1], c->d[2]);
}

static void build_linear(oc_case *c, int bias)
{
    int64_t m = 6, k = 5, n = 4;
    c->d[0] = m; c->d[1] = k; c->d[2] = n;
    c->flag[0] = bias;
    c->n_in = bias ? 3 : 2;
    c->in_len[0] = m * k;
    c->in_len[1] = n * k;
    c->in_len[2] = n;
    c->diff_mask = bias ? 7u : 3u;
    c->out_len = m * n;
    c->ref = linear_ref;
    c->fwd = linear_fwd;
    c->bwd = linear_bwd;
}

/* ---------------------------------------------------------------- conv2d */

static void conv_ref(const oc_case *c, double *const *in, double *out, double *aux)
{
    (void)aux;
    lcmd_ref_conv2d(&c->conv, out, in[0], in[1], c->flag[0] ? in[2] : NULL);
}

static lcmd_status conv_fwd(lcmd_backend *be, lcmd_dtype dt, const oc_case *c, const oc_bufs *b)
{
    return lcmd_op_conv2d_fwd(be, dt, &c->conv, b->out, b->in[0], b->in[1], c->flag[0] ? b->in[2] : NULL);
}

static lcmd_status conv_bwd(lcmd_backend *be, lcmd_dtype dt, const oc_case *c, const oc_bufs *b)
{
    return lcmd_op_conv2d_bwd(be, dt, &c->conv, b->grad[0], b->grad[1], c->flag[0] ? b->grad[2] : NULL,
                              b->dout, b->in[0], b->in[1]);
}

/* v: 0 k3 s1 p1 bias, 1 k3 s2 p1, 2 k1 s1 p0 bias (pointwise), 3 k1 s2 p0, 4 k3x2 s1 p0 bias,
 *    5 k3 s2 p0 */
static void build_conv(oc_case *c, int v)
{
    static const int32_t geo[6][4] = {{3, 3, 1, 1}, {3, 3, 2, 1}, {1, 1, 1, 0}, {1, 1, 2, 0}, {3, 2, 1, 0}, {3, 3, 2, 0}};
    static const int bias[6] = {1, 0, 1, 0, 1, 0};
    lcmd_conv2d_shape s = {.n = 2, .h = 5, .w = 6, .c_in = 3, .c_out = 4,
                           .kh = geo[v][0], .kw = geo[v][1], .stride = geo[v][2], .pad = geo[v][3]};
    c->conv = s;
    c->flag[0] = bias[v];
    c->n_in = bias[v] ? 3 : 2;
    c->in_len[0] = s.n * s.h * s.w * s.c_in;
    c->in_len[1] = s.c_out * s.kh * s.kw * s.c_in;
    c->in_len[2] = s.c_out;
    c->diff_mask = bias[v] ? 7u : 3u;
    c->out_len = s.n * lcmd_conv2d_out_h(&s) * lcmd_conv2d_out_w(&s) * s.c_out;
    c->ref = conv_ref;
    c->fwd = conv_fwd;
    c->bwd = conv_bwd;
}

/* ---------------------------------------------------------------- norms */

static void gn_ref(const oc_case *c, double *const *in, double *out, double *aux)
{
    int64_t ng = c->d[0] * c->d[3];
    lcmd_ref_groupnorm(out, aux, aux ? aux + ng : NULL, in[0], in[1], in[2], c->d[0], c->d[1], c->d[2], c->d[3],
                       c->f[0], c->flag[0]);
}

static lcmd_status gn_fwd(lcmd_backend *be, lcmd_dtype dt, const oc_case *c, const oc_bufs *b)
{
    int64_t ng = c->d[0] * c->d[3];
    return lcmd_op_groupnorm_fwd(be, dt, b->out, b->aux, b->aux + ng, b->in[0], b->in[1], b->in[2], c->d[0],
                                 c->d[1], c->d[2], c->d[3], c->f[0], c->flag[0]);
}

static lcmd_status gn_bwd(lcmd_backend *be, lcmd_dtype dt, const oc_case *c, const oc_bufs *b)
{
    int64_t ng = c->d[0] * c->d[3];
    return lcmd_op_groupnorm_bwd(be, dt, b->grad[0], b->grad[1], b->grad[2], b->dout, b->in[0], b->in[1],
                                 b->in[2], b->aux, b->aux + ng, c->d[0], c->d[1], c->d[2], c->d[3], c->flag[0]);
}

static void build_groupnorm(oc_case *c, int silu)
{
    int64_t n = 2, hw = 5, ch = 6, groups = 3;
    c->d[0] = n; c->d[1] = hw; c->d[2] = ch; c->d[3] = groups;
    c->f[0] = 1e-5f;
    c->flag[0] = silu;
    c->n_in = 3;
    c->in_len[0] = n * hw * ch;
    c->in_len[1] = ch;
    c->in_len[2] = ch;
    c->diff_mask = 7u;
    c->out_len = n * hw * ch;
    c->aux_len = 2 * n * groups;
    c->ref = gn_ref;
    c->fwd = gn_fwd;
    c->bwd = gn_bwd;
}

static void ln_ref(const oc_case *c, double *const *in, double *out, double *aux)
{
    lcmd_ref_layernorm(out, aux, aux ? aux + c->d[0] : NULL, in[0], in[1], in[2], c->d[0], c->d[1], c->f[0]);
}

static lcmd_status ln_fwd(lcmd_backend *be, lcmd_dtype dt, const oc_case *c, const oc_bufs *b)
{
    return lcmd_op_layernorm_fwd(be, dt, b->out, b->aux, b->aux + c->d[0], b->in[0], b->in[1], b->in[2], c->d[0],
                                 c->d[1], c->f[0]);
}

static lcmd_status ln_bwd(lcmd_backend *be, lcmd_dtype dt, const oc_case *c, const oc_bufs *b)
{
    return lcmd_op_layernorm_bwd(be, dt, b->grad[0], b->grad[1], b->grad[2], b->dout, b->in[0], b->in[1], b->aux,
                                 b->aux + c->d[0], c->d[0], c->d[1]);
}

static void build_layernorm(oc_case *c, int v)
{
    (void)v;
    int64_t rows = 7, ch = 9;
    c->d[0] = rows; c->d[1] = ch;
    c->f[0] = 1e-5f;
    c->n_in = 3;
    c->in_len[0] = rows * ch;
    c->in_len[1] = ch;
    c->in_len[2] = ch;
    c->diff_mask = 7u;
    c->out_len = rows * ch;
    c->aux_len = 2 * rows;
    c->ref = ln_ref;
    c->fwd = ln_fwd;
    c->bwd = ln_bwd;
}

/* ---------------------------------------------------------------- activations, softmax */

static void act_ref(const oc_case *c, double *const *in, double *out, double *aux)
{
    (void)aux;
    lcmd_ref_act(c->act, out, in[0], c->d[0]);
}

static lcmd_status act_fwd(lcmd_backend *be, lcmd_dtype dt, const oc_case *c, const oc_bufs *b)
{
    return lcmd_op_act_fwd(be, dt, c->act, b->out, b->in[0], c->d[0]);
}

static lcmd_status act_bwd(lcmd_backend *be, lcmd_dtype dt, const oc_case *c, const oc_bufs *b)
{
    return lcmd_op_act_bwd(be, dt, c->act, b->grad[0], b->dout, b->in[0], c->d[0]);
}

static void build_act(oc_case *c, int act)
{
    c->act = (lcmd_act)act;
    c->d[0] = 37;
    c->n_in = 1;
    c->in_len[0] = 37;
    c->in_lo[0] = -4.0;   /* both tails and the bend of each activation */
    c->in_hi[0] = 4.0;
    c->diff_mask = 1u;
    c->out_len = 37;
    c->ref = act_ref;
    c->fwd = act_fwd;
    c->bwd = act_bwd;
}

static void geglu_ref(const oc_case *c, double *const *in, double *out, double *aux)
{
    (void)aux;
    lcmd_ref_geglu(out, in[0], c->d[0], c->d[1]);
}

static lcmd_status geglu_fwd(lcmd_backend *be, lcmd_dtype dt, const oc_case *c, const oc_bufs *b)
{
    return lcmd_op_geglu_fwd(be, dt, b->out, b->in[0], c->d[0], c->d[1]);
}

static lcmd_status geglu_bwd(lcmd_backend *be, lcmd_dtype dt, const oc_case *c, const oc_bufs *b)
{
    return lcmd_op_geglu_bwd(be, dt, b->grad[0], b->dout, b->in[0], c->d[0], c->d[1]);
}

static void build_geglu(oc_case *c, int v)
{
    (void)v;
    c->d[0] = 4; c->d[1] = 5;
    c->n_in = 1;
    c->in_len[0] = 4 * 2 * 5;
    c->in_lo[0] = -3.0;
    c->in_hi[0] = 3.0;
    c->diff_mask = 1u;
    c->out_len = 4 * 5;
    c->ref = geglu_ref;
    c->fwd = geglu_fwd;
    c->bwd = geglu_bwd;
}

static void softmax_ref(const oc_case *c, double *const *in, double *out, double *aux)
{
    (void)aux;
    lcmd_ref_softmax(out, in[0], c->d[0], c->d[1], c->f[0]);
}

static lcmd_status softmax_fwd(lcmd_backend *be, lcmd_dtype dt, const oc_case *c, const oc_bufs *b)
{
    return lcmd_op_softmax_fwd(be, dt, b->out, b->in[0], c->d[0], c->d[1], c->f[0]);
}

static lcmd_status softmax_bwd(lcmd_backend *be, lcmd_dtype dt, const oc_case *c, const oc_bufs *b)
{
    return lcmd_op_softmax_bwd(be, dt, b->grad[0], b->dout, b->out, c->d[0], c->d[1], c->f[0]);
}

static void build_softmax(oc_case *c, int v)
{
    (void)v;
    c->d[0] = 5; c->d[1] = 11;
    c->f[0] = 0.7f;
    c->n_in = 1;
    c->in_len[0] = 55;
    c->in_lo[0] = -3.0;
    c->in_hi[0] = 3.0;
    c->diff_mask = 1u;
    c->out_len = 55;
    c->ref = softmax_ref;
    c->fwd = softmax_fwd;
    c->bwd = softmax_bwd;
}

/* ---------------------------------------------------------------- attention */

/* fused: one [b, s, ld] buffer holding q | k | v at column offsets 0, H*D, 2*H*D */
static int64_t qkv_offset(const oc_case *c, int which) { return which * c->attn.heads * c->attn.head_dim; }

static void attn_ref(const oc_case *c, double *const *in, double *out, double *aux)
{
    if (c->flag[0])
        lcmd_ref_attention(&c->attn, out, aux, in[0], in[0] + qkv_offset(c, 1), in[0] + qkv_offset(c, 2));
    else
        lcmd_ref_attention(&c->attn, out, aux, in[0], in[1], in[2]);
}

static lcmd_status attn_fwd(lcmd_backend *be, lcmd_dtype dt, const oc_case *c, const oc_bufs *b)
{
    if (c->flag[0])
        return lcmd_op_attention_fwd(be, dt, &c->attn, b->out, b->aux, b->in[0], dev_at(b->in[0], dt, qkv_offset(c, 1)),
                                     dev_at(b->in[0], dt, qkv_offset(c, 2)));
    return lcmd_op_attention_fwd(be, dt, &c->attn, b->out, b->aux, b->in[0], b->in[1], b->in[2]);
}

static lcmd_status attn_bwd(lcmd_backend *be, lcmd_dtype dt, const oc_case *c, const oc_bufs *b)
{
    if (c->flag[0]) {
        void *g = b->grad[0];
        void *gk = g ? dev_at(g, dt, qkv_offset(c, 1)) : NULL, *gv = g ? dev_at(g, dt, qkv_offset(c, 2)) : NULL;
        return lcmd_op_attention_bwd(be, dt, &c->attn, g, gk, gv, b->dout, b->in[0],
                                     dev_at(b->in[0], dt, qkv_offset(c, 1)), dev_at(b->in[0], dt, qkv_offset(c, 2)),
                                     b->out, b->aux);
    }
    return lcmd_op_attention_bwd(be, dt, &c->attn, b->grad[0], b->grad[1], b->grad[2], b->dout, b->in[0], b->in[1],
                                 b->in[2], b->out, b->aux);
}

/* v: 0 self, 1 cross (sq != skv, padded ld), 2 causal across two query blocks, 3 fused qkv */
static void build_attention(oc_case *c, int v)
{
    lcmd_attn_shape s = {.b = 2, .heads = 2, .sq = 5, .skv = 5, .head_dim = 4};
    int64_t hd = s.heads * s.head_dim;
    s.ldq = s.ldk = s.ldv = s.ldo = hd;
    if (v == 1) {
        s.skv = 7;
        s.ldq = hd + 1;
        s.ldk = hd + 3;
        s.ldv = hd + 2;
        s.ldo = hd + 1;
    } else if (v == 2) {
        s.b = 1;
        s.heads = 1;
        s.sq = s.skv = 67;   /* the CPU backend's query block is 64 */
        s.head_dim = 3;
        s.causal = 1;
        s.ldq = s.ldk = s.ldv = s.ldo = 3;
    } else if (v == 3) {
        s.ldq = s.ldk = s.ldv = 3 * hd + 2;
        s.ldo = hd + 2;
    }
    s.scale = (float)(1.0 / sqrt((double)s.head_dim));
    c->attn = s;
    c->flag[0] = v == 3;
    c->n_in = v == 3 ? 1 : 3;
    c->in_len[0] = s.b * s.sq * s.ldq;
    c->in_len[1] = s.b * s.skv * s.ldk;
    c->in_len[2] = s.b * s.skv * s.ldv;
    for (int i = 0; i < 3; i++) {
        c->in_lo[i] = -1.5;
        c->in_hi[i] = 1.5;
    }
    c->diff_mask = v == 3 ? 1u : 7u;
    c->out_len = s.b * s.sq * s.ldo;
    c->aux_len = s.b * s.heads * s.sq;
    c->ref = attn_ref;
    c->fwd = attn_fwd;
    c->bwd = attn_bwd;
}

/* ---------------------------------------------------------------- layout, elementwise */

static void up_ref(const oc_case *c, double *const *in, double *out, double *aux)
{
    (void)aux;
    lcmd_ref_upsample2x(out, in[0], c->d[0], c->d[1], c->d[2], c->d[3]);
}

static lcmd_status up_fwd(lcmd_backend *be, lcmd_dtype dt, const oc_case *c, const oc_bufs *b)
{
    return lcmd_op_upsample2x_fwd(be, dt, b->out, b->in[0], c->d[0], c->d[1], c->d[2], c->d[3]);
}

static lcmd_status up_bwd(lcmd_backend *be, lcmd_dtype dt, const oc_case *c, const oc_bufs *b)
{
    return lcmd_op_upsample2x_bwd(be, dt, b->grad[0], b->dout, c->d[0], c->d[1], c->d[2], c->d[3]);
}

static void build_upsample(oc_case *c, int v)
{
    (void)v;
    c->d[0] = 2; c->d[1] = 3; c->d[2] = 4; c->d[3] = 3;
    c->n_in = 1;
    c->in_len[0] = 2 * 3 * 4 * 3;
    c->diff_mask = 1u;
    c->out_len = 4 * c->in_len[0];
    c->ref = up_ref;
    c->fwd = up_fwd;
    c->bwd = up_bwd;
}

static void add_ref(const oc_case *c, double *const *in, double *out, double *aux)
{
    (void)aux;
    lcmd_ref_add(out, in[0], in[1], c->d[0]);
}

static lcmd_status add_fwd(lcmd_backend *be, lcmd_dtype dt, const oc_case *c, const oc_bufs *b)
{
    return lcmd_op_add_fwd(be, dt, b->out, b->in[0], b->in[1], c->d[0]);
}

static void mul_ref(const oc_case *c, double *const *in, double *out, double *aux)
{
    (void)aux;
    lcmd_ref_mul(out, in[0], in[1], c->d[0]);
}

static lcmd_status mul_fwd(lcmd_backend *be, lcmd_dtype dt, const oc_case *c, const oc_bufs *b)
{
    return lcmd_op_mul_fwd(be, dt, b->out, b->in[0], b->in[1], c->d[0]);
}

static lcmd_status mul_bwd(lcmd_backend *be, lcmd_dtype dt, const oc_case *c, const oc_bufs *b)
{
    return lcmd_op_mul_bwd(be, dt, b->grad[0], b->grad[1], b->dout, b->in[0], b->in[1], c->d[0]);
}

/* v: 0 add (forward only: its backward is axpy), 1 mul */
static void build_binary(oc_case *c, int v)
{
    c->d[0] = 29;
    c->n_in = 2;
    c->in_len[0] = c->in_len[1] = 29;
    c->out_len = 29;
    c->diff_mask = v ? 3u : 0u;
    c->ref = v ? mul_ref : add_ref;
    c->fwd = v ? mul_fwd : add_fwd;
    c->bwd = v ? mul_bwd : NULL;
}

static void bcast_ref(const oc_case *c, double *const *in, double *out, double *aux)
{
    (void)aux;
    lcmd_ref_add_bcast(out, in[0], in[1], c->d[0], c->d[1], c->d[2]);
}

static lcmd_status bcast_fwd(lcmd_backend *be, lcmd_dtype dt, const oc_case *c, const oc_bufs *b)
{
    return lcmd_op_add_bcast_fwd(be, dt, b->out, b->in[0], b->in[1], c->d[0], c->d[1], c->d[2]);
}

static lcmd_status bcast_bwd(lcmd_backend *be, lcmd_dtype dt, const oc_case *c, const oc_bufs *b)
{
    return lcmd_op_add_bcast_bwd(be, dt, b->grad[0], b->grad[1], b->dout, c->d[0], c->d[1], c->d[2]);
}

static void build_add_bcast(oc_case *c, int v)
{
    (void)v;
    c->d[0] = 2; c->d[1] = 6; c->d[2] = 5;
    c->n_in = 2;
    c->in_len[0] = 2 * 6 * 5;
    c->in_len[1] = 2 * 5;
    c->diff_mask = 3u;
    c->out_len = 2 * 6 * 5;
    c->ref = bcast_ref;
    c->fwd = bcast_fwd;
    c->bwd = bcast_bwd;
}

static void axpy_ref(const oc_case *c, double *const *in, double *out, double *aux)
{
    (void)aux;
    lcmd_ref_axpy(out, c->f[0], in[1], c->d[0]);
}

static lcmd_status axpy_fwd(lcmd_backend *be, lcmd_dtype dt, const oc_case *c, const oc_bufs *b)
{
    return lcmd_op_axpy(be, dt, b->out, c->f[0], b->in[1], c->d[0]);
}

static void scale_ref(const oc_case *c, double *const *in, double *out, double *aux)
{
    (void)in;
    (void)aux;
    lcmd_ref_scale(out, c->f[0], c->d[0]);
}

static lcmd_status scale_fwd(lcmd_backend *be, lcmd_dtype dt, const oc_case *c, const oc_bufs *b)
{
    return lcmd_op_scale(be, dt, b->out, c->f[0], c->d[0]);
}

/* in place on input 0: v 0 axpy (y += alpha x), 1 scale (y *= alpha) */
static void build_inplace(oc_case *c, int v)
{
    c->d[0] = 31;
    c->f[0] = -0.625f;
    c->n_in = v ? 1 : 2;
    c->in_len[0] = c->in_len[1] = 31;
    c->inplace = 0;
    c->out_len = 31;
    c->ref = v ? scale_ref : axpy_ref;
    c->fwd = v ? scale_fwd : axpy_fwd;
}

static void concat_ref(const oc_case *c, double *const *in, double *out, double *aux)
{
    (void)aux;
    lcmd_ref_concat(out, in[0], in[1], c->d[0], c->d[1], c->d[2]);
}

static lcmd_status concat_fwd(lcmd_backend *be, lcmd_dtype dt, const oc_case *c, const oc_bufs *b)
{
    return lcmd_op_concat_fwd(be, dt, b->out, b->in[0], b->in[1], c->d[0], c->d[1], c->d[2]);
}

static lcmd_status concat_bwd(lcmd_backend *be, lcmd_dtype dt, const oc_case *c, const oc_bufs *b)
{
    return lcmd_op_concat_bwd(be, dt, b->grad[0], b->grad[1], b->dout, c->d[0], c->d[1], c->d[2]);
}

static void build_concat(oc_case *c, int v)
{
    (void)v;
    c->d[0] = 7; c->d[1] = 3; c->d[2] = 5;
    c->n_in = 2;
    c->in_len[0] = 21;
    c->in_len[1] = 35;
    c->diff_mask = 3u;
    c->out_len = 56;
    c->ref = concat_ref;
    c->fwd = concat_fwd;
    c->bwd = concat_bwd;
}

/* ---------------------------------------------------------------- timestep embedding */

static void temb_ref(const oc_case *c, double *const *in, double *out, double *aux)
{
    (void)aux;
    lcmd_ref_timestep_emb(out, in[0], c->d[0], c->d[1], c->flag[0], c->f[0], c->f[1], c->f[2]);
}

static lcmd_status temb_fwd(lcmd_backend *be, lcmd_dtype dt, const oc_case *c, const oc_bufs *b)
{
    return lcmd_op_timestep_emb_fwd(be, dt, b->out, b->in[0], c->d[0], c->d[1], c->flag[0], c->f[0], c->f[1],
                                    c->f[2]);
}

static lcmd_status temb_bwd(lcmd_backend *be, lcmd_dtype dt, const oc_case *c, const oc_bufs *b)
{
    return lcmd_op_timestep_emb_bwd(be, dt, b->grad[0], b->dout, b->in[0], c->d[0], c->d[1], c->flag[0], c->f[0],
                                    c->f[1], c->f[2]);
}

/* v: 0 even dim, no flip, shift 1 (SD's time_proj); 1 odd dim, flip, shift 0, scale 2 */
static void build_temb(oc_case *c, int v)
{
    c->d[0] = 3;
    c->d[1] = v ? 9 : 8;
    c->flag[0] = v;
    c->f[0] = v ? 0.0f : 1.0f;
    c->f[1] = v ? 2.0f : 1.0f;
    c->f[2] = 10000.0f;
    c->n_in = 1;
    c->in_len[0] = 3;
    /* small t: an fp32 angle scale * t * f of size ~1000 would carry 1e-4 of rounding */
    c->in_lo[0] = 0.0;
    c->in_hi[0] = 12.0;
    c->f32_mask = 1u;
    c->diff_mask = 1u;
    c->out_len = 3 * c->d[1];
    c->ref = temb_ref;
    c->fwd = temb_fwd;
    c->bwd = temb_bwd;
}

/* ---------------------------------------------------------------- the list */

typedef struct oc_entry {
    const char *name;
    void (*build)(oc_case *c, int variant);
    int variant;
} oc_entry;

static const oc_entry entries[] = {
    {"gemm_nn", build_gemm, 0},
    {"gemm_tn", build_gemm, 1},
    {"gemm_nt", build_gemm, 2},
    {"gemm_tt", build_gemm, 3},
    {"gemm_nn_beta0", build_gemm, 4},
    {"linear_bias", build_linear, 1},
    {"linear_nobias", build_linear, 0},
    {"conv2d_k3_s1_p1_bias", build_conv, 0},
    {"conv2d_k3_s2_p1", build_conv, 1},
    {"conv2d_k1_s1_p0_bias", build_conv, 2},
    {"conv2d_k1_s2_p0", build_conv, 3},
    {"conv2d_k3x2_s1_p0_bias", build_conv, 4},
    {"conv2d_k3_s2_p0", build_conv, 5},
    {"groupnorm", build_groupnorm, 0},
    {"groupnorm_silu", build_groupnorm, 1},
    {"layernorm", build_layernorm, 0},
    {"act_silu", build_act, LCMD_ACT_SILU},
    {"act_gelu", build_act, LCMD_ACT_GELU},
    {"act_gelu_tanh", build_act, LCMD_ACT_GELU_TANH},
    {"act_quick_gelu", build_act, LCMD_ACT_QUICK_GELU},
    {"geglu", build_geglu, 0},
    {"softmax", build_softmax, 0},
    {"attention_self", build_attention, 0},
    {"attention_cross", build_attention, 1},
    {"attention_causal", build_attention, 2},
    {"attention_fused_qkv", build_attention, 3},
    {"upsample2x", build_upsample, 0},
    {"add", build_binary, 0},
    {"add_bcast", build_add_bcast, 0},
    {"mul", build_binary, 1},
    {"axpy", build_inplace, 0},
    {"scale", build_inplace, 1},
    {"concat", build_concat, 0},
    {"timestep_emb", build_temb, 0},
    {"timestep_emb_odd_flip", build_temb, 1},
};

int lcmd_oc_count(void) { return (int)(sizeof entries / sizeof entries[0]); }

int lcmd_oc_get(int i, oc_case *c)
{
    if (i < 0 || i >= lcmd_oc_count()) return 0;
    memset(c, 0, sizeof *c);
    c->inplace = -1;
    entries[i].build(c, entries[i].variant);
    c->name = entries[i].name;
    for (int k = 0; k < OC_MAX_IN; k++)
        if (c->in_lo[k] == 0.0 && c->in_hi[k] == 0.0) {
            c->in_lo[k] = -1.0;
            c->in_hi[k] = 1.0;
        }
    return 1;
}
