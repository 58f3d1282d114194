/* simd.h: helpers for the elementwise loops of the kernels (internal).
 *
 * The library is built for baseline x86-64 (SSE2); VQ_CLONES compiles a hot
 * function also for x86-64-v3 (AVX2+FMA) and x86-64-v4 (AVX-512) and picks
 * the best at load time (GCC target_clones, an ifunc), so the vectorizable
 * loops run 8 or 16 wide on machines that have it and still run anywhere.
 *
 * vq_expf_v: exp for vectorizable loops (libm's expf is a call GCC cannot
 * vectorize without -ffast-math): Cephes' expf, range reduction by ln 2 in two
 * parts and a degree-6 polynomial, about 2 ulp on [-87.3, 88.7]; input clamped
 * to that range (so -inf gives 2^-126, not 0, and +inf gives +inf).
 */
#ifndef VQ_KERNELS_SIMD_H
#define VQ_KERNELS_SIMD_H

#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(VQ_NO_CLONES)
#define VQ_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define VQ_CLONES
#endif

static inline float vq_expf_v(float x)
{
    x = x < -87.33654f ? -87.33654f : x;
    x = x > 88.72283f ? 88.72283f : x;
    /* n = round(x / ln 2) by the 1.5*2^23 trick (exact for |x/ln2| < 2^22) */
    float fx = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = x - fx * 0.693359375f;
    r = r - fx * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float y = p * r * r + r + 1.0f;
    int32_t bits = ((int32_t)fx + 127) << 23;   /* 2^n; n = 128 gives +inf */
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return y * scale;
}

static inline float vq_sigmoidf_v(float z) { return 1.0f / (1.0f + vq_expf_v(-z)); }

#endif
