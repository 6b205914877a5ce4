// Routed experts through the backend: group tokens by expert, gather, FFN, weighted scatter-add.
#include "engine/moe.h"

#include "common/assert.h"

namespace nw {
namespace {

WeightMatrix expertSlice(const WeightMatrix &first, std::size_t stride, int expert, int nExperts)
{
    NW_ASSERT(expert >= 0 && expert < nExperts);
    WeightMatrix w = first;
    w.data = first.data + stride * std::size_t(expert);
    return w;
}

enum Slot : std::size_t { kRows, kWeights, kIn, kGate, kUp, kOut };

} // namespace

WeightMatrix ExpertWeights::gateOf(int expert) const
{
    return expertSlice(gate, gateExpertStride, expert, nExperts);
}
WeightMatrix ExpertWeights::upOf(int expert) const
{
    return expertSlice(up, upExpertStride, expert, nExperts);
}
WeightMatrix ExpertWeights::downOf(int expert) const
{
    return expertSlice(down, downExpertStride, expert, nExperts);
}

void ExpertRunner::run(Backend &backend, const ExpertWeights &experts, const float *x, int nTokens,
    const std::int32_t *ids, const float *weights, int nUsed, float *y)
{
    const std::int64_t nEmbd = experts.gate.cols, nFf = experts.gate.rows;
    NW_ASSERT(experts.down.rows == nEmbd && experts.down.cols == nFf && experts.up.rows == nFf);
    for (int e = 0; e < experts.nExperts; ++e) {
        m_tokens.clear();
        m_tokenWeights.clear();
        for (int t = 0; t < nTokens; ++t)
            for (int j = 0; j < nUsed; ++j)
                if (ids[std::size_t(t) * nUsed + j] == e) {
                    m_tokens.push_back(t);
                    // An expert's output scale folds into its tokens' weights (both multiply it).
                    m_tokenWeights.push_back(
                        weights[std::size_t(t) * nUsed + j] * (experts.outputScale ? experts.outputScale[e] : 1.f));
                }
        if (m_tokens.empty())
            continue;
        const int n = int(m_tokens.size());
        std::int32_t *rows = m_scratch.ints(backend, kRows, m_tokens.size());
        float *rowWeights = m_scratch.floats(backend, kWeights, m_tokens.size());
        float *in = m_scratch.floats(backend, kIn, std::size_t(n) * nEmbd);
        float *gate = m_scratch.floats(backend, kGate, std::size_t(n) * nFf);
        float *up = m_scratch.floats(backend, kUp, std::size_t(n) * nFf);
        float *out = m_scratch.floats(backend, kOut, std::size_t(n) * nEmbd);
        backend.upload(rows, m_tokens.data(), m_tokens.size() * sizeof(std::int32_t));
        backend.upload(rowWeights, m_tokenWeights.data(), m_tokenWeights.size() * sizeof(float));
        backend.gatherRows(x, rows, n, int(nEmbd), in);
        backend.matmul(experts.gateOf(e), in, gate, n);
        backend.matmul(experts.upOf(e), in, up, n);
        if (experts.gateBias)
            backend.addRow(gate, experts.gateBias + std::size_t(e) * std::size_t(nFf), n, int(nFf));
        if (experts.upBias)
            backend.addRow(up, experts.upBias + std::size_t(e) * std::size_t(nFf), n, int(nFf));
        if (experts.gelu)
            backend.geglu(gate, up, gate, std::size_t(n) * nFf);
        else if (experts.oaiLimit > 0.f)
            backend.swigluOai(gate, up, gate, std::size_t(n) * nFf, experts.oaiAlpha, experts.oaiLimit);
        else if (experts.swigluLimit > 0.f)
            backend.swigluLimited(gate, up, gate, std::size_t(n) * nFf, experts.swigluLimit);
        else
            backend.swiglu(gate, up, gate, std::size_t(n) * nFf);
        backend.matmul(experts.downOf(e), gate, out, n);
        if (experts.downBias)
            backend.addRow(out, experts.downBias + std::size_t(e) * std::size_t(nEmbd), n, int(nEmbd));
        backend.scatterAddRows(y, out, rows, rowWeights, n, int(nEmbd));
    }
}

} // namespace nw
