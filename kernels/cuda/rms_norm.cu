// RMSNorm kernel: one block per row, a warp-shuffle reduction of the sum of squares.
#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/rms_norm.cuh"

namespace nw::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void rmsNormKernel(const float *__restrict__ x, const float *__restrict__ weight,
                              float *__restrict__ y, int cols, float eps)
{
    const float *row = x + static_cast<size_t>(blockIdx.x) * cols;
    float *out = y + static_cast<size_t>(blockIdx.x) * cols;
    float sum = 0.0f;
    for (int i = threadIdx.x; i < cols; i += blockDim.x)
        sum += row[i] * row[i];
    for (int offset = 16; offset > 0; offset /= 2)
        sum += __shfl_xor_sync(0xffffffffu, sum, offset);
    __shared__ float warpSums[kThreads / 32];
    if (threadIdx.x % 32 == 0)
        warpSums[threadIdx.x / 32] = sum;
    __syncthreads();
    if (threadIdx.x < 32) {
        sum = threadIdx.x < blockDim.x / 32 ? warpSums[threadIdx.x] : 0.0f;
        for (int offset = 16; offset > 0; offset /= 2)
            sum += __shfl_xor_sync(0xffffffffu, sum, offset);
        if (threadIdx.x == 0)
            warpSums[0] = sum;
    }
    __syncthreads();
    const float scale = rsqrtf(warpSums[0] / cols + eps);
    for (int i = threadIdx.x; i < cols; i += blockDim.x)
        out[i] = row[i] * scale * (weight != nullptr ? weight[i] : 1.0f);
}

} // namespace

void rmsNorm(const float *x, const float *weight, float *y, int rows, int cols, float eps,
             cudaStream_t stream)
{
    if (rows <= 0 || cols <= 0)
        nw::fail("cuda::rmsNorm: bad shape [{}, {}]", rows, cols);
    if (x == nullptr || y == nullptr)
        nw::fail("cuda::rmsNorm: null pointer");
    rmsNormKernel<<<rows, kThreads, 0, stream>>>(x, weight, y, cols, eps);
    NW_CUDA_CHECK_LAUNCH();
}

} // namespace nw::cuda
