// DeepSeekMoE routing and expert execution.
#include "engine/moe.h"

#include "common/assert.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace nw {

void routeExperts(const MoeRouting &routing, const float *logits, int nTokens, std::int32_t *ids,
                  float *weights)
{
    const int n = routing.nExperts, k = routing.nUsed;
    NW_ASSERT(n > 0 && k > 0 && k <= n);
    std::vector<float> probs(n), selection(n);
    std::vector<int> order(n);
    for (int t = 0; t < nTokens; ++t) {
        const float *row = logits + std::size_t(t) * n;
        if (routing.gating == MoeGating::Softmax) {
            const float peak = *std::max_element(row, row + n);
            double sum = 0.0;
            for (int e = 0; e < n; ++e)
                sum += probs[e] = std::exp(row[e] - peak);
            for (float &p : probs)
                p = float(p / sum);
        } else {
            for (int e = 0; e < n; ++e)
                probs[e] = 1.f / (1.f + std::exp(-row[e]));
        }
        for (int e = 0; e < n; ++e)
            selection[e] = probs[e] + (routing.selectionBias ? routing.selectionBias[e] : 0.f);
        std::iota(order.begin(), order.end(), 0);
        std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int a, int b) {
            return selection[a] > selection[b] || (selection[a] == selection[b] && a < b);
        });
        std::int32_t *rowIds = ids + std::size_t(t) * k;
        float *rowWeights = weights + std::size_t(t) * k;
        double sum = 0.0;
        for (int j = 0; j < k; ++j) {
            rowIds[j] = order[j];
            rowWeights[j] = probs[order[j]];
            sum += rowWeights[j];
        }
        const double factor = (routing.normalize ? 1.0 / sum : 1.0) * routing.scale;
        for (int j = 0; j < k; ++j)
            rowWeights[j] = float(rowWeights[j] * factor);
    }
}

namespace {
WeightMatrix expertSlice(const WeightMatrix &first, std::size_t stride, int expert, int nExperts)
{
    NW_ASSERT(expert >= 0 && expert < nExperts);
    WeightMatrix w = first;
    w.data = first.data + stride * std::size_t(expert);
    return w;
}
} // namespace

WeightMatrix ExpertWeights::gateOf(int expert) const { return expertSlice(gate, gateExpertStride, expert, nExperts); }
WeightMatrix ExpertWeights::upOf(int expert) const { return expertSlice(up, upExpertStride, expert, nExperts); }
WeightMatrix ExpertWeights::downOf(int expert) const { return expertSlice(down, downExpertStride, expert, nExperts); }

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
                    m_tokenWeights.push_back(weights[std::size_t(t) * nUsed + j]);
                }
        if (m_tokens.empty())
            continue;
        const int n = int(m_tokens.size());
        m_in.resize(std::size_t(n) * nEmbd);
        m_gate.resize(std::size_t(n) * nFf);
        m_up.resize(std::size_t(n) * nFf);
        m_out.resize(std::size_t(n) * nEmbd);
        for (int i = 0; i < n; ++i)
            std::copy_n(x + std::size_t(m_tokens[i]) * nEmbd, nEmbd, m_in.data() + std::size_t(i) * nEmbd);
        backend.matmul(experts.gateOf(e), m_in.data(), m_gate.data(), n);
        backend.matmul(experts.upOf(e), m_in.data(), m_up.data(), n);
        backend.swiglu(m_gate.data(), m_up.data(), m_gate.data(), m_gate.size());
        backend.matmul(experts.downOf(e), m_gate.data(), m_out.data(), n);
        for (int i = 0; i < n; ++i) {
            float *dst = y + std::size_t(m_tokens[i]) * nEmbd;
            const float *src = m_out.data() + std::size_t(i) * nEmbd;
            for (std::int64_t c = 0; c < nEmbd; ++c)
                dst[c] += m_tokenWeights[i] * src[c];
        }
    }
}

} // namespace nw
