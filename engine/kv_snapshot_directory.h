// The directory of KV snapshots (engine/kv_snapshot.h): one file per model, KV mode and prefix,
// named by their hashes; listing with sizes and last use (the file's modification time, which a
// load renews), removal, and a size cap that evicts the least recently used. It also remembers the
// model files' content hashes across processes, so a 20 GB model is not read whole by every ask.
#pragma once

#include "engine/kv_snapshot.h"

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace nw {

struct KvSnapshotEntry {
    std::filesystem::path path;
    std::uint64_t bytes = 0;
    std::filesystem::file_time_type lastUsed;
    // From the header when it reads (problem None); otherwise why not.
    KvSnapshotProblem problem = KvSnapshotProblem::None;
    std::uint64_t modelHash = 0;
    std::string kvMode;
    std::int64_t tokens = 0;
    double prefillSeconds = 0; // what prefilling the tokens took when it was made (0: unknown)
};

class KvSnapshotDirectory {
public:
    explicit KvSnapshotDirectory(std::filesystem::path dir);
    const std::filesystem::path &dir() const { return m_dir; }
    // Creates the directory when it is missing; throws nw::Error when it cannot.
    void create() const;

    std::filesystem::path pathFor(const KvSnapshotIdentity &identity, std::span<const std::int32_t> tokens) const;
    // Every snapshot file, the most recently used first; empty when there is no directory.
    std::vector<KvSnapshotEntry> list() const;
    // Removes the snapshot named `name` (its file name, with or without ".nwkv"); false when there
    // is none. Throws nw::Error when it exists but cannot be removed.
    bool remove(std::string_view name) const;
    // Removes snapshots, least recently used first, until the others take at most `maxBytes`;
    // `keep` (the one just written) stays whatever its size. Returns what was removed. Also
    // removes temporaries older than an hour (a writer died before its rename).
    std::vector<KvSnapshotEntry> evict(std::uint64_t maxBytes, const std::filesystem::path &keep = {}) const;

    // fileContentHash(model), remembered in the directory (kModelHashesFile) under the file's
    // identity as stat gives it: device, inode, size, modification and status-change times. Any
    // write to the file changes its status-change time, which no tool can set back, so a file
    // changed in place is hashed again. Throws nw::Error when the model cannot be read; a
    // directory that cannot be written only costs the next process the hash.
    std::uint64_t modelHash(const std::filesystem::path &model) const;
    static constexpr std::string_view kModelHashesFile = "model-hashes.txt";

private:
    std::filesystem::path m_dir;
};

} // namespace nw
