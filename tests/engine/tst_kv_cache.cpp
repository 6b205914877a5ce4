// KvCache: mode parsing, per-mode row bytes (hand-computed from the hyperparameters), on-demand
// block allocation checked against the pages the kernel reports resident (mincore), and
// lock-free MemoryStats snapshots from another thread.
#include "common/error.h"
#include "engine/arch_table.h"
#include "engine/hparams.h"
#include "engine/kv_cache.h"
#include "kv_test_model.h"

#include <doctest/doctest.h>

#include <atomic>
#include <cstring>
#include <thread>

using namespace nw;

namespace {

// A small GQA model: 8 query heads sharing 4 KV heads of 8 dims.
const HParams kGqa = { .arch = "llama",
    .nLayers = 3,
    .nEmbd = 64,
    .nFf = 128,
    .nHeads = 8,
    .nKvHeads = 4,
    .headDimK = 8,
    .headDimV = 8,
    .nRot = 8,
    .nVocab = 32 };

} // namespace

TEST_CASE("KV mode strings")
{
    CHECK(KvModeSpec::parse("full").mode == KvMode::Full);
    CHECK(KvModeSpec::parse("mla").mode == KvMode::Mla);
    const KvModeSpec latent = KvModeSpec::parse("latent:128+q4");
    CHECK(latent.mode == KvMode::Latent);
    CHECK(latent.rank == 128);
    CHECK(latent.kQuant == KvQuant::Q4);
    CHECK(latent.vQuant == KvQuant::Q4);
    CHECK(latent.rotate);
    CHECK(latent.toString() == "latent:128+q4");
    CHECK(KvModeSpec::parse("full+q8").kQuant == KvQuant::Q8);
    for (const char *bad : { "", "fp8", "latent:", "latent:0", "latent:-3", "latent:12x", "full+q3", "mla+",
             "full+q8+q4", "full+q8/", "full+/q4", "full+q8/q4/q8", "full:plain", "full+f16:plain", "full+protect:2",
             "full+q4+protect:0", "full+q4+protect:x", "full+q4+protect:1+protect:1", "full+q4:plain:plain",
             "full+window:0", "full+sinks:4" })
        CHECK_THROWS_AS(KvModeSpec::parse(bad), Error);
}

TEST_CASE("KV mode grammar: precision per side, plain rows, protected layers")
{
    struct Row {
        const char *text;
        KvQuant k, v;
        bool rotate;
        std::int64_t protect;
        const char *canonical;
    };
    const Row rows[] = {
        { "full+q8:plain", KvQuant::Q8, KvQuant::Q8, false, 0, "full+q8:plain" },
        { "full+q4:plain", KvQuant::Q4, KvQuant::Q4, false, 0, "full+q4:plain" },
        { "full+q8/q4", KvQuant::Q8, KvQuant::Q4, true, 0, "full+q8/q4" },
        { "full+f16/q4:plain", KvQuant::None, KvQuant::Q4, false, 0, "full+f16/q4:plain" },
        { "full+q4/q4", KvQuant::Q4, KvQuant::Q4, true, 0, "full+q4" },
        { "latent:64+q8/q4+protect:2", KvQuant::Q8, KvQuant::Q4, true, 2, "latent:64+q8/q4+protect:2" },
        { "full+protect:1+q4", KvQuant::Q4, KvQuant::Q4, true, 1, "full+q4+protect:1" },
        { "full+f16", KvQuant::None, KvQuant::None, true, 0, "full" },
        { "full+tq3", KvQuant::Tq3, KvQuant::Tq3, true, 0, "full+tq3" },
        { "full+tq2", KvQuant::Tq2, KvQuant::Tq2, true, 0, "full+tq2" },
        { "latent:32+tq4", KvQuant::Tq4, KvQuant::Tq4, true, 0, "latent:32+tq4" },
        { "full+q8/tq3", KvQuant::Q8, KvQuant::Tq3, true, 0, "full+q8/tq3" },
        { "full+f16/tq2", KvQuant::None, KvQuant::Tq2, true, 0, "full+f16/tq2" },
        { "full+tq3/tq3+protect:2", KvQuant::Tq3, KvQuant::Tq3, true, 2, "full+tq3+protect:2" },
    };
    for (const Row &row : rows) {
        CAPTURE(row.text);
        const KvModeSpec spec = KvModeSpec::parse(row.text);
        CHECK(spec.kQuant == row.k);
        CHECK(spec.vQuant == row.v);
        CHECK(spec.rotate == row.rotate);
        CHECK(spec.protect == row.protect);
        CHECK(spec.toString() == row.canonical);
        CHECK(KvModeSpec::parse(spec.toString()).toString() == row.canonical);
    }
    // One line that names the string and shows the grammar.
    try {
        KvModeSpec::parse("full+q3");
        FAIL("parsed");
    } catch (const Error &e) {
        const std::string message = e.what();
        CHECK(message.find("'full+q3'") != std::string::npos);
        CHECK(message.find("'q3'") != std::string::npos);
        CHECK(message.find(kKvModeGrammar) != std::string::npos);
        CHECK(message.find('\n') == std::string::npos);
    }
    // TurboQuant: 2, 3 or 4 bits; always rotated, so `:plain` is refused (also beside q8).
    for (const char *bad : { "full+tq5", "full+tq1", "full+tq", "full+tq3:plain", "full+q8/tq3:plain" }) {
        CAPTURE(bad);
        try {
            KvModeSpec::parse(bad);
            FAIL("parsed");
        } catch (const Error &e) {
            const std::string message = e.what();
            CHECK(message.find(kKvModeGrammar) != std::string::npos);
            CHECK(message.find('\n') == std::string::npos);
        }
    }
    CHECK(kKvModeGrammar.find("tq3") != std::string_view::npos);
}

