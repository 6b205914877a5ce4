// KV eviction `+window:W+sinks:S` (StreamingLLM): the grammar and its refusals, the plan (global
// layers become windows with sink rows), MemoryStats against a count of blocks by hand, and a
// tiny llama's logits against the float64 reference attending over exactly the sinks and the
// window, each token with the RoPE of its original position.
#include "common/error.h"
#include "engine/arch_table.h"
#include "engine/gguf_file.h"
#include "engine/hparams.h"
#include "engine/kv_cache.h"
#include "engine/kv_snapshot.h"
#include "engine/model.h"
#include "tests/engine/kv_test_model.h"
#include "tests/engine/reference/reference_llama.h"
#include "tests/engine/reference/tiny_llama.h"
#include "tests/support/test_data.h"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <numeric>
#include <string>
#include <vector>

using namespace nw;

namespace {

// Blocks of 64 rows a window store keeps after `tokens` are committed, counted one block at a
// time: those holding a position the next query reads (a sink, or its window) below `tokens`.
std::int64_t blocksByHand(std::int64_t tokens, std::int64_t window, std::int64_t sinks)
{
    std::int64_t held = 0;
    for (std::int64_t b = 0; b * 64 < tokens; ++b) {
        bool needed = false;
        for (std::int64_t p = b * 64; p < std::min(tokens, b * 64 + 64); ++p)
            needed = needed || p < sinks || p > tokens - window; // the query at `tokens` sees p > tokens - W
        held += needed;
    }
    return held;
}

void checkRefused(const char *text, const char *why)
{
    CAPTURE(text);
    try {
        KvModeSpec::parse(text);
        FAIL("parsed");
    } catch (const Error &e) {
        const std::string message = e.what();
        CAPTURE(message);
        CHECK(message.find(fmt::format("'{}'", text)) != std::string::npos);
        CHECK(message.find(why) != std::string::npos);
        CHECK(message.find(kKvModeGrammar) != std::string::npos);
        CHECK(message.find('\n') == std::string::npos);
    }
}

std::vector<std::int32_t> iota(int from, int n)
{
    std::vector<std::int32_t> p(static_cast<std::size_t>(n));
    std::iota(p.begin(), p.end(), from);
    return p;
}

// max |a - b| over a row / max |b|.
double relativeError(std::span<const float> got, const std::vector<double> &want)
{
    double maxDiff = 0.0, maxRef = 0.0;
    for (std::size_t i = 0; i < want.size(); ++i) {
        maxDiff = std::max(maxDiff, std::abs(static_cast<double>(got[i]) - want[i]));
        maxRef = std::max(maxRef, std::abs(want[i]));
    }
    return maxDiff / maxRef;
}

double relativeError(const std::vector<double> &got, const std::vector<double> &want)
{
    const std::vector<float> f(got.begin(), got.end());
    return relativeError(std::span<const float>(f), want);
}

} // namespace

TEST_CASE("window and sinks parse, print canonically and round-trip")
{
    struct Row {
        const char *text;
        std::int64_t window, sinks;
        const char *canonical;
    };
    const Row rows[] = {
        { "full+window:256+sinks:4", 256, 4, "full+window:256+sinks:4" },
        { "full+sinks:4+window:256", 256, 4, "full+window:256+sinks:4" },
        { "full+window:64", 64, 0, "full+window:64" },
        { "full+q8+window:4096+sinks:4", 4096, 4, "full+q8+window:4096+sinks:4" },
        { "full+window:4096+sinks:4+protect:2+q8/tq3", 4096, 4, "full+q8/tq3+protect:2+window:4096+sinks:4" },
        { "latent:32+tq3+window:128+sinks:8", 128, 8, "latent:32+tq3+window:128+sinks:8" },
        { "full+q4:plain+window:300", 300, 0, "full+q4:plain+window:300" },
        { "full", 0, 0, "full" },
    };
    for (const Row &row : rows) {
        CAPTURE(row.text);
        const KvModeSpec spec = KvModeSpec::parse(row.text);
        CHECK(spec.window == row.window);
        CHECK(spec.sinks == row.sinks);
        CHECK(spec.evicts() == (row.window > 0));
        CHECK(spec.toString() == row.canonical);
        CHECK(KvModeSpec::parse(spec.toString()).toString() == row.canonical);
    }
    CHECK(kKvModeGrammar.find("window:W") != std::string_view::npos);
    CHECK(kKvModeGrammar.find("sinks:S") != std::string_view::npos);
}

