// MoE routing on the GPU (kernels/cuda/moe_route) against the engine's routeExperts (CPU) on
// random router logits: the same expert ids, weights within float rounding.
#include "engine/moe.h"
#include "kernels/cuda/device_buffer.h"
#include "kernels/cuda/moe_route.cuh"

#include "tests/support/cuda_test.h"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

TEST_CASE("cuda moe routing matches routeExperts (V2 softmax, V3 sigmoid + bias + groups)")
{
    struct Case {
        const char *name;
        nw::MoeGating gating;
        int nExperts, nUsed, nGroups, nGroupsUsed;
        bool normalize, bias;
        float scale;
    };
    for (const Case &c : {Case{"v2 softmax", nw::MoeGating::Softmax, 64, 6, 1, 1, false, false, 1.f},
                          Case{"v2 normalised", nw::MoeGating::Softmax, 160, 6, 8, 3, true, false, 16.f},
                          Case{"v3 sigmoid groups", nw::MoeGating::Sigmoid, 256, 8, 8, 4, true, true, 2.5f},
                          Case{"k beyond kept groups", nw::MoeGating::Sigmoid, 16, 9, 4, 2, false, true, 1.f}}) {
        CAPTURE(c.name);
        const int nTokens = 37;
        std::mt19937 rng(12);
        std::uniform_real_distribution<float> value(-4.f, 4.f);
        std::vector<float> logits(std::size_t(nTokens) * c.nExperts), bias(c.nExperts);
        for (float &x : logits)
            x = value(rng);
        for (float &b : bias)
            b = 0.05f * value(rng);

        nw::MoeRouting r;
        r.gating = c.gating;
        r.nExperts = c.nExperts;
        r.nUsed = c.nUsed;
        r.normalize = c.normalize;
        r.scale = c.scale;
        r.selectionBias = c.bias ? bias.data() : nullptr;
        r.nGroups = c.nGroups;
        r.nGroupsUsed = c.nGroupsUsed;
        std::vector<std::int32_t> refIds(std::size_t(nTokens) * c.nUsed);
        std::vector<float> refWeights(refIds.size());
        nw::routeExperts(r, logits.data(), nTokens, refIds.data(), refWeights.data());

        nw::cuda::DeviceBuffer logitsDev = nw::cuda::DeviceBuffer::from(logits), biasDev = nw::cuda::DeviceBuffer::from(bias);
        nw::cuda::DeviceBuffer idsDev(refIds.size() * 4), weightsDev(refWeights.size() * 4);
        nw::cuda::MoeRouteParams p;
        p.sigmoid = c.gating == nw::MoeGating::Sigmoid;
        p.nExperts = c.nExperts;
        p.nUsed = c.nUsed;
        p.normalize = c.normalize;
        p.scale = c.scale;
        p.selectionBias = c.bias ? biasDev.as<float>() : nullptr;
        p.nGroups = c.nGroups;
        p.nGroupsUsed = c.nGroupsUsed;
        nw::cuda::moeRoute(p, logitsDev.as<float>(), nTokens, idsDev.as<std::int32_t>(), weightsDev.as<float>(), nullptr);
        CHECK(idsDev.download<std::int32_t>(refIds.size()) == refIds);
        const auto w = weightsDev.download<float>(refWeights.size());
        for (std::size_t i = 0; i < w.size(); ++i)
            CHECK(std::abs(w[i] - refWeights[i]) <= 1e-5f * (1.f + std::abs(refWeights[i])));
    }
    nw::cuda::MoeRouteParams bad;
    bad.nExperts = 10;
    bad.nUsed = 11;
    CHECK_THROWS_AS(nw::cuda::moeRoute(bad, nullptr, 1, nullptr, nullptr, nullptr), nw::Error);
}
