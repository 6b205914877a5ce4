// Whole-model logits on the CUDA backend against the CPU backend: tiny random llama models
// (MHA and GQA, F32 / Q8_0 / Q4_K weights) and stories260K from ../shared/conformance, prefill
// then token-by-token decode through the device KV cache.
#include "engine/gguf_file.h"
#include "engine/model.h"
#include "kernels/cuda/device_buffer.h"
#include "tests/engine/reference/tiny_llama.h"
#include "tests/support/test_data.h"

#include "tests/support/cuda_test.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <numeric>

using namespace nw;

namespace {

using nw::test::relativeError;

// Prefill `prompt`, then decode `steps` tokens (the CPU's greedy choice fed to both); every
// step's logits within `tol` of the CPU's.
void compareOnModel(std::shared_ptr<const GgufFile> file, std::vector<std::int32_t> prompt, int steps, double tol)
{
    auto gpu = loadModel(file, {.threads = 1, .device = DeviceChoice::Cuda});
    auto cpu = loadModel(file, {.threads = 1, .device = DeviceChoice::Cpu});
    REQUIRE(gpu->backend().memoryKind() == BackendMemory::Device);
    const KvModeSpec full = KvModeSpec::parse("full");
    const std::int64_t capacity = std::int64_t(prompt.size()) + steps + 1;
    auto gpuCache = gpu->makeKvCache(full, capacity);
    auto cpuCache = cpu->makeKvCache(full, capacity);
    std::vector<std::int32_t> positions(prompt.size());
    std::iota(positions.begin(), positions.end(), 0);
    std::vector<float> a, b;
    gpu->forward(prompt, positions, *gpuCache, LogitsFor::All, a);
    cpu->forward(prompt, positions, *cpuCache, LogitsFor::All, b);
    CHECK(relativeError(a, b) <= tol);
    for (int step = 0; step < steps; ++step) {
        const std::size_t nVocab = std::size_t(cpu->hparams().nVocab);
        const auto last = b.end() - std::ptrdiff_t(nVocab);
        const std::int32_t token[1] = {std::int32_t(std::max_element(last, b.end()) - last)};
        const std::int32_t pos[1] = {std::int32_t(prompt.size()) + step};
        gpu->forward(token, pos, *gpuCache, LogitsFor::Last, a);
        cpu->forward(token, pos, *cpuCache, LogitsFor::Last, b);
        CAPTURE(step);
        CHECK(relativeError(a, b) <= tol);
    }
    const auto info = gpu->backend().memoryInfo();
    MESSAGE(gpu->backend().name() << ": " << info.weightsBytes << " weight bytes, " << info.bufferBytes
                                  << " buffer bytes on the device");
}

} // namespace

TEST_CASE("tiny llama models: CUDA logits follow the CPU's (bf16 weights: 2% of the logit scale)")
{
    struct Case {
        const char *name;
        std::int64_t nHeads, nKvHeads;
        TensorType type;
    };
    for (const Case &c : {Case{"MHA F32", 4, 4, TensorType::F32}, Case{"GQA Q8_0", 8, 2, TensorType::Q8_0},
                          Case{"GQA Q4_K", 4, 2, TensorType::Q4_K}}) {
        CAPTURE(c.name);
        nw::test::TinyLlamaSpec spec;
        spec.nLayers = 2;
        spec.nEmbd = c.type == TensorType::Q4_K ? 256 : 128;
        spec.nFf = c.type == TensorType::Q4_K ? 512 : 192;
        spec.nHeads = c.nHeads;
        spec.nKvHeads = c.nKvHeads;
        spec.nVocab = 96;
        spec.weightType = c.type;
        const auto bytes = nw::test::makeTinyLlama(spec);
        std::vector<std::int32_t> prompt(70);
        for (std::size_t i = 0; i < prompt.size(); ++i)
            prompt[i] = std::int32_t((i * 29 + 3) % 96);
        compareOnModel(std::shared_ptr<const GgufFile>(GgufFile::fromMemory(bytes, "tiny.gguf")), prompt, 6, 0.02);
    }
}

TEST_CASE("stories260K: CUDA logits follow the CPU's")
{
    const auto dir = nw::test::conformanceDir();
    if (!dir || !std::filesystem::exists(*dir / "models/stories260K.gguf")) {
        MESSAGE("skipped: ../shared/conformance/models/stories260K.gguf is not here");
        return;
    }
    std::shared_ptr<const GgufFile> file = GgufFile::open((*dir / "models/stories260K.gguf").string());
    std::vector<std::int32_t> prompt = {1, 403, 407, 261, 378, 285, 400, 260, 317, 275};
    compareOnModel(file, prompt, 16, 0.02);
}
