// DeepSeek V4's attention on the Backend, as llama.cpp's deepseek4 graph and its dsv4 cache
// build it (src/models/deepseek4.cpp, src/llama-kv-cache-dsv4.cpp).
#include "engine/graph/compressed_attention.h"

#include "common/assert.h"
#include "common/error.h"
#include "engine/gguf_file.h"
#include "engine/graph/attention.h"
#include "engine/graph/deepseek_scratch.h"
#include "engine/graph/weight_loader.h"
#include "engine/kv_cache.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace nw {

Compressor Compressor::load(
    WeightLoader &w, std::int64_t layer, const char *prefix, std::int64_t nEmbd, int dim, int ratio, bool overlap)
{
    Compressor c;
    c.dim = dim;
    c.ratio = ratio;
    c.overlap = overlap;
    const std::int64_t width = std::int64_t(overlap ? 2 : 1) * dim;
    const auto name = [&](const char *what) { return WeightLoader::layerName(layer, std::string(prefix) + what); };
    c.kv = w.matrix(name("_kv"), nEmbd, width);
    c.gate = w.matrix(name("_gate"), nEmbd, width);
    c.ape = reinterpret_cast<const float *>(w.require(name("_ape"), { width, ratio }, { TensorType::F32 }).data);
    c.norm = w.vector(name("_norm"), dim);
    return c;
}

void Compressor::run(ForwardPass &p, std::int64_t entries, std::int64_t pool, const float *x, const RopeParams &rope,
    const HadamardRotation *rotation, float normEps) const
{
    Backend &be = p.backend;
    const int n = p.nTokens;
    const std::int64_t p0 = p.hostPositions[0];
    const int width = (overlap ? 2 : 1) * dim, rowWidth = 2 * width;
    const std::int64_t ringRows = p.cache.plan(pool).ringRows;
    // Rows [0, ringRows): the ring as the earlier batches left it; then this batch's rows.
    float *rows = p.floats(kScratchPoolRows, std::size_t(ringRows + n) * std::size_t(rowWidth));
    if (p0 > 0)
        for (std::int64_t r = 0; r < ringRows; ++r)
            be.copyRows(rows + r * rowWidth, std::size_t(rowWidth),
                reinterpret_cast<const float *>(p.cache.kRow(pool, r)), std::size_t(rowWidth), 1, rowWidth);
    float *batch = rows + ringRows * rowWidth;
    float *kvRows = p.floats(kScratchPoolKv, std::size_t(n) * std::size_t(width));
    float *score = p.floats(kScratchPoolScore, std::size_t(n) * std::size_t(width));
    be.matmul(kv, x, kvRows, n);
    be.matmul(gate, x, score, n);
    for (int t = 0; t < n; ++t)
        be.addRow(score + std::size_t(t) * std::size_t(width), ape + ((p0 + t) % ratio) * width, 1, width);
    be.copyRows(batch, std::size_t(rowWidth), kvRows, std::size_t(width), n, width);
    be.copyRows(batch + width, std::size_t(rowWidth), score, std::size_t(width), n, width);

    // The blocks that complete in this batch (llama.cpp's dsv4_build_comp_plan): each pools its
    // own tokens and, with the overlap, the previous block's (none before the first: -1).
    const auto source = [&](std::int64_t q) -> std::int32_t {
        if (q < 0)
            return -1;
        return std::int32_t(q >= p0 ? ringRows + (q - p0) : q % ringRows);
    };
    std::vector<std::int32_t> prev, cur, blockRows, blockStarts;
    for (int t = 0; t < n; ++t) {
        const std::int64_t pos = p0 + t;
        if ((pos + 1) % ratio != 0)
            continue;
        const std::int64_t start = pos + 1 - ratio;
        for (int j = 0; j < ratio; ++j) {
            if (overlap)
                prev.push_back(source(start - ratio + j));
            cur.push_back(source(start + j));
        }
        blockRows.push_back(std::int32_t(pos / ratio));
        blockStarts.push_back(std::int32_t(start));
    }
    const int nBlocks = int(blockRows.size());
    const int nRing = int(std::min<std::int64_t>(n, ringRows));
    std::vector<std::int32_t> ids(prev);
    ids.insert(ids.end(), cur.begin(), cur.end());
    ids.insert(ids.end(), blockRows.begin(), blockRows.end());
    ids.insert(ids.end(), blockStarts.begin(), blockStarts.end());
    for (int t = n - nRing; t < n; ++t)
        ids.push_back(std::int32_t((p0 + t) % ringRows));
    std::int32_t *dev = p.ints(kScratchPoolIds, ids.size());
    be.upload(dev, ids.data(), ids.size() * sizeof(std::int32_t));
    const std::int32_t *devPrev = dev, *devCur = dev + prev.size();
    const std::int32_t *devBlockRows = devCur + cur.size(), *devStarts = devBlockRows + nBlocks;
    const std::int32_t *devRing = devStarts + nBlocks;

    if (nBlocks > 0) {
        SoftmaxPoolArgs a;
        a.rows = rows;
        a.prev = overlap ? devPrev : nullptr;
        a.cur = devCur;
        a.nBlocks = nBlocks;
        a.ratio = ratio;
        a.dim = dim;
        a.out = p.floats(kScratchPoolOut, std::size_t(nBlocks) * std::size_t(dim));
        be.softmaxPool(a);
        be.rmsNorm(a.out, norm, a.out, nBlocks, dim, normEps);
        be.rope(a.out, nBlocks, 1, dim, dim - rope.nDims, devStarts, rope);
        const float *pooled = a.out;
        if (rotation) {
            float *rotated = p.floats(kScratchPoolRotated, std::size_t(nBlocks) * std::size_t(dim));
            rotation->apply(be, a.out, nBlocks, dim, rotated);
            pooled = rotated;
        }
        be.storeKv(p.cache.layerView(entries), pooled, nullptr, nBlocks, devBlockRows);
    }
    // The batch's last ringRows rows wait in the ring for the blocks still to complete.
    be.storeKv(
        p.cache.layerView(pool), batch + std::size_t(n - nRing) * std::size_t(rowWidth), nullptr, nRing, devRing);
}

