// The lightning indexer on the Backend, as llama.cpp's deepseek32 / deepseek4 graphs build it.
#include "engine/graph/lightning_indexer.h"

#include "common/assert.h"
#include "common/error.h"
#include "engine/gguf_file.h"
#include "engine/graph/deepseek_scratch.h"
#include "engine/graph/weight_loader.h"
#include "engine/kv_cache.h"

#include <cmath>
#include <map>
#include <mutex>

namespace nw {

HadamardRotation::HadamardRotation(int dim)
{
    // llama.cpp's build_input_k_rot: the largest power of two from 64 up that divides dim.
    int n = 64;
    while (dim % (2 * n) == 0)
        n *= 2;
    if (dim % n != 0)
        fail("Hadamard rotation: dimension {} is not a multiple of 64", dim);
    m_size = n;
    // Sylvester's construction, scaled to be orthonormal (llama.cpp's ggml_gen_hadamard).
    m_matrix.assign(std::size_t(n) * n, 0.f);
    m_matrix[0] = 1.f / std::sqrt(float(n));
    for (int s = 1; s < n; s *= 2)
        for (int i = 0; i < s; ++i)
            for (int j = 0; j < s; ++j) {
                const float v = m_matrix[std::size_t(i) * n + j];
                m_matrix[std::size_t(i + s) * n + j] = v;
                m_matrix[std::size_t(i) * n + j + s] = v;
                m_matrix[std::size_t(i + s) * n + j + s] = -v;
            }
    m_weights = denseWeights(TensorType::F32, n, n, m_matrix.data());
}

void HadamardRotation::apply(Backend &backend, const float *rows, int nRows, int dim, float *out) const
{
    NW_ASSERT(dim % m_size == 0 && rows != out);
    // H is symmetric: each run of `size` elements becomes H · run, one matmul over all runs.
    backend.matmul(m_weights, rows, out, nRows * (dim / m_size));
}

namespace {

std::shared_ptr<const HadamardRotation> sharedRotation(int dim)
{
    static std::mutex mutex;
    static std::map<int, std::weak_ptr<const HadamardRotation>> rotations;
    std::lock_guard lock(mutex);
    if (auto existing = rotations[dim].lock())
        return existing;
    auto made = std::make_shared<const HadamardRotation>(dim);
    rotations[dim] = made;
    return made;
}

} // namespace

LightningIndexer LightningIndexer::load(WeightLoader &w, std::int64_t layer, std::int64_t nEmbd, std::int64_t qLoraRank,
    const IndexerConfig &c, bool ownKeys)
{
    if (c.nHeads <= 0 || c.headDim <= 0 || c.topK <= 0)
        fail("{}: indexer with {} heads of {} choosing {} keys", w.file().label(), c.nHeads, c.headDim, c.topK);
    if (c.rope.nDims <= 0 || c.ropeOffset < 0 || c.ropeOffset + c.rope.nDims > c.headDim)
        fail("{}: indexer keys of {} cannot hold {} rotated dims", w.file().label(), c.headDim, c.rope.nDims);
    LightningIndexer b;
    b.m_config = c;
    auto name = [layer](const char *what, const char *suffix = "weight") {
        return WeightLoader::layerName(layer, what, suffix);
    };
    b.m_qB = w.matrix(name("indexer.attn_q_b"), qLoraRank, std::int64_t(c.nHeads) * c.headDim);
    b.m_proj = w.matrix(name("indexer.proj"), nEmbd, c.nHeads);
    if (ownKeys) {
        b.m_k = w.matrix(name("indexer.attn_k"), nEmbd, c.headDim);
        b.m_kNorm = w.vector(name("indexer.k_norm"), c.headDim);
        b.m_kNormBias = w.vector(name("indexer.k_norm", "bias"), c.headDim);
    }
    b.m_rotation = sharedRotation(c.headDim);
    return b;
}

void LightningIndexer::collectMatrices(std::vector<WeightMatrix> &all) const
{
    for (const WeightMatrix &m : { m_qB, m_proj, m_k })
        if (m.data)
            all.push_back(m);
}

void LightningIndexer::storeKeys(ForwardPass &p, std::int64_t store, const float *x) const
{
    NW_ASSERT(m_k.data);
    Backend &be = p.backend;
    const IndexerConfig &c = m_config;
    const int n = p.nTokens;
    const std::size_t size = std::size_t(n) * std::size_t(c.headDim);
    float *k = p.floats(kScratchIndexerKeys, size);
    be.matmul(m_k, x, k, n);
    be.layerNorm(k, m_kNorm, m_kNormBias, k, n, c.headDim, c.normEps);
    be.rope(k, n, 1, c.headDim, c.ropeOffset, p.positions, c.rope);
    float *rotated = p.floats(kScratchRotated, size);
    m_rotation->apply(be, k, n, c.headDim, rotated);
    be.storeKv(p.cache.layerView(store), rotated, nullptr, n, p.positions);
}

const std::int32_t *LightningIndexer::select(
    ForwardPass &p, std::int64_t store, const float *x, const float *qr, std::span<const std::int32_t> end) const
{
    Backend &be = p.backend;
    const IndexerConfig &c = m_config;
    const int n = p.nTokens;
    NW_ASSERT(end.size() == std::size_t(n));
    const std::size_t qSize = std::size_t(n) * std::size_t(c.nHeads) * std::size_t(c.headDim);
    float *q = p.floats(kScratchIndexerQ, qSize);
    be.matmul(m_qB, qr, q, n);
    be.rope(q, n, c.nHeads, c.headDim, c.ropeOffset, p.positions, c.rope);
    float *rotated = p.floats(kScratchRotated, qSize);
    m_rotation->apply(be, q, n * c.nHeads, c.headDim, rotated);
    float *weights = p.floats(kScratchIndexerWeights, std::size_t(n) * std::size_t(c.nHeads));
    be.matmul(m_proj, x, weights, n);
    // The scale goes on the weights, not on the [n, keys] scores (llama.cpp does the same).
    be.scale(weights, 1.f / std::sqrt(float(c.headDim) * float(c.nHeads)), std::size_t(n) * std::size_t(c.nHeads));
    std::int32_t *ends = p.ints(kScratchIndexerEnd, std::size_t(n));
    be.upload(ends, end.data(), end.size() * sizeof(std::int32_t));
    const int topK = this->topK(p.cache.capacity());
    std::int32_t *selected = p.ints(kScratchSelected, std::size_t(n) * std::size_t(topK));
    LightningIndexerArgs args;
    args.q = rotated;
    args.weights = weights;
    args.keys = p.cache.layerView(store);
    args.end = ends;
    args.nTokens = n;
    args.nHeads = c.nHeads;
    args.topK = topK;
    args.selected = selected;
    be.lightningIndexer(args);
    return selected;
}

} // namespace nw
