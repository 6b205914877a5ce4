// Sliding-window layers in the KV cache: a window layer holds only the blocks its window spans
// (plus the batch in flight), the meters count its bytes by the window rule, attention over a
// window cache equals attention over a full one, and prefix reuse keeps only what a window layer
// can still continue from.
#include "common/error.h"
#include "engine/arch_table.h"
#include "engine/hparams.h"
#include "engine/kv_cache.h"
#include "tests/engine/kv_test_model.h"

#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <vector>

using namespace nw;

namespace {

} // namespace

TEST_CASE("the plan gives window layers their window; figures count each kind by its rule")
{
    const HParams hp = test::slidingWindowParams();
    const auto plan = kvCachePlan(hp, KvModeSpec::parse("full"));
    REQUIRE(plan.size() == 4);
    CHECK(plan[0].kind == KvLayerKind::Full);
    CHECK(plan[1].kind == KvLayerKind::Window);
    CHECK(plan[1].window == 100);
    const std::uint64_t row = 2 * 2 * 32 * 2; // K and V, 2 KV heads of 32, f16
    CHECK(plan[1].bytesFor(40) == 40 * row);
    CHECK(plan[1].bytesFor(5000) == 100 * row);
    CHECK(plan[0].bytesFor(5000) == 5000 * row);

    const KvModeFigures f = kvModeFiguresFor(hp, KvModeSpec::parse("full"), 5000);
    CHECK(f.usedBytes == 2 * 5000 * row + 2 * 100 * row);
    REQUIRE(f.kinds.size() == 2);
    CHECK(f.kinds[0].kind == "full");
    CHECK(f.kinds[0].layers == 2);
    CHECK(f.kinds[1].kind == "window");
    CHECK(f.kinds[1].used == 2 * 100 * row);
    CHECK(f.savingVsMha == doctest::Approx(4.0 * 5000 * 4 * 64 * 2 / double(f.usedBytes)));
    // A window layer holds the blocks from the next query's first visible token to the end:
    // positions 4901..4999 span blocks 76..78.
    CHECK(f.kinds[1].reserved == 2 * 3 * KvCache::reservedBytesFor(plan[0].layout, 1, 1));
}

TEST_CASE("a window layer recycles its blocks; bytes, rows and the view stay exact")
{
    const HParams hp = test::slidingWindowParams();
    const auto plan = kvCachePlan(hp, KvModeSpec::parse("full"));
    KvCache cache(plan, 2000, mhaF16BytesPerTokenLayer(hp));
    const std::uint64_t row = plan[0].layout.bytesPerTokenLayer();
    std::int64_t tokens = 0;
    for (std::int64_t batch : { 1, 63, 64, 200, 7, 1, 1, 300, 5 }) {
        cache.reserve(tokens + batch);
        test::writePatternRows(cache, tokens, tokens + batch);
        tokens += batch;
        cache.commit(tokens);
        CAPTURE(tokens);
        const MemoryStats s = cache.memoryStats();
        CHECK(s.layers[0].used == std::uint64_t(tokens) * row);
        CHECK(s.layers[1].used == std::uint64_t(std::min<std::int64_t>(tokens, 100)) * row);
        CHECK(s.layers[1].kind == "window");
        CHECK(s.kvBytesReserved == cache.allocatedBytes());
        CHECK(s.kvBytesReserved == KvCache::reservedBytesFor(plan, tokens));
        CHECK(test::residentCacheBytes(cache) <= s.kvBytesReserved); // freed blocks went back
        // The next token costs a row in full layers, and in window layers only while short.
        CHECK(s.bytesPerToken == (tokens + 1 <= 100 ? 4 : 2) * row);
        // Every row a query at `tokens` reads still holds what was written there.
        int wrong = 0;
        for (std::int64_t l = 0; l < 4; ++l)
            for (std::int64_t p = plan[std::size_t(l)].firstVisible(tokens); p < tokens; ++p)
                wrong += !test::holdsPattern(cache, l, p);
        CHECK(wrong == 0);
        const auto kinds = s.byKind();
        REQUIRE(kinds.size() == 2);
        CHECK(kinds[1].layers == 2);
    }
    CHECK(test::residentCacheBytes(cache) < 2 * tokens * row + 2 * 4 * 64 * row);
}

