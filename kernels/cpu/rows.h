// Row-wise data movement and broadcasts of the residual stream and the MoE dispatch: a bias added
// to every row, a scale, strided row copies, and the gather / weighted scatter-add that route
// tokens to experts and back.
#pragma once

#include <cstddef>
#include <cstdint>

namespace nw::cpu {

class ThreadPool;

// y[t, :] += row[:] for t < nTokens; y: [nTokens, dim].
void addRow(ThreadPool &pool, float *y, const float *row, int nTokens, int dim);

// x[i] *= s over n.
void scale(ThreadPool &pool, float *x, float s, std::size_t n);

// dst[r * dstStride + c] = src[r * srcStride + c] for r < rows, c < cols (strides in floats).
void copyRows(ThreadPool &pool, float *dst, std::size_t dstStride, const float *src, std::size_t srcStride,
              int rows, int cols);

// dst[i, :] = src[rows[i], :] for i < n; src rows and dst rows have dim floats.
void gatherRows(ThreadPool &pool, const float *src, const std::int32_t *rows, int n, int dim, float *dst);

// dst[rows[i], :] += weights[i] * src[i, :] for i < n; the rows must be distinct (no two i write
// one row), so the rows can be split across threads.
void scatterAddRows(ThreadPool &pool, float *dst, const float *src, const std::int32_t *rows, const float *weights,
                    int n, int dim);

} // namespace nw::cpu
