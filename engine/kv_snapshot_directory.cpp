// KV snapshot directory: naming, listing and least-recently-used eviction.
#include "engine/kv_snapshot_directory.h"

#include "common/error.h"

#include <algorithm>
#include <chrono>
#include <system_error>

namespace nw {
namespace {

constexpr std::string_view kExtension = ".nwkv";

} // namespace

KvSnapshotDirectory::KvSnapshotDirectory(std::filesystem::path dir)
    : m_dir(std::move(dir))
{
}

void KvSnapshotDirectory::create() const
{
    std::error_code error;
    std::filesystem::create_directories(m_dir, error);
    if (error)
        fail("cannot create the KV snapshot directory {}: {}", m_dir.string(), error.message());
}

std::filesystem::path KvSnapshotDirectory::pathFor(
    const KvSnapshotIdentity &identity, std::span<const std::int32_t> tokens) const
{
    return m_dir / kvSnapshotFileName(identity, tokens);
}

std::vector<KvSnapshotEntry> KvSnapshotDirectory::list() const
{
    std::vector<KvSnapshotEntry> entries;
    std::error_code error;
    for (auto it = std::filesystem::directory_iterator(m_dir, error);
         !error && it != std::filesystem::directory_iterator(); it.increment(error)) {
        const std::filesystem::path &path = it->path();
        std::error_code statError;
        if (path.extension() != kExtension || !it->is_regular_file(statError))
            continue;
        KvSnapshotEntry entry;
        entry.path = path;
        entry.bytes = it->file_size(statError);
        entry.lastUsed = it->last_write_time(statError);
        try {
            const KvSnapshotHeader header = readKvSnapshotHeader(path);
            entry.modelHash = header.modelHash;
            entry.kvMode = header.kvMode;
            entry.tokens = static_cast<std::int64_t>(header.tokens.size());
            entry.prefillSeconds = static_cast<double>(header.prefillMicroseconds) / 1e6;
        } catch (const KvSnapshotError &e) {
            entry.problem = e.problem();
        } catch (const Error &) {
            entry.problem = KvSnapshotProblem::Foreign;
        }
        entries.push_back(std::move(entry));
    }
    std::sort(entries.begin(), entries.end(), [](const KvSnapshotEntry &a, const KvSnapshotEntry &b) {
        return a.lastUsed != b.lastUsed ? a.lastUsed > b.lastUsed : a.path < b.path;
    });
    return entries;
}

bool KvSnapshotDirectory::remove(std::string_view name) const
{
    std::string file(name);
    if (!file.ends_with(kExtension))
        file += kExtension;
    if (file.find('/') != std::string::npos)
        fail("'{}' is not a KV snapshot name: give a name that `kv snapshots` lists", name);
    std::error_code error;
    const bool removed = std::filesystem::remove(m_dir / file, error);
    if (error)
        fail("cannot remove KV snapshot {}: {}", (m_dir / file).string(), error.message());
    return removed;
}

std::vector<KvSnapshotEntry> KvSnapshotDirectory::evict(std::uint64_t maxBytes, const std::filesystem::path &keep) const
{
    // A writer that died between its temporary file and the rename left the temporary behind.
    std::error_code listError;
    const auto stale = std::filesystem::file_time_type::clock::now() - std::chrono::hours(1);
    for (auto it = std::filesystem::directory_iterator(m_dir, listError);
         !listError && it != std::filesystem::directory_iterator(); it.increment(listError)) {
        std::error_code ignored;
        if (it->path().filename().string().find(".nwkv.tmp.") != std::string::npos
            && it->last_write_time(ignored) < stale)
            std::filesystem::remove(it->path(), ignored);
    }
    std::vector<KvSnapshotEntry> entries = list();
    std::uint64_t total = 0;
    for (const KvSnapshotEntry &e : entries)
        total += e.bytes;
    std::vector<KvSnapshotEntry> removed;
    for (auto it = entries.rbegin(); it != entries.rend() && total > maxBytes; ++it) {
        if (!keep.empty() && it->path == keep)
            continue;
        std::error_code error;
        if (std::filesystem::remove(it->path, error)) {
            total -= it->bytes;
            removed.push_back(*it);
        }
    }
    return removed;
}

} // namespace nw