TEST_CASE("prefix reuse: a window layer continues only from where it still holds the window")
{
    const HParams hp = test::slidingWindowParams();
    KvCache cache(kvCachePlan(hp, KvModeSpec::parse("full")), 2000, mhaF16BytesPerTokenLayer(hp));
    cache.reserve(1000);
    cache.commit(1000);
    // After 1000 tokens a window layer keeps whole blocks from the one holding 901 (the first
    // token a query at 1000 sees): blocks 14.. , i.e. positions 896 on.
    cache.truncate(995); // a query at 995 sees 896..995: all held
    CHECK(cache.tokens() == 995);
    cache.reserve(1000);
    cache.commit(1000);
    cache.truncate(500); // its window (401..500) was freed: nothing can be reused
    CHECK(cache.tokens() == 0);
    CHECK(cache.memoryStats().kvBytesReserved == 0);
    CHECK(cache.allocatedBytes() == 0);
}

TEST_CASE("attention over a window cache equals attention over a full cache with the same window")
{
    const HParams hp = test::slidingWindowParams();
    auto be = makeCpuBackend(2);
    const int window = int(hp.slidingWindow), kWidth = 2 * 32;
    KvCache full(KvLayout::forModel(hp, KvModeSpec::parse("full")), 1, 1000, 0);
    KvCache windowedCache(std::vector<KvLayerPlan> { kvCachePlan(hp, KvModeSpec::parse("full"))[1] }, 1000, 0);
    std::mt19937 rng(3);
    std::normal_distribution<float> value(0.f, 1.f);
    std::int64_t tokens = 0;
    for (int batch : { 150, 37, 1, 1, 200, 1 }) {
        std::vector<float> k(std::size_t(batch) * kWidth), v(k.size()), q(std::size_t(batch) * 4 * 32);
        for (float *a : { k.data(), v.data() })
            for (std::size_t i = 0; i < k.size(); ++i)
                a[i] = value(rng);
        for (float &x : q)
            x = value(rng);
        std::vector<std::int32_t> pos(static_cast<std::size_t>(batch));
        for (int t = 0; t < batch; ++t)
            pos[std::size_t(t)] = std::int32_t(tokens + t);
        std::vector<float> outFull(q.size()), outWindow(q.size(), NAN);
        for (KvCache *cache : { &full, &windowedCache }) {
            cache->truncate(tokens);
            cache->reserve(tokens + batch);
            const KvLayerView view = cache->layerView(0);
            be->storeKv(view, k.data(), v.data(), batch, pos.data());
            AttentionArgs a;
            a.kv = view;
            a.q = q.data();
            a.out = cache == &full ? outFull.data() : outWindow.data();
            a.nTokens = batch;
            a.nHeads = 4;
            a.queryPositions = pos.data();
            a.scale = 0.2f;
            a.window = window;
            be->attention(a);
            cache->commit(tokens + batch);
        }
        tokens += batch;
        CAPTURE(tokens);
        CHECK(outWindow == outFull);
    }
    CHECK(windowedCache.memoryStats().kvBytesReserved < full.memoryStats().kvBytesReserved / 2);
}

