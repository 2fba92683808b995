#include "data/shard.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#define READ_BLOCK 65536

struct lcmd_shard {
    struct archive *a;
    FILE *pipe;
};

static void archive_message(struct archive *a, const char *what, char *err, size_t errlen)
{
    const char *m = archive_error_string(a);
    snprintf(err, errlen, "%s: %s", what, m ? m : "unknown libarchive error");
}

lcmd_shard *lcmd_shard_open(const char *name, char *err, size_t errlen)
{
    lcmd_shard *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->a = archive_read_new();
    if (!s->a) {
        free(s);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    /* the documented compressions only: _filter_all would also accept lrzip, grzip,
     * lzop, ... by running external programs on untrusted bytes */
    archive_read_support_filter_gzip(s->a);
    archive_read_support_filter_bzip2(s->a);
    archive_read_support_filter_xz(s->a);
    archive_read_support_filter_zstd(s->a);
    archive_read_support_format_tar(s->a);
    int r;
    if (strncmp(name, "pipe:", 5) == 0) {
        fflush(NULL);
        s->pipe = popen(name + 5, "r");
        if (!s->pipe) {
            snprintf(err, errlen, "cannot run command: %s", strerror(errno));
            archive_read_free(s->a);
            free(s);
            return NULL;
        }
        r = archive_read_open_FILE(s->a, s->pipe);
    } else {
        r = archive_read_open_filename(s->a, name, READ_BLOCK);
    }
    if (r != ARCHIVE_OK) {
        archive_message(s->a, "cannot open", err, errlen);
        if (s->pipe) {
            char perr[128];
            if (lcmd_shard_close(s, perr, sizeof perr) != 0) {
                size_t l = strlen(err);
                snprintf(err + l, errlen - l, " (command %s)", perr);
            }
        } else {
            archive_read_free(s->a);
            free(s);
        }
        return NULL;
    }
    return s;
}

lcmd_shard_event lcmd_shard_next(lcmd_shard *s, const char **path, int64_t *size, char *err, size_t errlen)
{
    for (;;) {
        struct archive_entry *e;
        int r = archive_read_next_header(s->a, &e);
        if (r == ARCHIVE_EOF)
            return LCMD_SHARD_END;
        if (r == ARCHIVE_FATAL || r == ARCHIVE_RETRY) {
            archive_message(s->a, "read error", err, errlen);
            return LCMD_SHARD_ERROR;
        }
        /* ARCHIVE_WARN (odd header fields) still gives a usable entry */
        if (archive_entry_filetype(e) != AE_IFREG)
            continue;
        const char *p = archive_entry_pathname(e);
        if (!p)
            continue;
        *path = p;
        *size = archive_entry_size_is_set(e) ? (int64_t)archive_entry_size(e) : -1;
        return LCMD_SHARD_MEMBER;
    }
}

int lcmd_shard_read(lcmd_shard *s, int64_t max_bytes, uint8_t **data, size_t *len, char *err, size_t errlen)
{
    *data = NULL;
    *len = 0;
    size_t cap = 0, n = 0;
    uint8_t *buf = NULL;
    for (;;) {
        if (cap - n < READ_BLOCK) {
            size_t ncap = cap ? cap * 2 : READ_BLOCK;
            uint8_t *nb = realloc(buf, ncap + 1);
            if (!nb) {
                free(buf);
                snprintf(err, errlen, "out of memory reading a member");
                return -1;
            }
            buf = nb;
            cap = ncap;
        }
        la_ssize_t r = archive_read_data(s->a, buf + n, cap - n);
        if (r == 0)
            break;
        if (r < 0) {
            free(buf);
            archive_message(s->a, "read error", err, errlen);
            return -1;
        }
        n += (size_t)r;
        if ((int64_t)n > max_bytes) {
            free(buf);
            /* the rest of the member is skipped by the next header read */
            return 1;
        }
    }
    buf[n] = '\0';  /* room reserved by the +1 */
    *data = buf;
    *len = n;
    return 0;
}

int lcmd_shard_close(lcmd_shard *s, char *err, size_t errlen)
{
    if (!s)
        return 0;
    int rc = 0;
    if (s->pipe) {
        /* drain the command's output so that it is not killed by SIGPIPE mid-write */
        char sink[4096];
        while (fread(sink, 1, sizeof sink, s->pipe) > 0) {
        }
    }
    archive_read_free(s->a);
    if (s->pipe) {
        int st = pclose(s->pipe);
        if (st == -1) {
            snprintf(err, errlen, "pclose: %s", strerror(errno));
            rc = 1;
        } else if (WIFEXITED(st) && WEXITSTATUS(st) != 0) {
            snprintf(err, errlen, "exit status %d", WEXITSTATUS(st));
            rc = 1;
        } else if (WIFSIGNALED(st)) {
            snprintf(err, errlen, "killed by signal %d", WTERMSIG(st));
            rc = 1;
        }
    }
    free(s);
    return rc;
}
