// The one interface through which the engine does its heavy math. A model graph is written once
// against Backend; CpuBackend (kernels/cpu) and CudaBackend (kernels/cuda) implement it and must
// agree with each other and with the plain references in tests/kernels.
#pragma once

#include "kernels/backend_args.h"
#include "kernels/tensor_type.h"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace nw {

// Where the activation pointers an op takes live (see "Memory" in Backend).
enum class BackendMemory { Host, Device };

// What a backend holds, for the meters and `needlework doctor`.
struct BackendMemoryInfo {
    std::string device; // "cpu", or the GPU's name
    std::uint64_t weightsBytes = 0; // the backend's own copies of weights (device bf16, uploads)
    std::uint64_t bufferBytes = 0; // live allocate() bytes: activations, KV, ids
    std::uint64_t peakBufferBytes = 0; // the most bufferBytes has been
    std::uint64_t freeBytes = 0; // device memory free now (cudaMemGetInfo); 0 on the CPU
    std::uint64_t totalBytes = 0; // device memory in all; 0 on the CPU
};

class Backend {
public:
    virtual ~Backend() = default;
    virtual std::string name() const = 0;
    virtual int threads() const = 0;

    // Memory. Weights (WeightMatrix::data, rmsNorm's weight, RopeParams::freqFactors, embed's
    // table) are always host pointers that stay valid and unchanged while the backend lives
    // (the mapped file); a device backend keeps its own copies, made by prepareWeights or on
    // first use. Every other pointer an op takes (activations, ids, positions, KV blocks and
    // block tables) is in the backend's memory: host memory for the CPU backend, device memory
    // from allocate() for a GPU backend. The defaults below are the host implementation.
    virtual BackendMemory memoryKind() const { return BackendMemory::Host; }
    // `bytes` of the backend's memory, 64-byte aligned (never null; 0 bytes gives a valid
    // pointer); throws nw::Error when the memory is not there. Give it back with release().
    virtual void *allocate(std::size_t bytes);
    virtual void release(void *data, std::size_t bytes) noexcept;
    // Copies between host memory and the backend's memory (plain memcpy on the host).
    virtual void upload(void *dst, const void *hostSrc, std::size_t bytes);
    virtual void download(void *hostDst, const void *src, std::size_t bytes);
    // Makes the backend's copies of these weights now (upload, dequantize, repack) instead of
    // at first use, so load time is paid at load; the host backend uses the file as it is.
    virtual void prepareWeights(std::span<const WeightMatrix> weights);
    // Waits for the work queued so far (a device backend runs ops asynchronously; downloads
    // wait by themselves).
    virtual void synchronize() { }
    virtual BackendMemoryInfo memoryInfo() const;

    // y[t, r] = sum_c W[r, c] * x[t, c];  x: [nTokens, cols] f32, y: [nTokens, rows] f32.
    virtual void matmul(const WeightMatrix &w, const float *x, float *y, int nTokens) = 0;
    // out[i, :] = table row ids[i] as f32;  out: [n, table.cols]. Ids out of range are an error.
    virtual void embed(const WeightMatrix &table, const std::int32_t *ids, int n, float *out) = 0;
    // y[t, :] = x[t, :] / sqrt(mean(x[t, :]^2) + eps) * weight[:];  x, y: [nTokens, dim] (may
    // alias); weight: [dim], or null for no weight.
    virtual void rmsNorm(const float *x, const float *weight, float *y, int nTokens, int dim, float eps) = 0;
    // In place on x: [nTokens, nHeads, headStride]; rotates dims [offset, offset + p.nDims) of
    // each head at positions[t].
    virtual void rope(float *x, int nTokens, int nHeads, int headStride, int offset, const std::int32_t *positions,
        const RopeParams &p)
        = 0;
    // y = silu(gate) * up, elementwise over n (y may alias gate or up).
    virtual void swiglu(const float *gate, const float *up, float *y, std::size_t n) = 0;
    // Causal attention of the queries over the paged cache (online softmax, no [T, T] matrix),
    // with an optional sliding window and per-head sinks (AttentionArgs).
    virtual void attention(const AttentionArgs &a) = 0;
    // Writes nTokens new rows into the cache slots of `positions` (sequence indices), converting
    // f32 to kv.type. k: [nTokens, nKvHeads * kHeadDim]; v: [nTokens, nKvHeads * vHeadDim], or
    // null for MLA's shared row (then only K rows are written).
    virtual void storeKv(
        const KvLayerView &kv, const float *k, const float *v, int nTokens, const std::int32_t *positions)
        = 0;
    // y[i] += x[i] over n (the residual stream: no host loop over a device's activations).
    virtual void add(float *y, const float *x, std::size_t n);

