/* The demo teacher and data set (include/lcmd/demo.h): the teacher opens as a pipeline
 * and every component runs; the same seed gives the same bytes; the shards stream
 * through lcmd_dataset and train with lcmd_trainer; bad arguments are refused with a
 * message. With LCMD_DEMO_REFERENCE_DIR set, the "reference" case leaves a teacher and
 * liblcmd's outputs there for tests/reference/check_demo_pipeline.py. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lcmd/lcmd.h>

#include "demo_util.h"
#include "io/safetensors_write.h"

#define L 77
#define CAPTION "a small red circle on a blue background"

typedef struct rig {
    lcmd_context *ctx;
    char *dir;
    lcmd_pipeline *p;
} rig;

static void rig_open(rig *r)
{
    r->ctx = demo_ctx();
    r->dir = temp_folder();
    ck_assert_msg(lcmd_demo_write_teacher(r->ctx, r->dir, NULL) == LCMD_OK, "%s", lcmd_last_error());
    ck_assert_msg(lcmd_pipeline_open(r->ctx, r->dir, NULL, &r->p) == LCMD_OK, "%s", lcmd_last_error());
}

static void rig_close(rig *r)
{
    lcmd_pipeline_destroy(r->p);
    rm_tree(r->dir);
    free(r->dir);
    lcmd_context_destroy(r->ctx);
}

/* ids of the caption; every word of it is one token */
static void check_tokens(lcmd_tokenizer *tok, int32_t *ids)
{
    const char *caps[1] = {CAPTION};
    ck_assert_uint_eq(lcmd_tokenizer_model_max_length(tok), L);
    ck_assert_msg(lcmd_tokenizer_encode_padded(tok, caps, 1, ids) == LCMD_OK, "%s", lcmd_last_error());
    int32_t eos = lcmd_tokenizer_eos_id(tok);
    ck_assert_int_eq(ids[0], lcmd_tokenizer_bos_id(tok));
    for (int i = 1; i <= 8; i++) ck_assert_msg(ids[i] != eos, "word %d is not one token", i);
    ck_assert_int_eq(ids[9], eos);
    /* "red", "circle", ... are merged tokens, beyond the 512 byte symbols */
    for (int i = 2; i <= 8; i++) ck_assert_msg(i == 6 || ids[i] >= 512, "token %d = %d is a byte symbol", i, ids[i]);
    ck_assert_int_eq(eos, (int32_t)lcmd_tokenizer_vocab_size(tok) - 1);
}

