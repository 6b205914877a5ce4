// f16/bf16 conversions against known bit patterns, and the F16C row path against the scalar one.
#include "kernels/float16.h"

#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

using namespace nw;

namespace {
std::uint32_t bitsOf(float f) { return std::bit_cast<std::uint32_t>(f); }
} // namespace

TEST_CASE("fp16 to float: known bit patterns")
{
    CHECK(fp16ToFloat(0x3C00) == 1.0f);
    CHECK(fp16ToFloat(0xBC00) == -1.0f);
    CHECK(fp16ToFloat(0x4000) == 2.0f);
    CHECK(fp16ToFloat(0x3555) == 0x1.554p-2f); // 0.333251953125
    CHECK(fp16ToFloat(0x7BFF) == 65504.0f);
    CHECK(fp16ToFloat(0x0400) == 0x1p-14f);          // smallest normal
    CHECK(fp16ToFloat(0x0001) == 0x1p-24f);          // smallest subnormal
    CHECK(fp16ToFloat(0x03FF) == 1023.0f * 0x1p-24f); // largest subnormal
    CHECK(bitsOf(fp16ToFloat(0x0000)) == 0x00000000u);
    CHECK(bitsOf(fp16ToFloat(0x8000)) == 0x80000000u); // -0 keeps its sign
    CHECK(fp16ToFloat(0x7C00) == std::numeric_limits<float>::infinity());
    CHECK(fp16ToFloat(0xFC00) == -std::numeric_limits<float>::infinity());
    CHECK(std::isnan(fp16ToFloat(0x7E00)));
    CHECK(std::isnan(fp16ToFloat(0x7C01))); // signalling NaN stays NaN, not inf
    CHECK(bitsOf(fp16ToFloat(0x7C01)) == 0x7FC02000u); // quieted, payload bit kept
    CHECK(bitsOf(fp16ToFloat(0xFE00)) == 0xFFC00000u);
    CHECK(std::isnan(fp16ToFloat(0xFFFF)));
}

TEST_CASE("float to fp16: exact values, overflow, subnormals and ties to even")
{
    CHECK(floatToFp16(1.0f) == 0x3C00);
    CHECK(floatToFp16(-2.0f) == 0xC000);
    CHECK(floatToFp16(65504.0f) == 0x7BFF);
    CHECK(floatToFp16(0x1p-24f) == 0x0001);
    CHECK(floatToFp16(0x1p-14f) == 0x0400);
    CHECK(floatToFp16(0.0f) == 0x0000);
    CHECK(floatToFp16(-0.0f) == 0x8000);
    CHECK(floatToFp16(std::numeric_limits<float>::infinity()) == 0x7C00);
    CHECK(floatToFp16(-std::numeric_limits<float>::infinity()) == 0xFC00);
    const f16_t nan = floatToFp16(std::numeric_limits<float>::quiet_NaN());
    CHECK((nan & 0x7C00) == 0x7C00);
    CHECK((nan & 0x03FF) != 0);
    // A float signalling NaN whose payload sits only in the low 13 bits must not become inf.
    const f16_t lowPayload = floatToFp16(std::bit_cast<float>(0x7F800001u));
    CHECK((lowPayload & 0x7C00) == 0x7C00);
    CHECK((lowPayload & 0x03FF) != 0);

    // Overflow: 65519.99 rounds down to 65504; 65520 (the tie) goes to even = inf.
    CHECK(floatToFp16(65519.0f) == 0x7BFF);
    CHECK(floatToFp16(65520.0f) == 0x7C00);
    CHECK(floatToFp16(1e6f) == 0x7C00);
    CHECK(floatToFp16(-1e6f) == 0xFC00);

    // Ties between normals: 1 + 2^-11 is halfway between 1 (even, 0x3C00) and 1 + 2^-10 (odd).
    CHECK(floatToFp16(1.0f + 0x1p-11f) == 0x3C00);
    // 1 + 3*2^-11 is halfway between 0x3C01 (odd) and 0x3C02 (even): goes up.
    CHECK(floatToFp16(1.0f + 3 * 0x1p-11f) == 0x3C02);
    // Just above a tie rounds up.
    CHECK(floatToFp16(1.0f + 0x1p-11f + 0x1p-20f) == 0x3C01);
    // Mantissa carry into the exponent: 2 - 2^-12 rounds to 2.
    CHECK(floatToFp16(2.0f - 0x1p-12f) == 0x4000);

    // Subnormal ties: 2^-25 is halfway between 0 and 2^-24 -> 0 (even);
    // 3*2^-25 is halfway between 1 and 2 units -> 2 (even).
    CHECK(floatToFp16(0x1p-25f) == 0x0000);
    CHECK(floatToFp16(3 * 0x1p-25f) == 0x0002);
    CHECK(floatToFp16(-3 * 0x1p-25f) == 0x8002);
    CHECK(floatToFp16(0x1p-26f) == 0x0000);
    CHECK(floatToFp16(0x1.8p-25f) == 0x0001); // 0.75 unit rounds up
    // The largest subnormal plus half a unit rounds (to even) into the smallest normal.
    CHECK(floatToFp16(1023.5f * 0x1p-24f) == 0x0400);
}

