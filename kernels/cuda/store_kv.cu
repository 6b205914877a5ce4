// storeKv kernel: one block per (token, K or V), threads over the row's elements.
#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/store_kv.cuh"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

namespace nw::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void storeKvKernel(TensorType type, int blockSize, const std::int32_t *blockTable,
                              std::byte *kBlocks, std::size_t kBlockStride, std::size_t kRowStride,
                              std::byte *vBlocks, std::size_t vBlockStride, std::size_t vRowStride,
                              int kWidth, int vWidth, const float *k, const float *v,
                              const std::int32_t *positions)
{
    const int t = blockIdx.x;
    const bool isV = blockIdx.y == 1;
    const int pos = positions[t];
    const int width = isV ? vWidth : kWidth;
    const float *src = (isV ? v : k) + std::size_t(t) * width;
    std::byte *dst = (isV ? vBlocks : kBlocks)
                     + std::size_t(blockTable[pos / blockSize]) * (isV ? vBlockStride : kBlockStride)
                     + std::size_t(pos % blockSize) * (isV ? vRowStride : kRowStride);
    for (int i = threadIdx.x; i < width; i += kThreads) {
        if (type == TensorType::F16)
            reinterpret_cast<__half *>(dst)[i] = __float2half_rn(src[i]);
        else if (type == TensorType::BF16)
            reinterpret_cast<__nv_bfloat16 *>(dst)[i] = __float2bfloat16_rn(src[i]);
        else
            reinterpret_cast<float *>(dst)[i] = src[i];
    }
}

} // namespace

void storeKv(const KvLayerView &kv, const float *k, const float *v, int nTokens,
             const std::int32_t *positions, cudaStream_t stream)
{
    if (kv.type != TensorType::F32 && kv.type != TensorType::F16 && kv.type != TensorType::BF16)
        nw::fail("cuda::storeKv: KV rows of type {} are not supported (F32, F16, BF16)",
                 tensorTypeName(kv.type));
    if (kv.blockSize <= 0 || kv.blockTable == nullptr || kv.kBlocks == nullptr)
        nw::fail("cuda::storeKv: KV view without blocks (block size {})", kv.blockSize);
    if (kv.nKvHeads <= 0 || kv.kHeadDim <= 0 || (v != nullptr && kv.vHeadDim <= 0))
        nw::fail("cuda::storeKv: KV view with {} heads of K dim {} and V dim {}", kv.nKvHeads,
                 kv.kHeadDim, kv.vHeadDim);
    const std::size_t es = kv.type == TensorType::F32 ? 4 : 2;
    const int kWidth = kv.nKvHeads * kv.kHeadDim;
    const int vWidth = kv.nKvHeads * kv.vHeadDim;
    if (kv.kRowStride < es * kWidth || kv.kBlockStride < kv.kRowStride * kv.blockSize)
        nw::fail("cuda::storeKv: K strides (row {}, block {}) do not hold {} heads of {}",
                 kv.kRowStride, kv.kBlockStride, kv.nKvHeads, kv.kHeadDim);
    if (v != nullptr
        && (kv.vBlocks == nullptr || kv.vRowStride < es * vWidth || kv.vBlockStride < kv.vRowStride * kv.blockSize))
        nw::fail("cuda::storeKv: V strides (row {}, block {}) do not hold {} heads of {}",
                 kv.vRowStride, kv.vBlockStride, kv.nKvHeads, kv.vHeadDim);
    if (nTokens <= 0)
        return;
    if (k == nullptr || positions == nullptr)
        nw::fail("cuda::storeKv: null pointer");
    const dim3 grid(nTokens, v != nullptr ? 2 : 1);
    storeKvKernel<<<grid, kThreads, 0, stream>>>(kv.type, kv.blockSize, kv.blockTable, kv.kBlocks,
                                                 kv.kBlockStride, kv.kRowStride, kv.vBlocks,
                                                 kv.vBlockStride, kv.vRowStride, kWidth, vWidth, k,
                                                 v, positions);
    NW_CUDA_CHECK_LAUNCH();
}

} // namespace nw::cuda
