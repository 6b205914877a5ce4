// DeviceBuffer: RAII ownership of one cudaMalloc allocation, with typed host<->device copies.
// The CUDA backend keeps weights, activations and the KV cache in these.
#pragma once

#include "kernels/cuda/cuda_check.cuh"

#include <cstddef>
#include <utility>
#include <vector>

namespace nw::cuda {

class DeviceBuffer {
public:
    DeviceBuffer() = default;
    explicit DeviceBuffer(std::size_t bytes) : m_bytes(bytes)
    {
        if (bytes > 0)
            NW_CUDA_CHECK(cudaMalloc(&m_data, bytes));
    }
    ~DeviceBuffer()
    {
        if (m_data != nullptr)
            cudaFree(m_data); // no throw from a destructor; a failure here leaks at worst
    }
    DeviceBuffer(DeviceBuffer &&other) noexcept
        : m_data(std::exchange(other.m_data, nullptr)), m_bytes(std::exchange(other.m_bytes, 0))
    {
    }
    DeviceBuffer &operator=(DeviceBuffer &&other) noexcept
    {
        std::swap(m_data, other.m_data);
        std::swap(m_bytes, other.m_bytes);
        return *this;
    }
    DeviceBuffer(const DeviceBuffer &) = delete;
    DeviceBuffer &operator=(const DeviceBuffer &) = delete;

    // A buffer holding a copy of `host`.
    template <typename T>
    static DeviceBuffer from(const std::vector<T> &host)
    {
        DeviceBuffer buffer(host.size() * sizeof(T));
        buffer.upload(host.data(), buffer.bytes());
        return buffer;
    }

    void upload(const void *host, std::size_t bytes)
    {
        if (bytes > m_bytes)
            nw::fail("DeviceBuffer: upload of {} bytes into {}", bytes, m_bytes);
        if (bytes > 0)
            NW_CUDA_CHECK(cudaMemcpy(m_data, host, bytes, cudaMemcpyHostToDevice));
    }
    template <typename T>
    std::vector<T> download(std::size_t count) const
    {
        if (count * sizeof(T) > m_bytes)
            nw::fail("DeviceBuffer: download of {} bytes from {}", count * sizeof(T), m_bytes);
        std::vector<T> host(count);
        if (count > 0)
            NW_CUDA_CHECK(cudaMemcpy(host.data(), m_data, count * sizeof(T), cudaMemcpyDeviceToHost));
        return host;
    }

    template <typename T = void>
    T *as() const { return static_cast<T *>(m_data); }
    void *data() const { return m_data; }
    std::size_t bytes() const { return m_bytes; }

private:
    void *m_data = nullptr;
    std::size_t m_bytes = 0;
};

// Whether a CUDA device can be used (tests and benches skip with exit code 77 when not).
inline bool cudaDevicePresent()
{
    int count = 0;
    const bool ok = cudaGetDeviceCount(&count) == cudaSuccess && count > 0;
    cudaGetLastError(); // clear the error a machine without a driver leaves behind
    return ok;
}

} // namespace nw::cuda
