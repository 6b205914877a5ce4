// The KV cache of one sequence: per layer, paged blocks of kBlockTokens token rows, allocated
// on demand as the sequence grows and freed when it is truncated or, in a sliding-window layer,
// when its window has moved past them. What a row holds depends on the mode (a KvLayout): K and V
// per KV head (`full`), the MLA latent (`mla`), the `latent:R` latents, quantized `+q8` / `+q4`
// rows; how rows are kept depends on the layer's kind (KvLayerPlan). Every byte it holds is
// counted in MemoryStats.
#pragma once

#include "engine/memory_stats.h"
#include "engine/recurrent_state.h"
#include "kernels/backend.h"
#include "kernels/tensor_type.h"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace nw {

struct HParams;
class SnapKvQueries;

enum class KvMode {
    Full, // K [nKvHeads × headDimK] and V [nKvHeads × headDimV] per token and layer
    Mla, // one row [kvLoraRank + qkRopeHeadDim] per token and layer: c_kv then the roped k_pe
    Latent, // K latent [rank] and V latent [rank] per token and layer (post-hoc SVD, engine/latent_kv.h)
};

// `+q8` / `+q4`: rows quantized per group of 32 elements along each head, in ggml's block formats
// so the CPU dot products run on them as stored. q8 = Q8_0 (int8, one f16 scale: 34 bytes per 32,
// 8.5 bits); q4 = Q4_0 (symmetric 4-bit with offset 8, one f16 scale: 18 bytes per 32, 4.5 bits).
// Symmetric because K/V rows are roughly zero-centred per head group and Q4_0 has the fast AVX2
// dot product; a min (Q4_1) would cost 2 more bytes per group.
// `+tq2` / `+tq3` / `+tq4`: TurboQuant_mse (kernels/cpu/turbo_quant.h): per head an f16 scale and
// 2, 3 or 4 bits per element, the codes of a random-rotated unit vector in a Lloyd–Max codebook
// (tq3 at head dim 128: 2 + 48 bytes, 3.125 bits). Keys and values alike: no QJL residual.
enum class KvQuant { None, Q8, Q4, Tq2, Tq3, Tq4 };
// The TurboQuant bits of a precision (2, 3, 4), 0 for the others.
int kvTurboBits(KvQuant quant);

// What the user asked for, in the grammar kKvModeGrammar shows:
//   "full", "mla", "latent:128", "full+q8", "latent:128+q4:plain", "full+q8/q4+protect:2",
//   "full+tq3", "full+q8/tq3", "full+q8+window:4096+sinks:4", "full+q8+snapkv:1024".
struct KvModeSpec {
    KvMode mode = KvMode::Full;
    std::int64_t rank = 0; // latent:R only
    KvQuant kQuant = KvQuant::None; // keys' precision (`+K/V`; `+P` sets both)
    KvQuant vQuant = KvQuant::None; // values' precision
    // Quantized rows are Hadamard-rotated per head before quantizing (queries rotated the same
    // way, outputs rotated back: QuaRot, llama.cpp's attn_rot); `:plain` stores them as they are.
    // TurboQuant rows are always rotated (their own random rotation), so they take no `:plain`.
    bool rotate = true;
    std::int64_t protect = 0; // `+protect:N`: the first and last N layers keep unquantized rows
    TensorType rowType = TensorType::F16; // element type of unquantized rows: F16 (default) or F32
    // Eviction along the sequence (StreamingLLM, Xiao et al. 2023, arXiv:2309.17453): every
    // attention layer that would keep all tokens keeps only the first `sinks` and the last
    // `window` (a KvLayerKind::Window store with sink rows); tokens between leave the cache and
    // attention. 0: no eviction. A model's own sliding-window layers keep their window.
    std::int64_t window = 0; // `+window:W`
    std::int64_t sinks = 0; // `+sinks:S` (needs a window)
    // SnapKV (Li et al. 2024, arXiv:2404.14469; engine/snapkv.h): once a prompt is prefilled, each
    // layer and KV head keeps the `snapkv` prompt tokens the prompt's last 32 attend to most, and
    // those 32; later tokens are all kept. 0: no selection. `full` rows on MHA/GQA models only.
    std::int64_t snapkv = 0; // `+snapkv:B`

