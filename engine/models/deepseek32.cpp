// DeepSeek V3.2 (DeepSeek-V3.2-Exp, arXiv 2512.02556 "DeepSeek Sparse Attention"): the deepseek2
// graph — MLA, DeepSeekMoE with sigmoid routing and selection bias — whose attention reads only
// the top-k tokens the lightning indexer picks for each query (engine/graph/lightning_indexer.h).
// The cache holds the MLA latent of every token and the indexer's key of every token
// (engine/kv_deepseek.cpp). Keys and tensor names as llama.cpp's LLM_ARCH_DEEPSEEK32.
#include "common/error.h"
#include "engine/architecture.h"
#include "engine/gguf_file.h"
#include "engine/hparams.h"
#include "engine/models/deepseek2.h"
#include "engine/models/models.h"

#include <cstdint>
#include <limits>

namespace nw {
namespace {

void readDeepseek32HParams(const ArchKeys &keys, HParams &hp)
{
    readDeepseek2HParams(keys, hp);
    hp.indexerHeads = keys.requireInt("attention.indexer.head_count");
    hp.indexerHeadDim = keys.requireInt("attention.indexer.key_length");
    hp.indexerTopK = keys.requireInt("attention.indexer.top_k");
    const std::string &label = keys.file().label();
    constexpr std::int64_t kMax = std::numeric_limits<std::int32_t>::max(); // the graph holds them as int
    const auto outside = [](std::int64_t v) { return v <= 0 || v > kMax; };
    if (outside(hp.indexerHeads) || outside(hp.indexerHeadDim) || outside(hp.indexerTopK))
        fail("{}: the indexer needs positive head_count, key_length and top_k up to {}; got {}, {}, {}", label, kMax,
            hp.indexerHeads, hp.indexerHeadDim, hp.indexerTopK);
    if (hp.qkRopeHeadDim > hp.indexerHeadDim)
        fail("{}: indexer keys of {} cannot hold the {} rope dims", label, hp.indexerHeadDim, hp.qkRopeHeadDim);
    if (hp.indexerHeadDim % 64 != 0)
        fail("{}: attention.indexer.key_length {} is not a multiple of 64 (its Hadamard rotation)", label,
            hp.indexerHeadDim);
}

std::unique_ptr<Model> makeDeepseek32(
    std::shared_ptr<const GgufFile> file, const HParams &hp, std::shared_ptr<Backend> backend)
{
    return makeDeepseek2Model(std::move(file), hp, std::move(backend));
}

} // namespace

// Only the latent cache: the indexer's choice is made over it (there is no `full` form here).
const Architecture kDeepseek32Architecture {
    .name = "deepseek32",
    .readHParams = readDeepseek32HParams,
    .makeModel = makeDeepseek32,
    .kvModes = { KvMode::Mla },
    .runsOnDevice = false,
};

} // namespace nw
