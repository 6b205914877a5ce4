// The llama graph, written once against the Backend (tensor names as llama.cpp's LLM_ARCH_LLAMA).
#include "engine/models/llama.h"

#include "common/assert.h"
#include "common/error.h"
#include "engine/gguf_file.h"
#include "engine/latent_kv.h"
#include "kernels/cpu/quantize.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>

namespace nw {
namespace {

struct LlamaLayer {
    const float *attnNorm = nullptr; // [nEmbd]
    WeightMatrix wq;                 // [nHeads × headDimK, nEmbd]
    WeightMatrix wk;                 // [nKvHeads × headDimK, nEmbd]
    WeightMatrix wv;                 // [nKvHeads × headDimV, nEmbd]
    WeightMatrix wo;                 // [nEmbd, nHeads × headDimV]
    const float *ffnNorm = nullptr;  // [nEmbd]
    WeightMatrix gate;               // [nFf, nEmbd]
    WeightMatrix up;                 // [nFf, nEmbd]
    WeightMatrix down;               // [nEmbd, nFf]
};

class LlamaModel final : public Model {
public:
    LlamaModel(std::shared_ptr<const GgufFile> file, const HParams &hp, std::shared_ptr<Backend> backend)
        : Model(std::move(file), hp, std::move(backend))
    {
        const std::int64_t e = hp.nEmbd;
        const TensorView &embd = requireWeight("token_embd.weight", {e, hp.nVocab});
        m_tokenEmbd = matrix(embd);
        m_outputNorm = requireNormWeight("output_norm.weight", e);
        const TensorView *output = findWeight("output.weight", {e, hp.nVocab});
        m_output = output ? matrix(*output) : m_tokenEmbd; // tied embeddings (llama2.c exports)
        m_layers.resize(static_cast<std::size_t>(hp.nLayers));
        for (std::int64_t i = 0; i < hp.nLayers; ++i) {
            auto name = [i](const char *what) { return "blk." + std::to_string(i) + "." + what + ".weight"; };
            LlamaLayer &l = m_layers[static_cast<std::size_t>(i)];
            l.attnNorm = requireNormWeight(name("attn_norm"), e);
            l.wq = matrix(requireWeight(name("attn_q"), {e, hp.nHeads * hp.headDimK}));
            l.wk = matrix(requireWeight(name("attn_k"), {e, hp.nKvHeads * hp.headDimK}));
            l.wv = matrix(requireWeight(name("attn_v"), {e, hp.nKvHeads * hp.headDimV}));
            l.wo = matrix(requireWeight(name("attn_output"), {hp.nHeads * hp.headDimV, e}));
            l.ffnNorm = requireNormWeight(name("ffn_norm"), e);
            l.gate = matrix(requireWeight(name("ffn_gate"), {e, hp.nFf}));
            l.up = matrix(requireWeight(name("ffn_up"), {e, hp.nFf}));
            l.down = matrix(requireWeight(name("ffn_down"), {hp.nFf, e}));
        }
        // Llama 3.1's long-context rope: per-pair divisors of the angle, stored as a tensor.
        if (const TensorView *freqs = findWeight("rope_freqs.weight", {hp.nRot / 2}, {TensorType::F32}))
            m_rope.freqFactors = reinterpret_cast<const float *>(freqs->data);
        // The backend makes its copies now, not during the first token: a GPU backend uploads
        // (and dequantizes) every matrix, the CPU backend repacks quantized ones into 8-row
        // groups (kernels/cpu/matmul_packed.h), and on the host those copies count with the
        // weights. The CPU embeds from the file's rows: the embedding goes only as the output.
        std::vector<WeightMatrix> all = {m_output};
        if (m_backend->memoryKind() == BackendMemory::Device)
            all.insert(all.begin(), m_tokenEmbd);
        for (const LlamaLayer &l : m_layers)
            all.insert(all.end(), {l.wq, l.wk, l.wv, l.wo, l.gate, l.up, l.down});
        const std::uint64_t copiedBefore = m_backend->memoryInfo().weightsBytes;
        m_backend->prepareWeights(all);
        if (m_backend->memoryKind() == BackendMemory::Host)
            m_weightsBytes += m_backend->memoryInfo().weightsBytes - copiedBefore;
        m_rope.nDims = static_cast<int>(hp.nRot);
        m_rope.neox = false; // GGUF llama: Q/K rows were permuted at conversion for adjacent pairs
        m_rope.freqBase = static_cast<float>(hp.ropeFreqBase);
        if (hp.ropeScaling.type != RopeScalingType::None && hp.ropeScaling.factor > 0.0)
            m_rope.freqScale = static_cast<float>(1.0 / hp.ropeScaling.factor);
        m_rope.nCtxOrig = static_cast<int>(hp.ropeScaling.originalContext);
        if (hp.ropeScaling.type == RopeScalingType::Yarn) {
            m_rope.extFactor = 1.f;
            m_rope.betaFast = static_cast<float>(hp.ropeScaling.yarnBetaFast);
            m_rope.betaSlow = static_cast<float>(hp.ropeScaling.yarnBetaSlow);
        }
    }

