// Gemma 4, the dense text decoder (Gemma 4 31B; llama.cpp's LLM_ARCH_GEMMA4, src/models/gemma4.cpp):
// Gemma 3's frame — embeddings scaled by sqrt(n_embd), RMSNorm before and after attention and FFN,
// GeGLU, QK-norm, window layers listed per layer (attention.sliding_window_pattern) — with
//   - window and global layers of different shapes: head dims (attention.key_length_swa vs
//     key_length), KV heads (head_count_kv per layer) and rotated dims;
//   - "proportional" RoPE on global layers: every dim in NeoX halves, with rope_freqs.weight
//     dividing the unrotated pairs' frequencies by 1e30 (the converter's trick);
//   - softmax scale 1 (the norms set the logits' scale), values RMS-normalised without a weight,
//     and keys doubling as values where a layer has no attn_v (attention_k_eq_v);
//   - each layer's output multiplied by layer_output_scale.
// Not supported yet, and refused with the reason: per-layer embeddings and layers that share
// another layer's KV cache (Gemma 4 E2B / E4B), and mixture-of-experts layers (26B-A4B).
#include "common/error.h"
#include "engine/architecture.h"
#include "engine/gguf_file.h"
#include "engine/graph/decoder_model.h"
#include "engine/graph/ffn.h"
#include "engine/graph/pre_norm_decoder.h"
#include "engine/models/models.h"

#include <cmath>

namespace nw {
namespace {

void readGemma4HParams(const ArchKeys &keys, HParams &hp)
{
    const std::string label = keys.file().label();
    if (keys.findInt("embedding_length_per_layer_input", 0) > 0)
        fail("{}: Gemma 4 with per-layer embeddings (E2B, E4B) is not supported yet", label);
    if (keys.findInt("attention.shared_kv_layers", 0) > 0)
        fail("{}: Gemma 4 with layers that share another layer's KV cache (E2B, E4B) is not supported yet", label);
    if (hp.nExperts > 0)
        fail("{}: Gemma 4 with mixture-of-experts layers (26B-A4B) is not supported yet", label);

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
}

struct Gemma4Layer {
    const float *attnNorm = nullptr, *attnPostNorm = nullptr; // [nEmbd]
    AttentionBlock attention;
    const float *ffnNorm = nullptr, *ffnPostNorm = nullptr;   // [nEmbd]
    GatedFfn ffn;
    const float *outputScale = nullptr;                       // [1], or null
};

class Gemma4Model final : public DecoderModel {
public:
    Gemma4Model(std::shared_ptr<const GgufFile> file, const HParams &hp, std::shared_ptr<Backend> backend)
        : DecoderModel(std::move(file), hp, std::move(backend))
    {
        setEmbeddingScale(float(std::sqrt(double(hp.nEmbd))));
        const std::int64_t e = hp.nEmbd;
        std::vector<WeightMatrix> matrices;
        m_layers.resize(std::size_t(hp.nLayers));
        for (std::int64_t il = 0; il < hp.nLayers; ++il) {
            auto name = [il](const char *what) { return WeightLoader::layerName(il, what); };
            const bool window = hp.isSlidingLayer(il);
            AttentionConfig attention = attentionFromHParams(hp, RopeStyle::Neox);
            attention.nKvHeads = int(hp.kvHeadsOf(il));
            attention.headDimK = int(hp.headDimKOf(il));
            attention.headDimV = int(hp.headDimVOf(il));
            attention.rope = ropeFromHParams(hp, RopeStyle::Neox, int(hp.nRotOf(il)),
                                             window ? hp.ropeFreqBaseSwa : hp.ropeFreqBase);
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

            Gemma4Layer &l = m_layers[std::size_t(il)];
            l.attnNorm = m_weights.vector(name("attn_norm"), e);
            l.attention = AttentionBlock::load(m_weights, il, e, attention);
            l.attnPostNorm = m_weights.vector(name("post_attention_norm"), e);
            l.ffnNorm = m_weights.vector(name("ffn_norm"), e);
            l.ffn = GatedFfn::load(m_weights, il, e, hp.ffOf(il), GateActivation::GeluTanh);
            l.ffnPostNorm = m_weights.vector(name("post_ffw_norm"), e);
            l.outputScale = m_weights.findVector(name("layer_output_scale"), 1);
            l.attention.collectMatrices(matrices);
            l.ffn.collectMatrices(matrices);
        }
        prepareLayerWeights(std::move(matrices));
    }

    void runLayer(ForwardPass &pass, std::int64_t il) override
    {
        const Gemma4Layer &l = m_layers[std::size_t(il)];
        const float eps = float(m_hparams.rmsEps);
        pass.norm(l.attnNorm, eps, pass.x, pass.h);
        l.attention.forward(pass, il, pass.h, pass.y);
        pass.norm(l.attnPostNorm, eps, pass.y, pass.y);
        pass.addResidual(pass.y);
        pass.norm(l.ffnNorm, eps, pass.x, pass.h);
        l.ffn.forward(pass, pass.h, pass.y);
        pass.norm(l.ffnPostNorm, eps, pass.y, pass.y);
        pass.addResidual(pass.y);
        if (l.outputScale)
            pass.backend.scale(pass.x, *l.outputScale, std::size_t(pass.nTokens) * std::size_t(pass.nEmbd));
    }

private:
    std::vector<Gemma4Layer> m_layers; // [nLayers]
};

std::unique_ptr<Model> makeGemma4(std::shared_ptr<const GgufFile> file, const HParams &hp,
                                  std::shared_ptr<Backend> backend)
{
    return std::make_unique<Gemma4Model>(std::move(file), hp, std::move(backend));
}

} // namespace

// No latent:R: QK-norm (see qwen3.cpp). CPU only for now.
const Architecture kGemma4Architecture{
    .name = "gemma4",
    .readHParams = readGemma4HParams,
    .makeModel = makeGemma4,
    .kvModes = {KvMode::Full},
    .runsOnDevice = false,
};

} // namespace nw
