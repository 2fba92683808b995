/* The public UNet API (include/lcmd/unet.h): diffusers folders of every kind and
 * weight format against diffusers' outputs, the LCM student, save and reload, and
 * bad folders and inputs. With LCMD_UNET_ROUNDTRIP_DIR set, it also leaves a saved
 * student and its outputs there for tests/reference/check_unet_roundtrip.py. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lcmd/lcmd.h>
#include "io/safetensors.h"
#include "io/safetensors_write.h"

#define FIX LCMD_FIXTURES "/unet"
#define MAXN 4096

static const char *const KINDS[] = {"sd15", "sd2", "sdxl", "lcm"};

static lcmd_context *ctx_new(uint64_t seed)
{
    lcmd_context_options o;
    lcmd_context_options_init(&o);
    o.seed = seed;
    o.log_level = LCMD_LOG_WARN;
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
    return sqrt(num / den);
}

/* One case of io_<kind>.safetensors: inputs as the reference ran them. */
typedef struct io_case {
    int64_t batch, h, w, seq;
    float sample[MAXN], t[4], ehs[MAXN], cond[MAXN], text[MAXN], ids[64];
    int has_cond, has_text;
} io_case;

static const lcmd_st_tensor *get(const lcmd_safetensors *st, int c, const char *what)
{
    char name[64];
    snprintf(name, sizeof name, "case%d.%s", c, what);
    return lcmd_safetensors_find(st, name);
}

static void read_case(const lcmd_safetensors *st, int c, io_case *io)
{
    char name[64];
    const lcmd_st_tensor *s = get(st, c, "sample"), *e = get(st, c, "encoder_hidden_states");
    ck_assert(s && e);
    io->batch = s->shape[0]; io->h = s->shape[2]; io->w = s->shape[3]; io->seq = e->shape[1];
#define READ(field, what, t) do { snprintf(name, sizeof name, "case%d.%s", c, what); \
        ck_assert_msg(lcmd_safetensors_read_f32(st, name, io->field, (size_t)(t)->numel) == LCMD_OK, "%s", lcmd_last_error()); } while (0)
    READ(sample, "sample", s);
    READ(ehs, "encoder_hidden_states", e);
    READ(t, "timesteps", get(st, c, "timesteps"));
    io->has_cond = get(st, c, "timestep_cond") != NULL;
    io->has_text = get(st, c, "text_embeds") != NULL;
    if (io->has_cond) READ(cond, "timestep_cond", get(st, c, "timestep_cond"));
    if (io->has_text) {
        READ(text, "text_embeds", get(st, c, "text_embeds"));
        READ(ids, "time_ids", get(st, c, "time_ids"));
    }
#undef READ
}

static void inputs_of(const io_case *io, lcmd_unet_inputs *in)
{
    lcmd_unet_inputs_init(in);
    in->batch = io->batch; in->height = io->h; in->width = io->w; in->seq_len = io->seq;
    in->sample = io->sample; in->timesteps = io->t; in->encoder_hidden_states = io->ehs;
    in->timestep_cond = io->has_cond ? io->cond : NULL;
    in->text_embeds = io->has_text ? io->text : NULL;
    in->time_ids = io->has_text ? io->ids : NULL;
}

/* forward of every case against `what` (out, out_fp16_weights, ...) */
static void check_against(lcmd_unet *u, const char *kind, const char *what, double tol)
{
    char path[512];
    snprintf(path, sizeof path, FIX "/io_%s.safetensors", kind);
    lcmd_safetensors *st = NULL;
    ck_assert_msg(lcmd_safetensors_open(path, &st) == LCMD_OK, "%s", lcmd_last_error());
    static io_case io;
    static float out[MAXN], want[MAXN];
    for (int c = 0; c < 3; c++) {
        read_case(st, c, &io);
        lcmd_unet_inputs in;
        inputs_of(&io, &in);
        ck_assert_msg(lcmd_unet_forward(u, &in, out) == LCMD_OK, "%s case %d: %s", kind, c, lcmd_last_error());
        const lcmd_st_tensor *t = get(st, c, what);
        ck_assert(t && lcmd_safetensors_read_f32(st, t->name, want, (size_t)t->numel) == LCMD_OK);
        double e = rel_err(out, want, (size_t)t->numel);
        ck_assert_msg(e <= tol, "%s %s case %d: relative error %.3g", kind, what, c, e);
    }
    lcmd_safetensors_close(st);
}

