// The CUDA module's answer to gpuInfo(): runtime and driver versions and the devices present. A
// machine without a driver or a device is normal (the CPU backend takes over), never an error.
#include "kernels/cuda/device_info.cuh"

#include <cuda_runtime.h>

#include <string>

namespace nw::cuda {

GpuInfo probeDevices()
{
    GpuInfo info;
    info.built = true;
    cudaRuntimeGetVersion(&info.runtimeVersion);
    if (cudaDriverGetVersion(&info.driverVersion) != cudaSuccess)
        info.driverVersion = 0;
    int count = 0;
    const cudaError_t status = cudaGetDeviceCount(&count);
    if (status != cudaSuccess || count == 0) {
        info.status = std::string("no CUDA device: ") +
                      (status != cudaSuccess ? cudaGetErrorString(status) : "none found");
        cudaGetLastError(); // clear the sticky error so later probes start clean
        return info;
    }
    for (int i = 0; i < count; ++i) {
        cudaDeviceProp prop{};
        if (cudaGetDeviceProperties(&prop, i) != cudaSuccess)
            continue;
        GpuDevice device;
        device.index = i;
        device.name = prop.name;
        device.computeMajor = prop.major;
        device.computeMinor = prop.minor;
        device.totalBytes = prop.totalGlobalMem;
        device.multiprocessors = prop.multiProcessorCount;
        size_t freeBytes = 0, totalBytes = 0;
        if (cudaSetDevice(i) == cudaSuccess && cudaMemGetInfo(&freeBytes, &totalBytes) == cudaSuccess)
            device.freeBytes = freeBytes;
        info.devices.push_back(device);
    }
    info.status = std::to_string(info.devices.size()) + (info.devices.size() == 1 ? " device" : " devices");
    return info;
}

} // namespace nw::cuda
