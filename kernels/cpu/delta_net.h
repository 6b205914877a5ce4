// Gated DeltaNet on the CPU (DeltaNetArgs in kernels/backend_args.h): the per-token recurrence,
// which decode runs, and the chunked form prefill runs (Yang et al. 2024 §3.2, the WY
// representation of the delta rule: within a chunk the updates become one triangular solve and a
// handful of small matrix products, so the state is read and written once per chunk instead of
// once per token). Both take the same arguments and agree to float rounding.
#pragma once

#include "kernels/backend_args.h"

namespace nw::cpu {

class ThreadPool;

// Token by token: for every value head, S ← exp(g) S, u = β (v − Sᵀk), S ← S + k uᵀ, o = Sᵀq.
void gatedDeltaNetRecurrent(ThreadPool &pool, const DeltaNetArgs &a);

// Chunks of `chunk` tokens (the last one shorter): the same result, computed per chunk as
// llama.cpp's build_delta_net_chunking does (chunk 64 there).
void gatedDeltaNetChunked(ThreadPool &pool, const DeltaNetArgs &a, int chunk = 64);

// The recurrence for a single token, the chunked form for more; checks the arguments.
void gatedDeltaNet(ThreadPool &pool, const DeltaNetArgs &a);

} // namespace nw::cpu