    bool quantized() const { return kQuant != KvQuant::None || vQuant != KvQuant::None; }
    // Throws nw::Error with one line that shows the grammar on a string it cannot read.
    static KvModeSpec parse(std::string_view text);
    // canonical: "full", "latent:128+q4", "full+q8/q4:plain+protect:2", "full+q8+window:4096+sinks:4",
    // "full+tq3+protect:1+snapkv:256"
    std::string toString() const;
    bool evicts() const { return window > 0; }
};
// The grammar of a mode string, for errors, --help and the README.
inline constexpr std::string_view kKvModeGrammar
    = "BASE[+PRECISION][+protect:N][+window:W[+sinks:S] | +snapkv:B] with BASE = full | mla | latent:R and "
      "PRECISION = P or K/V (keys/values) of f16 | q8 | q4 | tq2 | tq3 | tq4 (TurboQuant, full and latent:R), "
      "optionally :plain (q8/q4 without Hadamard rotation); window:W keeps the last W tokens per layer and sinks:S "
      "the first S (StreamingLLM; MHA/GQA models); snapkv:B keeps, per layer and KV head, the B prompt tokens the "
      "prompt's last 32 attend to most, and those 32 (SnapKV; full on MHA/GQA models)";
std::string_view kvModeName(KvMode mode);

// The shape of one token's cache rows in one layer, and so its exact bytes.
struct KvLayout {
    KvModeSpec spec;
    // Row element type: spec.rowType, Q8_0 / Q4_0 for +q8 / +q4, I8 (bytes) for +tqN.
    TensorType kType = TensorType::F16;
    TensorType vType = TensorType::F16;
    // TurboQuant bits of the K and V rows (kernels/cpu/turbo_quant.h): 0 unless +tqN.
    int kBits = 0;
    int vBits = 0;
    // Hadamard rotation block of the K and V rows (kernels/cpu/hadamard.h): 0 for rows that are
    // not quantized or `:plain`.
    int kRotation = 0;
    int vRotation = 0;
    std::int64_t nKvHeads = 0; // full: KV heads; mla / latent: 1 (shared by all heads)
    std::int64_t kHeadDim = 0; // full: headDimK; mla: kvLoraRank + qkRopeHeadDim; latent: rank
    std::int64_t vHeadDim = 0; // full: headDimV; mla: 0 (V is read from the latent); latent: rank
    std::int64_t mlaValueDim = 0; // mla: kvLoraRank, the leading part of the shared row that
                                  // attention reads as V (absorbed form, DeepSeek-V2 §2.1.3)

    std::int64_t kRowElements() const { return nKvHeads * kHeadDim; }
    std::int64_t vRowElements() const { return nKvHeads * vHeadDim; }
    std::size_t kRowBytes() const;
    std::size_t vRowBytes() const;
    std::size_t bytesPerTokenLayer() const { return kRowBytes() + vRowBytes(); }

    // The layout of `spec` for a model; throws nw::Error when the model cannot use the mode
    // (mla on a model without MLA, latent rank larger than the key width, q8/q4 rows whose head
    // dims are not multiples of 32, tq rows whose are not multiples of 8, tq with mla).
    static KvLayout forModel(const HParams &hp, const KvModeSpec &spec);
};

// Bytes per token and layer of a plain multi-head f16 cache: nHeads × (headDimK + headDimV) × 2.
std::uint64_t mhaF16BytesPerTokenLayer(const HParams &hp);