TEST_CASE("bad eviction strings get one line with the grammar and the reason")
{
    checkRefused("full+window:0", "window:W must be a positive integer, not '0'");
    checkRefused("full+window:-4", "window:W must be a positive integer");
    checkRefused("full+window", "window:W must be a positive integer, not ''");
    checkRefused("full+window:8k", "window:W must be a positive integer, not '8k'");
    checkRefused("full+sinks:4", "need +window:W");
    checkRefused("full+window:64+window:32", "window given twice");
    checkRefused("full+window:64+sinks:4+sinks:2", "sinks given twice");
    checkRefused("full+window:64+sinks:0", "sinks:S must be a positive integer, not '0'");
    checkRefused("mla+window:64", "MLA attention");
    checkRefused("full+pool:8", "not implemented yet");
}

TEST_CASE("eviction cannot apply where attention reads every latent row, and says why")
{
    const HParams v2 = test::deepseekV2Params();
    for (const char *mode : { "full+window:64", "full+window:64+sinks:4" }) {
        CAPTURE(mode);
        try {
            kvCachePlan(v2, KvModeSpec::parse(mode));
            FAIL("planned");
        } catch (const Error &e) {
            const std::string message = e.what();
            CAPTURE(message);
            CHECK(message.find("MLA") != std::string::npos);
            CHECK(message.find("deepseek2") != std::string::npos);
            CHECK(message.find("MHA/GQA") != std::string::npos);
        }
    }
    CHECK_NOTHROW(kvCachePlan(v2, KvModeSpec::parse("mla")));
    CHECK_NOTHROW(kvCachePlan(test::slidingWindowParams(), KvModeSpec::parse("full+q8+window:64+sinks:4")));
    // Eviction does not change what a layout can hold: an odd rank is still refused.
    CHECK_THROWS_AS(kvCachePlan(test::slidingWindowParams(), KvModeSpec::parse("latent:33+window:64")), Error);
}

TEST_CASE("the plan: global layers become windows with sinks; a model's own window layers keep theirs")
{
    const HParams hp = test::slidingWindowParams();
    const auto plan = kvCachePlan(hp, KvModeSpec::parse("full+q8+protect:1+window:150+sinks:70"));
    REQUIRE(plan.size() == 4);
    for (std::int64_t il : { 0, 2 }) {
        const KvLayerPlan &p = plan[std::size_t(il)];
        CHECK(p.kind == KvLayerKind::Window);
        CHECK(p.window == 150);
        CHECK(p.sinks == 70);
    }
    for (std::int64_t il : { 1, 3 }) {
        const KvLayerPlan &p = plan[std::size_t(il)];
        CHECK(p.kind == KvLayerKind::Window);
        CHECK(p.window == 100);
        CHECK(p.sinks == 0);
    }
    // +protect:1 still keeps layers 0 and 3 in f16: 2 KV heads × 32 × 2 bytes, K and V.
    CHECK(plan[0].layout.bytesPerTokenLayer() == 2 * 2 * 32 * 2);
    CHECK(plan[2].layout.bytesPerTokenLayer() == 2 * 2 * 34); // Q8_0: 34 bytes per 32
    // S + W rows once the sequence is longer than both.
    CHECK(plan[0].rowsFor(100) == 100);
    CHECK(plan[0].rowsFor(220) == 220);
    CHECK(plan[0].rowsFor(5000) == 220);
    CHECK(plan[2].bytesFor(5000) == 220 * 2 * 2 * 34);
}

