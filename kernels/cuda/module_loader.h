// Finding and loading the CUDA module (libneedlework-cuda.so) at run time, so that the program
// itself links no CUDA library. gpuInfo() and makeCudaBackend() (kernels/device_info.h,
// kernels/backend.h) go through here; the pieces are public for tests and `needlework doctor`.
#pragma once

#include "kernels/device_info.h"

#include <string>
#include <vector>

namespace nw::cuda {

// Where the module is looked for, in order: $NW_CUDA_MODULE alone when it is set; otherwise
// <program dir>/../lib/needlework/ (the installed layout: /usr/bin and /usr/lib/needlework),
// then, for a program inside the build tree that compiled it, <build>/lib/needlework/.
std::vector<std::string> moduleCandidates();

// Loads the module at `path` (once per path and process; it is never unloaded, since the
// backends it makes live in it) and asks it for the GPUs. When it cannot be used, `built` is
// false and `status` says why in one line: not installed, cannot load (e.g. libcudart.so.13
// missing), not a Needlework module, or built from other sources.
GpuInfo probeModule(const std::string &path);

// Empty when a module reporting `abiVersion` and `buildKey` can serve this program, otherwise
// the reason (e.g. "built for needlework 0.2.0+…, this program is 0.1.0+…").
std::string moduleMismatch(int abiVersion, const char *buildKey);

// This program's build key (NW_CUDA_BUILD_KEY).
const char *programBuildKey();

} // namespace nw::cuda
