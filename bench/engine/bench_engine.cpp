// Prefill and decode speed of the llama graph on a Llama-3.2-1B-shaped model (16 layers, width
// 2048, FFN 8192, 32 heads / 8 KV heads of 64, vocab 128256, tied embeddings) with random
// weights in Q8_0, Q4_0, Q4_K, Q6_K, MXFP4 or llama.cpp's Q4_K_M, Q2_K, Q3_K_M and IQ4_XS mixes,
// written with GgufWriter to a temporary directory. When
// llama-bench is on PATH it measures the same file, with the same threads, in the same run,
// alternating with ours `--repeat` times; the medians and their ratio are printed (this
// machine is shared and noisy: one run alone says little). NW_CPU_REPACK=0 in the environment
// measures the per-row kernels instead of the repacked ones.
//
// nw_bench_engine [--threads 1,2] [--prompt P] [--gen G]
//                 [--types q8_0,q4_0,q4_k,q6_k,q4_k_m,q2_k,q3_k_m,iq4_xs,mxfp4]
//                 [--repeat R] [--dir D] [--layers L] [--vocab V] [--clock wall|cpu]
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
#include <cstring>
#include <filesystem>
#include <numeric>
#include <optional>
#include <random>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <sys/resource.h>
#include <time.h>

namespace fs = std::filesystem;
using namespace nw;

namespace {

struct Shape {
    std::int64_t layers = 16, embd = 2048, ff = 8192, heads = 32, kvHeads = 8, vocab = 128256;
};

// Rows of uniform noise, quantized: 61 distinct rows repeated (speed does not depend on the
// values, and quantizing a billion weights would take minutes on a busy machine).
std::vector<std::byte> randomRows(
    std::mt19937_64 &rng, TensorType type, std::int64_t rows, std::int64_t cols, float scale)
{
    std::uniform_real_distribution<float> dist(-scale, scale);
    const std::size_t rowSize = rowBytes(type, static_cast<std::size_t>(cols));
    std::vector<std::byte> bytes(rowSize * static_cast<std::size_t>(rows));
    std::vector<float> row(static_cast<std::size_t>(cols));
    constexpr std::int64_t kDistinct = 61;
    for (std::int64_t r = 0; r < rows; ++r) {
        std::byte *dst = bytes.data() + static_cast<std::size_t>(r) * rowSize;
        if (r >= kDistinct) {
            std::memcpy(dst, bytes.data() + static_cast<std::size_t>(r % kDistinct) * rowSize, rowSize);
            continue;
        }
        for (float &x : row)
            x = dist(rng);
        quantizeRow(type, row.data(), dst, row.size());
    }
    return bytes;
}

// Which type each weight matrix gets. A plain type puts every matrix in it; the mixes are the
// ones llama.cpp's quantizer (src/llama-quant.cpp, llama_tensor_get_type_impl) writes for this
// shape (tied embeddings, 4 query heads per KV head, no experts), which is what downloaded files
// hold:
//   q4_k_m  Q4_K; Q6_K for the output (tied embedding), and for attn_v and ffn_down in the first
//           and last eighth of the layers and every third layer between.
//   q2_k    Q2_K; Q6_K output, Q4_K attn_v, Q3_K ffn_down and attn_output.
//   q3_k_m  Q3_K; Q6_K output, attn_v Q5_K in the first two layers and Q4_K after, ffn_down Q5_K
//           in the first sixteenth of the layers and Q4_K after, attn_output Q4_K.
//   iq4_xs  IQ4_XS; Q6_K output, Q5_K attn_v, Q5_K ffn_down in the first eighth of the layers.
//   mxfp4   not a llama.cpp mix (its MXFP4_MOE puts only expert tensors in MXFP4, gpt-oss's, and
//           the rest in Q8_0): every matrix MXFP4 and the embedding Q8_0, to time MXFP4's
//           matmul on a dense shape.
enum class Mix { Plain, Q4_K_M, Q2_K, Q3_K_M, IQ4_XS, MXFP4 };

struct WeightTypes {
    std::string name;
    TensorType base;
    std::uint32_t fileType; // general.file_type (llama_ftype)
    Mix mix = Mix::Plain;

