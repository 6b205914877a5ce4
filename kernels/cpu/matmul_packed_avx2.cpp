// AVX2 group kernels of the packed matmul (layouts in matmul_packed.h). Each 32-byte weight
// load holds four columns of 8 rows; the matching four activation bytes are broadcast to all
// lanes, so maddubs + madd leave row r's partial sum in int32 lane r and a block ends with one
// convert and one FMA for all 8 rows. Compiled with per-function target attributes and chosen
// at run time, like dot_avx2.cpp.
#include "kernels/cpu/matmul_packed_kernels.h"

#include "kernels/cpu/cpu_features.h"

#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#define NW_AVX2 __attribute__((target("avx2,fma,f16c")))
#endif

namespace nw::cpu {

#if defined(__x86_64__)
namespace {

// Four activation bytes in every 32-bit lane.
NW_AVX2 inline __m256i broadcast4(const std::int8_t *p)
{
    std::int32_t v;
    std::memcpy(&v, p, sizeof v);
    return _mm256_set1_epi32(v);
}

// The 8 f16 scales of a block group as floats, times the activation's scale.
NW_AVX2 inline __m256 scales8(const std::byte *p, float dx)
{
    return _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i *>(p))), _mm256_set1_ps(dx));
}

// 8 bytes (one per row) → int16 lanes 2r and 2r+1 both holding byte r (zero- or sign-extended),
// the form madd multiplies a row's pair sums by.
NW_AVX2 inline __m256i duplicatePairs(__m256i wide)
{
    const __m256i lowHalf = _mm256_setr_epi8(
        0, 1, 0, 1, 4, 5, 4, 5, 8, 9, 8, 9, 12, 13, 12, 13, 0, 1, 0, 1, 4, 5, 4, 5, 8, 9, 8, 9, 12, 13, 12, 13);
    return _mm256_shuffle_epi8(wide, lowHalf);
}

// Every cache line of the block group `bytes` long that starts `ahead` bytes on. About 2 KiB
// ahead with all the lines asked for decodes fastest here (EPYC 7B13, one thread, one
// Llama-1B layer: Q8_0 4.0 ms vs 5.3 with two lines four block groups ahead, and 5.1 in rows; Q4_0
// 1.7-2.3 ms vs 2.7-3.1 with one line eight groups ahead); fewer lines leave the rest to the
// hardware prefetcher, which falls behind.
template <std::size_t bytes> NW_AVX2 inline void prefetchBlock(const std::byte *group, std::size_t ahead)
{
    const char *p = reinterpret_cast<const char *>(group) + ahead;
#pragma GCC unroll 8
    for (std::size_t line = 0; line < (bytes + 63) / 64; ++line)
        _mm_prefetch(p + 64 * line, _MM_HINT_T0);
}

NW_AVX2 inline __m128i load8(const void *p)
{
    return _mm_loadl_epi64(reinterpret_cast<const __m128i *>(p));
}

NW_AVX2 inline __m256i load32(const void *p)
{
    return _mm256_loadu_si256(reinterpret_cast<const __m256i *>(p));
}

NW_AVX2 void groupQ4_0(
    const std::byte *group, const std::byte *act, const std::int32_t *sums, std::int64_t nBlocks, float *out)
{
    const auto *x = reinterpret_cast<const BlockQ8_0 *>(act);
    const __m256i low4 = _mm256_set1_epi8(0x0f);
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc = _mm256_setzero_ps();
    for (std::int64_t b = 0; b < nBlocks; ++b, group += kQ4_0x8Bytes) {
        prefetchBlock<kQ4_0x8Bytes>(group, 16 * kQ4_0x8Bytes);
        const std::byte *qs = group + 16;
        const std::int8_t *xq = x[b].qs;
        // Pair sums of nibble (<= 15) x int8 stay below 2 * 15 * 128: eight fit in int16.
        __m256i s16 = _mm256_setzero_si256();
#pragma GCC unroll 4
        for (int v = 0; v < 4; ++v) {
            const __m256i w = load32(qs + 32 * v);
            const __m256i lo = _mm256_and_si256(w, low4);
            const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(w, 4), low4);
            s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(lo, broadcast4(xq + 4 * v)));
            s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(hi, broadcast4(xq + 16 + 4 * v)));
        }
        // sum (q - 8) x = sum q x - 8 sum x.
        const __m256i s32 = _mm256_sub_epi32(_mm256_madd_epi16(s16, ones), _mm256_set1_epi32(8 * sums[b]));
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s32), scales8(group, _cvtsh_ss(x[b].d)), acc);
    }
    _mm256_storeu_ps(out, acc);
}

NW_AVX2 void groupQ8_0(
    const std::byte *group, const std::byte *act, const std::int32_t *, std::int64_t nBlocks, float *out)
{
    const auto *x = reinterpret_cast<const BlockQ8_0 *>(act);
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc = _mm256_setzero_ps();
    for (std::int64_t b = 0; b < nBlocks; ++b, group += kQ8_0x8Bytes) {
        prefetchBlock<kQ8_0x8Bytes>(group, 8 * kQ8_0x8Bytes);
        const std::byte *qs = group + 16;
        const std::int8_t *xq = x[b].qs;
        __m256i s32 = _mm256_setzero_si256();
#pragma GCC unroll 8
        for (int v = 0; v < 8; ++v) {
            // maddubs wants one unsigned side: |w| times x with w's sign (|w| <= 128, so a pair
            // sum stays below 2 * 128 * 127 < 2^15).
            const __m256i w = load32(qs + 32 * v);
            const __m256i p = _mm256_maddubs_epi16(_mm256_abs_epi8(w), _mm256_sign_epi8(broadcast4(xq + 4 * v), w));
            s32 = _mm256_add_epi32(s32, _mm256_madd_epi16(p, ones));
        }
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s32), scales8(group, _cvtsh_ss(x[b].d)), acc);
    }
    _mm256_storeu_ps(out, acc);
}

