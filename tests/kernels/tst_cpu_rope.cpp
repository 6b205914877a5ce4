// RoPE against a plain double-precision reference written here from ggml's definitions
// (rope_yarn, ggml_rope_yarn_corr_dims in ggml-cpu), plus hand-computed values.
#include "common/error.h"
#include "kernels/backend.h"
#include "kernels/cpu/rope.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <random>
#include <vector>

namespace {

// One head: rotate dims [offset, offset + nDims) at position pos.
void referenceRope(std::vector<double> &head, int offset, int pos, const nw::RopeParams &p)
{
    double low = 0, high = 0;
    if (p.extFactor != 0) {
        auto corr = [&](double beta) {
            return p.nDims * std::log(p.nCtxOrig / (beta * 2 * std::numbers::pi)) / (2 * std::log(double(p.freqBase)));
        };
        low = std::max(0.0, std::floor(corr(p.betaFast)));
        high = std::min(double(p.nDims - 1), std::ceil(corr(p.betaSlow)));
    }
    const int half = p.nDims / 2;
    for (int i = 0; i < half; ++i) {
        double extrap = pos / std::pow(double(p.freqBase), 2.0 * i / p.nDims);
        if (p.freqFactors)
            extrap /= p.freqFactors[i];
        const double interp = p.freqScale * extrap;
        double theta = interp, mscale = p.attnFactor;
        if (p.extFactor != 0) {
            const double y = (i - low) / std::max(0.001, high - low);
            const double ramp = (1 - std::clamp(y, 0.0, 1.0)) * p.extFactor;
            theta = interp * (1 - ramp) + extrap * ramp;
            mscale *= 1 + 0.1 * std::log(1 / double(p.freqScale));
        }
        const int a = offset + (p.neox ? i : 2 * i);
        const int b = offset + (p.neox ? i + half : 2 * i + 1);
        const double x0 = head[std::size_t(a)], x1 = head[std::size_t(b)];
        head[std::size_t(a)] = (x0 * std::cos(theta) - x1 * std::sin(theta)) * mscale;
        head[std::size_t(b)] = (x0 * std::sin(theta) + x1 * std::cos(theta)) * mscale;
    }
}

void checkRope(const nw::RopeParams &p, int nTokens, int nHeads, int headStride, int offset, int threads)
{
    CAPTURE(p.nDims);
    CAPTURE(p.neox);
    CAPTURE(p.extFactor);
    CAPTURE(nTokens);
    CAPTURE(offset);
    CAPTURE(threads);
    std::mt19937 rng(nTokens * 31 + offset);
    std::normal_distribution<float> value(0.f, 1.f);
    std::uniform_int_distribution<int> position(0, 5000);
    std::vector<float> x(std::size_t(nTokens) * nHeads * headStride);
    for (float &v : x)
        v = value(rng);
    std::vector<std::int32_t> pos(static_cast<std::size_t>(nTokens));
    for (auto &v : pos)
        v = position(rng);
    const std::vector<float> original = x;
    nw::makeCpuBackend(threads)->rope(x.data(), nTokens, nHeads, headStride, offset, pos.data(), p);
    int bad = 0;
    for (int t = 0; t < nTokens; ++t)
        for (int h = 0; h < nHeads; ++h) {
            const std::size_t base = (std::size_t(t) * nHeads + h) * headStride;
            std::vector<double> head(original.begin() + std::ptrdiff_t(base),
                                     original.begin() + std::ptrdiff_t(base + headStride));
            referenceRope(head, offset, pos[std::size_t(t)], p);
            for (int c = 0; c < headStride; ++c)
                // Angles up to 5000 rad: float cos/sin of a correctly rounded angle are good to
                // ~1e-6; allow a little more for the float products.
                bad += !(std::fabs(x[base + std::size_t(c)] - head[std::size_t(c)]) <= 2e-5);
        }
    CHECK(bad == 0);
}

} // namespace

TEST_CASE("rope matches the reference: adjacent pairs and neox halves, with offsets and tails")
{
    for (bool neox : {false, true})
        for (int threads : {1, 2}) {
            nw::RopeParams p;
            p.nDims = 64;
            p.neox = neox;
            p.freqBase = 10000.f;
            checkRope(p, 1, 3, 64, 0, threads);
            checkRope(p, 17, 4, 80, 0, threads);  // dims 64..79 stay as they are
            checkRope(p, 9, 2, 192, 128, threads); // deepseek2's q: 128 nope dims, then 64 rope
            p.freqScale = 0.25f;                   // linear scaling
            checkRope(p, 5, 2, 64, 0, threads);
        }
}

TEST_CASE("rope with YaRN (deepseek2-style) and llama 3.1 frequency factors")
{
    nw::RopeParams p;
    p.nDims = 64;
    p.freqBase = 10000.f;
    p.freqScale = 1.f / 40.f;
    p.nCtxOrig = 4096;
    p.extFactor = 1.f;
    p.attnFactor = 0.7f;
    p.betaFast = 32.f;
    p.betaSlow = 1.f;
    for (int threads : {1, 2})
        checkRope(p, 11, 3, 192, 128, threads);

    // Hand computation: corr dim(beta) = 64 ln(4096 / (2 pi beta)) / (2 ln 10000):
    // beta 32 → 10.47 → floor 10; beta 1 → 22.51 → ceil 23.
    float dims[2];
    nw::cpu::ropeYarnCorrDims(p, dims);
    CHECK(dims[0] == 10.f);
    CHECK(dims[1] == 23.f);

    nw::RopeParams q;
    q.nDims = 32;
    q.freqBase = 500000.f;
    std::vector<float> factors(16);
    for (int i = 0; i < 16; ++i)
        factors[std::size_t(i)] = 1.f + float(i) * 0.5f;
    q.freqFactors = factors.data();
    checkRope(q, 4, 2, 32, 0, 2);
}

TEST_CASE("rope hand values")
{
    // One pair at position 1 with freqScale 1: angle 1 rad, (1, 0) → (cos 1, sin 1).
    nw::RopeParams p;
    p.nDims = 2;
    float x[4] = {1.f, 0.f, 7.f, 8.f};
    const std::int32_t pos = 1;
    nw::makeCpuBackend(1)->rope(x, 1, 1, 4, 0, &pos, p);
    CHECK(x[0] == doctest::Approx(std::cos(1.0)).epsilon(1e-6));
    CHECK(x[1] == doctest::Approx(std::sin(1.0)).epsilon(1e-6));
    CHECK(x[2] == 7.f);
    CHECK(x[3] == 8.f);
    // Position 0 is the identity.
    float y[4] = {1.f, 2.f, 3.f, 4.f};
    const std::int32_t zero = 0;
    p.nDims = 4;
    nw::makeCpuBackend(1)->rope(y, 1, 1, 4, 0, &zero, p);
    CHECK(y[0] == 1.f);
    CHECK(y[3] == 4.f);
    // Dims that do not fit the head are an input error.
    p.nDims = 6;
    CHECK_THROWS_AS(nw::makeCpuBackend(1)->rope(y, 1, 1, 4, 0, &zero, p), nw::Error);
}
