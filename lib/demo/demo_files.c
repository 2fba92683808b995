/* Folder creation and atomic writes of the demo files. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "demo/demo_internal.h"
#include "io/atomic_file.h"

lcmd_status demo_make_folder(const char *path)
{
    if (mkdir(path, 0777) == 0) return LCMD_OK;
    int e = errno;
    struct stat sb;
    if (e == EEXIST && stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) return LCMD_OK;
    return lcmd_set_error(LCMD_ERR_IO, "%s: cannot create folder: %s", path,
                          e == EEXIST ? "a file of that name exists" : strerror(e));
}

lcmd_status demo_join(const char *dir, const char *name, char **out)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    *out = malloc(n);
    if (!*out) return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "demo: out of memory");
    snprintf(*out, n, "%s/%s", dir, name);
    return LCMD_OK;
}

lcmd_status demo_write_file(const char *dir, const char *name, const void *data, size_t len)
{
    char *path = NULL;
    LCMD_TRY(demo_join(dir, name, &path));
    lcmd_atomic_file af;
    lcmd_status s = lcmd_atomic_file_begin(path, &af);
    if (!s) {
        s = lcmd_atomic_file_write(&af, data, len);
        if (!s) s = lcmd_atomic_file_commit(&af);
        else lcmd_atomic_file_abort(&af);
    }
    free(path);
    return s;
}

lcmd_status demo_write_json(const char *dir, const char *name, const json_t *root)
{
    /* 10 significant digits print 0.00085 and 1e-05 as written, and read back to the
     * same doubles as Python's json */
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
    if (!text) return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "demo: out of memory writing %s/%s", dir, name);
    size_t n = strlen(text);
    char *withnl = realloc(text, n + 2);
    if (!withnl) {
        free(text);
        return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "demo: out of memory writing %s/%s", dir, name);
    }
    withnl[n] = '\n';
    withnl[n + 1] = 0;
    lcmd_status s = demo_write_file(dir, name, withnl, n + 1);
    free(withnl);
    return s;
}

lcmd_status demo_json_set(json_t *obj, const char *key, json_t *value)
{
    if (!value || json_object_set_new(obj, key, value) != 0)
        return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "demo: out of memory building JSON ('%s')", key);
    return LCMD_OK;
}
