// MLA on the Backend: projections and norms as ops, the latent's norm on its c_kv part only
// (DeepSeek-V2 eq. 9-10), RoPE on the rope slices, then the cache's form of attention.
#include "engine/graph/mla_attention.h"

#include "common/assert.h"
#include "engine/gguf_file.h"
#include "engine/graph/lightning_indexer.h"
#include "engine/graph/weight_loader.h"
#include "engine/kv_cache.h"

namespace nw {

MlaAttentionBlock MlaAttentionBlock::load(
    WeightLoader &w, std::int64_t layer, std::int64_t nEmbd, const MlaConfig &c, std::shared_ptr<MlaScratch> scratch)
{
    NW_ASSERT(scratch);
    MlaAttentionBlock b;
    b.m_config = c;
    b.m_scratch = std::move(scratch);
    const std::int64_t qHead = c.qkNope + c.qkRope, nHeads = c.nHeads, rank = c.kvLoraRank;
    auto name = [layer](const char *what) { return WeightLoader::layerName(layer, what); };
    if (c.qLoraRank > 0) {
        b.m_qA = w.matrix(name("attn_q_a"), nEmbd, c.qLoraRank);
        b.m_qANorm = w.vector(name("attn_q_a_norm"), c.qLoraRank);
        b.m_qB = w.matrix(name("attn_q_b"), c.qLoraRank, nHeads * qHead);
    } else {
        b.m_q = w.matrix(name("attn_q"), nEmbd, nHeads * qHead);
    }
    b.m_kvAMqa = w.matrix(name("attn_kv_a_mqa"), nEmbd, rank + c.qkRope);
    b.m_kvANorm = w.vector(name("attn_kv_a_norm"), rank);
    if (const TensorView *kB = w.find(name("attn_k_b"), { c.qkNope, rank, nHeads })) {
        const TensorView &vB = w.require(name("attn_v_b"), { rank, c.vHeadDim, nHeads });
        b.m_mla = MlaProjections::fromSplit(denseWeights(kB->type, rank, c.qkNope, kB->data),
            denseWeights(vB.type, c.vHeadDim, rank, vB.data), c.nHeads);
    } else {
        const WeightMatrix kvB = w.matrix(name("attn_kv_b"), rank, nHeads * (c.qkNope + c.vHeadDim));
        b.m_mla = MlaProjections::fromKvB(kvB, c.nHeads, c.qkNope, c.vHeadDim);
    }
    b.m_out = w.matrix(name("attn_output"), nHeads * c.vHeadDim, nEmbd);
    return b;
}

void MlaAttentionBlock::collectMatrices(std::vector<WeightMatrix> &all) const
{
    for (const WeightMatrix &m : { m_qA, m_qB, m_q, m_kvAMqa, m_out })
        if (m.data)
            all.push_back(m);
}

void MlaAttentionBlock::forward(
    ForwardPass &p, std::int64_t layer, const float *x, float *out, const LightningIndexer *indexer) const
{
    Backend &be = p.backend;
    const MlaConfig &c = m_config;
    const int n = p.nTokens, nHeads = c.nHeads, rank = c.kvLoraRank, rope = c.qkRope;
    const int nope = c.qkNope, qHead = nope + rope, v = c.vHeadDim, kvRow = rank + rope;
    const std::size_t nt = std::size_t(n);

    float *q = p.floats(kScratchQ, nt * std::size_t(nHeads * qHead));
    const std::int32_t *selected = nullptr;
    if (c.qLoraRank > 0) {
        float *qa = p.floats(kScratchMla0, nt * std::size_t(c.qLoraRank));
        be.matmul(m_qA, x, qa, n);
        be.rmsNorm(qa, m_qANorm, qa, n, c.qLoraRank, c.normEps);
        if (indexer) {
            // V3.2: query t scores the keys of tokens 0..pos[t] (this batch's keys stored first).
            const std::int64_t keys = p.cache.findStore(layer, KvPart::IndexerKeys);
            NW_ASSERT(keys >= 0);
            indexer->storeKeys(p, keys, x);
            std::vector<std::int32_t> &end = m_scratch->ends;
            end.resize(nt);
            for (int t = 0; t < n; ++t)
                end[std::size_t(t)] = p.hostPositions[std::size_t(t)] + 1;
            selected = indexer->select(p, keys, x, qa, end);
        }
        be.matmul(m_qB, qa, q, n);
    } else {
        NW_ASSERT(!indexer); // the indexer reads the low-rank query
        be.matmul(m_q, x, q, n);
    }
    float *kva = p.floats(kScratchMla1, nt * std::size_t(kvRow));
    be.matmul(m_kvAMqa, x, kva, n);
    // The norm covers c_kv only; k_rope keeps its scale (DeepSeek-V2 eq. 9-10).
    float *ckv = p.floats(kScratchMla2, nt * std::size_t(rank));
    be.copyRows(ckv, std::size_t(rank), kva, std::size_t(kvRow), n, rank);
    be.rmsNorm(ckv, m_kvANorm, ckv, n, rank, c.normEps);
    be.copyRows(kva, std::size_t(kvRow), ckv, std::size_t(rank), n, rank);
    // Only the rope slice of each head rotates; k_rope is one head shared by all.
    be.rope(q, n, nHeads, qHead, nope, p.positions, c.rope);
    be.rope(kva, n, 1, kvRow, rank, p.positions, c.rope);

    float *att = p.floats(kScratchAttn, nt * std::size_t(nHeads * v));
    const KvLayerView view = p.cache.layerView(p.cache.findStore(layer, KvPart::Attention));
    if (selected) {
        be.storeKv(view, kva, nullptr, n, p.positions);
        mlaAttentionSelected(
            be, m_mla, view, q, n, rope, selected, indexer->topK(p.cache.capacity()), c.scale, att, *m_scratch);
    } else if (p.cache.layout().spec.mode == KvMode::Mla) {
        be.storeKv(view, kva, nullptr, n, p.positions);
        // Expanded costs (nope + v)·rank per cached token and head once, absorbed (2·rank − nope − v)
        // more per query·key pair: expand when the batch is long (and the rows are on the host).
        const bool expanded = be.memoryKind() == BackendMemory::Host
            && (c.form == MlaForm::Expanded
                || (c.form == MlaForm::Auto
                    && std::int64_t(n) * (2 * rank - nope - v) > std::int64_t(nope + v) * rank));
        if (expanded)
            mlaAttentionExpanded(be, m_mla, view, q, n, rope, p.hostPositions.data(), c.scale, att, *m_scratch);
        else
            mlaAttentionAbsorbed(be, m_mla, view, q, n, rope, p.positions, c.scale, att, *m_scratch);
    } else {
        float *keys = p.floats(kScratchK, nt * std::size_t(nHeads * qHead));
        float *values = p.floats(kScratchV, nt * std::size_t(nHeads * v));
        mlaExpandKeysValues(be, m_mla, kva, n, rope, keys, values, *m_scratch);
        be.storeKv(view, keys, values, n, p.positions);
        AttentionArgs args;
        args.q = q;
        args.out = att;
        args.nTokens = n;
        args.nHeads = nHeads;
        args.queryPositions = p.positions;
        args.scale = c.scale;
        args.kv = view;
        be.attention(args);
    }
    be.matmul(m_out, att, out, n);
}

} // namespace nw
