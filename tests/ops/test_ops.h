/* Shared pieces of the op tests. */
#ifndef LCMD_TEST_OPS_H
#define LCMD_TEST_OPS_H

#include <check.h>
#include "ops/ops.h"

/* a CPU backend with 2 threads; fails the test when it cannot be made */
lcmd_backend *test_cpu_backend(void);

TCase *ops_args_tcase(void);
TCase *ops_large_tcase(void);

#endif /* LCMD_TEST_OPS_H */
