/* lcmd_context: binds a device backend, a thread count, a seed and a logger. */
#include <lcmd/context.h>

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "context_internal.h"
#include "core/error.h"
#include "lcmd_config.h"
#include "ops/op_check.h"
#include "ops/cpu/cpu_backend.h"

/* The first published layout ends with log_level; older callers can't be smaller. */
#define OPTIONS_V1_SIZE (offsetof(lcmd_context_options, log_level) + sizeof(lcmd_log_level))

lcmd_status lcmd_context_options_init(lcmd_context_options *options)
{
    LCMD_CHECK_ARG(options, "lcmd_context_options_init", "options is NULL");
    memset(options, 0, sizeof *options);
    options->struct_size = (uint32_t)sizeof *options;
    options->device = "cpu";
    options->num_threads = 0;
    options->seed = 0;
    options->log_fn = NULL;
    options->log_user = NULL;
    options->log_level = LCMD_LOG_INFO;
    return LCMD_OK;
}

/* "cpu" -> -1; "cuda" -> 0; "cuda:N" -> N. */
static lcmd_status parse_device(const char *device, int32_t *ordinal)
{
    if (strcmp(device, "cpu") == 0) {
        *ordinal = -1;
        return LCMD_OK;
    }
    if (strcmp(device, "cuda") == 0) {
        *ordinal = 0;
        return LCMD_OK;
    }
    if (strncmp(device, "cuda:", 5) == 0 && device[5] >= '0' && device[5] <= '9') {
        char *end = NULL;
        errno = 0;
        long v = strtol(device + 5, &end, 10);
        if (errno == 0 && *end == '\0' && v >= 0 && v <= INT32_MAX) {
            *ordinal = (int32_t)v;
            return LCMD_OK;
        }
    }
    return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT,
                          "lcmd_context_create: options.device: unknown device '%s' "
                          "(expected \"cpu\", \"cuda\" or \"cuda:N\")", device);
}

lcmd_status lcmd_context_create(const lcmd_context_options *options, lcmd_context **out)
{
    LCMD_CHECK_ARG(out, "lcmd_context_create", "out is NULL");
    *out = NULL;
    lcmd_context_options o;
    lcmd_context_options_init(&o);
    if (options) {
        LCMD_CHECK_ARG(options->struct_size >= OPTIONS_V1_SIZE && options->struct_size <= sizeof o,
                       "lcmd_context_create",
                       "options.struct_size = %u, expected %zu..%zu (call lcmd_context_options_init)",
                       options->struct_size, (size_t)OPTIONS_V1_SIZE, sizeof o);
        memcpy(&o, options, options->struct_size);
    }
    LCMD_CHECK_ARG(o.device, "lcmd_context_create", "options.device is NULL");
    LCMD_CHECK_ARG(o.num_threads >= 0, "lcmd_context_create",
                   "options.num_threads = %d must be >= 0 (0 = all cores)", (int)o.num_threads);
    LCMD_CHECK_ARG(o.log_level >= LCMD_LOG_DEBUG && o.log_level <= LCMD_LOG_OFF, "lcmd_context_create",
                   "options.log_level = %d is not an lcmd_log_level", (int)o.log_level);
    int32_t ordinal = -1;
    LCMD_TRY(parse_device(o.device, &ordinal));

    lcmd_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "lcmd_context_create: out of host memory");
    ctx->seed = o.seed;
    ctx->log.fn = o.log_fn;
    ctx->log.user = o.log_user;
    ctx->log.level = o.log_level;

    lcmd_status s = lcmd_cpu_backend_create(o.num_threads, &ctx->cpu);
    if (s == LCMD_OK && ordinal >= 0)
        s = lcmd_cuda_backend_create(ordinal, &ctx->gpu);
    if (s != LCMD_OK) {
        lcmd_context_destroy(ctx);
        return s;
    }
    ctx->backend = ctx->gpu ? ctx->gpu : ctx->cpu;
    if (ordinal >= 0)
        snprintf(ctx->device_name, sizeof ctx->device_name, "cuda:%d", (int)ordinal);
    else
        snprintf(ctx->device_name, sizeof ctx->device_name, "cpu");
    char core[64];
    if (lcmd_cpu_blas_is_generic(core, sizeof core))
        lcmd_log(&ctx->log, LCMD_LOG_WARN,
                 "OpenBLAS does not recognise this CPU and uses its generic '%s' kernels (several times slower): "
                 "set OPENBLAS_CORETYPE=SkylakeX (AVX-512) or Haswell (AVX2) before starting the program", core);
    lcmd_log(&ctx->log, LCMD_LOG_DEBUG, "context on %s with %d CPU threads, seed %llu",
             ctx->device_name, (int)ctx->cpu->num_threads, (unsigned long long)ctx->seed);
    *out = ctx;
    return LCMD_OK;
}

void lcmd_context_destroy(lcmd_context *ctx)
{
    if (!ctx)
        return;
    lcmd_backend_destroy(ctx->gpu);
    lcmd_backend_destroy(ctx->cpu);
    free(ctx);
}

const char *lcmd_context_device(const lcmd_context *ctx)
{
    if (!ctx) {
        lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "lcmd_context_device: ctx is NULL");
        return NULL;
    }
    return ctx->device_name;
}

int32_t lcmd_context_num_threads(const lcmd_context *ctx) { return ctx ? ctx->cpu->num_threads : -1; }

uint64_t lcmd_context_seed(const lcmd_context *ctx) { return ctx ? ctx->seed : 0; }

void lcmd_context_log(lcmd_context *ctx, lcmd_log_level level, const char *message)
{
    if (ctx && message)
        lcmd_log(&ctx->log, level, "%s", message);
}

int lcmd_build_has_cuda(void) { return LCMD_HAVE_CUDA; }

int lcmd_cuda_device_count(void) { return lcmd_cuda_backend_device_count(); }

lcmd_status lcmd_context_self_check(lcmd_context *ctx, char *report, size_t report_size)
{
    LCMD_CHECK_ARG(ctx, "lcmd_context_self_check", "ctx is NULL");
    if (report && report_size)
        report[0] = '\0';
    return lcmd_op_check_all(ctx->backend, LCMD_DT_F32, report, report_size);
}
