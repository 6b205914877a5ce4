// Mixture-of-experts routing on the host (DeepSeek-V2 softmax, DeepSeek-V3 sigmoid with selection
// bias and group-limited choice, Qwen3-MoE / Mixtral softmax with renormalised weights, gpt-oss's
// softmax over the chosen logits, DeepSeek V4's sqrt-softplus with hash-routed layers): the CPU
// backend's moeRoute and the reference the CUDA kernel
// is tested against.
#pragma once

#include "kernels/backend_args.h"

#include <cstdint>

namespace nw {

// Chooses routing.nUsed experts per token from router logits [nTokens, nExperts]: ids
// [nTokens, nUsed] (highest biased affinity first, within the chosen groups; ties go to the lower
// id; or routing.fixedIds as given) and their weights [nTokens, nUsed], which are the UNBIASED
// affinities, renormalised when asked, times scale. Host pointers.
void routeExperts(const MoeRouting &routing, const float *logits, int nTokens, std::int32_t *ids, float *weights);

} // namespace nw
