/* One shard opened as a stream of tar members (libarchive): local files, compressed
 * or not, and `pipe:` commands. */
#ifndef LCMD_DATA_SHARD_H
#define LCMD_DATA_SHARD_H

#include <stddef.h>
#include <stdint.h>

typedef struct lcmd_shard lcmd_shard;

/* Opens `name`. Returns NULL and writes the reason into err[0..errlen) on failure. */
lcmd_shard *lcmd_shard_open(const char *name, char *err, size_t errlen);

/* Result of lcmd_shard_next. */
typedef enum lcmd_shard_event {
    LCMD_SHARD_MEMBER = 0,  /* a regular file member: *path and *size set */
    LCMD_SHARD_END = 1,     /* clean end of the archive */
    LCMD_SHARD_ERROR = 2    /* read error (truncated or corrupt); err holds why */
} lcmd_shard_event;

/* Advances to the next regular-file member (other entry types are passed over).
 * *path stays valid until the next call. *size is -1 when the archive does not say. */
lcmd_shard_event lcmd_shard_next(lcmd_shard *s, const char **path, int64_t *size, char *err, size_t errlen);

/* Reads the current member's data into a new buffer (*data, *len; free()). At most
 * `max_bytes` are accepted: beyond that returns 1 (too large, data skipped). Returns 0
 * on success, -1 on a read error (err set) or out of memory. */
int lcmd_shard_read(lcmd_shard *s, int64_t max_bytes, uint8_t **data, size_t *len, char *err, size_t errlen);

/* Closes the shard. For a pipe, returns the command's failure as a nonzero value with
 * a message in err ("exit status 3", "killed by signal 9"); 0 otherwise. */
int lcmd_shard_close(lcmd_shard *s, char *err, size_t errlen);

#endif /* LCMD_DATA_SHARD_H */
