// The repacked (8-row interleaved) matmul against a plain reference written here from ggml's
// published block layouts: each weight row is dequantized by this file's own decoders and dotted
// in double with the activations. Weights are random block bytes (every quant and scale bit
// pattern) and quantized normal rows; row counts leave a partial last group of 8, token counts
// a partial tile of the multi-token kernels, and the SIMD group kernels are checked against the
// portable ones on the same bytes.
#include "kernels/backend.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/matmul_packed.h"
#include "kernels/cpu/matmul_packed_kernels.h"
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

const TensorType kPackedTypes[] = {TensorType::Q4_0, TensorType::Q8_0, TensorType::Q4_K, TensorType::Q6_K};

bool isK(TensorType t)
{
    return t == TensorType::Q4_K || t == TensorType::Q6_K;
}

float f16At(const std::uint8_t *p)
{
    std::uint16_t h;
    std::memcpy(&h, p, 2);
    return nw::fp16ToFloat(h);
}

// ---- reference decoders (ggml-common.h layouts, written independently of kernels/) ---------

// Q4_0, 18 bytes: f16 d, 16 bytes of nibbles; element i (low nibble of byte i) and i + 16
// (high nibble), value d * (q - 8).
void decodeQ4_0(const std::uint8_t *b, float *out)
{
    const float d = f16At(b);
    for (int i = 0; i < 16; ++i) {
        out[i] = d * static_cast<float>((b[2 + i] & 15) - 8);
        out[i + 16] = d * static_cast<float>((b[2 + i] >> 4) - 8);
    }
}

// Q8_0, 34 bytes: f16 d, 32 int8; value d * q.
void decodeQ8_0(const std::uint8_t *b, float *out)
{
    const float d = f16At(b);
    for (int i = 0; i < 32; ++i)
        out[i] = d * static_cast<float>(static_cast<std::int8_t>(b[2 + i]));
}

// Q4_K, 144 bytes: f16 d, f16 dmin, 12 bytes of 6-bit scales/mins, 128 bytes of nibbles.
// Sub-block j's scale and min: j < 4: low 6 bits of bytes j and j + 4; j >= 4: the nibbles of
// byte j + 4 with the top two bits of bytes j - 4 and j as bits 4-5. Byte 32p + l holds element
// 64p + l (low nibble, sub-block 2p) and 64p + 32 + l (high, 2p + 1): d*sc*q - dmin*m.
void decodeQ4_K(const std::uint8_t *b, float *out)
{
    const float d = f16At(b), dmin = f16At(b + 2);
    const std::uint8_t *s = b + 4, *qs = b + 16;
    int sc[8], mn[8];
    for (int j = 0; j < 8; ++j) {
        if (j < 4) {
            sc[j] = s[j] & 63;
            mn[j] = s[j + 4] & 63;
        } else {
            sc[j] = (s[j + 4] & 15) | ((s[j - 4] >> 6) << 4);
            mn[j] = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
        }
    }
    for (int p = 0; p < 4; ++p)
        for (int l = 0; l < 32; ++l) {
            out[64 * p + l] = d * static_cast<float>(sc[2 * p] * (qs[32 * p + l] & 15)) - dmin * static_cast<float>(mn[2 * p]);
            out[64 * p + 32 + l] =
                d * static_cast<float>(sc[2 * p + 1] * (qs[32 * p + l] >> 4)) - dmin * static_cast<float>(mn[2 * p + 1]);
        }
}

// Q6_K, 210 bytes: ql[128], qh[64], int8 scales[16], f16 d. In half n (128 elements), element
// 32k + l (k = 0..3) takes its low 4 bits from ql[64n + l + 32 (k & 1)] (low nibble for k < 2,
// high for k >= 2) and its top 2 bits from bits 2k..2k+1 of qh[32n + l]; value
// d * scales[e / 16] * (q - 32).
void decodeQ6_K(const std::uint8_t *b, float *out)
{
    const std::uint8_t *ql = b, *qh = b + 128;
    const auto *scales = reinterpret_cast<const std::int8_t *>(b + 192);
    const float d = f16At(b + 208);
    for (int n = 0; n < 2; ++n)
        for (int k = 0; k < 4; ++k)
            for (int l = 0; l < 32; ++l) {
                const std::uint8_t lowByte = ql[64 * n + l + 32 * (k & 1)];
                const int low = k < 2 ? (lowByte & 15) : (lowByte >> 4);
                const int high = (qh[32 * n + l] >> (2 * k)) & 3;
                const int e = 128 * n + 32 * k + l;
                out[e] = d * static_cast<float>(scales[e / 16] * ((low | (high << 4)) - 32));
            }
}

