// MLA decode kernel (kernels/cuda/mla_decode) against the CPU backend's paged attention on the
// same bf16 latent cache (widened to f32), random inputs, NaN in every unused cache slot.
#include "kernels/backend.h"
#include "kernels/cuda/device_buffer.h"
#include "kernels/cuda/mla_decode.cuh"
#include "kernels/float16.h"

#include "tests/support/cuda_test.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

namespace {

using nw::test::checkClose;

using nw::cuda::kMlaBlockSize;
using nw::cuda::kMlaLoraRank;
using nw::cuda::kMlaRowDim;

constexpr nw::bf16_t kBf16Nan = 0x7fc0;

struct Problem {
    int nHeads = 16;
    std::vector<int> seqLens;
    int extraBlocks = 3; // physical blocks that no sequence uses (NaN-filled)
    float queryRange = 1.f;
};

struct Inputs {
    std::vector<nw::bf16_t> cache;      // [nCacheBlocks, 64, 576], NaN where unused
    std::int64_t nCacheBlocks = 0;
    std::vector<std::int32_t> table;    // [batch, maxBlocks], -1 past each sequence's blocks
    int maxBlocks = 1;
    std::vector<float> q;               // [batch, nHeads, 576] f32
    std::vector<nw::bf16_t> qBf16;      // the same, rounded
    float scale = 0.f;
};

Inputs makeInputs(const Problem &p, std::uint32_t seed)
{
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> value(-1.f, 1.f);
    Inputs in;
    const int batch = static_cast<int>(p.seqLens.size());
    std::vector<int> nBlocks(batch);
    for (int s = 0; s < batch; ++s) {
        nBlocks[s] = (p.seqLens[s] + kMlaBlockSize - 1) / kMlaBlockSize;
        in.maxBlocks = std::max(in.maxBlocks, nBlocks[s]);
    }
    in.nCacheBlocks = std::accumulate(nBlocks.begin(), nBlocks.end(), std::int64_t(p.extraBlocks));
    in.cache.assign(std::size_t(in.nCacheBlocks) * kMlaBlockSize * kMlaRowDim, kBf16Nan);
    // Sequences get shuffled physical blocks, so a kernel that ignores the table fails.
    std::vector<std::int32_t> physical(in.nCacheBlocks);
    std::iota(physical.begin(), physical.end(), 0);
    std::shuffle(physical.begin(), physical.end(), rng);
    in.table.assign(std::size_t(batch) * in.maxBlocks, -1);
    std::size_t next = 0;
    for (int s = 0; s < batch; ++s)
        for (int b = 0; b < nBlocks[s]; ++b) {
            const std::int32_t id = physical[next++];
            in.table[std::size_t(s) * in.maxBlocks + b] = id;
            const int rows = std::min(kMlaBlockSize, p.seqLens[s] - b * kMlaBlockSize);
            for (int r = 0; r < rows; ++r)
                for (int c = 0; c < kMlaRowDim; ++c)
                    in.cache[(std::size_t(id) * kMlaBlockSize + r) * kMlaRowDim + c] =
                        nw::floatToBf16(value(rng));
        }
    in.q.resize(std::size_t(batch) * p.nHeads * kMlaRowDim);
    for (float &x : in.q)
        x = p.queryRange * value(rng);
    in.qBf16.resize(in.q.size());
    std::transform(in.q.begin(), in.q.end(), in.qBf16.begin(), nw::floatToBf16);
    in.scale = 1.f / std::sqrt(192.f); // DeepSeek-V2's 1/sqrt(qk_nope + qk_rope head dims)
    return in;
}

// The CPU backend's attention over the same cache (f32 copy, NaNs included), one sequence at a
// time: nKvHeads = 1, K = the 576-wide row, V = its first 512 elements.
std::vector<float> cpuReference(const Problem &p, const Inputs &in, const std::vector<float> &q)
{
    auto backend = nw::makeCpuBackend(1);
    std::vector<float> cacheF32(in.cache.size());
    std::transform(in.cache.begin(), in.cache.end(), cacheF32.begin(), nw::bf16ToFloat);
    const int batch = static_cast<int>(p.seqLens.size());
    std::vector<float> out(std::size_t(batch) * p.nHeads * kMlaLoraRank, 0.f);
    for (int s = 0; s < batch; ++s) {
        if (p.seqLens[s] == 0)
            continue; // the kernel defines an empty sequence's output as 0
        nw::KvLayerView kv;
        kv.type = nw::TensorType::F32;
        kv.blockSize = kMlaBlockSize;
        kv.blockTable = in.table.data() + std::size_t(s) * in.maxBlocks;
        kv.kBlocks = reinterpret_cast<std::byte *>(cacheF32.data());
        kv.kRowStride = kMlaRowDim * sizeof(float);
        kv.kBlockStride = kv.kRowStride * kMlaBlockSize;
        kv.vBlocks = kv.kBlocks;
        kv.vRowStride = kv.kRowStride;
        kv.vBlockStride = kv.kBlockStride;
        kv.nKvHeads = 1;
        kv.kHeadDim = kMlaRowDim;
        kv.vHeadDim = kMlaLoraRank;
        const std::int32_t position = p.seqLens[s] - 1;
        nw::AttentionArgs a;
        a.q = q.data() + std::size_t(s) * p.nHeads * kMlaRowDim;
        a.out = out.data() + std::size_t(s) * p.nHeads * kMlaLoraRank;
        a.nTokens = 1;
        a.nHeads = p.nHeads;
        a.queryPositions = &position;
        a.scale = in.scale;
        a.kv = kv;
        backend->attention(a);
    }
    return out;
}

struct RunOptions {
    nw::cuda::MlaPath path = nw::cuda::MlaPath::TensorCore;
    nw::cuda::MlaQueryType qType = nw::cuda::MlaQueryType::BF16;
    int nSplits = 0;
    int stages = 0;
};

std::vector<float> runGpu(const Problem &p, const Inputs &in, const RunOptions &o)
{
    using namespace nw::cuda;
    const int batch = static_cast<int>(p.seqLens.size());
    DeviceBuffer cache = DeviceBuffer::from(in.cache);
    DeviceBuffer table = DeviceBuffer::from(in.table);
    std::vector<std::int32_t> lens(p.seqLens.begin(), p.seqLens.end());
    DeviceBuffer seqLens = DeviceBuffer::from(lens);
    DeviceBuffer q = o.qType == MlaQueryType::F32 ? DeviceBuffer::from(in.q) : DeviceBuffer::from(in.qBf16);
    const std::size_t outCount = std::size_t(batch) * p.nHeads * kMlaLoraRank;
    DeviceBuffer out(outCount * sizeof(float));
    NW_CUDA_CHECK(cudaMemset(out.data(), 0xff, out.bytes())); // NaN: every element must be written

    MlaDecodeArgs a;
    a.q = q.data();
    a.qType = o.qType;
    a.cache = cache.as<std::uint16_t>();
    a.nCacheBlocks = in.nCacheBlocks;
    a.blockTable = table.as<std::int32_t>();
    a.maxBlocksPerSeq = in.maxBlocks;
    a.seqLens = seqLens.as<std::int32_t>();
    a.out = out.as<float>();
    a.batch = batch;
    a.nHeads = p.nHeads;
    a.scale = in.scale;
    a.nSplits = o.nSplits;
    a.path = o.path;
    a.stages = o.stages;
    DeviceBuffer workspace(mlaDecodeWorkspaceBytes(a));
    NW_CUDA_CHECK(cudaMemset(workspace.data(), 0xff, workspace.bytes()));
    mlaDecode(a, workspace.data(), workspace.bytes(), nullptr);
    NW_CUDA_CHECK(cudaDeviceSynchronize());
    return out.download<float>(outCount);
}

// Tensor cores round P to bf16 (relative 2^-9) before P·V; outputs are averages of values in
// [-1, 1], so a few 1e-3 absolute is expected. Queries are given pre-rounded to bf16 so both
// sides see the same q.
constexpr float kTensorCoreTol = 1e-2f;
constexpr float kPlainTol = 1e-4f; // f32 throughout: only summation order differs

} // namespace

