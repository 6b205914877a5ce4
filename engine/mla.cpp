// MLA in the absorbed and the expanded form (DeepSeek-V2 §2.1.2-§2.1.3).
#include "engine/mla.h"

#include "common/assert.h"
#include "kernels/cpu/hadamard.h"
#include "kernels/cpu/quantize.h"
#include "kernels/float16.h"

#include <algorithm>

namespace nw {
namespace {

std::size_t strideOf(const WeightMatrix &w)
{
    return w.rowStride ? w.rowStride : rowBytes(w.type, std::size_t(w.cols));
}

WeightMatrix rowsOf(const WeightMatrix &w, std::int64_t firstRow, std::int64_t nRows)
{
    WeightMatrix slice = w;
    slice.rows = nRows;
    slice.rowStride = strideOf(w);
    slice.data = w.data + std::size_t(firstRow) * slice.rowStride;
    return slice;
}

// Writes W^T (f32, [cols][rows]) of one matrix into dst.
void transposeToF32(const WeightMatrix &w, float *dst)
{
    std::vector<float> row(std::size_t(w.cols));
    const std::size_t stride = strideOf(w);
    for (std::int64_t r = 0; r < w.rows; ++r) {
        dequantizeRow(w.type, w.data + std::size_t(r) * stride, row.data(), row.size());
        for (std::int64_t c = 0; c < w.cols; ++c)
            dst[std::size_t(c) * w.rows + r] = row[c];
    }
}

WeightMatrix f32Matrix(const float *data, std::int64_t rows, std::int64_t cols)
{
    return denseWeights(TensorType::F32, rows, cols, data);
}

enum Slot : std::size_t { kIn, kOut, kQLatent, kLatentOut, kKeys, kValues };

// For each head: out[t, h, :rows] = W_h · in[t, h, :cols], with in/out rows strided.
template <typename Pick>
void perHeadMatmul(Backend &backend, int nHeads, int nTokens, Pick pick, const float *in, std::size_t inTokenStride,
    std::size_t inHeadStride, float *out, std::size_t outTokenStride, std::size_t outHeadStride, MlaScratch &scratch)
{
    for (int h = 0; h < nHeads; ++h) {
        const WeightMatrix &w = pick(h);
        float *gathered = scratch.buffers.floats(backend, kIn, std::size_t(nTokens) * w.cols);
        float *product = scratch.buffers.floats(backend, kOut, std::size_t(nTokens) * w.rows);
        backend.copyRows(gathered, std::size_t(w.cols), in + h * inHeadStride, inTokenStride, nTokens, int(w.cols));
        backend.matmul(w, gathered, product, nTokens);
        backend.copyRows(out + h * outHeadStride, outTokenStride, product, std::size_t(w.rows), nTokens, int(w.rows));
    }
}

} // namespace

MlaProjections MlaProjections::fromKvB(const WeightMatrix &kvB, int nHeads, int qkNope, int vHeadDim)
{
    NW_ASSERT(kvB.rows == std::int64_t(nHeads) * (qkNope + vHeadDim));
    MlaProjections p;
    p.m_nHeads = nHeads;
    p.m_qkNope = qkNope;
    p.m_vHeadDim = vHeadDim;
    p.m_kvLoraRank = int(kvB.cols);
    p.m_owned.resize(std::size_t(nHeads) * qkNope * kvB.cols);
    for (int h = 0; h < nHeads; ++h) {
        const std::int64_t first = std::int64_t(h) * (qkNope + vHeadDim);
        p.m_keyExpand.push_back(rowsOf(kvB, first, qkNope));
        p.m_valueExpand.push_back(rowsOf(kvB, first + qkNope, vHeadDim));
        float *owned = p.m_owned.data() + std::size_t(h) * qkNope * kvB.cols;
        transposeToF32(p.m_keyExpand.back(), owned);
        p.m_keyAbsorb.push_back(f32Matrix(owned, kvB.cols, qkNope));
    }
    return p;
}

MlaProjections MlaProjections::fromSplit(const WeightMatrix &kB, const WeightMatrix &vB, int nHeads)
{
    NW_ASSERT(vB.cols == kB.rows);
    MlaProjections p;
    p.m_nHeads = nHeads;
    p.m_qkNope = int(kB.cols);
    p.m_vHeadDim = int(vB.rows);
    p.m_kvLoraRank = int(kB.rows);
    p.m_owned.resize(std::size_t(nHeads) * kB.rows * kB.cols);
    for (int h = 0; h < nHeads; ++h) {
        p.m_keyAbsorb.push_back(rowsOf(kB, std::int64_t(h) * kB.rows, kB.rows));
        p.m_valueExpand.push_back(rowsOf(vB, std::int64_t(h) * vB.rows, vB.rows));
        float *owned = p.m_owned.data() + std::size_t(h) * kB.rows * kB.cols;
        transposeToF32(p.m_keyAbsorb.back(), owned);
        p.m_keyExpand.push_back(f32Matrix(owned, kB.cols, kB.rows));
    }
    return p;
}

void mlaAbsorbQuery(Backend &backend, const MlaProjections &proj, const float *q, int nTokens, int qkRope,
    float *qLatent, MlaScratch &scratch)
{
    const int nHeads = proj.nHeads(), nope = proj.qkNope(), rank = proj.kvLoraRank();
    const std::size_t qHead = std::size_t(nope + qkRope), latHead = std::size_t(rank + qkRope);
    perHeadMatmul(
        backend, nHeads, nTokens, [&](int h) -> const WeightMatrix & { return proj.keyAbsorb(h); }, q, nHeads *qHead,
        qHead, qLatent, nHeads *latHead, latHead, scratch);
    // The rope part meets k_rope unchanged: q_rope · k_rope is the same in both forms.
    backend.copyRows(qLatent + rank, latHead, q + nope, qHead, nTokens * nHeads, qkRope);
}

void mlaExpandValues(
    Backend &backend, const MlaProjections &proj, const float *latent, int nTokens, float *out, MlaScratch &scratch)
{
    const int nHeads = proj.nHeads(), rank = proj.kvLoraRank(), v = proj.vHeadDim();
    perHeadMatmul(
        backend, nHeads, nTokens, [&](int h) -> const WeightMatrix & { return proj.valueExpand(h); }, latent,
        std::size_t(nHeads) * rank, std::size_t(rank), out, std::size_t(nHeads) * v, std::size_t(v), scratch);
}

void mlaExpandKeysValues(Backend &backend, const MlaProjections &proj, const float *latents, int n, int qkRope,
    float *keys, float *values, MlaScratch &scratch)
{
    const int nHeads = proj.nHeads(), rank = proj.kvLoraRank(), nope = proj.qkNope(), v = proj.vHeadDim();
    const std::size_t rowLength = std::size_t(rank + qkRope), kHead = std::size_t(nope + qkRope);
    perHeadMatmul(
        backend, nHeads, n, [&](int h) -> const WeightMatrix & { return proj.keyExpand(h); }, latents, rowLength, 0,
        keys, nHeads *kHead, kHead, scratch);
    perHeadMatmul(
        backend, nHeads, n, [&](int h) -> const WeightMatrix & { return proj.valueExpand(h); }, latents, rowLength, 0,
        values, std::size_t(nHeads) * v, std::size_t(v), scratch);
    // k_rope is shared by every head (DeepSeek-V2 eq. 14).
    for (int h = 0; h < nHeads; ++h)
        backend.copyRows(
            keys + std::size_t(h) * kHead + nope, std::size_t(nHeads) * kHead, latents + rank, rowLength, n, qkRope);
}

void mlaAttentionAbsorbed(Backend &backend, const MlaProjections &proj, const KvLayerView &cache, const float *q,
    int nTokens, int qkRope, const std::int32_t *positions, float scale, float *out, MlaScratch &scratch)
{
    const int nHeads = proj.nHeads(), rank = proj.kvLoraRank();
    NW_ASSERT(cache.nKvHeads == 1 && cache.kHeadDim == rank + qkRope);
    float *qLatent = scratch.buffers.floats(backend, kQLatent, std::size_t(nTokens) * nHeads * (rank + qkRope));
    float *latentOut = scratch.buffers.floats(backend, kLatentOut, std::size_t(nTokens) * nHeads * rank);
    mlaAbsorbQuery(backend, proj, q, nTokens, qkRope, qLatent, scratch);

    // One shared "KV head" whose value is the leading c_kv part of the same row.
    AttentionArgs args;
    args.q = qLatent;
    args.out = latentOut;
    args.nTokens = nTokens;
    args.nHeads = nHeads;
    args.queryPositions = positions;
    args.scale = scale;
    args.kv = cache;
    args.kv.vBlocks = cache.kBlocks;
    args.kv.vBlockStride = cache.kBlockStride;
    args.kv.vRowStride = cache.kRowStride;
    args.kv.vHeadDim = rank;
    backend.attention(args);
    mlaExpandValues(backend, proj, latentOut, nTokens, out, scratch);
}

void mlaAttentionSelected(Backend &backend, const MlaProjections &proj, const KvLayerView &cache, const float *q,
    int nTokens, int qkRope, const std::int32_t *selected, int topK, float scale, float *out, MlaScratch &scratch)
{
    const int nHeads = proj.nHeads(), rank = proj.kvLoraRank();
    NW_ASSERT(cache.nKvHeads == 1 && cache.kHeadDim == rank + qkRope);
    float *qLatent = scratch.buffers.floats(backend, kQLatent, std::size_t(nTokens) * nHeads * (rank + qkRope));
    float *latentOut = scratch.buffers.floats(backend, kLatentOut, std::size_t(nTokens) * nHeads * rank);
    mlaAbsorbQuery(backend, proj, q, nTokens, qkRope, qLatent, scratch);
    SparseAttentionArgs args;
    args.q = qLatent;
    args.out = latentOut;
    args.nTokens = nTokens;
    args.nHeads = nHeads;
    args.scale = scale;
    args.sources[0].kv = cache;
    args.sources[0].kv.vBlocks = cache.kBlocks;
    args.sources[0].kv.vBlockStride = cache.kBlockStride;
    args.sources[0].kv.vRowStride = cache.kRowStride;
    args.sources[0].kv.vHeadDim = rank;
    args.sources[0].rows = selected;
    args.sources[0].maxRows = topK;
    backend.sparseAttention(args);
    mlaExpandValues(backend, proj, latentOut, nTokens, out, scratch);
}

void mlaAttentionExpanded(Backend &backend, const MlaProjections &proj, const KvLayerView &cache, const float *q,
    int nTokens, int qkRope, const std::int32_t *positions, float scale, float *out, MlaScratch &scratch)
{
    const int nHeads = proj.nHeads(), rank = proj.kvLoraRank(), nope = proj.qkNope(), v = proj.vHeadDim();
    const int rowLength = rank + qkRope;
    NW_ASSERT(cache.nKvHeads == 1 && cache.kHeadDim == rowLength && nTokens > 0);
    NW_ASSERT(backend.memoryKind() == BackendMemory::Host);
    const int nKv = positions[nTokens - 1] + 1;

    // Every cached latent as f32: [nKv, rank + qkRope].
    scratch.latents.resize(std::size_t(nKv) * rowLength);
    for (int t = 0; t < nKv; ++t) {
        const std::byte *row = cache.kBlocks + std::size_t(cache.blockTable[t / cache.blockSize]) * cache.kBlockStride
            + std::size_t(t % cache.blockSize) * cache.kRowStride;
        float *dst = scratch.latents.data() + std::size_t(t) * rowLength;
        // Any row type the cache stores (f32, f16, or the q8/q4 blocks of `mla+q8`/`mla+q4`),
        // rotated back when it was stored rotated.
        dequantizeRow(cache.type, row, dst, std::size_t(rowLength));
        if (cache.kRotation > 0)
            hadamardRotate(dst, std::size_t(rowLength), cache.kRotation);
    }
    const std::size_t kHead = std::size_t(nope + qkRope);
    float *keys = scratch.buffers.floats(backend, kKeys, std::size_t(nKv) * nHeads * kHead);
    float *values = scratch.buffers.floats(backend, kValues, std::size_t(nKv) * nHeads * v);
    mlaExpandKeysValues(backend, proj, scratch.latents.data(), nKv, qkRope, keys, values, scratch);

    // The rebuilt K/V as one f32 block of a plain multi-head cache.
    static const std::int32_t kOneBlock[1] = { 0 };
    AttentionArgs args;
    args.q = q;
    args.out = out;
    args.nTokens = nTokens;
    args.nHeads = nHeads;
    args.queryPositions = positions;
    args.scale = scale;
    args.kv.type = TensorType::F32;
    args.kv.blockSize = nKv;
    args.kv.blockTable = kOneBlock;
    args.kv.kBlocks = reinterpret_cast<std::byte *>(keys);
    args.kv.kRowStride = nHeads * kHead * sizeof(float);
    args.kv.kBlockStride = std::size_t(nKv) * args.kv.kRowStride;
    args.kv.vBlocks = reinterpret_cast<std::byte *>(values);
    args.kv.vRowStride = std::size_t(nHeads) * v * sizeof(float);
    args.kv.vBlockStride = std::size_t(nKv) * args.kv.vRowStride;
    args.kv.nKvHeads = nHeads;
    args.kv.kHeadDim = int(kHead);
    args.kv.vHeadDim = v;
    backend.attention(args);
}

} // namespace nw