struct Layout {
    int elements;
    int bytes;
    void (*decode)(const std::uint8_t *, float *);
    int scaleOffsets[2]; // f16 scale fields to keep finite (-1: none)
};

Layout layoutOf(TensorType t)
{
    switch (t) {
    case TensorType::Q4_0: return {32, 18, decodeQ4_0, {0, -1}};
    case TensorType::Q8_0: return {32, 34, decodeQ8_0, {0, -1}};
    case TensorType::Q4_K: return {256, 144, decodeQ4_K, {0, 2}};
    case TensorType::Q6_K: return {256, 210, decodeQ6_K, {208, -1}};
    default: break;
    }
    FAIL("no layout");
    return {};
}

// Bytes of one 8-row block column in the packed layout (matmul_packed.h's table, summed here).
std::size_t packedBlockBytes(TensorType t)
{
    switch (t) {
    case TensorType::Q4_0: return 8 * 2 + 8 * 16;
    case TensorType::Q8_0: return 8 * 2 + 8 * 32;
    case TensorType::Q4_K: return 8 * 2 * 2 + 8 * 8 + 8 * 8 + 8 * 128;
    case TensorType::Q6_K: return 8 * 2 + 8 * 16 + 8 * 128 + 8 * 64;
    default: break;
    }
    return 0;
}

void putF16(std::uint8_t *p, float value)
{
    const nw::f16_t h = nw::floatToFp16(value);
    std::memcpy(p, &h, 2);
}

struct Weights {
    std::vector<std::byte> bytes; // [rows, stride], 0xff padding after each row
    std::size_t stride = 0;
    std::vector<float> values;    // [rows, cols] decoded by this file
};

Weights makeWeights(TensorType type, int rows, int cols, bool randomBytes, std::mt19937 &rng)
{
    const Layout l = layoutOf(type);
    Weights w;
    const std::size_t rowSize = std::size_t(cols / l.elements) * std::size_t(l.bytes);
    w.stride = rowSize + 24;
    w.bytes.assign(w.stride * std::size_t(rows), std::byte{0xff});
    w.values.resize(std::size_t(rows) * std::size_t(cols));
    std::uniform_int_distribution<int> byte(0, 255);
    std::uniform_real_distribution<float> scale(-0.03f, 0.03f);
    std::normal_distribution<float> normal(0.f, 1.f);
    std::vector<float> row(static_cast<std::size_t>(cols));
    for (int r = 0; r < rows; ++r) {
        auto *dst = reinterpret_cast<std::uint8_t *>(w.bytes.data() + std::size_t(r) * w.stride);
        if (randomBytes) {
            for (std::size_t i = 0; i < rowSize; ++i)
                dst[i] = static_cast<std::uint8_t>(byte(rng));
            for (std::size_t b = 0; b < rowSize; b += std::size_t(l.bytes))
                for (int off : l.scaleOffsets)
                    if (off >= 0)
                        putF16(dst + b + std::size_t(off), scale(rng));
        } else {
            for (float &v : row)
                v = normal(rng);
            nw::quantizeRow(type, row.data(), dst, row.size());
        }
        for (int b = 0; b < cols / l.elements; ++b)
            l.decode(dst + std::size_t(b) * std::size_t(l.bytes),
                     w.values.data() + std::size_t(r) * std::size_t(cols) + std::size_t(b) * std::size_t(l.elements));
    }
    return w;
}

