// Stand-ins for builds without the CUDA backend (NW_CUDA=OFF or no nvcc): gpuInfo() says so and
// makeCudaBackend() refuses with a message the user can act on.
#ifndef NW_HAVE_CUDA

#include "common/error.h"
#include "kernels/backend.h"
#include "kernels/device_info.h"

namespace nw {

const GpuInfo &gpuInfo()
{
    static const GpuInfo info{.built = false, .runtimeVersion = 0, .driverVersion = 0,
                              .status = "not built with CUDA", .devices = {}};
    return info;
}

std::unique_ptr<Backend> makeCudaBackend()
{
    fail("this build has no CUDA backend (configure with -DNW_CUDA=ON on a machine with the CUDA toolkit)");
}

} // namespace nw

#endif