TEST_CASE("asymmetric and protected layouts: exact bytes, rotation blocks")
{
    // Heads of 64: Q8_0 34 bytes per 32, Q4_0 18, f16 128 bytes per head.
    HParams hp = kGqa;
    hp.headDimK = hp.headDimV = 64;
    hp.nRot = 64;
    const KvLayout kv84 = KvLayout::forModel(hp, KvModeSpec::parse("full+q8/q4"));
    CHECK(kv84.kType == TensorType::Q8_0);
    CHECK(kv84.vType == TensorType::Q4_0);
    CHECK(kv84.kRowBytes() == 4 * 2 * 34);
    CHECK(kv84.vRowBytes() == 4 * 2 * 18);
    CHECK(kv84.kRotation == 64);
    CHECK(kv84.vRotation == 64);
    const KvLayout f16q4 = KvLayout::forModel(hp, KvModeSpec::parse("full+f16/q4:plain"));
    CHECK(f16q4.kRowBytes() == 4 * 64 * 2);
    CHECK(f16q4.vRowBytes() == 4 * 2 * 18);
    CHECK(f16q4.kRotation == 0);
    CHECK(f16q4.vRotation == 0);
    // Only quantized sides rotate.
    const KvLayout q4f16 = KvLayout::forModel(hp, KvModeSpec::parse("full+q4/f16"));
    CHECK(q4f16.kRotation == 64);
    CHECK(q4f16.vRotation == 0);

    // MLA keeps V inside the K row: one precision; its rotation blocks divide 576 and 512.
    const HParams ds = test::deepseekV2Params();
    CHECK_THROWS_AS(KvLayout::forModel(ds, KvModeSpec::parse("mla+q8/q4")), Error);
    CHECK(KvLayout::forModel(ds, KvModeSpec::parse("mla+q4")).kRotation == 64);

    // protect:1 of 3 layers: the first and the last keep f16 rows, the middle one q4; the cache
    // counts each by its own layout.
    const std::vector<KvLayerPlan> plan = kvCachePlan(hp, KvModeSpec::parse("full+q4+protect:1"));
    REQUIRE(plan.size() == 3);
    CHECK(plan[0].layout.kType == TensorType::F16);
    CHECK(plan[1].layout.kType == TensorType::Q4_0);
    CHECK(plan[2].layout.vType == TensorType::F16);
    CHECK(plan[0].layout.kRotation == 0);
    CHECK(plan[1].layout.kRotation == 64);
    KvCache cache(plan, 256, mhaF16BytesPerTokenLayer(hp));
    cache.reserve(100);
    cache.commit(100);
    const std::uint64_t perToken = 2 * (2 * 4 * 64 * 2) + 2 * (4 * 2 * 18);
    CHECK(cache.memoryStats().kvBytesUsed == 100 * perToken);
    CHECK(cache.memoryStats().kvBytesReserved == cache.allocatedBytes());
    CHECK(cache.layerView(1).kRotation == 64);
    CHECK(cache.layerView(0).kRotation == 0);
}

