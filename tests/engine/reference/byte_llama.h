// A tiny random llama with a byte-fallback vocabulary, loaded and ready to generate: the fixture
// of the generator's and the server's tests, with their f32-row cache and greedy options.
#pragma once

#include "engine/generator.h"
#include "engine/gguf_file.h"
#include "engine/kv_cache.h"
#include "engine/model.h"
#include "engine/tokenizer.h"
#include "tests/engine/reference/tiny_llama.h"

#include <memory>
#include <vector>

namespace nw::test {

struct ByteLlama {
    std::vector<std::byte> bytes;
    std::shared_ptr<GgufFile> file;
    std::unique_ptr<Model> model;
    std::unique_ptr<Tokenizer> tokenizer;

    ByteLlama()
    {
        TinyLlamaSpec spec;
        spec.byteVocab = true;
        spec.nKvHeads = 2;
        spec.weightScale = 1.5f;
        spec.seed = 21;
        bytes = makeTinyLlama(spec);
        file = GgufFile::fromMemory(bytes, "tiny-bytes.gguf");
        model = loadModel(file, { .threads = 2 });
        tokenizer = Tokenizer::fromGguf(*file);
    }
};

// The full mode with f32 rows, so the float64 reference's tokens are reproduced exactly.
inline KvModeSpec f32Rows()
{
    KvModeSpec spec = KvModeSpec::parse("full");
    spec.rowType = TensorType::F32;
    return spec;
}

inline GenerateOptions greedy(int maxTokens)
{
    GenerateOptions o;
    o.maxTokens = maxTokens;
    o.sampler.greedy = true;
    return o;
}

} // namespace nw::test
