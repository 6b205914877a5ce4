// TurboQuant KV rows (kernels/cpu/turbo_quant.h): the Lloyd–Max codebooks against Max's published
// table and a float64 Lloyd iteration written here, the bit packing against codes packed by hand,
// the distortion per vector against the normal's Lloyd–Max MSE and TurboQuant's bound
// (arXiv:2504.19874, Theorem 1: D_mse ≤ √3·π/2 · 4^-b) with the norm correction's cost on top,
// and attention over the packed codes
// against a float64 attention over the decoded vectors and over the original ones.
#include "common/error.h"
#include "kernels/backend.h"
#include "kernels/cpu/turbo_quant.h"
#include "kernels/float16.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numbers>
#include <random>
#include <vector>

namespace {

double normalPdf(double x)
{
    return std::isfinite(x) ? std::exp(-x * x / 2) / std::sqrt(2 * std::numbers::pi) : 0.0;
}

double normalCdf(double x)
{
    return std::isfinite(x) ? 0.5 * std::erfc(-x / std::sqrt(2.0)) : (x > 0 ? 1.0 : 0.0);
}

// Lloyd's iteration for the standard normal in float64: thresholds at the midpoints, each level
// the conditional mean of its cell, (φ(a) − φ(b)) / (Φ(b) − Φ(a)). Returns the levels and the MSE.
std::pair<std::vector<double>, double> lloydNormal(int bits)
{
    const int n = 1 << bits;
    std::vector<double> levels(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i)
        levels[std::size_t(i)] = -2.0 + 4.0 * (i + 0.5) / n;
    std::vector<double> t(static_cast<std::size_t>(n) + 1);
    for (int iteration = 0; iteration < 5000; ++iteration) {
        t.front() = -std::numeric_limits<double>::infinity();
        t.back() = std::numeric_limits<double>::infinity();
        for (int i = 1; i < n; ++i)
            t[std::size_t(i)] = (levels[std::size_t(i - 1)] + levels[std::size_t(i)]) / 2;
        for (int i = 0; i < n; ++i)
            levels[std::size_t(i)] = (normalPdf(t[std::size_t(i)]) - normalPdf(t[std::size_t(i) + 1]))
                / (normalCdf(t[std::size_t(i) + 1]) - normalCdf(t[std::size_t(i)]));
    }
    double mse = 1.0; // E[x²] − Σ P(cell) · level², since each level is its cell's mean
    for (int i = 0; i < n; ++i)
        mse -= (normalCdf(t[std::size_t(i) + 1]) - normalCdf(t[std::size_t(i)])) * levels[std::size_t(i)]
            * levels[std::size_t(i)];
    return { levels, mse };
}

double paperBound(int bits)
{
    return std::sqrt(3.0) * std::numbers::pi / 2 * std::pow(4.0, -bits);
}

std::vector<float> gaussian(std::size_t n, unsigned seed, float outlier = 1.f, int outlierEvery = 0)
{
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.f, 1.f);
    std::vector<float> x(n);
    for (std::size_t i = 0; i < n; ++i)
        x[i] = normal(rng) * (outlierEvery > 0 && i % std::size_t(outlierEvery) == 3 ? outlier : 1.f);
    return x;
}

// The distortion per unit vector with the norm kept (kernels/cpu/turbo_quant.h): x̂ = ŷ / |ŷ|
// for the decoded unit vector ŷ. Lloyd–Max levels are their cells' means, so ŷ·u = |ŷ|² and
// |ŷ|² = 1 − D, whence |x̂ − u|² = 2 − 2 ŷ·u / |ŷ| = 2 (1 − √(1 − D)) (D + D²/4 to second order).
double normKeptDistortion(double mse)
{
    return 2 * (1 - std::sqrt(1 - mse));
}

