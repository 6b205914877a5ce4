// Prefill matmul time for the matrices of one Llama-3.2-1B layer (q, k, v, o: 2048 wide; gate,
// up: 8192 x 2048; down: 2048 x 8192) in three ways, alternated in one run so that a loaded
// machine slows them alike:
//   rows    cpu::matmul on the file rows (the path of types the CPU backend does not repack),
//   packed1 the 8-row packed groups, every token through the 1-token group kernel (the driver
//           matmulPacked had before its tile kernels, copied below),
//   tile    matmulPacked as it is: kTileTokens tokens per call of the tile kernel.
// One thread is timed in process CPU time (what the call costs when the core is not shared);
// more threads in wall time. Prints ms per layer (best of --repeat) and tokens per second of
// the layer's matmuls.
//
//   bench_packed_prefill [--types q8_0,q4_0,q4_k] [--tokens 512] [--threads 1,2] [--repeat 3]
#include "kernels/backend.h"
#include "kernels/cpu/dot_products.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/matmul_packed.h"
#include "kernels/cpu/matmul_packed_kernels.h"
#include "kernels/cpu/quantize.h"
#include "kernels/cpu/thread_pool.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <limits>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace {

using nw::TensorType;

double processCpuSeconds()
{
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

double wallSeconds()
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::vector<std::string> split(const std::string &s)
{
    std::vector<std::string> out;
    std::stringstream in(s);
    for (std::string item; std::getline(in, item, ',');)
        out.push_back(item);
    return out;
}

struct Matrix {
    std::int64_t rows, cols;
    std::vector<std::byte> bytes; // file rows
    std::unique_ptr<nw::cpu::PackedWeights> packed;
    nw::WeightMatrix view() const { return {packed->type, rows, cols, bytes.data(), 0}; }
};

Matrix makeMatrix(TensorType type, std::int64_t rows, std::int64_t cols, std::mt19937 &rng)
{
    Matrix m{rows, cols, {}, nullptr};
    const std::size_t rowBytes = nw::rowBytes(type, static_cast<std::size_t>(cols));
    m.bytes.resize(rowBytes * static_cast<std::size_t>(rows));
    std::normal_distribution<float> normal(0.f, 1.f);
    std::vector<float> row(static_cast<std::size_t>(cols));
    for (std::int64_t r = 0; r < rows; ++r) {
        for (float &v : row)
            v = normal(rng);
        nw::quantizeRow(type, row.data(), m.bytes.data() + static_cast<std::size_t>(r) * rowBytes, row.size());
    }
    m.packed = nw::cpu::packWeights({type, rows, cols, m.bytes.data(), 0});
    return m;
}

// matmulPacked's driver before the tile kernels: per group of 8 rows, each token through the
// 1-token kernel.
void matmulPackedOneByOne(nw::cpu::ThreadPool &pool, std::vector<std::byte> &scratch, const nw::cpu::PackedWeights &w,
                          const float *x, float *y, int nTokens)
{
    const nw::cpu::PackedGroupDot dot = nw::cpu::avx2PackedDot(w.type);
    const nw::cpu::DotKernel &quant = nw::cpu::dotKernel(w.type);
    const std::int64_t cols = w.cols, rows = w.rows;
    const std::int64_t nBlocks = cols / static_cast<std::int64_t>(nw::tensorTypeTraits(w.type).blockElements);
    const std::size_t actStride = nw::cpu::activationRowBytes(quant.activation, cols);
    const std::size_t actBytes = actStride * static_cast<std::size_t>(nTokens);
    const bool needSums = w.type == TensorType::Q4_0;
    if (scratch.size() < actBytes + sizeof(std::int32_t) * static_cast<std::size_t>(nBlocks * nTokens) + 4)
        scratch.resize(actBytes + sizeof(std::int32_t) * static_cast<std::size_t>(nBlocks * nTokens) + 4);
    std::byte *act = scratch.data();
    auto *sums = reinterpret_cast<std::int32_t *>(act + (actBytes + 3) / 4 * 4);
    pool.parallelFor(nTokens, 1, [&](std::int64_t t0, std::int64_t t1) {
        for (std::int64_t t = t0; t < t1; ++t) {
            std::byte *row = act + static_cast<std::size_t>(t) * actStride;
            quant.quantize(x + t * cols, row, cols);
            if (needSums)
                for (std::int64_t b = 0; b < nBlocks; ++b) {
                    std::int32_t s = 0;
                    for (int i = 0; i < 32; ++i)
                        s += reinterpret_cast<const nw::BlockQ8_0 *>(row)[b].qs[i];
                    sums[t * nBlocks + b] = s;
                }
        }
    });
    pool.parallelFor(w.nGroups, 2, [&](std::int64_t g0, std::int64_t g1) {
        float out[8];
        for (std::int64_t g = g0; g < g1; ++g) {
            const std::int64_t r0 = g * 8, nr = std::min<std::int64_t>(8, rows - r0);
            for (int t = 0; t < nTokens; ++t) {
                dot(w.group(g), act + static_cast<std::size_t>(t) * actStride, needSums ? sums + t * nBlocks : nullptr,
                    nBlocks, out);
                std::copy(out, out + nr, y + static_cast<std::int64_t>(t) * rows + r0);
            }
        }
    });
}

} // namespace

