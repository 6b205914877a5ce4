// AVX2 (+FMA, F16C) dot products and activation quantizers, compiled with per-function target
// attributes so the rest of the binary stays baseline x86-64; chosen at run time by
// avx2DotKernel() when cpuFeatures() reports AVX2, FMA and F16C.
#include "kernels/cpu/dot_products.h"

#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/dot_scalar.h"

#include <cstdint>
#include <cstring>
#include <iterator>

#if defined(__x86_64__)
#include "kernels/cpu/avx2_common.h"
#include "kernels/cpu/dot_avx2_lowbit.h"
#endif

namespace nw::cpu {

#if defined(__x86_64__)
namespace {

using namespace avx2;

NW_AVX2 inline float hmax(__m256 v)
{
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

// 32 bits → 32 bytes of 0x10 where the bit is set (bit j → byte j): the Q5 fifth bits.
NW_AVX2 inline __m256i fifthBits(const std::uint8_t *qh)
{
    std::uint32_t bits;
    std::memcpy(&bits, qh, sizeof bits);
    // Byte j takes source byte j / 8, then tests its bit j % 8.
    const __m256i spread = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(bits)),
        _mm256_setr_epi64x(0, 0x0101010101010101, 0x0202020202020202, 0x0303030303030303));
    const __m256i select = _mm256_set1_epi64x(static_cast<long long>(0x8040201008040201ull));
    const __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(spread, select), select);
    return _mm256_and_si256(set, _mm256_set1_epi8(0x10));
}

// ---- float weights --------------------------------------------------------------------------

NW_AVX2 float dotF32(const std::byte *w, const std::byte *x, std::int64_t cols)
{
    const auto *a = reinterpret_cast<const float *>(w);
    const auto *b = reinterpret_cast<const float *>(x);
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    __m256 acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
    std::int64_t i = 0;
    for (; i + 32 <= cols; i += 32) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
        acc2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), acc2);
        acc3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), acc3);
    }
    for (; i + 8 <= cols; i += 8)
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    float sum = hsum(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
    for (; i < cols; ++i)
        sum += a[i] * b[i];
    return sum;
}

NW_AVX2 inline __m256 loadF16(const f16_t *p)
{
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i *>(p)));
}

NW_AVX2 float dotF16(const std::byte *w, const std::byte *x, std::int64_t cols)
{
    const auto *a = reinterpret_cast<const f16_t *>(w);
    const auto *b = reinterpret_cast<const float *>(x);
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    __m256 acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
    std::int64_t i = 0;
    for (; i + 32 <= cols; i += 32) {
        acc0 = _mm256_fmadd_ps(loadF16(a + i), _mm256_loadu_ps(b + i), acc0);
        acc1 = _mm256_fmadd_ps(loadF16(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
        acc2 = _mm256_fmadd_ps(loadF16(a + i + 16), _mm256_loadu_ps(b + i + 16), acc2);
        acc3 = _mm256_fmadd_ps(loadF16(a + i + 24), _mm256_loadu_ps(b + i + 24), acc3);
    }
    for (; i + 8 <= cols; i += 8)
        acc0 = _mm256_fmadd_ps(loadF16(a + i), _mm256_loadu_ps(b + i), acc0);
    float sum = hsum(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
    for (; i < cols; ++i)
        sum += f16(a[i]) * b[i];
    return sum;
}

NW_AVX2 inline __m256 loadBF16(const bf16_t *p)
{
    const __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i *>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
}

NW_AVX2 float dotBF16(const std::byte *w, const std::byte *x, std::int64_t cols)
{
    const auto *a = reinterpret_cast<const bf16_t *>(w);
    const auto *b = reinterpret_cast<const float *>(x);
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    std::int64_t i = 0;
    for (; i + 16 <= cols; i += 16) {
        acc0 = _mm256_fmadd_ps(loadBF16(a + i), _mm256_loadu_ps(b + i), acc0);
        acc1 = _mm256_fmadd_ps(loadBF16(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
    }
    for (; i + 8 <= cols; i += 8)
        acc0 = _mm256_fmadd_ps(loadBF16(a + i), _mm256_loadu_ps(b + i), acc0);
    float sum = hsum(_mm256_add_ps(acc0, acc1));
    for (; i < cols; ++i) {
        const std::uint32_t bits = static_cast<std::uint32_t>(a[i]) << 16;
        float value;
        std::memcpy(&value, &bits, sizeof value);
        sum += value * b[i];
    }
    return sum;
}

// ---- legacy quants (blocks of 32) ---------------------------------------------------------

NW_AVX2 float dotQ8_0(const std::byte *w, const std::byte *x, std::int64_t cols)
{
    const auto *wb = reinterpret_cast<const BlockQ8_0 *>(w);
    const auto *xb = reinterpret_cast<const BlockQ8_0 *>(x);
    __m256 acc = _mm256_setzero_ps();
    for (std::int64_t i = 0; i < cols / 32; ++i) {
        const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(wb[i].qs));
        const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(xb[i].qs));
        const __m256 d = _mm256_set1_ps(f16(wb[i].d) * f16(xb[i].d));
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dotI8(a, b)), acc);
    }
    return hsum(acc);
}

NW_AVX2 float dotQ4_0(const std::byte *w, const std::byte *x, std::int64_t cols)
{
    const auto *wb = reinterpret_cast<const BlockQ4_0 *>(w);
    const auto *xb = reinterpret_cast<const BlockQ8_0 *>(x);
    const __m256i eight = _mm256_set1_epi8(8);
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    std::int64_t i = 0;
    const std::int64_t n = cols / 32;
    for (; i + 2 <= n; i += 2) {
        const __m256i a0 = _mm256_sub_epi8(nibbles(wb[i].qs), eight);
        const __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(xb[i].qs));
        const __m256i a1 = _mm256_sub_epi8(nibbles(wb[i + 1].qs), eight);
        const __m256i b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(xb[i + 1].qs));
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(f16(wb[i].d) * f16(xb[i].d)), _mm256_cvtepi32_ps(dotI8(a0, b0)), acc0);
        acc1 = _mm256_fmadd_ps(
            _mm256_set1_ps(f16(wb[i + 1].d) * f16(xb[i + 1].d)), _mm256_cvtepi32_ps(dotI8(a1, b1)), acc1);
    }
    for (; i < n; ++i) {
        const __m256i a = _mm256_sub_epi8(nibbles(wb[i].qs), eight);
        const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(xb[i].qs));
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(f16(wb[i].d) * f16(xb[i].d)), _mm256_cvtepi32_ps(dotI8(a, b)), acc0);
    }
    return hsum(_mm256_add_ps(acc0, acc1));
}

