// CudaBackend: host-side entry of every op (validation, weight lookup) and the launches on the
// backend's stream. Plain C++20 (no kernels here), so it can implement the C++20 Backend class.
#include "kernels/cuda/cuda_backend.h"

#include "common/error.h"
#include "common/log.h"
#include "kernels/cuda/activations.cuh"
#include "kernels/cuda/attention.cuh"
#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/dequant.cuh"
#include "kernels/cuda/embed.cuh"
#include "kernels/cuda/matmul.cuh"
#include "kernels/cuda/moe_route.cuh"
#include "kernels/cuda/rms_norm.cuh"
#include "kernels/cuda/rope.cuh"
#include "kernels/cuda/store_kv.cuh"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>

namespace nw::cuda {
namespace {

std::size_t strideOf(const WeightMatrix &w)
{
    return w.rowStride != 0 ? w.rowStride : rowBytes(w.type, std::size_t(w.cols));
}

} // namespace

WeightResidency parseWeightResidency(std::string_view text)
{
    if (text == "auto")
        return WeightResidency::Auto;
    if (text == "bf16")
        return WeightResidency::Bf16;
    if (text == "quantized")
        return WeightResidency::Quantized;
    nw::fail("unknown CUDA weight residency '{}': use auto, bf16 or quantized", text);
}

CudaBackend::CudaBackend(const CudaBackendOptions &options)
    : m_options(options)
{
    if (!cudaDevicePresent())
        nw::fail("no CUDA device is present");
    NW_CUDA_CHECK(cudaSetDevice(options.device));
    cudaDeviceProp prop {};
    NW_CUDA_CHECK(cudaGetDeviceProperties(&prop, options.device));
    m_deviceName = prop.name;
    NW_CUDA_CHECK(cudaStreamCreateWithFlags(&m_stream, cudaStreamNonBlocking));
    NW_CUBLAS_CHECK(cublasCreate(&m_cublas));
    NW_CUBLAS_CHECK(cublasSetStream(m_cublas, m_stream));
    nw::log::get("kernels")->debug(
        "CUDA backend on {} (sm_{}{}, {} MiB)", m_deviceName, prop.major, prop.minor, prop.totalGlobalMem >> 20);
}

CudaBackend::~CudaBackend()
{
    // No throw from a destructor: a failure here can only leak.
    if (m_stream != nullptr)
        cudaStreamSynchronize(m_stream);
    m_weights.clear();
    m_vectors.clear();
    m_activationScratch = DeviceBuffer();
    m_dequantScratch = DeviceBuffer();
    if (m_cublas != nullptr)
        cublasDestroy(m_cublas);
    if (m_stream != nullptr)
        cudaStreamDestroy(m_stream);
}

std::string CudaBackend::name() const
{
    return fmt::format("cuda ({})", m_deviceName);
}

// ---- memory ----

void *CudaBackend::allocate(std::size_t bytes)
{
    void *data = nullptr;
    const cudaError_t status = cudaMalloc(&data, std::max<std::size_t>(bytes, 1));
    if (status != cudaSuccess) {
        cudaGetLastError();
        std::size_t freeBytes = 0, totalBytes = 0;
        cudaMemGetInfo(&freeBytes, &totalBytes);
        nw::fail("out of GPU memory on {}: {} MiB asked for, {} MiB free of {} MiB ({})", m_deviceName, bytes >> 20,
            freeBytes >> 20, totalBytes >> 20, cudaGetErrorString(status));
    }
    countBuffer(bytes, true);
    return data;
}

void CudaBackend::release(void *data, std::size_t bytes) noexcept
{
    if (data == nullptr)
        return;
    cudaStreamSynchronize(m_stream); // kernels queued on it may still read the buffer
    cudaFree(data);
    countBuffer(bytes, false);
}

void CudaBackend::upload(void *dst, const void *hostSrc, std::size_t bytes)
{
    if (bytes == 0)
        return;
    NW_CUDA_CHECK(cudaMemcpyAsync(dst, hostSrc, bytes, cudaMemcpyHostToDevice, m_stream));
    NW_CUDA_CHECK(cudaStreamSynchronize(m_stream)); // the host buffer may change right after
}

void CudaBackend::download(void *hostDst, const void *src, std::size_t bytes)
{
    if (bytes == 0)
        return;
    NW_CUDA_CHECK(cudaMemcpyAsync(hostDst, src, bytes, cudaMemcpyDeviceToHost, m_stream));
    NW_CUDA_CHECK(cudaStreamSynchronize(m_stream));
}

void CudaBackend::synchronize()
{
    NW_CUDA_CHECK(cudaStreamSynchronize(m_stream));
}

BackendMemoryInfo CudaBackend::memoryInfo() const
{
    BackendMemoryInfo info;
    info.device = m_deviceName;
    info.weightsBytes = m_weightsBytes;
    info.bufferBytes = m_bufferBytes.load(std::memory_order_relaxed);
    info.peakBufferBytes = m_peakBufferBytes.load(std::memory_order_relaxed);
    std::size_t freeBytes = 0, totalBytes = 0;
    if (cudaMemGetInfo(&freeBytes, &totalBytes) == cudaSuccess) {
        info.freeBytes = freeBytes;
        info.totalBytes = totalBytes;
    } else {
        cudaGetLastError();
    }
    return info;
}

// ---- weights ----

void CudaBackend::prepareWeights(std::span<const WeightMatrix> weights)
{
    for (const WeightMatrix &w : weights)
        deviceWeight(w);
    synchronize();
    nw::log::get("kernels")->info("CUDA weights on {}: {} matrices as bf16, {} in their file type, {:.1f} MiB",
        m_deviceName, m_nBf16, m_nQuantized, double(m_weightsBytes) / (1024.0 * 1024.0));
}

const CudaBackend::DeviceWeight &CudaBackend::deviceWeight(const WeightMatrix &w)
{
    const std::size_t stride = strideOf(w);
    const WeightKey key { w.data, int(w.type), w.rows, w.cols, stride };
    if (auto it = m_weights.find(key); it != m_weights.end())
        return it->second;
    if (w.data == nullptr || w.rows <= 0 || w.cols <= 0)
        nw::fail("cuda: empty weight matrix [{}, {}]", w.rows, w.cols);
    if (!canDequantizeToBf16(w.type))
        nw::fail(nw::Remedy::CpuDevice,
            "cuda: weights of type {} are not supported on CUDA yet (F32, F16, BF16, Q8_0, Q4_0, Q4_K, "
            "Q5_K, Q6_K); they run on the CPU",
            tensorTypeName(w.type));

    const std::size_t rawBytes = stride * std::size_t(w.rows);
    const std::size_t bf16Bytes = std::size_t(w.rows) * std::size_t(w.cols) * 2;
    bool asBf16 = true;
    if (m_options.weights == WeightResidency::Quantized) {
        asBf16 = false;
    } else if (m_options.weights == WeightResidency::Auto) {
        std::size_t freeBytes = 0, totalBytes = 0;
        NW_CUDA_CHECK(cudaMemGetInfo(&freeBytes, &totalBytes));
        // The raw upload is freed again once dequantized, but both exist for a moment.
        asBf16 = freeBytes > m_options.headroomBytes + bf16Bytes + rawBytes;
    }
    if (!asBf16 && rawBytes >= bf16Bytes) // F32/F16/BF16: bf16 is never bigger, nothing to save
        asBf16 = true;

    DeviceWeight dw;
    dw.type = w.type;
    dw.rows = w.rows;
    dw.cols = w.cols;
    if (asBf16) {
        DeviceWeightsBf16 uploaded = uploadWeightsBf16(w, m_stream);
        dw.bf16 = std::move(uploaded.data);
        m_weightsBytes += bf16Bytes;
        ++m_nBf16;
    } else {
        dw.raw = DeviceBuffer(rawBytes);
        dw.rawStride = stride;
        NW_CUDA_CHECK(cudaMemcpyAsync(dw.raw.data(), w.data, rawBytes, cudaMemcpyHostToDevice, m_stream));
        m_weightsBytes += rawBytes;
        if (m_nQuantized++ == 0)
            nw::log::get("kernels")->info("CUDA: keeping weights in their file type from {} on (dequantized per "
                                          "product): bf16 copies would not fit",
                tensorTypeName(w.type));
    }
    return m_weights.emplace(key, std::move(dw)).first->second;
}

const std::uint16_t *CudaBackend::bf16Of(const DeviceWeight &w)
{
    if (w.bf16.data() != nullptr)
        return w.bf16.as<std::uint16_t>();
    const std::size_t bytes = std::size_t(w.rows) * std::size_t(w.cols) * 2;
    if (m_dequantScratch.bytes() < bytes) {
        synchronize(); // the old scratch may still be read by a queued product
        m_dequantScratch = DeviceBuffer(bytes);
    }
    dequantizeToBf16(w.type, w.raw.data(), w.rawStride, w.rows, w.cols, m_dequantScratch.as<std::uint16_t>(), m_stream);
    return m_dequantScratch.as<std::uint16_t>();
}

const float *CudaBackend::deviceVector(const float *host, std::size_t n)
{
    const auto key = std::make_pair(host, n);
    if (auto it = m_vectors.find(key); it != m_vectors.end())
        return it->second.as<float>();
    DeviceBuffer copy(n * sizeof(float));
    copy.upload(host, n * sizeof(float));
    m_weightsBytes += n * sizeof(float);
    return m_vectors.emplace(key, std::move(copy)).first->second.as<float>();
}

// ---- ops ----

void CudaBackend::matmul(const WeightMatrix &w, const float *x, float *y, int nTokens)
{
    if (nTokens <= 0)
        return;
    const DeviceWeight &dw = deviceWeight(w);
    if (m_activationScratch.bytes() < std::size_t(nTokens) * std::size_t(w.cols) * 2)
        synchronize(); // matmulBf16 may replace the scratch a queued product still reads
    cuda::matmulBf16(m_cublas, bf16Of(dw), dw.rows, dw.cols, x, y, nTokens, m_activationScratch, m_stream);
}

void CudaBackend::embed(const WeightMatrix &table, const std::int32_t *ids, int n, float *out)
{
    if (n <= 0)
        return;
    const DeviceWeight &dw = deviceWeight(table);
    WeightMatrix view;
    view.type = TensorType::BF16;
    view.rows = dw.rows;
    view.cols = dw.cols;
    view.data = reinterpret_cast<const std::byte *>(bf16Of(dw));
    view.rowStride = std::size_t(dw.cols) * 2;
    cuda::embed(view, ids, n, out, m_stream);
}

void CudaBackend::rmsNorm(const float *x, const float *weight, float *y, int nTokens, int dim, float eps)
{
    if (dim <= 0)
        nw::fail("cuda rmsNorm: dimension {}", dim);
    const float *w = weight != nullptr ? deviceVector(weight, std::size_t(dim)) : nullptr;
    cuda::rmsNorm(x, w, y, nTokens, dim, eps, m_stream);
}

void CudaBackend::rope(
    float *x, int nTokens, int nHeads, int headStride, int offset, const std::int32_t *positions, const RopeParams &p)
{
    RopeParams onDevice = p;
    if (p.freqFactors != nullptr) {
        if (p.nDims <= 0 || p.nDims % 2 != 0)
            nw::fail("cuda rope: {} rotated dims", p.nDims);
        onDevice.freqFactors = deviceVector(p.freqFactors, std::size_t(p.nDims / 2));
    }
    cuda::rope(x, nTokens, nHeads, headStride, offset, positions, onDevice, m_stream);
}

void CudaBackend::swiglu(const float *gate, const float *up, float *y, std::size_t n)
{
    cuda::swiglu(gate, up, y, n, m_stream);
}

void CudaBackend::attention(const AttentionArgs &a)
{
    AttentionArgs onDevice = a;
    if (a.sinks != nullptr)
        onDevice.sinks = deviceVector(a.sinks, std::size_t(a.nHeads));
    cuda::attention(onDevice, m_stream);
}

void CudaBackend::storeKv(
    const KvLayerView &kv, const float *k, const float *v, int nTokens, const std::int32_t *positions)
{
    cuda::storeKv(kv, k, v, nTokens, positions, m_stream);
}

void CudaBackend::add(float *y, const float *x, std::size_t n)
{
    cuda::add(y, x, n, m_stream);
}

void CudaBackend::addRow(float *y, const float *row, int nTokens, int dim)
{
    if (dim <= 0)
        nw::fail("cuda addRow: dimension {}", dim);
    cuda::addRow(y, deviceVector(row, std::size_t(dim)), nTokens, dim, m_stream);
}

void CudaBackend::zero(float *x, std::size_t n)
{
    if (n > 0)
        NW_CUDA_CHECK(cudaMemsetAsync(x, 0, n * sizeof(float), m_stream));
}

void CudaBackend::scale(float *x, float s, std::size_t n)
{
    cuda::scale(x, s, n, m_stream);
}

void CudaBackend::geglu(const float *gate, const float *up, float *y, std::size_t n)
{
    cuda::geglu(gate, up, y, n, m_stream);
}

void CudaBackend::swigluOai(const float *gate, const float *up, float *y, std::size_t n, float alpha, float limit)
{
    cuda::swigluOai(gate, up, y, n, alpha, limit, m_stream);
}

void CudaBackend::copyRows(
    float *dst, std::size_t dstStride, const float *src, std::size_t srcStride, int rows, int cols)
{
    if (rows <= 0 || cols <= 0)
        return;
    NW_CUDA_CHECK(cudaMemcpy2DAsync(dst, dstStride * sizeof(float), src, srcStride * sizeof(float),
        std::size_t(cols) * sizeof(float), std::size_t(rows), cudaMemcpyDeviceToDevice, m_stream));
}

void CudaBackend::gatherRows(const float *src, const std::int32_t *rows, int n, int dim, float *dst)
{
    cuda::gatherRows(src, rows, n, dim, dst, m_stream);
}

void CudaBackend::scatterAddRows(
    float *dst, const float *src, const std::int32_t *rows, const float *weights, int n, int dim)
{
    cuda::scatterAddRows(dst, src, rows, weights, n, dim, m_stream);
}

void CudaBackend::moeRoute(
    const MoeRouting &routing, const float *logits, int nTokens, std::int32_t *ids, float *weights)
{
    if (routing.gating == MoeGating::SoftmaxOfChosen)
        nw::fail(nw::Remedy::CpuDevice,
            "cuda moeRoute: gpt-oss routing (softmax over the chosen experts) has no CUDA kernel yet");
    if (routing.gating == MoeGating::SqrtSoftplus || routing.fixedIds != nullptr)
        nw::fail(nw::Remedy::CpuDevice,
            "cuda moeRoute: DeepSeek V4 routing (sqrt-softplus, hash-routed layers) has no CUDA kernel yet");
    MoeRouteParams p;
    p.sigmoid = routing.gating == MoeGating::Sigmoid;
    p.nExperts = routing.nExperts;
    p.nUsed = routing.nUsed;
    p.normalize = routing.normalize;
    p.scale = routing.scale;
    p.selectionBias = routing.selectionBias != nullptr
        ? deviceVector(routing.selectionBias, std::size_t(std::max(routing.nExperts, 0)))
        : nullptr;
    p.nGroups = routing.nGroups;
    p.nGroupsUsed = routing.nGroupsUsed;
    cuda::moeRoute(p, logits, nTokens, ids, weights, m_stream);
}

std::unique_ptr<Backend> makeBackend()
{
    CudaBackendOptions options;
    // For measuring both residencies from the command line without a flag of its own.
    if (const char *residency = std::getenv("NW_CUDA_WEIGHTS"))
        options.weights = parseWeightResidency(residency);
    return std::make_unique<CudaBackend>(options);
}

} // namespace nw::cuda