// How one store of a layer's cache grows with the sequence; the meters count each store by its
// kind's rule. Most layers keep one store of one row per token; DeepSeek V3.2 and V4 layers keep
// several (kvCachePlan): V3.2 the MLA rows and the lightning indexer's keys; V4 its window rows,
// the compressed entries (CSA every 4 tokens, HCA every 128), the indexer's keys of the CSA
// entries, and each compressor's pending tokens (a ring). A store's rows are addressed by row
// index (KvLayerPlan::rowOf): the position itself, an entry index, or a ring slot. A recurrent
// layer (Gated DeltaNet) keeps a fixed-size state outside the blocks instead of rows
// (engine/recurrent_state.h: bytesFor is constant once a token is in); it cannot drop its last
// tokens, so truncate() goes back to a checkpoint of the state (or to empty) and callers read
// tokens() to learn where the cache continues from.
enum class KvLayerKind {
    Full, // one row per token, every token kept
    Window, // one row per token; only the last `window` tokens are kept (plus the batch in flight),
            // and the first `sinks` (`+window:W+sinks:S` eviction)
    Compressed, // one row per `ratio` tokens: row b stands for tokens [b·ratio, (b+1)·ratio) and is
                // written once the block is complete (V4's CSA / HCA entries and their indexer keys)
    Ring, // `ringRows` rows used in turn, position p in row p % ringRows: a compressor's
          // pending tokens (V4), a fixed size whatever the sequence's length
    Recurrent, // no rows: a state of fixed size (KvLayerPlan::recurrent), the same for any length
    Shared, // no rows: attends over an earlier layer's (KvLayerPlan::sharedFrom; Gemma 4 E2B / E4B)
};
// "full", "window", "compressed", "ring", "recurrent", "shared"
std::string_view kvLayerKindName(KvLayerKind kind);
bool kvLayerHoldsRows(KvLayerKind kind); // every kind but Recurrent and Shared

// What a store holds for its layer.
enum class KvPart {
    Attention, // the token rows attention reads (every row, or V4's window)
    Entries, // V4's compressed entries, which attention reads beside its window
    IndexerKeys, // the lightning indexer's keys (DeepSeek V3.2; V4's CSA layers, per entry)
    AttentionPool, // the pending tokens of the entries' compressor (V4)
    IndexerPool, // the pending tokens of the indexer keys' compressor (V4)
};

// One store of a layer's cache: what a row holds (its layout) and how rows are kept.
struct KvLayerPlan {
    KvLayout layout;
    KvLayerKind kind = KvLayerKind::Full;
    std::int64_t window = 0; // Window: a query sees the last `window` tokens, itself included
    // Fields below were added after the ones above (plans are built by designation in tests).
    std::int64_t layer = -1; // the model layer it belongs to; -1: its index in the plan
    KvPart part = KvPart::Attention;
    std::int64_t ratio = 1; // Compressed: tokens per row; Ring: the pooled block's tokens
    std::int64_t ringRows = 0; // Ring: rows (the block, and with CSA's overlap the previous one)
    std::string label; // its kind in the meters; empty: kvLayerKindName(kind)
    RecurrentStateShape recurrent; // Recurrent: the state it holds (f32; the KV mode does not touch it)
    std::int64_t sharedFrom = -1; // Shared: the layer whose rows it reads
    // Window: the first `sinks` tokens are kept beside the window and stay visible to every query
    // (StreamingLLM's attention sinks, `+sinks:S`); their blocks are never freed.
    std::int64_t sinks = 0;

    // Tokens whose rows the layer holds once a sequence of `tokens` is committed (Full, Window).
    std::int64_t heldTokens(std::int64_t tokens) const;
    // Rows the store holds once `tokens` are committed, and their bytes.
    std::int64_t rowsFor(std::int64_t tokens) const;
    std::uint64_t bytesFor(std::int64_t tokens) const;
    // The first position of the window a query at `position` reads (0 for full layers); a
    // window layer with sinks reads positions [0, sinks) too.
    std::int64_t firstVisible(std::int64_t position) const;
    // The row of token `position` (Full, Window, Ring) or of its block (Compressed).
    std::int64_t rowOf(std::int64_t position) const;
    // Ring: the first position a continuation at `position` reads back (its block's start, and
    // the previous block's with overlap).
    std::int64_t firstPending(std::int64_t position) const;
    // "full", "window", or the label ("csa", "hca", "indexer", "state").
    std::string_view name() const { return label.empty() ? kvLayerKindName(kind) : std::string_view(label); }
};

