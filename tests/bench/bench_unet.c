/* Times the UNet forward of a diffusers folder on the CPU (the C side of
 * tests/bench/unet_cpu.py), and the machine's single-precision GEMM rate that sets
 * the floor. Prints one JSON object.
 *   bench_unet FOLDER VARIANT|- HEIGHT WIDTH SEQ_LEN ITERS THREADS [DEVICE] */
#include <cblas.h>
#include <math.h>
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

/* best of three 2048^3 sgemms, GFLOP/s */
static double sgemm_rate(void)
{
    const int n = 2048;
    float *a = malloc(sizeof(float) * n * n), *b = malloc(sizeof(float) * n * n), *c = malloc(sizeof(float) * n * n);
    if (!a || !b || !c) return 0;
    lcmd_rng_normal(1, 0, 0, a, (size_t)n * n);
    lcmd_rng_normal(2, 0, 0, b, (size_t)n * n);
    double best = 1e30;
    for (int r = 0; r < 4; r++) {
        double t0 = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        double t = now() - t0;
        if (r > 0 && t < best) best = t;
    }
    free(a); free(b); free(c);
    return 2.0 * n * n * (double)n / best / 1e9;
}

static int fail(const char *what, lcmd_status s)
{
    fprintf(stderr, "%s: %s: %s\n", what, lcmd_status_string(s), lcmd_last_error());
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 8 && argc != 9) {
        fprintf(stderr, "usage: %s FOLDER VARIANT|- HEIGHT WIDTH SEQ_LEN ITERS THREADS [DEVICE]\n", argv[0]);
        return 2;
    }
    const char *folder = argv[1], *variant = strcmp(argv[2], "-") ? argv[2] : NULL;
    int64_t h = atoll(argv[3]), w = atoll(argv[4]), seq = atoll(argv[5]);
    int iters = atoi(argv[6]), threads = atoi(argv[7]);
    lcmd_context_options o;
    lcmd_context_options_init(&o);
    o.num_threads = threads;
    o.device = argc == 9 ? argv[8] : "cpu";
    o.log_level = LCMD_LOG_WARN;
    lcmd_context *ctx = NULL;
    lcmd_status s = lcmd_context_create(&o, &ctx);
    if (s) return fail("context", s);
    double rate = strcmp(o.device, "cpu") == 0 ? sgemm_rate() : 0.0;

    double t0 = now();
    lcmd_unet_load_options lo;
    lcmd_unet_load_options_init(&lo);
    lo.variant = variant;
    lcmd_unet *u = NULL;
    if ((s = lcmd_unet_load(ctx, folder, &lo, &u))) return fail("load", s);
    double load_s = now() - t0;
    lcmd_unet_info info;
    lcmd_unet_info_init(&info);
    lcmd_unet_get_info(u, &info);

    size_t ns = (size_t)(4 * h * w), ne = (size_t)(seq * info.cross_attention_dim);
    float *sample = malloc(ns * sizeof *sample), *ehs = malloc(ne * sizeof *ehs), *out = malloc(ns * sizeof *out);
    float t = 500.0f;
    lcmd_rng_normal(3, 0, 0, sample, ns);
    lcmd_rng_normal(4, 0, 0, ehs, ne);
    lcmd_unet_inputs in;
    lcmd_unet_inputs_init(&in);
    in.batch = 1; in.height = h; in.width = w; in.seq_len = seq;
    in.sample = sample; in.timesteps = &t; in.encoder_hidden_states = ehs;
    printf("{\"load_s\": %.3f, \"sgemm_gflops\": %.1f, \"parameters\": %lld, \"forward_s\": [", load_s, rate,
           (long long)info.num_parameters);
    for (int i = 0; i < iters; i++) {
        double f0 = now();
        if ((s = lcmd_unet_forward(u, &in, out))) return fail("forward", s);
        printf("%s%.3f", i ? ", " : "", now() - f0);
        fflush(stdout);
    }
    double sum = 0;
    for (size_t i = 0; i < ns; i++) sum += fabs(out[i]);
    printf("], \"mean_abs_out\": %.6g}\n", sum / (double)ns);
    free(sample); free(ehs); free(out);
    lcmd_unet_destroy(u);
    lcmd_context_destroy(ctx);
    return 0;
}