// Activations 8-bit block quantization represents exactly (per 32: a power-of-two step d and
// integers in [-127, 127], one of them +-127, so every 32- and 256-block has amax = 127 d' for
// its own largest d'): the only error left is float summation order.
std::vector<float> exactActivations(int nTokens, int cols, std::mt19937 &rng)
{
    std::uniform_int_distribution<int> level(-127, 127), exponent(-7, -2), pick(0, 31);
    std::vector<float> x(std::size_t(nTokens) * std::size_t(cols));
    for (std::size_t b0 = 0; b0 < x.size(); b0 += 256) {
        // One step for the whole 256 so Q8_K (one scale per 256) is exact too.
        const float d = std::ldexp(1.f, exponent(rng));
        for (std::size_t i = b0; i < std::min(x.size(), b0 + 256); i += 32) {
            for (std::size_t k = 0; k < 32; ++k)
                x[i + k] = d * static_cast<float>(level(rng));
            x[i + std::size_t(pick(rng))] = d * (pick(rng) % 2 ? 127.f : -127.f);
        }
    }
    return x;
}

std::vector<float> normalActivations(int nTokens, int cols, std::mt19937 &rng)
{
    std::normal_distribution<float> value(0.f, 1.f);
    std::vector<float> x(std::size_t(nTokens) * std::size_t(cols));
    for (float &v : x)
        v = value(rng);
    for (std::size_t i = 0; i < x.size(); i += 97)
        x[i] *= 20.f; // outliers stretch their block's scale, as in real activations
    return x;
}

// Reference and its bound: exact activations leave float accumulation (1e-5 of sum |w x|);
// otherwise each activation is off by at most half its block's step amax / 127 (+0.2% for the
// f16-rounded Q8_0 step).
void expected(TensorType type, const float *w, const float *x, int cols, bool exact, double &value, double &tolerance)
{
    const int block = isK(type) ? 256 : 32;
    double sum = 0, magnitude = 0, quantError = 0;
    for (int b0 = 0; b0 < cols; b0 += block) {
        double amax = 0, sumAbsW = 0;
        for (int i = b0; i < b0 + block; ++i) {
            sum += double(w[i]) * x[i];
            magnitude += std::fabs(double(w[i]) * x[i]);
            amax = std::max(amax, std::fabs(double(x[i])));
            sumAbsW += std::fabs(double(w[i]));
        }
        if (!exact)
            quantError += sumAbsW * amax / 127.0 * 0.5 * 1.002;
    }
    value = sum;
    tolerance = quantError + 1e-5 * magnitude + 1e-6;
}

int colsFor(TensorType type)
{
    return isK(type) ? 3 * 256 : 19 * 32;
}

void checkAgainstReference(const Weights &w, TensorType type, int rows, int cols, const std::vector<float> &x,
                           int nTokens, bool exact, const std::vector<float> &y)
{
    int failures = 0;
    for (int t = 0; t < nTokens; ++t)
        for (int r = 0; r < rows; ++r) {
            double value = 0, tolerance = 0;
            expected(type, w.values.data() + std::size_t(r) * std::size_t(cols), x.data() + std::size_t(t) * std::size_t(cols),
                     cols, exact, value, tolerance);
            const double got = y[std::size_t(t) * std::size_t(rows) + std::size_t(r)];
            if (!(std::fabs(got - value) <= tolerance) && failures++ < 5) {
                CAPTURE(t);
                CAPTURE(r);
                CAPTURE(value);
                CAPTURE(tolerance);
                CHECK(got == doctest::Approx(value).epsilon(0));
            }
        }
    CHECK(failures == 0);
}

void checkPacked(TensorType type, int rows, int nTokens, int threads, bool randomBytes, bool exact, bool scalar,
                 unsigned seed)
{
    CAPTURE(nw::tensorTypeName(type));
    CAPTURE(rows);
    CAPTURE(nTokens);
    CAPTURE(threads);
    CAPTURE(randomBytes);
    CAPTURE(exact);
    CAPTURE(scalar);
    std::mt19937 rng(seed);
    const int cols = colsFor(type);
    const Weights w = makeWeights(type, rows, cols, randomBytes, rng);
    const std::vector<float> x = exact ? exactActivations(nTokens, cols, rng) : normalActivations(nTokens, cols, rng);
    const nw::WeightMatrix view{type, rows, cols, w.bytes.data(), w.stride};
    const auto packed = nw::cpu::packWeights(view);
    REQUIRE(packed->nGroups == (rows + 7) / 8);
    CHECK(packed->bytes() == std::size_t(packed->nGroups) * packedBlockBytes(type) *
                                 std::size_t(cols / layoutOf(type).elements));

    nw::cpu::ThreadPool pool(threads);
    std::vector<std::byte> scratch;
    std::vector<float> y(std::size_t(nTokens) * std::size_t(rows) + 1, std::numeric_limits<float>::quiet_NaN());
    y.back() = 12345.f; // the word after the output: no write may reach it
    nw::cpu::matmulPacked(pool, scratch, *packed, x.data(), y.data(), nTokens, scalar);
    CHECK(y.back() == 12345.f);
    checkAgainstReference(w, type, rows, cols, x, nTokens, exact, y);
}

} // namespace