    TensorType forMatrix(const std::string &role, std::int64_t layer, std::int64_t layers) const
    {
        const bool output = role == "token_embd"; // tied: the output matrix too
        switch (mix) {
        case Mix::Plain:
            return base;
        case Mix::Q4_K_M: {
            const bool moreBits = layer < layers / 8 || layer >= 7 * layers / 8 || (layer - layers / 8) % 3 == 2;
            if (output || ((role == "attn_v" || role == "ffn_down") && moreBits))
                return TensorType::Q6_K;
            return base;
        }
        case Mix::Q2_K:
            if (output)
                return TensorType::Q6_K;
            if (role == "attn_v")
                return TensorType::Q4_K;
            if (role == "ffn_down" || role == "attn_output")
                return TensorType::Q3_K;
            return base;
        case Mix::Q3_K_M:
            if (output)
                return TensorType::Q6_K;
            if (role == "attn_v")
                return layer < 2 ? TensorType::Q5_K : TensorType::Q4_K;
            if (role == "ffn_down")
                return layer < layers / 16 ? TensorType::Q5_K : TensorType::Q4_K;
            if (role == "attn_output")
                return TensorType::Q4_K;
            return base;
        case Mix::IQ4_XS:
            if (output)
                return TensorType::Q6_K;
            if (role == "attn_v" || (role == "ffn_down" && layer < layers / 8))
                return TensorType::Q5_K;
            return base;
        case Mix::MXFP4:
            return output ? TensorType::Q8_0 : base;
        }
        return base;
    }
};

const WeightTypes kWeightTypes[] = {
    { "q8_0", TensorType::Q8_0, 7 },
    { "q4_0", TensorType::Q4_0, 2 },
    { "q4_k", TensorType::Q4_K, 14 }, // MOSTLY_Q4_K_S: every matrix Q4_K
    { "q6_k", TensorType::Q6_K, 18 },
    { "q4_k_m", TensorType::Q4_K, 15, Mix::Q4_K_M },
    { "q2_k", TensorType::Q2_K, 10, Mix::Q2_K },
    { "q3_k_m", TensorType::Q3_K, 12, Mix::Q3_K_M },
    { "iq4_xs", TensorType::IQ4_XS, 30, Mix::IQ4_XS },
    { "mxfp4", TensorType::MXFP4, 38, Mix::MXFP4 },
};

void synthesize(const fs::path &path, const WeightTypes &types, const Shape &s)
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
    w.setUInt32("general.file_type", types.fileType);
    // A minimal vocabulary so llama-bench (which needs one) can load the file.
    std::vector<std::string> tokens(static_cast<std::size_t>(s.vocab));
    for (std::size_t i = 0; i < tokens.size(); ++i)
        tokens[i] = "t" + std::to_string(i);
    w.setString("tokenizer.ggml.model", "gpt2");
    w.setString("tokenizer.ggml.pre", "default");
    w.setStringArray("tokenizer.ggml.tokens", tokens);
    std::vector<std::int32_t> tokenTypes(tokens.size(), 1);
    w.setInt32Array("tokenizer.ggml.token_type", tokenTypes);
    const std::vector<std::string> merges = { "t 1" };
    w.setStringArray("tokenizer.ggml.merges", merges);
    w.setUInt32("tokenizer.ggml.bos_token_id", 0);
    w.setUInt32("tokenizer.ggml.eos_token_id", 1);

    auto matrix = [&](std::int64_t layer, const std::string &role, std::int64_t cols, std::int64_t rows) {
        const TensorType type = types.forMatrix(role, layer, s.layers);
        const auto bytes = randomRows(rng, type, rows, cols, 1.f / std::sqrt(static_cast<float>(cols)));
        w.addTensor("blk." + std::to_string(layer) + "." + role + ".weight", type, { cols, rows }, bytes);
    };
    std::vector<float> ones(static_cast<std::size_t>(s.embd), 1.f);
    const TensorType embdType = types.forMatrix("token_embd", 0, s.layers);
    w.addTensor("token_embd.weight", embdType, { s.embd, s.vocab }, randomRows(rng, embdType, s.vocab, s.embd, 1.f));
    w.addTensor("output_norm.weight", { s.embd }, ones.data(), TensorType::F32);
    for (std::int64_t l = 0; l < s.layers; ++l) {
        const std::string p = "blk." + std::to_string(l) + ".";
        w.addTensor(p + "attn_norm.weight", { s.embd }, ones.data(), TensorType::F32);
        w.addTensor(p + "ffn_norm.weight", { s.embd }, ones.data(), TensorType::F32);
        matrix(l, "attn_q", s.embd, s.heads * headDim);
        matrix(l, "attn_k", s.embd, s.kvHeads * headDim);
        matrix(l, "attn_v", s.embd, s.kvHeads * headDim);
        matrix(l, "attn_output", s.heads * headDim, s.embd);
        matrix(l, "ffn_gate", s.embd, s.ff);
        matrix(l, "ffn_up", s.embd, s.ff);
        matrix(l, "ffn_down", s.ff, s.embd);
    }
    w.write(path);
}