NW_AVX2 float dotQ4_1(const std::byte *w, const std::byte *x, std::int64_t cols)
{
    const auto *wb = reinterpret_cast<const BlockQ4_1 *>(w);
    const auto *xb = reinterpret_cast<const BlockQ8_1 *>(x);
    __m256 acc = _mm256_setzero_ps();
    float mins = 0.f;
    for (std::int64_t i = 0; i < cols / 32; ++i) {
        const __m256i a = nibbles(wb[i].qs);
        const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(xb[i].qs));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(f16(wb[i].d) * f16(xb[i].d)), _mm256_cvtepi32_ps(dotU8I8(a, b)), acc);
        mins += f16(wb[i].m) * f16(xb[i].s);
    }
    return hsum(acc) + mins;
}

NW_AVX2 float dotQ5_0(const std::byte *w, const std::byte *x, std::int64_t cols)
{
    const auto *wb = reinterpret_cast<const BlockQ5_0 *>(w);
    const auto *xb = reinterpret_cast<const BlockQ8_0 *>(x);
    const __m256i sixteen = _mm256_set1_epi8(16);
    __m256 acc = _mm256_setzero_ps();
    for (std::int64_t i = 0; i < cols / 32; ++i) {
        const __m256i a = _mm256_sub_epi8(_mm256_or_si256(nibbles(wb[i].qs), fifthBits(wb[i].qh)), sixteen);
        const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(xb[i].qs));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(f16(wb[i].d) * f16(xb[i].d)), _mm256_cvtepi32_ps(dotI8(a, b)), acc);
    }
    return hsum(acc);
}

NW_AVX2 float dotQ5_1(const std::byte *w, const std::byte *x, std::int64_t cols)
{
    const auto *wb = reinterpret_cast<const BlockQ5_1 *>(w);
    const auto *xb = reinterpret_cast<const BlockQ8_1 *>(x);
    __m256 acc = _mm256_setzero_ps();
    float mins = 0.f;
    for (std::int64_t i = 0; i < cols / 32; ++i) {
        const __m256i a = _mm256_or_si256(nibbles(wb[i].qs), fifthBits(wb[i].qh));
        const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(xb[i].qs));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(f16(wb[i].d) * f16(xb[i].d)), _mm256_cvtepi32_ps(dotU8I8(a, b)), acc);
        mins += f16(wb[i].m) * f16(xb[i].s);
    }
    return hsum(acc) + mins;
}

