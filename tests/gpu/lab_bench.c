/* Timings at SD1.5 shapes with CUDA events on the backend's stream: warm-up, then
 * the median of N runs. Each line gives the bytes and FLOPs the op must move/do,
 * the achieved GB/s and TFLOP/s, and the fraction of the measured ceilings
 * (device-to-device copy bandwidth; bf16 and fp32 cuBLASLt GEMM rates) that the
 * op's floor max(bytes / BW, flops / peak) represents. Inputs are random, never
 * zero; buffers are reused across runs, so shapes that fit in L2 (50-60 MB) can
 * beat the DRAM bandwidth. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime_api.h>

#include "lab.h"
#include "ops/cuda/cu_backend.h"

typedef struct bench_row {
    char op[48], dt[6], shape[48];
    double ms, bytes, flops, pct;
    const char *bound;
} bench_row;

#define MAXROWS 64
static bench_row g_rows[MAXROWS];
static int g_nrows;
static double g_bw = 0.0, g_peak_bf16 = 0.0, g_peak_f32 = 0.0;   /* bytes/s, flop/s */

typedef struct bctx {
    lcmd_backend *be;
    lcmd_dtype dt;
    int op;
    void *p[12];
    lcmd_conv2d_shape conv;
    lcmd_attn_shape attn;
    int64_t i[6];
} bctx;

enum { B_COPY, B_GEMM, B_CONV_F, B_CONV_BD, B_CONV_BF, B_GN_F, B_GN_B, B_LN_F, B_LN_B, B_GEGLU_F, B_GEGLU_B,
       B_ATT_F, B_ATT_B, B_LIN_F, B_LIN_B };

static lcmd_status bench_run(bctx *c)
{
    lcmd_backend *be = c->be;
    const lcmd_ops *o = be->ops;
    void **p = c->p;
    const int64_t *i = c->i;
    switch (c->op) {
    case B_COPY: {
        cudaError_t e = cudaMemcpyAsync(p[0], p[1], (size_t)i[0], cudaMemcpyDeviceToDevice, lcmd_cu(be)->stream);
        return e == cudaSuccess ? LCMD_OK : LCMD_ERR_DEVICE;
    }
    case B_GEMM: return o->gemm(be, c->dt, 0, 0, i[0], i[1], i[2], 1.0f, p[0], i[2], 0, p[1], i[1], 0, 0.0f, p[2], i[1], 0, 1);
    case B_CONV_F: return o->conv2d_fwd(be, c->dt, &c->conv, p[0], p[1], p[2], p[3]);
    case B_CONV_BD: return o->conv2d_bwd(be, c->dt, &c->conv, p[4], NULL, NULL, p[0], p[1], p[2]);
    case B_CONV_BF: return o->conv2d_bwd(be, c->dt, &c->conv, NULL, p[5], NULL, p[0], p[1], p[2]);
    case B_GN_F: return o->groupnorm_fwd(be, c->dt, p[0], p[1], p[2], p[3], p[4], p[5], i[0], i[1], i[2], i[3], 1e-5f, 1);
    case B_GN_B: return o->groupnorm_bwd(be, c->dt, p[6], p[7], p[8], p[0], p[3], p[4], p[5], p[1], p[2], i[0], i[1], i[2], i[3], 1);
    case B_LN_F: return o->layernorm_fwd(be, c->dt, p[0], p[1], p[2], p[3], p[4], p[5], i[0], i[1], 1e-5f);
    case B_LN_B: return o->layernorm_bwd(be, c->dt, p[6], p[7], p[8], p[0], p[3], p[4], p[1], p[2], i[0], i[1]);
    case B_GEGLU_F: return o->geglu_fwd(be, c->dt, p[0], p[1], i[0], i[1]);
    case B_GEGLU_B: return o->geglu_bwd(be, c->dt, p[2], p[0], p[1], i[0], i[1]);
    case B_ATT_F: return o->attention_fwd(be, c->dt, &c->attn, p[0], p[1], p[2], p[3], p[4]);
    case B_ATT_B: return o->attention_bwd(be, c->dt, &c->attn, p[5], p[6], p[7], p[8], p[2], p[3], p[4], p[0], p[1]);
    case B_LIN_F: return o->linear_fwd(be, c->dt, p[0], p[1], p[2], p[3], i[0], i[1], i[2]);
    case B_LIN_B: return o->linear_bwd(be, c->dt, p[4], p[5], p[6], p[0], p[1], p[2], i[0], i[1], i[2]);
    }
    return LCMD_ERR_INTERNAL;
}

