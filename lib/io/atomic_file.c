/* Write-to-temp, fsync, rename: the POSIX recipe for replacing a file atomically. */
#include "io/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"

static void release(lcmd_atomic_file *af)
{
    free(af->path);
    free(af->tmp_path);
    af->path = af->tmp_path = NULL;
    af->fd = -1;
}

lcmd_status lcmd_atomic_file_begin(const char *path, lcmd_atomic_file *af)
{
    LCMD_CHECK_ARG(af, "lcmd_atomic_file_begin", "af is NULL");
    af->fd = -1;
    af->path = af->tmp_path = NULL;
    LCMD_CHECK_ARG(path && *path, "lcmd_atomic_file_begin", "path is NULL or empty");
    size_t n = strlen(path);
    af->path = strdup(path);
    af->tmp_path = malloc(n + sizeof ".tmp-XXXXXX");
    if (!af->path || !af->tmp_path) {
        release(af);
        return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    }
    memcpy(af->tmp_path, path, n);
    memcpy(af->tmp_path + n, ".tmp-XXXXXX", sizeof ".tmp-XXXXXX");
    af->fd = mkostemp(af->tmp_path, O_CLOEXEC);
    if (af->fd < 0) {
        int e = errno;
        lcmd_status s = lcmd_set_error(LCMD_ERR_IO, "%s: cannot create a temporary file next to it: %s",
                                       path, strerror(e));
        release(af);
        return s;
    }
    return LCMD_OK;
}

lcmd_status lcmd_atomic_file_write(lcmd_atomic_file *af, const void *buf, size_t n)
{
    LCMD_CHECK_ARG(af && af->fd >= 0 && (buf || n == 0), "lcmd_atomic_file_write", "file not open or buf NULL");
    const unsigned char *p = buf;
    while (n > 0) {
        ssize_t w = write(af->fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return lcmd_set_error(LCMD_ERR_IO, "%s: write failed: %s", af->path,
                                  w < 0 ? strerror(errno) : "no progress");
        p += w;
        n -= (size_t)w;
    }
    return LCMD_OK;
}

/* The rename is durable only once the directory entry is on disk too. */
static void sync_parent_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    if (!dir)
        return;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);   /* best effort: some file systems refuse fsync on directories */
        close(fd);
    }
    free(dir);
}

lcmd_status lcmd_atomic_file_commit(lcmd_atomic_file *af)
{
    LCMD_CHECK_ARG(af && af->fd >= 0, "lcmd_atomic_file_commit", "file not open");
    struct stat old;
    mode_t mode = stat(af->path, &old) == 0 && S_ISREG(old.st_mode) ? (old.st_mode & 07777) : 0644;
    const char *step = NULL;
    int e = 0;
    if (fchmod(af->fd, mode) != 0) step = "chmod";
    else if (fsync(af->fd) != 0) step = "fsync";
    if (step) e = errno;
    if (close(af->fd) != 0 && !step) { step = "close"; e = errno; }
    af->fd = -1;
    if (!step && rename(af->tmp_path, af->path) != 0) { step = "rename"; e = errno; }
    if (step) {
        lcmd_status s = lcmd_set_error(LCMD_ERR_IO, "%s: %s of the temporary file %s failed: %s",
                                       af->path, step, af->tmp_path, strerror(e));
        unlink(af->tmp_path);
        release(af);
        return s;
    }
    sync_parent_dir(af->path);
    release(af);
    return LCMD_OK;
}

void lcmd_atomic_file_abort(lcmd_atomic_file *af)
{
    if (!af)
        return;
    if (af->fd >= 0) {
        close(af->fd);
        if (af->tmp_path)
            unlink(af->tmp_path);
    }
    release(af);
}
