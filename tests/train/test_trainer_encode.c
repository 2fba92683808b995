/* lcmd_trainer_step on images and captions: parity with the script's step from
 * pixels and captions with gradient accumulation 2 (gen_trainer.py, case
 * encode_accum2, on the tiny StableDiffusionPipeline folder); the encoders' checks;
 * refused inputs; the step on dataset batches and an exact resume of training and data
 * stream together. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <lcmd/lcmd.h>

#include "../data/shard_writer.h"
#include "ops/op_calls.h"
#include "train/train_internal.h"
#include "train_util.h"

#define MICRO 6
#define ACCUM 2

typedef struct rig {
    lcmd_context *ctx;
    lcmd_pipeline *p;
    lcmd_scheduler_config sc;
} rig;

static void rig_init(rig *r, const char *device)
{
    char path[512];
    snprintf(path, sizeof path, "%s/pipeline/tiny-sd", fixtures());
    r->ctx = new_ctx_on(device);
    ck_assert_msg(lcmd_pipeline_open(r->ctx, path, NULL, &r->p) == LCMD_OK, "%s", lcmd_last_error());
    lcmd_scheduler_config_init(&r->sc);
    ck_assert(lcmd_pipeline_scheduler_config(r->p, &r->sc) == LCMD_OK);
}

static void rig_free(rig *r)
{
    lcmd_pipeline_destroy(r->p);
    lcmd_context_destroy(r->ctx);
}

static lcmd_trainer *new_trainer(rig *r, const lcmd_trainer_options *o)
{
    lcmd_trainer *tr = NULL;
    ck_assert_msg(lcmd_trainer_create(r->ctx, lcmd_pipeline_unet(r->p), &r->sc, o, &tr) == LCMD_OK, "%s",
                  lcmd_last_error());
    ck_assert_msg(lcmd_trainer_set_encoders(tr, lcmd_pipeline_tokenizer(r->p, 0), lcmd_pipeline_text_encoder(r->p, 0),
                                            lcmd_pipeline_vae(r->p)) == LCMD_OK,
                  "%s", lcmd_last_error());
    return tr;
}

/* the captions of micro-step s from the fixture's metadata (a JSON list of lists) */
static char **captions_of(lcmd_safetensors *st, int s, int64_t B)
{
    const char *text = lcmd_safetensors_metadata(st, "captions");
    ck_assert_ptr_nonnull(text);
    json_error_t err;
    json_t *all = json_loads(text, 0, &err);
    ck_assert_msg(all && json_is_array(json_array_get(all, (size_t)s)), "captions metadata: %s", err.text);
    char **c = calloc((size_t)B, sizeof *c);
    for (int64_t i = 0; i < B; i++) c[i] = strdup(json_string_value(json_array_get(json_array_get(all, (size_t)s), (size_t)i)));
    json_decref(all);
    return c;
}

