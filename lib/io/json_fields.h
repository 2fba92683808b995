/* Typed reads of optional keys of a JSON config object (scheduler, CLIP, VAE configs):
 * an absent or null key leaves the destination as it was (its default). */
#ifndef LCMD_IO_JSON_FIELDS_H
#define LCMD_IO_JSON_FIELDS_H

#include <stdint.h>
#include <jansson.h>
#include <lcmd/status.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The value of `key`, or NULL when it is absent or null. */
json_t *lcmd_json_field(json_t *root, const char *key);

/* Each returns LCMD_ERR_FORMAT "LABEL: key 'KEY' must be ..." for a value of the wrong
 * JSON type (or, for ints, outside int32); LCMD_OK otherwise. */
lcmd_status lcmd_json_read_int(json_t *root, const char *label, const char *key, int32_t *out);
lcmd_status lcmd_json_read_bool(json_t *root, const char *label, const char *key, int32_t *out);
/* `present` (may be NULL) receives 1 when the key was given and not null. */
lcmd_status lcmd_json_read_number(json_t *root, const char *label, const char *key, double *out, int32_t *present);

#ifdef __cplusplus
}
#endif

#endif /* LCMD_IO_JSON_FIELDS_H */
