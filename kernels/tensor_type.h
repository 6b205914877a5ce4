// Tensor element types as GGUF/ggml number them, with their block layouts. A weight stays in
// its file type; kernels dispatch on TensorType. Layouts follow ggml's `ggml-common.h`
// (block_q4_0, block_q4_K, ...): the byte structs below must match them exactly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace nw {

// Values are the on-disk ggml_type ids; never renumber.
enum class TensorType : std::uint32_t {
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q4_1 = 3,
    Q5_0 = 6,
    Q5_1 = 7,
    Q8_0 = 8,
    Q8_1 = 9,
    Q2_K = 10,
    Q3_K = 11,
    Q4_K = 12,
    Q5_K = 13,
    Q6_K = 14,
    Q8_K = 15,
    IQ2_XXS = 16,
    IQ2_XS = 17,
    IQ3_XXS = 18,
    IQ1_S = 19,
    IQ4_NL = 20,
    IQ3_S = 21,
    IQ2_S = 22,
    IQ4_XS = 23,
    I8 = 24,
    I16 = 25,
    I32 = 26, // integer tables, not weights (DeepSeek V4's hash routing: token id → experts)
    I64 = 27,
    F64 = 28,
    IQ1_M = 29,
    BF16 = 30,
    TQ1_0 = 34,
    TQ2_0 = 35,
    MXFP4 = 39,
    NVFP4 = 40,
    Q1_0 = 41,
    Q2_0 = 42,
};

struct TensorTypeTraits {
    TensorType type;
    std::string_view name; // "Q4_K", as GGUF tools print it
    std::size_t blockElements; // elements per block (1 for plain floats)
    std::size_t blockBytes; // bytes per block
    bool supported; // this engine can compute with it
};

// Traits of a ggml type id — every id ggml defines has a row, so a file's type can be named in a
// message, and `supported` marks the ones the engine computes with; nullopt for other ids.
std::optional<TensorTypeTraits> findTensorType(std::uint32_t id);
// Traits of a type this engine knows (asserts on an invalid enum value).
const TensorTypeTraits &tensorTypeTraits(TensorType type);
std::string_view tensorTypeName(TensorType type);
// "F32, F16, BF16, Q4_0, ..." — the types the engine computes with, for messages.
std::string supportedTensorTypeList();

// Bytes of a row of `elements` values; the caller has checked elements % blockElements == 0.
std::size_t rowBytes(TensorType type, std::size_t elements);

using f16_t = std::uint16_t; // IEEE binary16 bits
using bf16_t = std::uint16_t; // bfloat16 bits

constexpr std::size_t kQk = 32; // elements per block of the legacy quants (Q4_0 ... Q8_1)
constexpr std::size_t kQkK = 256; // elements per super-block of the K-quants
constexpr std::size_t kKScaleBytes = 12; // packed 6-bit scales and mins of Q4_K / Q5_K