int main(int argc, char **argv)
{
    std::vector<std::string> typeNames{"q8_0", "q4_0", "q4_k"};
    std::vector<int> threadCounts{1, 2};
    int nTokens = 512, repeat = 3;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string key = argv[i], value = argv[i + 1];
        if (key == "--types")
            typeNames = split(value);
        else if (key == "--tokens")
            nTokens = std::stoi(value);
        else if (key == "--repeat")
            repeat = std::stoi(value);
        else if (key == "--threads") {
            threadCounts.clear();
            for (const std::string &t : split(value))
                threadCounts.push_back(std::stoi(t));
        } else {
            std::fprintf(stderr, "unknown option %s\n", key.c_str());
            return 2;
        }
    }
    struct Shape {
        std::int64_t rows, cols;
    };
    const Shape shapes[] = {{2048, 2048}, {512, 2048}, {512, 2048}, {2048, 2048}, {8192, 2048}, {8192, 2048}, {2048, 8192}};

    std::printf("Llama-3.2-1B layer matmuls, %d tokens; ms per layer (best of %d; 1 thread: CPU time, else wall)\n",
                nTokens, repeat);
    std::printf("%-6s %7s %10s %10s %10s %10s %11s %11s\n", "type", "threads", "rows ms", "packed1 ms", "tile ms",
                "tile tok/s", "x packed1", "x rows");
    std::mt19937 rng(1);
    for (const std::string &name : typeNames) {
        const TensorType type = name == "q8_0"   ? TensorType::Q8_0
                                : name == "q4_0" ? TensorType::Q4_0
                                : name == "q4_k" ? TensorType::Q4_K
                                                 : TensorType::F32;
        if (type == TensorType::F32 || !nw::cpu::avx2PackedDot(type)) {
            std::fprintf(stderr, "%s: not a type with AVX2 packed kernels here\n", name.c_str());
            return 2;
        }
        std::vector<Matrix> layer;
        for (const Shape &s : shapes)
            layer.push_back(makeMatrix(type, s.rows, s.cols, rng));
        std::normal_distribution<float> normal(0.f, 1.f);
        std::vector<float> x(static_cast<std::size_t>(nTokens) * 8192), y(static_cast<std::size_t>(nTokens) * 8192);
        for (float &v : x)
            v = normal(rng);
        for (int threads : threadCounts) {
            nw::cpu::ThreadPool pool(threads);
            std::vector<std::byte> scratch;
            double best[3] = {std::numeric_limits<double>::max(), std::numeric_limits<double>::max(),
                              std::numeric_limits<double>::max()};
            for (int rep = 0; rep < repeat; ++rep)
                for (int method = 0; method < 3; ++method) {
                    const double c0 = processCpuSeconds(), w0 = wallSeconds();
                    for (const Matrix &m : layer) {
                        if (method == 0)
                            nw::cpu::matmul(pool, scratch, m.view(), x.data(), y.data(), nTokens);
                        else if (method == 1)
                            matmulPackedOneByOne(pool, scratch, *m.packed, x.data(), y.data(), nTokens);
                        else
                            nw::cpu::matmulPacked(pool, scratch, *m.packed, x.data(), y.data(), nTokens);
                    }
                    const double s = threads == 1 ? processCpuSeconds() - c0 : wallSeconds() - w0;
                    best[method] = std::min(best[method], s);
                }
            std::printf("%-6s %7d %10.1f %10.1f %10.1f %10.1f %11.2f %11.2f\n", name.c_str(), threads, best[0] * 1e3,
                        best[1] * 1e3, best[2] * 1e3, nTokens / best[2], best[1] / best[2], best[0] / best[2]);
            std::fflush(stdout);
        }
    }
    return 0;
}
