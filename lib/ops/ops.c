/* Backend-independent parts of the op interface. */
#include "ops/ops.h"

size_t lcmd_dtype_size(lcmd_dtype dt)
{
    switch (dt) {
    case LCMD_DT_F32: return 4;
    case LCMD_DT_F16: return 2;
    case LCMD_DT_BF16: return 2;
    }
    return 0;
}

const char *lcmd_dtype_name(lcmd_dtype dt)
{
    switch (dt) {
    case LCMD_DT_F32: return "f32";
    case LCMD_DT_F16: return "f16";
    case LCMD_DT_BF16: return "bf16";
    }
    return "unknown";
}

void lcmd_backend_destroy(lcmd_backend *be)
{
    if (be && be->ops && be->ops->destroy)
        be->ops->destroy(be);
}
