// SwiGLU and softmax against double-precision references (and a few hand values).
#include "kernels/backend.h"

#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <vector>

TEST_CASE("swiglu = silu(gate) * up")
{
    std::mt19937 rng(5);
    std::normal_distribution<float> value(0.f, 4.f);
    for (int threads : {1, 2})
        for (std::size_t n : {std::size_t(1), std::size_t(37), std::size_t(100003)}) {
            CAPTURE(threads);
            CAPTURE(n);
            std::vector<float> g(n), u(n), y(n, NAN);
            for (std::size_t i = 0; i < n; ++i) {
                g[i] = value(rng);
                u[i] = value(rng);
            }
            g[0] = -100.f; // silu(-100) underflows to -0: must not become NaN
            auto backend = nw::makeCpuBackend(threads);
            backend->swiglu(g.data(), u.data(), y.data(), n);
            int bad = 0;
            for (std::size_t i = 0; i < n; ++i) {
                const double expected = double(g[i]) / (1.0 + std::exp(-double(g[i]))) * u[i];
                bad += !(std::fabs(y[i] - expected) <= 1e-5 * std::fabs(expected) + 1e-6);
            }
            CHECK(bad == 0);
            // In place on gate.
            std::vector<float> g2 = g;
            backend->swiglu(g2.data(), u.data(), g2.data(), n);
            CHECK(g2 == y);
        }
    // Hand values: silu(0) = 0, silu(1) = 1 / (1 + e^-1) = 0.7310586.
    auto backend = nw::makeCpuBackend(1);
    float g[2] = {0.f, 1.f}, u[2] = {3.f, 2.f}, y[2];
    backend->swiglu(g, u, y, 2);
    CHECK(y[0] == 0.f);
    CHECK(y[1] == doctest::Approx(2 * 0.7310586).epsilon(1e-6));
}

TEST_CASE("softmax rows sum to one and match exp(x - max) / sum")
{
    std::mt19937 rng(11);
    std::normal_distribution<float> value(0.f, 5.f);
    for (int threads : {1, 2})
        for (int rows : {1, 3, 200})
            for (int cols : {1, 5, 1000}) {
                CAPTURE(threads);
                CAPTURE(rows);
                CAPTURE(cols);
                std::vector<float> x(std::size_t(rows) * std::size_t(cols));
                for (float &v : x)
                    v = value(rng);
                x[0] = 1000.f; // would overflow without subtracting the max
                const std::vector<float> original = x;
                nw::makeCpuBackend(threads)->softmax(x.data(), rows, cols);
                int bad = 0;
                for (int r = 0; r < rows; ++r) {
                    const float *o = original.data() + std::size_t(r) * std::size_t(cols);
                    double maxValue = o[0], sum = 0;
                    for (int c = 0; c < cols; ++c)
                        maxValue = std::max(maxValue, double(o[c]));
                    for (int c = 0; c < cols; ++c)
                        sum += std::exp(o[c] - maxValue);
                    for (int c = 0; c < cols; ++c) {
                        const double expected = std::exp(o[c] - maxValue) / sum;
                        bad += !(std::fabs(x[std::size_t(r) * std::size_t(cols) + std::size_t(c)] - expected)
                                 <= 1e-5 * expected + 1e-7);
                    }
                }
                CHECK(bad == 0);
            }
    float hand[3] = {0.f, std::log(2.f), std::log(5.f)}; // softmax = (1, 2, 5) / 8
    nw::makeCpuBackend(1)->softmax(hand, 1, 3);
    CHECK(hand[0] == doctest::Approx(0.125).epsilon(1e-6));
    CHECK(hand[1] == doctest::Approx(0.25).epsilon(1e-6));
    CHECK(hand[2] == doctest::Approx(0.625).epsilon(1e-6));
}