// Mean of |x̂ − x|² / |x|² over vectors of `dim`; `worstNorm` gets the largest | |x̂| / |x| − 1 |.
double meanDistortion(int bits, int dim, int count, float outlier, double *worstNorm = nullptr)
{
    const std::vector<float> x = gaussian(std::size_t(dim) * std::size_t(count), 11u + unsigned(dim), outlier, 29);
    std::vector<std::byte> row(nw::turboHeadBytes(bits, dim));
    std::vector<float> back(static_cast<std::size_t>(dim));
    double sum = 0;
    for (int v = 0; v < count; ++v) {
        const float *xv = x.data() + std::size_t(v) * std::size_t(dim);
        nw::turboEncodeHead(bits, xv, std::size_t(dim), row.data());
        nw::turboDequantizeRow(bits, row.data(), 1, std::size_t(dim), back.data());
        double err = 0, norm = 0, decodedNorm = 0;
        for (int i = 0; i < dim; ++i) {
            err += (double(back[std::size_t(i)]) - xv[i]) * (double(back[std::size_t(i)]) - xv[i]);
            norm += double(xv[i]) * xv[i];
            decodedNorm += double(back[std::size_t(i)]) * back[std::size_t(i)];
        }
        sum += err / norm;
        if (worstNorm)
            *worstNorm = std::max(*worstNorm, std::abs(std::sqrt(decodedNorm / norm) - 1));
    }
    return sum / count;
}

} // namespace

TEST_CASE("Lloyd–Max levels of the standard normal: Max 1960 and a float64 Lloyd iteration")
{
    // Max (1960), "Quantizing for minimum distortion", IRE Trans. Inf. Theory 6(1), Table I, the
    // output levels for N = 4, 8, 16 (positive half; the table is symmetric).
    const std::vector<std::vector<double>> published = {
        { 0.4528, 1.510 },
        { 0.2451, 0.7560, 1.344, 2.152 },
        { 0.1284, 0.3881, 0.6568, 0.9424, 1.256, 1.618, 2.069, 2.733 },
    };
    for (int bits = 2; bits <= 4; ++bits) {
        CAPTURE(bits);
        const std::span<const float> levels = nw::lloydMaxLevels(bits);
        const auto [reference, mse] = lloydNormal(bits);
        REQUIRE(levels.size() == std::size_t(1) << bits);
        const std::size_t half = levels.size() / 2;
        for (std::size_t i = 0; i < levels.size(); ++i) {
            CAPTURE(i);
            CHECK(levels[i] == doctest::Approx(reference[i]).epsilon(1e-6));
            CHECK(levels[i] == -levels[levels.size() - 1 - i]);
        }
        for (std::size_t i = 0; i < half; ++i)
            CHECK(levels[half + i] == doctest::Approx(published[std::size_t(bits - 2)][i]).epsilon(1e-3));
        // The normal's Lloyd–Max MSE sits under TurboQuant's bound (0.117 / 0.034 / 0.0095 for
        // 2 / 3 / 4 bits, the paper's Theorem 1 figures).
        CHECK(mse < paperBound(bits));
    }
}

