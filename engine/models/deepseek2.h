// The deepseek2 graph (DeepSeek-V2, V2-Lite, V2.5, V3 and their GGUF conversions): multi-head
// latent attention whose cache holds only c_kv and the shared rope key, DeepSeekMoE FFNs after
// leading dense layers, and YaRN rope scaling; with the lightning indexer, DeepSeek V3.2
// (models/deepseek32.cpp).
#pragma once

#include "engine/graph/mla_attention.h"
#include "engine/model.h"

namespace nw {

struct Deepseek2Options {
    MlaForm mlaForm = MlaForm::Auto;
};

class ArchKeys;
struct HParams;

// The deepseek2.* keys (MLA ranks and head dims, MoE counts and routing); deepseek32 reads the
// same ones under its own prefix.
void readDeepseek2HParams(const ArchKeys &keys, HParams &hp);

// The deepseek2 graph, with V3.2's lightning indexer in every layer when hp.indexerHeadDim > 0.
std::unique_ptr<Model> makeDeepseek2Model(std::shared_ptr<const GgufFile> file, const HParams &hp,
    std::shared_ptr<Backend> backend, const Deepseek2Options &options = {});

} // namespace nw
