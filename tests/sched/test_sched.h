/* Shared helpers of the scheduler tests. */
#ifndef LCMD_TEST_SCHED_H
#define LCMD_TEST_SCHED_H

#include <check.h>
#include <lcmd/lcmd.h>
#include "io/safetensors.h"

#define FIXTURE(name) LCMD_FIXTURES "/scheduler/" name

/* ||a - b|| / ||b|| in double; NaN anywhere gives +Inf */
double rel_err_f32(const float *a, const float *b, size_t n);
/* opens a fixture or fails the test */
lcmd_safetensors *open_fixture(const char *path);
/* an initialised config loaded from tests/fixtures/scheduler/config_<name>.json */
void load_config(const char *name, lcmd_scheduler_config *cfg);

TCase *sched_reference_numbers_tcase(void);
TCase *sched_fixture_tcase(void);
TCase *sched_error_tcase(void);

#endif
