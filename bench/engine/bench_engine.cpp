// Prefill and decode speed of the llama graph on a Llama-3.2-1B-shaped model (16 layers, width
// 2048, FFN 8192, 32 heads / 8 KV heads of 64, vocab 128256, tied embeddings) with random
// weights in Q8_0 and Q4_K, written with GgufWriter to a temporary directory. When llama-bench
// is on PATH it measures the same file in the same run and the ratio is printed; otherwise that
// column is left out.
//
// nw_bench_engine [--threads N] [--prompt P] [--gen G] [--types q8_0,q4_k] [--dir D] [--layers L]
#include "engine/gguf_file.h"
#include "engine/gguf_writer.h"
#include "engine/model.h"
#include "kernels/cpu/quantize.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <numeric>
#include <optional>
#include <random>
#include <regex>
#include <string>
#include <thread>
#include <vector>

namespace fs = std::filesystem;
using namespace nw;

namespace {

struct Shape {
    std::int64_t layers = 16, embd = 2048, ff = 8192, heads = 32, kvHeads = 8, vocab = 128256;
};

// Rows of uniform noise quantized one at a time, so no tensor is ever held in f32.
std::vector<std::byte> randomRows(std::mt19937_64 &rng, TensorType type, std::int64_t rows, std::int64_t cols, float scale)
{
    std::uniform_real_distribution<float> dist(-scale, scale);
    const std::size_t rowSize = rowBytes(type, static_cast<std::size_t>(cols));
    std::vector<std::byte> bytes(rowSize * static_cast<std::size_t>(rows));
    std::vector<float> row(static_cast<std::size_t>(cols));
    for (std::int64_t r = 0; r < rows; ++r) {
        for (float &x : row)
            x = dist(rng);
        quantizeRow(type, row.data(), bytes.data() + static_cast<std::size_t>(r) * rowSize, row.size());
    }
    return bytes;
}

void synthesize(const fs::path &path, TensorType type, const Shape &s)
{
    GgufWriter w;
    std::mt19937_64 rng(1234);
    const std::int64_t headDim = s.embd / s.heads;
    w.setString("general.architecture", "llama");
    w.setString("general.name", "llama-3.2-1b-shaped random");
    w.setUInt32("llama.block_count", static_cast<std::uint32_t>(s.layers));
    w.setUInt32("llama.embedding_length", static_cast<std::uint32_t>(s.embd));
    w.setUInt32("llama.feed_forward_length", static_cast<std::uint32_t>(s.ff));
    w.setUInt32("llama.attention.head_count", static_cast<std::uint32_t>(s.heads));
    w.setUInt32("llama.attention.head_count_kv", static_cast<std::uint32_t>(s.kvHeads));
    w.setUInt32("llama.rope.dimension_count", static_cast<std::uint32_t>(headDim));
    w.setUInt32("llama.context_length", 131072);
    w.setUInt32("llama.vocab_size", static_cast<std::uint32_t>(s.vocab));
    w.setFloat32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
    w.setFloat32("llama.rope.freq_base", 500000.f);
    w.setUInt32("general.file_type", type == TensorType::Q8_0 ? 7u : 15u); // MOSTLY_Q8_0 / MOSTLY_Q4_K_M
    // A minimal vocabulary so llama-bench (which needs one) can load the file.
    std::vector<std::string> tokens(static_cast<std::size_t>(s.vocab));
    for (std::size_t i = 0; i < tokens.size(); ++i)
        tokens[i] = "t" + std::to_string(i);
    w.setString("tokenizer.ggml.model", "gpt2");
    w.setString("tokenizer.ggml.pre", "default");
    w.setStringArray("tokenizer.ggml.tokens", tokens);
    std::vector<std::int32_t> types(tokens.size(), 1);
    w.setInt32Array("tokenizer.ggml.token_type", types);
    const std::vector<std::string> merges = {"t 1"};
    w.setStringArray("tokenizer.ggml.merges", merges);
    w.setUInt32("tokenizer.ggml.bos_token_id", 0);
    w.setUInt32("tokenizer.ggml.eos_token_id", 1);

    auto matrix = [&](const std::string &name, std::int64_t cols, std::int64_t rows) {
        const auto bytes = randomRows(rng, type, rows, cols, 1.f / std::sqrt(static_cast<float>(cols)));
        w.addTensor(name, type, {cols, rows}, bytes);
    };
    std::vector<float> ones(static_cast<std::size_t>(s.embd), 1.f);
    w.addTensor("token_embd.weight", type, {s.embd, s.vocab}, randomRows(rng, type, s.vocab, s.embd, 1.f));
    w.addTensor("output_norm.weight", {s.embd}, ones.data(), TensorType::F32);
    for (std::int64_t l = 0; l < s.layers; ++l) {
        const std::string p = "blk." + std::to_string(l) + ".";
        w.addTensor(p + "attn_norm.weight", {s.embd}, ones.data(), TensorType::F32);
        w.addTensor(p + "ffn_norm.weight", {s.embd}, ones.data(), TensorType::F32);
        matrix(p + "attn_q.weight", s.embd, s.heads * headDim);
        matrix(p + "attn_k.weight", s.embd, s.kvHeads * headDim);
        matrix(p + "attn_v.weight", s.embd, s.kvHeads * headDim);
        matrix(p + "attn_output.weight", s.heads * headDim, s.embd);
        matrix(p + "ffn_gate.weight", s.embd, s.ff);
        matrix(p + "ffn_up.weight", s.embd, s.ff);
        matrix(p + "ffn_down.weight", s.ff, s.embd);
    }
    w.write(path);
}

struct Speed {
    double prefill = 0.0; // tokens/s
    double decode = 0.0;
};

Speed measure(const fs::path &path, int threads, int nPrompt, int nGen)
{
    std::shared_ptr<GgufFile> file = GgufFile::open(path);
    auto model = loadModel(file, {.threads = threads});
    auto cache = model->makeKvCache(KvModeSpec::parse("full"), nPrompt + nGen + 1);
    std::vector<std::int32_t> prompt(static_cast<std::size_t>(nPrompt));
    for (std::size_t i = 0; i < prompt.size(); ++i)
        prompt[i] = static_cast<std::int32_t>((i * 7919) % static_cast<std::size_t>(model->hparams().nVocab));
    std::vector<std::int32_t> positions(prompt.size());
    std::iota(positions.begin(), positions.end(), 0);
    std::vector<float> logits;
    using Clock = std::chrono::steady_clock;

    // Warm-up: touches every weight page once so the first pass does not time the page cache.
    model->forward(std::span(prompt).first(16), std::span(positions).first(16), *cache, LogitsFor::Last, logits);

    Speed speed;
    const int chunk = 512;
    auto t0 = Clock::now();
    for (int start = 0; start < nPrompt; start += chunk) {
        const int len = std::min(chunk, nPrompt - start);
        model->forward(std::span(prompt).subspan(static_cast<std::size_t>(start), static_cast<std::size_t>(len)),
                       std::span(positions).subspan(static_cast<std::size_t>(start), static_cast<std::size_t>(len)),
                       *cache, LogitsFor::Last, logits);
    }
    speed.prefill = nPrompt / std::chrono::duration<double>(Clock::now() - t0).count();

    t0 = Clock::now();
    for (int i = 0; i < nGen; ++i) {
        const std::int32_t next = static_cast<std::int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
        const std::int32_t one[] = {next};
        const std::int32_t pos[] = {nPrompt + i};
        model->forward(one, pos, *cache, LogitsFor::Last, logits);
    }
    speed.decode = nGen / std::chrono::duration<double>(Clock::now() - t0).count();
    return speed;
}

std::optional<std::string> findOnPath(const std::string &name)
{
    const char *path = std::getenv("PATH");
    if (!path)
        return std::nullopt;
    std::string p(path);
    for (std::size_t start = 0; start <= p.size();) {
        const std::size_t end = std::min(p.find(':', start), p.size());
        const fs::path candidate = fs::path(p.substr(start, end - start)) / name;
        if (!candidate.empty() && fs::exists(candidate))
            return candidate.string();
        start = end + 1;
    }
    return std::nullopt;
}

// llama-bench's mean tokens/s for its pp (n_prompt > 0) and tg (n_gen > 0) tests, from -o json.
std::optional<Speed> llamaBench(const std::string &exe, const fs::path &model, int threads, int nPrompt, int nGen)
{
    const std::string cmd = exe + " -m '" + model.string() + "' -p " + std::to_string(nPrompt) + " -n " +
                            std::to_string(nGen) + " -t " + std::to_string(threads) + " -r 2 -o json 2>/dev/null";
    FILE *pipe = popen(cmd.c_str(), "r");
    if (!pipe)
        return std::nullopt;
    std::string out;
    std::array<char, 4096> buf{};
    while (std::size_t n = std::fread(buf.data(), 1, buf.size(), pipe))
        out.append(buf.data(), n);
    if (pclose(pipe) != 0)
        return std::nullopt;
    Speed s;
    const std::regex record(R"re("n_prompt":\s*(\d+),\s*"n_gen":\s*(\d+),[\s\S]*?"avg_ts":\s*([0-9.eE+-]+))re");
    for (auto it = std::sregex_iterator(out.begin(), out.end(), record); it != std::sregex_iterator(); ++it) {
        const double ts = std::stod((*it)[3]);
        if (std::stoi((*it)[1]) > 0)
            s.prefill = ts;
        else if (std::stoi((*it)[2]) > 0)
            s.decode = ts;
    }
    if (s.prefill == 0.0 && s.decode == 0.0)
        return std::nullopt;
    return s;
}

} // namespace

