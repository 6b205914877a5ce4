// A bounded, deterministic mutation loop around a fuzz entry point (LLVMFuzzerTestOneInput) and
// its seeds (nwFuzzSeeds), for compilers without libFuzzer and for CTest: every seed once, then
// mutants of the seeds (bit flips, random and boundary bytes, inserted, deleted, spliced and
// repeated runs, so inputs also grow long) until the time is up. Any exception other than nw::Error
// fails the run, and a broken invariant aborts; the input is saved for replay either way.
// Usage: DRIVER [--seconds S] [--seed N] [--max-len BYTES] [--save-dir DIR] [--write-seeds DIR] [input...]
#include "common/error.h"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <typeinfo>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size);
std::vector<std::vector<std::uint8_t>> nwFuzzSeeds();

namespace {

using Bytes = std::vector<std::uint8_t>;

const Bytes *g_current = nullptr;
std::filesystem::path g_saveDir;

void save(const Bytes &input)
{
    const auto path = g_saveDir / "fuzz-failure.bin";
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char *>(input.data()), static_cast<std::streamsize>(input.size()));
    std::fprintf(stderr, "input saved to %s\n", path.string().c_str());
}

void onAbort(int)
{
    if (g_current)
        save(*g_current);
    std::_Exit(1);
}

class Mutator {
public:
    Mutator(std::uint64_t seed, std::size_t maxLen)
        : m_rng(seed)
        , m_maxLen(maxLen)
    {
    }

    std::size_t below(std::size_t n) { return n == 0 ? 0 : static_cast<std::size_t>(m_rng() % n); }

    void mutate(Bytes &b, const std::vector<Bytes> &corpus)
    {
        const int rounds = 1 + static_cast<int>(below(8));
        for (int r = 0; r < rounds; ++r)
            mutateOnce(b, corpus);
        if (b.size() > m_maxLen)
            b.resize(m_maxLen);
    }

private:
    void mutateOnce(Bytes &b, const std::vector<Bytes> &corpus)
    {
        static constexpr std::uint8_t kBytes[]
            = { 0x00, 0x01, 0x7F, 0x80, 0xC0, 0xE0, 0xF0, 0xF8, 0xFE, 0xFF, ' ', '\n', '<', '>', '|', 'a', '0' };
        if (b.empty()) {
            b.push_back(static_cast<std::uint8_t>(m_rng()));
            return;
        }
        const std::size_t at = below(b.size());
        switch (below(8)) {
        case 0:
            b[at] ^= static_cast<std::uint8_t>(1u << below(8));
            break;
        case 1:
            b[at] = static_cast<std::uint8_t>(m_rng());
            break;
        case 2:
            b[at] = kBytes[below(std::size(kBytes))];
            break;
        case 3: { // insert random bytes
            const std::size_t n = 1 + below(16);
            for (std::size_t i = 0; i < n; ++i)
                b.insert(b.begin() + std::ptrdiff_t(at), static_cast<std::uint8_t>(m_rng()));
            break;
        }
        case 4: { // delete a run
            const std::size_t n = std::min(b.size() - at, 1 + below(16));
            b.erase(b.begin() + std::ptrdiff_t(at), b.begin() + std::ptrdiff_t(at + n));
            break;
        }
        case 5: { // splice a run of another seed
            const Bytes &other = corpus[below(corpus.size())];
            if (!other.empty()) {
                const std::size_t from = below(other.size());
                const std::size_t n = std::min(other.size() - from, 1 + below(256));
                b.insert(b.begin() + std::ptrdiff_t(at), other.begin() + std::ptrdiff_t(from),
                    other.begin() + std::ptrdiff_t(from + n));
            }
            break;
        }
        case 6: { // repeat a run many times: long inputs (quadratic paths, deep merges)
            const std::size_t n = std::min(b.size() - at, 1 + below(8));
            const Bytes run(b.begin() + std::ptrdiff_t(at), b.begin() + std::ptrdiff_t(at + n));
            const std::size_t times = 1 + below(m_maxLen / n + 1);
            for (std::size_t i = 0; i < times && b.size() < m_maxLen; ++i)
                b.insert(b.end(), run.begin(), run.end());
            break;
        }
        default:
            b.resize(at + 1); // truncate
        }
    }

    std::mt19937_64 m_rng;
    std::size_t m_maxLen;
};

