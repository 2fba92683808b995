/* Thread-local error messages behind lcmd_last_error(). */
#ifndef LCMD_CORE_ERROR_H
#define LCMD_CORE_ERROR_H

#include <lcmd/status.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Sets the calling thread's detail message (printf format) and returns `status`,
 * so a failure reads `return lcmd_set_error(LCMD_ERR_IO, "%s: %s", path, strerror(e));` */
lcmd_status lcmd_set_error(lcmd_status status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Propagate a failing status unchanged (its message is already set). */
#define LCMD_TRY(expr) do { lcmd_status lcmd_try_s_ = (expr); if (lcmd_try_s_ != LCMD_OK) return lcmd_try_s_; } while (0)

/* Argument checks for entry points: fail with LCMD_ERR_INVALID_ARGUMENT naming `what`. */
#define LCMD_CHECK_ARG(cond, fn, ...) \
    do { if (!(cond)) return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, fn ": " __VA_ARGS__); } while (0)

#ifdef __cplusplus
}
#endif

#endif /* LCMD_CORE_ERROR_H */
