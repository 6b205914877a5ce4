// SnapKV's scoring and selection (engine/snapkv.h) against a float64 SnapKV written here from the
// paper (arXiv:2404.14469 §4.2, Listing 1): the observation window's softmax attention over the
// prompt, summed over the window's queries and the query heads of each KV head, max-pooled with
// −∞ padding as torch.max_pool1d, and the top B by a full sort (earlier position first on ties).
// Hand-computed cases pin the pooling and the tie rule. The float64 reference llama's SnapKV
// (selection and logits after compaction, for the engine's +snapkv:B once it is wired in) is
// checked for the properties it must have.
#include "common/error.h"
#include "engine/gguf_file.h"
#include "engine/hparams.h"
#include "engine/kv_cache.h"
#include "engine/snapkv.h"
#include "kernels/backend.h"
#include "tests/engine/reference/reference_llama.h"
#include "tests/engine/reference/tiny_llama.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

using namespace nw;

namespace {

struct Problem {
    std::int64_t nHeads, nKvHeads, headDim, prompt;
    std::vector<float> q; // [prompt, nHeads, headDim]
    std::vector<float> k; // [prompt, nKvHeads, headDim]
};

Problem randomProblem(
    std::int64_t nHeads, std::int64_t nKvHeads, std::int64_t headDim, std::int64_t prompt, unsigned seed)
{
    Problem p { nHeads, nKvHeads, headDim, prompt, {}, {} };
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.f, 1.f);
    p.q.resize(static_cast<std::size_t>(prompt * nHeads * headDim));
    p.k.resize(static_cast<std::size_t>(prompt * nKvHeads * headDim));
    for (float &x : p.q)
        x = 1.5f * normal(rng);
    for (float &x : p.k)
        x = normal(rng);
    return p;
}

// The float64 reference: scores [nKvHeads][prompt - window].
std::vector<std::vector<double>> referenceScores(const Problem &p, std::int64_t window, double scale)
{
    const std::int64_t before = p.prompt - window, group = p.nHeads / p.nKvHeads;
    std::vector<std::vector<double>> out(static_cast<std::size_t>(p.nKvHeads), std::vector<double>(before, 0.0));
    for (std::int64_t h = 0; h < p.nHeads; ++h) {
        for (std::int64_t t = before; t < p.prompt; ++t) {
            std::vector<double> w(static_cast<std::size_t>(t + 1));
            for (std::int64_t s = 0; s <= t; ++s) {
                double dot = 0;
                for (std::int64_t d = 0; d < p.headDim; ++d)
                    dot += double(p.q[static_cast<std::size_t>((t * p.nHeads + h) * p.headDim + d)])
                        * double(p.k[static_cast<std::size_t>((s * p.nKvHeads + h / group) * p.headDim + d)]);
                w[static_cast<std::size_t>(s)] = dot * scale;
            }
            const double top = *std::max_element(w.begin(), w.end());
            double sum = 0;
            for (double &x : w)
                sum += (x = std::exp(x - top));
            for (std::int64_t s = 0; s < before; ++s)
                out[static_cast<std::size_t>(h / group)][static_cast<std::size_t>(s)]
                    += w[static_cast<std::size_t>(s)] / sum;
        }
    }
    return out;
}

std::vector<std::int64_t> referenceSelect(
    const std::vector<double> &scores, std::int64_t prompt, std::int64_t budget, std::int64_t kernel)
{
    const std::int64_t before = static_cast<std::int64_t>(scores.size()), pad = kernel / 2;
    std::vector<std::int64_t> kept;
    if (before <= budget) {
        for (std::int64_t s = 0; s < prompt; ++s)
            kept.push_back(s);
        return kept;
    }
    std::vector<double> padded(static_cast<std::size_t>(before + 2 * pad), -std::numeric_limits<double>::infinity());
    std::copy(scores.begin(), scores.end(), padded.begin() + pad);
    std::vector<std::pair<double, std::int64_t>> pooled;
    for (std::int64_t s = 0; s < before; ++s) {
        double m = -std::numeric_limits<double>::infinity();
        for (std::int64_t j = 0; j < kernel; ++j)
            m = std::max(m, padded[static_cast<std::size_t>(s + j)]);
        pooled.emplace_back(-m, s); // ascending: largest score, then earliest position
    }
    std::sort(pooled.begin(), pooled.end());
    for (std::int64_t i = 0; i < budget; ++i)
        kept.push_back(pooled[static_cast<std::size_t>(i)].second);
    std::sort(kept.begin(), kept.end());
    for (std::int64_t s = before; s < prompt; ++s)
        kept.push_back(s);
    return kept;
}

} // namespace

