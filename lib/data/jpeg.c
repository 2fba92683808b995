/* libjpeg decoding with PIL's settings and PIL's CMYK -> RGB conversion. */
#include "data/jpeg.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>

/* Error manager: fatal errors jump back with the message; the "premature end" warning
 * is remembered, other warnings are ignored, nothing is printed. */
typedef struct jerr {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    int saw_eof;
    char msg[JMSG_LENGTH_MAX];
} jerr;

static void on_error_exit(j_common_ptr cinfo)
{
    jerr *e = (jerr *)cinfo->err;
    cinfo->err->format_message(cinfo, e->msg);
    longjmp(e->jump, 1);
}

static void on_emit_message(j_common_ptr cinfo, int level)
{
    jerr *e = (jerr *)cinfo->err;
    if (level < 0) {
        if (cinfo->err->msg_code == JWRN_JPEG_EOF)
            e->saw_eof = 1;
        cinfo->err->num_warnings++;
    }
}

static void on_output_message(j_common_ptr cinfo)
{
    (void)cinfo;
}

int lcmd_is_jpeg(const uint8_t *data, size_t size)
{
    return size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF;
}

/* PIL's a * b / 255 with rounding: t = a b + 128, ((t >> 8) + t) >> 8. */
static inline int muldiv255(int a, int b)
{
    int t = a * b + 128;
    return ((t >> 8) + t) >> 8;
}

/* One row of libjpeg's CMYK (Adobe-inverted as stored) to RGB as PIL: unpack
 * "CMYK;I" (every channel inverted), then cmyk2rgb. */
static void cmyk_row_to_rgb(const uint8_t *in, uint8_t *out, int w)
{
    for (int x = 0; x < w; x++, in += 4, out += 3) {
        int nk = in[3]; /* 255 - (255 - K) */
        for (int c = 0; c < 3; c++) {
            int v = nk - muldiv255(255 - in[c], nk);
            out[c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    }
}

lcmd_decode_result lcmd_jpeg_decode_rgb(const uint8_t *data, size_t size, int64_t max_pixels, uint8_t **rgb,
                                        int *w, int *h, char *why, size_t whylen)
{
    struct jpeg_decompress_struct cinfo;
    jerr err;
    /* written after setjmp and read after a longjmp: volatile */
    uint8_t *volatile out = NULL;
    uint8_t *volatile row = NULL;
    volatile lcmd_decode_result res = LCMD_DECODE_ERROR;

    *rgb = NULL;
    *w = *h = 0;
    memset(&err, 0, sizeof err);
    cinfo.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = on_error_exit;
    err.pub.emit_message = on_emit_message;
    err.pub.output_message = on_output_message;
    if (setjmp(err.jump)) {
        snprintf(why, whylen, "JPEG: %s", err.msg);
        goto fail;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);
    int nc = cinfo.num_components;
    if (cinfo.data_precision != 8 || (nc != 1 && nc != 3 && nc != 4)) {
        snprintf(why, whylen, "JPEG with %d-bit samples and %d components", cinfo.data_precision, nc);
        goto fail;
    }
    if ((int64_t)cinfo.image_width * (int64_t)cinfo.image_height > max_pixels) {
        snprintf(why, whylen, "%ux%u image above the cap of %lld pixels", cinfo.image_width, cinfo.image_height,
                 (long long)max_pixels);
        res = LCMD_DECODE_TOO_LARGE;
        goto fail;
    }
    cinfo.out_color_space = nc == 1 ? JCS_GRAYSCALE : nc == 3 ? JCS_RGB : JCS_CMYK;
    cinfo.dct_method = JDCT_ISLOW;
    cinfo.do_fancy_upsampling = TRUE;
    jpeg_start_decompress(&cinfo);
    int ow = (int)cinfo.output_width, oh = (int)cinfo.output_height;
    int oc = cinfo.output_components;
    size_t stride = (size_t)ow * 3;
    out = malloc(stride * (size_t)oh);
    row = oc != 3 ? malloc((size_t)ow * (size_t)oc) : NULL;
    if (!out || (oc != 3 && !row)) {
        res = LCMD_DECODE_NO_MEMORY;
        snprintf(why, whylen, "out of memory");
        goto fail;
    }
    while (cinfo.output_scanline < cinfo.output_height && !err.saw_eof) {
        uint8_t *dst = out + stride * cinfo.output_scanline;
        JSAMPROW target = oc == 3 ? dst : row;
        if (jpeg_read_scanlines(&cinfo, &target, 1) != 1)
            break;
        if (oc == 1) {
            for (int x = 0; x < ow; x++)
                dst[3 * x] = dst[3 * x + 1] = dst[3 * x + 2] = row[x];
        } else if (oc == 4) {
            cmyk_row_to_rgb(row, dst, ow);
        }
    }
    if (err.saw_eof || cinfo.output_scanline < cinfo.output_height) {
        snprintf(why, whylen, "JPEG data ends before the image does (truncated)");
        goto fail;
    }
    /* no jpeg_finish_decompress: what follows the last scanline is not needed */
    jpeg_destroy_decompress(&cinfo);
    free(row);
    *rgb = out;
    *w = ow;
    *h = oh;
    return LCMD_DECODE_OK;

fail:
    jpeg_destroy_decompress(&cinfo);
    free(row);
    free(out);
    return res;
}
