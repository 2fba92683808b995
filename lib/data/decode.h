/* Image bytes to 8-bit RGB (as PIL's convert("RGB")), and caption checks. */
#ifndef LCMD_DATA_DECODE_H
#define LCMD_DATA_DECODE_H

#include <stddef.h>
#include <stdint.h>

typedef enum lcmd_decode_result {
    LCMD_DECODE_OK = 0,
    LCMD_DECODE_ERROR = 1,      /* empty, truncated, unknown or unsupported bytes */
    LCMD_DECODE_TOO_LARGE = 2,  /* width * height above the cap (checked before decoding) */
    LCMD_DECODE_NO_MEMORY = 3
} lcmd_decode_result;

/* Decodes JPEG / PNG / BMP / GIF (first frame) with stb_image, WebP with libwebp, to
 * interleaved RGB (*rgb, malloc'd, w*h*3 bytes). The format is found from the bytes.
 * On failure `why` holds a short reason. */
lcmd_decode_result lcmd_image_decode_rgb(const uint8_t *data, size_t size, int64_t max_pixels,
                                         uint8_t **rgb, int *w, int *h, char *why, size_t whylen);

/* 1 when s[0..n) is well-formed UTF-8 (no overlongs, surrogates or code points above
 * U+10FFFF, as Python's strict decoder) and holds no NUL byte. */
int lcmd_utf8_valid(const uint8_t *s, size_t n);

#endif /* LCMD_DATA_DECODE_H */
