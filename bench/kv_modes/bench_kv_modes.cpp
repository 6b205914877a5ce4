// KV modes measured, each against `full` in the same run:
//  1. perplexity and KV bytes per token per mode on a real model (default: the conformance
//     stories260K with its sample text), as llama.cpp's perplexity tool scores it;
//  2. decode tokens/s per mode after a prompt of --decode-ctx tokens on a synthetic GQA llama
//     (4 layers, width 512, 8 heads / 4 KV heads of 64, Q8_0 weights), with the ratio to full
//     (`+snapkv:B` modes decode after the prompt was compressed to B + 32 rows per layer and head).
//
//  With --calibrate FILE the latent modes of (1) are measured again with factors weighted by the
//  keys and values of FILE (activation-aware; keep FILE apart from the scored text).
//
// nw_bench_kv_modes [--model M.gguf --text F] [--ctx N] [--ppl-modes LIST] [--calibrate FILE]
//                   [--decode-ctx N] [--gen G] [--decode-modes LIST] [--threads T] [--rounds R] [--dir D]
#include "common/error.h"
#include "engine/generator.h"
#include "engine/gguf_file.h"
#include "engine/gguf_writer.h"
#include "engine/model.h"
#include "engine/snapkv.h"
#include "engine/tokenizer.h"
#include "kernels/cpu/quantize.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using namespace nw;

namespace {

std::vector<std::string> splitList(const std::string &list)
{
    std::vector<std::string> out;
    std::stringstream in(list);
    for (std::string item; std::getline(in, item, ',');)
        if (!item.empty())
            out.push_back(item);
    return out;
}

void synthesize(const fs::path &path)
{
    const std::int64_t layers = 4, embd = 512, ff = 1024, heads = 8, kvHeads = 4, vocab = 2048, headDim = 64;
    GgufWriter w;
    std::mt19937_64 rng(99);
    w.setString("general.architecture", "llama");
    w.setString("general.name", "kv-modes bench random GQA");
    w.setUInt32("llama.block_count", layers);
    w.setUInt32("llama.embedding_length", embd);
    w.setUInt32("llama.feed_forward_length", ff);
    w.setUInt32("llama.attention.head_count", heads);
    w.setUInt32("llama.attention.head_count_kv", kvHeads);
    w.setUInt32("llama.rope.dimension_count", headDim);
    w.setUInt32("llama.context_length", 16384);
    w.setUInt32("llama.vocab_size", vocab);
    w.setFloat32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
    auto matrix = [&](const std::string &name, std::int64_t cols, std::int64_t rows, float scale) {
        std::uniform_real_distribution<float> dist(-scale, scale);
        const std::size_t rowSize = rowBytes(TensorType::Q8_0, std::size_t(cols));
        std::vector<std::byte> bytes(rowSize * std::size_t(rows));
        std::vector<float> row(static_cast<std::size_t>(cols));
        for (std::int64_t r = 0; r < rows; ++r) {
            for (float &x : row)
                x = dist(rng);
            quantizeRow(TensorType::Q8_0, row.data(), bytes.data() + std::size_t(r) * rowSize, row.size());
        }
        w.addTensor(name, TensorType::Q8_0, { cols, rows }, bytes);
    };
    std::vector<float> ones(std::size_t(embd), 1.f);
    matrix("token_embd.weight", embd, vocab, 1.f);
    w.addTensor("output_norm.weight", { embd }, ones.data(), TensorType::F32);
    for (std::int64_t l = 0; l < layers; ++l) {
        const std::string p = "blk." + std::to_string(l) + ".";
        const float s = 1.f / std::sqrt(float(embd));
        w.addTensor(p + "attn_norm.weight", { embd }, ones.data(), TensorType::F32);
        w.addTensor(p + "ffn_norm.weight", { embd }, ones.data(), TensorType::F32);
        matrix(p + "attn_q.weight", embd, heads * headDim, s);
        matrix(p + "attn_k.weight", embd, kvHeads * headDim, s);
        matrix(p + "attn_v.weight", embd, kvHeads * headDim, s);
        matrix(p + "attn_output.weight", heads * headDim, embd, s);
        matrix(p + "ffn_gate.weight", embd, ff, s);
        matrix(p + "ffn_up.weight", embd, ff, s);
        matrix(p + "ffn_down.weight", ff, embd, 1.f / std::sqrt(float(ff)));
    }
    w.write(path);
}

// One mode's cache holding a prompt of nCtx tokens (prefilled in chunks of 512, not timed) and
// the logits after it, so decode bursts of different modes can be interleaved.
struct DecodeRun {
    std::unique_ptr<KvCache> cache;
    std::int64_t rows = 0; // the cache's rows after the prompt (fewer than nCtx after SnapKV)
    std::vector<float> logits;
    double best = 0; // best tokens/s of the bursts
};

DecodeRun prefill(Model &model, const KvModeSpec &spec, int nCtx, int nGen)
{
    DecodeRun run;
    run.cache = model.makeKvCache(spec, nCtx + nGen + 1);
    std::vector<std::int32_t> prompt(static_cast<std::size_t>(nCtx)), positions(static_cast<std::size_t>(nCtx));
    for (std::size_t i = 0; i < prompt.size(); ++i)
        prompt[i] = std::int32_t((i * 7919) % std::size_t(model.hparams().nVocab));
    std::iota(positions.begin(), positions.end(), 0);
    // `+snapkv:B`: the prompt compressed once it is in, as Generator::prefill does.
    std::optional<SnapKvQueries> queries;
    if (spec.snapkv > 0)
        queries.emplace(model.hparams().nLayers, nCtx);
    run.cache->observeQueries(queries ? &*queries : nullptr);
    for (int start = 0; start < nCtx; start += 512) {
        const auto len = std::size_t(std::min(512, nCtx - start));
        model.forward(std::span(prompt).subspan(std::size_t(start), len),
            std::span(positions).subspan(std::size_t(start), len), *run.cache, LogitsFor::Last, run.logits);
    }
    run.cache->observeQueries(nullptr);
    if (queries)
        snapKvCompress(*run.cache, *queries, spec.snapkv);
    run.rows = run.cache->tokens();
    return run;
}

// Greedy decode of nGen tokens after the prompt (the cache is cut back to the prompt first, so
// every burst decodes at the same context); keeps the best tokens/s.
void decodeBurst(Model &model, DecodeRun &run, int nCtx, int nGen)
{
    run.cache->truncate(run.rows);
    std::vector<float> logits = run.logits;
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < nGen; ++i) {
        const auto next = std::int32_t(std::max_element(logits.begin(), logits.end()) - logits.begin());
        const std::int32_t one[] = { next };
        const std::int32_t pos[] = { nCtx + i };
        model.forward(one, pos, *run.cache, LogitsFor::Last, logits);
    }
    run.best = std::max(run.best, nGen / std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
}

} // namespace

