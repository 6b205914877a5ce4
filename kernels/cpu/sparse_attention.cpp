// Sparse attention with an online softmax (the rescaling of kernels/cpu/attention.cpp) over the
// rows each query's sources list, and the lightning indexer's scores and top-k. Threads split
// over (query token, group of heads sharing a KV head); the rows a query reads are few (V3.2's
// top-k, V4's window and selected entries), so there is no slicing of one query's rows.
#include "kernels/cpu/sparse_attention.h"

#include "common/assert.h"
#include "common/error.h"
#include "kernels/cpu/attention.h"
#include "kernels/cpu/dot_products.h"
#include "kernels/cpu/quantize.h"
#include "kernels/cpu/thread_pool.h"
#include "kernels/float16.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

namespace nw::cpu {
namespace {

constexpr int kChunk = 64; // rows scored per rescaling step
constexpr int kMaxHeadsPerTask = 16; // query heads sharing one pass over the rows

std::size_t headBytes(TensorType type, int dim)
{
    return rowBytes(type, std::size_t(dim));
}

const std::byte *rowAt(const KvLayerView &kv, std::int64_t j, int kvHead, bool value)
{
    const bool shared = kv.vBlocks == kv.kBlocks;
    if (!value || shared)
        return kv.kBlocks + std::size_t(kv.blockTable[j / kv.blockSize]) * kv.kBlockStride
            + std::size_t(j % kv.blockSize) * kv.kRowStride + std::size_t(kvHead) * headBytes(kv.type, kv.kHeadDim);
    return kv.vBlocks + std::size_t(kv.blockTable[j / kv.blockSize]) * kv.vBlockStride
        + std::size_t(j % kv.blockSize) * kv.vRowStride + std::size_t(kvHead) * headBytes(kv.type, kv.vHeadDim);
}

// The rows of source s that query t reads, in order.
void listRows(const AttentionRows &src, int t, std::vector<std::int64_t> &out)
{
    out.clear();
    if (src.rows) {
        const std::int32_t *r = src.rows + std::size_t(t) * std::size_t(src.maxRows);
        for (int i = 0; i < src.maxRows; ++i)
            if (r[i] >= 0)
                out.push_back(r[i]);
        return;
    }
    for (std::int64_t j = src.first[t]; j < src.end[t]; ++j)
        out.push_back(j);
}

// Query heads in the form llama.cpp's kernels meet rows of this type (ggml's vec_dot_type):
// Q8_0 activations for quantized rows, the query rounded to f16 for F16 rows (both of its
// attention paths and its indexer product convert Q to the cache's f16), f32 for F32 rows. The
// rounding matters here as nowhere else: a top-k choice near a tie follows it.
struct QueryForm {
    std::vector<std::byte> bytes;
    std::size_t stride = 0;

