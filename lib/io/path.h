/* File-name checks and joins for names that come from files (index shards,
 * pipeline components): such a name must stay inside its folder. */
#ifndef LCMD_IO_PATH_H
#define LCMD_IO_PATH_H

#include <lcmd/status.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 1 if `name` is one plain directory entry: non-empty, no '/' or '\\', not "." or
 * "..", no control characters; 0 otherwise (also for NULL). */
int lcmd_path_is_plain_name(const char *name);

/* *out = "dir/name" (a new string the caller frees). Errors: LCMD_ERR_INVALID_ARGUMENT
 * (NULL), LCMD_ERR_OUT_OF_MEMORY. */
lcmd_status lcmd_path_join(const char *dir, const char *name, char **out);

#ifdef __cplusplus
}
#endif

#endif /* LCMD_IO_PATH_H */
