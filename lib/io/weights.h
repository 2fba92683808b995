/* The weights of one diffusers (or transformers) model folder, single-file or
 * sharded, as one name -> tensor map; and the bridge to a param set's flat buffer.
 *
 * File names follow diffusers 0.42 (utils/constants.py, hub_utils._add_variant):
 *   <base>.safetensors                      <base>.<variant>.safetensors
 *   <base>.safetensors.index.json           <base>.safetensors.index.<variant>.json
 *                                           <base>.safetensors.<variant>.index.json (legacy)
 * An index is preferred over a single file, as diffusers does; a variant never
 * falls back to the plain files. <base> is "diffusion_pytorch_model" (diffusers
 * models) or "model" (transformers text encoders). */
#ifndef LCMD_IO_WEIGHTS_H
#define LCMD_IO_WEIGHTS_H

#include <stddef.h>
#include <lcmd/status.h>
#include "io/safetensors.h"
#include "models/params.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LCMD_WEIGHTS_BASE_DIFFUSERS "diffusion_pytorch_model"
#define LCMD_WEIGHTS_BASE_TRANSFORMERS "model"

typedef struct lcmd_weights lcmd_weights;

/* Opens the weights in `folder`, trying the diffusers base name, then the
 * transformers one. `variant` is NULL or e.g. "fp16". *out is owned by the caller
 * (lcmd_weights_close). Errors: LCMD_ERR_IO (no weights file under either name:
 * the message lists the names tried; a shard or file cannot be opened),
 * LCMD_ERR_FORMAT (a malformed file or index; see lcmd_weights_open_named),
 * LCMD_ERR_INVALID_ARGUMENT (NULL folder/out, a variant with '/' or empty). */
lcmd_status lcmd_weights_open(const char *folder, const char *variant, lcmd_weights **out);

/* The same for one base name. A sharded index must list each tensor once, in a
 * shard inside `folder` that holds it; a shard tensor the index does not list
 * (or lists under another shard) is LCMD_ERR_FORMAT naming the shard and tensor.
 * Every shard is opened (mapped) once. */
lcmd_status lcmd_weights_open_named(const char *folder, const char *base, const char *variant, lcmd_weights **out);

/* Unmaps every file; NULL is a no-op. Tensors obtained from `w` die with it. */
void lcmd_weights_close(lcmd_weights *w);

/* Path of the file that was resolved: the index, or the single weights file. */
const char *lcmd_weights_source(const lcmd_weights *w);

/* Number of tensors over all shards. */
size_t lcmd_weights_count(const lcmd_weights *w);

/* Tensor i in name order (NULL past the end); *file (may be NULL) receives the
 * file holding it, for messages and lcmd_safetensors_read_*. */
const lcmd_st_tensor *lcmd_weights_at(const lcmd_weights *w, size_t i, const lcmd_safetensors **file);

/* Tensor `name` or NULL; *file as for lcmd_weights_at. */
const lcmd_st_tensor *lcmd_weights_find(const lcmd_weights *w, const char *name, const lcmd_safetensors **file);

/* Number of opened files: 1 for a single file, else the shards. */
size_t lcmd_weights_file_count(const lcmd_weights *w);
/* Opened file i (shards in file-name order), or NULL past the end; owned by `w`. */
const lcmd_safetensors *lcmd_weights_file(const lcmd_weights *w, size_t i);

/* ------------------------------------------------------------ params <-> files */

enum {
    LCMD_WEIGHTS_ALLOW_MISSING = 1u << 0,    /* params absent from the files are not an error */
    LCMD_WEIGHTS_ALLOW_UNEXPECTED = 1u << 1  /* file tensors without a param are not an error */
};

/* How lcmd_weights_load_params treats differing name sets (in), and what it found (out).
 * Zero-initialise, set the inputs, then release with lcmd_weights_report_free. */
typedef struct lcmd_weights_report {
    unsigned flags;                    /* in: LCMD_WEIGHTS_ALLOW_* */
    const char *const *allow_missing;  /* in: NULL-terminated names that may be missing, or NULL */
    size_t loaded;                     /* out: params filled from the files */
    size_t missing_count;              /* out: params with no tensor (allowed ones included) */
    char **missing;                    /* out: their names, owned by the report */
    size_t unexpected_count;           /* out: file tensors with no param */
    char **unexpected;
} lcmd_weights_report;

/* Fills `host_buffer` (ps->total floats) from `w`: each param's tensor, F32, F16,
 * BF16 or F64, converted to fp32 and to the stored layout (conv [K,C,R,S] ->
 * [K,R,S,C]). Params that stay missing are left untouched (the caller initialises
 * them, e.g. zeros for time_embedding.cond_proj.weight of an LCM student).
 * Everything is checked before anything is written: on error the buffer is unchanged.
 * `report` may be NULL (strict: nothing missing or unexpected).
 * Errors: LCMD_ERR_FORMAT for a shape mismatch (naming file, tensor and both shapes),
 * a non-float dtype, or disallowed missing/unexpected names (the first few of each
 * are named); LCMD_ERR_INVALID_ARGUMENT (NULL), LCMD_ERR_OUT_OF_MEMORY. The report's
 * lists are filled in every case where the comparison ran. */
lcmd_status lcmd_weights_load_params(const lcmd_weights *w, const lcmd_param_set *ps, float *host_buffer,
                                     lcmd_weights_report *report);

/* Frees the report's lists (not the report itself) and zeroes the outputs. */
void lcmd_weights_report_free(lcmd_weights_report *report);

/* Writes every param of `ps` from `host_buffer` (stored layout) to
 * `folder/<base>.safetensors` in file layout as `dtype` (F32, F16, BF16 or F64),
 * atomically, with metadata {"format": "pt"} so diffusers and transformers load it.
 * `base` NULL means "diffusion_pytorch_model"; pass e.g. "diffusion_pytorch_model.fp16"
 * for a variant. The folder is created if missing (one level).
 * Errors: LCMD_ERR_INVALID_ARGUMENT (NULL, a base that is not a plain name, another
 * dtype), LCMD_ERR_IO (naming the path), LCMD_ERR_OUT_OF_MEMORY. */
lcmd_status lcmd_weights_save_params(const char *folder, const lcmd_param_set *ps, const float *host_buffer,
                                     lcmd_st_dtype dtype, const char *base);

#ifdef __cplusplus
}
#endif

#endif /* LCMD_IO_WEIGHTS_H */