TEST_CASE("MemoryStats count exactly the sink and window rows; reserved blocks as counted by hand")
{
    const HParams hp = test::slidingWindowParams();
    const std::int64_t window = 150, sinks = 70; // sinks over two blocks; the window over three or four
    const auto plan = kvCachePlan(hp, KvModeSpec::parse("full+window:150+sinks:70"));
    KvCache cache(plan, 3000, mhaF16BytesPerTokenLayer(hp));
    const std::uint64_t row = 2 * 2 * 32 * 2; // K and V, 2 KV heads of 32, f16
    REQUIRE(plan[0].layout.bytesPerTokenLayer() == row);
    const std::uint64_t block = 64 * row; // 16 KiB: whole pages already
    REQUIRE(cache.blockStride(0) == block);
    std::int64_t tokens = 0;
    for (std::int64_t batch : { 1, 30, 38, 64, 1, 200, 7, 1, 1, 300, 64, 5, 700 }) {
        cache.reserve(tokens + batch);
        test::writePatternRows(cache, tokens, tokens + batch);
        tokens += batch;
        cache.commit(tokens);
        CAPTURE(tokens);
        const MemoryStats s = cache.memoryStats();
        const std::uint64_t evictedRows = std::uint64_t(std::min<std::int64_t>(tokens, window + sinks));
        const std::uint64_t slidingRows = std::uint64_t(std::min<std::int64_t>(tokens, 100));
        CHECK(s.layers[0].used == evictedRows * row);
        CHECK(s.layers[2].used == evictedRows * row);
        CHECK(s.layers[1].used == slidingRows * row);
        CHECK(s.kvBytesUsed == 2 * (evictedRows + slidingRows) * row);
        CHECK(s.layers[0].reserved == std::uint64_t(blocksByHand(tokens, window, sinks)) * block);
        CHECK(s.layers[1].reserved == std::uint64_t(blocksByHand(tokens, 100, 0)) * block);
        CHECK(s.kvBytesReserved == cache.allocatedBytes());
        CHECK(s.kvBytesReserved == KvCache::reservedBytesFor(plan, tokens));
        CHECK(test::residentCacheBytes(cache) <= s.kvBytesReserved);
        // The next token costs a row in a layer only while it keeps every token.
        CHECK(s.bytesPerToken == std::uint64_t((tokens + 1 <= 100 ? 2 : 0) + (tokens + 1 <= 220 ? 2 : 0)) * row);
        // Every row the next query reads (sinks and window) holds what was written there.
        int wrong = 0;
        for (std::int64_t l : { 0, 2 })
            for (std::int64_t p = 0; p < tokens; ++p)
                if (p < sinks || p > tokens - window)
                    wrong += !test::holdsPattern(cache, l, p);
        CHECK(wrong == 0);
    }
    // The figures `needlework kv` prints: S + W rows per evicted layer, the window per sliding one.
    const KvModeFigures f = kvModeFiguresFor(hp, KvModeSpec::parse("full+window:150+sinks:70"), 5000);
    CHECK(f.usedBytes == (2 * 220 + 2 * 100) * row);
    REQUIRE(f.kinds.size() == 1);
    CHECK(f.kinds[0].kind == "window");
    CHECK(f.kinds[0].layers == 4);
    // 5000 tokens: sinks in blocks 0-1, the window 4851..4999 in blocks 75-78; sliding: 4901.. in 76-78.
    CHECK(f.reservedBytes == (2 * (2 + 4) + 2 * 3) * block);
}

TEST_CASE("prefix reuse with sinks: continue inside the window, start over before it")
{
    const HParams hp = test::slidingWindowParams();
    KvCache cache(kvCachePlan(hp, KvModeSpec::parse("full+window:150+sinks:4")), 2000, mhaF16BytesPerTokenLayer(hp));
    cache.reserve(1000);
    cache.commit(1000);
    // Kept: block 0 (sinks) and, for the query at 1000, positions 851.. (blocks 13..15); the
    // model's window layers positions 901.. (blocks 14..15).
    CHECK(cache.memoryStats().layers[0].reserved == 4 * cache.blockStride(0));
    // A query at 995 sees 0..3 and 846..995 (block 13, from 832, is held), the model's window
    // layers 896..995 (block 14).
    cache.truncate(995);
    CHECK(cache.tokens() == 995);
    cache.reserve(1000);
    cache.commit(1000);
    cache.truncate(700); // its window was dropped: nothing can be reused, sinks included
    CHECK(cache.tokens() == 0);
    CHECK(cache.memoryStats().kvBytesReserved == 0);
    CHECK(cache.allocatedBytes() == 0);
    cache.adopt(1000); // a cache made to hold 1000 tokens keeps the same blocks as one that ran
    CHECK(cache.memoryStats().kvBytesReserved == KvCache::reservedBytesFor(kvCachePlan(hp, cache.layout().spec), 1000));
    CHECK(cache.memoryStats().layers[0].reserved == 4 * cache.blockStride(0));
}

