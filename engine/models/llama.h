// The llama graph (Llama 1/2/3, Mistral, TinyLlama, llama2.c stories): RMSNorm, MHA/GQA with
// rope on adjacent pairs, SwiGLU FFN, optionally tied output embedding.
#pragma once

#include "engine/model.h"

namespace nw {

std::unique_ptr<Model> makeLlamaModel(std::shared_ptr<const GgufFile> file, const HParams &hp,
                                      std::shared_ptr<Backend> backend);

} // namespace nw
