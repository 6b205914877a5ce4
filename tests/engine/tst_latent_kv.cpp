// latent:R: the SVD factors (orthonormal down-projections, exact at full rank, error falling
// with the rank), their cache file (a second load reads it; a damaged file is recomputed), and
// a tiny llama run in latent mode: at full rank its logits equal the float64 reference's.
#include "common/error.h"
#include "engine/gguf_file.h"
#include "engine/latent_kv.h"
#include "engine/model.h"
#include "tests/engine/reference/reference_llama.h"
#include "tests/engine/reference/tiny_llama.h"
#include "tests/support/test_data.h"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <numeric>
#include <random>

using namespace nw;

namespace {

// A random F32 matrix whose rows are the columns' mixtures of decaying strengths (so a low
// rank loses something and the full rank loses nothing).
std::vector<float> randomMatrix(std::int64_t rows, std::int64_t cols, unsigned seed)
{
    std::mt19937 rng(seed);
    std::normal_distribution<float> g(0.f, 1.f);
    std::vector<float> m(static_cast<std::size_t>(rows * cols));
    for (std::int64_t r = 0; r < rows; ++r)
        for (std::int64_t c = 0; c < cols; ++c)
            m[static_cast<std::size_t>(r * cols + c)] = g(rng) / float(1 + c % 7);
    return m;
}

// max |W - up·down| / max |W|, computed by plain loops.
double reconstructionError(const std::vector<float> &w, const std::vector<float> &up, const std::vector<float> &down,
                           std::int64_t rows, std::int64_t cols, std::int64_t rank)
{
    double worst = 0, scale = 0;
    for (std::int64_t r = 0; r < rows; ++r)
        for (std::int64_t c = 0; c < cols; ++c) {
            double s = 0;
            for (std::int64_t i = 0; i < rank; ++i)
                s += double(up[std::size_t(r * rank + i)]) * down[std::size_t(i * cols + c)];
            worst = std::max(worst, std::abs(s - w[std::size_t(r * cols + c)]));
            scale = std::max(scale, double(std::abs(w[std::size_t(r * cols + c)])));
        }
    return worst / scale;
}

double relativeError(std::span<const float> got, const std::vector<double> &want)
{
    double maxDiff = 0.0, maxRef = 0.0;
    for (std::size_t i = 0; i < want.size(); ++i) {
        maxDiff = std::max(maxDiff, std::abs(static_cast<double>(got[i]) - want[i]));
        maxRef = std::max(maxRef, std::abs(want[i]));
    }
    return maxDiff / maxRef;
}

} // namespace

TEST_CASE("SVD factors: orthonormal down rows, exact at full rank, error falls with the rank")
{
    const std::int64_t rows = 24, cols = 40, layers = 2;
    std::vector<std::vector<float>> kw, vw;
    std::vector<WeightMatrix> wk, wv;
    for (std::int64_t l = 0; l < layers; ++l) {
        kw.push_back(randomMatrix(rows, cols, unsigned(1 + l)));
        vw.push_back(randomMatrix(rows, cols, unsigned(10 + l)));
    }
    for (std::int64_t l = 0; l < layers; ++l) {
        wk.push_back(denseWeights(TensorType::F32, rows, cols, kw[std::size_t(l)].data()));
        wv.push_back(denseWeights(TensorType::F32, rows, cols, vw[std::size_t(l)].data()));
    }
    double previous = 1e9;
    for (std::int64_t rank : {4, 12, 20, 24}) {
        CAPTURE(rank);
        const LatentFactors f = factorizeKv(wk, wv, rank);
        REQUIRE(f.layers.size() == std::size_t(layers));
        const LatentLayerFactors &l1 = f.layers[1];
        double orth = 0;
        for (std::int64_t i = 0; i < rank; ++i)
            for (std::int64_t j = 0; j < rank; ++j) {
                double s = 0;
                for (std::int64_t c = 0; c < cols; ++c)
                    s += double(l1.kDown[std::size_t(i * cols + c)]) * l1.kDown[std::size_t(j * cols + c)];
                orth = std::max(orth, std::abs(s - (i == j ? 1.0 : 0.0)));
            }
        CHECK(orth < 1e-5);
        const double e = reconstructionError(kw[1], l1.kUp, l1.kDown, rows, cols, rank);
        const double ev = reconstructionError(vw[1], l1.vUp, l1.vDown, rows, cols, rank);
        MESSAGE(fmt::format("rank {}: K reconstruction error {:.3g}, V {:.3g}", rank, e, ev));
        if (rank == rows) {
            CHECK(e < 1e-5);
            CHECK(ev < 1e-5);
        } else {
            CHECK(e > 1e-3); // a random matrix of full rank 24 cannot be exact at lower rank
        }
        CHECK(e < previous);
        previous = e;
    }
    CHECK_THROWS_AS(factorizeKv(wk, wv, rows + 1), Error);
    CHECK_THROWS_AS(factorizeKv(wk, wv, 0), Error);
}

