// Gemma 3 (arXiv:2503.19786): embeddings scaled by sqrt(n_embd), RMSNorm before and after both
// attention and FFN,
//   x += PostNorm(Attention(PreNorm(x)));  x += PostNorm(GeGLU(PreNorm(x)))
// QK-norm, RoPE on NeoX halves, and interleaved layers: five of every six attend within a sliding
// window with their own RoPE base (rope.freq_base_swa, 10 000 by default), the sixth to
// everything with rope.freq_base and the file's scaling. Norm weights already hold Gemma's
// "1 + w" (the converter adds the 1). Tensor names as llama.cpp's LLM_ARCH_GEMMA3.
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

// llama_model_gemma3::load_arch_hparams: a window (attention.sliding_window) makes layer il a
// window layer when il % period < period - 1 (attention.sliding_window_pattern, default 6).
void readGemma3HParams(const ArchKeys &keys, HParams &hp)
{
    hp.slidingWindow = keys.findInt("attention.sliding_window", 0);
    if (hp.slidingWindow > 0) {
        const std::int64_t period = keys.findInt("attention.sliding_window_pattern", 6);
        if (period < 1)
            fail("{}: {} must be positive, got {}", keys.file().label(), keys.key("attention.sliding_window_pattern"),
                 period);
        hp.slidingLayers.resize(std::size_t(hp.nLayers));
        for (std::int64_t il = 0; il < hp.nLayers; ++il)
            hp.slidingLayers[std::size_t(il)] = il % period < period - 1;
        hp.ropeFreqBaseSwa = keys.findFloat("rope.freq_base_swa", 10000.0);
    }
    hp.finalLogitSoftcap = keys.findFloat("final_logit_softcapping", 0.0);
}

struct Gemma3Layer {
    const float *attnNorm = nullptr, *attnPostNorm = nullptr; // [nEmbd]
    AttentionBlock attention;
    const float *ffnNorm = nullptr, *ffnPostNorm = nullptr;   // [nEmbd]
    GatedFfn ffn;
};

class Gemma3Model final : public DecoderModel {
public:
    Gemma3Model(std::shared_ptr<const GgufFile> file, const HParams &hp, std::shared_ptr<Backend> backend)
        : DecoderModel(std::move(file), hp, std::move(backend))
    {
        setEmbeddingScale(float(std::sqrt(double(hp.nEmbd))));
        const std::int64_t e = hp.nEmbd;
        std::vector<WeightMatrix> matrices;
        m_layers.resize(std::size_t(hp.nLayers));
        for (std::int64_t il = 0; il < hp.nLayers; ++il) {
            AttentionConfig attention = attentionFromHParams(hp, RopeStyle::Neox);
            attention.qkNorm = true;
            // gemma_pytorch's query scale: 1/sqrt(head dim), but 1/sqrt(n_embd / n_head) for 27B.
            if (hp.nLayers == 62)
                attention.scale = float(1.0 / std::sqrt(double(hp.nEmbd / hp.nHeads)));
            if (hp.isSlidingLayer(il)) {
                attention.window = int(hp.slidingWindow);
                attention.rope.freqBase = float(hp.ropeFreqBaseSwa);
                attention.rope.freqScale = 1.f; // window layers are not scaled (rope_freq_scale_train_swa)
            }
            Gemma3Layer &l = m_layers[std::size_t(il)];
            auto name = [il](const char *what) { return WeightLoader::layerName(il, what); };
            l.attnNorm = m_weights.vector(name("attn_norm"), e);
            l.attention = AttentionBlock::load(m_weights, il, e, attention);
            l.attnPostNorm = m_weights.vector(name("post_attention_norm"), e);
            l.ffnNorm = m_weights.vector(name("ffn_norm"), e);
            l.ffn = GatedFfn::load(m_weights, il, e, hp.nFf, GateActivation::GeluTanh);
            l.ffnPostNorm = m_weights.vector(name("post_ffw_norm"), e);
            l.attention.collectMatrices(matrices);
            l.ffn.collectMatrices(matrices);
        }
        prepareLayerWeights(std::move(matrices));
    }

    void runLayer(ForwardPass &pass, std::int64_t il) override
    {
        const Gemma3Layer &l = m_layers[std::size_t(il)];
        const float eps = float(m_hparams.rmsEps);
        pass.norm(l.attnNorm, eps, pass.x, pass.h);
        l.attention.forward(pass, il, pass.h, pass.y);
        pass.norm(l.attnPostNorm, eps, pass.y, pass.y);
        pass.addResidual(pass.y);
        pass.norm(l.ffnNorm, eps, pass.x, pass.h);
        l.ffn.forward(pass, pass.h, pass.y);
        pass.norm(l.ffnPostNorm, eps, pass.y, pass.y);
        pass.addResidual(pass.y);
    }

private:
    std::vector<Gemma3Layer> m_layers; // [nLayers]
};

std::unique_ptr<Model> makeGemma3(std::shared_ptr<const GgufFile> file, const HParams &hp,
                                  std::shared_ptr<Backend> backend)
{
    return std::make_unique<Gemma3Model>(std::move(file), hp, std::move(backend));
}

} // namespace

// No latent:R: QK-norm (see qwen3.cpp).
const Architecture kGemma3Architecture{
    .name = "gemma3",
    .readHParams = readGemma3HParams,
    .makeModel = makeGemma3,
    .kvModes = {KvMode::Full},
    .runsOnDevice = false,
};

} // namespace nw