START_TEST(test_parity_encode_accum2)
{
    char path[512];
    snprintf(path, sizeof path, "%s/train/trainer_encode_accum2.safetensors", fixtures());
    lcmd_safetensors *st = NULL;
    ck_assert_msg(lcmd_safetensors_open(path, &st) == LCMD_OK, "%s", lcmd_last_error());
    rig r;
    rig_init(&r, getenv("LCMD_TEST_DEVICE"));
    lcmd_trainer_options o;
    lcmd_trainer_options_init(&o);
    o.gradient_accumulation_steps = ACCUM;
    lcmd_trainer *tr = new_trainer(&r, &o);
    size_t n;
    float *cp = read_f32(st, "init.cond_proj", &n);
    ck_assert_msg(lcmd_trainer_set_param(tr, "time_embedding.cond_proj.weight", cp, n) == LCMD_OK, "%s",
                  lcmd_last_error());
    free(cp);
    float *init = params_host(lcmd_trainer_student(tr));
    double loss_ref[MICRO], norm_ref[MICRO / ACCUM];
    ck_assert(lcmd_safetensors_read_f64(st, "loss", loss_ref, MICRO) == LCMD_OK);
    ck_assert(lcmd_safetensors_read_f64(st, "grad_norm", norm_ref, MICRO / ACCUM) == LCMD_OK);
    lcmd_tokenizer *tok = lcmd_pipeline_tokenizer(r.p, 0);
    size_t L = lcmd_tokenizer_model_max_length(tok);
    for (int s = 0; s < MICRO; s++) {
        char k[6][32];
        const char *names[6] = {"images", "vae_noise", "noise", "index", "w", "ids"};
        for (int i = 0; i < 6; i++) snprintf(k[i], sizeof k[i], "step%d.%s", s, names[i]);
        const lcmd_st_tensor *it = lcmd_safetensors_find(st, k[0]);
        ck_assert(it && it->ndim == 4);
        int64_t B = it->shape[0];
        float *images = read_f32(st, k[0], NULL), *xi = read_f32(st, k[1], NULL), *noise = read_f32(st, k[2], NULL);
        float *w = read_f32(st, k[4], NULL);
        int64_t idx[8], ids_ref[8 * 77];
        ck_assert(lcmd_safetensors_read_i64(st, k[3], idx, (size_t)B) == LCMD_OK);
        ck_assert(lcmd_safetensors_read_i64(st, k[5], ids_ref, (size_t)B * L) == LCMD_OK);
        char **captions = captions_of(st, s, B);
        /* the tokenizer agrees with transformers' ids for these captions */
        int32_t ids[8 * 77];
        ck_assert(lcmd_tokenizer_encode_padded(tok, (const char *const *)captions, (size_t)B, ids) == LCMD_OK);
        for (size_t i = 0; i < (size_t)B * L; i++) ck_assert_int_eq(ids[i], ids_ref[i]);

        lcmd_step_batch in;
        lcmd_step_batch_init(&in);
        in.batch = B;
        in.height = it->shape[2];
        in.width = it->shape[3];
        in.images = images;
        in.captions = (const char *const *)captions;
        in.vae_noise = xi;
        in.noise = noise;
        in.ddim_indices = idx;
        in.guidance = w;
        lcmd_step_report rep;
        lcmd_step_report_init(&rep);
        ck_assert_msg(lcmd_trainer_step(tr, &in, &rep) == LCMD_OK, "%s", lcmd_last_error());
        double el = fabs(rep.loss - loss_ref[s]) / fabs(loss_ref[s]);
        printf("# encode_accum2 micro-step %d: loss %.9g (ref %.9g, rel %.2g)", s, rep.loss, loss_ref[s], el);
        ck_assert_msg(el <= TOL, "micro-step %d loss %g vs %g", s, rep.loss, loss_ref[s]);
        ck_assert_int_eq(rep.optimizer_stepped, (s + 1) % ACCUM == 0);
        ck_assert_int_eq(rep.step, (s + 1) / ACCUM);
        ck_assert_int_eq(rep.micro_steps, s + 1);
        ck_assert_int_eq(rep.samples_seen, (s + 1) * B);
        if (rep.optimizer_stepped) {
            double ref = norm_ref[s / ACCUM], en = fabs(rep.grad_norm - ref) / fabs(ref);
            printf(" grad norm %.7g (ref %.7g, rel %.2g)", rep.grad_norm, ref, en);
            ck_assert_msg(en <= TOL, "optimizer step %d grad norm %g vs %g", s / ACCUM, rep.grad_norm, ref);
        }
        printf("\n");
        for (int64_t i = 0; i < B; i++) free(captions[i]);
        free(captions);
        free(images);
        free(xi);
        free(noise);
        free(w);
    }
    compare_model(lcmd_trainer_student(tr), st, "student", init, UPDATE_TOL);
    compare_model(lcmd_trainer_target(tr), st, "target", init, TARGET_UPDATE_TOL);
    free(init);
    lcmd_trainer_destroy(tr);
    rig_free(&r);
    lcmd_safetensors_close(st);
}
END_TEST

