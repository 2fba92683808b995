/* Writing decoded images as 8-bit RGB PNG files. */
#ifndef LCMD_GENERATE_PNG_WRITE_H
#define LCMD_GENERATE_PNG_WRITE_H

#include <stdint.h>

/* Writes one image [3, height, width] with values in [-1, 1] to `path`, quantised as
 * diffusers does (round((v + 1) / 2 * 255)). Returns 0, or -1 when the file cannot be
 * written (out of memory included). */
int png_write_rgb(const char *path, const float *chw, int64_t height, int64_t width);

#endif
