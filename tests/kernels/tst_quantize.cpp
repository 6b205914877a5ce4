// Block formats: hand-made blocks against values computed by hand from ggml's documented
// layouts (ggml-common.h), and quantize -> dequantize round trips within stated bounds.
#include "kernels/cpu/quantize.h"

#include "common/error.h"
#include "kernels/float16.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

using namespace nw;

namespace {

template <typename Block> std::vector<float> dequantizeBlocks(TensorType type, const std::vector<Block> &blocks)
{
    const std::size_t n = blocks.size() * tensorTypeTraits(type).blockElements;
    std::vector<float> out(n, std::nanf(""));
    dequantizeRow(type, blocks.data(), out.data(), n);
    return out;
}

void checkEqual(const std::vector<float> &got, const std::vector<float> &expected)
{
    REQUIRE(got.size() == expected.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
        INFO("element " << i);
        REQUIRE(got[i] == expected[i]);
    }
}

// Q4_K/Q5_K test scales: 8 sub-block scales and mins, and the 12 bytes they pack into,
// worked out by hand from get_scale_min_k4's layout:
//   bytes 0-3:  scale[0..3] in the low 6 bits, top 2 bits of scale[4..7] in bits 6-7
//   bytes 4-7:  min[0..3] in the low 6 bits, top 2 bits of min[4..7] in bits 6-7
//   bytes 8-11: low nibble = scale[4..7] & 15, high nibble = min[4..7] & 15
constexpr int kScales[8] = { 1, 2, 3, 4, 17, 33, 50, 63 };
constexpr int kMins[8] = { 0, 1, 2, 3, 20, 40, 5, 63 };
constexpr std::uint8_t kPackedScales[12] = {
    0x41, 0x82, 0xC3, 0xC4, // 1|1<<6, 2|2<<6, 3|3<<6, 4|3<<6
    0x40, 0x81, 0x02, 0xC3, // 0|1<<6, 1|2<<6, 2|0<<6, 3|3<<6
    0x41, 0x81, 0x52, 0xFF, // 1|4<<4, 1|8<<4, 2|5<<4, 15|15<<4
};

} // namespace

TEST_CASE("Q4_0 hand-made block")
{
    std::vector<BlockQ4_0> b(1);
    b[0].d = 0x3800; // 0.5
    for (int j = 0; j < 16; ++j)
        b[0].qs[j] = static_cast<std::uint8_t>(j | ((15 - j) << 4));
    std::vector<float> expected(32);
    for (int j = 0; j < 16; ++j) {
        expected[j] = 0.5f * static_cast<float>(j - 8); // low nibbles: elements 0..15
        expected[j + 16] = 0.5f * static_cast<float>(7 - j); // high nibbles: 16..31, (15-j)-8
    }
    checkEqual(dequantizeBlocks(TensorType::Q4_0, b), expected);
}

TEST_CASE("Q4_1 hand-made block")
{
    std::vector<BlockQ4_1> b(1);
    b[0].d = 0x3400; // 0.25
    b[0].m = 0xBC00; // -1
    for (int j = 0; j < 16; ++j)
        b[0].qs[j] = static_cast<std::uint8_t>(j | (((j + 1) & 15) << 4));
    std::vector<float> expected(32);
    for (int j = 0; j < 16; ++j) {
        expected[j] = 0.25f * static_cast<float>(j) - 1.0f;
        expected[j + 16] = 0.25f * static_cast<float>((j + 1) % 16) - 1.0f;
    }
    checkEqual(dequantizeBlocks(TensorType::Q4_1, b), expected);
}

