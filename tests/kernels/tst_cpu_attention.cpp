// Paged attention and storeKv against a plain double-precision reference: MHA, GQA and MLA's
// shared-row view, F32, F16 and quantized Q8_0 / Q4_0 rows (the `+q8` / `+q4` KV modes), decode
// and causal prefill, contexts longer than one softmax chunk, sliding windows and attention sinks. The cache has a scrambled block table, and every byte the kernel must not read
// (unused blocks, rows past the context, the tail of MLA rows) is NaN.
#include "common/error.h"
#include "kernels/backend.h"
#include "kernels/float16.h"

#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

namespace {

struct Case {
    const char *name;
    int nHeads, nKvHeads, kHeadDim, vHeadDim;
    bool mla; // V = first vHeadDim elements of the K row
};

float roundTrip(nw::TensorType type, float v)
{
    return type == nw::TensorType::F16 ? nw::fp16ToFloat(nw::floatToFp16(v)) : v;
}

bool quantized(nw::TensorType type)
{
    return type == nw::TensorType::Q8_0 || type == nw::TensorType::Q4_0;
}

// Element i of a row stored in `type`, decoded by hand from ggml's published block layouts:
// Q8_0 = {f16 d; int8 q[32]}, x = d q; Q4_0 = {f16 d; u8 q[16]}, element j < 16 in the low
// nibble of q[j], element j + 16 in its high nibble, x = d (nibble - 8). `step` gets |d|.
float decodeElement(nw::TensorType type, const std::byte *row, int i, float *step = nullptr)
{
    if (type == nw::TensorType::F32 || type == nw::TensorType::F16) {
        float x;
        if (type == nw::TensorType::F16) {
            nw::f16_t h;
            std::memcpy(&h, row + std::size_t(i) * 2, 2);
            x = nw::fp16ToFloat(h);
        } else {
            std::memcpy(&x, row + std::size_t(i) * 4, 4);
        }
        if (step)
            *step = 0;
        return x;
    }
    const std::size_t blockBytes = type == nw::TensorType::Q8_0 ? 34 : 18;
    const std::byte *block = row + std::size_t(i / 32) * blockBytes;
    nw::f16_t dBits;
    std::memcpy(&dBits, block, 2);
    const float d = nw::fp16ToFloat(dBits);
    if (step)
        *step = std::fabs(d);
    const int j = i % 32;
    if (type == nw::TensorType::Q8_0)
        return d * float(static_cast<std::int8_t>(block[2 + j]));
    const auto byte = static_cast<unsigned>(block[2 + j % 16]);
    return d * float(int(j < 16 ? byte & 15u : byte >> 4) - 8);
}

std::size_t rowBytesOf(nw::TensorType type, int elements)
{
    switch (type) {
    case nw::TensorType::F16: return std::size_t(elements) * 2;
    case nw::TensorType::Q8_0: return std::size_t(elements) / 32 * 34;
    case nw::TensorType::Q4_0: return std::size_t(elements) / 32 * 18;
    default: return std::size_t(elements) * 4;
    }
}

void runCase(const Case &c, nw::TensorType type, int threads, int nCache, int nQuery, bool prefill, int window = 0,
             bool sinks = false)
{
    CAPTURE(window);
    CAPTURE(sinks);
    CAPTURE(c.name);
    CAPTURE(nw::tensorTypeName(type));
    CAPTURE(threads);
    CAPTURE(nCache);
    CAPTURE(nQuery);
    std::mt19937 rng(static_cast<unsigned>(nCache * 7 + nQuery));
    std::normal_distribution<float> value(0.f, 1.f);
    const int blockSize = 16;
    const int nBlocksUsed = (nCache + blockSize - 1) / blockSize;
    const int nBlocks = nBlocksUsed + 3; // spare blocks: never referenced, NaN
    const int kWidth = c.nKvHeads * c.kHeadDim, vWidth = c.nKvHeads * c.vHeadDim;
    const std::size_t kRowStride = rowBytesOf(type, kWidth) + 16; // a NaN gap after each row
    const std::size_t vRowStride = rowBytesOf(type, vWidth) + 8;
    std::vector<std::byte> kBlocks(kRowStride * blockSize * std::size_t(nBlocks), std::byte{0xff});
    std::vector<std::byte> vBlocks(vRowStride * blockSize * std::size_t(nBlocks), std::byte{0xff});
    // Scrambled physical blocks: logical block b lives in physical (b * 5 + 2) % nBlocks.
    std::vector<std::int32_t> table(static_cast<std::size_t>(nBlocksUsed));
    for (int b = 0; b < nBlocksUsed; ++b)
        table[std::size_t(b)] = (b * 5 + 2) % nBlocks;
    REQUIRE(nBlocks % 5 != 0); // the map is a permutation

    nw::KvLayerView kv;
    kv.type = type;
    kv.blockSize = blockSize;
    kv.blockTable = table.data();
    kv.kBlocks = kBlocks.data();
    kv.kBlockStride = kRowStride * blockSize;
    kv.kRowStride = kRowStride;
    kv.vBlocks = c.mla ? kBlocks.data() : vBlocks.data();
    kv.vBlockStride = c.mla ? kv.kBlockStride : vRowStride * blockSize;
    kv.vRowStride = c.mla ? kRowStride : vRowStride;
    kv.nKvHeads = c.nKvHeads;
    kv.kHeadDim = c.kHeadDim;
    kv.vHeadDim = c.vHeadDim;

    // The cache holds tokens 0..nCache-1, written through storeKv in two batches.
    std::vector<float> k(std::size_t(nCache) * kWidth), v(std::size_t(nCache) * vWidth);
    for (float &x : k)
        x = value(rng);
    for (float &x : v)
        x = value(rng);
    std::vector<std::int32_t> positions(static_cast<std::size_t>(nCache));
    for (int t = 0; t < nCache; ++t)
        positions[std::size_t(t)] = t;
    auto backend = nw::makeCpuBackend(threads);
    const int firstBatch = nCache / 3;
    backend->storeKv(kv, k.data(), c.mla ? nullptr : v.data(), firstBatch, positions.data());
    backend->storeKv(kv, k.data() + std::size_t(firstBatch) * kWidth,
                     c.mla ? nullptr : v.data() + std::size_t(firstBatch) * vWidth, nCache - firstBatch,
                     positions.data() + firstBatch);

    // Queries: decode sees everything; prefill queries are the last nQuery tokens, causal.
    std::vector<std::int32_t> qPos(static_cast<std::size_t>(nQuery));
    for (int t = 0; t < nQuery; ++t)
        qPos[std::size_t(t)] = prefill ? nCache - nQuery + t : nCache - 1;
    std::vector<float> q(std::size_t(nQuery) * c.nHeads * c.kHeadDim);
    for (float &x : q)
        x = value(rng);
    std::vector<float> out(std::size_t(nQuery) * c.nHeads * c.vHeadDim, std::numeric_limits<float>::quiet_NaN());
    // Sinks of either sign and size, so some heads give most of their weight to "nothing".
    std::vector<float> sinkLogits(static_cast<std::size_t>(c.nHeads));
    for (int h = 0; h < c.nHeads; ++h)
        sinkLogits[std::size_t(h)] = float(h % 3) * 2.f - 1.5f;
    nw::AttentionArgs a;
    a.window = window;
    a.sinks = sinks ? sinkLogits.data() : nullptr;
    a.q = q.data();
    a.out = out.data();
    a.nTokens = nQuery;
    a.nHeads = c.nHeads;
    a.queryPositions = qPos.data();
    a.scale = 1.f / std::sqrt(float(c.kHeadDim));
    a.kv = kv;
    // A window layer's rows before every query's window must not be read: make them NaN (after
    // keeping what the reference needs below).
    const std::vector<std::byte> kIntact = kBlocks, vIntact = vBlocks;
    if (window > 0) {
        const int firstSeen = std::max(0, qPos.front() + 1 - window);
        for (int t = 0; t < firstSeen; ++t) {
            const std::size_t block = std::size_t(table[std::size_t(t / blockSize)]);
            std::memset(kBlocks.data() + (block * blockSize + std::size_t(t % blockSize)) * kRowStride, 0xff, kRowStride);
            if (!c.mla)
                std::memset(vBlocks.data() + (block * blockSize + std::size_t(t % blockSize)) * vRowStride, 0xff,
                            vRowStride);
        }
    }
    backend->attention(a);
    kBlocks = kIntact;
    vBlocks = vIntact;

    // What the cache holds, decoded by hand; every stored value is the original to within the
    // rounding of its format (half a step for F16 / Q8_0; Q4_0 maps the group's extreme to -8, so
    // a value of the opposite sign near it clamps to +7: up to one step, and the f16 rounding of
    // the scale stretches that by up to 8 × 2^-11 of a step).
    const auto rowOf = [&](const std::vector<std::byte> &blocks, std::size_t stride, int t) {
        return blocks.data() + std::size_t(table[std::size_t(t / blockSize)]) * stride * blockSize
               + std::size_t(t % blockSize) * stride;
    };
    std::vector<float> kHeld(k.size()), vHeld(v.size());
    int misplaced = 0;
    const float stepShare = type == nw::TensorType::Q4_0 ? 1.005f : 0.505f;
    for (int t = 0; t < nCache; ++t) {
        for (int d = 0; d < kWidth; ++d) {
            float step = 0;
            const float held = decodeElement(type, rowOf(kBlocks, kRowStride, t), d, &step);
            const float original = k[std::size_t(t) * kWidth + std::size_t(d)];
            kHeld[std::size_t(t) * kWidth + std::size_t(d)] = held;
            misplaced += quantized(type) ? !(std::fabs(held - original) <= stepShare * step)
                                         : held != roundTrip(type, original);
        }
        for (int d = 0; d < vWidth && !c.mla; ++d) {
            float step = 0;
            const float held = decodeElement(type, rowOf(vBlocks, vRowStride, t), d, &step);
            const float original = v[std::size_t(t) * vWidth + std::size_t(d)];
            vHeld[std::size_t(t) * vWidth + std::size_t(d)] = held;
            misplaced += quantized(type) ? !(std::fabs(held - original) <= stepShare * step)
                                         : held != roundTrip(type, original);
        }
    }
    CHECK(misplaced == 0);

    // The reference attends over the held values. Quantized rows are scored against the query
    // quantized to Q8_0 (int8 per 32, as llama.cpp does with a quantized cache), which moves a
    // score by at most scale * sum|k| * |q|max / 254 per group: ~1e-2 here, so 2e-2 on outputs.
    const double tolerance = quantized(type) ? 2e-2 : 1e-4;
    int bad = 0;
    const int group = c.nHeads / c.nKvHeads;
    for (int t = 0; t < nQuery; ++t)
        for (int h = 0; h < c.nHeads; ++h) {
            const int kvh = h / group;
            const float *qh = q.data() + (std::size_t(t) * c.nHeads + h) * c.kHeadDim;
            const int n = qPos[std::size_t(t)] + 1;
            const int j0 = window > 0 ? std::max(0, n - window) : 0;
            std::vector<double> s(static_cast<std::size_t>(n), -1e300);
            double maxS = sinks ? double(sinkLogits[std::size_t(h)]) : -1e300;
            for (int j = j0; j < n; ++j) {
                double dot = 0;
                for (int d = 0; d < c.kHeadDim; ++d)
                    dot += double(qh[d]) * kHeld[std::size_t(j) * kWidth + std::size_t(kvh * c.kHeadDim + d)];
                s[std::size_t(j)] = dot * a.scale;
                maxS = std::max(maxS, s[std::size_t(j)]);
            }
            double sum = sinks ? std::exp(double(sinkLogits[std::size_t(h)]) - maxS) : 0.0;
            for (double &x : s)
                sum += (x = std::exp(x - maxS));
            for (int d = 0; d < c.vHeadDim; ++d) {
                double o = 0;
                for (int j = j0; j < n; ++j) {
                    const float vv = c.mla ? kHeld[std::size_t(j) * kWidth + std::size_t(d)]
                                           : vHeld[std::size_t(j) * vWidth + std::size_t(kvh * c.vHeadDim + d)];
                    o += s[std::size_t(j)] / sum * vv;
                }
                const double got = out[(std::size_t(t) * c.nHeads + h) * c.vHeadDim + std::size_t(d)];
                bad += !(std::fabs(got - o) <= tolerance);
            }
        }
    CHECK(bad == 0);
}

const Case kCases[] = {
    {"MHA", 4, 4, 64, 64, false},
    {"GQA 8/2", 8, 2, 48, 40, false},
    {"MLA shared row", 5, 1, 72, 64, true},
    {"MLA, more heads than one pass takes", 20, 1, 40, 32, true},
};

// Head dims that are whole groups of 32, as quantized rows need.
const Case kQuantCases[] = {
    {"MHA", 4, 4, 64, 64, false},
    {"GQA 8/2", 8, 2, 32, 64, false},
    {"MLA shared row", 5, 1, 96, 64, true},
};

} // namespace

