// What GPUs this process can use: the CUDA runtime and driver versions and each device with
// its memory. Answers "not built" or "no device" without failing, so callers can fall back to
// the CPU backend and say so once.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace nw {

struct GpuDevice {
    int index = 0;
    std::string name;             // "NVIDIA H100 80GB HBM3"
    int computeMajor = 0;
    int computeMinor = 0;
    std::uint64_t totalBytes = 0; // device memory
    std::uint64_t freeBytes = 0;  // at probe time (cudaMemGetInfo)
    int multiprocessors = 0;
};

struct GpuInfo {
    bool built = false;          // the CUDA module (libneedlework-cuda.so) is loaded and usable
    std::string module;          // its path; empty when none is in use
    int runtimeVersion = 0;      // e.g. 13000 for 13.0; 0 when not built
    int driverVersion = 0;       // 0 when no driver is installed
    std::string status;          // "2 devices", "no CUDA device: ...", "CUDA module not installed (...)"
    std::vector<GpuDevice> devices;
};

// Probes once and caches; safe to call from any thread.
const GpuInfo &gpuInfo();

// "13.0" from 13000.
std::string cudaVersionString(int version);

} // namespace nw
