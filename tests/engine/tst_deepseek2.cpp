// The deepseek2 graph (engine/models/deepseek2.cpp) against the float64 reference
// (tests/engine/reference_deepseek2) on tiny random models of every variant: prefill in both MLA
// forms, token-by-token decode, the full-K/V cache mode, cache bytes per token, greedy decoding.
#include "common/error.h"
#include "engine/gguf_file.h"
#include "engine/hparams.h"
#include "engine/kv_cache.h"
#include "engine/models/deepseek2.h"
#include "engine/generator.h"
#include "engine/tokenizer.h"
#include "tests/engine/reference_deepseek2/deepseek2_reference.h"
#include "tests/engine/tiny_models_deepseek2.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>

namespace {

using nw::test::TinyDeepseek2;
using nw::test::TinyDeepseek2Spec;

struct Loaded {
    TinyDeepseek2 tiny;
    std::shared_ptr<const nw::GgufFile> file;
    nw::HParams hp;
};

Loaded load(const TinyDeepseek2Spec &spec)
{
    Loaded l;
    l.tiny = nw::test::makeTinyDeepseek2(spec);
    l.file = nw::GgufFile::fromMemory(l.tiny.gguf, "tiny-" + spec.name + ".gguf");
    l.hp = nw::HParams::fromGguf(*l.file);
    return l;
}

std::unique_ptr<nw::Model> makeModel(const Loaded &l, nw::MlaForm form, int threads = 2)
{
    nw::Deepseek2Options options;
    options.mlaForm = form;
    return nw::makeDeepseek2Model(l.file, l.hp, nw::makeCpuBackend(threads), options);
}

std::vector<std::int32_t> prompt(int n, std::uint32_t seed, int nVocab)
{
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> dist(0, nVocab - 1);
    std::vector<std::int32_t> ids(static_cast<std::size_t>(n));
    for (auto &id : ids)
        id = dist(rng);
    return ids;
}

// max |got - want| over one row, relative to the row's largest |want|.
double relativeError(const float *got, const double *want, int n)
{
    double peak = 0, err = 0;
    for (int i = 0; i < n; ++i) {
        peak = std::max(peak, std::abs(want[i]));
        err = std::max(err, std::abs(double(got[i]) - want[i]));
    }
    return err / peak;
}

// Cache rows in f32 for the numerical comparisons: f16 rows round c_kv and k_rope by ~5e-4,
// which is the cache's precision, not the graph's (the byte-count test covers f16 rows).
nw::KvModeSpec exactKv(const char *mode)
{
    nw::KvModeSpec spec = nw::KvModeSpec::parse(mode);
    spec.rowType = nw::TensorType::F32;
    return spec;
}

std::vector<float> runAll(nw::Model &model, nw::KvCache &cache, std::span<const std::int32_t> tokens, int start)
{
    std::vector<std::int32_t> positions(tokens.size());
    for (std::size_t i = 0; i < tokens.size(); ++i)
        positions[i] = start + std::int32_t(i);
    std::vector<float> logits;
    model.forward(tokens, positions, cache, nw::LogitsFor::All, logits);
    return logits;
}

} // namespace

