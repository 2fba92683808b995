/* The list of op checks: each one a fixed small shape, a double reference forward
 * and the backend calls of its forward and backward (internal to op_check.c). */
#ifndef LCMD_OPS_OP_CHECK_CASES_H
#define LCMD_OPS_OP_CHECK_CASES_H

#include <stdint.h>
#include "ops/ops.h"

#define OC_MAX_IN 4

/* Backend buffers of one check. */
typedef struct oc_bufs {
    void *in[OC_MAX_IN];
    void *out;
    float *aux;              /* fp32 saved statistics (mean | rstd, or lse); NULL when none */
    void *grad[OC_MAX_IN];   /* NULL: not wanted in this call */
    const void *dout;
} oc_bufs;

typedef struct oc_case oc_case;
struct oc_case {
    const char *name;
    int n_in;
    int64_t in_len[OC_MAX_IN];
    double in_lo[OC_MAX_IN], in_hi[OC_MAX_IN];  /* uniform input range */
    unsigned f32_mask;     /* inputs (and their gradients) stored fp32 whatever dt */
    unsigned diff_mask;    /* inputs with gradients; 0: forward only */
    int inplace;           /* index of the input the op updates in place (out = it), or -1 */
    int64_t out_len, aux_len;
    /* parameters */
    int64_t d[6];
    float f[4];
    int flag[3];
    lcmd_act act;
    lcmd_conv2d_shape conv;
    lcmd_attn_shape attn;
    /* double reference: out (and aux when not NULL) from the inputs */
    void (*ref)(const oc_case *c, double *const *in, double *out, double *aux);
    lcmd_status (*fwd)(lcmd_backend *be, lcmd_dtype dt, const oc_case *c, const oc_bufs *b);
    lcmd_status (*bwd)(lcmd_backend *be, lcmd_dtype dt, const oc_case *c, const oc_bufs *b);
};

int lcmd_oc_count(void);
/* Fills *c with check i; 0 when i is out of range. */
int lcmd_oc_get(int i, oc_case *c);

#endif /* LCMD_OPS_OP_CHECK_CASES_H */
