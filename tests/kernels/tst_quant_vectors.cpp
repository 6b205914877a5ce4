// Every quantized weight type against gguf-py's numpy dequantization (an independent reference):
// tests/data/quant/<type>.bin holds random valid blocks and the floats gguf-py decodes them to
// (tools/make_quant_vectors.py). Dequantization must match bit for bit; every dot product (the
// scalar kernel, the AVX2 one where this CPU has it, and their multi-row forms) must match a
// float64 dot of the reference rows with the dequantized activation blocks; so must the CPU
// backend's matmul (packed or not) on those rows.
//
// Dot tolerance: the kernels sum integer products exactly within a block, so the only error is
// float rounding: a block's scale product (2-3 roundings), one rounding per block accumulated
// and the final horizontal sum, each at most 2^-24 of the running sum. With at most 16 blocks
// per row that stays far below 1e-5 · Σ|w_i x_i|. Q2_K / Q4_K / Q5_K subtract a min term per
// block, whose size is at most the block's Σ|dmin m x| ≤ Σ|d sc q x| + Σ|w x|, so the same bound
// holds with a margin of a few. The stated tolerance is 2e-5 · Σ|w_i x_i| + 1e-30, plus for
// Q4_1 / Q5_1 (Q8_1 activations) the f16 rounding of the block sum s = d · Σq they multiply by
// the block's offset m: |m| · |s| · 2^-11 per block.
#include "kernels/backend.h"
#include "kernels/cpu/dot_products.h"
#include "kernels/cpu/matmul_packed.h"
#include "kernels/cpu/quantize.h"
#include "kernels/cpu/thread_pool.h"
#include "kernels/float16.h"
#include "tests/support/test_data.h"

#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <vector>

using nw::TensorType;

