// Small pieces shared by the scalar and SIMD dot-product files (not part of the op interface).
#pragma once

#include "kernels/tensor_type.h"

#include <cstdint>

namespace nw::cpu {

// The 8 six-bit scales and mins of a Q4_K / Q5_K super-block from its 12 packed bytes.
void unpackKScales(const std::uint8_t *packed, std::uint8_t *scales, std::uint8_t *mins);

// Position of a type in the kernel tables (-1: matmul does not support it); the tables have
// kKernelTypes rows.
int kernelIndex(TensorType type);
constexpr int kKernelTypes = 21;

} // namespace nw::cpu
