// The KV stores of DeepSeek V3.2 and V4 (engine/kv_deepseek.cpp): the figures of the published
// shapes, computed by hand from their configurations, and a cache of a small V4-like model whose
// stores grow each by its own rule (window, entries every `ratio` tokens, a fixed ring).
#include "common/error.h"
#include "engine/arch_table.h"
#include "engine/hparams.h"
#include "engine/kv_cache.h"

#include <doctest/doctest.h>

#include <cstring>
#include <map>
#include <string>

using namespace nw;

namespace {

const KindKvBytes &kind(const KvModeFigures &f, const std::string &name)
{
    for (const KindKvBytes &k : f.kinds)
        if (k.kind == name)
            return k;
    FAIL("no store kind " << name);
    return f.kinds.front();
}

// Four layers: window only, CSA, HCA (ratio 8 to keep the test short), CSA; window 16.
HParams smallV4()
{
    HParams hp { .arch = "deepseek4",
        .nLayers = 4,
        .nEmbd = 64,
        .nFf = 128,
        .nHeads = 4,
        .nKvHeads = 1,
        .headDimK = 64,
        .headDimV = 64,
        .nRot = 16,
        .nVocab = 100,
        .nCtxTrain = 4096 };
    hp.slidingWindow = 16;
    hp.compressRatios = { 0, 4, 8, 4 };
    hp.indexerHeads = 2;
    hp.indexerHeadDim = 32;
    hp.indexerTopK = 4;
    return hp;
}

} // namespace

TEST_CASE("DeepSeek V3.2, V4-Flash and V4-Pro KV figures at 1M tokens (hand-computed from their configurations)")
{
    constexpr std::uint64_t ctx = 1048576;
    const auto v32 = kvModeFigures(requireKnownArchitecture("DeepSeek-V3.2").hp, std::int64_t(ctx));
    REQUIRE(v32.size() == 1); // the latent alone: the indexer chooses over it
    CHECK(v32[0].spec.mode == KvMode::Mla);
    CHECK(kind(v32[0], "full").used == 61 * ctx * (512 + 64) * 2);
    CHECK(kind(v32[0], "indexer").used == 61 * ctx * 128 * 2);
    CHECK(v32[0].bytesPerToken == 61ull * (576 + 128) * 2);

    const auto v4 = kvModeFigures(requireKnownArchitecture("DeepSeek-V4-Flash").hp, std::int64_t(ctx));
    REQUIRE(v4.size() == 1);
    const KvModeFigures &f = v4[0];
    CHECK(kind(f, "window").layers == 43);
    CHECK(kind(f, "window").used == 43ull * 128 * 512 * 2); // every layer's last 128 tokens
    CHECK(kind(f, "csa").layers == 21); // layers 2, 4, ..., 42
    CHECK(kind(f, "csa").used == 21 * (ctx / 4) * 512 * 2);
    CHECK(kind(f, "indexer").used == 21 * (ctx / 4) * 128 * 2);
    CHECK(kind(f, "hca").layers == 20); // layers 3, 5, ..., 41
    CHECK(kind(f, "hca").used == 20 * (ctx / 128) * 512 * 2);
    // Each compressor's pending f32 rows [kv | score]: CSA two blocks of 4 (its overlap) of
    // 2 · 2 · width, HCA one block of 128 of 2 · width; CSA layers have one for the indexer too.
    CHECK(kind(f, "state").used == 21ull * (8 * 4 * 512 * 4 + 8 * 4 * 128 * 4) + 20ull * 128 * 2 * 512 * 4);
    std::uint64_t sum = 0;
    for (const KindKvBytes &k : f.kinds)
        sum += k.used;
    CHECK(f.usedBytes == sum);
    // V4-Flash holds 8.0 % of what V3.2 holds at 1M tokens, both in f16 rows (the release's 7 %
    // counts DeepSeek's own storage precisions).
    CHECK(double(f.usedBytes) / double(v32[0].usedBytes) == doctest::Approx(0.0803).epsilon(0.001));

    // V4-Pro: 61 layers, HCA in layers 0, 1 and the odd ones from 3 (31), CSA in the even ones
    // from 2 (30): 9.6 GiB, 11.5 % of V3.2 (the release: 10 %).
    const auto pro = kvModeFigures(requireKnownArchitecture("DeepSeek-V4-Pro").hp, std::int64_t(ctx));
    REQUIRE(pro.size() == 1);
    CHECK(kind(pro[0], "window").used == 61ull * 128 * 512 * 2);
    CHECK(kind(pro[0], "csa").layers == 30);
    CHECK(kind(pro[0], "csa").used == 30 * (ctx / 4) * 512 * 2);
    CHECK(kind(pro[0], "indexer").used == 30 * (ctx / 4) * 128 * 2);
    CHECK(kind(pro[0], "hca").layers == 31);
    CHECK(kind(pro[0], "hca").used == 31 * (ctx / 128) * 512 * 2);
    CHECK(double(pro[0].usedBytes) / double(v32[0].usedBytes) == doctest::Approx(0.11496).epsilon(0.0005));
    CHECK_THROWS_AS(
        kvModeFiguresFor(requireKnownArchitecture("DeepSeek-V3.2").hp, KvModeSpec::parse("full"), 64), Error);
    // TurboQuant rows are for full and latent:R caches: V3.2's MLA rows and V4's shared rows refuse them.
    CHECK_THROWS_AS(
        kvModeFiguresFor(requireKnownArchitecture("DeepSeek-V3.2").hp, KvModeSpec::parse("mla+tq3"), 64), Error);
    CHECK_THROWS_WITH_AS(
        kvModeFiguresFor(requireKnownArchitecture("DeepSeek-V4-Pro").hp, KvModeSpec::parse("mla+tq3"), 64),
        doctest::Contains("tq rows"), Error);
}

