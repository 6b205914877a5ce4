// Decode speed against llama.cpp in the same run: writes a synthetic llama GGUF whose decode is
// dominated by memory-bound matmuls (n_embd 2048, n_ff 8192, 6 layers, random quantized weights,
// the stories260K tokenizer), times our CPU decode on it, runs `llama-bench -p 0 -n N` on the
// same file (when llama-bench is on PATH) and prints tokens/s, weight GB/s and the ratio.
//
//   bench_decode_vs_llama_cpp [Q4_0|Q4_K|Q8_0] [tokens] [threads,...]
#include "engine/gguf_file.h"
#include "engine/gguf_writer.h"
#include "engine/kv_cache.h"
#include "engine/model.h"
#include "kernels/tensor_type.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace {

constexpr std::int64_t kEmbd = 2048, kFf = 8192, kLayers = 6, kHeads = 16;

std::filesystem::path tokenizerSource()
{
    if (const char *dir = std::getenv("NW_CONFORMANCE_DIR"))
        return std::filesystem::path(dir) / "models/stories260K.gguf";
    return std::filesystem::path(NW_SOURCE_DIR) / "../shared/conformance/models/stories260K.gguf";
}

// Random blocks of `type` with a small finite scale in every f16 scale field (speed is all
// that is measured; the values only need to stay finite).
std::vector<std::byte> randomWeights(nw::TensorType type, std::int64_t rows, std::int64_t cols, std::mt19937 &rng)
{
    const std::size_t bytes = nw::rowBytes(type, std::size_t(cols)) * std::size_t(rows);
    std::vector<std::byte> out(bytes);
    // xorshift64, 8 bytes a step: hundreds of MiB of noise in well under a second.
    std::uint64_t state = (std::uint64_t(rng()) << 32) | rng() | 1u;
    for (std::size_t at = 0; at < bytes; at += 8) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        std::memcpy(&out[at], &state, std::min<std::size_t>(8, bytes - at));
    }
    const auto &traits = nw::tensorTypeTraits(type);
    const std::uint16_t scale = 0x1c00; // f16 0.0039
    for (std::size_t at = 0; at < bytes; at += traits.blockBytes) {
        std::memcpy(&out[at], &scale, 2); // d of Q4_0 / Q8_0 / Q4_K
        if (type == nw::TensorType::Q4_K)
            std::memcpy(&out[at + 2], &scale, 2); // dmin
    }
    return out;
}

void writeModel(const std::filesystem::path &path, nw::TensorType type)
{
    const auto tokenizer = nw::GgufFile::open(tokenizerSource());
    nw::GgufWriter w;
    w.setString("general.architecture", "llama");
    w.setString("general.name", "needlework synthetic decode benchmark");
    w.setUInt32("llama.context_length", 2048);
    w.setUInt32("llama.embedding_length", kEmbd);
    w.setUInt32("llama.block_count", kLayers);
    w.setUInt32("llama.feed_forward_length", kFf);
    w.setUInt32("llama.attention.head_count", kHeads);
    w.setUInt32("llama.attention.head_count_kv", kHeads);
    w.setUInt32("llama.rope.dimension_count", kEmbd / kHeads);
    w.setFloat32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
    for (const auto &[key, value] : tokenizer->metadata())
        if (key.rfind("tokenizer.", 0) == 0)
            w.setValue(key, *tokenizer->findValueType(key), value);
    const auto nVocab = static_cast<std::int64_t>(tokenizer->requireArray("tokenizer.ggml.tokens").values.size());

    std::mt19937 rng(1);
    const std::vector<float> ones(kFf, 1.f);
    const auto matrix = [&](const std::string &name, std::int64_t cols, std::int64_t rows) {
        const auto bytes = randomWeights(type, rows, cols, rng);
        w.addTensor(name, type, {cols, rows}, bytes);
    };
    matrix("token_embd.weight", kEmbd, nVocab);
    w.addTensor("output_norm.weight", {kEmbd}, ones.data(), nw::TensorType::F32);
    matrix("output.weight", kEmbd, nVocab);
    for (std::int64_t il = 0; il < kLayers; ++il) {
        const std::string p = "blk." + std::to_string(il) + ".";
        w.addTensor(p + "attn_norm.weight", {kEmbd}, ones.data(), nw::TensorType::F32);
        w.addTensor(p + "ffn_norm.weight", {kEmbd}, ones.data(), nw::TensorType::F32);
        matrix(p + "attn_q.weight", kEmbd, kEmbd);
        matrix(p + "attn_k.weight", kEmbd, kEmbd);
        matrix(p + "attn_v.weight", kEmbd, kEmbd);
        matrix(p + "attn_output.weight", kEmbd, kEmbd);
        matrix(p + "ffn_gate.weight", kEmbd, kFf);
        matrix(p + "ffn_up.weight", kEmbd, kFf);
        matrix(p + "ffn_down.weight", kFf, kEmbd);
    }
    w.write(path);
}