int main(int argc, char **argv)
{
    int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    int nPrompt = 512, nGen = 64;
    std::string typeList = "q8_0,q4_k";
    fs::path dir = fs::temp_directory_path() / "nw_bench_engine";
    Shape shape;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i], v = argv[i + 1];
        if (a == "--threads") threads = std::stoi(v);
        else if (a == "--prompt") nPrompt = std::stoi(v);
        else if (a == "--gen") nGen = std::stoi(v);
        else if (a == "--types") typeList = v;
        else if (a == "--dir") dir = v;
        else if (a == "--layers") shape.layers = std::stoi(v);
        else {
            std::fprintf(stderr, "unknown option %s\n", a.c_str());
            return 2;
        }
    }
    fs::create_directories(dir);
    const auto llama = findOnPath("llama-bench");
    std::printf("Llama-3.2-1B-shaped (layers %lld), random weights, %d threads, prefill %d, decode %d%s\n",
                static_cast<long long>(shape.layers), threads, nPrompt, nGen,
                llama ? ", against llama-bench" : " (llama-bench not on PATH: no ratio)");
    std::printf("%-6s %10s %14s %14s", "type", "size MiB", "prefill tok/s", "decode tok/s");
    if (llama)
        std::printf(" %14s %14s %8s %8s", "llama pp tok/s", "llama tg tok/s", "pp x", "tg x");
    std::printf("\n");
    std::fflush(stdout);
    for (const auto &[name, type] : {std::pair{std::string("q8_0"), TensorType::Q8_0}, std::pair{std::string("q4_k"), TensorType::Q4_K}}) {
        if (typeList.find(name) == std::string::npos)
            continue;
        const fs::path path = dir / ("llama1b-" + name + "-L" + std::to_string(shape.layers) + ".gguf");
        if (!fs::exists(path))
            synthesize(path, type, shape);
        const Speed ours = measure(path, threads, nPrompt, nGen);
        std::printf("%-6s %10.0f %14.2f %14.2f", name.c_str(), static_cast<double>(fs::file_size(path)) / 1048576.0,
                    ours.prefill, ours.decode);
        std::fflush(stdout); // our figures stand even if llama-bench never returns
        if (llama) {
            if (const auto theirs = llamaBench(*llama, path, threads, nPrompt, nGen))
                std::printf(" %14.2f %14.2f %8.2f %8.2f", theirs->prefill, theirs->decode, ours.prefill / theirs->prefill,
                            ours.decode / theirs->decode);
            else
                std::printf(" %14s", "(llama-bench failed)");
        }
        std::printf("\n");
        std::fflush(stdout);
    }
    return 0;
}