// x = d * (q - 8), q in the low nibbles (elements 0..15) then high nibbles (16..31).
struct BlockQ4_0 {
    f16_t d;
    std::uint8_t qs[kQk / 2];
};
// x = d * q + m
struct BlockQ4_1 {
    f16_t d;
    f16_t m;
    std::uint8_t qs[kQk / 2];
};
// x = d * (q - 16), q = nibble | (bit from qh) << 4
struct BlockQ5_0 {
    f16_t d;
    std::uint8_t qh[4];
    std::uint8_t qs[kQk / 2];
};
struct BlockQ5_1 {
    f16_t d;
    f16_t m;
    std::uint8_t qh[4];
    std::uint8_t qs[kQk / 2];
};
// x = d * q
struct BlockQ8_0 {
    f16_t d;
    std::int8_t qs[kQk];
};
// Q8_0 plus s = d * sum(q): the activation side of Q4_1/Q5_1 dot products.
struct BlockQ8_1 {
    f16_t d;
    f16_t s;
    std::int8_t qs[kQk];
};
// 8 sub-blocks of 32; per sub-block a 6-bit scale and min packed in `scales`.
struct BlockQ4_K {
    f16_t d;
    f16_t dmin;
    std::uint8_t scales[kKScaleBytes];
    std::uint8_t qs[kQkK / 2];
};
struct BlockQ5_K {
    f16_t d;
    f16_t dmin;
    std::uint8_t scales[kKScaleBytes];
    std::uint8_t qh[kQkK / 8];
    std::uint8_t qs[kQkK / 2];
};
// 16 sub-blocks of 16 with int8 scales; 6-bit quants as 4 low bits (ql) + 2 high bits (qh).
struct BlockQ6_K {
    std::uint8_t ql[kQkK / 2];
    std::uint8_t qh[kQkK / 4];
    std::int8_t scales[kQkK / 16];
    f16_t d;
};
// 16 sub-blocks of 16: x = d * (scales & 15) * q - dmin * (scales >> 4), q 2 bits; qs byte 32n + l
// holds element 128n + 32k + l in bits 2k, 2k+1 (k = 0..3).
struct BlockQ2_K {
    std::uint8_t scales[kQkK / 16];
    std::uint8_t qs[kQkK / 4];
    f16_t d;
    f16_t dmin;
};
// 16 sub-blocks of 16 with 6-bit scales (stored + 32, packed in 12 bytes); q = its 2 low bits
// (placed as Q2_K's) - 4 unless its hmask bit is set (element e: bit e / 32 of hmask[e % 32]):
// x = d * (scale - 32) * q, q in -4..3.
struct BlockQ3_K {
    std::uint8_t hmask[kQkK / 8];
    std::uint8_t qs[kQkK / 4];
    std::uint8_t scales[12];
    f16_t d;
};
// x = d * kIq4nlValues[q] (a fixed non-linear table of 16 int8 levels), nibbles as Q4_0.
struct BlockIQ4_NL {
    f16_t d;
    std::uint8_t qs[kQk / 2];
};
// 8 sub-blocks of 32 with 6-bit scales (4 low bits in scalesL, 2 high in scalesH, stored + 32):
// x = d * (scale - 32) * kIq4nlValues[q], each sub-block's nibbles as Q4_0.
struct BlockIQ4_XS {
    f16_t d;
    std::uint16_t scalesH;
    std::uint8_t scalesL[kQkK / 64];
    std::uint8_t qs[kQkK / 2];
};
// OCP microscaling FP4: x = 2^(e - 127) * e2m1(q), nibbles as Q4_0 (gpt-oss's expert weights).
struct BlockMXFP4 {
    std::uint8_t e; // E8M0 exponent
    std::uint8_t qs[kQk / 2];
};
// The IQ2/IQ3 types quantize groups of 8 (IQ2) or 4 (IQ3) magnitudes to an index into a fixed
// lattice grid (kernels/cpu/iq_grids.h) plus sign bits, with 4-bit sub-block scales.
// IQ2_XXS: per 32 values two u32: 4 grid bytes, then 4 x 7 sign bits and a 4-bit scale at bit 28.
struct BlockIQ2_XXS {
    f16_t d;
    std::uint16_t qs[kQkK / 8];
};
// IQ2_XS: per 8 values a u16 (9-bit grid index, 7 sign bits); a 4-bit scale per 16 values.
struct BlockIQ2_XS {
    f16_t d;
    std::uint16_t qs[kQkK / 8];
    std::uint8_t scales[kQkK / 32];
};
// IQ2_S: 10-bit grid indices (8 bits in qs, 2 in qh), then 8 explicit sign bits per 8 values.
struct BlockIQ2_S {
    f16_t d;
    std::uint8_t qs[kQkK / 4]; // [0, 32): grid index low bits; [32, 64): signs
    std::uint8_t qh[kQkK / 32];
    std::uint8_t scales[kQkK / 32];
};
// IQ3_XXS: 8-bit indices of 4-value grid entries, then per 32 values a u32 of 4 x 7 sign bits
// and a 4-bit scale.
struct BlockIQ3_XXS {
    f16_t d;
    std::uint8_t qs[3 * kQkK / 8];
};
// IQ3_S: 9-bit indices (8 in qs, 1 in qh), explicit signs, a 4-bit scale per 32 values.
struct BlockIQ3_S {
    f16_t d;
    std::uint8_t qs[kQkK / 4];
    std::uint8_t qh[kQkK / 32];
    std::uint8_t signs[kQkK / 8];
    std::uint8_t scales[kQkK / 64];
};
// Activation side of K-quant dot products (f32 scale, per-16 sums).
struct BlockQ8_K {
    float d;
    std::int8_t qs[kQkK];
    std::int16_t bsums[kQkK / 16];
};

