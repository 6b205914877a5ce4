// bench_decode_e2e: end-to-end decode tokens/s of one synthesised llama model on the CPU backend
// and on the CUDA backend, in the same run, and their ratio (issue 5's target: GPU >= 10x CPU).
// The model has random weights in the chosen file type (default: TinyLlama-1.1B's shapes, Q8_0);
// the prompt is prefilled to --ctx tokens, then --gen tokens are decoded one at a time, each
// timed from the forward call to its logits on the host.
//
// Usage: bench_decode_e2e [--embd N] [--layers N] [--ff N] [--heads N] [--kv-heads N] [--vocab N]
//                         [--type q8_0|q4_k|q6_k] [--ctx N] [--gen N] [--threads N] [--cpu-gen N]
#include "bench/bench_main.h"
#include "engine/gguf_file.h"
#include "engine/gguf_writer.h"
#include "engine/model.h"
#include "kernels/device_info.h"
#include "kernels/float16.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <random>
#include <string>
#include <vector>

namespace {

struct Shape {
    std::int64_t nEmbd = 2048, nLayers = 22, nFf = 5632, nHeads = 32, nKvHeads = 4, nVocab = 32000;
    nw::TensorType type = nw::TensorType::Q8_0;
};

// Random blocks of `type` written directly (quantizing a billion floats would take minutes):
// random quant bytes with every f16 scale set to a small value, so activations stay finite.
std::vector<std::byte> randomBlocks(nw::TensorType type, std::int64_t rows, std::int64_t cols, std::mt19937_64 &rng)
{
    const auto &traits = nw::tensorTypeTraits(type);
    const std::size_t rowBytes = nw::rowBytes(type, std::size_t(cols));
    std::vector<std::byte> bytes(rowBytes * std::size_t(rows));
    for (std::size_t i = 0; i + 8 <= bytes.size(); i += 8) {
        const std::uint64_t r = rng();
        std::memcpy(bytes.data() + i, &r, 8);
    }
    // Offsets of the f16 scales in one block (ggml layouts, kernels/tensor_type.h).
    std::vector<std::size_t> scales;
    float scale = 0.f;
    if (type == nw::TensorType::Q8_0) {
        scales = {0};
        scale = 0.5f / 127.f / std::sqrt(float(cols));
    } else if (type == nw::TensorType::Q4_K) {
        scales = {0, 2}; // d, dmin
        scale = 1.f / 63.f / 15.f / std::sqrt(float(cols));
    } else {
        scales = {208}; // Q6_K d
        scale = 1.f / 127.f / 32.f / std::sqrt(float(cols));
    }
    const nw::f16_t h = nw::floatToFp16(scale);
    for (std::size_t b = 0; b < bytes.size(); b += traits.blockBytes)
        for (std::size_t off : scales)
            std::memcpy(bytes.data() + b + off, &h, 2);
    return bytes;
}

std::vector<std::byte> synthesise(const Shape &s)
{
    nw::GgufWriter w;
    const std::int64_t headDim = s.nEmbd / s.nHeads;
    w.setString("general.architecture", "llama");
    w.setString("general.name", "bench-decode-e2e");
    w.setUInt32("llama.block_count", std::uint32_t(s.nLayers));
    w.setUInt32("llama.embedding_length", std::uint32_t(s.nEmbd));
    w.setUInt32("llama.feed_forward_length", std::uint32_t(s.nFf));
    w.setUInt32("llama.attention.head_count", std::uint32_t(s.nHeads));
    w.setUInt32("llama.attention.head_count_kv", std::uint32_t(s.nKvHeads));
    w.setUInt32("llama.rope.dimension_count", std::uint32_t(headDim));
    w.setUInt32("llama.context_length", 1u << 17);
    w.setFloat32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
    w.setFloat32("llama.rope.freq_base", 10000.f);
    w.setUInt32("llama.vocab_size", std::uint32_t(s.nVocab));
    std::mt19937_64 rng(42);
    auto matrix = [&](const std::string &name, std::int64_t rows, std::int64_t cols) {
        const auto bytes = randomBlocks(s.type, rows, cols, rng);
        w.addTensor(name, s.type, {cols, rows}, bytes);
    };
    const std::vector<float> ones(std::size_t(s.nEmbd), 1.f);
    matrix("token_embd.weight", s.nVocab, s.nEmbd);
    matrix("output.weight", s.nVocab, s.nEmbd);
    w.addTensor("output_norm.weight", {s.nEmbd}, ones.data(), nw::TensorType::F32);
    for (std::int64_t l = 0; l < s.nLayers; ++l) {
        const std::string p = "blk." + std::to_string(l) + ".";
        w.addTensor(p + "attn_norm.weight", {s.nEmbd}, ones.data(), nw::TensorType::F32);
        w.addTensor(p + "ffn_norm.weight", {s.nEmbd}, ones.data(), nw::TensorType::F32);
        matrix(p + "attn_q.weight", s.nHeads * headDim, s.nEmbd);
        matrix(p + "attn_k.weight", s.nKvHeads * headDim, s.nEmbd);
        matrix(p + "attn_v.weight", s.nKvHeads * headDim, s.nEmbd);
        matrix(p + "attn_output.weight", s.nEmbd, s.nHeads * headDim);
        matrix(p + "ffn_gate.weight", s.nFf, s.nEmbd);
        matrix(p + "ffn_up.weight", s.nFf, s.nEmbd);
        matrix(p + "ffn_down.weight", s.nEmbd, s.nFf);
    }
    return w.toBytes();
}

struct Result {
    std::string backend;
    double loadSeconds = 0, prefillTokensPerSecond = 0, decodeTokensPerSecond = 0;
};

using Clock = std::chrono::steady_clock;
double seconds(Clock::time_point a, Clock::time_point b)
{
    return std::chrono::duration<double>(b - a).count();
}

Result measure(std::shared_ptr<const nw::GgufFile> file, nw::DeviceChoice device, int threads, int ctx, int gen)
{
    Result r;
    const auto t0 = Clock::now();
    auto model = nw::loadModel(file, {.threads = threads, .device = device});
    const auto t1 = Clock::now();
    r.loadSeconds = seconds(t0, t1);
    r.backend = model->backend().name();
    auto cache = model->makeKvCache(nw::KvModeSpec::parse("full"), ctx + gen + 1);
    const std::int32_t nVocab = std::int32_t(model->hparams().nVocab);
    std::vector<float> logits;
    const auto p0 = Clock::now();
    for (int start = 0; start < ctx; start += 512) {
        const int n = std::min(512, ctx - start);
        std::vector<std::int32_t> tokens(static_cast<std::size_t>(n)), positions(static_cast<std::size_t>(n));
        for (int i = 0; i < n; ++i) {
            tokens[std::size_t(i)] = (start + i) * 7919 % nVocab;
            positions[std::size_t(i)] = start + i;
        }
        model->forward(tokens, positions, *cache, nw::LogitsFor::Last, logits);
    }
    const auto p1 = Clock::now();
    r.prefillTokensPerSecond = ctx / seconds(p0, p1);
    std::int32_t token = 1;
    const auto d0 = Clock::now();
    for (int i = 0; i < gen; ++i) {
        const std::int32_t pos = ctx + i;
        model->forward(std::span(&token, 1), std::span(&pos, 1), *cache, nw::LogitsFor::Last, logits);
        token = std::int32_t(std::max_element(logits.begin(), logits.end()) - logits.begin());
    }
    const auto d1 = Clock::now();
    r.decodeTokensPerSecond = gen / seconds(d0, d1);
    return r;
}

int run(int argc, char **argv)
{
    Shape s;
    int ctx = 1024, gen = 32, threads = 0, cpuGen = 8;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        const bool hasValue = i + 1 < argc;
        auto next = [&] { return std::atoll(argv[++i]); };
        if (arg == "--embd" && hasValue) s.nEmbd = next();
        else if (arg == "--layers" && hasValue) s.nLayers = next();
        else if (arg == "--ff" && hasValue) s.nFf = next();
        else if (arg == "--heads" && hasValue) s.nHeads = next();
        else if (arg == "--kv-heads" && hasValue) s.nKvHeads = next();
        else if (arg == "--vocab" && hasValue) s.nVocab = next();
        else if (arg == "--ctx" && hasValue) ctx = int(next());
        else if (arg == "--gen" && hasValue) gen = int(next());
        else if (arg == "--cpu-gen" && hasValue) cpuGen = int(next());
        else if (arg == "--threads" && hasValue) threads = int(next());
        else if (arg == "--type" && hasValue) {
            const std::string t = argv[++i];
            s.type = t == "q4_k" ? nw::TensorType::Q4_K : t == "q6_k" ? nw::TensorType::Q6_K : nw::TensorType::Q8_0;
        } else {
            std::fprintf(stderr, "usage: %s [--embd N] [--layers N] [--ff N] [--heads N] [--kv-heads N] [--vocab N] "
                                 "[--type q8_0|q4_k|q6_k] [--ctx N] [--gen N] [--cpu-gen N] [--threads N]\n", argv[0]);
            return 2;
        }
    }
    const std::size_t blockElements = nw::tensorTypeTraits(s.type).blockElements;
    if (s.nEmbd % s.nHeads != 0 || s.nHeads % s.nKvHeads != 0 || s.nEmbd % std::int64_t(blockElements) != 0
        || s.nFf % std::int64_t(blockElements) != 0 || ctx < 1 || gen < 1 || cpuGen < 1) {
        std::fprintf(stderr, "bad shape: embd and ff must be multiples of %zu, heads must divide embd, kv-heads "
                             "must divide heads\n", blockElements);
        return 2;
    }
    std::printf("synthesising llama: embd %lld, layers %lld, ff %lld, heads %lld (kv %lld), vocab %lld, %s\n",
                (long long)s.nEmbd, (long long)s.nLayers, (long long)s.nFf, (long long)s.nHeads,
                (long long)s.nKvHeads, (long long)s.nVocab, std::string(nw::tensorTypeName(s.type)).c_str());
    std::fflush(stdout);
    const std::vector<std::byte> bytes = synthesise(s);
    std::shared_ptr<const nw::GgufFile> file = nw::GgufFile::fromMemory(bytes, "bench-decode-e2e.gguf");
    std::printf("%.2f GiB of weights; context %d, decode %d tokens (CPU: %d)\n",
                double(bytes.size()) / (1 << 30), ctx, gen, cpuGen);

