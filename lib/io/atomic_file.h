/* Atomic replacement of a file: the bytes go to `path.tmp-XXXXXX` in the same
 * directory, which is fsynced and renamed over `path` only when everything was
 * written. Readers see either the old file or the complete new one, never a
 * torn file; on any failure the old file is untouched and the temp is removed. */
#ifndef LCMD_IO_ATOMIC_FILE_H
#define LCMD_IO_ATOMIC_FILE_H

#include <stddef.h>
#include <lcmd/status.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lcmd_atomic_file {
    int fd;               /* -1 once committed or aborted */
    char *path;           /* final name (owned) */
    char *tmp_path;       /* temporary name (owned) */
} lcmd_atomic_file;

/* Creates the temporary file next to `path`. On success the caller must end with
 * lcmd_atomic_file_commit or lcmd_atomic_file_abort. Errors: LCMD_ERR_INVALID_ARGUMENT
 * (NULL), LCMD_ERR_IO (cannot create the temp, message names it),
 * LCMD_ERR_OUT_OF_MEMORY. On failure nothing is left behind. */
lcmd_status lcmd_atomic_file_begin(const char *path, lcmd_atomic_file *af);

/* Appends `n` bytes (retrying short writes and EINTR). Errors: LCMD_ERR_IO naming
 * the final path. The file stays open: the caller still commits or aborts. */
lcmd_status lcmd_atomic_file_write(lcmd_atomic_file *af, const void *buf, size_t n);

/* fsyncs and closes the temp, renames it over the final path and fsyncs the
 * directory. The new file gets mode 0644, or the mode of the file it replaces.
 * Errors: LCMD_ERR_IO; the temp is then removed and the old file untouched.
 * Releases `af` in every case. */
lcmd_status lcmd_atomic_file_commit(lcmd_atomic_file *af);

/* Closes and removes the temp and releases `af`; safe to call after a failed
 * begin or a commit (then it does nothing). */
void lcmd_atomic_file_abort(lcmd_atomic_file *af);

#ifdef __cplusplus
}
#endif

#endif /* LCMD_IO_ATOMIC_FILE_H */