TEST_CASE("snapkv pooling and ties, by hand")
{
    // One KV head, 12 prompt tokens, a window of 2: positions 0..9 are scored.
    const std::vector<double> scores { 0, 5, 0, 0, 1, 0, 0, 0, 2, 0 };
    // kernel 3: pooled 5 5 5 1 1 1 0 2 2 2 → the top 3 are 0, 1, 2 (equal 5s, earlier first).
    CHECK(snapKvSelect(scores, 1, 12, 3, 2, 3) == std::vector<std::vector<std::int64_t>> { { 0, 1, 2, 10, 11 } });
    // top 4: then the first of the 2s (7); top 5: 8.
    CHECK(snapKvSelect(scores, 1, 12, 4, 2, 3)[0] == std::vector<std::int64_t> { 0, 1, 2, 7, 10, 11 });
    CHECK(snapKvSelect(scores, 1, 12, 5, 2, 3)[0] == std::vector<std::int64_t> { 0, 1, 2, 7, 8, 10, 11 });
    // kernel 1 is no pooling: 1, 8, 4.
    CHECK(snapKvSelect(scores, 1, 12, 3, 2, 1)[0] == std::vector<std::int64_t> { 1, 4, 8, 10, 11 });
    // kernel 7 (SnapKV's): pooled 5 5 5 5 5 2 2 2 2 2.
    CHECK(snapKvSelect(scores, 1, 12, 6, 2)[0] == std::vector<std::int64_t> { 0, 1, 2, 3, 4, 5, 10, 11 });
    // A budget that covers the scored positions keeps the whole prompt; so does a short prompt.
    CHECK(snapKvSelect(scores, 1, 12, 10, 2)[0].size() == 12);
    CHECK(snapKvSelect(std::vector<double> {}, 2, 20, 8) == std::vector<std::vector<std::int64_t>>(2, [] {
        std::vector<std::int64_t> all(20);
        for (std::int64_t i = 0; i < 20; ++i)
            all[static_cast<std::size_t>(i)] = i;
        return all;
    }()));
    CHECK(snapKvRows(1000, 256) == 288);
    CHECK(snapKvRows(100, 256) == 100);
}