TEST_CASE("attention matches the reference over a paged cache")
{
    for (const Case &c : kCases)
        for (nw::TensorType type : {nw::TensorType::F32, nw::TensorType::F16})
            for (int threads : {1, 2}) {
                runCase(c, type, threads, 1, 1, false);     // the first token
                runCase(c, type, threads, 150, 1, false);   // decode, context over two chunks
                runCase(c, type, threads, 37, 37, true);    // prefill from the start
                runCase(c, type, threads, 141, 29, true);   // prefill continuing a cached prefix
            }
    // Decode over a sequence split into slices (and a short batch whose later slices are empty
    // for its first queries), merged afterwards.
    for (const Case &c : kCases)
        for (nw::TensorType type : {nw::TensorType::F32, nw::TensorType::F16}) {
            runCase(c, type, 4, 600, 1, false);
            runCase(c, type, 4, 300, 3, true);
            runCase(c, type, 3, 129, 1, false);
        }
}

TEST_CASE("attention reads quantized Q8_0 / Q4_0 rows within their tolerance")
{
    for (const Case &c : kQuantCases)
        for (nw::TensorType type : {nw::TensorType::Q8_0, nw::TensorType::Q4_0})
            for (int threads : {1, 2}) {
                runCase(c, type, threads, 1, 1, false);
                runCase(c, type, threads, 150, 1, false);
                runCase(c, type, threads, 141, 29, true);
            }
    for (const Case &c : kQuantCases)
        for (nw::TensorType type : {nw::TensorType::Q8_0, nw::TensorType::Q4_0})
            runCase(c, type, 4, 600, 1, false);
}

