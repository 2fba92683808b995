/* JPEG to 8-bit RGB with libjpeg(-turbo), as PIL 13 opens and converts it. */
#ifndef LCMD_DATA_JPEG_H
#define LCMD_DATA_JPEG_H

#include <stddef.h>
#include <stdint.h>

#include "data/decode.h"

/* 1 when the bytes start with a JPEG SOI marker (FF D8 FF). */
int lcmd_is_jpeg(const uint8_t *data, size_t size);

/* Decodes a JPEG with the settings PIL uses (accurate integer IDCT, fancy
 * upsampling, the library's colour-space guess) to interleaved RGB (*rgb, malloc'd):
 * 1 component is replicated, 3 are converted by libjpeg to RGB, 4 are read as CMYK
 * (YCCK converted by libjpeg) and, as PIL does for every CMYK JPEG (it assumes Adobe's
 * inverted polarity: raw mode "CMYK;I", then cmyk2rgb, no colour management), with
 * the samples C, M, Y, K as libjpeg returns them: R = clip(K - (255 - C) * K / 255)
 * (likewise G from M, B from Y; a * b / 255 rounded as PIL's MULDIV255). Other
 * component counts and non-8-bit samples fail, as in PIL. Data that ends before
 * libjpeg has all it reads fails, a missing EOI marker included (PIL: "image file is
 * truncated"); warnings about corrupt data otherwise do not. The header is checked
 * against max_pixels before decoding. */
lcmd_decode_result lcmd_jpeg_decode_rgb(const uint8_t *data, size_t size, int64_t max_pixels, uint8_t **rgb,
                                        int *w, int *h, char *why, size_t whylen);

#endif /* LCMD_DATA_JPEG_H */
