// CUDA elementwise and lookup ops (rmsNorm, swiglu, geglu, row ops, rope incl. YaRN, embed, storeKv) against
// the CPU backend on the same random inputs.
#include "kernels/backend.h"
#include "kernels/cuda/activations.cuh"
#include "kernels/cuda/device_buffer.h"
#include "kernels/cuda/embed.cuh"
#include "kernels/cuda/rms_norm.cuh"
#include "kernels/cuda/rope.cuh"
#include "kernels/cuda/store_kv.cuh"
#include "kernels/float16.h"

#include "tests/support/cuda_test.h"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

namespace {

using nw::test::checkClose;
using nw::test::randomFloats;

using nw::cuda::DeviceBuffer;

} // namespace

TEST_CASE("cuda swiglu, geglu, swigluOai and the row ops agree with the CPU backend")
{
    auto cpu = nw::makeCpuBackend(1);
    const std::size_t n = 10007; // not a multiple of the block size
    const auto gate = randomFloats(n, 1, 8.f), up = randomFloats(n, 2, 3.f);
    std::vector<float> ref(n);
    cpu->swiglu(gate.data(), up.data(), ref.data(), n);
    DeviceBuffer g = DeviceBuffer::from(gate), u = DeviceBuffer::from(up), y(n * 4);
    nw::cuda::swiglu(g.as<float>(), u.as<float>(), y.as<float>(), n, nullptr);
    checkClose(y.download<float>(n), ref, 1e-5f);
    cpu->geglu(gate.data(), up.data(), ref.data(), n);
    nw::cuda::geglu(g.as<float>(), u.as<float>(), y.as<float>(), n, nullptr);
    checkClose(y.download<float>(n), ref, 1e-5f);
    cpu->swigluOai(gate.data(), up.data(), ref.data(), n, 1.702f, 7.f);
    nw::cuda::swigluOai(g.as<float>(), u.as<float>(), y.as<float>(), n, 1.702f, 7.f, nullptr);
    checkClose(y.download<float>(n), ref, 1e-5f);

    // addRow and scale over [nTokens, dim].
    const int nTokens = 13, dim = 769;
    auto x = randomFloats(std::size_t(nTokens) * dim, 3, 2.f);
    const auto bias = randomFloats(std::size_t(dim), 4, 1.f);
    DeviceBuffer dx = DeviceBuffer::from(x), db = DeviceBuffer::from(bias);
    cpu->addRow(x.data(), bias.data(), nTokens, dim);
    nw::cuda::addRow(dx.as<float>(), db.as<float>(), nTokens, dim, nullptr);
    checkClose(dx.download<float>(x.size()), x, 0.f);
    cpu->scale(x.data(), 0.3f, x.size());
    nw::cuda::scale(dx.as<float>(), 0.3f, x.size(), nullptr);
    checkClose(dx.download<float>(x.size()), x, 0.f);

    // An expert's tokens gathered and scattered back with their weights.
    const std::vector<std::int32_t> rows = {12, 0, 5, 7};
    const auto weights = randomFloats(rows.size(), 5, 1.f);
    std::vector<float> gathered(rows.size() * dim), dst = randomFloats(std::size_t(nTokens) * dim, 6, 1.f);
    DeviceBuffer dr = DeviceBuffer::from(rows), dw = DeviceBuffer::from(weights), dg(gathered.size() * 4),
                 dd = DeviceBuffer::from(dst);
    cpu->gatherRows(x.data(), rows.data(), int(rows.size()), dim, gathered.data());
    nw::cuda::gatherRows(dx.as<float>(), dr.as<std::int32_t>(), int(rows.size()), dim, dg.as<float>(), nullptr);
    checkClose(dg.download<float>(gathered.size()), gathered, 0.f);
    cpu->scatterAddRows(dst.data(), gathered.data(), rows.data(), weights.data(), int(rows.size()), dim);
    nw::cuda::scatterAddRows(dd.as<float>(), dg.as<float>(), dr.as<std::int32_t>(), dw.as<float>(), int(rows.size()),
                             dim, nullptr);
    checkClose(dd.download<float>(dst.size()), dst, 1e-6f);
    CHECK_THROWS_AS(nw::cuda::addRow(nullptr, nullptr, 2, 0, nullptr), nw::Error);
}

