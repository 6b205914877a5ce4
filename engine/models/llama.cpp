// Llama (Llama 1/2/3, Mistral, TinyLlama, llama2.c stories; arXiv:2302.13971): the pre-norm layer
// with GQA, RoPE on adjacent pairs (GGUF permutes Q/K rows at conversion), Llama 3.1's per-pair
// frequency divisors when the file has them, and a SwiGLU FFN. Tensor names as llama.cpp's
// LLM_ARCH_LLAMA.
#include "engine/architecture.h"
#include "engine/graph/pre_norm_decoder.h"
#include "engine/hparams.h"
#include "engine/models/models.h"

namespace nw {
namespace {

void readLlamaHParams(const ArchKeys &, HParams &) {}

std::unique_ptr<Model> makeLlama(std::shared_ptr<const GgufFile> file, const HParams &hp,
                                 std::shared_ptr<Backend> backend)
{
    PreNormDecoderSpec spec;
    spec.attention = attentionFromHParams(hp, RopeStyle::Adjacent);
    spec.ropeFactors = "rope_freqs.weight";
    return makePreNormDecoder(std::move(file), hp, std::move(backend), spec);
}

} // namespace

const Architecture kLlamaArchitecture{
    .name = "llama",
    .readHParams = readLlamaHParams,
    .makeModel = makeLlama,
    .kvModes = {KvMode::Full, KvMode::Latent},
    .runsOnDevice = true,
};

} // namespace nw
