// y = x · Wᵀ with W in its file type: activations are quantized once per row to the format the
// weight type's dot product wants, rows are split across threads, and for many tokens the work
// is tiled so each weight tile is reused from cache by a tile of tokens.
#pragma once

#include "kernels/backend.h"
#include "kernels/cpu/dot_products.h"

#include <cstddef>
#include <vector>

namespace nw::cpu {

class ThreadPool;

// x: [nTokens, w.cols] f32; y: [nTokens, w.rows] f32. `scratch` holds the quantized activations
// between calls (grown as needed). `kernel` defaults to dotKernel(w.type).
void matmul(ThreadPool &pool, std::vector<std::byte> &scratch, const WeightMatrix &w, const float *x,
            float *y, int nTokens, const DotKernel *kernel = nullptr);

// Checks a weight view before any work: supported type, whole blocks, a row stride that holds a
// row. Throws nw::Error naming the problem.
void checkWeights(const WeightMatrix &w, const char *op);

} // namespace nw::cpu
