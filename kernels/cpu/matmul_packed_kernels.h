// The per-group dot products of the packed matmul (matmul_packed.h), shared by its portable
// file and its AVX2 file; not part of the op interface.
#pragma once

#include "kernels/tensor_type.h"

#include <cstddef>
#include <cstdint>

namespace nw::cpu {

// Bytes of one block column of 8 packed rows (layouts in matmul_packed.h).
constexpr std::size_t kQ4_0x8Bytes = 16 + 128;
constexpr std::size_t kQ8_0x8Bytes = 16 + 256;
constexpr std::size_t kQ4_Kx8Bytes = 32 + 64 + 64 + 1024;
constexpr std::size_t kQ6_Kx8Bytes = 16 + 128 + 1024 + 512;
constexpr std::size_t kQ2_Kx8Bytes = 16 + 16 + 128 + 512;
constexpr std::size_t kQ3_Kx8Bytes = 16 + 128 + 256 + 512;
constexpr std::size_t kIQ4_NLx8Bytes = 16 + 128;
constexpr std::size_t kMXFP4x8Bytes = 8 + 128;

// out[r] = dot(row r of the group, activation row) for the 8 rows of one group. `act` is the
// token's quantized row (Q8_0 blocks for Q4_0/Q8_0/IQ4_NL/MXFP4, Q8_K for the K-quants); `sums` the int sums
// of its Q8_0 blocks (Q4_0 only, else null); nBlocks the block columns.
using PackedGroupDot = void (*)(
    const std::byte *group, const std::byte *act, const std::int32_t *sums, std::int64_t nBlocks, float *out);

// The AVX2 kernel for a packed type, or null when this build or CPU has none.
PackedGroupDot avx2PackedDot(TensorType type);

// Tokens per call of a tile kernel.
constexpr int kTileTokens = 4;

// The same 8 dot products for kTileTokens consecutive tokens at once: out[8 t + r] = dot(row r,
// token t's row at act + t * actStride). Each weight vector is loaded and unpacked once for all
// the tokens (prefill). `sums` as above for the first token, the next token's nBlocks further on.
using PackedGroupTile = void (*)(const std::byte *group, const std::byte *act, std::size_t actStride,
    const std::int32_t *sums, std::int64_t nBlocks, float *out);

// The AVX2 tile kernel for a packed type, or null when there is none (then every token goes
// through the PackedGroupDot kernel).
PackedGroupTile avx2PackedTile(TensorType type);

} // namespace nw::cpu
