// DeepSeekMoE routing (engine/moe.h) against hand-computed choices and weights, and the grouped
// expert runner against plain double loops.
#include "engine/moe.h"

#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <vector>

namespace {

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

struct Routed {
    std::vector<std::int32_t> ids;
    std::vector<float> weights;
};

Routed route(const nw::MoeRouting &routing, const std::vector<float> &logits)
{
    const int nTokens = int(logits.size()) / routing.nExperts;
    Routed r;
    r.ids.resize(std::size_t(nTokens * routing.nUsed));
    r.weights.resize(r.ids.size());
    nw::routeExperts(routing, logits.data(), nTokens, r.ids.data(), r.weights.data());
    return r;
}

} // namespace

TEST_CASE("softmax gating (DeepSeek-V2): top-k of the softmax, weights unnormalised unless asked")
{
    nw::MoeRouting routing;
    routing.gating = nw::MoeGating::Softmax;
    routing.nExperts = 4;
    routing.nUsed = 2;
    const std::vector<float> logits = {1.f, 2.f, 0.f, 3.f};
    // Hand computation: softmax = e^x / (e + e^2 + 1 + e^3); the two largest are experts 3 and 1.
    const double sum = std::exp(1.0) + std::exp(2.0) + 1.0 + std::exp(3.0);

    Routed plain = route(routing, logits);
    CHECK(plain.ids == std::vector<std::int32_t>{3, 1});
    CHECK(plain.weights[0] == doctest::Approx(std::exp(3.0) / sum).epsilon(1e-6));
    CHECK(plain.weights[1] == doctest::Approx(std::exp(2.0) / sum).epsilon(1e-6));

    // Renormalised over the chosen two: e^3 / (e^3 + e^2) = sigmoid(1); then × scale.
    routing.normalize = true;
    routing.scale = 2.5f;
    Routed normed = route(routing, logits);
    CHECK(normed.ids == std::vector<std::int32_t>{3, 1});
    CHECK(normed.weights[0] == doctest::Approx(2.5 * sigmoid(1.0)).epsilon(1e-6));
    CHECK(normed.weights[1] == doctest::Approx(2.5 * sigmoid(-1.0)).epsilon(1e-6));
}

TEST_CASE("sigmoid gating (DeepSeek-V3): the bias picks the experts but does not weigh them")
{
    nw::MoeRouting routing;
    routing.gating = nw::MoeGating::Sigmoid;
    routing.nExperts = 4;
    routing.nUsed = 2;
    const std::vector<float> bias = {0.5f, 0.f, 0.9f, 0.f};
    routing.selectionBias = bias.data();
    // Two tokens. Token 0: affinities sigmoid(0, 1, -1, 2) = (.5, .731, .269, .881); biased
    // (1.0, .731, 1.169, .881) → experts 2 then 0, weighted by their UNBIASED affinities.
    // Token 1: logits (3, 0, 0, 0): biased (1.453, .5, 1.4, .5) → experts 0 then 2.
    const std::vector<float> logits = {0.f, 1.f, -1.f, 2.f, 3.f, 0.f, 0.f, 0.f};
    Routed r = route(routing, logits);
    CHECK(r.ids == std::vector<std::int32_t>{2, 0, 0, 2});
    CHECK(r.weights[0] == doctest::Approx(sigmoid(-1.0)).epsilon(1e-6));
    CHECK(r.weights[1] == doctest::Approx(0.5).epsilon(1e-6));
    CHECK(r.weights[2] == doctest::Approx(sigmoid(3.0)).epsilon(1e-6));
    CHECK(r.weights[3] == doctest::Approx(0.5).epsilon(1e-6));

    routing.normalize = true;
    Routed n = route(routing, logits);
    CHECK(n.weights[0] == doctest::Approx(sigmoid(-1.0) / (sigmoid(-1.0) + 0.5)).epsilon(1e-6));
    CHECK(n.weights[1] == doctest::Approx(0.5 / (sigmoid(-1.0) + 0.5)).epsilon(1e-6));

    // Without the bias, token 0 takes experts 3 and 1.
    routing.selectionBias = nullptr;
    Routed unbiased = route(routing, logits);
    CHECK(unbiased.ids[0] == 3);
    CHECK(unbiased.ids[1] == 1);
}

TEST_CASE("ties go to the lower expert id")
{
    nw::MoeRouting routing;
    routing.nExperts = 5;
    routing.nUsed = 3;
    Routed r = route(routing, {0.5f, 0.5f, 0.5f, 0.5f, 0.5f});
    CHECK(r.ids == std::vector<std::int32_t>{0, 1, 2});
    for (float w : r.weights)
        CHECK(w == doctest::Approx(0.2).epsilon(1e-6));
}