/* the step's own draws: the same seed gives the same losses; another seed others */
START_TEST(test_drawn_and_refused)
{
    rig r;
    rig_init(&r, NULL);
    lcmd_trainer_options o;
    lcmd_trainer_options_init(&o);
    o.seed = 7;
    lcmd_trainer *tr = NULL;
    ck_assert(lcmd_trainer_create(r.ctx, lcmd_pipeline_unet(r.p), &r.sc, &o, &tr) == LCMD_OK);
    float images[2 * 3 * 16 * 16];
    for (size_t i = 0; i < sizeof images / sizeof images[0]; i++) images[i] = (float)((i * 37) % 200) / 100.0f - 1.0f;
    const char *caps[2] = {"a red cube", "a blue sphere"};
    lcmd_step_batch in;
    lcmd_step_batch_init(&in);
    in.batch = 2;
    in.height = in.width = 16;
    in.images = images;
    in.captions = caps;
    /* no encoders yet */
    ck_assert_int_eq(lcmd_trainer_step(tr, &in, NULL), LCMD_ERR_INVALID_ARGUMENT);
    ck_assert_msg(strstr(lcmd_last_error(), "lcmd_trainer_set_encoders"), "%s", lcmd_last_error());
    /* a text encoder of another width (32) than the UNet's cross_attention_dim (12) */
    char path[512];
    snprintf(path, sizeof path, "%s/clip/quick", fixtures());
    lcmd_text_encoder *wide = NULL;
    ck_assert_msg(lcmd_text_encoder_load(r.ctx, path, NULL, &wide) == LCMD_OK, "%s", lcmd_last_error());
    lcmd_status bad = lcmd_trainer_set_encoders(tr, lcmd_pipeline_tokenizer(r.p, 0), wide, lcmd_pipeline_vae(r.p));
    ck_assert_int_eq(bad, LCMD_ERR_INVALID_ARGUMENT);
    ck_assert_msg(strstr(lcmd_last_error(), "cross_attention_dim"), "%s", lcmd_last_error());
    lcmd_text_encoder_destroy(wide);
    ck_assert_int_eq(lcmd_trainer_set_encoders(tr, NULL, NULL, NULL), LCMD_ERR_INVALID_ARGUMENT);
    ck_assert(lcmd_trainer_set_encoders(tr, lcmd_pipeline_tokenizer(r.p, 0), lcmd_pipeline_text_encoder(r.p, 0),
                                        lcmd_pipeline_vae(r.p)) == LCMD_OK);
    /* refused: sizes, a NULL caption, NaN pixels; nothing changes */
    in.height = 15;
    ck_assert_int_eq(lcmd_trainer_step(tr, &in, NULL), LCMD_ERR_INVALID_ARGUMENT);
    ck_assert_msg(strstr(lcmd_last_error(), "15"), "%s", lcmd_last_error());
    in.height = 16;
    const char *nullcap[2] = {"a", NULL};
    in.captions = nullcap;
    ck_assert_int_eq(lcmd_trainer_step(tr, &in, NULL), LCMD_ERR_INVALID_ARGUMENT);
    ck_assert_msg(strstr(lcmd_last_error(), "captions[1]"), "%s", lcmd_last_error());
    in.captions = caps;
    images[10] = NAN;
    ck_assert_int_eq(lcmd_trainer_step(tr, &in, NULL), LCMD_ERR_NUMERIC);
    images[10] = 0.0f;
    in.struct_size = 4;
    ck_assert_int_eq(lcmd_trainer_step(tr, &in, NULL), LCMD_ERR_INVALID_ARGUMENT);
    in.struct_size = sizeof in;
    int64_t step, micro, samples;
    ck_assert(lcmd_trainer_progress(tr, &step, &micro, &samples) == LCMD_OK);
    ck_assert(step == 0 && micro == 0 && samples == 0);
    ck_assert_int_eq(lcmd_trainer_progress(NULL, &step, NULL, NULL), LCMD_ERR_INVALID_ARGUMENT);

    /* drawn: deterministic per seed and micro-step; the draws differ between micro-steps */
    double l1[2], l2[2];
    lcmd_step_report rep;
    lcmd_step_report_init(&rep);
    for (int s = 0; s < 2; s++) {
        ck_assert_msg(lcmd_trainer_step(tr, &in, &rep) == LCMD_OK, "%s", lcmd_last_error());
        ck_assert(isfinite(rep.loss) && rep.loss > 0);
        l1[s] = rep.loss;
    }
    lcmd_trainer *tr2 = new_trainer(&r, &o);
    for (int s = 0; s < 2; s++) {
        ck_assert(lcmd_trainer_step(tr2, &in, &rep) == LCMD_OK);
        l2[s] = rep.loss;
    }
    ck_assert(l1[0] == l2[0] && l1[1] == l2[1]);
    ck_assert(l1[0] != l1[1]);
    /* an older, shorter report layout is filled up to its size */
    lcmd_step_report old;
    memset(&old, 0xab, sizeof old);
    old.struct_size = (uint32_t)offsetof(lcmd_step_report, micro_steps);
    ck_assert(lcmd_trainer_step(tr2, &in, &old) == LCMD_OK);
    ck_assert_int_eq(old.step, 3);
    int64_t poison;
    memset(&poison, 0xab, sizeof poison);
    ck_assert(old.micro_steps == poison);
    lcmd_trainer_destroy(tr2);
    lcmd_trainer_destroy(tr);
    rig_free(&r);
}
END_TEST