static int cmp_f(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* median ms over reps, after warm-up; <0 on error */
static double time_it(bctx *c, int reps)
{
    cudaStream_t s = lcmd_cu(c->be)->stream;
    cudaEvent_t e0, e1;
    if (cudaEventCreate(&e0) != cudaSuccess || cudaEventCreate(&e1) != cudaSuccess) return -1.0;
    float t[64];
    if (reps > 64) reps = 64;
    double res = -1.0;
    lcmd_status st = LCMD_OK;
    for (int w = 0; w < 3 && st == LCMD_OK; w++) st = bench_run(c);
    if (st == LCMD_OK) st = c->be->ops->sync(c->be);
    for (int r = 0; r < reps && st == LCMD_OK; r++) {
        cudaEventRecord(e0, s);
        st = bench_run(c);
        cudaEventRecord(e1, s);
        if (cudaEventSynchronize(e1) != cudaSuccess) st = LCMD_ERR_DEVICE;
        cudaEventElapsedTime(&t[r], e0, e1);
    }
    if (st == LCMD_OK) {
        qsort(t, (size_t)reps, sizeof(float), cmp_f);
        res = t[reps / 2];
    } else {
        printf("  bench error: %s: %s\n", lcmd_status_string(st), lcmd_last_error());
    }
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);
    return res;
}

/* device buffer of n elements of dt (fp32 when fp32 != 0), random in [-1, 1) */
static void *dev_rand(lcmd_backend *be, lcmd_dtype dt, size_t n, int fp32, uint64_t seed)
{
    static float host[1 << 20];
    static unsigned char stage[(1 << 20) * 4];
    lab_rng r = {seed};
    size_t es = fp32 ? 4 : lcmd_dtype_size(dt);
    void *p = NULL;
    if (be->ops->alloc(be, n * es, &p) != LCMD_OK) return NULL;
    for (size_t j = 0; j < (1u << 20); j++) host[j] = lab_unif(&r, -1.0f, 1.0f);
    if (fp32) memcpy(stage, host, sizeof host);
    else lab_to_dt(dt, stage, host, 1u << 20);
    for (size_t off = 0; off < n; off += (1u << 20)) {
        size_t m = n - off < (1u << 20) ? n - off : (1u << 20);
        if (be->ops->upload(be, (unsigned char *)p + off * es, stage, m * es) != LCMD_OK) {
            be->ops->free(be, p);
            return NULL;
        }
    }
    return p;
}

static void free_all(bctx *c)
{
    for (int j = 0; j < 12; j++)
        if (c->p[j]) c->be->ops->free(c->be, c->p[j]);
    memset(c->p, 0, sizeof c->p);
}

static void add_row(const char *op, lcmd_dtype dt, const char *shape, double ms, double bytes, double flops)
{
    if (g_nrows >= MAXROWS) return;
    bench_row *r = &g_rows[g_nrows++];
    snprintf(r->op, sizeof r->op, "%s", op);
    snprintf(r->dt, sizeof r->dt, "%s", lcmd_dtype_name(dt));
    snprintf(r->shape, sizeof r->shape, "%s", shape);
    r->ms = ms;
    r->bytes = bytes;
    r->flops = flops;
    double peak = dt == LCMD_DT_F32 ? g_peak_f32 : g_peak_bf16;
    double tm = g_bw > 0 ? bytes / g_bw : 0.0, tc = (peak > 0 && flops > 0) ? flops / peak : 0.0;
    r->bound = tc > tm ? "math" : "memory";
    r->pct = ms > 0 ? 100.0 * (tc > tm ? tc : tm) / (ms * 1e-3) : 0.0;
    if (ms < 0) {
        printf("%-22s %-4s %-30s ERROR\n", op, r->dt, shape);
        return;
    }
    printf("%-22s %-4s %-30s %9.4f ms %8.1f MB %9.2f GFLOP %8.1f GB/s %7.2f TFLOP/s  %5.1f%% of %s ceiling\n", op, r->dt,
           shape, ms, bytes / 1e6, flops / 1e9, bytes / (ms * 1e-3) / 1e9, flops / (ms * 1e-3) / 1e12, r->pct, r->bound);
}

