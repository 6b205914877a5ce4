// The header of a KV snapshot file (engine/kv_snapshot.h): what the file holds (model, KV mode,
// token ids, and each store of the cache as rows of bytes with their sizes) and the checksums
// that prove it whole. Parsing trusts nothing: any byte string gives a header or a
// KvSnapshotError that says whether the file is truncated, corrupt, foreign or stale.
//
// Layout (little-endian): "NWKVSNAP", u32 version, u32 0, u64 header bytes; then u64 model hash,
// u64 payload bytes, u64 payload XXH64, u64 prefill microseconds, u32 mode length + mode, u64 token count + i32 tokens,
// u32 store count + per store (i64 layer, u32 part, u32 kind, u64 K row bytes, u64 V row bytes,
// i64 first row, i64 end row, u64 state bytes); then u64 XXH64 of everything before it. The
// payload follows: per store its K rows, its V rows, then its recurrent state.
#pragma once

#include "common/error.h"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace nw {

// 2: the prefill time (version 1 files are stale: prefilled again and rewritten).
inline constexpr std::uint32_t kKvSnapshotVersion = 2;
inline constexpr std::size_t kKvSnapshotPrologueBytes = 24; // magic, version, 0, header bytes
// Bounds a header is read within (a larger field means a corrupt file, not an allocation).
inline constexpr std::uint64_t kKvSnapshotMaxHeaderBytes = std::uint64_t(1) << 30;

// Why a snapshot file was not loaded.
enum class KvSnapshotProblem {
    None,
    Missing, // no file
    Truncated, // shorter than its header or payload says
    Corrupt, // a checksum or a field does not hold
    Foreign, // not a snapshot, or one of another model, KV mode or prefix
    Stale, // another format version, or rows whose layout the engine no longer uses
};
std::string_view kvSnapshotProblemName(KvSnapshotProblem problem); // "truncated", ...

class KvSnapshotError : public Error {
public:
    KvSnapshotError(KvSnapshotProblem problem, const std::string &message)
        : Error(message)
        , m_problem(problem)
    {
    }
    KvSnapshotProblem problem() const { return m_problem; }

private:
    KvSnapshotProblem m_problem;
};

// One store of the cache (KvCache's store index is its place in KvSnapshotHeader::stores).
struct KvSnapshotStore {
    std::int64_t layer = 0; // the model layer (KvLayerPlan::layer)
    std::uint32_t part = 0; // KvPart
    std::uint32_t kind = 0; // KvLayerKind
    std::uint64_t kRowBytes = 0;
    std::uint64_t vRowBytes = 0;
    std::int64_t firstRow = 0; // rows [firstRow, endRow) are in the payload
    std::int64_t endRow = 0;
    std::uint64_t stateBytes = 0; // a recurrent layer's conv rows and state (f32)

    std::uint64_t payloadBytes() const
    {
        return std::uint64_t(endRow - firstRow) * (kRowBytes + vRowBytes) + stateBytes;
    }
    bool operator==(const KvSnapshotStore &) const = default;
};

struct KvSnapshotHeader {
    std::uint64_t modelHash = 0;
    std::string kvMode; // KvModeSpec::toString()
    std::vector<std::int32_t> tokens; // what positions [0, n) hold
    std::vector<KvSnapshotStore> stores;
    std::uint64_t payloadBytes = 0; // sum of the stores' payloadBytes()
    std::uint64_t payloadChecksum = 0; // XXH64 of the payload
    // What prefilling the tokens took when the snapshot was made (what a load saves); 0: unknown.
    std::uint64_t prefillMicroseconds = 0;

    // The header's bytes, checksum included.
    std::vector<std::byte> serialize() const;
    // The header bytes a file needs to hold, from its first kKvSnapshotPrologueBytes (throws
    // KvSnapshotError: foreign, stale, truncated or corrupt).
    static std::uint64_t headerBytes(std::span<const std::byte> prologue, std::string_view what);
    // Parses `data`, which starts with the header (it may hold more); throws KvSnapshotError.
    // `what` names the file in messages.
    static KvSnapshotHeader parse(std::span<const std::byte> data, std::string_view what);
};

} // namespace nw
