// Inline AVX2 (+FMA, F16C) pieces shared by the SIMD dot-product files: horizontal sums, block
// unpacking and signed 8-bit products. Functions carry per-function target attributes (NW_AVX2),
// so including files stay baseline x86-64 and choose these kernels at run time.
#pragma once

#if defined(__x86_64__)

#include "kernels/tensor_type.h"

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#define NW_AVX2 __attribute__((target("avx2,fma,f16c")))

namespace nw::cpu::avx2 {

NW_AVX2 inline float hsum(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

NW_AVX2 inline float f16(f16_t h)
{
    return _cvtsh_ss(h);
}

// 16 packed bytes → 32 bytes: the low nibbles (elements 0..15) then the high ones (16..31).
NW_AVX2 inline __m256i nibbles(const std::uint8_t *p)
{
    const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i *>(p));
    const __m256i both = _mm256_inserti128_si256(_mm256_castsi128_si256(packed), _mm_srli_epi16(packed, 4), 1);
    return _mm256_and_si256(both, _mm256_set1_epi8(0x0f));
}

// Signed int8 × int8 over 32 lanes → 8 int32 partial sums. maddubs wants one unsigned operand,
// so the sign of a moves onto b (|a| * sign(a) b = a b).
NW_AVX2 inline __m256i dotI8(__m256i a, __m256i b)
{
    const __m256i products = _mm256_maddubs_epi16(_mm256_sign_epi8(a, a), _mm256_sign_epi8(b, a));
    return _mm256_madd_epi16(products, _mm256_set1_epi16(1));
}

// Unsigned (0..127) × signed int8 → 8 int32.
NW_AVX2 inline __m256i dotU8I8(__m256i u, __m256i s)
{
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

// Two sub-block scales as int16 lanes: sc[0] in the low 128 bits, sc[1] in the high 128 bits
// (the two halves of a 32-value group that maddubs leaves as 16 pair sums).
NW_AVX2 inline __m256i scalePair(const std::int8_t *sc)
{
    return _mm256_setr_m128i(_mm_set1_epi16(sc[0]), _mm_set1_epi16(sc[1]));
}

// The sum of the 8 int32 lanes.
NW_AVX2 inline int hsumI32(__m256i v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

} // namespace nw::cpu::avx2

// Runs the 4-row kernel over groups of 4 activation rows and a 1..3-row one on the rest.
#define NW_DOT_MANY(name, kernel)                                                                                      \
    NW_AVX2 void name(                                                                                                 \
        const std::byte *w, const std::byte *x, std::size_t xStride, int nx, std::int64_t cols, float *out)            \
    {                                                                                                                  \
        int k = 0;                                                                                                     \
        for (; k + 4 <= nx; k += 4)                                                                                    \
            kernel<4>(w, x + std::size_t(k) * xStride, xStride, cols, out + k);                                        \
        switch (nx - k) {                                                                                              \
        case 3:                                                                                                        \
            kernel<3>(w, x + std::size_t(k) * xStride, xStride, cols, out + k);                                        \
            break;                                                                                                     \
        case 2:                                                                                                        \
            kernel<2>(w, x + std::size_t(k) * xStride, xStride, cols, out + k);                                        \
            break;                                                                                                     \
        case 1:                                                                                                        \
            kernel<1>(w, x + std::size_t(k) * xStride, xStride, cols, out + k);                                        \
            break;                                                                                                     \
        default:                                                                                                       \
            break;                                                                                                     \
        }                                                                                                              \
    }

#endif