TEST_CASE("layout bytes per token and layer")
{
    const HParams hp = kGqa;
    const KvLayout full = KvLayout::forModel(hp, KvModeSpec::parse("full"));
    CHECK(full.kRowBytes() == 4 * 8 * 2); // 4 KV heads × 8 dims × f16
    CHECK(full.vRowBytes() == 4 * 8 * 2);
    CHECK(full.bytesPerTokenLayer() == 128);
    KvModeSpec f32 = KvModeSpec::parse("full");
    f32.rowType = TensorType::F32;
    CHECK(KvLayout::forModel(hp, f32).bytesPerTokenLayer() == 256);
    CHECK(mhaF16BytesPerTokenLayer(hp) == 8 * (8 + 8) * 2);
    CHECK_THROWS_AS(KvLayout::forModel(hp, KvModeSpec::parse("mla")), Error); // no MLA in llama

    // DeepSeek-V2's published MLA shape: kv_lora_rank 512, rope dims 64, 128 heads of 192/128.
    const HParams ds = test::deepseekV2Params();
    const KvLayout mla = KvLayout::forModel(ds, KvModeSpec::parse("mla"));
    CHECK(mla.bytesPerTokenLayer() == (512 + 64) * 2);
    CHECK(mla.vRowBytes() == 0);
    CHECK(mla.mlaValueDim == 512);
    CHECK(mhaF16BytesPerTokenLayer(ds) == 128 * (192 + 128) * 2);
}

TEST_CASE("blocks are allocated on demand and the reported bytes are the resident bytes")
{
    const HParams hp = kGqa;
    const KvLayout layout = KvLayout::forModel(hp, KvModeSpec::parse("full"));
    KvCache cache(layout, hp.nLayers, 1000, mhaF16BytesPerTokenLayer(hp));
    CHECK(cache.memoryStats().kvBytesReserved == 0);
    CHECK(test::residentCacheBytes(cache) == 0);

    cache.reserve(1);
    cache.commit(1);
    CHECK(cache.nBlocks() == 1);
    test::touchAllRows(cache);
    MemoryStats s = cache.memoryStats();
    CHECK(s.kvBytesReserved == cache.allocatedBytes());
    CHECK(s.kvBytesReserved == test::residentCacheBytes(cache));
    CHECK(s.kvBytesUsed == 1 * 128 * 3);

    cache.reserve(130);
    cache.commit(130);
    CHECK(cache.nBlocks() == 3);
    test::touchAllRows(cache);
    s = cache.memoryStats();
    CHECK(s.tokens == 130);
    CHECK(s.kvBytesUsed == 130 * 128 * 3);
    CHECK(s.kvBytesReserved == test::residentCacheBytes(cache));
    CHECK(s.kvBytesReserved - s.kvBytesUsed < cache.blockStride() * 3); // within one block per layer
    CHECK(s.mhaF16Bytes == 130 * 256 * 3);
    CHECK(s.savingVsMha() == doctest::Approx(2.0));
    for (const LayerKvBytes &layer : s.layers)
        CHECK(layer.used == 130 * 128);

    cache.truncate(64);
    CHECK(cache.nBlocks() == 1);
    s = cache.memoryStats();
    CHECK(s.tokens == 64);
    CHECK(s.kvBytesReserved == cache.allocatedBytes());
    CHECK(s.kvBytesReserved == test::residentCacheBytes(cache)); // freed pages went back to the system

    CHECK_THROWS_AS(cache.reserve(1001), Error);
    cache.clear();
    CHECK(test::residentCacheBytes(cache) == 0);
    CHECK(cache.memoryStats().kvBytesReserved == 0);
}