    std::vector<Result> results;
    results.push_back(measure(file, nw::DeviceChoice::Cpu, threads, ctx, cpuGen));
    const nw::GpuInfo &gpu = nw::gpuInfo();
    const bool haveGpu = gpu.built && !gpu.devices.empty();
    if (haveGpu)
        results.push_back(measure(file, nw::DeviceChoice::Cuda, threads, ctx, gen));
    std::printf("\n%-48s %10s %14s %14s\n", "backend", "load s", "prefill tok/s", "decode tok/s");
    for (const Result &r : results)
        std::printf("%-48s %10.2f %14.1f %14.2f\n", r.backend.c_str(), r.loadSeconds, r.prefillTokensPerSecond,
                    r.decodeTokensPerSecond);
    if (haveGpu)
        std::printf("\nCUDA / CPU decode: %.1fx (target >= 10x), prefill: %.1fx\n",
                    results[1].decodeTokensPerSecond / results[0].decodeTokensPerSecond,
                    results[1].prefillTokensPerSecond / results[0].prefillTokensPerSecond);
    else
        std::printf("\nno CUDA device (%s): the GPU figures were not measured\n", gpu.status.c_str());
    return 0;
}

} // namespace

int main(int argc, char **argv)
{
    return nw::bench::runMain("bench_decode_e2e", run, argc, argv);
}
