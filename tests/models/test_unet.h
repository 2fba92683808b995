/* Shared helpers of the UNet tests. */
#ifndef LCMD_TEST_UNET_H
#define LCMD_TEST_UNET_H

#include <check.h>
#include <stddef.h>

#include "io/safetensors.h"
#include "models/unet.h"

#define UNET_FIXTURE(name) LCMD_FIXTURES "/unet/" name

extern const char *const unet_kinds[4];   /* sd15, sd2, sdxl, lcm */

/* whole file, NUL-terminated; fails the test when unreadable */
char *read_text(const char *path, size_t *len);
void load_unet_config(const char *kind, lcmd_unet_config *cfg);
/* the same from <dir>/config.json */
void load_unet_config_dir(const char *dir, lcmd_unet_config *cfg);
/* ||a - b|| / ||b|| in double; NaN gives +Inf */
double rel_err(const float *a, const float *b, size_t n);
lcmd_backend *cpu_backend(void);
/* a model on `be` with the weights of tests/fixtures/unet/<kind>/<file> */
lcmd_unet_model *load_unet(lcmd_backend *be, const char *kind, const char *file);
lcmd_unet_model *load_unet_dir(lcmd_backend *be, const char *dir, const char *file);

/* the edge-case fixtures of this directory (gen_unet_edge.py) */
#define EDGE_FIXTURE(name) LCMD_MODEL_FIXTURES "/" name

#define TOL 1e-4   /* relative error against diffusers in fp32 */

/* case<c>.* of an io_*.safetensors file: the inputs as forward args, and the expected output */
typedef struct io_case {
    lcmd_unet_forward_args a;
    float *bufs[7];       /* sample, t, ehs, cond, text, ids, expected */
    float *expected;
    size_t out_n;
} io_case;
void load_case(lcmd_safetensors *st, int c, const char *out_name, io_case *io);
void free_case(io_case *io);

TCase *unet_config_tcase(void);
TCase *unet_params_tcase(void);
TCase *unet_parity_tcase(void);
TCase *unet_args_tcase(void);
TCase *unet_edge_tcase(void);

#endif