TEST_CASE("a V4 cache: each store grows by its rule, its rows are addressable, the meters agree")
{
    const HParams hp = smallV4();
    const auto plan = kvCachePlan(hp, KvModeSpec::parse("mla"));
    // Layer 0: window; layers 1, 3 (CSA): window, entries, state, indexer keys, state; layer 2:
    // window, entries, state.
    REQUIRE(plan.size() == 1 + 5 + 3 + 5);
    KvCache cache(plan, 1000, mhaF16BytesPerTokenLayer(hp));
    CHECK(cache.nLayers() == 4);
    CHECK(cache.nStores() == 14);
    CHECK(cache.findStore(0, KvPart::Entries) == -1);
    const std::int64_t csaEntries = cache.findStore(1, KvPart::Entries);
    const std::int64_t hcaEntries = cache.findStore(2, KvPart::Entries);
    const std::int64_t csaKeys = cache.findStore(3, KvPart::IndexerKeys);
    const std::int64_t pool = cache.findStore(2, KvPart::AttentionPool);
    REQUIRE(csaEntries >= 0);
    REQUIRE(hcaEntries >= 0);
    REQUIRE(csaKeys >= 0);
    REQUIRE(pool >= 0);

    std::int64_t tokens = 0;
    for (std::int64_t batch : { 1, 3, 60, 7, 129, 1 }) {
        cache.reserve(tokens + batch);
        for (std::int64_t p = tokens; p < tokens + batch; ++p) {
            // Every store's row of this position (an entry row once its block is complete).
            for (std::int64_t s = 0; s < cache.nStores(); ++s) {
                const KvLayerPlan &sp = cache.plan(s);
                if (sp.kind == KvLayerKind::Compressed && (p + 1) % sp.ratio != 0)
                    continue;
                std::memset(cache.kRow(s, sp.rowOf(p)), int(p % 251), sp.layout.kRowBytes());
            }
        }
        tokens += batch;
        cache.commit(tokens);
        const MemoryStats stats = cache.memoryStats();
        REQUIRE(stats.layers.size() == 14);
        for (std::int64_t s = 0; s < cache.nStores(); ++s) {
            CHECK(stats.layers[std::size_t(s)].used == cache.plan(s).bytesFor(tokens));
            CHECK(stats.layers[std::size_t(s)].layer == cache.plan(s).layer);
        }
    }
    CHECK(tokens == 201);
    CHECK(cache.plan(csaEntries).rowsFor(tokens) == 50);
    CHECK(cache.plan(hcaEntries).rowsFor(tokens) == 25);
    CHECK(cache.plan(pool).rowsFor(tokens) == 8); // a ring of one block, whatever the length
    // Entry 49 (tokens 196..199) holds what was written when token 199 completed it; the ring
    // slot of position 200 holds token 200.
    CHECK(int(*cache.kRow(csaKeys, 49)) == 199 % 251);
    CHECK(int(*cache.kRow(pool, cache.plan(pool).rowOf(200))) == 200 % 251);
}