int main(int argc, char **argv)
{
    fs::path modelPath = fs::path(NW_BENCH_CONFORMANCE) / "models" / "stories260K.gguf";
    fs::path textPath = fs::path(NW_BENCH_CONFORMANCE) / "models" / "stories260K-sample.txt";
    fs::path dir = fs::temp_directory_path() / "nw_bench_kv_modes";
    fs::path calibratePath;
    std::string pplModes = "full,latent:32,latent:24,latent:16,latent:8";
    std::string decodeModes = "full,full+q8,full+q8:plain,full+q4,full+q4:plain,full+q8/"
                              "q4,latent:256,latent:128,latent:64,latent:128+q8,latent:128+q4";
    int ctx = 128, decodeCtx = 1024, gen = 32, threads = 2, rounds = 3;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i], v = argv[i + 1];
        if (a == "--model")
            modelPath = v;
        else if (a == "--text")
            textPath = v;
        else if (a == "--ctx")
            ctx = std::stoi(v);
        else if (a == "--ppl-modes")
            pplModes = v;
        else if (a == "--calibrate")
            calibratePath = v;
        else if (a == "--decode-ctx")
            decodeCtx = std::stoi(v);
        else if (a == "--gen")
            gen = std::stoi(v);
        else if (a == "--decode-modes")
            decodeModes = v;
        else if (a == "--threads")
            threads = std::stoi(v);
        else if (a == "--rounds")
            rounds = std::stoi(v);
        else if (a == "--dir")
            dir = v;
        else {
            std::fprintf(stderr, "unknown option %s\n", a.c_str());
            return 2;
        }
    }
    try {
        // The factor cache lives beside the bench's files, so a run never reuses stale factors.
        fs::create_directories(dir);
        ::setenv("XDG_CACHE_HOME", (dir / "cache").c_str(), 1);
        if (fs::exists(modelPath) && fs::exists(textPath)) {
            std::shared_ptr<GgufFile> file = GgufFile::open(modelPath);
            auto model = loadModel(file, { .threads = threads });
            auto tokenizer = Tokenizer::fromGguf(*file);
            std::ifstream in(textPath);
            const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
            const auto tokens = tokenizer->encode(text, true, false);
            std::printf("perplexity, %s, %zu tokens, ctx %d\n", modelPath.filename().c_str(), tokens.size(), ctx);
            std::printf("%-18s %14s %12s %16s\n", "mode", "KV B/token", "vs full", "PPL");
            double fullBytes = 0;
            const auto score = [&](const std::string &m, const char *suffix) {
                const KvModeSpec spec = KvModeSpec::parse(m);
                const std::string label = m + suffix;
                try {
                    const std::int32_t bos = tokenizer->vocab().spec().addBos ? tokenizer->bos() : -1;
                    const PerplexityResult r = measurePerplexity(*model, tokens, ctx, bos, spec);
                    const double perToken = double(r.memory.kvBytesUsed) / double(r.memory.tokens);
                    if (fullBytes == 0)
                        fullBytes = perToken;
                    std::printf("%-18s %14.0f %11.2fx %9.4f ± %.4f\n", label.c_str(), perToken, fullBytes / perToken,
                        r.ppl, r.error);
                } catch (const Error &e) {
                    std::printf("%-18s (not available: %s)\n", label.c_str(), e.what());
                }
            };
            for (const std::string &m : splitList(pplModes))
                score(m, "");
            if (!calibratePath.empty()) {
                std::ifstream calIn(calibratePath);
                if (!calIn)
                    fail("cannot read calibration text {}", calibratePath.string());
                const std::string calText((std::istreambuf_iterator<char>(calIn)), std::istreambuf_iterator<char>());
                const auto calTokens = tokenizer->encode(calText, true, false);
                model->calibrateLatent(calTokens);
                std::printf("calibrated on %s, %zu tokens:\n", calibratePath.filename().c_str(), calTokens.size());
                for (const std::string &m : splitList(pplModes))
                    if (KvModeSpec::parse(m).mode == KvMode::Latent)
                        score(m, " cal");
            }
        } else {
            std::printf("perplexity skipped: %s not found\n", modelPath.c_str());
        }

        const fs::path synthetic = dir / "gqa64.gguf";
        synthesize(synthetic);
        std::shared_ptr<GgufFile> file = GgufFile::open(synthetic);
        auto model = loadModel(file, { .threads = threads });
        std::printf("\ndecode after %d tokens, synthetic GQA 8/4 heads of 64, %d threads, best of %d bursts of %d\n",
            decodeCtx, threads, rounds, gen);
        std::printf("%-18s %14s %12s %12s\n", "mode", "KV B/token", "tok/s", "vs full");
        // Bursts of all modes interleaved, `rounds` times, best burst per mode: a busy machine
        // slows every mode alike within a round, and the best burst is the least disturbed one.
        const std::vector<std::string> modes = splitList(decodeModes);
        std::vector<DecodeRun> runs;
        for (const std::string &m : modes)
            runs.push_back(prefill(*model, KvModeSpec::parse(m), decodeCtx, gen)); // latent factors made here
        for (int round = 0; round < rounds; ++round)
            for (DecodeRun &run : runs)
                decodeBurst(*model, run, decodeCtx, gen);
        for (std::size_t i = 0; i < modes.size(); ++i) {
            const auto perToken = runs[i].cache->layout().bytesPerTokenLayer() * std::size_t(model->hparams().nLayers);
            std::printf(
                "%-18s %14zu %12.1f %11.3fx\n", modes[i].c_str(), perToken, runs[i].best, runs[i].best / runs[0].best);
        }
    } catch (const std::exception &e) {
        std::fprintf(stderr, "nw_bench_kv_modes: %s\n", e.what());
        return 1;
    }
    return 0;
}
