// Qwen3-MoE (Qwen3-30B-A3B, 235B-A22B; arXiv:2505.09388): Qwen3's attention (QK-norm, NeoX RoPE)
// with a mixture of experts in every layer: softmax over the router's logits, the top-k experts
// with their weights renormalised to sum 1, no shared expert. Tensor names as llama.cpp's
// LLM_ARCH_QWEN3MOE.
#include "common/error.h"
#include "engine/architecture.h"
#include "engine/gguf_file.h"
#include "engine/graph/pre_norm_decoder.h"
#include "engine/hparams.h"
#include "engine/models/models.h"

namespace nw {
namespace {

void readQwen3MoeHParams(const ArchKeys &keys, HParams &hp)
{
    if (hp.nExperts <= 0 || hp.nExpertsUsed <= 0)
        fail("{}: qwen3moe needs expert_count and expert_used_count, got {} and {}", keys.file().label(), hp.nExperts,
             hp.nExpertsUsed);
    if (hp.nFfExpert <= 0) // llama.cpp's fallback for files without the key
        hp.nFfExpert = hp.nFf / hp.nExpertsUsed;
}

std::unique_ptr<Model> makeQwen3Moe(std::shared_ptr<const GgufFile> file, const HParams &hp,
                                    std::shared_ptr<Backend> backend)
{
    PreNormDecoderSpec spec;
    spec.attention = attentionFromHParams(hp, RopeStyle::Neox);
    spec.attention.qkNorm = true;
    MoeConfig moe;
    moe.routing.gating = MoeGating::Softmax;
    moe.routing.nExperts = int(hp.nExperts);
    moe.routing.nUsed = int(hp.nExpertsUsed);
    moe.routing.normalize = true;
    moe.nFfExpert = hp.nFfExpert;
    spec.moe = moe;
    return makePreNormDecoder(std::move(file), hp, std::move(backend), spec);
}

} // namespace

// No latent:R: QK-norm (see qwen3.cpp).
const Architecture kQwen3MoeArchitecture{
    .name = "qwen3moe",
    .readHParams = readQwen3MoeHParams,
    .makeModel = makeQwen3Moe,
    .kvModes = {KvMode::Full},
    .runsOnDevice = false,
};

} // namespace nw
