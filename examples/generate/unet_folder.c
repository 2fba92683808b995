/* --unet: an exported unet/ folder, a checkpoint-N folder or an output_dir. */
#include "unet_folder.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int has_config(const char *folder)
{
    char path[4096];
    struct stat st;
    if (snprintf(path, sizeof path, "%s/config.json", folder) >= (int)sizeof path) return 0;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

char *resolve_unet_folder(const char *path)
{
    size_t len = strlen(path);
    char *sub = malloc(len + 6);
    if (!sub) return NULL;
    snprintf(sub, len + 6, "%s/unet", path);
    if (!has_config(path) && has_config(sub)) return sub;
    memcpy(sub, path, len + 1);
    return sub;
}
