// CPU matmul against a plain reference: weights made with quantize.h's quantizeRow (and, to reach
// every bit pattern, random block bytes with sane scales), reference = dequantizeRow + a double
// dot with the f32 activations. The tolerance is derived, not tuned: activations quantized to
// 8 bits (Q8_0/Q8_1/Q8_K blocks) are off by at most half a step d = amax/127 per element, so
// |error| <= sum_i |w_i| * d_block(i) * 0.5 (+ f16 rounding of the stored scale and sum) + 1e-5
// relative for float accumulation order.
#include "common/error.h"
#include "kernels/backend.h"
#include "kernels/cpu/dot_products.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/quantize.h"
#include "kernels/cpu/thread_pool.h"
#include "kernels/float16.h"

#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

using nw::TensorType;

namespace {

const TensorType kTypes[] = { TensorType::F32, TensorType::F16, TensorType::BF16, TensorType::Q8_0, TensorType::Q4_0,
    TensorType::Q4_1, TensorType::Q5_0, TensorType::Q5_1, TensorType::Q4_K, TensorType::Q5_K, TensorType::Q6_K,
    TensorType::Q2_K, TensorType::Q3_K, TensorType::IQ4_NL, TensorType::IQ4_XS, TensorType::MXFP4 };

bool isFloat(TensorType t)
{
    return t == TensorType::F32 || t == TensorType::F16 || t == TensorType::BF16;
}

// Types of 256-element blocks, whose activations are Q8_K blocks.
bool isK(TensorType t)
{
    return nw::tensorTypeTraits(t).blockElements == 256;
}

// Elements per activation block (0: f32 activations, exact).
int activationBlock(TensorType t)
{
    if (isFloat(t))
        return 0;
    return isK(t) ? 256 : 32;
}

struct Weights {
    std::vector<std::byte> bytes; // [rows, stride], padding bytes 0xff (NaN for float types)
    std::size_t stride = 0;
    std::vector<float> dequant; // [rows, cols] the reference values
};

void setF16(std::byte *p, float value)
{
    const nw::f16_t h = nw::floatToFp16(value);
    std::memcpy(p, &h, sizeof h);
}

// Random block bytes; the f16 scale fields are overwritten with small finite values.
void randomizeBlocks(TensorType type, std::byte *row, std::size_t nBytes, std::mt19937 &rng)
{
    std::uniform_int_distribution<int> byte(0, 255);
    std::uniform_real_distribution<float> scale(-0.03f, 0.03f);
    for (std::size_t i = 0; i < nBytes; ++i)
        row[i] = static_cast<std::byte>(byte(rng));
    const std::size_t blockBytes = nw::tensorTypeTraits(type).blockBytes;
    for (std::size_t b = 0; b < nBytes; b += blockBytes) {
        std::byte *block = row + b;
        switch (type) {
        case TensorType::Q4_0:
        case TensorType::Q5_0:
        case TensorType::Q8_0:
            setF16(block, scale(rng));
            break;
        case TensorType::Q4_1:
        case TensorType::Q5_1:
        case TensorType::Q4_K:
        case TensorType::Q5_K:
            setF16(block, scale(rng));
            setF16(block + 2, scale(rng));
            break;
        case TensorType::Q6_K:
            setF16(block + offsetof(nw::BlockQ6_K, d), scale(rng));
            break;
        case TensorType::Q2_K:
            setF16(block + offsetof(nw::BlockQ2_K, d), scale(rng));
            setF16(block + offsetof(nw::BlockQ2_K, dmin), scale(rng));
            break;
        case TensorType::Q3_K:
            setF16(block + offsetof(nw::BlockQ3_K, d), scale(rng));
            break;
        case TensorType::IQ4_NL:
        case TensorType::IQ4_XS:
            setF16(block, scale(rng));
            break;
        case TensorType::MXFP4:
            block[0] = static_cast<std::byte>(118 + byte(rng) % 8);
            break; // 2^-9 .. 2^-2
        default:
            break;
        }
    }
}

Weights makeWeights(TensorType type, int rows, int cols, bool randomBytes, std::mt19937 &rng)
{
    Weights w;
    const std::size_t rowBytes = nw::rowBytes(type, static_cast<std::size_t>(cols));
    w.stride = rowBytes + 40; // padding after every row, which no kernel may read
    w.bytes.assign(w.stride * std::size_t(rows), std::byte { 0xff });
    w.dequant.resize(std::size_t(rows) * std::size_t(cols));
    std::normal_distribution<float> value(0.f, 1.f);
    std::vector<float> row(static_cast<std::size_t>(cols));
    for (int r = 0; r < rows; ++r) {
        std::byte *dst = w.bytes.data() + std::size_t(r) * w.stride;
        if (randomBytes && !isFloat(type)) {
            randomizeBlocks(type, dst, rowBytes, rng);
        } else {
            for (float &v : row)
                v = value(rng);
            nw::quantizeRow(type, row.data(), dst, row.size());
        }
        nw::dequantizeRow(type, dst, w.dequant.data() + std::size_t(r) * std::size_t(cols), std::size_t(cols));
    }
    return w;
}

std::vector<float> makeActivations(int nTokens, int cols, std::mt19937 &rng)
{
    std::normal_distribution<float> value(0.f, 1.f);
    std::vector<float> x(std::size_t(nTokens) * std::size_t(cols));
    for (float &v : x)
        v = value(rng);
    // A few outliers, as real activations have: they stretch their block's scale.
    for (std::size_t i = 0; i < x.size(); i += 97)
        x[i] *= 20.f;
    return x;
}

// Activations that 8-bit block quantization represents exactly: per block a power-of-two step d
// and integers in [-127, 127] with one of magnitude 127 (so amax / 127 = d). With them the only
// error left is float summation order, and the tolerance can be tight enough to catch a kernel
// that is off by one quant level anywhere.
std::vector<float> makeExactActivations(int nTokens, int cols, int block, std::mt19937 &rng)
{
    std::uniform_int_distribution<int> level(-127, 127), exponent(-7, -2), pick(0, block - 1);
    std::vector<float> x(std::size_t(nTokens) * std::size_t(cols));
    for (std::size_t b0 = 0; b0 < x.size(); b0 += std::size_t(block)) {
        const float d = std::ldexp(1.f, exponent(rng));
        for (int i = 0; i < block; ++i)
            x[b0 + std::size_t(i)] = d * static_cast<float>(level(rng));
        x[b0 + std::size_t(pick(rng))] = d * (pick(rng) % 2 ? 127.f : -127.f);
    }
    return x;
}

struct Expected {
    double value;
    double tolerance;
};

Expected reference(TensorType type, const float *w, const float *x, int cols, bool exactActivations)
{
    const int block = activationBlock(type);
    double sum = 0, magnitude = 0, quantError = 0;
    for (int b0 = 0; b0 < cols; b0 += (block ? block : cols)) {
        const int b1 = block ? b0 + block : cols;
        double amax = 0, maxW = 0, sumAbsX = 0, sumAbsW = 0;
        for (int i = b0; i < b1; ++i) {
            sum += double(w[i]) * x[i];
            magnitude += std::fabs(double(w[i]) * x[i]);
            amax = std::max(amax, std::fabs(double(x[i])));
            maxW = std::max(maxW, std::fabs(double(w[i])));
            sumAbsX += std::fabs(double(x[i]));
            sumAbsW += std::fabs(double(w[i]));
        }
        const bool q8_1 = type == TensorType::Q4_1 || type == TensorType::Q5_1;
        if (block && exactActivations) {
            if (q8_1) // only the f16-rounded block sum s = d * sum(q) is inexact
                quantError += maxW * sumAbsX * std::ldexp(1.0, -10);
        } else if (block) {
            // Half a quantization step per element (the step's f16 rounding adds < 0.1%), and
            // the f16-rounded block sum of Q8_1 times the block's offset.
            quantError += sumAbsW * amax / 127.0 * 0.5 * 1.002 + maxW * sumAbsX * std::ldexp(1.0, -10);
        }
    }
    return { sum, quantError + 1e-5 * magnitude + 1e-6 };
}

void checkMatmul(TensorType type, int rows, int cols, int nTokens, int threads, bool randomBytes, bool exactActivations,
    unsigned seed)
{
    CAPTURE(nw::tensorTypeName(type));
    CAPTURE(rows);
    CAPTURE(cols);
    CAPTURE(nTokens);
    CAPTURE(threads);
    CAPTURE(randomBytes);
    CAPTURE(exactActivations);
    std::mt19937 rng(seed);
    const Weights w = makeWeights(type, rows, cols, randomBytes, rng);
    const std::vector<float> x = exactActivations && !isFloat(type)
        ? makeExactActivations(nTokens, cols, activationBlock(type), rng)
        : makeActivations(nTokens, cols, rng);
    nw::WeightMatrix view { type, rows, cols, w.bytes.data(), w.stride };

    auto backend = nw::makeCpuBackend(threads);
    REQUIRE(backend->threads() == threads);
    std::vector<float> y(std::size_t(nTokens) * std::size_t(rows), std::numeric_limits<float>::quiet_NaN());
    backend->matmul(view, x.data(), y.data(), nTokens);

    int failures = 0;
    for (int t = 0; t < nTokens; ++t)
        for (int r = 0; r < rows; ++r) {
            const Expected e = reference(type, w.dequant.data() + std::size_t(r) * std::size_t(cols),
                x.data() + std::size_t(t) * std::size_t(cols), cols, exactActivations);
            const double got = y[std::size_t(t) * std::size_t(rows) + std::size_t(r)];
            if (!(std::fabs(got - e.value) <= e.tolerance) && failures++ < 5) {
                CAPTURE(t);
                CAPTURE(r);
                CHECK(got == doctest::Approx(e.value).epsilon(0));
                CHECK(std::fabs(got - e.value) <= e.tolerance);
            }
        }
    CHECK(failures == 0);
}

// Columns per type: several blocks, not a power of two; floats get an odd count (tails).
int colsFor(TensorType type)
{
    if (isFloat(type))
        return 301;
    return isK(type) ? 3 * 256 : 19 * 32;
}

} // namespace

