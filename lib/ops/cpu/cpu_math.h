/* Scalar activation functions and their derivatives, shared by the CPU ops
 * (inline so that loops over them vectorise where the compiler can). */
#ifndef LCMD_OPS_CPU_MATH_H
#define LCMD_OPS_CPU_MATH_H

#include <math.h>

#define LCMD_SQRT1_2 0.70710678118654752440f
#define LCMD_INV_SQRT_2PI 0.39894228040143267794f
#define LCMD_SQRT_2_OVER_PI 0.79788456080286535588f
#define LCMD_GELU_TANH_C 0.044715f
#define LCMD_QUICK_GELU_C 1.702f

static inline float lcmd_sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }

static inline float lcmd_silu_f(float x) { return x * lcmd_sigmoidf(x); }
static inline float lcmd_silu_grad(float x)
{
    float s = lcmd_sigmoidf(x);
    return s * (1.0f + x * (1.0f - s));
}

static inline float lcmd_gelu_f(float x) { return 0.5f * x * (1.0f + erff(x * LCMD_SQRT1_2)); }
static inline float lcmd_gelu_grad(float x)
{
    float cdf = 0.5f * (1.0f + erff(x * LCMD_SQRT1_2));
    return cdf + x * LCMD_INV_SQRT_2PI * expf(-0.5f * x * x);
}

static inline float lcmd_gelu_tanh_f(float x)
{
    float u = LCMD_SQRT_2_OVER_PI * (x + LCMD_GELU_TANH_C * x * x * x);
    return 0.5f * x * (1.0f + tanhf(u));
}
static inline float lcmd_gelu_tanh_grad(float x)
{
    float u = LCMD_SQRT_2_OVER_PI * (x + LCMD_GELU_TANH_C * x * x * x);
    float t = tanhf(u);
    float du = LCMD_SQRT_2_OVER_PI * (1.0f + 3.0f * LCMD_GELU_TANH_C * x * x);
    return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * du;
}

static inline float lcmd_quick_gelu_f(float x) { return x * lcmd_sigmoidf(LCMD_QUICK_GELU_C * x); }
static inline float lcmd_quick_gelu_grad(float x)
{
    float s = lcmd_sigmoidf(LCMD_QUICK_GELU_C * x);
    return s + LCMD_QUICK_GELU_C * x * s * (1.0f - s);
}

#endif /* LCMD_OPS_CPU_MATH_H */