TEST_CASE("deepseek2 logits match the float64 reference: prefill, decode, both cache modes")
{
    for (const TinyDeepseek2Spec &spec : nw::test::tinyDeepseek2Variants()) {
        CAPTURE(spec.name);
        const Loaded l = load(spec);
        const int nVocab = int(l.hp.nVocab);
        const std::vector<std::int32_t> tokens = prompt(13, spec.seed, nVocab);
        // Q8_0 weights meet activations the CPU kernels round to Q8_0 (as ggml's do): the
        // reference rounds the same matmul inputs, at the places each MLA form has them.
        nw::test::ds2ref::Weights reference = l.tiny.weights;
        reference.config.q8Activations = spec.type == nw::TensorType::Q8_0;
        const std::vector<double> wantExpanded = nw::test::ds2ref::forward(reference, tokens);
        reference.config.absorbedRounding = true;
        const std::vector<double> wantAbsorbed = nw::test::ds2ref::forward(reference, tokens);
        const double tol = 1e-4;
        const int n = int(tokens.size());

        struct Case {
            const char *what;
            nw::MlaForm form;
            const char *kv;
        };
        for (const Case &c : {Case{"mla absorbed", nw::MlaForm::Absorbed, "mla"},
                              Case{"mla expanded", nw::MlaForm::Expanded, "mla"},
                              Case{"mla auto", nw::MlaForm::Auto, "mla"}, Case{"full", nw::MlaForm::Auto, "full"}}) {
            CAPTURE(std::string(c.what));
            // Auto takes the absorbed form for these short batches (see deepseek2.cpp).
            const std::vector<double> &want = c.form == nw::MlaForm::Expanded || std::string(c.kv) == "full"
                ? wantExpanded
                : wantAbsorbed;
            auto model = makeModel(l, c.form);
            // Prefill of the whole prompt, every position scored.
            auto cache = model->makeKvCache(exactKv(c.kv), 128);
            const std::vector<float> all = runAll(*model, *cache, tokens, 0);
            REQUIRE(all.size() == std::size_t(n) * nVocab);
            for (int t = 0; t < n; ++t) {
                CAPTURE(t);
                CHECK(relativeError(all.data() + std::size_t(t) * nVocab, want.data() + std::size_t(t) * nVocab, nVocab)
                      <= tol);
            }
            // Token by token from an empty cache: decode reads everything from the cache.
            auto stepCache = model->makeKvCache(exactKv(c.kv), 128);
            for (int t = 0; t < n; ++t) {
                CAPTURE(t);
                std::vector<float> logits;
                const std::int32_t pos = t;
                model->forward(std::span(tokens).subspan(std::size_t(t), 1), std::span(&pos, 1), *stepCache,
                               nw::LogitsFor::Last, logits);
                CHECK(relativeError(logits.data(), want.data() + std::size_t(t) * nVocab, nVocab) <= tol);
            }
            CHECK(stepCache->tokens() == n);
            // A prefill chunk, then decode the rest.
            auto mixed = model->makeKvCache(exactKv(c.kv), 128);
            runAll(*model, *mixed, std::span(tokens).first(7), 0);
            const std::vector<float> rest = runAll(*model, *mixed, std::span(tokens).subspan(7), 7);
            for (int t = 7; t < n; ++t) {
                CAPTURE(t);
                CHECK(relativeError(rest.data() + std::size_t(t - 7) * nVocab, want.data() + std::size_t(t) * nVocab,
                                    nVocab)
                      <= tol);
            }
        }
    }
}

TEST_CASE("a long prompt across cache blocks: absorbed and expanded prefill agree with the reference")
{
    TinyDeepseek2Spec spec = nw::test::tinyDeepseek2Variants()[2]; // V3-style, YaRN
    const Loaded l = load(spec);
    const int nVocab = int(l.hp.nVocab);
    const std::vector<std::int32_t> tokens = prompt(80, 99, nVocab); // > one 64-token block, past the YaRN original context
    const std::vector<double> want = nw::test::ds2ref::forward(l.tiny.weights, tokens);
    for (nw::MlaForm form : {nw::MlaForm::Absorbed, nw::MlaForm::Expanded}) {
        auto model = makeModel(l, form);
        auto cache = model->makeKvCache(exactKv("mla"), 128);
        const std::vector<float> all = runAll(*model, *cache, tokens, 0);
        for (int t = 0; t < 80; t += 7) {
            CAPTURE(t);
            CHECK(relativeError(all.data() + std::size_t(t) * nVocab, want.data() + std::size_t(t) * nVocab, nVocab)
                  <= 1e-4);
        }
        CHECK(relativeError(all.data() + std::size_t(79) * nVocab, want.data() + std::size_t(79) * nVocab, nVocab)
              <= 1e-4);
    }
}