TEST_CASE("TurboQuant codes pack tightly and unpack to the same codes")
{
    // Codes 0..7 at 3 bits, least significant first: 0b111'110'101'100'011'010'001'000 = 0xfac688.
    const std::uint8_t ramp[8] = { 0, 1, 2, 3, 4, 5, 6, 7 };
    std::byte packed[3];
    nw::packTurboCodes(3, ramp, 8, packed);
    CHECK(packed[0] == std::byte { 0x88 });
    CHECK(packed[1] == std::byte { 0xc6 });
    CHECK(packed[2] == std::byte { 0xfa });
    // 2 bits: 3,0,1,2 → 0b10'01'00'11 = 0x93; 4 bits: 0xa, 0x5 → 0x5a.
    const std::uint8_t two[8] = { 3, 0, 1, 2, 3, 0, 1, 2 };
    std::byte packed2[2];
    nw::packTurboCodes(2, two, 8, packed2);
    CHECK(packed2[0] == std::byte { 0x93 });
    CHECK(packed2[1] == std::byte { 0x93 });
    const std::uint8_t four[8] = { 0xa, 0x5, 0, 0xf, 1, 2, 3, 4 };
    std::byte packed4[4];
    nw::packTurboCodes(4, four, 8, packed4);
    CHECK(packed4[0] == std::byte { 0x5a });
    CHECK(packed4[1] == std::byte { 0xf0 });

    std::mt19937 rng(5);
    for (int bits = 2; bits <= 4; ++bits) {
        CAPTURE(bits);
        std::uniform_int_distribution<int> code(0, (1 << bits) - 1);
        std::vector<std::uint8_t> codes(136), back(136);
        for (std::uint8_t &c : codes)
            c = std::uint8_t(code(rng));
        std::vector<std::byte> bytes(136 * std::size_t(bits) / 8 + 1, std::byte { 0xee });
        nw::packTurboCodes(bits, codes.data(), codes.size(), bytes.data());
        CHECK(bytes.back() == std::byte { 0xee }); // exactly n·bits/8 bytes written
        nw::unpackTurboCodes(bits, bytes.data(), codes.size(), back.data());
        CHECK(back == codes);
        CHECK(nw::turboHeadBytes(bits, 136) == 2 + 136 * std::size_t(bits) / 8);
    }
}

TEST_CASE("decoding: the level of each code times norm / √dim, the AVX2 kernel equal to the scalar one")
{
    for (int bits = 2; bits <= 4; ++bits) {
        for (const int dim : { 8, 32, 136 }) {
            CAPTURE(bits);
            CAPTURE(dim);
            // A head written by hand: norm 3 (exact in f16), codes ascending modulo 2^bits.
            std::vector<std::uint8_t> codes(static_cast<std::size_t>(dim));
            for (int i = 0; i < dim; ++i)
                codes[std::size_t(i)] = std::uint8_t((i * 5 + 1) % (1 << bits));
            std::vector<std::byte> row(nw::turboHeadBytes(bits, dim));
            const nw::f16_t norm = nw::floatToFp16(3.f);
            std::memcpy(row.data(), &norm, sizeof norm);
            nw::packTurboCodes(bits, codes.data(), codes.size(), row.data() + 2);
            const std::span<const float> levels = nw::lloydMaxLevels(bits);
            std::vector<float> scalar(static_cast<std::size_t>(dim), std::numeric_limits<float>::quiet_NaN());
            nw::turboDecodeScalar()(bits, row.data(), std::size_t(dim), scalar.data());
            for (int i = 0; i < dim; ++i)
                CHECK(scalar[std::size_t(i)]
                    == doctest::Approx(3.0 * levels[codes[std::size_t(i)]] / std::sqrt(double(dim))).epsilon(1e-6));
            if (const nw::TurboDecodeFn avx2 = nw::turboDecodeAvx2()) {
                std::vector<float> simd(static_cast<std::size_t>(dim), std::numeric_limits<float>::quiet_NaN());
                avx2(bits, row.data(), std::size_t(dim), simd.data());
                CHECK(simd == scalar);
            } else {
                MESSAGE("no AVX2 on this CPU: the scalar kernel alone is checked");
            }
        }
    }
}

TEST_CASE("the random rotation is orthonormal and spreads a spike")
{
    for (const int dim : { 32, 64, 96, 128, 512 }) {
        CAPTURE(dim);
        const std::vector<float> x = gaussian(std::size_t(dim), 3u);
        std::vector<float> y = x;
        nw::turboRotate(y.data(), y.size());
        double nx = 0, ny = 0;
        for (int i = 0; i < dim; ++i) {
            nx += double(x[std::size_t(i)]) * x[std::size_t(i)];
            ny += double(y[std::size_t(i)]) * y[std::size_t(i)];
        }
        CHECK(ny == doctest::Approx(nx).epsilon(1e-5));
        nw::turboRotateBack(y.data(), y.size());
        for (int i = 0; i < dim; ++i)
            CHECK(y[std::size_t(i)] == doctest::Approx(x[std::size_t(i)]).epsilon(1e-5).scale(1.0));
        // H alone maps the all-ones vector to √dim·e_0 (all of its squared norm dim in one
        // coordinate); with the random signs first it is spread: no coordinate keeps 30 % of it.
        std::vector<float> ones(static_cast<std::size_t>(dim), 1.f);
        nw::turboRotate(ones.data(), ones.size());
        float largest = 0;
        for (const float v : ones)
            largest = std::max(largest, std::abs(v));
        CHECK(largest * largest < 0.3f * float(dim));
    }
}

