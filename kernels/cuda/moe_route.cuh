// MoE routing on the GPU (DeepSeek-V2 softmax / V3 sigmoid + selection bias, group-limited
// top-k): the same choice and weights as engine/moe.cpp's routeExperts, on device pointers.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace nw::cuda {

struct MoeRouteParams {
    bool sigmoid = false;                 // false: softmax over the experts (V2); true: sigmoid (V3)
    int nExperts = 0;                     // <= 1024
    int nUsed = 0;                        // top-k, <= nExperts
    bool normalize = false;               // chosen weights renormalised to sum 1
    float scale = 1.f;                    // applied after normalisation
    const float *selectionBias = nullptr; // [nExperts] device, added for the choice only, or null
    int nGroups = 1;                      // experts in nGroups equal groups ...
    int nGroupsUsed = 1;                  // ... of which the best nGroupsUsed compete
};

// logits: [nTokens, nExperts] f32; ids: [nTokens, nUsed] (best first, ties to the lower id);
// weights: [nTokens, nUsed] = unbiased affinities (renormalised if asked) * scale. All device.
void moeRoute(const MoeRouteParams &p, const float *logits, int nTokens, std::int32_t *ids,
              float *weights, cudaStream_t stream);

} // namespace nw::cuda