TEST_CASE("the mla cache holds only c_kv and k_rope: bytes per token")
{
    for (const TinyDeepseek2Spec &spec : nw::test::tinyDeepseek2Variants()) {
        CAPTURE(spec.name);
        const Loaded l = load(spec);
        auto model = makeModel(l, nw::MlaForm::Auto);
        const auto &w = l.tiny.weights.config;
        for (nw::TensorType rowType : {nw::TensorType::F16, nw::TensorType::F32}) {
            nw::KvModeSpec mla = nw::KvModeSpec::parse("mla");
            mla.rowType = rowType;
            const std::size_t element = rowType == nw::TensorType::F16 ? 2 : 4;
            auto cache = model->makeKvCache(mla, 128);
            CHECK(cache->layout().bytesPerTokenLayer() * std::size_t(cache->nLayers())
                  == std::size_t(w.kvLoraRank + w.qkRope) * std::size_t(w.nLayers) * element);
            runAll(*model, *cache, prompt(10, 5, int(l.hp.nVocab)), 0);
            const nw::MemoryStats stats = cache->memoryStats();
            CHECK(stats.bytesPerToken == std::uint64_t(w.kvLoraRank + w.qkRope) * std::uint64_t(w.nLayers) * element);
            CHECK(stats.kvBytesUsed == 10 * stats.bytesPerToken);
        }
        // The full mode caches per-head K (nope + rope) and V, as plain MHA would.
        auto full = model->makeKvCache(nw::KvModeSpec::parse("full"), 128);
        CHECK(full->layout().bytesPerTokenLayer()
              == std::size_t(w.nHeads) * std::size_t(w.qkNope + w.qkRope + w.vHeadDim) * 2);
    }
}

TEST_CASE("DeepSeek-V2-Lite's real dimensions: 31,104 bytes of f16 mla cache per token")
{
    // DeepSeek-V2-Lite config.json: 27 layers, kv_lora_rank 512, qk_rope_head_dim 64.
    nw::HParams hp;
    hp.arch = "deepseek2";
    hp.nLayers = 27;
    hp.nHeads = 16;
    hp.headDimK = 192;
    hp.headDimV = 128;
    hp.kvLoraRank = 512;
    hp.qkRopeHeadDim = 64;
    hp.qkNopeHeadDim = 128;
    const nw::KvLayout layout = nw::KvLayout::forModel(hp, nw::KvModeSpec::parse("mla"));
    CHECK(layout.bytesPerTokenLayer() * 27 == (512 + 64) * 27 * 2);
    CHECK(layout.bytesPerTokenLayer() * 27 == 31104);
}

TEST_CASE("greedy decoding with the cache equals recomputing the whole sequence without it")
{
    for (const TinyDeepseek2Spec &spec : nw::test::tinyDeepseek2Variants()) {
        CAPTURE(spec.name);
        const Loaded l = load(spec);
        auto model = makeModel(l, nw::MlaForm::Auto);
        const int nVocab = int(l.hp.nVocab);
        std::vector<std::int32_t> cached = prompt(6, spec.seed + 1, nVocab);
        std::vector<std::int32_t> uncached = cached;
        auto argmax = [&](const std::vector<float> &logits) {
            return std::int32_t(std::max_element(logits.begin(), logits.end()) - logits.begin());
        };
        auto cache = model->makeKvCache(nw::KvModeSpec::parse("mla"), 128);
        std::vector<float> logits;
        std::vector<std::int32_t> positions(cached.size());
        for (std::size_t i = 0; i < positions.size(); ++i)
            positions[i] = std::int32_t(i);
        model->forward(cached, positions, *cache, nw::LogitsFor::Last, logits);
        for (int step = 0; step < 12; ++step) {
            cached.push_back(argmax(logits));
            const std::int32_t pos = std::int32_t(cached.size() - 1);
            model->forward(std::span(cached).last(1), std::span(&pos, 1), *cache, nw::LogitsFor::Last, logits);
        }
        for (int step = 0; step < 12; ++step) {
            auto fresh = model->makeKvCache(nw::KvModeSpec::parse("mla"), 128);
            std::vector<std::int32_t> pos(uncached.size());
            for (std::size_t i = 0; i < pos.size(); ++i)
                pos[i] = std::int32_t(i);
            model->forward(uncached, pos, *fresh, nw::LogitsFor::Last, logits);
            uncached.push_back(argmax(logits));
        }
        CHECK(cached == uncached);
        // And the reference's greedy choices agree for the F32 variants.
        if (spec.type == nw::TensorType::F32) {
            const std::vector<double> ref = nw::test::ds2ref::forward(l.tiny.weights, cached);
            for (std::size_t t = 5; t + 1 < cached.size(); ++t) {
                const double *row = ref.data() + t * std::size_t(nVocab);
                CHECK(std::max_element(row, row + nVocab) - row == cached[t + 1]);
            }
        }
    }
}