TEST_CASE("distortion per vector: the normal's Lloyd–Max MSE with the norm kept, under TurboQuant's bound, "
          "outliers or not")
{
    for (int bits = 2; bits <= 4; ++bits) {
        const double lloyd = normKeptDistortion(lloydNormal(bits).second);
        for (const int dim : { 32, 128 }) {
            for (const float outlier : { 1.f, 20.f }) {
                CAPTURE(bits);
                CAPTURE(dim);
                CAPTURE(outlier);
                double worstNorm = 0;
                const double d = meanDistortion(bits, dim, 2000, outlier, &worstNorm);
                MESSAGE("tq" << bits << " dim " << dim << " outlier " << outlier << ": mean |x̂−x|²/|x|² = " << d
                             << " (Lloyd–Max with the norm kept " << lloyd << ", bound " << paperBound(bits) << ")");
                CHECK(d < paperBound(bits));
                // The decoded head has the norm of x, to the f16 scale's rounding (2^-11).
                CHECK(worstNorm < 1e-3);
                // Rotated coordinates of a unit vector are close to N(0, 1/dim), so the codebook
                // performs near its design point (dim 32's coordinates have lighter tails).
                CHECK(d == doctest::Approx(lloyd).epsilon(0.15));
            }
        }
    }
    // A zero vector stays zero (norm 0).
    std::vector<float> zero(64, 0.f), back(64, 1.f);
    std::vector<std::byte> row(nw::turboHeadBytes(3, 64));
    nw::turboEncodeHead(3, zero.data(), 64, row.data());
    nw::turboDequantizeRow(3, row.data(), 1, 64, back.data());
    CHECK(std::all_of(back.begin(), back.end(), [](float v) { return v == 0.f; }));
}

