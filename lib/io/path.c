#include "io/path.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

int lcmd_path_is_plain_name(const char *name)
{
    if (!name || !*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return 0;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        if (*p == '/' || *p == '\\' || *p < 0x20 || *p == 0x7f)
            return 0;
    return 1;
}

lcmd_status lcmd_path_join(const char *dir, const char *name, char **out)
{
    LCMD_CHECK_ARG(dir && name && out, "lcmd_path_join", "NULL argument");
    size_t dl = strlen(dir), nl = strlen(name);
    int slash = dl > 0 && dir[dl - 1] != '/';
    char *p = malloc(dl + (size_t)slash + nl + 1);
    if (!p)
        return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "%s: out of memory", dir);
    memcpy(p, dir, dl);
    if (slash)
        p[dl] = '/';
    memcpy(p + dl + (size_t)slash, name, nl + 1);
    *out = p;
    return LCMD_OK;
}
