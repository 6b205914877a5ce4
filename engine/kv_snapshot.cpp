// KV snapshots: a cache's rows and states to a file and back, streamed through a buffer and
// checked with XXH64 as they pass.
#include "engine/kv_snapshot.h"

#include "common/assert.h"
#include "common/error.h"
#include "engine/kv_cache.h"
#include "engine/xxhash64.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <mutex>
#include <tuple>
#include <vector>

namespace nw {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kBufferBytes = std::size_t(4) << 20;

double secondsSince(Clock::time_point start)
{
    return std::chrono::duration<double>(Clock::now() - start).count();
}

class FileDescriptor {
public:
    explicit FileDescriptor(int fd)
        : m_fd(fd)
    {
    }
    ~FileDescriptor()
    {
        if (m_fd >= 0)
            ::close(m_fd);
    }
    FileDescriptor(const FileDescriptor &) = delete;
    FileDescriptor &operator=(const FileDescriptor &) = delete;
    int get() const { return m_fd; }

private:
    int m_fd;
};

// Reads up to n bytes at the current offset; fewer only at the end of the file.
std::size_t readFully(int fd, std::byte *out, std::size_t n, const std::filesystem::path &path)
{
    std::size_t done = 0;
    while (done < n) {
        const ssize_t got = ::read(fd, out + done, n - done);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            fail("cannot read {}: {}", path.string(), std::strerror(errno));
        if (got == 0)
            break;
        done += static_cast<std::size_t>(got);
    }
    return done;
}

void writeFully(int fd, const std::byte *data, std::size_t n, const std::filesystem::path &path)
{
    while (n > 0) {
        const ssize_t put = ::write(fd, data, n);
        if (put < 0 && errno == EINTR)
            continue;
        if (put < 0)
            fail("cannot write {}: {}", path.string(), std::strerror(errno));
        data += put;
        n -= static_cast<std::size_t>(put);
    }
}

// The snapshot's description of `cache`'s stores as they are now.
std::vector<KvSnapshotStore> describeStores(const KvCache &cache)
{
    std::vector<KvSnapshotStore> stores;
    for (std::int64_t s = 0; s < cache.nStores(); ++s) {
        const KvLayerPlan &plan = cache.plan(s);
        KvSnapshotStore store;
        store.layer = plan.layer >= 0 ? plan.layer : s;
        store.part = static_cast<std::uint32_t>(plan.part);
        store.kind = static_cast<std::uint32_t>(plan.kind);
        if (kvLayerHoldsRows(plan.kind)) {
            store.kRowBytes = plan.layout.kRowBytes();
            store.vRowBytes = plan.layout.vRowBytes();
            std::tie(store.firstRow, store.endRow) = cache.heldRows(s);
        }
        store.stateBytes = cache.recurrentBytes(s).size();
        stores.push_back(store);
    }
    return stores;
}

// Calls visit(pointer, bytes) for each run of the payload in file order: per store its K rows,
// its V rows (runs of consecutive rows within one block), then its recurrent state.
template <typename Cache, typename Visit>
void forEachPayloadRun(Cache &cache, const std::vector<KvSnapshotStore> &stores, Visit &&visit)
{
    for (std::size_t s = 0; s < stores.size(); ++s) {
        const KvSnapshotStore &store = stores[s];
        const auto index = static_cast<std::int64_t>(s);
        for (int part = 0; part < 2; ++part) {
            const std::uint64_t rowBytes = part == 0 ? store.kRowBytes : store.vRowBytes;
            if (rowBytes == 0)
                continue;
            for (std::int64_t row = store.firstRow; row < store.endRow;) {
                const std::int64_t blockEnd = (row / KvCache::kBlockTokens + 1) * KvCache::kBlockTokens;
                const std::int64_t end = std::min(blockEnd, store.endRow);
                auto *first = part == 0 ? cache.kRow(index, row) : cache.vRow(index, row);
                visit(first, static_cast<std::size_t>(end - row) * rowBytes);
                row = end;
            }
        }
        const auto state = cache.recurrentBytes(index);
        if (!state.empty())
            visit(state.data(), state.size());
    }
}

void syncDirectory(const std::filesystem::path &dir)
{
    const FileDescriptor fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (fd.get() >= 0)
        ::fsync(fd.get()); // best effort: the rename is what makes the file appear whole
}

} // namespace