static int ceilings(lcmd_backend *be, int reps)
{
    bctx c;
    memset(&c, 0, sizeof c);
    c.be = be;
    c.op = B_COPY;
    size_t bytes = (size_t)1 << 30;
    c.i[0] = (int64_t)bytes;
    c.p[0] = dev_rand(be, LCMD_DT_F32, bytes / 4, 1, 1);
    c.p[1] = dev_rand(be, LCMD_DT_F32, bytes / 4, 1, 2);
    if (!c.p[0] || !c.p[1]) return 1;
    double ms = time_it(&c, reps);
    free_all(&c);
    if (ms <= 0) return 1;
    g_bw = 2.0 * (double)bytes / (ms * 1e-3);
    printf("ceiling: device-to-device copy of 1 GiB: %.3f ms = %.0f GB/s (read + write)\n", ms, g_bw / 1e9);

    c.op = B_GEMM;
    c.dt = LCMD_DT_BF16;
    int64_t n = 8192;
    c.i[0] = c.i[1] = c.i[2] = n;
    for (int j = 0; j < 3; j++) c.p[j] = dev_rand(be, c.dt, (size_t)(n * n), 0, 10 + (uint64_t)j);
    ms = time_it(&c, reps);
    free_all(&c);
    if (ms <= 0) return 1;
    g_peak_bf16 = 2.0 * (double)n * n * n / (ms * 1e-3);
    printf("ceiling: bf16 GEMM 8192^3 (cuBLASLt, fp32 accumulate): %.3f ms = %.1f TFLOP/s\n", ms, g_peak_bf16 / 1e12);

    c.dt = LCMD_DT_F32;
    n = 4096;
    c.i[0] = c.i[1] = c.i[2] = n;
    for (int j = 0; j < 3; j++) c.p[j] = dev_rand(be, c.dt, (size_t)(n * n), 0, 20 + (uint64_t)j);
    ms = time_it(&c, reps);
    free_all(&c);
    if (ms <= 0) return 1;
    g_peak_f32 = 2.0 * (double)n * n * n / (ms * 1e-3);
    printf("ceiling: f32 GEMM 4096^3 (cuBLASLt, no TF32): %.3f ms = %.1f TFLOP/s\n\n", ms, g_peak_f32 / 1e12);
    return 0;
}

static int bench_conv(lcmd_backend *be, lcmd_dtype dt, int64_t n, int64_t hw, int64_t ci, int64_t co, int reps, int dirs)
{
    bctx c;
    memset(&c, 0, sizeof c);
    c.be = be;
    c.dt = dt;
    lcmd_conv2d_shape s = {n, hw, hw, ci, co, 3, 3, 1, 1};
    c.conv = s;
    double es = (double)lcmd_dtype_size(dt);
    size_t nx = (size_t)(n * hw * hw * ci), ny = (size_t)(n * hw * hw * co), nw = (size_t)(co * 9 * ci);
    c.p[0] = dev_rand(be, dt, ny, 0, 31);   /* out / dout */
    c.p[1] = dev_rand(be, dt, nx, 0, 32);   /* inp */
    c.p[2] = dev_rand(be, dt, nw, 0, 33);   /* w */
    c.p[3] = dev_rand(be, dt, (size_t)co, 0, 34);
    c.p[4] = dev_rand(be, dt, nx, 0, 35);   /* dinp */
    c.p[5] = dev_rand(be, dt, nw, 0, 36);   /* dw */
    for (int j = 0; j < 6; j++)
        if (!c.p[j]) { free_all(&c); return 1; }
    char shape[48];
    snprintf(shape, sizeof shape, "%lldx%lldx%lldx%lld->%lld k3", (long long)n, (long long)hw, (long long)hw,
             (long long)ci, (long long)co);
    double fl = 2.0 * (double)ny * (double)ci * 9.0;
    c.op = B_CONV_F;
    add_row("conv2d fwd", dt, shape, time_it(&c, reps), (nx + ny + nw + co) * es, fl);
    if (dirs > 1) {
        c.op = B_CONV_BD;
        add_row("conv2d bwd-data", dt, shape, time_it(&c, reps), (ny + nw + 2.0 * nx) * es, fl);
        c.op = B_CONV_BF;
        add_row("conv2d bwd-filter", dt, shape, time_it(&c, reps), (ny + nx + 2.0 * nw) * es, fl);
    }
    free_all(&c);
    return 0;
}

