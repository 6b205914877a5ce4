// The gated FFN on the Backend (llama.cpp's build_ffn with LLM_FFN_PAR, or LLM_FFN_SWIGLU over a
// fused up tensor).
#include "engine/graph/ffn.h"

#include "engine/graph/attention.h"
#include "engine/graph/weight_loader.h"

#include <fmt/format.h>

namespace nw {

GatedFfn GatedFfn::load(WeightLoader &w, std::int64_t layer, std::int64_t nEmbd, std::int64_t nFf,
    GateActivation activation, std::string_view suffix, float swigluLimit)
{
    GatedFfn f;
    f.m_activation = activation;
    f.m_swigluLimit = swigluLimit;
    auto name = [&](const char *what, const char *kind = "weight") {
        return WeightLoader::layerName(layer, fmt::format("{}{}", what, suffix), kind);
    };
    f.m_gate = w.findMatrix(name("ffn_gate"), nEmbd, nFf);
    if (f.m_gate.data) {
        f.m_up = w.matrix(name("ffn_up"), nEmbd, nFf);
        f.m_gateBias = w.findVector(name("ffn_gate", "bias"), nFf);
        f.m_upBias = w.findVector(name("ffn_up", "bias"), nFf);
    } else {
        // Fused (Phi-3): rows [0, nFf) are the gate, [nFf, 2 nFf) the up projection.
        const WeightMatrix both = w.matrix(name("ffn_up"), nEmbd, 2 * nFf);
        f.m_gate = rowSlice(both, 0, nFf);
        f.m_up = rowSlice(both, nFf, nFf);
    }
    f.m_down = w.matrix(name("ffn_down"), nFf, nEmbd);
    f.m_downBias = w.findVector(name("ffn_down", "bias"), nEmbd);
    return f;
}

void GatedFfn::collectMatrices(std::vector<WeightMatrix> &all) const
{
    all.insert(all.end(), { m_gate, m_up, m_down });
}

void GatedFfn::forward(ForwardPass &p, const float *x, float *out) const
{
    Backend &be = p.backend;
    const int n = p.nTokens;
    const int ff = int(m_gate.rows);
    const std::size_t size = std::size_t(n) * std::size_t(ff);
    float *gate = p.floats(kScratchGate, size);
    float *up = p.floats(kScratchUp, size);
    be.matmul(m_gate, x, gate, n);
    be.matmul(m_up, x, up, n);
    if (m_gateBias)
        be.addRow(gate, m_gateBias, n, ff);
    if (m_upBias)
        be.addRow(up, m_upBias, n, ff);
    if (m_activation == GateActivation::GeluTanh)
        be.geglu(gate, up, gate, size);
    else if (m_swigluLimit > 0.f)
        be.swigluLimited(gate, up, gate, size, m_swigluLimit);
    else
        be.swiglu(gate, up, gate, size);
    be.matmul(m_down, gate, out, n);
    if (m_downBias)
        be.addRow(out, m_downBias, n, p.nEmbd);
}

} // namespace nw
