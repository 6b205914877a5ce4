// Quantized KV rows (`+q8` = Q8_0, `+q4` = Q4_0, groups of 32 with an f16 scale): bytes per token
// and layer hand-computed from the block sizes, the bytes MemoryStats reports equal to what the
// allocator holds (and the kernel has resident), and the models' head dims a group must divide.
#include "common/error.h"
#include "engine/hparams.h"
#include "engine/kv_cache.h"
#include "kv_test_model.h"

#include <doctest/doctest.h>

#include <unistd.h>

using namespace nw;

namespace {

// A GQA model with heads of 64 (two groups of 32 per head).
const HParams kGqa = {.arch = "llama", .nLayers = 2, .nEmbd = 256, .nFf = 512, .nHeads = 4, .nKvHeads = 2, .headDimK = 64,
                      .headDimV = 64, .nRot = 64, .nVocab = 32};

} // namespace

TEST_CASE("quantized layouts: bytes per token and layer from the block sizes")
{
    const HParams hp = kGqa;
    // Q8_0: 32 int8 + one f16 scale = 34 bytes per 32; Q4_0: 16 bytes of nibbles + 2 = 18.
    const KvLayout q8 = KvLayout::forModel(hp, KvModeSpec::parse("full+q8"));
    CHECK(q8.kType == TensorType::Q8_0);
    CHECK(q8.vType == TensorType::Q8_0);
    CHECK(q8.kRowBytes() == 2 * (64 / 32) * 34);
    CHECK(q8.bytesPerTokenLayer() == 2 * 2 * 2 * 34); // K and V, 2 heads, 2 groups each
    const KvLayout q4 = KvLayout::forModel(hp, KvModeSpec::parse("full+q4"));
    CHECK(q4.kType == TensorType::Q4_0);
    CHECK(q4.bytesPerTokenLayer() == 2 * 2 * 2 * 18);
    // f16 full is 2 × 2 × 64 × 2 = 512 bytes: q8 saves 512/272, q4 512/144.
    CHECK(KvLayout::forModel(hp, KvModeSpec::parse("full")).bytesPerTokenLayer() == 512);

    // DeepSeek-V2's MLA row, 512 + 64 = 576 elements = 18 groups; V is its first 16 groups.
    const HParams ds = test::deepseekV2Params();
    const KvLayout mla8 = KvLayout::forModel(ds, KvModeSpec::parse("mla+q8"));
    CHECK(mla8.bytesPerTokenLayer() == 18 * 34);
    CHECK(KvLayout::forModel(ds, KvModeSpec::parse("mla+q4")).bytesPerTokenLayer() == 18 * 18);

    // Heads of 8 are not whole groups: the error names the fix.
    HParams small = hp;
    small.headDimK = small.headDimV = 8;
    CHECK_THROWS_AS(KvLayout::forModel(small, KvModeSpec::parse("full+q8")), Error);
    HParams oddMla = ds;
    oddMla.kvLoraRank = 500; // V would end inside a group
    CHECK_THROWS_AS(KvLayout::forModel(oddMla, KvModeSpec::parse("mla+q4")), Error);
}

TEST_CASE("quantized caches report exactly the bytes the allocator holds")
{
    const HParams hp = kGqa;
    for (const char *mode : {"full+q8", "full+q4"}) {
        CAPTURE(mode);
        const KvLayout layout = KvLayout::forModel(hp, KvModeSpec::parse(mode));
        KvCache cache(layout, hp.nLayers, 500, mhaF16BytesPerTokenLayer(hp));
        cache.reserve(200);
        cache.commit(200);
        test::touchAllRows(cache);
        const MemoryStats s = cache.memoryStats();
        CHECK(s.kvBytesReserved == cache.allocatedBytes());
        CHECK(s.kvBytesReserved == test::residentCacheBytes(cache));
        CHECK(s.kvBytesReserved == KvCache::reservedBytesFor(layout, hp.nLayers, 200));
        CHECK(s.kvBytesUsed == 200 * layout.bytesPerTokenLayer() * 2);
        // A block holds 64 K rows then 64 V rows, rounded up to whole pages.
        const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
        CHECK(cache.blockBytes() == 64 * layout.bytesPerTokenLayer());
        CHECK(cache.blockStride() == (cache.blockBytes() + page - 1) / page * page);
        // The view the backend gets carries the quantized type and row strides.
        const KvLayerView view = cache.layerView(0);
        CHECK(view.type == layout.kType);
        CHECK(view.kRowStride == layout.kRowBytes());
        CHECK(view.vBlocks == view.kBlocks + 64 * layout.kRowBytes());
        CHECK(s.mhaF16Bytes == 200 * std::uint64_t(4 * 128 * 2) * 2);
    }
}