namespace {

struct Shape {
    int nHeads, nKvHeads, headDim;
};

// A side of the cache: TurboQuant bits, or 0 for f16 rows.
struct Case {
    const char *name;
    int kBits, vBits;
};

std::size_t headBytesOf(int bits, int dim)
{
    return bits > 0 ? nw::turboHeadBytes(bits, dim) : std::size_t(dim) * 2;
}

// Rows decoded as the cache holds them: TurboQuant's norm·Rᵀ·codebook, or f16.
std::vector<double> decoded(const std::vector<std::byte> &rows, int bits, int nRows, int nKvHeads, int dim)
{
    std::vector<double> out(std::size_t(nRows) * std::size_t(nKvHeads) * std::size_t(dim));
    std::vector<float> head(static_cast<std::size_t>(dim));
    const std::size_t headBytes = headBytesOf(bits, dim);
    for (std::size_t h = 0; h < std::size_t(nRows) * std::size_t(nKvHeads); ++h) {
        const std::byte *src = rows.data() + h * headBytes;
        if (bits > 0) {
            nw::turboDequantizeRow(bits, src, 1, std::size_t(dim), head.data());
        } else {
            for (int i = 0; i < dim; ++i) {
                nw::f16_t f;
                std::memcpy(&f, src + 2 * i, 2);
                head[std::size_t(i)] = nw::fp16ToFloat(f);
            }
        }
        std::copy(head.begin(), head.end(), out.begin() + std::ptrdiff_t(h * std::size_t(dim)));
    }
    return out;
}

// Causal float64 attention of the last nQuery tokens over nCache rows k, v [nCache, nKvHeads, dim];
// with `weights`, p[t][h][j] is kept for the bound on value errors.
std::vector<double> referenceAttention(const Shape &s, const std::vector<float> &q, const std::vector<double> &k,
    const std::vector<double> &v, int nCache, int nQuery, std::vector<double> *weights = nullptr)
{
    const int group = s.nHeads / s.nKvHeads, d = s.headDim;
    std::vector<double> out(std::size_t(nQuery) * std::size_t(s.nHeads) * std::size_t(d), 0.0);
    if (weights)
        weights->assign(std::size_t(nQuery) * std::size_t(s.nHeads) * std::size_t(nCache), 0.0);
    for (int t = 0; t < nQuery; ++t) {
        const int last = nCache - nQuery + t;
        for (int h = 0; h < s.nHeads; ++h) {
            const int kvHead = h / group;
            std::vector<double> score(std::size_t(last) + 1);
            double best = -std::numeric_limits<double>::infinity();
            for (int j = 0; j <= last; ++j) {
                double dot = 0;
                for (int i = 0; i < d; ++i)
                    dot += double(q[(std::size_t(t) * std::size_t(s.nHeads) + std::size_t(h)) * std::size_t(d)
                               + std::size_t(i)])
                        * k[(std::size_t(j) * std::size_t(s.nKvHeads) + std::size_t(kvHead)) * std::size_t(d)
                            + std::size_t(i)];
                score[std::size_t(j)] = dot / std::sqrt(double(d));
                best = std::max(best, score[std::size_t(j)]);
            }
            double sum = 0;
            for (double &x : score)
                sum += (x = std::exp(x - best));
            double *o = out.data() + (std::size_t(t) * std::size_t(s.nHeads) + std::size_t(h)) * std::size_t(d);
            for (int j = 0; j <= last; ++j) {
                const double p = score[std::size_t(j)] / sum;
                if (weights)
                    (*weights)[(std::size_t(t) * std::size_t(s.nHeads) + std::size_t(h)) * std::size_t(nCache)
                        + std::size_t(j)]
                        = p;
                for (int i = 0; i < d; ++i)
                    o[i] += p
                        * v[(std::size_t(j) * std::size_t(s.nKvHeads) + std::size_t(kvHead)) * std::size_t(d)
                            + std::size_t(i)];
            }
        }
    }
    return out;
}

struct KernelRun {
    std::vector<float> out;
    std::vector<std::byte> kRows, vRows; // as storeKv wrote them
};

KernelRun kernelAttention(const Shape &s, const Case &c, const std::vector<float> &k, const std::vector<float> &v,
    const std::vector<float> &q, int nCache, int nQuery)
{
    const std::size_t kRowStride = std::size_t(s.nKvHeads) * headBytesOf(c.kBits, s.headDim);
    const std::size_t vRowStride = std::size_t(s.nKvHeads) * headBytesOf(c.vBits, s.headDim);
    KernelRun run;
    run.kRows.assign(kRowStride * std::size_t(nCache), std::byte { 0xff });
    run.vRows.assign(vRowStride * std::size_t(nCache), std::byte { 0xff });
    static const std::int32_t kOneBlock[1] = { 0 };
    nw::KvLayerView kv;
    kv.type = c.kBits > 0 ? nw::TensorType::I8 : nw::TensorType::F16;
    kv.vType = c.vBits > 0 ? nw::TensorType::I8 : nw::TensorType::F16;
    kv.kBits = c.kBits;
    kv.vBits = c.vBits;
    kv.blockSize = nCache;
    kv.blockTable = kOneBlock;
    kv.kBlocks = run.kRows.data();
    kv.kRowStride = kRowStride;
    kv.kBlockStride = kRowStride * std::size_t(nCache);
    kv.vBlocks = run.vRows.data();
    kv.vRowStride = vRowStride;
    kv.vBlockStride = vRowStride * std::size_t(nCache);
    kv.nKvHeads = s.nKvHeads;
    kv.kHeadDim = kv.vHeadDim = s.headDim;
    std::vector<std::int32_t> positions(static_cast<std::size_t>(nCache));
    for (int t = 0; t < nCache; ++t)
        positions[std::size_t(t)] = t;
    auto backend = nw::makeCpuBackend(2);
    backend->storeKv(kv, k.data(), v.data(), nCache, positions.data());
    std::vector<std::int32_t> qPos(static_cast<std::size_t>(nQuery));
    for (int t = 0; t < nQuery; ++t)
        qPos[std::size_t(t)] = nCache - nQuery + t;
    run.out.assign(
        std::size_t(nQuery) * std::size_t(s.nHeads) * std::size_t(s.headDim), std::numeric_limits<float>::quiet_NaN());
    nw::AttentionArgs a;
    a.q = q.data();
    a.out = run.out.data();
    a.nTokens = nQuery;
    a.nHeads = s.nHeads;
    a.queryPositions = qPos.data();
    a.scale = 1.f / std::sqrt(float(s.headDim));
    a.kv = kv;
    backend->attention(a);
    return run;
}

} // namespace

