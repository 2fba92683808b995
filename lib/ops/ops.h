/* The op interface: one table of forward and backward ops that every backend (CPU,
 * CUDA) implements, and checked wrappers that the models call.
 *
 * Conventions (docs/ops.md says why):
 *  - Activations are NHWC inside the library ([N, H*W, C] = tokens x channels), so
 *    the transformer blocks need no transposes and cuDNN can use tensor cores. Conv
 *    weights are [C_out, kh, kw, C_in]; linear weights are PyTorch's [out, in].
 *  - Every pointer is memory of the backend (host for CPU, device for CUDA).
 *  - `dt` is the storage type of activations, weights and gradients of one call;
 *    accumulation is fp32. Saved statistics (mean, rstd, lse) are always fp32.
 *    The CPU backend supports LCMD_DT_F32 only.
 *  - Backward ops ACCUMULATE into every gradient they write (dx += ...), so that a
 *    value used twice (residuals, gradient accumulation) needs no extra add. Any
 *    gradient pointer may be NULL when it is not wanted.
 *  - Forward ops overwrite their output; out == inp is allowed for the elementwise
 *    ops (act, add, mul, axpy, scale) and out == a for add_bcast, nowhere else.
 *  - Ops never allocate in the hot path: a backend keeps its scratch and grows it
 *    only when a larger shape first appears.
 *  - The lcmd_op_* wrappers check handles, pointers and shapes and set the error
 *    message; the backend functions behind them trust their arguments.
 *  - A backend is used by one thread at a time (its scratch is shared by its ops).
 *  - gemm: the C blocks of a batch must not overlap. attention_bwd: dq, dk, dv use the
 *    leading dimensions of q, k, v, and dout that of out (ldo).
 *  - timestep_emb needs dim >= 2 and shift != dim / 2. */
#ifndef LCMD_OPS_H
#define LCMD_OPS_H

#include <stddef.h>
#include <stdint.h>
#include <lcmd/status.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum lcmd_dtype {
    LCMD_DT_F32 = 0,
    LCMD_DT_F16 = 1,
    LCMD_DT_BF16 = 2
} lcmd_dtype;

size_t lcmd_dtype_size(lcmd_dtype dt);
const char *lcmd_dtype_name(lcmd_dtype dt);

typedef enum lcmd_act {
    LCMD_ACT_SILU = 0,       /* x * sigmoid(x) */
    LCMD_ACT_GELU = 1,       /* exact: x * Phi(x), with erf */
    LCMD_ACT_GELU_TANH = 2,  /* tanh approximation */
    LCMD_ACT_QUICK_GELU = 3  /* x * sigmoid(1.702 x), CLIP */
} lcmd_act;

/* Convolution geometry; output size ho = (h + 2 pad - kh) / stride + 1 (same for w). */
typedef struct lcmd_conv2d_shape {
    int64_t n, h, w, c_in, c_out;
    int32_t kh, kw, stride, pad;
} lcmd_conv2d_shape;

static inline int64_t lcmd_conv2d_out_h(const lcmd_conv2d_shape *s) { return (s->h + 2 * s->pad - s->kh) / s->stride + 1; }
static inline int64_t lcmd_conv2d_out_w(const lcmd_conv2d_shape *s) { return (s->w + 2 * s->pad - s->kw) / s->stride + 1; }

/* Multi-head scaled-dot-product attention. Element (b, token i, head h, d) of q is
 * q[(b * sq + i) * ldq + h * head_dim + d]; k, v likewise with skv, ldk, ldv; out
 * with ldo. So q, k, v may be column slices of one fused projection. lse is fp32
 * [b, heads, sq]: the log-sum-exp of each row's scaled scores, kept for backward.
 * causal: query i sees keys j <= i (needs sq == skv). */
typedef struct lcmd_attn_shape {
    int64_t b, heads, sq, skv, head_dim;
    int64_t ldq, ldk, ldv, ldo;
    float scale;
    int32_t causal;
} lcmd_attn_shape;

typedef struct lcmd_ops lcmd_ops;

/* The common head of every backend object; a backend embeds it first. */
typedef struct lcmd_backend {
    const lcmd_ops *ops;
    int32_t num_threads;   /* CPU threads for host loops */
    int32_t device;        /* CUDA ordinal, -1 for the CPU */
} lcmd_backend;

struct lcmd_ops {
    const char *name;  /* "cpu", "cuda" */
    void (*destroy)(lcmd_backend *be);