TEST_CASE("fp16 round-trips every finite bit pattern")
{
    for (std::uint32_t h = 0; h < 0x10000; ++h) {
        if ((h & 0x7C00) == 0x7C00)
            continue;
        REQUIRE(floatToFp16(fp16ToFloat(static_cast<f16_t>(h))) == h);
    }
}

TEST_CASE("bf16: known bit patterns and ties to even")
{
    CHECK(bf16ToFloat(0x3F80) == 1.0f);
    CHECK(bf16ToFloat(0xC000) == -2.0f);
    CHECK(bf16ToFloat(0x7F80) == std::numeric_limits<float>::infinity());
    CHECK(std::isnan(bf16ToFloat(0x7FC0)));
    CHECK(floatToBf16(1.0f) == 0x3F80);
    CHECK(floatToBf16(3.140625f) == 0x4049);
    // 1 + 2^-8 is the tie between 0x3F80 (even) and 0x3F81: stays.
    CHECK(floatToBf16(1.0f + 0x1p-8f) == 0x3F80);
    // 1 + 3*2^-8 is the tie between 0x3F81 (odd) and 0x3F82 (even): goes up.
    CHECK(floatToBf16(1.0f + 3 * 0x1p-8f) == 0x3F82);
    CHECK(floatToBf16(1.0f + 0x1p-8f + 0x1p-20f) == 0x3F81);
    // The largest finite float rounds to inf in bf16.
    CHECK(floatToBf16(std::numeric_limits<float>::max()) == 0x7F80);
    // NaN with a payload only in the dropped bits stays NaN.
    const bf16_t nan = floatToBf16(std::bit_cast<float>(0x7F800001u));
    CHECK((nan & 0x7F80) == 0x7F80);
    CHECK((nan & 0x007F) != 0);
    CHECK(floatToBf16(-0.0f) == 0x8000);
}

TEST_CASE("row helpers (F16C when present) agree bit for bit with the scalar code")
{
    // Every f16 pattern through fp16ToFloatRow.
    std::vector<f16_t> all(0x10000);
    for (std::uint32_t h = 0; h < 0x10000; ++h)
        all[h] = static_cast<f16_t>(h);
    std::vector<float> fast(all.size()), plain(all.size());
    fp16ToFloatRow(all.data(), fast.data(), all.size());
    fp16ToFloatRowScalar(all.data(), plain.data(), all.size());
    for (std::size_t i = 0; i < all.size(); ++i) {
        INFO("f16 pattern " << i);
        REQUIRE(bitsOf(fast[i]) == bitsOf(plain[i])); // NaNs included: both quiet them
    }

    // Floats around every f16 value: exact, the ties, and just off the ties.
    std::vector<float> values;
    for (std::uint32_t h = 0; h < 0x7C00; ++h) {
        const float f = fp16ToFloat(static_cast<f16_t>(h));
        const float next = fp16ToFloat(static_cast<f16_t>(h + 1));
        const float mid = (f + next) / 2;
        for (float v : {f, mid, std::nextafter(mid, 0.0f), std::nextafter(mid, 1e9f)}) {
            values.push_back(v);
            values.push_back(-v);
        }
    }
    for (std::uint32_t nanBits : {0x7F800001u, 0x7FC00000u, 0xFFC01234u, 0x7FBFFFFFu, 0x7F802000u})
        values.push_back(std::bit_cast<float>(nanBits));
    values.push_back(std::numeric_limits<float>::infinity());
    values.push_back(1e30f);
    values.push_back(0x1p-30f);
    std::vector<f16_t> fastH(values.size()), plainH(values.size());
    floatToFp16Row(values.data(), fastH.data(), values.size());
    floatToFp16RowScalar(values.data(), plainH.data(), values.size());
    for (std::size_t i = 0; i < values.size(); ++i) {
        INFO("value bits " << bitsOf(values[i]));
        REQUIRE(fastH[i] == plainH[i]);
    }

    std::vector<bf16_t> b(3);
    const float in[3] = {1.0f, -0.5f, 3.140625f};
    floatToBf16Row(in, b.data(), 3);
    float out[3];
    bf16ToFloatRow(b.data(), out, 3);
    CHECK(out[0] == 1.0f);
    CHECK(out[1] == -0.5f);
    CHECK(out[2] == 3.140625f);
}
