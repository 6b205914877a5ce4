// The C entry points of libneedlework-cuda.so (kernels/cuda/module_abi.h). The module is
// compiled with hidden visibility and its static libraries with --exclude-libs, so these five
// are all it exports; no exception crosses them.
#include "common/log.h"
#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/device_info.cuh"
#include "kernels/cuda/module_abi.h"
#include "nw_cuda_build_key.h"

#include <cstdio>
#include <exception>

#define NW_CUDA_EXPORT __attribute__((visibility("default")))

namespace {

void copyError(const char *message, char *error, std::size_t errorSize)
{
    if (error != nullptr && errorSize > 0)
        std::snprintf(error, errorSize, "%s", message);
}

} // namespace

extern "C" {

NW_CUDA_EXPORT int nw_cuda_abi_version(void)
{
    return NW_CUDA_ABI_VERSION;
}

NW_CUDA_EXPORT const char *nw_cuda_build_key(void)
{
    return NW_CUDA_BUILD_KEY;
}

NW_CUDA_EXPORT void nw_cuda_forward_log(nw::log::GetFn programGet)
{
    nw::log::forwardTo(programGet);
}

NW_CUDA_EXPORT void nw_cuda_gpu_info(nw::GpuInfo *info)
{
    try {
        *info = nw::cuda::probeDevices();
        nw::log::get("kernels")->debug("CUDA module: runtime {}, driver {}: {}", info->runtimeVersion,
                                       info->driverVersion, info->status);
    } catch (const std::exception &e) { // out of memory copying names; the CPU still runs
        info->devices.clear();
        info->status = std::string("CUDA probe failed: ") + e.what();
    }
}

NW_CUDA_EXPORT nw::Backend *nw_cuda_make_backend(char *error, std::size_t errorSize)
{
    try {
        return nw::cuda::makeBackend().release();
    } catch (const std::exception &e) {
        copyError(e.what(), error, errorSize);
    } catch (...) {
        copyError("the CUDA backend failed to start (unknown exception)", error, errorSize);
    }
    return nullptr;
}

} // extern "C"
