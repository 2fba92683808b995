/* lcmd-selfcheck: prints what this liblcmd build can do and checks every op of the
 * chosen device against a double-precision reference.
 *
 *   lcmd-selfcheck [--device cpu|cuda:N] [--threads N] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lcmd/lcmd.h>

static int usage(const char *prog)
{
    fprintf(stderr, "usage: %s [--device cpu|cuda:N] [--threads N]\n", prog);
    return 2;
}

int main(int argc, char **argv)
{
    lcmd_context_options opts;
    lcmd_context_options_init(&opts);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--device") == 0 && i + 1 < argc)
            opts.device = argv[++i];
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            opts.num_threads = atoi(argv[++i]);
        else
            return usage(argv[0]);
    }
    printf("liblcmd %s (headers %s), CUDA backend: %s, CUDA devices: %d\n",
           lcmd_version_string(), LCMD_VERSION_STRING,
           lcmd_build_has_cuda() ? "built" : "not built", lcmd_cuda_device_count());

    lcmd_context *ctx = NULL;
    lcmd_status s = lcmd_context_create(&opts, &ctx);
    if (s != LCMD_OK) {
        fprintf(stderr, "error: %s: %s\n", lcmd_status_string(s), lcmd_last_error());
        return 1;
    }
    printf("device %s, %d CPU threads\n", lcmd_context_device(ctx), lcmd_context_num_threads(ctx));

    float z[4];
    lcmd_rng_normal(lcmd_context_seed(ctx), 0, 0, z, 4);
    printf("first normal draws of seed %llu: %.6f %.6f %.6f %.6f\n",
           (unsigned long long)lcmd_context_seed(ctx), z[0], z[1], z[2], z[3]);

    size_t size = 1 << 16;
    char *report = malloc(size);
    if (!report) {
        lcmd_context_destroy(ctx);
        return 1;
    }
    s = lcmd_context_self_check(ctx, report, size);
    fputs(report, stdout);
    if (s != LCMD_OK)
        fprintf(stderr, "self check FAILED: %s: %s\n", lcmd_status_string(s), lcmd_last_error());
    else
        printf("self check passed\n");
    free(report);
    lcmd_context_destroy(ctx);
    return s == LCMD_OK ? 0 : 1;
}
