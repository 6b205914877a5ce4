// SnapKV's choice of the prompt tokens a layer keeps (Li et al. 2024, arXiv:2404.14469 §4.2):
// the attention the prompt's last tokens (the observation window) pay to the earlier ones,
// summed per KV head, max-pooled over neighbouring positions, and the top B of them kept beside
// the window. The `+snapkv:B` mode: SnapKvQueries collects the window's queries while the prompt
// is prefilled (the attention block hands them over), snapKvCompress scores, selects and
// compacts every layer (Generator::prefill calls it once the prompt is in).
// snapKvCompact is the cache side: each head's kept rows gathered to the front.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace nw {

class KvCache;

// SnapKV's defaults: a 32-token observation window, max pooling with kernel 7 (stride 1,
// padding 3, so each position takes the largest score of its ±3 neighbours).
inline constexpr std::int64_t kSnapKvWindow = 32;
inline constexpr std::int64_t kSnapKvPoolKernel = 7;

// The scores of one layer: for each KV head, the softmax weight every observation query of every
// query head of its group gives each prompt position before the window, summed.
class SnapKvScores {
public:
    // `promptTokens` P; the observation window is [P - window, P) (all of it if P < window).
    SnapKvScores(
        std::int64_t nHeads, std::int64_t nKvHeads, std::int64_t promptTokens, std::int64_t window = kSnapKvWindow);

    std::int64_t promptTokens() const { return m_promptTokens; }
    std::int64_t window() const { return m_window; }
    std::int64_t firstObserved() const { return m_promptTokens - m_window; }
    std::int64_t nKvHeads() const { return m_nKvHeads; }

    // Adds the attention of the observation queries of query head `head` (GQA: KV head
    // head / (nHeads / nKvHeads)). `q` [nQueries, headDim] are the queries at positions
    // [firstPosition, firstPosition + nQueries) — those outside the window are skipped — and
    // `k` [P, kvStride] the head's keys (post-RoPE, as attention reads them) at `k + kOffset`
    // of each row; each query's softmax(q·k × scale) runs over keys [0, its position], causal.
    void addHead(std::int64_t head, const float *q, std::int64_t nQueries, std::int64_t firstPosition, const float *k,
        std::int64_t kvStride, std::int64_t kOffset, std::int64_t headDim, float scale);

    // [nKvHeads, P - window]: the summed weights on the positions before the window.
    std::span<const double> scores() const { return m_scores; }

private:
    std::int64_t m_nHeads;
    std::int64_t m_nKvHeads;
    std::int64_t m_promptTokens;
    std::int64_t m_window;
    std::vector<double> m_scores; // [nKvHeads, promptTokens - window]
};

// Per KV head, the positions kept, ascending: the `budget` positions of [0, P - window) whose
// max-pooled scores (kernel `kernel`, padding kernel / 2 with −∞ past either end, as
// torch.max_pool1d) are largest — ties go to the earlier position — then the window
// [P - window, P). Every position when P - window <= budget. `scores` [nKvHeads, P - window].
std::vector<std::vector<std::int64_t>> snapKvSelect(std::span<const double> scores, std::int64_t nKvHeads,
    std::int64_t promptTokens, std::int64_t budget, std::int64_t window = kSnapKvWindow,
    std::int64_t kernel = kSnapKvPoolKernel);

// Rows a layer's store holds per KV head after the selection: min(P, budget + window).
std::int64_t snapKvRows(std::int64_t promptTokens, std::int64_t budget, std::int64_t window = kSnapKvWindow);

// The keys of store `store` for positions [0, nTokens) as attention compares them with queries,
// back in the model's domain: f16/f32 rows converted, q8/q4 dequantized and (unless `:plain`)
// Hadamard-rotated back, tq decoded and rotated back. [nTokens, nKvHeads × headDimK], for
// SnapKvScores::addHead. Host caches with `full` layout only; one layer's keys in f32 at a time.
std::vector<float> snapKvKeys(const KvCache &cache, std::int64_t store, std::int64_t nTokens);

// Moves each store's kept rows to row slots [0, K) — per KV head, so slot i of head h holds
// position kept[store][h][i] — then truncates the cache to K tokens, freeing the blocks past
// them. Keys stay as stored (post-RoPE), so attention over them needs no positions; a caller
// continuing the sequence must address later tokens by row (position − (P − K)) and rotate them
// by their true position. `kept` [nStores][nKvHeads][K], ascending, every head the same K.
// Host caches whose stores are all `full` layout and KvLayerKind::Full; throws nw::Error
// otherwise. Returns K.
std::int64_t snapKvCompact(KvCache &cache, const std::vector<std::vector<std::vector<std::int64_t>>> &kept);

// The observation window's queries of every layer as attention computes them (after RoPE, in the
// model's domain), collected while a prompt of `promptTokens` is prefilled: the attention block
// calls add() for each batch (ForwardPass::queries); positions outside the window are skipped.
class SnapKvQueries {
public:
    SnapKvQueries(std::int64_t nLayers, std::int64_t promptTokens, std::int64_t window = kSnapKvWindow);

    std::int64_t promptTokens() const { return m_promptTokens; }
    std::int64_t window() const { return m_window; }
    // q [nTokens, nHeads, headDim] (host memory) of the tokens at `positions`; `scale` is the
    // layer's softmax scale.
    void add(std::int64_t layer, const float *q, std::span<const std::int32_t> positions, int nHeads, int headDim,
        float scale);
    // Every layer has every window position's queries.
    bool complete() const;

    struct Layer {
        int nHeads = 0;
        int headDim = 0;
        float scale = 0.f;
        std::vector<float> q; // [nHeads, window, headDim]
        std::vector<bool> seen; // [window]
    };
    const Layer &layer(std::int64_t layer) const { return m_layers[static_cast<std::size_t>(layer)]; }

private:
    std::int64_t m_promptTokens;
    std::int64_t m_window;
    std::vector<Layer> m_layers; // [nLayers]
};

// SnapKV on a cache that holds exactly the prompt the queries were collected for (positions
// [0, P), not compacted yet): per store, the keys (snapKvKeys) are scored by its layer's window
// queries (SnapKvScores), `budget` positions per KV head are kept beside the window
// (snapKvSelect), the rows are compacted (snapKvCompact) and KvCache::setCompacted(P) maps later
// positions to rows. Returns the rows K each store keeps.
std::int64_t snapKvCompress(KvCache &cache, const SnapKvQueries &queries, std::int64_t budget);

} // namespace nw
