// deepseek4 (DeepSeek V4) beyond the fidelity test: the cache's stores per layer kind (window
// rows everywhere, CSA entries with their indexer keys, HCA entries, the compressors' rings) with
// their exact bytes; a batch split anywhere gives the logits of one whole batch (the rings carry
// a block's pending tokens across batches); malformed V4 metadata and a missing indexer tensor
// are refused in one line naming what is wrong.
#include "common/error.h"
#include "engine/gguf_file.h"
#include "engine/gguf_writer.h"
#include "engine/hparams.h"
#include "engine/kv_cache.h"
#include "engine/model.h"
#include "tests/support/model_edit.h"
#include "tests/support/test_data.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>
#include <string>

using namespace nw;

namespace {

std::shared_ptr<const GgufFile> testModel()
{
    return GgufFile::open(test::sourceDir() / "tests/data/models/deepseek4-f32.gguf");
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

TEST_CASE("deepseek4's cache: a store per kind and layer, each with its exact bytes")
{
    // The test model (tools/make_test_models.py): layers of ratio 0, 4 and 128; a latent row of
    // 128, indexer keys of 64, a window of 32 tokens.
    auto model = loadModel(testModel(), { .threads = 1 });
    REQUIRE(model->kvModes() == std::vector<KvMode> { KvMode::Mla });
    CHECK_THROWS_AS(model->makeKvCache(KvModeSpec::parse("full"), 256), Error);
    auto cache = model->makeKvCache(KvModeSpec::parse("mla"), 256);
    REQUIRE(cache->nLayers() == 3);
    REQUIRE(cache->nStores() == 1 + 5 + 3);
    const std::int64_t tokens = 200;
    struct Expected {
        std::int64_t layer;
        KvPart part;
        std::string_view name;
        std::uint64_t bytes; // after `tokens` tokens
    };
    const Expected expected[] = {
        { 0, KvPart::Attention, "window", 32 * 128 * 2 }, // the last 32 latent rows, f16
        { 1, KvPart::Attention, "window", 32 * 128 * 2 },
        { 1, KvPart::Entries, "csa", 50 * 128 * 2 }, // 200 / 4 entries
        { 1, KvPart::AttentionPool, "state", 8 * (2 * 2 * 128) * 4 }, // two blocks of [kv | score] × 2 halves, f32
        { 1, KvPart::IndexerKeys, "indexer", 50 * 64 * 2 },
        { 1, KvPart::IndexerPool, "state", 8 * (2 * 2 * 64) * 4 },
        { 2, KvPart::Attention, "window", 32 * 128 * 2 },
        { 2, KvPart::Entries, "hca", 1 * 128 * 2 }, // 200 / 128 entries
        { 2, KvPart::AttentionPool, "state", 128 * (2 * 128) * 4 },
    };
    for (const Expected &e : expected) {
        CAPTURE(e.layer);
        CAPTURE(e.name);
        const std::int64_t store = cache->findStore(e.layer, e.part);
        REQUIRE(store >= 0);
        CHECK(cache->plan(store).name() == e.name);
        CHECK(cache->plan(store).bytesFor(tokens) == e.bytes);
    }
    CHECK(cache->findStore(0, KvPart::Entries) < 0);
    CHECK(cache->findStore(2, KvPart::IndexerKeys) < 0);
}

TEST_CASE("deepseek4: a batch split anywhere gives the logits of one batch")
{
    // 150 tokens cross the 128-token HCA block and 37 CSA blocks; the pieces end inside blocks,
    // so the rings carry pending tokens (and CSA's previous block) from batch to batch.
    auto model = loadModel(testModel(), { .threads = 2 });
    std::vector<std::int32_t> tokens(150), positions(150);
    for (std::size_t i = 0; i < tokens.size(); ++i)
        tokens[i] = std::int32_t(1 + (i * 37) % 500);
    std::iota(positions.begin(), positions.end(), 0);
    const KvModeSpec mla = KvModeSpec::parse("mla");
    std::vector<float> whole;
    auto cache = model->makeKvCache(mla, 256);
    model->forward(tokens, positions, *cache, LogitsFor::All, whole);

    const std::size_t nVocab = std::size_t(model->hparams().nVocab);
    std::vector<float> pieces, logits;
    cache = model->makeKvCache(mla, 256);
    for (std::size_t start = 0, piece = 1; start < tokens.size(); start += piece, piece = piece * 2 % 13 + 1) {
        const std::size_t n = std::min(piece, tokens.size() - start);
        model->forward(std::span(tokens).subspan(start, n), std::span(positions).subspan(start, n), *cache,
            LogitsFor::All, logits);
        pieces.insert(pieces.end(), logits.begin(), logits.end());
    }
    REQUIRE(pieces.size() == whole.size());
    REQUIRE(whole.size() == tokens.size() * nVocab);
    double worst = 0;
    for (std::size_t i = 0; i < whole.size(); ++i)
        worst = std::max(worst, std::fabs(double(whole[i]) - pieces[i]) / (1 + std::fabs(double(whole[i]))));
    MESSAGE("largest relative difference " << worst);
    CHECK(worst < 1e-4);
}

TEST_CASE("deepseek4 refuses malformed V4 metadata and a missing indexer tensor")
{
    CHECK(loadError(rewritten([](GgufWriter &) {})).empty()); // as written, it loads

    const std::int32_t shorter[] = { 0, 4 };
    std::string message
        = loadError(rewritten([&](GgufWriter &w) { w.setInt32Array("deepseek4.attention.compress_ratios", shorter); }));
    CHECK(message.find("lists 2 compression ratios for 3 layers") != std::string::npos);

    const std::int32_t unknown[] = { 0, 4, 64 };
    message
        = loadError(rewritten([&](GgufWriter &w) { w.setInt32Array("deepseek4.attention.compress_ratios", unknown); }));
    CHECK(message.find("gives layer 2 the ratio 64") != std::string::npos);

    message = loadError(rewritten([](GgufWriter &) {}, "blk.1.indexer.proj.weight"));
    CHECK(message.find("blk.1.indexer.proj.weight") != std::string::npos);
    message = loadError(rewritten([](GgufWriter &) {}, "blk.1.indexer_compressor_ape.weight"));
    CHECK(message.find("blk.1.indexer_compressor_ape.weight") != std::string::npos);
    message = loadError(rewritten([](GgufWriter &) {}, "blk.0.ffn_gate_tid2eid.weight"));
    CHECK(message.find("blk.0.ffn_gate_tid2eid.weight") != std::string::npos);

    // A block_count that leaves a layer out: its tensors are not taken for multi-token prediction.
    message = loadError(rewritten([](GgufWriter &w) { w.setUInt32("deepseek4.block_count", 2); }));
    CHECK(message.find("wrong number of tensors") != std::string::npos);

    message = loadError(rewritten([](GgufWriter &w) { w.setUInt32("deepseek4.expert_gating_func", 2); }));
    CHECK(message.find("sqrt-softplus") != std::string::npos);
    message = loadError(rewritten([](GgufWriter &w) { w.setUInt32("deepseek4.attention.output_group_count", 3); }));
    CHECK(message.find("do not split into 3 output groups") != std::string::npos);
    message = loadError(rewritten([](GgufWriter &w) { w.setUInt32("deepseek4.hash_layer_count", 4); }));
    CHECK(message.find("hash_layer_count 4 does not fit 3 layers") != std::string::npos);
    message = loadError(rewritten([](GgufWriter &w) { w.setUInt32("deepseek4.attention.indexer.key_length", 48); }));
    CHECK(message.find("multiple of 64") != std::string::npos);
}
