// TurboQuant_mse rows: random-sign Hadamard rotation, Lloyd–Max codes, tight bit packing.
#include "kernels/cpu/turbo_quant.h"

#include "common/assert.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/hadamard.h"
#include "kernels/float16.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#define NW_AVX2 __attribute__((target("avx2,fma")))
#endif

namespace nw {
namespace {

// The positive half of each codebook (the levels are symmetric), from Max (1960), "Quantizing
// for minimum distortion", Table I, to the digits a float64 Lloyd iteration gives.
constexpr std::array<float, 2> kHalf2 = { 0.4527800f, 1.5104176f };
constexpr std::array<float, 4> kHalf3 = { 0.2450941f, 0.7560052f, 1.3439092f, 2.1519457f };
constexpr std::array<float, 8> kHalf4
    = { 0.1283950f, 0.3880483f, 0.6567589f, 0.9423404f, 1.2562312f, 1.6180464f, 2.0690172f, 2.7325896f };

template <std::size_t N> constexpr std::array<float, 2 * N> symmetric(const std::array<float, N> &half)
{
    std::array<float, 2 * N> levels {};
    for (std::size_t i = 0; i < N; ++i) {
        levels[N - 1 - i] = -half[i];
        levels[N + i] = half[i];
    }
    return levels;
}

constexpr auto kLevels2 = symmetric(kHalf2);
constexpr auto kLevels3 = symmetric(kHalf3);
constexpr auto kLevels4 = symmetric(kHalf4);

// The fixed random signs D: bit i of a splitmix64 stream from a fixed seed (any fixed choice
// works; it only has to be the same for the rows and the queries).
constexpr std::uint64_t kSignSeed = 0x7475726271756174ull; // "turbquat"

std::uint64_t splitmix64(std::uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

void applySigns(float *x, std::size_t dim)
{
    for (std::size_t i0 = 0; i0 < dim; i0 += 64) {
        const std::uint64_t bits = splitmix64(kSignSeed + i0 / 64);
        for (std::size_t i = i0; i < std::min(dim, i0 + 64); ++i)
            if ((bits >> (i - i0)) & 1u)
                x[i] = -x[i];
    }
}

} // namespace

std::span<const float> lloydMaxLevels(int bits)
{
    switch (bits) {
    case 2:
        return kLevels2;
    case 3:
        return kLevels3;
    case 4:
        return kLevels4;
    }
    NW_ASSERT(false && "TurboQuant codes are 2, 3 or 4 bits");
    return {};
}

std::size_t turboHeadBytes(int bits, std::int64_t dim)
{
    NW_ASSERT(bits >= kTurboMinBits && bits <= kTurboMaxBits && dim > 0 && dim % 8 == 0);
    return sizeof(f16_t) + std::size_t(dim) / 8 * std::size_t(bits);
}

void turboRotate(float *x, std::size_t dim)
{
    applySigns(x, dim);
    hadamardRotate(x, dim, hadamardBlock(std::int64_t(dim)));
}

void turboRotateBack(float *x, std::size_t dim)
{
    hadamardRotate(x, dim, hadamardBlock(std::int64_t(dim))); // H/√n is its own inverse
    applySigns(x, dim);
}

void packTurboCodes(int bits, const std::uint8_t *codes, std::size_t n, std::byte *dst)
{
    NW_ASSERT(n % 8 == 0);
    // 8 codes fill exactly `bits` bytes.
    for (std::size_t i = 0; i < n; i += 8, dst += bits) {
        std::uint32_t word = 0;
        for (int k = 0; k < 8; ++k)
            word |= std::uint32_t(codes[i + std::size_t(k)]) << (k * bits);
        for (int b = 0; b < bits; ++b)
            dst[b] = std::byte(word >> (8 * b));
    }
}

void unpackTurboCodes(int bits, const std::byte *src, std::size_t n, std::uint8_t *codes)
{
    NW_ASSERT(n % 8 == 0);
    const std::uint32_t mask = (1u << bits) - 1;
    for (std::size_t i = 0; i < n; i += 8, src += bits) {
        std::uint32_t word = 0;
        for (int b = 0; b < bits; ++b)
            word |= std::uint32_t(src[b]) << (8 * b);
        for (int k = 0; k < 8; ++k)
            codes[i + std::size_t(k)] = std::uint8_t((word >> (k * bits)) & mask);
    }
}

void turboEncodeHead(int bits, const float *x, std::size_t dim, std::byte *dst)
{
    const std::span<const float> levels = lloydMaxLevels(bits);
    std::vector<float> u(x, x + dim);
    double squares = 0;
    for (const float v : u)
        squares += double(v) * v;
    const auto norm = float(std::sqrt(squares));
    turboRotate(u.data(), dim);
    // Coordinates of the rotated unit vector, in units of their standard deviation 1/√dim: the
    // nearest level is the number of decision thresholds (midpoints of the levels) below.
    const float toUnit = norm > 0 ? std::sqrt(float(dim)) / norm : 0.f;
    std::vector<std::uint8_t> codes(dim);
    double decoded = 0;
    for (std::size_t i = 0; i < dim; ++i) {
        const float z = u[i] * toUnit;
        int code = 0;
        for (std::size_t l = 0; l + 1 < levels.size(); ++l)
            code += z > 0.5f * (levels[l] + levels[l + 1]);
        codes[i] = std::uint8_t(code);
        decoded += double(levels[std::size_t(code)]) * levels[std::size_t(code)];
    }
    // The scale |x| / |ŷ| (|ŷ|² = Σ level² / dim): the decoded head keeps the norm of x.
    const f16_t stored = floatToFp16(float(norm * std::sqrt(double(dim) / decoded)));
    std::memcpy(dst, &stored, sizeof stored);
    packTurboCodes(bits, codes.data(), dim, dst + sizeof stored);
}

namespace {

// Each codebook in 16 aligned floats (zeros past its levels), for the table lookups.
struct alignas(32) PaddedLevels {
    float levels[1 << kTurboMaxBits] = {};
};

template <std::size_t N> constexpr PaddedLevels padded(const std::array<float, N> &levels)
{
    PaddedLevels p;
    for (std::size_t i = 0; i < N; ++i)
        p.levels[i] = levels[i];
    return p;
}

constexpr PaddedLevels kPadded[] = { padded(kLevels2), padded(kLevels3), padded(kLevels4) };

// What the codes of the head at src decode to: the levels times its scale / √dim.
float headScale(const std::byte *src, std::size_t dim)
{
    f16_t stored;
    std::memcpy(&stored, src, sizeof stored);
    return fp16ToFloat(stored) / std::sqrt(float(dim));
}

// Eight codes, little-endian in `Bits` bytes.
template <int Bits> std::uint32_t codeWord(const std::byte *src)
{
    std::uint32_t word = 0;
    for (int b = 0; b < Bits; ++b)
        word |= std::uint32_t(src[b]) << (8 * b);
    return word;
}

template <int Bits> void decodeScalarBits(const std::byte *src, std::size_t dim, float *y)
{
    const float scale = headScale(src, dim);
    float table[1 << Bits];
    for (int l = 0; l < (1 << Bits); ++l)
        table[l] = kPadded[Bits - 2].levels[l] * scale;
    src += sizeof(f16_t);
    for (std::size_t i = 0; i < dim; i += 8, src += Bits) {
        const std::uint32_t word = codeWord<Bits>(src);
        for (int k = 0; k < 8; ++k)
            y[i + std::size_t(k)] = table[(word >> (k * Bits)) & ((1u << Bits) - 1)];
    }
}

void decodeScalar(int bits, const std::byte *src, std::size_t dim, float *y)
{
    switch (bits) {
    case 2:
        return decodeScalarBits<2>(src, dim, y);
    case 3:
        return decodeScalarBits<3>(src, dim, y);
    default:
        return decodeScalarBits<4>(src, dim, y);
    }
}

#if defined(__x86_64__)
// Eight codes at a time: their `Bits` bytes broadcast to 8 lanes, each lane shifted to its code,
// then a register lookup (vpermps) in the 8-entry table; 4-bit codes pick from two tables by
// their top bit.
template <int Bits> NW_AVX2 void decodeAvx2Bits(const std::byte *src, std::size_t dim, float *y)
{
    const __m256 scale = _mm256_set1_ps(headScale(src, dim));
    const __m256 low = _mm256_mul_ps(_mm256_load_ps(kPadded[Bits - 2].levels), scale);
    const __m256 high = _mm256_mul_ps(_mm256_load_ps(kPadded[Bits - 2].levels + 8), scale);
    const __m256i shifts = _mm256_setr_epi32(0, Bits, 2 * Bits, 3 * Bits, 4 * Bits, 5 * Bits, 6 * Bits, 7 * Bits);
    const __m256i mask = _mm256_set1_epi32((1 << Bits) - 1);
    src += sizeof(f16_t);
    for (std::size_t i = 0; i < dim; i += 8, src += Bits) {
        const auto word = static_cast<int>(codeWord<Bits>(src));
        const __m256i codes = _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32(word), shifts), mask);
        __m256 v = _mm256_permutevar8x32_ps(low, codes);
        if constexpr (Bits == 4) // code bit 3 moved to the sign bit selects the high table
            v = _mm256_blendv_ps(
                v, _mm256_permutevar8x32_ps(high, codes), _mm256_castsi256_ps(_mm256_slli_epi32(codes, 28)));
        _mm256_storeu_ps(y + i, v);
    }
}

NW_AVX2 void decodeAvx2(int bits, const std::byte *src, std::size_t dim, float *y)
{
    switch (bits) {
    case 2:
        return decodeAvx2Bits<2>(src, dim, y);
    case 3:
        return decodeAvx2Bits<3>(src, dim, y);
    default:
        return decodeAvx2Bits<4>(src, dim, y);
    }
}
#endif

} // namespace

TurboDecodeFn turboDecodeScalar()
{
    return decodeScalar;
}

TurboDecodeFn turboDecodeAvx2()
{
#if defined(__x86_64__)
    if (cpu::cpuFeatures().avx2)
        return decodeAvx2;
#endif
    return nullptr;
}

void turboDecodeRotated(int bits, const std::byte *src, std::size_t dim, float *y)
{
    static const TurboDecodeFn decode = turboDecodeAvx2() ? turboDecodeAvx2() : turboDecodeScalar();
    decode(bits, src, dim, y);
}

void turboDequantizeRow(int bits, const std::byte *src, std::size_t nHeads, std::size_t dim, float *dst)
{
    const std::size_t headBytes = turboHeadBytes(bits, std::int64_t(dim));
    for (std::size_t h = 0; h < nHeads; ++h) {
        turboDecodeRotated(bits, src + h * headBytes, dim, dst + h * dim);
        turboRotateBack(dst + h * dim, dim);
    }
}

} // namespace nw