TEST_CASE("grouped expert runner equals plain per-token loops")
{
    const int nEmbd = 8, nFf = 6, nExperts = 3, nTokens = 5, nUsed = 2;
    std::mt19937 rng(1234);
    std::uniform_real_distribution<float> dist(-1.f, 1.f);
    auto random = [&](std::size_t n) {
        std::vector<float> v(n);
        for (float &x : v)
            x = dist(rng);
        return v;
    };
    const std::vector<float> gate = random(std::size_t(nExperts) * nFf * nEmbd);
    const std::vector<float> up = random(std::size_t(nExperts) * nFf * nEmbd);
    const std::vector<float> down = random(std::size_t(nExperts) * nEmbd * nFf);
    const std::vector<float> x = random(std::size_t(nTokens) * nEmbd);
    const std::vector<std::int32_t> ids = {0, 2, 2, 1, 1, 0, 2, 0, 1, 2}; // expert 1 gets tokens 1, 2, 4
    const std::vector<float> weights = {0.7f, 0.3f, 1.5f, 0.25f, 0.6f, 0.4f, 1.f, 2.f, 0.1f, 0.9f};

    nw::ExpertWeights experts;
    experts.nExperts = nExperts;
    experts.gate = nw::denseWeights(nw::TensorType::F32, nFf, nEmbd, gate.data());
    experts.up = nw::denseWeights(nw::TensorType::F32, nFf, nEmbd, up.data());
    experts.down = nw::denseWeights(nw::TensorType::F32, nEmbd, nFf, down.data());
    experts.gateExpertStride = experts.upExpertStride = std::size_t(nFf) * nEmbd * sizeof(float);
    experts.downExpertStride = std::size_t(nEmbd) * nFf * sizeof(float);

    std::vector<float> y(std::size_t(nTokens) * nEmbd, 1.f); // accumulates onto what is there
    auto backend = nw::makeCpuBackend(2);
    nw::ExpertRunner runner;
    runner.run(*backend, experts, x.data(), nTokens, ids.data(), weights.data(), nUsed, y.data());

    for (int t = 0; t < nTokens; ++t) {
        std::vector<double> expected(nEmbd, 1.0);
        for (int k = 0; k < nUsed; ++k) {
            const int e = ids[std::size_t(t * nUsed + k)];
            std::vector<double> hidden(nFf);
            for (int f = 0; f < nFf; ++f) {
                double g = 0, u = 0;
                for (int c = 0; c < nEmbd; ++c) {
                    g += gate[(std::size_t(e) * nFf + f) * nEmbd + c] * double(x[std::size_t(t) * nEmbd + c]);
                    u += up[(std::size_t(e) * nFf + f) * nEmbd + c] * double(x[std::size_t(t) * nEmbd + c]);
                }
                hidden[f] = g / (1.0 + std::exp(-g)) * u;
            }
            for (int r = 0; r < nEmbd; ++r) {
                double sum = 0;
                for (int f = 0; f < nFf; ++f)
                    sum += down[(std::size_t(e) * nEmbd + r) * nFf + f] * hidden[f];
                expected[r] += weights[std::size_t(t * nUsed + k)] * sum;
            }
        }
        for (int r = 0; r < nEmbd; ++r)
            CHECK(y[std::size_t(t) * nEmbd + r] == doctest::Approx(expected[r]).epsilon(1e-5));
    }
}

TEST_CASE("group-limited routing (DeepSeek-V3): only the best groups' experts compete")
{
    nw::MoeRouting routing;
    routing.gating = nw::MoeGating::Sigmoid;
    routing.nExperts = 6;
    routing.nUsed = 2;
    routing.nGroups = 3; // groups {0,1}, {2,3}, {4,5}
    routing.nGroupsUsed = 1;
    // Group scores (sum of the two best affinities): sigmoid(3) + sigmoid(-3) = 1,
    // 2·sigmoid(1) = 1.462, 2·sigmoid(-0.1) = 0.95. Group 1 wins although expert 0 is the best one.
    const std::vector<float> logits = {3.f, -3.f, 1.f, 1.f, -0.1f, -0.1f};
    Routed one = route(routing, logits);
    CHECK(one.ids == std::vector<std::int32_t>{2, 3});
    CHECK(one.weights[0] == doctest::Approx(sigmoid(1.0)).epsilon(1e-6));
    CHECK(one.weights[1] == doctest::Approx(sigmoid(1.0)).epsilon(1e-6));
    // Two groups: 1 and 0; the top two experts among {0, 1, 2, 3} are 0 and 2.
    routing.nGroupsUsed = 2;
    Routed two = route(routing, logits);
    CHECK(two.ids == std::vector<std::int32_t>{0, 2});
    CHECK(two.weights[0] == doctest::Approx(sigmoid(3.0)).epsilon(1e-6));
}