std::string kvSnapshotFileName(const KvSnapshotIdentity &identity, std::span<const std::int32_t> tokens)
{
    const std::uint64_t modeHash = xxhash64(std::as_bytes(std::span(identity.kvMode)));
    const std::uint64_t key = xxhash64(std::as_bytes(tokens), modeHash);
    return fmt::format("{:016x}-{:016x}.nwkv", identity.modelHash, key);
}

std::uint64_t fileContentHash(const std::filesystem::path &path)
{
    struct stat st { };
    if (::stat(path.c_str(), &st) != 0)
        fail("cannot read {}: {}", path.string(), std::strerror(errno));
    // A write changes the status-change time, which cannot be set back: a file rewritten to its
    // old size and modification time is still hashed again.
    using Key
        = std::tuple<std::string, std::uint64_t, std::int64_t, std::int64_t, std::int64_t, std::int64_t, std::int64_t>;
    const Key key { path.string(), std::uint64_t(st.st_ino), st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
        st.st_ctim.tv_sec, st.st_ctim.tv_nsec };
    static std::mutex mutex;
    static std::map<Key, std::uint64_t> known;
    {
        const std::lock_guard lock(mutex);
        if (const auto it = known.find(key); it != known.end())
            return it->second;
    }
    const FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0)
        fail("cannot read {}: {}", path.string(), std::strerror(errno));
    XxHash64 hash;
    std::vector<std::byte> buffer(kBufferBytes);
    for (;;) {
        const std::size_t got = readFully(fd.get(), buffer.data(), buffer.size(), path);
        hash.update(std::span(buffer).first(got));
        if (got < buffer.size())
            break;
    }
    const std::lock_guard lock(mutex);
    return known[key] = hash.digest();
}

std::uint64_t prefillMicroseconds(double seconds)
{
    if (!(seconds > 0) || !std::isfinite(seconds))
        return 0;
    return static_cast<std::uint64_t>(std::llround(std::min(seconds, 1e9) * 1e6)); // 31 years at most
}

