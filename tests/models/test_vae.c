/* The VAE (include/lcmd/vae.h) against diffusers' AutoencoderKL: tiny random models
 * from tests/reference/gen_text_vae.py (SD-like with an fp16 variant, SDXL-like with
 * logvar past both clamps, SD3-like with shift_factor and neither quant conv nor
 * mid-block attention, and the SD weights under the legacy attention names) on square
 * and non-square images; posterior, sampling with given and library noise, scaling,
 * decoding; and bad folders and inputs. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lcmd/lcmd.h>
#include <lcmd/vae.h>
#include "io/safetensors.h"

#define FIX LCMD_FIXTURES "/vae"
#define TOL 1e-4
#define MAXN 8192

static lcmd_context *ctx_new(uint64_t seed)
{
    lcmd_context_options o;
    lcmd_context_options_init(&o);
    o.log_level = LCMD_LOG_WARN;
    o.num_threads = 2;
    o.seed = seed;
    lcmd_context *ctx = NULL;
    ck_assert_msg(lcmd_context_create(&o, &ctx) == LCMD_OK, "%s", lcmd_last_error());
    return ctx;
}

static double rel_err(const float *a, const float *b, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(a[i])) return INFINITY;
        double d = (double)a[i] - b[i];
        num += d * d;
        den += (double)b[i] * b[i];
    }
    return sqrt(num / (den > 0 ? den : 1));
}

static lcmd_vae *load(lcmd_context *ctx, const char *folder, const char *variant)
{
    lcmd_vae_load_options o;
    lcmd_vae_load_options_init(&o);
    o.variant = variant;
    lcmd_vae *v = NULL;
    ck_assert_msg(lcmd_vae_load(ctx, folder, &o, &v) == LCMD_OK, "%s: %s", folder, lcmd_last_error());
    return v;
}

/* case<c>.<what> into buf; returns its tensor */
static const lcmd_st_tensor *get(const lcmd_safetensors *st, int c, const char *what, float *buf)
{
    char name[64];
    snprintf(name, sizeof name, "case%d.%s", c, what);
    const lcmd_st_tensor *t = lcmd_safetensors_find(st, name);
    ck_assert_msg(t && t->numel <= MAXN, "%s", name);
    ck_assert(lcmd_safetensors_read_f32(st, name, buf, (size_t)t->numel) == LCMD_OK);
    return t;
}

static void check(const char *label, int c, const char *what, const float *got, const float *want, size_t n,
                  double tol, double *worst)
{
    double e = rel_err(got, want, n);
    if (e > *worst) *worst = e;
    ck_assert_msg(e <= tol, "%s case%d %s: relative error %.3g > %.0e", label, c, what, e, tol);
}

typedef struct vae_kind {
    const char *folder, *io, *variant;
    double tol;
} vae_kind;

static const vae_kind KINDS[] = {
    {"sd", "sd", NULL, TOL}, {"sdxl", "sdxl", NULL, TOL}, {"sd3", "sd3", NULL, TOL}, {"legacy", "sd", NULL, TOL},
    {"sd", "sd", "fp16", 5e-3},   /* fp16-rounded weights against the fp32 reference */
};

