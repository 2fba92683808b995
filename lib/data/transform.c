#include "data/transform.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "data/resize.h"

void lcmd_resized_size(int w, int h, int r, int *nw, int *nh)
{
    if (w <= h) {
        *nw = r;
        *nh = (int)((double)((int64_t)r * h) / (double)w);
    } else {
        *nh = r;
        *nw = (int)((double)((int64_t)r * w) / (double)h);
    }
}

int lcmd_center_offset(int size, int r)
{
    int d = size - r;
    int half = d / 2;
    if (d % 2 == 0)
        return half;
    return (half % 2 == 0) ? half : half + 1;  /* k + 0.5 rounds to the even one */
}

int lcmd_uniform_upto(uint32_t u, int n)
{
    return (int)(((uint64_t)u * (uint64_t)((uint32_t)n + 1u)) >> 32);
}

lcmd_status lcmd_transform_image(const uint8_t *rgb, int w, int h, int r, int top, int left, int flip,
                                 float *out)
{
    int nw, nh;
    lcmd_resized_size(w, h, r, &nw, &nh);
    if (nw < r || nh < r || top < 0 || left < 0 || top > nh - r || left > nw - r)
        return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "transform: crop (%d, %d) outside %dx%d", top, left, nw, nh);
    const uint8_t *img = rgb;
    uint8_t *resized = NULL;
    if (nw != w || nh != h) {
        resized = malloc((size_t)nw * (size_t)nh * 3);
        if (!resized)
            return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "transform: %dx%d image", nw, nh);
        lcmd_status s = lcmd_resize_bilinear_u8(rgb, w, h, 3, resized, nw, nh);
        if (s != LCMD_OK) {
            free(resized);
            return s;
        }
        img = resized;
    }
    size_t plane = (size_t)r * (size_t)r;
    for (int y = 0; y < r; y++) {
        const uint8_t *row = img + ((size_t)(top + y) * (size_t)nw + (size_t)left) * 3;
        for (int x = 0; x < r; x++) {
            int sx = flip ? r - 1 - x : x;
            for (int c = 0; c < 3; c++) {
                float v = (float)row[(size_t)sx * 3 + (size_t)c] / 255.0f;
                out[(size_t)c * plane + (size_t)y * (size_t)r + (size_t)x] = (v - 0.5f) / 0.5f;
            }
        }
    }
    free(resized);
    return LCMD_OK;
}