START_TEST(test_teacher_runs)
{
    rig r;
    rig_open(&r);
    ck_assert_str_eq(lcmd_pipeline_class_name(r.p), "StableDiffusionPipeline");
    int32_t ids[L];
    check_tokens(lcmd_pipeline_tokenizer(r.p, 0), ids);

    lcmd_text_encoder_info ti;
    lcmd_text_encoder_info_init(&ti);
    ck_assert(lcmd_text_encoder_get_info(lcmd_pipeline_text_encoder(r.p, 0), &ti) == LCMD_OK);
    ck_assert_int_eq(ti.hidden_size, 32);
    float *emb = malloc(L * 32 * sizeof *emb);
    lcmd_text_encoder_outputs to;
    lcmd_text_encoder_outputs_init(&to);
    to.last_hidden_state = emb;
    ck_assert_msg(lcmd_text_encoder_forward(lcmd_pipeline_text_encoder(r.p, 0), ids, 1, L, &to) == LCMD_OK, "%s",
                  lcmd_last_error());
    ck_assert(all_finite(emb, L * 32));

    /* VAE: a 32x32 image to 16x16 latents and back */
    float img[3 * 32 * 32], mean[4 * 16 * 16], logvar[4 * 16 * 16], back[3 * 32 * 32];
    for (int i = 0; i < 3 * 32 * 32; i++) img[i] = (float)((i % 17) / 8.0 - 1.0);
    lcmd_vae *vae = lcmd_pipeline_vae(r.p);
    ck_assert_msg(lcmd_vae_encode(vae, 1, 32, 32, img, mean, logvar) == LCMD_OK, "%s", lcmd_last_error());
    ck_assert(all_finite(mean, 4 * 16 * 16) && all_finite(logvar, 4 * 16 * 16));
    ck_assert_msg(lcmd_vae_decode(vae, 1, 16, 16, mean, back) == LCMD_OK, "%s", lcmd_last_error());
    ck_assert(all_finite(back, 3 * 32 * 32));

    /* UNet at 16x16 latents */
    float out[4 * 16 * 16], t = 500.0f;
    lcmd_unet_inputs in;
    lcmd_unet_inputs_init(&in);
    in.batch = 1;
    in.height = in.width = 16;
    in.sample = mean;
    in.timesteps = &t;
    in.encoder_hidden_states = emb;
    in.seq_len = L;
    ck_assert_msg(lcmd_unet_forward(lcmd_pipeline_unet(r.p), &in, out) == LCMD_OK, "%s", lcmd_last_error());
    ck_assert(all_finite(out, 4 * 16 * 16));
    double norm = 0;
    for (int i = 0; i < 4 * 16 * 16; i++) norm += (double)out[i] * out[i];
    ck_assert_msg(norm > 0, "the UNet's output is all zeros");

    lcmd_scheduler_config sc;
    lcmd_scheduler_config_init(&sc);
    ck_assert(lcmd_pipeline_scheduler_config(r.p, &sc) == LCMD_OK);
    ck_assert_int_eq(sc.num_train_timesteps, 1000);
    free(emb);
    rig_close(&r);
}
END_TEST

START_TEST(test_teacher_deterministic)
{
    lcmd_context *ctx = demo_ctx();
    char *a = temp_folder(), *b = temp_folder(), *c = temp_folder();
    lcmd_demo_teacher_options o;
    lcmd_demo_teacher_options_init(&o);
    o.seed = 7;
    ck_assert_msg(lcmd_demo_write_teacher(ctx, a, &o) == LCMD_OK, "%s", lcmd_last_error());
    ck_assert_msg(lcmd_demo_write_teacher(ctx, b, &o) == LCMD_OK, "%s", lcmd_last_error());
    ck_assert_msg(same_tree(a, b), "same seed, different files");
    /* rewriting over an existing folder replaces the files with the same bytes */
    ck_assert_msg(lcmd_demo_write_teacher(ctx, a, &o) == LCMD_OK, "%s", lcmd_last_error());
    ck_assert(same_tree(a, b));
    o.seed = 8;
    ck_assert_msg(lcmd_demo_write_teacher(ctx, c, &o) == LCMD_OK, "%s", lcmd_last_error());
    ck_assert_msg(!same_tree(a, c), "another seed, same files");
    for (char **d = (char *[]){a, b, c, NULL}; *d; d++) {
        rm_tree(*d);
        free(*d);
    }
    lcmd_context_destroy(ctx);
}
END_TEST

/* the demo shards in `folder` as written: 32 px, no shuffling */
static lcmd_dataset *open_in_order(lcmd_context *ctx, const char *folder, int32_t batch_size)
{
    lcmd_dataset_options d;
    lcmd_dataset_options_init(&d);
    d.shards = folder;
    d.resolution = 32;
    d.batch_size = batch_size;
    d.shuffle_buffer = 0;
    d.shuffle_shards = 0;
    lcmd_dataset *ds = NULL;
    ck_assert_msg(lcmd_dataset_create(ctx, &d, &ds) == LCMD_OK, "%s", lcmd_last_error());
    return ds;
}

