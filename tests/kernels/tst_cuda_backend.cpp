// The CUDA backend against the CPU: K-quant dequantization to bf16, paged attention (MHA, GQA,
// MLA's shared row; f16 and f32 rows; NaN in every row the causal mask must skip), and the
// CudaBackend's products in both weight residencies, its buffers and its accounting.
#include "common/error.h"
#include "kernels/backend.h"
#include "kernels/cpu/quantize.h"
#include "kernels/cuda/attention.cuh"
#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/dequant.cuh"
#include "kernels/cuda/device_buffer.h"
#include "kernels/float16.h"

#include "tests/support/cuda_test.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

namespace {

using nw::test::checkClose;
using nw::test::randomFloats;

using nw::TensorType;
using nw::cuda::DeviceBuffer;

} // namespace

TEST_CASE("K-quant weights dequantize to bf16 as the CPU dequantizes them")
{
    for (const TensorType type : {TensorType::Q4_K, TensorType::Q5_K, TensorType::Q6_K}) {
        CAPTURE(nw::tensorTypeName(type));
        const std::int64_t rows = 5, cols = 768;
        const std::size_t rowBytes = nw::rowBytes(type, std::size_t(cols));
        const std::size_t stride = rowBytes + 6; // padded rows: the stride is honoured
        std::vector<unsigned char> host(stride * std::size_t(rows), 0xff);
        std::vector<float> ref(std::size_t(rows * cols));
        const auto values = randomFloats(ref.size(), 11, 3.f);
        for (std::int64_t r = 0; r < rows; ++r) {
            nw::quantizeRow(type, values.data() + r * cols, host.data() + std::size_t(r) * stride, std::size_t(cols));
            nw::dequantizeRow(type, host.data() + std::size_t(r) * stride, ref.data() + r * cols, std::size_t(cols));
        }
        DeviceBuffer src = DeviceBuffer::from(host), dst(ref.size() * 2);
        nw::cuda::dequantizeToBf16(type, src.data(), stride, rows, cols, dst.as<std::uint16_t>(), nullptr);
        const auto bits = dst.download<std::uint16_t>(ref.size());
        std::vector<float> got(ref.size());
        for (std::size_t i = 0; i < got.size(); ++i)
            got[i] = nw::bf16ToFloat(bits[i]);
        checkClose(got, ref, 1.f / 256); // bf16 keeps 8 significant bits
    }
    std::vector<unsigned char> raw(210);
    DeviceBuffer src = DeviceBuffer::from(raw), dst(512);
    CHECK_THROWS_AS(nw::cuda::dequantizeToBf16(TensorType::Q6_K, src.data(), 210, 1, 100, dst.as<std::uint16_t>(),
                                               nullptr),
                    nw::Error); // not whole blocks of 256
}

