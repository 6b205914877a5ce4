// The llama graph, written once against the Backend (tensor names as llama.cpp's LLM_ARCH_LLAMA).
#include "engine/models/llama.h"

#include "common/assert.h"
#include "common/error.h"
#include "engine/gguf_file.h"
#include "engine/latent_kv.h"
#include "kernels/cpu/quantize.h"

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
        const float eps = static_cast<float>(hp.rmsEps);
        be.embed(m_tokenEmbd, tokens.data(), n, m_x.data());
        for (std::size_t il = 0; il < m_layers.size(); ++il) {
            const LlamaLayer &l = m_layers[il];
            be.rmsNorm(m_x.data(), l.attnNorm, m_h.data(), n, static_cast<int>(e), eps);
            be.matmul(l.wq, m_h.data(), m_q.data(), n);
            be.rope(m_q.data(), n, static_cast<int>(hp.nHeads), static_cast<int>(hp.headDimK), 0, positions.data(),
                    m_rope);
            const KvLayerView view = cache.layerView(static_cast<std::int64_t>(il));
            AttentionArgs args;
            if (latent) {
                latentAttentionKv(*latent, il, m_h.data(), n, positions, cache, end, args);
            } else {
                be.matmul(l.wk, m_h.data(), m_k.data(), n);
                be.matmul(l.wv, m_h.data(), m_v.data(), n);
                be.rope(m_k.data(), n, static_cast<int>(hp.nKvHeads), static_cast<int>(hp.headDimK), 0,
                        positions.data(), m_rope);
                be.storeKv(view, m_k.data(), m_v.data(), n, positions.data());
                args.kv = view;
            }
            args.q = m_q.data();
            args.out = m_att.data();
            args.nTokens = n;
            args.nHeads = static_cast<int>(hp.nHeads);
            args.queryPositions = positions.data();
            args.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(hp.headDimK)));
            be.attention(args);
            be.matmul(l.wo, m_att.data(), m_h.data(), n);
            for (std::size_t i = 0; i < nt * e; ++i)
                m_x[i] += m_h[i];

            be.rmsNorm(m_x.data(), l.ffnNorm, m_h.data(), n, static_cast<int>(e), eps);
            be.matmul(l.gate, m_h.data(), m_gate.data(), n);
            be.matmul(l.up, m_h.data(), m_up.data(), n);
            be.swiglu(m_gate.data(), m_up.data(), m_gate.data(), nt * ff);
            be.matmul(l.down, m_gate.data(), m_h.data(), n);
            for (std::size_t i = 0; i < nt * e; ++i)
                m_x[i] += m_h[i];
        }
        cache.commit(end);

        const int nOut = which == LogitsFor::All ? n : 1;
        const float *last = m_x.data() + (nt - static_cast<std::size_t>(nOut)) * e;
        be.rmsNorm(last, m_outputNorm, m_h.data(), nOut, static_cast<int>(e), eps);
        logits.resize(static_cast<std::size_t>(nOut) * static_cast<std::size_t>(hp.nVocab));
        be.matmul(m_output, m_h.data(), logits.data(), nOut);
    }

