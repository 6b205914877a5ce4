// The KV cache of one sequence: per layer, paged blocks of kBlockTokens token rows, allocated
// on demand as the sequence grows and freed when it is truncated. What a row holds depends on
// the mode (a KvLayout): K and V per KV head (`full`), the MLA latent (`mla`), or the seams for
// `latent:R` and quantized `+q8` / `+q4` rows. Every byte it holds is counted in MemoryStats.
#pragma once

#include "engine/memory_stats.h"
#include "kernels/backend.h"
#include "kernels/tensor_type.h"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace nw {

struct HParams;

enum class KvMode {
    Full,   // K [nKvHeads × headDimK] and V [nKvHeads × headDimV] per token and layer
    Mla,    // one row [kvLoraRank + qkRopeHeadDim] per token and layer: c_kv then the roped k_pe
    Latent, // K latent [rank] and V latent [rank] per token and layer (post-hoc SVD, engine/latent_kv.h)
};

// `+q8` / `+q4`: rows quantized per group of 32 elements along each head, in ggml's block formats
// so the CPU dot products run on them as stored. q8 = Q8_0 (int8, one f16 scale: 34 bytes per 32,
// 8.5 bits); q4 = Q4_0 (symmetric 4-bit with offset 8, one f16 scale: 18 bytes per 32, 4.5 bits).
// Symmetric because K/V rows are roughly zero-centred per head group and Q4_0 has the fast AVX2
// dot product; a min (Q4_1) would cost 2 more bytes per group.
enum class KvQuant { None, Q8, Q4 };

// What the user asked for: "full", "full+q8", "mla", "latent:128", "latent:128+q4".
struct KvModeSpec {
    KvMode mode = KvMode::Full;
    std::int64_t rank = 0;              // latent:R only
    KvQuant quant = KvQuant::None;
    TensorType rowType = TensorType::F16; // element type of unquantized rows: F16 (default) or F32

    // Throws nw::Error on an unknown mode ("unknown KV mode 'x': use full, mla, latent:R ...").
    static KvModeSpec parse(std::string_view text);
    std::string toString() const; // "full", "latent:128+q4"
};
std::string_view kvModeName(KvMode mode);

// The shape of one token's cache rows in one layer, and so its exact bytes.
struct KvLayout {
    KvModeSpec spec;
    TensorType kType = TensorType::F16; // row element type: spec.rowType, or Q8_0 / Q4_0 for +q8 / +q4
    TensorType vType = TensorType::F16;
    std::int64_t nKvHeads = 0;    // full: KV heads; mla / latent: 1 (shared by all heads)
    std::int64_t kHeadDim = 0;    // full: headDimK; mla: kvLoraRank + qkRopeHeadDim; latent: rank
    std::int64_t vHeadDim = 0;    // full: headDimV; mla: 0 (V is read from the latent); latent: rank
    std::int64_t mlaValueDim = 0; // mla: kvLoraRank, the leading part of the shared row that
                                  // attention reads as V (absorbed form, DeepSeek-V2 §2.1.3)

    std::int64_t kRowElements() const { return nKvHeads * kHeadDim; }
    std::int64_t vRowElements() const { return nKvHeads * vHeadDim; }
    std::size_t kRowBytes() const;
    std::size_t vRowBytes() const;
    std::size_t bytesPerTokenLayer() const { return kRowBytes() + vRowBytes(); }

    // The layout of `spec` for a model; throws nw::Error when the model cannot use the mode
    // (mla on a model without MLA, latent rank larger than the key width, quantized rows whose
    // head dims are not multiples of 32).
    static KvLayout forModel(const HParams &hp, const KvModeSpec &spec);
};

// Bytes per token and layer of a plain multi-head f16 cache: nHeads × (headDimK + headDimV) × 2.
std::uint64_t mhaF16BytesPerTokenLayer(const HParams &hp);

class KvCache {
public:
    static constexpr std::int64_t kBlockTokens = 64;

    // A cache for up to `capacity` tokens; nothing is allocated until reserve().
    // `mhaF16BytesPerTokenLayer` is the baseline the meters compare with.
    KvCache(const KvLayout &layout, std::int64_t nLayers, std::int64_t capacity,
            std::uint64_t mhaF16BytesPerTokenLayer, std::uint64_t weightsBytes = 0);
    // A cache whose blocks live in `device`'s memory (a GPU backend; it must outlive the cache).
    // Device memory cannot be committed page by page as the host arena is, so the blocks for the
    // whole capacity are allocated here; the block bookkeeping and MemoryStats are the same.
    // kRow()/vRow() are device addresses then: only the backend's ops may touch the rows.
    KvCache(const KvLayout &layout, std::int64_t nLayers, std::int64_t capacity,
            std::uint64_t mhaF16BytesPerTokenLayer, std::uint64_t weightsBytes, Backend &device);
    bool onDevice() const { return m_device != nullptr; }
    ~KvCache();
    KvCache(const KvCache &) = delete;