// 8 rows x kTileTokens tokens. Per token and weight vector the 1-token kernel spends a load,
// the abs and the sign, maddubs, madd and add; here the load and abs are shared by the tile, so
// a token costs sign, maddubs, madd and add. Registers: 4 float and 4 int accumulators, the
// weight vector, its abs, the ones and two temporaries (of 16).
NW_AVX2 void tileQ8_0(const std::byte *group, const std::byte *act, std::size_t actStride, const std::int32_t *,
    std::int64_t nBlocks, float *out)
{
    constexpr int T = kTileTokens;
    const BlockQ8_0 *x[T];
    __m256 acc[T];
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) {
        x[t] = reinterpret_cast<const BlockQ8_0 *>(act + static_cast<std::size_t>(t) * actStride);
        acc[t] = _mm256_setzero_ps();
    }
    const __m256i ones = _mm256_set1_epi16(1);
    for (std::int64_t b = 0; b < nBlocks; ++b, group += kQ8_0x8Bytes) {
        prefetchBlock<kQ8_0x8Bytes>(group, 8 * kQ8_0x8Bytes);
        const std::byte *qs = group + 16;
        __m256i s32[T];
#pragma GCC unroll 4
        for (int t = 0; t < T; ++t)
            s32[t] = _mm256_setzero_si256();
#pragma GCC unroll 8
        for (int v = 0; v < 8; ++v) {
            const __m256i w = load32(qs + 32 * v);
            const __m256i absW = _mm256_abs_epi8(w);
#pragma GCC unroll 4
            for (int t = 0; t < T; ++t) {
                const __m256i p = _mm256_maddubs_epi16(absW, _mm256_sign_epi8(broadcast4(x[t][b].qs + 4 * v), w));
                s32[t] = _mm256_add_epi32(s32[t], _mm256_madd_epi16(p, ones));
            }
        }
        const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i *>(group)));
#pragma GCC unroll 4
        for (int t = 0; t < T; ++t)
            acc[t] = _mm256_fmadd_ps(
                _mm256_cvtepi32_ps(s32[t]), _mm256_mul_ps(d, _mm256_set1_ps(_cvtsh_ss(x[t][b].d))), acc[t]);
    }
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t)
        _mm256_storeu_ps(out + 8 * t, acc[t]);
}

// 8 rows x kTileTokens tokens of Q4_0: the nibbles of a weight vector are split once for the
// tile; a token costs two maddubs and two int16 adds per vector.
NW_AVX2 void tileQ4_0(const std::byte *group, const std::byte *act, std::size_t actStride, const std::int32_t *sums,
    std::int64_t nBlocks, float *out)
{
    constexpr int T = kTileTokens;
    const BlockQ8_0 *x[T];
    __m256 acc[T];
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) {
        x[t] = reinterpret_cast<const BlockQ8_0 *>(act + static_cast<std::size_t>(t) * actStride);
        acc[t] = _mm256_setzero_ps();
    }
    const __m256i low4 = _mm256_set1_epi8(0x0f);
    const __m256i ones = _mm256_set1_epi16(1);
    for (std::int64_t b = 0; b < nBlocks; ++b, group += kQ4_0x8Bytes) {
        prefetchBlock<kQ4_0x8Bytes>(group, 16 * kQ4_0x8Bytes);
        const std::byte *qs = group + 16;
        // Eight pair sums of a nibble (<= 15) and an int8 stay below 2 * 15 * 128 each: int16 holds them.
        __m256i s16[T];
#pragma GCC unroll 4
        for (int t = 0; t < T; ++t)
            s16[t] = _mm256_setzero_si256();
#pragma GCC unroll 4
        for (int v = 0; v < 4; ++v) {
            const __m256i w = load32(qs + 32 * v);
            const __m256i lo = _mm256_and_si256(w, low4);
            const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(w, 4), low4);
#pragma GCC unroll 4
            for (int t = 0; t < T; ++t) {
                const __m256i pLo = _mm256_maddubs_epi16(lo, broadcast4(x[t][b].qs + 4 * v));
                const __m256i pHi = _mm256_maddubs_epi16(hi, broadcast4(x[t][b].qs + 16 + 4 * v));
                s16[t] = _mm256_add_epi16(s16[t], _mm256_add_epi16(pLo, pHi));
            }
        }
        const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i *>(group)));
#pragma GCC unroll 4
        for (int t = 0; t < T; ++t) {
            // sum (q - 8) x = sum q x - 8 sum x.
            const __m256i s32
                = _mm256_sub_epi32(_mm256_madd_epi16(s16[t], ones), _mm256_set1_epi32(8 * sums[t * nBlocks + b]));
            acc[t] = _mm256_fmadd_ps(
                _mm256_cvtepi32_ps(s32), _mm256_mul_ps(d, _mm256_set1_ps(_cvtsh_ss(x[t][b].d))), acc[t]);
        }
    }
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t)
        _mm256_storeu_ps(out + 8 * t, acc[t]);
}