TEST_CASE("packed matmul matches the dequantized reference (portable and SIMD kernels)")
{
    unsigned seed = 4321;
    for (TensorType type : kPackedTypes)
        for (bool scalar : {false, true})
            for (bool randomBytes : {true, false})
                for (bool exact : {true, false})
                    for (int nTokens : {1, 3})
                        checkPacked(type, nTokens == 1 ? 301 : 37, nTokens, 2, randomBytes, exact, scalar, seed++);
}

TEST_CASE("packed matmul: row counts around a group of 8, one and two threads, prefill batches")
{
    unsigned seed = 77;
    for (TensorType type : kPackedTypes)
        for (int rows : {1, 7, 8, 9, 16, 250})
            for (int threads : {1, 2})
                checkPacked(type, rows, rows == 250 ? 19 : 1, threads, true, true, false, seed++);
}

TEST_CASE("the SIMD group kernels give the portable ones' results on the same bytes")
{
    std::mt19937 rng(11);
    nw::cpu::ThreadPool pool(1);
    for (TensorType type : kPackedTypes) {
        CAPTURE(nw::tensorTypeName(type));
        const int rows = 29, cols = colsFor(type), nTokens = 2;
        const Weights w = makeWeights(type, rows, cols, true, rng);
        const std::vector<float> x = normalActivations(nTokens, cols, rng);
        const auto packed = nw::cpu::packWeights({type, rows, cols, w.bytes.data(), w.stride});
        std::vector<float> ySimd(std::size_t(rows * nTokens)), yScalar(ySimd.size());
        std::vector<std::byte> scratch;
        nw::cpu::matmulPacked(pool, scratch, *packed, x.data(), ySimd.data(), nTokens, false);
        nw::cpu::matmulPacked(pool, scratch, *packed, x.data(), yScalar.data(), nTokens, true);
        for (std::size_t i = 0; i < ySimd.size(); ++i)
            // Same integer sums; the activation quantizers may round a tie differently.
            CHECK(ySimd[i] == doctest::Approx(yScalar[i]).epsilon(1e-4).scale(1e-3));
    }
}

