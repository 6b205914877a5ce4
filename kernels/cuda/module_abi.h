// The C entry points of the CUDA module (libneedlework-cuda.so) that the core looks up with
// dlsym. The module is a separate shared library so that a package without CUDA, or a machine
// without NVIDIA's runtime, still runs: only the module links cudart and cuBLAS.
#pragma once

#include "common/log.h"

#include <cstddef>

namespace nw {
class Backend;
struct GpuInfo;
} // namespace nw

// Raised whenever these entry points change shape or meaning.
#define NW_CUDA_ABI_VERSION 2

// The module's file name, beside the program at ../lib/needlework/ once installed.
#define NW_CUDA_MODULE_FILE "libneedlework-cuda.so"

extern "C" {

// NW_CUDA_ABI_VERSION as the module was built.
typedef int (*NwCudaAbiVersionFn)(void);
// "<needlework version>+<digest of the Backend interface headers>" (see build_key.cmake): the
// module hands out C++ objects, so it must come from the same sources as the program.
typedef const char *(*NwCudaBuildKeyFn)(void);
// Makes the module's loggers the program's (nw::log::forwardTo): called first, right after the
// module is found fit, so that everything it logs reaches the program's console and log file.
typedef void (*NwCudaForwardLogFn)(nw::log::GetFn programGet);
// Fills *info (runtime, driver, devices, status); never throws.
typedef void (*NwCudaGpuInfoFn)(nw::GpuInfo *info);
// A new CudaBackend on device 0 (the caller owns it and deletes it through Backend's virtual
// destructor), or null with a one-line reason in error[0, errorSize).
typedef nw::Backend *(*NwCudaMakeBackendFn)(char *error, std::size_t errorSize);

} // extern "C"