TEST_CASE("factors are cached by weight hash and rank; a damaged file is recomputed")
{
    const std::filesystem::path dir = nw::test::scratchDir("latent_cache");
    std::filesystem::remove_all(dir);
    const std::vector<float> k = randomMatrix(16, 32, 3), v = randomMatrix(16, 32, 4);
    const std::vector<WeightMatrix> wk{denseWeights(TensorType::F32, 16, 32, k.data())};
    const std::vector<WeightMatrix> wv{denseWeights(TensorType::F32, 16, 32, v.data())};
    bool cached = true;
    const LatentFactors first = loadOrFactorizeKv(wk, wv, 8, dir, &cached);
    CHECK_FALSE(cached);
    const std::filesystem::path file = dir / fmt::format("{:016x}-r8.nwlat", kvWeightsHash(wk, wv));
    REQUIRE(std::filesystem::exists(file));
    // 8 magic + 4 version + 5 dims, then K down/up and V down/up.
    CHECK(std::filesystem::file_size(file) == 8 + 4 + 5 * 8 + 4 * (8 * 32 + 16 * 8) * 2);

    const LatentFactors second = loadOrFactorizeKv(wk, wv, 8, dir, &cached);
    CHECK(cached);
    CHECK(second.layers[0].kDown == first.layers[0].kDown);
    CHECK(second.layers[0].vUp == first.layers[0].vUp);

    // Another rank is another file; other weights another hash.
    loadOrFactorizeKv(wk, wv, 4, dir, &cached);
    CHECK_FALSE(cached);
    std::vector<float> k2 = k;
    k2[5] += 1.f;
    const std::vector<WeightMatrix> wk2{denseWeights(TensorType::F32, 16, 32, k2.data())};
    CHECK(kvWeightsHash(wk2, wv) != kvWeightsHash(wk, wv));

    std::filesystem::resize_file(file, 100);
    CHECK_THROWS_AS(readLatentFactors(file, 8, 1, 32, 16, 16), Error);
    const LatentFactors again = loadOrFactorizeKv(wk, wv, 8, dir, &cached);
    CHECK_FALSE(cached);
    CHECK(again.layers[0].kDown == first.layers[0].kDown);
    CHECK(std::filesystem::file_size(file) == 8 + 4 + 5 * 8 + 4 * (8 * 32 + 16 * 8) * 2);
}

TEST_CASE("latent at full rank reproduces the float64 reference; lower ranks differ")
{
    const std::filesystem::path dir = nw::test::scratchDir("latent_model");
    ::setenv("XDG_CACHE_HOME", dir.c_str(), 1);
    nw::test::TinyLlamaSpec spec;
    spec.nHeads = 4;
    spec.nKvHeads = 2; // K/V width 2 × 16 = 32: full rank is 32
    const auto bytes = nw::test::makeTinyLlama(spec);
    const std::shared_ptr<GgufFile> file = GgufFile::fromMemory(bytes, "tiny.gguf");
    ModelOptions options;
    options.threads = 2;
    const auto model = loadModel(file, options);
    const int n = 20;
    std::vector<std::int32_t> tokens(n), positions(n);
    for (int t = 0; t < n; ++t)
        tokens[std::size_t(t)] = (t * 17 + 3) % int(model->hparams().nVocab);
    std::iota(positions.begin(), positions.end(), 0);
    const auto want = nw::test::referenceLlamaLogits(*file, tokens);
    const std::size_t vocab = std::size_t(model->hparams().nVocab);

    const auto run = [&](const char *mode, bool decode) {
        KvModeSpec kvSpec = KvModeSpec::parse(mode);
        kvSpec.rowType = TensorType::F32;
        auto cache = model->makeKvCache(kvSpec, 64);
        std::vector<float> logits, all;
        if (decode) { // 8 at once, then one token at a time: the cached latents are re-expanded
            model->forward(std::span(tokens).first(8), std::span(positions).first(8), *cache, LogitsFor::All, all);
            for (int t = 8; t < n; ++t) {
                model->forward(std::span(tokens).subspan(std::size_t(t), 1),
                               std::span(positions).subspan(std::size_t(t), 1), *cache, LogitsFor::Last, logits);
                all.insert(all.end(), logits.begin(), logits.end());
            }
        } else {
            model->forward(tokens, positions, *cache, LogitsFor::All, all);
        }
        CHECK(cache->memoryStats().kvBytesUsed == std::uint64_t(n) * cache->layout().bytesPerTokenLayer() * 2);
        double worst = 0;
        for (int t = 0; t < n; ++t)
            worst = std::max(worst, relativeError(std::span(all).subspan(std::size_t(t) * vocab, vocab),
                                                  want[std::size_t(t)]));
        return worst;
    };
    const double full = run("full", false);
    const double latentFull = run("latent:32", false);
    const double latentFullDecode = run("latent:32", true);
    const double latent8 = run("latent:8", false);
    MESSAGE(fmt::format("max relative logit error vs float64: full {:.3g}, latent:32 {:.3g} (decode {:.3g}), "
                        "latent:8 {:.3g}", full, latentFull, latentFullDecode, latent8));
    CHECK(full < 1e-4);
    CHECK(latentFull < 1e-4);
    CHECK(latentFullDecode < 1e-4);
    CHECK(latent8 > 1e-2); // a quarter of the K/V rank cannot give the same logits
    CHECK_THROWS_AS(model->makeKvCache(KvModeSpec::parse("latent:33"), 64), Error);
    // The factors for rank 32 were written once and are now read from the cache dir.
    std::size_t files = 0;
    for (const auto &entry : std::filesystem::recursive_directory_iterator(dir))
        files += entry.path().extension() == ".nwlat";
    CHECK(files == 2); // latent:32 and latent:8
}