TEST_CASE("snapkv scores and selection against the float64 reference")
{
    struct Case {
        std::int64_t nHeads, nKvHeads, headDim, prompt, budget;
        std::int64_t chunk; // queries per addHead call, as chunked prefill feeds them
    };
    for (const Case c : { Case { 4, 4, 16, 200, 24, 200 }, Case { 8, 2, 32, 300, 40, 64 }, Case { 6, 1, 8, 90, 10, 7 },
             Case { 4, 2, 16, 40, 30, 40 } }) {
        CAPTURE(c.nHeads);
        CAPTURE(c.nKvHeads);
        CAPTURE(c.prompt);
        const Problem p = randomProblem(c.nHeads, c.nKvHeads, c.headDim, c.prompt, unsigned(c.prompt + c.nHeads));
        const float scale = 1.f / std::sqrt(float(c.headDim));
        const std::int64_t window = std::min(kSnapKvWindow, c.prompt);
        SnapKvScores scores(c.nHeads, c.nKvHeads, c.prompt);
        CHECK(scores.firstObserved() == c.prompt - window);
        // Feed each head's queries in chunks, positions outside the window included (skipped).
        std::vector<float> qHead(static_cast<std::size_t>(c.chunk * c.headDim));
        for (std::int64_t h = 0; h < c.nHeads; ++h) {
            for (std::int64_t first = 0; first < c.prompt; first += c.chunk) {
                const std::int64_t n = std::min(c.chunk, c.prompt - first);
                for (std::int64_t i = 0; i < n; ++i)
                    for (std::int64_t d = 0; d < c.headDim; ++d)
                        qHead[static_cast<std::size_t>(i * c.headDim + d)]
                            = p.q[static_cast<std::size_t>(((first + i) * c.nHeads + h) * c.headDim + d)];
                const std::int64_t kvHead = h / (c.nHeads / c.nKvHeads);
                scores.addHead(h, qHead.data(), n, first, p.k.data(), c.nKvHeads * c.headDim, kvHead * c.headDim,
                    c.headDim, scale);
            }
        }
        const auto ref = referenceScores(p, window, double(scale));
        const std::int64_t before = c.prompt - window;
        double worst = 0;
        for (std::int64_t h = 0; h < c.nKvHeads; ++h)
            for (std::int64_t s = 0; s < before; ++s) {
                const double a = scores.scores()[static_cast<std::size_t>(h * before + s)];
                const double b = ref[static_cast<std::size_t>(h)][static_cast<std::size_t>(s)];
                worst = std::max(worst, std::abs(a - b) / std::max(1e-12, std::abs(b)));
            }
        CHECK(worst < 1e-9); // both accumulate in double from the same float inputs
        // The window's attention is not uniform: the scores would select nothing otherwise.
        const auto &r0 = ref[0];
        if (before >= 64)
            CHECK(*std::max_element(r0.begin(), r0.end()) > 4 * *std::min_element(r0.begin(), r0.end()));

        const auto kept = snapKvSelect(scores.scores(), c.nKvHeads, c.prompt, c.budget);
        REQUIRE(kept.size() == std::size_t(c.nKvHeads));
        for (std::int64_t h = 0; h < c.nKvHeads; ++h) {
            const auto expected = referenceSelect(ref[static_cast<std::size_t>(h)], c.prompt, c.budget, 7);
            CHECK(kept[static_cast<std::size_t>(h)] == expected);
            CHECK(std::int64_t(expected.size()) == snapKvRows(c.prompt, c.budget));
        }
        if (c.nKvHeads > 1 && before > c.budget)
            CHECK(kept[0] != kept[1]); // heads choose for themselves
    }
}

namespace {

double relativeError(const std::vector<double> &want, const std::vector<double> &got)
{
    double worst = 0, top = 0;
    for (std::size_t i = 0; i < want.size(); ++i) {
        worst = std::max(worst, std::abs(want[i] - got[i]));
        top = std::max(top, std::abs(want[i]));
    }
    return worst / top;
}

} // namespace