TEST_CASE("Q5_0 hand-made block: qh bit j is the fifth bit of element j")
{
    std::vector<BlockQ5_0> b(1);
    b[0].d = 0x3C00; // 1
    std::memset(b[0].qs, 0x21, 16); // low nibble 1 (elements 0..15), high nibble 2 (16..31)
    // qh as a little-endian u32: bits 0, 15, 17, 31 -> elements 0, 15, 17, 31.
    const std::uint8_t qh[4] = { 0x01, 0x80, 0x02, 0x80 };
    std::memcpy(b[0].qh, qh, 4);
    std::vector<float> expected(32);
    for (int j = 0; j < 16; ++j)
        expected[j] = 1 - 16;
    for (int j = 16; j < 32; ++j)
        expected[j] = 2 - 16;
    expected[0] = expected[15] = 17 - 16;
    expected[17] = expected[31] = 18 - 16;
    checkEqual(dequantizeBlocks(TensorType::Q5_0, b), expected);
}

TEST_CASE("Q5_1 hand-made block")
{
    std::vector<BlockQ5_1> b(1);
    b[0].d = 0x3800; // 0.5
    b[0].m = 0x4000; // 2
    std::memset(b[0].qs, 0xF0, 16); // elements 0..15 low bits 0, 16..31 low bits 15
    const std::uint8_t qh[4] = { 0x00, 0x01, 0x00, 0x40 }; // bits 8 and 30
    std::memcpy(b[0].qh, qh, 4);
    std::vector<float> expected(32);
    for (int j = 0; j < 16; ++j)
        expected[j] = 0 * 0.5f + 2;
    for (int j = 16; j < 32; ++j)
        expected[j] = 15 * 0.5f + 2;
    expected[8] = 16 * 0.5f + 2;
    expected[30] = 31 * 0.5f + 2;
    checkEqual(dequantizeBlocks(TensorType::Q5_1, b), expected);
}

TEST_CASE("Q8_0 and Q8_1 hand-made blocks")
{
    std::vector<BlockQ8_0> b0(1);
    std::vector<BlockQ8_1> b1(1);
    b0[0].d = b1[0].d = 0x3000; // 0.125
    b1[0].s = 0x7C00; // s is not part of the value; poison it
    std::vector<float> expected(32);
    for (int j = 0; j < 32; ++j) {
        b0[0].qs[j] = b1[0].qs[j] = static_cast<std::int8_t>(j * 8 - 128);
        expected[j] = 0.125f * static_cast<float>(j * 8 - 128);
    }
    checkEqual(dequantizeBlocks(TensorType::Q8_0, b0), expected);
    checkEqual(dequantizeBlocks(TensorType::Q8_1, b1), expected);
}

TEST_CASE("Q4_K hand-made block: packed 6-bit scales and the nibble order")
{
    std::vector<BlockQ4_K> b(1);
    b[0].d = 0x3C00; // 1
    b[0].dmin = 0x3800; // 0.5
    std::memcpy(b[0].scales, kPackedScales, 12);
    for (int i = 0; i < 128; ++i)
        b[0].qs[i] = static_cast<std::uint8_t>((i & 15) | (((i * 7) & 15) << 4));
    // Layout: 4 groups of 64 values; group g's first 32 are the low nibbles of qs[32g..32g+31]
    // (sub-block 2g), the next 32 their high nibbles (sub-block 2g+1).
    std::vector<float> expected(256);
    for (int g = 0; g < 4; ++g)
        for (int l = 0; l < 32; ++l) {
            const int i = 32 * g + l;
            expected[64 * g + l]
                = static_cast<float>(kScales[2 * g] * (i & 15)) - 0.5f * static_cast<float>(kMins[2 * g]);
            expected[64 * g + 32 + l]
                = static_cast<float>(kScales[2 * g + 1] * ((i * 7) & 15)) - 0.5f * static_cast<float>(kMins[2 * g + 1]);
        }
    // A few worked by hand: y[33] = 2*7 - 0.5*1; y[133] = 17*(69&15=5) - 0.5*20;
    // y[255] = 63*((127*7)&15=9) - 0.5*63.
    CHECK(expected[33] == 13.5f);
    CHECK(expected[133] == 75.0f);
    CHECK(expected[255] == 535.5f);
    checkEqual(dequantizeBlocks(TensorType::Q4_K, b), expected);
}