START_TEST(encode_sample_scale_decode_match_diffusers)
{
    const vae_kind *k = &KINDS[_i];
    char path[512];
    snprintf(path, sizeof path, FIX "/%s", k->folder);
    lcmd_context *ctx = ctx_new(0);
    lcmd_vae *vae = load(ctx, path, k->variant);
    lcmd_vae_info info;
    lcmd_vae_info_init(&info);
    ck_assert_int_eq(lcmd_vae_get_info(vae, &info), LCMD_OK);
    snprintf(path, sizeof path, FIX "/io_%s.safetensors", k->io);
    lcmd_safetensors *st = NULL;
    ck_assert_msg(lcmd_safetensors_open(path, &st) == LCMD_OK, "%s", lcmd_last_error());
    static float image[MAXN], want[MAXN], mean[MAXN], logvar[MAXN], noise[MAXN], z[MAXN], out[MAXN];
    double worst = 0;
    char label[64];
    snprintf(label, sizeof label, "%s%s%s", k->folder, k->variant ? "." : "", k->variant ? k->variant : "");
    for (int c = 0; c < 3; c++) {
        const lcmd_st_tensor *t = get(st, c, "image", image);
        int64_t b = t->shape[0], h = t->shape[2], w = t->shape[3], f = info.downsample_factor;
        size_t ln = (size_t)(b * info.latent_channels * (h / f) * (w / f));
        ck_assert_msg(lcmd_vae_encode(vae, b, h, w, image, mean, logvar) == LCMD_OK, "%s", lcmd_last_error());
        check(label, c, "mean", mean, (get(st, c, "mean", want), want), ln, k->tol, &worst);
        check(label, c, "logvar", logvar, (get(st, c, "logvar", want), want), ln, k->tol, &worst);
        get(st, c, "noise", noise);
        ck_assert_int_eq(lcmd_vae_sample(vae, ln, mean, logvar, noise, 0, 0, z), LCMD_OK);
        check(label, c, "sample", z, (get(st, c, "sample", want), want), ln, k->tol, &worst);
        ck_assert_int_eq(lcmd_vae_scale_latents(vae, ln, z), LCMD_OK);
        check(label, c, "scaled", z, (get(st, c, "scaled", want), want), ln, k->tol, &worst);
        /* decode what the reference decoded (its sample), after a scale round trip */
        get(st, c, "sample", z);
        ck_assert_int_eq(lcmd_vae_scale_latents(vae, ln, z), LCMD_OK);
        ck_assert_int_eq(lcmd_vae_unscale_latents(vae, ln, z), LCMD_OK);
        size_t in = (size_t)(b * info.out_channels * h * w);
        ck_assert_msg(lcmd_vae_decode(vae, b, h / f, w / f, z, out) == LCMD_OK, "%s", lcmd_last_error());
        check(label, c, "decoded", out, (get(st, c, "decoded", want), want), in, k->tol, &worst);
        get(st, c, "z", z);
        ck_assert_int_eq(lcmd_vae_decode(vae, b, h / f, w / f, z, out), LCMD_OK);
        check(label, c, "decoded_z", out, (get(st, c, "decoded_z", want), want), in, k->tol, &worst);
    }
    fprintf(stderr, "# vae %s: worst relative error %.3g\n", label, worst);
    lcmd_safetensors_close(st);
    lcmd_vae_destroy(vae);
    lcmd_context_destroy(ctx);
}
END_TEST

START_TEST(library_noise_is_the_rng_stream)
{
    lcmd_context *ctx = ctx_new(1234);
    lcmd_vae *vae = load(ctx, FIX "/sd", NULL);
    enum { N = 5000 };   /* more than one internal chunk */
    static float mean[N], logvar[N], z[N], noise[N], want[N];
    for (int i = 0; i < N; i++) {
        mean[i] = 0.01f * (float)(i % 37);
        logvar[i] = -2.0f + 0.001f * (float)i;
    }
    logvar[7] = 50.0f;    /* clamped to 20 */
    logvar[8] = -99.0f;   /* clamped to -30 */
    ck_assert_int_eq(lcmd_rng_normal(1234, 9, 3, noise, N), LCMD_OK);
    ck_assert_int_eq(lcmd_vae_sample(vae, N, mean, logvar, NULL, 9, 3, z), LCMD_OK);
    for (int i = 0; i < N; i++) {
        float lv = fminf(fmaxf(logvar[i], -30.0f), 20.0f);
        want[i] = mean[i] + expf(0.5f * lv) * noise[i];
        ck_assert_msg(z[i] == want[i], "z[%d] = %g, want %g", i, (double)z[i], (double)want[i]);
    }
    /* another stream differs; the same call again is the same */
    ck_assert_int_eq(lcmd_vae_sample(vae, N, mean, logvar, NULL, 10, 3, z), LCMD_OK);
    ck_assert(memcmp(z, want, sizeof z) != 0);
    lcmd_vae_info info;
    lcmd_vae_info_init(&info);
    lcmd_vae_get_info(vae, &info);
    ck_assert(info.scaling_factor == 0.18215 && !info.has_shift && info.force_upcast);
    lcmd_vae_destroy(vae);
    vae = load(ctx, FIX "/sd3", NULL);
    lcmd_vae_get_info(vae, &info);
    ck_assert(info.has_shift && info.shift_factor == 0.0609 && info.latent_channels == 8);
    lcmd_vae_destroy(vae);
    lcmd_context_destroy(ctx);
}
END_TEST

