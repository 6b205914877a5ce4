// Formatting shared by the CUDA and the no-CUDA builds of gpuInfo().
#include "kernels/device_info.h"

namespace nw {

std::string cudaVersionString(int version)
{
    if (version <= 0)
        return "none";
    return std::to_string(version / 1000) + "." + std::to_string((version % 1000) / 10);
}

} // namespace nw
