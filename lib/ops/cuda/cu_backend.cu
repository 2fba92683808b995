/* CUDA backend: creation, handles, memory, scratch arena, error mapping. */
#include <stdlib.h>
#include <string.h>

#include "ops/cuda/cu_common.cuh"
#include "ops/cuda/cu_cache.h"

/* the call's name: the text of the expression up to its '(' */
static int call_len(const char *call)
{
    const char *p = strchr(call, '(');
    return p ? (int)(p - call) : (int)strlen(call);
}

extern "C" lcmd_status lcmd_cu_err(cudaError_t e, const char *call)
{
    lcmd_status st = (e == cudaErrorMemoryAllocation) ? LCMD_ERR_OUT_OF_MEMORY : LCMD_ERR_DEVICE;
    return lcmd_set_error(st, "%.*s: %s: %s (code %d)", call_len(call), call, cudaGetErrorName(e),
                          cudaGetErrorString(e), (int)e);
}

extern "C" lcmd_status lcmd_cu_blas_err(cublasStatus_t s, const char *call)
{
    lcmd_status st = (s == CUBLAS_STATUS_ALLOC_FAILED) ? LCMD_ERR_OUT_OF_MEMORY : LCMD_ERR_DEVICE;
    return lcmd_set_error(st, "%.*s: %s (code %d)", call_len(call), call, cublasLtGetStatusName(s), (int)s);
}

extern "C" lcmd_status lcmd_cu_dnn_err(cudnnStatus_t s, const char *call)
{
    lcmd_status st = (s == CUDNN_STATUS_ALLOC_FAILED) ? LCMD_ERR_OUT_OF_MEMORY : LCMD_ERR_DEVICE;
    return lcmd_set_error(st, "%.*s: %s (code %d)", call_len(call), call, cudnnGetErrorString(s), (int)s);
}

extern "C" lcmd_status lcmd_cu_launch_check(const char *what)
{
    cudaError_t e = cudaGetLastError();
    if (e == cudaSuccess) return LCMD_OK;
    return lcmd_set_error(LCMD_ERR_DEVICE, "kernel launch %s: %s: %s (code %d)", what, cudaGetErrorName(e),
                          cudaGetErrorString(e), (int)e);
}

extern "C" lcmd_status lcmd_cu_enter(lcmd_cu_backend *cb)
{
    int cur = -1;
    LCMD_CU_TRY(cudaGetDevice(&cur));
    if (cur != cb->head.device) LCMD_CU_TRY(cudaSetDevice(cb->head.device));
    return LCMD_OK;
}

extern "C" int lcmd_cuda_backend_device_count(void)
{
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        (void)cudaGetLastError();
        return 0;
    }
    return n;
}

extern "C" lcmd_status lcmd_cu_scratch(lcmd_cu_backend *cb, int count, const size_t *sizes, void **ptrs)
{
    size_t total = 0;
    for (int i = 0; i < count; i++) total += (sizes[i] + 255u) & ~(size_t)255u;
    if (total > cb->ws_cap) {
        /* first time this large: let queued work that uses the old block finish */
        size_t cap = total + total / 4 + (1u << 20);
        LCMD_CU_TRY(cudaStreamSynchronize(cb->stream));
        if (cb->ws) LCMD_CU_TRY(cudaFree(cb->ws));
        cb->ws = NULL;
        cb->ws_cap = 0;
        void *p = NULL;
        cudaError_t e = cudaMalloc(&p, cap);
        if (e != cudaSuccess) {
            (void)cudaGetLastError();
            return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "cuda scratch: cudaMalloc of %zu bytes: %s (code %d)",
                                  cap, cudaGetErrorName(e), (int)e);
        }
        cb->ws = p;
        cb->ws_cap = cap;
    }
    size_t off = 0;
    for (int i = 0; i < count; i++) {
        ptrs[i] = (unsigned char *)cb->ws + off;
        off += (sizes[i] + 255u) & ~(size_t)255u;
    }
    return LCMD_OK;
}

static void destroy_handles(lcmd_cu_backend *cb)
{
    if (cb->gemm_cache) lcmd_cu_gemm_cache_free(cb->gemm_cache);
    if (cb->conv_cache) lcmd_cu_conv_cache_free(cb->conv_cache);
    if (cb->dnn) cudnnDestroy(cb->dnn);
    if (cb->lt) cublasLtDestroy(cb->lt);
    if (cb->lt_ws) cudaFree(cb->lt_ws);
    if (cb->ws) cudaFree(cb->ws);
    if (cb->stream) cudaStreamDestroy(cb->stream);
}

extern "C" void lcmd_cu_destroy(lcmd_backend *be)
{
    if (!be) return;
    lcmd_cu_backend *cb = lcmd_cu(be);
    if (lcmd_cu_enter(cb) == LCMD_OK && cb->stream) (void)cudaStreamSynchronize(cb->stream);
    destroy_handles(cb);
    free(cb);
}

static lcmd_status create_fail(lcmd_cu_backend *cb, lcmd_status st)
{
    destroy_handles(cb);
    free(cb);
    (void)cudaGetLastError();
    return st;
}

extern "C" lcmd_status lcmd_cuda_backend_create(int32_t device, lcmd_backend **out)
{
    if (!out) return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "lcmd_cuda_backend_create: out is NULL");
    *out = NULL;
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        return lcmd_set_error(LCMD_ERR_DEVICE, "lcmd_cuda_backend_create: no usable CUDA device: cudaGetDeviceCount: %s (code %d)",
                              cudaGetErrorName(e), (int)e);
    }
    if (device < 0 || device >= count)
        return lcmd_set_error(LCMD_ERR_DEVICE, "lcmd_cuda_backend_create: device %d does not exist (%d visible)",
                              (int)device, count);
    lcmd_cu_backend *cb = (lcmd_cu_backend *)calloc(1, sizeof(*cb));
    if (!cb) return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "lcmd_cuda_backend_create: out of host memory");
    cb->head.ops = lcmd_cu_ops_table();
    cb->head.num_threads = 1;
    cb->head.device = device;
    lcmd_status st;