namespace {

struct AttentionCase {
    const char *name;
    TensorType type;
    int nHeads, nKvHeads, kHeadDim, vHeadDim;
    bool sharedRow; // MLA: V is the leading part of the K row
    int nCtx, nTokens;
    int window = 0;     // sliding window (0: causal over everything)
    bool sinks = false; // per-head attention sinks
};

// Writes `value` as element i of a row of `type`.
void putElement(TensorType type, std::byte *row, int i, float value)
{
    if (type == TensorType::F16) {
        const nw::f16_t h = nw::floatToFp16(value);
        std::memcpy(row + 2 * i, &h, 2);
    } else {
        std::memcpy(row + 4 * i, &value, 4);
    }
}

void runAttentionCase(const AttentionCase &c)
{
    CAPTURE(c.name);
    const int blockSize = 64;
    const std::size_t es = c.type == TensorType::F16 ? 2 : 4;
    const int kWidth = c.nKvHeads * c.kHeadDim, vWidth = c.nKvHeads * c.vHeadDim;
    const std::size_t kRowStride = es * std::size_t(kWidth) + 16; // padded rows
    const std::size_t vRowStride = c.sharedRow ? kRowStride : es * std::size_t(vWidth) + 8;
    const int nLogical = (c.nCtx + blockSize - 1) / blockSize;
    const int nPhysical = nLogical + 2; // two blocks nobody uses, NaN throughout
    const std::size_t kBlockStride = kRowStride * blockSize;
    const std::size_t vBlockStride = vRowStride * blockSize;
    // K blocks then V blocks in one allocation; everything starts as NaN (f16 or f32 bits).
    const std::size_t kBytes = kBlockStride * std::size_t(nPhysical);
    const std::size_t vBytes = c.sharedRow ? 0 : vBlockStride * std::size_t(nPhysical);
    std::vector<std::byte> cache(kBytes + vBytes);
    const float nan = std::numeric_limits<float>::quiet_NaN();
    for (std::size_t off = 0; off + es <= cache.size(); off += es)
        putElement(c.type, cache.data() + off, 0, nan);
    std::vector<std::int32_t> table(static_cast<std::size_t>(nLogical));
    std::iota(table.begin(), table.end(), 0);
    std::shuffle(table.begin(), table.end(), std::mt19937(5));
    for (auto &id : table)
        id += 1; // physical block 0 stays unused
    std::mt19937 rng(9);
    std::uniform_real_distribution<float> value(-1.f, 1.f);
    for (int j = 0; j < c.nCtx; ++j) { // rows past nCtx in the last block stay NaN
        std::byte *k = cache.data() + std::size_t(table[j / blockSize]) * kBlockStride + std::size_t(j % blockSize) * kRowStride;
        for (int i = 0; i < kWidth; ++i)
            putElement(c.type, k, i, value(rng));
        if (!c.sharedRow) {
            std::byte *v = cache.data() + kBytes + std::size_t(table[j / blockSize]) * vBlockStride
                           + std::size_t(j % blockSize) * vRowStride;
            for (int i = 0; i < vWidth; ++i)
                putElement(c.type, v, i, value(rng));
        }
    }
    const auto q = randomFloats(std::size_t(c.nTokens) * c.nHeads * c.kHeadDim, 3);
    std::vector<std::int32_t> positions(std::size_t(c.nTokens));
    for (int t = 0; t < c.nTokens; ++t)
        positions[std::size_t(t)] = c.nCtx - c.nTokens + t; // causal: earlier queries see fewer rows

    nw::KvLayerView view;
    view.type = c.type;
    view.blockSize = blockSize;
    view.kBlockStride = kBlockStride;
    view.kRowStride = kRowStride;
    view.vBlockStride = c.sharedRow ? kBlockStride : vBlockStride;
    view.vRowStride = vRowStride;
    view.nKvHeads = c.nKvHeads;
    view.kHeadDim = c.kHeadDim;
    view.vHeadDim = c.vHeadDim;

    std::vector<float> sinkLogits(static_cast<std::size_t>(c.nHeads));
    for (int h = 0; h < c.nHeads; ++h)
        sinkLogits[std::size_t(h)] = float(h % 3) - 1.f;
    nw::AttentionArgs args;
    args.nTokens = c.nTokens;
    args.nHeads = c.nHeads;
    args.scale = 1.f / std::sqrt(float(c.kHeadDim));
    args.window = c.window;
    args.sinks = c.sinks ? sinkLogits.data() : nullptr; // a host weight: the backend copies it

    std::vector<float> ref(std::size_t(c.nTokens) * c.nHeads * c.vHeadDim);
    {
        nw::AttentionArgs a = args;
        a.kv = view;
        a.kv.blockTable = table.data();
        a.kv.kBlocks = cache.data();
        a.kv.vBlocks = c.sharedRow ? cache.data() : cache.data() + kBytes;
        a.q = q.data();
        a.out = ref.data();
        a.queryPositions = positions.data();
        nw::makeCpuBackend(1)->attention(a);
    }

    DeviceBuffer cacheDev = DeviceBuffer::from(cache), tableDev = DeviceBuffer::from(table);
    DeviceBuffer qDev = DeviceBuffer::from(q), posDev = DeviceBuffer::from(positions), outDev(ref.size() * 4);
    nw::AttentionArgs a = args;
    a.kv = view;
    a.kv.blockTable = tableDev.as<std::int32_t>();
    a.kv.kBlocks = cacheDev.as<std::byte>();
    a.kv.vBlocks = c.sharedRow ? a.kv.kBlocks : cacheDev.as<std::byte>() + kBytes;
    a.q = qDev.as<float>();
    a.out = outDev.as<float>();
    a.queryPositions = posDev.as<std::int32_t>();
    DeviceBuffer sinksDev = DeviceBuffer::from(sinkLogits);
    a.sinks = c.sinks ? sinksDev.as<float>() : nullptr;
    nw::cuda::attention(a, nullptr);
    NW_CUDA_CHECK(cudaDeviceSynchronize());
    checkClose(outDev.download<float>(ref.size()), ref, 2e-4f);
}

} // namespace

