/* Public draws from Philox4x32-10 (core/philox.h holds the generator itself). */
#include <lcmd/rng.h>

#include <math.h>

#include "core/error.h"
#include "core/philox.h"

lcmd_status lcmd_philox4x32_10(const uint32_t counter[4], const uint32_t key[2], uint32_t out[4])
{
    LCMD_CHECK_ARG(counter && key && out, "lcmd_philox4x32_10", "counter, key and out must not be NULL");
    lcmd_u32x4 c = {{counter[0], counter[1], counter[2], counter[3]}};
    lcmd_u32x4 r = lcmd_philox4x32_10_block(c, key[0], key[1]);
    for (int i = 0; i < 4; i++)
        out[i] = r.v[i];
    return LCMD_OK;
}

lcmd_status lcmd_rng_uniform(uint64_t seed, uint64_t stream, uint64_t offset, float *out, size_t n)
{
    LCMD_CHECK_ARG(out || n == 0, "lcmd_rng_uniform", "out is NULL with n = %zu", n);
    for (size_t i = 0; i < n; i += 4) {
        lcmd_u32x4 r = lcmd_rng_block(seed, stream, offset + i / 4);
        for (size_t j = 0; j < 4 && i + j < n; j++)
            out[i + j] = lcmd_u32_to_unit(r.v[j]);
    }
    return LCMD_OK;
}

lcmd_status lcmd_rng_normal(uint64_t seed, uint64_t stream, uint64_t offset, float *out, size_t n)
{
    LCMD_CHECK_ARG(out || n == 0, "lcmd_rng_normal", "out is NULL with n = %zu", n);
    for (size_t i = 0; i < n; i += 4) {
        lcmd_u32x4 r = lcmd_rng_block(seed, stream, offset + i / 4);
        float z[4];
        lcmd_box_muller(r, z);
        for (size_t j = 0; j < 4 && i + j < n; j++)
            out[i + j] = z[j];
    }
    return LCMD_OK;
}
