// Paged KV cache: address space reserved once per cache, pages committed per block on demand.
#include "engine/kv_cache.h"

#include "common/assert.h"
#include "common/error.h"
#include "engine/hparams.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <utility>

namespace nw {

std::string_view kvModeName(KvMode mode)
{
    switch (mode) {
    case KvMode::Full: return "full";
    case KvMode::Mla: return "mla";
    case KvMode::Latent: return "latent";
    }
    return "?";
}

KvModeSpec KvModeSpec::parse(std::string_view text)
{
    KvModeSpec spec;
    std::string_view base = text;
    if (const auto plus = text.find('+'); plus != std::string_view::npos) {
        const std::string_view quant = text.substr(plus + 1);
        if (quant == "q8")
            spec.quant = KvQuant::Q8;
        else if (quant == "q4")
            spec.quant = KvQuant::Q4;
        else
            fail("unknown KV quantization '{}' in '{}': use +q8 or +q4", quant, text);
        base = text.substr(0, plus);
    }
    if (base == "full") {
        spec.mode = KvMode::Full;
    } else if (base == "mla") {
        spec.mode = KvMode::Mla;
    } else if (base.starts_with("latent:")) {
        spec.mode = KvMode::Latent;
        const std::string_view rank = base.substr(7);
        const auto [end, ec] = std::from_chars(rank.data(), rank.data() + rank.size(), spec.rank);
        if (ec != std::errc() || end != rank.data() + rank.size() || spec.rank <= 0)
            fail("bad latent rank in KV mode '{}': expected latent:R with R a positive integer", text);
    } else {
        fail("unknown KV mode '{}': use full, mla or latent:R, optionally with +q8 or +q4", text);
    }
    return spec;
}

std::string KvModeSpec::toString() const
{
    std::string s(kvModeName(mode));
    if (mode == KvMode::Latent) // two appends: ":" + to_string() trips GCC 12's -Wrestrict at -O3
        s.append(":").append(std::to_string(rank));
    if (quant == KvQuant::Q8)
        s += "+q8";
    else if (quant == KvQuant::Q4)
        s += "+q4";
    return s;
}

std::size_t KvLayout::kRowBytes() const
{
    return rowBytes(kType, static_cast<std::size_t>(kRowElements()));
}

std::size_t KvLayout::vRowBytes() const
{
    return vRowElements() == 0 ? 0 : rowBytes(vType, static_cast<std::size_t>(vRowElements()));
}

KvLayout KvLayout::forModel(const HParams &hp, const KvModeSpec &spec)
{
    if (spec.rowType != TensorType::F16 && spec.rowType != TensorType::F32)
        fail("KV rows must be F16 or F32, not {}", tensorTypeName(spec.rowType));
    KvLayout layout;
    layout.spec = spec;
    layout.kType = spec.quant == KvQuant::Q8 ? TensorType::Q8_0 : spec.quant == KvQuant::Q4 ? TensorType::Q4_0 : spec.rowType;
    layout.vType = layout.kType;
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
    if (spec.quant != KvQuant::None) {
        // Rows are quantized per head in groups of 32; MLA's V is the leading kvLoraRank part
        // of its row, so that boundary must fall on a group too.
        const auto whole = [](std::int64_t n) { return n % static_cast<std::int64_t>(kQk) == 0; };
        if (!whole(layout.kHeadDim) || !whole(layout.vHeadDim) || !whole(layout.mlaValueDim))
            fail("KV mode '{}' quantizes rows in groups of {}: the model's head dims (K {}, V {}) are not multiples "
                 "of it (use {} without +q8/+q4)",
                 spec.toString(), kQk, layout.kHeadDim, layout.mlaValueDim ? layout.mlaValueDim : layout.vHeadDim,
                 kvModeName(spec.mode));
    }
    return layout;
}

std::uint64_t mhaF16BytesPerTokenLayer(const HParams &hp)
{
    return static_cast<std::uint64_t>(hp.nHeads * (hp.headDimK + hp.headDimV)) * 2;
}

namespace {

std::size_t pageSize()
{
    static const std::size_t size = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    return size;
}

} // namespace

std::uint64_t KvCache::reservedBytesFor(const KvLayout &layout, std::int64_t nLayers, std::int64_t tokens)
{
    const std::size_t page = pageSize();
    const std::size_t blockBytes = static_cast<std::size_t>(kBlockTokens) * layout.bytesPerTokenLayer();
    const std::size_t stride = (blockBytes + page - 1) / page * page;
    const auto blocks = static_cast<std::uint64_t>((tokens + kBlockTokens - 1) / kBlockTokens);
    return blocks * stride * static_cast<std::uint64_t>(nLayers);
}

KvCache::KvCache(const KvLayout &layout, std::int64_t nLayers, std::int64_t capacity,
                 std::uint64_t mhaBytesPerTokenLayer, std::uint64_t weightsBytes)
    : m_layout(layout), m_nLayers(nLayers), m_capacity(capacity), m_mhaBytesPerTokenLayer(mhaBytesPerTokenLayer),
      m_kRowBytes(layout.kRowBytes()), m_vRowBytes(layout.vRowBytes()),
      m_blockBytes(static_cast<std::size_t>(kBlockTokens) * (m_kRowBytes + m_vRowBytes)),
      m_counters(static_cast<std::size_t>(nLayers))
{
    NW_ASSERT(nLayers > 0 && m_kRowBytes > 0);
    if (capacity <= 0)
        fail("KV cache capacity must be positive, got {}", capacity);
    const std::size_t page = pageSize();
    m_blockStride = (m_blockBytes + page - 1) / page * page;
    m_maxBlocks = (capacity + kBlockTokens - 1) / kBlockTokens;
    m_arenaBytes = m_blockStride * static_cast<std::size_t>(m_maxBlocks) * static_cast<std::size_t>(nLayers);
    void *arena = mmap(nullptr, m_arenaBytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (arena == MAP_FAILED)
        fail("cannot reserve {} bytes of address space for a KV cache of {} tokens: {}", m_arenaBytes, capacity,
             std::strerror(errno));
    m_arena = static_cast<std::byte *>(arena);
    m_freeIds.reserve(static_cast<std::size_t>(m_maxBlocks));
    for (std::int64_t id = m_maxBlocks - 1; id >= 0; --id)
        m_freeIds.push_back(static_cast<std::int32_t>(id)); // lowest id handed out first
    m_counters.beginWrite();
    m_counters.setWeightsBytes(weightsBytes);
    m_counters.setPerToken(static_cast<std::uint64_t>(nLayers) * layout.bytesPerTokenLayer(),
                           static_cast<std::uint64_t>(nLayers) * mhaBytesPerTokenLayer);
    m_counters.setTokens(0, capacity);
    m_counters.endWrite();
}

KvCache::KvCache(const KvLayout &layout, std::int64_t nLayers, std::int64_t capacity,
                 std::uint64_t mhaBytesPerTokenLayer, std::uint64_t weightsBytes, Backend &device)
    : KvCache(layout, nLayers, capacity, mhaBytesPerTokenLayer, weightsBytes)
{
    NW_ASSERT(device.memoryKind() == BackendMemory::Device);
    munmap(m_arena, m_arenaBytes); // the host reservation made above is not needed
    m_arena = nullptr;
    m_arena = static_cast<std::byte *>(device.allocate(m_arenaBytes));
    m_device = &device;
    m_deviceBlockTable = BackendBuffer(device, static_cast<std::size_t>(m_maxBlocks) * sizeof(std::int32_t));
}

KvCache::~KvCache()
{
    if (m_device)
        m_device->release(m_arena, m_arenaBytes);
    else if (m_arena)
        munmap(m_arena, m_arenaBytes);
}

std::byte *KvCache::blockBase(std::int64_t layer, std::int64_t physical) const
{
    return m_arena + (static_cast<std::size_t>(layer) * static_cast<std::size_t>(m_maxBlocks) +
                      static_cast<std::size_t>(physical)) * m_blockStride;
}

void KvCache::allocateBlock()
{
    NW_ASSERT(!m_freeIds.empty());
    const std::int32_t id = m_freeIds.back();
    for (std::int64_t layer = 0; layer < m_nLayers && !m_device; ++layer) {
        if (mprotect(blockBase(layer, id), m_blockStride, PROT_READ | PROT_WRITE) != 0)
            fail("cannot allocate a KV cache block of {} bytes: {}", m_blockStride, std::strerror(errno));
    }
    m_freeIds.pop_back();
    m_blockTable.push_back(id);
    m_allocatedBytes += m_blockStride * static_cast<std::size_t>(m_nLayers);
}

void KvCache::freeLastBlock()
{
    NW_ASSERT(!m_blockTable.empty());
    const std::int32_t id = m_blockTable.back();
    for (std::int64_t layer = 0; layer < m_nLayers && !m_device; ++layer) {
        std::byte *base = blockBase(layer, id);
        // Returns the pages to the system; they read as zeros if committed again.
        madvise(base, m_blockStride, MADV_DONTNEED);
        mprotect(base, m_blockStride, PROT_NONE);
    }
    m_blockTable.pop_back();
    m_freeIds.push_back(id);
    m_allocatedBytes -= m_blockStride * static_cast<std::size_t>(m_nLayers);
}

void KvCache::reserve(std::int64_t nTokens)
{
    if (nTokens > m_capacity)
        fail(Remedy::LargerContext, "context full: {} tokens needed, the KV cache holds {}", nTokens, m_capacity);
    const std::int64_t needed = (nTokens + kBlockTokens - 1) / kBlockTokens;
    if (needed <= nBlocks())
        return;
    while (nBlocks() < needed)
        allocateBlock();
    if (m_device) // truncate() only drops entries from the end, so this is the one place it changes
        m_deviceBlockTable.upload(m_blockTable.data(), m_blockTable.size() * sizeof(std::int32_t));
    publish();
}

void KvCache::commit(std::int64_t nTokens)
{
    NW_ASSERT(nTokens >= 0 && nTokens <= nBlocks() * kBlockTokens);
    m_tokens = nTokens;
    publish();
}

void KvCache::truncate(std::int64_t nTokens)
{
    NW_ASSERT(nTokens >= 0);
    m_tokens = std::min(m_tokens, nTokens);
    const std::int64_t needed = (m_tokens + kBlockTokens - 1) / kBlockTokens;
    while (nBlocks() > needed)
        freeLastBlock();
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
    NW_ASSERT(layer >= 0 && layer < m_nLayers && position >= 0 && position < nBlocks() * kBlockTokens);
    const std::int32_t id = m_blockTable[static_cast<std::size_t>(position / kBlockTokens)];
    return blockBase(layer, id) + static_cast<std::size_t>(position % kBlockTokens) * m_kRowBytes;
}

const std::byte *KvCache::vRow(std::int64_t layer, std::int64_t position) const
{
    if (m_layout.spec.mode == KvMode::Mla)
        return kRow(layer, position); // V is the leading part of the shared row
    NW_ASSERT(layer >= 0 && layer < m_nLayers && position >= 0 && position < nBlocks() * kBlockTokens);
    const std::int32_t id = m_blockTable[static_cast<std::size_t>(position / kBlockTokens)];
    return blockBase(layer, id) + static_cast<std::size_t>(kBlockTokens) * m_kRowBytes +
           static_cast<std::size_t>(position % kBlockTokens) * m_vRowBytes;
}

KvLayerView KvCache::layerView(std::int64_t layer)
{
    NW_ASSERT(layer >= 0 && layer < m_nLayers);
    KvLayerView view;
    view.type = m_layout.kType;
    view.blockSize = static_cast<int>(kBlockTokens);
    view.blockTable = m_device ? m_deviceBlockTable.as<const std::int32_t>() : m_blockTable.data();
    view.kBlocks = blockBase(layer, 0);
    view.kBlockStride = m_blockStride;
    view.kRowStride = m_kRowBytes;
    view.nKvHeads = static_cast<int>(m_layout.nKvHeads);
    view.kHeadDim = static_cast<int>(m_layout.kHeadDim);
    if (m_layout.spec.mode == KvMode::Mla) {
        view.vBlocks = view.kBlocks;
        view.vBlockStride = view.kBlockStride;
        view.vRowStride = view.kRowStride;
        view.vHeadDim = static_cast<int>(m_layout.mlaValueDim);
    } else {
        view.vBlocks = view.kBlocks + static_cast<std::size_t>(kBlockTokens) * m_kRowBytes;
        view.vBlockStride = m_blockStride;
        view.vRowStride = m_vRowBytes;
        view.vHeadDim = static_cast<int>(m_layout.vHeadDim);
    }
    return view;
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
    const std::uint64_t used = static_cast<std::uint64_t>(m_tokens) * m_layout.bytesPerTokenLayer();
    const std::uint64_t reserved = static_cast<std::uint64_t>(nBlocks()) * m_blockStride;
    m_counters.beginWrite();
    m_counters.setTokens(m_tokens, m_capacity);
    for (std::int64_t layer = 0; layer < m_nLayers; ++layer)
        m_counters.setLayer(static_cast<std::size_t>(layer), used, reserved);
    m_counters.endWrite();
    if (m_callback)
        m_callback(m_counters.snapshot());
}

} // namespace nw