TEST_CASE("Q5_K hand-made block: the fifth bit of group g is bit 2g / 2g+1 of qh[l]")
{
    std::vector<BlockQ5_K> b(1);
    b[0].d = 0x3800; // 0.5
    b[0].dmin = 0x3C00; // 1
    std::memcpy(b[0].scales, kPackedScales, 12);
    for (int i = 0; i < 128; ++i)
        b[0].qs[i] = static_cast<std::uint8_t>((i & 15) | ((15 - (i & 15)) << 4));
    for (int l = 0; l < 32; ++l)
        b[0].qh[l] = static_cast<std::uint8_t>(l * 37);
    std::vector<float> expected(256);
    for (int g = 0; g < 4; ++g)
        for (int l = 0; l < 32; ++l) {
            const int i = 32 * g + l;
            const int lo = (i & 15) + 16 * ((b[0].qh[l] >> (2 * g)) & 1);
            const int hi = (15 - (i & 15)) + 16 * ((b[0].qh[l] >> (2 * g + 1)) & 1);
            expected[64 * g + l] = 0.5f * static_cast<float>(kScales[2 * g] * lo) - static_cast<float>(kMins[2 * g]);
            expected[64 * g + 32 + l]
                = 0.5f * static_cast<float>(kScales[2 * g + 1] * hi) - static_cast<float>(kMins[2 * g + 1]);
        }
    // By hand: element 1 (g 0, l 1): qs[1] low = 1, qh[1] = 37 = 0b100101, bit 0 set -> 17;
    // 0.5*1*17 - 0 = 8.5. Element 97 (g 1, second half, l 1): qs[33] high = 15-1 = 14,
    // bit 3 of 37 clear -> 14; 0.5*4*14 - 3 = 25.
    CHECK(expected[1] == 8.5f);
    CHECK(expected[97] == 25.0f);
    checkEqual(dequantizeBlocks(TensorType::Q5_K, b), expected);
}

TEST_CASE("Q6_K hand-made block: ql/qh interleave and signed 8-bit scales")
{
    std::vector<BlockQ6_K> b(1);
    b[0].d = 0x3800; // 0.5
    for (int i = 0; i < 128; ++i)
        b[0].ql[i] = static_cast<std::uint8_t>(i * 3);
    for (int i = 0; i < 64; ++i)
        b[0].qh[i] = static_cast<std::uint8_t>(i * 5 + 1);
    for (int s = 0; s < 16; ++s)
        b[0].scales[s] = static_cast<std::int8_t>(s - 8);
    // ggml-common.h's description, walked as two halves of 128: in half h, for l < 32,
    //   ql[64h + l]      low nibble -> value 128h + l,      high nibble -> 128h + l + 64
    //   ql[64h + l + 32] low nibble -> value 128h + l + 32, high nibble -> 128h + l + 96
    //   qh[32h + l] bits 0-1, 2-3, 4-5, 6-7 -> the top bits of those four values in the
    //   order +0, +32, +64, +96; the value's scale is scales[value / 16]; q - 32.
    std::vector<float> expected(256);
    for (int h = 0; h < 2; ++h)
        for (int l = 0; l < 32; ++l) {
            const int a = b[0].ql[64 * h + l], c = b[0].ql[64 * h + l + 32], hb = b[0].qh[32 * h + l];
            const int v0 = (a & 15) | ((hb & 3) << 4);
            const int v1 = (c & 15) | (((hb >> 2) & 3) << 4);
            const int v2 = (a >> 4) | (((hb >> 4) & 3) << 4);
            const int v3 = (c >> 4) | (((hb >> 6) & 3) << 4);
            const int base = 128 * h + l;
            const int values[4] = { v0, v1, v2, v3 };
            for (int r = 0; r < 4; ++r) {
                const int e = base + 32 * r;
                expected[e] = 0.5f * static_cast<float>((e / 16 - 8) * (values[r] - 32));
            }
        }
    // By hand: element 0: ql[0]=0 low 0, qh[0]=1 bits 0-1 = 1 -> 16; (16-32)*(-8)*0.5 = 64.
    // Element 200 (half 1, l 8, r 2): ql[72] = 216 = 0xD8, high nibble 13; qh[40] = 201 =
    // 0b11001001, bits 4-5 = 0 -> 13; scale index 12 -> 4; 0.5*4*(13-32) = -38.
    CHECK(expected[0] == 64.0f);
    CHECK(expected[200] == -38.0f);
    checkEqual(dequantizeBlocks(TensorType::Q6_K, b), expected);
}

