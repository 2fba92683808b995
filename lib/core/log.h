/* Logging through a context's callback. */
#ifndef LCMD_CORE_LOG_H
#define LCMD_CORE_LOG_H

#include <lcmd/context.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Where a handle sends its messages; copied from the context at creation. */
typedef struct lcmd_logger {
    lcmd_log_fn fn;        /* NULL: stderr */
    void *user;
    lcmd_log_level level;  /* lowest level reported */
} lcmd_logger;

void lcmd_log(const lcmd_logger *lg, lcmd_log_level level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

#ifdef __cplusplus
}
#endif

#endif /* LCMD_CORE_LOG_H */
