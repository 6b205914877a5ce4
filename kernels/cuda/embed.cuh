// Embedding lookup on device pointers: rows of an F32/F16/BF16/Q8_0 table widened to f32.
#pragma once

#include "kernels/backend_args.h"

#include <cuda_runtime.h>

#include <cstdint>

namespace nw::cuda {

// out[i, :] = table row ids[i] as f32;  out: [n, table.cols] f32. table.data, ids and out are
// device pointers. Ids are checked on the device: an id outside [0, table.rows) gives a row of
// NaN (a kernel cannot throw; the engine checks token ids on the host before they get here).
void embed(const WeightMatrix &table, const std::int32_t *ids, int n, float *out,
           cudaStream_t stream);

} // namespace nw::cuda
