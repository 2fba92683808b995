/* The CPU backend object: its op table, host memory functions and scratch. */
#include "ops/cpu/cpu_backend.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <omp.h>

#include "core/error.h"
#include "core/half.h"

#define CPU_ALIGN 64   /* a cache line: no false sharing between buffers, AVX-512 loads */

static void *aligned_bytes(size_t bytes)
{
    size_t rounded = (bytes + CPU_ALIGN - 1) / CPU_ALIGN * CPU_ALIGN;
    return aligned_alloc(CPU_ALIGN, rounded ? rounded : CPU_ALIGN);
}

lcmd_status lcmd_cpu_check_dtype(lcmd_dtype dt, const char *op)
{
    if (dt == LCMD_DT_F32) return LCMD_OK;
    return lcmd_set_error(LCMD_ERR_UNSUPPORTED, "%s: dtype %d: the CPU backend supports f32 only",
                          op, (int)dt);
}

lcmd_status lcmd_cpu_check_blas_int(int64_t v, const char *op, const char *what)
{
    if (v >= 0 && v <= INT_MAX) return LCMD_OK;
    return lcmd_set_error(LCMD_ERR_UNSUPPORTED, "%s: %s = %lld does not fit a BLAS int",
                          op, what, (long long)v);
}

void *lcmd_cpu_scratch(lcmd_backend *be, size_t bytes)
{
    lcmd_cpu_backend *cb = (lcmd_cpu_backend *)be;
    if (bytes <= cb->scratch_bytes) return cb->scratch;
    void *p = aligned_bytes(bytes);
    if (!p) {
        lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "cpu backend: scratch of %zu bytes", bytes);
        return NULL;
    }
    free(cb->scratch);
    cb->scratch = p;
    cb->scratch_bytes = bytes;
    return p;
}

size_t lcmd_cpu_scratch_capacity(const lcmd_backend *be)
{
    return ((const lcmd_cpu_backend *)be)->scratch_bytes;
}

static void cpu_destroy(lcmd_backend *be)
{
    lcmd_cpu_backend *cb = (lcmd_cpu_backend *)be;
    if (cb->profile) lcmd_cpu_profile_print(be);
    free(cb->profile);
    free(cb->profiled_ops);
    free(cb->scratch);
    free(cb);
}

static lcmd_status cpu_alloc(lcmd_backend *be, size_t bytes, void **out)
{
    (void)be;
    *out = aligned_bytes(bytes);
    if (!*out) return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "cpu alloc: %zu bytes", bytes);
    return LCMD_OK;
}

static void cpu_free(lcmd_backend *be, void *p)
{
    (void)be;
    free(p);
}

static lcmd_status cpu_copy(lcmd_backend *be, void *dst, const void *src, size_t bytes)
{
    (void)be;
    if (bytes) memmove(dst, src, bytes);
    return LCMD_OK;
}

static lcmd_status cpu_zero(lcmd_backend *be, void *dst, size_t bytes)
{
    (void)be;
    if (bytes) memset(dst, 0, bytes);
    return LCMD_OK;
}

static lcmd_status cpu_sync(lcmd_backend *be)
{
    (void)be;
    return LCMD_OK;
}

/* Conversions go through fp32; the CPU computes in fp32 only but converts any pair
 * so that hosts can prepare half-precision weights for another backend. */
static lcmd_status cpu_convert(lcmd_backend *be, lcmd_dtype dst_dt, void *dst,
                               lcmd_dtype src_dt, const void *src, size_t n)
{
    (void)be;
    if (dst_dt == src_dt) {
        if (n) memmove(dst, src, n * lcmd_dtype_size(dst_dt));
        return LCMD_OK;
    }
    if (src_dt == LCMD_DT_F32 && dst_dt == LCMD_DT_F16) lcmd_f32_to_f16_n(dst, src, n);
    else if (src_dt == LCMD_DT_F32 && dst_dt == LCMD_DT_BF16) lcmd_f32_to_bf16_n(dst, src, n);
    else if (src_dt == LCMD_DT_F16 && dst_dt == LCMD_DT_F32) lcmd_f16_to_f32_n(dst, src, n);
    else if (src_dt == LCMD_DT_BF16 && dst_dt == LCMD_DT_F32) lcmd_bf16_to_f32_n(dst, src, n);
    else {
        /* f16 <-> bf16: one element at a time through fp32 (rare, not a hot path) */
        const uint16_t *s = src;
        uint16_t *d = dst;
        for (size_t i = 0; i < n; i++) {
            float x = src_dt == LCMD_DT_F16 ? lcmd_f16_to_f32(s[i]) : lcmd_bf16_to_f32(s[i]);
            d[i] = dst_dt == LCMD_DT_F16 ? lcmd_f32_to_f16(x) : lcmd_f32_to_bf16(x);
        }
    }
    return LCMD_OK;
}

