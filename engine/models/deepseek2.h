// The deepseek2 graph (DeepSeek-V2, V2-Lite, V2.5, V3 and their GGUF conversions): multi-head
// latent attention whose cache holds only c_kv and the shared rope key, DeepSeekMoE FFNs after
// leading dense layers, and YaRN rope scaling.
#pragma once

#include "engine/graph/mla_attention.h"
#include "engine/model.h"

namespace nw {

struct Deepseek2Options {
    MlaForm mlaForm = MlaForm::Auto;
};

std::unique_ptr<Model> makeDeepseek2Model(std::shared_ptr<const GgufFile> file, const HParams &hp,
                                          std::shared_ptr<Backend> backend, const Deepseek2Options &options = {});

} // namespace nw