NW_AVX2 void groupQ4_K(
    const std::byte *group, const std::byte *act, const std::int32_t *, std::int64_t nBlocks, float *out)
{
    const auto *x = reinterpret_cast<const BlockQ8_K *>(act);
    const __m256i low4 = _mm256_set1_epi8(0x0f);
    __m256 acc = _mm256_setzero_ps(), accMin = _mm256_setzero_ps();
    for (std::int64_t b = 0; b < nBlocks; ++b, group += kQ4_Kx8Bytes) {
        const std::byte *scales = group + 32, *mins = group + 96, *qs = group + 160;
        const std::int8_t *y = x[b].qs;
        __m256i s32 = _mm256_setzero_si256();
        for (int p = 0; p < 4; ++p) {
            const std::byte *q = qs + 256 * p;
            _mm_prefetch(reinterpret_cast<const char *>(q) + 2 * kQ4_Kx8Bytes, _MM_HINT_T0);
            _mm_prefetch(reinterpret_cast<const char *>(q) + 2 * kQ4_Kx8Bytes + 64, _MM_HINT_T0);
            _mm_prefetch(reinterpret_cast<const char *>(q) + 2 * kQ4_Kx8Bytes + 128, _MM_HINT_T0);
            _mm_prefetch(reinterpret_cast<const char *>(q) + 2 * kQ4_Kx8Bytes + 192, _MM_HINT_T0);
            // Sub-block 2p in the low nibbles, 2p + 1 in the high ones; eight pair sums of a
            // nibble and an int8 fit in int16.
            __m256i lo16 = _mm256_setzero_si256(), hi16 = _mm256_setzero_si256();
#pragma GCC unroll 8
            for (int v = 0; v < 8; ++v) {
                const __m256i w = load32(q + 32 * v);
                lo16 = _mm256_add_epi16(
                    lo16, _mm256_maddubs_epi16(_mm256_and_si256(w, low4), broadcast4(y + 64 * p + 4 * v)));
                hi16 = _mm256_add_epi16(hi16,
                    _mm256_maddubs_epi16(
                        _mm256_and_si256(_mm256_srli_epi16(w, 4), low4), broadcast4(y + 64 * p + 32 + 4 * v)));
            }
            const __m256i scLo = duplicatePairs(_mm256_cvtepu8_epi32(load8(scales + 16 * p)));
            const __m256i scHi = duplicatePairs(_mm256_cvtepu8_epi32(load8(scales + 16 * p + 8)));
            s32 = _mm256_add_epi32(s32, _mm256_add_epi32(_mm256_madd_epi16(lo16, scLo), _mm256_madd_epi16(hi16, scHi)));
        }
        // sum_j min_j * (sum of sub-block j's activations), two sub-blocks per madd.
        __m256i m32 = _mm256_setzero_si256();
        const std::int16_t *bs = x[b].bsums;
#pragma GCC unroll 4
        for (int p = 0; p < 4; ++p) {
            const int s0 = bs[4 * p] + bs[4 * p + 1], s1 = bs[4 * p + 2] + bs[4 * p + 3];
            const __m256i pair = _mm256_set1_epi32(
                static_cast<int>((static_cast<unsigned>(s1) << 16) | (static_cast<unsigned>(s0) & 0xffffu)));
            const __m256i m = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i *>(mins + 16 * p)));
            m32 = _mm256_add_epi32(m32, _mm256_madd_epi16(m, pair));
        }
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s32), scales8(group, x[b].d), acc);
        accMin = _mm256_fmadd_ps(_mm256_cvtepi32_ps(m32), scales8(group + 16, x[b].d), accMin);
    }
    _mm256_storeu_ps(out, _mm256_sub_ps(acc, accMin));
}

// 8 rows x kTileTokens tokens of Q4_K: the nibbles of a weight vector are split once for the
// tile, and a pair of sub-blocks' scales and a block's mins are widened once. The per-token
// int16 sums (8 registers) live through a pair's 8 vectors; the int32 and float accumulators,
// touched once per pair and per block, may live on the stack.
NW_AVX2 void tileQ4_K(const std::byte *group, const std::byte *act, std::size_t actStride, const std::int32_t *,
    std::int64_t nBlocks, float *out)
{
    constexpr int T = kTileTokens;
    const BlockQ8_K *x[T];
    __m256 acc[T], accMin[T];
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) {
        x[t] = reinterpret_cast<const BlockQ8_K *>(act + static_cast<std::size_t>(t) * actStride);
        acc[t] = _mm256_setzero_ps();
        accMin[t] = _mm256_setzero_ps();
    }
    const __m256i low4 = _mm256_set1_epi8(0x0f);
    for (std::int64_t b = 0; b < nBlocks; ++b, group += kQ4_Kx8Bytes) {
        const std::byte *scales = group + 32, *mins = group + 96, *qs = group + 160;
        __m256i s32[T];
#pragma GCC unroll 4
        for (int t = 0; t < T; ++t)
            s32[t] = _mm256_setzero_si256();
        for (int p = 0; p < 4; ++p) {
            const std::byte *q = qs + 256 * p;
            prefetchBlock<256>(q, kQ4_Kx8Bytes);
            // Sub-block 2p in the low nibbles, 2p + 1 in the high ones (as in groupQ4_K).
            __m256i lo16[T], hi16[T];
#pragma GCC unroll 4
            for (int t = 0; t < T; ++t) {
                lo16[t] = _mm256_setzero_si256();
                hi16[t] = _mm256_setzero_si256();
            }
#pragma GCC unroll 8
            for (int v = 0; v < 8; ++v) {
                const __m256i w = load32(q + 32 * v);
                const __m256i lo = _mm256_and_si256(w, low4);
                const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(w, 4), low4);
#pragma GCC unroll 4
                for (int t = 0; t < T; ++t) {
                    const std::int8_t *y = x[t][b].qs + 64 * p + 4 * v;
                    lo16[t] = _mm256_add_epi16(lo16[t], _mm256_maddubs_epi16(lo, broadcast4(y)));
                    hi16[t] = _mm256_add_epi16(hi16[t], _mm256_maddubs_epi16(hi, broadcast4(y + 32)));
                }
            }
            const __m256i scLo = duplicatePairs(_mm256_cvtepu8_epi32(load8(scales + 16 * p)));
            const __m256i scHi = duplicatePairs(_mm256_cvtepu8_epi32(load8(scales + 16 * p + 8)));
#pragma GCC unroll 4
            for (int t = 0; t < T; ++t)
                s32[t] = _mm256_add_epi32(
                    s32[t], _mm256_add_epi32(_mm256_madd_epi16(lo16[t], scLo), _mm256_madd_epi16(hi16[t], scHi)));
        }
        __m256i m[4];