START_TEST(test_shards_stream)
{
    lcmd_context *ctx = demo_ctx();
    char *a = temp_folder(), *b = temp_folder();
    lcmd_demo_data_options o;
    lcmd_demo_data_options_init(&o);
    o.num_shards = 3;
    o.samples_per_shard = 10;
    o.seed = 3;
    ck_assert_msg(lcmd_demo_write_shards(a, &o) == LCMD_OK, "%s", lcmd_last_error());
    ck_assert_msg(lcmd_demo_write_shards(b, &o) == LCMD_OK, "%s", lcmd_last_error());
    ck_assert_msg(same_tree(a, b), "same seed, different shards");

    lcmd_dataset *ds = open_in_order(ctx, a, 5);
    lcmd_batch *bt = NULL;
    int batches = 0;
    lcmd_status s;
    while ((s = lcmd_dataset_next(ds, &bt)) == LCMD_OK) {
        for (int32_t i = 0; i < lcmd_batch_size(bt); i++) {
            const char *cap = lcmd_batch_caption(bt, i);
            ck_assert_msg(strstr(cap, " background") != NULL, "caption '%s'", cap);
            int32_t w = 0, h = 0;
            ck_assert(lcmd_batch_original_size(bt, i, &w, &h) == LCMD_OK);
            ck_assert(w == 32 && h == 32);
        }
        const float *px = lcmd_batch_images(bt);
        for (size_t i = 0; i < 5 * 3 * 32 * 32; i++) ck_assert(px[i] >= -1.0f && px[i] <= 1.0f);
        lcmd_batch_destroy(bt);
        batches++;
    }
    ck_assert_int_eq(s, LCMD_END_OF_STREAM);
    ck_assert_int_eq(batches, 6);
    lcmd_dataset_stats st = {.struct_size = sizeof st};
    ck_assert(lcmd_dataset_get_stats(ds, &st) == LCMD_OK);
    ck_assert_uint_eq(st.samples_read, 30);
    ck_assert_uint_eq(st.samples_used, 30);
    lcmd_dataset_destroy(ds);
    rm_tree(a);
    rm_tree(b);
    free(a);
    free(b);
    lcmd_context_destroy(ctx);
}
END_TEST

/* the tiny default's data: a caption names one picture, and the background's colour is
 * the partner of the shape's (7 palette places on: red-black, blue-pink, ...) */
START_TEST(test_shards_fixed_paired)
{
    static const char *palette[] = {"red", "green", "blue", "yellow", "purple", "orange",
                                    "white", "black", "cyan", "pink", "gray", "brown"};
    lcmd_context *ctx = demo_ctx();
    char *a = temp_folder();
    lcmd_demo_data_options o;
    lcmd_demo_data_options_init(&o);
    o.num_shards = 2;
    o.samples_per_shard = 60;
    o.fixed_layout = 1;
    o.paired_colors = 1;
    ck_assert_msg(lcmd_demo_write_shards(a, &o) == LCMD_OK, "%s", lcmd_last_error());
    lcmd_dataset *ds = open_in_order(ctx, a, 1);
    enum { N = 120, PX = 3 * 32 * 32 };
    static char caps[N][96];
    static float px[N][PX];
    int n = 0, repeats = 0;
    lcmd_batch *bt = NULL;
    while (n < N && lcmd_dataset_next(ds, &bt) == LCMD_OK) {
        snprintf(caps[n], sizeof caps[n], "%s", lcmd_batch_caption(bt, 0));
        memcpy(px[n], lcmd_batch_images(bt), sizeof px[n]);
        lcmd_batch_destroy(bt);
        /* "... FG stripes|shape on a|an BG background": BG is FG's partner */
        char fg[16] = "", bg[16] = "", art[4] = "";
        const char *c = caps[n];
        int ok = strstr(c, "stripes") ? sscanf(c, "%15s stripes on %3s %15s background", fg, art, bg) == 3
                                       : sscanf(c, "a %*s %15s %*s on %3s %15s background", fg, art, bg) == 3;
        ck_assert_msg(ok, "caption '%s'", c);
        int f = -1, b = -1;
        for (int k = 0; k < 12; k++) {
            if (!strcmp(fg, palette[k])) f = k;
            if (!strcmp(bg, palette[k])) b = k;
        }
        ck_assert_msg(f >= 0 && b == (f + 7) % 12, "caption '%s': %s is not %s's partner", c, bg, fg);
        ck_assert_str_eq(art, strchr("aeiou", bg[0]) ? "an" : "a");
        for (int j = 0; j < n; j++)
            if (!strcmp(caps[j], caps[n])) {   /* one caption, one picture */
                ck_assert_msg(!memcmp(px[j], px[n], sizeof px[n]), "'%s' drawn twice differently", caps[n]);
                repeats++;
                break;
            }
        n++;
    }
    ck_assert_int_eq(n, N);
    ck_assert_msg(repeats > 0, "no caption repeated in %d samples of 84 captions", N);
    lcmd_dataset_destroy(ds);
    rm_tree(a);
    free(a);
    lcmd_demo_data_options_init(&o);
    o.paired_colors = 2;
    ck_assert_int_eq(lcmd_demo_write_shards("/tmp/never", &o), LCMD_ERR_INVALID_ARGUMENT);
    ck_assert_msg(strstr(lcmd_last_error(), "paired_colors") != NULL, "%s", lcmd_last_error());
    lcmd_context_destroy(ctx);
}
END_TEST

