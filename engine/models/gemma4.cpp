// Gemma 4's dense text decoders (31B, E4B, E2B; llama.cpp's LLM_ARCH_GEMMA4, src/models/gemma4.cpp):
// Gemma 3's frame — embeddings scaled by sqrt(n_embd), RMSNorm before and after attention and FFN,
// GeGLU, QK-norm, window layers listed per layer (attention.sliding_window_pattern) — with
//   - window and global layers of different shapes: head dims (attention.key_length_swa vs
//     key_length), KV heads (head_count_kv per layer) and rotated dims;
//   - "proportional" RoPE on global layers: every dim in NeoX halves, with rope_freqs.weight
//     dividing the unrotated pairs' frequencies by 1e30 (the converter's trick);
//   - softmax scale 1 (the norms set the logits' scale), values RMS-normalised without a weight,
//     and keys doubling as values where a layer has no attn_v (attention_k_eq_v);
//   - each layer's output multiplied by layer_output_scale;
//   - E2B / E4B: per-layer embeddings (a small vector per layer and token, from its own table and a
//     projection of the input embedding, gating a residual branch after the FFN), and the last
//     attention.shared_kv_layers layers attending over an earlier layer's K/V (KvLayerKind::Shared);
//   - 26B-A4B: a mixture of GELU experts beside the dense FFN in every layer, each with its own
//     pre/post norms, the router scoring RMSNorm(x) / sqrt(n_embd) · ffn_gate_inp.scale, and a
//     per-expert output scale:
//       x += PostNorm(PostNorm1(GeGLU(Norm(x))) + PostNorm2(MoE(Norm2(x))))
#include "common/error.h"
#include "engine/architecture.h"
#include "engine/gguf_file.h"
#include "engine/graph/decoder_model.h"
#include "engine/graph/ffn.h"
#include "engine/graph/moe_ffn.h"
#include "engine/graph/pre_norm_decoder.h"
#include "engine/models/models.h"

#include <cmath>
#include <optional>

