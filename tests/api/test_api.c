/* The public API as a host program sees it, through the shared library. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <lcmd/lcmd.h>

START_TEST(version_matches_headers_and_build)
{
    ck_assert_uint_eq(lcmd_version(), LCMD_VERSION_NUMBER);
    ck_assert_str_eq(lcmd_version_string(), LCMD_VERSION_STRING);
    ck_assert_str_eq(lcmd_version_string(), LCMD_TEST_VERSION);
}
END_TEST

START_TEST(default_context_is_cpu)
{
    lcmd_context *ctx = NULL;
    ck_assert_int_eq(lcmd_context_create(NULL, &ctx), LCMD_OK);
    ck_assert_ptr_nonnull(ctx);
    ck_assert_str_eq(lcmd_context_device(ctx), "cpu");
    ck_assert_int_ge(lcmd_context_num_threads(ctx), 1);
    ck_assert_uint_eq(lcmd_context_seed(ctx), 0);
    lcmd_context_destroy(ctx);
    lcmd_context_destroy(NULL);   /* no-op */
}
END_TEST

START_TEST(options_are_honoured)
{
    lcmd_context_options o;
    ck_assert_int_eq(lcmd_context_options_init(&o), LCMD_OK);
    ck_assert_uint_eq(o.struct_size, sizeof o);
    o.num_threads = 1;
    o.seed = 77;
    lcmd_context *ctx = NULL;
    ck_assert_int_eq(lcmd_context_create(&o, &ctx), LCMD_OK);
    ck_assert_int_eq(lcmd_context_num_threads(ctx), 1);
    ck_assert_uint_eq(lcmd_context_seed(ctx), 77);
    lcmd_context_destroy(ctx);
}
END_TEST

struct log_capture { int calls; lcmd_log_level last_level; char last[256]; };

static void capture(void *user, lcmd_log_level level, const char *message)
{
    struct log_capture *c = user;
    c->calls++;
    c->last_level = level;
    strncpy(c->last, message, sizeof c->last - 1);
}

START_TEST(log_callback_receives_messages_at_its_level)
{
    struct log_capture cap = {0};
    lcmd_context_options o;
    lcmd_context_options_init(&o);
    o.log_fn = capture;
    o.log_user = &cap;
    o.log_level = LCMD_LOG_DEBUG;
    lcmd_context *ctx = NULL;
    ck_assert_int_eq(lcmd_context_create(&o, &ctx), LCMD_OK);
    ck_assert_int_ge(cap.calls, 1);                      /* creation is logged at DEBUG */
    ck_assert(strstr(cap.last, "context on cpu") != NULL);
    lcmd_context_log(ctx, LCMD_LOG_WARN, "host says hi");
    ck_assert_str_eq(cap.last, "host says hi");
    ck_assert_int_eq(cap.last_level, LCMD_LOG_WARN);
    lcmd_context_destroy(ctx);

    struct log_capture quiet = {0};
    o.log_user = &quiet;
    o.log_level = LCMD_LOG_ERROR;
    ck_assert_int_eq(lcmd_context_create(&o, &ctx), LCMD_OK);
    lcmd_context_log(ctx, LCMD_LOG_WARN, "filtered");
    ck_assert_int_eq(quiet.calls, 0);
    lcmd_context_destroy(ctx);
}
END_TEST

