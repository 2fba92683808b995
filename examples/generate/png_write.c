/* Float CHW images to 8-bit RGB PNG files through stb_image_write. */
#include "png_write.h"

#include <math.h>
#include <stdlib.h>

#include <stb_image_write.h>

int png_write_rgb(const char *path, const float *chw, int64_t height, int64_t width)
{
    const size_t plane = (size_t)(height * width);
    unsigned char *px = malloc(plane * 3);
    if (!px) return -1;
    for (size_t i = 0; i < plane; i++)
        for (int c = 0; c < 3; c++) {
            float v = chw[(size_t)c * plane + i] * 0.5f + 0.5f;
            v = v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
            px[i * 3 + (size_t)c] = (unsigned char)lrintf(v * 255.0f);   /* half to even, as numpy's round */
        }
    int ok = stbi_write_png(path, (int)width, (int)height, 3, px, (int)width * 3);
    free(px);
    return ok ? 0 : -1;
}