TEST_CASE("cuda paged attention agrees with the CPU backend")
{
    const AttentionCase cases[] = {
        {"MHA f16, head 64, prefill", TensorType::F16, 4, 4, 64, 64, false, 150, 20},
        {"GQA f16, head 128, decode", TensorType::F16, 8, 2, 128, 128, false, 300, 1},
        {"GQA f32, head 64, 3 queries", TensorType::F32, 6, 3, 64, 64, false, 65, 3},
        {"tiny head 16", TensorType::F32, 4, 2, 16, 16, false, 7, 7},
        {"MLA shared row f16 (576 / 512)", TensorType::F16, 16, 1, 576, 512, true, 200, 2},
        {"window 32, prefill", TensorType::F16, 4, 2, 64, 64, false, 150, 20, 32},
        {"window 128 and sinks, decode (gpt-oss)", TensorType::F16, 8, 2, 64, 64, false, 300, 1, 128, true},
        {"sinks, prefill", TensorType::F32, 4, 4, 64, 64, false, 65, 10, 0, true},
    };
    for (const AttentionCase &c : cases)
        runAttentionCase(c);
}

TEST_CASE("cuda attention validates its view before launching")
{
    nw::AttentionArgs a;
    a.nTokens = 1;
    a.nHeads = 3;
    a.kv.type = TensorType::Q8_0;
    CHECK_THROWS_AS(nw::cuda::attention(a, nullptr), nw::Error);
    a.kv.type = TensorType::F16;
    CHECK_THROWS_AS(nw::cuda::attention(a, nullptr), nw::Error); // no blocks
}

