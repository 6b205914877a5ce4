// Exact memory accounting for the meters: weights, KV cache used and reserved (per layer), and
// the bytes a plain multi-head f16 cache would need for the same tokens. Written by the one
// thread that runs the model, read from any thread without locks (a seqlock over atomics).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace nw {

// One store of the cache: a layer's, or one of a layer's several (DeepSeek V3.2 / V4 keep the
// attention rows, indexer keys, compressed entries and compressor state apart).
struct LayerKvBytes {
    std::uint64_t used = 0; // the bytes this layer's kind holds for the tokens (its exact rule)
    std::uint64_t reserved = 0; // bytes of the blocks allocated for this layer
    std::string kind
        = "full"; // the store's kind (KvLayerPlan::name): "full", "window", "csa", "hca", "indexer", "state"
    std::int64_t layer = 0; // the model layer it belongs to
};

// The layers of one cache kind together.
struct KindKvBytes {
    std::string kind;
    std::int64_t layers = 0;
    std::uint64_t used = 0;
    std::uint64_t reserved = 0;
};

// One consistent snapshot.
struct MemoryStats {
    std::uint64_t weightsBytes = 0; // bytes of the weight tensors the model uses (mapped)
    std::uint64_t kvBytesUsed = 0; // sum of layers[i].used
    std::uint64_t kvBytesReserved = 0; // sum of layers[i].reserved
    std::uint64_t mhaF16Bytes
        = 0; // plain MHA f16 cache for `tokens`: nLayers × tokens × nHeads × (headDimK + headDimV) × 2
    std::int64_t tokens = 0; // positions held in the cache
    std::int64_t capacityTokens = 0; // the most the cache may hold (--ctx)
    // KV bytes the next token adds, all layers: every full layer's row, and a window layer's
    // while the sequence is shorter than its window (the rate the cache grows at now).
    std::uint64_t bytesPerToken = 0;
    std::uint64_t mhaF16BytesPerToken = 0;
    std::vector<LayerKvBytes> layers; // [stores]: one per layer, or several (V3.2, V4) in layer order

    // mhaF16Bytes / kvBytesUsed (per token when the cache is empty); 0 when undefined.
    double savingVsMha() const;
    // The stores grouped by kind, in order of first appearance (KindKvBytes::layers counts stores).
    std::vector<KindKvBytes> byKind() const;
};

// The writer side: the KV cache updates it between beginWrite() and endWrite(); readers call
// snapshot() from any thread and retry while a write is in progress.
class MemoryCounters {
public:
    explicit MemoryCounters(std::size_t nLayers);

    void beginWrite();
    void endWrite();
    void setWeightsBytes(std::uint64_t bytes);
    void setTokens(std::int64_t tokens, std::int64_t capacity);
    void setPerToken(std::uint64_t bytesPerToken, std::uint64_t mhaF16BytesPerToken);
    void setLayer(std::size_t layer, std::uint64_t used, std::uint64_t reserved);
    // Set once, before the counters are shared (not part of the seqlock).
    void setLayerKind(std::size_t layer, std::string kind);
    void setLayerIndex(std::size_t store, std::int64_t layer);

    MemoryStats snapshot() const;

private:
    std::atomic<std::uint64_t> m_sequence { 0 }; // odd while a write is in progress
    std::atomic<std::uint64_t> m_weightsBytes { 0 };
    std::atomic<std::int64_t> m_tokens { 0 };
    std::atomic<std::int64_t> m_capacity { 0 };
    std::atomic<std::uint64_t> m_bytesPerToken { 0 };
    std::atomic<std::uint64_t> m_mhaBytesPerToken { 0 };
    std::size_t m_nLayers;
    std::unique_ptr<std::atomic<std::uint64_t>[]> m_layerUsed; // [nLayers]
    std::unique_ptr<std::atomic<std::uint64_t>[]> m_layerReserved; // [nLayers]
    std::vector<std::string> m_layerKinds; // [nLayers]
    std::vector<std::int64_t> m_layerIndex; // [nLayers] each store's model layer
};

} // namespace nw
