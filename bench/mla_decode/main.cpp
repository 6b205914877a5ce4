// bench_mla_decode: effective bandwidth of the MLA decode kernel (bytes of latent cache + queries
// read / time) for contexts 4K..128K and batch 1..64, as GB/s and as a fraction of the device's
// peak HBM bandwidth, beside a cuBLAS-only attention (S = Q·K^T and O = P·V as strided-batched
// bf16 GEMMs with f32 accumulation, a row softmax between them) timed in the same run.
//
// Usage: bench_mla_decode [--heads N] [--iters N] [--path tc|plain] [--quick]
// Exits 77 when there is no CUDA device.
#include "bench/bench_main.h"
#include "bench/mla_decode/softmax_rows.cuh"
#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/device_buffer.h"
#include "kernels/cuda/mla_decode.cuh"

#include <cublas_v2.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <numeric>
#include <random>
#include <string>
#include <vector>

namespace {

using nw::cuda::DeviceBuffer;
using nw::cuda::kMlaBlockSize;
using nw::cuda::kMlaLoraRank;
using nw::cuda::kMlaRowDim;

constexpr double kH100SxmPeak = 3.35e12; // bytes/s, NVIDIA's H100 SXM5 datasheet figure

// Median time in microseconds of `iters` runs of `fn` after `warmup` runs (cudaEvent timing).
double medianMicros(const std::function<void()> &fn, int warmup, int iters)
{
    for (int i = 0; i < warmup; ++i)
        fn();
    cudaEvent_t start, stop;
    NW_CUDA_CHECK(cudaEventCreate(&start));
    NW_CUDA_CHECK(cudaEventCreate(&stop));
    std::vector<double> times;
    for (int i = 0; i < iters; ++i) {
        NW_CUDA_CHECK(cudaEventRecord(start));
        fn();
        NW_CUDA_CHECK(cudaEventRecord(stop));
        NW_CUDA_CHECK(cudaEventSynchronize(stop));
        float ms = 0.f;
        NW_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
        times.push_back(double(ms) * 1e3);
    }
    NW_CUDA_CHECK(cudaEventDestroy(start));
    NW_CUDA_CHECK(cudaEventDestroy(stop));
    std::nth_element(times.begin(), times.begin() + times.size() / 2, times.end());
    return times[times.size() / 2];
}

// Fills a device buffer with random bf16 values in [-1, 1] (generated on the host once).
void fillRandomBf16(DeviceBuffer &buffer, std::uint32_t seed)
{
    const std::size_t count = buffer.bytes() / 2;
    const std::size_t chunk = std::size_t(1) << 24;
    std::vector<std::uint16_t> host(std::min(count, chunk));
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> value(-1.f, 1.f);
    for (auto &h : host) {
        const float f = value(rng);
        std::uint32_t bits = 0;
        std::memcpy(&bits, &f, 4);
        h = static_cast<std::uint16_t>(bits >> 16);
    }
    // The same random chunk repeated: values only need to be finite and varied.
    for (std::size_t done = 0; done < count; done += host.size()) {
        const std::size_t n = std::min(host.size(), count - done);
        NW_CUDA_CHECK(cudaMemcpy(buffer.as<std::uint16_t>() + done, host.data(), n * 2,
                                 cudaMemcpyHostToDevice));
    }
}

int run(int argc, char **argv)
{
    int nHeads = 16; // DeepSeek-V2-Lite (V3: 128)
    int iters = 20;
    bool quick = false;
    nw::cuda::MlaPath path = nw::cuda::MlaPath::Auto;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--heads" && i + 1 < argc)
            nHeads = std::atoi(argv[++i]);
        else if (arg == "--iters" && i + 1 < argc)
            iters = std::max(1, std::atoi(argv[++i]));
        else if (arg == "--path" && i + 1 < argc) {
            const std::string p = argv[++i];
            path = p == "plain" ? nw::cuda::MlaPath::Plain : nw::cuda::MlaPath::TensorCore;
        } else if (arg == "--quick")
            quick = true;
        else {
            std::fprintf(stderr, "usage: %s [--heads N] [--iters N] [--path tc|plain] [--quick]\n", argv[0]);
            return 2;
        }
    }
    if (nHeads <= 0) {
        std::fprintf(stderr, "--heads must be positive\n");
        return 2;
    }
    if (!nw::cuda::cudaDevicePresent()) {
        std::printf("SKIP: no CUDA device; bench_mla_decode needs one\n");
        return 77;
    }

