/* GPU kernel lab: correctness of every CUDA op against the CPU backend, and timings
 * at SD1.5 shapes. Plain C, its own tiny harness (no libcheck). */
#ifndef LCMD_GPU_LAB_H
#define LCMD_GPU_LAB_H

#include <stddef.h>
#include <stdint.h>

#include "ops/ops.h"

/* deterministic generator (splitmix64) */
typedef struct lab_rng { uint64_t s; } lab_rng;
uint64_t lab_next(lab_rng *r);
float lab_unif(lab_rng *r, float lo, float hi);   /* never exactly 0 when lo < 0 < hi */

float lab_round(lcmd_dtype dt, float x);          /* round to dt and back */
void lab_to_dt(lcmd_dtype dt, void *dst, const float *src, size_t n);
void lab_from_dt(lcmd_dtype dt, float *dst, const void *src, size_t n);

/* ||a - b|| / ||b|| in double (||a - b|| when ||b|| == 0); NaN when a or b has NaN/Inf */
double lab_relerr(const float *a, const float *b, size_t n);

double lab_now(void);

/* correctness: returns the number of failures */
int lab_check_all(lcmd_backend *gpu, lcmd_backend *cpu, int quick);
/* timings: prints lines and the final markdown table; returns 0 or 1 on error */
int lab_bench_all(lcmd_backend *gpu, int quick);

#define LAB_FAIL_STATUS(st, what) \
    fprintf(stderr, "  error in %s: %s: %s\n", (what), lcmd_status_string(st), lcmd_last_error())

#endif /* LCMD_GPU_LAB_H */