    // A device backend without a kernel for one of the ops below throws nw::Error from it; the
    // architecture registry keeps graphs that need such an op off that device.

    // y[t, :] += row[:] for t < nTokens; y: [nTokens, dim]; row: [dim], a host weight (a bias).
    virtual void addRow(float *y, const float *row, int nTokens, int dim) = 0;
    // x[i] = 0 over n (an accumulator's start).
    virtual void zero(float *x, std::size_t n) = 0;
    // x[i] *= s over n (Gemma's embedding scale).
    virtual void scale(float *x, float s, std::size_t n) = 0;
    // y = gelu(gate) * up with GELU's tanh approximation, elementwise over n (y may alias).
    virtual void geglu(const float *gate, const float *up, float *y, std::size_t n) = 0;
    // gpt-oss's clamped SwiGLU (ggml_swiglu_oai): g = min(gate, limit), u = clamp(up, ±limit),
    // y = g · sigmoid(alpha · g) · (u + 1), elementwise over n (y may alias).
    virtual void swigluOai(const float *gate, const float *up, float *y, std::size_t n, float alpha, float limit) = 0;
    // dst[r, :cols] = src[r, :cols] for r < rows; rows are dstStride / srcStride floats apart
    // (splitting heads and latents out of wider rows, and gathering them back).
    virtual void copyRows(
        float *dst, std::size_t dstStride, const float *src, std::size_t srcStride, int rows, int cols)
        = 0;
    // dst[i, :] = src[rows[i], :] for i < n; rows of dim floats, `rows` in backend memory.
    virtual void gatherRows(const float *src, const std::int32_t *rows, int n, int dim, float *dst) = 0;
    // dst[rows[i], :] += weights[i] * src[i, :] for i < n; `rows` distinct, rows and weights in
    // backend memory (an expert's outputs back into the tokens' rows).
    virtual void scatterAddRows(
        float *dst, const float *src, const std::int32_t *rows, const float *weights, int n, int dim)
        = 0;
    // Mixture-of-experts routing (kernels/cpu/moe_route.h): logits [nTokens, nExperts] →
    // ids [nTokens, nUsed] and weights [nTokens, nUsed]; routing.selectionBias is a host weight.
    virtual void moeRoute(
        const MoeRouting &routing, const float *logits, int nTokens, std::int32_t *ids, float *weights)
        = 0;

    // DeepSeek V3.2 / V4 ops (backend_args.h). The defaults throw nw::Error naming the op: a
    // backend without these kernels refuses those graphs with one line.

    // y = (x - mean) / sqrt(var + eps) · weight + bias over rows of dim; weight, bias: [dim] host
    // weights (V3.2's indexer key norm). x, y: [nTokens, dim] (may alias).
    virtual void layerNorm(
        const float *x, const float *weight, const float *bias, float *y, int nTokens, int dim, float eps);
    // DeepSeek V4's clamped SwiGLU: y = silu(min(gate, limit)) · clamp(up, -limit, limit), over n.
    virtual void swigluLimited(const float *gate, const float *up, float *y, std::size_t n, float limit);
    virtual void sparseAttention(const SparseAttentionArgs &a);
    virtual void lightningIndexer(const LightningIndexerArgs &a);
    virtual void softmaxPool(const SoftmaxPoolArgs &a);
    virtual void hyperMix(const HyperMixArgs &a);
    // y[t, :] = Σ_s weights[t, s] · x[t, s, :]; x: [nTokens, nStreams, dim], y: [nTokens, dim].
    virtual void hyperCollapse(const float *x, const float *weights, int nTokens, int nStreams, int dim, float *y);
    // out[t, d, :] = post[t, d] · y[t, :] + Σ_s comb[t, s, d] · x[t, s, :] (the streams after a
    // block); x, out: [nTokens, nStreams, dim] (distinct), y: [nTokens, dim].
    virtual void hyperExpand(const float *y, const float *x, const float *post, const float *comb, int nTokens,
        int nStreams, int dim, float *out);
    // Ops of the hybrid recurrent models (Qwen3.5's Gated DeltaNet layers and gated attention).
    // The defaults throw nw::Error naming the op: a backend without a kernel refuses the graph
    // (the architecture registry keeps such graphs off it).

