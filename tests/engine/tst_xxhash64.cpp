// XXH64 against the reference implementation's outputs (xxHash 0.8 XXH64(), printed by a C
// program built from its xxhash.h), whole and fed in pieces of every split.
#include "engine/xxhash64.h"

#include <doctest/doctest.h>

#include <cstring>
#include <string_view>
#include <vector>

namespace {

std::span<const std::byte> bytesOf(std::string_view s)
{
    return { reinterpret_cast<const std::byte *>(s.data()), s.size() };
}

std::vector<std::byte> pattern(std::size_t n)
{
    std::vector<std::byte> out(n);
    for (std::size_t i = 0; i < n; ++i)
        out[i] = std::byte(static_cast<unsigned char>(i * 7 + 3));
    return out;
}

} // namespace

TEST_CASE("xxhash64 matches the reference implementation")
{
    CHECK(nw::xxhash64(bytesOf("")) == 0xef46db3751d8e999ULL);
    CHECK(nw::xxhash64(bytesOf("a")) == 0xd24ec4f1a98c6e5bULL);
    CHECK(nw::xxhash64(bytesOf("abc")) == 0x44bc2cf5ad770999ULL);
    CHECK(nw::xxhash64(bytesOf("The quick brown fox jumps over the lazy dog")) == 0x0b242d361fda71bcULL);
    CHECK(nw::xxhash64(bytesOf("0123456789abcdef0123456789abcdef0")) == 0xe87684f08d6d0816ULL);
    const std::vector<std::byte> data = pattern(1000);
    CHECK(nw::xxhash64(data) == 0x5f235fa033f1a3fbULL);
    CHECK(nw::xxhash64(data, 42) == 0xd776e8028586ff61ULL);
    CHECK(nw::xxhash64(std::span(data).first(37)) == 0xe32ef63802f5a3fdULL);
}

TEST_CASE("xxhash64 fed in pieces equals the whole")
{
    const std::vector<std::byte> data = pattern(1000);
    for (std::size_t piece : { 1u, 3u, 8u, 31u, 32u, 33u, 100u, 999u }) {
        nw::XxHash64 hash(42);
        for (std::size_t at = 0; at < data.size(); at += piece)
            hash.update(std::span(data).subspan(at, std::min(piece, data.size() - at)));
        CAPTURE(piece);
        CHECK(hash.digest() == 0xd776e8028586ff61ULL);
    }
}
