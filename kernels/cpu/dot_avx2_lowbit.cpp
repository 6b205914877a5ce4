// AVX2 dot products of Q2_K, Q3_K, IQ4_NL, IQ4_XS, MXFP4 and the IQ2/IQ3 grid types with their
// activation blocks (Q8_K for the 256-blocks, Q8_0 for IQ4_NL and MXFP4, as ggml-cpu pairs them). Layouts in
// kernels/tensor_type.h; the scalar kernels in dot_scalar.cpp are the yardstick.
#include "kernels/cpu/dot_avx2_lowbit.h"

#if defined(__x86_64__)

#include "kernels/cpu/avx2_common.h"
#include "kernels/cpu/iq_grids.h"

#include <cstring>

namespace nw::cpu::avx2 {
namespace {

NW_AVX2 inline __m256i load32(const void *p)
{
    return _mm256_loadu_si256(reinterpret_cast<const __m256i *>(p));
}

// Unsigned scale bytes sc[2m] and sc[2m+1] (of 16 in `scales`, repeated in both 128-bit lanes)
// as int16 lanes: the low 128 bits all sc[2m], the high 128 bits all sc[2m+1] — the multipliers
// of one 32-value group's two sub-blocks of 16 after maddubs.
NW_AVX2 inline __m256i scalePairU8(__m256i scales, int m)
{
    // Control bytes per int16: the scale's index in the low byte, 0x80 (= zero) in the high one.
    const __m256i base
        = _mm256_setr_m128i(_mm_set1_epi16(static_cast<short>(0x8000)), _mm_set1_epi16(static_cast<short>(0x8001)));
    return _mm256_shuffle_epi8(scales, _mm256_add_epi16(base, _mm256_set1_epi16(static_cast<short>(2 * m))));
}

// The same for signed scale bytes: shuffled into the high byte of each int16, then shifted down
// arithmetically so the sign extends.
NW_AVX2 inline __m256i scalePairI8(__m256i scales, int m)
{
    const __m256i base = _mm256_setr_m128i(_mm_set1_epi16(0x0080), _mm_set1_epi16(0x0180));
    const __m256i control = _mm256_add_epi16(base, _mm256_set1_epi16(static_cast<short>(2 * m << 8)));
    return _mm256_srai_epi16(_mm256_shuffle_epi8(scales, control), 8);
}

// Bit b of each byte moved to bit 2 (value 0 or 4); b is a constant once the loops unroll.
NW_AVX2 inline __m256i bitAsFour(__m256i bytes, int b)
{
    const __m256i moved = b >= 2 ? _mm256_srli_epi16(bytes, b - 2) : _mm256_slli_epi16(bytes, 2 - b);
    return _mm256_and_si256(moved, _mm256_set1_epi8(4));
}

// Q3_K's 16 signed scales as unpackQ3Scales (tensor_type.h) computes them, in a register: going
// through memory would stall on the 16 byte stores a 16-byte load then reads.
NW_AVX2 inline __m128i q3Scales(const std::uint8_t *packed)
{
    std::uint32_t a, b, c;
    std::memcpy(&a, packed, 4);
    std::memcpy(&b, packed + 4, 4);
    std::memcpy(&c, packed + 8, 4);
    const __m128i low = _mm_and_si128(
        _mm_setr_epi32(static_cast<int>(a), static_cast<int>(b), static_cast<int>(a >> 4), static_cast<int>(b >> 4)),
        _mm_set1_epi8(0x0f));
    const __m128i high = _mm_and_si128(_mm_setr_epi32(static_cast<int>(c), static_cast<int>(c >> 2),
                                           static_cast<int>(c >> 4), static_cast<int>(c >> 6)),
        _mm_set1_epi8(3));
    return _mm_sub_epi8(_mm_or_si128(low, _mm_slli_epi16(high, 4)), _mm_set1_epi8(32));
}

// A 16-entry int8 table in both lanes, looked up by 32 nibbles.
NW_AVX2 inline __m256i lookup16(const std::int8_t *table)
{
    return _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i *>(table)));
}

} // namespace

