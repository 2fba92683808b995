/* Numerical self check of a backend's ops, run on the host for any backend: small
 * random inputs are built in double, rounded to the storage type, uploaded; the
 * forward is compared with the double reference (lib/ops/ref) and every gradient
 * of the backward with central finite differences of that reference. Each check
 * also verifies that backward ACCUMULATES (+=) and that NULL gradients are skipped. */
#ifndef LCMD_OPS_OP_CHECK_H
#define LCMD_OPS_OP_CHECK_H

#include <stddef.h>
#include <stdint.h>
#include "ops/ops.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lcmd_op_check_result {
    const char *op;     /* name of the check, e.g. "conv2d_k3_s2_p1" */
    double fwd_err;     /* relative L2 error ||a - b|| / ||b||, worst output (NaN when NaN) */
    double bwd_err;     /* same over every gradient increment; 0 when has_bwd is 0 */
    double fwd_tol, bwd_tol;
    int has_bwd;
    int fwd_ok, bwd_ok; /* err <= tol; NaN fails */
    int ok;             /* fwd_ok && bwd_ok */
} lcmd_op_check_result;

/* Number of checks, and the name of check i (NULL when out of range). */
int lcmd_op_check_count(void);
const char *lcmd_op_check_name(int i);
/* 1 when check i also checks a backward (0 for gemm, add, axpy, scale) */
int lcmd_op_check_has_backward(int i);

/* Runs check `op_index`. LCMD_OK means it ran (res->ok says whether it passed); an
 * error status is one from the backend (e.g. LCMD_ERR_UNSUPPORTED for the dtype) or
 * an allocation, with the message set. Tolerances: fp32 1e-5 forward, 1e-4 backward;
 * fp16/bf16 1e-2 forward, 2e-2 backward. */
lcmd_status lcmd_op_check_run(lcmd_backend *be, lcmd_dtype dt, int op_index, uint64_t seed,
                              lcmd_op_check_result *res);

/* Runs every check with a fixed seed and writes one line per check into report
 * (NUL-terminated, truncated to size). LCMD_OK when all pass; LCMD_ERR_NUMERIC
 * naming the first failing check; a backend error status is returned after the
 * remaining checks ran. */
lcmd_status lcmd_op_check_all(lcmd_backend *be, lcmd_dtype dt, char *report, size_t size);

#ifdef __cplusplus
}
#endif

#endif /* LCMD_OPS_OP_CHECK_H */