// The plan of every layer of a model in mode `spec`: window layers where hp.slidingLayers says
// (and every other attention layer with `+window:W[+sinks:S]`),
// recurrent layers where hp.recurrentLayers says (the mode applies to the attention layers only),
// shared-KV layers where hp.nKvSharedLayers says, and the stores of DeepSeek V3.2 / V4 layers
// (deepseekKvPlan). Throws nw::Error as KvLayout::forModel does, for eviction on models whose
// attention cannot drop tokens (MLA, DeepSeek's stores), and for snapkv:B on models with layers
// that do not keep every token (sliding-window, recurrent, shared-KV).
std::vector<KvLayerPlan> kvCachePlan(const HParams &hp, const KvModeSpec &spec);
// The stores of DeepSeek V3.2 (indexer keys beside the MLA rows) and V4 (window, compressed
// entries, indexer keys and compressor state per layer), from hp.indexer* and hp.compressRatios
// (engine/kv_deepseek.cpp). Throws nw::Error for a mode they cannot use.
std::vector<KvLayerPlan> deepseekKvPlan(const HParams &hp, const KvModeSpec &spec);
// The layout of one row of `width` elements a whole store shares (V4's latent, indexer keys):
// element type from `spec`, nKvHeads 1, attention reading the first `valueDim` as V.
KvLayout sharedRowLayout(const KvModeSpec &spec, std::int64_t width, std::int64_t valueDim);

class KvCache {
public:
    static constexpr std::int64_t kBlockTokens = 64;

    // A cache for up to `capacity` tokens whose layers follow `plan`; nothing is allocated until
    // reserve(). `mhaF16BytesPerTokenLayer` is the baseline the meters compare with.
    KvCache(std::vector<KvLayerPlan> plan, std::int64_t capacity, std::uint64_t mhaF16BytesPerTokenLayer,
        std::uint64_t weightsBytes = 0);
    // A cache whose blocks live in `device`'s memory (a GPU backend; it must outlive the cache).
    // Device memory cannot be committed page by page as the host arena is, so the blocks for the
    // whole capacity are allocated here; the block bookkeeping and MemoryStats are the same.
    // kRow()/vRow() are device addresses then: only the backend's ops may touch the rows.
    KvCache(std::vector<KvLayerPlan> plan, std::int64_t capacity, std::uint64_t mhaF16BytesPerTokenLayer,
        std::uint64_t weightsBytes, Backend &device);
    // Every one of nLayers layers full, with `layout`.
    KvCache(const KvLayout &layout, std::int64_t nLayers, std::int64_t capacity, std::uint64_t mhaF16BytesPerTokenLayer,
        std::uint64_t weightsBytes = 0);
    bool onDevice() const { return m_device != nullptr; }
    ~KvCache();
    KvCache(const KvCache &) = delete;
    KvCache &operator=(const KvCache &) = delete;

    // What a cache of this plan allocates once `tokens` are committed (whole blocks, page-rounded;
    // a window layer only the blocks its window spans), without making one: the planner's figure,
    // equal to memoryStats().kvBytesReserved after a commit of `tokens`.
    static std::uint64_t reservedBytesFor(const std::vector<KvLayerPlan> &plan, std::int64_t tokens);
    static std::uint64_t reservedBytesFor(const KvLayout &layout, std::int64_t nLayers, std::int64_t tokens);

    // The mode's layout (the first store's: every attention store of a layer kind has it).
    const KvLayout &layout() const { return m_layers.front().plan.layout; }
    // The methods below that take a `layer` address a store: with one store per layer (every
    // architecture but DeepSeek V3.2 / V4) the store's index is the layer's.
    const KvLayerPlan &plan(std::int64_t layer) const;
    std::int64_t nStores() const { return static_cast<std::int64_t>(m_layers.size()); }
    // The model's layers (stores name theirs in KvLayerPlan::layer).
    std::int64_t nLayers() const { return m_nModelLayers; }
    // The store of `part` in model layer `layer`, or -1 when the layer keeps none.
    std::int64_t findStore(std::int64_t layer, KvPart part) const;
    std::int64_t capacity() const { return m_capacity; }
    // Positions [0, tokens()) hold valid rows (in a window layer, the last `window` of them and
    // the first `sinks`).
    std::int64_t tokens() const { return m_tokens; }