TEST_CASE("the float64 reference's SnapKV: prompt untouched, later tokens see the kept rows")
{
    test::TinyLlamaSpec spec;
    spec.nKvHeads = 2; // GQA: two query heads per KV head
    spec.nCtx = 512;
    spec.seed = 11;
    spec.weightScale = 1.5f; // sharper attention, so which tokens are seen shows in the logits
    const auto bytes = test::makeTinyLlama(spec);
    const std::shared_ptr<GgufFile> file = GgufFile::fromMemory(bytes, "tiny.gguf");
    const std::int64_t n = 200, prompt = 160, budget = 16;
    std::vector<std::int32_t> tokens(static_cast<std::size_t>(n));
    for (std::int64_t t = 0; t < n; ++t)
        tokens[static_cast<std::size_t>(t)] = std::int32_t((t * 37 + (t * t) % 11 + 5) % spec.nVocab);
    const auto full = test::referenceLlamaLogits(*file, tokens);

    // A budget that covers every scored position keeps the whole prompt: the full model exactly.
    test::SnapKvSelection all;
    const auto same = test::referenceLlamaSnapKvLogits(*file, tokens, prompt, prompt - kSnapKvWindow, &all);
    for (std::size_t t = 0; t < full.size(); ++t)
        REQUIRE(same[t] == full[t]);
    REQUIRE(all.size() == std::size_t(spec.nLayers));
    CHECK(all[0][1].size() == std::size_t(prompt));

    test::SnapKvSelection kept;
    const auto snapped = test::referenceLlamaSnapKvLogits(*file, tokens, prompt, budget, &kept);
    for (std::int64_t t = 0; t < prompt; ++t) // the prompt runs before the selection
        REQUIRE(snapped[std::size_t(t)] == full[std::size_t(t)]);
    double least = 1e300;
    for (std::int64_t t = prompt; t < n; ++t)
        least = std::min(least, relativeError(full[std::size_t(t)], snapped[std::size_t(t)]));
    CHECK(least > 1e-3); // every later token lost keys it attended to
    REQUIRE(kept.size() == std::size_t(spec.nLayers));
    bool headsDiffer = false;
    for (const auto &layer : kept) {
        REQUIRE(layer.size() == std::size_t(spec.nKvHeads));
        for (const auto &head : layer) {
            CHECK(std::int64_t(head.size()) == snapKvRows(prompt, budget));
            CHECK(std::is_sorted(head.begin(), head.end()));
            CHECK(head.back() == prompt - 1);
            CHECK(head[std::size_t(budget)] == prompt - kSnapKvWindow); // the window follows the top B
        }
        headsDiffer = headsDiffer || layer[0] != layer[1];
    }
    CHECK(headsDiffer);
    // Pooling keeps neighbours: with kernel 7 the chosen positions come in runs, so fewer runs
    // than kept positions (kernel 1 would scatter them).
    int runs = 0;
    for (std::size_t i = 0; i < std::size_t(budget); ++i)
        runs += i == 0 || kept[0][0][i] != kept[0][0][i - 1] + 1;
    CHECK(runs < budget / 2);
}

namespace {

std::byte patternByte(std::int64_t layer, std::int64_t position, std::size_t byte)
{
    return std::byte((layer * 131 + position * 7 + std::int64_t(byte)) % 251);
}

} // namespace

