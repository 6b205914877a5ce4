// The gated feed-forward block: down(act(gate · x) ⊙ (up · x)), with SiLU (SwiGLU: Llama, Qwen,
// Phi-3, DeepSeek) or GELU's tanh approximation (GeGLU: Gemma) as the gate's activation; gate and
// up as two tensors or fused in one (Phi-3's ffn_up of 2·n_ff rows, gate first); optional biases.
#pragma once

#include "engine/graph/forward_pass.h"

#include <cstdint>
#include <string_view>
#include <vector>

namespace nw {

class WeightLoader;

enum class GateActivation { Silu, GeluTanh };

class GatedFfn {
public:
    // blk.<layer>.<prefix>_gate/_up/_down.weight [+ .bias], e.g. prefix "ffn" or "ffn" with
    // suffix "_shexp" for DeepSeek's shared experts; without a gate tensor, up holds both halves.
    // swigluLimit > 0 (DeepSeek V4): SiLU's gate and the up projection clamped (swigluLimited).
    static GatedFfn load(WeightLoader &w, std::int64_t layer, std::int64_t nEmbd, std::int64_t nFf,
        GateActivation activation, std::string_view suffix = "", float swigluLimit = 0.f);

    // out = FFN(x); x, out: [nTokens, nEmbd].
    void forward(ForwardPass &pass, const float *x, float *out) const;

    std::int64_t width() const { return m_gate.rows; }
    void collectMatrices(std::vector<WeightMatrix> &all) const;

private:
    GateActivation m_activation = GateActivation::Silu;
    float m_swigluLimit = 0.f;
    WeightMatrix m_gate, m_up, m_down; // [nFf, nEmbd] ×2 (rows of one fused tensor), [nEmbd, nFf]
    const float *m_gateBias = nullptr, *m_upBias = nullptr, *m_downBias = nullptr;
};

} // namespace nw