#pragma GCC unroll 4
        for (int p = 0; p < 4; ++p)
            m[p] = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i *>(mins + 16 * p)));
        const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i *>(group)));
        const __m256 dmin = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i *>(group + 16)));
#pragma GCC unroll 4
        for (int t = 0; t < T; ++t) {
            // sum_j min_j * (sum of sub-block j's activations), two sub-blocks per madd.
            const std::int16_t *bs = x[t][b].bsums;
            __m256i m32 = _mm256_setzero_si256();
#pragma GCC unroll 4
            for (int p = 0; p < 4; ++p) {
                const int s0 = bs[4 * p] + bs[4 * p + 1], s1 = bs[4 * p + 2] + bs[4 * p + 3];
                const __m256i pair = _mm256_set1_epi32(
                    static_cast<int>((static_cast<unsigned>(s1) << 16) | (static_cast<unsigned>(s0) & 0xffffu)));
                m32 = _mm256_add_epi32(m32, _mm256_madd_epi16(m[p], pair));
            }
            const __m256 dx = _mm256_set1_ps(x[t][b].d);
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s32[t]), _mm256_mul_ps(d, dx), acc[t]);
            accMin[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(m32), _mm256_mul_ps(dmin, dx), accMin[t]);
        }
    }
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t)
        _mm256_storeu_ps(out + 8 * t, _mm256_sub_ps(acc[t], accMin[t]));
}

NW_AVX2 void groupQ6_K(
    const std::byte *group, const std::byte *act, const std::int32_t *, std::int64_t nBlocks, float *out)
{
    const auto *x = reinterpret_cast<const BlockQ8_K *>(act);
    const __m256i low4 = _mm256_set1_epi8(0x0f);
    const __m256i high2 = _mm256_set1_epi8(0x30);
    __m256 acc = _mm256_setzero_ps();
    for (std::int64_t b = 0; b < nBlocks; ++b, group += kQ6_Kx8Bytes) {
        const std::byte *scales = group + 16, *ql = group + 144, *qh = group + 144 + 1024;
        const std::int8_t *y = x[b].qs;
        _mm_prefetch(reinterpret_cast<const char *>(group) + kQ6_Kx8Bytes, _MM_HINT_T0);
        __m256i s32 = _mm256_setzero_si256(), offset = _mm256_setzero_si256();
        // Round j holds element groups 4j..4j+3 and the three sets 16, 32, 48 groups on, i.e.
        // sub-blocks j, j + 4, j + 8, j + 12 (ql[t] has groups t and t + 32, qh[s] groups s,
        // s + 16, s + 32, s + 48). Pair sums of a 6-bit quant and an int8 are below
        // 2 * 63 * 128: two fit in int16, so they go to int32 every two groups.
        for (int j = 0; j < 4; ++j) {
            __m256i sc[4];
#pragma GCC unroll 4
            for (int k = 0; k < 4; ++k) {
                sc[k] = duplicatePairs(_mm256_cvtepi8_epi32(load8(scales + 8 * (j + 4 * k))));
                // The quants are stored as q + 32: 32 * scale * (sum of the sub-block's activations) goes.
                offset = _mm256_add_epi32(
                    offset, _mm256_madd_epi16(sc[k], _mm256_set1_epi32(x[b].bsums[j + 4 * k] & 0xffff)));
            }
#pragma GCC unroll 2
            for (int half = 0; half < 2; ++half) {
                __m256i a0 = _mm256_setzero_si256(), a1 = _mm256_setzero_si256();
                __m256i a2 = _mm256_setzero_si256(), a3 = _mm256_setzero_si256();
#pragma GCC unroll 2
                for (int k = 0; k < 2; ++k) {
                    const int t = 4 * j + 2 * half + k;
                    const __m256i l0 = load32(ql + 32 * t), l1 = load32(ql + 32 * (t + 16)), h = load32(qh + 32 * t);
                    const __m256i q0
                        = _mm256_or_si256(_mm256_and_si256(l0, low4), _mm256_and_si256(_mm256_slli_epi16(h, 4), high2));
                    const __m256i q1
                        = _mm256_or_si256(_mm256_and_si256(l1, low4), _mm256_and_si256(_mm256_slli_epi16(h, 2), high2));
                    const __m256i q2
                        = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), low4), _mm256_and_si256(h, high2));
                    const __m256i q3 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), low4),
                        _mm256_and_si256(_mm256_srli_epi16(h, 2), high2));
                    a0 = _mm256_add_epi16(a0, _mm256_maddubs_epi16(q0, broadcast4(y + 4 * t)));
                    a1 = _mm256_add_epi16(a1, _mm256_maddubs_epi16(q1, broadcast4(y + 4 * (t + 16))));
                    a2 = _mm256_add_epi16(a2, _mm256_maddubs_epi16(q2, broadcast4(y + 4 * (t + 32))));
                    a3 = _mm256_add_epi16(a3, _mm256_maddubs_epi16(q3, broadcast4(y + 4 * (t + 48))));
                }
                s32 = _mm256_add_epi32(
                    s32, _mm256_add_epi32(_mm256_madd_epi16(a0, sc[0]), _mm256_madd_epi16(a1, sc[1])));
                s32 = _mm256_add_epi32(
                    s32, _mm256_add_epi32(_mm256_madd_epi16(a2, sc[2]), _mm256_madd_epi16(a3, sc[3])));
            }
        }
        s32 = _mm256_sub_epi32(s32, _mm256_slli_epi32(offset, 5));
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s32), scales8(group, x[b].d), acc);
    }
    _mm256_storeu_ps(out, acc);
}

