// The lightning indexer of DeepSeek Sparse Attention (DeepSeek-V3.2-Exp §2.1; V4's CSA layers):
// a few cheap index heads score every cached key, I(t, s) = Σ_j w[t, j] · relu(q[t, j] · k[s]),
// and attention keeps only each query's top-k keys. Queries come from the attention's normed
// low-rank query and the block's input; V3.2 caches one key per token (its own projection and
// LayerNorm), V4 one per compressed entry (made by its compressor). Queries and keys are
// rotated by a Walsh–Hadamard matrix before they meet, as DeepSeek's inference code and
// llama.cpp do (an orthogonal rotation: the scores do not change, only how f16 / quantized keys
// round).
#pragma once

#include "engine/graph/forward_pass.h"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace nw {

class WeightLoader;

struct IndexerConfig {
    int nHeads = 0; // attention.indexer.head_count
    int headDim = 0; // attention.indexer.key_length
    int topK = 0; // attention.indexer.top_k
    RopeParams rope; // rope.nDims of each head rotate
    int ropeOffset = 0; // where the rotated dims start: 0 (V3.2), headDim - nDims (V4)
    float normEps = 1e-6f; // V3.2's key LayerNorm
};

// The orthonormal Sylvester–Hadamard matrix H (H·H = I) of the largest power of two >= 64 that
// divides `dim`, applied to each run of that many elements (llama.cpp's attn_rot_k).
class HadamardRotation {
public:
    explicit HadamardRotation(int dim);
    int size() const { return m_size; }
    // rows [nRows, dim] → out [nRows, dim] (distinct).
    void apply(Backend &backend, const float *rows, int nRows, int dim, float *out) const;

private:
    int m_size = 0;
    std::vector<float> m_matrix; // [size, size]
    WeightMatrix m_weights;
};

class LightningIndexer {
public:
    // blk.<layer>.indexer.attn_q_b {qLoraRank, nHeads·headDim} and indexer.proj {nEmbd, nHeads};
    // with `ownKeys` (V3.2) also indexer.attn_k {nEmbd, headDim} and indexer.k_norm weight and
    // bias {headDim}.
    static LightningIndexer load(WeightLoader &w, std::int64_t layer, std::int64_t nEmbd, std::int64_t qLoraRank,
        const IndexerConfig &config, bool ownKeys);

    // V3.2: this batch's keys (of x, the block's input) into store `store` at their positions.
    void storeKeys(ForwardPass &pass, std::int64_t store, const float *x) const;
    // The top-k rows of store `store` for each query, keys [0, end[t]) (host values): the
    // returned [nTokens, topK] (backend memory, -1 past a query's keys). x: the block's input,
    // qr: the attention's normed low-rank query [nTokens, qLoraRank].
    const std::int32_t *select(ForwardPass &pass, std::int64_t store, const float *x, const float *qr,
        std::span<const std::int32_t> end) const;

    const IndexerConfig &config() const { return m_config; }
    // The rotation its queries and keys meet under (V4's compressor rotates the keys it pools).
    const HadamardRotation &rotation() const { return *m_rotation; }
    // The rows select() returns per query: top_k, or the cache's capacity when that is smaller
    // (llama.cpp: min(n_kv, top_k)), so a file's huge top_k does not size the scratch.
    int topK(std::int64_t cacheCapacity) const { return int(std::min<std::int64_t>(m_config.topK, cacheCapacity)); }
    void collectMatrices(std::vector<WeightMatrix> &all) const;

private:
    IndexerConfig m_config;
    WeightMatrix m_qB; // [nHeads · headDim, qLoraRank]
    WeightMatrix m_proj; // [nHeads, nEmbd]
    WeightMatrix m_k; // [headDim, nEmbd] (V3.2)
    const float *m_kNorm = nullptr; // [headDim] (V3.2)
    const float *m_kNormBias = nullptr;
    std::shared_ptr<const HadamardRotation> m_rotation;
};

} // namespace nw