TEST_CASE("loadModel picks the deepseek2 graph; its cache modes are mla (default) and full")
{
    const Loaded l = load(nw::test::tinyDeepseek2Variants()[0]);
    nw::ModelOptions options;
    options.threads = 1;
    auto model = nw::loadModel(l.file, options);
    REQUIRE(model);
    CHECK(model->hparams().arch == "deepseek2");
    CHECK(model->kvModes() == std::vector<nw::KvMode>{nw::KvMode::Mla, nw::KvMode::Full});
    CHECK_THROWS_WITH_AS(model->makeKvCache(nw::KvModeSpec::parse("latent:8"), 64), doctest::Contains("latent"),
                         nw::Error);
}

TEST_CASE("split-layout files: head dims come from key_length_mla / value_length_mla")
{
    // key_length / value_length describe the MQA view of the latent there (kv_lora_rank + rope,
    // kv_lora_rank); the MHA baseline of the meters must use the real per-head dims.
    const TinyDeepseek2Spec spec = nw::test::tinyDeepseek2Variants()[2];
    REQUIRE(spec.splitKvB);
    const Loaded l = load(spec);
    auto model = makeModel(l, nw::MlaForm::Auto);
    const auto &c = l.tiny.weights.config;
    CHECK(model->hparams().headDimK == c.qkNope + c.qkRope);
    CHECK(model->hparams().headDimV == c.vHeadDim);
    CHECK(model->hparams().qkNopeHeadDim == c.qkNope);
    auto cache = model->makeKvCache(nw::KvModeSpec::parse("mla"), 64);
    CHECK(cache->memoryStats().mhaF16BytesPerToken
          == std::uint64_t(c.nLayers) * std::uint64_t(c.nHeads) * std::uint64_t(c.qkNope + c.qkRope + c.vHeadDim) * 2);
}

TEST_CASE("load errors name the file and what is wrong")
{
    TinyDeepseek2Spec spec = nw::test::tinyDeepseek2Variants()[1];
    spec.omitTensor = "blk.1.ffn_up_exps.weight";
    {
        const Loaded l = load(spec);
        CHECK_THROWS_WITH_AS(makeModel(l, nw::MlaForm::Auto), doctest::Contains("blk.1.ffn_up_exps.weight"), nw::Error);
    }
    spec.omitTensor = "blk.0.attn_kv_b.weight";
    {
        const Loaded l = load(spec);
        CHECK_THROWS_WITH_AS(makeModel(l, nw::MlaForm::Auto), doctest::Contains("attn_kv_b"), nw::Error);
    }
    spec.omitTensor.clear();
    spec.gatingFuncOverride = 3;
    {
        const Loaded l = load(spec);
        CHECK_THROWS_WITH_AS(makeModel(l, nw::MlaForm::Auto), doctest::Contains("expert_gating_func"), nw::Error);
    }
    // A token outside the vocabulary is refused before anything runs.
    spec.gatingFuncOverride = -1;
    const Loaded l = load(spec);
    auto model = makeModel(l, nw::MlaForm::Auto);
    auto cache = model->makeKvCache(nw::KvModeSpec::parse("mla"), 64);
    const std::int32_t bad = std::int32_t(l.hp.nVocab), pos = 0;
    std::vector<float> logits;
    CHECK_THROWS_AS(model->forward(std::span(&bad, 1), std::span(&pos, 1), *cache, nw::LogitsFor::Last, logits),
                    nw::Error);
}

TEST_CASE("rewinding the cache: a new continuation from an earlier position matches the reference")
{
    const Loaded l = load(nw::test::tinyDeepseek2Variants()[1]);
    const int nVocab = int(l.hp.nVocab);
    auto model = makeModel(l, nw::MlaForm::Auto);
    auto cache = model->makeKvCache(exactKv("mla"), 128);
    std::vector<std::int32_t> first = prompt(10, 3, nVocab);
    runAll(*model, *cache, first, 0);
    // Keep positions 0..5, replace the rest: the cache drops rows 6.. and recomputes them.
    std::vector<std::int32_t> second(first.begin(), first.begin() + 6);
    const std::vector<std::int32_t> tail = prompt(5, 4, nVocab);
    second.insert(second.end(), tail.begin(), tail.end());
    const std::vector<float> logits = runAll(*model, *cache, tail, 6);
    CHECK(cache->tokens() == 11);
    const std::vector<double> want = nw::test::ds2ref::forward(l.tiny.weights, second);
    for (int t = 6; t < 11; ++t) {
        CAPTURE(t);
        CHECK(relativeError(logits.data() + std::size_t(t - 6) * nVocab, want.data() + std::size_t(t) * nVocab, nVocab)
              <= 1e-4);
    }
}

