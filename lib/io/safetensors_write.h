/* safetensors writer: tensors + string metadata -> a file safetensors/diffusers load.
 *
 * The header lists the tensors sorted by name (with "__metadata__"), their data
 * follows in that order without gaps, and the header is padded with spaces to a
 * multiple of 8 bytes so every tensor starts 8-byte aligned. The file is replaced
 * atomically (see io/atomic_file.h). */
#ifndef LCMD_IO_SAFETENSORS_WRITE_H
#define LCMD_IO_SAFETENSORS_WRITE_H

#include <stddef.h>
#include <stdint.h>
#include <lcmd/status.h>
#include "io/safetensors.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Produces a tensor's values as fp32, in file (row-major PyTorch) order, into
 * `dst` of `numel` values. A non-OK return aborts the write (its message stands). */
typedef lcmd_status (*lcmd_st_f32_source)(void *ctx, float *dst, size_t numel);

/* One tensor to write. Give exactly one of `data`, `f32` and `source`:
 *  - data:   numel elements already in `dtype` (any dtype), copied byte for byte;
 *  - f32:    numel fp32 values converted to `dtype` while writing;
 *  - source: a callback filling fp32 values, converted to `dtype`.
 * fp32 conversion is to F32, F16, BF16 (round to nearest even) or F64.
 * The writer only reads what these point to, during the call. */
typedef struct lcmd_st_write_tensor {
    const char *name;
    lcmd_st_dtype dtype;            /* dtype in the file */
    int32_t ndim;                   /* 0..LCMD_ST_MAX_DIMS (0: a scalar) */
    int64_t shape[LCMD_ST_MAX_DIMS];
    const void *data;
    const float *f32;
    lcmd_st_f32_source source;
    void *source_ctx;
} lcmd_st_write_tensor;

/* One "__metadata__" entry (both strings valid UTF-8). */
typedef struct lcmd_st_metadata_entry {
    const char *key;
    const char *value;
} lcmd_st_metadata_entry;

/* Writes `count` tensors and `metadata_count` metadata entries to `path`, replacing
 * it atomically. Nothing is written unless every descriptor is valid.
 * Errors: LCMD_ERR_INVALID_ARGUMENT (NULL, empty/duplicate/non-UTF-8 name or key,
 * "__metadata__" as a tensor name, bad ndim or shape, not exactly one data source,
 * a conversion to a dtype other than F32/F16/BF16/F64; the message names the tensor),
 * LCMD_ERR_IO (the message names the path), LCMD_ERR_OUT_OF_MEMORY, or whatever a
 * `source` callback returned. On error the old file at `path` is untouched. */
lcmd_status lcmd_safetensors_write(const char *path, const lcmd_st_write_tensor *tensors, size_t count,
                                   const lcmd_st_metadata_entry *metadata, size_t metadata_count);

#ifdef __cplusplus
}
#endif

#endif /* LCMD_IO_SAFETENSORS_WRITE_H */