TEST_CASE("cuda rope agrees with the CPU backend (adjacent, neox, freq factors, YaRN)")
{
    auto cpu = nw::makeCpuBackend(1);
    const int nTokens = 5, nHeads = 3, headStride = 96, offset = 32;
    const std::vector<std::int32_t> positions = {0, 1, 77, 4095, 100000};
    DeviceBuffer posDev = DeviceBuffer::from(positions);
    const auto factors = [] {
        std::vector<float> f(32);
        for (int i = 0; i < 32; ++i)
            f[i] = 1.f + 0.25f * float(i); // llama 3.1-like growing divisors
        return f;
    }();
    DeviceBuffer factorsDev = DeviceBuffer::from(factors);

    struct Case {
        const char *name;
        bool neox;
        bool freqFactors;
        float extFactor;
        float freqScale;
    };
    for (const Case &c : {Case{"adjacent", false, false, 0.f, 1.f}, Case{"neox", true, false, 0.f, 1.f},
                          Case{"freq factors", false, true, 0.f, 1.f}, Case{"yarn", false, false, 1.f, 0.025f}}) {
        CAPTURE(c.name);
        nw::RopeParams p;
        p.nDims = 64;
        p.neox = c.neox;
        p.freqBase = 10000.f;
        p.freqScale = c.freqScale;
        p.extFactor = c.extFactor;
        p.nCtxOrig = 4096;
        p.attnFactor = c.extFactor != 0.f ? 0.7f : 1.f;
        auto x = randomFloats(std::size_t(nTokens) * nHeads * headStride, 4);
        DeviceBuffer d = DeviceBuffer::from(x);
        nw::RopeParams pCpu = p, pGpu = p;
        if (c.freqFactors) {
            pCpu.freqFactors = factors.data();
            pGpu.freqFactors = factorsDev.as<float>();
        }
        cpu->rope(x.data(), nTokens, nHeads, headStride, offset, positions.data(), pCpu);
        nw::cuda::rope(d.as<float>(), nTokens, nHeads, headStride, offset, posDev.as<std::int32_t>(), pGpu, nullptr);
        // Both evaluate angles in double; only libm vs CUDA cos/sin of large angles differ.
        checkClose(d.download<float>(x.size()), x, 2e-5f);
    }
}

TEST_CASE("cuda embed agrees with the CPU backend for F32, F16, BF16 and Q8_0 tables")
{
    auto cpu = nw::makeCpuBackend(1);
    const int rows = 50, cols = 64;
    const auto values = randomFloats(std::size_t(rows) * cols, 5, 2.f);
    const std::vector<std::int32_t> ids = {0, 49, 7, 7, 23};
    for (const nw::TensorType type : {nw::TensorType::F32, nw::TensorType::F16, nw::TensorType::BF16, nw::TensorType::Q8_0}) {
        CAPTURE(nw::tensorTypeName(type));
        std::vector<std::byte> bytes(std::size_t(rows) * nw::rowBytes(type, cols));
        std::mt19937 rng(6);
        for (std::size_t i = 0; i < values.size(); ++i) {
            if (type == nw::TensorType::F32)
                std::memcpy(bytes.data() + i * 4, &values[i], 4);
            else if (type == nw::TensorType::F16 || type == nw::TensorType::BF16) {
                const std::uint16_t h = type == nw::TensorType::F16 ? nw::floatToFp16(values[i]) : nw::floatToBf16(values[i]);
                std::memcpy(bytes.data() + i * 2, &h, 2);
            }
        }
        if (type == nw::TensorType::Q8_0) {
            auto *blocks = reinterpret_cast<nw::BlockQ8_0 *>(bytes.data());
            for (std::size_t b = 0; b < bytes.size() / sizeof(nw::BlockQ8_0); ++b) {
                blocks[b].d = nw::floatToFp16(0.01f + 0.001f * float(b % 17));
                for (auto &q : blocks[b].qs)
                    q = static_cast<std::int8_t>(int(rng() % 255) - 127);
            }
        }
        const nw::WeightMatrix hostTable = nw::denseWeights(type, rows, cols, bytes.data());
        std::vector<float> ref(ids.size() * cols);
        cpu->embed(hostTable, ids.data(), int(ids.size()), ref.data());

        DeviceBuffer tableDev = DeviceBuffer::from(bytes), idsDev = DeviceBuffer::from(ids);
        DeviceBuffer out(ref.size() * 4);
        const nw::WeightMatrix devTable = nw::denseWeights(type, rows, cols, tableDev.data());
        nw::cuda::embed(devTable, idsDev.as<std::int32_t>(), int(ids.size()), out.as<float>(), nullptr);
        checkClose(out.download<float>(ref.size()), ref, 0.f); // exact widening on both sides
    }
    // An id out of range gives a NaN row on the device (the host backend throws instead).
    const std::vector<std::int32_t> badIds = {1, 50};
    DeviceBuffer table = DeviceBuffer::from(values), idsDev = DeviceBuffer::from(badIds), out(2 * cols * 4);
    nw::cuda::embed(nw::denseWeights(nw::TensorType::F32, rows, cols, table.data()), idsDev.as<std::int32_t>(),
                    2, out.as<float>(), nullptr);
    const auto got = out.download<float>(2 * cols);
    CHECK(got[0] == values[cols]);
    CHECK(std::isnan(got[cols]));
}