private:
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
            slot = std::make_unique<LatentFactors>(loadOrFactorizeKv(wk, wv, rank, latentCacheDir()));
        }
        return *slot;
    }

    // latent:R: stores this batch's latents c_k = kDown·x and c_v = vDown·x, then rebuilds every
    // cached token's K and V (k = kUp·c_k, rotated at its own position: RoPE does not commute
    // with kUp, so it is applied after the expansion, per position) into an f32 one-block view
    // for the ordinary attention. x: [n, nEmbd] normed input.
    void latentAttentionKv(const LatentFactors &f, std::size_t il, const float *x, int n,
                           std::span<const std::int32_t> positions, KvCache &cache, std::int64_t end,
                           AttentionArgs &args)
    {
        const HParams &hp = m_hparams;
        Backend &be = *m_backend;
        const LatentLayerFactors &lf = f.layers[il];
        const int rank = static_cast<int>(f.rank);
        const std::size_t r = static_cast<std::size_t>(rank);
        const auto nKv = static_cast<std::size_t>(end);
        m_ck.resize(std::max<std::size_t>(nKv, static_cast<std::size_t>(n)) * r); // [nKv, rank]
        m_cv.resize(m_ck.size());
        be.matmul(denseWeights(TensorType::F32, rank, f.nEmbd, lf.kDown.data()), x, m_ck.data(), n);
        be.matmul(denseWeights(TensorType::F32, rank, f.nEmbd, lf.vDown.data()), x, m_cv.data(), n);
        const KvLayerView view = cache.layerView(static_cast<std::int64_t>(il));
        be.storeKv(view, m_ck.data(), m_cv.data(), n, positions.data());
        // Every cached latent as f32, in the row type the cache holds (f16, f32, q8, q4).
        const TensorType type = cache.layout().kType;
        for (std::size_t t = 0; t < nKv; ++t) {
            dequantizeRow(type, cache.kRow(std::int64_t(il), std::int64_t(t)), m_ck.data() + t * r, r);
            dequantizeRow(type, cache.vRow(std::int64_t(il), std::int64_t(t)), m_cv.data() + t * r, r);
        }
        const std::size_t kDim = static_cast<std::size_t>(f.kDim), vDim = static_cast<std::size_t>(f.vDim);
        m_kAll.resize(nKv * kDim);
        m_vAll.resize(nKv * vDim);
        be.matmul(denseWeights(TensorType::F32, f.kDim, rank, lf.kUp.data()), m_ck.data(), m_kAll.data(), int(nKv));
        be.matmul(denseWeights(TensorType::F32, f.vDim, rank, lf.vUp.data()), m_cv.data(), m_vAll.data(), int(nKv));
        if (m_allPositions.size() < nKv) {
            m_allPositions.resize(nKv);
            std::iota(m_allPositions.begin(), m_allPositions.end(), 0);
        }
        be.rope(m_kAll.data(), int(nKv), static_cast<int>(hp.nKvHeads), static_cast<int>(hp.headDimK), 0,
                m_allPositions.data(), m_rope);
        static const std::int32_t kOneBlock[1] = {0};
        args.kv.type = TensorType::F32;
        args.kv.blockSize = int(nKv);
        args.kv.blockTable = kOneBlock;
        args.kv.kBlocks = reinterpret_cast<std::byte *>(m_kAll.data());
        args.kv.kRowStride = kDim * sizeof(float);
        args.kv.kBlockStride = nKv * args.kv.kRowStride;
        args.kv.vBlocks = reinterpret_cast<std::byte *>(m_vAll.data());
        args.kv.vRowStride = vDim * sizeof(float);
        args.kv.vBlockStride = nKv * args.kv.vRowStride;
        args.kv.nKvHeads = static_cast<int>(hp.nKvHeads);
        args.kv.kHeadDim = static_cast<int>(hp.headDimK);
        args.kv.vHeadDim = static_cast<int>(hp.headDimV);
    }

    WeightMatrix m_tokenEmbd;          // [nVocab, nEmbd]
    const float *m_outputNorm = nullptr; // [nEmbd]
    WeightMatrix m_output;             // [nVocab, nEmbd]
    std::vector<LlamaLayer> m_layers;  // [nLayers]
    RopeParams m_rope;
    // Scratch reused across calls (one forward at a time per model).
    std::vector<float> m_x, m_h, m_q, m_k, m_v, m_att, m_gate, m_up;
    // latent:R scratch: every cached latent [nKv, rank] and the K/V rebuilt from them.
    std::vector<float> m_ck, m_cv, m_kAll, m_vAll;
    std::vector<std::int32_t> m_allPositions; // 0, 1, 2, ...
    mutable std::mutex m_latentMutex;
    mutable std::map<std::int64_t, std::unique_ptr<LatentFactors>> m_latent; // by rank
};

} // namespace

std::unique_ptr<Model> makeLlamaModel(std::shared_ptr<const GgufFile> file, const HParams &hp,
                                      std::shared_ptr<Backend> backend)
{
    return std::make_unique<LlamaModel>(std::move(file), hp, std::move(backend));
}

} // namespace nw