TEST_CASE("Q8_K hand-made block")
{
    std::vector<BlockQ8_K> b(1);
    b[0].d = 0.25f;
    std::vector<float> expected(256);
    for (int j = 0; j < 256; ++j) {
        b[0].qs[j] = static_cast<std::int8_t>(j - 128);
        expected[j] = 0.25f * static_cast<float>(j - 128);
    }
    checkEqual(dequantizeBlocks(TensorType::Q8_K, b), expected);
}

TEST_CASE("F32, F16 and BF16 rows")
{
    const float f32[2] = { 1.5f, -2.0f };
    const f16_t f16[2] = { 0x3E00, 0xC000 };
    const bf16_t bf16[2] = { 0x3FC0, 0xC000 };
    float out[2];
    for (auto [type, data] : { std::pair { TensorType::F32, static_cast<const void *>(f32) },
             std::pair { TensorType::F16, static_cast<const void *>(f16) },
             std::pair { TensorType::BF16, static_cast<const void *>(bf16) } }) {
        out[0] = out[1] = 0;
        dequantizeRow(type, data, out, 2);
        CHECK(out[0] == 1.5f);
        CHECK(out[1] == -2.0f);
    }
}

TEST_CASE("unsupported types are refused with a message")
{
    CHECK_FALSE(canQuantize(TensorType::IQ2_XXS));
    CHECK_FALSE(canDequantize(TensorType::IQ1_S));
    std::vector<std::byte> b(tensorTypeTraits(TensorType::IQ1_S).blockBytes);
    float out[256];
    CHECK_THROWS_AS(dequantizeRow(TensorType::IQ1_S, b.data(), out, 256), Error);
}

