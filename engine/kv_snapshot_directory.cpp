// KV snapshot directory: naming, listing and least-recently-used eviction.
#include "engine/kv_snapshot_directory.h"

#include "common/error.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <system_error>

namespace nw {
namespace {

constexpr std::string_view kExtension = ".nwkv";
constexpr std::size_t kMaxModelHashes = 64; // lines kept, the most recent

// A model file's identity and hash, one line of kModelHashesFile:
// "<hash, 16 hex> <device> <inode> <size> <mtime ns> <ctime ns> <path>".
struct ModelHashLine {
    std::uint64_t hash = 0;
    std::uint64_t device = 0;
    std::uint64_t inode = 0;
    std::int64_t size = 0;
    std::int64_t mtimeNs = 0;
    std::int64_t ctimeNs = 0;
    std::string path;

    bool sameFile(const ModelHashLine &o) const
    {
        return device == o.device && inode == o.inode && size == o.size && mtimeNs == o.mtimeNs && ctimeNs == o.ctimeNs
            && path == o.path;
    }
};

std::optional<ModelHashLine> parseModelHashLine(const std::string &line)
{
    std::istringstream in(line);
    ModelHashLine l;
    std::string hash;
    if (!(in >> hash >> l.device >> l.inode >> l.size >> l.mtimeNs >> l.ctimeNs) || hash.size() != 16
        || in.get() != ' ')
        return std::nullopt;
    std::getline(in, l.path);
    const auto [end, error] = std::from_chars(hash.data(), hash.data() + hash.size(), l.hash, 16);
    if (error != std::errc() || end != hash.data() + hash.size() || l.path.empty())
        return std::nullopt;
    return l;
}

std::int64_t nanoseconds(const timespec &t)
{
    return std::int64_t(t.tv_sec) * 1'000'000'000 + t.tv_nsec;
}

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
    // A writer that died between its temporary file and the rename left the temporary behind
    // (a snapshot's, or the model hashes' list).
    const std::string hashesTemporary = std::string(kModelHashesFile) + ".tmp.";
    std::error_code listError;
    const auto stale = std::filesystem::file_time_type::clock::now() - std::chrono::hours(1);
    for (auto it = std::filesystem::directory_iterator(m_dir, listError);
         !listError && it != std::filesystem::directory_iterator(); it.increment(listError)) {
        std::error_code ignored;
        const std::string name = it->path().filename().string();
        if ((name.find(".nwkv.tmp.") != std::string::npos || name.starts_with(hashesTemporary))
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

std::uint64_t KvSnapshotDirectory::modelHash(const std::filesystem::path &model) const
{
    const std::filesystem::path absolute = std::filesystem::absolute(model);
    struct stat st { };
    if (::stat(absolute.c_str(), &st) != 0)
        fail("cannot read {}: {}", absolute.string(), std::strerror(errno));
    ModelHashLine current;
    current.device = st.st_dev;
    current.inode = st.st_ino;
    current.size = st.st_size;
    current.mtimeNs = nanoseconds(st.st_mtim);
    current.ctimeNs = nanoseconds(st.st_ctim);
    current.path = absolute.string();
    if (current.path.find('\n') != std::string::npos)
        return fileContentHash(absolute); // a name that does not fit a line is hashed each time

    const std::filesystem::path file = m_dir / kModelHashesFile;
    std::vector<ModelHashLine> known;
    {
        std::ifstream in(file);
        for (std::string line; std::getline(in, line);)
            if (const auto l = parseModelHashLine(line)) {
                if (l->sameFile(current))
                    return l->hash;
                if (l->path != current.path)
                    known.push_back(*l);
            }
    }
    current.hash = fileContentHash(absolute);
    known.push_back(current);
    if (known.size() > kMaxModelHashes)
        known.erase(known.begin(), known.end() - std::ptrdiff_t(kMaxModelHashes));
    // Written aside and renamed: a reader sees the old list or the new one, never half of one.
    const std::filesystem::path temporary = file.string() + fmt::format(".tmp.{}", ::getpid());
    {
        std::ofstream out(temporary, std::ios::trunc);
        for (const ModelHashLine &l : known)
            out << fmt::format(
                "{:016x} {} {} {} {} {} {}\n", l.hash, l.device, l.inode, l.size, l.mtimeNs, l.ctimeNs, l.path);
        out.close();
        std::error_code error;
        if (out)
            std::filesystem::rename(temporary, file, error);
        if (!out || error)
            std::filesystem::remove(temporary, error);
    }
    return current.hash;
}

} // namespace nw