// The 16 levels of IQ4_NL / IQ4_XS (ggml's kvalues_iq4nl).
inline constexpr std::int8_t kIq4nlValues[16]
    = { -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113 };
// The e2m1 values of MXFP4 doubled to integers (0, 0.5, 1, 1.5, 2, 3, 4, 6 and their negatives).
inline constexpr std::int8_t kMxfp4Values[16] = { 0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12 };

// Half the E8M0 scale 2^(e - 127), the factor of the doubled kMxfp4Values (ggml_e8m0_to_fp32_half):
// e < 2 gives the subnormals 2^-128 and 2^-127.
inline float e8m0Half(std::uint8_t e)
{
    const std::uint32_t bits = e < 2 ? 0x00200000u << e : static_cast<std::uint32_t>(e - 1) << 23;
    float value; // memcpy, not std::bit_cast: CUDA sources include this header as C++17
    std::memcpy(&value, &bits, sizeof value);
    return value;
}

// IQ4_XS sub-block s's scale (-32..31): low nibble from scalesL, top two bits from scalesH.
inline int iq4xsScale(const BlockIQ4_XS &b, int s)
{
    const int low = (b.scalesL[s / 2] >> (4 * (s % 2))) & 0x0f;
    const int high = (b.scalesH >> (2 * s)) & 3;
    return (low | (high << 4)) - 32;
}

// Q3_K's sixteen 6-bit scales, minus their offset 32, from its 12 packed bytes: the low nibbles
// of bytes 0..7 are scales 0..7, their high nibbles scales 8..15; byte 8 + j % 4 holds scale j's
// top two bits at bit 2 (j / 4).
// Four scales at a time as 32-bit words: scales 4w..4w+3 are the low (w < 2) or high nibbles of
// word w % 2 with bit pair w of word 2 on top.
inline void unpackQ3Scales(const std::uint8_t *packed, std::int8_t *scales)
{
    std::uint32_t a, b, c;
    std::memcpy(&a, packed, 4);
    std::memcpy(&b, packed + 4, 4);
    std::memcpy(&c, packed + 8, 4);
    const std::uint32_t low4 = 0x0f0f0f0fu, low2 = 0x03030303u;
    const std::uint32_t words[4] = {
        (a & low4) | ((c & low2) << 4),
        (b & low4) | (((c >> 2) & low2) << 4),
        ((a >> 4) & low4) | (((c >> 4) & low2) << 4),
        ((b >> 4) & low4) | (((c >> 6) & low2) << 4),
    };
    std::uint8_t stored[16];
    std::memcpy(stored, words, sizeof words);
    for (int j = 0; j < 16; ++j)
        scales[j] = static_cast<std::int8_t>(stored[j] - 32);
}

static_assert(sizeof(BlockQ4_0) == 18);
static_assert(sizeof(BlockQ4_1) == 20);
static_assert(sizeof(BlockQ5_0) == 22);
static_assert(sizeof(BlockQ5_1) == 24);
static_assert(sizeof(BlockQ8_0) == 34);
static_assert(sizeof(BlockQ8_1) == 36);
static_assert(sizeof(BlockQ2_K) == 84);
static_assert(sizeof(BlockQ3_K) == 110);
static_assert(sizeof(BlockQ4_K) == 144);
static_assert(sizeof(BlockQ5_K) == 176);
static_assert(sizeof(BlockQ6_K) == 210);
static_assert(sizeof(BlockQ8_K) == 292);
static_assert(sizeof(BlockIQ4_NL) == 18);
static_assert(sizeof(BlockIQ4_XS) == 136);
static_assert(sizeof(BlockMXFP4) == 17);
static_assert(sizeof(BlockIQ2_XXS) == 66);
static_assert(sizeof(BlockIQ2_XS) == 74);
static_assert(sizeof(BlockIQ2_S) == 82);
static_assert(sizeof(BlockIQ3_XXS) == 98);
static_assert(sizeof(BlockIQ3_S) == 110);

} // namespace nw
