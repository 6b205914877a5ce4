// The CPU backend's row ops (bias rows, scale, strided copies, the MoE gather / weighted
// scatter-add) and its threaded MoE routing against plain loops written here.
#include "kernels/backend.h"
#include "kernels/cpu/moe_route.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

namespace {

std::vector<float> randomFloats(std::size_t n, unsigned seed)
{
    std::mt19937 rng(seed);
    std::normal_distribution<float> value(0.f, 2.f);
    std::vector<float> v(n);
    for (float &x : v)
        x = value(rng);
    return v;
}

} // namespace

TEST_CASE("addRow, scale, zero and copyRows equal their loops")
{
    for (int threads : {1, 3})
        for (int nTokens : {1, 7, 300}) {
            CAPTURE(threads);
            CAPTURE(nTokens);
            auto be = nw::makeCpuBackend(threads);
            const int dim = 129;
            const auto x = randomFloats(std::size_t(nTokens) * dim, 1), bias = randomFloats(std::size_t(dim), 2);
            std::vector<float> y = x;
            be->addRow(y.data(), bias.data(), nTokens, dim);
            int bad = 0;
            for (int t = 0; t < nTokens; ++t)
                for (int c = 0; c < dim; ++c)
                    bad += y[std::size_t(t) * dim + c] != x[std::size_t(t) * dim + c] + bias[std::size_t(c)];
            CHECK(bad == 0);

            std::vector<float> z = x;
            be->scale(z.data(), 0.37f, z.size());
            for (std::size_t i = 0; i < z.size(); ++i)
                bad += z[i] != x[i] * 0.37f;
            CHECK(bad == 0);
            std::fill(z.begin(), z.end(), NAN); // zero() overwrites, so NaN must not survive
            be->zero(z.data(), z.size() - 1);
            CHECK(std::count(z.begin(), z.end(), 0.f) == std::ptrdiff_t(z.size() - 1));
            CHECK(std::isnan(z.back()));

            // Columns [40, 40 + 50) of every row into a dense [nTokens, 50] block, and back into
            // a wider one at an offset: the rest must stay untouched.
            std::vector<float> narrow(std::size_t(nTokens) * 50, NAN), wide(std::size_t(nTokens) * 70, -1.f);
            be->copyRows(narrow.data(), 50, x.data() + 40, dim, nTokens, 50);
            be->copyRows(wide.data() + 10, 70, narrow.data(), 50, nTokens, 50);
            for (int t = 0; t < nTokens; ++t)
                for (int c = 0; c < 70; ++c) {
                    const float want = c >= 10 && c < 60 ? x[std::size_t(t) * dim + 30 + c] : -1.f;
                    bad += wide[std::size_t(t) * 70 + c] != want;
                }
            CHECK(bad == 0);
        }
}

TEST_CASE("gatherRows and scatterAddRows move an expert's tokens out and back")
{
    for (int threads : {1, 2})
        for (int n : {1, 5, 400}) {
            CAPTURE(threads);
            CAPTURE(n);
            auto be = nw::makeCpuBackend(threads);
            const int dim = 96, nRows = n + 17;
            const auto src = randomFloats(std::size_t(nRows) * dim, 3);
            std::vector<std::int32_t> rows(static_cast<std::size_t>(nRows));
            std::iota(rows.begin(), rows.end(), 0);
            std::shuffle(rows.begin(), rows.end(), std::mt19937(4));
            rows.resize(static_cast<std::size_t>(n)); // distinct rows
            std::vector<float> gathered(std::size_t(n) * dim, NAN);
            be->gatherRows(src.data(), rows.data(), n, dim, gathered.data());
            int bad = 0;
            for (int i = 0; i < n; ++i)
                for (int c = 0; c < dim; ++c)
                    bad += gathered[std::size_t(i) * dim + c] != src[std::size_t(rows[std::size_t(i)]) * dim + c];
            CHECK(bad == 0);

            const auto weights = randomFloats(std::size_t(n), 5);
            std::vector<float> dst = randomFloats(std::size_t(nRows) * dim, 6), want = dst;
            for (int i = 0; i < n; ++i)
                for (int c = 0; c < dim; ++c)
                    want[std::size_t(rows[std::size_t(i)]) * dim + c] +=
                        weights[std::size_t(i)] * gathered[std::size_t(i) * dim + c];
            be->scatterAddRows(dst.data(), gathered.data(), rows.data(), weights.data(), n, dim);
            CHECK(dst == want);
        }
}

TEST_CASE("moeRoute on the CPU backend equals routeExperts token by token, threaded or not")
{
    const int nExperts = 64, nUsed = 6, nTokens = 300;
    const auto logits = randomFloats(std::size_t(nTokens) * nExperts, 7);
    const auto bias = randomFloats(std::size_t(nExperts), 8);
    for (bool sigmoid : {false, true}) {
        nw::MoeRouting r;
        r.gating = sigmoid ? nw::MoeGating::Sigmoid : nw::MoeGating::Softmax;
        r.nExperts = nExperts;
        r.nUsed = nUsed;
        r.normalize = sigmoid;
        r.scale = sigmoid ? 2.5f : 1.f;
        r.selectionBias = sigmoid ? bias.data() : nullptr;
        r.nGroups = sigmoid ? 8 : 1;
        r.nGroupsUsed = sigmoid ? 3 : 1;
        std::vector<std::int32_t> wantIds(std::size_t(nTokens) * nUsed), ids(wantIds.size());
        std::vector<float> wantWeights(wantIds.size()), weights(wantIds.size());
        for (int t = 0; t < nTokens; ++t)
            nw::routeExperts(r, logits.data() + std::size_t(t) * nExperts, 1, wantIds.data() + std::size_t(t) * nUsed,
                             wantWeights.data() + std::size_t(t) * nUsed);
        for (int threads : {1, 4}) {
            nw::makeCpuBackend(threads)->moeRoute(r, logits.data(), nTokens, ids.data(), weights.data());
            CHECK(ids == wantIds);
            CHECK(weights == wantWeights);
        }
    }
}

TEST_CASE("gpt-oss routing: the top-k logits, weighed by a softmax over those k")
{
    // Logits 1, 4, 2, 3: top-2 are experts 1 and 3; weights e^4 / (e^4 + e^3) and e^3 / (e^4 + e^3).
    const float logits[4] = {1.f, 4.f, 2.f, 3.f};
    nw::MoeRouting r;
    r.gating = nw::MoeGating::SoftmaxOfChosen;
    r.nExperts = 4;
    r.nUsed = 2;
    std::int32_t ids[2];
    float weights[2];
    nw::makeCpuBackend(1)->moeRoute(r, logits, 1, ids, weights);
    CHECK(ids[0] == 1);
    CHECK(ids[1] == 3);
    const double e = std::exp(1.0);
    CHECK(weights[0] == doctest::Approx(e / (e + 1)).epsilon(1e-6));
    CHECK(weights[1] == doctest::Approx(1 / (e + 1)).epsilon(1e-6));
}
