/* Format dispatch: JPEG with libjpeg (data/jpeg.c), WebP with libwebp, the rest
 * (PNG, BMP, GIF, ...) with stb_image; optional EXIF orientation (data/exif.c). */
#include "data/decode.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stb_image.h>
#include <webp/decode.h>

#include "data/exif.h"
#include "data/jpeg.h"

static int is_webp(const uint8_t *d, size_t n)
{
    return n >= 12 && memcmp(d, "RIFF", 4) == 0 && memcmp(d + 8, "WEBP", 4) == 0;
}

lcmd_decode_result lcmd_image_decode_rgb(const uint8_t *data, size_t size, int64_t max_pixels,
                                         uint8_t **rgb, int *w, int *h, char *why, size_t whylen)
{
    *rgb = NULL;
    *w = *h = 0;
    if (size == 0) {
        snprintf(why, whylen, "empty image");
        return LCMD_DECODE_ERROR;
    }
    if (size > INT_MAX) {
        snprintf(why, whylen, "image bytes above 2 GiB");
        return LCMD_DECODE_TOO_LARGE;
    }
    if (lcmd_is_jpeg(data, size))
        return lcmd_jpeg_decode_rgb(data, size, max_pixels, rgb, w, h, why, whylen);
    int iw = 0, ih = 0;
    if (is_webp(data, size)) {
        if (!WebPGetInfo(data, size, &iw, &ih) || iw <= 0 || ih <= 0) {
            snprintf(why, whylen, "not a decodable WebP");
            return LCMD_DECODE_ERROR;
        }
    } else if (size >= 24 && memcmp(data, "\x89PNG\r\n\x1a\n", 8) == 0 && memcmp(data + 12, "IHDR", 4) == 0) {
        /* read the PNG header ourselves: stb_image refuses large ones with a reason
         * that a later format probe overwrites */
        uint32_t pw = (uint32_t)data[16] << 24 | (uint32_t)data[17] << 16 | (uint32_t)data[18] << 8 | data[19];
        uint32_t ph = (uint32_t)data[20] << 24 | (uint32_t)data[21] << 16 | (uint32_t)data[22] << 8 | data[23];
        if ((int64_t)pw * (int64_t)ph > max_pixels) {
            snprintf(why, whylen, "%ux%u image above the cap of %lld pixels", pw, ph, (long long)max_pixels);
            return LCMD_DECODE_TOO_LARGE;
        }
    }
    if (!is_webp(data, size)) {
        int comp = 0;
        if (!stbi_info_from_memory(data, (int)size, &iw, &ih, &comp) || iw <= 0 || ih <= 0) {
            const char *r = stbi_failure_reason();
            if (r && strcmp(r, "too large") == 0) {
                /* stb_image refuses headers above 2^24 per side or 2^30 bytes */
                snprintf(why, whylen, "image dimensions too large to decode");
                return LCMD_DECODE_TOO_LARGE;
            }
            snprintf(why, whylen, "unknown image format (%s)", r ? r : "no header");
            return LCMD_DECODE_ERROR;
        }
    }
    if ((int64_t)iw * (int64_t)ih > max_pixels) {
        snprintf(why, whylen, "%dx%d image above the cap of %lld pixels", iw, ih, (long long)max_pixels);
        return LCMD_DECODE_TOO_LARGE;
    }
    uint8_t *px;
    int dw = 0, dh = 0;
    if (is_webp(data, size)) {
        px = WebPDecodeRGB(data, size, &dw, &dh);
        if (!px) {
            snprintf(why, whylen, "WebP decode failed");
            return LCMD_DECODE_ERROR;
        }
        /* copy into malloc memory so that the caller frees uniformly */
        size_t n = (size_t)dw * (size_t)dh * 3;
        uint8_t *c = malloc(n);
        if (!c) {
            WebPFree(px);
            return LCMD_DECODE_NO_MEMORY;
        }
        memcpy(c, px, n);
        WebPFree(px);
        px = c;
    } else {
        int comp = 0;
        /* 16-bit PNGs come back scaled to 8 bits (v >> 8); grey is replicated, alpha
         * dropped and palettes expanded by req_comp = 3 */
        stbi_uc *s = stbi_load_from_memory(data, (int)size, &dw, &dh, &comp, 3);
        if (!s) {
            const char *r = stbi_failure_reason();
            snprintf(why, whylen, "decode failed (%s)", r ? r : "unknown");
            return LCMD_DECODE_ERROR;
        }
        size_t n = (size_t)dw * (size_t)dh * 3;
        uint8_t *c = malloc(n);
        if (!c) {
            stbi_image_free(s);
            return LCMD_DECODE_NO_MEMORY;
        }
        memcpy(c, s, n);
        stbi_image_free(s);
        px = c;
    }
    if (dw != iw || dh != ih) {
        free(px);
        snprintf(why, whylen, "decoded size differs from the header");
        return LCMD_DECODE_ERROR;
    }
    *rgb = px;
    *w = dw;
    *h = dh;
    return LCMD_DECODE_OK;
}

lcmd_decode_result lcmd_image_decode_rgb_exif(const uint8_t *data, size_t size, int64_t max_pixels,
                                              int apply_orientation, uint8_t **rgb, int *w, int *h, char *why,
                                              size_t whylen)
{
    lcmd_decode_result r = lcmd_image_decode_rgb(data, size, max_pixels, rgb, w, h, why, whylen);
    if (r != LCMD_DECODE_OK || !apply_orientation)
        return r;
    if (lcmd_exif_apply_orientation(rgb, w, h, lcmd_exif_orientation(data, size)) != LCMD_OK) {
        free(*rgb);
        *rgb = NULL;
        *w = *h = 0;
        snprintf(why, whylen, "out of memory");
        return LCMD_DECODE_NO_MEMORY;
    }
    return LCMD_DECODE_OK;
}

int lcmd_utf8_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c == 0)
            return 0;
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        uint32_t cp, min;
        if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
            cp = c & 0x1Fu;
            min = 0x80;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            cp = c & 0x0Fu;
            min = 0x800;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            cp = c & 0x07u;
            min = 0x10000;
        } else {
            return 0;
        }
        if (n - i < len)
            return 0;
        for (size_t k = 1; k < len; k++) {
            uint8_t cc = s[i + k];
            if ((cc & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (cc & 0x3Fu);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += len;
    }
    return 1;
}