// ---- Q3_K: the 2-bit fields of a 32-byte vector give four element groups (k = 0..3) of 8 rows;
// with the high bit (one hmask vector per v serves both halves n) a quant is low + 4 high in
// 0..7, and the -4 comes out once per block: -4 Σ_j scale_j · bsum_j, from the Q8_K per-16
// sums, two sub-blocks per madd. A sub-block of 16 is 4 vectors whose maddubs sums (each below
// 2 · 7 · 128) add up in int16 before its scale is applied by madd.

// Quant values 0..7 of element group k of half n, from its qs vector and the v's hmask vector.
NW_AVX2 inline __m256i q3Values(__m256i qs, __m256i hmask, int n, int k)
{
    const __m256i low = _mm256_and_si256(_mm256_srli_epi16(qs, 2 * k), _mm256_set1_epi8(3));
    const int bit = 4 * n + k; // to bit 2: a 16-bit shift, then keep bit 2 of each byte
    const __m256i moved = bit >= 2 ? _mm256_srli_epi16(hmask, bit - 2) : _mm256_slli_epi16(hmask, 2 - bit);
    return _mm256_or_si256(low, _mm256_and_si256(moved, _mm256_set1_epi8(4)));
}

// Scale pair p as int16 (row r's scales 2p, 2p + 1 in lanes 2r, 2r + 1), and each of the two
// spread to both lanes of its row for madd with a sub-block's pair sums.
NW_AVX2 inline __m256i q3ScalePair(const std::byte *scales, int p)
{
    return _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i *>(scales + 16 * p)));
}

NW_AVX2 inline __m256i evenOfPairs(__m256i pair)
{
    return _mm256_shuffle_epi8(pair,
        _mm256_setr_epi8(
            0, 1, 0, 1, 4, 5, 4, 5, 8, 9, 8, 9, 12, 13, 12, 13, 0, 1, 0, 1, 4, 5, 4, 5, 8, 9, 8, 9, 12, 13, 12, 13));
}

NW_AVX2 inline __m256i oddOfPairs(__m256i pair)
{
    return _mm256_shuffle_epi8(pair,
        _mm256_setr_epi8(2, 3, 2, 3, 6, 7, 6, 7, 10, 11, 10, 11, 14, 15, 14, 15, 2, 3, 2, 3, 6, 7, 6, 7, 10, 11, 10, 11,
            14, 15, 14, 15));
}

// Σ_j scale_j · bsum_j per row: the offset the -4 multiplies.
NW_AVX2 inline __m256i q3Offset(const std::byte *scales, const std::int16_t *bsums)
{
    __m256i sum = _mm256_setzero_si256();
#pragma GCC unroll 8
    for (int p = 0; p < 8; ++p) {
        const __m256i pair = _mm256_set1_epi32(static_cast<int>(
            (static_cast<unsigned>(bsums[2 * p + 1]) << 16) | (static_cast<unsigned>(bsums[2 * p]) & 0xffffu)));
        sum = _mm256_add_epi32(sum, _mm256_madd_epi16(q3ScalePair(scales, p), pair));
    }
    return sum;
}

NW_AVX2 void groupQ3_K(
    const std::byte *group, const std::byte *act, const std::int32_t *, std::int64_t nBlocks, float *out)
{
    const auto *x = reinterpret_cast<const BlockQ8_K *>(act);
    __m256 acc = _mm256_setzero_ps();
    for (std::int64_t b = 0; b < nBlocks; ++b, group += kQ3_Kx8Bytes) {
        prefetchBlock<kQ3_Kx8Bytes>(group, 2 * kQ3_Kx8Bytes);
        const std::byte *scales = group + 16, *hmask = group + 144, *qs = group + 400;
        const std::int8_t *y = x[b].qs;
        __m256i s32 = _mm256_setzero_si256();
#pragma GCC unroll 2
        for (int n = 0; n < 2; ++n) {
#pragma GCC unroll 4
            for (int k = 0; k < 4; ++k) {
                __m256i lo16 = _mm256_setzero_si256(), hi16 = _mm256_setzero_si256(); // sub-blocks 8n+2k, +1
#pragma GCC unroll 8
                for (int v = 0; v < 8; ++v) {
                    const __m256i q = q3Values(load32(qs + 256 * n + 32 * v), load32(hmask + 32 * v), n, k);
                    const __m256i p = _mm256_maddubs_epi16(q, broadcast4(y + 128 * n + 32 * k + 4 * v));
                    if (v < 4)
                        lo16 = _mm256_add_epi16(lo16, p);
                    else
                        hi16 = _mm256_add_epi16(hi16, p);
                }
                const __m256i pair = q3ScalePair(scales, 4 * n + k);
                s32 = _mm256_add_epi32(s32,
                    _mm256_add_epi32(
                        _mm256_madd_epi16(lo16, evenOfPairs(pair)), _mm256_madd_epi16(hi16, oddOfPairs(pair))));
            }
        }
        s32 = _mm256_sub_epi32(s32, _mm256_slli_epi32(q3Offset(scales, x[b].bsums), 2));
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s32), scales8(group, x[b].d), acc);
    }
    _mm256_storeu_ps(out, acc);
}

