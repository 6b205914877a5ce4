// A plain float64 llama transformer for tests: no cache, no backend, no engine code — loops
// over weights dequantized with quantize.h, following the llama2.c / Llama paper equations.
// It is the independent reference the engine's logits are checked against.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace nw {
class GgufFile;
}

namespace nw::test {

// Logits [tokens.size()][nVocab] for a sequence starting at position 0, every position scored.
std::vector<std::vector<double>> referenceLlamaLogits(const GgufFile &file, std::span<const std::int32_t> tokens);

} // namespace nw::test
