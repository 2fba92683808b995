/* 2-D convolution through cuDNN's convolution API: NHWC activations, KRSC (NHWC
 * filter format) weights, fp32 compute. Per shape and direction the algorithm is
 * chosen once with cudnnFind*AlgorithmEx (on scratch outputs for the backward
 * directions, which accumulate with beta = 1) and cached with its math type and
 * workspace size. fp32 uses CUDNN_FMA_MATH only (no TF32) and skips the FFT and
 * non-fused Winograd algorithms, whose rounding is outside 1e-5. */
#include <stdlib.h>
#include <string.h>

#include "ops/cuda/cu_common.cuh"
#include "ops/cuda/cu_cache.h"

#define FIND_WS_LIMIT ((size_t)256 << 20)

enum { DIR_FWD = 0, DIR_BWD_DATA = 1, DIR_BWD_FILTER = 2 };

struct lcmd_cu_conv_key {
    int32_t dt;
    int64_t n, h, w, c_in, c_out;
    int32_t kh, kw, stride, pad;
};

struct lcmd_cu_conv_entry {
    int valid;
    lcmd_cu_conv_key key;
    cudnnTensorDescriptor_t x, y;
    cudnnFilterDescriptor_t w;
    cudnnConvolutionDescriptor_t conv[3];
    int have[3];
    int algo[3];
    size_t ws[3];
};

static void entry_clear(lcmd_cu_conv_entry *e)
{
    if (e->x) cudnnDestroyTensorDescriptor(e->x);
    if (e->y) cudnnDestroyTensorDescriptor(e->y);
    if (e->w) cudnnDestroyFilterDescriptor(e->w);
    for (int i = 0; i < 3; i++)
        if (e->conv[i]) cudnnDestroyConvolutionDescriptor(e->conv[i]);
    memset(e, 0, sizeof(*e));
}

extern "C" lcmd_status lcmd_cu_conv_cache_new(lcmd_cu_conv_entry **out)
{
    *out = (lcmd_cu_conv_entry *)calloc(LCMD_CU_CACHE, sizeof(lcmd_cu_conv_entry));
    if (!*out) return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "cuda conv cache: out of host memory");
    return LCMD_OK;
}

extern "C" void lcmd_cu_conv_cache_free(lcmd_cu_conv_entry *c)
{
    for (int i = 0; i < LCMD_CU_CACHE; i++) entry_clear(&c[i]);
    free(c);
}

static cudnnDataType_t dnn_type(lcmd_dtype dt)
{
    return dt == LCMD_DT_F32 ? CUDNN_DATA_FLOAT : dt == LCMD_DT_F16 ? CUDNN_DATA_HALF : CUDNN_DATA_BFLOAT16;
}