namespace {

// Round-trip error bounds, each derived from the input block and the format (not from the
// encoded block). `fudge` covers f16 rounding of the stored scales (2^-11 relative) and
// float arithmetic.
constexpr float kFudge = 1.01f;

float maxAbs(const float *x, std::size_t n)
{
    float a = 0;
    for (std::size_t i = 0; i < n; ++i)
        a = std::max(a, std::fabs(x[i]));
    return a;
}

// Per-element bound for `type` on block `x` (blockElements values).
std::vector<float> errorBound(TensorType type, const float *x)
{
    const std::size_t n = tensorTypeTraits(type).blockElements;
    std::vector<float> bound(n);
    const float amax = maxAbs(x, n);
    const auto [lo, hi] = std::minmax_element(x, x + n);
    const float range = *hi - *lo;
    switch (type) {
    case TensorType::Q8_0:
    case TensorType::Q8_1:
    case TensorType::Q8_K:
        std::fill(bound.begin(), bound.end(), 0.5f * amax / 127 * kFudge);
        break;
    case TensorType::Q4_0: // one step at the clipped end: amax/8
        std::fill(bound.begin(), bound.end(), amax / 8 * kFudge);
        break;
    case TensorType::Q5_0:
        std::fill(bound.begin(), bound.end(), amax / 16 * kFudge);
        break;
    case TensorType::Q4_1: // half a step of range/15, plus the f16 rounding of the offset
        std::fill(bound.begin(), bound.end(), 0.5f * range / 15 * kFudge + amax * 0x1p-10f);
        break;
    case TensorType::Q5_1:
        std::fill(bound.begin(), bound.end(), 0.5f * range / 31 * kFudge + amax * 0x1p-10f);
        break;
    case TensorType::Q4_K:
    case TensorType::Q5_K: {
        // Sub-block s spans r_s = max(0, max_s) - min(0, min_s). Its min is a 6-bit multiple
        // of dmin = maxMin/63, so the range may grow by up to dmin; its step is a 6-bit
        // multiple of d = maxStep/63, so the step may grow by up to d. Error <= step/2.
        const float levels = type == TensorType::Q4_K ? 15 : 31;
        float maxMin = 0, ranges[8];
        for (int s = 0; s < 8; ++s) {
            float smin = 0, smax = 0;
            for (int l = 0; l < 32; ++l) {
                smin = std::min(smin, x[32 * s + l]);
                smax = std::max(smax, x[32 * s + l]);
            }
            ranges[s] = smax - smin;
            maxMin = std::max(maxMin, -smin);
        }
        float maxStep = 0;
        for (float r : ranges)
            maxStep = std::max(maxStep, (r + maxMin / 63 * kFudge) / levels);
        for (int s = 0; s < 8; ++s) {
            const float step = (ranges[s] + maxMin / 63 * kFudge) / levels + maxStep / 63 * kFudge;
            std::fill(bound.begin() + 32 * s, bound.begin() + 32 * s + 32, 0.5f * step * kFudge);
        }
        break;
    }
    case TensorType::Q6_K: {
        // Sub-blocks of 16: step = amax_s/31 rounded up to a multiple of d = max step/127.
        const float maxStep = amax / 31;
        for (int s = 0; s < 16; ++s) {
            const float step = maxAbs(x + 16 * s, 16) / 31 + maxStep / 127 * kFudge;
            std::fill(bound.begin() + 16 * s, bound.begin() + 16 * s + 16, 0.5f * step * kFudge);
        }
        break;
    }
    case TensorType::Q2_K: {
        // As Q4_K with 16 sub-blocks of 16, 3 levels and 4-bit scales and mins (multiples of
        // maxMin/15 and maxStep/15).
        float maxMin = 0, ranges[16];
        for (int s = 0; s < 16; ++s) {
            float smin = 0, smax = 0;
            for (int l = 0; l < 16; ++l) {
                smin = std::min(smin, x[16 * s + l]);
                smax = std::max(smax, x[16 * s + l]);
            }
            ranges[s] = smax - smin;
            maxMin = std::max(maxMin, -smin);
        }
        float maxStep = 0;
        for (float r : ranges)
            maxStep = std::max(maxStep, (r + maxMin / 15 * kFudge) / 3);
        for (int s = 0; s < 16; ++s) {
            const float step = (ranges[s] + maxMin / 15 * kFudge) / 3 + maxStep / 15 * kFudge;
            std::fill(bound.begin() + 16 * s, bound.begin() + 16 * s + 16, 0.5f * step * kFudge);
        }
        break;
    }
    case TensorType::Q3_K: {
        // Sub-blocks of 16: step = amax_s/3 (quants -3..3 of -4..3), rounded up to a multiple of
        // d = max step/31.
        const float maxStep = amax / 3;
        for (int s = 0; s < 16; ++s) {
            const float step = maxAbs(x + 16 * s, 16) / 3 + maxStep / 31 * kFudge;
            std::fill(bound.begin() + 16 * s, bound.begin() + 16 * s + 16, 0.5f * step * kFudge);
        }
        break;
    }
    case TensorType::IQ4_NL:
        // Scale S with amax <= 127 |S|: half the widest gap of the levels (24) is 12 |S|, the
        // clipped top of the positive side (113..127) 14 |S|; |S| <= amax/113.
        std::fill(bound.begin(), bound.end(), 14 * amax / 113 * kFudge);
        break;
    case TensorType::IQ4_XS: {
        // Per sub-block IQ4_NL's bound with its scale grown by up to d = max |scale| / 31.
        const float d = amax / 113 / 31;
        for (int s = 0; s < 8; ++s) {
            const float scale = maxAbs(x + 32 * s, 32) / 113 + d * kFudge;
            std::fill(bound.begin() + 32 * s, bound.begin() + 32 * s + 32, 14 * scale * kFudge);
        }
        break;
    }
    case TensorType::MXFP4:
        // Power-of-two scale s < amax/3 with amax <= 6 s; the widest e2m1 gap (4..6) is 2 s.
        std::fill(bound.begin(), bound.end(), amax / 3 * kFudge);
        break;
    case TensorType::F16:
        for (std::size_t i = 0; i < n; ++i)
            bound[i] = std::fabs(x[i]) * 0x1p-11f;
        break;
    case TensorType::BF16:
        for (std::size_t i = 0; i < n; ++i)
            bound[i] = std::fabs(x[i]) * 0x1p-8f;
        break;
    default:
        break; // F32: exact
    }
    return bound;
}

std::vector<float> randomData(std::size_t n, unsigned seed, bool outliers)
{
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
    std::vector<float> x(n);
    for (std::size_t i = 0; i < n; ++i)
        x[i] = outliers ? normal(rng) * (i % 97 == 0 ? 20.0f : 1.0f) : uniform(rng) + 0.3f;
    return x;
}

} // namespace