START_TEST(bad_options_give_status_and_message)
{
    lcmd_context *ctx = (lcmd_context *)0x1;
    lcmd_context_options o;
    ck_assert_int_eq(lcmd_context_options_init(NULL), LCMD_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(lcmd_context_create(NULL, NULL), LCMD_ERR_INVALID_ARGUMENT);

    lcmd_context_options_init(&o);
    o.struct_size = 4;
    ck_assert_int_eq(lcmd_context_create(&o, &ctx), LCMD_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null(ctx);
    ck_assert(strstr(lcmd_last_error(), "struct_size") != NULL);
    o.struct_size = sizeof o + 64;
    ck_assert_int_eq(lcmd_context_create(&o, &ctx), LCMD_ERR_INVALID_ARGUMENT);

    const char *bad_devices[] = {"tpu:0", "", "cuda:", "cuda:-1", "cuda:x", "cuda:0x", "CPU", "cuda:99999999999"};
    for (size_t i = 0; i < sizeof bad_devices / sizeof *bad_devices; i++) {
        lcmd_context_options_init(&o);
        o.device = bad_devices[i];
        ck_assert_int_eq(lcmd_context_create(&o, &ctx), LCMD_ERR_INVALID_ARGUMENT);
        ck_assert_msg(strstr(lcmd_last_error(), "options.device") != NULL, "%s", lcmd_last_error());
    }
    lcmd_context_options_init(&o);
    o.device = NULL;
    ck_assert_int_eq(lcmd_context_create(&o, &ctx), LCMD_ERR_INVALID_ARGUMENT);

    lcmd_context_options_init(&o);
    o.num_threads = -2;
    ck_assert_int_eq(lcmd_context_create(&o, &ctx), LCMD_ERR_INVALID_ARGUMENT);
    ck_assert(strstr(lcmd_last_error(), "num_threads") != NULL);

    lcmd_context_options_init(&o);
    o.log_level = (lcmd_log_level)17;
    ck_assert_int_eq(lcmd_context_create(&o, &ctx), LCMD_ERR_INVALID_ARGUMENT);
    ck_assert(strstr(lcmd_last_error(), "log_level") != NULL);
}
END_TEST

START_TEST(cuda_request_fails_cleanly_without_a_device)
{
    if (lcmd_cuda_device_count() > 0)
        return;   /* a machine with a GPU: covered by the GPU tests */
    lcmd_context_options o;
    lcmd_context_options_init(&o);
    o.device = "cuda:0";
    lcmd_context *ctx = (lcmd_context *)0x1;
    lcmd_status s = lcmd_context_create(&o, &ctx);
    ck_assert_ptr_null(ctx);
    if (lcmd_build_has_cuda())
        ck_assert_int_eq(s, LCMD_ERR_DEVICE);
    else
        ck_assert_int_eq(s, LCMD_ERR_UNSUPPORTED);
    ck_assert(strstr(lcmd_last_error(), "cuda") != NULL);
    o.device = "cuda:7";
    ck_assert_int_ne(lcmd_context_create(&o, &ctx), LCMD_OK);
}
END_TEST

START_TEST(null_handles_are_reported)
{
    ck_assert_ptr_null(lcmd_context_device(NULL));
    ck_assert(strstr(lcmd_last_error(), "ctx is NULL") != NULL);
    ck_assert_int_eq(lcmd_context_num_threads(NULL), -1);
    lcmd_context_log(NULL, LCMD_LOG_ERROR, "ignored");
    ck_assert_int_eq(lcmd_context_self_check(NULL, NULL, 0), LCMD_ERR_INVALID_ARGUMENT);
}
END_TEST

START_TEST(self_check_passes_on_cpu)
{
    lcmd_context *ctx = NULL;
    ck_assert_int_eq(lcmd_context_create(NULL, &ctx), LCMD_OK);
    char *report = malloc(16384);
    lcmd_status s = lcmd_context_self_check(ctx, report, 16384);
    ck_assert_msg(s == LCMD_OK, "%s\n%s", lcmd_last_error(), report);
    ck_assert(strlen(report) > 0);
    char tiny[8];
    ck_assert_int_eq(lcmd_context_self_check(ctx, tiny, sizeof tiny), LCMD_OK);
    ck_assert_uint_le(strlen(tiny), sizeof tiny - 1);
    free(report);
    lcmd_context_destroy(ctx);
}
END_TEST

static Suite *api_suite(void)
{
    Suite *s = suite_create("api");
    TCase *t = tcase_create("api");
    tcase_set_timeout(t, 240);
    tcase_add_test(t, version_matches_headers_and_build);
    tcase_add_test(t, default_context_is_cpu);
    tcase_add_test(t, options_are_honoured);
    tcase_add_test(t, log_callback_receives_messages_at_its_level);
    tcase_add_test(t, bad_options_give_status_and_message);
    tcase_add_test(t, cuda_request_fails_cleanly_without_a_device);
    tcase_add_test(t, null_handles_are_reported);
    tcase_add_test(t, self_check_passes_on_cpu);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(api_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
