/* Whole-file JSON loading with a size cap: read() into memory, then jansson. */
#include "io/json_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"

lcmd_status lcmd_json_parse_buffer(const char *buf, size_t len, const char *label, json_t **out)
{
    LCMD_CHECK_ARG(out, "lcmd_json_parse_buffer", "out is NULL");
    *out = NULL;
    LCMD_CHECK_ARG(buf || len == 0, "lcmd_json_parse_buffer", "buf is NULL");
    if (!label)
        label = "<json>";
    json_error_t jerr;
    json_t *root = json_loadb(buf ? buf : "", len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return lcmd_set_error(LCMD_ERR_FORMAT, "%s: line %d, column %d: %s", label, jerr.line, jerr.column, jerr.text);
    *out = root;
    return LCMD_OK;
}

lcmd_status lcmd_read_small_file(const char *path, size_t max_bytes, char **out, size_t *len)
{
    LCMD_CHECK_ARG(out && len, "lcmd_read_small_file", "out or len is NULL");
    *out = NULL;
    *len = 0;
    LCMD_CHECK_ARG(path, "lcmd_read_small_file", "path is NULL");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return lcmd_set_error(LCMD_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return lcmd_set_error(LCMD_ERR_IO, "%s: not a regular file", path);
    }
    if ((uint64_t)sb.st_size > max_bytes) {
        close(fd);
        return lcmd_set_error(LCMD_ERR_FORMAT, "%s: %lld bytes, more than the limit of %zu",
                              path, (long long)sb.st_size, max_bytes);
    }
    size_t cap = (size_t)sb.st_size;
    char *buf = malloc(cap + 1);
    if (!buf) {
        close(fd);
        return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    }
    size_t got = 0;
    while (got < cap) {   /* the file may shrink under us: stop at EOF */
        ssize_t r = read(fd, buf + got, cap - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            free(buf);
            close(fd);
            return lcmd_set_error(LCMD_ERR_IO, "%s: read failed: %s", path, strerror(e));
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    buf[got] = '\0';
    *out = buf;
    *len = got;
    return LCMD_OK;
}

lcmd_status lcmd_json_load_file(const char *path, size_t max_bytes, json_t **out)
{
    LCMD_CHECK_ARG(out, "lcmd_json_load_file", "out is NULL");
    *out = NULL;
    char *buf;
    size_t len;
    LCMD_TRY(lcmd_read_small_file(path, max_bytes, &buf, &len));
    lcmd_status s = lcmd_json_parse_buffer(buf, len, path, out);
    free(buf);
    return s;
}
