// gpuInfo() for builds without the CUDA backend (NW_CUDA=OFF or no nvcc).
#include "kernels/device_info.h"

namespace nw {

const GpuInfo &gpuInfo()
{
    static const GpuInfo info{.built = false, .runtimeVersion = 0, .driverVersion = 0,
                              .status = "not built with CUDA", .devices = {}};
    return info;
}

} // namespace nw
