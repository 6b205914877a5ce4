// A whole-documents question twice, as two processes would ask it: the first prefills the
// documents and writes their KV snapshot, the second loads it; both then prefill the question.
// Prints the snapshot's size against the cache's KV bytes, the load time against the prefill
// time, the time to first token of each, and whether the question's logits are bit-identical.
// Usage: nw_bench_kv_snapshot MODEL.gguf [--kv MODES] [--threads N] [--dir DIR] TEXT_FILE...
#include "common/byte_format.h"
#include "common/error.h"
#include "engine/generator.h"
#include "engine/gguf_file.h"
#include "engine/kv_snapshot.h"
#include "engine/model.h"
#include "engine/tokenizer.h"

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Question {
    nw::PrefixResult prefix;
    double questionSeconds = 0;
    std::vector<float> logits;
    std::uint64_t kvBytes = 0;
};

Question ask(nw::Model &model, const nw::Tokenizer &tokenizer, const nw::KvModeSpec &mode, std::int64_t ctx,
    const std::vector<std::int32_t> &prefix, const std::vector<std::int32_t> &prompt, const nw::KvSnapshotIdentity &id,
    const std::filesystem::path &path)
{
    nw::Generator generator(model, tokenizer, mode, ctx);
    Question q;
    q.prefix = generator.prepareSnapshotPrefix(prefix, id, path);
    q.kvBytes = generator.memoryStats().kvBytesUsed;
    const auto start = Clock::now();
    q.logits = generator.prefill(prompt);
    q.questionSeconds = std::chrono::duration<double>(Clock::now() - start).count();
    return q;
}

} // namespace

int main(int argc, char **argv)
{
    std::string modelPath, modes = "full";
    int threads = 0;
    std::filesystem::path dir = std::filesystem::temp_directory_path() / "nw_bench_kv_snapshot";
    std::vector<std::string> files;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--kv" && i + 1 < argc)
            modes = argv[++i];
        else if (arg == "--threads" && i + 1 < argc)
            threads = std::atoi(argv[++i]);
        else if (arg == "--dir" && i + 1 < argc)
            dir = argv[++i];
        else if (modelPath.empty())
            modelPath = arg;
        else
            files.push_back(arg);
    }
    if (modelPath.empty() || files.empty()) {
        std::fprintf(stderr, "usage: nw_bench_kv_snapshot MODEL.gguf [--kv MODES] [--threads N] [--dir DIR] TEXT...\n");
        return 2;
    }
    try {
        std::string text;
        for (const std::string &f : files) {
            std::ifstream in(f);
            if (!in)
                nw::fail("cannot read {}", f);
            std::stringstream s;
            s << in.rdbuf();
            text += s.str() + "\n";
        }
        const std::shared_ptr<const nw::GgufFile> file = nw::GgufFile::open(modelPath);
        const auto model = nw::loadModel(file, { .threads = threads });
        const auto tokenizer = nw::Tokenizer::fromGguf(*file);
        const std::vector<std::int32_t> prefix = tokenizer->encode(text, true, false);
        std::vector<std::int32_t> prompt = prefix;
        for (std::int32_t t : tokenizer->encode("\nQuestion: what does the license say about patents?", false, false))
            prompt.push_back(t);
        const std::int64_t ctx = static_cast<std::int64_t>(prompt.size()) + 64;
        std::filesystem::create_directories(dir);
        std::printf("%s, %d threads: documents %zu tokens, question %zu tokens\n", modelPath.c_str(), threads,
            prefix.size(), prompt.size() - prefix.size());
        std::stringstream list(modes);
        for (std::string name; std::getline(list, name, ',');) {
            const nw::KvModeSpec mode = nw::KvModeSpec::parse(name);
            const nw::KvSnapshotIdentity id { nw::fileContentHash(modelPath), mode.toString() };
            const std::filesystem::path path = dir / nw::kvSnapshotFileName(id, prefix);
            std::filesystem::remove(path);
            const Question first = ask(*model, *tokenizer, mode, ctx, prefix, prompt, id, path);
            const Question second = ask(*model, *tokenizer, mode, ctx, prefix, prompt, id, path);
            if (!first.prefix.saved || second.prefix.source != nw::PrefixSource::Snapshot)
                nw::fail("mode {}: the snapshot was not written or not loaded", name);
            const double fresh = first.prefix.seconds + first.questionSeconds;
            const double loaded = second.prefix.seconds + second.questionSeconds;
            const bool same = first.logits.size() == second.logits.size()
                && std::memcmp(first.logits.data(), second.logits.data(), first.logits.size() * sizeof(float)) == 0;
            std::printf("%-14s snapshot %s (KV %s, header %llu B), written in %.3f s; documents prefill %.2f s, "
                        "load %.3f s (%.1fx); time to first token %.2f s -> %.3f s (%.2f %%); logits %s\n",
                name.c_str(), nw::formatBytes(first.prefix.bytes).c_str(), nw::formatBytes(first.kvBytes).c_str(),
                static_cast<unsigned long long>(first.prefix.bytes - first.kvBytes), first.prefix.saveSeconds,
                first.prefix.seconds, second.prefix.seconds, first.prefix.seconds / second.prefix.seconds, fresh,
                loaded, 100.0 * loaded / fresh, same ? "bit-identical" : "DIFFER");
            std::filesystem::remove(path);
        }
    } catch (const nw::Error &e) {
        std::fprintf(stderr, "nw_bench_kv_snapshot: %s\n", e.what());
        return 1;
    }
    return 0;
}
