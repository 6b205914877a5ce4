// Weights repacked at load for the CPU matmul: rows are taken 8 at a time and their blocks
// interleaved four bytes at a time, so one 32-byte load holds the same four columns of 8 rows.
// One broadcast activation word then feeds all 8 rows through one maddubs, the 8 results land
// in the 8 int32 lanes of one register (no horizontal sums), and each activation byte is
// loaded once per 8 rows instead of once per row. In prefill, all but Q6_K also take 4 tokens
// per kernel call, so each weight vector is loaded and unpacked once per 4 tokens. Q4_0, Q8_0,
// Q2_K, Q3_K, Q4_K, Q6_K, IQ4_NL and MXFP4 can be repacked; the others keep the per-row kernels
// of matmul.h.
#pragma once

#include "kernels/backend.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace nw::cpu {

class ThreadPool;

constexpr int kPackRows = 8; // rows per interleaved group

// One weight matrix in the interleaved layout. Group g holds rows [8g, 8g + 8) (the last group
// padded with zero rows) as a sequence of block groups, one per block column:
//   Q4_0: f16 d[8] | u8 qs[4][8][4]          qs[v][r][i] = row r's qs[4v + i] (nibbles as in the file)
//   Q8_0: f16 d[8] | i8 qs[8][8][4]          qs[v][r][i] = row r's qs[4v + i]
//   Q4_K: f16 d[8] | f16 dmin[8] | u8 scale[8 sub][8] | u8 min[8 sub][8]
//         | u8 qs[4 pairs][8][8][4]          qs[p][v][r][i] = row r's qs[32p + 4v + i]
//   Q2_K: f16 d[8] | f16 dmin[8] | u8 scale[8 pairs][8][2] | u8 qs[2][8][8][4]
//         scale[p][r][e]: row r's scales byte 2p + e (scale low nibble, min high);
//         qs[n][v][r][i] = row r's qs[32n + 4v + i] (2-bit fields as in the file)
//   Q3_K: f16 d[8] | i8 scale[8 pairs][8][2] | u8 hmask[8][8][4] | u8 qs[2][8][8][4]
//         scale[p][r][e]: row r's scale 2p + e (- 32 applied); hmask[v][r][i] = row r's
//         hmask[4v + i]; qs[n][v][r][i] = row r's qs[32n + 4v + i] (2-bit fields as in the file)
//   IQ4_NL: f16 d[8] | u8 qs[4][8][4]        as Q4_0 (the nibbles index kIq4nlValues)
//   MXFP4: u8 e[8] | u8 qs[4][8][4]          as Q4_0 (E8M0 exponents; nibbles index kMxfp4Values)
//   Q6_K: f16 d[8] | i8 scale[16 sub][8] | u8 ql[32][8][4] | u8 qh[16][8][4]
//         ql[t]: element group t (elements 4t..4t+3) in the low nibbles, group t + 32 in the
//         high ones; qh[s]: the two high bits of groups s, s+16, s+32, s+48 at bits 0, 2, 4, 6.
struct PackedWeights {
    TensorType type = TensorType::F32;
    std::int64_t rows = 0;
    std::int64_t cols = 0;
    const std::byte *source = nullptr; // the file rows it was made from (WeightMatrix::data)
    std::size_t sourceStride = 0; // and their row stride in bytes
    std::size_t blockBytes = 0; // bytes of one block group (8 rows x one block column)
    std::size_t groupBytes = 0; // bytes of one group of 8 rows, all columns
    std::int64_t nGroups = 0;
    std::unique_ptr<std::byte[]> storage; // [nGroups, groupBytes], 64-byte aligned within
    std::byte *data = nullptr;

    std::size_t bytes() const { return groupBytes * static_cast<std::size_t>(nGroups); }
    const std::byte *group(std::int64_t g) const { return data + groupBytes * static_cast<std::size_t>(g); }
};

// Whether packWeights takes this type.
bool canPack(TensorType type);

// The interleaved copy of `w` (checked like matmul's weights; asserts canPack(w.type)).
std::unique_ptr<PackedWeights> packWeights(const WeightMatrix &w);

// y = x · Wᵀ on the packed weights; same contract as cpu::matmul (x: [nTokens, cols] f32,
// y: [nTokens, rows] f32, `scratch` holds the quantized activations). `scalar` forces the
// portable kernels (tests compare them with the SIMD ones).
void matmulPacked(ThreadPool &pool, std::vector<std::byte> &scratch, const PackedWeights &w, const float *x, float *y,
    int nTokens, bool scalar = false);

} // namespace nw::cpu
