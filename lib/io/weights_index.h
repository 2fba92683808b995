/* The shard index of a sharded checkpoint (diffusers/transformers
 * "*.safetensors.index.json"): {"metadata": {...}, "weight_map": {"tensor": "shard file"}}. */
#ifndef LCMD_IO_WEIGHTS_INDEX_H
#define LCMD_IO_WEIGHTS_INDEX_H

#include <stddef.h>
#include <lcmd/status.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lcmd_weights_index {
    size_t key_count;
    char **keys;            /* tensor names, sorted */
    size_t *key_shard;      /* keys[i] lives in shards[key_shard[i]] */
    size_t shard_count;
    char **shards;          /* distinct shard file names, sorted */
} lcmd_weights_index;

/* Parses and validates an index of `len` bytes; `label` (may be NULL) names it in
 * messages. Valid: a JSON object whose "weight_map" is a non-empty object of strings,
 * each a plain file name in the same folder (no '/', "..", ...); "metadata", if
 * present, an object. *out is owned by the caller (lcmd_weights_index_free).
 * Errors: LCMD_ERR_FORMAT naming the label and key, LCMD_ERR_OUT_OF_MEMORY,
 * LCMD_ERR_INVALID_ARGUMENT (NULL). */
lcmd_status lcmd_weights_index_parse(const char *json, size_t len, const char *label, lcmd_weights_index **out);

/* Shard file of tensor `name`, or NULL when the index does not list it. */
const char *lcmd_weights_index_shard_of(const lcmd_weights_index *idx, const char *name);

/* Frees the index and its strings; NULL is a no-op. */
void lcmd_weights_index_free(lcmd_weights_index *idx);

#ifdef __cplusplus
}
#endif

#endif /* LCMD_IO_WEIGHTS_INDEX_H */
