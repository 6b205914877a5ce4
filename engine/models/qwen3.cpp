// Qwen3 dense (arXiv:2505.09388): the pre-norm layer with RMSNorm on every query and key head
// before RoPE (QK-norm, in place of Qwen2's QKV biases), RoPE on NeoX halves, a SwiGLU FFN.
// Tensor names as llama.cpp's LLM_ARCH_QWEN3.
#include "engine/architecture.h"
#include "engine/graph/pre_norm_decoder.h"
#include "engine/hparams.h"
#include "engine/models/models.h"

namespace nw {
namespace {

void readQwen3HParams(const ArchKeys &, HParams &) {}

std::unique_ptr<Model> makeQwen3(std::shared_ptr<const GgufFile> file, const HParams &hp,
                                 std::shared_ptr<Backend> backend)
{
    PreNormDecoderSpec spec;
    spec.attention = attentionFromHParams(hp, RopeStyle::Neox);
    spec.attention.qkNorm = true;
    return makePreNormDecoder(std::move(file), hp, std::move(backend), spec);
}

} // namespace

// No latent:R: the per-head norm makes the keys a nonlinear function of the input, so a
// factorisation of W_k does not carry over to them.
const Architecture kQwen3Architecture{
    .name = "qwen3",
    .readHParams = readQwen3HParams,
    .makeModel = makeQwen3,
    .kvModes = {KvMode::Full},
    .runsOnDevice = false,
};

} // namespace nw
