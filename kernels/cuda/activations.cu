// The elementwise and row ops of the Backend (grid-stride loops): SwiGLU, GeGLU, the residual add,
// bias rows, scaling, and the MoE row gather / weighted scatter-add.
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

__global__ void gegluKernel(const float *gate, const float *up, float *y, std::size_t n)
{
    constexpr float kSqrt2OverPi = 0.79788456080286535588f;
    for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < n;
         i += std::size_t(gridDim.x) * blockDim.x) {
        const float x = gate[i];
        y[i] = 0.5f * x * (1.f + tanhf(kSqrt2OverPi * x * (1.f + 0.044715f * x * x))) * up[i];
    }
}

__global__ void swigluOaiKernel(const float *gate, const float *up, float *y, std::size_t n, float alpha, float limit)
{
    for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < n;
         i += std::size_t(gridDim.x) * blockDim.x) {
        const float g = fminf(gate[i], limit);
        const float u = fminf(fmaxf(up[i], -limit), limit);
        y[i] = g / (1.f + expf(-alpha * g)) * (u + 1.f);
    }
}

__global__ void addRowKernel(float *y, const float *row, std::size_t n, int dim)
{
    for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < n;
         i += std::size_t(gridDim.x) * blockDim.x)
        y[i] += row[i % std::size_t(dim)];
}

__global__ void scaleKernel(float *x, float s, std::size_t n)
{
    for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < n;
         i += std::size_t(gridDim.x) * blockDim.x)
        x[i] *= s;
}

__global__ void gatherRowsKernel(const float *src, const std::int32_t *rows, std::size_t n, int dim, float *dst)
{
    for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < n;
         i += std::size_t(gridDim.x) * blockDim.x) {
        const std::size_t r = i / std::size_t(dim), c = i % std::size_t(dim);
        dst[i] = src[std::size_t(rows[r]) * std::size_t(dim) + c];
    }
}

// Rows are distinct (the Backend's contract), so no two threads add into one element.
__global__ void scatterAddRowsKernel(float *dst, const float *src, const std::int32_t *rows, const float *weights,
                                     std::size_t n, int dim)
{
    for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < n;
         i += std::size_t(gridDim.x) * blockDim.x) {
        const std::size_t r = i / std::size_t(dim), c = i % std::size_t(dim);
        dst[std::size_t(rows[r]) * std::size_t(dim) + c] += weights[r] * src[i];
    }
}

unsigned gridFor(std::size_t n)
{
    return unsigned(std::min<std::size_t>((n + kThreads - 1) / kThreads, 65535));
}

} // namespace

void swiglu(const float *gate, const float *up, float *y, std::size_t n, cudaStream_t stream)
{
    if (n == 0)
        return;
    if (gate == nullptr || up == nullptr || y == nullptr)
        nw::fail("cuda::swiglu: null pointer");
    swigluKernel<<<gridFor(n), kThreads, 0, stream>>>(gate, up, y, n);
    NW_CUDA_CHECK_LAUNCH();
}

void add(float *y, const float *x, std::size_t n, cudaStream_t stream)
{
    if (n == 0)
        return;
    if (x == nullptr || y == nullptr)
        nw::fail("cuda::add: null pointer");
    addKernel<<<gridFor(n), kThreads, 0, stream>>>(y, x, n);
    NW_CUDA_CHECK_LAUNCH();
}

void geglu(const float *gate, const float *up, float *y, std::size_t n, cudaStream_t stream)
{
    if (n == 0)
        return;
    if (gate == nullptr || up == nullptr || y == nullptr)
        nw::fail("cuda::geglu: null pointer");
    gegluKernel<<<gridFor(n), kThreads, 0, stream>>>(gate, up, y, n);
    NW_CUDA_CHECK_LAUNCH();
}

void swigluOai(const float *gate, const float *up, float *y, std::size_t n, float alpha, float limit,
               cudaStream_t stream)
{
    if (n == 0)
        return;
    if (gate == nullptr || up == nullptr || y == nullptr)
        nw::fail("cuda::swigluOai: null pointer");
    swigluOaiKernel<<<gridFor(n), kThreads, 0, stream>>>(gate, up, y, n, alpha, limit);
    NW_CUDA_CHECK_LAUNCH();
}

void addRow(float *y, const float *row, int nTokens, int dim, cudaStream_t stream)
{
    if (nTokens < 0 || dim <= 0)
        nw::fail("cuda::addRow: bad shape [{}, {}]", nTokens, dim);
    const std::size_t n = std::size_t(nTokens) * std::size_t(dim);
    if (n == 0)
        return;
    if (y == nullptr || row == nullptr)
        nw::fail("cuda::addRow: null pointer");
    addRowKernel<<<gridFor(n), kThreads, 0, stream>>>(y, row, n, dim);
    NW_CUDA_CHECK_LAUNCH();
}

void scale(float *x, float s, std::size_t n, cudaStream_t stream)
{
    if (n == 0)
        return;
    if (x == nullptr)
        nw::fail("cuda::scale: null pointer");
    scaleKernel<<<gridFor(n), kThreads, 0, stream>>>(x, s, n);
    NW_CUDA_CHECK_LAUNCH();
}

void gatherRows(const float *src, const std::int32_t *rows, int n, int dim, float *dst, cudaStream_t stream)
{
    if (n < 0 || dim <= 0)
        nw::fail("cuda::gatherRows: bad shape [{}, {}]", n, dim);
    const std::size_t total = std::size_t(n) * std::size_t(dim);
    if (total == 0)
        return;
    if (src == nullptr || rows == nullptr || dst == nullptr)
        nw::fail("cuda::gatherRows: null pointer");
    gatherRowsKernel<<<gridFor(total), kThreads, 0, stream>>>(src, rows, total, dim, dst);
    NW_CUDA_CHECK_LAUNCH();
}

void scatterAddRows(float *dst, const float *src, const std::int32_t *rows, const float *weights, int n, int dim,
                    cudaStream_t stream)
{
    if (n < 0 || dim <= 0)
        nw::fail("cuda::scatterAddRows: bad shape [{}, {}]", n, dim);
    const std::size_t total = std::size_t(n) * std::size_t(dim);
    if (total == 0)
        return;
    if (src == nullptr || rows == nullptr || weights == nullptr || dst == nullptr)
        nw::fail("cuda::scatterAddRows: null pointer");
    scatterAddRowsKernel<<<gridFor(total), kThreads, 0, stream>>>(dst, src, rows, weights, total, dim);
    NW_CUDA_CHECK_LAUNCH();
}

} // namespace nw::cuda
