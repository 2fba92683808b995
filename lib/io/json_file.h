/* Small JSON files (configs, indexes) read whole, with errors that name the file. */
#ifndef LCMD_IO_JSON_FILE_H
#define LCMD_IO_JSON_FILE_H

#include <stddef.h>
#include <jansson.h>
#include <lcmd/status.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A default size limit for configs and shard indexes (an SDXL index is ~100 KB). */
#define LCMD_JSON_DEFAULT_MAX_BYTES (64u << 20)

/* Parses `len` bytes (need not be NUL-terminated) as one JSON object or array,
 * rejecting duplicate keys. *out receives a new reference the caller decrefs.
 * Errors: LCMD_ERR_FORMAT "<label>: line L, column C: <reason>" (label may be NULL),
 * LCMD_ERR_INVALID_ARGUMENT (NULL out, or NULL buf with len > 0). */
lcmd_status lcmd_json_parse_buffer(const char *buf, size_t len, const char *label, json_t **out);

/* Reads and parses the file at `path` like lcmd_json_parse_buffer.
 * Errors: LCMD_ERR_IO (cannot open/read, not a regular file), LCMD_ERR_FORMAT
 * (larger than `max_bytes`, malformed, duplicate key); messages name `path`. */
lcmd_status lcmd_json_load_file(const char *path, size_t max_bytes, json_t **out);

/* Reads a whole regular file of at most `max_bytes` into a new NUL-terminated
 * buffer (*out, freed by the caller with free; *len excludes the NUL).
 * Errors as lcmd_json_load_file, minus the JSON ones. */
lcmd_status lcmd_read_small_file(const char *path, size_t max_bytes, char **out, size_t *len);

#ifdef __cplusplus
}
#endif

#endif /* LCMD_IO_JSON_FILE_H */
