/* Times LCD training micro-steps (lcmd_trainer_step_latents: student forward and
 * backward, two teacher forwards, the target, AdamW, EMA) of a diffusers UNet folder as
 * the teacher: the C side of tests/bench/train_step.py. Prints one JSON object.
 *   bench_step FOLDER VARIANT|- LATENT_SIDE SEQ_LEN STEPS THREADS GRAD_CHECKPOINTING [DEVICE] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lcmd/lcmd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int fail(const char *what, lcmd_status s)
{
    fprintf(stderr, "%s: %s: %s\n", what, lcmd_status_string(s), lcmd_last_error());
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 8 && argc != 9) {
        fprintf(stderr, "usage: %s FOLDER VARIANT|- LATENT_SIDE SEQ_LEN STEPS THREADS GRAD_CHECKPOINTING [DEVICE]\n",
                argv[0]);
        return 2;
    }
    const char *folder = argv[1], *variant = strcmp(argv[2], "-") ? argv[2] : NULL;
    int64_t side = atoll(argv[3]), seq = atoll(argv[4]);
    int steps = atoi(argv[5]), threads = atoi(argv[6]), gc = atoi(argv[7]);
    lcmd_context_options co;
    lcmd_context_options_init(&co);
    co.num_threads = threads;
    co.device = argc == 9 ? argv[8] : "cpu";
    lcmd_context *ctx = NULL;
    lcmd_status s = lcmd_context_create(&co, &ctx);
    if (s) return fail("context", s);
    double t0 = now();
    lcmd_unet_load_options lo;
    lcmd_unet_load_options_init(&lo);
    lo.variant = variant;
    lcmd_unet *teacher = NULL;
    if ((s = lcmd_unet_load(ctx, folder, &lo, &teacher))) return fail("load", s);
    lcmd_scheduler_config sc;
    lcmd_scheduler_config_init(&sc);   /* SD1.5's schedule (scaled_linear 0.00085..0.012, epsilon) */
    lcmd_trainer_options o;
    lcmd_trainer_options_init(&o);
    o.gradient_checkpointing = gc;
    lcmd_trainer *tr = NULL;
    if ((s = lcmd_trainer_create(ctx, teacher, &sc, &o, &tr))) return fail("trainer", s);
    double setup_s = now() - t0;
    lcmd_unet_info info;
    lcmd_unet_info_init(&info);
    lcmd_unet_get_info(teacher, &info);
    size_t nl = (size_t)(4 * side * side), ne = (size_t)(seq * info.cross_attention_dim);
    float *z0 = malloc(nl * sizeof *z0), *cond = malloc(ne * sizeof *cond), *uncond = malloc(ne * sizeof *uncond);
    if (!z0 || !cond || !uncond) return fail("alloc", LCMD_ERR_OUT_OF_MEMORY);
    lcmd_rng_normal(3, 0, 0, z0, nl);
    lcmd_rng_normal(4, 0, 0, cond, ne);
    lcmd_rng_normal(5, 0, 0, uncond, ne);
    lcmd_step_inputs in;
    lcmd_step_inputs_init(&in);
    in.batch = 1;
    in.channels = 4;
    in.height = in.width = side;
    in.latents = z0;
    in.seq_len = seq;
    in.embed_dim = info.cross_attention_dim;
    in.cond_embeds = cond;
    in.uncond_embeds = uncond;
    printf("{\"setup_s\": %.3f, \"parameters\": %lld, \"step_s\": [", setup_s, (long long)info.num_parameters);
    double last_loss = 0;
    for (int i = 0; i < steps; i++) {
        lcmd_step_report r;
        lcmd_step_report_init(&r);
        double f0 = now();
        if ((s = lcmd_trainer_step_latents(tr, &in, &r))) return fail("step", s);
        printf("%s%.3f", i ? ", " : "", now() - f0);
        fflush(stdout);
        last_loss = r.loss;
    }
    printf("], \"loss\": %.6g}\n", last_loss);
    free(z0);
    free(cond);
    free(uncond);
    lcmd_trainer_destroy(tr);
    lcmd_unet_destroy(teacher);
    lcmd_context_destroy(ctx);
    return 0;
}