    // SnapKV (`+snapkv:B`, engine/snapkv.h): once snapKvCompact has gathered the rows a prompt of
    // P positions keeps into rows [0, K), setCompacted(P) records that those rows stand for
    // positions [0, P): a later position p lives in row p − positionOffset() (P − K), while RoPE
    // and the model still see p. tokens(), reserve(), commit() and truncate() count rows;
    // positions() is the length of the sequence the cache continues. Truncating into the compacted
    // rows empties the cache (they cannot be un-selected). Host caches whose stores are all
    // `full` layout and KvLayerKind::Full only (kvCachePlan refuses the mode elsewhere).
    void setCompacted(std::int64_t positions);
    bool compacted() const { return m_compactedRows > 0; }
    std::int64_t positionOffset() const { return m_positionOffset; }
    std::int64_t positions() const { return m_tokens + m_positionOffset; }
    // Set while a `+snapkv:B` prompt is prefilled: attention hands it each layer's queries
    // (DecoderModel::forward puts it in ForwardPass::queries). Not owned.
    void observeQueries(SnapKvQueries *queries) { m_queries = queries; }
    SnapKvQueries *queryObserver() const { return m_queries; }

    // Allocates the blocks that positions [tokens(), nTokens) need in every layer, and the window
    // rows their queries read; throws nw::Error when nTokens exceeds the capacity ("context full:
    // N tokens needed, the KV cache holds M"; Remedy::LargerContext).
    void reserve(std::int64_t nTokens);
    // Marks positions [0, nTokens) valid after their rows were written (nTokens <= reserved);
    // window layers then free the blocks no later query can read.
    void commit(std::int64_t nTokens);
    // Keeps at most the first nTokens positions and frees the blocks no longer needed (prefix
    // reuse). A window layer that already dropped rows a query at nTokens would read cannot
    // continue from there: the cache then empties (tokens() tells what was kept).
    void truncate(std::int64_t nTokens);
    void clear() { truncate(0); }

    // Recurrent layers (KvLayerKind::Recurrent) cannot drop their last tokens: truncate() brings
    // them back to the newest checkpoint at or before the position asked for, and the whole cache
    // with them (tokens() says where), or empties the cache when there is none. checkpoint()
    // saves the states as they are after tokens(); at most maxCheckpoints are kept (oldest go
    // first), and they count in MemoryStats. No-ops for a cache without recurrent layers.
    bool hasRecurrentLayers() const { return m_recurrent.any(); }
    void checkpoint();
    void setMaxCheckpoints(int n);
    std::vector<std::int64_t> checkpoints() const { return m_recurrent.checkpointTokens(); }
    // A recurrent layer's short-convolution rows and delta-rule state (reserved before, host
    // memory), as engine/recurrent_state.h lays them out.
    float *recurrentConv(std::int64_t layer);
    float *recurrentState(std::int64_t layer);

    // Rows of one row index (KvLayerPlan::rowOf; reserved before, and held by the store). K of a
    // full layout is [nKvHeads, kHeadDim].
    std::byte *kRow(std::int64_t layer, std::int64_t position);
    std::byte *vRow(std::int64_t layer, std::int64_t position);
    const std::byte *kRow(std::int64_t layer, std::int64_t position) const;
    const std::byte *vRow(std::int64_t layer, std::int64_t position) const;

    // One layer as the backend's attention and storeKv see it (kernels/backend.h): the layer's
    // own table of physical block ids; a block holds kBlockTokens K rows, then kBlockTokens V
    // rows. For mla (and every layout without V rows), V is the first mlaValueDim elements of
    // the K row.
    KvLayerView layerView(std::int64_t layer);
    // Logical blocks reserved: positions [0, nBlocks() × kBlockTokens) have rows in full layers.
    std::int64_t nBlocks() const { return (m_reservedTokens + kBlockTokens - 1) / kBlockTokens; }
    std::size_t blockBytes(std::int64_t layer = 0) const; // one layer's block: K and V rows
    std::size_t blockStride(std::int64_t layer = 0) const; // blockBytes rounded up to pages