// ---- K-quants (super-blocks of 256) -------------------------------------------------------

// sum_j mins[j] * (sum of the Q8_K activations of sub-block j), from the per-16 bsums.
NW_AVX2 inline int kMinsDot(const std::uint8_t *mins, const std::int16_t *bsums)
{
    const __m128i lo = _mm_loadu_si128(reinterpret_cast<const __m128i *>(bsums));
    const __m128i hi = _mm_loadu_si128(reinterpret_cast<const __m128i *>(bsums + 8));
    const __m128i perSub = _mm_hadd_epi16(lo, hi); // 8 sums of 32
    std::uint64_t packed;
    std::memcpy(&packed, mins, sizeof packed);
    const __m128i m = _mm_cvtepu8_epi16(_mm_cvtsi64_si128(static_cast<long long>(packed)));
    __m128i prod = _mm_madd_epi16(m, perSub);
    prod = _mm_add_epi32(prod, _mm_shuffle_epi32(prod, 0x4e));
    prod = _mm_add_epi32(prod, _mm_shuffle_epi32(prod, 0xb1));
    return _mm_cvtsi128_si32(prod);
}

NW_AVX2 float dotQ4_K(const std::byte *w, const std::byte *x, std::int64_t cols)
{
    const auto *wb = reinterpret_cast<const BlockQ4_K *>(w);
    const auto *xb = reinterpret_cast<const BlockQ8_K *>(x);
    const __m256i low4 = _mm256_set1_epi8(0x0f);
    __m256 acc = _mm256_setzero_ps();
    float minsTotal = 0.f;
    for (std::int64_t i = 0; i < cols / 256; ++i) {
        std::uint8_t sc[8], mn[8];
        unpackKScales(wb[i].scales, sc, mn);
        const std::uint8_t *q = wb[i].qs;
        const std::int8_t *y = xb[i].qs;
        __m256i sumi = _mm256_setzero_si256();
#pragma GCC unroll 4
        for (int j = 0; j < 4; ++j) {
            const __m256i bits = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(q + 32 * j));
            const __m256i qLo = _mm256_and_si256(bits, low4);
            const __m256i qHi = _mm256_and_si256(_mm256_srli_epi16(bits, 4), low4);
            const __m256i yLo = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(y + 64 * j));
            const __m256i yHi = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(y + 64 * j + 32));
            const __m256i pLo = _mm256_madd_epi16(_mm256_maddubs_epi16(qLo, yLo), _mm256_set1_epi16(sc[2 * j]));
            const __m256i pHi = _mm256_madd_epi16(_mm256_maddubs_epi16(qHi, yHi), _mm256_set1_epi16(sc[2 * j + 1]));
            sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(pLo, pHi));
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(xb[i].d * f16(wb[i].d)), _mm256_cvtepi32_ps(sumi), acc);
        minsTotal += xb[i].d * f16(wb[i].dmin) * static_cast<float>(kMinsDot(mn, xb[i].bsums));
    }
    return hsum(acc) - minsTotal;
}

NW_AVX2 float dotQ5_K(const std::byte *w, const std::byte *x, std::int64_t cols)
{
    const auto *wb = reinterpret_cast<const BlockQ5_K *>(w);
    const auto *xb = reinterpret_cast<const BlockQ8_K *>(x);
    const __m256i low4 = _mm256_set1_epi8(0x0f);
    const __m256i one = _mm256_set1_epi8(1);
    __m256 acc = _mm256_setzero_ps();
    float minsTotal = 0.f;
    for (std::int64_t i = 0; i < cols / 256; ++i) {
        std::uint8_t sc[8], mn[8];
        unpackKScales(wb[i].scales, sc, mn);
        const std::uint8_t *q = wb[i].qs;
        const std::int8_t *y = xb[i].qs;
        const __m256i high = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(wb[i].qh));
        __m256i sumi = _mm256_setzero_si256();
#pragma GCC unroll 4
        for (int j = 0; j < 4; ++j) {
            const __m256i bits = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(q + 32 * j));
            // Bit 2j of qh[l] is the fifth bit of element l of the low sub-block, bit 2j+1 of
            // the high one; the 16-bit shifts cannot mix bytes once masked to bit 0.
            const __m256i hLo = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(high, 2 * j), one), 4);
            const __m256i hHi = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(high, 2 * j + 1), one), 4);
            const __m256i qLo = _mm256_or_si256(_mm256_and_si256(bits, low4), hLo);
            const __m256i qHi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(bits, 4), low4), hHi);
            const __m256i yLo = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(y + 64 * j));
            const __m256i yHi = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(y + 64 * j + 32));
            const __m256i pLo = _mm256_madd_epi16(_mm256_maddubs_epi16(qLo, yLo), _mm256_set1_epi16(sc[2 * j]));
            const __m256i pHi = _mm256_madd_epi16(_mm256_maddubs_epi16(qHi, yHi), _mm256_set1_epi16(sc[2 * j + 1]));
            sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(pLo, pHi));
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(xb[i].d * f16(wb[i].d)), _mm256_cvtepi32_ps(sumi), acc);
        minsTotal += xb[i].d * f16(wb[i].dmin) * static_cast<float>(kMinsDot(mn, xb[i].bsums));
    }
    return hsum(acc) - minsTotal;
}