// 8 rows x kTileTokens tokens of Q3_K: each vector's quants are built once for the tile.
NW_AVX2 void tileQ3_K(const std::byte *group, const std::byte *act, std::size_t actStride, const std::int32_t *,
    std::int64_t nBlocks, float *out)
{
    constexpr int T = kTileTokens;
    const BlockQ8_K *x[T];
    __m256 acc[T];
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) {
        x[t] = reinterpret_cast<const BlockQ8_K *>(act + static_cast<std::size_t>(t) * actStride);
        acc[t] = _mm256_setzero_ps();
    }
    for (std::int64_t b = 0; b < nBlocks; ++b, group += kQ3_Kx8Bytes) {
        prefetchBlock<kQ3_Kx8Bytes>(group, 2 * kQ3_Kx8Bytes);
        const std::byte *scales = group + 16, *hmask = group + 144, *qs = group + 400;
        __m256i s32[T];
#pragma GCC unroll 4
        for (int t = 0; t < T; ++t)
            s32[t] = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(q3Offset(scales, x[t][b].bsums), 2));
        for (int n = 0; n < 2; ++n) {
#pragma GCC unroll 4
            for (int k = 0; k < 4; ++k) {
                __m256i lo16[T], hi16[T];
#pragma GCC unroll 4
                for (int t = 0; t < T; ++t)
                    lo16[t] = hi16[t] = _mm256_setzero_si256();
#pragma GCC unroll 8
                for (int v = 0; v < 8; ++v) {
                    const __m256i q = q3Values(load32(qs + 256 * n + 32 * v), load32(hmask + 32 * v), n, k);
#pragma GCC unroll 4
                    for (int t = 0; t < T; ++t) {
                        const __m256i p = _mm256_maddubs_epi16(q, broadcast4(x[t][b].qs + 128 * n + 32 * k + 4 * v));
                        if (v < 4)
                            lo16[t] = _mm256_add_epi16(lo16[t], p);
                        else
                            hi16[t] = _mm256_add_epi16(hi16[t], p);
                    }
                }
                const __m256i pair = q3ScalePair(scales, 4 * n + k);
                const __m256i even = evenOfPairs(pair), odd = oddOfPairs(pair);
#pragma GCC unroll 4
                for (int t = 0; t < T; ++t)
                    s32[t] = _mm256_add_epi32(
                        s32[t], _mm256_add_epi32(_mm256_madd_epi16(lo16[t], even), _mm256_madd_epi16(hi16[t], odd)));
            }
        }
        const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i *>(group)));
#pragma GCC unroll 4
        for (int t = 0; t < T; ++t)
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s32[t]), _mm256_mul_ps(d, _mm256_set1_ps(x[t][b].d)), acc[t]);
    }
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t)
        _mm256_storeu_ps(out + 8 * t, acc[t]);
}

// ---- Q2_K: Q3_K's walk without the high bits; 4-bit scales and mins share a byte, and the mins
// meet the Q8_K per-16 sums two sub-blocks per madd.

NW_AVX2 inline __m256i q2Bytes(const std::byte *scales, int p)
{
    return _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i *>(scales + 16 * p)));
}

// Σ_j min_j · bsum_j per row.
NW_AVX2 inline __m256i q2Mins(const std::byte *scales, const std::int16_t *bsums)
{
    __m256i sum = _mm256_setzero_si256();
#pragma GCC unroll 8
    for (int p = 0; p < 8; ++p) {
        const __m256i pair = _mm256_set1_epi32(static_cast<int>(
            (static_cast<unsigned>(bsums[2 * p + 1]) << 16) | (static_cast<unsigned>(bsums[2 * p]) & 0xffffu)));
        sum = _mm256_add_epi32(sum, _mm256_madd_epi16(_mm256_srli_epi16(q2Bytes(scales, p), 4), pair));
    }
    return sum;
}

