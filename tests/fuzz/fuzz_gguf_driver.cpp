// A bounded, deterministic mutation fuzzer around LLVMFuzzerTestOneInput, for machines and
// compilers without libFuzzer: seed files from GgufWriter, mutated by bit flips, boundary
// bytes, boundary 32/64-bit fields, truncation, length-field inflation and splicing.
// Usage: fuzz_gguf_driver [--seconds S] [--seed N] [--save-dir DIR] [--write-seeds DIR] [input...]
// (--write-seeds writes the seed files, e.g. as a libFuzzer corpus; inputs are replayed.)
// Any exception other than nw::Error is a failure; the input is saved for replay.
#include "engine/gguf_writer.h"

#include "common/error.h"
#include "kernels/tensor_type.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <random>
#include <string>
#include <typeinfo>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size);
extern std::uint64_t g_fuzzGgufAccepted;
// Present when built with a sanitizer: lets us save the input before the process dies.
extern "C" void __sanitizer_set_death_callback(void (*callback)()) __attribute__((weak));

namespace {

using Bytes = std::vector<std::uint8_t>;

Bytes toBytes(const std::vector<std::byte> &b)
{
    Bytes out(b.size());
    std::memcpy(out.data(), b.data(), b.size());
    return out;
}

std::vector<Bytes> seeds()
{
    std::vector<Bytes> out;
    {
        nw::GgufWriter w;
        out.push_back(toBytes(w.toBytes())); // header only
    }
    {
        nw::GgufWriter w;
        w.setString("general.architecture", "llama");
        w.setUInt32("llama.block_count", 2);
        w.setFloat32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
        w.setBool("flag", true);
        w.setInt8("i8", -3);
        w.setUInt64("u64", 1ull << 40);
        w.setFloat64("f64", 0.25);
        const std::vector<std::string> tokens = { "<unk>", "<s>", "</s>", "a", "bc" };
        w.setStringArray("tokenizer.ggml.tokens", tokens);
        const std::vector<float> scores = { 0, 0, 0, -1.5f, -2.5f };
        w.setFloat32Array("tokenizer.ggml.scores", scores);
        const std::vector<std::int32_t> types = { 2, 3, 3, 1, 1 };
        w.setInt32Array("tokenizer.ggml.token_type", types);
        auto inner = std::make_shared<nw::GgufArray>();
        inner->elementType = nw::GgufValueType::Int16;
        inner->values = { std::int64_t { -1 }, std::int64_t { 2 } };
        auto outer = std::make_shared<nw::GgufArray>();
        outer->elementType = nw::GgufValueType::Array;
        outer->values = { std::shared_ptr<const nw::GgufArray>(inner), std::shared_ptr<const nw::GgufArray>(inner) };
        w.setValue("nested", nw::GgufValueType::Array, std::shared_ptr<const nw::GgufArray>(outer));
        std::vector<float> x(512);
        for (std::size_t i = 0; i < x.size(); ++i)
            x[i] = static_cast<float>(static_cast<int>(i % 17) - 8) * 0.125f;
        w.addTensor("f32", { 8, 2 }, x.data(), nw::TensorType::F32);
        w.addTensor("f16", { 16 }, x.data(), nw::TensorType::F16);
        w.addTensor("q4_0", { 32, 2 }, x.data(), nw::TensorType::Q4_0);
        w.addTensor("q5_1", { 32 }, x.data(), nw::TensorType::Q5_1);
        w.addTensor("q8_0", { 64 }, x.data(), nw::TensorType::Q8_0);
        w.addTensor("q4_k", { 256 }, x.data(), nw::TensorType::Q4_K);
        w.addTensor("q6_k", { 256, 2 }, x.data(), nw::TensorType::Q6_K);
        out.push_back(toBytes(w.toBytes()));
    }
    {
        nw::GgufWriter w(64);
        w.setString("general.name", "aligned");
        std::vector<float> x(256, 0.5f);
        w.addTensor("q5_k", { 256 }, x.data(), nw::TensorType::Q5_K);
        w.addTensor("bf16", { 4, 4, 2, 2 }, x.data(), nw::TensorType::BF16);
        w.addTensor("q8_k", { 256 }, x.data(), nw::TensorType::Q8_K);
        out.push_back(toBytes(w.toBytes()));
    }
    {
        // Alignment 1 (llama.cpp accepts it): with the odd-length key the data section and so
        // every tensor below starts at an odd offset, which the reader must copy to aligned memory.
        nw::GgufWriter w(1);
        w.setString("general.name", "odds");
        const std::int32_t table[6] = { 0, 1, -1, 255, 1 << 20, -(1 << 30) };
        w.addTensor("i32", nw::TensorType::I32, { 3, 2 }, std::as_bytes(std::span(table)));
        std::vector<float> x(256);
        for (std::size_t i = 0; i < x.size(); ++i)
            x[i] = static_cast<float>(static_cast<int>(i % 23) - 11) * 0.25f;
        w.addTensor("q5_k", { 256 }, x.data(), nw::TensorType::Q5_K);
        w.addTensor("f32", { 5 }, x.data(), nw::TensorType::F32);
        w.addTensor("q8_0", { 32 }, x.data(), nw::TensorType::Q8_0);
        out.push_back(toBytes(w.toBytes()));
    }
    return out;
}

class Mutator {
public:
    explicit Mutator(std::uint64_t seed)
        : m_rng(seed)
    {
    }