    std::vector<KvMode> kvModes() const override { return {KvMode::Full, KvMode::Latent}; }

    // latent:R factors are made (or read from their cache file) when the cache is created, so
    // the first forward is not the one that pays for the SVD.
    KvLayout kvLayout(const KvModeSpec &spec) const override
    {
        KvLayout layout = Model::kvLayout(spec);
        if (spec.mode == KvMode::Latent)
            latentFactors(spec.rank);
        return layout;
    }

    void forward(std::span<const std::int32_t> tokens, std::span<const std::int32_t> positions, KvCache &cache,
                 LogitsFor which, std::vector<float> &logits) override
    {
        const HParams &hp = m_hparams;
        const int n = static_cast<int>(tokens.size());
        NW_ASSERT(n > 0 && positions.size() == tokens.size());
        const KvMode mode = cache.layout().spec.mode;
        NW_ASSERT(cache.nLayers() == hp.nLayers && (mode == KvMode::Full || mode == KvMode::Latent));
        const LatentFactors *latent = mode == KvMode::Latent ? &latentFactors(cache.layout().spec.rank) : nullptr;
        for (int t = 1; t < n; ++t)
            NW_ASSERT(positions[static_cast<std::size_t>(t)] == positions[static_cast<std::size_t>(t - 1)] + 1);
        if (positions[0] < 0 || positions[0] > cache.tokens())
            fail("batch starts at position {} but the KV cache holds {} tokens", positions[0], cache.tokens());
        for (std::int32_t id : tokens)
            if (id < 0 || id >= hp.nVocab)
                fail("token id {} is outside the vocabulary of {} tokens", id, hp.nVocab);

        const std::int64_t end = positions.back() + 1;
        cache.truncate(positions[0]);
        cache.reserve(end);

        const std::size_t e = static_cast<std::size_t>(hp.nEmbd);
        const std::size_t nt = static_cast<std::size_t>(n);
        const std::size_t qDim = static_cast<std::size_t>(hp.nHeads * hp.headDimK);
        const std::size_t kDim = static_cast<std::size_t>(hp.nKvHeads * hp.headDimK);
        const std::size_t vDim = static_cast<std::size_t>(hp.nKvHeads * hp.headDimV);
        const std::size_t attDim = static_cast<std::size_t>(hp.nHeads * hp.headDimV);
        const std::size_t ff = static_cast<std::size_t>(hp.nFf);
        m_x.resize(nt * e);      // [n, nEmbd] residual stream
        m_h.resize(nt * e);      // [n, nEmbd] normed input / projection output
        m_q.resize(nt * qDim);   // [n, nHeads, headDimK]
        m_k.resize(nt * kDim);   // [n, nKvHeads, headDimK]
        m_v.resize(nt * vDim);   // [n, nKvHeads, headDimV]
        m_att.resize(nt * attDim); // [n, nHeads, headDimV]
        m_gate.resize(nt * ff);  // [n, nFf]
        m_up.resize(nt * ff);    // [n, nFf]

        Backend &be = *m_backend;
        // Ids and positions in the backend's memory (on the host backend a copy of n ints).
        m_ids.resize(nt);
        m_positions.resize(nt);
        be.upload(m_ids.data(), tokens.data(), nt * sizeof(std::int32_t));
        be.upload(m_positions.data(), positions.data(), nt * sizeof(std::int32_t));
        const std::int32_t *pos = m_positions.data();
        const float eps = static_cast<float>(hp.rmsEps);
        be.embed(m_tokenEmbd, m_ids.data(), n, m_x.data());
        for (std::size_t il = 0; il < m_layers.size(); ++il) {
            const LlamaLayer &l = m_layers[il];
            be.rmsNorm(m_x.data(), l.attnNorm, m_h.data(), n, static_cast<int>(e), eps);
            be.matmul(l.wq, m_h.data(), m_q.data(), n);
            be.rope(m_q.data(), n, static_cast<int>(hp.nHeads), static_cast<int>(hp.headDimK), 0, pos, m_rope);
            const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(hp.headDimK)));
            if (latent) {
                LatentAttentionArgs la;
                la.x = m_h.data();
                la.q = m_q.data();
                la.out = m_att.data();
                la.nTokens = n;
                la.nHeads = static_cast<int>(hp.nHeads);
                la.positions = positions.data();
                la.scale = scale;
                m_latentAttention.run(be, *latent, il, m_rope, cache, la);
            } else {
                const KvLayerView view = cache.layerView(static_cast<std::int64_t>(il));
                be.matmul(l.wk, m_h.data(), m_k.data(), n);
                be.matmul(l.wv, m_h.data(), m_v.data(), n);
                if (m_calibrating)
                    m_calibrating->add(il, m_k.data(), m_v.data(), n);
                be.rope(m_k.data(), n, static_cast<int>(hp.nKvHeads), static_cast<int>(hp.headDimK), 0, pos, m_rope);
                be.storeKv(view, m_k.data(), m_v.data(), n, pos);
                AttentionArgs args;
                args.kv = view;
                args.q = m_q.data();
                args.out = m_att.data();
                args.nTokens = n;
                args.nHeads = static_cast<int>(hp.nHeads);
                args.queryPositions = pos;
                args.scale = scale;
                be.attention(args);
            }
            be.matmul(l.wo, m_att.data(), m_h.data(), n);
            be.add(m_x.data(), m_h.data(), nt * e);

