/* Reads block_out_channels from a diffusers config.json. */
#include "config_peek.h"

#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

int config_downsample_factor(const char *folder)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/config.json", folder) >= (int)sizeof path) return 0;
    json_t *root = json_load_file(path, 0, NULL);
    if (!root) return 0;
    json_t *blocks = json_object_get(root, "block_out_channels");
    size_t n = json_is_array(blocks) ? json_array_size(blocks) : 0;
    json_decref(root);
    if (n < 1 || n > 16) return 0;
    return 1 << (n - 1);
}
