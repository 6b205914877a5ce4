// Paged KV cache: address space reserved once per cache, pages committed per block on demand.
#include "engine/kv_cache.h"

#include "common/assert.h"
#include "common/error.h"
#include "engine/hparams.h"
#include "kernels/cpu/hadamard.h"
#include "kernels/cpu/turbo_quant.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <functional>
#include <numeric>
#include <utility>

namespace nw {

std::string_view kvModeName(KvMode mode)
{
    switch (mode) {
    case KvMode::Full:
        return "full";
    case KvMode::Mla:
        return "mla";
    case KvMode::Latent:
        return "latent";
    }
    return "?";
}

namespace {

// Every parse error is one line that ends with the grammar.
template <typename... Args>
[[noreturn]] void failMode(std::string_view text, fmt::format_string<Args...> why, Args &&...args)
{
    fail(
        "bad KV mode '{}': {}; the grammar is {}", text, fmt::format(why, std::forward<Args>(args)...), kKvModeGrammar);
}

std::int64_t positiveInteger(std::string_view text, std::string_view digits, std::string_view what)
{
    std::int64_t value = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (ec != std::errc() || end != digits.data() + digits.size() || value <= 0)
        failMode(text, "{} must be a positive integer, not '{}'", what, digits);
    return value;
}

constexpr std::pair<KvQuant, std::string_view> kPrecisionNames[] = { { KvQuant::None, "f16" }, { KvQuant::Q8, "q8" },
    { KvQuant::Q4, "q4" }, { KvQuant::Tq2, "tq2" }, { KvQuant::Tq3, "tq3" }, { KvQuant::Tq4, "tq4" } };

KvQuant precisionOf(std::string_view text, std::string_view name)
{
    for (const auto &[quant, spelling] : kPrecisionNames)
        if (name == spelling)
            return quant;
    failMode(text, "unknown precision '{}'", name);
}

std::string_view precisionName(KvQuant quant)
{
    for (const auto &[q, spelling] : kPrecisionNames)
        if (q == quant)
            return spelling;
    return "?";
}

// Q8_0 / Q4_0 blocks: the precisions whose rows take a Hadamard rotation and groups of 32.
bool blockQuantized(KvQuant quant)
{
    return quant == KvQuant::Q8 || quant == KvQuant::Q4;
}

TensorType quantType(KvQuant quant, TensorType rowType)
{
    if (kvTurboBits(quant) > 0)
        return TensorType::I8;
    return quant == KvQuant::Q8 ? TensorType::Q8_0 : quant == KvQuant::Q4 ? TensorType::Q4_0 : rowType;
}

} // namespace

int kvTurboBits(KvQuant quant)
{
    return quant == KvQuant::Tq2 ? 2 : quant == KvQuant::Tq3 ? 3 : quant == KvQuant::Tq4 ? 4 : 0;
}

KvModeSpec KvModeSpec::parse(std::string_view text)
{
    KvModeSpec spec;
    std::vector<std::string_view> terms;
    for (std::size_t start = 0;;) {
        const std::size_t plus = text.find('+', start);
        terms.push_back(text.substr(start, plus == std::string_view::npos ? std::string_view::npos : plus - start));
        if (plus == std::string_view::npos)
            break;
        start = plus + 1;
    }
    const std::string_view base = terms.front();
    if (base == "full") {
        spec.mode = KvMode::Full;
    } else if (base == "mla") {
        spec.mode = KvMode::Mla;
    } else if (base.starts_with("latent:")) {
        spec.mode = KvMode::Latent;
        spec.rank = positiveInteger(text, base.substr(7), "the latent rank R");
    } else {
        failMode(text, "unknown base '{}'", base);
    }
    bool precisionSeen = false;
    for (std::size_t i = 1; i < terms.size(); ++i) {
        std::string_view term = terms[i];
        if (term.starts_with("protect:")) {
            if (spec.protect > 0)
                failMode(text, "protect given twice");
            spec.protect = positiveInteger(text, term.substr(8), "protect:N");
            continue;
        }
        if (term.starts_with("window:") || term == "window") {
            if (spec.window > 0)
                failMode(text, "window given twice");
            spec.window = positiveInteger(text, term.substr(std::min<std::size_t>(7, term.size())), "window:W");
            continue;
        }
        if (term.starts_with("sinks:") || term == "sinks") {
            if (spec.sinks > 0)
                failMode(text, "sinks given twice");
            spec.sinks = positiveInteger(text, term.substr(std::min<std::size_t>(6, term.size())), "sinks:S");
            continue;
        }
        if (term.starts_with("snapkv:") || term == "snapkv") {
            if (spec.snapkv > 0)
                failMode(text, "snapkv given twice");
            spec.snapkv = positiveInteger(text, term.substr(std::min<std::size_t>(7, term.size())), "snapkv:B");
            continue;
        }
        if (term.starts_with("pool"))
            failMode(text, "'+{}' is not implemented yet (eviction here is +window:W[+sinks:S] or +snapkv:B)", term);
        if (precisionSeen)
            failMode(text, "unknown or repeated term '+{}'", term);
        precisionSeen = true;
        if (term.ends_with(":plain")) {
            spec.rotate = false;
            term.remove_suffix(6);
        }
        const std::size_t slash = term.find('/');
        spec.kQuant = precisionOf(text, term.substr(0, slash));
        spec.vQuant = slash == std::string_view::npos ? spec.kQuant : precisionOf(text, term.substr(slash + 1));
        if (!spec.rotate && !blockQuantized(spec.kQuant) && !blockQuantized(spec.vQuant))
            failMode(text, ":plain only applies to q8 or q4 rows");
        if (!spec.rotate && (kvTurboBits(spec.kQuant) > 0 || kvTurboBits(spec.vQuant) > 0))
            failMode(text, ":plain does not apply to tq rows (TurboQuant always rotates)");
    }
    if (spec.protect > 0 && !spec.quantized())
        failMode(text, "protect:N keeps layers unquantized, so it needs a q8, q4 or tq precision");
    if (spec.sinks > 0 && spec.window == 0)
        failMode(text, "sinks:S are the first tokens kept beside a window, so they need +window:W");
    if (spec.snapkv > 0 && spec.window > 0)
        failMode(text,
            "snapkv:B and window:W are two evictions: snapkv keeps the prompt tokens attention chose, window the "
            "last W; use one");
    if (spec.snapkv > 0 && spec.mode != KvMode::Full)
        failMode(text,
            "snapkv:B applies to full caches only: it keeps rows per KV head, and {} rows are shared by every head "
            "(and rebuilt at attention time)",
            kvModeName(spec.mode));
    if (spec.window > 0 && spec.mode == KvMode::Mla)
        failMode(text,
            "window:W cannot apply to mla: the MLA attention (absorbed decode, expanded prefill) reads "
            "every cached latent row and has no window to drop tokens from");
    return spec;
}

std::string KvModeSpec::toString() const
{
    std::string s(kvModeName(mode));
    if (mode == KvMode::Latent) // two appends: ":" + to_string() trips GCC 12's -Wrestrict at -O3
        s.append(":").append(std::to_string(rank));
    if (quantized()) {
        s.append("+").append(precisionName(kQuant));
        if (vQuant != kQuant)
            s.append("/").append(precisionName(vQuant));
        if (!rotate)
            s += ":plain";
    }
    if (protect > 0)
        s.append("+protect:").append(std::to_string(protect));
    if (window > 0)
        s.append("+window:").append(std::to_string(window));
    if (sinks > 0)
        s.append("+sinks:").append(std::to_string(sinks));
    if (snapkv > 0)
        s.append("+snapkv:").append(std::to_string(snapkv));
    return s;
}

std::size_t KvLayout::kRowBytes() const
{
    if (kBits > 0)
        return static_cast<std::size_t>(nKvHeads) * turboHeadBytes(kBits, kHeadDim);
    return rowBytes(kType, static_cast<std::size_t>(kRowElements()));
}

std::size_t KvLayout::vRowBytes() const
{
    if (vRowElements() == 0)
        return 0;
    if (vBits > 0)
        return static_cast<std::size_t>(nKvHeads) * turboHeadBytes(vBits, vHeadDim);
    return rowBytes(vType, static_cast<std::size_t>(vRowElements()));
}

KvLayout KvLayout::forModel(const HParams &hp, const KvModeSpec &spec)
{
    if (spec.rowType != TensorType::F16 && spec.rowType != TensorType::F32)
        fail("KV rows must be F16 or F32, not {}", tensorTypeName(spec.rowType));
    KvLayout layout;
    layout.spec = spec;
    layout.kType = quantType(spec.kQuant, spec.rowType);
    layout.vType = quantType(spec.vQuant, spec.rowType);
    layout.kBits = kvTurboBits(spec.kQuant);
    layout.vBits = kvTurboBits(spec.vQuant);
    switch (spec.mode) {
    case KvMode::Full:
        layout.nKvHeads = hp.nKvHeads;
        layout.kHeadDim = hp.headDimK;
        layout.vHeadDim = hp.headDimV;
        break;
    case KvMode::Mla:
        if (!hp.hasMla())
            fail("KV mode 'mla' needs a model with multi-head latent attention; '{}' has none (use full)", hp.arch);
        layout.nKvHeads = 1;
        layout.kHeadDim = hp.kvLoraRank + hp.qkRopeHeadDim;
        layout.vHeadDim = 0;
        layout.mlaValueDim = hp.kvLoraRank;
        if (spec.kQuant != spec.vQuant)
            fail("KV mode '{}': mla reads its values from the key row, so keys and values share one precision",
                spec.toString());
        // A TurboQuant norm belongs to the whole row, so V (its prefix) has none of its own.
        if (layout.kBits > 0)
            fail("KV mode '{}': tq rows are for full and latent:R caches; mla reads its values from the key row "
                 "(use mla+q8 or mla+q4)",
                spec.toString());
        break;
    case KvMode::Latent: {
        if (hp.hasMla())
            fail("KV mode '{}' is for MHA/GQA models; '{}' already has a latent cache (use mla)", spec.toString(),
                hp.arch);
        const std::int64_t maxRank = std::min(hp.nKvHeads * hp.headDimK, hp.nKvHeads * hp.headDimV);
        if (spec.rank > maxRank)
            fail("KV mode '{}': the rank can be at most {} for this model (its K/V width)", spec.toString(), maxRank);
        if (spec.rank % 2 != 0) // K latents are rotated in RoPE pairs (engine/latent_kv.cpp)
            fail("KV mode '{}': the rank must be even", spec.toString());
        // One row of R numbers for K and one for V, shared by all heads (engine/latent_kv.h).
        layout.nKvHeads = 1;
        layout.kHeadDim = spec.rank;
        layout.vHeadDim = spec.rank;
        break;
    }
    }
    // Rows are quantized per head in groups of 32; MLA's V is the leading kvLoraRank part of its
    // row, so that boundary must fall on a group too.
    const auto whole = [](std::int64_t n) { return n % static_cast<std::int64_t>(kQk) == 0; };
    if ((blockQuantized(spec.kQuant) && (!whole(layout.kHeadDim) || !whole(layout.mlaValueDim)))
        || (blockQuantized(spec.vQuant) && !whole(layout.vHeadDim)))
        fail("KV mode '{}' quantizes rows in groups of {}: the model's head dims (K {}, V {}) are not multiples "
             "of it (use {} without +q8/+q4)",
            spec.toString(), kQk, layout.kHeadDim, layout.mlaValueDim ? layout.mlaValueDim : layout.vHeadDim,
            kvModeName(spec.mode));
    // TurboQuant packs 8 codes in `bits` bytes: whole bytes per head.
    if ((layout.kBits > 0 && layout.kHeadDim % 8 != 0) || (layout.vBits > 0 && layout.vHeadDim % 8 != 0))
        fail("KV mode '{}' packs tq codes 8 at a time: the head dims (K {}, V {}) are not multiples of 8 (use q8 or "
             "q4)",
            spec.toString(), layout.kHeadDim, layout.vHeadDim);
    if (spec.rotate) {
        // MLA's value is a prefix of the key row, so its rotation blocks must not cross that
        // boundary: the block divides both lengths.
        const std::int64_t kSpan
            = layout.mlaValueDim > 0 ? std::gcd(layout.kHeadDim, layout.mlaValueDim) : layout.kHeadDim;
        layout.kRotation = blockQuantized(spec.kQuant) ? hadamardBlock(kSpan) : 0;
        layout.vRotation = blockQuantized(spec.vQuant) && layout.vHeadDim > 0 ? hadamardBlock(layout.vHeadDim) : 0;
    }
    return layout;
}

std::uint64_t mhaF16BytesPerTokenLayer(const HParams &hp)
{
    return static_cast<std::uint64_t>(hp.nHeads * (hp.headDimK + hp.headDimV)) * 2;
}

std::string_view kvLayerKindName(KvLayerKind kind)
{
    switch (kind) {
    case KvLayerKind::Full:
        return "full";
    case KvLayerKind::Window:
        return "window";
    case KvLayerKind::Compressed:
        return "compressed";
    case KvLayerKind::Ring:
        return "ring";
    case KvLayerKind::Recurrent:
        return "recurrent";
    case KvLayerKind::Shared:
        return "shared";
    }
    return "?";
}

bool kvLayerHoldsRows(KvLayerKind kind)
{
    return kind != KvLayerKind::Recurrent && kind != KvLayerKind::Shared;
}

std::int64_t KvLayerPlan::heldTokens(std::int64_t tokens) const
{
    if (!kvLayerHoldsRows(kind))
        return 0;
    return kind == KvLayerKind::Window ? std::min(tokens, window + sinks) : tokens;
}

std::int64_t KvLayerPlan::rowsFor(std::int64_t tokens) const
{
    switch (kind) {
    case KvLayerKind::Full:
        return tokens;
    case KvLayerKind::Window: // the window and the sinks before it (they meet once tokens <= window + sinks)
        return std::min(tokens, window + sinks);
    case KvLayerKind::Compressed:
        return tokens / ratio;
    case KvLayerKind::Ring:
        return tokens > 0 ? ringRows : 0; // allocated whole with the first token
    case KvLayerKind::Recurrent: // a state outside the blocks (bytesFor)
    case KvLayerKind::Shared:
        return 0;
    }
    return 0;
}

std::uint64_t KvLayerPlan::bytesFor(std::int64_t tokens) const
{
    if (kind == KvLayerKind::Recurrent) // the state exists from the first token on, whatever the length
        return tokens > 0 ? recurrent.bytes() : 0;
    return static_cast<std::uint64_t>(rowsFor(tokens)) * layout.bytesPerTokenLayer();
}

std::int64_t KvLayerPlan::firstVisible(std::int64_t position) const
{
    return kind == KvLayerKind::Window ? std::max<std::int64_t>(0, position - window + 1) : 0;
}

std::int64_t KvLayerPlan::rowOf(std::int64_t position) const
{
    switch (kind) {
    case KvLayerKind::Compressed:
        return position / ratio;
    case KvLayerKind::Ring:
        return position % ringRows;
    default:
        return position;
    }
}

std::int64_t KvLayerPlan::firstPending(std::int64_t position) const
{
    return std::max<std::int64_t>(0, position - position % ratio - (ringRows - ratio));
}

std::vector<KvLayerPlan> kvCachePlan(const HParams &hp, const KvModeSpec &spec)
{
    if (spec.evicts() && (hp.hasMla() || hp.indexerHeadDim > 0 || !hp.compressRatios.empty()))
        fail("KV mode '{}': window:W cannot apply to '{}': its attention reads the MLA latent rows (absorbed decode, "
             "expanded prefill) or DeepSeek's sparse stores, none of which can drop tokens yet; eviction is for "
             "MHA/GQA models",
            spec.toString(), hp.arch);
    if (spec.snapkv > 0 && (hp.hasMla() || hp.indexerHeadDim > 0 || !hp.compressRatios.empty()))
        fail("KV mode '{}': snapkv:B cannot apply to '{}': its attention reads the MLA latent rows or DeepSeek's "
             "sparse stores, not the per-head K/V rows SnapKV selects; snapkv is for MHA/GQA models",
            spec.toString(), hp.arch);
    if (hp.indexerHeadDim > 0 || !hp.compressRatios.empty())
        return deepseekKvPlan(hp, spec);
    // `+protect:N`: the first and last N layers keep the rows unquantized.
    KvModeSpec unquantized = spec;
    unquantized.kQuant = unquantized.vQuant = KvQuant::None;
    const KvLayout quantizedLayout = KvLayout::forModel(hp, spec);
    const KvLayout protectedLayout = KvLayout::forModel(hp, unquantized);
    std::vector<KvLayerPlan> plan(static_cast<std::size_t>(hp.nLayers));
    for (std::int64_t il = 0; il < hp.nLayers; ++il) {
        KvLayerPlan &p = plan[static_cast<std::size_t>(il)];
        const bool isProtected = il < spec.protect || il >= hp.nLayers - spec.protect;
        p.layout = isProtected ? protectedLayout : quantizedLayout;
        p.layer = il;
        // A layer with its own KV heads or head dims (Gemma 4) gets its own rows.
        if (spec.mode == KvMode::Full
            && (hp.kvHeadsOf(il) != hp.nKvHeads || hp.headDimKOf(il) != hp.headDimK
                || hp.headDimVOf(il) != hp.headDimV)) {
            HParams layer = hp;
            layer.nKvHeads = hp.kvHeadsOf(il);
            layer.headDimK = hp.headDimKOf(il);
            layer.headDimV = hp.headDimVOf(il);
            p.layout = KvLayout::forModel(layer, isProtected ? unquantized : spec);
        }
        if (hp.isSlidingLayer(il)) {
            p.kind = KvLayerKind::Window;
            p.window = hp.slidingWindow;
        } else if (spec.evicts()) {
            // StreamingLLM on a global layer: its window plus the sink rows. Positions keep the
            // RoPE they were stored with (as llama.cpp's SWA cache does); StreamingLLM's
            // re-positioning of the kept tokens inside the cache is not done: a query at p sees a
            // sink j at its true distance p - j, which past the training context is a distance the
            // model never saw (the reason StreamingLLM re-positions).
            p.kind = KvLayerKind::Window;
            p.window = spec.window;
            p.sinks = spec.sinks;
        }
        if (hp.isRecurrentLayer(il)) {
            p.kind = KvLayerKind::Recurrent;
            p.recurrent = RecurrentStateShape::forModel(hp);
        }
        // llama.cpp's reuse for Gemma 3n / 4: the last two layers before the shared ones are a
        // window layer and a global one, and each shared layer reads the one of its kind.
        const std::int64_t firstShared = hp.nLayers - hp.nKvSharedLayers;
        if (hp.nKvSharedLayers > 0 && il >= firstShared) {
            p.kind = KvLayerKind::Shared;
            p.sharedFrom = firstShared - (hp.isSlidingLayer(il) ? 2 : 1);
            NW_ASSERT(p.sharedFrom >= 0 && hp.isSlidingLayer(p.sharedFrom) == hp.isSlidingLayer(il));
        }
        // A compacted cache maps positions to rows by one offset for the whole sequence
        // (KvCache::setCompacted); window, recurrent and shared-KV layers keep theirs by position.
        if (spec.snapkv > 0 && p.kind != KvLayerKind::Full)
            fail("KV mode '{}': snapkv:B cannot apply to '{}': its layer {} is a {} layer, and SnapKV's compaction "
                 "moves the rows of layers that keep every token only (mixing them is not supported yet)",
                spec.toString(), hp.arch, il, p.name());
    }
    return plan;
}

namespace {

std::size_t pageSize()
{
    static const std::size_t size = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    return size;
}

std::size_t strideFor(const KvLayout &layout)
{
    const std::size_t page = pageSize();
    const std::size_t blockBytes = static_cast<std::size_t>(KvCache::kBlockTokens) * layout.bytesPerTokenLayer();
    return (blockBytes + page - 1) / page * page;
}

std::int64_t blocksFor(std::int64_t rows)
{
    return (rows + KvCache::kBlockTokens - 1) / KvCache::kBlockTokens;
}

// Logical blocks a store needs for rows of positions [0, tokens): its end.
std::int64_t endBlockFor(const KvLayerPlan &plan, std::int64_t tokens)
{
    switch (plan.kind) {
    case KvLayerKind::Compressed:
        return blocksFor(tokens / plan.ratio);
    case KvLayerKind::Ring:
        return tokens > 0 ? blocksFor(plan.ringRows) : 0;
    default:
        return blocksFor(tokens);
    }
}

// A window store's sink blocks: [0, sinkBlocks) hold the rows of positions [0, sinks).
std::int64_t sinkBlocksOf(const KvLayerPlan &plan)
{
    return plan.kind == KvLayerKind::Window ? blocksFor(plan.sinks) : 0;
}

// Logical blocks a store keeps once `tokens` are committed: [first, end), and with sinks the
// blocks [0, min(sinkBlocks, end)) too.
std::pair<std::int64_t, std::int64_t> heldBlocks(const KvLayerPlan &plan, std::int64_t tokens)
{
    if (!kvLayerHoldsRows(plan.kind))
        return { 0, 0 };
    const std::int64_t end = endBlockFor(plan, tokens);
    const std::int64_t first = tokens > 0 ? plan.firstVisible(tokens) / KvCache::kBlockTokens : 0;
    return { std::min(first, end), end };
}

std::vector<RecurrentStateShape> recurrentShapes(const std::vector<KvLayerPlan> &plan)
{
    std::vector<RecurrentStateShape> shapes;
    for (const KvLayerPlan &p : plan)
        shapes.push_back(p.kind == KvLayerKind::Recurrent ? p.recurrent : RecurrentStateShape {});
    return shapes;
}

std::vector<KvLayerPlan> uniformPlan(const KvLayout &layout, std::int64_t nLayers)
{
    NW_ASSERT(nLayers > 0);
    std::vector<KvLayerPlan> plan(static_cast<std::size_t>(nLayers));
    for (std::int64_t il = 0; il < nLayers; ++il) {
        plan[std::size_t(il)].layout = layout;
        plan[std::size_t(il)].layer = il;
    }
    return plan;
}

} // namespace

std::uint64_t KvCache::reservedBytesFor(const std::vector<KvLayerPlan> &plan, std::int64_t tokens)
{
    std::uint64_t total = 0;
    for (const KvLayerPlan &p : plan) {
        if (p.kind == KvLayerKind::Recurrent) {
            total += p.bytesFor(tokens); // allocated whole with the first token
            continue;
        }
        const auto [first, end] = heldBlocks(p, tokens);
        const std::int64_t sinkBlocks = std::min(sinkBlocksOf(p), first); // those below the window
        total += static_cast<std::uint64_t>(end - first + sinkBlocks) * strideFor(p.layout);
    }
    return total;
}

std::uint64_t KvCache::reservedBytesFor(const KvLayout &layout, std::int64_t nLayers, std::int64_t tokens)
{
    return reservedBytesFor(uniformPlan(layout, nLayers), tokens);
}

KvCache::KvCache(const KvLayout &layout, std::int64_t nLayers, std::int64_t capacity,
    std::uint64_t mhaBytesPerTokenLayer, std::uint64_t weightsBytes)
    : KvCache(uniformPlan(layout, nLayers), capacity, mhaBytesPerTokenLayer, weightsBytes)
{
}

KvCache::KvCache(std::vector<KvLayerPlan> plan, std::int64_t capacity, std::uint64_t mhaBytesPerTokenLayer,
    std::uint64_t weightsBytes)
    : m_capacity(capacity)
    , m_mhaBytesPerTokenLayer(mhaBytesPerTokenLayer)
    , m_recurrent(recurrentShapes(plan))
    , m_counters(plan.size())
{
    NW_ASSERT(!plan.empty());
    if (capacity <= 0)
        fail("KV cache capacity must be positive, got {}", capacity);
    m_maxBlocks = (capacity + kBlockTokens - 1) / kBlockTokens;
    m_layers.resize(plan.size());
    for (std::size_t i = 0; i < plan.size(); ++i) {
        Layer &l = m_layers[i];
        l.plan = std::move(plan[i]);
        if (l.plan.layer < 0)
            l.plan.layer = static_cast<std::int64_t>(i);
        m_nModelLayers = std::max(m_nModelLayers, l.plan.layer + 1);
        NW_ASSERT(l.plan.kind != KvLayerKind::Window || l.plan.window > 0);
        NW_ASSERT(l.plan.kind != KvLayerKind::Compressed || l.plan.ratio > 0);
        NW_ASSERT(l.plan.kind != KvLayerKind::Ring || (l.plan.ringRows > 0 && l.plan.ratio > 0));
        if (l.plan.kind == KvLayerKind::Recurrent)
            NW_ASSERT(!l.plan.recurrent.empty()); // its state lives in m_recurrent
        if (l.plan.kind == KvLayerKind::Shared)
            NW_ASSERT(l.plan.sharedFrom >= 0 && std::size_t(l.plan.sharedFrom) < i
                && kvLayerHoldsRows(m_layers[std::size_t(l.plan.sharedFrom)].plan.kind));
        if (!kvLayerHoldsRows(l.plan.kind)) {
            m_counters.setLayerKind(i, std::string(l.plan.name()));
            m_counters.setLayerIndex(i, l.plan.layer);
            continue; // no rows, no blocks
        }
        l.kRowBytes = l.plan.layout.kRowBytes();
        l.vRowBytes = l.plan.layout.vRowBytes();
        NW_ASSERT(l.kRowBytes > 0);
        l.blockBytes = static_cast<std::size_t>(kBlockTokens) * (l.kRowBytes + l.vRowBytes);
        l.blockStride = strideFor(l.plan.layout);
        l.maxBlocks = std::max<std::int64_t>(1, endBlockFor(l.plan, capacity));
        l.sinkBlocks = sinkBlocksOf(l.plan);
        l.table.assign(static_cast<std::size_t>(l.maxBlocks), -1);
        l.freeIds.reserve(static_cast<std::size_t>(l.maxBlocks));
        for (std::int64_t id = l.maxBlocks - 1; id >= 0; --id)
            l.freeIds.push_back(static_cast<std::int32_t>(id)); // lowest id handed out first
        m_arenaBytes += l.blockStride * static_cast<std::size_t>(l.maxBlocks);
        m_counters.setLayerKind(i, std::string(l.plan.name()));
        m_counters.setLayerIndex(i, l.plan.layer);
    }
    void *arena = mmap(nullptr, m_arenaBytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (arena == MAP_FAILED)
        fail("cannot reserve {} bytes of address space for a KV cache of {} tokens: {}", m_arenaBytes, capacity,
            std::strerror(errno));
    m_arena = static_cast<std::byte *>(arena);
    std::size_t offset = 0;
    for (Layer &l : m_layers) {
        l.base = m_arena + offset;
        offset += l.blockStride * static_cast<std::size_t>(l.maxBlocks);
    }
    m_counters.beginWrite();
    m_counters.setWeightsBytes(weightsBytes);
    m_counters.setTokens(0, capacity);
    m_counters.endWrite();
    publish();
}

KvCache::KvCache(std::vector<KvLayerPlan> plan, std::int64_t capacity, std::uint64_t mhaBytesPerTokenLayer,
    std::uint64_t weightsBytes, Backend &device)
    : KvCache(std::move(plan), capacity, mhaBytesPerTokenLayer, weightsBytes)
{
    NW_ASSERT(device.memoryKind() == BackendMemory::Device);
    if (m_recurrent.any())
        fail(Remedy::CpuDevice, "a cache with recurrent layers does not run on {} yet", device.name());
    munmap(m_arena, m_arenaBytes); // the host reservation made above is not needed
    m_arena = nullptr;
    m_arena = static_cast<std::byte *>(device.allocate(m_arenaBytes));
    m_device = &device;
    std::size_t offset = 0;
    for (Layer &l : m_layers) {
        l.base = m_arena + offset;
        offset += l.blockStride * static_cast<std::size_t>(l.maxBlocks);
        l.deviceTable = BackendBuffer(device, static_cast<std::size_t>(l.maxBlocks) * sizeof(std::int32_t));
    }
}

KvCache::~KvCache()
{
    if (m_device)
        m_device->release(m_arena, m_arenaBytes);
    else if (m_arena)
        munmap(m_arena, m_arenaBytes);
}

const KvLayerPlan &KvCache::plan(std::int64_t layer) const
{
    NW_ASSERT(layer >= 0 && layer < nStores());
    return m_layers[static_cast<std::size_t>(layer)].plan;
}

std::int64_t KvCache::findStore(std::int64_t layer, KvPart part) const
{
    for (std::size_t i = 0; i < m_layers.size(); ++i)
        if (m_layers[i].plan.layer == layer && m_layers[i].plan.part == part)
            return static_cast<std::int64_t>(i);
    return -1;
}

std::size_t KvCache::blockBytes(std::int64_t layer) const
{
    NW_ASSERT(layer >= 0 && layer < nStores());
    return m_layers[static_cast<std::size_t>(layer)].blockBytes;
}

std::size_t KvCache::blockStride(std::int64_t layer) const
{
    NW_ASSERT(layer >= 0 && layer < nStores());
    return m_layers[static_cast<std::size_t>(layer)].blockStride;
}

std::byte *KvCache::blockBase(const Layer &layer, std::int32_t physical) const
{
    return layer.base + static_cast<std::size_t>(physical) * layer.blockStride;
}

void KvCache::allocateBlock(Layer &layer, std::int64_t logical)
{
    NW_ASSERT(!layer.freeIds.empty() && layer.table[static_cast<std::size_t>(logical)] < 0);
    const std::int32_t id = layer.freeIds.back();
    if (!m_device && mprotect(blockBase(layer, id), layer.blockStride, PROT_READ | PROT_WRITE) != 0)
        fail("cannot allocate a KV cache block of {} bytes: {}", layer.blockStride, std::strerror(errno));
    layer.freeIds.pop_back();
    layer.table[static_cast<std::size_t>(logical)] = id;
    ++layer.nHeld;
    m_allocatedBytes += layer.blockStride;
}

void KvCache::freeBlock(Layer &layer, std::int64_t logical)
{
    std::int32_t &id = layer.table[static_cast<std::size_t>(logical)];
    NW_ASSERT(id >= 0);
    if (!m_device) {
        std::byte *base = blockBase(layer, id);
        // Returns the pages to the system; they read as zeros if committed again.
        madvise(base, layer.blockStride, MADV_DONTNEED);
        mprotect(base, layer.blockStride, PROT_NONE);
    }
    // Freed ids go back in order, so the lowest is handed out next (window layers recycle a few).
    layer.freeIds.insert(std::upper_bound(layer.freeIds.begin(), layer.freeIds.end(), id, std::greater<>()), id);
    id = -1;
    --layer.nHeld;
    m_allocatedBytes -= layer.blockStride;
}

void KvCache::keepBlocks(Layer &layer, std::int64_t first, std::int64_t end)
{
    first = std::min(first, end);
    // Held: [firstHeld, endHeld) and the sink blocks below min(sinkBlocks, endHeld). Kept: the
    // same with `first` and `end`; a block is freed once, whichever range it is met in.
    const std::int64_t newFirst = std::max(layer.firstHeld, first);
    const std::int64_t newEnd = std::min(layer.endHeld, end);
    const auto kept = [&](std::int64_t b) { return b < newEnd && (b < layer.sinkBlocks || b >= newFirst); };
    const auto release = [&](std::int64_t from, std::int64_t to) {
        for (std::int64_t b = from; b < to; ++b)
            if (layer.table[static_cast<std::size_t>(b)] >= 0 && !kept(b))
                freeBlock(layer, b);
    };
    release(0, std::min(layer.sinkBlocks, layer.endHeld));
    release(layer.firstHeld, std::min(first, layer.endHeld));
    release(std::max(end, layer.firstHeld), layer.endHeld);
    layer.firstHeld = newFirst;
    layer.endHeld = newEnd;
    if (layer.firstHeld >= layer.endHeld)
        layer.firstHeld = layer.endHeld = first;
}

void KvCache::uploadTable(Layer &layer)
{
    if (m_device)
        layer.deviceTable.upload(layer.table.data(), layer.table.size() * sizeof(std::int32_t));
}

void KvCache::reserve(std::int64_t nTokens)
{
    if (nTokens > m_capacity)
        fail(Remedy::LargerContext, "context full: {} tokens needed, the KV cache holds {}", nTokens, m_capacity);
    if (m_recurrent.any()) {
        m_recurrent.allocate();
        m_recurrentDirty = true; // the batch about to run writes the states
    }
    if (nTokens <= m_reservedTokens) {
        publish();
        return;
    }
    for (Layer &l : m_layers) {
        if (!kvLayerHoldsRows(l.plan.kind))
            continue;
        const std::int64_t end = endBlockFor(l.plan, nTokens);
        // The batch's first query (position m_tokens) reads from firstVisible(m_tokens) on.
        const std::int64_t first = l.plan.firstVisible(m_tokens) / kBlockTokens;
        keepBlocks(l, first, l.endHeld);
        if (l.firstHeld == l.endHeld)
            l.firstHeld = l.endHeld = first;
        bool changed = false;
        for (std::int64_t b = l.endHeld; b < end; ++b) {
            allocateBlock(l, b);
            changed = true;
        }
        l.endHeld = std::max(l.endHeld, end);
        if (changed)
            uploadTable(l);
    }
    m_reservedTokens = nTokens;
    publish();
}

void KvCache::commit(std::int64_t nTokens)
{
    NW_ASSERT(nTokens >= 0 && nTokens <= m_reservedTokens);
    m_tokens = nTokens;
    m_recurrentDirty = false;
    for (Layer &l : m_layers)
        if (l.plan.kind == KvLayerKind::Window) {
            const auto [first, end] = heldBlocks(l.plan, nTokens);
            (void)end;
            keepBlocks(l, first, l.endHeld);
        }
    publish();
}

void KvCache::setCompacted(std::int64_t positions)
{
    NW_ASSERT(!m_device && m_tokens > 0 && positions >= m_tokens && m_compactedRows == 0);
    m_compactedRows = m_tokens;
    m_positionOffset = positions - m_tokens;
    publish();
}

void KvCache::truncate(std::int64_t nTokens)
{
    NW_ASSERT(nTokens >= 0);
    const std::int64_t before = m_tokens;
    m_tokens = std::min(m_tokens, nTokens);
    if (m_tokens < m_compactedRows) // a SnapKV selection cannot be cut: it goes whole
        m_tokens = 0;
    // Recurrent states hold exactly `before` tokens (or, after an unfinished batch, none): going
    // back means the newest checkpoint at or before m_tokens.
    if (m_recurrent.any() && (m_tokens < before || m_recurrentDirty)) {
        m_tokens = m_recurrent.restore(m_tokens);
        m_recurrentDirty = false;
    }
    // A window layer can continue from m_tokens only if it still holds what that query reads;
    // a ring only if the positions it reads back (the pending block) were not overwritten since.
    for (const Layer &l : m_layers) {
        if (m_tokens == 0 || m_tokens == before)
            continue;
        if (l.plan.kind == KvLayerKind::Window && l.firstHeld * kBlockTokens > l.plan.firstVisible(m_tokens))
            m_tokens = 0;
        else if (l.plan.kind == KvLayerKind::Ring && l.plan.firstPending(m_tokens) < before - l.plan.ringRows)
            m_tokens = 0;
    }
    if (m_tokens == 0 && m_recurrent.any())
        m_recurrent.restore(0);
    if (m_tokens == 0)
        m_compactedRows = m_positionOffset = 0;
    m_reservedTokens = m_tokens;
    for (Layer &l : m_layers) {
        if (!kvLayerHoldsRows(l.plan.kind))
            continue;
        const std::int64_t end = endBlockFor(l.plan, m_tokens);
        keepBlocks(l, m_tokens == 0 ? 0 : l.firstHeld, end);
        if (m_tokens == 0)
            l.firstHeld = l.endHeld = 0;
    }
    publish();
}

std::byte *KvCache::kRow(std::int64_t layer, std::int64_t position)
{
    return const_cast<std::byte *>(std::as_const(*this).kRow(layer, position));
}

std::byte *KvCache::vRow(std::int64_t layer, std::int64_t position)
{
    return const_cast<std::byte *>(std::as_const(*this).vRow(layer, position));
}

const std::byte *KvCache::kRow(std::int64_t layer, std::int64_t position) const
{
    NW_ASSERT(layer >= 0 && layer < nStores());
    const Layer &l = m_layers[static_cast<std::size_t>(layer)];
    NW_ASSERT(kvLayerHoldsRows(l.plan.kind));
    NW_ASSERT(position >= 0 && position < l.maxBlocks * kBlockTokens);
    const std::int32_t id = l.table[static_cast<std::size_t>(position / kBlockTokens)];
    NW_ASSERT(id >= 0);
    return blockBase(l, id) + static_cast<std::size_t>(position % kBlockTokens) * l.kRowBytes;
}

const std::byte *KvCache::vRow(std::int64_t layer, std::int64_t position) const
{
    NW_ASSERT(layer >= 0 && layer < nStores());
    const Layer &l = m_layers[static_cast<std::size_t>(layer)];
    if (l.vRowBytes == 0)
        return kRow(layer, position); // V is the leading part of the shared row (mla)
    NW_ASSERT(position >= 0 && position < l.maxBlocks * kBlockTokens);
    NW_ASSERT(kvLayerHoldsRows(l.plan.kind));
    const std::int32_t id = l.table[static_cast<std::size_t>(position / kBlockTokens)];
    NW_ASSERT(id >= 0);
    return blockBase(l, id) + static_cast<std::size_t>(kBlockTokens) * l.kRowBytes
        + static_cast<std::size_t>(position % kBlockTokens) * l.vRowBytes;
}

KvLayerView KvCache::layerView(std::int64_t layer)
{
    NW_ASSERT(layer >= 0 && layer < nStores());
    Layer &l = m_layers[static_cast<std::size_t>(layer)];
    NW_ASSERT(kvLayerHoldsRows(l.plan.kind));
    const KvLayout &layout = l.plan.layout;
    KvLayerView view;
    view.type = layout.kType;
    view.kRotation = layout.kRotation;
    view.kBits = layout.kBits;
    view.blockSize = static_cast<int>(kBlockTokens);
    view.blockTable = m_device ? l.deviceTable.as<const std::int32_t>() : l.table.data();
    view.kBlocks = l.base;
    view.kBlockStride = l.blockStride;
    view.kRowStride = l.kRowBytes;
    view.nKvHeads = static_cast<int>(layout.nKvHeads);
    view.kHeadDim = static_cast<int>(layout.kHeadDim);
    if (layout.vHeadDim == 0) { // mla, and the stores of a shared row: V is in the K row
        view.vBlocks = view.kBlocks;
        view.vBlockStride = view.kBlockStride;
        view.vRowStride = view.kRowStride;
        // A store of keys alone (indexer keys, a compressor's rows) reads as a whole shared row.
        view.vHeadDim = static_cast<int>(layout.mlaValueDim > 0 ? layout.mlaValueDim : layout.kHeadDim);
        view.vRotation = layout.kRotation;
    } else {
        if (layout.vType != layout.kType)
            view.vType = layout.vType;
        view.vRotation = layout.vRotation;
        view.vBits = layout.vBits;
        view.vBlocks = view.kBlocks + static_cast<std::size_t>(kBlockTokens) * l.kRowBytes;
        view.vBlockStride = l.blockStride;
        view.vRowStride = l.vRowBytes;
        view.vHeadDim = static_cast<int>(layout.vHeadDim);
    }
    return view;
}

void KvCache::checkpoint()
{
    if (!m_recurrent.any() || m_tokens == 0)
        return;
    NW_ASSERT(!m_recurrentDirty);
    m_recurrent.checkpoint(m_tokens);
    publish();
}

void KvCache::setMaxCheckpoints(int n)
{
    m_recurrent.setMaxCheckpoints(n);
    publish();
}

float *KvCache::recurrentConv(std::int64_t layer)
{
    NW_ASSERT(plan(layer).kind == KvLayerKind::Recurrent && m_recurrent.allocated());
    return m_recurrent.conv(layer);
}

float *KvCache::recurrentState(std::int64_t layer)
{
    NW_ASSERT(plan(layer).kind == KvLayerKind::Recurrent && m_recurrent.allocated());
    return m_recurrent.state(layer);
}

std::pair<std::int64_t, std::int64_t> KvCache::heldRows(std::int64_t store) const
{
    NW_ASSERT(store >= 0 && store < nStores());
    const Layer &l = m_layers[static_cast<std::size_t>(store)];
    if (!kvLayerHoldsRows(l.plan.kind) || m_tokens == 0)
        return { 0, 0 };
    // Rows past the committed tokens may be reserved for a batch that did not run.
    const std::int64_t valid = l.plan.kind == KvLayerKind::Ring ? l.plan.ringRows
        : l.plan.kind == KvLayerKind::Compressed                ? m_tokens / l.plan.ratio
                                                                : m_tokens;
    const std::int64_t first = l.firstHeld * kBlockTokens;
    return { std::min(first, valid), std::min(l.endHeld * kBlockTokens, valid) };
}

std::span<const std::byte> KvCache::recurrentBytes(std::int64_t store) const
{
    return const_cast<KvCache *>(this)->recurrentBytes(store);
}

std::span<std::byte> KvCache::recurrentBytes(std::int64_t store)
{
    const KvLayerPlan &p = plan(store);
    if (p.kind != KvLayerKind::Recurrent || !m_recurrent.allocated())
        return {};
    // conv rows and state are back to back (engine/recurrent_state.h)
    return { reinterpret_cast<std::byte *>(m_recurrent.conv(store)), p.recurrent.bytes() };
}

void KvCache::adopt(std::int64_t nTokens)
{
    NW_ASSERT(nTokens >= 0);
    if (nTokens > m_capacity)
        fail(Remedy::LargerContext, "context full: {} tokens needed, the KV cache holds {}", nTokens, m_capacity);
    clear();
    if (m_recurrent.any() && nTokens > 0) {
        m_recurrent.allocate();
        m_recurrent.reset();
    }
    for (Layer &l : m_layers) {
        if (!kvLayerHoldsRows(l.plan.kind))
            continue;
        const auto [first, end] = heldBlocks(l.plan, nTokens);
        l.firstHeld = l.endHeld = first;
        for (std::int64_t b = 0; b < std::min(l.sinkBlocks, first); ++b)
            allocateBlock(l, b);
        for (std::int64_t b = first; b < end; ++b)
            allocateBlock(l, b);
        l.endHeld = end;
        uploadTable(l);
    }
    m_tokens = m_reservedTokens = nTokens;
    m_recurrentDirty = false;
    publish();
}

void KvCache::setMemoryCallback(std::function<void(const MemoryStats &)> callback)
{
    m_callback = std::move(callback);
}

void KvCache::setWeightsBytes(std::uint64_t bytes)
{
    m_counters.beginWrite();
    m_counters.setWeightsBytes(bytes);
    m_counters.endWrite();
}

void KvCache::publish()
{
    std::uint64_t perToken = 0;
    for (const Layer &l : m_layers) {
        if (l.plan.kind == KvLayerKind::Compressed) // a row every `ratio` tokens, spread over them
            perToken += l.plan.layout.bytesPerTokenLayer() / static_cast<std::uint64_t>(l.plan.ratio);
        else if (l.plan.kind != KvLayerKind::Ring && l.plan.rowsFor(m_tokens + 1) > l.plan.rowsFor(m_tokens))
            perToken += l.plan.layout.bytesPerTokenLayer();
    }
    m_counters.beginWrite();
    m_counters.setTokens(positions(), m_capacity); // the context: after SnapKV, more than the rows
    m_counters.setPerToken(perToken, static_cast<std::uint64_t>(nLayers()) * m_mhaBytesPerTokenLayer);
    for (std::size_t i = 0; i < m_layers.size(); ++i) {
        const Layer &l = m_layers[i];
        if (l.plan.kind == KvLayerKind::Recurrent) {
            // The live state once allocated (used from the first token), plus its checkpoints.
            const auto layer = static_cast<std::int64_t>(i);
            m_counters.setLayer(
                i, l.plan.bytesFor(m_tokens), m_recurrent.liveBytes(layer) + m_recurrent.checkpointBytes(layer));
            continue;
        }
        m_counters.setLayer(i, l.plan.bytesFor(m_tokens), static_cast<std::uint64_t>(l.nHeld) * l.blockStride);
    }
    m_counters.endWrite();
    if (m_callback)
        m_callback(m_counters.snapshot());
}

} // namespace nw
