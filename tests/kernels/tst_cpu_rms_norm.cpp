// RMSNorm against a double-precision reference, with and without weight, in place, 1 and 2 threads.
#include "kernels/backend.h"

#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <vector>

TEST_CASE("rmsNorm matches y = x / sqrt(mean(x^2) + eps) * w")
{
    std::mt19937 rng(42);
    std::normal_distribution<float> value(0.f, 3.f);
    for (int threads : {1, 2})
        for (int nTokens : {1, 3, 40})
            for (int dim : {1, 7, 64, 4099})
                for (bool withWeight : {true, false})
                    for (bool inPlace : {false, true}) {
                        CAPTURE(threads);
                        CAPTURE(nTokens);
                        CAPTURE(dim);
                        CAPTURE(withWeight);
                        CAPTURE(inPlace);
                        const float eps = 1e-5f;
                        std::vector<float> x(std::size_t(nTokens) * std::size_t(dim)), w(static_cast<std::size_t>(dim));
                        for (float &v : x)
                            v = value(rng);
                        for (float &v : w)
                            v = value(rng);
                        std::vector<float> y(x.size(), NAN);
                        auto backend = nw::makeCpuBackend(threads);
                        float *out = inPlace ? x.data() : y.data();
                        const std::vector<float> original = x;
                        backend->rmsNorm(x.data(), withWeight ? w.data() : nullptr, out, nTokens, dim, eps);
                        int bad = 0;
                        for (int t = 0; t < nTokens; ++t) {
                            double ss = 0;
                            for (int c = 0; c < dim; ++c)
                                ss += double(original[std::size_t(t * dim + c)]) * original[std::size_t(t * dim + c)];
                            const double inv = 1.0 / std::sqrt(ss / dim + eps);
                            for (int c = 0; c < dim; ++c) {
                                const double expected = original[std::size_t(t * dim + c)] * inv
                                                        * (withWeight ? double(w[std::size_t(c)]) : 1.0);
                                const double got = out[std::size_t(t * dim + c)];
                                bad += !(std::fabs(got - expected) <= 1e-5 * std::fabs(expected) + 1e-6);
                            }
                        }
                        CHECK(bad == 0);
                    }
}

TEST_CASE("rmsNorm of a constant row is the weight")
{
    // Hand value: x = 2 everywhere → mean(x^2) = 4, y = 2 / sqrt(4 + eps) * w ≈ w.
    auto backend = nw::makeCpuBackend(1);
    std::vector<float> x(16, 2.f), w(16), y(16);
    for (int i = 0; i < 16; ++i)
        w[std::size_t(i)] = float(i) - 5.f;
    backend->rmsNorm(x.data(), w.data(), y.data(), 1, 16, 0.f);
    for (int i = 0; i < 16; ++i)
        CHECK(y[std::size_t(i)] == doctest::Approx(float(i) - 5.f).epsilon(1e-6));
}
