// Paged causal attention with an online softmax (Milakov & Gimelshein 2018): one CTA per
// (query token, head); its warps take every kWarps-th cache token with their own running max and
// sum, and warp 0 merges them by log-sum-exp. A lane holds PerLane elements of the query and of
// the output (element c = lane + 32 i), so loads of a row are coalesced across the warp.
// Written to be right and simple for llama-family decode and prefill; MLA decode at long
// context has its own tuned kernel (mla_decode.cu).
#include "kernels/cuda/attention.cuh"
#include "kernels/cuda/cuda_check.cuh"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <cmath>

namespace nw::cuda {
namespace {

constexpr int kWarps = 4;

template <TensorType Type>
__device__ inline float loadElement(const std::byte *row, int i)
{
    if constexpr (Type == TensorType::F16)
        return __half2float(reinterpret_cast<const __half *>(row)[i]);
    else if constexpr (Type == TensorType::BF16)
        return __bfloat162float(reinterpret_cast<const __nv_bfloat16 *>(row)[i]);
    else
        return reinterpret_cast<const float *>(row)[i];
}

__device__ inline float warpSum(float x)
{
    for (int offset = 16; offset > 0; offset >>= 1)
        x += __shfl_xor_sync(0xffffffffu, x, offset);
    return x;
}

struct KernelArgs {
    const float *q;
    float *out;
    const std::int32_t *positions;
    float scale;
    int window;          // > 0: keys (pos - window, pos] only
    const float *sinks;  // [nHeads] device, or null
    int nHeads;
    int group; // query heads per KV head
    KvLayerView kv;
    std::size_t kHeadBytes;
    std::size_t vHeadBytes;
};

template <TensorType Type, int PerLane>
__global__ void __launch_bounds__(kWarps * 32) attentionKernel(KernelArgs a)
{
    const int h = blockIdx.x;
    const int t = blockIdx.y;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const KvLayerView &kv = a.kv;
    const int kvHead = h / a.group;
    const int kDim = kv.kHeadDim, vDim = kv.vHeadDim;
    const float *q = a.q + (std::size_t(t) * a.nHeads + h) * kDim;

    float qr[PerLane], acc[PerLane];
#pragma unroll
    for (int i = 0; i < PerLane; ++i) {
        const int c = lane + 32 * i;
        qr[i] = c < kDim ? q[c] * a.scale : 0.f;
        acc[i] = 0.f;
    }
    float runningMax = -INFINITY, runningSum = 0.f;
    const int nCtx = a.positions[t] + 1;
    const int first = a.window > 0 ? max(0, nCtx - a.window) : 0;
    for (int j = first + warp; j < nCtx; j += kWarps) {
        const std::size_t block = std::size_t(kv.blockTable[j / kv.blockSize]);
        const std::size_t slot = std::size_t(j % kv.blockSize);
        const std::byte *k = kv.kBlocks + block * kv.kBlockStride + slot * kv.kRowStride
                             + std::size_t(kvHead) * a.kHeadBytes;
        const std::byte *v = kv.vBlocks + block * kv.vBlockStride + slot * kv.vRowStride
                             + std::size_t(kvHead) * a.vHeadBytes;
        float partial = 0.f;
#pragma unroll
        for (int i = 0; i < PerLane; ++i) {
            const int c = lane + 32 * i;
            if (c < kDim)
                partial += qr[i] * loadElement<Type>(k, c);
        }
        const float s = warpSum(partial);
        const float m = fmaxf(runningMax, s);
        const float correction = __expf(runningMax - m); // 0 on the first token (max was -inf)
        const float p = __expf(s - m);
        runningSum = runningSum * correction + p;
        runningMax = m;
#pragma unroll
        for (int i = 0; i < PerLane; ++i) {
            const int c = lane + 32 * i;
            acc[i] = acc[i] * correction + (c < vDim ? p * loadElement<Type>(v, c) : 0.f);
        }
    }

    // Merge the warps: out = sum_w acc_w e^(m_w - M) / sum_w l_w e^(m_w - M).
    __shared__ float warpMax[kWarps], warpSumShared[kWarps];
    __shared__ float warpAcc[kWarps][PerLane * 32];
    if (lane == 0) {
        warpMax[warp] = runningMax;
        warpSumShared[warp] = runningSum;
    }
#pragma unroll
    for (int i = 0; i < PerLane; ++i)
        warpAcc[warp][lane + 32 * i] = acc[i];
    __syncthreads();
    float globalMax = -INFINITY;
    for (int w = 0; w < kWarps; ++w)
        globalMax = fmaxf(globalMax, warpMax[w]);
    // A sink joins the denominator as one more logit with no value.
    const float sink = a.sinks != nullptr ? a.sinks[h] : -INFINITY;
    globalMax = fmaxf(globalMax, sink);
    float total = a.sinks != nullptr ? __expf(sink - globalMax) : 0.f;
    for (int w = 0; w < kWarps; ++w)
        if (warpSumShared[w] > 0.f)
            total += warpSumShared[w] * __expf(warpMax[w] - globalMax);
    float *out = a.out + (std::size_t(t) * a.nHeads + h) * vDim;
    for (int c = threadIdx.x; c < vDim; c += kWarps * 32) {
        float sum = 0.f;
        for (int w = 0; w < kWarps; ++w)
            if (warpSumShared[w] > 0.f)
                sum += warpAcc[w][c] * __expf(warpMax[w] - globalMax);
        out[c] = total > 0.f ? sum / total : 0.f; // no visible token: zeros, as an empty sum
    }
}

std::size_t elementBytes(TensorType type)
{
    return type == TensorType::F32 ? 4 : 2;
}

template <TensorType Type>
void launchForType(const KernelArgs &args, int nTokens, int perLane, cudaStream_t stream)
{
    const dim3 grid(unsigned(args.nHeads), unsigned(nTokens));
    if (perLane <= 4)
        attentionKernel<Type, 4><<<grid, kWarps * 32, 0, stream>>>(args);
    else if (perLane <= 8)
        attentionKernel<Type, 8><<<grid, kWarps * 32, 0, stream>>>(args);
    else
        attentionKernel<Type, kAttentionMaxHeadDim / 32><<<grid, kWarps * 32, 0, stream>>>(args);
    NW_CUDA_CHECK_LAUNCH();
}

} // namespace

void attention(const AttentionArgs &a, cudaStream_t stream)
{
    const KvLayerView &kv = a.kv;
    if (kv.type != TensorType::F32 && kv.type != TensorType::F16 && kv.type != TensorType::BF16)
        nw::fail(nw::Remedy::CpuDevice,
                 "cuda::attention: KV rows of type {} are not supported on CUDA yet (F32, F16, BF16); "
                 "the quantized +q8/+q4 modes run on the CPU", tensorTypeName(kv.type));
    if (kv.blockSize <= 0 || kv.blockTable == nullptr || kv.kBlocks == nullptr || kv.vBlocks == nullptr)
        nw::fail("cuda::attention: KV view without blocks (block size {})", kv.blockSize);
    if (kv.nKvHeads <= 0 || kv.kHeadDim <= 0 || kv.vHeadDim <= 0)
        nw::fail("cuda::attention: KV view with {} heads of K dim {} and V dim {}", kv.nKvHeads,
                 kv.kHeadDim, kv.vHeadDim);
    if (kv.kHeadDim > kAttentionMaxHeadDim || kv.vHeadDim > kAttentionMaxHeadDim)
        nw::fail("cuda::attention: head dims K {} / V {} exceed {}", kv.kHeadDim, kv.vHeadDim,
                 kAttentionMaxHeadDim);
    if (a.nTokens <= 0)
        return;
    if (a.nHeads <= 0 || a.nHeads % kv.nKvHeads != 0)
        nw::fail("cuda::attention: {} query heads cannot share {} KV heads", a.nHeads, kv.nKvHeads);
    if (a.nHeads > 65535 || a.nTokens > 65535)
        nw::fail("cuda::attention: {} tokens x {} heads exceed the launch grid", a.nTokens, a.nHeads);
    if (a.q == nullptr || a.out == nullptr || a.queryPositions == nullptr)
        nw::fail("cuda::attention: null pointer");
    const std::size_t es = elementBytes(kv.type);
    const bool sharedRow = kv.vBlocks == kv.kBlocks;
    if (sharedRow && kv.vHeadDim > kv.kHeadDim)
        nw::fail("cuda::attention: shared K/V rows need vHeadDim {} <= kHeadDim {}", kv.vHeadDim, kv.kHeadDim);
    if (kv.kRowStride < es * std::size_t(kv.nKvHeads) * std::size_t(kv.kHeadDim)
        || kv.kBlockStride < kv.kRowStride * std::size_t(kv.blockSize))
        nw::fail("cuda::attention: K strides (row {}, block {}) do not hold {} heads of {}", kv.kRowStride,
                 kv.kBlockStride, kv.nKvHeads, kv.kHeadDim);
    if (!sharedRow
        && (kv.vRowStride < es * std::size_t(kv.nKvHeads) * std::size_t(kv.vHeadDim)
            || kv.vBlockStride < kv.vRowStride * std::size_t(kv.blockSize)))
        nw::fail("cuda::attention: V strides (row {}, block {}) do not hold {} heads of {}", kv.vRowStride,
                 kv.vBlockStride, kv.nKvHeads, kv.vHeadDim);

    if (a.window < 0)
        nw::fail("cuda::attention: window {}", a.window);
    KernelArgs args{a.q, a.out, a.queryPositions, a.scale, a.window, a.sinks, a.nHeads, a.nHeads / kv.nKvHeads, kv,
                    es * std::size_t(kv.kHeadDim), es * std::size_t(kv.vHeadDim)};
    if (sharedRow) { // MLA: V is the first vHeadDim elements of the K row itself
        args.kv.vBlockStride = kv.kBlockStride;
        args.kv.vRowStride = kv.kRowStride;
        args.vHeadBytes = args.kHeadBytes;
    }
    const int perLane = (std::max(kv.kHeadDim, kv.vHeadDim) + 31) / 32;
    switch (kv.type) {
    case TensorType::F16: launchForType<TensorType::F16>(args, a.nTokens, perLane, stream); break;
    case TensorType::BF16: launchForType<TensorType::BF16>(args, a.nTokens, perLane, stream); break;
    default: launchForType<TensorType::F32>(args, a.nTokens, perLane, stream); break;
    }
}

} // namespace nw::cuda