CompressedAttention CompressedAttention::load(
    WeightLoader &w, std::int64_t layer, std::int64_t nEmbd, const CompressedAttentionConfig &c)
{
    if (c.oGroups <= 0 || c.nHeads % c.oGroups != 0)
        fail("{}: {} heads do not split into {} output groups", w.file().label(), c.nHeads, c.oGroups);
    CompressedAttention b;
    b.m_config = c;
    const auto name = [layer](const char *what, const char *suffix = "weight") {
        return WeightLoader::layerName(layer, what, suffix);
    };
    const std::int64_t qWidth = std::int64_t(c.nHeads) * c.headDim;
    b.m_qA = w.matrix(name("attn_q_a"), nEmbd, c.qLoraRank);
    b.m_qANorm = w.vector(name("attn_q_a_norm"), c.qLoraRank);
    b.m_qB = w.matrix(name("attn_q_b"), c.qLoraRank, qWidth);
    b.m_kv = w.matrix(name("attn_kv"), nEmbd, c.headDim);
    b.m_kvNorm = w.vector(name("attn_kv_a_norm"), c.headDim);
    b.m_sinks = w.vector(name("attn_sinks"), c.nHeads);
    b.m_oA = w.matrix(name("attn_output_a"), qWidth / c.oGroups, std::int64_t(c.oGroups) * c.oLoraRank);
    b.m_oB = w.matrix(name("attn_output_b"), std::int64_t(c.oGroups) * c.oLoraRank, nEmbd);
    if (c.ratio != 0)
        b.m_compressor = Compressor::load(w, layer, "attn_compressor", nEmbd, c.headDim, c.ratio, c.ratio == 4);
    if (c.ratio == 4) {
        b.m_indexerCompressor
            = Compressor::load(w, layer, "indexer_compressor", nEmbd, c.indexer.headDim, c.ratio, true);
        b.m_indexer = LightningIndexer::load(w, layer, nEmbd, c.qLoraRank, c.indexer, false);
    }
    return b;
}

void CompressedAttention::collectMatrices(std::vector<WeightMatrix> &all) const
{
    all.insert(all.end(), { m_qA, m_qB, m_kv, m_oB });
    for (int g = 0; g < m_config.oGroups; ++g)
        all.push_back(rowSlice(m_oA, std::int64_t(g) * m_config.oLoraRank, m_config.oLoraRank));
    for (const std::optional<Compressor> *c : { &m_compressor, &m_indexerCompressor })
        if (*c)
            all.insert(all.end(), { (*c)->kv, (*c)->gate });
    if (m_indexer)
        m_indexer->collectMatrices(all);
}