TEST_CASE("logits with window and sinks match the float64 reference over exactly those tokens")
{
    const std::filesystem::path dir = test::scratchDir("kv_evict_model");
    std::filesystem::remove_all(dir);
    ::setenv("XDG_CACHE_HOME", dir.c_str(), 1); // latent:R factors
    test::TinyLlamaSpec spec;
    spec.nKvHeads = 2; // GQA: heads of 16, K/V width 32
    spec.nCtx = 512;
    spec.seed = 11;
    spec.weightScale = 1.5f; // sharper attention, so which tokens are seen shows in the logits
    const auto bytes = test::makeTinyLlama(spec);
    const std::shared_ptr<GgufFile> file = GgufFile::fromMemory(bytes, "tiny.gguf");
    ModelOptions options;
    options.threads = 2;
    const auto model = loadModel(file, options);
    const int n = 260;
    std::vector<std::int32_t> tokens(n);
    for (int t = 0; t < n; ++t)
        tokens[std::size_t(t)] = (t * 37 + (t * t) % 11 + 5) % int(model->hparams().nVocab);
    const std::size_t vocab = std::size_t(model->hparams().nVocab);
    const auto fullRef = test::referenceLlamaLogits(*file, tokens);

    struct Case {
        const char *mode;
        TensorType rowType;
        double tolerance; // relative to the largest reference logit
    };
    // W 100 + S 8: decode steps see up to 108 tokens, which the CPU kernel splits in slices;
    // W 30 + S 3: the window crosses block boundaries every few steps.
    const Case cases[] = {
        { "full+window:100+sinks:8", TensorType::F32, 1e-4 },
        { "full+window:30+sinks:3", TensorType::F32, 1e-4 },
        { "full+window:40", TensorType::F32, 1e-4 },
        { "latent:32+window:100+sinks:8", TensorType::F32, 1e-4 }, // full rank: exact
        { "full+window:100+sinks:8", TensorType::F16, 5e-3 },
    };
    for (const Case &c : cases) {
        KvModeSpec kv = KvModeSpec::parse(c.mode);
        kv.rowType = c.rowType;
        CAPTURE(kv.toString());
        CAPTURE(tensorTypeName(c.rowType));
        const auto want = test::referenceLlamaLogits(*file, tokens, false, kv.window, kv.sinks);
        // The reference without eviction differs by far more than the tolerance (a kernel that
        // ignored the window could not pass).
        CHECK(relativeError(fullRef.back(), want.back()) > 100 * c.tolerance);

        // A prefill of 150 tokens, chunks of 7, then one token at a time.
        auto cache = model->makeKvCache(kv, 512);
        std::vector<float> all, logits;
        model->forward(std::span(tokens).first(150), iota(0, 150), *cache, LogitsFor::All, all);
        double worst = 0;
        for (int t = 0; t < 150; ++t)
            worst = std::max(worst,
                relativeError(
                    std::span<const float>(all).subspan(std::size_t(t) * vocab, vocab), want[std::size_t(t)]));
        for (int start = 150; start < n;) {
            const int len = start < 192 ? 7 : 1;
            model->forward(std::span(tokens).subspan(std::size_t(start), std::size_t(len)), iota(start, len), *cache,
                LogitsFor::Last, logits);
            worst = std::max(worst, relativeError(logits, want[std::size_t(start + len - 1)]));
            start += len;
        }
        MESSAGE(fmt::format(
            "{} ({} rows): max relative logit error {:.3g}", kv.toString(), tensorTypeName(c.rowType), worst));
        CHECK(worst < c.tolerance);
        const MemoryStats s = cache->memoryStats();
        CHECK(s.kvBytesUsed
            == 2 * std::uint64_t(std::min<std::int64_t>(n, kv.window + kv.sinks))
                * cache->layout().bytesPerTokenLayer());
    }
}

