// What the KV cache suites share: the published DeepSeek-V2 attention shape, a small llama with
// sliding-window layers and the rows written into its cache, the bytes of a cache the kernel has
// resident (mincore), and writing every row so that its pages become resident.
#pragma once

#include "engine/hparams.h"
#include "engine/kv_cache.h"

#include <doctest/doctest.h>

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace nw::test {

// DeepSeek-V2's published MLA attention (config.json): 60 layers, kv_lora_rank 512, RoPE key dims
// 64, 128 heads with K heads of 192 (128 + 64) and V heads of 128.
inline HParams deepseekV2Params()
{
    return { .arch = "deepseek2",
        .nLayers = 60,
        .nHeads = 128,
        .nKvHeads = 128,
        .headDimK = 192,
        .headDimV = 128,
        .kvLoraRank = 512,
        .qkRopeHeadDim = 64 };
}

// A small llama whose layers 0 and 2 are global and 1 and 3 have the model's own window of 100
// tokens (a Gemma-like interleave): 4 heads, 2 KV heads of 32, so a K plus V row is 256 bytes in f16.
inline HParams slidingWindowParams()
{
    HParams hp { .arch = "llama",
        .nLayers = 4,
        .nEmbd = 64,
        .nFf = 128,
        .nHeads = 4,
        .nKvHeads = 2,
        .headDimK = 32,
        .headDimV = 32,
        .nRot = 32,
        .nVocab = 100,
        .nCtxTrain = 4096 };
    hp.slidingWindow = 100;
    hp.slidingLayers = { false, true, false, true };
    return hp;
}

// The byte written into row `position` of a layer's K (and that + 1 into its V), to check after
// blocks were recycled that a row still holds its own token.
inline int rowPattern(std::int64_t layer, std::int64_t position)
{
    return int((position * 7 + layer * 3) % 251);
}

// Writes rows [from, to) of every layer (reserved already) with rowPattern.
inline void writePatternRows(KvCache &cache, std::int64_t from, std::int64_t to)
{
    for (std::int64_t p = from; p < to; ++p)
        for (std::int64_t l = 0; l < cache.nLayers(); ++l) {
            std::memset(cache.kRow(l, p), rowPattern(l, p), cache.layout().kRowBytes());
            std::memset(cache.vRow(l, p), rowPattern(l, p) + 1, cache.layout().vRowBytes());
        }
}

// Whether row `position` of `layer` still holds what writePatternRows wrote there.
inline bool holdsPattern(const KvCache &cache, std::int64_t layer, std::int64_t position)
{
    return int(cache.kRow(layer, position)[3]) == rowPattern(layer, position)
        && int(cache.vRow(layer, position)[5]) == rowPattern(layer, position) + 1;
}

// Resident bytes of [base, base + bytes) as the kernel sees them.
inline std::size_t residentBytes(const std::byte *base, std::size_t bytes)
{
    const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    std::vector<unsigned char> pages((bytes + page - 1) / page);
    REQUIRE(mincore(const_cast<std::byte *>(base), bytes, pages.data()) == 0);
    std::size_t resident = 0;
    for (unsigned char p : pages)
        resident += (p & 1) ? page : 0;
    return resident;
}

// Resident bytes of every layer's span of blocks, over the whole capacity of the cache.
inline std::size_t residentCacheBytes(KvCache &cache)
{
    const auto maxBlocks
        = static_cast<std::size_t>((cache.capacity() + KvCache::kBlockTokens - 1) / KvCache::kBlockTokens);
    std::size_t total = 0;
    for (std::int64_t l = 0; l < cache.nLayers(); ++l)
        total += residentBytes(cache.layerView(l).kBlocks, cache.blockStride(l) * maxBlocks);
    return total;
}

// Writes every K and V row of the allocated blocks, so that their pages become resident.
inline void touchAllRows(KvCache &cache)
{
    for (std::int64_t l = 0; l < cache.nLayers(); ++l)
        for (std::int64_t p = 0; p < cache.nBlocks() * KvCache::kBlockTokens; ++p) {
            std::memset(cache.kRow(l, p), 0x11, cache.layout().kRowBytes());
            std::memset(cache.vRow(l, p), 0x22, cache.layout().vRowBytes());
        }
}

} // namespace nw::test
