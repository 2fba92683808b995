/* Thread-local detail messages: each thread sees only its own last failure. */
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>

#define LCMD_ERROR_CAPACITY 1024

static _Thread_local char tls_message[LCMD_ERROR_CAPACITY];

lcmd_status lcmd_set_error(lcmd_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tls_message, sizeof tls_message, fmt, ap);
    va_end(ap);
    return status;
}

const char *lcmd_last_error(void) { return tls_message; }

void lcmd_clear_error(void) { tls_message[0] = '\0'; }

const char *lcmd_status_string(lcmd_status status)
{
    switch (status) {
    case LCMD_OK: return "ok";
    case LCMD_ERR_INVALID_ARGUMENT: return "invalid argument";
    case LCMD_ERR_IO: return "input/output error";
    case LCMD_ERR_FORMAT: return "malformed data";
    case LCMD_ERR_OUT_OF_MEMORY: return "out of memory";
    case LCMD_ERR_DEVICE: return "device error";
    case LCMD_ERR_UNSUPPORTED: return "unsupported";
    case LCMD_END_OF_STREAM: return "end of stream";
    case LCMD_ERR_NUMERIC: return "numeric error (NaN or Inf)";
    case LCMD_ERR_COMM: return "communication error";
    case LCMD_ERR_INTERNAL: return "internal error";
    }
    return "unknown status";
}