// Q2_K: per 128 values one 32-byte load holds four 32-value groups at bit pairs 0, 2, 4, 6; a
// group's maddubs leaves its two sub-blocks of 16 in the two 128-bit lanes, where madd applies
// their scales. The mins meet the Q8_K per-16 sums in one madd per block. N activation rows
// share each unpacked weight vector (N = 1: decode).
template <int N>
NW_AVX2 void manyQ2_K(const std::byte *w, const std::byte *x, std::size_t xStride, std::int64_t cols, float *out)
{
    const auto *wb = reinterpret_cast<const BlockQ2_K *>(w);
    const BlockQ8_K *xb[N];
    __m256 acc[N];
#pragma GCC unroll 4
    for (int t = 0; t < N; ++t) {
        xb[t] = reinterpret_cast<const BlockQ8_K *>(x + std::size_t(t) * xStride);
        acc[t] = _mm256_setzero_ps();
    }
    const __m256i m3 = _mm256_set1_epi8(3);
    const __m128i low4 = _mm_set1_epi8(0x0f);
    for (std::int64_t i = 0; i < cols / 256; ++i) {
        const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i *>(wb[i].scales));
        const __m256i scales = _mm256_broadcastsi128_si256(_mm_and_si128(packed, low4));
        const __m256i mins = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(packed, 4), low4));
        __m256i sumi[N];
#pragma GCC unroll 4
        for (int t = 0; t < N; ++t)
            sumi[t] = _mm256_setzero_si256();
#pragma GCC unroll 2
        for (int n = 0; n < 2; ++n) {
            const __m256i q = load32(wb[i].qs + 32 * n);
#pragma GCC unroll 4
            for (int k = 0; k < 4; ++k) {
                const __m256i qk = _mm256_and_si256(_mm256_srli_epi16(q, 2 * k), m3);
                const __m256i sc = scalePairU8(scales, 4 * n + k);
#pragma GCC unroll 4
                for (int t = 0; t < N; ++t) {
                    const __m256i p = _mm256_maddubs_epi16(qk, load32(xb[t][i].qs + 128 * n + 32 * k));
                    sumi[t] = _mm256_add_epi32(sumi[t], _mm256_madd_epi16(p, sc));
                }
            }
        }
        const float d = f16(wb[i].d), dmin = f16(wb[i].dmin);
#pragma GCC unroll 4
        for (int t = 0; t < N; ++t) {
            const __m256i summ = _mm256_madd_epi16(mins, load32(xb[t][i].bsums));
            acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(xb[t][i].d * d), _mm256_cvtepi32_ps(sumi[t]), acc[t]);
            acc[t] = _mm256_fnmadd_ps(_mm256_set1_ps(xb[t][i].d * dmin), _mm256_cvtepi32_ps(summ), acc[t]);
        }
    }
#pragma GCC unroll 4
    for (int t = 0; t < N; ++t)
        out[t] = hsum(acc[t]);
}