static int bench_norms(lcmd_backend *be, lcmd_dtype dt, int reps)
{
    bctx c;
    memset(&c, 0, sizeof c);
    c.be = be;
    c.dt = dt;
    double es = (double)lcmd_dtype_size(dt);
    /* groupnorm + silu, 2 x 64x64 x 320, 32 groups */
    int64_t n = 2, hw = 4096, ch = 320, g = 32;
    size_t nx = (size_t)(n * hw * ch);
    c.i[0] = n; c.i[1] = hw; c.i[2] = ch; c.i[3] = g;
    c.p[0] = dev_rand(be, dt, nx, 0, 41);
    c.p[1] = dev_rand(be, dt, (size_t)(n * g), 1, 42);
    c.p[2] = dev_rand(be, dt, (size_t)(n * g), 1, 43);
    c.p[3] = dev_rand(be, dt, nx, 0, 44);
    c.p[4] = dev_rand(be, dt, (size_t)ch, 0, 45);
    c.p[5] = dev_rand(be, dt, (size_t)ch, 0, 46);
    c.p[6] = dev_rand(be, dt, nx, 0, 47);
    c.p[7] = dev_rand(be, dt, (size_t)ch, 0, 48);
    c.p[8] = dev_rand(be, dt, (size_t)ch, 0, 49);
    for (int j = 0; j < 9; j++)
        if (!c.p[j]) { free_all(&c); return 1; }
    c.op = B_GN_F;
    add_row("groupnorm+silu fwd", dt, "2x64x64x320 g32", time_it(&c, reps), 2.0 * nx * es, 0.0);
    c.op = B_GN_B;   /* uses the stats just computed */
    add_row("groupnorm+silu bwd", dt, "2x64x64x320 g32", time_it(&c, reps), 4.0 * nx * es, 0.0);
    free_all(&c);
    /* layernorm 4096 x 320 */
    int64_t rows = 4096;
    nx = (size_t)(rows * ch);
    c.i[0] = rows; c.i[1] = ch;
    c.p[0] = dev_rand(be, dt, nx, 0, 51);
    c.p[1] = dev_rand(be, dt, (size_t)rows, 1, 52);
    c.p[2] = dev_rand(be, dt, (size_t)rows, 1, 53);
    c.p[3] = dev_rand(be, dt, nx, 0, 54);
    c.p[4] = dev_rand(be, dt, (size_t)ch, 0, 55);
    c.p[5] = dev_rand(be, dt, (size_t)ch, 0, 56);
    c.p[6] = dev_rand(be, dt, nx, 0, 57);
    c.p[7] = dev_rand(be, dt, (size_t)ch, 0, 58);
    c.p[8] = dev_rand(be, dt, (size_t)ch, 0, 59);
    for (int j = 0; j < 9; j++)
        if (!c.p[j]) { free_all(&c); return 1; }
    c.op = B_LN_F;
    add_row("layernorm fwd", dt, "4096x320", time_it(&c, reps), 2.0 * nx * es, 0.0);
    c.op = B_LN_B;
    add_row("layernorm bwd", dt, "4096x320", time_it(&c, reps), 4.0 * nx * es, 0.0);
    free_all(&c);
    /* geglu: inp 4096 x 2560 = [a | g], out 4096 x 1280 */
    int64_t d = 1280;
    c.i[0] = rows; c.i[1] = d;
    c.p[0] = dev_rand(be, dt, (size_t)(rows * d), 0, 61);
    c.p[1] = dev_rand(be, dt, (size_t)(rows * 2 * d), 0, 62);
    c.p[2] = dev_rand(be, dt, (size_t)(rows * 2 * d), 0, 63);
    for (int j = 0; j < 3; j++)
        if (!c.p[j]) { free_all(&c); return 1; }
    c.op = B_GEGLU_F;
    add_row("geglu fwd", dt, "4096x2560->1280", time_it(&c, reps), 3.0 * rows * d * es, 0.0);
    c.op = B_GEGLU_B;
    add_row("geglu bwd", dt, "4096x2560->1280", time_it(&c, reps), 7.0 * rows * d * es, 0.0);
    free_all(&c);
    return 0;
}

