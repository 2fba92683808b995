/* Per-backend caches of cuBLASLt plans (cu_gemm.cu) and cuDNN convolution plans
 * (cu_conv.cu): descriptors and the chosen algorithm, made once per shape. */
#ifndef LCMD_CU_CACHE_H
#define LCMD_CU_CACHE_H

#include "ops/cuda/cu_backend.h"

#ifdef __cplusplus
extern "C" {
#endif

lcmd_status lcmd_cu_gemm_cache_new(lcmd_cu_gemm_entry **out);
void lcmd_cu_gemm_cache_free(lcmd_cu_gemm_entry *c);
lcmd_status lcmd_cu_conv_cache_new(lcmd_cu_conv_entry **out);
void lcmd_cu_conv_cache_free(lcmd_cu_conv_entry *c);

#ifdef __cplusplus
}
#endif

#endif /* LCMD_CU_CACHE_H */