static lcmd_status make_descs(lcmd_cu_conv_entry *e, const lcmd_cu_conv_key *k)
{
    cudnnDataType_t ty = dnn_type((lcmd_dtype)k->dt);
    lcmd_conv2d_shape s;
    s.n = k->n; s.h = k->h; s.w = k->w; s.c_in = k->c_in; s.c_out = k->c_out;
    s.kh = k->kh; s.kw = k->kw; s.stride = k->stride; s.pad = k->pad;
    int ho = (int)lcmd_conv2d_out_h(&s), wo = (int)lcmd_conv2d_out_w(&s);
    LCMD_CU_DNN_TRY(cudnnCreateTensorDescriptor(&e->x));
    LCMD_CU_DNN_TRY(cudnnCreateTensorDescriptor(&e->y));
    LCMD_CU_DNN_TRY(cudnnCreateFilterDescriptor(&e->w));
    LCMD_CU_DNN_TRY(cudnnSetTensor4dDescriptor(e->x, CUDNN_TENSOR_NHWC, ty, (int)k->n, (int)k->c_in, (int)k->h, (int)k->w));
    LCMD_CU_DNN_TRY(cudnnSetTensor4dDescriptor(e->y, CUDNN_TENSOR_NHWC, ty, (int)k->n, (int)k->c_out, ho, wo));
    LCMD_CU_DNN_TRY(cudnnSetFilter4dDescriptor(e->w, ty, CUDNN_TENSOR_NHWC, (int)k->c_out, (int)k->c_in, k->kh, k->kw));
    for (int i = 0; i < 3; i++) {
        LCMD_CU_DNN_TRY(cudnnCreateConvolutionDescriptor(&e->conv[i]));
        LCMD_CU_DNN_TRY(cudnnSetConvolution2dDescriptor(e->conv[i], k->pad, k->pad, k->stride, k->stride, 1, 1,
                                                        CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
        LCMD_CU_DNN_TRY(cudnnSetConvolutionMathType(e->conv[i], k->dt == LCMD_DT_F32 ? CUDNN_FMA_MATH : CUDNN_TENSOR_OP_MATH));
    }
    return LCMD_OK;
}

static lcmd_status get_entry(lcmd_cu_backend *cb, lcmd_dtype dt, const lcmd_conv2d_shape *s, lcmd_cu_conv_entry **out)
{
    lcmd_cu_conv_key k;
    memset(&k, 0, sizeof(k));
    k.dt = dt; k.n = s->n; k.h = s->h; k.w = s->w; k.c_in = s->c_in; k.c_out = s->c_out;
    k.kh = s->kh; k.kw = s->kw; k.stride = s->stride; k.pad = s->pad;
    for (int i = 0; i < LCMD_CU_CACHE; i++) {
        lcmd_cu_conv_entry *e = &cb->conv_cache[i];
        if (e->valid && memcmp(&e->key, &k, sizeof(k)) == 0) {
            *out = e;
            return LCMD_OK;
        }
    }
    lcmd_cu_conv_entry *e = &cb->conv_cache[cb->conv_next];
    cb->conv_next = (cb->conv_next + 1) % LCMD_CU_CACHE;
    entry_clear(e);
    e->key = k;
    lcmd_status st = make_descs(e, &k);
    if (st != LCMD_OK) {
        entry_clear(e);
        return st;
    }
    e->valid = 1;
    *out = e;
    return LCMD_OK;
}

/* fp32: FMA math only, and no FFT / non-fused Winograd (accuracy) */
static bool algo_ok(int dir, int algo, cudnnMathType_t mt, bool f32)
{
    if (!f32) return true;
    if (mt == CUDNN_TENSOR_OP_MATH || mt == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION) return false;
    if (dir == DIR_FWD)
        return algo != CUDNN_CONVOLUTION_FWD_ALGO_FFT && algo != CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING &&
               algo != CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED;
    if (dir == DIR_BWD_DATA)
        return algo != CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT && algo != CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT_TILING &&
               algo != CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD_NONFUSED;
    return algo != CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT && algo != CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT_TILING &&
           algo != CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD_NONFUSED;
}

/* Pick from perf results (sorted fastest first). */
template <typename P>
static bool pick(int dir, const P *res, int count, bool f32, int *algo, cudnnMathType_t *mt, size_t *ws)
{
    for (int i = 0; i < count; i++) {
        if (res[i].status != CUDNN_STATUS_SUCCESS) continue;
        if (res[i].memory > FIND_WS_LIMIT) continue;
        if (!algo_ok(dir, (int)res[i].algo, res[i].mathType, f32)) continue;
        *algo = (int)res[i].algo;
        *mt = res[i].mathType;
        *ws = res[i].memory;
        return true;
    }
    return false;
}

static lcmd_status choose(lcmd_cu_backend *cb, lcmd_cu_conv_entry *e, int dir, const void *x, const void *w,
                          const void *y, size_t out_bytes)
{
    const bool f32 = e->key.dt == LCMD_DT_F32;
    /* scratch: find workspace, plus a stand-in output for the accumulating directions */
    size_t sz[2] = {FIND_WS_LIMIT, dir == DIR_FWD ? 0 : out_bytes};
    void *p[2] = {NULL, NULL};
    LCMD_TRY(lcmd_cu_scratch(cb, 2, sz, p));
    int algo = -1;
    cudnnMathType_t mt = CUDNN_DEFAULT_MATH;
    size_t ws = 0;
    bool ok = false;
    int got = 0;
    cudnnConvolutionDescriptor_t cd = e->conv[dir];
    if (dir == DIR_FWD) {
        cudnnConvolutionFwdAlgoPerf_t res[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
        LCMD_CU_DNN_TRY(cudnnFindConvolutionForwardAlgorithmEx(cb->dnn, e->x, x, e->w, w, cd, e->y, (void *)y,
                                                               CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &got, res, p[0], sz[0]));
        ok = pick(dir, res, got, f32, &algo, &mt, &ws);
        if (!ok) {
            LCMD_CU_DNN_TRY(cudnnGetConvolutionForwardAlgorithm_v7(cb->dnn, e->x, e->w, cd, e->y,
                                                                   CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &got, res));
            ok = pick(dir, res, got, f32, &algo, &mt, &ws);
        }
    } else if (dir == DIR_BWD_DATA) {
        cudnnConvolutionBwdDataAlgoPerf_t res[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
        LCMD_CU_DNN_TRY(cudnnFindConvolutionBackwardDataAlgorithmEx(cb->dnn, e->w, w, e->y, y, cd, e->x, p[1],
                                                                    CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &got, res,
                                                                    p[0], sz[0]));
        ok = pick(dir, res, got, f32, &algo, &mt, &ws);
        if (!ok) {
            LCMD_CU_DNN_TRY(cudnnGetConvolutionBackwardDataAlgorithm_v7(cb->dnn, e->w, e->y, cd, e->x,
                                                                        CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &got, res));
            ok = pick(dir, res, got, f32, &algo, &mt, &ws);
        }
    } else {
        cudnnConvolutionBwdFilterAlgoPerf_t res[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
        LCMD_CU_DNN_TRY(cudnnFindConvolutionBackwardFilterAlgorithmEx(cb->dnn, e->x, x, e->y, y, cd, e->w, p[1],
                                                                      CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &got,
                                                                      res, p[0], sz[0]));
        ok = pick(dir, res, got, f32, &algo, &mt, &ws);
        if (!ok) {
            LCMD_CU_DNN_TRY(cudnnGetConvolutionBackwardFilterAlgorithm_v7(cb->dnn, e->x, e->y, cd, e->w,
                                                                          CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &got, res));
            ok = pick(dir, res, got, f32, &algo, &mt, &ws);
        }
    }
    static const char *const names[3] = {"forward", "backward data", "backward filter"};
    if (!ok)
        return lcmd_set_error(LCMD_ERR_UNSUPPORTED,
                              "cuDNN: no usable %s convolution algorithm for %s n=%lld h=%lld w=%lld c_in=%lld c_out=%lld k=%dx%d stride=%d pad=%d",
                              names[dir], lcmd_dtype_name((lcmd_dtype)e->key.dt), (long long)e->key.n, (long long)e->key.h,
                              (long long)e->key.w, (long long)e->key.c_in, (long long)e->key.c_out, e->key.kh, e->key.kw,
                              e->key.stride, e->key.pad);
    LCMD_CU_DNN_TRY(cudnnSetConvolutionMathType(cd, f32 ? CUDNN_FMA_MATH : mt));
    e->algo[dir] = algo;
    e->ws[dir] = ws;
    e->have[dir] = 1;
    return LCMD_OK;
}

extern "C" lcmd_status lcmd_cu_conv2d_fwd(lcmd_backend *be, lcmd_dtype dt, const lcmd_conv2d_shape *s,
                                          void *out, const void *inp, const void *w, const void *bias)
{
    lcmd_cu_backend *cb = lcmd_cu(be);
    LCMD_TRY(lcmd_cu_enter(cb));
    if (s->n <= 0) return LCMD_OK;
    lcmd_cu_conv_entry *e = NULL;
    LCMD_TRY(get_entry(cb, dt, s, &e));
    if (!e->have[DIR_FWD]) LCMD_TRY(choose(cb, e, DIR_FWD, inp, w, out, 0));
    void *ws = NULL;
    size_t wsz = e->ws[DIR_FWD];
    LCMD_TRY(lcmd_cu_scratch(cb, 1, &wsz, &ws));
    const float one = 1.0f, zero = 0.0f;
    LCMD_CU_DNN_TRY(cudnnConvolutionForward(cb->dnn, &one, e->x, inp, e->w, w, e->conv[DIR_FWD],
                                            (cudnnConvolutionFwdAlgo_t)e->algo[DIR_FWD], ws, wsz, &zero, e->y, out));
    if (bias) {
        int64_t rows = s->n * lcmd_conv2d_out_h(s) * lcmd_conv2d_out_w(s);
        LCMD_TRY(lcmd_cu_bias_add(cb, dt, out, bias, rows, s->c_out));
    }
    return LCMD_OK;
}

extern "C" lcmd_status lcmd_cu_conv2d_bwd(lcmd_backend *be, lcmd_dtype dt, const lcmd_conv2d_shape *s,
                                          void *dinp, void *dw, void *dbias,
                                          const void *dout, const void *inp, const void *w)
{
    lcmd_cu_backend *cb = lcmd_cu(be);
    LCMD_TRY(lcmd_cu_enter(cb));
    if (s->n <= 0) return LCMD_OK;
    const int64_t rows = s->n * lcmd_conv2d_out_h(s) * lcmd_conv2d_out_w(s);
    if (dbias) LCMD_TRY(lcmd_cu_colsum_acc(cb, dt, dbias, dout, 1, rows, s->c_out));
    if (!dinp && !dw) return LCMD_OK;
    lcmd_cu_conv_entry *e = NULL;
    LCMD_TRY(get_entry(cb, dt, s, &e));
    const float one = 1.0f;
    const size_t es = lcmd_dtype_size(dt);
    if (dinp) {
        if (!e->have[DIR_BWD_DATA])
            LCMD_TRY(choose(cb, e, DIR_BWD_DATA, NULL, w, dout, (size_t)(s->n * s->h * s->w * s->c_in) * es));
        void *ws = NULL;
        size_t wsz = e->ws[DIR_BWD_DATA];
        LCMD_TRY(lcmd_cu_scratch(cb, 1, &wsz, &ws));
        LCMD_CU_DNN_TRY(cudnnConvolutionBackwardData(cb->dnn, &one, e->w, w, e->y, dout, e->conv[DIR_BWD_DATA],
                                                     (cudnnConvolutionBwdDataAlgo_t)e->algo[DIR_BWD_DATA], ws, wsz,
                                                     &one, e->x, dinp));
    }
    if (dw) {
        if (!e->have[DIR_BWD_FILTER])
            LCMD_TRY(choose(cb, e, DIR_BWD_FILTER, inp, NULL, dout, (size_t)(s->c_out * s->kh * s->kw * s->c_in) * es));
        void *ws = NULL;
        size_t wsz = e->ws[DIR_BWD_FILTER];
        LCMD_TRY(lcmd_cu_scratch(cb, 1, &wsz, &ws));
        LCMD_CU_DNN_TRY(cudnnConvolutionBackwardFilter(cb->dnn, &one, e->x, inp, e->y, dout, e->conv[DIR_BWD_FILTER],
                                                       (cudnnConvolutionBwdFilterAlgo_t)e->algo[DIR_BWD_FILTER], ws, wsz,
                                                       &one, e->w, dw));
    }
    return LCMD_OK;
}
