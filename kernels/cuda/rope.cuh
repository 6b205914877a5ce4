// Rotary position embedding on device pointers, with ggml's semantics incl. YaRN (as
// kernels/cpu/rope.cpp: angles in double, adjacent or neox pairs, freq factors, mscale).
#pragma once

#include "kernels/backend_args.h"

#include <cuda_runtime.h>

#include <cstdint>

namespace nw::cuda {

// In place on x: [nTokens, nHeads, headStride] f32; rotates dims [offset, offset + p.nDims) of
// each head at positions[t]. x, positions and p.freqFactors are device pointers.
void rope(float *x, int nTokens, int nHeads, int headStride, int offset,
          const std::int32_t *positions, const RopeParams &p, cudaStream_t stream);

} // namespace nw::cuda