TEST_CASE("quantize -> dequantize stays within each format's bound")
{
    const TensorType types[] = { TensorType::F32, TensorType::F16, TensorType::BF16, TensorType::Q4_0, TensorType::Q4_1,
        TensorType::Q5_0, TensorType::Q5_1, TensorType::Q8_0, TensorType::Q8_1, TensorType::Q4_K, TensorType::Q5_K,
        TensorType::Q6_K, TensorType::Q8_K, TensorType::Q2_K, TensorType::Q3_K, TensorType::IQ4_NL, TensorType::IQ4_XS,
        TensorType::MXFP4 };
    constexpr std::size_t n = 256 * 16;
    for (const TensorType type : types) {
        REQUIRE(canQuantize(type));
        for (const bool outliers : { false, true }) {
            const std::string typeName(tensorTypeName(type));
            CAPTURE(typeName);
            CAPTURE(outliers);
            const auto x = randomData(n, 1234u + static_cast<unsigned>(type), outliers);
            std::vector<std::byte> encoded(rowBytes(type, n) + 64, std::byte { 0xA5 });
            const std::size_t written = quantizeRow(type, x.data(), encoded.data(), n);
            CHECK(written == rowBytes(type, n));
            // Nothing written past the row.
            for (std::size_t i = written; i < encoded.size(); ++i)
                REQUIRE(encoded[i] == std::byte { 0xA5 });
            std::vector<float> y(n, std::nanf(""));
            dequantizeRow(type, encoded.data(), y.data(), n);
            const std::size_t be = tensorTypeTraits(type).blockElements;
            double sumSq = 0, sumErrSq = 0;
            for (std::size_t b0 = 0; b0 < n; b0 += be) {
                const auto bound = errorBound(type, x.data() + b0);
                for (std::size_t i = 0; i < be; ++i) {
                    const float err = std::fabs(y[b0 + i] - x[b0 + i]);
                    if (!(err <= bound[i])) {
                        INFO("element " << b0 + i << " x=" << x[b0 + i] << " y=" << y[b0 + i] << " bound=" << bound[i]);
                        REQUIRE(err <= bound[i]);
                    }
                    sumSq += double(x[b0 + i]) * x[b0 + i];
                    sumErrSq += double(err) * err;
                }
            }
            // Relative RMS error, for the record and as a coarse second check.
            const double rel = std::sqrt(sumErrSq / sumSq);
            MESSAGE(
                typeName << std::string(outliers ? " normal+outliers" : " uniform") << ": relative RMS error " << rel);
            // Coarse limits by bit width (the outlier data is the hard case: a 20-sigma value in
            // a block stretches its step for the 31 or 255 others).
            double limit = 0.005; // F16/BF16 (F32 is exact)
            switch (type) {
            case TensorType::Q4_0:
            case TensorType::Q4_1:
            case TensorType::Q4_K:
                limit = 0.2;
                break;
            case TensorType::Q5_0:
            case TensorType::Q5_1:
            case TensorType::Q5_K:
                limit = 0.1;
                break;
            case TensorType::Q6_K:
                limit = 0.05;
                break;
            case TensorType::Q2_K:
                limit = 0.6;
                break;
            case TensorType::Q3_K:
                limit = 0.4;
                break;
            case TensorType::IQ4_NL:
            case TensorType::IQ4_XS:
                limit = 0.2;
                break;
            case TensorType::MXFP4:
                limit = 0.3;
                break;
            case TensorType::Q8_0:
            case TensorType::Q8_1:
            case TensorType::Q8_K:
                limit = 0.03;
                break;
            default:
                break;
            }
            CHECK(rel < limit);
        }
    }
}

