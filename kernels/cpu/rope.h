// Rotary position embedding with ggml's semantics (ggml-cpu ops.cpp: rope_yarn,
// ggml_rope_yarn_corr_dims): adjacent pairs or neox halves, linear scaling and YaRN.
#pragma once

#include "kernels/backend_args.h"

#include <cstdint>

namespace nw::cpu {

class ThreadPool;

// cosSin: [nDims] = (cos, sin) of each rotated pair at position `pos`, including YaRN's ramp and
// mscale. Exposed for tests and for backends that want the same table.
void ropeCosSin(const RopeParams &p, std::int32_t pos, float *cosSin);

// YaRN's correction range [low, high] of pair indices (ggml_rope_yarn_corr_dims).
void ropeYarnCorrDims(const RopeParams &p, float dims[2]);

// In place on x: [nTokens, nHeads, headStride]; dims [offset, offset + p.nDims) of each head.
void rope(ThreadPool &pool, float *x, int nTokens, int nHeads, int headStride, int offset,
          const std::int32_t *positions, const RopeParams &p);

} // namespace nw::cpu
