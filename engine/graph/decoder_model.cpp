// The decoder frame: embedding, the architecture's layers, final norm and logits; latent:R state.
#include "engine/graph/decoder_model.h"

#include "common/assert.h"
#include "common/error.h"
#include "engine/gguf_file.h"
#include "kernels/cpu/quantize.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace nw {

DecoderModel::DecoderModel(std::shared_ptr<const GgufFile> file, HParams hp, std::shared_ptr<Backend> backend)
    : Model(std::move(file), std::move(hp), std::move(backend))
{
    const std::int64_t e = m_hparams.nEmbd, nVocab = m_hparams.nVocab;
    m_tokenEmbd = m_weights.matrix("token_embd.weight", e, nVocab);
    m_outputNorm = m_weights.vector("output_norm.weight", e);
    const WeightMatrix output = m_weights.findMatrix("output.weight", e, nVocab);
    m_output = output.data ? output : m_tokenEmbd; // tied embeddings
    m_outputBias = m_weights.findVector("output.bias", nVocab);
}

void DecoderModel::setHyperConnections(const HyperConnection &head, int nStreams)
{
    NW_ASSERT(nStreams > 0);
    m_hcHead = head;
    m_streams = nStreams;
}

const AttentionBlock *DecoderModel::standardAttention(std::int64_t) const
{
    return nullptr;
}

void DecoderModel::prepareLayerWeights(std::vector<WeightMatrix> layerMatrices, std::uint64_t ownedBytes)
{
    // The CPU embeds from the file's rows: the embedding goes only as the output there.
    std::vector<WeightMatrix> all = { m_output };
    if (m_backend->memoryKind() == BackendMemory::Device)
        all.insert(all.begin(), m_tokenEmbd);
    all.insert(all.end(), layerMatrices.begin(), layerMatrices.end());
    prepareWeights(std::move(all), ownedBytes);
}