    // y[r, c] *= sigmoid(gate[r, c]) (gateCols == cols) or sigmoid(gate[r]) (gateCols == 1), for
    // r < rows; gate rows are gateCols floats apart (an output gate per element, or per row).
    virtual void sigmoidMul(float *y, const float *gate, int rows, int cols, int gateCols);
    // The short causal convolution with its carried state (ShortConvArgs).
    virtual void shortConv(const ShortConvArgs &a);
    // Gated DeltaNet over a batch of tokens, updating the state (DeltaNetArgs): the recurrence
    // for a single token, a chunked form for a batch.
    virtual void gatedDeltaNet(const DeltaNetArgs &a);

protected:
    // allocate()/release() implementations count here; memoryInfo() reports it.
    void countBuffer(std::size_t bytes, bool allocated) noexcept;
    std::atomic<std::uint64_t> m_bufferBytes { 0 };
    std::atomic<std::uint64_t> m_peakBufferBytes { 0 };
};

// One allocation in a backend's memory, released on destruction (RAII over allocate/release).
// The backend must outlive it.
class BackendBuffer {
public:
    BackendBuffer() = default;
    BackendBuffer(Backend &backend, std::size_t bytes);
    ~BackendBuffer();
    BackendBuffer(BackendBuffer &&other) noexcept;
    BackendBuffer &operator=(BackendBuffer &&other) noexcept;
    BackendBuffer(const BackendBuffer &) = delete;
    BackendBuffer &operator=(const BackendBuffer &) = delete;

    // Grows to at least `bytes` on `backend` (contents are not kept when it grows).
    void reserve(Backend &backend, std::size_t bytes);
    // Copies from/to host memory at `offset` bytes into the buffer; throws nw::Error past its end.
    void upload(const void *host, std::size_t bytes, std::size_t offset = 0);
    void download(void *host, std::size_t bytes, std::size_t offset = 0) const;

    template <typename T = void> T *as() const { return static_cast<T *>(m_data); }
    std::size_t bytes() const { return m_bytes; }

private:
    Backend *m_backend = nullptr;
    void *m_data = nullptr;
    std::size_t m_bytes = 0;
};

// A growable scratch array of T in a backend's memory (activations a graph reuses per forward):
// resize() only grows and does not keep the contents. On the host backend it is plain memory.
template <typename T> class BackendArray {
public:
    explicit BackendArray(Backend &backend)
        : m_backend(&backend)
    {
    }
    void resize(std::size_t n)
    {
        m_buffer.reserve(*m_backend, n * sizeof(T));
        m_size = n;
    }
    T *data() const { return m_buffer.as<T>(); }
    std::size_t size() const { return m_size; }

private:
    Backend *m_backend;
    BackendBuffer m_buffer;
    std::size_t m_size = 0;
};

// Which backend the user asked for (`--device`).
enum class DeviceChoice { Auto, Cpu, Cuda };

// "auto", "cpu" or "cuda"; throws nw::Error naming the three otherwise.
DeviceChoice parseDeviceChoice(std::string_view text);
std::string_view deviceChoiceName(DeviceChoice choice);

struct GpuInfo;

// The decision makeBackend takes, without making anything (tests give it a GpuInfo of their own).
struct BackendDecision {
    bool useCuda = false;
    std::string reason; // one line for the log: "using CUDA on NVIDIA H100 (auto: a device is present)"
    std::string error; // set when the choice cannot be met (CUDA asked for without a device)
};
BackendDecision decideBackend(DeviceChoice choice, const GpuInfo &gpu);

// The CPU backend with `threads` workers (threads <= 0: all logical cores).
std::unique_ptr<Backend> makeCpuBackend(int threads);

// The CUDA backend on device 0, made by the CUDA module (libneedlework-cuda.so, loaded at run time
// by kernels/cuda/module_loader.cpp); throws nw::Error when the module is missing or cannot load
// (the reason from gpuInfo().status) or no device is there.
std::unique_ptr<Backend> makeCudaBackend();

// The backend for `choice`: Auto takes CUDA when a device is present and the CPU backend
// otherwise; Cuda without a device throws nw::Error (one line the command prints). Says once in
// the log which backend runs and why.
std::unique_ptr<Backend> makeBackend(DeviceChoice choice, int threads);

} // namespace nw