void CompressedAttention::forward(ForwardPass &p, std::int64_t layer, const float *x, float *out) const
{
    Backend &be = p.backend;
    const CompressedAttentionConfig &c = m_config;
    const int n = p.nTokens, h = c.nHeads, d = c.headDim, nope = d - c.rope.nDims;
    const std::size_t nt = std::size_t(n);

    float *qr = p.floats(kScratchMla0, nt * std::size_t(c.qLoraRank));
    be.matmul(m_qA, x, qr, n);
    be.rmsNorm(qr, m_qANorm, qr, n, c.qLoraRank, c.normEps);
    float *q = p.floats(kScratchQ, nt * std::size_t(h * d));
    be.matmul(m_qB, qr, q, n);
    be.rmsNorm(q, nullptr, q, n * h, d, c.normEps);
    be.rope(q, n, h, d, nope, p.positions, c.rope);
    float *kv = p.floats(kScratchK, nt * std::size_t(d));
    be.matmul(m_kv, x, kv, n);
    be.rmsNorm(kv, m_kvNorm, kv, n, d, c.normEps);
    be.rope(kv, n, 1, d, nope, p.positions, c.rope);
    const std::int64_t window = p.cache.findStore(layer, KvPart::Attention);
    be.storeKv(p.cache.layerView(window), kv, nullptr, n, p.positions);

    std::int64_t entries = -1;
    if (m_compressor) {
        entries = p.cache.findStore(layer, KvPart::Entries);
        m_compressor->run(p, entries, p.cache.findStore(layer, KvPart::AttentionPool), x, c.rope, nullptr, c.normEps);
    }
    const std::int32_t *selected = nullptr;
    std::vector<std::int32_t> ranges(4 * nt); // window first, end; entries first, end
    for (int t = 0; t < n; ++t) {
        const std::int64_t pos = p.hostPositions[std::size_t(t)];
        ranges[std::size_t(t)] = std::int32_t(std::max<std::int64_t>(0, pos - c.window + 1));
        ranges[nt + std::size_t(t)] = std::int32_t(pos + 1);
        ranges[2 * nt + std::size_t(t)] = 0;
        ranges[3 * nt + std::size_t(t)] = c.ratio > 0 ? std::int32_t((pos + 1) / c.ratio) : 0;
    }
    if (m_indexer) {
        const std::int64_t keys = p.cache.findStore(layer, KvPart::IndexerKeys);
        m_indexerCompressor->run(
            p, keys, p.cache.findStore(layer, KvPart::IndexerPool), x, c.rope, &m_indexer->rotation(), c.normEps);
        selected = m_indexer->select(p, keys, x, qr, std::span<const std::int32_t>(ranges).subspan(3 * nt, nt));
    }
    std::int32_t *devRanges = p.ints(kScratchRanges, ranges.size());
    be.upload(devRanges, ranges.data(), ranges.size() * sizeof(std::int32_t));

    SparseAttentionArgs a;
    a.q = q;
    a.out = p.floats(kScratchAttn, nt * std::size_t(h * d));
    a.nTokens = n;
    a.nHeads = h;
    a.scale = 1.f / std::sqrt(float(d));
    a.sinks = m_sinks;
    a.sources[0].kv = p.cache.layerView(window);
    a.sources[0].first = devRanges;
    a.sources[0].end = devRanges + nt;
    if (entries >= 0) {
        AttentionRows &s = a.sources[1];
        s.kv = p.cache.layerView(entries);
        if (selected) {
            s.rows = selected;
            s.maxRows = m_indexer->topK(p.cache.capacity());
        } else {
            s.first = devRanges + 2 * nt;
            s.end = devRanges + 3 * nt;
        }
        a.nSources = 2;
    }
    be.sparseAttention(a);

    // The output's rope dims rotate back (ggml_rope_ext_back): the same rotation at -position.
    std::vector<std::int32_t> back(nt);
    for (int t = 0; t < n; ++t)
        back[std::size_t(t)] = -p.hostPositions[std::size_t(t)];
    std::int32_t *devBack = p.ints(kScratchRowIds, nt);
    be.upload(devBack, back.data(), nt * sizeof(std::int32_t));
    be.rope(a.out, n, h, d, nope, devBack, c.rope);

    // Grouped low-rank output: group g's heads through its rows of wo_a, then wo_b over all.
    const int groupWidth = h * d / c.oGroups, rank = c.oLoraRank, ranks = c.oGroups * rank;
    float *group = p.floats(kScratchGroup, nt * std::size_t(groupWidth));
    float *low = p.floats(kScratchMla1, nt * std::size_t(rank));
    float *all = p.floats(kScratchGroupOut, nt * std::size_t(ranks));
    for (int g = 0; g < c.oGroups; ++g) {
        be.copyRows(group, std::size_t(groupWidth), a.out + std::size_t(g) * std::size_t(groupWidth),
            std::size_t(h * d), n, groupWidth);
        be.matmul(rowSlice(m_oA, std::int64_t(g) * rank, rank), group, low, n);
        be.copyRows(all + std::size_t(g) * std::size_t(rank), std::size_t(ranks), low, std::size_t(rank), n, rank);
    }
    be.matmul(m_oB, all, out, n);
}

} // namespace nw