    /* memory */
    lcmd_status (*alloc)(lcmd_backend *be, size_t bytes, void **out);
    void (*free)(lcmd_backend *be, void *p);
    lcmd_status (*upload)(lcmd_backend *be, void *dst, const void *host_src, size_t bytes);
    lcmd_status (*download)(lcmd_backend *be, void *host_dst, const void *src, size_t bytes);
    lcmd_status (*zero)(lcmd_backend *be, void *dst, size_t bytes);
    lcmd_status (*sync)(lcmd_backend *be);
    /* dst[i] = (dst_dt) src[i], round to nearest even */
    lcmd_status (*convert)(lcmd_backend *be, lcmd_dtype dst_dt, void *dst,
                           lcmd_dtype src_dt, const void *src, size_t n);

    /* Row-major strided-batched GEMM: for each batch i,
     * C_i = alpha * op(A_i) * op(B_i) + beta * C_i, op(A) is m x k, op(B) is k x n. */
    lcmd_status (*gemm)(lcmd_backend *be, lcmd_dtype dt, int trans_a, int trans_b,
                        int64_t m, int64_t n, int64_t k, float alpha,
                        const void *a, int64_t lda, int64_t stride_a,
                        const void *b, int64_t ldb, int64_t stride_b, float beta,
                        void *c, int64_t ldc, int64_t stride_c, int64_t batch);

    /* out[M,N] = inp[M,K] * w[N,K]^T + bias[N] (bias may be NULL) */
    lcmd_status (*linear_fwd)(lcmd_backend *be, lcmd_dtype dt, void *out, const void *inp,
                              const void *w, const void *bias, int64_t m, int64_t k, int64_t n);
    lcmd_status (*linear_bwd)(lcmd_backend *be, lcmd_dtype dt, void *dinp, void *dw, void *dbias,
                              const void *dout, const void *inp, const void *w,
                              int64_t m, int64_t k, int64_t n);

    /* out[N,Ho,Wo,Cout] = conv(inp[N,H,W,Cin], w[Cout,kh,kw,Cin]) + bias[Cout] */
    lcmd_status (*conv2d_fwd)(lcmd_backend *be, lcmd_dtype dt, const lcmd_conv2d_shape *s,
                              void *out, const void *inp, const void *w, const void *bias);
    lcmd_status (*conv2d_bwd)(lcmd_backend *be, lcmd_dtype dt, const lcmd_conv2d_shape *s,
                              void *dinp, void *dw, void *dbias,
                              const void *dout, const void *inp, const void *w);

    /* GroupNorm over x[n, hw, c] with `groups` groups of c/groups consecutive
     * channels; out = (silu ? SiLU : id)(gamma * xhat + beta). mean, rstd: fp32 [n*groups]. */
    lcmd_status (*groupnorm_fwd)(lcmd_backend *be, lcmd_dtype dt, void *out, float *mean, float *rstd,
                                 const void *inp, const void *gamma, const void *beta,
                                 int64_t n, int64_t hw, int64_t c, int64_t groups, float eps, int silu);
    lcmd_status (*groupnorm_bwd)(lcmd_backend *be, lcmd_dtype dt, void *dinp, void *dgamma, void *dbeta,
                                 const void *dout, const void *inp, const void *gamma, const void *beta,
                                 const float *mean, const float *rstd,
                                 int64_t n, int64_t hw, int64_t c, int64_t groups, int silu);

    /* LayerNorm over the last dim of x[rows, c]; mean, rstd: fp32 [rows]. */
    lcmd_status (*layernorm_fwd)(lcmd_backend *be, lcmd_dtype dt, void *out, float *mean, float *rstd,
                                 const void *inp, const void *gamma, const void *beta,
                                 int64_t rows, int64_t c, float eps);
    lcmd_status (*layernorm_bwd)(lcmd_backend *be, lcmd_dtype dt, void *dinp, void *dgamma, void *dbeta,
                                 const void *dout, const void *inp, const void *gamma,
                                 const float *mean, const float *rstd, int64_t rows, int64_t c);

    /* elementwise activation over n values */
    lcmd_status (*act_fwd)(lcmd_backend *be, lcmd_dtype dt, lcmd_act act, void *out, const void *inp, int64_t n);
    lcmd_status (*act_bwd)(lcmd_backend *be, lcmd_dtype dt, lcmd_act act, void *dinp,
                           const void *dout, const void *inp, int64_t n);

    /* GEGLU: inp[rows, 2d] = [a | g]; out[rows, d] = a * GELU(g) (exact GELU) */
    lcmd_status (*geglu_fwd)(lcmd_backend *be, lcmd_dtype dt, void *out, const void *inp, int64_t rows, int64_t d);
    lcmd_status (*geglu_bwd)(lcmd_backend *be, lcmd_dtype dt, void *dinp, const void *dout,
                             const void *inp, int64_t rows, int64_t d);

    /* out[r, :] = softmax(scale * inp[r, :]) */
    lcmd_status (*softmax_fwd)(lcmd_backend *be, lcmd_dtype dt, void *out, const void *inp,
                               int64_t rows, int64_t cols, float scale);
    lcmd_status (*softmax_bwd)(lcmd_backend *be, lcmd_dtype dt, void *dinp, const void *dout,
                               const void *out, int64_t rows, int64_t cols, float scale);