// Q6_K stores q + 32 with q in -32..31. The -32 is taken out once per block from the Q8_K
// per-16 sums: 32 · sum_j scale_j · bsum_j, as 8 int32 lanes to start the block's sum from.
NW_AVX2 inline __m256i q6Offset(const std::int8_t *scales, const std::int16_t *bsums)
{
    const __m256i sc = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i *>(scales)));
    const __m256i bs = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(bsums));
    return _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(_mm256_madd_epi16(sc, bs), 5));
}

// The four 32-byte groups of unsigned 6-bit quants (0..63) of one half of a Q6_K block.
NW_AVX2 inline void q6Quants(const BlockQ6_K &b, int half, __m256i q[4])
{
    const __m256i low4 = _mm256_set1_epi8(0x0f);
    const __m256i two = _mm256_set1_epi8(3);
    const std::uint8_t *ql = b.ql + 64 * half;
    const __m256i l0 = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(ql));
    const __m256i l1 = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(ql + 32));
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(b.qh + 32 * half));
    q[0] = _mm256_or_si256(_mm256_and_si256(l0, low4), _mm256_slli_epi16(_mm256_and_si256(h, two), 4));
    q[1] = _mm256_or_si256(
        _mm256_and_si256(l1, low4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 2), two), 4));
    q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), low4),
        _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 4), two), 4));
    q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), low4),
        _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 6), two), 4));
}

NW_AVX2 float dotQ6_K(const std::byte *w, const std::byte *x, std::int64_t cols)
{
    const auto *wb = reinterpret_cast<const BlockQ6_K *>(w);
    const auto *xb = reinterpret_cast<const BlockQ8_K *>(x);
    const std::int64_t nBlocks = cols / 256;
    __m256 acc = _mm256_setzero_ps();
    for (std::int64_t i = 0; i < nBlocks; ++i) {
        // Decode streams the weights once: ask for the block 8 ahead (~1.7 KiB) while this one
        // is unpacked. Past the row's end that is the next row's start, which comes next; a
        // prefetch never faults, and the address is formed as an integer.
        const auto *ahead
            = reinterpret_cast<const char *>(reinterpret_cast<std::uintptr_t>(wb + i) + 8 * sizeof(BlockQ6_K));
        _mm_prefetch(ahead, _MM_HINT_T0);
        _mm_prefetch(ahead + 64, _MM_HINT_T0);
        _mm_prefetch(ahead + 128, _MM_HINT_T0);
        _mm_prefetch(ahead + 192, _MM_HINT_T0);
        __m256i sumi = q6Offset(wb[i].scales, xb[i].bsums);
#pragma GCC unroll 2
        for (int half = 0; half < 2; ++half) {
            const std::int8_t *sc = wb[i].scales + 8 * half;
            const std::int8_t *y = xb[i].qs + 128 * half;
            __m256i q[4];
            q6Quants(wb[i], half, q);
#pragma GCC unroll 4
            for (int k = 0; k < 4; ++k) {
                const __m256i yk = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(y + 32 * k));
                sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(_mm256_maddubs_epi16(q[k], yk), scalePair(sc + 2 * k)));
            }
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(xb[i].d * f16(wb[i].d)), _mm256_cvtepi32_ps(sumi), acc);
    }
    return hsum(acc);
}

// ---- several activation rows per weight row (prefill) -----------------------------------------
// Each weight block is loaded and unpacked once and multiplied with N activation rows: in
// prefill the unpacking, not memory, is the bottleneck. The loops over N are unrolled by
// pragma: at -O2 GCC would keep acc[N] on the stack and chain every FMA through memory.

