/* Op tests: every op check (forward and backward, one test each) on the CPU
 * backend, then the argument checks and the larger-shape tests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lcmd/status.h>

#include "ops/op_check.h"
#include "test_ops.h"

#define TEST_SEED 20240601u

lcmd_backend *test_cpu_backend(void)
{
    lcmd_backend *be = NULL;
    ck_assert_int_eq(lcmd_cpu_backend_create(2, &be), LCMD_OK);
    ck_assert_ptr_nonnull(be);
    return be;
}

/* the indices of the checks that have a backward, filled before the suite runs */
static int bwd_checks[128];
static int n_bwd_checks;

static void run_check(int index, lcmd_op_check_result *r)
{
    lcmd_backend *be = test_cpu_backend();
    lcmd_status st = lcmd_op_check_run(be, LCMD_DT_F32, index, TEST_SEED, r);
    ck_assert_msg(st == LCMD_OK, "%s: %s", lcmd_op_check_name(index), lcmd_last_error());
    lcmd_backend_destroy(be);
}

START_TEST(test_op_forward)
{
    lcmd_op_check_result r;
    run_check(_i, &r);
    ck_assert_msg(r.fwd_ok, "%s forward: relative error %.3e > %.0e", r.op, r.fwd_err, r.fwd_tol);
}
END_TEST

START_TEST(test_op_backward)
{
    lcmd_op_check_result r;
    run_check(bwd_checks[_i], &r);
    ck_assert(r.has_bwd);
    ck_assert_msg(r.bwd_ok, "%s backward: relative error %.3e > %.0e", r.op, r.bwd_err, r.bwd_tol);
}
END_TEST

/* the self check entry point: one line per check and success */
START_TEST(test_op_check_all)
{
    lcmd_backend *be = test_cpu_backend();
    char report[8192];
    lcmd_status st = lcmd_op_check_all(be, LCMD_DT_F32, report, sizeof report);
    ck_assert_msg(st == LCMD_OK, "%s\n%s", lcmd_last_error(), report);
    int lines = 0;
    for (const char *p = report; *p; p++) lines += *p == '\n';
    ck_assert_int_eq(lines, lcmd_op_check_count());
    lcmd_backend_destroy(be);
}
END_TEST

/* bf16 on the CPU: every check reports unsupported, none crashes */
START_TEST(test_op_check_unsupported_dtype)
{
    lcmd_backend *be = test_cpu_backend();
    lcmd_op_check_result r;
    ck_assert_int_eq(lcmd_op_check_run(be, LCMD_DT_BF16, 0, TEST_SEED, &r), LCMD_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(lcmd_last_error(), "f32"));
    ck_assert_int_eq(lcmd_op_check_run(be, LCMD_DT_F32, lcmd_op_check_count(), TEST_SEED, &r),
                     LCMD_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(lcmd_last_error(), "op_index"));
    lcmd_backend_destroy(be);
}
END_TEST

static Suite *ops_suite(void)
{
    Suite *s = suite_create("ops");
    int n = lcmd_op_check_count();
    for (int i = 0; i < n && n_bwd_checks < (int)(sizeof bwd_checks / sizeof bwd_checks[0]); i++)
        if (lcmd_op_check_has_backward(i)) bwd_checks[n_bwd_checks++] = i;
    TCase *fwd = tcase_create("forward");
    tcase_add_loop_test(fwd, test_op_forward, 0, n);
    suite_add_tcase(s, fwd);
    TCase *bwd = tcase_create("backward");
    tcase_add_loop_test(bwd, test_op_backward, 0, n_bwd_checks);
    suite_add_tcase(s, bwd);
    TCase *all = tcase_create("check_all");
    tcase_add_test(all, test_op_check_all);
    tcase_add_test(all, test_op_check_unsupported_dtype);
    suite_add_tcase(s, all);
    suite_add_tcase(s, ops_args_tcase());
    suite_add_tcase(s, ops_large_tcase());
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(ops_suite());
    srunner_run_all(sr, CK_ENV);
    int f = srunner_ntests_failed(sr);
    srunner_free(sr);
    return f ? 1 : 0;
}