namespace nw {
namespace {

void readGemma4HParams(const ArchKeys &keys, HParams &hp)
{
    const std::string label = keys.file().label();

    hp.slidingWindow = keys.requireInt("attention.sliding_window");
    const std::vector<std::int64_t> pattern = keys.findIntArray("attention.sliding_window_pattern");
    if (std::int64_t(pattern.size()) != hp.nLayers)
        fail("{}: {} must flag each of the {} layers (found {} values)", label,
            keys.key("attention.sliding_window_pattern"), hp.nLayers, pattern.size());
    hp.slidingLayers.assign(pattern.begin(), pattern.end());
    hp.ropeFreqBaseSwa = keys.findFloat("rope.freq_base_swa", hp.ropeFreqBase);
    hp.headDimKSwa = keys.findInt("attention.key_length_swa", hp.headDimK);
    hp.headDimVSwa = keys.findInt("attention.value_length_swa", hp.headDimV);
    hp.nRotSwa = keys.findInt("rope.dimension_count_swa", hp.nRot);
    if (hp.headDimKSwa != hp.headDimVSwa || hp.headDimK != hp.headDimV)
        fail("{}: Gemma 4 needs equal key and value head dims (got {}/{}, window layers {}/{})", label, hp.headDimK,
            hp.headDimV, hp.headDimKSwa, hp.headDimVSwa);
    if (hp.nRotSwa <= 0 || hp.nRotSwa > hp.headDimKSwa || hp.nRotSwa % 2 != 0)
        fail("{}: {} {} must be even and within the window layers' key length {}", label,
            keys.key("rope.dimension_count_swa"), hp.nRotSwa, hp.headDimKSwa);
    hp.finalLogitSoftcap = keys.findFloat("final_logit_softcapping", 0.0);
    hp.nKvSharedLayers = keys.findInt("attention.shared_kv_layers", 0);
    if (hp.nKvSharedLayers > 0) {
        // llama.cpp reuses the window layer two before the first shared one and the global layer
        // just before it (llama_model::create_memory).
        const std::int64_t first = hp.nLayers - hp.nKvSharedLayers;
        if (first < 2 || !hp.isSlidingLayer(first - 2) || hp.isSlidingLayer(first - 1))
            fail("{}: {} is {}: the two layers before the shared ones must be a window layer and a global one", label,
                keys.key("attention.shared_kv_layers"), hp.nKvSharedLayers);
    }
}

// Scratch slots past the shared ones (forward_pass.h) and the attention block's.
enum Gemma4Slot : std::size_t {
    kSlotPerLayerInputs = kScratchCount + 4, // [n, nLayers, nEmbdPerLayer] for the whole forward
    kSlotPerLayerToken, // [n, nLayers, nEmbdPerLayer]
    kSlotPerLayerGate, // [n, nEmbdPerLayer]
    kSlotPerLayerInput, // [n, nEmbdPerLayer] this layer's input
    kSlotMoeInput, // [n, nEmbd] the experts' normed input
    kSlotRouterInput, // [n, nEmbd] the router's
    kSlotMoeOutput, // [n, nEmbd]
};

struct Gemma4Layer {
    const float *attnNorm = nullptr, *attnPostNorm = nullptr; // [nEmbd]
    AttentionBlock attention;
    const float *ffnNorm = nullptr, *ffnPostNorm = nullptr; // [nEmbd]
    GatedFfn ffn;
    const float *outputScale = nullptr; // [1], or null
    // Per-layer embeddings: the gate from the stream, the projection back, its post-norm.
    WeightMatrix perLayerGate; // [nEmbdPerLayer, nEmbd]
    WeightMatrix perLayerProj; // [nEmbd, nEmbdPerLayer]
    const float *perLayerPostNorm = nullptr; // [nEmbd]
    // 26B-A4B: the experts beside the dense FFN.
    std::optional<MoeFfn> moe;
    const float *moeNorm = nullptr, *moePostNorm = nullptr; // [nEmbd] pre_ffw_norm_2, post_ffw_norm_2
    const float *ffnPostNorm1 = nullptr; // [nEmbd] the dense FFN's own post-norm
    std::vector<float> routerNorm; // [nEmbd] ffn_gate_inp.scale / sqrt(nEmbd)
};

// Per-layer input width (Gemma 4 E2B/E4B: 256), bounded far above any model's.
constexpr std::int64_t kMaxPerLayerInput = std::int64_t(1) << 16;

class Gemma4Model final : public DecoderModel {
public:
    Gemma4Model(std::shared_ptr<const GgufFile> file, const HParams &hp, std::shared_ptr<Backend> backend)
        : DecoderModel(std::move(file), hp, std::move(backend))
    {
        setEmbeddingScale(float(std::sqrt(double(hp.nEmbd))));
        const std::int64_t e = hp.nEmbd;
        std::vector<WeightMatrix> matrices;
        m_nPerLayer = m_file->findInt(hp.arch + ".embedding_length_per_layer_input").value_or(0);
        if (m_nPerLayer < 0 || m_nPerLayer > kMaxPerLayerInput) // bounded before it is multiplied
            fail("{}: {}.embedding_length_per_layer_input {} must be within 0..{}", m_file->label(), hp.arch,
                m_nPerLayer, kMaxPerLayerInput);
        const std::int64_t perLayerAll = m_nPerLayer * hp.nLayers;
        if (m_nPerLayer > 0) {
            m_perLayerTokens = m_weights.matrix("per_layer_token_embd.weight", perLayerAll, hp.nVocab);
            m_perLayerModelProj = m_weights.matrix("per_layer_model_proj.weight", e, perLayerAll);
            m_perLayerProjNorm = m_weights.vector("per_layer_proj_norm.weight", m_nPerLayer);
            matrices.push_back(m_perLayerModelProj);
        }
        const std::vector<KvLayerPlan> plan = kvCachePlan(hp, KvModeSpec::parse("full"));
        auto moeScratch = std::make_shared<MoeScratch>();
        MoeConfig moeConfig;
        moeConfig.routing.gating = MoeGating::Softmax;
        moeConfig.routing.nExperts = int(hp.nExperts);
        moeConfig.routing.nUsed = int(hp.nExpertsUsed);
        moeConfig.routing.normalize = true;
        moeConfig.nFfExpert = hp.nFfExpert;
        moeConfig.geluExperts = true;
        moeConfig.expertScale = true;
        m_layers.resize(std::size_t(hp.nLayers));
        for (std::int64_t il = 0; il < hp.nLayers; ++il) {
            auto name = [il](const char *what) { return WeightLoader::layerName(il, what); };
            const bool window = hp.isSlidingLayer(il);
            AttentionConfig attention = attentionFromHParams(hp, RopeStyle::Neox);
            attention.nKvHeads = int(hp.kvHeadsOf(il));
            attention.headDimK = int(hp.headDimKOf(il));
            attention.headDimV = int(hp.headDimVOf(il));
            attention.rope = ropeFromHParams(
                hp, RopeStyle::Neox, int(hp.nRotOf(il)), window ? hp.ropeFreqBaseSwa : hp.ropeFreqBase);
            if (window) {
                attention.window = int(hp.slidingWindow);
                attention.rope.freqScale = 1.f; // window layers are not scaled (rope_freq_scale_train_swa)
            } else {
                attention.rope.freqFactors = m_weights.vector("rope_freqs.weight", hp.nRotOf(il) / 2);
            }
            attention.scale = 1.f; // llama.cpp's f_attention_scale for Gemma 4
            attention.qkNorm = true;
            attention.valueNorm = true;
            attention.valueFromKey = m_file->findTensor(WeightLoader::layerName(il, "attn_v")) == nullptr;
            if (plan[std::size_t(il)].kind == KvLayerKind::Shared) {
                attention.kvLayer = plan[std::size_t(il)].sharedFrom;
                // A converter may keep the K/V projections of shared layers; llama.cpp loads and
                // ignores them.
                m_weights.findMatrix(WeightLoader::layerName(il, "attn_k"), e, attention.nKvHeads * attention.headDimK);
                m_weights.findMatrix(WeightLoader::layerName(il, "attn_v"), e, attention.nKvHeads * attention.headDimV);
                m_weights.findVector(WeightLoader::layerName(il, "attn_k_norm"), attention.headDimK);
            }

            Gemma4Layer &l = m_layers[std::size_t(il)];
            l.attnNorm = m_weights.vector(name("attn_norm"), e);
            l.attention = AttentionBlock::load(m_weights, il, e, attention);
            l.attnPostNorm = m_weights.vector(name("post_attention_norm"), e);
            l.ffnNorm = m_weights.vector(name("ffn_norm"), e);
            l.ffn = GatedFfn::load(m_weights, il, e, hp.ffOf(il), GateActivation::GeluTanh);
            l.ffnPostNorm = m_weights.vector(name("post_ffw_norm"), e);
            if (m_file->findTensor(WeightLoader::layerName(il, "ffn_gate_inp"))) {
                if (hp.nExperts <= 0 || hp.nFfExpert <= 0)
                    fail("{}: layer {} has experts but the file gives no expert_count / expert_feed_forward_length",
                        m_file->label(), il);
                l.moe = MoeFfn::load(m_weights, il, e, moeConfig, moeScratch);
                l.moe->collectMatrices(matrices);
                l.moeNorm = m_weights.vector(name("pre_ffw_norm_2"), e);
                l.moePostNorm = m_weights.vector(name("post_ffw_norm_2"), e);
                l.ffnPostNorm1 = m_weights.vector(name("post_ffw_norm_1"), e);
                const float *scale = m_weights.vector(WeightLoader::layerName(il, "ffn_gate_inp", "scale"), e);
                const float invSqrt = float(1.0 / std::sqrt(double(e)));
                l.routerNorm.assign(scale, scale + e);
                for (float &w : l.routerNorm)
                    w *= invSqrt;
            }
            l.outputScale = m_weights.findVector(name("layer_output_scale"), 1);
            if (m_nPerLayer > 0) {
                l.perLayerGate = m_weights.matrix(name("inp_gate"), e, m_nPerLayer);
                l.perLayerProj = m_weights.matrix(name("proj"), m_nPerLayer, e);
                l.perLayerPostNorm = m_weights.vector(name("post_norm"), e);
                matrices.insert(matrices.end(), { l.perLayerGate, l.perLayerProj });
            }
            l.attention.collectMatrices(matrices);
            l.ffn.collectMatrices(matrices);
        }
        prepareLayerWeights(std::move(matrices));
    }

