// Writes new K/V rows into a paged KV cache in device memory, converting f32 to the cache type.
#pragma once

#include "kernels/backend_args.h"

#include <cuda_runtime.h>

#include <cstdint>

namespace nw::cuda {

// As Backend::storeKv, with every pointer (kv.blockTable, kv.kBlocks, kv.vBlocks, k, v,
// positions) on the device and kv.type F32, F16 or BF16. k: [nTokens, nKvHeads * kHeadDim];
// v: [nTokens, nKvHeads * vHeadDim], or null for MLA's shared row (only K rows are written).
void storeKv(const KvLayerView &kv, const float *k, const float *v, int nTokens,
             const std::int32_t *positions, cudaStream_t stream);

} // namespace nw::cuda
