/* liblcmd: the context, which binds a device, a CPU thread count, a seed and a log
 * callback. Every other handle is created from a context and must be destroyed
 * before it. A context is not thread-safe; different contexts may be used from
 * different threads at once. */
#ifndef LCMD_CONTEXT_H
#define LCMD_CONTEXT_H

#include <stddef.h>
#include <stdint.h>
#include <lcmd/lcmd_export.h>
#include <lcmd/status.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Opaque context handle. */
typedef struct lcmd_context lcmd_context;

/** Severity of a log message; a context reports messages at or above its level. */
typedef enum lcmd_log_level {
    LCMD_LOG_DEBUG = 0,
    LCMD_LOG_INFO = 1,
    LCMD_LOG_WARN = 2,
    LCMD_LOG_ERROR = 3,
    LCMD_LOG_OFF = 4
} lcmd_log_level;

/** Log callback. `message` is NUL-terminated, without a trailing newline, and valid
 *  only during the call. Called on the thread that made the liblcmd call (or on a
 *  worker thread of a handle that says so); it must not call back into liblcmd. */
typedef void (*lcmd_log_fn)(void *user, lcmd_log_level level, const char *message);

/** Options of lcmd_context_create. Fill with lcmd_context_options_init() first,
 *  then change fields. Fields are only ever appended in later versions. */
typedef struct lcmd_context_options {
    uint32_t struct_size;    /**< sizeof(lcmd_context_options), set by _init */
    const char *device;      /**< "cpu" (default), "cuda" (= "cuda:0") or "cuda:N";
                                  copied, may be freed after create */
    int32_t num_threads;     /**< CPU threads for this context's loops; 0 = all cores */
    uint64_t seed;           /**< seed of the context's counter-based RNG (default 0) */
    lcmd_log_fn log_fn;      /**< NULL: messages at WARN and above go to stderr */
    void *log_user;          /**< passed to log_fn, not touched by the library */
    lcmd_log_level log_level;/**< lowest level reported (default LCMD_LOG_INFO) */
} lcmd_context_options;

/** Fills `options` with defaults (device "cpu", all cores, seed 0, stderr logging at
 *  INFO) and sets struct_size. Returns LCMD_ERR_INVALID_ARGUMENT if options is NULL. */
LCMD_API lcmd_status lcmd_context_options_init(lcmd_context_options *options);

/** Creates a context. `options` may be NULL for the defaults. Its struct_size must be
 *  at least the size of the first version of the struct and at most the size this
 *  library knows; fields beyond the caller's struct_size take their defaults.
 *  On success *out owns a new context (free with lcmd_context_destroy).
 *  Errors: LCMD_ERR_INVALID_ARGUMENT (out NULL, bad struct_size, unknown device
 *  string, negative thread count, bad log level); LCMD_ERR_UNSUPPORTED (a CUDA
 *  device asked of a build without CUDA); LCMD_ERR_DEVICE (no such CUDA device, no
 *  driver, or the device could not be initialised); LCMD_ERR_OUT_OF_MEMORY.
 *  On failure *out is set to NULL. */
LCMD_API lcmd_status lcmd_context_create(const lcmd_context_options *options,
                                         lcmd_context **out);

/** Destroys a context and everything it owns. NULL is a no-op. */
LCMD_API void lcmd_context_destroy(lcmd_context *ctx);

/** Canonical device name of the context ("cpu" or "cuda:N"); owned by the context.
 *  Returns NULL (and sets the error message) if ctx is NULL. */
LCMD_API const char *lcmd_context_device(const lcmd_context *ctx);

/** Number of CPU threads the context uses (>= 1), or -1 if ctx is NULL. */
LCMD_API int32_t lcmd_context_num_threads(const lcmd_context *ctx);

/** Seed of the context's RNG, or 0 if ctx is NULL. */
LCMD_API uint64_t lcmd_context_seed(const lcmd_context *ctx);

/** Sends `message` to the context's log callback at `level` (for hosts that want
 *  one log stream). NULL ctx or message: ignored. */
LCMD_API void lcmd_context_log(lcmd_context *ctx, lcmd_log_level level, const char *message);

/** 1 if this build contains the CUDA backend, 0 if it is CPU-only. */
LCMD_API int lcmd_build_has_cuda(void);

/** Number of CUDA devices usable by this build: 0 when the build has no CUDA, when
 *  no driver is installed or no device is present. Never fails. */
LCMD_API int lcmd_cuda_device_count(void);

/** Runs the context's op backend on small random problems: every op forward and
 *  backward, checked against a double-precision reference (CPU device) or against
 *  the CPU backend (CUDA device). Writes a one-line-per-op report into `report`
 *  (may be NULL; truncated to `report_size` bytes, always NUL-terminated).
 *  Returns LCMD_OK when every op agrees, LCMD_ERR_NUMERIC naming the first op that
 *  does not, LCMD_ERR_INVALID_ARGUMENT for a NULL ctx. */
LCMD_API lcmd_status lcmd_context_self_check(lcmd_context *ctx, char *report, size_t report_size);

#ifdef __cplusplus
}
#endif

#endif /* LCMD_CONTEXT_H */
