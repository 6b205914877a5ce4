// Dense matmul on the GPU: weights uploaded once and dequantized to bf16, products by cuBLAS
// (bf16 in, f32 accumulate and out).
#pragma once

#include "kernels/backend_args.h"
#include "kernels/cuda/device_buffer.h"

#include <cublas_v2.h>

#include <cstdint>

namespace nw::cuda {

// A weight matrix resident on the device as dense bf16.
struct DeviceWeightsBf16 {
    DeviceBuffer data;     // [rows, cols] bf16
    std::int64_t rows = 0;
    std::int64_t cols = 0;
};

// Copies host weights (any type dequantizeToBf16 reads) to the device and dequantizes them there.
DeviceWeightsBf16 uploadWeightsBf16(const WeightMatrix &hostWeights, cudaStream_t stream);

// y[t, r] = sum_c W[r, c] * x[t, c];  x: [nTokens, cols] f32, y: [nTokens, rows] f32 (device).
// x is rounded to bf16 into `scratch` (grown as needed) before cublasGemmEx; `cublas` must be
// bound to `stream`.
void matmul(cublasHandle_t cublas, const DeviceWeightsBf16 &w, const float *x, float *y, int nTokens,
            DeviceBuffer &scratch, cudaStream_t stream);

// The same product with the bf16 weights given as a device pointer w: [rows, cols] (e.g. a
// matrix dequantized into a scratch buffer just before).
void matmulBf16(cublasHandle_t cublas, const std::uint16_t *w, std::int64_t rows, std::int64_t cols,
                const float *x, float *y, int nTokens, DeviceBuffer &scratch, cudaStream_t stream);

} // namespace nw::cuda
