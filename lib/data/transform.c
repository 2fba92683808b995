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
    /* resize only the kept window (exact: each output pixel's taps are its own) */
    size_t plane = (size_t)r * (size_t)r;
    uint8_t *crop = malloc(plane * 3);
    if (!crop)
        return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "transform: %dx%d crop", r, r);
    lcmd_status s = lcmd_resize_bilinear_crop_u8(rgb, w, h, 3, nw, nh, left, top, r, r, crop);
    if (s != LCMD_OK) {
        free(crop);
        return s;
    }
    /* (u / 255 - 0.5) / 0.5 in float for each byte value, computed as before */
    float lut[256];
    for (int u = 0; u < 256; u++) {
        float v = (float)u / 255.0f;
        lut[u] = (v - 0.5f) / 0.5f;
    }
    float *o0 = out, *o1 = out + plane, *o2 = out + 2 * plane;
    for (int y = 0; y < r; y++) {
        const uint8_t *row = crop + (size_t)y * (size_t)r * 3;
        size_t base = (size_t)y * (size_t)r;
        if (flip) {
            for (int x = 0; x < r; x++) {
                const uint8_t *px = row + (size_t)(r - 1 - x) * 3;
                o0[base + (size_t)x] = lut[px[0]];
                o1[base + (size_t)x] = lut[px[1]];
                o2[base + (size_t)x] = lut[px[2]];
            }
        } else {
            for (int x = 0; x < r; x++) {
                const uint8_t *px = row + (size_t)x * 3;
                o0[base + (size_t)x] = lut[px[0]];
                o1[base + (size_t)x] = lut[px[1]];
                o2[base + (size_t)x] = lut[px[2]];
            }
        }
    }
    free(crop);
    return LCMD_OK;
}