    std::size_t below(std::size_t n) { return n == 0 ? 0 : static_cast<std::size_t>(m_rng() % n); }

    void mutate(Bytes &b, const std::vector<Bytes> &corpus)
    {
        const int rounds = 1 + static_cast<int>(below(4));
        for (int r = 0; r < rounds; ++r)
            mutateOnce(b, corpus);
    }

private:
    static constexpr std::uint8_t kBoundaryBytes[] = { 0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF, 0x20, 0x40 };
    static constexpr std::uint64_t kBoundaryWords[] = { 0, 1, 2, 3, 4, 5, 8, 9, 12, 13, 16, 31, 32, 33, 64, 255, 256,
        4096, 65535, 65536, 0x7FFFFFFFull, 0x80000000ull, 0xFFFFFFFFull, 0x100000000ull, 0x7FFFFFFFFFFFFFFFull,
        0x8000000000000000ull, 0xFFFFFFFFFFFFFFFFull, 0xFFFFFFFFFFFFFFF0ull };

    void writeWord(Bytes &b, std::size_t at, std::uint64_t v, std::size_t width)
    {
        for (std::size_t i = 0; i < width && at + i < b.size(); ++i)
            b[at + i] = static_cast<std::uint8_t>(v >> (8 * i));
    }
    std::uint64_t readWord(const Bytes &b, std::size_t at, std::size_t width)
    {
        std::uint64_t v = 0;
        for (std::size_t i = 0; i < width && at + i < b.size(); ++i)
            v |= static_cast<std::uint64_t>(b[at + i]) << (8 * i);
        return v;
    }

    void mutateOnce(Bytes &b, const std::vector<Bytes> &corpus)
    {
        if (b.empty()) {
            b.push_back(static_cast<std::uint8_t>(m_rng()));
            return;
        }
        // Most structure sits in the header; bias positions towards it.
        const std::size_t limit = below(4) == 0 ? b.size() : std::min<std::size_t>(b.size(), 512);
        const std::size_t at = below(limit);
        switch (below(9)) {
        case 0: // bit flip
            b[at] ^= static_cast<std::uint8_t>(1u << below(8));
            break;
        case 1: // boundary byte
            b[at] = kBoundaryBytes[below(std::size(kBoundaryBytes))];
            break;
        case 2: // random byte
            b[at] = static_cast<std::uint8_t>(m_rng());
            break;
        case 3: // boundary 32- or 64-bit field
            writeWord(b, at, kBoundaryWords[below(std::size(kBoundaryWords))], below(2) ? 8 : 4);
            break;
        case 4: { // length/count inflation or deflation of the field at `at`
            const std::size_t width = below(2) ? 8 : 4;
            const std::uint64_t v = readWord(b, at, width);
            const std::uint64_t deltas[] = { 1, 2, 7, 8, 100, 1u << 16, 1ull << 32, 1ull << 62 };
            const std::uint64_t d = deltas[below(std::size(deltas))];
            writeWord(b, at, below(2) ? v + d : v - d, width);
            break;
        }
        case 5: // truncation
            b.resize(below(b.size()));
            break;
        case 6: { // delete a short run
            const std::size_t n = std::min(b.size() - at, 1 + below(16));
            b.erase(b.begin() + static_cast<std::ptrdiff_t>(at), b.begin() + static_cast<std::ptrdiff_t>(at + n));
            break;
        }
        case 7: { // insert a short run of one boundary byte
            const std::size_t n = 1 + below(16);
            b.insert(b.begin() + static_cast<std::ptrdiff_t>(at), n, kBoundaryBytes[below(std::size(kBoundaryBytes))]);
            break;
        }
        default: { // splice: copy a run from another seed at the same offset
            const Bytes &other = corpus[below(corpus.size())];
            if (at < other.size()) {
                const std::size_t n = std::min({ other.size() - at, b.size() - at, 1 + below(64) });
                std::memcpy(b.data() + at, other.data() + at, n);
            }
            break;
        }
        }
    }

