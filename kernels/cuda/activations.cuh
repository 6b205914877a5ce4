// The Backend's elementwise and row ops on device pointers: swiglu, geglu, add, addRow, scale,
// gatherRows and scatterAddRows.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace nw::cuda {

// y = silu(gate) * up elementwise over n (y may alias gate or up); all f32 device pointers.
void swiglu(const float *gate, const float *up, float *y, std::size_t n, cudaStream_t stream);

// y[i] += x[i] over n; f32 device pointers.
void add(float *y, const float *x, std::size_t n, cudaStream_t stream);

// y = gelu_tanh(gate) * up elementwise over n (y may alias gate or up).
void geglu(const float *gate, const float *up, float *y, std::size_t n, cudaStream_t stream);

// gpt-oss's clamped SwiGLU (kernels/backend.h) elementwise over n.
void swigluOai(const float *gate, const float *up, float *y, std::size_t n, float alpha, float limit,
               cudaStream_t stream);

// y[t, :] += row[:] for t < nTokens; y: [nTokens, dim], row: [dim] (device).
void addRow(float *y, const float *row, int nTokens, int dim, cudaStream_t stream);

// x[i] *= s over n.
void scale(float *x, float s, std::size_t n, cudaStream_t stream);

// dst[i, :] = src[rows[i], :] for i < n (rows of dim floats).
void gatherRows(const float *src, const std::int32_t *rows, int n, int dim, float *dst, cudaStream_t stream);

// dst[rows[i], :] += weights[i] * src[i, :] for i < n; rows distinct.
void scatterAddRows(float *dst, const float *src, const std::int32_t *rows, const float *weights, int n, int dim,
                    cudaStream_t stream);

} // namespace nw::cuda