TEST_CASE("cuda storeKv writes the same cache bytes as the CPU backend (F16) and as RNE bf16")
{
    auto cpu = nw::makeCpuBackend(1);
    const int blockSize = 4, nBlocks = 3, nKvHeads = 2, kHeadDim = 8, vHeadDim = 6;
    const std::vector<std::int32_t> blockTable = {2, 0, 1};
    const std::vector<std::int32_t> positions = {0, 5, 6, 11};
    const int nTokens = int(positions.size());
    const auto k = randomFloats(std::size_t(nTokens) * nKvHeads * kHeadDim, 7, 4.f);
    const auto v = randomFloats(std::size_t(nTokens) * nKvHeads * vHeadDim, 8, 4.f);
    const std::size_t kRow = nKvHeads * kHeadDim * 2 + 4, vRow = nKvHeads * vHeadDim * 2; // K rows padded
    std::vector<std::byte> kCache(kRow * blockSize * nBlocks, std::byte{0xff});           // NaN bits
    std::vector<std::byte> vCache(vRow * blockSize * nBlocks, std::byte{0xff});

    const auto view = [&](std::byte *kBase, std::byte *vBase, const std::int32_t *table, nw::TensorType type) {
        nw::KvLayerView kv;
        kv.type = type;
        kv.blockSize = blockSize;
        kv.blockTable = table;
        kv.kBlocks = kBase;
        kv.kRowStride = kRow;
        kv.kBlockStride = kRow * blockSize;
        kv.vBlocks = vBase;
        kv.vRowStride = vRow;
        kv.vBlockStride = vRow * blockSize;
        kv.nKvHeads = nKvHeads;
        kv.kHeadDim = kHeadDim;
        kv.vHeadDim = vHeadDim;
        return kv;
    };
    DeviceBuffer kDev = DeviceBuffer::from(k), vDev = DeviceBuffer::from(v);
    DeviceBuffer posDev = DeviceBuffer::from(positions), tableDev = DeviceBuffer::from(blockTable);

    SUBCASE("f16 matches the CPU backend byte for byte, untouched slots stay NaN")
    {
        DeviceBuffer kc = DeviceBuffer::from(kCache), vc = DeviceBuffer::from(vCache);
        cpu->storeKv(view(kCache.data(), vCache.data(), blockTable.data(), nw::TensorType::F16), k.data(),
                     v.data(), nTokens, positions.data());
        nw::cuda::storeKv(view(kc.as<std::byte>(), vc.as<std::byte>(), tableDev.as<std::int32_t>(), nw::TensorType::F16),
                          kDev.as<float>(), vDev.as<float>(), nTokens, posDev.as<std::int32_t>(), nullptr);
        CHECK(kc.download<std::byte>(kCache.size()) == kCache);
        CHECK(vc.download<std::byte>(vCache.size()) == vCache);
    }
    SUBCASE("bf16 K rows only (MLA's shared row), rounded to nearest even")
    {
        DeviceBuffer kc = DeviceBuffer::from(kCache);
        nw::cuda::storeKv(view(kc.as<std::byte>(), nullptr, tableDev.as<std::int32_t>(), nw::TensorType::BF16),
                          kDev.as<float>(), nullptr, nTokens, posDev.as<std::int32_t>(), nullptr);
        std::vector<std::byte> expected = kCache;
        for (int t = 0; t < nTokens; ++t) {
            const int pos = positions[t];
            std::byte *row = expected.data() + std::size_t(blockTable[pos / blockSize]) * kRow * blockSize
                             + std::size_t(pos % blockSize) * kRow;
            for (int i = 0; i < nKvHeads * kHeadDim; ++i) {
                const nw::bf16_t b = nw::floatToBf16(k[std::size_t(t) * nKvHeads * kHeadDim + i]);
                std::memcpy(row + 2 * i, &b, 2);
            }
        }
        CHECK(kc.download<std::byte>(kCache.size()) == expected);
    }
}

TEST_CASE("cuda rmsNorm agrees with the CPU backend, with and without a weight, in place")
{
    auto cpu = nw::makeCpuBackend(1);
    const int rows = 5, cols = 2049;
    const auto weight = randomFloats(cols, 13, 2.f);
    DeviceBuffer w = DeviceBuffer::from(weight);
    for (const bool withWeight : {true, false}) {
        CAPTURE(withWeight);
        auto x = randomFloats(std::size_t(rows) * cols, 14, 5.f);
        DeviceBuffer d = DeviceBuffer::from(x);
        cpu->rmsNorm(x.data(), withWeight ? weight.data() : nullptr, x.data(), rows, cols, 1e-6f);
        nw::cuda::rmsNorm(d.as<float>(), withWeight ? w.as<float>() : nullptr, d.as<float>(), rows, cols, 1e-6f, nullptr);
        checkClose(d.download<float>(x.size()), x, 1e-5f);
    }
}
