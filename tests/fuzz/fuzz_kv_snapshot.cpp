// Fuzz entry point for the KV snapshot header (engine/kv_snapshot_header.h): any byte string
// must parse or give nw::KvSnapshotError — never crash, read out of bounds, overflow or allocate
// without bound. Each input is parsed as it is and once more with its header checksum made
// right, so that mutants get past the checksum to the fields behind it.
#include "engine/kv_snapshot_header.h"
#include "engine/xxhash64.h"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

namespace {

volatile std::uint64_t g_sink; // keeps the reads from being optimised away

void parseOne(std::span<const std::byte> bytes)
{
    try {
        const nw::KvSnapshotHeader h = nw::KvSnapshotHeader::parse(bytes, "fuzz.nwkv");
        std::uint64_t sum = h.modelHash + h.kvMode.size() + h.tokens.size();
        for (const nw::KvSnapshotStore &s : h.stores)
            sum += s.payloadBytes();
        if (sum != h.payloadBytes + h.modelHash + h.kvMode.size() + h.tokens.size())
            __builtin_trap(); // the parser promised the stores add up to the payload
        // What parses serialises back to the same bytes.
        const std::vector<std::byte> again = h.serialize();
        if (again.size() > bytes.size() || std::memcmp(again.data(), bytes.data(), again.size()) != 0)
            __builtin_trap();
        g_sink = sum;
    } catch (const nw::KvSnapshotError &) {
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    const std::span<const std::byte> bytes(reinterpret_cast<const std::byte *>(data), size);
    parseOne(bytes);
    if (size < nw::kKvSnapshotPrologueBytes)
        return 0;
    std::uint64_t headerBytes;
    std::memcpy(&headerBytes, data + 16, sizeof headerBytes);
    if (headerBytes < nw::kKvSnapshotPrologueBytes + 8 || headerBytes > size)
        return 0;
    std::vector<std::byte> fixed(bytes.begin(), bytes.end());
    const std::size_t body = static_cast<std::size_t>(headerBytes) - 8;
    const std::uint64_t checksum = nw::xxhash64(std::span(fixed).first(body));
    std::memcpy(fixed.data() + body, &checksum, sizeof checksum);
    parseOne(fixed);
    return 0;
}

// Seeds: headers of a few shapes (one store, several, a recurrent state, no tokens).
std::vector<std::vector<std::uint8_t>> nwFuzzSeeds()
{
    std::vector<std::vector<std::uint8_t>> seeds;
    const auto add = [&seeds](const nw::KvSnapshotHeader &h) {
        const std::vector<std::byte> bytes = h.serialize();
        std::vector<std::uint8_t> seed(bytes.size());
        std::memcpy(seed.data(), bytes.data(), bytes.size());
        seeds.push_back(std::move(seed));
    };
    nw::KvSnapshotHeader h;
    h.modelHash = 0x1234;
    h.kvMode = "full";
    h.tokens = { 1, 2, 3, 4 };
    h.stores = { { .layer = 0, .kRowBytes = 256, .vRowBytes = 256, .firstRow = 0, .endRow = 4 } };
    h.payloadBytes = 4 * 512;
    add(h);
    h.kvMode = "mla";
    h.stores.push_back({ .layer = 0, .part = 2, .kRowBytes = 34, .firstRow = 0, .endRow = 4 });
    h.stores.push_back({ .layer = 1, .kind = 4, .stateBytes = 4096 });
    h.payloadBytes = 4 * 512 + 4 * 34 + 4096;
    add(h);
    h.tokens.clear();
    h.stores.clear();
    h.payloadBytes = 0;
    add(h);
    return seeds;
}