START_TEST(every_kind_and_weight_format_matches_diffusers)
{
    const char *kind = KINDS[_i];
    lcmd_context *ctx = ctx_new(0);
    char folder[512];
    snprintf(folder, sizeof folder, FIX "/%s", kind);
    static const struct { const char *variant, *what; } formats[] = {
        {NULL, "out"}, {"fp16", "out_fp16_weights"}, {"bf16", "out_bf16_weights"}};
    for (int f = 0; f < 3; f++) {
        lcmd_unet_load_options o;
        lcmd_unet_load_options_init(&o);
        o.variant = formats[f].variant;
        lcmd_unet *u = NULL;
        ck_assert_msg(lcmd_unet_load(ctx, folder, &o, &u) == LCMD_OK, "%s: %s", kind, lcmd_last_error());
        check_against(u, kind, formats[f].what, 1e-4);
        lcmd_unet_destroy(u);
    }
    lcmd_context_destroy(ctx);
}
END_TEST

START_TEST(sharded_folder_loads_like_the_single_file)
{
    lcmd_context *ctx = ctx_new(0);
    lcmd_unet *u = NULL;
    ck_assert_msg(lcmd_unet_load(ctx, FIX "/sd15_sharded", NULL, &u) == LCMD_OK, "%s", lcmd_last_error());
    check_against(u, "sd15", "out", 1e-4);
    lcmd_unet_info info;
    lcmd_unet_info_init(&info);
    ck_assert_int_eq(lcmd_unet_get_info(u, &info), LCMD_OK);
    ck_assert_int_eq(info.in_channels, 4);
    ck_assert_int_eq(info.cross_attention_dim, 12);
    ck_assert_int_eq(info.time_cond_proj_dim, 0);
    ck_assert_int_eq(info.downsample_factor, 2);
    ck_assert_int_gt(info.num_parameters, 1000);
    lcmd_unet_destroy(u);
    lcmd_context_destroy(ctx);
}
END_TEST

/* sd15 case 1 inputs; timestep_cond filled with `cond` (NULL: none) */
static void sd15_forward(lcmd_unet *u, const float *cond, float *out, size_t *n)
{
    lcmd_safetensors *st = NULL;
    ck_assert_int_eq(lcmd_safetensors_open(FIX "/io_sd15.safetensors", &st), LCMD_OK);
    static io_case io;
    read_case(st, 1, &io);
    lcmd_unet_inputs in;
    inputs_of(&io, &in);
    in.timestep_cond = cond;
    ck_assert_msg(lcmd_unet_forward(u, &in, out) == LCMD_OK, "%s", lcmd_last_error());
    *n = (size_t)(io.batch * 4 * io.h * io.w);
    lcmd_safetensors_close(st);
}

