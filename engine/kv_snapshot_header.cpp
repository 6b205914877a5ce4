// KV snapshot header: serialisation and a bounds-checked parser.
#include "engine/kv_snapshot_header.h"

#include "engine/xxhash64.h"

#include <bit>
#include <cstring>
#include <limits>

namespace nw {
namespace {

static_assert(std::endian::native == std::endian::little, "snapshot files are little-endian");

constexpr char kMagic[8] = { 'N', 'W', 'K', 'V', 'S', 'N', 'A', 'P' };
// Bounds of the fields (a file past them is corrupt): they are far above any real cache.
constexpr std::uint64_t kMaxModeBytes = 256;
constexpr std::uint64_t kMaxTokens = std::uint64_t(1) << 28;
constexpr std::uint64_t kMaxStores = std::uint64_t(1) << 16;
constexpr std::uint64_t kMaxRowBytes = std::uint64_t(1) << 24;
constexpr std::int64_t kMaxRows = std::int64_t(1) << 28;
constexpr std::uint64_t kMaxStateBytes = std::uint64_t(1) << 40;
constexpr std::uint64_t kMaxPayloadBytes = std::uint64_t(1) << 56;
constexpr std::uint64_t kMaxPrefillMicroseconds = std::uint64_t(1) << 50; // 35 years

class Writer {
public:
    template <typename T> void put(T value)
    {
        const auto at = m_bytes.size();
        m_bytes.resize(at + sizeof value);
        std::memcpy(m_bytes.data() + at, &value, sizeof value);
    }
    void putBytes(const void *data, std::size_t n)
    {
        const auto at = m_bytes.size();
        m_bytes.resize(at + n);
        if (n > 0)
            std::memcpy(m_bytes.data() + at, data, n);
    }
    std::vector<std::byte> &bytes() { return m_bytes; }

private:
    std::vector<std::byte> m_bytes;
};

class Reader {
public:
    Reader(std::span<const std::byte> data, std::string_view what)
        : m_data(data)
        , m_what(what)
    {
    }
    template <typename T> T take()
    {
        T value;
        std::memcpy(&value, need(sizeof value), sizeof value);
        return value;
    }
    const std::byte *need(std::uint64_t n)
    {
        if (n > m_data.size() - m_at)
            corrupt("a field runs past the header's end");
        const std::byte *p = m_data.data() + m_at;
        m_at += static_cast<std::size_t>(n);
        return p;
    }
    std::size_t left() const { return m_data.size() - m_at; }
    [[noreturn]] void corrupt(std::string_view why) const
    {
        throw KvSnapshotError(
            KvSnapshotProblem::Corrupt, fmt::format("KV snapshot {}: corrupt header: {}", m_what, why));
    }

private:
    std::span<const std::byte> m_data;
    std::size_t m_at = 0;
    std::string_view m_what;
};

} // namespace

std::string_view kvSnapshotProblemName(KvSnapshotProblem problem)
{
    switch (problem) {
    case KvSnapshotProblem::None:
        return "none";
    case KvSnapshotProblem::Missing:
        return "missing";
    case KvSnapshotProblem::Truncated:
        return "truncated";
    case KvSnapshotProblem::Corrupt:
        return "corrupt";
    case KvSnapshotProblem::Foreign:
        return "foreign";
    case KvSnapshotProblem::Stale:
        return "stale";
    }
    return "?";
}

std::vector<std::byte> KvSnapshotHeader::serialize() const
{
    Writer w;
    w.putBytes(kMagic, sizeof kMagic);
    w.put<std::uint32_t>(kKvSnapshotVersion);
    w.put<std::uint32_t>(0);
    w.put<std::uint64_t>(0); // header bytes, filled in below
    w.put<std::uint64_t>(modelHash);
    w.put<std::uint64_t>(payloadBytes);
    w.put<std::uint64_t>(payloadChecksum);
    w.put<std::uint64_t>(prefillMicroseconds);
    w.put<std::uint32_t>(static_cast<std::uint32_t>(kvMode.size()));
    w.putBytes(kvMode.data(), kvMode.size());
    w.put<std::uint64_t>(tokens.size());
    w.putBytes(tokens.data(), tokens.size() * sizeof(std::int32_t));
    w.put<std::uint32_t>(static_cast<std::uint32_t>(stores.size()));
    for (const KvSnapshotStore &s : stores) {
        w.put(s.layer);
        w.put(s.part);
        w.put(s.kind);
        w.put(s.kRowBytes);
        w.put(s.vRowBytes);
        w.put(s.firstRow);
        w.put(s.endRow);
        w.put(s.stateBytes);
    }
    std::vector<std::byte> &bytes = w.bytes();
    const std::uint64_t total = bytes.size() + sizeof(std::uint64_t);
    std::memcpy(bytes.data() + 16, &total, sizeof total);
    w.put<std::uint64_t>(xxhash64(bytes));
    return std::move(bytes);
}

std::uint64_t KvSnapshotHeader::headerBytes(std::span<const std::byte> prologue, std::string_view what)
{
    const std::size_t magicBytes = std::min(prologue.size(), sizeof kMagic);
    if (std::memcmp(prologue.data(), kMagic, magicBytes) != 0)
        throw KvSnapshotError(KvSnapshotProblem::Foreign, fmt::format("{} is not a KV snapshot", what));
    if (prologue.size() < kKvSnapshotPrologueBytes)
        throw KvSnapshotError(KvSnapshotProblem::Truncated,
            fmt::format("KV snapshot {} is truncated: {} bytes, shorter than its header", what, prologue.size()));
    Reader r(prologue.subspan(sizeof kMagic, kKvSnapshotPrologueBytes - sizeof kMagic), what);
    const auto version = r.take<std::uint32_t>();
    if (version != kKvSnapshotVersion)
        throw KvSnapshotError(KvSnapshotProblem::Stale,
            fmt::format("KV snapshot {} has format version {}, this build reads version {}", what, version,
                kKvSnapshotVersion));
    if (r.take<std::uint32_t>() != 0)
        r.corrupt("a reserved field is not zero");
    const auto bytes = r.take<std::uint64_t>();
    if (bytes < kKvSnapshotPrologueBytes + sizeof(std::uint64_t) || bytes > kKvSnapshotMaxHeaderBytes)
        r.corrupt(fmt::format("header size {} is out of bounds", bytes));
    return bytes;
}

KvSnapshotHeader KvSnapshotHeader::parse(std::span<const std::byte> data, std::string_view what)
{
    const std::uint64_t bytes = headerBytes(data.first(std::min(data.size(), kKvSnapshotPrologueBytes)), what);
    if (data.size() < bytes)
        throw KvSnapshotError(KvSnapshotProblem::Truncated,
            fmt::format("KV snapshot {} is truncated: {} bytes, its header alone takes {}", what, data.size(), bytes));
    const auto body = data.first(static_cast<std::size_t>(bytes) - sizeof(std::uint64_t));
    std::uint64_t checksum;
    std::memcpy(&checksum, data.data() + body.size(), sizeof checksum);
    Reader r(body.subspan(kKvSnapshotPrologueBytes), what);
    if (xxhash64(body) != checksum)
        r.corrupt("its checksum does not match");

    KvSnapshotHeader h;
    h.modelHash = r.take<std::uint64_t>();
    h.payloadBytes = r.take<std::uint64_t>();
    h.payloadChecksum = r.take<std::uint64_t>();
    h.prefillMicroseconds = r.take<std::uint64_t>();
    if (h.prefillMicroseconds > kMaxPrefillMicroseconds)
        r.corrupt(fmt::format("a prefill of {} µs is out of bounds", h.prefillMicroseconds));
    const auto modeBytes = r.take<std::uint32_t>();
    if (modeBytes > kMaxModeBytes)
        r.corrupt("the KV mode is too long");
    const std::byte *mode = r.need(modeBytes);
    h.kvMode.assign(reinterpret_cast<const char *>(mode), modeBytes);
    const auto nTokens = r.take<std::uint64_t>();
    if (nTokens > kMaxTokens || nTokens * sizeof(std::int32_t) > r.left())
        r.corrupt(fmt::format("{} tokens do not fit the header", nTokens));
    h.tokens.resize(static_cast<std::size_t>(nTokens));
    const std::byte *tokens = r.need(nTokens * sizeof(std::int32_t));
    if (nTokens > 0) // memcpy from or to null is UB even for 0 bytes
        std::memcpy(h.tokens.data(), tokens, nTokens * sizeof(std::int32_t));
    const auto nStores = r.take<std::uint32_t>();
    if (nStores > kMaxStores)
        r.corrupt(fmt::format("{} stores is out of bounds", nStores));
    std::uint64_t payload = 0;
    for (std::uint32_t i = 0; i < nStores; ++i) {
        KvSnapshotStore s;
        s.layer = r.take<std::int64_t>();
        s.part = r.take<std::uint32_t>();
        s.kind = r.take<std::uint32_t>();
        s.kRowBytes = r.take<std::uint64_t>();
        s.vRowBytes = r.take<std::uint64_t>();
        s.firstRow = r.take<std::int64_t>();
        s.endRow = r.take<std::int64_t>();
        s.stateBytes = r.take<std::uint64_t>();
        if (s.layer < 0 || s.layer >= std::int64_t(kMaxStores) || s.kRowBytes > kMaxRowBytes
            || s.vRowBytes > kMaxRowBytes || s.firstRow < 0 || s.endRow < s.firstRow || s.endRow > kMaxRows
            || s.stateBytes > kMaxStateBytes)
            r.corrupt(fmt::format("store {} has fields out of bounds", i));
        // Each term is below 2^28 · 2^25 + 2^40, and the sum is checked after each: no overflow.
        payload += s.payloadBytes();
        if (payload > kMaxPayloadBytes)
            r.corrupt("the payload is out of bounds");
        h.stores.push_back(s);
    }
    if (r.left() != 0)
        r.corrupt("bytes are left after the last store");
    if (payload != h.payloadBytes)
        r.corrupt("the stores' sizes do not add up to the payload's");
    return h;
}

} // namespace nw