    void runLayer(ForwardPass &pass, std::int64_t il) override
    {
        const Gemma4Layer &l = m_layers[std::size_t(il)];
        const float eps = float(m_hparams.rmsEps);
        if (il == 0 && m_nPerLayer > 0)
            perLayerInputs(pass);
        pass.norm(l.attnNorm, eps, pass.x, pass.h);
        l.attention.forward(pass, il, pass.h, pass.y);
        pass.norm(l.attnPostNorm, eps, pass.y, pass.y);
        pass.addResidual(pass.y);
        pass.norm(l.ffnNorm, eps, pass.x, pass.h);
        l.ffn.forward(pass, pass.h, pass.y);
        if (l.moe) {
            const std::size_t ne = std::size_t(pass.nTokens) * std::size_t(pass.nEmbd);
            float *moeIn = pass.floats(kSlotMoeInput, ne);
            float *routerIn = pass.floats(kSlotRouterInput, ne);
            float *moeOut = pass.floats(kSlotMoeOutput, ne);
            pass.norm(l.ffnPostNorm1, eps, pass.y, pass.y);
            pass.norm(l.moeNorm, eps, pass.x, moeIn);
            pass.norm(l.routerNorm.data(), eps, pass.x, routerIn);
            l.moe->forward(pass, moeIn, routerIn, moeOut);
            pass.norm(l.moePostNorm, eps, moeOut, moeOut);
            pass.backend.add(pass.y, moeOut, ne);
        }
        pass.norm(l.ffnPostNorm, eps, pass.y, pass.y);
        pass.addResidual(pass.y);
        if (m_nPerLayer > 0) {
            // x += PostNorm(W_proj (gelu(W_gate x) ⊙ this layer's per-layer input)).
            Backend &be = pass.backend;
            const int n = pass.nTokens, d = int(m_nPerLayer);
            const std::size_t nd = std::size_t(n) * std::size_t(d);
            float *gate = pass.floats(kSlotPerLayerGate, nd);
            float *input = pass.floats(kSlotPerLayerInput, nd);
            const float *all = pass.floats(kSlotPerLayerInputs, nd * std::size_t(m_hparams.nLayers));
            be.copyRows(input, std::size_t(d), all + std::size_t(il) * std::size_t(d),
                std::size_t(m_hparams.nLayers) * std::size_t(d), n, d);
            be.matmul(l.perLayerGate, pass.x, gate, n);
            be.geglu(gate, input, input, nd);
            be.matmul(l.perLayerProj, input, pass.y, n);
            pass.norm(l.perLayerPostNorm, eps, pass.y, pass.y);
            pass.addResidual(pass.y);
        }
        if (l.outputScale)
            pass.backend.scale(pass.x, *l.outputScale, std::size_t(pass.nTokens) * std::size_t(pass.nEmbd));
    }

private:
    // Every layer's per-layer input, from the scaled input embedding in pass.x (llama.cpp's
    // project_per_layer_inputs): (RMSNorm(W x / sqrt(nEmbd)) · proj_norm + sqrt(d) · table[id]) / sqrt(2)
    // per layer, into kSlotPerLayerInputs as [n, nLayers, d].
    void perLayerInputs(ForwardPass &pass) const
    {
        Backend &be = pass.backend;
        const int n = pass.nTokens, d = int(m_nPerLayer), nLayers = int(m_hparams.nLayers);
        const std::size_t all = std::size_t(n) * std::size_t(nLayers) * std::size_t(d);
        float *inputs = pass.floats(kSlotPerLayerInputs, all);
        float *tokens = pass.floats(kSlotPerLayerToken, all);
        be.matmul(m_perLayerModelProj, pass.x, inputs, n);
        be.scale(inputs, float(1.0 / std::sqrt(double(m_hparams.nEmbd))), all);
        be.rmsNorm(inputs, m_perLayerProjNorm, inputs, n * nLayers, d, float(m_hparams.rmsEps));
        be.embed(m_perLayerTokens, pass.ids, n, tokens);
        be.scale(tokens, float(std::sqrt(double(d))), all);
        be.add(inputs, tokens, all);
        be.scale(inputs, float(1.0 / std::sqrt(2.0)), all);
    }

    std::vector<Gemma4Layer> m_layers; // [nLayers]
    std::int64_t m_nPerLayer = 0; // embedding_length_per_layer_input; 0: none
    WeightMatrix m_perLayerTokens; // [nVocab, nLayers · nPerLayer]
    WeightMatrix m_perLayerModelProj; // [nLayers · nPerLayer, nEmbd]
    const float *m_perLayerProjNorm = nullptr; // [nPerLayer]
};

std::unique_ptr<Model> makeGemma4(
    std::shared_ptr<const GgufFile> file, const HParams &hp, std::shared_ptr<Backend> backend)
{
    return std::make_unique<Gemma4Model>(std::move(file), hp, std::move(backend));
}

} // namespace

// No latent:R: QK-norm (see qwen3.cpp). CPU only for now.
const Architecture kGemma4Architecture {
    .name = "gemma4",
    .readHParams = readGemma4HParams,
    .makeModel = makeGemma4,
    .kvModes = { KvMode::Full },
    .runsOnDevice = false,
};

} // namespace nw