TEST_CASE("values already on the grid survive exactly; zero blocks give zeros")
{
    // Q8_0 with amax = 127 * 0.125: d = 0.125 exactly, every k * 0.125 is representable.
    std::vector<float> x(32);
    for (int j = 0; j < 32; ++j)
        x[j] = 0.125f * static_cast<float>((j * 37) % 255 - 127);
    x[5] = 127 * 0.125f;
    std::vector<BlockQ8_0> q(1);
    quantizeRow(TensorType::Q8_0, x.data(), q.data(), 32);
    CHECK(q[0].d == 0x3000);
    std::vector<float> y(32);
    dequantizeRow(TensorType::Q8_0, q.data(), y.data(), 32);
    checkEqual(y, x);

    for (TensorType type : { TensorType::Q4_0, TensorType::Q4_1, TensorType::Q5_0, TensorType::Q5_1, TensorType::Q8_1,
             TensorType::Q4_K, TensorType::Q5_K, TensorType::Q6_K, TensorType::Q8_K, TensorType::Q2_K, TensorType::Q3_K,
             TensorType::IQ4_NL, TensorType::IQ4_XS, TensorType::MXFP4 }) {
        const std::string typeName(tensorTypeName(type));
        CAPTURE(typeName);
        std::vector<float> zeros(256, 0.0f), out(256, 1.0f);
        std::vector<std::byte> encoded(rowBytes(type, 256));
        quantizeRow(type, zeros.data(), encoded.data(), 256);
        dequantizeRow(type, encoded.data(), out.data(), 256);
        for (float v : out)
            REQUIRE(v == 0.0f);
    }
}

TEST_CASE("Q8_1 stores s = d * sum(q); Q8_K stores per-16 sums")
{
    const auto x = randomData(256, 7, true);
    std::vector<BlockQ8_1> q1(8);
    quantizeRow(TensorType::Q8_1, x.data(), q1.data(), 256);
    for (const auto &b : q1) {
        int sum = 0;
        for (auto v : b.qs)
            sum += v;
        CHECK(b.s == floatToFp16(fp16ToFloat(b.d) * static_cast<float>(sum)));
    }
    std::vector<BlockQ8_K> qk(1);
    quantizeRow(TensorType::Q8_K, x.data(), qk.data(), 256);
    for (int s = 0; s < 16; ++s) {
        int sum = 0;
        for (int l = 0; l < 16; ++l)
            sum += qk[0].qs[16 * s + l];
        CHECK(qk[0].bsums[s] == sum);
    }
}
