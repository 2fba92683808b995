/* The context's fields, for the library's own handles. */
#ifndef LCMD_CONTEXT_INTERNAL_H
#define LCMD_CONTEXT_INTERNAL_H

#include <lcmd/context.h>

#include "core/log.h"
#include "ops/ops.h"

struct lcmd_context {
    lcmd_backend *backend;   /* where the numerics run: gpu if present, else cpu */
    lcmd_backend *cpu;       /* always present: host loops, data path, references */
    lcmd_backend *gpu;       /* NULL on a CPU context */
    uint64_t seed;
    lcmd_logger log;
    char device_name[32];
};

#endif /* LCMD_CONTEXT_INTERNAL_H */
