// Row conversions between f32 and f16/bf16, with an F16C path chosen at run time.
#include "kernels/float16.h"

#if !defined(NW_FLOAT16_SCALAR_ONLY)
#include "kernels/cpu/cpu_features.h"
#endif

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace nw {
namespace {

#if defined(__x86_64__)
// F16C's vcvtps2ph with rounding mode 0 is round-to-nearest-even and quiets NaNs; the
// scalar code above matches it bit for bit (tested in tst_float16).
__attribute__((target("avx,f16c"))) void fp16ToFloatF16c(const f16_t *src, float *dst, std::size_t n)
{
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i *>(src + i));
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
    }
    for (; i < n; ++i)
        dst[i] = fp16ToFloat(src[i]);
}

__attribute__((target("avx,f16c"))) void floatToFp16F16c(const float *src, f16_t *dst, std::size_t n)
{
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT);
        _mm_storeu_si128(reinterpret_cast<__m128i *>(dst + i), h);
    }
    for (; i < n; ++i)
        dst[i] = floatToFp16(src[i]);
}
#endif

bool haveF16c()
{
#if defined(__x86_64__) && !defined(NW_FLOAT16_SCALAR_ONLY) // the fuzz targets build without the CPU probe
    static const bool have = cpu::cpuFeatures().f16c && cpu::cpuFeatures().avx;
    return have;
#else
    return false;
#endif
}

} // namespace

void fp16ToFloatRowScalar(const f16_t *src, float *dst, std::size_t n)
{
    for (std::size_t i = 0; i < n; ++i)
        dst[i] = fp16ToFloat(src[i]);
}

void floatToFp16RowScalar(const float *src, f16_t *dst, std::size_t n)
{
    for (std::size_t i = 0; i < n; ++i)
        dst[i] = floatToFp16(src[i]);
}

void fp16ToFloatRow(const f16_t *src, float *dst, std::size_t n)
{
#if defined(__x86_64__)
    if (haveF16c())
        return fp16ToFloatF16c(src, dst, n);
#endif
    fp16ToFloatRowScalar(src, dst, n);
}

void floatToFp16Row(const float *src, f16_t *dst, std::size_t n)
{
#if defined(__x86_64__)
    if (haveF16c())
        return floatToFp16F16c(src, dst, n);
#endif
    floatToFp16RowScalar(src, dst, n);
}

void bf16ToFloatRow(const bf16_t *src, float *dst, std::size_t n)
{
    for (std::size_t i = 0; i < n; ++i)
        dst[i] = bf16ToFloat(src[i]);
}

void floatToBf16Row(const float *src, bf16_t *dst, std::size_t n)
{
    for (std::size_t i = 0; i < n; ++i)
        dst[i] = floatToBf16(src[i]);
}

} // namespace nw