void DecoderModel::forward(std::span<const std::int32_t> tokens, std::span<const std::int32_t> positions,
    KvCache &cache, LogitsFor which, std::vector<float> &logits)
{
    const HParams &hp = m_hparams;
    const int n = static_cast<int>(tokens.size());
    NW_ASSERT(n > 0 && positions.size() == tokens.size());
    NW_ASSERT(cache.nLayers() == hp.nLayers);
    for (int t = 1; t < n; ++t)
        NW_ASSERT(positions[std::size_t(t)] == positions[std::size_t(t - 1)] + 1);
    if (positions[0] < 0 || positions[0] > cache.positions())
        fail("batch starts at position {} but the KV cache holds {} tokens", positions[0], cache.positions());
    for (std::int32_t id : tokens)
        if (id < 0 || id >= hp.nVocab)
            fail("token id {} is outside the vocabulary of {} tokens", id, hp.nVocab);
    const KvMode mode = cache.layout().spec.mode;
    const LatentKv *latent = mode == KvMode::Latent ? &latentFor(cache.layout().spec.rank) : nullptr;

    // Rows, not positions, after SnapKV compaction (KvCache::setCompacted); going back into the
    // compacted rows empties the cache.
    cache.truncate(std::max<std::int64_t>(0, positions[0] - cache.positionOffset()));
    // A recurrent layer (or a window layer that dropped old rows, or a compacted cache) may not go
    // back that far.
    if (cache.positions() != positions[0])
        fail("batch starts at position {} but the KV cache can only continue from {} (its recurrent or window "
             "layers, or a SnapKV selection, cannot roll back to there)",
            positions[0], cache.positions());
    const std::int64_t offset = cache.positionOffset();
    const std::int64_t end = positions.back() + 1 - offset; // in rows
    cache.reserve(end);

    const std::size_t nt = std::size_t(n), e = std::size_t(hp.nEmbd), width = e * std::size_t(m_streams);
    m_x.resize(nt * width);
    m_h.resize(nt * e);
    m_y.resize(nt * e);
    Backend &be = *m_backend;
    // Ids and positions in the backend's memory (on the host backend a copy of n ints).
    m_ids.resize(nt);
    m_positions.resize(nt);
    be.upload(m_ids.data(), tokens.data(), nt * sizeof(std::int32_t));
    be.upload(m_positions.data(), positions.data(), nt * sizeof(std::int32_t));
    std::span<const std::int32_t> rows = positions;
    const std::int32_t *deviceRows = m_positions.data();
    if (offset > 0) {
        m_hostRows.resize(nt);
        for (std::size_t t = 0; t < nt; ++t)
            m_hostRows[t] = positions[t] - static_cast<std::int32_t>(offset);
        m_rows.resize(nt);
        be.upload(m_rows.data(), m_hostRows.data(), nt * sizeof(std::int32_t));
        rows = m_hostRows;
        deviceRows = m_rows.data();
    }

    ForwardPass pass { .backend = be,
        .cache = cache,
        .nTokens = n,
        .ids = m_ids.data(),
        .hostPositions = positions,
        .positions = m_positions.data(),
        .hostRows = rows,
        .rows = deviceRows,
        .nEmbd = int(e),
        .x = m_x.data(),
        .h = m_h.data(),
        .y = m_y.data(),
        .scratch = m_scratch,
        .latent = latent,
        .latentAttention = &m_latentAttention,
        .calibration = m_calibrating,
        .queries = cache.queryObserver() };
    float *embedded = m_streams > 1 ? pass.y : pass.x;
    be.embed(m_tokenEmbd, m_ids.data(), n, embedded);
    if (m_embeddingScale != 1.f)
        be.scale(embedded, m_embeddingScale, nt * e);
    for (int s = 0; m_streams > 1 && s < m_streams; ++s)
        be.copyRows(pass.x + std::size_t(s) * e, width, embedded, e, n, int(e));
    for (std::int64_t il = 0; il < hp.nLayers; ++il)
        runLayer(pass, il);
    cache.commit(end);

    const int nOut = which == LogitsFor::All ? n : 1;
    const float *last = pass.x + (nt - std::size_t(nOut)) * width;
    if (m_hcHead) {
        m_hcHead->collapse(pass, last, nOut, pass.y);
        last = pass.y;
    }
    be.rmsNorm(last, m_outputNorm, pass.h, nOut, int(e), float(hp.rmsEps));
    logits.resize(std::size_t(nOut) * std::size_t(hp.nVocab));
    float *out = logits.data();
    if (be.memoryKind() == BackendMemory::Device) {
        m_logits.resize(logits.size());
        out = m_logits.data();
    }
    be.matmul(m_output, pass.h, out, nOut);
    if (m_outputBias)
        be.addRow(out, m_outputBias, nOut, int(hp.nVocab));
    if (be.memoryKind() == BackendMemory::Device)
        be.download(logits.data(), out, logits.size() * sizeof(float));
    if (hp.finalLogitSoftcap > 0.0) { // Gemma: on the few host logits, as llama.cpp's graph does last
        const float cap = float(hp.finalLogitSoftcap);
        for (float &v : logits)
            v = cap * std::tanh(v / cap);
    }
}

// ---- latent:R ----

LatentKeyGeometry DecoderModel::latentGeometry() const
{
    const AttentionBlock *block = standardAttention(0);
    NW_ASSERT(block);
    const AttentionConfig &c = block->config();
    LatentKeyGeometry geometry;
    geometry.nKvHeads = c.nKvHeads;
    geometry.headDimK = c.headDimK;
    geometry.headDimV = c.headDimV;
    geometry.ropeDims = c.rope.nDims;
    geometry.neox = c.rope.neox;
    return geometry;
}

