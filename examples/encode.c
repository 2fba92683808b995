/* lcmd-encode: encodes a caption with a pipeline's tokenizer and text encoder, and
 * round-trips an image through its VAE (encode -> latent mean -> decode), writing the
 * reconstruction as PNG and printing the PSNR.
 *
 *   lcmd-encode PIPELINE_FOLDER "a caption" [IMAGE.png|jpg OUTPUT.png] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stb_image.h>
#include <stb_image_write.h>

#include <lcmd/lcmd.h>

static int fail(const char *what, lcmd_status s)
{
    fprintf(stderr, "lcmd-encode: %s: %s: %s\n", what, lcmd_status_string(s), lcmd_last_error());
    return 1;
}

static int encode_caption(lcmd_pipeline *p, const char *caption)
{
    lcmd_tokenizer *tok = lcmd_pipeline_tokenizer(p, 0);
    lcmd_text_encoder *te = lcmd_pipeline_text_encoder(p, 0);
    size_t len = lcmd_tokenizer_model_max_length(tok);
    int32_t *ids = malloc(len * sizeof *ids);
    lcmd_text_encoder_info info;
    lcmd_text_encoder_info_init(&info);
    lcmd_text_encoder_get_info(te, &info);
    float *hidden = malloc(len * (size_t)info.hidden_size * sizeof *hidden);
    lcmd_status s = ids && hidden ? LCMD_OK : LCMD_ERR_OUT_OF_MEMORY;
    if (!s) s = lcmd_tokenizer_encode_padded(tok, &caption, 1, ids);
    lcmd_text_encoder_outputs out;
    lcmd_text_encoder_outputs_init(&out);
    out.last_hidden_state = hidden;
    if (!s) s = lcmd_text_encoder_forward(te, ids, 1, (int64_t)len, &out);
    if (!s) {
        printf("caption: \"%s\"\ntoken ids:", caption);
        for (size_t i = 0; i < len; i++) {
            printf(" %d", ids[i]);
            if (ids[i] == lcmd_tokenizer_eos_id(tok)) break;
        }
        double sum = 0, sq = 0;
        size_t n = len * (size_t)info.hidden_size;
        for (size_t i = 0; i < n; i++) { sum += hidden[i]; sq += (double)hidden[i] * hidden[i]; }
        printf("\ntext embedding: %zu x %d, mean %.5f, rms %.5f\n", len, info.hidden_size, sum / n, sqrt(sq / n));
    }
    free(ids);
    free(hidden);
    return s ? fail("caption", s) : 0;
}

static int round_trip(lcmd_pipeline *p, const char *in_path, const char *out_path)
{
    int w, h, c;
    unsigned char *px = stbi_load(in_path, &w, &h, &c, 3);
    if (!px) {
        fprintf(stderr, "lcmd-encode: %s: cannot decode image: %s\n", in_path, stbi_failure_reason());
        return 1;
    }
    lcmd_vae *vae = lcmd_pipeline_vae(p);
    lcmd_vae_info vi;
    lcmd_vae_info_init(&vi);
    lcmd_vae_get_info(vae, &vi);
    int f = vi.downsample_factor;
    int H = h / f * f, W = w / f * f;   /* the largest top-left crop the VAE accepts */
    if (H == 0 || W == 0) {
        fprintf(stderr, "lcmd-encode: %s: %dx%d is smaller than the VAE's factor %d\n", in_path, w, h, f);
        stbi_image_free(px);
        return 1;
    }
    size_t n = (size_t)3 * H * W, nl = (size_t)vi.latent_channels * (H / f) * (W / f);
    float *img = malloc(n * sizeof *img), *back = malloc(n * sizeof *back);
    float *mean = malloc(nl * sizeof *mean), *logvar = malloc(nl * sizeof *logvar);
    unsigned char *outpx = malloc(n);
    lcmd_status s = img && back && mean && logvar && outpx ? LCMD_OK : LCMD_ERR_OUT_OF_MEMORY;
    for (int ch = 0; !s && ch < 3; ch++)   /* HWC bytes -> NCHW in [-1, 1] */
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
                img[((size_t)ch * H + y) * W + x] = px[((size_t)y * w + x) * 3 + ch] / 127.5f - 1.0f;
    if (!s) s = lcmd_vae_encode(vae, 1, H, W, img, mean, logvar);
    if (!s) s = lcmd_vae_decode(vae, 1, H / f, W / f, mean, back);
    if (!s) {
        double mse = 0;
        for (int ch = 0; ch < 3; ch++)
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++) {
                    float v = back[((size_t)ch * H + y) * W + x];
                    v = v < -1.0f ? -1.0f : v > 1.0f ? 1.0f : v;
                    unsigned char b = (unsigned char)lrintf((v + 1.0f) * 127.5f);
                    outpx[((size_t)y * W + x) * 3 + ch] = b;
                    double d = (double)b - px[((size_t)y * w + x) * 3 + ch];
                    mse += d * d;
                }
        mse /= (double)n;
        printf("image: %s %dx%d -> latent %dx%dx%d -> %s, PSNR %.2f dB\n", in_path, W, H, vi.latent_channels,
               H / f, W / f, out_path, mse > 0 ? 10.0 * log10(255.0 * 255.0 / mse) : INFINITY);
        if (!stbi_write_png(out_path, W, H, 3, outpx, W * 3)) {
            fprintf(stderr, "lcmd-encode: %s: cannot write PNG\n", out_path);
            s = LCMD_ERR_IO;
        }
    } else {
        fail("image", s);
    }
    free(img); free(back); free(mean); free(logvar); free(outpx);
    stbi_image_free(px);
    return s ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc != 3 && argc != 5) {
        fprintf(stderr, "usage: %s PIPELINE_FOLDER \"caption\" [IMAGE OUTPUT.png]\n", argv[0]);
        return 2;
    }
    lcmd_context *ctx = NULL;
    lcmd_status s = lcmd_context_create(NULL, &ctx);
    if (s) return fail("context", s);
    lcmd_pipeline_options o;
    lcmd_pipeline_options_init(&o);
    o.load_unet = 0;
    lcmd_pipeline *p = NULL;
    if ((s = lcmd_pipeline_open(ctx, argv[1], &o, &p))) {
        lcmd_context_destroy(ctx);
        return fail(argv[1], s);
    }
    int rc = encode_caption(p, argv[2]);
    if (!rc && argc == 5)
        rc = round_trip(p, argv[3], argv[4]);
    lcmd_pipeline_destroy(p);
    lcmd_context_destroy(ctx);
    return rc;
}