START_TEST(student_is_the_teacher_plus_a_random_cond_proj)
{
    lcmd_context *ctx = ctx_new(11);
    lcmd_unet *teacher = NULL, *student = NULL, *again = NULL;
    ck_assert_int_eq(lcmd_unet_load(ctx, FIX "/sd15", NULL, &teacher), LCMD_OK);
    ck_assert_int_eq(lcmd_unet_create_student(ctx, teacher, 0, &student), LCMD_ERR_INVALID_ARGUMENT);
    ck_assert_msg(lcmd_unet_create_student(ctx, teacher, 16, &student) == LCMD_OK, "%s", lcmd_last_error());
    lcmd_unet_info ti, si;
    lcmd_unet_info_init(&ti);
    lcmd_unet_info_init(&si);
    lcmd_unet_get_info(teacher, &ti);
    lcmd_unet_get_info(student, &si);
    ck_assert_int_eq(si.time_cond_proj_dim, 16);
    ck_assert_int_eq(si.num_parameters, ti.num_parameters + 16 * 8);   /* cond_proj: [block_out_channels[0], 16] */

    static float t_out[MAXN], s_out[MAXN], s_out2[MAXN], zeros[64], ones[64];
    for (int i = 0; i < 64; i++) { zeros[i] = 0.0f; ones[i] = 1.0f; }
    size_t n;
    sd15_forward(teacher, NULL, t_out, &n);
    /* a zero w-embedding adds nothing: the student then computes exactly the teacher */
    sd15_forward(student, zeros, s_out, &n);
    ck_assert(memcmp(t_out, s_out, n * sizeof *t_out) == 0);
    /* a non-zero one goes through the new weights */
    sd15_forward(student, ones, s_out, &n);
    ck_assert(rel_err(s_out, t_out, n) > 1e-6);
    /* the same seed makes the same student; another seed another */
    ck_assert_int_eq(lcmd_unet_create_student(ctx, teacher, 16, &again), LCMD_OK);
    sd15_forward(again, ones, s_out2, &n);
    ck_assert(memcmp(s_out, s_out2, n * sizeof *s_out) == 0);
    lcmd_unet_destroy(again);
    lcmd_context *ctx2 = ctx_new(12);
    ck_assert_int_eq(lcmd_unet_create_student(ctx2, teacher, 16, &again), LCMD_OK);
    sd15_forward(again, ones, s_out2, &n);
    ck_assert(memcmp(s_out, s_out2, n * sizeof *s_out) != 0);
    lcmd_unet_destroy(again);
    lcmd_context_destroy(ctx2);

    /* a teacher that already has a cond_proj keeps its width */
    lcmd_unet *lcm = NULL;
    ck_assert_int_eq(lcmd_unet_load(ctx, FIX "/lcm", NULL, &lcm), LCMD_OK);
    ck_assert_int_eq(lcmd_unet_create_student(ctx, lcm, 256, &again), LCMD_OK);
    lcmd_unet_get_info(again, &si);
    ck_assert_int_eq(si.time_cond_proj_dim, 8);
    check_against(again, "lcm", "out", 1e-6);
    lcmd_unet_destroy(again);
    lcmd_unet_destroy(lcm);
    lcmd_unet_destroy(student);
    lcmd_unet_destroy(teacher);
    lcmd_context_destroy(ctx);
}
END_TEST

