// Qwen2 / Qwen2.5 (arXiv:2407.10671; also the DeepSeek-R1 distills built on it): the pre-norm
// layer with biases on the Q, K and V projections (the attention block loads them when the file
// has them), RoPE on NeoX halves, a SwiGLU FFN. Tensor names as llama.cpp's LLM_ARCH_QWEN2.
#include "engine/architecture.h"
#include "engine/graph/pre_norm_decoder.h"
#include "engine/hparams.h"
#include "engine/models/models.h"

namespace nw {
namespace {

void readQwen2HParams(const ArchKeys &, HParams &) {}

std::unique_ptr<Model> makeQwen2(std::shared_ptr<const GgufFile> file, const HParams &hp,
                                 std::shared_ptr<Backend> backend)
{
    PreNormDecoderSpec spec;
    spec.attention = attentionFromHParams(hp, RopeStyle::Neox);
    return makePreNormDecoder(std::move(file), hp, std::move(backend), spec);
}

} // namespace

// latent:R applies: the K/V biases enter the latents through the factors (LatentKv).
const Architecture kQwen2Architecture{
    .name = "qwen2",
    .readHParams = readQwen2HParams,
    .makeModel = makeQwen2,
    .kvModes = {KvMode::Full, KvMode::Latent},
    .runsOnDevice = false,
};

} // namespace nw