            be.rmsNorm(m_x.data(), l.ffnNorm, m_h.data(), n, static_cast<int>(e), eps);
            be.matmul(l.gate, m_h.data(), m_gate.data(), n);
            be.matmul(l.up, m_h.data(), m_up.data(), n);
            be.swiglu(m_gate.data(), m_up.data(), m_gate.data(), nt * ff);
            be.matmul(l.down, m_gate.data(), m_h.data(), n);
            be.add(m_x.data(), m_h.data(), nt * e);
        }
        cache.commit(end);

        const int nOut = which == LogitsFor::All ? n : 1;
        const float *last = m_x.data() + (nt - static_cast<std::size_t>(nOut)) * e;
        be.rmsNorm(last, m_outputNorm, m_h.data(), nOut, static_cast<int>(e), eps);
        logits.resize(static_cast<std::size_t>(nOut) * static_cast<std::size_t>(hp.nVocab));
        if (be.memoryKind() == BackendMemory::Host) {
            be.matmul(m_output, m_h.data(), logits.data(), nOut);
        } else {
            m_logits.resize(logits.size());
            be.matmul(m_output, m_h.data(), m_logits.data(), nOut);
            be.download(logits.data(), m_logits.data(), logits.size() * sizeof(float));
        }
    }

    // Full-mode passes over the text in windows of the training context; the full path hands
    // each layer's keys (before RoPE) and values to m_calibrating.
    void calibrateLatent(std::span<const std::int32_t> tokens) override
    {
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

private:
    LatentKeyGeometry latentGeometry() const
    {
        LatentKeyGeometry geometry;
        geometry.nKvHeads = m_hparams.nKvHeads;
        geometry.headDimK = m_hparams.headDimK;
        geometry.headDimV = m_hparams.headDimV;
        geometry.ropeDims = m_rope.nDims;
        geometry.neox = m_rope.neox;
        return geometry;
    }

    const LatentFactors &latentFactors(std::int64_t rank) const
    {
        std::lock_guard lock(m_latentMutex);
        auto &slot = m_latent[rank];
        if (!slot) {
            std::vector<WeightMatrix> wk, wv;
            for (const LlamaLayer &l : m_layers) {
                wk.push_back(l.wk);
                wv.push_back(l.wv);
            }
            slot = std::make_unique<LatentFactors>(
                loadOrFactorizeKv(wk, wv, latentGeometry(), rank, latentCacheDir(), nullptr, m_calibration.get()));
        }
        return *slot;
    }

    WeightMatrix m_tokenEmbd;          // [nVocab, nEmbd]
    const float *m_outputNorm = nullptr; // [nEmbd]
    WeightMatrix m_output;             // [nVocab, nEmbd]
    std::vector<LlamaLayer> m_layers;  // [nLayers]
    RopeParams m_rope;
    // Scratch reused across calls (one forward at a time per model), in the backend's memory.
    BackendArray<float> m_x{*m_backend}, m_h{*m_backend}, m_q{*m_backend}, m_k{*m_backend}, m_v{*m_backend},
        m_att{*m_backend}, m_gate{*m_backend}, m_up{*m_backend}, m_logits{*m_backend};
    BackendArray<std::int32_t> m_ids{*m_backend}, m_positions{*m_backend};
    LatentAttention m_latentAttention; // latent:R scratch
    mutable std::mutex m_latentMutex;
    mutable std::map<std::int64_t, std::unique_ptr<LatentFactors>> m_latent; // by rank
    std::unique_ptr<LatentCalibration> m_calibration; // latent:R factors' weighting, when calibrated
    LatentCalibration *m_calibrating = nullptr;       // set while calibrateLatent runs
};

} // namespace

std::unique_ptr<Model> makeLlamaModel(std::shared_ptr<const GgufFile> file, const HParams &hp,
                                      std::shared_ptr<Backend> backend)
{
    return std::make_unique<LlamaModel>(std::move(file), hp, std::move(backend));
}

} // namespace nw
