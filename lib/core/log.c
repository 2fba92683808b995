#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>

static const char *level_name(lcmd_log_level level)
{
    switch (level) {
    case LCMD_LOG_DEBUG: return "debug";
    case LCMD_LOG_INFO: return "info";
    case LCMD_LOG_WARN: return "warning";
    case LCMD_LOG_ERROR: return "error";
    default: return "log";
    }
}

void lcmd_log(const lcmd_logger *lg, lcmd_log_level level, const char *fmt, ...)
{
    if (!lg || level < lg->level || level >= LCMD_LOG_OFF)
        return;
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (lg->fn)
        lg->fn(lg->user, level, buf);
    else if (level >= LCMD_LOG_WARN)   /* without a callback only problems reach stderr */
        fprintf(stderr, "lcmd %s: %s\n", level_name(level), buf);
}