#define CREATE_TRY(expr) do { st = (expr); if (st != LCMD_OK) return create_fail(cb, st); } while (0)
    if ((e = cudaSetDevice(device)) != cudaSuccess) return create_fail(cb, lcmd_cu_err(e, "cudaSetDevice"));
    cudaDeviceProp prop;
    if ((e = cudaGetDeviceProperties(&prop, device)) != cudaSuccess)
        return create_fail(cb, lcmd_cu_err(e, "cudaGetDeviceProperties"));
    if (prop.major < 8)
        return create_fail(cb, lcmd_set_error(LCMD_ERR_UNSUPPORTED,
                                              "lcmd_cuda_backend_create: %s has compute capability %d.%d; 8.0 or newer is needed",
                                              prop.name, prop.major, prop.minor));
    cb->sm_count = prop.multiProcessorCount;
    cb->smem_optin = prop.sharedMemPerBlockOptin;
    {
        const char *tc = getenv("LCMD_CUDA_TC_ATTENTION");
        cb->tc_attention = !(tc && strcmp(tc, "0") == 0);
    }
    if ((e = cudaStreamCreateWithFlags(&cb->stream, cudaStreamNonBlocking)) != cudaSuccess)
        return create_fail(cb, lcmd_cu_err(e, "cudaStreamCreateWithFlags"));
    cublasStatus_t bs = cublasLtCreate(&cb->lt);
    if (bs != CUBLAS_STATUS_SUCCESS) return create_fail(cb, lcmd_cu_blas_err(bs, "cublasLtCreate"));
    cudnnStatus_t ds = cudnnCreate(&cb->dnn);
    if (ds != CUDNN_STATUS_SUCCESS) return create_fail(cb, lcmd_cu_dnn_err(ds, "cudnnCreate"));
    ds = cudnnSetStream(cb->dnn, cb->stream);
    if (ds != CUDNN_STATUS_SUCCESS) return create_fail(cb, lcmd_cu_dnn_err(ds, "cudnnSetStream"));
    if ((e = cudaMalloc(&cb->lt_ws, LCMD_CU_LT_WORKSPACE)) != cudaSuccess)
        return create_fail(cb, lcmd_cu_err(e, "cudaMalloc"));
    CREATE_TRY(lcmd_cu_gemm_cache_new(&cb->gemm_cache));
    CREATE_TRY(lcmd_cu_conv_cache_new(&cb->conv_cache));
#undef CREATE_TRY
    *out = &cb->head;
    return LCMD_OK;
}

/* ---- memory ---- */

extern "C" lcmd_status lcmd_cu_alloc(lcmd_backend *be, size_t bytes, void **out)
{
    lcmd_cu_backend *cb = lcmd_cu(be);
    LCMD_TRY(lcmd_cu_enter(cb));
    *out = NULL;
    void *p = NULL;
    cudaError_t e = cudaMalloc(&p, bytes ? bytes : 1);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        return lcmd_set_error(e == cudaErrorMemoryAllocation ? LCMD_ERR_OUT_OF_MEMORY : LCMD_ERR_DEVICE,
                              "cudaMalloc of %zu bytes on device %d: %s (code %d)", bytes, (int)be->device,
                              cudaGetErrorName(e), (int)e);
    }
    *out = p;
    return LCMD_OK;
}

extern "C" void lcmd_cu_free(lcmd_backend *be, void *p)
{
    if (!p) return;
    if (lcmd_cu_enter(lcmd_cu(be)) != LCMD_OK) return;
    (void)cudaFree(p);
}

extern "C" lcmd_status lcmd_cu_upload(lcmd_backend *be, void *dst, const void *host_src, size_t bytes)
{
    lcmd_cu_backend *cb = lcmd_cu(be);
    LCMD_TRY(lcmd_cu_enter(cb));
    if (!bytes) return LCMD_OK;
    LCMD_CU_TRY(cudaMemcpyAsync(dst, host_src, bytes, cudaMemcpyHostToDevice, cb->stream));
    LCMD_CU_TRY(cudaStreamSynchronize(cb->stream));   /* host_src may be reused at once */
    return LCMD_OK;
}

extern "C" lcmd_status lcmd_cu_download(lcmd_backend *be, void *host_dst, const void *src, size_t bytes)
{
    lcmd_cu_backend *cb = lcmd_cu(be);
    LCMD_TRY(lcmd_cu_enter(cb));
    if (!bytes) return LCMD_OK;
    LCMD_CU_TRY(cudaMemcpyAsync(host_dst, src, bytes, cudaMemcpyDeviceToHost, cb->stream));
    LCMD_CU_TRY(cudaStreamSynchronize(cb->stream));
    return LCMD_OK;
}

extern "C" lcmd_status lcmd_cu_zero(lcmd_backend *be, void *dst, size_t bytes)
{
    lcmd_cu_backend *cb = lcmd_cu(be);
    LCMD_TRY(lcmd_cu_enter(cb));
    if (!bytes) return LCMD_OK;
    LCMD_CU_TRY(cudaMemsetAsync(dst, 0, bytes, cb->stream));
    return LCMD_OK;
}

extern "C" lcmd_status lcmd_cu_sync(lcmd_backend *be)
{
    lcmd_cu_backend *cb = lcmd_cu(be);
    LCMD_TRY(lcmd_cu_enter(cb));
    LCMD_CU_TRY(cudaStreamSynchronize(cb->stream));
    return LCMD_OK;
}
