// Dumps what llama.cpp computes on a GGUF file, as JSON, for the engine's fidelity tests: the
// prompt's token ids, the top-k logits at every prompt position (one batch, logits for all), and a
// greedy continuation with the top-k logits of each step. A developer tool outside the product:
// it links llama.cpp's public API (llama.h) of a llama.cpp build that exists elsewhere, e.g.
//
//   L=/work/peer/llama.cpp
//   g++ -std=c++17 -O2 tools/llamacpp_reference.cpp -I$L/include -I$L/ggml/include \
//       -L$L/build/bin -lllama -lggml -lggml-base -Wl,-rpath,$L/build/bin -o /tmp/llamacpp_reference
//   /tmp/llamacpp_reference tests/data/models/qwen3-f32.gguf prompt.txt 24 16 128 > qwen3-f32.json
//
// Arguments: MODEL PROMPT_FILE N_PREDICT TOP_K N_CTX [KV_TYPE [FLASH_ATTN]]; KV_TYPE f16 (llama.cpp's
// default) or f32; FLASH_ATTN auto (llama.cpp's default) or off (its plain attention, which with
// an f32 cache computes attention in f32 throughout). Two threads.
#include "llama.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

namespace {

void quiet(ggml_log_level level, const char *text, void *)
{
    if (level >= GGML_LOG_LEVEL_ERROR)
        std::fputs(text, stderr);
}

// "[[id, logit], ...]" of the k largest logits, largest first (ties: lower id first).
std::string top(const float *logits, int nVocab, int k)
{
    std::vector<int> order(static_cast<size_t>(nVocab));
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + k, order.end(),
                      [&](int a, int b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); });
    std::ostringstream out;
    out << "[";
    for (int i = 0; i < k; ++i) {
        char number[32];
        std::snprintf(number, sizeof number, "%.8g", double(logits[order[size_t(i)]]));
        out << (i ? ", " : "") << "[" << order[size_t(i)] << ", " << number << "]";
    }
    out << "]";
    return out.str();
}

int argmax(const float *logits, int nVocab)
{
    return int(std::max_element(logits, logits + nVocab) - logits); // first of equal maxima
}

} // namespace

int main(int argc, char **argv)
{
    if (argc < 6) {
        std::fprintf(stderr, "usage: %s MODEL PROMPT_FILE N_PREDICT TOP_K N_CTX [f16|f32 [auto|off]]\n", argv[0]);
        return 2;
    }
    const std::string modelPath = argv[1];
    std::ifstream promptFile(argv[2]);
    std::stringstream promptText;
    promptText << promptFile.rdbuf();
    const int nPredict = std::atoi(argv[3]), k = std::atoi(argv[4]), nCtx = std::atoi(argv[5]);
    const bool f32 = argc > 6 && std::strcmp(argv[6], "f32") == 0;
    const bool flashOff = argc > 7 && std::strcmp(argv[7], "off") == 0;

    llama_log_set(quiet, nullptr);
    llama_backend_init();
    llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = 0;
    mp.progress_callback = [](float, void *) { return true; }; // no progress dots on stdout
    llama_model *model = llama_model_load_from_file(modelPath.c_str(), mp);
    if (!model)
        return 1;
    llama_context_params cp = llama_context_default_params();
    cp.n_ctx = uint32_t(nCtx);
    cp.n_batch = uint32_t(nCtx);
    cp.n_ubatch = uint32_t(nCtx);
    cp.n_threads = 2;
    cp.n_threads_batch = 2;
    if (flashOff)
        cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
    if (f32) {
        cp.type_k = GGML_TYPE_F32;
        cp.type_v = GGML_TYPE_F32;
    }
    llama_context *ctx = llama_init_from_model(model, cp);
    if (!ctx)
        return 1;
    const llama_vocab *vocab = llama_model_get_vocab(model);
    const int nVocab = llama_vocab_n_tokens(vocab);

    const std::string text = promptText.str();
    std::vector<llama_token> tokens(text.size() + 8);
    const int n = llama_tokenize(vocab, text.c_str(), int32_t(text.size()), tokens.data(), int32_t(tokens.size()),
                                 llama_vocab_get_add_bos(vocab), true);
    if (n <= 0 || n + nPredict > nCtx)
        return 1;
    tokens.resize(size_t(n));

    llama_batch batch = llama_batch_init(nCtx, 0, 1);
    for (int i = 0; i < n; ++i) {
        batch.token[i] = tokens[size_t(i)];
        batch.pos[i] = i;
        batch.n_seq_id[i] = 1;
        batch.seq_id[i][0] = 0;
        batch.logits[i] = 1;
    }
    batch.n_tokens = n;
    if (llama_decode(ctx, batch) != 0)
        return 1;

    std::printf("{\n  \"model\": \"%s\",\n  \"n_ctx\": %d,\n  \"kv_type\": \"%s\",\n  \"flash_attn\": \"%s\",\n"
                "  \"prompt_tokens\": [",
                modelPath.substr(modelPath.find_last_of('/') + 1).c_str(), nCtx, f32 ? "f32" : "f16",
                flashOff ? "off" : "auto");
    for (int i = 0; i < n; ++i)
        std::printf("%s%d", i ? ", " : "", tokens[size_t(i)]);
    std::printf("],\n  \"prompt_top\": [\n");
    for (int i = 0; i < n; ++i)
        std::printf("    %s%s\n", top(llama_get_logits_ith(ctx, i), nVocab, k).c_str(), i + 1 < n ? "," : "");
    std::printf("  ],\n");

    std::vector<int> greedy;
    std::vector<std::string> steps;
    int next = argmax(llama_get_logits_ith(ctx, n - 1), nVocab);
    for (int step = 0; step < nPredict; ++step) {
        greedy.push_back(next);
        batch.n_tokens = 1;
        batch.token[0] = next;
        batch.pos[0] = n + step;
        batch.n_seq_id[0] = 1;
        batch.seq_id[0][0] = 0;
        batch.logits[0] = 1;
        if (llama_decode(ctx, batch) != 0)
            return 1;
        const float *logits = llama_get_logits_ith(ctx, 0);
        steps.push_back(top(logits, nVocab, k));
        next = argmax(logits, nVocab);
    }
    std::printf("  \"greedy\": [");
    for (size_t i = 0; i < greedy.size(); ++i)
        std::printf("%s%d", i ? ", " : "", greedy[i]);
    std::printf("],\n  \"greedy_top\": [\n");
    for (size_t i = 0; i < steps.size(); ++i)
        std::printf("    %s%s\n", steps[i].c_str(), i + 1 < steps.size() ? "," : "");
    std::printf("  ]\n}\n");

    llama_batch_free(batch);
    llama_free(ctx);
    llama_model_free(model);
    llama_backend_free();
    return 0;
}