template <int T>
NW_AVX2 void q2Tile(
    const std::byte *group, const std::byte *act, std::size_t actStride, std::int64_t nBlocks, float *out)
{
    const BlockQ8_K *x[T];
    __m256 acc[T];
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) {
        x[t] = reinterpret_cast<const BlockQ8_K *>(act + static_cast<std::size_t>(t) * actStride);
        acc[t] = _mm256_setzero_ps();
    }
    const __m256i m3 = _mm256_set1_epi8(3), low4 = _mm256_set1_epi16(0x0f);
    for (std::int64_t b = 0; b < nBlocks; ++b, group += kQ2_Kx8Bytes) {
        prefetchBlock<kQ2_Kx8Bytes>(group, 2 * kQ2_Kx8Bytes);
        const std::byte *scales = group + 32, *qs = group + 160;
        __m256i s32[T];
#pragma GCC unroll 4
        for (int t = 0; t < T; ++t)
            s32[t] = _mm256_setzero_si256();
#pragma GCC unroll 2
        for (int n = 0; n < 2; ++n) {
#pragma GCC unroll 4
            for (int k = 0; k < 4; ++k) {
                __m256i lo16[T], hi16[T]; // sub-blocks 8n + 2k and 8n + 2k + 1
#pragma GCC unroll 4
                for (int t = 0; t < T; ++t)
                    lo16[t] = hi16[t] = _mm256_setzero_si256();
#pragma GCC unroll 8
                for (int v = 0; v < 8; ++v) {
                    const __m256i q = _mm256_and_si256(_mm256_srli_epi16(load32(qs + 256 * n + 32 * v), 2 * k), m3);
#pragma GCC unroll 4
                    for (int t = 0; t < T; ++t) {
                        const __m256i p = _mm256_maddubs_epi16(q, broadcast4(x[t][b].qs + 128 * n + 32 * k + 4 * v));
                        if (v < 4)
                            lo16[t] = _mm256_add_epi16(lo16[t], p);
                        else
                            hi16[t] = _mm256_add_epi16(hi16[t], p);
                    }
                }
                const __m256i pair = _mm256_and_si256(q2Bytes(scales, 4 * n + k), low4);
                const __m256i even = evenOfPairs(pair), odd = oddOfPairs(pair);
#pragma GCC unroll 4
                for (int t = 0; t < T; ++t)
                    s32[t] = _mm256_add_epi32(
                        s32[t], _mm256_add_epi32(_mm256_madd_epi16(lo16[t], even), _mm256_madd_epi16(hi16[t], odd)));
            }
        }
        const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i *>(group)));
        const __m256 dmin = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i *>(group + 16)));
#pragma GCC unroll 4
        for (int t = 0; t < T; ++t) {
            const __m256 dx = _mm256_set1_ps(x[t][b].d);
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s32[t]), _mm256_mul_ps(d, dx), acc[t]);
            acc[t]
                = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(q2Mins(scales, x[t][b].bsums)), _mm256_mul_ps(dmin, dx), acc[t]);
        }
    }
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t)
        _mm256_storeu_ps(out + 8 * t, acc[t]);
}

NW_AVX2 void groupQ2_K(
    const std::byte *group, const std::byte *act, const std::int32_t *, std::int64_t nBlocks, float *out)
{
    q2Tile<1>(group, act, 0, nBlocks, out);
}

NW_AVX2 void tileQ2_K(const std::byte *group, const std::byte *act, std::size_t actStride, const std::int32_t *,
    std::int64_t nBlocks, float *out)
{
    q2Tile<kTileTokens>(group, act, actStride, nBlocks, out);
}

// ---- IQ4_NL and MXFP4: Q4_0's layout with the nibbles looked up in a table of signed levels.
// A level times an int8 fills most of an int16 (|level| <= 127 for IQ4_NL), so maddubs takes
// |level| against the activation with the level's sign, and each product pair goes to int32
// at once.

NW_AVX2 inline __m256i table16(const std::int8_t *levels)
{
    return _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i *>(levels)));
}

// The 8 rows' weight scales times the activation's: f16 d (IQ4_NL) or E8M0 exponents (MXFP4,
// half of 2^(e - 127) as e8m0Half: e < 2 are the subnormals 2^-128 and 2^-127).
NW_AVX2 inline __m256 lutScales(const std::byte *group, TensorType type, float dx)
{
    if (type == TensorType::IQ4_NL)
        return scales8(group, dx);
    const __m256i e = _mm256_cvtepu8_epi32(load8(group));
    const __m256i normal = _mm256_slli_epi32(_mm256_sub_epi32(e, _mm256_set1_epi32(1)), 23);
    const __m256i subnormal = _mm256_sllv_epi32(_mm256_set1_epi32(0x00200000), e);
    const __m256i bits = _mm256_blendv_epi8(subnormal, normal, _mm256_cmpgt_epi32(e, _mm256_set1_epi32(1)));
    return _mm256_mul_ps(_mm256_castsi256_ps(bits), _mm256_set1_ps(dx));
}

template <TensorType type>
NW_AVX2 void groupLut(
    const std::byte *group, const std::byte *act, const std::int32_t *, std::int64_t nBlocks, float *out)
{
    constexpr std::size_t blockBytes = type == TensorType::IQ4_NL ? kIQ4_NLx8Bytes : kMXFP4x8Bytes;
    constexpr std::size_t qsOffset = blockBytes - 128;
    const auto *x = reinterpret_cast<const BlockQ8_0 *>(act);
    const __m256i levels = table16(type == TensorType::IQ4_NL ? kIq4nlValues : kMxfp4Values);
    const __m256i low4 = _mm256_set1_epi8(0x0f);
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc = _mm256_setzero_ps();
    for (std::int64_t b = 0; b < nBlocks; ++b, group += blockBytes) {
        prefetchBlock<blockBytes>(group, 16 * blockBytes);
        const std::byte *qs = group + qsOffset;
        const std::int8_t *xq = x[b].qs;
        __m256i s32 = _mm256_setzero_si256();
#pragma GCC unroll 4
        for (int v = 0; v < 4; ++v) {
            const __m256i w = load32(qs + 32 * v);
            const __m256i lo = _mm256_shuffle_epi8(levels, _mm256_and_si256(w, low4));
            const __m256i hi = _mm256_shuffle_epi8(levels, _mm256_and_si256(_mm256_srli_epi16(w, 4), low4));
            const __m256i pLo = _mm256_maddubs_epi16(_mm256_abs_epi8(lo), _mm256_sign_epi8(broadcast4(xq + 4 * v), lo));
            const __m256i pHi
                = _mm256_maddubs_epi16(_mm256_abs_epi8(hi), _mm256_sign_epi8(broadcast4(xq + 16 + 4 * v), hi));
            s32 = _mm256_add_epi32(s32, _mm256_add_epi32(_mm256_madd_epi16(pLo, ones), _mm256_madd_epi16(pHi, ones)));
        }
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s32), lutScales(group, type, _cvtsh_ss(x[b].d)), acc);
    }
    _mm256_storeu_ps(out, acc);
}