TEST_CASE("mla decode: mixed lengths, one head group, both paths agree with the CPU backend")
{
    Problem p;
    p.nHeads = 16;
    p.seqLens = {1, 63, 64, 65, 200, 777};
    const Inputs in = makeInputs(p, 11);
    std::vector<float> qRounded(in.qBf16.size());
    std::transform(in.qBf16.begin(), in.qBf16.end(), qRounded.begin(), nw::bf16ToFloat);
    const std::vector<float> ref = cpuReference(p, in, qRounded);
    for (const int splits : {1, 3, 0}) {
        CAPTURE(splits);
        for (const int stages : {1, 2}) // one block buffer (A100) and double buffering (H100)
            checkClose(runGpu(p, in, {nw::cuda::MlaPath::TensorCore, nw::cuda::MlaQueryType::BF16, splits, stages}),
                       ref, kTensorCoreTol);
        checkClose(runGpu(p, in, {nw::cuda::MlaPath::Plain, nw::cuda::MlaQueryType::BF16, splits}), ref, kPlainTol);
    }
}

TEST_CASE("mla decode: f32 queries, heads not a multiple of 16, sharp softmax")
{
    Problem p;
    p.nHeads = 20; // one full and one partial head group
    p.seqLens = {130, 1000};
    p.queryRange = 6.f; // scores spread over ~ +-20: the max term dominates
    const Inputs in = makeInputs(p, 22);
    const std::vector<float> refF32 = cpuReference(p, in, in.q);
    // The plain path keeps f32 queries exact.
    checkClose(runGpu(p, in, {nw::cuda::MlaPath::Plain, nw::cuda::MlaQueryType::F32, 4}), refF32, kPlainTol);
    // The tensor-core path rounds f32 queries to bf16 (relative 2^-9 per element; scores of
    // magnitude ~20 move by up to ~0.05): compare with the CPU on the rounded queries.
    std::vector<float> qRounded(in.qBf16.size());
    std::transform(in.qBf16.begin(), in.qBf16.end(), qRounded.begin(), nw::bf16ToFloat);
    checkClose(runGpu(p, in, {nw::cuda::MlaPath::TensorCore, nw::cuda::MlaQueryType::F32, 4}),
               cpuReference(p, in, qRounded), kTensorCoreTol);
}

