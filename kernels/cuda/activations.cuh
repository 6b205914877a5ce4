// SwiGLU, the residual add and row softmax on device pointers (the Backend's swiglu, add and softmax).
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

namespace nw::cuda {

// y = silu(gate) * up elementwise over n (y may alias gate or up); all f32 device pointers.
void swiglu(const float *gate, const float *up, float *y, std::size_t n, cudaStream_t stream);

// y[i] += x[i] over n; f32 device pointers.
void add(float *y, const float *x, std::size_t n, cudaStream_t stream);

// Row-wise softmax in place on x: [rows, cols] f32 (device).
void softmax(float *x, int rows, int cols, cudaStream_t stream);

} // namespace nw::cuda
