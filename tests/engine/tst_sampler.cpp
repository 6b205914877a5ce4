// Sampler: each filter against hand-computed expectations, seeded determinism, and draw
// frequencies against softmax(logits / T) computed here.
#include "engine/sampler.h"

#include "common/error.h"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <map>
#include <vector>

using namespace nw;

namespace {

SamplerParams plain(float temperature)
{
    SamplerParams p;
    p.temperature = temperature;
    p.topK = 0;
    p.topP = 1.f;
    p.minP = 0.f;
    p.repeatPenalty = 1.f;
    p.seed = 42;
    return p;
}

} // namespace

TEST_CASE("greedy takes the largest logit, the lowest id on ties")
{
    SamplerParams p;
    p.greedy = true;
    Sampler s(p);
    const std::vector<float> logits = {0.1f, 2.5f, -1.f, 2.5f, 0.f};
    CHECK(s.sample(logits, {}) == 1);
    p.greedy = false;
    p.temperature = 0.f; // temperature 0 is greedy too
    Sampler zero(p);
    CHECK(zero.sample(logits, {}) == 1);
}

TEST_CASE("repetition penalty divides positive and multiplies negative logits of recent tokens")
{
    SamplerParams p;
    p.greedy = true;
    p.repeatPenalty = 2.f;
    p.repeatLastN = 2;
    Sampler s(p);
    // id 0: 3.0 -> 1.5 when recent; id 1: 2.0 stays -> greedy picks 1.
    const std::vector<float> logits = {3.f, 2.f, -0.5f};
    const std::vector<std::int32_t> recent = {0};
    CHECK(s.sample(logits, recent) == 1);
    // Only the last 2 tokens count: 0 is three tokens back, so 0 wins again.
    const std::vector<std::int32_t> older = {0, 2, 2};
    CHECK(s.sample(logits, older) == 0);
    // A negative logit becomes more negative: -0.5 × 2 = -1 < -0.9.
    const std::vector<float> negative = {-0.9f, -0.5f};
    const std::vector<std::int32_t> one = {1};
    CHECK(s.sample(negative, one) == 0);
}

TEST_CASE("top-k 1, a tiny top-p and a high min-p all leave only the best token")
{
    const std::vector<float> logits = {1.f, 3.f, 2.9f, 0.f};
    for (int variant = 0; variant < 3; ++variant) {
        SamplerParams p = plain(1.5f);
        if (variant == 0)
            p.topK = 1;
        if (variant == 1)
            p.topP = 0.01f;
        if (variant == 2)
            p.minP = 0.99f;
        Sampler s(p);
        for (int i = 0; i < 200; ++i)
            CHECK(s.sample(logits, {}) == 1);
    }
}

TEST_CASE("top-p keeps the smallest set reaching p; min-p drops tokens below minP × p_max")
{
    // Probabilities e^l / sum: logits ln(0.5), ln(0.3), ln(0.15), ln(0.05).
    const std::vector<float> logits = {std::log(0.5f), std::log(0.3f), std::log(0.15f), std::log(0.05f)};
    SamplerParams p = plain(1.f);
    p.topP = 0.75f; // 0.5 + 0.3 = 0.8 >= 0.75: ids 0 and 1 only
    Sampler topP(p);
    std::map<int, int> counts;
    for (int i = 0; i < 4000; ++i)
        ++counts[topP.sample(logits, {})];
    CHECK(counts[2] == 0);
    CHECK(counts[3] == 0);
    CHECK(counts[0] / 4000.0 == doctest::Approx(0.5 / 0.8).epsilon(0.05));

    p = plain(1.f);
    p.minP = 0.25f; // threshold 0.125: keeps 0.5, 0.3, 0.15; drops 0.05
    Sampler minP(p);
    counts.clear();
    for (int i = 0; i < 4000; ++i)
        ++counts[minP.sample(logits, {})];
    CHECK(counts[3] == 0);
    CHECK(counts[2] > 0);
}

TEST_CASE("draws follow softmax(logits / T)")
{
    const std::vector<float> logits = {1.f, 2.f, 0.5f, -1.f};
    const float temperature = 0.7f;
    double z = 0.0;
    std::vector<double> expected;
    for (float l : logits) {
        expected.push_back(std::exp(l / temperature));
        z += expected.back();
    }
    Sampler s(plain(temperature));
    std::vector<int> counts(logits.size(), 0);
    const int n = 40000;
    for (int i = 0; i < n; ++i)
        ++counts[static_cast<std::size_t>(s.sample(logits, {}))];
    for (std::size_t i = 0; i < logits.size(); ++i) {
        const double p = expected[i] / z;
        const double sigma = std::sqrt(p * (1 - p) / n);
        CHECK(std::abs(counts[i] / static_cast<double>(n) - p) < 5 * sigma + 1e-4);
    }
}

TEST_CASE("the same seed gives the same sequence; another seed a different one")
{
    std::vector<float> logits(50);
    for (std::size_t i = 0; i < logits.size(); ++i)
        logits[i] = static_cast<float>(std::sin(static_cast<double>(i)));
    auto run = [&](std::uint64_t seed) {
        SamplerParams p = plain(1.f);
        p.seed = seed;
        Sampler s(p);
        std::vector<std::int32_t> out;
        for (int i = 0; i < 64; ++i)
            out.push_back(s.sample(logits, out));
        return out;
    };
    CHECK(run(7) == run(7));
    CHECK(run(7) != run(8));
}

TEST_CASE("NaN and infinite parameters are refused, naming the field")
{
    const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
    for (float bad : {nan, inf, -inf}) {
        SamplerParams p = plain(0.8f);
        p.topP = bad;
        CHECK_THROWS_WITH_AS(Sampler{p}, doctest::Contains("top-p"), nw::Error);
        p = plain(0.8f);
        p.temperature = bad;
        CHECK_THROWS_WITH_AS(Sampler{p}, doctest::Contains("temperature"), nw::Error);
        p = plain(0.8f);
        p.minP = bad;
        CHECK_THROWS_AS(Sampler{p}, nw::Error);
        p = plain(0.8f);
        p.repeatPenalty = bad;
        CHECK_THROWS_AS(Sampler{p}, nw::Error);
    }
    SamplerParams p = plain(0.8f);
    p.repeatPenalty = 0.f;
    CHECK_THROWS_AS(Sampler{p}, nw::Error);
    p = plain(0.8f);
    p.topP = 2.f; // >= 1 is "off", still valid
    p.minP = -1.f; // <= 0 is "off"
    CHECK_NOTHROW(Sampler{p});
}