template <int N>
NW_AVX2 void manyQ8_0(const std::byte *w, const std::byte *x, std::size_t xStride, std::int64_t cols, float *out)
{
    const auto *wb = reinterpret_cast<const BlockQ8_0 *>(w);
    const BlockQ8_0 *xb[N];
    __m256 acc[N];
#pragma GCC unroll 4
    for (int k = 0; k < N; ++k) {
        xb[k] = reinterpret_cast<const BlockQ8_0 *>(x + std::size_t(k) * xStride);
        acc[k] = _mm256_setzero_ps();
    }
    for (std::int64_t i = 0; i < cols / 32; ++i) {
        const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(wb[i].qs));
        const __m256i absA = _mm256_sign_epi8(a, a);
        const float dw = f16(wb[i].d);
#pragma GCC unroll 4
        for (int k = 0; k < N; ++k) {
            const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(xb[k][i].qs));
            const __m256i p
                = _mm256_madd_epi16(_mm256_maddubs_epi16(absA, _mm256_sign_epi8(b, a)), _mm256_set1_epi16(1));
            acc[k] = _mm256_fmadd_ps(_mm256_set1_ps(dw * f16(xb[k][i].d)), _mm256_cvtepi32_ps(p), acc[k]);
        }
    }
#pragma GCC unroll 4
    for (int k = 0; k < N; ++k)
        out[k] = hsum(acc[k]);
}

template <int N>
NW_AVX2 void manyQ4_0(const std::byte *w, const std::byte *x, std::size_t xStride, std::int64_t cols, float *out)
{
    const auto *wb = reinterpret_cast<const BlockQ4_0 *>(w);
    const BlockQ8_0 *xb[N];
    __m256 acc[N];
#pragma GCC unroll 4
    for (int k = 0; k < N; ++k) {
        xb[k] = reinterpret_cast<const BlockQ8_0 *>(x + std::size_t(k) * xStride);
        acc[k] = _mm256_setzero_ps();
    }
    const __m256i eight = _mm256_set1_epi8(8);
    for (std::int64_t i = 0; i < cols / 32; ++i) {
        const __m256i a = _mm256_sub_epi8(nibbles(wb[i].qs), eight);
        const __m256i absA = _mm256_sign_epi8(a, a);
        const float dw = f16(wb[i].d);
#pragma GCC unroll 4
        for (int k = 0; k < N; ++k) {
            const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(xb[k][i].qs));
            const __m256i p
                = _mm256_madd_epi16(_mm256_maddubs_epi16(absA, _mm256_sign_epi8(b, a)), _mm256_set1_epi16(1));
            acc[k] = _mm256_fmadd_ps(_mm256_set1_ps(dw * f16(xb[k][i].d)), _mm256_cvtepi32_ps(p), acc[k]);
        }
    }
#pragma GCC unroll 4
    for (int k = 0; k < N; ++k)
        out[k] = hsum(acc[k]);
}

template <int N>
NW_AVX2 void manyQ4_K(const std::byte *w, const std::byte *x, std::size_t xStride, std::int64_t cols, float *out)
{
    const auto *wb = reinterpret_cast<const BlockQ4_K *>(w);
    const BlockQ8_K *xb[N];
    __m256 acc[N];
    float mins[N];
#pragma GCC unroll 4
    for (int k = 0; k < N; ++k) {
        xb[k] = reinterpret_cast<const BlockQ8_K *>(x + std::size_t(k) * xStride);
        acc[k] = _mm256_setzero_ps();
        mins[k] = 0.f;
    }
    const __m256i low4 = _mm256_set1_epi8(0x0f);
    for (std::int64_t i = 0; i < cols / 256; ++i) {
        std::uint8_t sc[8], mn[8];
        unpackKScales(wb[i].scales, sc, mn);
        __m256i sumi[N];
#pragma GCC unroll 4
        for (int k = 0; k < N; ++k)
            sumi[k] = _mm256_setzero_si256();
#pragma GCC unroll 4
        for (int j = 0; j < 4; ++j) {
            const __m256i bits = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(wb[i].qs + 32 * j));
            const __m256i qLo = _mm256_and_si256(bits, low4);
            const __m256i qHi = _mm256_and_si256(_mm256_srli_epi16(bits, 4), low4);
            const __m256i sLo = _mm256_set1_epi16(sc[2 * j]), sHi = _mm256_set1_epi16(sc[2 * j + 1]);
#pragma GCC unroll 4
            for (int k = 0; k < N; ++k) {
                const std::int8_t *y = xb[k][i].qs + 64 * j;
                const __m256i pLo = _mm256_madd_epi16(
                    _mm256_maddubs_epi16(qLo, _mm256_loadu_si256(reinterpret_cast<const __m256i *>(y))), sLo);
                const __m256i pHi = _mm256_madd_epi16(
                    _mm256_maddubs_epi16(qHi, _mm256_loadu_si256(reinterpret_cast<const __m256i *>(y + 32))), sHi);
                sumi[k] = _mm256_add_epi32(sumi[k], _mm256_add_epi32(pLo, pHi));
            }
        }
        const float d = f16(wb[i].d), dmin = f16(wb[i].dmin);
#pragma GCC unroll 4
        for (int k = 0; k < N; ++k) {
            acc[k] = _mm256_fmadd_ps(_mm256_set1_ps(xb[k][i].d * d), _mm256_cvtepi32_ps(sumi[k]), acc[k]);
            mins[k] += xb[k][i].d * dmin * static_cast<float>(kMinsDot(mn, xb[k][i].bsums));
        }
    }
