// XXH64 after the xxHash specification (doc/xxhash_spec.md): four lanes over 32-byte stripes,
// then the tail in 8-, 4- and 1-byte steps, then the avalanche.
#include "engine/xxhash64.h"

#include <bit>
#include <cstring>

namespace nw {
namespace {

static_assert(std::endian::native == std::endian::little, "XXH64 reads little-endian words");

constexpr std::uint64_t kPrime1 = 0x9E3779B185EBCA87ULL;
constexpr std::uint64_t kPrime2 = 0xC2B2AE3D27D4EB4FULL;
constexpr std::uint64_t kPrime3 = 0x165667B19E3779F9ULL;
constexpr std::uint64_t kPrime4 = 0x85EBCA77C2B2AE63ULL;
constexpr std::uint64_t kPrime5 = 0x27D4EB2F165667C5ULL;

std::uint64_t read64(const std::byte *p)
{
    std::uint64_t v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

std::uint32_t read32(const std::byte *p)
{
    std::uint32_t v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

std::uint64_t round(std::uint64_t acc, std::uint64_t input)
{
    acc += input * kPrime2;
    return std::rotl(acc, 31) * kPrime1;
}

std::uint64_t mergeRound(std::uint64_t acc, std::uint64_t lane)
{
    acc ^= round(0, lane);
    return acc * kPrime1 + kPrime4;
}

// Consumes whole 32-byte stripes of [p, p + n); returns the bytes consumed.
std::size_t consumeStripes(std::array<std::uint64_t, 4> &acc, const std::byte *p, std::size_t n)
{
    std::size_t done = 0;
    for (; done + 32 <= n; done += 32)
        for (std::size_t lane = 0; lane < 4; ++lane)
            acc[lane] = round(acc[lane], read64(p + done + 8 * lane));
    return done;
}

std::uint64_t finish(std::uint64_t h, const std::byte *p, std::size_t n)
{
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8)
        h = std::rotl(h ^ round(0, read64(p + i)), 27) * kPrime1 + kPrime4;
    if (i + 4 <= n) {
        h = std::rotl(h ^ (std::uint64_t(read32(p + i)) * kPrime1), 23) * kPrime2 + kPrime3;
        i += 4;
    }
    for (; i < n; ++i)
        h = std::rotl(h ^ (std::uint64_t(std::to_integer<std::uint8_t>(p[i])) * kPrime5), 11) * kPrime1;
    h ^= h >> 33;
    h *= kPrime2;
    h ^= h >> 29;
    h *= kPrime3;
    h ^= h >> 32;
    return h;
}

} // namespace

XxHash64::XxHash64(std::uint64_t seed)
    : m_seed(seed)
    , m_acc { seed + kPrime1 + kPrime2, seed + kPrime2, seed, seed - kPrime1 }
{
}

void XxHash64::update(std::span<const std::byte> data)
{
    m_totalBytes += data.size();
    const std::byte *p = data.data();
    std::size_t n = data.size();
    if (m_pendingBytes > 0) {
        const std::size_t take = std::min(n, 32 - m_pendingBytes);
        std::memcpy(m_pending.data() + m_pendingBytes, p, take);
        m_pendingBytes += take;
        p += take;
        n -= take;
        if (m_pendingBytes < 32)
            return;
        consumeStripes(m_acc, m_pending.data(), 32);
        m_pendingBytes = 0;
    }
    const std::size_t done = consumeStripes(m_acc, p, n);
    std::memcpy(m_pending.data(), p + done, n - done);
    m_pendingBytes = n - done;
}

std::uint64_t XxHash64::digest() const
{
    std::uint64_t h;
    if (m_totalBytes >= 32) {
        h = std::rotl(m_acc[0], 1) + std::rotl(m_acc[1], 7) + std::rotl(m_acc[2], 12) + std::rotl(m_acc[3], 18);
        for (const std::uint64_t lane : m_acc)
            h = mergeRound(h, lane);
    } else {
        h = m_seed + kPrime5;
    }
    h += m_totalBytes;
    return finish(h, m_pending.data(), m_pendingBytes);
}

std::uint64_t xxhash64(std::span<const std::byte> data, std::uint64_t seed)
{
    XxHash64 hash(seed);
    hash.update(data);
    return hash.digest();
}

} // namespace nw
