// The pre-norm decoder: one layer type, loaded and run for every layer.
#include "engine/graph/pre_norm_decoder.h"

#include "engine/graph/decoder_model.h"
#include "engine/hparams.h"

#include <cmath>
#include <string>

namespace nw {

AttentionConfig attentionFromHParams(const HParams &hp, RopeStyle style)
{
    AttentionConfig c;
    c.nHeads = int(hp.nHeads);
    c.nKvHeads = int(hp.nKvHeads);
    c.headDimK = int(hp.headDimK);
    c.headDimV = int(hp.headDimV);
    c.rope = ropeFromHParams(hp, style, int(hp.nRot), hp.ropeFreqBase);
    c.scale = float(1.0 / std::sqrt(double(hp.headDimK)));
    c.normEps = float(hp.rmsEps);
    return c;
}

namespace {

struct PreNormLayer {
    const float *attnNorm = nullptr; // [nEmbd]
    AttentionBlock attention;
    const float *ffnNorm = nullptr;  // [nEmbd]
    std::optional<GatedFfn> ffn;
    std::optional<MoeFfn> moe;
};

class PreNormDecoder final : public DecoderModel {
public:
    PreNormDecoder(std::shared_ptr<const GgufFile> file, const HParams &hp, std::shared_ptr<Backend> backend,
                   const PreNormDecoderSpec &spec)
        : DecoderModel(std::move(file), hp, std::move(backend))
    {
        AttentionConfig attention = spec.attention;
        if (!spec.ropeFactors.empty())
            attention.rope.freqFactors = m_weights.findVector(spec.ropeFactors, hp.nRot / 2);
        if (!spec.longRopeFactors.empty()) {
            attention.longRopeFactors = m_weights.findVector(spec.longRopeFactors, hp.nRot / 2);
            attention.longRopeAbove = hp.ropeScaling.originalContext;
        }
        std::vector<WeightMatrix> matrices;
        auto moeScratch = std::make_shared<MoeScratch>();
        m_layers.resize(std::size_t(hp.nLayers));
        for (std::int64_t il = 0; il < hp.nLayers; ++il) {
            PreNormLayer &l = m_layers[std::size_t(il)];
            AttentionConfig layerAttention = attention;
            if (spec.adjustLayer)
                spec.adjustLayer(il, layerAttention);
            l.attnNorm = m_weights.vector(WeightLoader::layerName(il, "attn_norm"), hp.nEmbd);
            l.attention = AttentionBlock::load(m_weights, il, hp.nEmbd, layerAttention);
            l.ffnNorm = m_weights.vector(WeightLoader::layerName(il, spec.ffnNorm), hp.nEmbd);
            l.attention.collectMatrices(matrices);
            if (spec.moe) {
                l.moe = MoeFfn::load(m_weights, il, hp.nEmbd, *spec.moe, moeScratch);
                l.moe->collectMatrices(matrices);
            } else {
                l.ffn = GatedFfn::load(m_weights, il, hp.nEmbd, hp.nFf, spec.activation);
                l.ffn->collectMatrices(matrices);
            }
        }
        prepareLayerWeights(std::move(matrices));
    }

    void runLayer(ForwardPass &pass, std::int64_t il) override
    {
        const PreNormLayer &l = m_layers[std::size_t(il)];
        const float eps = float(m_hparams.rmsEps);
        pass.norm(l.attnNorm, eps, pass.x, pass.h);
        l.attention.forward(pass, il, pass.h, pass.y);
        pass.addResidual(pass.y);
        pass.norm(l.ffnNorm, eps, pass.x, pass.h);
        if (l.moe)
            l.moe->forward(pass, pass.h, pass.y);
        else
            l.ffn->forward(pass, pass.h, pass.y);
        pass.addResidual(pass.y);
    }

    const AttentionBlock *standardAttention(std::int64_t il) const override
    {
        return &m_layers[std::size_t(il)].attention;
    }

private:
    std::vector<PreNormLayer> m_layers; // [nLayers]
};

} // namespace

std::unique_ptr<Model> makePreNormDecoder(std::shared_ptr<const GgufFile> file, const HParams &hp,
                                          std::shared_ptr<Backend> backend, const PreNormDecoderSpec &spec)
{
    return std::make_unique<PreNormDecoder>(std::move(file), hp, std::move(backend), spec);
}

} // namespace nw
