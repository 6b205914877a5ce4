// Walsh–Hadamard rotation of KV rows before they are quantized (QuaRot, Ashkboos et al. 2024;
// llama.cpp's attn_rot, PR #21038): an orthonormal rotation spreads a head's outlier dimensions
// over the whole block, so the per-group scale of Q8_0 / Q4_0 is no longer set by one large value.
// Keys and queries rotated alike keep every q·k; values rotated are rotated back after the
// softmax-weighted sum (the sum is linear). H/√n is symmetric and its own inverse.
#pragma once

#include <cstddef>
#include <cstdint>

namespace nw {

constexpr int kMaxHadamardBlock = 256; // larger blocks spread no further at these head widths

// The rotation block of rows `length` elements long: the largest power of two that divides it,
// at most kMaxHadamardBlock (64 for heads of 64, 128 for 128, 64 for MLA's 576-wide rows).
int hadamardBlock(std::int64_t length);

// x[b·block, (b+1)·block) ← H_block/√block · x[b·block, (b+1)·block) for each block of x[0, n), in
// place (the fast transform, block·log2(block) additions per block). n must be a multiple of
// block, block a power of two.
void hadamardRotate(float *x, std::size_t n, int block);

} // namespace nw