/* 2 x 8 heads, sq queries, skv keys, head_dim hd; q/k/v/out as [2 * tokens, 8 * hd] */
static int bench_attn(lcmd_backend *be, lcmd_dtype dt, int64_t sq, int64_t skv, int64_t hd, int reps, int bwd)
{
    bctx c;
    memset(&c, 0, sizeof c);
    c.be = be;
    c.dt = dt;
    lcmd_attn_shape s;
    memset(&s, 0, sizeof s);
    s.b = 2; s.heads = 8; s.sq = sq; s.skv = skv; s.head_dim = hd;
    const int64_t ch = s.heads * hd;
    s.ldq = s.ldk = s.ldv = s.ldo = ch;
    s.scale = 1.0f / sqrtf((float)hd);
    c.attn = s;
    double es = (double)lcmd_dtype_size(dt);
    size_t nq = (size_t)(s.b * s.sq * ch), nk = (size_t)(s.b * skv * ch), nl = (size_t)(s.b * s.heads * s.sq);
    c.p[0] = dev_rand(be, dt, nq, 0, 71);   /* out */
    c.p[1] = dev_rand(be, dt, nl, 1, 72);   /* lse */
    c.p[2] = dev_rand(be, dt, nq, 0, 73);   /* q */
    c.p[3] = dev_rand(be, dt, nk, 0, 74);   /* k */
    c.p[4] = dev_rand(be, dt, nk, 0, 75);   /* v */
    c.p[5] = dev_rand(be, dt, nq, 0, 76);   /* dq */
    c.p[6] = dev_rand(be, dt, nk, 0, 77);   /* dk */
    c.p[7] = dev_rand(be, dt, nk, 0, 78);   /* dv */
    c.p[8] = dev_rand(be, dt, nq, 0, 79);   /* dout */
    for (int j = 0; j < 9; j++)
        if (!c.p[j]) { free_all(&c); return 1; }
    char shape[48];
    snprintf(shape, sizeof shape, "2x8 %lld/%lld d%lld", (long long)s.sq, (long long)skv, (long long)hd);
    double f = 4.0 * s.b * s.heads * (double)s.sq * (double)skv * (double)hd;
    c.op = B_ATT_F;
    add_row(skv == s.sq ? "self-attention fwd" : "cross-attention fwd", dt, shape, time_it(&c, reps),
            (2.0 * nq + 2.0 * nk) * es + 4.0 * nl, f);
    if (bwd) {
        /* out/lse from a real forward first */
        bench_run(&c);
        c.op = B_ATT_B;
        add_row(skv == s.sq ? "self-attention bwd" : "cross-attention bwd", dt, shape, time_it(&c, reps),
                (4.0 * nq + 2.0 * nk + 2.0 * nq + 4.0 * nk) * es + 4.0 * nl, 2.5 * f);
    }
    free_all(&c);
    return 0;
}

static int bench_linear(lcmd_backend *be, lcmd_dtype dt, int64_t m, int64_t k, int64_t n, int reps, int bwd)
{
    bctx c;
    memset(&c, 0, sizeof c);
    c.be = be;
    c.dt = dt;
    c.i[0] = m; c.i[1] = k; c.i[2] = n;
    double es = (double)lcmd_dtype_size(dt);
    c.p[0] = dev_rand(be, dt, (size_t)(m * n), 0, 81);
    c.p[1] = dev_rand(be, dt, (size_t)(m * k), 0, 82);
    c.p[2] = dev_rand(be, dt, (size_t)(n * k), 0, 83);
    c.p[3] = dev_rand(be, dt, (size_t)n, 0, 84);
    c.p[4] = dev_rand(be, dt, (size_t)(m * k), 0, 85);
    c.p[5] = dev_rand(be, dt, (size_t)(n * k), 0, 86);
    c.p[6] = dev_rand(be, dt, (size_t)n, 0, 87);
    for (int j = 0; j < 7; j++)
        if (!c.p[j]) { free_all(&c); return 1; }
    char shape[48];
    snprintf(shape, sizeof shape, "%lldx%lld->%lld +bias", (long long)m, (long long)k, (long long)n);
    double f = 2.0 * (double)m * n * k;
    c.op = B_LIN_F;
    add_row("linear fwd", dt, shape, time_it(&c, reps), ((double)m * k + (double)n * k + (double)m * n + n) * es, f);
    if (bwd) {
        c.op = B_LIN_B;
        add_row("linear bwd (dx,dw,db)", dt, shape, time_it(&c, reps),
                (2.0 * m * n + m * k + n * k + 2.0 * m * k + 2.0 * n * k + 2.0 * n) * es, 2.0 * f);
    }
    free_all(&c);
    return 0;
}

