// Tensor element types as GGUF/ggml number them, with their block layouts. A weight stays in
// its file type; kernels dispatch on TensorType. Layouts follow ggml's `ggml-common.h`
// (block_q4_0, block_q4_K, ...): the byte structs below must match them exactly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
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
    I32 = 26, // integer tables, not weights (DeepSeek V4's hash routing: token id → experts)
    BF16 = 30,
};

struct TensorTypeTraits {
    TensorType type;
    std::string_view name; // "Q4_K", as GGUF tools print it
    std::size_t blockElements; // elements per block (1 for plain floats)
    std::size_t blockBytes;    // bytes per block
    bool supported;            // this engine can compute with it
};

// Traits of a known ggml type id; nullopt for ids this engine does not know.
std::optional<TensorTypeTraits> findTensorType(std::uint32_t id);
// Traits of a type this engine knows (asserts on an invalid enum value).
const TensorTypeTraits &tensorTypeTraits(TensorType type);
std::string_view tensorTypeName(TensorType type);

// Bytes of a row of `elements` values; the caller has checked elements % blockElements == 0.
std::size_t rowBytes(TensorType type, std::size_t elements);

using f16_t = std::uint16_t;  // IEEE binary16 bits
using bf16_t = std::uint16_t; // bfloat16 bits

constexpr std::size_t kQk = 32;   // elements per block of the legacy quants (Q4_0 ... Q8_1)
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
struct BlockQ2_K {
    std::uint8_t scales[kQkK / 16];
    std::uint8_t qs[kQkK / 4];
    f16_t d;
    f16_t dmin;
};
struct BlockQ3_K {
    std::uint8_t hmask[kQkK / 8];
    std::uint8_t qs[kQkK / 4];
    std::uint8_t scales[12];
    f16_t d;
};
// Activation side of K-quant dot products (f32 scale, per-16 sums).
struct BlockQ8_K {
    float d;
    std::int8_t qs[kQkK];
    std::int16_t bsums[kQkK / 16];
};

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

} // namespace nw
