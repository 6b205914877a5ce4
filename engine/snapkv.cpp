// SnapKV scoring and selection (arXiv:2404.14469 §4.2; pooling and top-k as its reference code).
#include "engine/snapkv.h"

#include "common/assert.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace nw {

SnapKvScores::SnapKvScores(std::int64_t nHeads, std::int64_t nKvHeads, std::int64_t promptTokens, std::int64_t window)
    : m_nHeads(nHeads)
    , m_nKvHeads(nKvHeads)
    , m_promptTokens(promptTokens)
    , m_window(std::min(window, promptTokens))
{
    NW_ASSERT(nKvHeads > 0 && nHeads % nKvHeads == 0 && promptTokens >= 0 && window > 0);
    m_scores.assign(static_cast<std::size_t>(nKvHeads * (promptTokens - m_window)), 0.0);
}

void SnapKvScores::addHead(std::int64_t head, const float *q, std::int64_t nQueries, std::int64_t firstPosition,
    const float *k, std::int64_t kvStride, std::int64_t kOffset, std::int64_t headDim, float scale)
{
    NW_ASSERT(head >= 0 && head < m_nHeads && firstPosition >= 0);
    const std::int64_t before = firstObserved();
    double *out = m_scores.data() + head / (m_nHeads / m_nKvHeads) * before;
    std::vector<double> logits;
    for (std::int64_t i = 0; i < nQueries; ++i) {
        const std::int64_t pos = firstPosition + i;
        if (pos < before || pos >= m_promptTokens)
            continue;
        const float *qi = q + i * headDim;
        logits.resize(static_cast<std::size_t>(pos + 1));
        double top = -std::numeric_limits<double>::infinity();
        for (std::int64_t s = 0; s <= pos; ++s) {
            const float *ks = k + s * kvStride + kOffset;
            double dot = 0.0;
            for (std::int64_t d = 0; d < headDim; ++d)
                dot += static_cast<double>(qi[d]) * static_cast<double>(ks[d]);
            logits[static_cast<std::size_t>(s)] = dot * static_cast<double>(scale);
            top = std::max(top, logits[static_cast<std::size_t>(s)]);
        }
        double sum = 0.0;
        for (double &l : logits) {
            l = std::exp(l - top);
            sum += l;
        }
        for (std::int64_t s = 0; s < before; ++s)
            out[s] += logits[static_cast<std::size_t>(s)] / sum;
    }
}

std::int64_t snapKvRows(std::int64_t promptTokens, std::int64_t budget, std::int64_t window)
{
    return std::min(promptTokens, budget + window);
}

std::vector<std::vector<std::int64_t>> snapKvSelect(std::span<const double> scores, std::int64_t nKvHeads,
    std::int64_t promptTokens, std::int64_t budget, std::int64_t window, std::int64_t kernel)
{
    NW_ASSERT(budget > 0 && window > 0 && kernel > 0 && kernel % 2 == 1);
    const std::int64_t w = std::min(window, promptTokens);
    const std::int64_t before = promptTokens - w;
    NW_ASSERT(static_cast<std::int64_t>(scores.size()) == nKvHeads * before);
    std::vector<std::vector<std::int64_t>> kept(static_cast<std::size_t>(nKvHeads));
    std::vector<double> pooled(static_cast<std::size_t>(before));
    std::vector<std::int64_t> order(static_cast<std::size_t>(before));
    for (std::int64_t h = 0; h < nKvHeads; ++h) {
        std::vector<std::int64_t> &out = kept[static_cast<std::size_t>(h)];
        if (before <= budget) {
            out.resize(static_cast<std::size_t>(promptTokens));
            std::iota(out.begin(), out.end(), std::int64_t { 0 });
            continue;
        }
        const double *row = scores.data() + h * before;
        for (std::int64_t s = 0; s < before; ++s) {
            const std::int64_t lo = std::max<std::int64_t>(0, s - kernel / 2);
            const std::int64_t hi = std::min(before, s + kernel / 2 + 1);
            pooled[static_cast<std::size_t>(s)] = *std::max_element(row + lo, row + hi);
        }
        std::iota(order.begin(), order.end(), std::int64_t { 0 });
        std::partial_sort(order.begin(), order.begin() + budget, order.end(), [&](std::int64_t a, std::int64_t b) {
            const double pa = pooled[static_cast<std::size_t>(a)], pb = pooled[static_cast<std::size_t>(b)];
            return pa != pb ? pa > pb : a < b;
        });
        out.assign(order.begin(), order.begin() + budget);
        std::sort(out.begin(), out.end());
        for (std::int64_t s = before; s < promptTokens; ++s)
            out.push_back(s);
    }
    return kept;
}

} // namespace nw
