/* The image transform of the reference: resize the shorter side to R, crop R x R,
 * optional horizontal flip, to float NCHW in [-1, 1]. */
#ifndef LCMD_DATA_TRANSFORM_H
#define LCMD_DATA_TRANSFORM_H

#include <stdint.h>
#include <lcmd/status.h>

/* Size after the resize: shorter side R, longer int(R * long / short) (truncated). */
void lcmd_resized_size(int w, int h, int r, int *nw, int *nh);

/* torchvision CenterCrop offset: round((size - r) / 2) with Python's half-to-even. */
int lcmd_center_offset(int size, int r);

/* Uniform integer in [0, n] from a 32-bit random word (n < 2^31). */
int lcmd_uniform_upto(uint32_t u, int n);

/* Resizes rgb (w x h, interleaved RGB8) to the lcmd_resized_size, crops the R x R
 * window at (top, left) of the resized image, flips it when `flip`, and writes
 * (u / 255 - 0.5) / 0.5 as planar float `out` (3 x R x R). (top, left) must fit.
 * Errors: LCMD_ERR_OUT_OF_MEMORY, LCMD_ERR_INVALID_ARGUMENT. */
lcmd_status lcmd_transform_image(const uint8_t *rgb, int w, int h, int r, int top, int left, int flip,
                                 float *out);

#endif /* LCMD_DATA_TRANSFORM_H */
