/* model_index.json of a diffusers pipeline folder:
 *   {"_class_name": "StableDiffusionPipeline", "_diffusers_version": "0.42.1",
 *    "unet": ["diffusers", "UNet2DConditionModel"], "safety_checker": [null, null],
 *    "requires_safety_checker": true}
 * Keys starting with '_' are attributes; a two-item array of strings (or of nulls:
 * an absent optional component) is a component living in the subfolder of its
 * name; any other value is a pipeline option and is skipped. */
#ifndef LCMD_IO_MODEL_INDEX_H
#define LCMD_IO_MODEL_INDEX_H

#include <stddef.h>
#include <lcmd/status.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lcmd_model_component {
    char *name;          /* key = subfolder name, a plain file name */
    char *library;       /* "diffusers", "transformers", ...; NULL for [null, null] */
    char *class_name;    /* "UNet2DConditionModel", ...; NULL for [null, null] */
} lcmd_model_component;

typedef struct lcmd_model_index {
    char *class_name;            /* "_class_name" */
    char *diffusers_version;     /* "_diffusers_version" or NULL */
    lcmd_model_component *components;   /* in file order */
    size_t count;
} lcmd_model_index;

/* Parses `len` bytes; `label` (may be NULL) names the text in messages. *out is
 * owned by the caller (lcmd_model_index_free). Errors: LCMD_ERR_FORMAT (malformed
 * JSON, not an object, "_class_name" missing or not a string, a component array
 * mixing a string and null or holding another type, a component name that is not
 * a plain folder name such as "../x"), LCMD_ERR_OUT_OF_MEMORY, LCMD_ERR_INVALID_ARGUMENT. */
lcmd_status lcmd_model_index_parse(const char *json, size_t len, const char *label, lcmd_model_index **out);

/* Reads `folder`/model_index.json. Errors: LCMD_ERR_IO (cannot read it), then as
 * lcmd_model_index_parse, with the file path in messages. */
lcmd_status lcmd_model_index_load(const char *folder, lcmd_model_index **out);

/* The component called `name`, or NULL. */
const lcmd_model_component *lcmd_model_index_find(const lcmd_model_index *mi, const char *name);

/* Frees the index and all its strings; NULL is a no-op. */
void lcmd_model_index_free(lcmd_model_index *mi);

#ifdef __cplusplus
}
#endif

#endif /* LCMD_IO_MODEL_INDEX_H */
