// The mixture-of-experts FFN block: the router (ffn_gate_inp) scores the experts, the backend's
// moeRoute chooses them (softmax top-k with optional renormalisation: DeepSeek-V2, Qwen3-MoE;
// sigmoid with selection bias and group-limited choice: DeepSeek-V3), the chosen experts' gated
// FFNs run through the backend with their weights read in place from the mapping, and shared
// experts, when the file has them, add their output with weight 1 — or, with a shared gate
// (Qwen3-Next / Qwen3.5), with weight sigmoid(ffn_gate_inp_shexp · x) per token.
#pragma once

#include "engine/graph/ffn.h"
#include "engine/moe.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

namespace nw {

class WeightLoader;

struct MoeConfig {
    MoeRouting routing; // selectionBias is loaded from exp_probs_b.bias when present
    std::int64_t nFfExpert = 0; // rows of each expert's gate / up
    std::int64_t nFfShared = 0; // shared experts' width (ffn_*_shexp); 0: none
    // gpt-oss's clamped SwiGLU in the experts (limit 0: plain SwiGLU).
    float oaiAlpha = 0.f;
    float oaiLimit = 0.f;
    // The shared expert's output scaled per token by sigmoid(w · x), w = ffn_gate_inp_shexp.weight
    // [nEmbd] (Qwen3-Next / Qwen3.5).
    bool sharedGate = false;
    // Gemma 4: GELU experts and a per-expert output scale (ffn_down_exps.scale [nExperts]).
    bool geluExperts = false;
    bool expertScale = false;
    // DeepSeek V4: the routed and the shared experts' SwiGLU clamped (0: none), and hash routing:
    // hashVocab > 0 reads ffn_gate_tid2eid {nUsed, hashVocab} (I32), each token's experts by its id.
    float swigluLimit = 0.f;
    float sharedSwigluLimit = 0.f;
    std::int64_t hashVocab = 0;
};

// What every layer's MoE block reuses from one forward to the next (one block runs at a time):
// the router's choice on the host and the expert runner's buffers.
struct MoeScratch {
    std::vector<std::int32_t> ids;
    std::vector<float> weights;
    std::vector<std::int32_t> tokens; // the batch's ids (hash routing)
    ExpertRunner runner;
};

class MoeFfn {
public:
    // `scratch` is shared by every layer's block.
    static MoeFfn load(WeightLoader &w, std::int64_t layer, std::int64_t nEmbd, const MoeConfig &config,
        std::shared_ptr<MoeScratch> scratch);

    // out = shared(x) + Σ_k weight_k · expert_k(x); x, out: [nTokens, nEmbd].
    void forward(ForwardPass &pass, const float *x, float *out) const { forward(pass, x, x, out); }
    // The router scoring `routerInput` [nTokens, nEmbd] instead of x (Gemma 4).
    void forward(ForwardPass &pass, const float *x, const float *routerInput, float *out) const;

    void collectMatrices(std::vector<WeightMatrix> &all) const;

private:
    MoeRouting m_routing;
    WeightMatrix m_router; // [nExperts, nEmbd]
    const float *m_routerBias = nullptr; // [nExperts] (gpt-oss), or null
    const std::int32_t *m_hashTable = nullptr; // [hashVocab, nUsed] (DeepSeek V4), or null
    std::int64_t m_hashVocab = 0;
    ExpertWeights m_experts;
    std::optional<GatedFfn> m_shared;
    WeightMatrix m_sharedGate; // [1, nEmbd], or no data
    std::shared_ptr<MoeScratch> m_scratch;
};

} // namespace nw