#define EXPECT(call, status, text) do { lcmd_status s_ = (call); \
        ck_assert_msg(s_ == (status), "status %d, want %d: %s", s_, status, lcmd_last_error()); \
        ck_assert_msg(strstr(lcmd_last_error(), text), "'%s' lacks '%s'", lcmd_last_error(), text); } while (0)

/* a temporary folder: the sd fixture's config.json with `from` replaced by `to`,
 * and (link) its weights */
static void make_folder(char *dir, size_t cap, const char *from, const char *to, int link)
{
    snprintf(dir, cap, "/tmp/lcmd_vae_XXXXXX");
    ck_assert(mkdtemp(dir));
    FILE *f = fopen(FIX "/sd/config.json", "r");
    ck_assert(f);
    static char text[8192], out[8192];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = 0;
    char *p = strstr(text, from);
    ck_assert_msg(p, "no '%s'", from);
    snprintf(out, sizeof out, "%.*s%s%s", (int)(p - text), text, to, p + strlen(from));
    char path[600];
    snprintf(path, sizeof path, "%s/config.json", dir);
    f = fopen(path, "w");
    ck_assert(f);
    fputs(out, f);
    fclose(f);
    if (link) {
        snprintf(path, sizeof path, "%s/diffusion_pytorch_model.safetensors", dir);
        ck_assert(symlink(FIX "/sd/diffusion_pytorch_model.safetensors", path) == 0);
    }
}

