// Growable scratch arrays in one backend's memory, by slot: the activations a block reuses from
// one forward to the next (host memory on the CPU backend, device memory on a GPU backend).
#pragma once

#include "kernels/backend.h"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace nw {

class ScratchBuffers {
public:
    // Slot `slot` with room for n elements; contents are not kept when it grows. A different
    // backend than the last call's drops every buffer first.
    float *floats(Backend &backend, std::size_t slot, std::size_t n) { return get<float>(backend, slot, n); }
    std::int32_t *ints(Backend &backend, std::size_t slot, std::size_t n) { return get<std::int32_t>(backend, slot, n); }

private:
    template <typename T>
    T *get(Backend &backend, std::size_t slot, std::size_t n)
    {
        if (m_backend != &backend) {
            m_buffers.clear();
            m_backend = &backend;
        }
        if (m_buffers.size() <= slot)
            m_buffers.resize(slot + 1);
        m_buffers[slot].reserve(backend, n * sizeof(T)); // a no-op when it is large enough
        return m_buffers[slot].as<T>();
    }

    Backend *m_backend = nullptr;
    std::vector<BackendBuffer> m_buffers;
};

} // namespace nw
