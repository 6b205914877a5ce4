// Tiny llama GGUF files with seeded random weights, written with GgufWriter, for the model,
// session and benchmark code: any width, MHA or GQA, any weight type quantizeRow can make, and
// an optional byte-fallback SentencePiece vocabulary so text round-trips.
#pragma once

#include "engine/gguf_writer.h"
#include "kernels/tensor_type.h"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace nw::test {

struct TinyLlamaSpec {
    std::int64_t nLayers = 2;
    std::int64_t nEmbd = 64;
    std::int64_t nFf = 96;
    std::int64_t nHeads = 4;
    std::int64_t nKvHeads = 4;
    std::int64_t nVocab = 64;  // ignored with byteVocab (259 tokens: unk, bos, eos, 256 bytes)
    std::int64_t nCtx = 256;   // llama.context_length
    TensorType weightType = TensorType::F32; // every 2-D weight (norms stay F32)
    bool tiedOutput = false;   // no output.weight: logits from token_embd
    bool byteVocab = false;
    double ropeBase = 10000.0;
    double ropeScale = 1.0;    // linear rope.scaling.factor (1: none)
    bool ropeFreqFactors = false; // rope_freqs.weight (Llama 3.1): per-pair angle divisors in [1, 8]
    std::uint64_t seed = 1;
    float weightScale = 0.5f;  // uniform in ±weightScale / sqrt(row length)
};

// The writer with everything set, for tests that change a key or tensor before writing.
GgufWriter tinyLlamaWriter(const TinyLlamaSpec &spec);
std::vector<std::byte> makeTinyLlama(const TinyLlamaSpec &spec);
void writeTinyLlama(const TinyLlamaSpec &spec, const std::filesystem::path &path);

} // namespace nw::test