static void remove_folder(const char *dir)
{
    char path[600];
    snprintf(path, sizeof path, "%s/config.json", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/diffusion_pytorch_model.safetensors", dir);
    unlink(path);
    rmdir(dir);
}

START_TEST(bad_folders_are_named)
{
    lcmd_context *ctx = ctx_new(0);
    lcmd_vae *vae = (lcmd_vae *)1;
    char dir[64];
    EXPECT(lcmd_vae_load(ctx, "/nonexistent/vae", NULL, &vae), LCMD_ERR_IO, "/nonexistent/vae");
    ck_assert_ptr_null(vae);
    make_folder(dir, sizeof dir, "\"DownEncoderBlock2D\",", "\"DownBlock2D\",", 1);
    EXPECT(lcmd_vae_load(ctx, dir, NULL, &vae), LCMD_ERR_UNSUPPORTED, "DownBlock2D");
    remove_folder(dir);
    make_folder(dir, sizeof dir, "\"silu\"", "\"relu\"", 1);
    EXPECT(lcmd_vae_load(ctx, dir, NULL, &vae), LCMD_ERR_UNSUPPORTED, "relu");
    remove_folder(dir);
    make_folder(dir, sizeof dir, "\"latent_channels\": 4", "\"latent_channels\": 8", 1);
    EXPECT(lcmd_vae_load(ctx, dir, NULL, &vae), LCMD_ERR_FORMAT, "encoder.conv_out.weight");
    remove_folder(dir);
    make_folder(dir, sizeof dir, "\"use_quant_conv\": true", "\"use_quant_conv\": false", 1);
    EXPECT(lcmd_vae_load(ctx, dir, NULL, &vae), LCMD_ERR_FORMAT, "quant_conv");
    remove_folder(dir);
    make_folder(dir, sizeof dir, "\"norm_num_groups\": 4", "\"norm_num_groups\": 3", 1);
    EXPECT(lcmd_vae_load(ctx, dir, NULL, &vae), LCMD_ERR_INVALID_ARGUMENT, "norm_num_groups = 3");
    remove_folder(dir);
    make_folder(dir, sizeof dir, "\"scaling_factor\": 0.18215", "\"scaling_factor\": \"x\"", 1);
    EXPECT(lcmd_vae_load(ctx, dir, NULL, &vae), LCMD_ERR_FORMAT, "scaling_factor");
    remove_folder(dir);
    make_folder(dir, sizeof dir, "\"in_channels\": 3", "\"in_channels\": 3", 0);
    EXPECT(lcmd_vae_load(ctx, dir, NULL, &vae), LCMD_ERR_IO, "diffusion_pytorch_model");
    remove_folder(dir);
    lcmd_vae_load_options o;
    lcmd_vae_load_options_init(&o);
    o.variant = "bf16";
    EXPECT(lcmd_vae_load(ctx, FIX "/sd", &o, &vae), LCMD_ERR_IO, "bf16");
    lcmd_context_destroy(ctx);
}
END_TEST

START_TEST(bad_inputs_are_refused)
{
    lcmd_context *ctx = ctx_new(0);
    lcmd_vae *sd = load(ctx, FIX "/sd", NULL), *xl = load(ctx, FIX "/sdxl", NULL);
    static float image[3 * 32 * 32], mean[4 * 16 * 16], logvar[4 * 16 * 16], out[3 * 32 * 32];
    for (size_t i = 0; i < sizeof image / sizeof *image; i++) image[i] = 0.5f;
    ck_assert_int_eq(lcmd_vae_encode(sd, 1, 16, 16, image, mean, NULL), LCMD_OK);
    EXPECT(lcmd_vae_encode(sd, 1, 15, 16, image, mean, logvar), LCMD_ERR_INVALID_ARGUMENT, "multiples of 2");
    EXPECT(lcmd_vae_encode(xl, 1, 16, 18, image, mean, logvar), LCMD_ERR_INVALID_ARGUMENT, "18 is not");
    EXPECT(lcmd_vae_encode(xl, 1, 0, 16, image, mean, logvar), LCMD_ERR_INVALID_ARGUMENT, "height = 0");
    EXPECT(lcmd_vae_encode(sd, 0, 16, 16, image, mean, logvar), LCMD_ERR_INVALID_ARGUMENT, "batch = 0");
    EXPECT(lcmd_vae_encode(sd, 1, 16, 16, NULL, mean, logvar), LCMD_ERR_INVALID_ARGUMENT, "NULL");
    image[17] = NAN;
    EXPECT(lcmd_vae_encode(sd, 1, 16, 16, image, mean, logvar), LCMD_ERR_NUMERIC, "images[17]");
    image[17] = 0.5f;
    ck_assert_int_eq(lcmd_vae_decode(sd, 1, 3, 5, image, out), LCMD_OK);   /* any latent size */
    image[2] = INFINITY;
    EXPECT(lcmd_vae_decode(sd, 1, 3, 5, image, out), LCMD_ERR_NUMERIC, "latents[2]");
    EXPECT(lcmd_vae_decode(sd, 1, 0, 5, image, out), LCMD_ERR_INVALID_ARGUMENT, "height = 0");
    EXPECT(lcmd_vae_sample(sd, 4, mean, NULL, NULL, 0, 0, mean), LCMD_ERR_INVALID_ARGUMENT, "NULL");
    mean[1] = NAN;
    EXPECT(lcmd_vae_sample(sd, 4, mean, logvar, NULL, 0, 0, mean), LCMD_ERR_NUMERIC, "mean[1]");
    EXPECT(lcmd_vae_scale_latents(NULL, 4, mean), LCMD_ERR_INVALID_ARGUMENT, "NULL");
    lcmd_vae_info info;
    lcmd_vae_info_init(&info);
    info.struct_size = 2;
    EXPECT(lcmd_vae_get_info(sd, &info), LCMD_ERR_INVALID_ARGUMENT, "struct_size");
    lcmd_vae_destroy(sd);
    lcmd_vae_destroy(xl);
    lcmd_vae_destroy(NULL);
    lcmd_context_destroy(ctx);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("vae");
    TCase *t = tcase_create("vae");
    tcase_set_timeout(t, 300);
    tcase_add_loop_test(t, encode_sample_scale_decode_match_diffusers, 0, (int)(sizeof KINDS / sizeof KINDS[0]));
    tcase_add_test(t, library_noise_is_the_rng_stream);
    tcase_add_test(t, bad_folders_are_named);
    tcase_add_test(t, bad_inputs_are_refused);
    suite_add_tcase(s, t);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
