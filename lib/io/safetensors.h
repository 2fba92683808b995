/* safetensors files: read-only, memory-mapped, with a fully validated header.
 *
 * Layout: 8-byte little-endian header length N, N bytes of JSON
 * {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
 *  "__metadata__": {"k": "v"}}, then the data block the offsets index. Every
 * tensor's byte range must lie in the data block, match dtype x shape, and not
 * overlap another; a violation is LCMD_ERR_FORMAT naming the file and tensor. */
#ifndef LCMD_IO_SAFETENSORS_H
#define LCMD_IO_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>
#include <lcmd/status.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LCMD_ST_MAX_DIMS 8
#define LCMD_ST_MAX_HEADER (100u << 20)   /* the reference's own limit is 100 MB */

typedef enum lcmd_st_dtype {
    LCMD_ST_F64, LCMD_ST_F32, LCMD_ST_F16, LCMD_ST_BF16,
    LCMD_ST_I64, LCMD_ST_I32, LCMD_ST_I16, LCMD_ST_I8, LCMD_ST_U8, LCMD_ST_BOOL
} lcmd_st_dtype;

typedef struct lcmd_st_tensor {
    char *name;
    lcmd_st_dtype dtype;
    int32_t ndim;
    int64_t shape[LCMD_ST_MAX_DIMS];
    int64_t numel;
    uint64_t begin, end;    /* byte range inside the data block */
    const void *data;       /* points into the mapping */
} lcmd_st_tensor;

typedef struct lcmd_safetensors lcmd_safetensors;

/* Maps and validates a file. Errors: LCMD_ERR_IO (open/stat/mmap), LCMD_ERR_FORMAT. */
lcmd_status lcmd_safetensors_open(const char *path, lcmd_safetensors **out);
/* Validates a buffer the caller keeps alive while the handle lives; `label` names it in errors. */
lcmd_status lcmd_safetensors_open_memory(const void *buf, size_t len, const char *label,
                                         lcmd_safetensors **out);
void lcmd_safetensors_close(lcmd_safetensors *st);

size_t lcmd_safetensors_count(const lcmd_safetensors *st);
const lcmd_st_tensor *lcmd_safetensors_at(const lcmd_safetensors *st, size_t i);   /* sorted by name */
const lcmd_st_tensor *lcmd_safetensors_find(const lcmd_safetensors *st, const char *name);
const char *lcmd_safetensors_label(const lcmd_safetensors *st);
/* Value of a "__metadata__" key, or NULL. */
const char *lcmd_safetensors_metadata(const lcmd_safetensors *st, const char *key);

/* Tells the kernel the file pages under tensor `t` are not needed any more (a loader
 * that has converted the tensor calls it so that a model's file and its converted
 * copy are not resident together). Reading the tensor again stays valid: the pages
 * come back from the file. No-op for in-memory handles. */
void lcmd_safetensors_release_pages(const lcmd_safetensors *st, const lcmd_st_tensor *t);

size_t lcmd_st_dtype_size(lcmd_st_dtype dt);
const char *lcmd_st_dtype_name(lcmd_st_dtype dt);

/* Copies tensor `name` converted to float (from F64/F32/F16/BF16/I64/I32) into dst,
 * which holds `n` values. Errors: LCMD_ERR_FORMAT if the tensor is missing, has
 * another element count or a dtype that is not numeric. */
lcmd_status lcmd_safetensors_read_f32(const lcmd_safetensors *st, const char *name, float *dst, size_t n);
/* The same for double and int64 destinations (integers from I64/I32 only). */
lcmd_status lcmd_safetensors_read_f64(const lcmd_safetensors *st, const char *name, double *dst, size_t n);
lcmd_status lcmd_safetensors_read_i64(const lcmd_safetensors *st, const char *name, int64_t *dst, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* LCMD_IO_SAFETENSORS_H */