KvSnapshotSaved saveKvSnapshot(const KvCache &cache, std::span<const std::int32_t> tokens,
    const KvSnapshotIdentity &identity, const std::filesystem::path &path, double prefillSeconds)
{
    if (cache.onDevice())
        fail("KV snapshots hold host caches only: {} is not written for a cache on a GPU", path.string());
    // A snapshot keeps one run of rows per store; a `+sinks` store holds two (sinks and window).
    if (cache.layout().spec.sinks > 0)
        fail("KV snapshots do not hold `+sinks` caches yet: {} is not written for mode {}", path.string(),
            cache.layout().spec.toString());
    // Rows [0, K) of a SnapKV selection stand for other positions in every head: not one run.
    if (cache.compacted())
        fail("KV snapshots do not hold caches compressed by SnapKV: {} is not written for mode {}", path.string(),
            cache.layout().spec.toString());
    NW_ASSERT(static_cast<std::int64_t>(tokens.size()) == cache.tokens());
    const auto start = Clock::now();
    KvSnapshotHeader header;
    header.modelHash = identity.modelHash;
    header.kvMode = identity.kvMode;
    header.prefillMicroseconds = prefillMicroseconds(prefillSeconds);
    header.tokens.assign(tokens.begin(), tokens.end());
    header.stores = describeStores(cache);
    for (const KvSnapshotStore &s : header.stores)
        header.payloadBytes += s.payloadBytes();
    const std::size_t headerBytes = header.serialize().size(); // the same size once the checksum is in

    static std::atomic<int> serial { 0 };
    const std::filesystem::path temporary
        = path.string() + fmt::format(".tmp.{}.{}", ::getpid(), serial.fetch_add(1, std::memory_order_relaxed));
    const FileDescriptor fd(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (fd.get() < 0)
        fail("cannot write {}: {}", temporary.string(), std::strerror(errno));
    try {
        if (::lseek(fd.get(), static_cast<off_t>(headerBytes), SEEK_SET) < 0)
            fail("cannot write {}: {}", temporary.string(), std::strerror(errno));
        XxHash64 checksum;
        std::vector<std::byte> buffer;
        buffer.reserve(kBufferBytes);
        forEachPayloadRun(cache, header.stores, [&](const std::byte *data, std::size_t n) {
            checksum.update({ data, n });
            if (buffer.size() + n > kBufferBytes) {
                writeFully(fd.get(), buffer.data(), buffer.size(), temporary);
                buffer.clear();
            }
            if (n >= kBufferBytes)
                writeFully(fd.get(), data, n, temporary);
            else
                buffer.insert(buffer.end(), data, data + n);
        });
        writeFully(fd.get(), buffer.data(), buffer.size(), temporary);
        header.payloadChecksum = checksum.digest();
        const std::vector<std::byte> bytes = header.serialize();
        NW_ASSERT(bytes.size() == headerBytes);
        if (::lseek(fd.get(), 0, SEEK_SET) < 0)
            fail("cannot write {}: {}", temporary.string(), std::strerror(errno));
        writeFully(fd.get(), bytes.data(), bytes.size(), temporary);
        if (::fsync(fd.get()) != 0)
            fail("cannot write {}: {}", temporary.string(), std::strerror(errno));
        if (::rename(temporary.c_str(), path.c_str()) != 0)
            fail("cannot write {}: {}", path.string(), std::strerror(errno));
    } catch (...) {
        ::unlink(temporary.c_str());
        throw;
    }
    syncDirectory(path.parent_path().empty() ? std::filesystem::path(".") : path.parent_path());
    return { headerBytes + header.payloadBytes, secondsSince(start) };
}

KvSnapshotHeader readKvSnapshotHeader(const std::filesystem::path &path)
{
    const FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0)
        throw KvSnapshotError(errno == ENOENT ? KvSnapshotProblem::Missing : KvSnapshotProblem::Foreign,
            fmt::format("cannot read KV snapshot {}: {}", path.string(), std::strerror(errno)));
    std::vector<std::byte> bytes(kKvSnapshotPrologueBytes);
    bytes.resize(readFully(fd.get(), bytes.data(), bytes.size(), path));
    const std::uint64_t headerBytes = KvSnapshotHeader::headerBytes(bytes, path.string());
    bytes.resize(static_cast<std::size_t>(headerBytes));
    const std::size_t got
        = readFully(fd.get(), bytes.data() + kKvSnapshotPrologueBytes, bytes.size() - kKvSnapshotPrologueBytes, path);
    bytes.resize(kKvSnapshotPrologueBytes + got);
    return KvSnapshotHeader::parse(bytes, path.string());
}

