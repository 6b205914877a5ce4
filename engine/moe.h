// Mixture-of-experts FFN execution (DeepSeekMoE, DeepSeek-V2 §2.2 / V3 §2.1.2; Qwen3-MoE;
// Mixtral): the routed experts' gated FFNs run through a Backend, experts' weights read in place
// from the mapped file. The router's choice itself is a Backend op (moeRoute; the host
// implementation is routeExperts in kernels/cpu/moe_route.h).
#pragma once

#include "engine/graph/scratch.h"
#include "kernels/backend.h"
#include "kernels/cpu/moe_route.h"

#include <cstdint>
#include <vector>

namespace nw {

// The routed experts of one layer: 3-D GGUF tensors [nExperts][rows][cols] viewed per expert.
struct ExpertWeights {
    WeightMatrix gate; // expert 0 of ffn_gate_exps: [nFfExp, nEmbd]
    WeightMatrix up; // expert 0 of ffn_up_exps:   [nFfExp, nEmbd]
    WeightMatrix down; // expert 0 of ffn_down_exps: [nEmbd, nFfExp]
    std::size_t gateExpertStride = 0; // bytes between experts
    std::size_t upExpertStride = 0;
    std::size_t downExpertStride = 0;
    int nExperts = 0;
    // gpt-oss: per-expert biases ([nExperts][nFfExp] for gate and up, [nExperts][nEmbd] for
    // down) and the clamped SwiGLU (swigluOai with this alpha and limit); null / 0: none, SiLU.
    const float *gateBias = nullptr;
    const float *upBias = nullptr;
    const float *downBias = nullptr;
    float oaiAlpha = 0.f;
    float oaiLimit = 0.f;
    // Gemma 4: GELU (tanh) instead of SiLU, and each expert's output scaled by outputScale[e]
    // (ffn_down_exps.scale, host memory); false / null: none.
    bool gelu = false;
    const float *outputScale = nullptr; // [nExperts]
    // DeepSeek V4: swigluLimited with this limit (0: none).
    float swigluLimit = 0.f;

    WeightMatrix gateOf(int expert) const;
    WeightMatrix upOf(int expert) const;
    WeightMatrix downOf(int expert) const;
};

// y[t] += sum_k weights[t, k] · down_e(silu(gate_e x[t]) ⊙ up_e x[t]), e = ids[t, k] (with the
// experts' biases and gpt-oss's activation when ExpertWeights has them).
// Tokens are grouped by expert so each expert's weights are read once per batch (prefill), and
// gathered / scattered back with backend ops. x, y: [nTokens, nEmbd] in the backend's memory
// (y accumulated into); ids, weights: [nTokens, nUsed] on the host.
class ExpertRunner {
public:
    void run(Backend &backend, const ExpertWeights &experts, const float *x, int nTokens, const std::int32_t *ids,
        const float *weights, int nUsed, float *y);

private:
    std::vector<std::int32_t> m_tokens; // tokens routed to the current expert
    std::vector<float> m_tokenWeights;
    ScratchBuffers m_scratch; // the expert's rows, ids and weights in backend memory
};

} // namespace nw
