/* CPU-only build: the CUDA backend's entry points, reporting that it is absent. */
#include "core/error.h"
#include "ops/ops.h"

lcmd_status lcmd_cuda_backend_create(int32_t device, lcmd_backend **out)
{
    if (out) *out = NULL;
    return lcmd_set_error(LCMD_ERR_UNSUPPORTED,
                          "lcmd_cuda_backend_create(device %d): this liblcmd was built without CUDA (-Dcuda=disabled "
                          "or no CUDA toolkit found)", (int)device);
}

int lcmd_cuda_backend_device_count(void) { return 0; }