TEST_CASE("quantized rows with eviction: the quantization error of the same rows without eviction")
{
    test::TinyLlamaSpec spec;
    spec.nEmbd = 128; // heads of 32: whole q8 groups
    spec.nKvHeads = 2;
    spec.nCtx = 512;
    spec.seed = 12;
    const auto bytes = test::makeTinyLlama(spec);
    const std::shared_ptr<GgufFile> file = GgufFile::fromMemory(bytes, "tiny.gguf");
    ModelOptions options;
    options.threads = 2;
    const auto model = loadModel(file, options);
    const int n = 200;
    std::vector<std::int32_t> tokens(n);
    for (int t = 0; t < n; ++t)
        tokens[std::size_t(t)] = (t * 29 + 7) % int(model->hparams().nVocab);
    const std::size_t vocab = std::size_t(model->hparams().nVocab);
    const auto evictedRef = test::referenceLlamaLogits(*file, tokens, false, 64, 4);
    const auto fullRef = test::referenceLlamaLogits(*file, tokens);
    // The worst relative error of a mode's logits at positions 100.. against a reference.
    const auto worstError = [&](const std::string &mode, const std::vector<std::vector<double>> &want) {
        auto cache = model->makeKvCache(KvModeSpec::parse(mode), 512);
        std::vector<float> all;
        model->forward(tokens, iota(0, n), *cache, LogitsFor::All, all);
        double worst = 0;
        for (int t = 100; t < n; ++t)
            worst = std::max(worst,
                relativeError(
                    std::span<const float>(all).subspan(std::size_t(t) * vocab, vocab), want[std::size_t(t)]));
        return worst;
    };
    for (const std::string precision : { "q8", "q8/tq4" }) {
        CAPTURE(precision);
        const double plain = worstError("full+" + precision, fullRef);
        const double evicted = worstError("full+" + precision + "+window:64+sinks:4", evictedRef);
        const double fromFull = worstError("full+" + precision + "+window:64+sinks:4", fullRef);
        MESSAGE(fmt::format("{}: {:.3g} without eviction, {:.3g} with (against the evicted reference; {:.3g} against "
                            "full attention)",
            precision, plain, evicted, fromFull));
        CHECK(evicted < 2 * plain + 1e-3); // measured 1.2e-3 against 9.8e-4 (q8), 1.7e-2 against 1.8e-2 (q8/tq4)
        CHECK(fromFull > 2 * evicted); // and eviction moves the logits further than quantizing does
    }
}

TEST_CASE("a snapshot of a +sinks cache is refused with the reason")
{
    const HParams hp = test::slidingWindowParams();
    KvCache cache(kvCachePlan(hp, KvModeSpec::parse("full+window:64+sinks:4")), 256, mhaF16BytesPerTokenLayer(hp));
    cache.reserve(10);
    cache.commit(10);
    std::vector<std::int32_t> tokens(10, 1);
    try {
        saveKvSnapshot(cache, tokens, {}, test::scratchDir("kv_evict_snapshot") / "x.nwkv", 0.0);
        FAIL("saved");
    } catch (const Error &e) {
        CHECK(std::string(e.what()).find("+sinks") != std::string::npos);
    }
}

TEST_CASE("Llama 3.1 8B at 128K tokens in the planner: 4 sinks and a 4096-token window per layer")
{
    const HParams hp = requireKnownArchitecture("Llama-3.1-8B").hp;
    const std::uint64_t row = 8 * 128 * 2 * 2; // 8 KV heads of 128, K and V, f16: 4 KiB
    const KvModeFigures f = kvModeFiguresFor(hp, KvModeSpec::parse("full+window:4096+sinks:4"), 128 * 1024);
    CHECK(f.usedBytes == 32ull * (4096 + 4) * row); // 537,395,200 bytes against 17,179,869,184 for full
    // Per layer: the sinks' block, and for the query at 131072 positions 126977.. in blocks 1984..2047.
    CHECK(f.reservedBytes == 32ull * (1 + 64) * 64 * row);
    CHECK(kvModeFiguresFor(hp, KvModeSpec::parse("full"), 128 * 1024).usedBytes == 32ull * 128 * 1024 * row);
}
