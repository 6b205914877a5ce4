// Mixture-of-experts FFN of the DeepSeekMoE kind (DeepSeek-V2 §2.2, V3 §2.1.2): the router's
// choice of experts per token, and running the chosen experts' SwiGLU FFNs through a Backend.
#pragma once

#include "kernels/backend.h"

#include <cstdint>
#include <vector>

namespace nw {

enum class MoeGating {
    Softmax, // DeepSeek-V2: softmax over all experts' router logits
    Sigmoid, // DeepSeek-V3: independent sigmoid affinities
};

struct MoeRouting {
    MoeGating gating = MoeGating::Softmax;
    int nExperts = 0;
    int nUsed = 0;                        // top-k
    bool normalize = false;               // expert_weights_norm: chosen weights sum to 1
    float scale = 1.f;                    // expert_weights_scale, applied after normalisation
    const float *selectionBias = nullptr; // [nExperts] V3 exp_probs_b: added for the choice only
    // V3 group-limited routing: experts form nGroups equal groups; only the nGroupsUsed groups
    // with the largest sum of their two best (biased) affinities compete for the top-k.
    int nGroups = 1;
    int nGroupsUsed = 1;
};

// Chooses nUsed experts per token from router logits [nTokens, nExperts]: ids [nTokens, nUsed]
// (highest biased affinity first, within the chosen groups; ties go to the lower id) and their
// weights [nTokens, nUsed], which are the UNBIASED affinities, renormalised when asked, times scale.
void routeExperts(const MoeRouting &routing, const float *logits, int nTokens, std::int32_t *ids,
                  float *weights);

// The routed experts of one layer: 3-D GGUF tensors [nExperts][rows][cols] viewed per expert.
struct ExpertWeights {
    WeightMatrix gate; // expert 0 of ffn_gate_exps: [nFfExp, nEmbd]
    WeightMatrix up;   // expert 0 of ffn_up_exps:   [nFfExp, nEmbd]
    WeightMatrix down; // expert 0 of ffn_down_exps: [nEmbd, nFfExp]
    std::size_t gateExpertStride = 0; // bytes between experts
    std::size_t upExpertStride = 0;
    std::size_t downExpertStride = 0;
    int nExperts = 0;

    WeightMatrix gateOf(int expert) const;
    WeightMatrix upOf(int expert) const;
    WeightMatrix downOf(int expert) const;
};

// y[t] += sum_k weights[t, k] · down_e(silu(gate_e x[t]) ⊙ up_e x[t]), e = ids[t, k].
// Tokens are grouped by expert so each expert's weights are read once per batch (prefill).
// x: [nTokens, nEmbd]; y: [nTokens, nEmbd] (accumulated into).
class ExpertRunner {
public:
    void run(Backend &backend, const ExpertWeights &experts, const float *x, int nTokens,
             const std::int32_t *ids, const float *weights, int nUsed, float *y);

private:
    std::vector<std::int32_t> m_tokens;   // tokens routed to the current expert
    std::vector<float> m_tokenWeights;
    std::vector<float> m_in;   // [n, nEmbd]
    std::vector<float> m_gate; // [n, nFfExp]
    std::vector<float> m_up;   // [n, nFfExp]
    std::vector<float> m_out;  // [n, nEmbd]
};

} // namespace nw