    /* attention (see lcmd_attn_shape); the full score matrix is never required */
    lcmd_status (*attention_fwd)(lcmd_backend *be, lcmd_dtype dt, const lcmd_attn_shape *s,
                                 void *out, float *lse, const void *q, const void *k, const void *v);
    lcmd_status (*attention_bwd)(lcmd_backend *be, lcmd_dtype dt, const lcmd_attn_shape *s,
                                 void *dq, void *dk, void *dv, const void *dout,
                                 const void *q, const void *k, const void *v,
                                 const void *out, const float *lse);

    /* nearest 2x: out[n, 2h, 2w, c] from inp[n, h, w, c] */
    lcmd_status (*upsample2x_fwd)(lcmd_backend *be, lcmd_dtype dt, void *out, const void *inp,
                                  int64_t n, int64_t h, int64_t w, int64_t c);
    lcmd_status (*upsample2x_bwd)(lcmd_backend *be, lcmd_dtype dt, void *dinp, const void *dout,
                                  int64_t n, int64_t h, int64_t w, int64_t c);

    /* out = a + b (n values) */
    lcmd_status (*add_fwd)(lcmd_backend *be, lcmd_dtype dt, void *out, const void *a, const void *b, int64_t n);
    /* out[i, p, c] = a[i, p, c] + b[i, c]  (per-sample channel bias, e.g. time embedding) */
    lcmd_status (*add_bcast_fwd)(lcmd_backend *be, lcmd_dtype dt, void *out, const void *a, const void *b,
                                 int64_t n, int64_t p, int64_t c);
    /* da += dout; db[i, c] += sum_p dout[i, p, c] */
    lcmd_status (*add_bcast_bwd)(lcmd_backend *be, lcmd_dtype dt, void *da, void *db, const void *dout,
                                 int64_t n, int64_t p, int64_t c);
    /* out = a * b; backward: da += dout * b, db += dout * a */
    lcmd_status (*mul_fwd)(lcmd_backend *be, lcmd_dtype dt, void *out, const void *a, const void *b, int64_t n);
    lcmd_status (*mul_bwd)(lcmd_backend *be, lcmd_dtype dt, void *da, void *db, const void *dout,
                           const void *a, const void *b, int64_t n);
    /* y += alpha * x  (also the backward of add: accumulate dout into each input) */
    lcmd_status (*axpy)(lcmd_backend *be, lcmd_dtype dt, void *y, float alpha, const void *x, int64_t n);
    /* y *= alpha */
    lcmd_status (*scale)(lcmd_backend *be, lcmd_dtype dt, void *y, float alpha, int64_t n);

    /* channel concat: out[p, ca + cb] = [a[p, ca] | b[p, cb]]; backward splits */
    lcmd_status (*concat_fwd)(lcmd_backend *be, lcmd_dtype dt, void *out, const void *a, const void *b,
                              int64_t p, int64_t ca, int64_t cb);
    lcmd_status (*concat_bwd)(lcmd_backend *be, lcmd_dtype dt, void *da, void *db, const void *dout,
                              int64_t p, int64_t ca, int64_t cb);

    /* Sinusoidal timestep embedding as diffusers' get_timestep_embedding:
     * half = dim / 2, f_j = exp(-ln(max_period) * j / (half - shift)),
     * a_j = scale * t * f_j, out = [sin a | cos a] (flip: [cos a | sin a]), a zero
     * column appended when dim is odd. t is fp32 [n] (backend memory).
     * backward: dt[i] += sum_j dout[i, j] * d out[i, j] / d t[i]. */
    lcmd_status (*timestep_emb_fwd)(lcmd_backend *be, lcmd_dtype dt, void *out, const float *t, int64_t n,
                                    int64_t dim, int flip_sin_to_cos, float shift, float scale, float max_period);
    lcmd_status (*timestep_emb_bwd)(lcmd_backend *be, lcmd_dtype dt, float *dt_grad, const void *dout,
                                    const float *t, int64_t n, int64_t dim, int flip_sin_to_cos,
                                    float shift, float scale, float max_period);
};

/* Backend constructors. The CUDA one returns LCMD_ERR_UNSUPPORTED in a CPU-only
 * build and LCMD_ERR_DEVICE where no device is usable. Destroy with lcmd_backend_destroy. */
lcmd_status lcmd_cpu_backend_create(int32_t num_threads, lcmd_backend **out);
lcmd_status lcmd_cuda_backend_create(int32_t device, lcmd_backend **out);
int lcmd_cuda_backend_device_count(void);   /* 0 when none or no CUDA build */
void lcmd_backend_destroy(lcmd_backend *be);

#ifdef __cplusplus
}
#endif

#endif /* LCMD_OPS_H */
