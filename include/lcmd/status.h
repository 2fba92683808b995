/* liblcmd: status codes and error messages.
 *
 * Every fallible function returns an lcmd_status. LCMD_OK is 0; every other code
 * names a class of failure, and lcmd_last_error() holds a message, local to the
 * calling thread, that names what was wrong (file, key, field, shape or value). */
#ifndef LCMD_STATUS_H
#define LCMD_STATUS_H

#include <lcmd/lcmd_export.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Result of every fallible liblcmd call. Values are stable across versions. */
typedef enum lcmd_status {
    LCMD_OK = 0,                   /**< success */
    LCMD_ERR_INVALID_ARGUMENT = 1, /**< NULL handle, bad struct_size, bad shape or value */
    LCMD_ERR_IO = 2,               /**< a file could not be opened, read or written */
    LCMD_ERR_FORMAT = 3,           /**< a file or buffer is malformed */
    LCMD_ERR_OUT_OF_MEMORY = 4,    /**< host or device allocation failed */
    LCMD_ERR_DEVICE = 5,           /**< a CUDA, cuBLAS or cuDNN call failed, or no device */
    LCMD_ERR_UNSUPPORTED = 6,      /**< valid request this build or version cannot do */
    LCMD_END_OF_STREAM = 7,        /**< a stream has no more items (not an error) */
    LCMD_ERR_NUMERIC = 8,          /**< NaN or Inf where a finite value is required */
    LCMD_ERR_COMM = 9,             /**< multi-process communication failed */
    LCMD_ERR_INTERNAL = 10         /**< a broken invariant inside liblcmd (a bug) */
} lcmd_status;

/** Short, static, English description of a status code ("invalid argument", ...).
 *  Unknown codes give "unknown status". Never returns NULL. */
LCMD_API const char *lcmd_status_string(lcmd_status status);

/** Detail message of the last failure on the calling thread, e.g.
 *  "lcmd_context_create: options.device: unknown device 'tpu:0'".
 *  Valid until the next liblcmd call on the same thread; "" when there is none.
 *  Successful calls do not clear it. Never returns NULL. */
LCMD_API const char *lcmd_last_error(void);

/** Clears the calling thread's detail message. */
LCMD_API void lcmd_clear_error(void);

#ifdef __cplusplus
}
#endif

#endif /* LCMD_STATUS_H */