/* gradient checkpointing: the same losses and weights as keeping every activation */
START_TEST(test_gradient_checkpointing)
{
    rig r;
    rig_init(&r, NULL);
    float images[2 * 3 * 16 * 16];
    for (size_t i = 0; i < sizeof images / sizeof images[0]; i++) images[i] = (float)((i * 53) % 200) / 100.0f - 1.0f;
    const char *caps[2] = {"a green field", "a small boat"};
    lcmd_step_batch in;
    lcmd_step_batch_init(&in);
    in.batch = 2;
    in.height = in.width = 16;
    in.images = images;
    in.captions = caps;
    lcmd_trainer *t[2];
    double loss[2][3];
    for (int k = 0; k < 2; k++) {
        lcmd_trainer_options o;
        lcmd_trainer_options_init(&o);
        o.seed = 5;
        o.gradient_checkpointing = k;
        t[k] = new_trainer(&r, &o);
        for (int s = 0; s < 3; s++) {
            lcmd_step_report rep;
            lcmd_step_report_init(&rep);
            ck_assert_msg(lcmd_trainer_step(t[k], &in, &rep) == LCMD_OK, "%s", lcmd_last_error());
            loss[k][s] = rep.loss;
        }
    }
    for (int s = 0; s < 3; s++) ck_assert_msg(loss[0][s] == loss[1][s], "step %d: %.17g vs %.17g", s, loss[0][s], loss[1][s]);
    float *a = params_host(lcmd_trainer_student(t[0])), *b = params_host(lcmd_trainer_student(t[1]));
    size_t total = lcmd_unet_model_of(lcmd_trainer_student(t[0]))->params.total;
    double worst = 0;
    for (size_t i = 0; i < total; i++) {
        double d = fabs((double)a[i] - (double)b[i]) / (fabs((double)a[i]) + 1e-6);
        if (!(d <= worst)) worst = d;
    }
    printf("# gradient checkpointing: worst relative weight difference after 3 steps %.3g\n", worst);
    ck_assert_msg(worst <= 1e-6, "weights differ by %g", worst);
    free(a);
    free(b);
    lcmd_trainer_options o;
    lcmd_trainer_options_init(&o);
    o.gradient_checkpointing = 2;
    lcmd_trainer *bad = NULL;
    ck_assert_int_eq(lcmd_trainer_create(r.ctx, lcmd_pipeline_unet(r.p), &r.sc, &o, &bad), LCMD_ERR_INVALID_ARGUMENT);
    lcmd_trainer_destroy(t[0]);
    lcmd_trainer_destroy(t[1]);
    rig_free(&r);
}
END_TEST

/* ---------------------------------------------- resume of training and data together */

static void make_shards(const char *dir)
{
    for (int k = 0; k < 2; k++) {
        char path[600];
        snprintf(path, sizeof path, "%s/shard-%d.tar", dir, k);
        struct archive *a = tw_open(path, TW_PLAIN);
        ck_assert_ptr_nonnull(a);
        for (int i = 0; i < 12; i++) {
            char name[64], text[64];
            size_t len;
            uint8_t *png = tw_png(20 + i, 18 + (i % 3), 3, (uint8_t)(i * 20), (uint8_t)(k * 90), 60, &len);
            snprintf(name, sizeof name, "s%d%03d.png", k, i);
            ck_assert_int_eq(tw_add(a, name, png, len), 0);
            free(png);
            snprintf(name, sizeof name, "s%d%03d.txt", k, i);
            snprintf(text, sizeof text, "sample %d of shard %d", i, k);
            ck_assert_int_eq(tw_add_str(a, name, text), 0);
        }
        ck_assert_int_eq(tw_close(a), 0);
    }
}

static lcmd_dataset *open_data(rig *r, const char *dir)
{
    char spec[600];
    snprintf(spec, sizeof spec, "%s/shard-{0..1}.tar", dir);
    lcmd_dataset_options o;
    lcmd_dataset_options_init(&o);
    o.shards = spec;
    o.resolution = 16;
    o.batch_size = 2;
    o.seed = 3;
    o.shuffle_buffer = 8;
    o.shuffle_initial = 4;
    o.num_workers = 2;
    o.epochs = 2;
    lcmd_dataset *ds = NULL;
    ck_assert_msg(lcmd_dataset_create(r->ctx, &o, &ds) == LCMD_OK, "%s", lcmd_last_error());
    return ds;
}

