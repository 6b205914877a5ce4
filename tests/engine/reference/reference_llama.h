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
// emulateActivationQuant: round each matmul's input through the activation format ggml pairs
// with the weight type (Q8_0 for Q8_0/Q4_0, Q8_K for K-quants), as the engine's CPU kernels do,
// so quantized models can be compared tightly; off, it is the exact float64 model.
// window > 0: position t attends to positions s with t - window < s <= t, and to the first
// sinkTokens positions (StreamingLLM), each with the RoPE of its original position.
std::vector<std::vector<double>> referenceLlamaLogits(const GgufFile &file, std::span<const std::int32_t> tokens,
    bool emulateActivationQuant = false, std::int64_t window = 0, std::int64_t sinkTokens = 0);

// SnapKV (Li et al. 2024, arXiv:2404.14469 §4.2) on the first `promptTokens` tokens: the prompt
// runs with full attention; then per layer and KV head the keys before the observation window
// (the prompt's last `window` tokens) are scored by the window queries' softmax weights, summed
// over the window and the group's query heads, max-pooled (kernel `kernel`, -inf padding), and
// the top `budget` (earlier first among equals) are kept with the window. Later tokens see the
// kept prompt tokens of their KV head and every later token, each key with the RoPE of its
// original position. `selection`, when given: [layer][kvHead] the kept prompt positions, ascending.
using SnapKvSelection = std::vector<std::vector<std::vector<std::int64_t>>>;
std::vector<std::vector<double>> referenceLlamaSnapKvLogits(const GgufFile &file, std::span<const std::int32_t> tokens,
    std::int64_t promptTokens, std::int64_t budget, SnapKvSelection *selection = nullptr, std::int64_t window = 32,
    std::int64_t kernel = 7);

} // namespace nw::test