TEST_CASE("attention on TurboQuant codes: the float64 attention over the decoded rows, and within the "
          "codebook's error of the original")
{
    const Case cases[] = {
        { "tq4", 4, 4 },
        { "tq3", 3, 3 },
        { "tq2", 2, 2 },
        { "f16/tq3", 0, 3 },
        { "tq3/f16", 3, 0 },
    };
    // GQA heads of 8 (stories260K's), 32 (the recall model's) and 128; a prefill of 8 queries and
    // a decode over a long context (the kernel then splits the context into slices and merges them).
    const Shape shapes[] = { { 8, 4, 8 }, { 4, 2, 32 }, { 8, 2, 128 } };
    const int lengths[][2] = { { 96, 8 }, { 700, 1 } };
    for (const Shape &s : shapes) {
        for (const auto &length : lengths) {
            const int nCache = length[0], nQuery = length[1];
            const std::size_t kvSize = std::size_t(nCache) * std::size_t(s.nKvHeads) * std::size_t(s.headDim);
            // Keys with outlier channels (what the rotation is for); queries large enough that the
            // softmax is peaked, as in a retrieval head.
            const std::vector<float> k = gaussian(kvSize, 21u, 8.f, 29);
            const std::vector<float> v = gaussian(kvSize, 22u);
            std::vector<float> q = gaussian(std::size_t(nQuery) * std::size_t(s.nHeads) * std::size_t(s.headDim), 23u);
            for (float &x : q)
                x *= 0.6f;
            const std::vector<double> kExact(k.begin(), k.end()), vExact(v.begin(), v.end());
            const std::vector<double> exact = referenceAttention(s, q, kExact, vExact, nCache, nQuery);
            // The squared norm of an average cached value, the scale the output errors are measured in.
            double valueNorm = 0;
            for (const float x : v)
                valueNorm += double(x) * x;
            valueNorm /= double(nCache) * s.nKvHeads;
            const double outputs = double(nQuery) * s.nHeads;
            double previous = 0; // the error of the case with one more bit
            for (const Case &c : cases) {
                const std::string name = c.name;
                CAPTURE(name);
                CAPTURE(s.headDim);
                CAPTURE(nCache);
                const KernelRun run = kernelAttention(s, c, k, v, q, nCache, nQuery);
                const std::vector<double> kDec = decoded(run.kRows, c.kBits, nCache, s.nKvHeads, s.headDim);
                const std::vector<double> vDec = decoded(run.vRows, c.vBits, nCache, s.nKvHeads, s.headDim);
                const std::vector<double> reference = referenceAttention(s, q, kDec, vDec, nCache, nQuery);
                double worst = 0, errSq = 0;
                for (std::size_t i = 0; i < reference.size(); ++i) {
                    REQUIRE(std::isfinite(run.out[i]));
                    worst = std::max(worst, std::abs(run.out[i] - reference[i]));
                    errSq += (run.out[i] - exact[i]) * (run.out[i] - exact[i]);
                }
                // The codes are attended as stored: float rounding only.
                CHECK(worst < 2e-5);
                // RMS over query heads of |out − exact| / RMS |v|.
                const double relative = std::sqrt(errSq / outputs / valueNorm);
                MESSAGE(std::string(c.name)
                    << " dim " << s.headDim << ", " << nCache << " cached: |out − exact| / |v| = " << relative);
                if (c.kBits == 0) {
                    // Keys as stored (f16) on both sides: the output error is the softmax-weighted
                    // mean of the value errors, so by Jensen |Δout|² ≤ Σ_j p_j |v̂_j − v_j|² for
                    // every query head.
                    std::vector<double> pExact;
                    const std::vector<double> vExactOut
                        = referenceAttention(s, q, kDec, vExact, nCache, nQuery, &pExact);
                    const int group = s.nHeads / s.nKvHeads;
                    for (int t = 0; t < nQuery; ++t)
                        for (int h = 0; h < s.nHeads; ++h) {
                            double bound = 0, err = 0;
                            for (int j = 0; j < nCache; ++j) {
                                const double p = pExact[(std::size_t(t) * std::size_t(s.nHeads) + std::size_t(h))
                                        * std::size_t(nCache)
                                    + std::size_t(j)];
                                for (int i = 0; i < s.headDim; ++i) {
                                    const std::size_t at
                                        = (std::size_t(j) * std::size_t(s.nKvHeads) + std::size_t(h / group))
                                            * std::size_t(s.headDim)
                                        + std::size_t(i);
                                    bound += p * (vDec[at] - vExact[at]) * (vDec[at] - vExact[at]);
                                }
                            }
                            for (int i = 0; i < s.headDim; ++i) {
                                const std::size_t at
                                    = (std::size_t(t) * std::size_t(s.nHeads) + std::size_t(h)) * std::size_t(s.headDim)
                                    + std::size_t(i);
                                err += (run.out[at] - vExactOut[at]) * (run.out[at] - vExactOut[at]);
                            }
                            CHECK(err <= bound * 1.001 + 1e-9);
                        }
                }
                // Each value's error is about √D_mse of its norm (0.34 / 0.19 / 0.10 at 2 / 3 / 4 bits)
                // and the softmax-weighted mean of the errors is no larger (Jensen, above); errors in
                // the scores move weight between values of the same scale. The paper's per-vector
                // bound √(√3·π/2 · 4^-b) is the ceiling, and every bit less costs accuracy.
                const int bits = std::min(c.kBits > 0 ? c.kBits : 4, c.vBits > 0 ? c.vBits : 4);
                CHECK(relative < std::sqrt(paperBound(bits)));
                if (c.kBits == c.vBits) {
                    CHECK(relative > previous);
                    previous = relative;
                }
            }
        }
    }
}

