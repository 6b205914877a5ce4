// Helpers shared by every backend: weight views and the checks done once at the host-side entry.
#include "kernels/backend.h"

#include "common/error.h"
#include "common/log.h"
#include "kernels/device_info.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <utility>

namespace nw {

WeightMatrix denseWeights(TensorType type, std::int64_t rows, std::int64_t cols, const void *data)
{
    const auto &traits = tensorTypeTraits(type);
    if (rows < 0 || cols < 0 || static_cast<std::size_t>(cols) % traits.blockElements != 0)
        fail("weight matrix of {} x {} {}: columns must be a multiple of {}", rows, cols, traits.name,
            traits.blockElements);
    WeightMatrix w;
    w.type = type;
    w.rows = rows;
    w.cols = cols;
    w.data = static_cast<const std::byte *>(data);
    w.rowStride = rowBytes(type, static_cast<std::size_t>(cols));
    return w;
}

// ---- DeepSeek V3.2 / V4 ops: backends without the kernels refuse them ----

namespace {

[[noreturn]] void noKernel(const Backend &backend, std::string_view op)
{
    fail(Remedy::CpuDevice, "{} has no kernel for {} (DeepSeek V3.2 / V4 graphs run on the CPU)", backend.name(), op);
}

} // namespace

void Backend::layerNorm(const float *, const float *, const float *, float *, int, int, float)
{
    noKernel(*this, "layerNorm");
}

void Backend::swigluLimited(const float *, const float *, float *, std::size_t, float)
{
    noKernel(*this, "swigluLimited");
}

void Backend::sparseAttention(const SparseAttentionArgs &)
{
    noKernel(*this, "sparseAttention");
}

void Backend::lightningIndexer(const LightningIndexerArgs &)
{
    noKernel(*this, "lightningIndexer");
}

void Backend::softmaxPool(const SoftmaxPoolArgs &)
{
    noKernel(*this, "softmaxPool");
}

void Backend::hyperMix(const HyperMixArgs &)
{
    noKernel(*this, "hyperMix");
}

void Backend::hyperCollapse(const float *, const float *, int, int, int, float *)
{
    noKernel(*this, "hyperCollapse");
}

void Backend::hyperExpand(const float *, const float *, const float *, const float *, int, int, int, float *)
{
    noKernel(*this, "hyperExpand");
}

// ---- Backend: the host implementation of the memory interface ----

void *Backend::allocate(std::size_t bytes)
{
    constexpr std::size_t kAlign = 64;
    const std::size_t rounded = (std::max<std::size_t>(bytes, 1) + kAlign - 1) / kAlign * kAlign;
    void *data = std::aligned_alloc(kAlign, rounded);
    if (data == nullptr)
        fail("{}: out of host memory allocating {} bytes", name(), bytes);
    countBuffer(bytes, true);
    return data;
}

void Backend::release(void *data, std::size_t bytes) noexcept
{
    if (data == nullptr)
        return;
    std::free(data);
    countBuffer(bytes, false);
}

void Backend::upload(void *dst, const void *hostSrc, std::size_t bytes)
{
    if (bytes > 0)
        std::memcpy(dst, hostSrc, bytes);
}

void Backend::download(void *hostDst, const void *src, std::size_t bytes)
{
    if (bytes > 0)
        std::memcpy(hostDst, src, bytes);
}

void Backend::prepareWeights(std::span<const WeightMatrix>) { }

BackendMemoryInfo Backend::memoryInfo() const
{
    BackendMemoryInfo info;
    info.device = "cpu";
    info.bufferBytes = m_bufferBytes.load(std::memory_order_relaxed);
    info.peakBufferBytes = m_peakBufferBytes.load(std::memory_order_relaxed);
    return info;
}

void Backend::add(float *y, const float *x, std::size_t n)
{
    for (std::size_t i = 0; i < n; ++i)
        y[i] += x[i];
}

void Backend::sigmoidMul(float *, const float *, int, int, int)
{
    fail("{}: no kernel for sigmoidMul (gated attention) on this backend", name());
}

void Backend::shortConv(const ShortConvArgs &)
{
    fail("{}: no kernel for shortConv (recurrent layers) on this backend", name());
}

void Backend::gatedDeltaNet(const DeltaNetArgs &)
{
    fail("{}: no kernel for gatedDeltaNet (recurrent layers) on this backend", name());
}

void Backend::countBuffer(std::size_t bytes, bool allocated) noexcept
{
    if (!allocated) {
        m_bufferBytes.fetch_sub(bytes, std::memory_order_relaxed);
        return;
    }
    const std::uint64_t now = m_bufferBytes.fetch_add(bytes, std::memory_order_relaxed) + bytes;
    std::uint64_t peak = m_peakBufferBytes.load(std::memory_order_relaxed);
    while (now > peak && !m_peakBufferBytes.compare_exchange_weak(peak, now, std::memory_order_relaxed)) { }
}

// ---- BackendBuffer ----

BackendBuffer::BackendBuffer(Backend &backend, std::size_t bytes)
    : m_backend(&backend)
    , m_data(backend.allocate(bytes))
    , m_bytes(bytes)
{
}

BackendBuffer::~BackendBuffer()
{
    if (m_backend != nullptr)
        m_backend->release(m_data, m_bytes);
}

BackendBuffer::BackendBuffer(BackendBuffer &&other) noexcept
    : m_backend(std::exchange(other.m_backend, nullptr))
    , m_data(std::exchange(other.m_data, nullptr))
    , m_bytes(std::exchange(other.m_bytes, 0))
{
}

BackendBuffer &BackendBuffer::operator=(BackendBuffer &&other) noexcept
{
    std::swap(m_backend, other.m_backend);
    std::swap(m_data, other.m_data);
    std::swap(m_bytes, other.m_bytes);
    return *this;
}

void BackendBuffer::reserve(Backend &backend, std::size_t bytes)
{
    if (m_backend == &backend && m_bytes >= bytes)
        return;
    *this = BackendBuffer(); // the old one goes first: the peak is the new size, not both
    *this = BackendBuffer(backend, bytes);
}

void BackendBuffer::upload(const void *host, std::size_t bytes, std::size_t offset)
{
    if (offset > m_bytes || bytes > m_bytes - offset)
        fail("upload of {} bytes at offset {} into a buffer of {}", bytes, offset, m_bytes);
    if (bytes > 0)
        m_backend->upload(static_cast<std::byte *>(m_data) + offset, host, bytes);
}

void BackendBuffer::download(void *host, std::size_t bytes, std::size_t offset) const
{
    if (offset > m_bytes || bytes > m_bytes - offset)
        fail("download of {} bytes at offset {} from a buffer of {}", bytes, offset, m_bytes);
    if (bytes > 0)
        m_backend->download(host, static_cast<const std::byte *>(m_data) + offset, bytes);
}

// ---- Choosing a backend ----

DeviceChoice parseDeviceChoice(std::string_view text)
{
    if (text == "auto")
        return DeviceChoice::Auto;
    if (text == "cpu")
        return DeviceChoice::Cpu;
    if (text == "cuda")
        return DeviceChoice::Cuda;
    fail("unknown device '{}': use auto, cpu or cuda", text);
}

std::string_view deviceChoiceName(DeviceChoice choice)
{
    switch (choice) {
    case DeviceChoice::Auto:
        return "auto";
    case DeviceChoice::Cpu:
        return "cpu";
    case DeviceChoice::Cuda:
        return "cuda";
    }
    return "auto";
}

BackendDecision decideBackend(DeviceChoice choice, const GpuInfo &gpu)
{
    BackendDecision d;
    const bool present = gpu.built && !gpu.devices.empty();
    // Not built: the module's absence or load failure is the reason ("CUDA module not installed (...)").
    const std::string why = gpu.built ? gpu.status
        : gpu.status.empty()          ? std::string("this build has no CUDA backend")
                                      : "no CUDA backend: " + gpu.status;
    switch (choice) {
    case DeviceChoice::Cpu:
        d.reason = "using the CPU backend (cpu asked for)";
        break;
    case DeviceChoice::Cuda:
        if (present) {
            d.useCuda = true;
            d.reason = fmt::format("using CUDA on {} (cuda asked for)", gpu.devices.front().name);
        } else {
            d.error = fmt::format("CUDA was asked for but there is no usable CUDA device ({})", why);
        }
        break;
    case DeviceChoice::Auto:
        if (present) {
            d.useCuda = true;
            d.reason = fmt::format("using CUDA on {} (auto: a device is present)", gpu.devices.front().name);
        } else {
            d.reason = fmt::format("using the CPU backend (auto: {})", why);
        }
        break;
    }
    return d;
}

std::unique_ptr<Backend> makeBackend(DeviceChoice choice, int threads)
{
    const BackendDecision d = decideBackend(choice, gpuInfo());
    if (!d.error.empty())
        throw Error(d.error, Remedy::CpuDevice);
    // Once per process and reason: a command that loads two models does not say it twice.
    static std::mutex mutex;
    static std::string lastReason;
    {
        std::lock_guard lock(mutex);
        if (lastReason != d.reason) {
            lastReason = d.reason;
            log::get("kernels")->info("{}", d.reason);
        }
    }
    return d.useCuda ? makeCudaBackend() : makeCpuBackend(threads);
}

} // namespace nw