TEST_CASE("snapkv compaction gathers each head's kept rows to the front and frees the rest")
{
    const HParams hp { .arch = "llama",
        .nLayers = 3,
        .nEmbd = 64,
        .nFf = 128,
        .nHeads = 4,
        .nKvHeads = 2,
        .headDimK = 32,
        .headDimV = 32,
        .nRot = 32,
        .nVocab = 100,
        .nCtxTrain = 4096 };
    const std::int64_t tokens = 300, budget = 40; // K = 72 rows: two blocks of 64 instead of five
    for (const char *mode : { "full", "full+q8", "full+q4:plain", "full+q4", "full+tq3", "full+q8/tq3" }) {
        for (TensorType rowType : { TensorType::F16, TensorType::F32 }) {
            KvModeSpec spec = KvModeSpec::parse(mode);
            spec.rowType = rowType;
            CAPTURE(spec.toString());
            CAPTURE(tensorTypeName(rowType));
            const std::vector<KvLayerPlan> plan = kvCachePlan(hp, spec);
            KvCache cache(plan, 512, mhaF16BytesPerTokenLayer(hp));
            cache.reserve(tokens);
            const std::size_t kBytes = plan[0].layout.kRowBytes(), vBytes = plan[0].layout.vRowBytes();
            for (std::int64_t l = 0; l < hp.nLayers; ++l)
                for (std::int64_t p = 0; p < tokens; ++p) {
                    for (std::size_t b = 0; b < kBytes; ++b)
                        cache.kRow(l, p)[b] = patternByte(l, p, b);
                    for (std::size_t b = 0; b < vBytes; ++b)
                        cache.vRow(l, p)[b] = patternByte(l, p, b + 1000);
                }
            cache.commit(tokens);

            // Each layer and head keeps its own positions (not a selection: any ascending set).
            std::vector<std::vector<std::vector<std::int64_t>>> kept(std::size_t(hp.nLayers));
            std::mt19937 rng(unsigned(kBytes + vBytes));
            for (auto &layer : kept)
                for (std::int64_t h = 0; h < hp.nKvHeads; ++h) {
                    std::vector<std::int64_t> all(static_cast<std::size_t>(tokens - kSnapKvWindow));
                    for (std::size_t i = 0; i < all.size(); ++i)
                        all[i] = std::int64_t(i);
                    std::shuffle(all.begin(), all.end(), rng);
                    std::vector<std::int64_t> head(all.begin(), all.begin() + budget);
                    std::sort(head.begin(), head.end());
                    for (std::int64_t p = tokens - kSnapKvWindow; p < tokens; ++p)
                        head.push_back(p);
                    layer.push_back(head);
                }
            const std::int64_t rows = snapKvCompact(cache, kept);
            REQUIRE(rows == snapKvRows(tokens, budget));
            CHECK(cache.tokens() == rows);
            int wrong = 0;
            for (std::int64_t l = 0; l < hp.nLayers; ++l)
                for (std::size_t h = 0; h < std::size_t(hp.nKvHeads); ++h)
                    for (std::int64_t i = 0; i < rows; ++i) {
                        const std::int64_t from = kept[std::size_t(l)][h][std::size_t(i)];
                        for (std::size_t b = h * kBytes / 2; b < (h + 1) * kBytes / 2; ++b)
                            wrong += cache.kRow(l, i)[b] != patternByte(l, from, b);
                        for (std::size_t b = h * vBytes / 2; b < (h + 1) * vBytes / 2; ++b)
                            wrong += cache.vRow(l, i)[b] != patternByte(l, from, b + 1000);
                    }
            CHECK(wrong == 0);
            // Exact bytes: K rows per layer in use, two blocks of 64 rows reserved per layer.
            const MemoryStats stats = cache.memoryStats();
            CHECK(stats.kvBytesUsed == std::uint64_t(hp.nLayers * rows) * (kBytes + vBytes));
            CHECK(stats.kvBytesReserved == std::uint64_t(hp.nLayers) * 2 * cache.blockStride(0));
            CHECK(stats.kvBytesReserved == cache.allocatedBytes());
            CHECK(stats.kvBytesReserved == KvCache::reservedBytesFor(plan, rows));
            // Later tokens append after the kept rows.
            cache.reserve(rows + 5);
            cache.commit(rows + 5);
            CHECK(cache.tokens() == rows + 5);
        }
    }
    // What it cannot compact, it refuses with the reason.
    const HParams windowed = [&] {
        HParams w = hp;
        w.slidingWindow = 100;
        w.slidingLayers = { false, true, false };
        return w;
    }();
    KvCache sliding(kvCachePlan(windowed, KvModeSpec::parse("full")), 512, mhaF16BytesPerTokenLayer(windowed));
    std::vector<std::vector<std::vector<std::int64_t>>> none(3, std::vector<std::vector<std::int64_t>>(2));
    CHECK_THROWS_WITH_AS(snapKvCompact(sliding, none), doctest::Contains("store 1 is window"), nw::Error);
}

