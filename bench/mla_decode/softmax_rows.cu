// Row softmax for the cuBLAS baseline: one block per row, max and sum by block reductions.
#include "bench/mla_decode/softmax_rows.cuh"

#include "kernels/cuda/cuda_check.cuh"

#include <cuda_bf16.h>

namespace nw::bench {
namespace {

constexpr int kThreads = 256;

template <bool isMax>
__device__ float blockReduce(float v, float *scratch)
{
    for (int off = 16; off > 0; off /= 2) {
        const float o = __shfl_xor_sync(0xffffffffu, v, off);
        v = isMax ? fmaxf(v, o) : v + o;
    }
    if (threadIdx.x % 32 == 0)
        scratch[threadIdx.x / 32] = v;
    __syncthreads();
    v = scratch[0];
    for (int w = 1; w < kThreads / 32; ++w)
        v = isMax ? fmaxf(v, scratch[w]) : v + scratch[w];
    __syncthreads(); // scratch is reused by the next reduction
    return v;
}

__global__ void softmaxRowsKernel(const float *s, __nv_bfloat16 *p, int cols, float scale)
{
    __shared__ float scratch[kThreads / 32];
    const float *row = s + static_cast<size_t>(blockIdx.x) * cols;
    __nv_bfloat16 *out = p + static_cast<size_t>(blockIdx.x) * cols;
    float m = -INFINITY;
    for (int i = threadIdx.x; i < cols; i += kThreads)
        m = fmaxf(m, row[i] * scale);
    m = blockReduce<true>(m, scratch);
    float sum = 0.f;
    for (int i = threadIdx.x; i < cols; i += kThreads)
        sum += __expf(row[i] * scale - m);
    sum = blockReduce<false>(sum, scratch);
    const float inv = 1.f / sum;
    for (int i = threadIdx.x; i < cols; i += kThreads)
        out[i] = __float2bfloat16(__expf(row[i] * scale - m) * inv);
}

} // namespace

void softmaxRowsToBf16(const float *s, std::uint16_t *p, int rows, int cols, float scale,
                       cudaStream_t stream)
{
    softmaxRowsKernel<<<rows, kThreads, 0, stream>>>(s, reinterpret_cast<__nv_bfloat16 *>(p), cols, scale);
    NW_CUDA_CHECK_LAUNCH();
}

} // namespace nw::bench
