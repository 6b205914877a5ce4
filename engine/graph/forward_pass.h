// One forward call as the graph blocks see it: the backend, the batch (nTokens at consecutive
// positions, in host and backend memory), the KV cache, the residual stream with the two work
// rows a block reads and writes, and shared scratch. DecoderModel::forward makes it; an
// architecture's layer passes it from block to block.
#pragma once

#include "engine/graph/scratch.h"
#include "kernels/backend.h"

#include <cstdint>
#include <span>

namespace nw {

class KvCache;
class LatentAttention;
class LatentCalibration;
class SnapKvQueries;
struct LatentKv;

// Scratch slots the blocks share (one block runs at a time).
enum ScratchSlot : std::size_t {
    kScratchQ, // [n, nHeads, headDimK] queries
    kScratchK, // [n, nKvHeads, headDimK] keys
    kScratchV, // [n, nKvHeads, headDimV] values
    kScratchAttn, // [n, nHeads, headDimV] attention output
    kScratchGate, // [n, nFf] FFN gate
    kScratchUp, // [n, nFf] FFN up
    kScratchRouter, // [n, nExperts] router logits
    kScratchExpertIds, // [n, nUsed] chosen experts (backend memory)
    kScratchExpertWeights, // [n, nUsed] their weights
    kScratchMla0, // MLA's q_a, kv_a, c_kv rows
    kScratchMla1,
    kScratchMla2,
    kScratchFixedIds, // [n, nUsed] hash-routed experts (DeepSeek V4's first layers)
    kScratchCount
};

struct ForwardPass {
    Backend &backend;
    KvCache &cache;
    int nTokens = 0;
    const std::int32_t *ids = nullptr; // [nTokens] token ids in backend memory
    std::span<const std::int32_t> hostPositions; // [nTokens]
    const std::int32_t *positions = nullptr; // [nTokens] in backend memory
    // Each token's cache row: its position, less KvCache::positionOffset() once SnapKV compacted
    // the cache. storeKv writes there and a query sees rows [0, its row]; RoPE uses `positions`.
    // Only the standard attention block reads them (the KV modes that shift them are refused for
    // the others, and for them the two are the same).
    std::span<const std::int32_t> hostRows; // [nTokens]
    const std::int32_t *rows = nullptr; // [nTokens] in backend memory
    int nEmbd = 0;
    float *x = nullptr; // [nTokens, nEmbd] the residual stream
    float *h = nullptr; // [nTokens, nEmbd] a block's input (usually the normed stream)
    float *y = nullptr; // [nTokens, nEmbd] a block's output
    ScratchBuffers &scratch;
    // latent:R (engine/latent_kv.h): the factors of the cache's rank, when the cache is latent.
    const LatentKv *latent = nullptr;
    LatentAttention *latentAttention = nullptr;
    // Set while Model::calibrateLatent runs: attention hands it each layer's keys and values.
    LatentCalibration *calibration = nullptr;
    // Set while a `+snapkv:B` prompt is prefilled (KvCache::observeQueries): attention hands it
    // each layer's queries after RoPE (engine/snapkv.h). Host backends only.
    SnapKvQueries *queries = nullptr;

    float *floats(std::size_t slot, std::size_t n) { return scratch.floats(backend, slot, n); }
    std::int32_t *ints(std::size_t slot, std::size_t n) { return scratch.ints(backend, slot, n); }

    // out = RMSNorm(in) · weight over rows of nEmbd (in and out may alias).
    void norm(const float *weight, float eps, const float *in, float *out)
    {
        backend.rmsNorm(in, weight, out, nTokens, nEmbd, eps);
    }
    // The residual connection: x += delta ([nTokens, nEmbd]).
    void addResidual(const float *delta) { backend.add(x, delta, std::size_t(nTokens) * std::size_t(nEmbd)); }
};

} // namespace nw
