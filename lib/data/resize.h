/* Bilinear resampling of 8-bit images, bit-identical to Pillow 13's
 * Image.resize(size, Image.BILINEAR) (ImagingResample without a box):
 *  - per axis, a triangle filter whose support grows with the downscale factor
 *    (antialiased); per output pixel the taps cover source indices
 *    [int(c - s + 0.5), int(c + s + 0.5)) clipped to the image, c = (i + 0.5) * scale,
 *    weights normalised to sum 1 in double and turned into 22-bit fixed point
 *    (round half away from zero);
 *  - each pass accumulates from 2^21 (rounding) and keeps bits 22..29, clamped to
 *    0..255, so the intermediate image is 8-bit;
 *  - a pass whose size does not change is not run;
 *  - pass order: horizontal first (over only the source rows the vertical pass reads),
 *    unless the height shrinks by more than twice as many pixels as the width
 *    (sh - dh > 0 and sh - dh > 2 (sw - dw)): then vertical first, over the full width.
 * The order matters: the two orders round the intermediate image differently. */
#ifndef LCMD_DATA_RESIZE_H
#define LCMD_DATA_RESIZE_H

#include <stdint.h>
#include <lcmd/status.h>

/* Resizes interleaved `ch`-channel src (sw x sh) into dst (dw x dh, caller-allocated,
 * distinct from src). Errors: LCMD_ERR_OUT_OF_MEMORY, LCMD_ERR_INVALID_ARGUMENT for
 * non-positive sizes. */
lcmd_status lcmd_resize_bilinear_u8(const uint8_t *src, int sw, int sh, int ch, uint8_t *dst, int dw,
                                    int dh);

/* The cw x cht window at (cx, cy) of the same resize (output size dw x dh) into dst
 * (cw x cht, interleaved), byte-identical to cropping lcmd_resize_bilinear_u8's output:
 * only the kept output pixels are computed, and the first pass only over the source
 * rows/columns those read. The pass order is that of the full resize. Errors: those of
 * lcmd_resize_bilinear_u8, LCMD_ERR_INVALID_ARGUMENT for a window outside dw x dh. */
lcmd_status lcmd_resize_bilinear_crop_u8(const uint8_t *src, int sw, int sh, int ch, int dw, int dh, int cx, int cy,
                                         int cw, int cht, uint8_t *dst);

#endif /* LCMD_DATA_RESIZE_H */