int lab_bench_all(lcmd_backend *gpu, int quick)
{
    int reps = quick ? 7 : 21;
    int err = 0;
    g_nrows = 0;
    printf("== timings (median of %d after 3 warm-ups, CUDA events) ==\n", reps);
    if (ceilings(gpu, reps)) {
        printf("ceiling measurement failed: %s\n", lcmd_last_error());
        return 1;
    }
    err |= bench_conv(gpu, LCMD_DT_BF16, 2, 64, 320, 320, reps, 3);
    err |= bench_conv(gpu, LCMD_DT_F32, 2, 64, 320, 320, reps, 3);
    err |= bench_conv(gpu, LCMD_DT_BF16, 2, 32, 640, 640, reps, 3);
    err |= bench_norms(gpu, LCMD_DT_BF16, reps);
    /* SD1.5 attention: 64x64 latents (4096 tokens, d40), 32x32 (1024, d80), 16x16 (256, d160) */
    err |= bench_attn(gpu, LCMD_DT_BF16, 4096, 4096, 40, reps, 1);
    err |= bench_attn(gpu, LCMD_DT_F16, 4096, 4096, 40, reps, 0);
    err |= bench_attn(gpu, LCMD_DT_F32, 4096, 4096, 40, quick ? 3 : 7, 0);
    err |= bench_attn(gpu, LCMD_DT_BF16, 4096, 77, 40, reps, 1);
    err |= bench_attn(gpu, LCMD_DT_BF16, 1024, 1024, 64, reps, 1);
    err |= bench_attn(gpu, LCMD_DT_BF16, 1024, 1024, 80, reps, 1);
    err |= bench_attn(gpu, LCMD_DT_BF16, 1024, 77, 80, reps, 1);
    err |= bench_attn(gpu, LCMD_DT_BF16, 256, 256, 160, reps, 1);
    err |= bench_linear(gpu, LCMD_DT_BF16, 4096, 320, 320, reps, 1);
    err |= bench_linear(gpu, LCMD_DT_BF16, 4096, 320, 2560, reps, 1);
    err |= bench_linear(gpu, LCMD_DT_F32, 4096, 320, 2560, reps, 0);
    if (err) printf("some benchmarks could not allocate: %s\n", lcmd_last_error());

    int dev = 0;
    struct cudaDeviceProp prop;
    cudaGetDevice(&dev);
    cudaGetDeviceProperties(&prop, dev);
    printf("\n### liblcmd CUDA ops on %s (ceilings: copy %.0f GB/s, bf16 GEMM %.0f TFLOP/s, f32 GEMM %.1f TFLOP/s)\n\n",
           prop.name, g_bw / 1e9, g_peak_bf16 / 1e12, g_peak_f32 / 1e12);
    printf("| op | dtype | shape | ms | GB/s | TFLOP/s | bound | %% of ceiling |\n");
    printf("|---|---|---|---:|---:|---:|---|---:|\n");
    for (int j = 0; j < g_nrows; j++) {
        bench_row *r = &g_rows[j];
        if (r->ms < 0) {
            printf("| %s | %s | %s | error | | | | |\n", r->op, r->dt, r->shape);
            continue;
        }
        char tf[24] = "-";
        if (r->flops > 0) snprintf(tf, sizeof tf, "%.2f", r->flops / (r->ms * 1e-3) / 1e12);
        printf("| %s | %s | %s | %.4f | %.0f | %s | %s | %.1f |\n", r->op, r->dt, r->shape, r->ms,
               r->bytes / (r->ms * 1e-3) / 1e9, tf, r->bound, r->pct);
    }
    printf("\n");
    for (int j = 0; j < g_nrows; j++)
        if (g_rows[j].ms < 0) err = 1;
    return err ? 1 : 0;
}
