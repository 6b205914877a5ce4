// Helpers shared by every backend: weight views and the checks done once at the host-side entry.
#include "kernels/backend.h"

#include "common/error.h"
#include "common/log.h"
#include "kernels/device_info.h"

#include <mutex>

namespace nw {

WeightMatrix denseWeights(TensorType type, std::int64_t rows, std::int64_t cols, const void *data)
{
    const auto &traits = tensorTypeTraits(type);
    if (rows < 0 || cols < 0 || static_cast<std::size_t>(cols) % traits.blockElements != 0)
        fail("weight matrix of {} x {} {}: columns must be a multiple of {}", rows, cols,
             traits.name, traits.blockElements);
    WeightMatrix w;
    w.type = type;
    w.rows = rows;
    w.cols = cols;
    w.data = static_cast<const std::byte *>(data);
    w.rowStride = rowBytes(type, static_cast<std::size_t>(cols));
    return w;
}

std::unique_ptr<Backend> makeDefaultBackend(int threads)
{
    static std::once_flag said;
    std::call_once(said, [] {
        const GpuInfo &gpu = gpuInfo();
        if (!gpu.built)
            log::get("kernels")->info("using the CPU backend: this build has no CUDA backend");
        else if (gpu.devices.empty())
            log::get("kernels")->info("using the CPU backend: {}", gpu.status);
        else
            log::get("kernels")->info("using the CPU backend: {} found, but the engine does not run on "
                                      "CUDA yet", gpu.devices.front().name);
    });
    return makeCpuBackend(threads);
}

} // namespace nw