namespace {

struct Vectors {
    TensorType type {};
    int rows = 0, cols = 0;
    std::size_t rowBytes = 0;
    std::vector<std::byte> blocks; // [rows, rowBytes]
    std::vector<float> reference; // [rows, cols], gguf-py's dequantization
};

std::uint32_t readU32(const std::vector<char> &bytes, std::size_t at)
{
    std::uint32_t v;
    std::memcpy(&v, bytes.data() + at, 4);
    return v;
}

Vectors loadVectors(const std::string &name)
{
    const auto path = nw::test::sourceDir() / "tests" / "data" / "quant" / (name + ".bin");
    std::ifstream in(path, std::ios::binary);
    REQUIRE_MESSAGE(in.good(), "missing ", path.string(), " (tools/make_quant_vectors.py makes it)");
    const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    REQUIRE(bytes.size() >= 24);
    REQUIRE(std::string(bytes.data(), 4) == "NWQV");
    REQUIRE(readU32(bytes, 4) == 1);
    Vectors v;
    v.type = static_cast<TensorType>(readU32(bytes, 8));
    v.rows = static_cast<int>(readU32(bytes, 12));
    v.cols = static_cast<int>(readU32(bytes, 16));
    v.rowBytes = readU32(bytes, 20);
    REQUIRE(v.rowBytes == nw::rowBytes(v.type, static_cast<std::size_t>(v.cols)));
    const std::size_t blockBytes = v.rowBytes * static_cast<std::size_t>(v.rows);
    const std::size_t floatBytes = sizeof(float) * static_cast<std::size_t>(v.rows) * static_cast<std::size_t>(v.cols);
    REQUIRE(bytes.size() == 24 + blockBytes + floatBytes);
    v.blocks.resize(blockBytes);
    std::memcpy(v.blocks.data(), bytes.data() + 24, blockBytes);
    v.reference.resize(floatBytes / sizeof(float));
    std::memcpy(v.reference.data(), bytes.data() + 24 + blockBytes, floatBytes);
    return v;
}

// The types with vectors; the file name is the type name in lower case.
const char *const kNames[] = { "q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "q2_k", "q3_k", "q4_k", "q5_k", "q6_k", "iq4_nl",
    "iq4_xs", "mxfp4", "iq2_xxs", "iq2_xs", "iq2_s", "iq3_xxs", "iq3_s" };

// The activation blocks as the numbers they stand for (d · q), decoded here from ggml's layouts.
std::vector<double> decodeActivations(nw::cpu::ActivationFormat format, const std::byte *row, int cols)
{
    std::vector<double> out(static_cast<std::size_t>(cols));
    switch (format) {
    case nw::cpu::ActivationFormat::Q8_0:
    case nw::cpu::ActivationFormat::Q8_1: {
        const std::size_t stride = format == nw::cpu::ActivationFormat::Q8_0 ? 34 : 36;
        for (int b = 0; b < cols / 32; ++b) {
            const std::byte *block = row + stride * std::size_t(b);
            std::uint16_t d;
            std::memcpy(&d, block, 2);
            const std::byte *qs = block + (format == nw::cpu::ActivationFormat::Q8_0 ? 2 : 4);
            for (int j = 0; j < 32; ++j)
                out[std::size_t(32 * b + j)] = double(nw::fp16ToFloat(d)) * double(static_cast<std::int8_t>(qs[j]));
        }
        break;
    }
    case nw::cpu::ActivationFormat::Q8_K:
        for (int b = 0; b < cols / 256; ++b) {
            const std::byte *block = row + 292 * std::size_t(b);
            float d;
            std::memcpy(&d, block, 4);
            for (int j = 0; j < 256; ++j)
                out[std::size_t(256 * b + j)] = double(d) * double(static_cast<std::int8_t>(block[4 + j]));
        }
        break;
    case nw::cpu::ActivationFormat::F32:
        for (int c = 0; c < cols; ++c) {
            float v;
            std::memcpy(&v, row + 4 * std::size_t(c), 4);
            out[std::size_t(c)] = v;
        }
        break;
    }
    return out;
}

// Q4_1 / Q5_1 rows times Q8_1 activations: Σ_b |m_b| · |s_b| · 2^-11, the f16 rounding of each
// activation block's s times the weight block's offset m (an f16 at byte 2 of both layouts).
double q8_1SumError(const Vectors &v, int row, const std::byte *act)
{
    const std::size_t blockBytes = nw::tensorTypeTraits(v.type).blockBytes;
    double error = 0;
    for (int b = 0; b < v.cols / 32; ++b) {
        std::uint16_t m, s;
        std::memcpy(&m, v.blocks.data() + v.rowBytes * std::size_t(row) + blockBytes * std::size_t(b) + 2, 2);
        std::memcpy(&s, act + 36 * std::size_t(b) + 2, 2);
        error += std::fabs(double(nw::fp16ToFloat(m))) * std::fabs(double(nw::fp16ToFloat(s))) * std::ldexp(1.0, -11);
    }
    return error;
}

// Activations like a hidden state: normal, with a few outliers that stretch their block's scale.
std::vector<float> makeActivations(int nTokens, int cols, std::mt19937 &rng)
{
    std::normal_distribution<float> value(0.f, 1.f);
    std::vector<float> x(std::size_t(nTokens) * std::size_t(cols));
    for (float &v : x)
        v = value(rng);
    for (std::size_t i = 0; i < x.size(); i += 89)
        x[i] *= 30.f;
    return x;
}

// Checks one kernel on every row of the vectors, for nTokens activation rows at once.
void checkDots(const Vectors &v, const nw::cpu::DotKernel &kernel, unsigned seed)
{
    const std::string isa = kernel.isa;
    CAPTURE(isa);
    constexpr int nTokens = 5;
    std::mt19937 rng(seed);
    const std::vector<float> x = makeActivations(nTokens, v.cols, rng);

    // Weight rows apart, each followed by 0xff padding (NaN scales) no kernel may read.
    const std::size_t stride = v.rowBytes + 64;
    std::vector<std::byte> weights(stride * std::size_t(v.rows), std::byte { 0xff });
    for (int r = 0; r < v.rows; ++r)
        std::memcpy(
            weights.data() + stride * std::size_t(r), v.blocks.data() + v.rowBytes * std::size_t(r), v.rowBytes);

    // Quantized activation rows, the same way: padded with 0xff.
    const std::size_t actBytes = nw::cpu::activationRowBytes(kernel.activation, v.cols);
    const std::size_t actStride = actBytes + 64;
    std::vector<std::byte> act(actStride * nTokens, std::byte { 0xff });
    for (int t = 0; t < nTokens; ++t) {
        if (kernel.quantize)
            kernel.quantize(
                x.data() + std::size_t(t) * std::size_t(v.cols), act.data() + actStride * std::size_t(t), v.cols);
        else
            std::memcpy(
                act.data() + actStride * std::size_t(t), x.data() + std::size_t(t) * std::size_t(v.cols), actBytes);
    }

    int failures = 0;
    for (int t = 0; t < nTokens; ++t) {
        const std::vector<double> xq
            = decodeActivations(kernel.activation, act.data() + actStride * std::size_t(t), v.cols);
        for (int r = 0; r < v.rows; ++r) {
            const float *w = v.reference.data() + std::size_t(r) * std::size_t(v.cols);
            double expected = 0, magnitude = 0;
            for (int c = 0; c < v.cols; ++c) {
                expected += double(w[c]) * xq[std::size_t(c)];
                magnitude += std::fabs(double(w[c]) * xq[std::size_t(c)]);
            }
            double tolerance = 2e-5 * magnitude + 1e-30;
            if (kernel.activation == nw::cpu::ActivationFormat::Q8_1)
                tolerance += q8_1SumError(v, r, act.data() + actStride * std::size_t(t));
            const std::byte *wr = weights.data() + stride * std::size_t(r);
            const double got = kernel.dot(wr, act.data() + actStride * std::size_t(t), v.cols);
            if (!(std::fabs(got - expected) <= tolerance) && failures++ < 5) {
                CAPTURE(t);
                CAPTURE(r);
                CHECK(got == doctest::Approx(expected).epsilon(0));
                CHECK(std::fabs(got - expected) <= tolerance);
            }
            if (kernel.dotMany) {
                // All tokens at once against this row; must match the reference the same way.
                float many[nTokens];
                kernel.dotMany(wr, act.data(), actStride, nTokens, v.cols, many);
                if (!(std::fabs(many[t] - expected) <= tolerance) && failures++ < 5) {
                    CAPTURE(t);
                    CAPTURE(r);
                    MESSAGE("dotMany");
                    CHECK(double(many[t]) == doctest::Approx(expected).epsilon(0));
                }
            }
        }
    }
    CHECK(failures == 0);
}

} // namespace