TEST_CASE("the multi-token tile kernels: token counts around the tile, partial groups of 8")
{
    // Q8_0, Q4_0 and Q4_K have AVX2 tile kernels (kTileTokens tokens per call, the rest one by
    // one); each count here leaves a different remainder, and every result is checked against
    // the dequantized reference, the portable per-token kernel and the SIMD 1-token kernel.
    const nw::cpu::CpuFeatures &cpu = nw::cpu::cpuFeatures();
    const bool simd = cpu.avx2 && cpu.fma && cpu.f16c;
    REQUIRE(nw::cpu::kTileTokens == 4); // the counts below are chosen around 4
    if (!simd)
        MESSAGE("no AVX2 on this CPU: only the portable kernels run");
    unsigned seed = 900;
    for (TensorType type : kPackedTypes) {
        CAPTURE(nw::tensorTypeName(type));
        const bool hasTile = type != TensorType::Q6_K;
        CHECK((nw::cpu::avx2PackedTile(type) != nullptr) == (simd && hasTile));
        for (int rows : {5, 13, 40})
            for (int nTokens : {1, 3, 4, 5, 8, 17})
                for (bool randomBytes : {true, false}) {
                    CAPTURE(rows);
                    CAPTURE(nTokens);
                    CAPTURE(randomBytes);
                    std::mt19937 rng(seed++);
                    const int cols = colsFor(type);
                    const Weights w = makeWeights(type, rows, cols, randomBytes, rng);
                    const std::vector<float> x = exactActivations(nTokens, cols, rng);
                    const auto packed = nw::cpu::packWeights({type, rows, cols, w.bytes.data(), w.stride});
                    nw::cpu::ThreadPool pool(rows == 40 ? 2 : 1);
                    std::vector<std::byte> scratch;
                    const std::size_t n = std::size_t(nTokens) * std::size_t(rows);
                    std::vector<float> ySimd(n + 1, std::numeric_limits<float>::quiet_NaN()), yScalar(n);
                    ySimd.back() = 12345.f;
                    nw::cpu::matmulPacked(pool, scratch, *packed, x.data(), ySimd.data(), nTokens, false);
                    nw::cpu::matmulPacked(pool, scratch, *packed, x.data(), yScalar.data(), nTokens, true);
                    CHECK(ySimd.back() == 12345.f);
                    ySimd.pop_back();
                    checkAgainstReference(w, type, rows, cols, x, nTokens, true, ySimd);
                    // Each token alone goes through the 1-token kernel, which does the same integer
                    // sums and the same float operations in the same order: bit for bit the same.
                    std::vector<float> ySingle(n, std::numeric_limits<float>::quiet_NaN());
                    for (int t = 0; t < nTokens; ++t)
                        nw::cpu::matmulPacked(pool, scratch, *packed, x.data() + std::size_t(t) * std::size_t(cols),
                                              ySingle.data() + std::size_t(t) * std::size_t(rows), 1, false);
                    int mismatches = 0;
                    for (std::size_t i = 0; i < n; ++i) {
                        // The portable kernels use no FMA and sum in another order: they agree to
                        // float rounding of the sum of |w x| (the reference's own bound).
                        const std::size_t t = i / std::size_t(rows), r = i % std::size_t(rows);
                        double value = 0, tolerance = 0;
                        expected(type, w.values.data() + r * std::size_t(cols), x.data() + t * std::size_t(cols), cols,
                                 true, value, tolerance);
                        const bool sameAsScalar = std::fabs(double(ySimd[i]) - yScalar[i]) <= tolerance;
                        if ((ySimd[i] != ySingle[i] || !sameAsScalar) && mismatches++ < 5) {
                            CAPTURE(i);
                            CHECK(ySimd[i] == ySingle[i]);
                            CHECK(ySimd[i] == doctest::Approx(yScalar[i]).epsilon(0));
                        }
                    }
                    CHECK(mismatches == 0);
                }
    }
}

TEST_CASE("the CPU backend repacks prepared weights, uses them, and counts their bytes")
{
    std::mt19937 rng(5);
    for (TensorType type : {TensorType::Q4_0, TensorType::Q8_0, TensorType::Q4_K}) { // Q6_K: see cpu_backend.cpp
        CAPTURE(nw::tensorTypeName(type));
        const int rows = 45, cols = colsFor(type), nTokens = 2;
        Weights w = makeWeights(type, rows, cols, false, rng);
        const std::vector<float> x = exactActivations(nTokens, cols, rng);
        const nw::WeightMatrix view{type, rows, cols, w.bytes.data(), w.stride};
        auto backend = nw::makeCpuBackend(2);
        CHECK(backend->memoryInfo().weightsBytes == 0);
        backend->prepareWeights({&view, 1});
        backend->prepareWeights({&view, 1}); // a second call makes no second copy
        CHECK(backend->memoryInfo().weightsBytes ==
              6 * packedBlockBytes(type) * std::size_t(cols / layoutOf(type).elements));
        std::vector<float> y(std::size_t(nTokens * rows), std::numeric_limits<float>::quiet_NaN());
        backend->matmul(view, x.data(), y.data(), nTokens);
        checkAgainstReference(w, type, rows, cols, x, nTokens, true, y);
        // The packed copy is what runs: change the file bytes and the result stays.
        std::vector<float> y2(y.size());
        std::fill(w.bytes.begin(), w.bytes.end(), std::byte{0});
        backend->matmul(view, x.data(), y2.data(), nTokens);
        CHECK(y2 == y);
    }
}
