/* out.png, out-1.png, out-2.png, ... */
#include "output_names.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *output_name(const char *output, int index)
{
    size_t len = strlen(output);
    char *name = malloc(len + 16);
    if (!name) return NULL;
    if (index == 0) {
        memcpy(name, output, len + 1);
        return name;
    }
    const char *slash = strrchr(output, '/');
    const char *dot = strrchr(output, '.');
    /* a dot in a folder name or a leading dot (".png") is not an extension */
    if (!dot || (slash && dot < slash) || dot == (slash ? slash + 1 : output)) dot = output + len;
    snprintf(name, len + 16, "%.*s-%d%s", (int)(dot - output), output, index, dot);
    return name;
}
