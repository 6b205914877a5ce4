// The seqlock behind MemoryStats: one writer (the thread running the model), any readers.
#include "engine/memory_stats.h"

#include "common/assert.h"

#include <algorithm>

namespace nw {

double MemoryStats::savingVsMha() const
{
    if (kvBytesUsed > 0)
        return static_cast<double>(mhaF16Bytes) / static_cast<double>(kvBytesUsed);
    if (bytesPerToken > 0)
        return static_cast<double>(mhaF16BytesPerToken) / static_cast<double>(bytesPerToken);
    return 0.0;
}

std::vector<KindKvBytes> MemoryStats::byKind() const
{
    std::vector<KindKvBytes> kinds;
    for (const LayerKvBytes &layer : layers) {
        auto it = std::find_if(kinds.begin(), kinds.end(), [&](const KindKvBytes &k) { return k.kind == layer.kind; });
        if (it == kinds.end())
            it = kinds.insert(kinds.end(), KindKvBytes { layer.kind });
        ++it->layers;
        it->used += layer.used;
        it->reserved += layer.reserved;
    }
    return kinds;
}

MemoryCounters::MemoryCounters(std::size_t nLayers)
    : m_nLayers(nLayers)
    , m_layerUsed(new std::atomic<std::uint64_t>[nLayers])
    , m_layerReserved(new std::atomic<std::uint64_t>[nLayers])
    , m_layerKinds(nLayers, "full")
    , m_layerIndex(nLayers)
{
    for (std::size_t i = 0; i < nLayers; ++i) {
        m_layerIndex[i] = static_cast<std::int64_t>(i);
        m_layerUsed[i].store(0, std::memory_order_relaxed);
        m_layerReserved[i].store(0, std::memory_order_relaxed);
    }
}

void MemoryCounters::beginWrite()
{
    const std::uint64_t s = m_sequence.load(std::memory_order_relaxed);
    NW_ASSERT(s % 2 == 0);
    m_sequence.store(s + 1, std::memory_order_relaxed);
    // Orders the odd sequence before the data stores that follow (seqlock writer fence).
    std::atomic_thread_fence(std::memory_order_release);
}

void MemoryCounters::endWrite()
{
    m_sequence.fetch_add(1, std::memory_order_release);
}

void MemoryCounters::setWeightsBytes(std::uint64_t bytes)
{
    m_weightsBytes.store(bytes, std::memory_order_relaxed);
}

void MemoryCounters::setTokens(std::int64_t tokens, std::int64_t capacity)
{
    m_tokens.store(tokens, std::memory_order_relaxed);
    m_capacity.store(capacity, std::memory_order_relaxed);
}

void MemoryCounters::setPerToken(std::uint64_t bytesPerToken, std::uint64_t mhaF16BytesPerToken)
{
    m_bytesPerToken.store(bytesPerToken, std::memory_order_relaxed);
    m_mhaBytesPerToken.store(mhaF16BytesPerToken, std::memory_order_relaxed);
}

void MemoryCounters::setLayer(std::size_t layer, std::uint64_t used, std::uint64_t reserved)
{
    NW_ASSERT(layer < m_nLayers);
    m_layerUsed[layer].store(used, std::memory_order_relaxed);
    m_layerReserved[layer].store(reserved, std::memory_order_relaxed);
}

void MemoryCounters::setLayerKind(std::size_t layer, std::string kind)
{
    NW_ASSERT(layer < m_nLayers);
    m_layerKinds[layer] = std::move(kind);
}

void MemoryCounters::setLayerIndex(std::size_t store, std::int64_t layer)
{
    NW_ASSERT(store < m_nLayers);
    m_layerIndex[store] = layer;
}

MemoryStats MemoryCounters::snapshot() const
{
    MemoryStats stats;
    stats.layers.resize(m_nLayers);
    for (;;) {
        const std::uint64_t before = m_sequence.load(std::memory_order_acquire);
        if (before % 2 != 0)
            continue; // a write is in progress
        stats.weightsBytes = m_weightsBytes.load(std::memory_order_relaxed);
        stats.tokens = m_tokens.load(std::memory_order_relaxed);
        stats.capacityTokens = m_capacity.load(std::memory_order_relaxed);
        stats.bytesPerToken = m_bytesPerToken.load(std::memory_order_relaxed);
        stats.mhaF16BytesPerToken = m_mhaBytesPerToken.load(std::memory_order_relaxed);
        for (std::size_t i = 0; i < m_nLayers; ++i) {
            stats.layers[i].used = m_layerUsed[i].load(std::memory_order_relaxed);
            stats.layers[i].reserved = m_layerReserved[i].load(std::memory_order_relaxed);
        }
        // The data loads must complete before the sequence is read again (seqlock reader fence).
        std::atomic_thread_fence(std::memory_order_acquire);
        if (m_sequence.load(std::memory_order_relaxed) == before)
            break;
    }
    for (std::size_t i = 0; i < m_nLayers; ++i) {
        stats.layers[i].kind = m_layerKinds[i];
        stats.layers[i].layer = m_layerIndex[i];
    }
    stats.kvBytesUsed = 0;
    stats.kvBytesReserved = 0;
    for (const LayerKvBytes &layer : stats.layers) {
        stats.kvBytesUsed += layer.used;
        stats.kvBytesReserved += layer.reserved;
    }
    stats.mhaF16Bytes = static_cast<std::uint64_t>(stats.tokens) * stats.mhaF16BytesPerToken;
    return stats;
}

} // namespace nw
