// SwiGLU and the residual add (grid-stride elementwise) and row softmax (one block per row, block reductions).
#include "kernels/cuda/activations.cuh"
#include "kernels/cuda/cuda_check.cuh"

#include <algorithm>

namespace nw::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void swigluKernel(const float *gate, const float *up, float *y, std::size_t n)
{
    for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < n;
         i += std::size_t(gridDim.x) * blockDim.x) {
        const float g = gate[i];
        y[i] = g / (1.f + expf(-g)) * up[i];
    }
}

__global__ void addKernel(float *y, const float *x, std::size_t n)
{
    for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < n;
         i += std::size_t(gridDim.x) * blockDim.x)
        y[i] += x[i];
}

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

__global__ void softmaxKernel(float *x, int cols)
{
    __shared__ float scratch[kThreads / 32];
    float *row = x + static_cast<std::size_t>(blockIdx.x) * cols;
    float m = -INFINITY;
    for (int i = threadIdx.x; i < cols; i += kThreads)
        m = fmaxf(m, row[i]);
    m = blockReduce<true>(m, scratch);
    float sum = 0.f;
    for (int i = threadIdx.x; i < cols; i += kThreads) {
        const float e = expf(row[i] - m);
        row[i] = e;
        sum += e;
    }
    sum = blockReduce<false>(sum, scratch);
    const float inv = 1.f / sum;
    for (int i = threadIdx.x; i < cols; i += kThreads)
        row[i] *= inv;
}

} // namespace

void swiglu(const float *gate, const float *up, float *y, std::size_t n, cudaStream_t stream)
{
    if (n == 0)
        return;
    if (gate == nullptr || up == nullptr || y == nullptr)
        nw::fail("cuda::swiglu: null pointer");
    const std::size_t blocks = std::min<std::size_t>((n + kThreads - 1) / kThreads, 65535);
    swigluKernel<<<unsigned(blocks), kThreads, 0, stream>>>(gate, up, y, n);
    NW_CUDA_CHECK_LAUNCH();
}

void add(float *y, const float *x, std::size_t n, cudaStream_t stream)
{
    if (n == 0)
        return;
    if (x == nullptr || y == nullptr)
        nw::fail("cuda::add: null pointer");
    const std::size_t blocks = std::min<std::size_t>((n + kThreads - 1) / kThreads, 65535);
    addKernel<<<unsigned(blocks), kThreads, 0, stream>>>(y, x, n);
    NW_CUDA_CHECK_LAUNCH();
}

void softmax(float *x, int rows, int cols, cudaStream_t stream)
{
    if (rows < 0 || cols <= 0)
        nw::fail("cuda::softmax: bad shape [{}, {}]", rows, cols);
    if (rows == 0)
        return;
    if (x == nullptr)
        nw::fail("cuda::softmax: null pointer");
    softmaxKernel<<<rows, kThreads, 0, stream>>>(x, cols);
    NW_CUDA_CHECK_LAUNCH();
}

} // namespace nw::cuda
