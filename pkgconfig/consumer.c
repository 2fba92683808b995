/* An out-of-tree host program built only with `pkg-config --cflags --libs lcmd`: the
 * shortest whole loop on the tiny demo models — a teacher and shards written to a
 * temporary folder, dataset → trainer steps → a 4-step LCM schedule — and the error
 * model (a missing folder is an error naming it).
 *   consumer [WORK_FOLDER]   (default: a new folder under /tmp, removed at the end) */
#define _DEFAULT_SOURCE   /* mkdtemp */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lcmd/lcmd.h>

static int fail(const char *what)
{
    fprintf(stderr, "consumer: %s: %s\n", what, lcmd_last_error());
    return 1;
}

static int loop(lcmd_context *ctx, const char *work)
{
    char teacher[512], shards[512];
    snprintf(teacher, sizeof teacher, "%s/teacher", work);
    snprintf(shards, sizeof shards, "%s/shards", work);
    lcmd_demo_data_options d;
    lcmd_demo_data_options_init(&d);
    d.num_shards = 1;
    d.samples_per_shard = 8;
    if (lcmd_demo_write_teacher(ctx, teacher, NULL) || lcmd_demo_write_shards(shards, &d)) return fail("demo");

    lcmd_pipeline *p = NULL;
    if (lcmd_pipeline_open(ctx, teacher, NULL, &p)) return fail("pipeline");
    lcmd_scheduler_config sc;
    lcmd_scheduler_config_init(&sc);
    lcmd_pipeline_scheduler_config(p, &sc);
    lcmd_trainer *tr = NULL;
    lcmd_dataset *ds = NULL;
    lcmd_lcm_scheduler *lcm = NULL;
    int rc = 1;
    lcmd_dataset_options o;
    lcmd_dataset_options_init(&o);
    o.shards = shards;
    o.resolution = 32;
    o.batch_size = 2;
    if (lcmd_trainer_create(ctx, lcmd_pipeline_unet(p), &sc, NULL, &tr) ||
        lcmd_trainer_set_encoders(tr, lcmd_pipeline_tokenizer(p, 0), lcmd_pipeline_text_encoder(p, 0),
                                  lcmd_pipeline_vae(p)) ||
        lcmd_dataset_create(ctx, &o, &ds)) {
        fail("setup");
        goto done;
    }
    for (int i = 0; i < 2; i++) {
        lcmd_batch *b = NULL;
        lcmd_step_report r;
        lcmd_step_report_init(&r);
        if (lcmd_dataset_next(ds, &b) || lcmd_trainer_step_dataset(tr, b, &r)) {
            lcmd_batch_destroy(b);
            fail("step");
            goto done;
        }
        lcmd_batch_destroy(b);
        printf("consumer: step %lld loss %.5f\n", (long long)r.step, r.loss);
        if (!isfinite(r.loss)) goto done;
    }
    int64_t ts[4];
    if (lcmd_lcm_scheduler_create(ctx, &sc, &lcm) || lcmd_lcm_scheduler_set_timesteps(lcm, 4, 0, 1.0) ||
        lcmd_lcm_scheduler_timesteps(lcm, ts, 4)) {
        fail("scheduler");
        goto done;
    }
    printf("consumer: LCM timesteps %lld %lld %lld %lld\n", (long long)ts[0], (long long)ts[1], (long long)ts[2],
           (long long)ts[3]);
    rc = 0;
done:
    lcmd_lcm_scheduler_destroy(lcm);
    lcmd_dataset_destroy(ds);
    lcmd_trainer_destroy(tr);
    lcmd_pipeline_destroy(p);
    return rc;
}

int main(int argc, char **argv)
{
    if (lcmd_version() != LCMD_VERSION_NUMBER) {
        fprintf(stderr, "header %s but library %s\n", LCMD_VERSION_STRING, lcmd_version_string());
        return 1;
    }
    lcmd_context_options co;
    lcmd_context_options_init(&co);
    co.num_threads = 2;
    co.log_level = LCMD_LOG_ERROR;
    lcmd_context *ctx = NULL;
    if (lcmd_context_create(&co, &ctx) != LCMD_OK) return fail("context");
    printf("consumer: liblcmd %s on %s\n", lcmd_version_string(), lcmd_context_device(ctx));

    /* the error model: a status and a message naming the folder */
    lcmd_pipeline *none = NULL;
    lcmd_status s = lcmd_pipeline_open(ctx, "/nonexistent/teacher", NULL, &none);
    if (s != LCMD_ERR_IO || !strstr(lcmd_last_error(), "/nonexistent/teacher")) {
        fprintf(stderr, "consumer: a missing folder gave %s: %s\n", lcmd_status_string(s), lcmd_last_error());
        return 1;
    }
    char tmp[] = "/tmp/lcmd-consumer-XXXXXX";
    const char *work = argc > 1 ? argv[1] : mkdtemp(tmp);
    int rc = work ? loop(ctx, work) : 1;
    if (argc <= 1 && work) {
        char cmd[64];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", work);
        if (system(cmd) != 0) fprintf(stderr, "consumer: could not remove %s\n", work);
    }
    lcmd_context_destroy(ctx);
    return rc;
}