TEST_CASE("CudaBackend products match an f32 reference in both weight residencies")
{
    const std::int64_t rows = 96, cols = 512;
    const int nTokens = 3;
    for (const TensorType type : {TensorType::Q4_K, TensorType::Q6_K, TensorType::Q8_0, TensorType::F16}) {
        for (const auto residency : {nw::cuda::WeightResidency::Bf16, nw::cuda::WeightResidency::Quantized}) {
            CAPTURE(nw::tensorTypeName(type));
            CAPTURE(int(residency));
            const std::size_t rb = nw::rowBytes(type, std::size_t(cols));
            std::vector<std::byte> weights(rb * std::size_t(rows));
            const auto values = randomFloats(std::size_t(rows * cols), 21);
            std::vector<float> w(values.size());
            for (std::int64_t r = 0; r < rows; ++r) {
                nw::quantizeRow(type, values.data() + r * cols, weights.data() + std::size_t(r) * rb, std::size_t(cols));
                nw::dequantizeRow(type, weights.data() + std::size_t(r) * rb, w.data() + r * cols, std::size_t(cols));
            }
            const auto x = randomFloats(std::size_t(nTokens * cols), 22);
            // Reference in double from the dequantized weights; the bound covers bf16 rounding of
            // both operands (2^-8 relative each) on the sum of |products|.
            std::vector<float> ref(std::size_t(nTokens * rows));
            std::vector<double> bound(ref.size());
            for (int t = 0; t < nTokens; ++t)
                for (std::int64_t r = 0; r < rows; ++r) {
                    double sum = 0, abs = 0;
                    for (std::int64_t c = 0; c < cols; ++c) {
                        const double p = double(w[std::size_t(r * cols + c)]) * x[std::size_t(t * cols + c)];
                        sum += p;
                        abs += std::abs(p);
                    }
                    ref[std::size_t(t * rows + r)] = float(sum);
                    bound[std::size_t(t * rows + r)] = abs / 64;
                }

            nw::cuda::CudaBackend backend({.device = 0, .weights = residency, .headroomBytes = 0});
            const nw::WeightMatrix matrix = nw::denseWeights(type, rows, cols, weights.data());
            backend.prepareWeights(std::span(&matrix, 1));
            const bool bf16 = residency == nw::cuda::WeightResidency::Bf16 || type == TensorType::F16;
            CHECK(backend.bf16Matrices() == (bf16 ? 1 : 0));
            CHECK(backend.quantizedMatrices() == (bf16 ? 0 : 1));
            CHECK(backend.memoryInfo().weightsBytes == (bf16 ? std::size_t(rows * cols * 2) : weights.size()));

            nw::BackendBuffer xDev(backend, x.size() * 4), yDev(backend, ref.size() * 4);
            xDev.upload(x.data(), x.size() * 4);
            backend.matmul(matrix, xDev.as<float>(), yDev.as<float>(), nTokens);
            std::vector<float> got(ref.size());
            yDev.download(got.data(), got.size() * 4);
            for (std::size_t i = 0; i < got.size(); ++i)
                REQUIRE(std::abs(double(got[i]) - ref[i]) <= bound[i]);
            CHECK(backend.memoryInfo().bufferBytes == (x.size() + ref.size()) * 4);
        }
    }
}

TEST_CASE("CudaBackend: buffers, residual add, norm weights from the host, accounting")
{
    nw::cuda::CudaBackend backend;
    CHECK(backend.memoryKind() == nw::BackendMemory::Device);
    const auto before = backend.memoryInfo();
    CHECK(before.totalBytes > 0);
    CHECK(before.bufferBytes == 0);
    const std::size_t n = 5000;
    auto y = randomFloats(n, 31), x = randomFloats(n, 32);
    {
        nw::BackendBuffer yDev(backend, n * 4), xDev(backend, n * 4);
        CHECK(backend.memoryInfo().bufferBytes == 2 * n * 4);
        yDev.upload(y.data(), n * 4);
        xDev.upload(x.data(), n * 4);
        backend.add(yDev.as<float>(), xDev.as<float>(), n);
        std::vector<float> got(n);
        yDev.download(got.data(), n * 4);
        for (std::size_t i = 0; i < n; ++i)
            y[i] += x[i];
        CHECK(got == y); // one f32 add each: exact

        // rmsNorm takes its weight from the host (the mapped file), the rows from the device.
        const int rows = 4, dim = 1250;
        const auto weight = randomFloats(std::size_t(dim), 33);
        std::vector<float> ref = y;
        nw::makeCpuBackend(1)->rmsNorm(ref.data(), weight.data(), ref.data(), rows, dim, 1e-5f);
        backend.rmsNorm(yDev.as<float>(), weight.data(), yDev.as<float>(), rows, dim, 1e-5f);
        yDev.download(got.data(), n * 4);
        checkClose(got, ref, 1e-5f);
        CHECK(backend.memoryInfo().weightsBytes == std::size_t(dim) * 4);
    }
    CHECK(backend.memoryInfo().bufferBytes == 0);
    CHECK(backend.memoryInfo().peakBufferBytes == 2 * n * 4);
}
