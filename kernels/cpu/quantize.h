// Conversion between f32 and every block format a GGUF weight may be stored in (ggml's layouts,
// kernels/tensor_type.h): dequantization for the reference paths and tests, quantization for
// building test models and for the activation side of quantized dot products.
#pragma once

#include "kernels/tensor_type.h"

#include <cstddef>

namespace nw {

// Dequantizes `n` elements (n % blockElements == 0) of type `type` from `src` into `dst`.
// Handles F32, F16, BF16, the legacy quants, the K-quants (Q2_K ... Q8_K), IQ4_NL, IQ4_XS and
// MXFP4; see canDequantize().
void dequantizeRow(TensorType type, const void *src, float *dst, std::size_t n);

// Quantizes n floats (n % blockElements == 0) into blocks of `type`: a valid, reasonably
// accurate encoding (used to make test models and to quantize activations for dot products).
// Returns the bytes written (rowBytes(type, n)).
std::size_t quantizeRow(TensorType type, const float *src, void *dst, std::size_t n);

bool canQuantize(TensorType type);
bool canDequantize(TensorType type);

} // namespace nw