struct Speed {
    double prefill = 0.0; // tokens/s
    double decode = 0.0;
};

// Seconds of CPU time this process has used, and its finished children (llama-bench runs).
double processCpuSeconds()
{
    timespec ts {};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

double childrenCpuSeconds()
{
    rusage usage {};
    getrusage(RUSAGE_CHILDREN, &usage);
    const auto seconds
        = [](const timeval &t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6; };
    return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// The clock a phase is timed with: wall time, or (--clock cpu, one thread) process CPU time,
// which on a shared busy machine is what the phase takes when the core is not shared.
enum class TimeBase { Wall, Cpu };

double now(TimeBase base)
{
    if (base == TimeBase::Cpu)
        return processCpuSeconds();
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

Speed measure(const fs::path &path, int threads, int nPrompt, int nGen, TimeBase base)
{
    std::shared_ptr<GgufFile> file = GgufFile::open(path);
    auto model = loadModel(file, { .threads = threads });
    auto cache = model->makeKvCache(KvModeSpec::parse("full"), nPrompt + nGen + 1);
    std::vector<std::int32_t> prompt(static_cast<std::size_t>(nPrompt));
    for (std::size_t i = 0; i < prompt.size(); ++i)
        prompt[i] = static_cast<std::int32_t>((i * 7919) % static_cast<std::size_t>(model->hparams().nVocab));
    std::vector<std::int32_t> positions(prompt.size());
    std::iota(positions.begin(), positions.end(), 0);
    std::vector<float> logits;

    // Warm-up: touches every weight page once so the first pass does not time the page cache.
    const std::size_t warm = std::min<std::size_t>(16, prompt.size());
    if (warm > 0)
        model->forward(
            std::span(prompt).first(warm), std::span(positions).first(warm), *cache, LogitsFor::Last, logits);

    Speed speed;
    const int chunk = 512;
    double t0 = now(base);
    for (int start = 0; start < nPrompt; start += chunk) {
        const int len = std::min(chunk, nPrompt - start);
        model->forward(std::span(prompt).subspan(static_cast<std::size_t>(start), static_cast<std::size_t>(len)),
            std::span(positions).subspan(static_cast<std::size_t>(start), static_cast<std::size_t>(len)), *cache,
            LogitsFor::Last, logits);
    }
    speed.prefill = nPrompt > 0 ? nPrompt / (now(base) - t0) : 0.0;

    // Decode from an empty context, as llama-bench's tg test does: nGen single-token steps.
    std::int32_t next = 1;
    t0 = now(base);
    for (int i = 0; i < nGen; ++i) {
        const std::int32_t one[] = { next };
        const std::int32_t pos[] = { i };
        model->forward(one, pos, *cache, LogitsFor::Last, logits);
        next = static_cast<std::int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    }
    speed.decode = nGen / (now(base) - t0);
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

// Runs llama-bench and returns its JSON output (nullopt when it fails).
std::optional<std::string> runLlamaBench(
    const std::string &exe, const fs::path &model, int threads, int nPrompt, int nGen, int repetitions)
{
    const std::string cmd = exe + " -m '" + model.string() + "' -p " + std::to_string(nPrompt) + " -n "
        + std::to_string(nGen) + " -t " + std::to_string(threads) + " -r " + std::to_string(repetitions)
        + " -o json 2>/dev/null";
    FILE *pipe = popen(cmd.c_str(), "r");
    if (!pipe)
        return std::nullopt;
    std::string out;
    std::array<char, 4096> buf {};
    while (std::size_t n = std::fread(buf.data(), 1, buf.size(), pipe))
        out.append(buf.data(), n);
    if (pclose(pipe) != 0)
        return std::nullopt;
    return out;
}

// llama-bench's prefill and decode in process CPU time, one thread: each test runs once with 1
// and once with 3 repetitions, and the difference of the two processes' CPU time is two
// repetitions alone (loading the model and the warm-up run cancel out).
std::optional<Speed> llamaBenchCpu(const std::string &exe, const fs::path &model, int nPrompt, int nGen)
{
    const auto twoRuns = [&](int p, int g) -> std::optional<double> {
        double cpu[2];
        for (int k = 0; k < 2; ++k) {
            const double c0 = childrenCpuSeconds();
            if (!runLlamaBench(exe, model, 1, p, g, k == 0 ? 1 : 3))
                return std::nullopt;
            cpu[k] = childrenCpuSeconds() - c0;
        }
        return (cpu[1] - cpu[0]) / 2;
    };
    const auto pp = twoRuns(nPrompt, 0);
    const auto tg = twoRuns(0, nGen);
    if (!pp || !tg || *pp <= 0 || *tg <= 0)
        return std::nullopt;
    return Speed { nPrompt / *pp, nGen / *tg };
}

// llama-bench's mean tokens/s for its pp (n_prompt > 0) and tg (n_gen > 0) tests, from -o json.
std::optional<Speed> llamaBench(const std::string &exe, const fs::path &model, int threads, int nPrompt, int nGen)
{
    const auto json = runLlamaBench(exe, model, threads, nPrompt, nGen, 1);
    if (!json)
        return std::nullopt;
    const std::string &out = *json;
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

double median(std::vector<double> v)
{
    if (v.empty())
        return 0.0;
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

std::vector<int> parseList(const std::string &text)
{
    std::vector<int> out;
    std::size_t start = 0;
    while (start <= text.size()) {
        const std::size_t end = std::min(text.find(',', start), text.size());
        if (end > start)
            out.push_back(std::stoi(text.substr(start, end - start)));
        start = end + 1;
    }
    return out;
}

// Whether the comma-separated list names `name` exactly (q4_k must not select q4_k_m).
bool wanted(const std::string &list, const std::string &name)
{
    std::size_t start = 0;
    while (start <= list.size()) {
        const std::size_t end = std::min(list.find(',', start), list.size());
        if (list.compare(start, end - start, name) == 0)
            return true;
        start = end + 1;
    }
    return false;
}

constexpr const char *kUsage
    = "nw_bench_engine: prefill and decode tokens/s of the engine on a Llama-3.2-1B-shaped model\n"
      "with random weights, and of llama-bench on the same file when it is on PATH.\n\n"
      "  --threads LIST   thread counts, e.g. 1,2 (default: all cores)\n"
      "  --types LIST     q8_0,q4_0,q4_k,q6_k,q4_k_m,q2_k,q3_k_m,iq4_xs,mxfp4 (default: q8_0,q4_0,q4_k);\n"
      "                   q4_k_m, q2_k, q3_k_m and iq4_xs are llama.cpp's mixes of those names (Q6_K\n"
      "                   output, more bits for attn_v, ffn_down, attn_output); mxfp4 puts every\n"
      "                   matrix in MXFP4 (llama.cpp uses it for MoE experts only)\n"
      "  --prompt P       prefill tokens (default 512)\n"
      "  --gen G          decoded tokens (default 64)\n"
      "  --repeat R       alternating runs of ours and llama-bench; medians are printed (default 3)\n"
      "  --dir D          where the synthesised models are written and kept (default: temp dir)\n"
      "  --layers L       layers (default 16)\n"
      "  --vocab V        vocabulary size (default 128256)\n"
      "  --clock C        wall (default) or cpu: time one thread in process CPU time, ours per\n"
      "                   phase and llama-bench's from two runs of 1 and 3 repetitions (on a busy\n"
      "                   shared machine, what each takes when the core is not shared)\n\n"
      "NW_CPU_REPACK=0 measures the per-row kernels instead of the repacked ones.\n";

} // namespace

int main(int argc, char **argv)
{
    std::vector<int> threadCounts = { static_cast<int>(std::max(1u, std::thread::hardware_concurrency())) };
    int nPrompt = 512, nGen = 64, repeat = 3;
    std::string typeList = "q8_0,q4_0,q4_k";
    fs::path dir = fs::temp_directory_path() / "nw_bench_engine";
    Shape shape;
    TimeBase base = TimeBase::Wall;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--help" || a == "-h") {
            std::printf("%s", kUsage);
            return 0;
        }
    }
    for (int i = 1; i < argc; i += 2) {
        const std::string a = argv[i];
        if (i + 1 >= argc) {
            std::fprintf(stderr, "option %s needs a value (see --help)\n", a.c_str());
            return 2;
        }
        const std::string v = argv[i + 1];
        if (a == "--threads")
            threadCounts = parseList(v);
        else if (a == "--prompt")
            nPrompt = std::stoi(v);
        else if (a == "--gen")
            nGen = std::stoi(v);
        else if (a == "--types")
            typeList = v;
        else if (a == "--repeat")
            repeat = std::max(1, std::stoi(v));
        else if (a == "--dir")
            dir = v;
        else if (a == "--layers")
            shape.layers = std::stoi(v);
        else if (a == "--vocab")
            shape.vocab = std::stoi(v);
        else if (a == "--clock" && (v == "wall" || v == "cpu"))
            base = v == "cpu" ? TimeBase::Cpu : TimeBase::Wall;
        else {
            std::fprintf(stderr, "unknown option %s (see --help)\n", a.c_str());
            return 2;
        }
    }
    if (base == TimeBase::Cpu && (threadCounts.size() != 1 || threadCounts[0] != 1)) {
        std::fprintf(stderr, "--clock cpu times one thread only: add --threads 1\n");
        return 2;
    }
    fs::create_directories(dir);
    const auto llama = findOnPath("llama-bench");
    const char *repack = std::getenv("NW_CPU_REPACK");
    std::printf(
        "Llama-3.2-1B-shaped (layers %lld, vocab %lld), random weights, prefill %d, decode %d, medians of %d%s%s%s\n",
        static_cast<long long>(shape.layers), static_cast<long long>(shape.vocab), nPrompt, nGen, repeat,
        llama ? ", against llama-bench" : " (llama-bench not on PATH: no ratio)",
        repack && std::string(repack) == "0" ? ", NW_CPU_REPACK=0" : "",
        base == TimeBase::Cpu ? ", process CPU time" : "");
    std::printf("%-6s %7s %9s %14s %14s", "type", "threads", "size MiB", "prefill tok/s", "decode tok/s");
    if (llama)
        std::printf(" %14s %14s %8s %8s", "llama pp tok/s", "llama tg tok/s", "pp x", "tg x");
    std::printf("\n");
    std::fflush(stdout);
    for (const WeightTypes &types : kWeightTypes) {
        const std::string &name = types.name;
        if (!wanted(typeList, name))
            continue;
        const fs::path path = dir
            / ("llama1b-" + name + "-L" + std::to_string(shape.layers) + "-V" + std::to_string(shape.vocab) + ".gguf");
        if (!fs::exists(path))
            synthesize(path, types, shape);
        for (int threads : threadCounts) {
            // Ours and theirs alternate, so a burst of load on the machine hits both.
            std::vector<double> pp, tg, llamaPp, llamaTg;
            for (int r = 0; r < repeat; ++r) {
                const Speed ours = measure(path, threads, nPrompt, nGen, base);
                pp.push_back(ours.prefill);
                tg.push_back(ours.decode);
                if (llama)
                    if (const auto theirs = base == TimeBase::Cpu ? llamaBenchCpu(*llama, path, nPrompt, nGen)
                                                                  : llamaBench(*llama, path, threads, nPrompt, nGen)) {
                        llamaPp.push_back(theirs->prefill);
                        llamaTg.push_back(theirs->decode);
                    }
            }
            std::printf("%-6s %7d %9.0f %14.2f %14.2f", name.c_str(), threads,
                static_cast<double>(fs::file_size(path)) / 1048576.0, median(pp), median(tg));
            if (llama && !llamaTg.empty()) {
                const double theirPp = median(llamaPp), theirTg = median(llamaTg);
                std::printf(" %14.2f %14.2f %8.2f %8.2f", theirPp, theirTg, theirPp > 0 ? median(pp) / theirPp : 0.0,
                    theirTg > 0 ? median(tg) / theirTg : 0.0);
            } else if (llama) {
                std::printf(" %14s",
                    base == TimeBase::Cpu ? "(llama-bench failed, or its runs too short to time)"
                                          : "(llama-bench failed)");
            }
            std::printf("\n");
            std::fflush(stdout);
        }
    }
    return 0;
}