static const lcmd_ops cpu_ops = {
    .name = "cpu",
    .destroy = cpu_destroy,
    .alloc = cpu_alloc,
    .free = cpu_free,
    .upload = cpu_copy,
    .download = cpu_copy,
    .zero = cpu_zero,
    .sync = cpu_sync,
    .convert = cpu_convert,
    .gemm = lcmd_cpu_gemm,
    .linear_fwd = lcmd_cpu_linear_fwd,
    .linear_bwd = lcmd_cpu_linear_bwd,
    .conv2d_fwd = lcmd_cpu_conv2d_fwd,
    .conv2d_bwd = lcmd_cpu_conv2d_bwd,
    .groupnorm_fwd = lcmd_cpu_groupnorm_fwd,
    .groupnorm_bwd = lcmd_cpu_groupnorm_bwd,
    .layernorm_fwd = lcmd_cpu_layernorm_fwd,
    .layernorm_bwd = lcmd_cpu_layernorm_bwd,
    .act_fwd = lcmd_cpu_act_fwd,
    .act_bwd = lcmd_cpu_act_bwd,
    .geglu_fwd = lcmd_cpu_geglu_fwd,
    .geglu_bwd = lcmd_cpu_geglu_bwd,
    .softmax_fwd = lcmd_cpu_softmax_fwd,
    .softmax_bwd = lcmd_cpu_softmax_bwd,
    .attention_fwd = lcmd_cpu_attention_fwd,
    .attention_bwd = lcmd_cpu_attention_bwd,
    .upsample2x_fwd = lcmd_cpu_upsample2x_fwd,
    .upsample2x_bwd = lcmd_cpu_upsample2x_bwd,
    .add_fwd = lcmd_cpu_add_fwd,
    .add_bcast_fwd = lcmd_cpu_add_bcast_fwd,
    .add_bcast_bwd = lcmd_cpu_add_bcast_bwd,
    .mul_fwd = lcmd_cpu_mul_fwd,
    .mul_bwd = lcmd_cpu_mul_bwd,
    .axpy = lcmd_cpu_axpy,
    .scale = lcmd_cpu_scale,
    .concat_fwd = lcmd_cpu_concat_fwd,
    .concat_bwd = lcmd_cpu_concat_bwd,
    .timestep_emb_fwd = lcmd_cpu_timestep_emb_fwd,
    .timestep_emb_bwd = lcmd_cpu_timestep_emb_bwd,
};

lcmd_status lcmd_cpu_backend_create(int32_t num_threads, lcmd_backend **out)
{
    LCMD_CHECK_ARG(out != NULL, "lcmd_cpu_backend_create", "out is NULL");
    *out = NULL;
    lcmd_cpu_backend *cb = calloc(1, sizeof *cb);
    if (!cb) return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "lcmd_cpu_backend_create: %zu bytes", sizeof *cb);
    cb->base.ops = &cpu_ops;
    cb->profile = lcmd_cpu_profile_create();
    if (cb->profile && (cb->profiled_ops = malloc(sizeof *cb->profiled_ops))) {
        *cb->profiled_ops = cpu_ops;
        lcmd_cpu_profile_wrap(cb->profiled_ops);
        cb->base.ops = cb->profiled_ops;
    }
    cb->base.num_threads = num_threads > 0 ? num_threads : omp_get_num_procs();
    if (cb->base.num_threads < 1) cb->base.num_threads = 1;
    cb->base.device = -1;
    *out = &cb->base;
    return LCMD_OK;
}
