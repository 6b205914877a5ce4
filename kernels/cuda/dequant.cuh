// Dequantizing file-type weight rows to bf16 on the device (weights uploaded once, then used by
// cuBLAS): F32, F16, BF16, Q8_0, Q4_0 and the K-quants Q4_K, Q5_K, Q6_K.
#pragma once

#include "kernels/tensor_type.h"

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace nw::cuda {

// Whether dequantizeToBf16 handles `type`.
bool canDequantizeToBf16(TensorType type);

// dst[r, c] = weight (r, c) rounded to bf16 (nearest even);  src: [rows, srcRowStride] bytes of
// `type` on the device, dst: [rows, cols] bf16 bits on the device.
void dequantizeToBf16(TensorType type, const void *src, std::size_t srcRowStride, std::int64_t rows,
                      std::int64_t cols, std::uint16_t *dst, cudaStream_t stream);

} // namespace nw::cuda