    void prepare(const DotKernel &dot, TensorType type, const float *q, std::size_t qStride, int nHeads, int dim)
    {
        if (type == TensorType::Q8_0 || type == TensorType::Q4_0) {
            stride = activationRowBytes(dot.activation, dim);
            bytes.resize(stride * std::size_t(nHeads));
            for (int h = 0; h < nHeads; ++h)
                dot.quantize(q + std::size_t(h) * qStride, bytes.data() + std::size_t(h) * stride, dim);
            return;
        }
        stride = std::size_t(dim) * sizeof(float);
        bytes.resize(stride * std::size_t(nHeads));
        for (int h = 0; h < nHeads; ++h) {
            auto *out = reinterpret_cast<float *>(bytes.data() + std::size_t(h) * stride);
            const float *in = q + std::size_t(h) * qStride;
            for (int i = 0; i < dim; ++i)
                out[i] = type == TensorType::F16 ? fp16ToFloat(floatToFp16(in[i])) : in[i];
        }
    }
    const std::byte *head(int h) const { return bytes.data() + std::size_t(h) * stride; }
};

void toFloat(TensorType type, const std::byte *row, float *out, int n)
{
    if (type == TensorType::F32)
        std::copy_n(reinterpret_cast<const float *>(row), n, out);
    else
        dequantizeRow(type, row, out, std::size_t(n)); // F16, Q8_0, Q4_0
}

} // namespace

void sparseAttention(ThreadPool &pool, const SparseAttentionArgs &a)
{
    if (a.nSources < 1 || a.nSources > 2)
        fail("sparseAttention: {} sources (1 or 2)", a.nSources);
    const KvLayerView &first = a.sources[0].kv;
    for (int s = 0; s < a.nSources; ++s) {
        const AttentionRows &src = a.sources[s];
        checkKvView(src.kv, "sparseAttention");
        if (src.kv.vBlocks == nullptr)
            fail("sparseAttention: source {} has no V rows (for a shared row point vBlocks at kBlocks)", s);
        if (src.kv.kHeadDim != first.kHeadDim || src.kv.vHeadDim != first.vHeadDim || src.kv.nKvHeads != first.nKvHeads)
            fail("sparseAttention: source {} has heads {}×{}/{}, source 0 {}×{}/{}", s, src.kv.nKvHeads,
                src.kv.kHeadDim, src.kv.vHeadDim, first.nKvHeads, first.kHeadDim, first.vHeadDim);
        if (src.kv.vBlocks == src.kv.kBlocks && src.kv.vHeadDim > src.kv.kHeadDim)
            fail("sparseAttention: shared K/V rows need vHeadDim {} <= kHeadDim {}", src.kv.vHeadDim, src.kv.kHeadDim);
        if (src.kv.kRotation != 0 || src.kv.vRotation != 0 || src.kv.kBits != 0 || src.kv.valueType() != src.kv.type)
            fail("sparseAttention: source {} has rotated, TurboQuant or mixed-type rows (DeepSeek's stores keep one "
                 "plain type)",
                s);
        if (src.rows ? src.maxRows < 0 : (src.first == nullptr || src.end == nullptr))
            fail("sparseAttention: source {} lists no rows", s);
    }
    if (a.nTokens <= 0)
        return;
    if (a.nHeads <= 0 || a.nHeads % first.nKvHeads != 0)
        fail("sparseAttention: {} query heads cannot share {} KV heads", a.nHeads, first.nKvHeads);
    NW_ASSERT(a.q && a.out);

    const int kDim = first.kHeadDim, vDim = first.vHeadDim;
    const int group = a.nHeads / first.nKvHeads;
    const int headsPerTask = std::min(group, kMaxHeadsPerTask);
    const int tasksPerGroup = (group + headsPerTask - 1) / headsPerTask;
    const std::int64_t nTasks = std::int64_t(a.nTokens) * first.nKvHeads * tasksPerGroup;

    pool.parallelFor(nTasks, 1, [&](std::int64_t task0, std::int64_t task1) {
        std::vector<float> acc(std::size_t(vDim) * std::size_t(headsPerTask));
        std::vector<float> scores(std::size_t(kChunk) * std::size_t(headsPerTask));
        std::vector<float> vRow(static_cast<std::size_t>(vDim));
        std::vector<std::int64_t> rows;
        QueryForm query;
        float runningMax[kMaxHeadsPerTask];
        double runningSum[kMaxHeadsPerTask];
        for (std::int64_t task = task0; task < task1; ++task) {
            const std::int64_t stream = task / tasksPerGroup;
            const int t = int(stream / first.nKvHeads);
            const int kvHead = int(stream % first.nKvHeads);
            const int h0 = kvHead * group + int(task % tasksPerGroup) * headsPerTask;
            const int nh = std::min(headsPerTask, (kvHead + 1) * group - h0);
            std::fill(acc.begin(), acc.end(), 0.f);
            for (int g = 0; g < nh; ++g) {
                runningMax[g] = -std::numeric_limits<float>::infinity();
                runningSum[g] = 0.0;
            }
            for (int s = 0; s < a.nSources; ++s) {
                const KvLayerView &kv = a.sources[s].kv;
                listRows(a.sources[s], t, rows);
                if (rows.empty())
                    continue;
                const DotKernel &dot = dotKernel(kv.type);
                query.prepare(dot, kv.type, a.q + (std::size_t(t) * a.nHeads + h0) * kDim, std::size_t(kDim), nh, kDim);
                for (std::size_t j0 = 0; j0 < rows.size(); j0 += kChunk) {
                    const int n = int(std::min<std::size_t>(kChunk, rows.size() - j0));
                    for (int jj = 0; jj < n; ++jj) {
                        const std::byte *k = rowAt(kv, rows[j0 + jj], kvHead, false);
                        for (int g = 0; g < nh; ++g)
                            scores[std::size_t(g) * kChunk + std::size_t(jj)]
                                = a.scale * dot.dot(k, query.head(g), kDim);
                    }
                    for (int g = 0; g < nh; ++g) {
                        const float *sc = scores.data() + std::size_t(g) * kChunk;
                        const float newMax = std::max(runningMax[g], *std::max_element(sc, sc + n));
                        // exp(-inf) = 0 the first time: the empty accumulator is simply replaced.
                        const float correction = std::exp(runningMax[g] - newMax);
                        runningSum[g] *= correction;
                        runningMax[g] = newMax;
                        float *out = acc.data() + std::size_t(g) * vDim;
                        for (int i = 0; i < vDim; ++i)
                            out[i] *= correction;
                    }
                    for (int jj = 0; jj < n; ++jj) {
                        toFloat(kv.type, rowAt(kv, rows[j0 + jj], kvHead, true), vRow.data(), vDim);
                        for (int g = 0; g < nh; ++g) {
                            const float p = std::exp(scores[std::size_t(g) * kChunk + std::size_t(jj)] - runningMax[g]);
                            runningSum[g] += p;
                            float *out = acc.data() + std::size_t(g) * vDim;
                            for (int i = 0; i < vDim; ++i)
                                out[i] += p * vRow[std::size_t(i)];
                        }
                    }
                }
            }
            for (int g = 0; g < nh; ++g) {
                // A sink is one more logit in the denominator, with no value (gpt-oss, V4).
                float keep = 1.f;
                double sum = runningSum[g];
                if (a.sinks) {
                    const float sink = a.sinks[h0 + g];
                    const float m = std::max(runningMax[g], sink);
                    keep = std::exp(runningMax[g] - m);
                    sum = sum * keep + std::exp(double(sink) - m);
                }
                // A query with no rows and no sink attends to nothing: its output is zero.
                const float scaleOut = sum > 0.0 ? float(keep / sum) : 0.f;
                float *out = a.out + (std::size_t(t) * a.nHeads + h0 + g) * vDim;
                for (int i = 0; i < vDim; ++i)
                    out[i] = acc[std::size_t(g) * vDim + std::size_t(i)] * scaleOut;
            }
        }
    });
}

void lightningIndexer(ThreadPool &pool, const LightningIndexerArgs &a)
{
    KvLayerView keys = a.keys;
    keys.vBlocks = keys.kBlocks; // keys have no V part; the view checks want one
    keys.vBlockStride = keys.kBlockStride;
    keys.vRowStride = keys.kRowStride;
    keys.vHeadDim = keys.kHeadDim;
    checkKvView(keys, "lightningIndexer");
    if (keys.nKvHeads != 1)
        fail("lightningIndexer: the keys have {} heads (one is shared by all index heads)", keys.nKvHeads);
    if (a.nTokens <= 0)
        return;
    if (a.nHeads <= 0 || a.topK <= 0)
        fail("lightningIndexer: {} heads choosing {} keys", a.nHeads, a.topK);
    NW_ASSERT(a.q && a.weights && a.end && a.selected);
    const int dim = keys.kHeadDim;
    const DotKernel &dot = dotKernel(keys.type);
    pool.parallelFor(a.nTokens, 1, [&](std::int64_t t0, std::int64_t t1) {
        std::vector<float> scores;
        std::vector<std::int32_t> order;
        QueryForm query;
        for (std::int64_t t = t0; t < t1; ++t) {
            const std::int64_t nKeys = a.end[t];
            std::int32_t *selected = a.selected + std::size_t(t) * std::size_t(a.topK);
            std::fill_n(selected, a.topK, -1);
            if (nKeys <= 0)
                continue;
            const float *q = a.q + std::size_t(t) * std::size_t(a.nHeads) * std::size_t(dim);
            const float *w = a.weights + std::size_t(t) * std::size_t(a.nHeads);
            query.prepare(dot, keys.type, q, std::size_t(dim), a.nHeads, dim);
            scores.assign(std::size_t(nKeys), 0.f);
            for (std::int64_t j = 0; j < nKeys; ++j) {
                const std::byte *k = rowAt(keys, j, 0, false);
                float s = 0.f;
                for (int h = 0; h < a.nHeads; ++h)
                    s += w[h] * std::max(0.f, dot.dot(k, query.head(h), dim));
                scores[std::size_t(j)] = s;
            }
            const int k = int(std::min<std::int64_t>(a.topK, nKeys));
            order.resize(std::size_t(nKeys));
            std::iota(order.begin(), order.end(), 0);
            // Ties go to the earlier key (the choice among equal scores is arbitrary in llama.cpp).
            std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](std::int32_t x, std::int32_t y) {
                return scores[std::size_t(x)] > scores[std::size_t(y)]
                    || (scores[std::size_t(x)] == scores[std::size_t(y)] && x < y);
            });
            std::copy_n(order.begin(), k, selected);
        }
    });
}

} // namespace nw::cpu
