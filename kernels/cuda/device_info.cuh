// Probing the CUDA runtime and devices from inside the module; the program sees the result
// through gpuInfo() (kernels/device_info.h), which asks the module over its C entry points.
#pragma once

#include "kernels/device_info.h"

namespace nw::cuda {

// Runtime and driver versions, the devices present and a one-line status; never throws.
GpuInfo probeDevices();

} // namespace nw::cuda
