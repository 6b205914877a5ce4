// The MoE block on the Backend (llama.cpp's build_moe_ffn with SiLU or GELU experts).
#include "engine/graph/moe_ffn.h"

#include "common/assert.h"
#include "common/error.h"
#include "engine/gguf_file.h"
#include "engine/graph/attention.h"
#include "engine/graph/weight_loader.h"

namespace nw {

MoeFfn MoeFfn::load(WeightLoader &w, std::int64_t layer, std::int64_t nEmbd, const MoeConfig &config,
    std::shared_ptr<MoeScratch> scratch)
{
    NW_ASSERT(scratch);
    MoeFfn m;
    m.m_scratch = std::move(scratch);
    m.m_routing = config.routing;
    const std::int64_t nx = config.routing.nExperts, f = config.nFfExpert;
    auto name = [layer](const char *what, const char *suffix = "weight") {
        return WeightLoader::layerName(layer, what, suffix);
    };
    m.m_router = w.matrix(name("ffn_gate_inp"), nEmbd, nx);
    m.m_routerBias = w.findVector(name("ffn_gate_inp", "bias"), nx);
    m.m_routing.selectionBias = w.findVector(name("exp_probs_b", "bias"), nx);
    if (config.hashVocab > 0) {
        m.m_hashVocab = config.hashVocab;
        m.m_hashTable = reinterpret_cast<const std::int32_t *>(
            w.require(name("ffn_gate_tid2eid"), { config.routing.nUsed, config.hashVocab }, { TensorType::I32 }).data);
        for (std::int64_t i = 0; i < config.routing.nUsed * config.hashVocab; ++i)
            if (m.m_hashTable[i] < 0 || m.m_hashTable[i] >= nx)
                fail("{}: {} routes a token to expert {} of {}", w.file().label(), name("ffn_gate_tid2eid"),
                    m.m_hashTable[i], nx);
    }
    m.m_experts.nExperts = int(nx);
    if (w.file().findTensor(name("ffn_gate_up_exps"))) {
        // Gate and up fused per expert, [2 · nFfExpert, nEmbd]: gate rows first (llama.cpp's
        // build_moe_ffn splits them so).
        std::size_t stride = 0;
        const WeightMatrix both = w.experts(name("ffn_gate_up_exps"), nEmbd, 2 * f, nx, stride);
        m.m_experts.gate = rowSlice(both, 0, f);
        m.m_experts.up = rowSlice(both, f, f);
        m.m_experts.gateExpertStride = m.m_experts.upExpertStride = stride;
    } else {
        m.m_experts.gate = w.experts(name("ffn_gate_exps"), nEmbd, f, nx, m.m_experts.gateExpertStride);
        m.m_experts.up = w.experts(name("ffn_up_exps"), nEmbd, f, nx, m.m_experts.upExpertStride);
    }
    m.m_experts.down = w.experts(name("ffn_down_exps"), f, nEmbd, nx, m.m_experts.downExpertStride);
    // Expert biases {rows, nExperts} (gpt-oss): one row of biases per expert.
    auto bias = [&](const char *what, std::int64_t rows) -> const float * {
        const TensorView *t = w.find(name(what, "bias"), { rows, nx }, { TensorType::F32 });
        return t ? reinterpret_cast<const float *>(t->data) : nullptr;
    };
    m.m_experts.gateBias = bias("ffn_gate_exps", f);
    m.m_experts.upBias = bias("ffn_up_exps", f);
    m.m_experts.downBias = bias("ffn_down_exps", nEmbd);
    m.m_experts.oaiAlpha = config.oaiAlpha;
    m.m_experts.oaiLimit = config.oaiLimit;
    m.m_experts.gelu = config.geluExperts;
    m.m_experts.swigluLimit = config.swigluLimit;
    if (config.expertScale)
        m.m_experts.outputScale = w.vector(name("ffn_down_exps", "scale"), nx);
    if (config.nFfShared > 0)
        m.m_shared = GatedFfn::load(
            w, layer, nEmbd, config.nFfShared, GateActivation::Silu, "_shexp", config.sharedSwigluLimit);
    if (config.sharedGate) {
        NW_ASSERT(config.nFfShared > 0);
        // A 1-D tensor in the file (llama-quantize leaves it F32): one row of nEmbd.
        m.m_sharedGate = denseWeights(TensorType::F32, 1, nEmbd, w.vector(name("ffn_gate_inp_shexp"), nEmbd));
    }
    return m;
}

void MoeFfn::collectMatrices(std::vector<WeightMatrix> &all) const
{
    all.push_back(m_router);
    for (int x = 0; x < m_experts.nExperts; ++x)
        all.insert(all.end(), { m_experts.gateOf(x), m_experts.upOf(x), m_experts.downOf(x) });
    if (m_shared)
        m_shared->collectMatrices(all);
    if (m_sharedGate.data)
        all.push_back(m_sharedGate);
}

void MoeFfn::forward(ForwardPass &p, const float *x, const float *routerInput, float *out) const
{
    Backend &be = p.backend;
    const int n = p.nTokens, nUsed = m_routing.nUsed;
    if (m_shared) {
        m_shared->forward(p, x, out); // always on, weight 1 or its gate
        if (m_sharedGate.data) {
            float *gate = p.floats(kScratchRouter, std::size_t(n));
            be.matmul(m_sharedGate, x, gate, n);
            be.sigmoidMul(out, gate, n, p.nEmbd, 1);
        }
    } else
        be.zero(out, std::size_t(n) * std::size_t(p.nEmbd));
    float *logits = p.floats(kScratchRouter, std::size_t(n) * std::size_t(m_routing.nExperts));
    be.matmul(m_router, routerInput, logits, n);
    if (m_routerBias)
        be.addRow(logits, m_routerBias, n, m_routing.nExperts);
    const std::size_t chosen = std::size_t(n) * std::size_t(nUsed);
    std::int32_t *ids = p.ints(kScratchExpertIds, chosen);
    float *weights = p.floats(kScratchExpertWeights, chosen);
    MoeScratch &s = *m_scratch;
    MoeRouting routing = m_routing;
    if (m_hashTable) { // the table's row of each token id (ids checked against the vocabulary)
        s.tokens.resize(std::size_t(n));
        be.download(s.tokens.data(), p.ids, std::size_t(n) * sizeof(std::int32_t));
        s.ids.resize(chosen);
        for (int t = 0; t < n; ++t)
            for (int k = 0; k < nUsed; ++k)
                s.ids[std::size_t(t) * std::size_t(nUsed) + std::size_t(k)]
                    = m_hashTable[std::size_t(s.tokens[std::size_t(t)]) * std::size_t(nUsed) + std::size_t(k)];
        std::int32_t *fixed = p.ints(kScratchFixedIds, chosen);
        be.upload(fixed, s.ids.data(), chosen * sizeof(std::int32_t));
        routing.fixedIds = fixed;
    }
    be.moeRoute(routing, logits, n, ids, weights);
    // The host groups tokens by expert (a few ids per token cross, not activations).
    s.ids.resize(chosen);
    s.weights.resize(chosen);
    be.download(s.ids.data(), ids, chosen * sizeof(std::int32_t));
    be.download(s.weights.data(), weights, chosen * sizeof(float));
    s.runner.run(be, m_experts, x, n, s.ids.data(), s.weights.data(), nUsed, out);
}

} // namespace nw