Bytes readInput(const std::filesystem::path &path)
{
    std::ifstream in(path, std::ios::binary);
    return Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

} // namespace

int main(int argc, char **argv)
{
    double seconds = 5;
    std::uint64_t seed = 20261207;
    std::size_t maxLen = 4096;
    std::filesystem::path seedDir;
    std::vector<std::filesystem::path> replay;
    g_saveDir = std::filesystem::current_path();
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--seconds" && i + 1 < argc)
            seconds = std::atof(argv[++i]);
        else if (arg == "--seed" && i + 1 < argc)
            seed = std::strtoull(argv[++i], nullptr, 10);
        else if (arg == "--max-len" && i + 1 < argc)
            maxLen = std::max<std::size_t>(1, std::strtoull(argv[++i], nullptr, 10));
        else if (arg == "--save-dir" && i + 1 < argc)
            g_saveDir = argv[++i];
        else if (arg == "--write-seeds" && i + 1 < argc)
            seedDir = argv[++i];
        else if (arg.rfind("--", 0) != 0)
            replay.emplace_back(arg);
        else {
            std::fprintf(stderr,
                "usage: %s [--seconds S] [--seed N] [--max-len BYTES] [--save-dir DIR] "
                "[--write-seeds DIR] [input...]\n",
                argv[0]);
            return 2;
        }
    }
    const std::string name = std::filesystem::path(argv[0]).filename().string();
    for (const auto &path : replay) {
        const Bytes input = readInput(path);
        LLVMFuzzerTestOneInput(input.data(), input.size());
        std::printf("replayed %s: no failure\n", path.string().c_str());
    }
    if (!replay.empty())
        return 0;
    const std::vector<Bytes> corpus = nwFuzzSeeds();
    if (!seedDir.empty()) {
        std::filesystem::create_directories(seedDir);
        for (std::size_t i = 0; i < corpus.size(); ++i) {
            std::ofstream out(seedDir / ("seed-" + std::to_string(i)), std::ios::binary);
            out.write(reinterpret_cast<const char *>(corpus[i].data()), static_cast<std::streamsize>(corpus[i].size()));
        }
        std::printf("wrote %zu seed files to %s\n", corpus.size(), seedDir.string().c_str());
        return 0;
    }

    std::signal(SIGABRT, onAbort);
    Mutator mutator(seed, maxLen);
    const auto start = std::chrono::steady_clock::now();
    const auto deadline = start + std::chrono::duration<double>(seconds);
    std::uint64_t executions = 0;
    double slowest = 0;
    Bytes slowestInput; // saved at the end: a slow input is a finding too (super-linear paths)
    Bytes input;
    const auto runOne = [&](const Bytes &in) {
        g_current = &in;
        // An exact-size heap copy, so reading past the input is an ASan error where ASan is on.
        auto *exact = static_cast<std::uint8_t *>(std::malloc(in.size() ? in.size() : 1));
        std::memcpy(exact, in.data(), in.size());
        const auto t0 = std::chrono::steady_clock::now();
        try {
            LLVMFuzzerTestOneInput(exact, in.size());
        } catch (const std::exception &e) {
            std::fprintf(stderr, "%s: iteration %llu: unexpected %s: %s\n", name.c_str(),
                static_cast<unsigned long long>(executions), typeid(e).name(), e.what());
            save(in);
            std::exit(1);
        }
        const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (t > slowest) {
            slowest = t;
            slowestInput = in;
        }
        std::free(exact);
        ++executions;
    };
    for (const Bytes &s : corpus)
        runOne(s);
    while (std::chrono::steady_clock::now() < deadline) {
        input = corpus[mutator.below(corpus.size())];
        mutator.mutate(input, corpus);
        runOne(input);
    }
    {
        const auto path = g_saveDir / (name + "-slowest.bin");
        std::ofstream out(path, std::ios::binary);
        out.write(
            reinterpret_cast<const char *>(slowestInput.data()), static_cast<std::streamsize>(slowestInput.size()));
    }
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf(
        "%s: %llu executions in %.1f s (%.0f/s), %zu seeds, seed %llu, slowest input %.3f s (%zu bytes, saved in "
        "--save-dir), no failures\n",
        name.c_str(), static_cast<unsigned long long>(executions), elapsed, static_cast<double>(executions) / elapsed,
        corpus.size(), static_cast<unsigned long long>(seed), slowest, slowestInput.size());
    return 0;
}