TEST_CASE("matmul matches the dequantized reference for every weight type")
{
    unsigned seed = 1234;
    for (TensorType type : kTypes)
        for (int nTokens : { 1, 3, 64 })
            for (int threads : { 1, 2 })
                for (bool exact : { false, true })
                    // Enough rows at one token that the product is split across threads.
                    checkMatmul(type, nTokens == 1 ? 301 : 37, colsFor(type), nTokens, threads, false, exact, seed++);
}

TEST_CASE("matmul on random block bytes (every quant and scale bit pattern)")
{
    unsigned seed = 99;
    for (TensorType type : kTypes) {
        if (isFloat(type))
            continue;
        for (int nTokens : { 1, 5 })
            for (bool exact : { false, true })
                checkMatmul(type, 21, colsFor(type), nTokens, 2, true, exact, seed++);
    }
}

TEST_CASE("the SIMD dot products agree with the scalar ones on the same quantized activations")
{
    std::mt19937 rng(7);
    nw::cpu::ThreadPool pool(1);
    for (TensorType type : kTypes) {
        const nw::cpu::DotKernel *simd = nw::cpu::avx2DotKernel(type);
        if (!simd) {
            MESSAGE("no AVX2 kernel on this CPU for ", nw::tensorTypeName(type));
            continue;
        }
        CAPTURE(nw::tensorTypeName(type));
        const int rows = 13, cols = colsFor(type), nTokens = 3;
        const Weights w = makeWeights(type, rows, cols, !isFloat(type), rng);
        const std::vector<float> x = makeActivations(nTokens, cols, rng);
        const nw::WeightMatrix view { type, rows, cols, w.bytes.data(), w.stride };
        std::vector<float> ySimd(std::size_t(rows * nTokens)), yScalar(ySimd.size());
        std::vector<std::byte> scratch;
        nw::cpu::matmul(pool, scratch, view, x.data(), ySimd.data(), nTokens, simd);
        nw::cpu::matmul(pool, scratch, view, x.data(), yScalar.data(), nTokens, &nw::cpu::scalarDotKernel(type));
        for (std::size_t i = 0; i < ySimd.size(); ++i) {
            // Same integer sums; only the float accumulation order differs.
            CHECK(ySimd[i] == doctest::Approx(yScalar[i]).epsilon(1e-4).scale(1e-3));
        }
    }
}

TEST_CASE("matmul rejects weights it cannot compute with")
{
    auto backend = nw::makeCpuBackend(1);
    std::vector<std::byte> data(1024);
    std::vector<float> x(256), y(4);
    CHECK_THROWS_AS(backend->matmul({ TensorType::IQ1_S, 1, 256, data.data(), 0 }, x.data(), y.data(), 1), nw::Error);
    CHECK_THROWS_AS(backend->matmul({ TensorType::Q4_0, 1, 33, data.data(), 0 }, x.data(), y.data(), 1), nw::Error);
    CHECK_THROWS_AS(backend->matmul({ TensorType::Q8_0, 1, 64, data.data(), 10 }, x.data(), y.data(), 1), nw::Error);
}