// 8 rows x kTileTokens tokens: the lookup and the |level| are done once per weight vector.
template <TensorType type>
NW_AVX2 void tileLut(const std::byte *group, const std::byte *act, std::size_t actStride, const std::int32_t *,
    std::int64_t nBlocks, float *out)
{
    constexpr int T = kTileTokens;
    constexpr std::size_t blockBytes = type == TensorType::IQ4_NL ? kIQ4_NLx8Bytes : kMXFP4x8Bytes;
    constexpr std::size_t qsOffset = blockBytes - 128;
    const BlockQ8_0 *x[T];
    __m256 acc[T];
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) {
        x[t] = reinterpret_cast<const BlockQ8_0 *>(act + static_cast<std::size_t>(t) * actStride);
        acc[t] = _mm256_setzero_ps();
    }
    const __m256i levels = table16(type == TensorType::IQ4_NL ? kIq4nlValues : kMxfp4Values);
    const __m256i low4 = _mm256_set1_epi8(0x0f);
    const __m256i ones = _mm256_set1_epi16(1);
    for (std::int64_t b = 0; b < nBlocks; ++b, group += blockBytes) {
        prefetchBlock<blockBytes>(group, 16 * blockBytes);
        const std::byte *qs = group + qsOffset;
        __m256i s32[T];
#pragma GCC unroll 4
        for (int t = 0; t < T; ++t)
            s32[t] = _mm256_setzero_si256();
#pragma GCC unroll 4
        for (int v = 0; v < 4; ++v) {
            const __m256i w = load32(qs + 32 * v);
            const __m256i lo = _mm256_shuffle_epi8(levels, _mm256_and_si256(w, low4));
            const __m256i hi = _mm256_shuffle_epi8(levels, _mm256_and_si256(_mm256_srli_epi16(w, 4), low4));
            const __m256i absLo = _mm256_abs_epi8(lo), absHi = _mm256_abs_epi8(hi);
#pragma GCC unroll 4
            for (int t = 0; t < T; ++t) {
                const __m256i pLo = _mm256_maddubs_epi16(absLo, _mm256_sign_epi8(broadcast4(x[t][b].qs + 4 * v), lo));
                const __m256i pHi
                    = _mm256_maddubs_epi16(absHi, _mm256_sign_epi8(broadcast4(x[t][b].qs + 16 + 4 * v), hi));
                s32[t] = _mm256_add_epi32(
                    s32[t], _mm256_add_epi32(_mm256_madd_epi16(pLo, ones), _mm256_madd_epi16(pHi, ones)));
            }
        }
#pragma GCC unroll 4
        for (int t = 0; t < T; ++t)
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s32[t]), lutScales(group, type, _cvtsh_ss(x[t][b].d)), acc[t]);
    }
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t)
        _mm256_storeu_ps(out + 8 * t, acc[t]);
}

} // namespace

PackedGroupDot avx2PackedDot(TensorType type)
{
    static const bool usable = [] {
        const CpuFeatures &f = cpuFeatures();
        return f.avx2 && f.fma && f.f16c;
    }();
    if (!usable)
        return nullptr;
    switch (type) {
    case TensorType::Q4_0:
        return groupQ4_0;
    case TensorType::Q8_0:
        return groupQ8_0;
    case TensorType::Q4_K:
        return groupQ4_K;
    case TensorType::Q6_K:
        return groupQ6_K;
    case TensorType::Q2_K:
        return groupQ2_K;
    case TensorType::Q3_K:
        return groupQ3_K;
    case TensorType::IQ4_NL:
        return groupLut<TensorType::IQ4_NL>;
    case TensorType::MXFP4:
        return groupLut<TensorType::MXFP4>;
    default:
        return nullptr;
    }
}

PackedGroupTile avx2PackedTile(TensorType type)
{
    if (!avx2PackedDot(type))
        return nullptr;
    switch (type) {
    case TensorType::Q4_0:
        return tileQ4_0;
    case TensorType::Q8_0:
        return tileQ8_0;
    case TensorType::Q4_K:
        return tileQ4_K;
    case TensorType::Q2_K:
        return tileQ2_K;
    case TensorType::Q3_K:
        return tileQ3_K;
    case TensorType::IQ4_NL:
        return tileLut<TensorType::IQ4_NL>;
    case TensorType::MXFP4:
        return tileLut<TensorType::MXFP4>;
    default:
        return nullptr;
    }
}

#else

PackedGroupDot avx2PackedDot(TensorType)
{
    return nullptr;
}

PackedGroupTile avx2PackedTile(TensorType)
{
    return nullptr;
}

#endif

} // namespace nw::cpu
