/* Bilinear resampling of 8-bit images with the semantics of Pillow's
 * Image.resize(size, Image.BILINEAR): a separable triangle filter whose support grows
 * with the downscale factor (antialiased), weights normalised per output pixel and
 * turned into 22-bit fixed point, the horizontal pass first (rounded to 8 bits), then
 * the vertical one; a pass whose size does not change is not run. */
#ifndef LCMD_DATA_RESIZE_H
#define LCMD_DATA_RESIZE_H

#include <stdint.h>
#include <lcmd/status.h>

/* Resizes interleaved `ch`-channel src (sw x sh) into dst (dw x dh, caller-allocated).
 * Errors: LCMD_ERR_OUT_OF_MEMORY, LCMD_ERR_INVALID_ARGUMENT for non-positive sizes. */
lcmd_status lcmd_resize_bilinear_u8(const uint8_t *src, int sw, int sh, int ch, uint8_t *dst, int dw,
                                    int dh);

#endif /* LCMD_DATA_RESIZE_H */
