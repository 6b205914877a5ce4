// CudaBackend: nw::Backend on one GPU. Weights are uploaded once (dequantized to bf16 for cuBLAS,
// or kept in their file type and dequantized per product when memory is short); activations,
// ids, positions and the KV cache are device memory from allocate(); ops run in order on one
// stream, so the host only waits at downloads and synchronize().
#pragma once

#include "kernels/backend.h"
#include "kernels/cuda/device_buffer.h"

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>

namespace nw::cuda {

// How a weight matrix lives on the device.
enum class WeightResidency {
    Auto,      // bf16 while it fits (free memory minus headroom), then the file type
    Bf16,      // dequantized once to bf16: fastest products, 2 bytes per weight
    Quantized, // the file's bytes; dequantized to a bf16 scratch before each product
};

// "auto", "bf16" or "quantized"; throws nw::Error otherwise.
WeightResidency parseWeightResidency(std::string_view text);

struct CudaBackendOptions {
    int device = 0;
    WeightResidency weights = WeightResidency::Auto;
    std::uint64_t headroomBytes = 1ull << 30; // Auto keeps this much free for activations and KV
};

class CudaBackend final : public Backend {
public:
    explicit CudaBackend(const CudaBackendOptions &options = {});
    ~CudaBackend() override;
    CudaBackend(const CudaBackend &) = delete;
    CudaBackend &operator=(const CudaBackend &) = delete;

    std::string name() const override;
    int threads() const override { return 1; }

    BackendMemory memoryKind() const override { return BackendMemory::Device; }
    void *allocate(std::size_t bytes) override;
    void release(void *data, std::size_t bytes) noexcept override;
    void upload(void *dst, const void *hostSrc, std::size_t bytes) override;
    void download(void *hostDst, const void *src, std::size_t bytes) override;
    void prepareWeights(std::span<const WeightMatrix> weights) override;
    void synchronize() override;
    BackendMemoryInfo memoryInfo() const override;

    void matmul(const WeightMatrix &w, const float *x, float *y, int nTokens) override;
    void embed(const WeightMatrix &table, const std::int32_t *ids, int n, float *out) override;
    void rmsNorm(const float *x, const float *weight, float *y, int nTokens, int dim, float eps) override;
    void rope(float *x, int nTokens, int nHeads, int headStride, int offset, const std::int32_t *positions,
              const RopeParams &p) override;
    void swiglu(const float *gate, const float *up, float *y, std::size_t n) override;
    void attention(const AttentionArgs &a) override;
    void storeKv(const KvLayerView &kv, const float *k, const float *v, int nTokens,
                 const std::int32_t *positions) override;
    void add(float *y, const float *x, std::size_t n) override;
    void addRow(float *y, const float *row, int nTokens, int dim) override;
    void zero(float *x, std::size_t n) override;
    void scale(float *x, float s, std::size_t n) override;
    void geglu(const float *gate, const float *up, float *y, std::size_t n) override;
    void swigluOai(const float *gate, const float *up, float *y, std::size_t n, float alpha, float limit) override;
    void copyRows(float *dst, std::size_t dstStride, const float *src, std::size_t srcStride, int rows,
                  int cols) override;
    void gatherRows(const float *src, const std::int32_t *rows, int n, int dim, float *dst) override;
    void scatterAddRows(float *dst, const float *src, const std::int32_t *rows, const float *weights, int n,
                        int dim) override;
    void moeRoute(const MoeRouting &routing, const float *logits, int nTokens, std::int32_t *ids,
                  float *weights) override;

    cudaStream_t stream() const { return m_stream; }
    // How many weight matrices are held as bf16 and as their file type (tests, the log).
    int bf16Matrices() const { return m_nBf16; }
    int quantizedMatrices() const { return m_nQuantized; }

private:
    struct DeviceWeight {
        TensorType type = TensorType::F32;
        std::int64_t rows = 0;
        std::int64_t cols = 0;
        DeviceBuffer bf16;        // [rows, cols] bf16, or empty when kept quantized
        DeviceBuffer raw;         // [rows, rawStride] bytes of `type`, or empty when bf16
        std::size_t rawStride = 0;
    };
    // The host view a device copy belongs to (one tensor may be viewed several ways).
    using WeightKey = std::tuple<const std::byte *, int, std::int64_t, std::int64_t, std::size_t>;

    const DeviceWeight &deviceWeight(const WeightMatrix &w);
    // w as device bf16 [rows, cols]: its own copy, or dequantized into m_dequantScratch.
    const std::uint16_t *bf16Of(const DeviceWeight &w);
    // A device copy of a host f32 vector of n elements (norm weights, biases, rope freq factors,
    // attention sinks, the router's selection bias).
    const float *deviceVector(const float *host, std::size_t n);

    CudaBackendOptions m_options;
    std::string m_deviceName;
    cudaStream_t m_stream = nullptr;
    cublasHandle_t m_cublas = nullptr;
    std::map<WeightKey, DeviceWeight> m_weights;
    std::map<std::pair<const float *, std::size_t>, DeviceBuffer> m_vectors;
    std::uint64_t m_weightsBytes = 0;
    int m_nBf16 = 0;
    int m_nQuantized = 0;
    DeviceBuffer m_activationScratch; // x rounded to bf16 for cuBLAS
    DeviceBuffer m_dequantScratch;    // one quantized matrix dequantized to bf16
};

// A CudaBackend on device 0, its weight residency from $NW_CUDA_WEIGHTS (auto|bf16|quantized)
// when set; the module's nw_cuda_make_backend. Throws nw::Error when no device is usable.
std::unique_ptr<Backend> makeBackend();

} // namespace nw::cuda