KvSnapshotLoaded loadKvSnapshot(KvCache &cache, std::span<const std::int32_t> tokens,
    const KvSnapshotIdentity &identity, const std::filesystem::path &path)
{
    NW_ASSERT(!cache.onDevice());
    const auto start = Clock::now();
    KvSnapshotLoaded out;
    const auto refuse = [&](KvSnapshotProblem problem, std::string message) {
        cache.clear();
        out.problem = problem;
        out.message = std::move(message);
        out.seconds = secondsSince(start);
        return out;
    };
    const std::string what = path.string();
    try {
        const FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
        if (fd.get() < 0)
            return refuse(errno == ENOENT ? KvSnapshotProblem::Missing : KvSnapshotProblem::Foreign,
                fmt::format("cannot read KV snapshot {}: {}", what, std::strerror(errno)));
        struct stat st { };
        if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode))
            return refuse(KvSnapshotProblem::Foreign, fmt::format("{} is not a KV snapshot file", what));
        out.bytes = static_cast<std::uint64_t>(st.st_size);

        std::vector<std::byte> bytes(kKvSnapshotPrologueBytes);
        bytes.resize(readFully(fd.get(), bytes.data(), bytes.size(), path));
        const std::uint64_t headerBytes = KvSnapshotHeader::headerBytes(bytes, what);
        if (headerBytes > out.bytes)
            return refuse(KvSnapshotProblem::Truncated,
                fmt::format(
                    "KV snapshot {} is truncated: {} bytes, its header alone takes {}", what, out.bytes, headerBytes));
        bytes.resize(static_cast<std::size_t>(headerBytes));
        readFully(fd.get(), bytes.data() + kKvSnapshotPrologueBytes, bytes.size() - kKvSnapshotPrologueBytes, path);
        const KvSnapshotHeader header = KvSnapshotHeader::parse(bytes, what);

        if (header.modelHash != identity.modelHash)
            return refuse(
                KvSnapshotProblem::Foreign, fmt::format("KV snapshot {} was made with another model file", what));
        if (header.kvMode != identity.kvMode)
            return refuse(KvSnapshotProblem::Foreign,
                fmt::format("KV snapshot {} holds KV mode {}, not {}", what, header.kvMode, identity.kvMode));
        if (!std::equal(header.tokens.begin(), header.tokens.end(), tokens.begin(), tokens.end()))
            return refuse(KvSnapshotProblem::Foreign, fmt::format("KV snapshot {} holds another prefix", what));
        const std::uint64_t expected = headerBytes + header.payloadBytes;
        if (out.bytes < expected)
            return refuse(KvSnapshotProblem::Truncated,
                fmt::format("KV snapshot {} is truncated: {} bytes of {}", what, out.bytes, expected));
        if (out.bytes > expected)
            return refuse(KvSnapshotProblem::Corrupt,
                fmt::format("KV snapshot {} is corrupt: {} bytes, its header says {}", what, out.bytes, expected));

        cache.adopt(static_cast<std::int64_t>(tokens.size()));
        if (header.stores != describeStores(cache))
            return refuse(KvSnapshotProblem::Stale,
                fmt::format("KV snapshot {} lays out its rows for another cache (an older build, or another "
                            "context or plan)",
                    what));

        XxHash64 checksum;
        std::vector<std::byte> buffer(kBufferBytes);
        std::size_t filled = 0;
        std::size_t used = 0;
        bool shortRead = false;
        forEachPayloadRun(cache, header.stores, [&](std::byte *data, std::size_t n) {
            while (n > 0 && !shortRead) {
                if (used == filled) {
                    filled = readFully(fd.get(), buffer.data(), buffer.size(), path);
                    used = 0;
                    if (filled == 0) {
                        shortRead = true; // the file shrank since fstat
                        return;
                    }
                }
                const std::size_t take = std::min(n, filled - used);
                std::memcpy(data, buffer.data() + used, take);
                checksum.update({ data, take });
                used += take;
                data += take;
                n -= take;
            }
        });
        if (shortRead)
            return refuse(KvSnapshotProblem::Truncated, fmt::format("KV snapshot {} is truncated", what));
        if (checksum.digest() != header.payloadChecksum)
            return refuse(KvSnapshotProblem::Corrupt,
                fmt::format("KV snapshot {} is corrupt: its rows do not match their checksum", what));
        out.prefillSeconds = static_cast<double>(header.prefillMicroseconds) / 1e6;
    } catch (const KvSnapshotError &e) {
        return refuse(e.problem(), e.what());
    } catch (const Error &e) {
        return refuse(KvSnapshotProblem::Foreign, e.what());
    }
    // The modification time is the last use: the directory's size cap evicts the oldest.
    std::error_code ignored;
    std::filesystem::last_write_time(path, std::filesystem::file_time_type::clock::now(), ignored);
    out.seconds = secondsSince(start);
    return out;
}

} // namespace nw