void DecoderModel::prepareKvMode(const KvModeSpec &spec) const
{
    if (spec.mode == KvMode::Latent)
        latentFor(spec.rank);
    // SnapKV's queries and row positions are wired into the standard attention block only.
    for (std::int64_t il = 0; spec.snapkv > 0 && il < m_hparams.nLayers; ++il)
        if (!standardAttention(il))
            fail("{}: KV mode '{}' needs the standard attention block in every layer; the {} graph's layer {} has "
                 "its own",
                m_file->label(), spec.toString(), m_hparams.arch, il);
}

const LatentKv &DecoderModel::latentFor(std::int64_t rank) const
{
    std::lock_guard lock(m_latentMutex);
    auto &slot = m_latent[rank];
    if (slot)
        return *slot;
    std::vector<WeightMatrix> wk, wv;
    for (std::int64_t il = 0; il < m_hparams.nLayers; ++il) {
        const AttentionBlock *block = standardAttention(il);
        if (!block || !block->supportsLatent())
            fail("{}: KV mode latent:{} needs keys linear in the input; the {} graph's are not", m_file->label(), rank,
                m_hparams.arch);
        wk.push_back(block->keyProjection());
        wv.push_back(block->valueProjection());
    }
    auto state = std::make_unique<LatentKv>();
    state->factors = loadOrFactorizeKv(wk, wv, latentGeometry(), rank, latentCacheDir(), nullptr, m_calibration.get());
    // A projection bias b enters the latent as kUpᵀ b (kDown = kUpᵀ W): see LatentKv.
    const auto project = [rank](const std::vector<float> &up, const float *bias, std::int64_t dim) {
        std::vector<float> out;
        if (!bias)
            return out;
        out.assign(std::size_t(rank), 0.f);
        for (std::int64_t j = 0; j < rank; ++j) {
            double sum = 0;
            for (std::int64_t i = 0; i < dim; ++i)
                sum += double(up[std::size_t(i * rank + j)]) * bias[i];
            out[std::size_t(j)] = float(sum);
        }
        return out;
    };
    const LatentKeyGeometry geo = latentGeometry();
    for (std::int64_t il = 0; il < m_hparams.nLayers; ++il) {
        const AttentionBlock &block = *standardAttention(il);
        const LatentLayerFactors &lf = state->factors.layers[std::size_t(il)];
        state->kBias.push_back(project(lf.kUp, block.keyBias(), geo.kDim()));
        state->vBias.push_back(project(lf.vUp, block.valueBias(), geo.vDim()));
    }
    slot = std::move(state);
    return *slot;
}

// Full-mode passes over the text in windows of the training context; the attention blocks hand
// each layer's keys (before RoPE) and values to the calibration.
void DecoderModel::calibrateLatent(std::span<const std::int32_t> tokens)
{
    const std::vector<KvMode> modes = kvModes();
    if (std::find(modes.begin(), modes.end(), KvMode::Latent) == modes.end())
        Model::calibrateLatent(tokens);
    if (tokens.empty())
        fail("latent calibration needs a text of at least one token");
    auto calibration = std::make_unique<LatentCalibration>(latentGeometry(), m_hparams.nLayers);
    const std::int64_t window = std::clamp<std::int64_t>(m_hparams.nCtxTrain, 1, 512);
    auto cache = makeKvCache(KvModeSpec::parse("full"), window);
    std::vector<std::int32_t> positions(static_cast<std::size_t>(window));
    std::iota(positions.begin(), positions.end(), 0);
    std::vector<float> logits;
    m_calibrating = calibration.get();
    try {
        for (std::size_t start = 0; start < tokens.size(); start += std::size_t(window)) {
            const std::size_t n = std::min(tokens.size() - start, std::size_t(window));
            forward(tokens.subspan(start, n), std::span<const std::int32_t>(positions).first(n), *cache,
                LogitsFor::Last, logits);
        }
    } catch (...) {
        m_calibrating = nullptr;
        throw;
    }
    m_calibrating = nullptr;
    std::lock_guard lock(m_latentMutex);
    m_calibration = std::move(calibration);
    m_latent.clear();
}

} // namespace nw
