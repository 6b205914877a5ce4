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
const HParams kGqa = { .arch = "llama",
    .nLayers = 2,
    .nEmbd = 256,
    .nFf = 512,
    .nHeads = 4,
    .nKvHeads = 2,
    .headDimK = 64,
    .headDimV = 64,
    .nRot = 64,
    .nVocab = 32 };

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
    for (const char *mode : { "full+q8", "full+q4" }) {
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

TEST_CASE("TurboQuant layouts: an f16 scale and bits/8 bytes per element per head")
{
    HParams hp = kGqa; // 2 KV heads of 64
    // tq3: 2 + 64·3/8 = 26 bytes per head; tq2 2 + 16 = 18; tq4 2 + 32 = 34.
    const KvLayout tq3 = KvLayout::forModel(hp, KvModeSpec::parse("full+tq3"));
    CHECK(tq3.kType == TensorType::I8);
    CHECK(tq3.kBits == 3);
    CHECK(tq3.vBits == 3);
    CHECK(tq3.kRotation == 0); // TurboQuant rotates on its own
    CHECK(tq3.kRowBytes() == 2 * 26);
    CHECK(tq3.bytesPerTokenLayer() == 2 * 2 * 26);
    CHECK(KvLayout::forModel(hp, KvModeSpec::parse("full+tq2")).bytesPerTokenLayer() == 2 * 2 * 18);
    CHECK(KvLayout::forModel(hp, KvModeSpec::parse("full+tq4")).bytesPerTokenLayer() == 2 * 2 * 34);
    // Keys q8 (34 bytes per 32, rotated), values tq3.
    const KvLayout q8tq3 = KvLayout::forModel(hp, KvModeSpec::parse("full+q8/tq3"));
    CHECK(q8tq3.kType == TensorType::Q8_0);
    CHECK(q8tq3.kBits == 0);
    CHECK(q8tq3.kRotation == 64);
    CHECK(q8tq3.vBits == 3);
    CHECK(q8tq3.vRotation == 0);
    CHECK(q8tq3.bytesPerTokenLayer() == 2 * 2 * 34 + 2 * 26);
    // latent:32: one row of 32 for K and one for V: 2 + 12 bytes each at 3 bits.
    CHECK(KvLayout::forModel(hp, KvModeSpec::parse("latent:32+tq3")).bytesPerTokenLayer() == 2 * 14);
    // The recall model's geometry (4 layers, 2 KV heads of 32): 4 · 2 · 2 · 14 = 224 bytes per
    // token at tq3 against q4's 288 and f16's 1,024.
    HParams recall = hp;
    recall.nLayers = 4;
    recall.headDimK = recall.headDimV = recall.nRot = 32;
    CHECK(4 * KvLayout::forModel(recall, KvModeSpec::parse("full+tq3")).bytesPerTokenLayer() == 224);
    CHECK(4 * KvLayout::forModel(recall, KvModeSpec::parse("full+q4")).bytesPerTokenLayer() == 288);

    // Codes are packed 8 at a time: heads of 12 cannot take them, and MLA's V (a prefix of the
    // K row) has no norm of its own.
    HParams odd = hp;
    odd.headDimK = odd.headDimV = odd.nRot = 12;
    CHECK_THROWS_AS(KvLayout::forModel(odd, KvModeSpec::parse("full+tq3")), Error);
    CHECK_THROWS_AS(KvLayout::forModel(test::deepseekV2Params(), KvModeSpec::parse("mla+tq3")), Error);
}

TEST_CASE("TurboQuant caches report exactly the bytes the allocator holds, protected layers in f16")
{
    HParams hp = kGqa;
    hp.nLayers = 4;
    const std::vector<KvLayerPlan> plan = kvCachePlan(hp, KvModeSpec::parse("full+tq3+protect:1"));
    REQUIRE(plan.size() == 4);
    CHECK(plan[0].layout.kBits == 0);
    CHECK(plan[1].layout.kBits == 3);
    CHECK(plan[3].layout.vBits == 0);
    KvCache cache(plan, 500, mhaF16BytesPerTokenLayer(hp));
    cache.reserve(200);
    cache.commit(200);
    test::touchAllRows(cache);
    const MemoryStats s = cache.memoryStats();
    // Two f16 layers (2 · 2 heads · 64 · 2 bytes = 512 per token) and two tq3 layers (2 · 2 · 26 = 104).
    CHECK(s.kvBytesUsed == 200 * (2 * 512 + 2 * 104));
    CHECK(s.kvBytesReserved == cache.allocatedBytes());
    CHECK(s.kvBytesReserved == test::residentCacheBytes(cache));
    CHECK(s.kvBytesReserved == KvCache::reservedBytesFor(plan, 200));
    const KvLayerView view = cache.layerView(1);
    CHECK(view.type == TensorType::I8);
    CHECK(view.kBits == 3);
    CHECK(view.vBits == 3);
    CHECK(view.kRowStride == 2 * 26);
    CHECK(view.vBlocks == view.kBlocks + 64 * 2 * 26);
    CHECK(cache.layerView(0).kBits == 0);
}
