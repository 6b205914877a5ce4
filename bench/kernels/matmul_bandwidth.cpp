// Matmul bandwidth: weight bytes read per second for a 2048 x 8192 weight (Q8_0, Q4_0, Q4_K, Q6_K,
// F16 by default; --types names others, e.g. q3_k,iq4_xs) at 1 and 64 tokens on 1 and 2 threads, in the file's row
// layout and (quant types) in the 8-row interleaved layout the CPU backend repacks them into (matmul_packed.h), printed
// as a fraction of the machine's streaming read bandwidth (a plain sum over 1 GiB, same thread counts) measured in the
// same run. Decode is memory-bound, so that fraction is what decides tokens per second; the CPU-time columns show what
// a call costs when the core is not shared.
//
//   bench_matmul_bandwidth [--quick] [--types q8_0,q4_0,...]
#include "kernels/backend.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/dot_products.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/matmul_packed.h"
#include "kernels/cpu/quantize.h"
#include "kernels/cpu/thread_pool.h"
#include "kernels/float16.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace {

using Clock = std::chrono::steady_clock;

double seconds(Clock::duration d)
{
    return std::chrono::duration<double>(d).count();
}

// CPU time of this process: on a shared, busy machine a 1-thread call's CPU time is what it
// would take unloaded (wall time also counts the time other processes held the core).
double processCpuSeconds()
{
    timespec ts {};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

#if defined(__x86_64__)
__attribute__((target("avx2"))) float sumFloats(const float *p, std::size_t n)
{
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
    for (std::size_t i = 0; i + 32 <= n; i += 32) {
        a0 = _mm256_add_ps(a0, _mm256_loadu_ps(p + i));
        a1 = _mm256_add_ps(a1, _mm256_loadu_ps(p + i + 8));
        a2 = _mm256_add_ps(a2, _mm256_loadu_ps(p + i + 16));
        a3 = _mm256_add_ps(a3, _mm256_loadu_ps(p + i + 24));
    }
    float out[8];
    _mm256_storeu_ps(out, _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    float s = 0;
    for (float v : out)
        s += v;
    return s;
}
#else
float sumFloats(const float *p, std::size_t n)
{
    float s = 0;
    for (std::size_t i = 0; i < n; ++i)
        s += p[i];
    return s;
}
#endif

// Streaming read bandwidth in GB/s: the 1 GiB buffer is summed in slices of `slice` bytes (the
// size of one weight matrix, so both are timed over the same span and equally exposed to a
// busy machine), best slice time of `reps` passes.
double streamBandwidth(nw::cpu::ThreadPool &pool, const std::vector<float> &buffer, std::size_t slice, int reps)
{
    const std::size_t sliceFloats = slice / sizeof(float);
    double best = 1e30;
    volatile float sink = 0;
    for (int r = 0; r < reps; ++r)
        for (std::size_t s0 = 0; s0 + sliceFloats <= buffer.size(); s0 += sliceFloats) {
            float partial[64] = {};
            const auto t0 = Clock::now();
            pool.parallelFor(static_cast<std::int64_t>(sliceFloats), 1 << 14, [&](std::int64_t b, std::int64_t e) {
                partial[static_cast<std::size_t>(b >> 14) % 64]
                    += sumFloats(buffer.data() + s0 + std::size_t(b), static_cast<std::size_t>(e - b));
            });
            best = std::min(best, seconds(Clock::now() - t0));
            sink = sink + partial[0];
        }
    return static_cast<double>(sliceFloats * sizeof(float)) / best / 1e9;
}

struct Weights {
    nw::TensorType type;
    std::vector<std::vector<std::byte>> copies; // enough copies to exceed the last-level cache
};

Weights makeWeights(nw::TensorType type, int rows, int cols, std::size_t minTotalBytes)
{
    Weights w { type, {} };
    const std::size_t rowBytes = nw::rowBytes(type, static_cast<std::size_t>(cols));
    const std::size_t bytes = rowBytes * static_cast<std::size_t>(rows);
    std::vector<std::byte> first(bytes);
    std::mt19937 rng(1);
    std::normal_distribution<float> value(0.f, 0.05f);
    std::vector<float> row(static_cast<std::size_t>(cols));
    if (nw::canQuantize(type)) {
        for (int r = 0; r < rows; ++r) {
            for (float &v : row)
                v = value(rng);
            nw::quantizeRow(type, row.data(), first.data() + static_cast<std::size_t>(r) * rowBytes, row.size());
        }
    } else {
        // The IQ2/IQ3 grid types (no encoder here): random blocks, each led by its f16 scale d.
        std::uniform_int_distribution<int> byte(0, 255);
        for (std::byte &b : first)
            b = static_cast<std::byte>(byte(rng));
        const std::size_t blockBytes = nw::tensorTypeTraits(type).blockBytes;
        const nw::f16_t d = nw::floatToFp16(0.001f);
        for (std::size_t at = 0; at < bytes; at += blockBytes)
            std::memcpy(first.data() + at, &d, sizeof d);
    }
    const std::size_t nCopies = std::max<std::size_t>(2, (minTotalBytes + bytes - 1) / bytes);
    for (std::size_t i = 0; i < nCopies; ++i)
        w.copies.push_back(first);
    return w;
}

// A type the matmul computes with, by its GGUF name ("Q4_K").
std::optional<nw::TensorType> typeNamed(const std::string &name)
{
    for (std::uint32_t id = 0; id < 64; ++id)
        if (const auto traits = nw::findTensorType(id);
            traits && traits->name == name && nw::cpu::matmulSupports(traits->type))
            return traits->type;
    return std::nullopt;
}

} // namespace

int main(int argc, char **argv)
{
    bool quick = false;
    std::vector<nw::TensorType> types = { nw::TensorType::Q8_0, nw::TensorType::Q4_0, nw::TensorType::Q4_K,
        nw::TensorType::Q6_K, nw::TensorType::F16 };
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--quick") {
            quick = true;
        } else if (arg == "--types" && i + 1 < argc) {
            types.clear();
            std::string list = argv[++i];
            for (std::size_t start = 0; start <= list.size();) {
                const std::size_t end = std::min(list.find(',', start), list.size());
                std::string name = list.substr(start, end - start);
                std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::toupper(c); });
                const auto type = typeNamed(name);
                if (!type) {
                    std::fprintf(stderr, "unknown or unsupported type %s\n", name.c_str());
                    return 2;
                }
                types.push_back(*type);
                start = end + 1;
            }
        } else {
            std::fprintf(stderr, "usage: %s [--quick] [--types q8_0,q4_0,...]\n", argv[0]);
            return 2;
        }
    }
    const int rows = 2048, cols = 8192;
    const auto &features = nw::cpu::cpuFeatures();
    std::printf("CPU: %s (%d logical cores; %s)\n", features.model.c_str(), features.logicalCores,
        nw::cpu::describeSimd(features).c_str());
    std::printf("matmul %d x %d weights, best of several runs, weights cycled through > 256 MiB so "
                "they come from memory, not cache\n\n",
        rows, cols);

    std::vector<float> stream((quick ? 256u : 1024u) * 1024u * 1024u / sizeof(float));
    for (std::size_t i = 0; i < stream.size(); ++i)
        stream[i] = static_cast<float>(i & 1023);
    const int threadCounts[] = { 1, 2 };
    double streamGBs[3] = {};
    for (int threads : threadCounts) {
        nw::cpu::ThreadPool pool(threads);
        streamGBs[threads] = streamBandwidth(pool, stream, std::size_t(16) << 20, quick ? 1 : 3);
        std::printf("streaming read (sum over %zu MiB in 16 MiB slices, best slice), %d thread%s: %.2f GB/s\n",
            stream.size() * sizeof(float) >> 20, threads, threads > 1 ? "s" : "", streamGBs[threads]);
    }
    stream = {};
    std::printf("\n%-6s %-6s %-7s %7s %4s %9s %8s %10s %7s %11s %8s\n", "type", "isa", "layout", "tokens", "thr",
        "ms/call", "GB/s", "of stream", "GOP/s", "cpu ms/call", "cpu GB/s");

    std::mt19937 rng(2);
    std::normal_distribution<float> value(0.f, 1.f);
    for (nw::TensorType type : types) {
        const Weights w = makeWeights(type, rows, cols, std::size_t(256) << 20);
        const double weightBytes = static_cast<double>(w.copies[0].size());
        std::vector<std::unique_ptr<nw::cpu::PackedWeights>> packed;
        if (nw::cpu::canPack(type))
            for (const auto &copy : w.copies)
                packed.push_back(nw::cpu::packWeights(nw::denseWeights(type, rows, cols, copy.data())));
        for (int nTokens : { 1, 64 })
            for (bool usePacked : { false, true }) {
                if (usePacked && packed.empty())
                    continue;
                std::vector<float> x(static_cast<std::size_t>(nTokens) * cols),
                    y(static_cast<std::size_t>(nTokens) * rows);
                for (float &v : x)
                    v = value(rng);
                for (int threads : threadCounts) {
                    nw::cpu::ThreadPool pool(threads);
                    std::vector<std::byte> scratch;
                    const int calls = nTokens == 1 ? (quick ? 40 : 200) : (quick ? 4 : 12);
                    double best = 1e30, bestCpu = 1e30;
                    for (int c = 0; c < calls; ++c) {
                        const std::size_t which = static_cast<std::size_t>(c) % w.copies.size();
                        const nw::WeightMatrix view = nw::denseWeights(type, rows, cols, w.copies[which].data());
                        const double c0 = processCpuSeconds();
                        const auto t0 = Clock::now();
                        if (usePacked)
                            nw::cpu::matmulPacked(pool, scratch, *packed[which], x.data(), y.data(), nTokens);
                        else
                            nw::cpu::matmul(pool, scratch, view, x.data(), y.data(), nTokens);
                        best = std::min(best, seconds(Clock::now() - t0));
                        bestCpu = std::min(bestCpu, processCpuSeconds() - c0);
                    }
                    const double gbs = weightBytes / best / 1e9;
                    const double gops = 2.0 * rows * cols * nTokens / best / 1e9;
                    std::printf("%-6s %-6s %-7s %7d %4d %9.3f %8.2f %9.0f%% %7.1f",
                        std::string(nw::tensorTypeName(type)).c_str(), nw::cpu::dotKernel(type).isa,
                        usePacked ? "8-row" : "rows", nTokens, threads, best * 1e3, gbs,
                        100.0 * gbs / streamGBs[threads], gops);
                    if (threads == 1)
                        std::printf(" %11.3f %8.2f\n", bestCpu * 1e3, weightBytes / bestCpu / 1e9);
                    else
                        std::printf(" %11s %8s\n", "-", "-");
                }
            }
    }
    return 0;
}
