// The Qwen3.5 / Qwen3.6 hybrid decoder (qwen35 dense, qwen35moe with experts): three of every
// four layers are Gated DeltaNet, the fourth gated full attention; models/qwen35.cpp has the graph
// both architectures share.
#pragma once

#include "engine/model.h"

namespace nw {

class ArchKeys;

// The ssm.* keys, the recurrent layer pattern, the rope sections and the multi-token-prediction
// layers (which nLayers leaves out); shared by qwen35 and qwen35moe.
void readQwen35HParams(const ArchKeys &keys, HParams &hp);

// moe: every layer's FFN is a mixture of experts with a gated shared expert (qwen35moe).
std::unique_ptr<Model> makeQwen35Model(
    std::shared_ptr<const GgufFile> file, const HParams &hp, std::shared_ptr<Backend> backend, bool moe);

} // namespace nw