TEST_CASE("dequantization matches gguf-py bit for bit")
{
    for (const std::string name : kNames) {
        CAPTURE(name);
        const Vectors v = loadVectors(name);
        REQUIRE(nw::canDequantize(v.type));
        std::vector<float> out(v.reference.size() + 8, std::numeric_limits<float>::quiet_NaN());
        nw::dequantizeRow(v.type, v.blocks.data(), out.data(), v.reference.size());
        int mismatches = 0;
        for (std::size_t i = 0; i < v.reference.size(); ++i)
            if (std::bit_cast<std::uint32_t>(out[i]) != std::bit_cast<std::uint32_t>(v.reference[i])
                && mismatches++ < 5) {
                CAPTURE(i);
                CHECK(out[i] == v.reference[i]);
            }
        CHECK(mismatches == 0);
        for (std::size_t i = v.reference.size(); i < out.size(); ++i)
            CHECK(std::isnan(out[i])); // nothing written past the row
    }
}

TEST_CASE("every dot product matches a float64 dot of gguf-py's rows with the quantized activations")
{
    unsigned seed = 4242;
    for (const std::string name : kNames) {
        CAPTURE(name);
        const Vectors v = loadVectors(name);
        REQUIRE(nw::cpu::matmulSupports(v.type));
        checkDots(v, nw::cpu::scalarDotKernel(v.type), seed++);
        if (const nw::cpu::DotKernel *simd = nw::cpu::avx2DotKernel(v.type))
            checkDots(v, *simd, seed++);
        else
            MESSAGE("no AVX2 kernel on this CPU for ", name);
    }
}

// y = x · Wᵀ for the vectors' rows, through the CPU backend's row matmul or the packed one
// (scalar or SIMD group kernels), checked as the dot products are.
void checkMatmul(const Vectors &v, const std::string &path, unsigned seed)
{
    CAPTURE(path);
    const nw::cpu::DotKernel &kernel
        = path == "packed scalar" ? nw::cpu::scalarDotKernel(v.type) : nw::cpu::dotKernel(v.type);
    // 1 token (decode), and 7: a tile of 4 tokens and 3 more one by one.
    for (int nTokens : { 1, 7 }) {
        CAPTURE(nTokens);
        std::mt19937 rng(seed++);
        const std::vector<float> x = makeActivations(nTokens, v.cols, rng);
        const nw::WeightMatrix w { v.type, v.rows, v.cols, v.blocks.data(), 0 };
        std::vector<float> y(std::size_t(nTokens) * std::size_t(v.rows), std::numeric_limits<float>::quiet_NaN());
        if (path == "rows") {
            nw::makeCpuBackend(2)->matmul(w, x.data(), y.data(), nTokens);
        } else {
            nw::cpu::ThreadPool pool(2);
            std::vector<std::byte> scratch;
            const auto packed = nw::cpu::packWeights(w);
            nw::cpu::matmulPacked(pool, scratch, *packed, x.data(), y.data(), nTokens, path == "packed scalar");
        }
        // The activations quantized as the path does it.
        std::vector<std::byte> act(nw::cpu::activationRowBytes(kernel.activation, v.cols));
        for (int t = 0; t < nTokens; ++t) {
            kernel.quantize(x.data() + std::size_t(t) * std::size_t(v.cols), act.data(), v.cols);
            const std::vector<double> xq = decodeActivations(kernel.activation, act.data(), v.cols);
            for (int r = 0; r < v.rows; ++r) {
                const float *wr = v.reference.data() + std::size_t(r) * std::size_t(v.cols);
                double expected = 0, magnitude = 0;
                for (int c = 0; c < v.cols; ++c) {
                    expected += double(wr[c]) * xq[std::size_t(c)];
                    magnitude += std::fabs(double(wr[c]) * xq[std::size_t(c)]);
                }
                double tolerance = 2e-5 * magnitude + 1e-30;
                if (kernel.activation == nw::cpu::ActivationFormat::Q8_1)
                    tolerance += q8_1SumError(v, r, act.data());
                const double got = y[std::size_t(t) * std::size_t(v.rows) + std::size_t(r)];
                CAPTURE(t);
                CAPTURE(r);
                CHECK(std::fabs(got - expected) <= tolerance);
            }
        }
    }
}

TEST_CASE("the CPU matmul on gguf-py's rows: file rows, and packed rows where the type packs")
{
    unsigned seed = 777;
    for (const std::string name : kNames) {
        CAPTURE(name);
        const Vectors v = loadVectors(name);
        checkMatmul(v, "rows", seed);
        if (nw::cpu::canPack(v.type)) {
            checkMatmul(v, "packed scalar", seed + 100);
            checkMatmul(v, "packed simd", seed + 200);
        }
        seed += 1000;
    }
}
