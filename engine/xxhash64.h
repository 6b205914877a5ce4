// XXH64 (Yann Collet's xxHash, 64-bit variant, as its published specification defines it): the
// checksum of KV snapshot files and the hash behind their keys. Fast enough (several GB/s) to
// check a snapshot of gigabytes as it is read; not a cryptographic hash.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace nw {

// XXH64 of a whole buffer.
std::uint64_t xxhash64(std::span<const std::byte> data, std::uint64_t seed = 0);

// The same hash over data given in pieces: update() any number of times, then digest() (which
// may be called again after more updates).
class XxHash64 {
public:
    explicit XxHash64(std::uint64_t seed = 0);
    void update(std::span<const std::byte> data);
    std::uint64_t digest() const;

private:
    std::uint64_t m_seed;
    std::array<std::uint64_t, 4> m_acc; // the four lanes of 32-byte stripes
    std::array<std::byte, 32> m_pending {}; // the start of a stripe not yet complete
    std::size_t m_pendingBytes = 0;
    std::uint64_t m_totalBytes = 0;
};

} // namespace nw