// The keys SnapKV scores with, read back from the cache's rows at each precision, against the
// float keys that were stored; and the scores from them against the scores from the floats.
TEST_CASE("snapkv reads the stored keys back in the model's domain at every precision")
{
    const HParams hp { .arch = "llama",
        .nLayers = 1,
        .nEmbd = 64,
        .nFf = 128,
        .nHeads = 4,
        .nKvHeads = 2,
        .headDimK = 64,
        .headDimV = 64,
        .nRot = 64,
        .nVocab = 100,
        .nCtxTrain = 4096 };
    const std::int64_t n = 120, width = hp.nKvHeads * hp.headDimK;
    std::mt19937 rng(7);
    std::normal_distribution<float> normal(0.f, 1.f);
    std::vector<float> k(static_cast<std::size_t>(n * width)), v(k.size());
    for (std::size_t i = 0; i < k.size(); ++i) {
        k[i] = normal(rng) * (i % 64 == 5 ? 8.f : 1.f); // an outlier dimension, as real keys have
        v[i] = normal(rng);
    }
    std::vector<float> q(static_cast<std::size_t>(n * hp.nHeads * hp.headDimK));
    for (float &x : q)
        x = normal(rng);
    std::vector<std::int32_t> positions(static_cast<std::size_t>(n));
    for (std::int64_t t = 0; t < n; ++t)
        positions[std::size_t(t)] = std::int32_t(t);
    const float scale = 1.f / 8.f;
    auto scoresOf = [&](const std::vector<float> &keys) {
        SnapKvScores s(hp.nHeads, hp.nKvHeads, n);
        std::vector<float> qh(static_cast<std::size_t>(n * hp.headDimK));
        for (std::int64_t h = 0; h < hp.nHeads; ++h) {
            for (std::int64_t t = 0; t < n; ++t)
                std::copy_n(q.begin() + (t * hp.nHeads + h) * hp.headDimK, hp.headDimK, qh.begin() + t * hp.headDimK);
            s.addHead(h, qh.data(), n, 0, keys.data(), width, h / 2 * hp.headDimK, hp.headDimK, scale);
        }
        return std::vector<double>(s.scores().begin(), s.scores().end());
    };
    const std::vector<double> exact = scoresOf(k);
    const auto backend = makeCpuBackend(1);

    struct Case {
        const char *mode;
        TensorType rowType;
        double keyError; // largest |k' - k| / max |k|
        double scoreError; // largest |s' - s| / max s
    };
    // Measured (GCC 12): f16 3.4e-4 / 5.1e-4, q8 1.5e-3 / 1.5e-3, q8:plain 3.8e-3 / 1.0e-2,
    // q4 2.3e-2 / 4.2e-2, tq4 3.1e-2 / 4.4e-2. Rotated rows read without rotating back would be
    // off by the keys' own size.
    for (const Case c : { Case { "full", TensorType::F32, 0.0, 1e-12 }, Case { "full", TensorType::F16, 1e-3, 2e-3 },
             Case { "full+q8", TensorType::F16, 5e-3, 2e-2 }, Case { "full+q8:plain", TensorType::F16, 1e-2, 3e-2 },
             Case { "full+q4", TensorType::F16, 0.06, 0.1 }, Case { "full+tq4", TensorType::F16, 0.06, 0.1 } }) {
        KvModeSpec spec = KvModeSpec::parse(c.mode);
        spec.rowType = c.rowType;
        CAPTURE(spec.toString());
        CAPTURE(tensorTypeName(c.rowType));
        const std::vector<KvLayerPlan> plan = kvCachePlan(hp, spec);
        KvCache cache(plan, 256, mhaF16BytesPerTokenLayer(hp));
        cache.reserve(n);
        backend->storeKv(cache.layerView(0), k.data(), v.data(), int(n), positions.data());
        cache.commit(n);
        const std::vector<float> back = snapKvKeys(cache, 0, n);
        REQUIRE(back.size() == k.size());
        double worst = 0, top = 0;
        for (std::size_t i = 0; i < k.size(); ++i) {
            worst = std::max(worst, double(std::abs(back[i] - k[i])));
            top = std::max(top, double(std::abs(k[i])));
        }
        MESSAGE(spec.toString() << " " << tensorTypeName(c.rowType) << ": key error " << worst / top);
        CHECK(worst / top <= c.keyError + 1e-12);
        const std::vector<double> got = scoresOf(back);
        double sWorst = 0, sTop = 0;
        for (std::size_t i = 0; i < got.size(); ++i) {
            sWorst = std::max(sWorst, std::abs(got[i] - exact[i]));
            sTop = std::max(sTop, exact[i]);
        }
        MESSAGE("  score error " << sWorst / sTop);
        CHECK(sWorst / sTop <= c.scoreError);
    }
}