TEST_CASE("inner products on TurboQuant keys: the MSE codebook's small shrinkage and error (no QJL)")
{
    // q·k̂ against q·k over random keys of dim 128 and independent queries: the error q·(k̂ − k)
    // has variance |q|²|k̂ − k|²/dim, so 2(1 − √(1 − D))·|q|²|k|²/dim with the norm kept
    // (normKeptDistortion), and the estimate is shrunk by k̂·k / |k|² = √(1 − D).
    const int dim = 128, count = 4000;
    const std::vector<float> keys = gaussian(std::size_t(dim) * count, 31u);
    const std::vector<float> queries = gaussian(std::size_t(dim) * count, 32u);
    for (int bits = 2; bits <= 4; ++bits) {
        CAPTURE(bits);
        const double mse = lloydNormal(bits).second;
        const double expected = normKeptDistortion(mse);
        std::vector<std::byte> row(nw::turboHeadBytes(bits, dim));
        std::vector<float> back(static_cast<std::size_t>(dim));
        double sumXy = 0, sumXx = 0, sumErr2 = 0, sumScale = 0;
        for (int n = 0; n < count; ++n) {
            const float *k = keys.data() + std::size_t(n) * dim;
            const float *q = queries.data() + std::size_t(n) * dim;
            nw::turboEncodeHead(bits, k, dim, row.data());
            nw::turboDequantizeRow(bits, row.data(), 1, dim, back.data());
            double exact = 0, approx = 0, qq = 0, kk = 0;
            for (int i = 0; i < dim; ++i) {
                exact += double(q[i]) * k[i];
                approx += double(q[i]) * back[std::size_t(i)];
                qq += double(q[i]) * q[i];
                kk += double(k[i]) * k[i];
            }
            sumXy += exact * approx;
            sumXx += exact * exact;
            const double scale = qq * kk / dim;
            sumErr2 += (approx - exact) * (approx - exact) / scale;
            sumScale += 1;
        }
        const double slope = sumXy / sumXx; // least-squares gain of q·k̂ on q·k
        const double variance = sumErr2 / sumScale;
        MESSAGE("tq" << bits << ": gain " << slope << ", error variance " << variance << " × |q|²|k|²/d (expected "
                     << expected << ")");
        CHECK(slope == doctest::Approx(std::sqrt(1.0 - mse)).epsilon(0.02));
        CHECK(variance == doctest::Approx(expected).epsilon(0.2));
    }
}

