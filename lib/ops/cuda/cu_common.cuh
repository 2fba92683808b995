/* Device-side helpers shared by the kernels: dtype traits (load as fp32, store with
 * round-to-nearest-even), 16-byte packs, dtype dispatch, launch checks.
 * Everything here is internal (anonymous namespace or static inline). */
#ifndef LCMD_CU_COMMON_CUH
#define LCMD_CU_COMMON_CUH

#include <cuda_runtime.h>
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include <stdint.h>
#include <cublasLt.h>
#include <cudnn.h>

#include "core/error.h"
#include "ops/cuda/cu_backend.h"

extern "C" {
lcmd_status lcmd_cu_blas_err(cublasStatus_t s, const char *call);
lcmd_status lcmd_cu_dnn_err(cudnnStatus_t s, const char *call);
}

namespace {

typedef __half f16;
typedef __nv_bfloat16 bf16;

__device__ __forceinline__ float ld_f(float x) { return x; }
__device__ __forceinline__ float ld_f(f16 x) { return __half2float(x); }
__device__ __forceinline__ float ld_f(bf16 x) { return __bfloat162float(x); }

template <typename T> __device__ __forceinline__ T st_f(float x);
template <> __device__ __forceinline__ float st_f<float>(float x) { return x; }
template <> __device__ __forceinline__ f16 st_f<f16>(float x) { return __float2half_rn(x); }
template <> __device__ __forceinline__ bf16 st_f<bf16>(float x) { return __float2bfloat16_rn(x); }

/* V consecutive elements, 16 bytes when V = 16 / sizeof(T) */
template <typename T, int V> struct alignas(sizeof(T) * V) pack_t { T v[V]; };

template <typename T, int V>
__device__ __forceinline__ void ldv(const T *p, float (&f)[V])
{
    pack_t<T, V> q = *reinterpret_cast<const pack_t<T, V> *>(p);
#pragma unroll
    for (int i = 0; i < V; i++) f[i] = ld_f(q.v[i]);
}

template <typename T, int V>
__device__ __forceinline__ void stv(T *p, const float (&f)[V])
{
    pack_t<T, V> q;
#pragma unroll
    for (int i = 0; i < V; i++) q.v[i] = st_f<T>(f[i]);
    *reinterpret_cast<pack_t<T, V> *>(p) = q;
}

template <typename T> struct vec_of { static constexpr int v = 16 / (int)sizeof(T); };

/* true when every non-NULL pointer is 16-byte aligned */
static inline bool al16(const void *a, const void *b = nullptr, const void *c = nullptr,
                        const void *d = nullptr)
{
    return (((uintptr_t)a | (uintptr_t)b | (uintptr_t)c | (uintptr_t)d) & 15u) == 0;
}

static inline unsigned grid_for(int64_t work, int threads, int max_blocks = 65536)
{
    int64_t b = (work + threads - 1) / threads;
    if (b < 1) b = 1;
    if (b > max_blocks) b = max_blocks;
    return (unsigned)b;
}

__device__ __forceinline__ float warp_sum(float v)
{
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v)
{
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

__device__ __forceinline__ float sigmoidf_(float x) { return 1.0f / (1.0f + expf(-x)); }

}  /* namespace */

/* Dispatch on the storage type: body uses T. */
#define LCMD_CU_DISPATCH(dt, ...)                                   \
    do {                                                            \
        switch (dt) {                                               \
        case LCMD_DT_F32: { typedef float T; __VA_ARGS__; } break;  \
        case LCMD_DT_F16: { typedef f16 T; __VA_ARGS__; } break;    \
        case LCMD_DT_BF16: { typedef bf16 T; __VA_ARGS__; } break;  \
        default:                                                    \
            return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "cuda: unknown dtype %d", (int)(dt)); \
        }                                                           \
    } while (0)

#define LCMD_CU_TRY(expr) do { cudaError_t e_ = (expr); if (e_ != cudaSuccess) return lcmd_cu_err(e_, #expr); } while (0)
#define LCMD_CU_BLAS_TRY(expr) do { cublasStatus_t s_ = (expr); if (s_ != CUBLAS_STATUS_SUCCESS) return lcmd_cu_blas_err(s_, #expr); } while (0)
#define LCMD_CU_DNN_TRY(expr) do { cudnnStatus_t s_ = (expr); if (s_ != CUDNN_STATUS_SUCCESS) return lcmd_cu_dnn_err(s_, #expr); } while (0)
#define LCMD_CU_LAUNCHED(name) LCMD_TRY(lcmd_cu_launch_check(name))

#endif /* LCMD_CU_COMMON_CUH */
