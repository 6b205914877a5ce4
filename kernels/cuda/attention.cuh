// Causal attention over a paged KV cache in device memory (Backend::attention on the GPU): full
// K/V for llama-family models (MHA/GQA), and MLA's shared row read as K and, in part, as V.
#pragma once

#include "kernels/backend_args.h"

#include <cuda_runtime.h>

namespace nw::cuda {

// Largest head dims the kernel holds in registers (MLA's 512 + 64 row included).
inline constexpr int kAttentionMaxHeadDim = 576;

// As Backend::attention with every pointer (a.q, a.out, a.queryPositions, kv.blockTable,
// kv.kBlocks, kv.vBlocks) on the device; rows of type F32, F16 or BF16. Validates the view on
// the host (types, strides, head counts, dims) before the launch; positions are trusted (a
// negative one gives a row of zeros).
void attention(const AttentionArgs &a, cudaStream_t stream);

} // namespace nw::cuda