#pragma GCC unroll 4
    for (int k = 0; k < N; ++k)
        out[k] = hsum(acc[k]) - mins[k];
}

template <int N>
NW_AVX2 void manyQ6_K(const std::byte *w, const std::byte *x, std::size_t xStride, std::int64_t cols, float *out)
{
    const auto *wb = reinterpret_cast<const BlockQ6_K *>(w);
    const BlockQ8_K *xb[N];
    __m256 acc[N];
#pragma GCC unroll 4
    for (int k = 0; k < N; ++k) {
        xb[k] = reinterpret_cast<const BlockQ8_K *>(x + std::size_t(k) * xStride);
        acc[k] = _mm256_setzero_ps();
    }
    for (std::int64_t i = 0; i < cols / 256; ++i) {
        __m256i sumi[N];
#pragma GCC unroll 4
        for (int k = 0; k < N; ++k)
            sumi[k] = q6Offset(wb[i].scales, xb[k][i].bsums);
        for (int half = 0; half < 2; ++half) {
            const std::int8_t *sc = wb[i].scales + 8 * half;
            __m256i q[4];
            q6Quants(wb[i], half, q);
#pragma GCC unroll 4
            for (int part = 0; part < 4; ++part) {
                const __m256i scales = scalePair(sc + 2 * part);
#pragma GCC unroll 4
                for (int k = 0; k < N; ++k) {
                    const __m256i yk
                        = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(xb[k][i].qs + 128 * half + 32 * part));
                    sumi[k] = _mm256_add_epi32(sumi[k], _mm256_madd_epi16(_mm256_maddubs_epi16(q[part], yk), scales));
                }
            }
        }
        const float d = f16(wb[i].d);
#pragma GCC unroll 4
        for (int k = 0; k < N; ++k)
            acc[k] = _mm256_fmadd_ps(_mm256_set1_ps(xb[k][i].d * d), _mm256_cvtepi32_ps(sumi[k]), acc[k]);
    }
#pragma GCC unroll 4
    for (int k = 0; k < N; ++k)
        out[k] = hsum(acc[k]);
}

template <int N>
NW_AVX2 void manyF16(const std::byte *w, const std::byte *x, std::size_t xStride, std::int64_t cols, float *out)
{
    const auto *a = reinterpret_cast<const f16_t *>(w);
    const float *b[N];
    __m256 acc[N];
#pragma GCC unroll 4
    for (int k = 0; k < N; ++k) {
        b[k] = reinterpret_cast<const float *>(x + std::size_t(k) * xStride);
        acc[k] = _mm256_setzero_ps();
    }
    std::int64_t i = 0;
    for (; i + 8 <= cols; i += 8) {
        const __m256 wv = loadF16(a + i);
#pragma GCC unroll 4
        for (int k = 0; k < N; ++k)
            acc[k] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(b[k] + i), acc[k]);
    }
#pragma GCC unroll 4
    for (int k = 0; k < N; ++k) {
        float sum = hsum(acc[k]);
        for (std::int64_t j = i; j < cols; ++j)
            sum += f16(a[j]) * b[k][j];
        out[k] = sum;
    }
}

