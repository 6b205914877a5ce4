// SwiGLU and GeGLU against double-precision references (and a few hand values).
#include "kernels/backend.h"

#include <doctest/doctest.h>

#include <algorithm>
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

TEST_CASE("geglu = gelu_tanh(gate) * up")
{
    std::mt19937 rng(9);
    std::normal_distribution<float> value(0.f, 3.f);
    for (int threads : {1, 2})
        for (std::size_t n : {std::size_t(1), std::size_t(41), std::size_t(70001)}) {
            CAPTURE(threads);
            CAPTURE(n);
            std::vector<float> g(n), u(n), y(n, NAN);
            for (std::size_t i = 0; i < n; ++i) {
                g[i] = value(rng);
                u[i] = value(rng);
            }
            g[0] = -30.f; // tanh saturates: gelu(-30) = -0, not NaN
            auto backend = nw::makeCpuBackend(threads);
            backend->geglu(g.data(), u.data(), y.data(), n);
            int bad = 0;
            for (std::size_t i = 0; i < n; ++i) {
                const double x = g[i];
                const double gelu = 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
                const double expected = gelu * u[i];
                bad += !(std::fabs(y[i] - expected) <= 1e-5 * std::fabs(expected) + 1e-6);
            }
            CHECK(bad == 0);
            std::vector<float> u2 = u; // in place on up
            backend->geglu(g.data(), u2.data(), u2.data(), n);
            CHECK(u2 == y);
        }
    // Hand values: gelu(0) = 0; gelu(1) = 0.5 (1 + tanh(0.7978846 * 1.044715)) = 0.8411920.
    auto backend = nw::makeCpuBackend(1);
    float g[2] = {0.f, 1.f}, u[2] = {3.f, 2.f}, y[2];
    backend->geglu(g, u, y, 2);
    CHECK(y[0] == 0.f);
    CHECK(y[1] == doctest::Approx(2 * 0.8411920).epsilon(1e-6));
}

TEST_CASE("swigluOai = min(g, limit) · sigmoid(alpha · min(g, limit)) · (clamp(u, ±limit) + 1)")
{
    std::mt19937 rng(13);
    std::normal_distribution<float> value(0.f, 6.f); // often past the limit of 7
    for (int threads : {1, 2})
        for (std::size_t n : {std::size_t(3), std::size_t(50001)}) {
            CAPTURE(threads);
            CAPTURE(n);
            std::vector<float> g(n), u(n), y(n, NAN);
            for (std::size_t i = 0; i < n; ++i) {
                g[i] = value(rng);
                u[i] = value(rng);
            }
            nw::makeCpuBackend(threads)->swigluOai(g.data(), u.data(), y.data(), n, 1.702f, 7.f);
            int bad = 0;
            for (std::size_t i = 0; i < n; ++i) {
                const double x = std::min(double(g[i]), 7.0), up = std::clamp(double(u[i]), -7.0, 7.0);
                const double expected = x / (1.0 + std::exp(-1.702 * x)) * (up + 1.0);
                bad += !(std::fabs(y[i] - expected) <= 1e-5 * std::fabs(expected) + 1e-6);
            }
            CHECK(bad == 0);
        }
    // Hand values: g = 10 clamps to 7: 7 · sigmoid(11.914) ≈ 6.9999537; u = -9 clamps to -7: · (-6).
    float g[2] = {10.f, 0.f}, u[2] = {-9.f, 5.f}, y[2];
    nw::makeCpuBackend(1)->swigluOai(g, u, y, 2, 1.702f, 7.f);
    CHECK(y[0] == doctest::Approx(-6 * 6.9999537).epsilon(1e-6));
    CHECK(y[1] == 0.f);
}
