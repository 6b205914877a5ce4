// SnapKV scoring and selection (arXiv:2404.14469 §4.2; pooling and top-k as its reference code).
#include "engine/snapkv.h"

#include "common/assert.h"
#include "common/error.h"
#include "engine/kv_cache.h"
#include "kernels/cpu/hadamard.h"
#include "kernels/cpu/quantize.h"
#include "kernels/cpu/turbo_quant.h"

#include <algorithm>
#include <cmath>
#include <cstring>
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

std::vector<float> snapKvKeys(const KvCache &cache, std::int64_t store, std::int64_t nTokens)
{
    const KvLayerPlan &plan = cache.plan(store);
    const KvLayout &layout = plan.layout;
    if (cache.onDevice() || layout.spec.mode != KvMode::Full || plan.kind != KvLayerKind::Full)
        fail("SnapKV scores read the keys of host caches with full-layout layers that keep every token");
    NW_ASSERT(nTokens >= 0 && nTokens <= cache.tokens());
    const std::size_t width = static_cast<std::size_t>(layout.kRowElements());
    std::vector<float> keys(static_cast<std::size_t>(nTokens) * width);
    for (std::int64_t p = 0; p < nTokens; ++p) {
        float *row = keys.data() + static_cast<std::size_t>(p) * width;
        if (layout.kBits > 0) {
            turboDequantizeRow(layout.kBits, cache.kRow(store, p), static_cast<std::size_t>(layout.nKvHeads),
                static_cast<std::size_t>(layout.kHeadDim), row);
            continue;
        }
        dequantizeRow(layout.kType, cache.kRow(store, p), row, width);
        if (layout.kRotation > 0) // H/√n is its own inverse (kernels/cpu/hadamard.h)
            hadamardRotate(row, width, layout.kRotation);
    }
    return keys;
}

std::int64_t snapKvCompact(KvCache &cache, const std::vector<std::vector<std::vector<std::int64_t>>> &kept)
{
    if (cache.onDevice())
        fail("SnapKV compaction works on host KV caches only (the GPU cache has no per-head gather)");
    if (static_cast<std::int64_t>(kept.size()) != cache.nStores())
        fail("SnapKV compaction: {} stores selected, the cache has {}", kept.size(), cache.nStores());
    const std::int64_t rows = kept.empty() || kept[0].empty() ? cache.tokens() : std::int64_t(kept[0][0].size());
    for (std::int64_t l = 0; l < cache.nStores(); ++l) {
        const KvLayerPlan &plan = cache.plan(l);
        if (plan.kind != KvLayerKind::Full || plan.layout.spec.mode != KvMode::Full)
            fail("SnapKV compaction needs full-layout layers that keep every token; store {} is {} ({})", l,
                plan.name(), kvModeName(plan.layout.spec.mode));
        const KvLayout &layout = plan.layout;
        const auto &heads = kept[static_cast<std::size_t>(l)];
        NW_ASSERT(static_cast<std::int64_t>(heads.size()) == layout.nKvHeads);
        // Every full layout stores its heads one after the other, each the same bytes (f16/f32,
        // groups of 32 along a head for q8/q4, a scale and codes per head for tq).
        NW_ASSERT(layout.kRowBytes() % std::size_t(layout.nKvHeads) == 0);
        NW_ASSERT(layout.vRowBytes() % std::size_t(layout.nKvHeads) == 0);
        const std::size_t kHead = layout.kRowBytes() / std::size_t(layout.nKvHeads);
        const std::size_t vHead = layout.vRowBytes() / std::size_t(layout.nKvHeads);
        for (std::size_t h = 0; h < heads.size(); ++h) {
            const std::vector<std::int64_t> &positions = heads[h];
            NW_ASSERT(static_cast<std::int64_t>(positions.size()) == rows);
            for (std::size_t i = 0; i < positions.size(); ++i) {
                const std::int64_t from = positions[i], to = static_cast<std::int64_t>(i);
                // Ascending and distinct, so from >= to: slot `to` is never read again.
                NW_ASSERT(from >= to && from < cache.tokens() && (i == 0 || from > positions[i - 1]));
                if (from == to)
                    continue;
                std::memcpy(cache.kRow(l, to) + h * kHead, cache.kRow(l, from) + h * kHead, kHead);
                if (vHead > 0)
                    std::memcpy(cache.vRow(l, to) + h * vHead, cache.vRow(l, from) + h * vHead, vHead);
            }
        }
    }
    cache.truncate(rows);
    return rows;
}