// Q3_K: q = low2 + 4 high - 4. The unsigned part low2 + 4 high (0..7) is built once per 32 values
// and each activation row costs one maddubs and one madd with the signed 6-bit scales; the - 4
// comes out once per block from the Q8_K per-16 sums: -4 · Σ_j scale_j · bsum_j.
template <int N>
NW_AVX2 void manyQ3_K(const std::byte *w, const std::byte *x, std::size_t xStride, std::int64_t cols, float *out)
{
    const auto *wb = reinterpret_cast<const BlockQ3_K *>(w);
    const BlockQ8_K *xb[N];
    __m256 acc[N];
#pragma GCC unroll 4
    for (int t = 0; t < N; ++t) {
        xb[t] = reinterpret_cast<const BlockQ8_K *>(x + std::size_t(t) * xStride);
        acc[t] = _mm256_setzero_ps();
    }
    const __m256i m3 = _mm256_set1_epi8(3);
    for (std::int64_t i = 0; i < cols / 256; ++i) {
        const __m128i sc = q3Scales(wb[i].scales);
        const __m256i scales = _mm256_broadcastsi128_si256(sc);
        const __m256i scales16 = _mm256_cvtepi8_epi16(sc);
        const __m256i high = load32(wb[i].hmask);
        __m256i sumi[N];
#pragma GCC unroll 4
        for (int t = 0; t < N; ++t) // -4 Σ_j scale_j bsum_j, spread over the 8 lanes
            sumi[t] = _mm256_sub_epi32(
                _mm256_setzero_si256(), _mm256_slli_epi32(_mm256_madd_epi16(scales16, load32(xb[t][i].bsums)), 2));
#pragma GCC unroll 2
        for (int n = 0; n < 2; ++n) {
            const __m256i q = load32(wb[i].qs + 32 * n);
#pragma GCC unroll 4
            for (int k = 0; k < 4; ++k) {
                const __m256i qk
                    = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 2 * k), m3), bitAsFour(high, 4 * n + k));
                const __m256i scale = scalePairI8(scales, 4 * n + k);
#pragma GCC unroll 4
                for (int t = 0; t < N; ++t) {
                    const __m256i p = _mm256_maddubs_epi16(qk, load32(xb[t][i].qs + 128 * n + 32 * k));
                    sumi[t] = _mm256_add_epi32(sumi[t], _mm256_madd_epi16(p, scale));
                }
            }
        }
        const float d = f16(wb[i].d);
#pragma GCC unroll 4
        for (int t = 0; t < N; ++t)
            acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(xb[t][i].d * d), _mm256_cvtepi32_ps(sumi[t]), acc[t]);
    }
#pragma GCC unroll 4
    for (int t = 0; t < N; ++t)
        out[t] = hsum(acc[t]);
}

// IQ4_NL: the nibbles look their int8 levels up with one shuffle; then as Q8_0 · Q8_0.
NW_AVX2 float dotIQ4_NL(const std::byte *w, const std::byte *x, std::int64_t cols)
{
    const auto *wb = reinterpret_cast<const BlockIQ4_NL *>(w);
    const auto *xb = reinterpret_cast<const BlockQ8_0 *>(x);
    const __m256i levels = lookup16(kIq4nlValues);
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    const std::int64_t n = cols / 32;
    std::int64_t i = 0;
    for (; i + 2 <= n; i += 2) {
        const __m256i a0 = _mm256_shuffle_epi8(levels, nibbles(wb[i].qs));
        const __m256i a1 = _mm256_shuffle_epi8(levels, nibbles(wb[i + 1].qs));
        const __m256i p0 = dotI8(a0, load32(xb[i].qs));
        const __m256i p1 = dotI8(a1, load32(xb[i + 1].qs));
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(f16(wb[i].d) * f16(xb[i].d)), _mm256_cvtepi32_ps(p0), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_set1_ps(f16(wb[i + 1].d) * f16(xb[i + 1].d)), _mm256_cvtepi32_ps(p1), acc1);
    }
    for (; i < n; ++i) {
        const __m256i a = _mm256_shuffle_epi8(levels, nibbles(wb[i].qs));
        acc0 = _mm256_fmadd_ps(
            _mm256_set1_ps(f16(wb[i].d) * f16(xb[i].d)), _mm256_cvtepi32_ps(dotI8(a, load32(xb[i].qs))), acc0);
    }
    return hsum(_mm256_add_ps(acc0, acc1));
}