    // What a cache of this layout allocates to hold `tokens` (whole blocks, page-rounded), without
    // making one: the planner's figure, equal to memoryStats().kvBytesReserved when it is full.
    static std::uint64_t reservedBytesFor(const KvLayout &layout, std::int64_t nLayers, std::int64_t tokens);
    KvCache &operator=(const KvCache &) = delete;

    const KvLayout &layout() const { return m_layout; }
    std::int64_t nLayers() const { return m_nLayers; }
    std::int64_t capacity() const { return m_capacity; }
    // Positions [0, tokens()) hold valid rows.
    std::int64_t tokens() const { return m_tokens; }

    // Allocates the blocks that positions [0, nTokens) need in every layer; throws nw::Error
    // when nTokens exceeds the capacity ("context full: N tokens needed, the KV cache holds M"; Remedy::LargerContext).
    void reserve(std::int64_t nTokens);
    // Marks positions [0, nTokens) valid after their rows were written (nTokens <= reserved).
    void commit(std::int64_t nTokens);
    // Drops positions >= nTokens and frees the blocks no longer needed (prefix reuse).
    void truncate(std::int64_t nTokens);
    void clear() { truncate(0); }

    // Rows of one position (reserved before). K of a full layout is [nKvHeads, kHeadDim].
    std::byte *kRow(std::int64_t layer, std::int64_t position);
    std::byte *vRow(std::int64_t layer, std::int64_t position);
    const std::byte *kRow(std::int64_t layer, std::int64_t position) const;
    const std::byte *vRow(std::int64_t layer, std::int64_t position) const;

    // One layer as the backend's attention and storeKv see it (kernels/backend.h): physical
    // block ids in a table shared by all layers; a block holds kBlockTokens K rows, then
    // kBlockTokens V rows. For mla, V is the first mlaValueDim elements of the K row.
    KvLayerView layerView(std::int64_t layer);
    std::int64_t nBlocks() const { return static_cast<std::int64_t>(m_blockTable.size()); }
    std::size_t blockBytes() const { return m_blockBytes; }   // one layer's block: K and V rows
    std::size_t blockStride() const { return m_blockStride; } // blockBytes rounded up to pages

    // Lock-free snapshot, callable from any thread while the model runs.
    MemoryStats memoryStats() const { return m_counters.snapshot(); }
    // Called on the writer's thread after each change of the figures (allocation, commit,
    // truncate); keep it short.
    void setMemoryCallback(std::function<void(const MemoryStats &)> callback);
    void setWeightsBytes(std::uint64_t bytes);
    // Bytes the allocator actually handed out for blocks (the figure MemoryStats must match).
    std::uint64_t allocatedBytes() const { return m_allocatedBytes; }

private:
    std::byte *blockBase(std::int64_t layer, std::int64_t block) const;
    void allocateBlock();
    void freeLastBlock();
    void publish();

    KvLayout m_layout;
    std::int64_t m_nLayers;
    std::int64_t m_capacity;
    std::uint64_t m_mhaBytesPerTokenLayer;
    std::size_t m_kRowBytes;
    std::size_t m_vRowBytes;
    std::size_t m_blockBytes;  // kBlockTokens × (kRowBytes + vRowBytes)
    std::size_t m_blockStride; // m_blockBytes rounded up to the page size
    std::int64_t m_maxBlocks;  // ceil(capacity / kBlockTokens)
    std::int64_t m_tokens = 0;
    std::uint64_t m_allocatedBytes = 0;
    // Address space for every layer's blocks is reserved up front (PROT_NONE, no memory);
    // a block's pages are committed when it is allocated and returned when it is freed, so the
    // view keeps one base pointer per layer and the accounting is exact.
    std::byte *m_arena = nullptr;      // [nLayers][maxBlocks][blockStride]
    std::size_t m_arenaBytes = 0;
    std::vector<std::int32_t> m_blockTable; // [nBlocks] logical block -> physical id
    Backend *m_device = nullptr;            // set when the blocks are in a GPU backend's memory
    BackendBuffer m_deviceBlockTable;       // [maxBlocks] the block table's copy there
    std::vector<std::int32_t> m_freeIds;    // physical ids not in use
    MemoryCounters m_counters;
    std::function<void(const MemoryStats &)> m_callback;
};

} // namespace nw
