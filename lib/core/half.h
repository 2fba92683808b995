/* IEEE binary16 (fp16) and bfloat16 conversions: round to nearest even, NaN kept NaN
 * (quiet), Inf kept, subnormals exact, overflow to Inf. */
#ifndef LCMD_CORE_HALF_H
#define LCMD_CORE_HALF_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

uint16_t lcmd_f32_to_f16(float x);
float lcmd_f16_to_f32(uint16_t h);
uint16_t lcmd_f32_to_bf16(float x);
float lcmd_bf16_to_f32(uint16_t h);

void lcmd_f32_to_f16_n(uint16_t *dst, const float *src, size_t n);
void lcmd_f16_to_f32_n(float *dst, const uint16_t *src, size_t n);
void lcmd_f32_to_bf16_n(uint16_t *dst, const float *src, size_t n);
void lcmd_bf16_to_f32_n(float *dst, const uint16_t *src, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* LCMD_CORE_HALF_H */