START_TEST(test_trainer_on_shards)
{
    rig r;
    rig_open(&r);
    char *data = temp_folder();
    ck_assert_msg(lcmd_demo_write_shards(data, NULL) == LCMD_OK, "%s", lcmd_last_error());
    lcmd_dataset_options d;
    lcmd_dataset_options_init(&d);
    d.shards = data;
    d.resolution = 32;
    d.batch_size = 2;
    d.shuffle_buffer = 16;
    d.shuffle_initial = 8;
    lcmd_dataset *ds = NULL;
    ck_assert_msg(lcmd_dataset_create(r.ctx, &d, &ds) == LCMD_OK, "%s", lcmd_last_error());

    lcmd_scheduler_config sc;
    lcmd_scheduler_config_init(&sc);
    ck_assert(lcmd_pipeline_scheduler_config(r.p, &sc) == LCMD_OK);
    lcmd_trainer *tr = NULL;
    ck_assert_msg(lcmd_trainer_create(r.ctx, lcmd_pipeline_unet(r.p), &sc, NULL, &tr) == LCMD_OK, "%s",
                  lcmd_last_error());
    ck_assert_msg(lcmd_trainer_set_encoders(tr, lcmd_pipeline_tokenizer(r.p, 0), lcmd_pipeline_text_encoder(r.p, 0),
                                            lcmd_pipeline_vae(r.p)) == LCMD_OK,
                  "%s", lcmd_last_error());
    for (int s = 0; s < 3; s++) {
        lcmd_batch *b = NULL;
        ck_assert_msg(lcmd_dataset_next(ds, &b) == LCMD_OK, "%s", lcmd_last_error());
        lcmd_step_report rep;
        lcmd_step_report_init(&rep);
        ck_assert_msg(lcmd_trainer_step_dataset(tr, b, &rep) == LCMD_OK, "%s", lcmd_last_error());
        printf("# demo step %d: loss %.6g grad norm %.6g\n", s, rep.loss, rep.grad_norm);
        ck_assert(isfinite(rep.loss) && isfinite(rep.grad_norm) && rep.loss > 0);
        ck_assert_int_eq(rep.skipped, 0);
        ck_assert_int_eq(rep.step, s + 1);
        lcmd_batch_destroy(b);
    }
    lcmd_trainer_destroy(tr);
    lcmd_dataset_destroy(ds);
    rm_tree(data);
    free(data);
    rig_close(&r);
}
END_TEST

/* pretraining lowers the denoising loss, rewrites only unet/, is deterministic; 0 steps
 * and bad options change nothing */