// IQ4_XS: IQ4_NL's lookup per sub-block of 32, its 6-bit scale applied by madd.
template <int N>
NW_AVX2 void manyIQ4_XS(const std::byte *w, const std::byte *x, std::size_t xStride, std::int64_t cols, float *out)
{
    const auto *wb = reinterpret_cast<const BlockIQ4_XS *>(w);
    const BlockQ8_K *xb[N];
    __m256 acc[N];
#pragma GCC unroll 4
    for (int t = 0; t < N; ++t) {
        xb[t] = reinterpret_cast<const BlockQ8_K *>(x + std::size_t(t) * xStride);
        acc[t] = _mm256_setzero_ps();
    }
    const __m256i levels = lookup16(kIq4nlValues);
    const __m256i low4 = _mm256_set1_epi8(0x0f);
    for (std::int64_t i = 0; i < cols / 256; ++i) {
        __m256i sumi[N];
#pragma GCC unroll 4
        for (int t = 0; t < N; ++t)
            sumi[t] = _mm256_setzero_si256();
// Two sub-blocks per 32-byte load: its low nibbles are the first 16 values of sub-blocks
// s and s + 1 (one per 128-bit lane), its high nibbles their last 16; the activations are
// regrouped to match and each lane gets its sub-block's scale.
#pragma GCC unroll 4
        for (int s = 0; s < 8; s += 2) {
            const __m256i bits = load32(wb[i].qs + 16 * s);
            const __m256i lo = _mm256_shuffle_epi8(levels, _mm256_and_si256(bits, low4));
            const __m256i hi = _mm256_shuffle_epi8(levels, _mm256_and_si256(_mm256_srli_epi16(bits, 4), low4));
            const __m256i absLo = _mm256_sign_epi8(lo, lo), absHi = _mm256_sign_epi8(hi, hi);
            const __m256i scales = _mm256_setr_m128i(_mm_set1_epi16(static_cast<short>(iq4xsScale(wb[i], s))),
                _mm_set1_epi16(static_cast<short>(iq4xsScale(wb[i], s + 1))));
#pragma GCC unroll 4
            for (int t = 0; t < N; ++t) {
                const __m256i y0 = load32(xb[t][i].qs + 32 * s), y1 = load32(xb[t][i].qs + 32 * s + 32);
                const __m256i yLo = _mm256_sign_epi8(_mm256_permute2x128_si256(y0, y1, 0x20), lo);
                const __m256i yHi = _mm256_sign_epi8(_mm256_permute2x128_si256(y0, y1, 0x31), hi);
                const __m256i p = _mm256_add_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(absLo, yLo), scales),
                    _mm256_madd_epi16(_mm256_maddubs_epi16(absHi, yHi), scales));
                sumi[t] = _mm256_add_epi32(sumi[t], p);
            }
        }
        const float d = f16(wb[i].d);
#pragma GCC unroll 4
        for (int t = 0; t < N; ++t)
            acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(xb[t][i].d * d), _mm256_cvtepi32_ps(sumi[t]), acc[t]);
    }
#pragma GCC unroll 4
    for (int t = 0; t < N; ++t)
        out[t] = hsum(acc[t]);
}

// IQ4_NL / MXFP4 (blocks of 32 against Q8_0): the nibbles' levels from one shuffle, then as
// Q8_0 · Q8_0; `scale` gives a block's weight scale.
template <int N, typename Block, float (*scale)(const Block &)>
NW_AVX2 void manyLut32(const std::byte *w, const std::byte *x, std::size_t xStride, std::int64_t cols, float *out,
    const std::int8_t *table)
{
    const auto *wb = reinterpret_cast<const Block *>(w);
    const BlockQ8_0 *xb[N];
    __m256 acc[N];
#pragma GCC unroll 4
    for (int t = 0; t < N; ++t) {
        xb[t] = reinterpret_cast<const BlockQ8_0 *>(x + std::size_t(t) * xStride);
        acc[t] = _mm256_setzero_ps();
    }
    const __m256i levels = lookup16(table);
    const __m256i ones = _mm256_set1_epi16(1);
    for (std::int64_t i = 0; i < cols / 32; ++i) {
        const __m256i a = _mm256_shuffle_epi8(levels, nibbles(wb[i].qs));
        const __m256i absA = _mm256_sign_epi8(a, a);
        const float dw = scale(wb[i]);
#pragma GCC unroll 4
        for (int t = 0; t < N; ++t) {
            const __m256i y = _mm256_sign_epi8(load32(xb[t][i].qs), a);
            const __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(absA, y), ones);
            acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(dw * f16(xb[t][i].d)), _mm256_cvtepi32_ps(p), acc[t]);
        }
    }