double processCpuSeconds()
{
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

// Our decode: one prompt token, then `tokens` single-token steps; tokens/s over those steps, by
// wall time and (cpuTokensPerSecond) by process CPU time, which on a busy machine is what one
// thread would do alone.
double ourDecode(const std::filesystem::path &path, int threads, int tokens, std::uint64_t &weightBytes,
                 double &cpuTokensPerSecond)
{
    std::shared_ptr<const nw::GgufFile> file = nw::GgufFile::open(path);
    nw::ModelOptions options;
    options.threads = threads;
    auto model = nw::loadModel(file, options);
    weightBytes = model->weightsBytes();
    auto cache = model->makeKvCache(nw::KvModeSpec{}, tokens + 8);
    std::vector<float> logits;
    std::int32_t token = 1;
    std::int32_t pos = 0;
    model->forward({&token, 1}, {&pos, 1}, *cache, nw::LogitsFor::Last, logits);
    const auto t0 = std::chrono::steady_clock::now();
    const double c0 = processCpuSeconds();
    for (int i = 0; i < tokens; ++i) {
        token = static_cast<std::int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
        pos = i + 1;
        model->forward({&token, 1}, {&pos, 1}, *cache, nw::LogitsFor::Last, logits);
    }
    cpuTokensPerSecond = tokens / (processCpuSeconds() - c0);
    return tokens / std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// llama-bench's average tokens/s for tg `tokens` on `threads`, or 0 when it cannot be run.
double llamaCppDecode(const std::filesystem::path &path, int threads, int tokens)
{
    const std::string cmd = "llama-bench -m '" + path.string() + "' -p 0 -n " + std::to_string(tokens) + " -t " +
                            std::to_string(threads) + " -r 3 -o csv 2>/dev/null";
    FILE *pipe = popen(cmd.c_str(), "r");
    if (!pipe)
        return 0;
    std::string text;
    std::array<char, 4096> buffer;
    while (std::fgets(buffer.data(), int(buffer.size()), pipe))
        text += buffer.data();
    if (pclose(pipe) != 0)
        return 0;
    // CSV: a header line with "avg_ts", then one line per test.
    std::istringstream lines(text);
    std::string header, row, line;
    while (std::getline(lines, line)) {
        if (line.find("avg_ts") != std::string::npos)
            header = line;
        else if (!header.empty() && !line.empty())
            row = line;
    }
    const auto split = [](const std::string &s) {
        std::vector<std::string> out;
        std::string cell;
        bool quoted = false;
        for (char c : s) {
            if (c == '"')
                quoted = !quoted;
            else if (c == ',' && !quoted) {
                out.push_back(cell);
                cell.clear();
            } else
                cell += c;
        }
        out.push_back(cell);
        return out;
    };
    const auto names = split(header), values = split(row);
    for (std::size_t i = 0; i < names.size() && i < values.size(); ++i)
        if (names[i] == "avg_ts")
            return std::atof(values[i].c_str());
    return 0;
}

} // namespace

int main(int argc, char **argv)
{
    const std::string typeName = argc > 1 ? argv[1] : "Q4_0";
    const int tokens = argc > 2 ? std::atoi(argv[2]) : 32;
    std::vector<int> threadCounts;
    {
        std::istringstream list(argc > 3 ? argv[3] : "1,2");
        std::string item;
        while (std::getline(list, item, ','))
            threadCounts.push_back(std::atoi(item.c_str()));
    }
    nw::TensorType type = nw::TensorType::Q4_0;
    if (typeName == "Q4_K")
        type = nw::TensorType::Q4_K;
    else if (typeName == "Q8_0")
        type = nw::TensorType::Q8_0;
    const auto path = std::filesystem::temp_directory_path() / ("nw_decode_bench_" + typeName + ".gguf");
    try {
        writeModel(path, type);
    } catch (const std::exception &e) {
        std::fprintf(stderr, "cannot write the benchmark model: %s\n", e.what());
        return 1;
    }
    std::printf("synthetic llama: n_embd %lld, n_ff %lld, %lld layers, %s weights, %d decode tokens\n",
                static_cast<long long>(kEmbd), static_cast<long long>(kFf), static_cast<long long>(kLayers),
                typeName.c_str(), tokens);
    std::printf("%7s %12s %12s %15s %8s %16s\n", "threads", "ours tok/s", "ours GB/s", "llama.cpp tok/s", "ratio",
                "ours cpu-time t/s");
    for (int threads : threadCounts) {
        std::uint64_t weightBytes = 0;
        double oursCpu = 0;
        const double ours = ourDecode(path, threads, tokens, weightBytes, oursCpu);
        const double peer = llamaCppDecode(path, threads, tokens);
        if (peer > 0)
            std::printf("%7d %12.2f %12.2f %15.2f %8.2f %16.2f\n", threads, ours, ours * double(weightBytes) / 1e9, peer,
                        ours / peer, oursCpu * threads);
        else
            std::printf("%7d %12.2f %12.2f %15s %8s %16.2f\n", threads, ours, ours * double(weightBytes) / 1e9, "n/a",
                        "-", oursCpu * threads);
    }
    std::filesystem::remove(path);
    return 0;
}