TEST_CASE("rows keep their contents while the cache grows; the view addresses the same bytes")
{
    const HParams hp = kGqa;
    const KvLayout layout = KvLayout::forModel(hp, KvModeSpec::parse("full"));
    KvCache cache(layout, hp.nLayers, 500, mhaF16BytesPerTokenLayer(hp));
    cache.reserve(70);
    for (std::int64_t p = 0; p < 70; ++p)
        std::memset(cache.kRow(2, p), static_cast<int>(p), layout.kRowBytes());
    cache.reserve(400);
    for (std::int64_t p = 0; p < 70; ++p)
        CHECK(static_cast<int>(cache.kRow(2, p)[5]) == static_cast<int>(p));
    const KvLayerView view = cache.layerView(2);
    const std::int64_t p = 69;
    const std::byte *viaView = view.kBlocks
        + static_cast<std::size_t>(view.blockTable[p / view.blockSize]) * view.kBlockStride
        + static_cast<std::size_t>(p % view.blockSize) * view.kRowStride;
    CHECK(viaView == cache.kRow(2, p));
    const std::byte *vViaView = view.vBlocks
        + static_cast<std::size_t>(view.blockTable[p / view.blockSize]) * view.vBlockStride
        + static_cast<std::size_t>(p % view.blockSize) * view.vRowStride;
    CHECK(vViaView == cache.vRow(2, p));
}

TEST_CASE("snapshots from another thread are consistent while the writer runs")
{
    const HParams hp = kGqa;
    const KvLayout layout = KvLayout::forModel(hp, KvModeSpec::parse("full"));
    KvCache cache(layout, hp.nLayers, 4096, mhaF16BytesPerTokenLayer(hp), 12345);
    int callbacks = 0;
    cache.setMemoryCallback([&](const MemoryStats &) { ++callbacks; });
    std::atomic<bool> done { false };
    std::atomic<int> inconsistent { 0 };
    std::atomic<int> reads { 0 };
    std::thread reader([&] {
        while (!done.load()) {
            const MemoryStats s = cache.memoryStats();
            const std::uint64_t expectUsed = static_cast<std::uint64_t>(s.tokens) * 128 * 3;
            std::uint64_t sumUsed = 0;
            for (const LayerKvBytes &l : s.layers)
                sumUsed += l.used;
            if (s.kvBytesUsed != expectUsed || sumUsed != expectUsed || s.kvBytesUsed > s.kvBytesReserved
                || s.weightsBytes != 12345)
                inconsistent.fetch_add(1);
            reads.fetch_add(1);
        }
    });
    for (int round = 0; round < 20; ++round)
        for (std::int64_t n = 1; n <= 4096; n += 37) {
            cache.reserve(n);
            cache.commit(n);
            if (n % 5 == 0)
                cache.truncate(n / 2);
        }
    done = true;
    reader.join();
    CHECK(inconsistent.load() == 0);
    CHECK(reads.load() > 0);
    CHECK(callbacks > 0);
}

TEST_CASE("KV figures of the bundled architectures (hand-computed from their config.json)")
{
    const auto llama = kvModeFigures(requireKnownArchitecture("llama-3.1-8b").hp, 100);
    REQUIRE(llama.size() == 1); // no MLA
    CHECK(llama[0].bytesPerToken == 32ull * 2 * 8 * 128 * 2); // layers × (K,V) × KV heads × dims × f16
    CHECK(llama[0].mhaF16BytesPerToken == 32ull * 2 * 32 * 128 * 2); // all 32 heads
    CHECK(llama[0].savingVsMha == doctest::Approx(4.0));
    CHECK(llama[0].usedBytes == 100ull * 131072);
    CHECK(llama[0].reservedBytes == 2ull * 64 * 4096 * 32); // two blocks of 64 tokens per layer

    const auto v2 = kvModeFigures(requireKnownArchitecture("DeepSeek-V2").hp, 4096);
    REQUIRE(v2.size() == 2);
    CHECK(v2[0].bytesPerToken == 60ull * 128 * (192 + 128) * 2);
    CHECK(v2[1].spec.mode == KvMode::Mla);
    CHECK(v2[1].bytesPerToken == 60ull * (512 + 64) * 2);
    CHECK(v2[1].savingVsMha == doctest::Approx(4915200.0 / 69120.0));
    CHECK(v2[1].reservedBytes == 4096ull * 60 * 576 * 2); // 64 × 1152 bytes is a whole number of pages

    CHECK(kvModeFigures(requireKnownArchitecture("DeepSeek-V3").hp, 1)[1].bytesPerToken == 61ull * 576 * 2);
    CHECK(kvModeFigures(requireKnownArchitecture("Qwen2.5-7B").hp, 1)[0].bytesPerToken == 28ull * 2 * 4 * 128 * 2);
    CHECK_THROWS_AS(requireKnownArchitecture("gpt-5"), Error);
    for (const KnownArchitecture &a : knownArchitectures())
        CHECK_NOTHROW(a.hp.validate(a.name));
}