    int device = 0;
    NW_CUDA_CHECK(cudaGetDevice(&device));
    cudaDeviceProp prop{};
    NW_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
    int memClockKhz = 0, busWidthBits = 0;
    NW_CUDA_CHECK(cudaDeviceGetAttribute(&memClockKhz, cudaDevAttrMemoryClockRate, device));
    NW_CUDA_CHECK(cudaDeviceGetAttribute(&busWidthBits, cudaDevAttrGlobalMemoryBusWidth, device));
    // Double data rate: two transfers per clock on each bus bit.
    const double peak = double(memClockKhz) * 1e3 * (double(busWidthBits) / 8.0) * 2.0;
    std::printf("device: %s (sm_%d%d, %d SMs), peak HBM %.0f GB/s from clock %d kHz x %d bits x 2 "
                "(H100 SXM reference: %.0f GB/s)\n",
                prop.name, prop.major, prop.minor, prop.multiProcessorCount, peak / 1e9, memClockKhz,
                busWidthBits, kH100SxmPeak / 1e9);
    std::printf("heads %d, latent rows %d bf16 (c_kv %d + rope %d), block %d tokens, median of %d\n\n",
                nHeads, kMlaRowDim, kMlaLoraRank, kMlaRowDim - kMlaLoraRank, kMlaBlockSize, iters);

    const std::vector<int> contexts = quick ? std::vector<int>{4096, 32768}
                                            : std::vector<int>{4096, 8192, 16384, 32768, 65536, 131072};
    const std::vector<int> batches = quick ? std::vector<int>{1, 16} : std::vector<int>{1, 4, 16, 64};
    const int maxCtx = contexts.back(), maxBatch = batches.back();
    const std::size_t maxTokens = std::size_t(maxCtx) * maxBatch;

    // One cache for the largest case; sequence b uses blocks [b * blocksPerSeq, ...) in a
    // shuffled order for the kernel (paged) and in order for cuBLAS (contiguous rows).
    DeviceBuffer cache(maxTokens * kMlaRowDim * 2);
    fillRandomBf16(cache, 1);
    DeviceBuffer q(std::size_t(maxBatch) * nHeads * kMlaRowDim * 2);
    fillRandomBf16(q, 2);
    DeviceBuffer outKernel(std::size_t(maxBatch) * nHeads * kMlaLoraRank * 4);
    DeviceBuffer outCublas(outKernel.bytes());
    DeviceBuffer scores(maxTokens * nHeads * 4);
    DeviceBuffer probs(maxTokens * nHeads * 2);
    cublasHandle_t cublas = nullptr;
    NW_CUBLAS_CHECK(cublasCreate(&cublas));
    const float scale = 1.f / std::sqrt(192.f);

