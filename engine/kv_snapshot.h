// KV snapshots on disk: the cache of a prompt prefix (a whole-documents prompt before its
// question) written once and loaded by a later question, in another process or days later, so
// that only the question is prefilled. Every store of the cache is saved generically as its
// rows of bytes (whatever the KV mode: full, mla, latent:R, +q8/+q4, DeepSeek's several stores)
// plus a recurrent layer's state; the header (engine/kv_snapshot_header.h) says what they are.
// A file that is truncated, corrupt, foreign or stale is never loaded: the cache is left empty
// and the result says why. Writes are atomic: a temporary file, fsync, rename, fsync of the
// directory. Host caches only (a GPU cache's rows are device memory).
#pragma once

#include "engine/kv_snapshot_header.h"

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>

namespace nw {

class KvCache;

// What a snapshot is of: the model file (by content hash) and the KV mode.
struct KvSnapshotIdentity {
    std::uint64_t modelHash = 0;
    std::string kvMode; // KvModeSpec::toString()
};

// The file name of a snapshot of `tokens` for `identity`: "<model hash>-<key hash>.nwkv", both
// 16 hex digits; the key hash covers the KV mode and the token ids.
std::string kvSnapshotFileName(const KvSnapshotIdentity &identity, std::span<const std::int32_t> tokens);

// XXH64 of a file's content (the model's identity); throws nw::Error when it cannot be read.
// Remembered per path, inode, size, modification and status-change time for the life of the
// process (KvSnapshotDirectory::modelHash remembers it across processes).
std::uint64_t fileContentHash(const std::filesystem::path &path);

// What prefilling a snapshot's tokens took, as its header keeps it (whole microseconds).
std::uint64_t prefillMicroseconds(double seconds);

struct KvSnapshotSaved {
    std::uint64_t bytes = 0; // the file's size
    double seconds = 0;
};

// Writes positions [0, cache.tokens()) of `cache`, which hold `tokens`, to `path` (atomically,
// replacing a file there); `prefillSeconds` is what computing them took (0: unknown), kept so a
// load can say what it saved. Throws nw::Error when the cache is on a device or the write fails
// (nothing is left behind then).
KvSnapshotSaved saveKvSnapshot(const KvCache &cache, std::span<const std::int32_t> tokens,
    const KvSnapshotIdentity &identity, const std::filesystem::path &path, double prefillSeconds = 0);

struct KvSnapshotLoaded {
    KvSnapshotProblem problem = KvSnapshotProblem::None;
    std::string message; // why it was not loaded
    std::uint64_t bytes = 0; // the file's size
    double seconds = 0;
    double prefillSeconds = 0; // what prefilling the tokens took when the snapshot was made (0: unknown)
    bool ok() const { return problem == KvSnapshotProblem::None; }
};

// Loads the snapshot at `path` into `cache` when it is one of exactly `tokens` for `identity`,
// made for a cache of this plan, and whole: the cache then holds `tokens`. Otherwise the cache
// is empty and the result says why (missing, truncated, corrupt, foreign, stale); never throws
// for what the file holds.
KvSnapshotLoaded loadKvSnapshot(KvCache &cache, std::span<const std::int32_t> tokens,
    const KvSnapshotIdentity &identity, const std::filesystem::path &path);

// The header of the snapshot at `path` (for listing); throws KvSnapshotError (Missing when there
// is no file).
KvSnapshotHeader readKvSnapshotHeader(const std::filesystem::path &path);

} // namespace nw