TEST_CASE("views of TurboQuant rows are checked at the entry")
{
    const std::vector<float> k = gaussian(64 * 32, 1u), v = gaussian(64 * 32, 2u), q = gaussian(64 * 32, 3u);
    std::vector<std::byte> rows(64 * 64);
    static const std::int32_t kOneBlock[1] = { 0 };
    nw::KvLayerView kv;
    kv.type = nw::TensorType::I8;
    kv.kBits = 3;
    kv.vBits = 3;
    kv.blockSize = 64;
    kv.blockTable = kOneBlock;
    kv.kBlocks = rows.data();
    kv.kRowStride = nw::turboHeadBytes(3, 32);
    kv.kBlockStride = 64 * kv.kRowStride;
    kv.vBlocks = rows.data() + kv.kBlockStride;
    kv.vRowStride = kv.kRowStride;
    kv.vBlockStride = kv.kBlockStride;
    kv.kHeadDim = kv.vHeadDim = 32;
    std::vector<std::int32_t> positions(1, 0);
    auto backend = nw::makeCpuBackend(1);
    backend->storeKv(kv, k.data(), v.data(), 1, positions.data()); // valid
    nw::KvLayerView bad = kv;
    bad.kBits = 5;
    CHECK_THROWS_AS(backend->storeKv(bad, k.data(), v.data(), 1, positions.data()), nw::Error);
    bad = kv;
    bad.kBits = 0; // I8 rows without bits
    CHECK_THROWS_AS(backend->storeKv(bad, k.data(), v.data(), 1, positions.data()), nw::Error);
    bad = kv;
    bad.kRotation = 32; // TurboQuant rotates on its own
    CHECK_THROWS_AS(backend->storeKv(bad, k.data(), v.data(), 1, positions.data()), nw::Error);
    bad = kv;
    bad.kHeadDim = bad.vHeadDim = 12; // not whole bytes of codes
    CHECK_THROWS_AS(backend->storeKv(bad, k.data(), v.data(), 1, positions.data()), nw::Error);
    bad = kv;
    bad.kRowStride = nw::turboHeadBytes(3, 32) - 1; // a row shorter than its head
    CHECK_THROWS_AS(backend->storeKv(bad, k.data(), v.data(), 1, positions.data()), nw::Error);
    bad = kv;
    bad.vBlocks = bad.kBlocks; // a shared row
    CHECK_THROWS_AS(backend->storeKv(bad, k.data(), nullptr, 1, positions.data()), nw::Error);
}