#pragma GCC unroll 4
    for (int t = 0; t < N; ++t)
        out[t] = hsum(acc[t]);
}

NW_AVX2 inline float iq4nlScale(const BlockIQ4_NL &b)
{
    return f16(b.d);
}

NW_AVX2 inline float mxfp4Scale(const BlockMXFP4 &b)
{
    return e8m0Half(b.e);
}

template <int N>
NW_AVX2 void manyIQ4_NL(const std::byte *w, const std::byte *x, std::size_t xStride, std::int64_t cols, float *out)
{
    manyLut32<N, BlockIQ4_NL, iq4nlScale>(w, x, xStride, cols, out, kIq4nlValues);
}

template <int N>
NW_AVX2 void manyMXFP4(const std::byte *w, const std::byte *x, std::size_t xStride, std::int64_t cols, float *out)
{
    manyLut32<N, BlockMXFP4, mxfp4Scale>(w, x, xStride, cols, out, kMxfp4Values);
}

// MXFP4: as IQ4_NL with the doubled e2m1 levels and half the E8M0 scale.
NW_AVX2 float dotMXFP4(const std::byte *w, const std::byte *x, std::int64_t cols)
{
    const auto *wb = reinterpret_cast<const BlockMXFP4 *>(w);
    const auto *xb = reinterpret_cast<const BlockQ8_0 *>(x);
    const __m256i levels = lookup16(kMxfp4Values);
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    const std::int64_t n = cols / 32;
    std::int64_t i = 0;
    for (; i + 2 <= n; i += 2) {
        const __m256i a0 = _mm256_shuffle_epi8(levels, nibbles(wb[i].qs));
        const __m256i a1 = _mm256_shuffle_epi8(levels, nibbles(wb[i + 1].qs));
        const __m256i p0 = dotI8(a0, load32(xb[i].qs));
        const __m256i p1 = dotI8(a1, load32(xb[i + 1].qs));
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(e8m0Half(wb[i].e) * f16(xb[i].d)), _mm256_cvtepi32_ps(p0), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_set1_ps(e8m0Half(wb[i + 1].e) * f16(xb[i + 1].d)), _mm256_cvtepi32_ps(p1), acc1);
    }
    for (; i < n; ++i) {
        const __m256i a = _mm256_shuffle_epi8(levels, nibbles(wb[i].qs));
        acc0 = _mm256_fmadd_ps(
            _mm256_set1_ps(e8m0Half(wb[i].e) * f16(xb[i].d)), _mm256_cvtepi32_ps(dotI8(a, load32(xb[i].qs))), acc0);
    }
    return hsum(_mm256_add_ps(acc0, acc1));
}

// ---- entry points: decode is the one-row form; prefill runs the 4-row form over row groups.

NW_AVX2 float dotQ2_K(const std::byte *w, const std::byte *x, std::int64_t cols)
{
    float out;
    manyQ2_K<1>(w, x, 0, cols, &out);
    return out;
}

NW_AVX2 float dotQ3_K(const std::byte *w, const std::byte *x, std::int64_t cols)
{
    float out;
    manyQ3_K<1>(w, x, 0, cols, &out);
    return out;
}