    std::printf("%7s %5s | %10s %9s %6s | %10s %9s %6s | %7s %9s\n", "context", "batch", "mla us",
                "GB/s", "%peak", "cublas us", "GB/s", "%peak", "speedup", "max|diff|");
    for (const int ctx : contexts) {
        for (const int batch : batches) {
            const int blocksPerSeq = ctx / kMlaBlockSize;
            std::vector<std::int32_t> table(std::size_t(batch) * blocksPerSeq);
            std::mt19937 rng(unsigned(ctx + batch));
            for (int b = 0; b < batch; ++b) {
                auto *row = table.data() + std::size_t(b) * blocksPerSeq;
                std::iota(row, row + blocksPerSeq, b * blocksPerSeq);
                std::shuffle(row, row + blocksPerSeq, rng);
            }
            DeviceBuffer tableDev = DeviceBuffer::from(table);
            DeviceBuffer lens = DeviceBuffer::from(std::vector<std::int32_t>(batch, ctx));

            nw::cuda::MlaDecodeArgs a;
            a.q = q.data();
            a.qType = nw::cuda::MlaQueryType::BF16;
            a.cache = cache.as<std::uint16_t>();
            a.nCacheBlocks = std::int64_t(maxTokens / kMlaBlockSize);
            a.blockTable = tableDev.as<std::int32_t>();
            a.maxBlocksPerSeq = blocksPerSeq;
            a.seqLens = lens.as<std::int32_t>();
            a.out = outKernel.as<float>();
            a.batch = batch;
            a.nHeads = nHeads;
            a.scale = scale;
            a.path = path;
            DeviceBuffer workspace(nw::cuda::mlaDecodeWorkspaceBytes(a));
            const double kernelUs = medianMicros(
                [&] { nw::cuda::mlaDecode(a, workspace.data(), workspace.bytes(), nullptr); }, 3, iters);

            const float one = 1.f, zero = 0.f;
            const long long kvStride = (long long)ctx * kMlaRowDim;
            const auto cublasAttention = [&] {
                // S^T[ctx, heads] = K[ctx, 576] · Q^T (column-major views of row-major data).
                NW_CUBLAS_CHECK(cublasGemmStridedBatchedEx(
                    cublas, CUBLAS_OP_T, CUBLAS_OP_N, ctx, nHeads, kMlaRowDim, &one, cache.data(),
                    CUDA_R_16BF, kMlaRowDim, kvStride, q.data(), CUDA_R_16BF, kMlaRowDim,
                    (long long)nHeads * kMlaRowDim, &zero, scores.data(), CUDA_R_32F, ctx,
                    (long long)ctx * nHeads, batch, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
                nw::bench::softmaxRowsToBf16(scores.as<float>(), probs.as<std::uint16_t>(),
                                             batch * nHeads, ctx, scale, nullptr);
                // O^T[512, heads] = V^T[512, ctx] · P^T[ctx, heads]; V = first 512 of each row.
                NW_CUBLAS_CHECK(cublasGemmStridedBatchedEx(
                    cublas, CUBLAS_OP_N, CUBLAS_OP_N, kMlaLoraRank, nHeads, ctx, &one, cache.data(),
                    CUDA_R_16BF, kMlaRowDim, kvStride, probs.data(), CUDA_R_16BF, ctx,
                    (long long)ctx * nHeads, &zero, outCublas.data(), CUDA_R_32F, kMlaLoraRank,
                    (long long)nHeads * kMlaLoraRank, batch, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
            };
            const double cublasUs = medianMicros(cublasAttention, 3, iters);

            // Both computed the same attention (the kernel's table is a permutation of the
            // contiguous layout cuBLAS reads): their outputs must agree to bf16 rounding.
            const std::size_t nOut = std::size_t(batch) * nHeads * kMlaLoraRank;
            const auto ours = outKernel.download<float>(nOut);
            const auto theirs = outCublas.download<float>(nOut);
            double maxDiff = 0.0;
            for (std::size_t i = 0; i < nOut; ++i)
                maxDiff = std::max(maxDiff, double(std::abs(ours[i] - theirs[i])));

            const double bytes = double(batch) * ctx * kMlaRowDim * 2 + double(batch) * nHeads * kMlaRowDim * 2;
            const double gbsKernel = bytes / (kernelUs * 1e-6) / 1e9;
            const double gbsCublas = bytes / (cublasUs * 1e-6) / 1e9;
            std::printf("%7d %5d | %10.1f %9.0f %5.1f%% | %10.1f %9.0f %5.1f%% | %6.2fx %9.2e\n", ctx,
                        batch, kernelUs, gbsKernel, 100.0 * gbsKernel * 1e9 / peak, cublasUs, gbsCublas,
                        100.0 * gbsCublas * 1e9 / peak, cublasUs / kernelUs, maxDiff);
            std::fflush(stdout);
        }
    }
    NW_CUBLAS_CHECK(cublasDestroy(cublas));
    return 0;
}

} // namespace

int main(int argc, char **argv)
{
    return nw::bench::runMain("bench_mla_decode", run, argc, argv);
}