TEST_CASE("Gemma 3 4B in the planner: five global layers grow, 29 stop at the 1024-token window")
{
    const HParams hp = requireKnownArchitecture("Gemma-3-4B").hp;
    const std::uint64_t row = 4 * 256 * 2 * 2; // 4 KV heads of 256, K and V, f16
    const KvModeFigures f = kvModeFiguresFor(hp, KvModeSpec::parse("full"), 128 * 1024);
    REQUIRE(f.kinds.size() == 2);
    CHECK(f.kinds[0].kind == "window"); // layer 0 is a window layer
    CHECK(f.kinds[0].layers == 29);
    CHECK(f.kinds[1].layers == 5);
    CHECK(f.kinds[0].used == 29ull * 1024 * row);
    CHECK(f.kinds[1].used == 5ull * 128 * 1024 * row);
    CHECK(f.usedBytes == f.kinds[0].used + f.kinds[1].used);
    // Against all 34 layers holding every token in f16 with all 8 query heads (the MHA baseline).
    CHECK(f.savingVsMha == doctest::Approx(34.0 * 128 * 1024 * 8 * 512 * 2 / double(f.usedBytes)));
}

TEST_CASE("layers of different shapes (Gemma 4) get rows of their own KV heads and head dims")
{
    HParams hp = test::slidingWindowParams();
    hp.nKvHeadsPerLayer = { 1, 2, 1, 2 };
    hp.headDimKSwa = 16;
    hp.headDimVSwa = 16;
    hp.nRotSwa = 16;
    hp.validate("test");
    const auto plan = kvCachePlan(hp, KvModeSpec::parse("full"));
    // Full layers: 1 head of 32 dims; window layers: 2 heads of 16.
    for (std::int64_t il : { 0, 2 }) {
        CHECK(plan[std::size_t(il)].layout.nKvHeads == 1);
        CHECK(plan[std::size_t(il)].layout.kHeadDim == 32);
        CHECK(plan[std::size_t(il)].layout.bytesPerTokenLayer() == 1 * (32 + 32) * 2);
    }
    for (std::int64_t il : { 1, 3 }) {
        CHECK(plan[std::size_t(il)].layout.nKvHeads == 2);
        CHECK(plan[std::size_t(il)].layout.vHeadDim == 16);
        CHECK(plan[std::size_t(il)].layout.bytesPerTokenLayer() == 2 * (16 + 16) * 2);
    }
    KvCache cache(plan, 512, mhaF16BytesPerTokenLayer(hp), 0);
    cache.reserve(300);
    cache.commit(300);
    const MemoryStats stats = cache.memoryStats();
    CHECK(stats.layers[0].used == 300 * 128);
    CHECK(stats.layers[1].used == 100 * 128);
    CHECK(stats.kvBytesReserved == cache.allocatedBytes());

    hp.nKvHeadsPerLayer = { 1, 3, 1, 2 }; // 4 query heads do not share 3 KV heads
    CHECK_THROWS_AS(hp.validate("test"), Error);
}

TEST_CASE("shared-KV layers (Gemma 4 E2B / E4B) hold nothing and read the last earlier layer of their kind")
{
    HParams hp = test::slidingWindowParams();
    hp.slidingLayers = { true, false, true, false };
    hp.nKvSharedLayers = 2;
    const auto plan = kvCachePlan(hp, KvModeSpec::parse("full"));
    CHECK(plan[2].kind == KvLayerKind::Shared);
    CHECK(plan[2].sharedFrom == 0); // a window layer reads the window layer
    CHECK(plan[3].kind == KvLayerKind::Shared);
    CHECK(plan[3].sharedFrom == 1); // a global layer the global one
    CHECK(plan[2].bytesFor(500) == 0);
    KvCache cache(plan, 512, mhaF16BytesPerTokenLayer(hp), 0);
    cache.reserve(300);
    cache.commit(300);
    const MemoryStats stats = cache.memoryStats();
    CHECK(stats.layers[2].kind == "shared");
    CHECK(stats.layers[2].used == 0);
    CHECK(stats.layers[3].reserved == 0);
    CHECK(stats.layers[1].used == 300 * plan[1].layout.bytesPerTokenLayer());
    CHECK(stats.bytesPerToken == plan[1].layout.bytesPerTokenLayer()); // only the global layer grows at 300
    CHECK(stats.kvBytesReserved == cache.allocatedBytes());
}