static void tmpdir(char *buf, size_t size)
{
    snprintf(buf, size, "/tmp/lcmd-unet-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(buf));
}

static void rm_rf(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

START_TEST(save_and_reload_round_trip)
{
    lcmd_context *ctx = ctx_new(3);
    lcmd_unet *teacher = NULL, *student = NULL, *back = NULL;
    ck_assert_int_eq(lcmd_unet_load(ctx, FIX "/sd15", NULL, &teacher), LCMD_OK);
    ck_assert_int_eq(lcmd_unet_create_student(ctx, teacher, 16, &student), LCMD_OK);
    char dir[256], folder[300];
    const char *keep = getenv("LCMD_UNET_ROUNDTRIP_DIR");
    if (keep) snprintf(dir, sizeof dir, "%s", keep), mkdir(dir, 0777);
    else tmpdir(dir, sizeof dir);
    snprintf(folder, sizeof folder, "%s/unet", dir);
    ck_assert_msg(lcmd_unet_save(student, folder, LCMD_WEIGHTS_F32, NULL) == LCMD_OK, "%s", lcmd_last_error());
    ck_assert_msg(lcmd_unet_save(student, folder, LCMD_WEIGHTS_BF16, "bf16") == LCMD_OK, "%s", lcmd_last_error());
    ck_assert_msg(lcmd_unet_load(ctx, folder, NULL, &back) == LCMD_OK, "%s", lcmd_last_error());
    static float a[MAXN], b[MAXN], cond[64];
    for (int i = 0; i < 64; i++) cond[i] = 0.25f * (float)(i % 5) - 0.5f;
    size_t n;
    sd15_forward(student, cond, a, &n);
    sd15_forward(back, cond, b, &n);
    ck_assert(memcmp(a, b, n * sizeof *a) == 0);   /* fp32 saving is lossless */
    lcmd_unet_destroy(back);
    lcmd_unet_load_options o;
    lcmd_unet_load_options_init(&o);
    o.variant = "bf16";
    ck_assert_int_eq(lcmd_unet_load(ctx, folder, &o, &back), LCMD_OK);
    sd15_forward(back, cond, b, &n);
    double e = rel_err(b, a, n);
    ck_assert_msg(e > 0 && e < 2e-2, "bf16 weights: relative error %.3g", e);
    lcmd_unet_destroy(back);
    if (keep) {
        /* inputs and outputs for the diffusers round trip */
        lcmd_safetensors *st = NULL;
        ck_assert_int_eq(lcmd_safetensors_open(FIX "/io_sd15.safetensors", &st), LCMD_OK);
        static io_case io;
        read_case(st, 1, &io);
        lcmd_safetensors_close(st);
        lcmd_st_write_tensor t[5];
        memset(t, 0, sizeof t);
        int64_t B = io.batch;
        t[0] = (lcmd_st_write_tensor){.name = "sample", .dtype = LCMD_ST_F32, .ndim = 4, .shape = {B, 4, io.h, io.w}, .f32 = io.sample};
        t[1] = (lcmd_st_write_tensor){.name = "timesteps", .dtype = LCMD_ST_F32, .ndim = 1, .shape = {B}, .f32 = io.t};
        t[2] = (lcmd_st_write_tensor){.name = "encoder_hidden_states", .dtype = LCMD_ST_F32, .ndim = 3, .shape = {B, io.seq, 12}, .f32 = io.ehs};
        t[3] = (lcmd_st_write_tensor){.name = "timestep_cond", .dtype = LCMD_ST_F32, .ndim = 2, .shape = {B, 16}, .f32 = cond};
        t[4] = (lcmd_st_write_tensor){.name = "out", .dtype = LCMD_ST_F32, .ndim = 4, .shape = {B, 4, io.h, io.w}, .f32 = a};
        char path[400];
        snprintf(path, sizeof path, "%s/io.safetensors", dir);
        ck_assert_msg(lcmd_safetensors_write(path, t, 5, NULL, 0) == LCMD_OK, "%s", lcmd_last_error());
    } else {
        rm_rf(dir);
    }
    lcmd_unet_destroy(student);
    lcmd_unet_destroy(teacher);
    lcmd_context_destroy(ctx);
}
END_TEST

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static void copy_file(const char *from, const char *to)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", from, to);
    ck_assert_int_eq(system(cmd), 0);
}

#define EXPECT(call, status, needle) do { \
        lcmd_status s_ = (call); \
        ck_assert_msg(s_ == (status), "%s: %d (%s)", #call, s_, lcmd_last_error()); \
        ck_assert_msg(strstr(lcmd_last_error(), needle), "'%s' lacks '%s'", lcmd_last_error(), needle); \
    } while (0)

START_TEST(bad_folders_are_named)
{
    lcmd_context *ctx = ctx_new(0);
    lcmd_unet *u = (lcmd_unet *)0x1;
    char dir[256], path[400];
    tmpdir(dir, sizeof dir);
    EXPECT(lcmd_unet_load(NULL, FIX "/sd15", NULL, &u), LCMD_ERR_INVALID_ARGUMENT, "NULL");
    ck_assert_ptr_null(u);
    EXPECT(lcmd_unet_load(ctx, "/nonexistent/unet", NULL, &u), LCMD_ERR_IO, "/nonexistent/unet");
    EXPECT(lcmd_unet_load(ctx, dir, NULL, &u), LCMD_ERR_IO, "config.json");
    snprintf(path, sizeof path, "%s/config.json", dir);
    write_text(path, "{\"block_out_channels\": [8, 16,");
    EXPECT(lcmd_unet_load(ctx, dir, NULL, &u), LCMD_ERR_FORMAT, "config.json");
    write_text(path, "{\"down_block_types\": [\"SimpleCrossAttnDownBlock2D\", \"DownBlock2D\"], "
                     "\"up_block_types\": [\"UpBlock2D\", \"CrossAttnUpBlock2D\"], \"block_out_channels\": [8, 16]}");
    EXPECT(lcmd_unet_load(ctx, dir, NULL, &u), LCMD_ERR_UNSUPPORTED, "SimpleCrossAttnDownBlock2D");
    copy_file(FIX "/sd15/config.json", path);
    EXPECT(lcmd_unet_load(ctx, dir, NULL, &u), LCMD_ERR_IO, "diffusion_pytorch_model");
    /* weights of another kind: shapes and names disagree with the config */
    char w[400];
    snprintf(w, sizeof w, "%s/diffusion_pytorch_model.safetensors", dir);
    copy_file(FIX "/sdxl/diffusion_pytorch_model.safetensors", w);
    EXPECT(lcmd_unet_load(ctx, dir, NULL, &u), LCMD_ERR_FORMAT, "diffusion_pytorch_model.safetensors");
    /* the LCM weights hold one tensor the SD config has no place for */
    copy_file(FIX "/lcm/diffusion_pytorch_model.safetensors", w);
    EXPECT(lcmd_unet_load(ctx, dir, NULL, &u), LCMD_ERR_FORMAT, "time_embedding.cond_proj.weight");
    /* a truncated weights file */
    copy_file(FIX "/sd15/diffusion_pytorch_model.safetensors", w);
    ck_assert_int_eq(truncate(w, 5000), 0);
    EXPECT(lcmd_unet_load(ctx, dir, NULL, &u), LCMD_ERR_FORMAT, "diffusion_pytorch_model.safetensors");
    lcmd_unet_load_options o;
    lcmd_unet_load_options_init(&o);
    o.struct_size = 2;
    EXPECT(lcmd_unet_load(ctx, FIX "/sd15", &o, &u), LCMD_ERR_INVALID_ARGUMENT, "struct_size");
    lcmd_unet_load_options_init(&o);
    o.variant = "fp8";
    EXPECT(lcmd_unet_load(ctx, FIX "/sd15", &o, &u), LCMD_ERR_IO, "fp8");
    rm_rf(dir);
    lcmd_context_destroy(ctx);
}
END_TEST

START_TEST(bad_forward_inputs_are_refused)
{
    lcmd_context *ctx = ctx_new(0);
    lcmd_unet *lcm = NULL;
    ck_assert_int_eq(lcmd_unet_load(ctx, FIX "/lcm", NULL, &lcm), LCMD_OK);
    lcmd_safetensors *st = NULL;
    ck_assert_int_eq(lcmd_safetensors_open(FIX "/io_lcm.safetensors", &st), LCMD_OK);
    static io_case io;
    static float out[MAXN];
    read_case(st, 0, &io);
    lcmd_safetensors_close(st);
    lcmd_unet_inputs in;
    inputs_of(&io, &in);
    in.timestep_cond = NULL;
    EXPECT(lcmd_unet_forward(lcm, &in, out), LCMD_ERR_INVALID_ARGUMENT, "timestep_cond");
    inputs_of(&io, &in);
    in.height = 7;
    ck_assert_int_eq(lcmd_unet_forward(lcm, &in, out), LCMD_ERR_INVALID_ARGUMENT);
    inputs_of(&io, &in);
    in.batch = 0;
    ck_assert_int_eq(lcmd_unet_forward(lcm, &in, out), LCMD_ERR_INVALID_ARGUMENT);
    inputs_of(&io, &in);
    io.sample[3] = NAN;
    ck_assert_int_eq(lcmd_unet_forward(lcm, &in, out), LCMD_ERR_NUMERIC);
    inputs_of(&io, &in);
    in.struct_size = 1;
    EXPECT(lcmd_unet_forward(lcm, &in, out), LCMD_ERR_INVALID_ARGUMENT, "struct_size");
    EXPECT(lcmd_unet_forward(NULL, &in, out), LCMD_ERR_INVALID_ARGUMENT, "NULL");
    EXPECT(lcmd_unet_save(lcm, "/nonexistent/dir/unet", LCMD_WEIGHTS_F32, NULL), LCMD_ERR_IO, "/nonexistent/dir/unet");
    EXPECT(lcmd_unet_save(lcm, "/tmp", LCMD_WEIGHTS_F32, "../x"), LCMD_ERR_INVALID_ARGUMENT, "variant");
    lcmd_unet_destroy(lcm);
    lcmd_unet_destroy(NULL);
    lcmd_context_destroy(ctx);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("unet_api");
    TCase *t = tcase_create("unet_api");
    tcase_set_timeout(t, 300);
    tcase_add_loop_test(t, every_kind_and_weight_format_matches_diffusers, 0, 4);
    tcase_add_test(t, sharded_folder_loads_like_the_single_file);
    tcase_add_test(t, student_is_the_teacher_plus_a_random_cond_proj);
    tcase_add_test(t, save_and_reload_round_trip);
    tcase_add_test(t, bad_folders_are_named);
    tcase_add_test(t, bad_forward_inputs_are_refused);
    suite_add_tcase(s, t);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