TEST_CASE("attention and storeKv reject views they cannot read")
{
    auto backend = nw::makeCpuBackend(1);
    std::vector<std::byte> blocks(4096);
    const std::int32_t table[1] = {0};
    nw::KvLayerView kv;
    kv.type = nw::TensorType::Q4_K; // no K-quant KV rows
    kv.blockSize = 4;
    kv.blockTable = table;
    kv.kBlocks = kv.vBlocks = blocks.data();
    kv.kRowStride = kv.vRowStride = 256;
    kv.kBlockStride = kv.vBlockStride = 1024;
    kv.kHeadDim = kv.vHeadDim = 32;
    float k[32] = {};
    const std::int32_t pos = 0;
    CHECK_THROWS_AS(backend->storeKv(kv, k, nullptr, 1, &pos), nw::Error);
    kv.type = nw::TensorType::Q8_0;
    kv.kHeadDim = kv.vHeadDim = 16; // a head of Q8_0 rows must be whole groups of 32
    CHECK_THROWS_AS(backend->storeKv(kv, k, nullptr, 1, &pos), nw::Error);
    kv.kHeadDim = kv.vHeadDim = 32;
    kv.type = nw::TensorType::F32;
    kv.kRowStride = 64; // shorter than one head of 32 floats
    CHECK_THROWS_AS(backend->storeKv(kv, k, nullptr, 1, &pos), nw::Error);
    kv.kRowStride = 256;
    nw::AttentionArgs a;
    float out[96];
    float q[96] = {};
    a.q = q;
    a.out = out;
    a.nTokens = 1;
    a.nHeads = 3;
    a.queryPositions = &pos;
    a.kv = kv;
    a.kv.nKvHeads = 2; // 3 heads cannot share 2 KV heads
    CHECK_THROWS_AS(backend->attention(a), nw::Error);
}

TEST_CASE("attention with a sliding window reads only the window; sinks join the denominator")
{
    for (const Case &c : kCases)
        for (int threads : {1, 3}) {
            runCase(c, nw::TensorType::F32, threads, 150, 1, false, 20);       // decode, window inside one chunk
            runCase(c, nw::TensorType::F16, threads, 600, 1, false, 130);      // decode, window over slices
            runCase(c, nw::TensorType::F32, threads, 141, 29, true, 16);       // prefill, every query its own window
            runCase(c, nw::TensorType::F16, threads, 300, 100, true, 200);     // window longer than the batch
            runCase(c, nw::TensorType::F32, threads, 37, 37, true, 0, true);   // sinks, full causal
            runCase(c, nw::TensorType::F32, threads, 600, 1, false, 0, true);  // sinks, merged slices
            runCase(c, nw::TensorType::F16, threads, 300, 3, true, 128, true); // gpt-oss: window and sinks
        }
    for (const Case &c : kQuantCases)
        runCase(c, nw::TensorType::Q8_0, 2, 141, 29, true, 24, true);
}
