// deepseek32 (DeepSeek V3.2) beyond the fidelity test: its cache keeps the MLA rows and the
// indexer's keys of every token (mla is its one mode), and malformed indexer metadata or a
// missing indexer tensor is refused in one line naming what is wrong.
#include "common/error.h"
#include "engine/arch_table.h"
#include "engine/gguf_file.h"
#include "engine/gguf_writer.h"
#include "engine/hparams.h"
#include "engine/kv_cache.h"
#include "engine/model.h"
#include "tests/support/model_edit.h"
#include "tests/support/test_data.h"

#include <doctest/doctest.h>

#include <functional>
#include <limits>
#include <string>

using namespace nw;

namespace {

std::shared_ptr<const GgufFile> testModel()
{
    return GgufFile::open(test::sourceDir() / "tests/data/models/deepseek32-f32.gguf");
}

std::vector<std::byte> rewritten(const std::function<void(GgufWriter &)> &edit, std::string_view drop = {})
{
    return test::rewrittenModel(*testModel(), edit, drop);
}

std::string loadError(const std::vector<std::byte> &bytes)
{
    return test::modelLoadError(bytes);
}

} // namespace

TEST_CASE("deepseek32's cache: the MLA latent and the indexer's key of every token, in mla only")
{
    auto model = loadModel(testModel(), { .threads = 1 });
    REQUIRE(model->kvModes() == std::vector<KvMode> { KvMode::Mla });
    CHECK_THROWS_AS(model->makeKvCache(KvModeSpec::parse("full"), 64), Error);
    auto cache = model->makeKvCache(KvModeSpec::parse("mla"), 64);
    const HParams &hp = model->hparams();
    REQUIRE(cache->nLayers() == hp.nLayers);
    REQUIRE(cache->nStores() == 2 * hp.nLayers);
    for (std::int64_t il = 0; il < hp.nLayers; ++il) {
        const std::int64_t rows = cache->findStore(il, KvPart::Attention);
        const std::int64_t keys = cache->findStore(il, KvPart::IndexerKeys);
        REQUIRE(rows >= 0);
        REQUIRE(keys >= 0);
        CHECK(cache->plan(rows).layout.bytesPerTokenLayer() == std::uint64_t(hp.kvLoraRank + hp.qkRopeHeadDim) * 2);
        CHECK(cache->plan(keys).layout.bytesPerTokenLayer() == std::uint64_t(hp.indexerHeadDim) * 2);
        CHECK(cache->plan(keys).name() == "indexer");
    }

    // `needlework kv --model` on the file: mla alone, the indexer's keys counted apart.
    const auto figures = kvModeFigures(HParams::fromGguf(*testModel()), 1000);
    REQUIRE(figures.size() == 1);
    REQUIRE(figures[0].kinds.size() == 2);
    CHECK(figures[0].kinds[0].kind == "full");
    CHECK(figures[0].kinds[1].kind == "indexer");
    CHECK(figures[0].kinds[1].used == std::uint64_t(hp.nLayers) * 1000 * std::uint64_t(hp.indexerHeadDim) * 2);
}

TEST_CASE("deepseek32 refuses malformed indexer metadata and a missing indexer tensor")
{
    CHECK(loadError(rewritten([](GgufWriter &) {})).empty()); // as written, it loads

    std::string message = loadError(rewritten([](GgufWriter &) {}, "blk.1.indexer.attn_k.weight"));
    CHECK(message.find("blk.1.indexer.attn_k.weight") != std::string::npos);

    message = loadError(rewritten([](GgufWriter &w) { w.setUInt32("deepseek32.attention.indexer.key_length", 48); }));
    CHECK(message.find("not a multiple of 64") != std::string::npos);

    message = loadError(rewritten([](GgufWriter &w) { w.setUInt32("deepseek32.attention.indexer.top_k", 0); }));
    CHECK(message.find("top_k") != std::string::npos);
    message = loadError(rewritten([](GgufWriter &w) { w.setInt64("deepseek32.attention.indexer.top_k", 1ll << 32); }));
    CHECK(message.find("top_k up to 2147483647") != std::string::npos);

    // Head dims at the ends of int64 (found by fuzz_model with UBSan: the nope width was computed
    // by a subtraction that overflowed before the check).
    for (const std::int64_t keyLength :
        { std::numeric_limits<std::int64_t>::min(), std::int64_t(-16), std::int64_t(0) }) {
        CAPTURE(keyLength);
        message = loadError(
            rewritten([keyLength](GgufWriter &w) { w.setInt64("deepseek32.attention.key_length_mla", keyLength); }));
        CHECK(message.find("leaves no room beside the rope dims") != std::string::npos);
    }
    message = loadError(rewritten([](GgufWriter &w) {
        w.setInt64("deepseek32.rope.dimension_count", std::numeric_limits<std::int64_t>::min());
    }));
    CHECK(message.find("leaves no room beside the rope dims") != std::string::npos);
    // Wide enough to overflow the graph's int sums (the campaign's next find: 2147483616 + 32).
    message
        = loadError(rewritten([](GgufWriter &w) { w.setInt64("deepseek32.attention.key_length_mla", 2147483616); }));
    CHECK(message.find("must be at most 65536") != std::string::npos);
    // The fuzzer's sixth find: INT64_MIN shared experts times the expert width.
    message = loadError(rewritten(
        [](GgufWriter &w) { w.setInt64("deepseek32.expert_shared_count", std::numeric_limits<std::int64_t>::min()); }));
    CHECK(message.find("expert_shared_count") != std::string::npos);
    message = loadError(
        rewritten([](GgufWriter &w) { w.setInt64("deepseek32.attention.q_lora_rank", std::int64_t(1) << 40); }));
    CHECK(message.find("low ranks") != std::string::npos);
}

TEST_CASE("deepseek32: a top_k above the cache's capacity selects every key, with scratch for the capacity only")
{
    // Found by fuzz_model: top_k 2^31 - 1 sized [tokens, top_k] ints of scratch (GBs) for a
    // 4-row cache; llama.cpp selects min(n_kv, top_k). All keys are chosen either way, so the
    // logits equal those of the file's own top_k (which is above 4 too).
    const std::vector<std::int32_t> tokens = { 1, 5, 9 }, positions = { 0, 1, 2 };
    std::vector<float> expected, huge;
    for (const bool big : { false, true }) {
        const auto bytes = rewritten([&](GgufWriter &w) {
            if (big)
                w.setUInt32("deepseek32.attention.indexer.top_k", 0x7fffffff);
        });
        auto model
            = loadModel(std::shared_ptr<const GgufFile>(GgufFile::fromMemory(bytes, "t.gguf")), { .threads = 1 });
        auto cache = model->makeKvCache(KvModeSpec::parse("mla"), 4);
        model->forward(tokens, positions, *cache, LogitsFor::All, big ? huge : expected);
    }
    REQUIRE(expected.size() == huge.size());
    CHECK(expected == huge);
}
