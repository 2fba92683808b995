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

/* Decodes image bytes to interleaved RGB (*rgb, malloc'd, w*h*3 bytes) with the pixels
 * PIL 13's Image.open(...).convert("RGB") gives (exceptions: 16-bit grey PNG, see
 * below). The format is found from the bytes:
 *  - JPEG with libjpeg-turbo (data/jpeg.h): exact against PIL, grey and CMYK included;
 *  - WebP (lossy, lossless, with alpha; not animated) with libwebp: alpha dropped;
 *  - PNG and the rest (BMP, GIF first frame, ...) with stb_image: grey replicated,
 *    grey + alpha and RGBA lose the alpha without compositing, palettes (with or
 *    without tRNS) expanded, 1/2/4-bit grey scaled as PIL, 16-bit RGB(A) and grey +
 *    alpha keep the high byte (as PIL); 16-bit grey is scaled v >> 8, where PIL
 *    clips v at 255 (almost white; docs/differences.md).
 * EXIF orientation is not applied (PIL's open does not either). The header size is
 * checked against max_pixels before decoding. On failure `why` holds a short reason. */
lcmd_decode_result lcmd_image_decode_rgb(const uint8_t *data, size_t size, int64_t max_pixels,
                                         uint8_t **rgb, int *w, int *h, char *why, size_t whylen);

/* lcmd_image_decode_rgb, then, when apply_orientation is set, the EXIF orientation
 * applied as PIL's ImageOps.exif_transpose (data/exif.h). */
lcmd_decode_result lcmd_image_decode_rgb_exif(const uint8_t *data, size_t size, int64_t max_pixels,
                                              int apply_orientation, uint8_t **rgb, int *w, int *h, char *why,
                                              size_t whylen);

/* 1 when s[0..n) is well-formed UTF-8 (no overlongs, surrogates or code points above
 * U+10FFFF, as Python's strict decoder) and holds no NUL byte. */
int lcmd_utf8_valid(const uint8_t *s, size_t n);

#endif /* LCMD_DATA_DECODE_H */