TEST_CASE("V3 multi-token-prediction layers counted in block_count are not run")
{
    TinyDeepseek2Spec spec = nw::test::tinyDeepseek2Variants()[2];
    spec.nextnLayers = 1;
    const Loaded l = load(spec);
    CHECK(l.hp.nLayers == l.tiny.weights.config.nLayers + 1);
    auto model = makeModel(l, nw::MlaForm::Auto);
    CHECK(model->hparams().nLayers == l.tiny.weights.config.nLayers);
    auto cache = model->makeKvCache(exactKv("mla"), 64);
    CHECK(cache->nLayers() == l.tiny.weights.config.nLayers);
    const std::vector<std::int32_t> tokens = prompt(5, 8, int(l.hp.nVocab));
    const std::vector<float> logits = runAll(*model, *cache, tokens, 0);
    const std::vector<double> want = nw::test::ds2ref::forward(l.tiny.weights, tokens);
    const int nVocab = int(l.hp.nVocab);
    for (int t = 0; t < 5; ++t)
        CHECK(relativeError(logits.data() + std::size_t(t) * nVocab, want.data() + std::size_t(t) * nVocab, nVocab)
              <= 1e-4);
}

TEST_CASE("a Generator runs deepseek2 on the mla cache: chunked prefill, prefix reuse, greedy decode")
{
    const Loaded l = load(nw::test::tinyDeepseek2Variants()[2]);
    const int nVocab = int(l.hp.nVocab);
    auto model = makeModel(l, nw::MlaForm::Auto);
    auto tokenizer = nw::Tokenizer::fromGguf(*l.file);
    nw::KvModeSpec kv = exactKv("mla");
    nw::Generator generator(*model, *tokenizer, kv, 128);

    const std::vector<std::int32_t> first = prompt(20, 21, nVocab);
    std::vector<float> last = generator.prefill(first, 6); // four chunks
    std::vector<double> want = nw::test::ds2ref::forward(l.tiny.weights, first);
    CHECK(relativeError(last.data(), want.data() + std::size_t(19) * nVocab, nVocab) <= 1e-4);

    // Same first 12 tokens, new tail: only the tail is computed.
    std::vector<std::int32_t> second(first.begin(), first.begin() + 12);
    const std::vector<std::int32_t> tail = prompt(5, 22, nVocab);
    second.insert(second.end(), tail.begin(), tail.end());
    last = generator.prefill(second, 6);
    CHECK(generator.lastReusedTokens() == 12);
    CHECK(generator.lastPrefilledTokens() == 5);
    want = nw::test::ds2ref::forward(l.tiny.weights, second);
    CHECK(relativeError(last.data(), want.data() + std::size_t(16) * nVocab, nVocab) <= 1e-4);

    // Greedy generation follows the reference's argmax step by step.
    nw::GenerateOptions options;
    options.maxTokens = 6;
    options.sampler.greedy = true;
    options.addSpecial = false;
    const nw::GenerationResult result = generator.generateFromTokens(second, options);
    REQUIRE(!result.generatedTokens.empty());
    std::vector<std::int32_t> sequence = second;
    for (std::int32_t id : result.generatedTokens) {
        const std::vector<double> ref = nw::test::ds2ref::forward(l.tiny.weights, sequence);
        const double *row = ref.data() + (sequence.size() - 1) * std::size_t(nVocab);
        CHECK(std::max_element(row, row + nVocab) - row == id);
        sequence.push_back(id);
    }
    CHECK(result.memory.bytesPerToken
          == std::uint64_t(l.tiny.weights.config.kvLoraRank + l.tiny.weights.config.qkRope)
              * std::uint64_t(l.tiny.weights.config.nLayers) * 4);
}
