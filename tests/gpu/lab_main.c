/* gpu_lab: checks every CUDA op against the CPU backend, then times SD1.5 shapes.
 * Exit 77 (meson's skip) when there is no CUDA device.
 * Options: --check-only, --bench-only, --quick (smaller timing loops). */
#include <stdio.h>
#include <string.h>

#include "lab.h"
#include "ops/op_check.h"

static int run_op_check(lcmd_backend *gpu)
{
    /* the CPU engineer's double-reference + finite-difference harness, on the GPU */
    static char report[1 << 16];
    int fails = 0;
    const lcmd_dtype dts[3] = {LCMD_DT_F32, LCMD_DT_F16, LCMD_DT_BF16};
    for (int i = 0; i < 3; i++) {
        report[0] = 0;
        lcmd_status st = lcmd_op_check_all(gpu, dts[i], report, sizeof report);
        printf("op_check [%s]: %s\n%s", lcmd_dtype_name(dts[i]), st == LCMD_OK ? "all passed" : lcmd_last_error(), report);
        if (st != LCMD_OK) fails++;
    }
    return fails;
}

int main(int argc, char **argv)
{
    int do_check = 1, do_bench = 1, quick = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--check-only")) do_bench = 0;
        else if (!strcmp(argv[i], "--bench-only")) do_check = 0;
        else if (!strcmp(argv[i], "--quick")) quick = 1;
        else {
            fprintf(stderr, "usage: %s [--check-only|--bench-only] [--quick]\n", argv[0]);
            return 2;
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    int ndev = lcmd_cuda_backend_device_count();
    if (ndev <= 0) {
        printf("SKIP: no CUDA device (lcmd_cuda_backend_device_count() = %d)\n", ndev);
        return 77;
    }
    lcmd_backend *gpu = NULL, *cpu = NULL;
    lcmd_status st = lcmd_cuda_backend_create(0, &gpu);
    if (st != LCMD_OK) {
        printf("FAIL: lcmd_cuda_backend_create: %s: %s\n", lcmd_status_string(st), lcmd_last_error());
        return 1;
    }
    st = lcmd_cpu_backend_create(0, &cpu);
    if (st != LCMD_OK) {
        printf("FAIL: lcmd_cpu_backend_create: %s: %s\n", lcmd_status_string(st), lcmd_last_error());
        lcmd_backend_destroy(gpu);
        return 1;
    }
    int fails = 0;
    double t0 = lab_now();
    if (do_check) {
        fails += lab_check_all(gpu, cpu, quick);
        printf("\ncorrectness: %d failure(s) (%.1f s)\n", fails, lab_now() - t0);
        double t1 = lab_now();
        int oc = run_op_check(gpu);
        printf("op_check harness on cuda: %d dtype(s) with failures (%.1f s; informational)\n\n", oc, lab_now() - t1);
    }
    if (do_bench) fails += lab_bench_all(gpu, quick);
    lcmd_backend_destroy(cpu);
    lcmd_backend_destroy(gpu);
    printf("gpu_lab: %s (%d failure(s), %.1f s)\n", fails ? "FAIL" : "PASS", fails, lab_now() - t0);
    return fails ? 1 : 0;
}
