// latent:R: the factors (orthonormal up-projections, K latent pairs that commute with RoPE,
// exact at full rank, error falling with the rank), their cache file (a second load reads it; a
// damaged file is recomputed), both attention forms against a plain float64 attention over the
// reconstructed keys, and a tiny llama run in latent mode: at full rank its logits equal the
// float64 reference's, in prefill and in decode.
#include "common/error.h"
#include "engine/gguf_file.h"
#include "engine/hparams.h"
#include "engine/kv_cache.h"
#include "engine/latent_kv.h"
#include "engine/model.h"
#include "tests/engine/reference/reference_llama.h"
#include "tests/engine/reference/tiny_llama.h"
#include "tests/support/test_data.h"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <numeric>
#include <random>
#include <string>

using namespace nw;

namespace {

// A random F32 matrix whose columns have decaying strengths (so a low rank loses something and
// the full rank loses nothing).
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

// up · down as float64: [rows, cols].
std::vector<double> product(const std::vector<float> &up, const std::vector<float> &down, std::int64_t rows,
    std::int64_t cols, std::int64_t rank)
{
    std::vector<double> w(std::size_t(rows * cols));
    for (std::int64_t r = 0; r < rows; ++r)
        for (std::int64_t c = 0; c < cols; ++c) {
            double s = 0;
            for (std::int64_t i = 0; i < rank; ++i)
                s += double(up[std::size_t(r * rank + i)]) * down[std::size_t(i * cols + c)];
            w[std::size_t(r * cols + c)] = s;
        }
    return w;
}

// max |W - up·down| / max |W|.
double reconstructionError(const std::vector<float> &w, const std::vector<float> &up, const std::vector<float> &down,
    std::int64_t rows, std::int64_t cols, std::int64_t rank)
{
    const std::vector<double> p = product(up, down, rows, cols, rank);
    double worst = 0, scale = 0;
    for (std::size_t i = 0; i < w.size(); ++i) {
        worst = std::max(worst, std::abs(p[i] - w[i]));
        scale = std::max(scale, double(std::abs(w[i])));
    }
    return worst / scale;
}

// max |UᵀU - I| of a [rows, cols] matrix.
double orthonormality(const std::vector<float> &u, std::int64_t rows, std::int64_t cols)
{
    double worst = 0;
    for (std::int64_t i = 0; i < cols; ++i)
        for (std::int64_t j = 0; j < cols; ++j) {
            double s = 0;
            for (std::int64_t r = 0; r < rows; ++r)
                s += double(u[std::size_t(r * cols + i)]) * u[std::size_t(r * cols + j)];
            worst = std::max(worst, std::abs(s - (i == j ? 1.0 : 0.0)));
        }
    return worst;
}

// Plain RoPE on one head (float64), ggml's default form: pair i of the first nDims dims is
// (x[2i], x[2i+1]) or, neox, (x[i], x[i + nDims/2]); angle pos · base^(-2i/nDims).
void ropeHead(double *x, int nDims, bool neox, int pos, double base = 10000.0)
{
    for (int i = 0; i < nDims / 2; ++i) {
        const double theta = pos * std::pow(base, -2.0 * i / nDims);
        double &a = neox ? x[i] : x[2 * i];
        double &b = neox ? x[i + nDims / 2] : x[2 * i + 1];
        const double x0 = a, x1 = b;
        a = x0 * std::cos(theta) - x1 * std::sin(theta);
        b = x0 * std::sin(theta) + x1 * std::cos(theta);
    }
}

// Eigenvalues of a symmetric matrix [n, n] by cyclic Jacobi rotations (plain, float64).
std::vector<double> symmetricEigenvalues(std::vector<double> a, int n)
{
    for (int sweep = 0; sweep < 100; ++sweep) {
        double off = 0;
        for (int p = 0; p < n; ++p)
            for (int q = p + 1; q < n; ++q)
                off += a[std::size_t(p * n + q)] * a[std::size_t(p * n + q)];
        if (off < 1e-30)
            break;
        for (int p = 0; p < n; ++p)
            for (int q = p + 1; q < n; ++q) {
                const double apq = a[std::size_t(p * n + q)];
                if (apq == 0)
                    continue;
                const double theta = (a[std::size_t(q * n + q)] - a[std::size_t(p * n + p)]) / (2 * apq);
                const double t = (theta >= 0 ? 1 : -1) / (std::abs(theta) + std::sqrt(theta * theta + 1));
                const double c = 1 / std::sqrt(t * t + 1), s = t * c;
                for (int k = 0; k < n; ++k) { // columns p, q
                    const double akp = a[std::size_t(k * n + p)], akq = a[std::size_t(k * n + q)];
                    a[std::size_t(k * n + p)] = c * akp - s * akq;
                    a[std::size_t(k * n + q)] = s * akp + c * akq;
                }
                for (int k = 0; k < n; ++k) { // rows p, q
                    const double apk = a[std::size_t(p * n + k)], aqk = a[std::size_t(q * n + k)];
                    a[std::size_t(p * n + k)] = c * apk - s * aqk;
                    a[std::size_t(q * n + k)] = s * apk + c * aqk;
                }
            }
    }
    std::vector<double> d(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i)
        d[std::size_t(i)] = a[std::size_t(i * n + i)];
    std::sort(d.begin(), d.end(), std::greater<>());
    return d;
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

struct RandomKv {
    std::vector<std::vector<float>> k, v;
    std::vector<WeightMatrix> wk, wv;
    RandomKv(std::int64_t layers, std::int64_t kDim, std::int64_t vDim, std::int64_t cols)
    {
        for (std::int64_t l = 0; l < layers; ++l) {
            k.push_back(randomMatrix(kDim, cols, unsigned(1 + l)));
            v.push_back(randomMatrix(vDim, cols, unsigned(10 + l)));
        }
        for (std::int64_t l = 0; l < layers; ++l) {
            wk.push_back(denseWeights(TensorType::F32, kDim, cols, k[std::size_t(l)].data()));
            wv.push_back(denseWeights(TensorType::F32, vDim, cols, v[std::size_t(l)].data()));
        }
    }
};

LatentKeyGeometry geometry(std::int64_t nKvHeads, std::int64_t headDim, std::int64_t ropeDims, bool neox)
{
    LatentKeyGeometry g;
    g.nKvHeads = nKvHeads;
    g.headDimK = headDim;
    g.headDimV = headDim;
    g.ropeDims = ropeDims;
    g.neox = neox;
    return g;
}

} // namespace

TEST_CASE("factors: orthonormal up-projections, K pairs on one RoPE frequency, exact at full rank")
{
    const std::int64_t heads = 3, headDim = 8, cols = 40, layers = 2, kDim = heads * headDim;
    const RandomKv w(layers, kDim, kDim, cols);
    for (const bool neox : { false, true }) {
        const LatentKeyGeometry geo = geometry(heads, headDim, neox ? 4 : 8, neox); // neox: RoPE on half the head
        double previousK = 1e9, previousV = 1e9;
        for (std::int64_t rank : { 4, 12, 20, 24 }) {
            CAPTURE(neox);
            CAPTURE(rank);
            const LatentFactors f = factorizeKv(w.wk, w.wv, geo, rank);
            REQUIRE(f.layers.size() == std::size_t(layers));
            const LatentLayerFactors &l1 = f.layers[1];
            CHECK(orthonormality(l1.kUp, kDim, rank) < 1e-5);
            CHECK(orthonormality(l1.vUp, kDim, rank) < 1e-5);
            // Latent pair j writes only RoPE pair kPairs[j] of each head, as a rotation-scaling
            // block [a, -b; b, a] (what lets RoPE move onto the latent).
            REQUIRE(l1.kPairs.size() == std::size_t(rank / 2));
            for (std::int64_t j = 0; j < rank / 2; ++j)
                for (std::int64_t g = 0; g < heads; ++g)
                    for (int p = 0; p < headDim / 2; ++p) {
                        const auto [a, b] = geo.pairDims(p);
                        const auto at
                            = [&](int d, std::int64_t c) { return l1.kUp[std::size_t((g * headDim + d) * rank + c)]; };
                        if (p != l1.kPairs[std::size_t(j)]) {
                            CHECK(at(a, 2 * j) == 0.f);
                            CHECK(at(b, 2 * j + 1) == 0.f);
                        } else {
                            CHECK(at(a, 2 * j) == at(b, 2 * j + 1));
                            CHECK(at(a, 2 * j + 1) == -at(b, 2 * j));
                        }
                    }
            const double ek = reconstructionError(w.k[1], l1.kUp, l1.kDown, kDim, cols, rank);
            const double ev = reconstructionError(w.v[1], l1.vUp, l1.vDown, kDim, cols, rank);
            MESSAGE(fmt::format("neox {} rank {}: K reconstruction error {:.3g}, V {:.3g}", neox, rank, ek, ev));
            if (rank == kDim) {
                CHECK(ek < 1e-5);
                CHECK(ev < 1e-5);
            } else {
                CHECK(ek > 1e-3); // a random matrix of full rank 24 cannot be exact at lower rank
                CHECK(ev > 1e-3);
            }
            CHECK(ek < previousK);
            CHECK(ev < previousV);
            previousK = ek;
            previousV = ev;
        }
    }
    // V is a truncated SVD: its squared Frobenius error equals the sum of the dropped squared
    // singular values (Eckart-Young), the smallest eigenvalues of W Wᵀ (by Jacobi, above).
    {
        const LatentKeyGeometry geo = geometry(heads, headDim, headDim, false);
        const std::int64_t rank = 10;
        const LatentFactors f = factorizeKv(w.wk, w.wv, geo, rank);
        const std::vector<double> p = product(f.layers[0].vUp, f.layers[0].vDown, kDim, cols, rank);
        const std::vector<float> &v = w.v[0];
        double err2 = 0;
        for (std::size_t i = 0; i < v.size(); ++i)
            err2 += (v[i] - p[i]) * (v[i] - p[i]);
        std::vector<double> gram(std::size_t(kDim * kDim), 0.0);
        for (std::int64_t i = 0; i < kDim; ++i)
            for (std::int64_t j = 0; j < kDim; ++j)
                for (std::int64_t c = 0; c < cols; ++c)
                    gram[std::size_t(i * kDim + j)]
                        += double(v[std::size_t(i * cols + c)]) * v[std::size_t(j * cols + c)];
        const std::vector<double> eig = symmetricEigenvalues(gram, int(kDim));
        const double dropped = std::accumulate(eig.begin() + rank, eig.end(), 0.0);
        CHECK(err2 == doctest::Approx(dropped).epsilon(1e-5));
    }
    const LatentKeyGeometry geo = geometry(heads, headDim, headDim, false);
    CHECK_THROWS_AS(factorizeKv(w.wk, w.wv, geo, kDim + 2), Error);
    CHECK_THROWS_AS(factorizeKv(w.wk, w.wv, geo, 0), Error);
    CHECK_THROWS_AS(factorizeKv(w.wk, w.wv, geo, 7), Error); // odd: K latents come in pairs
}

TEST_CASE("RoPE of the rebuilt key equals the key rebuilt from the rotated latent")
{
    const std::int64_t heads = 2, headDim = 8, cols = 24, kDim = heads * headDim, rank = 10;
    const RandomKv w(1, kDim, kDim, cols);
    const LatentKeyGeometry geo = geometry(heads, headDim, headDim, false);
    const LatentFactors f = factorizeKv(w.wk, w.wv, geo, rank);
    const LatentLayerFactors &l = f.layers[0];
    const std::vector<float> x = randomMatrix(1, cols, 77);
    std::vector<double> c(rank, 0.0);
    for (std::int64_t i = 0; i < rank; ++i)
        for (std::int64_t j = 0; j < cols; ++j)
            c[std::size_t(i)] += double(l.kDown[std::size_t(i * cols + j)]) * x[std::size_t(j)];
    const int pos = 37;
    // Left: kUp · c, then RoPE per head.
    std::vector<double> left(kDim, 0.0);
    for (std::int64_t r = 0; r < kDim; ++r)
        for (std::int64_t i = 0; i < rank; ++i)
            left[std::size_t(r)] += double(l.kUp[std::size_t(r * rank + i)]) * c[std::size_t(i)];
    for (std::int64_t g = 0; g < heads; ++g)
        ropeHead(left.data() + g * headDim, int(headDim), false, pos);
    // Right: each latent pair rotated by its RoPE pair's angle, then kUp.
    for (std::int64_t j = 0; j < rank / 2; ++j) {
        const double theta = pos * std::pow(10000.0, -2.0 * l.kPairs[std::size_t(j)] / double(headDim));
        const double a = c[std::size_t(2 * j)], b = c[std::size_t(2 * j + 1)];
        c[std::size_t(2 * j)] = a * std::cos(theta) - b * std::sin(theta);
        c[std::size_t(2 * j + 1)] = a * std::sin(theta) + b * std::cos(theta);
    }
    double worst = 0;
    for (std::int64_t r = 0; r < kDim; ++r) {
        double right = 0;
        for (std::int64_t i = 0; i < rank; ++i)
            right += double(l.kUp[std::size_t(r * rank + i)]) * c[std::size_t(i)];
        worst = std::max(worst, std::abs(right - left[std::size_t(r)]));
    }
    CHECK(worst < 1e-5);
}

// Inputs that live mostly in a few directions (as a layer's normed inputs do): weighting by their
// moments must fit the keys and values of such inputs better than the weights' own SVD does.
TEST_CASE("calibration: moments as a plain sum, a better fit on the calibrated inputs, still exact at full rank")
{
    const std::int64_t heads = 2, headDim = 8, cols = 32, kDim = heads * headDim, n = 300;
    const RandomKv w(1, kDim, kDim, cols);
    const LatentKeyGeometry geo = geometry(heads, headDim, headDim, false);
    std::mt19937 rng(42);
    std::normal_distribution<float> g(0.f, 1.f);
    const std::vector<float> basis = randomMatrix(4, cols, 9); // inputs: 4 strong directions + small noise
    std::vector<float> x(std::size_t(n * cols)), k(std::size_t(n * kDim)), v(std::size_t(n * kDim));
    for (std::int64_t t = 0; t < n; ++t) {
        float mix[4];
        for (float &m : mix)
            m = g(rng);
        for (std::int64_t c = 0; c < cols; ++c) {
            float s = 0.02f * g(rng);
            for (int b = 0; b < 4; ++b)
                s += mix[b] * basis[std::size_t(b * cols + c)];
            x[std::size_t(t * cols + c)] = s;
        }
        for (std::int64_t r = 0; r < kDim; ++r) {
            double sk = 0, sv = 0;
            for (std::int64_t c = 0; c < cols; ++c) {
                sk += double(w.k[0][std::size_t(r * cols + c)]) * x[std::size_t(t * cols + c)];
                sv += double(w.v[0][std::size_t(r * cols + c)]) * x[std::size_t(t * cols + c)];
            }
            k[std::size_t(t * kDim + r)] = float(sk);
            v[std::size_t(t * kDim + r)] = float(sv);
        }
    }
    LatentCalibration calibration(geo, 1);
    calibration.add(0, k.data(), v.data(), int(n / 2));
    calibration.add(0, k.data() + n / 2 * kDim, v.data() + n / 2 * kDim, int(n - n / 2));
    CHECK(calibration.tokens() == n);
    // Pair 1 of the keys (dims 2, 3 of each head) as complex numbers across heads: Σ z zᴴ.
    std::complex<double> m01 = 0;
    double vm23 = 0;
    for (std::int64_t t = 0; t < n; ++t) {
        const std::complex<double> z0(k[std::size_t(t * kDim + 2)], k[std::size_t(t * kDim + 3)]);
        const std::complex<double> z1(k[std::size_t(t * kDim + headDim + 2)], k[std::size_t(t * kDim + headDim + 3)]);
        m01 += z0 * std::conj(z1);
        vm23 += double(v[std::size_t(t * kDim + 2)]) * v[std::size_t(t * kDim + 3)];
    }
    const std::complex<double> got = calibration.keyMoments(0)[std::size_t(1 * heads * heads + 0 * heads + 1)];
    CHECK(std::abs(got - m01) < 1e-9 * std::abs(m01) + 1e-9);
    CHECK(calibration.valueMoments(0)[std::size_t(2 * kDim + 3)] == doctest::Approx(vm23).epsilon(1e-9));

    // Mean squared error of the rebuilt keys / values of the calibration inputs.
    const auto error = [&](const LatentFactors &f, bool keys) {
        const LatentLayerFactors &l = f.layers[0];
        const std::vector<double> hat
            = keys ? product(l.kUp, l.kDown, kDim, cols, f.rank) : product(l.vUp, l.vDown, kDim, cols, f.rank);
        const std::vector<float> &want = keys ? k : v;
        double e = 0;
        for (std::int64_t t = 0; t < n; ++t)
            for (std::int64_t r = 0; r < kDim; ++r) {
                double s = 0;
                for (std::int64_t c = 0; c < cols; ++c)
                    s += hat[std::size_t(r * cols + c)] * x[std::size_t(t * cols + c)];
                e += std::pow(s - want[std::size_t(t * kDim + r)], 2);
            }
        return e / double(n * kDim);
    };
    for (std::int64_t rank : { 4, 8 }) {
        const LatentFactors plain = factorizeKv(w.wk, w.wv, geo, rank);
        const LatentFactors weighted = factorizeKv(w.wk, w.wv, geo, rank, &calibration);
        MESSAGE(fmt::format("rank {}: K error {:.3g} plain, {:.3g} calibrated; V {:.3g}, {:.3g}", rank,
            error(plain, true), error(weighted, true), error(plain, false), error(weighted, false)));
        // V (unstructured) has rank 4 on these inputs and is almost exact once calibrated; K's
        // latent pairs each keep one RoPE frequency, where 4 real input directions still fill
        // both complex dims, so its gain is smaller (but the calibrated fit is the optimum of
        // this error, hence never worse).
        CHECK(error(weighted, true) < 0.95 * error(plain, true));
        CHECK(error(weighted, false) < 0.01 * error(plain, false));
    }
    const LatentFactors full = factorizeKv(w.wk, w.wv, geo, kDim, &calibration);
    CHECK(reconstructionError(w.k[0], full.layers[0].kUp, full.layers[0].kDown, kDim, cols, kDim) < 1e-5);
    CHECK(reconstructionError(w.v[0], full.layers[0].vUp, full.layers[0].vDown, kDim, cols, kDim) < 1e-5);

    // A calibrated factor file is another file; a calibration of another layout is refused.
    const std::filesystem::path dir = nw::test::scratchDir("latent_calibrated");
    std::filesystem::remove_all(dir);
    bool cached = true;
    loadOrFactorizeKv(w.wk, w.wv, geo, 8, dir, &cached);
    loadOrFactorizeKv(w.wk, w.wv, geo, 8, dir, &cached, &calibration);
    CHECK_FALSE(cached);
    loadOrFactorizeKv(w.wk, w.wv, geo, 8, dir, &cached, &calibration);
    CHECK(cached);
    CHECK(std::distance(std::filesystem::directory_iterator(dir), std::filesystem::directory_iterator()) == 2);
    const LatentCalibration other(geometry(heads, headDim, headDim, true), 1);
    CHECK_THROWS_AS(factorizeKv(w.wk, w.wv, geo, 8, &other), Error);
}

TEST_CASE("factors are cached by weight hash, geometry and rank; a damaged file is recomputed")
{
    const std::filesystem::path dir = nw::test::scratchDir("latent_cache");
    std::filesystem::remove_all(dir);
    const std::vector<float> k = randomMatrix(16, 32, 3), v = randomMatrix(16, 32, 4);
    const std::vector<WeightMatrix> wk { denseWeights(TensorType::F32, 16, 32, k.data()) };
    const std::vector<WeightMatrix> wv { denseWeights(TensorType::F32, 16, 32, v.data()) };
    const LatentKeyGeometry geo = geometry(2, 8, 8, false);
    bool cached = true;
    const LatentFactors first = loadOrFactorizeKv(wk, wv, geo, 8, dir, &cached);
    CHECK_FALSE(cached);
    const std::filesystem::path file = dir / fmt::format("{:016x}-r8.nwlat", kvWeightsHash(wk, wv, geo));
    REQUIRE(std::filesystem::exists(file));
    // 8 magic + 4 version + 8 dims, then K down/up, K pairs (int32), V down/up.
    const std::uintmax_t size = 8 + 4 + 8 * 8 + 4 * ((8 * 32 + 16 * 8) * 2 + 4);
    CHECK(std::filesystem::file_size(file) == size);

    const LatentFactors second = loadOrFactorizeKv(wk, wv, geo, 8, dir, &cached);
    CHECK(cached);
    CHECK(second.layers[0].kDown == first.layers[0].kDown);
    CHECK(second.layers[0].kPairs == first.layers[0].kPairs);
    CHECK(second.layers[0].kUpT == first.layers[0].kUpT);
    CHECK(second.layers[0].vUp == first.layers[0].vUp);

    // Another rank is another file; other weights or another head geometry another hash.
    loadOrFactorizeKv(wk, wv, geo, 4, dir, &cached);
    CHECK_FALSE(cached);
    std::vector<float> k2 = k;
    k2[5] += 1.f;
    const std::vector<WeightMatrix> wk2 { denseWeights(TensorType::F32, 16, 32, k2.data()) };
    CHECK(kvWeightsHash(wk2, wv, geo) != kvWeightsHash(wk, wv, geo));
    CHECK(kvWeightsHash(wk, wv, geometry(4, 4, 4, false)) != kvWeightsHash(wk, wv, geo));
    CHECK(kvWeightsHash(wk, wv, geometry(2, 8, 8, true)) != kvWeightsHash(wk, wv, geo));

    CHECK_THROWS_AS(readLatentFactors(file, 8, 1, 32, geometry(2, 8, 8, true)), Error);
    std::filesystem::resize_file(file, 100);
    CHECK_THROWS_AS(readLatentFactors(file, 8, 1, 32, geo), Error);
    const LatentFactors again = loadOrFactorizeKv(wk, wv, geo, 8, dir, &cached);
    CHECK_FALSE(cached);
    CHECK(again.layers[0].kDown == first.layers[0].kDown);
    CHECK(std::filesystem::file_size(file) == size);
}

// Both forms of one layer's attention, prefill then decode, against float64 attention over the
// keys and values the factors stand for: K_j = RoPE_j(kUp·kDown·x_j), V_j = vUp·vDown·x_j.
TEST_CASE("latent attention: absorbed and expanded forms equal plain attention over the reconstructed K/V")
{
    const std::int64_t nEmbd = 32, kvHeads = 2, headDim = 16, nHeads = 4, kDim = kvHeads * headDim;
    const RandomKv w(1, kDim, kDim, nEmbd);
    const auto backend = makeCpuBackend(2);
    struct Case {
        const char *name;
        std::int64_t rank;
        bool neox;
        int ropeDims;
        TensorType rows;
        double tolerance;
        int rotation = 0; // Hadamard block of the stored rows (+q8 / +q4 rotate theirs)
    };
    const Case cases[] = {
        { "full rank f32", 32, false, 16, TensorType::F32, 1e-5 },
        { "rank 12 f32", 12, false, 16, TensorType::F32, 1e-5 },
        { "rank 12 neox, half-head rope", 12, true, 8, TensorType::F32, 1e-5 },
        { "rank 32 f16 rows", 32, false, 16, TensorType::F16, 3e-3 },
        { "rank 32 q8 rows (and a q8 query when absorbed)", 32, false, 16, TensorType::Q8_0, 5e-2 },
        { "rank 32 f32 rows, rotated", 32, false, 16, TensorType::F32, 1e-5, 32 },
        { "rank 32 q8 rows, rotated", 32, false, 16, TensorType::Q8_0, 5e-2, 32 },
    };
    for (const Case &cs : cases)
        for (const LatentForm form : { LatentForm::Absorbed, LatentForm::Expanded }) {
            const std::string name = cs.name;
            CAPTURE(name);
            CAPTURE(int(form));
            const LatentKeyGeometry geo = geometry(kvHeads, headDim, cs.ropeDims, cs.neox);
            const LatentFactors f = factorizeKv(w.wk, w.wv, geo, cs.rank);
            const LatentLayerFactors &lf = f.layers[0];
            const std::vector<double> wkHat = product(lf.kUp, lf.kDown, kDim, nEmbd, cs.rank);
            const std::vector<double> wvHat = product(lf.vUp, lf.vDown, kDim, nEmbd, cs.rank);
            RopeParams rope;
            rope.nDims = cs.ropeDims;
            rope.neox = cs.neox;

            KvLayout layout;
            layout.spec.mode = KvMode::Latent;
            layout.spec.rank = cs.rank;
            layout.kType = layout.vType = cs.rows;
            layout.kRotation = layout.vRotation = cs.rotation;
            layout.nKvHeads = 1;
            layout.kHeadDim = layout.vHeadDim = cs.rank;
            KvCache cache(layout, 1, 128, 0);

            const int total = 18, prefill = 12;
            const std::vector<float> x = randomMatrix(total, nEmbd, 5);
            std::vector<float> q = randomMatrix(total * nHeads, headDim, 6); // already "rotated"
            std::vector<std::int32_t> positions(total);
            std::iota(positions.begin(), positions.end(), 0);
            // The reference K (roped) and V of every token.
            std::vector<double> keys(std::size_t(total * kDim)), values(std::size_t(total * kDim));
            for (int t = 0; t < total; ++t) {
                for (std::int64_t r = 0; r < kDim; ++r) {
                    double sk = 0, sv = 0;
                    for (std::int64_t c = 0; c < nEmbd; ++c) {
                        sk += wkHat[std::size_t(r * nEmbd + c)] * x[std::size_t(t * nEmbd + c)];
                        sv += wvHat[std::size_t(r * nEmbd + c)] * x[std::size_t(t * nEmbd + c)];
                    }
                    keys[std::size_t(t * kDim + r)] = sk;
                    values[std::size_t(t * kDim + r)] = sv;
                }
                for (std::int64_t g = 0; g < kvHeads; ++g)
                    ropeHead(keys.data() + t * kDim + g * headDim, cs.ropeDims, cs.neox, t);
            }
            const double scale = 1.0 / std::sqrt(double(headDim));
            const auto reference = [&](int t, int h) {
                const std::int64_t g = h / (nHeads / kvHeads);
                std::vector<double> s(std::size_t(t + 1)), out(std::size_t(headDim), 0.0);
                double mx = -1e300, sum = 0;
                for (int j = 0; j <= t; ++j) {
                    double d = 0;
                    for (std::int64_t i = 0; i < headDim; ++i)
                        d += double(q[std::size_t((t * nHeads + h) * headDim + i)])
                            * keys[std::size_t(j * kDim + g * headDim + i)];
                    s[std::size_t(j)] = d * scale;
                    mx = std::max(mx, s[std::size_t(j)]);
                }
                for (int j = 0; j <= t; ++j) {
                    const double p = std::exp(s[std::size_t(j)] - mx);
                    sum += p;
                    for (std::int64_t i = 0; i < headDim; ++i)
                        out[std::size_t(i)] += p * values[std::size_t(j * kDim + g * headDim + i)];
                }
                for (double &o : out)
                    o /= sum;
                return out;
            };

            LatentAttention attention;
            std::vector<float> out(std::size_t(total * nHeads * headDim), std::nanf(""));
            const auto step = [&](int t0, int n) {
                cache.reserve(t0 + n);
                LatentAttentionArgs a;
                a.x = x.data() + t0 * nEmbd;
                a.q = q.data() + t0 * nHeads * headDim;
                a.out = out.data() + t0 * nHeads * headDim;
                a.nTokens = n;
                a.nHeads = int(nHeads);
                a.positions = positions.data() + t0;
                a.scale = float(scale);
                attention.run(*backend, f, 0, rope, cache, a, form);
                cache.commit(t0 + n);
                CHECK(attention.lastForm() == form);
            };
            step(0, prefill);
            for (int t = prefill; t < total; ++t)
                step(t, 1);
            double worst = 0;
            for (int t = 0; t < total; ++t)
                for (int h = 0; h < nHeads; ++h)
                    worst = std::max(worst,
                        relativeError(
                            std::span(out).subspan(std::size_t((t * nHeads + h) * headDim), std::size_t(headDim)),
                            reference(t, h)));
            MESSAGE(fmt::format("{}, {}: max relative error {:.3g}", cs.name,
                form == LatentForm::Absorbed ? "absorbed" : "expanded", worst));
            CHECK(worst < cs.tolerance);
        }
}

TEST_CASE("latent attention picks the absorbed form to decode and the expanded form for a long prefill")
{
    const std::int64_t nEmbd = 32, kvHeads = 2, headDim = 16, kDim = kvHeads * headDim, rank = 32;
    const RandomKv w(1, kDim, kDim, nEmbd);
    const auto backend = makeCpuBackend(1);
    const LatentFactors f = factorizeKv(w.wk, w.wv, geometry(kvHeads, headDim, headDim, false), rank);
    KvLayout layout;
    layout.spec.mode = KvMode::Latent;
    layout.spec.rank = rank;
    layout.kType = layout.vType = TensorType::F32;
    layout.nKvHeads = 1;
    layout.kHeadDim = layout.vHeadDim = rank;
    KvCache cache(layout, 1, 256, 0);
    const int prefill = 200, nHeads = 8;
    const std::vector<float> x = randomMatrix(prefill + 1, nEmbd, 5);
    const std::vector<float> q = randomMatrix((prefill + 1) * nHeads, headDim, 6);
    std::vector<float> out(std::size_t((prefill + 1) * nHeads * headDim));
    std::vector<std::int32_t> positions(prefill + 1);
    std::iota(positions.begin(), positions.end(), 0);
    RopeParams rope;
    rope.nDims = int(headDim);
    LatentAttention attention;
    LatentAttentionArgs a;
    a.x = x.data();
    a.q = q.data();
    a.out = out.data();
    a.nTokens = prefill;
    a.nHeads = nHeads;
    a.positions = positions.data();
    cache.reserve(prefill + 1);
    attention.run(*backend, f, 0, rope, cache, a);
    CHECK(attention.lastForm() == LatentForm::Expanded);
    cache.commit(prefill);
    a.x += prefill * nEmbd;
    a.q += prefill * nHeads * headDim;
    a.out += prefill * nHeads * headDim;
    a.nTokens = 1;
    a.positions += prefill;
    attention.run(*backend, f, 0, rope, cache, a);
    CHECK(attention.lastForm() == LatentForm::Absorbed);
}

TEST_CASE("latent at full rank reproduces the float64 reference; lower ranks differ")
{
    const std::filesystem::path dir = nw::test::scratchDir("latent_model");
    std::filesystem::remove_all(dir);
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

    std::vector<float> all;
    const auto run = [&](const char *mode, bool decode) {
        KvModeSpec kvSpec = KvModeSpec::parse(mode);
        kvSpec.rowType = TensorType::F32;
        auto cache = model->makeKvCache(kvSpec, 64);
        std::vector<float> logits;
        all.clear();
        if (decode) { // 8 at once, then one token at a time (the absorbed form)
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
            worst = std::max(
                worst, relativeError(std::span(all).subspan(std::size_t(t) * vocab, vocab), want[std::size_t(t)]));
        return worst;
    };
    const double full = run("full", false);
    const double latentFull = run("latent:32", false);
    const double latentFullDecode = run("latent:32", true);
    const double latent8 = run("latent:8", false);
    const std::vector<float> latent8Logits = all;
    const double latent8Decode = run("latent:8", true);
    double formsDiffer = 0, logitScale = 0;
    for (std::size_t i = 0; i < all.size(); ++i) {
        formsDiffer = std::max(formsDiffer, double(std::abs(all[i] - latent8Logits[i])));
        logitScale = std::max(logitScale, double(std::abs(latent8Logits[i])));
    }
    MESSAGE(fmt::format("max relative logit error vs float64: full {:.3g}, latent:32 {:.3g} (decode {:.3g}), "
                        "latent:8 {:.3g} (decode {:.3g}, {:.3g} from prefill)",
        full, latentFull, latentFullDecode, latent8, latent8Decode, formsDiffer / logitScale));
    CHECK(full < 1e-4);
    CHECK(latentFull < 1e-4);
    CHECK(latentFullDecode < 1e-4);
    CHECK(latent8 > 1e-2); // a quarter of the K/V rank cannot give the same logits
    // Another batching of the same low-rank attention (the 8-token prefill takes the expanded
    // form, the 20-token batch and the decode steps the absorbed one) gives the same logits.
    CHECK(formsDiffer / logitScale < 1e-4);
    CHECK_THROWS_AS(model->makeKvCache(KvModeSpec::parse("latent:33"), 64), Error);
    CHECK_THROWS_AS(model->makeKvCache(KvModeSpec::parse("latent:7"), 64), Error);
    // The factors were written once per rank and are now read from the cache dir.
    std::size_t files = 0;
    for (const auto &entry : std::filesystem::recursive_directory_iterator(dir))
        files += entry.path().extension() == ".nwlat";
    CHECK(files == 2); // latent:32 and latent:8
}