    // For snapshots on disk (engine/kv_snapshot.h), host caches only. The row indices of store
    // `store` that hold valid rows for the tokens() committed: [first, end) (empty for a store
    // without rows; a `+sinks` window store holds its sink rows below `first` too, which this
    // does not name: snapshots refuse such caches).
    std::pair<std::int64_t, std::int64_t> heldRows(std::int64_t store) const;
    // A recurrent store's whole state, its conv rows then its delta-rule state (empty for others
    // and before the first token).
    std::span<const std::byte> recurrentBytes(std::int64_t store) const;
    std::span<std::byte> recurrentBytes(std::int64_t store);
    // Empties the cache, then makes positions [0, nTokens) valid without computing them: it holds
    // exactly the blocks (heldRows) and states a cache that committed nTokens keeps, for the
    // caller to fill. Throws nw::Error as reserve() does.
    void adopt(std::int64_t nTokens);

    // Lock-free snapshot, callable from any thread while the model runs.
    MemoryStats memoryStats() const { return m_counters.snapshot(); }
    // Called on the writer's thread after each change of the figures (allocation, commit,
    // truncate); keep it short.
    void setMemoryCallback(std::function<void(const MemoryStats &)> callback);
    void setWeightsBytes(std::uint64_t bytes);
    // Bytes the allocator actually handed out for blocks and recurrent states (with their
    // checkpoints): the figure MemoryStats must match.
    std::uint64_t allocatedBytes() const { return m_allocatedBytes + m_recurrent.allocatedBytes(); }

private:
    // One layer's blocks: its region of the arena, its block table and free physical ids.
    struct Layer {
        KvLayerPlan plan;
        std::size_t kRowBytes = 0;
        std::size_t vRowBytes = 0;
        std::size_t blockBytes = 0; // kBlockTokens × (kRowBytes + vRowBytes)
        std::size_t blockStride = 0; // blockBytes rounded up to the page size
        std::byte *base = nullptr; // [maxBlocks][blockStride] in the arena
        std::vector<std::int32_t> table; // [maxBlocks] logical block -> physical id, -1 when not held
        std::vector<std::int32_t> freeIds; // physical ids not in use, lowest last
        std::int64_t firstHeld = 0; // logical blocks [firstHeld, end) are held
        std::int64_t endHeld = 0;
        std::int64_t maxBlocks = 0; // blocks the store's rows for the capacity take
        std::int64_t sinkBlocks = 0; // Window with sinks: blocks [0, sinkBlocks) are never freed
        std::int64_t nHeld = 0; // blocks allocated now (the sink blocks and [firstHeld, endHeld))
        BackendBuffer deviceTable; // [maxBlocks] the table's copy on a device
    };

    std::byte *blockBase(const Layer &layer, std::int32_t physical) const;
    void allocateBlock(Layer &layer, std::int64_t logical);
    void freeBlock(Layer &layer, std::int64_t logical);
    // Frees the layer's blocks below `first` (but not its sink blocks) and past `end` (logical
    // block indices).
    void keepBlocks(Layer &layer, std::int64_t first, std::int64_t end);
    void uploadTable(Layer &layer);
    void publish();

    std::vector<Layer> m_layers;
    std::int64_t m_capacity;
    std::uint64_t m_mhaBytesPerTokenLayer;
    std::int64_t m_maxBlocks; // ceil(capacity / kBlockTokens): a full store's blocks
    std::int64_t m_nModelLayers = 0;
    std::int64_t m_tokens = 0;
    std::int64_t m_reservedTokens = 0;
    std::int64_t m_compactedRows = 0; // SnapKV: rows [0, m_compactedRows) hold a prompt's selection
    std::int64_t m_positionOffset = 0; // SnapKV: position − row for tokens after the compacted ones
    SnapKvQueries *m_queries = nullptr;
    std::uint64_t m_allocatedBytes = 0;
    // Address space for every layer's blocks is reserved up front (PROT_NONE, no memory);
    // a block's pages are committed when it is allocated and returned when it is freed, so the
    // view keeps one base pointer per layer and the accounting is exact.
    std::byte *m_arena = nullptr;
    std::size_t m_arenaBytes = 0;
    Backend *m_device = nullptr; // set when the blocks are in a GPU backend's memory
    RecurrentStates m_recurrent; // the recurrent layers' states and checkpoints
    // Set by reserve() while a batch may be writing the recurrent states, cleared by commit(): a
    // batch that did not finish leaves states that belong to no token count.
    bool m_recurrentDirty = false;
    MemoryCounters m_counters;
    std::function<void(const MemoryStats &)> m_callback;
};

} // namespace nw