    std::mt19937_64 m_rng;
};

void save(const std::filesystem::path &dir, const Bytes &input, std::uint64_t iteration)
{
    const auto path = dir / ("fuzz-gguf-failure-" + std::to_string(iteration) + ".gguf");
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char *>(input.data()), static_cast<std::streamsize>(input.size()));
    std::fprintf(stderr, "input saved to %s\n", path.string().c_str());
}

const Bytes *g_current = nullptr;
std::filesystem::path g_saveDir;
std::uint64_t g_iteration = 0;

void saveOnDeath()
{
    if (g_current)
        save(g_saveDir, *g_current, g_iteration);
}

} // namespace

int main(int argc, char **argv)
{
    double seconds = 25;
    std::uint64_t seed = 20261122;
    std::filesystem::path saveDir = std::filesystem::current_path();
    std::vector<std::filesystem::path> replay;
    std::filesystem::path seedDir;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--seconds" && i + 1 < argc)
            seconds = std::atof(argv[++i]);
        else if (arg == "--seed" && i + 1 < argc)
            seed = std::strtoull(argv[++i], nullptr, 10);
        else if (arg == "--save-dir" && i + 1 < argc)
            saveDir = argv[++i];
        else if (arg == "--write-seeds" && i + 1 < argc)
            seedDir = argv[++i];
        else if (arg.rfind("--", 0) != 0)
            replay.emplace_back(arg); // replay saved inputs
        else {
            std::fprintf(stderr, "usage: %s [--seconds S] [--seed N] [--save-dir DIR] [--write-seeds DIR] [input...]\n",
                argv[0]);
            return 2;
        }
    }

    for (const auto &path : replay) {
        std::ifstream in(path, std::ios::binary);
        const Bytes input((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        LLVMFuzzerTestOneInput(input.data(), input.size());
        std::printf("replayed %s: no crash\n", path.string().c_str());
    }
    if (!replay.empty())
        return 0;

    if (!seedDir.empty()) {
        std::filesystem::create_directories(seedDir);
        int n = 0;
        for (const Bytes &s : seeds()) {
            std::ofstream out(seedDir / ("seed-" + std::to_string(n++) + ".gguf"), std::ios::binary);
            out.write(reinterpret_cast<const char *>(s.data()), static_cast<std::streamsize>(s.size()));
        }
        std::printf("wrote %d seed files to %s\n", n, seedDir.string().c_str());
        return 0;
    }
    g_saveDir = saveDir;
    if (__sanitizer_set_death_callback)
        __sanitizer_set_death_callback(saveOnDeath);
    const std::vector<Bytes> corpus = seeds();
    Mutator mutator(seed);
    const auto start = std::chrono::steady_clock::now();
    const auto deadline = start + std::chrono::duration<double>(seconds);
    std::uint64_t executions = 0;
    Bytes input;
    // Every seed once unmutated (they must parse), then mutants until the time is up.
    for (const Bytes &s : corpus) {
        try {
            nw::GgufFile::fromMemory(std::as_bytes(std::span(s)), "seed");
        } catch (const nw::Error &e) {
            std::fprintf(stderr, "a seed file does not parse: %s\n", e.what());
            return 1;
        }
        LLVMFuzzerTestOneInput(s.data(), s.size());
        ++executions;
    }
    while (std::chrono::steady_clock::now() < deadline) {
        for (int batch = 0; batch < 256; ++batch) {
            input = corpus[mutator.below(corpus.size())];
            mutator.mutate(input, corpus);
            g_current = &input;
            g_iteration = executions;
            // An exact-size heap copy, so reading one byte past the input is an ASan error.
            auto *exact = static_cast<std::uint8_t *>(std::malloc(input.size() ? input.size() : 1));
            std::memcpy(exact, input.data(), input.size());
            try {
                LLVMFuzzerTestOneInput(exact, input.size());
            } catch (const std::exception &e) {
                std::fprintf(stderr, "iteration %llu: unexpected %s: %s\n", static_cast<unsigned long long>(executions),
                    typeid(e).name(), e.what());
                save(saveDir, input, executions);
                std::free(exact);
                return 1;
            }
            std::free(exact);
            ++executions;
        }
    }
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("fuzz_gguf_driver: %llu executions in %.1f s (%.0f/s), %llu parsed, the rest refused with "
                "nw::Error; seed %llu, %zu seed files, no failures\n",
        static_cast<unsigned long long>(executions), elapsed, static_cast<double>(executions) / elapsed,
        static_cast<unsigned long long>(g_fuzzGgufAccepted), static_cast<unsigned long long>(seed), corpus.size());
    return 0;
}