static int same_file(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int same = fa && fb;
    while (same) {
        int ca = fgetc(fa), cb = fgetc(fb);
        if (ca != cb) same = 0;
        if (ca == EOF || cb == EOF) break;
    }
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    return same;
}

START_TEST(test_pretrain_teacher)
{
    lcmd_context *ctx = demo_ctx();
    char *data = temp_folder(), *t1 = temp_folder(), *t2 = temp_folder(), *t0 = temp_folder();
    ck_assert(lcmd_demo_write_shards(data, NULL) == LCMD_OK);
    ck_assert(lcmd_demo_write_teacher(ctx, t1, NULL) == LCMD_OK);
    ck_assert(lcmd_demo_write_teacher(ctx, t2, NULL) == LCMD_OK);
    ck_assert(lcmd_demo_write_teacher(ctx, t0, NULL) == LCMD_OK);
    char w1[600], w2[600], w0[600];
    snprintf(w1, sizeof w1, "%s/unet/diffusion_pytorch_model.safetensors", t1);
    snprintf(w2, sizeof w2, "%s/unet/diffusion_pytorch_model.safetensors", t2);
    snprintf(w0, sizeof w0, "%s/unet/diffusion_pytorch_model.safetensors", t0);
    lcmd_demo_pretrain_options o;
    lcmd_demo_pretrain_options_init(&o);
    o.batch_size = 4;
    o.steps = 3;
    double early = 0, late = 0, again = 0;
    ck_assert_msg(lcmd_demo_pretrain_teacher(ctx, t1, data, &o, &early) == LCMD_OK, "%s", lcmd_last_error());
    /* a longer run from the same start ends lower */
    o.steps = 30;
    ck_assert_msg(lcmd_demo_pretrain_teacher(ctx, t2, data, &o, &late) == LCMD_OK, "%s", lcmd_last_error());
    printf("# denoising loss after 3 steps %.4f, after 30 steps %.4f\n", early, late);
    ck_assert(isfinite(early) && isfinite(late));
    ck_assert_msg(late < 0.8 * early, "loss %g after 30 steps vs %g after 3", late, early);
    ck_assert(!same_file(w0, w2));
    /* the same options give the same weights */
    ck_assert(lcmd_demo_write_teacher(ctx, t1, NULL) == LCMD_OK);
    ck_assert(lcmd_demo_pretrain_teacher(ctx, t1, data, &o, &again) == LCMD_OK);
    ck_assert(again == late);
    ck_assert(same_file(w1, w2));
    /* the trained teacher still opens and runs */
    lcmd_pipeline *p = NULL;
    ck_assert_msg(lcmd_pipeline_open(ctx, t2, NULL, &p) == LCMD_OK, "%s", lcmd_last_error());
    lcmd_pipeline_destroy(p);
    /* nothing changes with 0 steps or refused options */
    o.steps = 0;
    ck_assert(lcmd_demo_pretrain_teacher(ctx, t0, data, &o, NULL) == LCMD_OK);
    o.steps = 5;
    o.resolution = 31;
    ck_assert_int_eq(lcmd_demo_pretrain_teacher(ctx, t0, data, &o, NULL), LCMD_ERR_INVALID_ARGUMENT);
    ck_assert_msg(strstr(lcmd_last_error(), "resolution"), "%s", lcmd_last_error());
    o.resolution = 32;
    o.learning_rate = -1;
    ck_assert_int_eq(lcmd_demo_pretrain_teacher(ctx, t0, data, &o, NULL), LCMD_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(lcmd_demo_pretrain_teacher(ctx, t0, NULL, NULL, NULL), LCMD_ERR_INVALID_ARGUMENT);
    lcmd_demo_pretrain_options_init(&o);
    o.steps = 2;
    char missing[600];
    snprintf(missing, sizeof missing, "%s/nothing-here", data);
    ck_assert_int_ne(lcmd_demo_pretrain_teacher(ctx, t0, missing, &o, NULL), LCMD_OK);
    ck_assert_msg(strstr(lcmd_last_error(), "nothing-here"), "%s", lcmd_last_error());
    char fresh[600];
    snprintf(fresh, sizeof fresh, "%s/fresh", data);
    ck_assert(lcmd_demo_write_teacher(ctx, fresh, NULL) == LCMD_OK);
    char wf[700];
    snprintf(wf, sizeof wf, "%s/unet/diffusion_pytorch_model.safetensors", fresh);
    ck_assert(same_file(w0, wf));
    char *dirs[] = {data, t1, t2, t0};
    for (int i = 0; i < 4; i++) {
        rm_tree(dirs[i]);
        free(dirs[i]);
    }
    lcmd_context_destroy(ctx);
}
END_TEST

START_TEST(test_bad_arguments)
{
    lcmd_context *ctx = demo_ctx();
    ck_assert_int_eq(lcmd_demo_teacher_options_init(NULL), LCMD_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(lcmd_demo_data_options_init(NULL), LCMD_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(lcmd_demo_write_teacher(NULL, "/tmp/x", NULL), LCMD_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(lcmd_last_error(), "ctx is NULL"));
    ck_assert_int_eq(lcmd_demo_write_teacher(ctx, NULL, NULL), LCMD_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(lcmd_last_error(), "folder"));
    ck_assert_int_eq(lcmd_demo_write_shards(NULL, NULL), LCMD_ERR_INVALID_ARGUMENT);

    ck_assert_int_eq(lcmd_demo_write_teacher(ctx, "/proc/x", NULL), LCMD_ERR_IO);
    ck_assert_msg(strstr(lcmd_last_error(), "/proc/x") != NULL, "%s", lcmd_last_error());
    ck_assert_int_eq(lcmd_demo_write_shards("/proc/x", NULL), LCMD_ERR_IO);
    ck_assert_msg(strstr(lcmd_last_error(), "/proc/x") != NULL, "%s", lcmd_last_error());

    lcmd_demo_teacher_options t;
    lcmd_demo_teacher_options_init(&t);
    t.unet_channels = 12;
    ck_assert_int_eq(lcmd_demo_write_teacher(ctx, "/tmp/never", &t), LCMD_ERR_INVALID_ARGUMENT);
    ck_assert_msg(strstr(lcmd_last_error(), "unet_channels") != NULL, "%s", lcmd_last_error());
    lcmd_demo_teacher_options_init(&t);
    t.struct_size = 4;
    ck_assert_int_eq(lcmd_demo_write_teacher(ctx, "/tmp/never", &t), LCMD_ERR_INVALID_ARGUMENT);
    ck_assert_msg(strstr(lcmd_last_error(), "struct_size") != NULL, "%s", lcmd_last_error());

    lcmd_demo_data_options d;
    lcmd_demo_data_options_init(&d);
    d.resolution = 4;
    ck_assert_int_eq(lcmd_demo_write_shards("/tmp/never", &d), LCMD_ERR_INVALID_ARGUMENT);
    ck_assert_msg(strstr(lcmd_last_error(), "resolution") != NULL, "%s", lcmd_last_error());
    lcmd_demo_data_options_init(&d);
    d.num_shards = 0;
    ck_assert_int_eq(lcmd_demo_write_shards("/tmp/never", &d), LCMD_ERR_INVALID_ARGUMENT);
    lcmd_context_destroy(ctx);
}
END_TEST

/* Leaves DIR/teacher and DIR/io.safetensors: the ids of two captions, the text
 * encoder's last hidden state, a UNet forward on it and a VAE decode. */
START_TEST(test_reference)
{
    const char *dir = getenv("LCMD_DEMO_REFERENCE_DIR");
    if (!dir) return;
    lcmd_context *ctx = demo_ctx();
    char teacher[512], io[512];
    snprintf(teacher, sizeof teacher, "%s/teacher", dir);
    snprintf(io, sizeof io, "%s/io.safetensors", dir);
    ck_assert_msg(lcmd_demo_write_teacher(ctx, teacher, NULL) == LCMD_OK, "%s", lcmd_last_error());
    lcmd_pipeline *p = NULL;
    ck_assert_msg(lcmd_pipeline_open(ctx, teacher, NULL, &p) == LCMD_OK, "%s", lcmd_last_error());
    const char *caps[2] = {CAPTION, "Green stripes on a dark background, with the photo of a cat!"};
    static int32_t ids[2 * L];
    static int64_t ids64[2 * L];
    static float emb[2 * L * 32], sample[2 * 4 * 16 * 16], out[2 * 4 * 16 * 16], images[2 * 3 * 32 * 32];
    ck_assert(lcmd_tokenizer_encode_padded(lcmd_pipeline_tokenizer(p, 0), caps, 2, ids) == LCMD_OK);
    for (int i = 0; i < 2 * L; i++) ids64[i] = ids[i];
    lcmd_text_encoder_outputs to;
    lcmd_text_encoder_outputs_init(&to);
    to.last_hidden_state = emb;
    ck_assert(lcmd_text_encoder_forward(lcmd_pipeline_text_encoder(p, 0), ids, 2, L, &to) == LCMD_OK);
    ck_assert(lcmd_rng_normal(1, 2, 0, sample, 2 * 4 * 16 * 16) == LCMD_OK);
    float t[2] = {999.0f, 261.0f};
    lcmd_unet_inputs in;
    lcmd_unet_inputs_init(&in);
    in.batch = 2;
    in.height = in.width = 16;
    in.sample = sample;
    in.timesteps = t;
    in.encoder_hidden_states = emb;
    in.seq_len = L;
    ck_assert_msg(lcmd_unet_forward(lcmd_pipeline_unet(p), &in, out) == LCMD_OK, "%s", lcmd_last_error());
    ck_assert(lcmd_vae_decode(lcmd_pipeline_vae(p), 2, 16, 16, sample, images) == LCMD_OK);
    lcmd_st_write_tensor ts[6] = {
        {.name = "ids", .dtype = LCMD_ST_I64, .ndim = 2, .shape = {2, L}, .data = ids64},
        {.name = "last_hidden_state", .dtype = LCMD_ST_F32, .ndim = 3, .shape = {2, L, 32}, .f32 = emb},
        {.name = "sample", .dtype = LCMD_ST_F32, .ndim = 4, .shape = {2, 4, 16, 16}, .f32 = sample},
        {.name = "timesteps", .dtype = LCMD_ST_F32, .ndim = 1, .shape = {2}, .f32 = t},
        {.name = "unet_out", .dtype = LCMD_ST_F32, .ndim = 4, .shape = {2, 4, 16, 16}, .f32 = out},
        {.name = "vae_decoded", .dtype = LCMD_ST_F32, .ndim = 4, .shape = {2, 3, 32, 32}, .f32 = images},
    };
    char captions[256];
    snprintf(captions, sizeof captions, "%s\n%s", caps[0], caps[1]);
    lcmd_st_metadata_entry meta[1] = {{"captions", captions}};
    ck_assert_msg(lcmd_safetensors_write(io, ts, 6, meta, 1) == LCMD_OK, "%s", lcmd_last_error());
    lcmd_pipeline_destroy(p);
    lcmd_context_destroy(ctx);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("demo");
    TCase *tc = tcase_create("teacher");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, test_teacher_runs);
    tcase_add_test(tc, test_teacher_deterministic);
    suite_add_tcase(s, tc);
    tc = tcase_create("data");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, test_shards_stream);
    tcase_add_test(tc, test_shards_fixed_paired);
    tcase_add_test(tc, test_trainer_on_shards);
    tcase_add_test(tc, test_pretrain_teacher);
    suite_add_tcase(s, tc);
    tc = tcase_create("errors");
    tcase_add_test(tc, test_bad_arguments);
    suite_add_tcase(s, tc);
    tc = tcase_create("reference");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, test_reference);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