static void train(lcmd_trainer *tr, lcmd_dataset *ds, int n)
{
    for (int i = 0; i < n; i++) {
        lcmd_batch *b = NULL;
        ck_assert_msg(lcmd_dataset_next(ds, &b) == LCMD_OK, "%s", lcmd_last_error());
        ck_assert_msg(lcmd_trainer_step_dataset(tr, b, NULL) == LCMD_OK, "%s", lcmd_last_error());
        lcmd_batch_destroy(b);
    }
}

static void rm_rf(const char *path)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    ck_assert_int_eq(system(cmd), 0);
}

/* 6 micro-steps straight == 3, checkpoint, a new process state (trainer and dataset
 * made afresh), resume, skip the data stream by the checkpoint's micro-steps, 3 more:
 * the same weights bit for bit */
START_TEST(test_resume_with_data)
{
    char dir[] = "/tmp/lcmd-train-data-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    make_shards(dir);
    char out[600];
    snprintf(out, sizeof out, "%s/out", dir);
    rig r;
    rig_init(&r, NULL);
    lcmd_trainer_options o;
    lcmd_trainer_options_init(&o);
    o.gradient_accumulation_steps = 2;
    o.seed = 11;

    lcmd_trainer *a = new_trainer(&r, &o);
    lcmd_dataset *da = open_data(&r, dir);
    train(a, da, 6);
    lcmd_dataset_destroy(da);

    lcmd_trainer *b = new_trainer(&r, &o);
    lcmd_dataset *db = open_data(&r, dir);
    train(b, db, 3);   /* inside an accumulation cycle */
    ck_assert_msg(lcmd_trainer_save_checkpoint(b, out, 0, NULL, 0) == LCMD_OK, "%s", lcmd_last_error());
    lcmd_trainer_destroy(b);
    lcmd_dataset_destroy(db);

    lcmd_trainer *c = new_trainer(&r, &o);
    ck_assert_msg(lcmd_trainer_resume(c, out, "latest") == LCMD_OK, "%s", lcmd_last_error());
    int64_t step, micro, samples;
    ck_assert(lcmd_trainer_progress(c, &step, &micro, &samples) == LCMD_OK);
    ck_assert_int_eq(step, 1);
    ck_assert_int_eq(micro, 3);
    ck_assert_int_eq(samples, 6);
    lcmd_dataset *dc = open_data(&r, dir);
    int64_t skipped = -1;
    ck_assert_msg(lcmd_dataset_skip(dc, micro, &skipped) == LCMD_OK, "%s", lcmd_last_error());
    ck_assert_int_eq(skipped, 3);
    train(c, dc, 3);
    lcmd_dataset_destroy(dc);

    float *pa = params_host(lcmd_trainer_student(a)), *pc = params_host(lcmd_trainer_student(c));
    float *ta = params_host(lcmd_trainer_target(a)), *tc = params_host(lcmd_trainer_target(c));
    size_t total = lcmd_unet_model_of(lcmd_trainer_student(a))->params.total;
    ck_assert(memcmp(pa, pc, total * sizeof *pa) == 0);
    ck_assert(memcmp(ta, tc, total * sizeof *ta) == 0);
    /* and the weights did move from a fresh trainer's */
    lcmd_trainer *fresh = new_trainer(&r, &o);
    float *p0 = params_host(lcmd_trainer_student(fresh));
    ck_assert(memcmp(pa, p0, total * sizeof *pa) != 0);
    free(p0);
    lcmd_trainer_destroy(fresh);
    free(pa);
    free(pc);
    free(ta);
    free(tc);
    ck_assert(lcmd_trainer_progress(a, &step, &micro, &samples) == LCMD_OK);
    ck_assert(step == 3 && micro == 6 && samples == 12);

    /* a skip past the end says where the stream ended */
    lcmd_dataset *dd = open_data(&r, dir);
    ck_assert_int_eq(lcmd_dataset_skip(dd, 1000, &skipped), LCMD_END_OF_STREAM);
    ck_assert_int_eq(skipped, 24);   /* 2 epochs x 24 samples / batch 2 */
    ck_assert_int_eq(lcmd_dataset_skip(dd, -1, NULL), LCMD_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(lcmd_dataset_skip(NULL, 1, NULL), LCMD_ERR_INVALID_ARGUMENT);
    lcmd_dataset_destroy(dd);

    lcmd_trainer_destroy(a);
    lcmd_trainer_destroy(c);
    rig_free(&r);
    rm_rf(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("trainer_encode");
    TCase *tc = tcase_create("encode");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, test_parity_encode_accum2);
    tcase_add_test(tc, test_drawn_and_refused);
    tcase_add_test(tc, test_gradient_checkpointing);
    tcase_add_test(tc, test_resume_with_data);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