NW_AVX2 float dotIQ4_XS(const std::byte *w, const std::byte *x, std::int64_t cols)
{
    float out;
    manyIQ4_XS<1>(w, x, 0, cols, &out);
    return out;
}

NW_DOT_MANY(dotManyQ2_K, manyQ2_K)
NW_DOT_MANY(dotManyQ3_K, manyQ3_K)
NW_DOT_MANY(dotManyIQ4_XS, manyIQ4_XS)
NW_DOT_MANY(dotManyIQ4_NL, manyIQ4_NL)
NW_DOT_MANY(dotManyMXFP4, manyMXFP4)

// ---- IQ2/IQ3 grid types: per 32 values the grid entries are gathered into one register of
// unsigned magnitudes, the signs are moved onto the activations (sign_epi8 with ±1 bytes from
// kSignMultipliers), and one maddubs + madd with the scale multiplier (2 s + 1) sums them.

namespace {

NW_AVX2 inline std::uint32_t u32At(const void *p)
{
    std::uint32_t v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

// Magnitudes (unsigned, <= 62) x signed activations → 16 int16 pair sums, times `scales` (int16
// lanes) → 8 int32.
NW_AVX2 inline __m256i gridProducts(__m256i magnitudes, __m256i signs, const std::int8_t *y, __m256i scales)
{
    const __m256i signedY = _mm256_sign_epi8(load32(y), signs);
    return _mm256_madd_epi16(_mm256_maddubs_epi16(magnitudes, signedY), scales);
}

} // namespace

// One 32-value group of a grid type: unsigned magnitudes, ±1 sign bytes, the scale multiplier
// (2 s + 1) as int16 lanes (two different ones in the 128-bit halves for IQ2_XS / IQ2_S).
struct GridGroup {
    __m256i magnitudes, signs, scales;
};

// Grid entries and sign multipliers are loaded one by one and inserted: on the machine this was
// tuned on (EPYC, AVX-512 capable, AVX2 kernels) a vpgather was slower than the inserts for the
// IQ2 types (2.3 vs 1.5 ms for a 2048 x 8192 IQ2_XXS decode, bench_matmul_bandwidth).
NW_AVX2 inline __m256i entries4(
    const std::uint64_t *table, std::uint32_t a, std::uint32_t b, std::uint32_t c, std::uint32_t d)
{
    return _mm256_setr_epi64x(static_cast<long long>(table[a]), static_cast<long long>(table[b]),
        static_cast<long long>(table[c]), static_cast<long long>(table[d]));
}

NW_AVX2 inline __m256i entries8(const std::uint32_t *table, const std::uint32_t *k)
{
    return _mm256_setr_epi32(static_cast<int>(table[k[0]]), static_cast<int>(table[k[1]]),
        static_cast<int>(table[k[2]]), static_cast<int>(table[k[3]]), static_cast<int>(table[k[4]]),
        static_cast<int>(table[k[5]]), static_cast<int>(table[k[6]]), static_cast<int>(table[k[7]]));
}

// Sign multipliers of four 7-bit codes at bits 0, 7, 14, 21 of `meta`.
NW_AVX2 inline __m256i evenSigns(std::uint32_t meta)
{
    return entries4(kEvenSignMultipliers.v, meta & 127, (meta >> 7) & 127, (meta >> 14) & 127, (meta >> 21) & 127);
}

// Sign multipliers of four explicit sign bytes.
NW_AVX2 inline __m256i byteSigns(const std::uint8_t *s)
{
    return entries4(kSignMultipliers.v, s[0], s[1], s[2], s[3]);
}

NW_AVX2 inline GridGroup groupIQ2_XXS(const BlockIQ2_XXS &b, int ib)
{
    const std::uint32_t idx = u32At(b.qs + 4 * ib), meta = u32At(b.qs + 4 * ib + 2);
    return { entries4(kIq2xxsGrid, idx & 0xff, (idx >> 8) & 0xff, (idx >> 16) & 0xff, idx >> 24), evenSigns(meta),
        _mm256_set1_epi16(static_cast<short>(2 * (meta >> 28) + 1)) };
}

NW_AVX2 inline __m256i nibbleScales(int scale)
{
    return _mm256_setr_m128i(_mm_set1_epi16(static_cast<short>(2 * (scale & 0x0f) + 1)),
        _mm_set1_epi16(static_cast<short>(2 * (scale >> 4) + 1)));
}

NW_AVX2 inline GridGroup groupIQ2_XS(const BlockIQ2_XS &b, int ib)
{
    const std::uint16_t *q = b.qs + 4 * ib; // 9-bit grid index, 7-bit sign code
    return { entries4(kIq2xsGrid, q[0] & 511u, q[1] & 511u, q[2] & 511u, q[3] & 511u),
        entries4(kEvenSignMultipliers.v, q[0] >> 9, q[1] >> 9, q[2] >> 9, q[3] >> 9), nibbleScales(b.scales[ib]) };
}

NW_AVX2 inline GridGroup groupIQ2_S(const BlockIQ2_S &b, int ib)
{
    // 10-bit indices: a qs byte, and bits 2l, 2l + 1 of the group's qh byte above it.
    const std::uint8_t *q = b.qs + 4 * ib;
    const std::uint32_t h = b.qh[ib];
    return { entries4(kIq2sGrid, q[0] | ((h << 8) & 0x300u), q[1] | ((h << 6) & 0x300u), q[2] | ((h << 4) & 0x300u),
                 q[3] | ((h << 2) & 0x300u)),
        byteSigns(b.qs + 32 + 4 * ib), nibbleScales(b.scales[ib]) };
}

NW_AVX2 inline GridGroup groupIQ3_XXS(const BlockIQ3_XXS &b, int ib)
{
    const std::uint8_t *q = b.qs + 8 * ib;
    const std::uint32_t k[8] = { q[0], q[1], q[2], q[3], q[4], q[5], q[6], q[7] };
    const std::uint32_t meta = u32At(b.qs + 64 + 4 * ib);
    return { entries8(kIq3xxsGrid, k), evenSigns(meta), _mm256_set1_epi16(static_cast<short>(2 * (meta >> 28) + 1)) };
}

NW_AVX2 inline GridGroup groupIQ3_S(const BlockIQ3_S &b, int ib)
{
    // 9-bit indices: a qs byte, and bit j of the group's qh byte above it.
    const std::uint8_t *q = b.qs + 8 * ib;
    const std::uint32_t h = b.qh[ib];
    std::uint32_t k[8];
#pragma GCC unroll 8
    for (int j = 0; j < 8; ++j)
        k[j] = q[j] | ((h << (8 - j)) & 256u);
    const int scale = (b.scales[ib / 2] >> (4 * (ib % 2))) & 0x0f;
    return { entries8(kIq3sGrid, k), byteSigns(b.signs + 4 * ib),
        _mm256_set1_epi16(static_cast<short>(2 * scale + 1)) };
}

// N activation rows against one row of a grid type; 1 / `inverseFactor` is the type's constant
// (1/8 for IQ2, 1/4 for IQ3_XXS, 1 for IQ3_S; a power of two, so the quotient is exact). An int,
// not a float template parameter: Debian 12's clang 14 does not take floats there.
template <int N, typename Block, GridGroup (*unpack)(const Block &, int), int inverseFactor>
NW_AVX2 void manyGrid(const std::byte *w, const std::byte *x, std::size_t xStride, std::int64_t cols, float *out)
{
    constexpr float factor = 1.0f / inverseFactor;
    const auto *wb = reinterpret_cast<const Block *>(w);
    const BlockQ8_K *xb[N];
    __m256 acc[N];
#pragma GCC unroll 4
    for (int t = 0; t < N; ++t) {
        xb[t] = reinterpret_cast<const BlockQ8_K *>(x + std::size_t(t) * xStride);
        acc[t] = _mm256_setzero_ps();
    }
    for (std::int64_t i = 0; i < cols / 256; ++i) {
        __m256i sumi[N];
#pragma GCC unroll 4
        for (int t = 0; t < N; ++t)
            sumi[t] = _mm256_setzero_si256();
#pragma GCC unroll 2
        for (int ib = 0; ib < 8; ++ib) {
            const GridGroup g = unpack(wb[i], ib);
#pragma GCC unroll 4
            for (int t = 0; t < N; ++t)
                sumi[t]
                    = _mm256_add_epi32(sumi[t], gridProducts(g.magnitudes, g.signs, xb[t][i].qs + 32 * ib, g.scales));
        }
        const float d = f16(wb[i].d) * factor;
#pragma GCC unroll 4
        for (int t = 0; t < N; ++t)
            acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(xb[t][i].d * d), _mm256_cvtepi32_ps(sumi[t]), acc[t]);
    }
#pragma GCC unroll 4
    for (int t = 0; t < N; ++t)
        out[t] = hsum(acc[t]);
}

