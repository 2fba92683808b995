/* EXIF orientation: read from JPEG / PNG / WebP bytes, applied as PIL's
 * ImageOps.exif_transpose. */
#ifndef LCMD_DATA_EXIF_H
#define LCMD_DATA_EXIF_H

#include <stddef.h>
#include <stdint.h>
#include <lcmd/status.h>

/* The EXIF Orientation tag (0x0112) of IFD0, 1..8, from a JPEG's first APP1 "Exif"
 * segment, a PNG's eXIf chunk or a WebP's EXIF chunk; 1 when there is none or it is
 * malformed or out of range. Never reads outside data[0..size). */
int lcmd_exif_orientation(const uint8_t *data, size_t size);

/* Replaces *rgb (interleaved RGB, *w x *h, malloc'd) by its transposition for EXIF
 * orientation `o` (2 mirror, 3 rotate 180, 4 flip, 5 transpose, 6 rotate 90 clockwise,
 * 7 transverse, 8 rotate 90 counter-clockwise), swapping *w and *h for 5..8; 1 and
 * other values leave it unchanged. Errors: LCMD_ERR_OUT_OF_MEMORY (*rgb unchanged). */
lcmd_status lcmd_exif_apply_orientation(uint8_t **rgb, int *w, int *h, int o);

#endif /* LCMD_DATA_EXIF_H */
