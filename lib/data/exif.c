/* EXIF orientation parsing (TIFF IFD0) and the eight transpositions. */
#include "data/exif.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

static uint32_t rd16(const uint8_t *p, int be)
{
    return be ? (uint32_t)p[0] << 8 | p[1] : (uint32_t)p[1] << 8 | p[0];
}

static uint32_t rd32(const uint8_t *p, int be)
{
    return be ? rd16(p, 1) << 16 | rd16(p + 2, 1) : rd16(p + 2, 0) << 16 | rd16(p, 0);
}

/* Orientation from a TIFF header + IFD0 (optionally preceded by "Exif\0\0"). */
static int tiff_orientation(const uint8_t *t, size_t n)
{
    if (n >= 6 && memcmp(t, "Exif\0\0", 6) == 0) {
        t += 6;
        n -= 6;
    }
    if (n < 8)
        return 1;
    int be;
    if (memcmp(t, "II*\0", 4) == 0)
        be = 0;
    else if (memcmp(t, "MM\0*", 4) == 0)
        be = 1;
    else
        return 1;
    uint32_t ifd = rd32(t + 4, be);
    if (ifd > n || n - ifd < 2)
        return 1;
    uint32_t count = rd16(t + ifd, be);
    const uint8_t *e = t + ifd + 2;
    if ((n - ifd - 2) / 12 < count)
        count = (uint32_t)((n - ifd - 2) / 12);
    for (uint32_t i = 0; i < count; i++, e += 12) {
        if (rd16(e, be) != 0x0112)
            continue;
        uint32_t type = rd16(e + 2, be);
        uint32_t v = type == 3 ? rd16(e + 8, be) : type == 4 ? rd32(e + 8, be) : 0;
        return v >= 1 && v <= 8 ? (int)v : 1;
    }
    return 1;
}

static int jpeg_orientation(const uint8_t *d, size_t n)
{
    size_t i = 2;
    while (i + 4 <= n) {
        if (d[i] != 0xFF) {
            i++;  /* junk between segments */
            continue;
        }
        uint8_t m = d[i + 1];
        if (m == 0xFF) {
            i++;  /* fill byte */
            continue;
        }
        if (m == 0xD8 || m == 0x01 || (m >= 0xD0 && m <= 0xD7)) {
            i += 2;  /* markers without a length */
            continue;
        }
        if (m == 0xDA || m == 0xD9)
            return 1;  /* start of scan / end of image: no EXIF before the data */
        size_t len = (size_t)d[i + 2] << 8 | d[i + 3];
        if (len < 2 || len > n - i - 2)
            return 1;
        if (m == 0xE1 && len >= 8 && memcmp(d + i + 4, "Exif\0\0", 6) == 0)
            return tiff_orientation(d + i + 4, len - 2);
        i += 2 + len;
    }
    return 1;
}

static int png_orientation(const uint8_t *d, size_t n)
{
    size_t i = 8;
    while (i + 12 <= n) {
        size_t len = (size_t)d[i] << 24 | (size_t)d[i + 1] << 16 | (size_t)d[i + 2] << 8 | d[i + 3];
        if (len > n - i - 12)
            return 1;
        if (memcmp(d + i + 4, "eXIf", 4) == 0)
            return tiff_orientation(d + i + 8, len);
        if (memcmp(d + i + 4, "IEND", 4) == 0)
            return 1;
        i += 12 + len;
    }
    return 1;
}

static int webp_orientation(const uint8_t *d, size_t n)
{
    size_t i = 12;
    while (i + 8 <= n) {
        size_t len = (size_t)d[i + 4] | (size_t)d[i + 5] << 8 | (size_t)d[i + 6] << 16 | (size_t)d[i + 7] << 24;
        if (len > n - i - 8)
            return 1;
        if (memcmp(d + i, "EXIF", 4) == 0)
            return tiff_orientation(d + i + 8, len);
        i += 8 + len + (len & 1);
    }
    return 1;
}

int lcmd_exif_orientation(const uint8_t *data, size_t size)
{
    if (size >= 4 && data[0] == 0xFF && data[1] == 0xD8)
        return jpeg_orientation(data, size);
    if (size >= 8 && memcmp(data, "\x89PNG\r\n\x1a\n", 8) == 0)
        return png_orientation(data, size);
    if (size >= 12 && memcmp(data, "RIFF", 4) == 0 && memcmp(data + 8, "WEBP", 4) == 0)
        return webp_orientation(data, size);
    return 1;
}

lcmd_status lcmd_exif_apply_orientation(uint8_t **rgb, int *w, int *h, int o)
{
    if (o < 2 || o > 8)
        return LCMD_OK;
    int sw = *w, sh = *h;
    int swap = o >= 5;
    int ow = swap ? sh : sw, oh = swap ? sw : sh;
    uint8_t *out = malloc((size_t)sw * (size_t)sh * 3);
    if (!out)
        return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "exif orientation: %dx%d image", sw, sh);
    const uint8_t *in = *rgb;
    for (int y = 0; y < oh; y++) {
        for (int x = 0; x < ow; x++) {
            int sx, sy;
            switch (o) {
            case 2: sx = sw - 1 - x; sy = y; break;          /* mirror left-right */
            case 3: sx = sw - 1 - x; sy = sh - 1 - y; break; /* rotate 180 */
            case 4: sx = x; sy = sh - 1 - y; break;          /* flip top-bottom */
            case 5: sx = y; sy = x; break;                   /* transpose */
            case 6: sx = y; sy = sh - 1 - x; break;          /* rotate 90 clockwise */
            case 7: sx = sw - 1 - y; sy = sh - 1 - x; break; /* transverse */
            default: sx = sw - 1 - y; sy = x; break;         /* 8: rotate 90 counter-clockwise */
            }
            memcpy(out + ((size_t)y * (size_t)ow + (size_t)x) * 3, in + ((size_t)sy * (size_t)sw + (size_t)sx) * 3, 3);
        }
    }
    free(*rgb);
    *rgb = out;
    *w = ow;
    *h = oh;
    return LCMD_OK;
}