NW_DOT_MANY(dotManyQ8_0, manyQ8_0)
NW_DOT_MANY(dotManyQ4_0, manyQ4_0)
NW_DOT_MANY(dotManyQ4_K, manyQ4_K)
NW_DOT_MANY(dotManyQ6_K, manyQ6_K)
NW_DOT_MANY(dotManyF16, manyF16)

// ---- activation quantizers ----------------------------------------------------------------

NW_AVX2 inline float absMax32(const float *x)
{
    const __m256 signBit = _mm256_set1_ps(-0.f);
    __m256 m = _mm256_andnot_ps(signBit, _mm256_loadu_ps(x));
    m = _mm256_max_ps(m, _mm256_andnot_ps(signBit, _mm256_loadu_ps(x + 8)));
    m = _mm256_max_ps(m, _mm256_andnot_ps(signBit, _mm256_loadu_ps(x + 16)));
    m = _mm256_max_ps(m, _mm256_andnot_ps(signBit, _mm256_loadu_ps(x + 24)));
    return hmax(m);
}

// 32 floats × id → 32 int8, round to nearest even (as std::nearbyint in the scalar quantizer).
// |x * id| <= 127 by construction of id (up to rounding of the scale), clamped to be sure.
NW_AVX2 inline __m256i quantize32(const float *x, float id)
{
    const __m256 mul = _mm256_set1_ps(id);
    const __m256 lo = _mm256_set1_ps(-127.f), hi = _mm256_set1_ps(127.f);
    __m256i v[4];
    for (int k = 0; k < 4; ++k) {
        const __m256 scaled = _mm256_min_ps(hi, _mm256_max_ps(lo, _mm256_mul_ps(_mm256_loadu_ps(x + 8 * k), mul)));
        v[k] = _mm256_cvtps_epi32(_mm256_round_ps(scaled, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    }
    // packs work within 128-bit lanes; the permute restores element order.
    const __m256i p16a = _mm256_packs_epi32(v[0], v[1]);
    const __m256i p16b = _mm256_packs_epi32(v[2], v[3]);
    const __m256i p8 = _mm256_packs_epi16(p16a, p16b);
    return _mm256_permutevar8x32_epi32(p8, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

NW_AVX2 inline f16_t toF16(float value)
{
    return static_cast<f16_t>(_cvtss_sh(value, _MM_FROUND_TO_NEAREST_INT));
}

NW_AVX2 void quantizeQ8_0(const float *x, std::byte *out, std::int64_t cols)
{
    auto *ob = reinterpret_cast<BlockQ8_0 *>(out);
    for (std::int64_t i = 0; i < cols / 32; ++i) {
        const float *xi = x + 32 * i;
        const float amax = absMax32(xi); // quantized with 127 / amax, not 1 / f16(d): as ggml (dot_scalar.cpp)
        ob[i].d = toF16(amax / 127.f);
        _mm256_storeu_si256(reinterpret_cast<__m256i *>(ob[i].qs), quantize32(xi, amax != 0.f ? 127.f / amax : 0.f));
    }
}

NW_AVX2 inline int sumI8(__m256i v)
{
    const __m256i s32 = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), v), _mm256_set1_epi16(1));
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(s32), _mm256_extracti128_si256(s32, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

NW_AVX2 void quantizeQ8_1(const float *x, std::byte *out, std::int64_t cols)
{
    auto *ob = reinterpret_cast<BlockQ8_1 *>(out);
    for (std::int64_t i = 0; i < cols / 32; ++i) {
        const float *xi = x + 32 * i;
        const float amax = absMax32(xi), d = amax / 127.f;
        const __m256i q = quantize32(xi, amax != 0.f ? 127.f / amax : 0.f);
        _mm256_storeu_si256(reinterpret_cast<__m256i *>(ob[i].qs), q);
        ob[i].d = toF16(d);
        ob[i].s = toF16(d * static_cast<float>(sumI8(q)));
    }
}

NW_AVX2 void quantizeQ8_K(const float *x, std::byte *out, std::int64_t cols)
{
    auto *ob = reinterpret_cast<BlockQ8_K *>(out);
    for (std::int64_t i = 0; i < cols / 256; ++i) {
        const float *xi = x + 256 * i;
        float amax = 0.f;
        for (int k = 0; k < 8; ++k)
            amax = std::max(amax, absMax32(xi + 32 * k));
        const float id = amax != 0.f ? 127.f / amax : 0.f; // as ggml (dot_scalar.cpp)
        ob[i].d = amax != 0.f ? 1.f / id : 0.f;
        for (int k = 0; k < 8; ++k) {
            const __m256i q = quantize32(xi + 32 * k, id);
            _mm256_storeu_si256(reinterpret_cast<__m256i *>(ob[i].qs + 32 * k), q);
            // Sums of each 16: widen to int16 and add neighbours twice more via madd + hadd.
            const __m256i s16 = _mm256_maddubs_epi16(_mm256_set1_epi8(1), q); // 16 sums of 2
            const __m256i s32 = _mm256_madd_epi16(s16, _mm256_set1_epi16(1)); // 8 sums of 4
            __m128i lo = _mm256_castsi256_si128(s32), hi = _mm256_extracti128_si256(s32, 1);
            lo = _mm_hadd_epi32(lo, lo); // sums of 8 (elements 0..15 of this 32)
            hi = _mm_hadd_epi32(hi, hi);
            ob[i].bsums[2 * k] = static_cast<std::int16_t>(_mm_cvtsi128_si32(_mm_hadd_epi32(lo, lo)));
            ob[i].bsums[2 * k + 1] = static_cast<std::int16_t>(_mm_cvtsi128_si32(_mm_hadd_epi32(hi, hi)));
        }
    }
}

const DotKernel kAvx2[] = {
    { ActivationFormat::F32, dotF32, nullptr, nullptr, "avx2" },
    { ActivationFormat::F32, dotF16, nullptr, dotManyF16, "avx2" },
    { ActivationFormat::F32, dotBF16, nullptr, nullptr, "avx2" },
    { ActivationFormat::Q8_0, dotQ8_0, quantizeQ8_0, dotManyQ8_0, "avx2" },
    { ActivationFormat::Q8_0, dotQ4_0, quantizeQ8_0, dotManyQ4_0, "avx2" },
    { ActivationFormat::Q8_1, dotQ4_1, quantizeQ8_1, nullptr, "avx2" },
    { ActivationFormat::Q8_0, dotQ5_0, quantizeQ8_0, nullptr, "avx2" },
    { ActivationFormat::Q8_1, dotQ5_1, quantizeQ8_1, nullptr, "avx2" },
    { ActivationFormat::Q8_K, dotQ4_K, quantizeQ8_K, dotManyQ4_K, "avx2" },
    { ActivationFormat::Q8_K, dotQ5_K, quantizeQ8_K, nullptr, "avx2" },
    { ActivationFormat::Q8_K, dotQ6_K, quantizeQ8_K, dotManyQ6_K, "avx2" },
    { ActivationFormat::Q8_K, avx2::dotQ2_K, quantizeQ8_K, avx2::dotManyQ2_K, "avx2" },
    { ActivationFormat::Q8_K, avx2::dotQ3_K, quantizeQ8_K, avx2::dotManyQ3_K, "avx2" },
    { ActivationFormat::Q8_0, avx2::dotIQ4_NL, quantizeQ8_0, avx2::dotManyIQ4_NL, "avx2" },
    { ActivationFormat::Q8_K, avx2::dotIQ4_XS, quantizeQ8_K, avx2::dotManyIQ4_XS, "avx2" },
    { ActivationFormat::Q8_0, avx2::dotMXFP4, quantizeQ8_0, avx2::dotManyMXFP4, "avx2" },
    { ActivationFormat::Q8_K, avx2::dotIQ2_XXS, quantizeQ8_K, avx2::dotManyIQ2_XXS, "avx2" },
    { ActivationFormat::Q8_K, avx2::dotIQ2_XS, quantizeQ8_K, avx2::dotManyIQ2_XS, "avx2" },
    { ActivationFormat::Q8_K, avx2::dotIQ2_S, quantizeQ8_K, avx2::dotManyIQ2_S, "avx2" },
    { ActivationFormat::Q8_K, avx2::dotIQ3_XXS, quantizeQ8_K, avx2::dotManyIQ3_XXS, "avx2" },
    { ActivationFormat::Q8_K, avx2::dotIQ3_S, quantizeQ8_K, avx2::dotManyIQ3_S, "avx2" },
};
static_assert(std::size(kAvx2) == kKernelTypes);

} // namespace

const DotKernel *avx2DotKernel(TensorType type)
{
    static const bool usable = [] {
        const CpuFeatures &f = cpuFeatures();
        return f.avx2 && f.fma && f.f16c;
    }();
    const int index = kernelIndex(type);
    if (!usable || index < 0)
        return nullptr;
    return &kAvx2[index];
}

#else

const DotKernel *avx2DotKernel(TensorType)
{
    return nullptr;
}

#endif

} // namespace nw::cpu
