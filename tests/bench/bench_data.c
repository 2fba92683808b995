/* Times the WebDataset data path (the C side of tests/bench/data_pipeline.py): training
 * batches of R x R images from shards, as lcmd_dataset_next hands them to a training
 * loop (decode, shorter side resized to R with the bilinear filter, random crop,
 * float [-1, 1] NCHW). Prints one JSON object per worker count.
 *
 *   bench_data SHARDS RESOLUTION BATCH EPOCHS WORKERS [WORKERS...]
 *
 * The clock starts at the first batch (worker start-up and the shuffle buffer's initial
 * fill are reported apart as first_batch_s) and stops after the last one;
 * images_per_cpu_s divides the images by the process's CPU time (all threads, user +
 * system) over the same window. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <lcmd/lcmd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/** CPU seconds (user + system) used so far by every thread of the process. */
static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_sec +
           1e-6 * (double)ru.ru_stime.tv_usec;
}

static void quiet(void *user, lcmd_log_level level, const char *msg)
{
    (void)user;
    if (level >= LCMD_LOG_WARN)
        fprintf(stderr, "%s\n", msg);
}

/** One timed run; 0 on success. */
static int run(lcmd_context *ctx, const char *shards, int r, int batch, int epochs, int workers)
{
    lcmd_dataset_options o;
    lcmd_dataset_options_init(&o);
    o.shards = shards;
    o.resolution = r;
    o.batch_size = batch;
    o.epochs = epochs;
    o.num_workers = workers;
    o.seed = 1;
    lcmd_dataset *ds;
    double t0 = now();
    lcmd_status s = lcmd_dataset_create(ctx, &o, &ds);
    if (s != LCMD_OK) {
        fprintf(stderr, "bench_data: %s: %s\n", lcmd_status_string(s), lcmd_last_error());
        return 1;
    }
    lcmd_batch *b;
    long images = 0, batches = 0;
    double first = 0, start = 0, cpu0 = 0, checksum = 0;
    while ((s = lcmd_dataset_next(ds, &b)) == LCMD_OK) {
        /* touch the batch as a consumer would (one value per image) */
        const float *im = lcmd_batch_images(b);
        for (int i = 0; i < lcmd_batch_size(b); i++)
            checksum += im[(size_t)i * 3 * (size_t)r * (size_t)r];
        if (batches == 0) {
            start = now();
            first = start - t0;
            cpu0 = cpu_seconds();
        } else {
            images += lcmd_batch_size(b);
        }
        batches++;
        lcmd_batch_destroy(b);
    }
    double secs = now() - start, cpu = cpu_seconds() - cpu0;
    lcmd_dataset_stats st;
    st.struct_size = sizeof st;
    lcmd_dataset_get_stats(ds, &st);
    lcmd_dataset_destroy(ds);
    if (s != LCMD_END_OF_STREAM || batches < 2) {
        fprintf(stderr, "bench_data: stream ended with %s after %ld batches: %s\n", lcmd_status_string(s), batches,
                lcmd_last_error());
        return 1;
    }
    printf("{\"side\": \"c\", \"workers\": %d, \"resolution\": %d, \"batch\": %d, \"batches\": %ld, "
           "\"images_timed\": %ld, \"seconds\": %.4f, \"images_per_s\": %.3f, \"cpu_s\": %.4f, "
           "\"images_per_cpu_s\": %.3f, \"first_batch_s\": %.4f, \"skipped\": %llu, \"checksum\": %.6g}\n",
           workers, r, batch, batches, images, secs, (double)images / secs, cpu, (double)images / cpu, first,
           (unsigned long long)(st.samples_read - st.samples_used), checksum);
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: bench_data SHARDS RESOLUTION BATCH EPOCHS WORKERS [WORKERS...]\n");
        return 2;
    }
    int r = atoi(argv[2]), batch = atoi(argv[3]), epochs = atoi(argv[4]);
    lcmd_context_options co;
    lcmd_context_options_init(&co);
    co.log_fn = quiet;
    lcmd_context *ctx;
    if (lcmd_context_create(&co, &ctx) != LCMD_OK) {
        fprintf(stderr, "bench_data: %s\n", lcmd_last_error());
        return 1;
    }
    int rc = 0;
    for (int i = 5; i < argc && rc == 0; i++)
        rc = run(ctx, argv[1], r, batch, epochs, atoi(argv[i]));
    lcmd_context_destroy(ctx);
    return rc;
}