template <int N>
NW_AVX2 void manyIQ2_XXS(const std::byte *w, const std::byte *x, std::size_t xStride, std::int64_t cols, float *out)
{
    manyGrid<N, BlockIQ2_XXS, groupIQ2_XXS, 8>(w, x, xStride, cols, out);
}

template <int N>
NW_AVX2 void manyIQ2_XS(const std::byte *w, const std::byte *x, std::size_t xStride, std::int64_t cols, float *out)
{
    manyGrid<N, BlockIQ2_XS, groupIQ2_XS, 8>(w, x, xStride, cols, out);
}

template <int N>
NW_AVX2 void manyIQ2_S(const std::byte *w, const std::byte *x, std::size_t xStride, std::int64_t cols, float *out)
{
    manyGrid<N, BlockIQ2_S, groupIQ2_S, 8>(w, x, xStride, cols, out);
}

template <int N>
NW_AVX2 void manyIQ3_XXS(const std::byte *w, const std::byte *x, std::size_t xStride, std::int64_t cols, float *out)
{
    manyGrid<N, BlockIQ3_XXS, groupIQ3_XXS, 4>(w, x, xStride, cols, out);
}

template <int N>
NW_AVX2 void manyIQ3_S(const std::byte *w, const std::byte *x, std::size_t xStride, std::int64_t cols, float *out)
{
    manyGrid<N, BlockIQ3_S, groupIQ3_S, 1>(w, x, xStride, cols, out);
}

#define NW_GRID_DOT(name, kernel)                                                                                      \
    NW_AVX2 float name(const std::byte *w, const std::byte *x, std::int64_t cols)                                      \
    {                                                                                                                  \
        float out;                                                                                                     \
        kernel<1>(w, x, 0, cols, &out);                                                                                \
        return out;                                                                                                    \
    }

NW_GRID_DOT(dotIQ2_XXS, manyIQ2_XXS)
NW_GRID_DOT(dotIQ2_XS, manyIQ2_XS)
NW_GRID_DOT(dotIQ2_S, manyIQ2_S)
NW_GRID_DOT(dotIQ3_XXS, manyIQ3_XXS)
NW_GRID_DOT(dotIQ3_S, manyIQ3_S)
#undef NW_GRID_DOT

NW_DOT_MANY(dotManyIQ2_XXS, manyIQ2_XXS)
NW_DOT_MANY(dotManyIQ2_XS, manyIQ2_XS)
NW_DOT_MANY(dotManyIQ2_S, manyIQ2_S)
NW_DOT_MANY(dotManyIQ3_XXS, manyIQ3_XXS)
NW_DOT_MANY(dotManyIQ3_S, manyIQ3_S)

} // namespace nw::cpu::avx2

#endif