TEST_CASE("mla decode: long context split along the sequence, 128 heads, an empty sequence")
{
    Problem p;
    p.nHeads = 128; // DeepSeek-V3's head count: 8 head groups
    p.seqLens = {5000, 0, 4097};
    const Inputs in = makeInputs(p, 33);
    std::vector<float> qRounded(in.qBf16.size());
    std::transform(in.qBf16.begin(), in.qBf16.end(), qRounded.begin(), nw::bf16ToFloat);
    const std::vector<float> ref = cpuReference(p, in, qRounded);
    for (const int splits : {1, 7, 64, 0}) {
        CAPTURE(splits);
        checkClose(runGpu(p, in, {nw::cuda::MlaPath::TensorCore, nw::cuda::MlaQueryType::BF16, splits}), ref, kTensorCoreTol);
    }
    checkClose(runGpu(p, in, {nw::cuda::MlaPath::Plain, nw::cuda::MlaQueryType::BF16, 0}), ref, kPlainTol);
}

TEST_CASE("mla decode: the host entry refuses bad arguments before launching")
{
    using namespace nw::cuda;
    DeviceBuffer dummy(1024);
    MlaDecodeArgs a;
    a.q = dummy.data();
    a.cache = dummy.as<std::uint16_t>();
    a.nCacheBlocks = 1;
    a.blockTable = dummy.as<std::int32_t>();
    a.maxBlocksPerSeq = 1;
    a.seqLens = dummy.as<std::int32_t>();
    a.out = dummy.as<float>();
    a.batch = 1;
    a.nHeads = 16;
    a.nSplits = 1;
    DeviceBuffer workspace(mlaDecodeWorkspaceBytes(a));

    MlaDecodeArgs bad = a;
    bad.out = nullptr;
    CHECK_THROWS_AS(mlaDecode(bad, workspace.data(), workspace.bytes(), nullptr), nw::Error);
    bad = a;
    bad.nHeads = 0;
    CHECK_THROWS_AS(mlaDecode(bad, workspace.data(), workspace.bytes(), nullptr), nw::Error);
    bad = a;
    bad.cache = reinterpret_cast<const std::uint16_t *>(dummy.as<char>() + 2);
    CHECK_THROWS_AS(mlaDecode(bad, workspace.data(), workspace.bytes(), nullptr), nw::Error);
    bad = a;
    bad.stages = 3;
    CHECK_THROWS_AS(mlaDecode(bad, workspace.data(), workspace.bytes(), nullptr), nw::Error);
    bad = a;
    bad.nSplits = 65;
    CHECK_THROWS_AS(mlaDecode(bad, workspace.data(), workspace.bytes(), nullptr), nw::Error);
    CHECK_THROWS_AS(mlaDecode(a, workspace.data(), workspace.bytes() - 4, nullptr), nw::Error);
    bad = a;
    bad.scale = std::numeric_limits<float>::quiet_NaN();
    CHECK_THROWS_AS(mlaDecode(bad, workspace.data(), workspace.bytes(), nullptr), nw::Error);
}
