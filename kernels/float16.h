// IEEE binary16 (f16) and bfloat16 (bf16) conversions. Scalar conversions are inline bit
// manipulation (exact, round-to-nearest-even, inf/NaN/subnormals kept); the row helpers use F16C
// when the CPU has it (checked at run time) and give bit-identical results either way.
#pragma once

#include "kernels/tensor_type.h"

#include <bit>
#include <cstddef>
#include <cstdint>

namespace nw {

inline float fp16ToFloat(f16_t h)
{
    const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
    const std::uint32_t exponent = (h >> 10) & 0x1fu;
    const std::uint32_t mantissa = h & 0x3ffu;
    if (exponent == 0x1f) // inf, or NaN: quieted, payload kept (as F16C's vcvtph2ps does)
        return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13) | (mantissa ? 0x00400000u : 0u));
    if (exponent == 0) {
        // Zero or subnormal: mantissa * 2^-24, exact in float.
        const float magnitude = static_cast<float>(mantissa) * 0x1p-24f;
        return std::bit_cast<float>(sign | std::bit_cast<std::uint32_t>(magnitude));
    }
    // Rebias the exponent from 15 to 127.
    return std::bit_cast<float>(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

inline f16_t floatToFp16(float value)
{
    const std::uint32_t bits = std::bit_cast<std::uint32_t>(value);
    const auto sign = static_cast<std::uint16_t>((bits >> 16) & 0x8000u);
    std::uint32_t magnitude = bits & 0x7fffffffu;
    if (magnitude > 0x7f800000u) // NaN: stays a quiet NaN, top payload bits kept
        return static_cast<f16_t>(sign | 0x7e00u | ((magnitude >> 13) & 0x3ffu));
    // 65520 is halfway between 65504 (largest f16) and 65536; the tie goes to the even
    // mantissa, which is the overflow to inf.
    if (magnitude >= 0x477ff000u)
        return static_cast<f16_t>(sign | 0x7c00u);
    if (magnitude < 0x38800000u) {
        // Below 2^-14, the smallest normal: adding 0.5 puts the f16 subnormal unit (2^-24) at
        // the float's last mantissa bit, so the FPU's own rounding is round-to-nearest-even.
        // A result of 0x400 is the smallest normal, which is again the right encoding.
        const float shifted = std::bit_cast<float>(magnitude) + 0.5f;
        return static_cast<f16_t>(sign | (std::bit_cast<std::uint32_t>(shifted) - 0x3f000000u));
    }
    // Normal: rebias and round the 13 dropped bits to nearest even (a carry into the
    // exponent is the right result, up to inf handled above).
    const std::uint32_t odd = (magnitude >> 13) & 1u;
    magnitude += (static_cast<std::uint32_t>(15 - 127) << 23) + 0xfffu + odd;
    return static_cast<f16_t>(sign | (magnitude >> 13));
}

inline float bf16ToFloat(bf16_t h)
{
    return std::bit_cast<float>(static_cast<std::uint32_t>(h) << 16);
}

inline bf16_t floatToBf16(float value)
{
    const std::uint32_t bits = std::bit_cast<std::uint32_t>(value);
    if ((bits & 0x7fffffffu) > 0x7f800000u) // NaN: keep it a (quiet) NaN after truncation
        return static_cast<bf16_t>((bits >> 16) | 0x40u);
    // Round to nearest even on the 16 dropped bits; overflow carries into inf as it should.
    return static_cast<bf16_t>((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

// Row conversions (n elements); F16C is used when the CPU has it.
void fp16ToFloatRow(const f16_t *src, float *dst, std::size_t n);
void floatToFp16Row(const float *src, f16_t *dst, std::size_t n);
void bf16ToFloatRow(const bf16_t *src, float *dst, std::size_t n);
void floatToBf16Row(const float *src, bf16_t *dst, std::size_t n);

// Scalar-only row conversions: the reference the F16C path is tested against.
void fp16ToFloatRowScalar(const f16_t *src, float *dst, std::size_t n);
void floatToFp16RowScalar(const float *src, f16_t *dst, std::size_t n);

} // namespace nw
