/* A model's parameters: one contiguous fp32 buffer with named views (llm.c style),
 * so that loading, saving, the optimizer, EMA, gradient clipping and the all-reduce
 * each run over one flat array. Names and shapes are diffusers' (PyTorch's);
 * conv weights are stored [C_out, kh, kw, C_in] inside (the file has [C_out, C_in, kh, kw]). */
#ifndef LCMD_MODELS_PARAMS_H
#define LCMD_MODELS_PARAMS_H

#include <stddef.h>
#include <stdint.h>
#include <lcmd/status.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LCMD_PARAM_ALIGN 64   /* elements: every view starts 256-byte aligned */

typedef enum lcmd_param_layout {
    LCMD_PARAM_PLAIN = 0,     /* stored as in the file */
    LCMD_PARAM_CONV = 1       /* file [K, C, R, S] <-> stored [K, R, S, C] */
} lcmd_param_layout;

typedef struct lcmd_param {
    char *name;               /* diffusers state-dict key */
    int32_t ndim;
    int64_t shape[4];         /* the file's (PyTorch) shape */
    int64_t numel;
    size_t offset;            /* in elements, into the flat buffer */
    lcmd_param_layout layout;
} lcmd_param;

typedef struct lcmd_param_set {
    lcmd_param *items;
    size_t count, cap;
    size_t total;             /* elements of the flat buffer, alignment included */
} lcmd_param_set;

/* Appends a parameter; *offset (may be NULL) receives its offset. Errors:
 * LCMD_ERR_INVALID_ARGUMENT (duplicate name, ndim not 1..4, a size < 1),
 * LCMD_ERR_OUT_OF_MEMORY. */
lcmd_status lcmd_param_set_add(lcmd_param_set *ps, const char *name, int32_t ndim, const int64_t *shape,
                               lcmd_param_layout layout, size_t *offset);
/* NULL when absent (a linear scan: only used while loading and saving). */
const lcmd_param *lcmd_param_set_find(const lcmd_param_set *ps, const char *name);
void lcmd_param_set_free(lcmd_param_set *ps);

/* File layout <-> stored layout of one parameter (a copy; src and dst distinct). */
void lcmd_param_to_stored(const lcmd_param *p, const float *file_order, float *stored);
void lcmd_param_to_file(const lcmd_param *p, const float *stored, float *file_order);

#ifdef __cplusplus
}
#endif

#endif /* LCMD_MODELS_PARAMS_H */