SnapKvQueries::SnapKvQueries(std::int64_t nLayers, std::int64_t promptTokens, std::int64_t window)
    : m_promptTokens(promptTokens)
    , m_window(std::min(window, promptTokens))
    , m_layers(static_cast<std::size_t>(nLayers))
{
    NW_ASSERT(nLayers > 0 && promptTokens > 0 && window > 0);
}

void SnapKvQueries::add(
    std::int64_t layer, const float *q, std::span<const std::int32_t> positions, int nHeads, int headDim, float scale)
{
    NW_ASSERT(layer >= 0 && layer < static_cast<std::int64_t>(m_layers.size()));
    Layer &l = m_layers[static_cast<std::size_t>(layer)];
    if (l.q.empty()) {
        l.nHeads = nHeads;
        l.headDim = headDim;
        l.scale = scale;
        l.q.assign(static_cast<std::size_t>(nHeads * m_window * headDim), 0.f);
        l.seen.assign(static_cast<std::size_t>(m_window), false);
    }
    NW_ASSERT(l.nHeads == nHeads && l.headDim == headDim);
    const std::int64_t first = m_promptTokens - m_window;
    for (std::size_t t = 0; t < positions.size(); ++t) {
        const std::int64_t i = positions[t] - first;
        if (i < 0 || i >= m_window)
            continue;
        for (int h = 0; h < nHeads; ++h)
            std::memcpy(l.q.data() + (h * m_window + i) * headDim,
                q + (t * std::size_t(nHeads) + std::size_t(h)) * std::size_t(headDim),
                std::size_t(headDim) * sizeof(float));
        l.seen[static_cast<std::size_t>(i)] = true;
    }
}

bool SnapKvQueries::complete() const
{
    return std::all_of(m_layers.begin(), m_layers.end(), [](const Layer &l) {
        return !l.seen.empty() && std::all_of(l.seen.begin(), l.seen.end(), [](bool b) { return b; });
    });
}

std::int64_t snapKvCompress(KvCache &cache, const SnapKvQueries &queries, std::int64_t budget)
{
    const std::int64_t prompt = queries.promptTokens(), window = queries.window();
    NW_ASSERT(budget > 0 && !cache.compacted() && cache.tokens() == prompt && queries.complete());
    std::vector<std::vector<std::vector<std::int64_t>>> kept(static_cast<std::size_t>(cache.nStores()));
    for (std::int64_t store = 0; store < cache.nStores(); ++store) {
        const KvLayout &layout = cache.plan(store).layout;
        const SnapKvQueries::Layer &q = queries.layer(cache.plan(store).layer);
        NW_ASSERT(q.headDim == layout.kHeadDim && q.nHeads % layout.nKvHeads == 0);
        const std::vector<float> keys = snapKvKeys(cache, store, prompt);
        SnapKvScores scores(q.nHeads, layout.nKvHeads, prompt, window);
        const std::int64_t group = q.nHeads / layout.nKvHeads;
        for (std::int64_t h = 0; h < q.nHeads; ++h)
            scores.addHead(h, q.q.data() + h * window * q.headDim, window, prompt - window, keys.data(),
                layout.kRowElements(), h / group * layout.kHeadDim, q.headDim, q.scale);
        kept[static_cast<std::size_t>(store)] = snapKvSelect(scores.scores(), layout.nKvHeads, prompt, budget, window);
    }
    const std::int64_t rows = snapKvCompact(cache, kept);
    cache.setCompacted(prompt);
    return rows;
}

} // namespace nw
